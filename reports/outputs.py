"""Outputs: where a report goes (digest files, mail, Atom feed, STIX bundle, the browser archive), in one registry.

Each output is a function ``fn(store, **options) -> result`` registered under its name with :func:`output`;
the pipeline looks it up by name. A new output is one module with one decorated function (see
docs/architecture.md). Heavy libraries are imported by the output that needs them, when it runs.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from supplywatch.store import DeliveryError, StorageError, Store

OUTPUTS: dict[str, Callable[..., Any]] = {}


def output(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register ``fn`` as the output ``name``."""

    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        OUTPUTS[name] = fn
        return fn

    return register


def write_atomically(out: str, data: str) -> None:
    import os

    path = Path(out)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_text(data, "utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):  # under a plain file even the clean-up fails (ENOTDIR)
            tmp.unlink(missing_ok=True)
        raise StorageError(f"{path}: cannot write: {exc.strerror or exc}") from None


@output("files")
def digest_files(store: Store, *, day: str, out: str | None = None, email: dict[str, Any],
                 templates_dir: str | None = None) -> dict[str, Any]:
    """The digest of ``day`` rendered; with ``out``, ``digest-DATE.html``, ``.txt`` and ``.eml`` written there.

    The .eml is the message as ``--send`` would mail it to the first configured recipient (placeholders
    for a missing sender or recipient; the Message-ID a delivery already holds, else a fresh one).
    Nothing is sent or marked. Returns the day, the rendered ``html`` and ``text``, and the ``paths`` written.
    """
    from .digest import build_digest
    from .render import render_digest

    rendered = render_digest(build_digest(store, day), templates_dir=templates_dir)
    paths: list[str] = []
    if out is not None:
        eml = _preview_message(store, day, email, templates_dir)
        folder = Path(out)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            for ext, body in (("html", rendered.html), ("txt", rendered.text), ("eml", eml)):
                path = folder / f"digest-{day}.{ext}"
                if isinstance(body, bytes):
                    path.write_bytes(body)
                else:
                    path.write_text(body, "utf-8")
                paths.append(str(path))
        except OSError as exc:
            raise StorageError(f"{folder}: cannot write the digest: {exc.strerror or exc}") from None
    return {"day": day, "html": rendered.html, "text": rendered.text, "paths": paths}


def _preview_message(store: Store, day: str, opts: dict[str, Any], templates_dir: str | None) -> bytes:
    """The .eml written beside the digest: what the first recipient would get, as bytes with CRLF line ends."""
    from . import mail
    from .digest import build_digest

    recipients = [mail.Recipient.from_config(r) for r in opts.get("recipients", [])]
    rcpt = recipients[0] if recipients else mail.Recipient(mail.PLACEHOLDER_TO)
    sender = opts.get("from") or mail.PLACEHOLDER_FROM
    row = store.delivery(day, rcpt.address)
    full = build_digest(store, day, topic_limit=mail.UNCUT)
    msg = mail.build_message(mail.for_recipient(full, rcpt), sender=sender, to=rcpt.address,
                             subject_template=opts["subject"], list_id=opts["list_id"],
                             message_id=row["message_id"] if row else None, templates_dir=templates_dir)
    return msg.as_bytes()


@output("mail")
def mail_digest(store: Store, *, day: str, recipients: list[Any], email: dict[str, Any], environ: dict[str, str],
                force: bool = False, templates_dir: str | None = None, report: Any = None,
                unattended: bool = False) -> dict[str, Any]:
    """Mail the digest of ``day`` to ``recipients`` (send-then-mark, see :func:`reports.mail.deliver`).

    A day with no documents stored at all is refused unless ``force``: the crawl probably did not run,
    and an empty digest must not arrive by mistake. Raises DeliveryError (after every recipient was
    tried) when any delivery failed.
    """
    from . import mail
    from .digest import build_digest

    if not force and store.count_day_documents(day) == 0:
        raise DeliveryError(f"no documents stored for {day}: the crawl may not have run, so the digest is not "
                            "sent (check `supplywatch sources`; --force sends it anyway)")
    built = build_digest(store, day, topic_limit=mail.UNCUT)
    results = mail.deliver(store, built, recipients, email, environ=environ, force=force, templates_dir=templates_dir,
                           report=report, unattended=unattended)
    counts = {status: sum(r["status"] == status for r in results)
              for status in (mail.SENT, mail.SKIPPED, mail.REFUSED, mail.FAILED, mail.UNCERTAIN, mail.DEFERRED,
                             mail.HELD)}
    # Deferred (backing off after a failure already reported) is not a new failure; the others are.
    failed = [r for r in results if r["status"] in (mail.REFUSED, mail.FAILED, mail.UNCERTAIN, mail.HELD)]
    if failed:
        why = "; ".join(f"{r['recipient']}: {r['error']}" for r in failed)
        raise DeliveryError(f"{len(failed)} of {len(results)} deliveries of the {day} digest failed "
                            f"(retried by the next --send): {why}", results)
    return {"day": day, "results": results, **counts}


@output("atom")
def atom_feed(store: Store, *, out: str | None = None, label: str | None = None, days: int | None = None,
              supplier: str | None = None) -> dict[str, Any]:
    """The Atom feed of flagged stories, written to ``out`` (returned as ``xml`` when ``out`` is None)."""
    from .exports import render_feed

    xml, entries = render_feed(store, label=label, days=days, supplier=supplier)
    if out is not None:
        write_atomically(out, xml)
    return {"entries": entries, "path": out, "xml": xml}


@output("stix")
def stix_bundle(store: Store, *, out: str | None = None, label: str | None = None, days: int | None = None,
                supplier: str | None = None) -> dict[str, Any]:
    """The STIX 2.1 bundle of flagged stories, written to ``out`` (returned as ``json`` when ``out`` is None)."""
    import json

    from .exports import export_stix

    bundle = export_stix(store, label=label, days=days, supplier=supplier)
    text = json.dumps(bundle, indent=2, ensure_ascii=False) + "\n"
    if out is not None:
        write_atomically(out, text)
    reports = sum(1 for o in bundle["objects"] if o["type"] == "report")
    return {"reports": reports, "objects": len(bundle["objects"]), "path": out, "json": text}


@output("archive")
def archive(store: Store, *, host: str = "127.0.0.1", port: int = 8001, ready: Any = None) -> None:
    """Serve the store's file read-only in Datasette until Ctrl-C (imports Datasette: only this output does)."""
    from .archive import serve

    serve(store.path, host=host, port=port, ready=ready)
