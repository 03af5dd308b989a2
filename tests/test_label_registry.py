"""One label registry (supplywatch.store.vocabulary) that every layer reads: a new label is one line there.

The new label is added in a fresh interpreter, before anything else is imported, exactly as a new
line in the registry would be; the CLI, the classifier, the configuration and the digest all pick it up.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

from supplywatch.store import vocabulary

NEW_LABEL = textwrap.dedent("""
    import sys
    from supplywatch.store import LabelSpec, vocabulary
    vocabulary.LABELS.append(LabelSpec("fourth_party", vocabulary.TOPIC_KIND, "Fourth-party incidents"))
    vocabulary.check()

    from supplywatch import cli, config
    from supplywatch.classifiers import CATEGORIES, LABELS
    from supplywatch.reports.digest import build_digest
    from supplywatch.reports.render import render_digest
    from supplywatch.store import Document, FetchOutcome, Label, Store

    assert "fourth_party" in cli.LABEL_NAMES and "fourth_party" in CATEGORIES and LABELS[-1] == "fourth_party"
    assert "fourth_party" in config._label_names()
    search = cli.cli.commands["search"]
    assert "fourth_party" in next(p for p in search.params if p.name == "label").type.choices

    T = "2021-01-13T06:00:00Z"
    with Store.open(sys.argv[1]) as store:
        store.sync_sources([{"name": "wire", "kind": "feed", "url": "https://wire.example/rss"}])
        store.save_fetch([Document(source="wire", guid="1", title="Parts maker's own supplier breached",
                                   text="A supplier of a supplier was breached.", url="https://wire.example/1",
                                   published="2021-01-12T10:00:00Z")], FetchOutcome("wire", "ok", T, T))
        (doc,), = store.documents_to_label("v1")
        store.save_labels([(doc["id"], [(Label("fourth_party", 0.9, "A supplier of a supplier was breached."), True)])],
                          "v1", T)
        built = build_digest(store, "2021-01-12")
    text = render_digest(built).text
    assert "FOURTH-PARTY INCIDENTS (1)" in text and "Parts maker's own supplier breached" in text, text
    print("ok")
""")


def test_registry_is_well_formed():
    vocabulary.check()
    assert vocabulary.label_names()[0] == vocabulary.headline()


def test_a_new_label_is_one_registry_line(tmp_path):
    out = subprocess.run([sys.executable, "-c", NEW_LABEL, str(tmp_path / "sw.db")], capture_output=True, text=True,
                         cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout == "ok\n"


def test_a_follow_up_is_read_from_the_reason_the_incident_book_writes():
    from supplywatch.classifiers.incidents import Incident

    reason = Incident(party="Mimecast", artefact="certificate", first_document=1,
                      first_published="2021-01-12", last_published="2021-01-12").reason()
    assert vocabulary.follow_up_of({"reason": reason}) == reason
    assert vocabulary.follow_up_of(vocabulary.Label("x", 0.5, reason=reason)) == reason
    assert vocabulary.follow_up_of({"reason": "states whose signing artefact was compromised"}) == ""
    assert vocabulary.follow_up_of({"reason": None}) == ""
