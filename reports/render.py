"""Rendering reports through Jinja2: HTML (always autoescaped, inline styles) and a plain-text twin.

A user's template folder, when given, is searched before the packaged ``reports/templates``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined, TemplateNotFound

from supplywatch.store import InputError

from .digest import Digest, safe_url

PACKAGED = Path(__file__).resolve().parent / "templates"


def autoescape(name: str | None) -> bool:
    """Escape every HTML/XML template whatever its last extension (``digest.html.j2`` included).

    ``select_autoescape`` looks only at the last extension, so it would leave ``*.html.j2``
    unescaped. Templates without a name (from strings) are escaped too: safe by default.
    """
    if name is None:
        return True
    lowered = name.lower()
    return any(ext in lowered for ext in (".htm", ".xml", ".svg"))


def environment(templates_dir: str | Path | None = None) -> Environment:
    """The Jinja2 environment for ``templates_dir`` (then the packaged templates), made once per folder.

    Reusing it keeps compiled templates (a tenth of a big day's rendering); Jinja2 still reloads a
    template whose file changed on disk.
    """
    return _environment(None if templates_dir is None else str(Path(templates_dir).resolve()))


@lru_cache(maxsize=8)
def _environment(templates_dir: str | None) -> Environment:
    loaders = []
    if templates_dir is not None:
        folder = Path(templates_dir)
        if not folder.is_dir():
            raise InputError(f"{folder}: no such templates folder")
        loaders.append(FileSystemLoader(str(folder)))
    loaders.append(FileSystemLoader(str(PACKAGED)))
    env = Environment(loader=ChoiceLoader(loaders), autoescape=autoescape, undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.filters["safe_url"] = safe_url
    env.filters["score"] = lambda x: f"{float(x):.2f}"
    return env


@dataclass
class Rendered:
    html: str
    text: str


def render_digest(digest: Digest, templates_dir: str | Path | None = None) -> Rendered:
    """The digest as HTML and plain text; ``templates_dir`` overrides the packaged templates by name."""
    env = environment(templates_dir)
    try:
        html = env.get_template("digest.html.j2").render(digest=digest)
        text = env.get_template("digest.txt.j2").render(digest=digest)
    except TemplateNotFound as exc:  # pragma: no cover - the packaged templates are always there
        raise InputError(f"template not found: {exc}") from None
    return Rendered(html=html, text=text)
