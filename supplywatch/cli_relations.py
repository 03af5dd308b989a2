"""`supplywatch suppliers relations ...`: fourth parties (issue 15), what your suppliers depend on.

Composition only: the readers (CSV, CycloneDX, CSAF) are ``classifiers.relations`` and ``classifiers.sbom``,
the propagation ``classifiers.propagation`` (run by the matching stage), the tables ``store.relations``.
"""

from __future__ import annotations

from typing import Any

import click

from supplywatch.store import InputError

from .cli import CONTEXT, Env, Group, pass_env
from .cli_reports import suppliers
from .output import echo_json, table


@suppliers.group(cls=Group, context_settings=CONTEXT)
def relations() -> None:
    """Fourth parties: what your suppliers use, integrate with, hand data to, and build in, and what you use.

    A story naming a party as compromised affects, at most two relations away, every party related to it;
    the digest, `supplywatch supplier NAME`, `search --supplier`, the feeds and the archive show each with its
    path, labelled affected, possibly affected (something unknown) or mentioned.

    Example: supplywatch suppliers relations import relations.csv && supplywatch suppliers relations list
    """


def _rematch(pipeline: Any) -> dict[str, Any]:
    return pipeline.match_suppliers().as_dict()


def _report(file: str, counts: dict[str, Any], problems: list[str], matched: dict[str, Any]) -> None:
    for problem in problems:
        click.echo(f"{file}: {problem} (skipped)", err=True)
    click.echo(f"Imported {counts['imported']} relations, updated {counts['updated']}"
               + (f", skipped {len(problems)} bad rows" if problems else "") + "; "
               f"matched {matched['documents']} documents ({matched['matches']} matches).")


@relations.command(name="import")
@click.argument("file", type=click.Path(dir_okay=False))
@pass_env
def relations_import(env: Env, file: str) -> None:
    """Add the relations of a CSV file, then match every document again.

    Columns: supplier,relation,target,product,versions,source,as_of. Relations: uses, integrates_with,
    subprocessor, component_of, we_use (supplier empty: our own use). A relation without a source is
    unconfirmed. Bad rows are reported by line number and skipped; the rest are kept.

    Example: supplywatch suppliers relations import relations.csv
    """
    from supplywatch.classifiers.relations import parse_csv

    parsed = parse_csv(file)
    with env.pipeline() as pipeline:
        counts = pipeline.store.import_relations(parsed.rows)
        matched = _rematch(pipeline)
    _report(file, counts, parsed.problems, matched)


@relations.command(name="sbom")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--supplier", "supplier_name", required=True, metavar="NAME",
              help="The registered supplier (name or alias) whose product the SBOM describes. Example: --supplier Acme")
@pass_env
def relations_sbom(env: Env, file: str, supplier_name: str) -> None:
    """Add the relations a supplier's CycloneDX SBOM (JSON, 1.4 to 1.6) states, then match every document again.

    Each component becomes a component_of relation of the supplier (with its version), each service a
    uses relation; the SBOM's file name is their source.

    Example: supplywatch suppliers relations sbom acme-gateway.cdx.json --supplier Acme
    """
    from supplywatch.classifiers.sbom import read_cyclonedx
    from supplywatch.reports.timeline import unknown_supplier

    with env.pipeline() as pipeline:
        known = pipeline.store.supplier(supplier_name)  # by name or alias: the relations are the register's supplier's
        if known is None:
            raise unknown_supplier(supplier_name, pipeline.store.suppliers())
        rows = read_cyclonedx(file, known["name"])
        if not rows:
            raise InputError(f"{file}: the SBOM lists no components or services")
        counts = pipeline.store.import_relations(rows)
        matched = _rematch(pipeline)
    _report(file, counts, [], matched)


@relations.command(name="csaf")
@click.argument("file", type=click.Path(dir_okay=False))
@pass_env
def relations_csaf(env: Env, file: str) -> None:
    """Add the products of a CSAF advisory's product tree to the register's suppliers of the same name.

    Vendors the register does not know (by name or alias) are listed and left out.

    Example: supplywatch suppliers relations csaf icsa-24-123-01.json
    """
    from supplywatch.classifiers.sbom import read_csaf_products

    products = read_csaf_products(file)
    with env.pipeline() as pipeline:
        store = pipeline.store
        rows, unknown = [], []
        for p in products:
            known = store.supplier(p["vendor"])
            if known is None:
                unknown.append(p["vendor"])
            else:
                rows.append({"name": known["name"], "products": [p["product"]]})
        counts = store.import_suppliers(rows) if rows else {"changed": 0}
        matched = _rematch(pipeline) if counts["changed"] else None
    for p in products:
        versions = ", ".join(p["versions"]) or "versions not given"
        click.echo(f"{p['vendor']}: {p['product']} ({versions})" + (" (not in the register, skipped)"
                                                                   if p["vendor"] in unknown else ""))
    click.echo(f"Added products to {counts['changed']} suppliers"
               + (f"; matched {matched['documents']} documents." if matched else "."))


@relations.command(name="list")
@click.option("--party", metavar="NAME", help="Only relations of this party (as supplier or target). Example: --party Acme")
@click.option("--json", "as_json", is_flag=True, help="Print the relations as JSON. Example: --json")
@pass_env
def relations_list(env: Env, party: str | None, as_json: bool) -> None:
    """Show the relations: id, supplier, relation, target, product, versions, source, as of.

    Example: supplywatch suppliers relations list --party Mimecast
    """
    with env.pipeline(readonly=True) as pipeline:
        rows = pipeline.store.relations(party=party)
    if as_json:
        echo_json(rows)
        return
    if not rows:
        click.echo("No relations yet: supplywatch suppliers relations import FILE.csv")
        return
    shown = [{**r, "supplier": r["supplier"] or "(we)"} for r in rows]
    click.echo(table(shown, [("id", "ID"), ("supplier", "SUPPLIER"), ("relation", "RELATION"), ("target", "TARGET"),
                             ("product", "PRODUCT"), ("versions", "VERSIONS"), ("source", "SOURCE"),
                             ("as_of", "AS OF")], max_width=40))


@relations.command(name="remove")
@click.argument("relation_id", metavar="ID", type=int)
@pass_env
def relations_remove(env: Env, relation_id: int) -> None:
    """Remove one relation (its ID as `suppliers relations list` shows it), then match every document again.

    Example: supplywatch suppliers relations remove 12
    """
    with env.pipeline() as pipeline:
        removed = pipeline.store.remove_relation(relation_id)
        if removed is None:
            raise InputError(f"no relation with ID {relation_id} (supplywatch suppliers relations list)")
        _rematch(pipeline)
    target = " ".join(x for x in (removed["target"], removed["product"]) if x)
    click.echo(f"Removed relation {removed['id']}: {removed['supplier'] or 'we'} {removed['relation']} {target}.")
