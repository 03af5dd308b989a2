"""Relations and products from the formats suppliers and vendors publish: CycloneDX SBOMs and CSAF product trees.

- A CycloneDX BOM (JSON, specVersion 1.4 to 1.6) a supplier shared: each component (nested ones
  included) becomes a ``component_of`` relation of that supplier (target: the component's supplier,
  else publisher, else group, else its name; product: its name; versions: its version), each service a
  ``uses`` relation (target: the provider, else the service's name). ``dependencies`` say which
  components the BOM's own product depends on directly; the rest are transitive (said in ``source``).
- A CSAF 2.0 advisory's ``product_tree``: the vendor / product_name / product_version(_range) branches,
  and ``full_product_names``, as (vendor, product, versions) rows; the register takes the products of
  the vendors it knows (``supplywatch.cli_relations``).

Only the fields named above are read. A file that is not what it claims (not JSON, not CycloneDX,
another specVersion, a components list that is not one, no product_tree) is an InputError whose one
line names the file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from supplywatch.store import InputError

from .csvrows import read_lines

SPEC_VERSIONS = ("1.4", "1.5", "1.6")
MAX_COMPONENTS = 200_000  # a BOM this large is an attack or an error, not a supplier's product
_BRANCH_DEPTH = 30


def _load(path: Path, what: str) -> Any:
    lines, bad = read_lines(path, what)
    if bad:
        raise InputError(f"{path}: not {what}: line {min(bad)} is not valid UTF-8")
    try:
        return json.loads("".join(lines))
    except (ValueError, RecursionError) as exc:
        raise InputError(f"{path}: not {what}: invalid JSON ({' '.join(str(exc).split())})") from None


def _name(value: Any) -> str:
    """A name field (a string, or an object with a ``name``) as one line, "" when absent."""
    if isinstance(value, dict):
        value = value.get("name")
    return " ".join(value.split()) if isinstance(value, str) else ""


def read_cyclonedx(path: str | Path, supplier: str) -> list[dict[str, Any]]:
    """The relations of ``supplier`` that the CycloneDX JSON BOM at ``path`` states (rows as the relations CSV's)."""
    path = Path(path)
    bom = _load(path, "a CycloneDX JSON SBOM")

    def bad(why: str) -> InputError:
        return InputError(f"{path}: not a CycloneDX JSON SBOM: {why}")

    if not isinstance(bom, dict) or bom.get("bomFormat") != "CycloneDX":
        raise bad("no \"bomFormat\": \"CycloneDX\"")
    spec = bom.get("specVersion")
    if spec not in SPEC_VERSIONS:
        raise bad(f"specVersion {spec!r}, supported {', '.join(SPEC_VERSIONS)}")
    metadata = bom.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise bad("metadata is not an object")
    as_of = str(metadata.get("timestamp") or "")[:10]
    own = metadata.get("component") if isinstance(metadata.get("component"), dict) else {}
    direct = _direct_refs(bom, own.get("bom-ref"), bad)
    rows: list[dict[str, Any]] = []
    label = f"{path.name} (CycloneDX {spec}"

    def walk(components: Any, where: str, depth: int = 0) -> None:
        if components is None:
            return
        if not isinstance(components, list) or depth > _BRANCH_DEPTH:
            raise bad(f"{where} is not a list")
        for i, comp in enumerate(components):
            if not isinstance(comp, dict) or not _name(comp.get("name")):
                raise bad(f"{where}[{i}] has no name")
            name = _name(comp["name"])
            target = (_name(comp.get("supplier")) or _name(comp.get("manufacturer")) or _name(comp.get("publisher"))
                      or _name(comp.get("group")) or name)
            how = "" if direct is None else (", direct" if comp.get("bom-ref") in direct else ", transitive")
            rows.append({"supplier": supplier, "relation": "component_of", "target": target, "product": name,
                         "versions": _name(comp.get("version")), "source": f"{label}{how})", "as_of": as_of})
            if len(rows) > MAX_COMPONENTS:
                raise bad(f"more than {MAX_COMPONENTS} components")
            walk(comp.get("components"), f"{where}[{i}].components", depth + 1)

    walk(bom.get("components"), "components")
    services = bom.get("services")
    if services is not None and not isinstance(services, list):
        raise bad("services is not a list")
    for i, svc in enumerate(services or []):
        if not isinstance(svc, dict) or not _name(svc.get("name")):
            raise bad(f"services[{i}] has no name")
        name = _name(svc["name"])
        rows.append({"supplier": supplier, "relation": "uses", "target": _name(svc.get("provider")) or name,
                     "product": name, "versions": _name(svc.get("version")), "source": f"{label})", "as_of": as_of})
    return rows


def _direct_refs(bom: dict[str, Any], own_ref: Any, bad: Any) -> set[str] | None:
    """The refs the BOM's own product depends on directly (None when the BOM states no dependencies for it)."""
    deps = bom.get("dependencies")
    if deps is None:
        return None
    if not isinstance(deps, list) or not all(isinstance(d, dict) and isinstance(d.get("ref"), str) for d in deps):
        raise bad("dependencies is not a list of objects with a ref")
    for dep in deps:
        if dep["ref"] == own_ref:
            on = dep.get("dependsOn") or []
            if not isinstance(on, list):
                raise bad(f"dependsOn of {dep['ref']!r} is not a list")
            return {r for r in on if isinstance(r, str)}
    return None


def read_csaf_products(path: str | Path) -> list[dict[str, Any]]:
    """(vendor, product, versions) of the CSAF advisory at ``path``: its product_tree, one row per product."""
    path = Path(path)
    doc = _load(path, "a CSAF advisory")

    def bad(why: str) -> InputError:
        return InputError(f"{path}: not a CSAF advisory: {why}")

    if not isinstance(doc, dict) or not isinstance(doc.get("document"), dict):
        raise bad("no \"document\" object")
    tree = doc.get("product_tree")
    if not isinstance(tree, dict):
        raise bad("no \"product_tree\" object")
    found: dict[tuple[str, str], dict[str, Any]] = {}

    def add(vendor: str, product: str, version: str) -> None:
        if vendor and product:
            row = found.setdefault((vendor.casefold(), product.casefold()),
                                   {"vendor": vendor, "product": product, "versions": []})
            if version and version not in row["versions"]:
                row["versions"].append(version)

    def walk(branches: Any, vendor: str, product: str, depth: int) -> None:
        if not isinstance(branches, list) or depth > _BRANCH_DEPTH:
            raise bad("product_tree branches are not a list" if depth <= _BRANCH_DEPTH else "branches nest too deep")
        for branch in branches:
            if not isinstance(branch, dict) or not isinstance(branch.get("name"), str):
                raise bad("a product_tree branch has no name")
            category, name = branch.get("category"), _name(branch["name"])
            v, p = (name, product) if category == "vendor" else (vendor, name if category == "product_name" else product)
            if category in ("product_version", "product_version_range"):
                add(v, p, name)
            elif category == "product_name" and "branches" not in branch:
                add(v, p, "")
            if "branches" in branch:
                walk(branch["branches"], v, p, depth + 1)

    if "branches" in tree:
        walk(tree["branches"], "", "", 0)
    names = tree.get("full_product_names") or []
    if not isinstance(names, list):
        raise bad("full_product_names is not a list")
    for entry in names:
        helper = entry.get("product_identification_helper") if isinstance(entry, dict) else None
        cpe = helper.get("cpe") if isinstance(helper, dict) else None
        if isinstance(cpe, str) and cpe.startswith("cpe:2.3:"):  # cpe:2.3:a:VENDOR:PRODUCT:VERSION:...
            part = cpe.split(":")
            if len(part) > 5:
                add(part[3].replace("_", " "), part[4].replace("_", " "), "" if part[5] in ("*", "-") else part[5])
    if not found:
        raise bad("its product_tree names no vendor and product")
    return list(found.values())
