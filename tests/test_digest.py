"""The daily digest on a real SQLite store: golden files, escaping, empty days, failing sources, the CLI.

Labels are seeded with ``store.save_labels`` (no classifier model needed).
Regenerate the golden files after a deliberate change with ``SUPPLYWATCH_UPDATE_GOLDEN=1``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from supplywatch.cli import cli
from supplywatch.reports.digest import HEADLINE, build_digest, extract_actions, safe_url
from supplywatch.reports.render import autoescape, render_digest
from supplywatch.store import Document, FetchOutcome, Label, Store
from tests.test_lazy_imports import _loaded

GOLDEN = Path(__file__).resolve().parent / "golden"
DAY = "2021-01-12"
T = "2021-01-13T06:00:00Z"
ALL = [HEADLINE, "vulnerability", "malware", "cyber_attack", "data_breach"]

QUILL_TEXT = (
    "Quillmail, which sells an archiving add-on for Microsoft 365, said on Tuesday that attackers stole the "
    "certificate its application uses to authenticate to customers' Exchange Online tenants.\n\n"
    "The company said a small number of customers use the affected connection. Customers who use the connection "
    "are asked to delete the existing connection in their Microsoft 365 tenant immediately and re-establish it "
    "with the new certificate that Quillmail has made available in its administration console.\n\n"
    "Quillmail said it had brought in an outside forensics firm."
)
ACME_TEXT = (
    "Acme has fixed a remote code execution flaw in its Gateway appliance, tracked as CVE-2021-1234. "
    "An unauthenticated attacker can run commands as root. Customers should update to version 4.2.1 or later. "
    "Acme recommends restricting the management interface to trusted networks. "
    "There is no evidence of exploitation."
)
KESTREL_TEXT = (
    "Kestrel Plastics halted production at two plants after a ransomware attack encrypted its servers. "
    "The company did not say whether it would pay."
)
RETAIL_TEXT = (
    "Brightmart exposed two million customer records in an unprotected database. "
    "The retailer said it will rotate the credentials of every affected account and urged shoppers to watch for "
    "phishing. Users are advised to reset their passwords."
)


def _lab(label: str, score: float, evidence: str = "") -> tuple[Label, bool]:
    return Label(label, score, evidence), True


def _unflagged(label: str, score: float = 0.05) -> tuple[Label, bool]:
    return Label(label, score, ""), False


def _with_rest(flagged: list[tuple[Label, bool]]) -> list[tuple[Label, bool]]:
    """Five labels per document, as the classifier writes them: the flagged ones and the rest unflagged."""
    named = {lab.label for lab, _ in flagged}
    return flagged + [_unflagged(name) for name in ALL if name not in named]


def seed(db: str) -> None:
    """Two outlets and a PSIRT on 2021-01-12, one of them failing; a day before and a day after as distractors."""
    sources = [
        {"name": "patchreport", "kind": "feed", "url": "https://patchreport.example/feed"},
        {"name": "riskwire", "kind": "feed", "url": "https://riskwire.example/atom"},
        {"name": "acme-psirt", "kind": "advisories", "url": "https://acme.example/security/advisories/", "vendor": "Acme"},
        {"name": "cipherdaily", "kind": "feed", "url": "https://cipherdaily.example/rss"},
        {"name": "retired", "kind": "feed", "url": "https://retired.example/rss"},
    ]
    docs = {
        "patchreport": [
            Document(source="patchreport", guid="q1", title="Quillmail Microsoft 365 certificate compromised",
                     text=QUILL_TEXT, url="https://patchreport.example/2021/01/quillmail-certificate",
                     published="2021-01-12T14:05:00Z"),
            Document(source="patchreport", guid="k1", title="Kestrel Plastics halts production after ransomware",
                     text=KESTREL_TEXT, url="https://patchreport.example/2021/01/kestrel",
                     published="2021-01-12T09:00:00Z"),
            Document(source="patchreport", guid="w1", title="Weekly podcast: the year ahead", text="Nothing to see.",
                     url="https://patchreport.example/2021/01/podcast", published="2021-01-12T08:00:00Z"),
            Document(source="patchreport", guid="old", title="SolarWinds update: more victims named",
                     text="Customers should rotate credentials.", url="https://patchreport.example/2021/01/old",
                     published="2021-01-11T23:59:59Z"),
            Document(source="patchreport", guid="new", title="Tomorrow's breach", text="Later.",
                     url="https://patchreport.example/2021/01/new", published="2021-01-13T00:00:00Z"),
        ],
        "riskwire": [
            Document(source="riskwire", guid="q2", title="Quillmail  Microsoft 365 Certificate Compromised",
                     text="Quillmail confirmed the theft. Customers are urged to revoke the old certificate.",
                     url="https://riskwire.example/quillmail", published="2021-01-12T15:30:00Z"),
            Document(source="riskwire", guid="r1", title="Brightmart exposes two million customer records",
                     text=RETAIL_TEXT, url="javascript:alert(document.cookie)", published="2021-01-12T11:00:00Z"),
        ],
        "acme-psirt": [
            Document(source="acme-psirt", kind="advisory", guid="a3", vendor="Acme",
                     title="ACME-2021-003: Remote code execution in Acme Gateway", text=ACME_TEXT,
                     url="https://acme.example/security/advisories/ACME-2021-003", published="2021-01-12T00:00:00Z"),
        ],
    }
    labels = {
        "q1": [_lab(HEADLINE, 0.97, "Quillmail said attackers stole the certificate its application uses to "
                                    "authenticate to customers' Exchange Online tenants."),
               _lab("data_breach", 0.61, "attackers stole the certificate")],
        "q2": [_lab(HEADLINE, 0.91, "Quillmail confirmed the theft.")],
        "k1": [_lab("malware", 0.83, "a ransomware attack encrypted its servers."),
               _lab("cyber_attack", 0.74, "Kestrel Plastics halted production at two plants.")],
        "w1": [],
        "old": [_lab(HEADLINE, 0.88, "more victims")],
        "new": [_lab("data_breach", 0.9, "Later.")],
        "r1": [_lab("data_breach", 0.79, "Brightmart exposed two million customer records in an unprotected database.")],
        "a3": [_lab("vulnerability", 0.93, "Acme has fixed a remote code execution flaw in its Gateway appliance.")],
    }
    with Store.open(db) as store:
        store.sync_sources(sources)
        for name, batch in docs.items():
            store.save_fetch(batch, FetchOutcome(name, "ok", T, T))
        store.save_fetch([], FetchOutcome("cipherdaily", "blocked", T, T, http_status=403, error="HTTP 403 Forbidden"))
        store.save_fetch([], FetchOutcome("cipherdaily", "blocked", T, T, http_status=403, error="HTTP 403 Forbidden"))
        store.save_fetch([], FetchOutcome("retired", "gone", T, T, http_status=404, error="HTTP 404"))
        store.sync_sources(sources[:4])  # "retired" is disabled now: not in the footer
        ids = {guid: doc_id for doc_id, guid in store.db.execute("select id, guid from documents")}
        store.save_labels([(ids[g], _with_rest(labs)) for g, labs in labels.items()], "test-v1", T)


def _stable(text: str) -> str:
    return re.sub(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", "GENERATED", text)


@pytest.fixture
def seeded(tmp_path: Path) -> str:
    db = str(tmp_path / "digest.db")
    seed(db)
    return db


def test_store_reads_one_day_with_flagged_labels(seeded):
    with Store.open(seeded) as store:
        docs = store.digest_documents(DAY)
        failing = store.failing_sources()
    assert [d["title"][:12] for d in docs] == ["ACME-2021-00", "Weekly podca", "Kestrel Plas", "Brightmart e",
                                                "Quillmail Mi", "Quillmail  M"]
    quill = next(d for d in docs if d["source"] == "patchreport" and d["title"].startswith("Quillmail"))
    assert [(lab["label"], lab["score"]) for lab in quill["labels"]] == [(HEADLINE, 0.97), ("data_breach", 0.61)]
    assert next(d for d in docs if d["title"].startswith("Weekly"))["labels"] == []
    assert {"title", "url", "source", "vendor", "published"} <= docs[0].keys() and docs[0]["vendor"] == "Acme"
    assert [(s["name"], s["last_status"], s["consecutive_failures"]) for s in failing] == [("cipherdaily", "blocked", 2)]


def test_sections_grouping_and_order(seeded):
    with Store.open(seeded) as store:
        digest = build_digest(store, DAY)
    (quill,) = digest.headline.items  # the two same-titled reports are one story
    assert quill.sources == ["patchreport", "riskwire"] and quill.score == 0.97 and quill.date == DAY
    assert quill.actions[0].startswith("Customers who use the connection are asked to delete")
    assert quill.actions[1] == "Customers are urged to revoke the old certificate."
    topics = {s.label: [i.title for i in s.items] for s in digest.topics}
    assert topics == {"vulnerability": ["ACME-2021-003: Remote code execution in Acme Gateway"],
                      # Each story once, under its best topic; its other labels shown on the item.
                      "malware": ["Kestrel Plastics halts production after ransomware"],
                      "cyber_attack": [],
                      # Quillmail is flagged data_breach too, but it is in the headline section already.
                      "data_breach": ["Brightmart exposes two million customer records"]}
    assert digest.topics[1].items[0].also == [("cyber_attack", 0.74)] and quill.also == [("data_breach", 0.61)]
    breach = digest.topics[3].items[0]
    assert [link.url for link in breach.links] == [""]  # javascript: is never a link


def test_golden_files(seeded, tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["--db", seeded, "digest", "--date", DAY, "--out", str(out)],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [str(out / f"digest-{DAY}.{ext}") for ext in ("html", "txt", "eml")]
    for ext in ("html", "txt"):
        got = _stable((out / f"digest-{DAY}.{ext}").read_text("utf-8"))
        golden = GOLDEN / f"digest-{DAY}.{ext}"
        if os.environ.get("SUPPLYWATCH_UPDATE_GOLDEN"):
            golden.parent.mkdir(exist_ok=True)
            golden.write_text(got, "utf-8")
        assert got == golden.read_text("utf-8"), f"{golden} differs (SUPPLYWATCH_UPDATE_GOLDEN=1 after checking by eye)"
    html = (out / f"digest-{DAY}.html").read_text("utf-8")
    assert "<style" not in html and 'style="' in html
    assert "javascript:" not in html


def test_without_out_prints_the_text(seeded):
    result = CliRunner().invoke(cli, ["--db", seeded, "digest", "--date", DAY], catch_exceptions=False)
    assert result.exit_code == 0
    assert result.output.startswith(f"supplywatch digest for {DAY}\n")
    assert "Actions asked of customers:" in result.output and "FAILING SOURCES (1)" in result.output


HOSTILE = ["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>']


def test_hostile_titles_and_urls_are_escaped(tmp_path):
    db = str(tmp_path / "h.db")
    bad_urls = ["javascript:alert(1)", "JaVaScRiPt:alert(1)", " javascript:alert(1)", "data:text/html,<b>x</b>",
                "vbscript:msgbox(1)"]
    with Store.open(db) as store:
        store.sync_sources([{"name": "evil", "kind": "feed", "url": "https://evil.example/feed"}])
        docs = [Document(source="evil", guid=f"h{i}", title=title, text=f"{title} Customers should {title}.",
                         url=bad_urls[i], published=f"{DAY}T10:0{i}:00Z") for i, title in enumerate(HOSTILE)]
        docs += [Document(source="evil", guid=f"u{i}", title=f"Story {i}", text="", url=url,
                          published=f"{DAY}T11:0{i}:00Z") for i, url in enumerate(bad_urls[2:])]
        docs.append(Document(source="evil", guid="ok", title="Fine", text="", url='https://ok.example/a?b=1&c="2"',
                             published=f"{DAY}T12:00:00Z"))
        store.save_fetch(docs, FetchOutcome("evil", "blocked", T, T, error='<b onmouseover="x">403</b>'))
        ids = [r[0] for r in store.db.execute("select id from documents order by id")]
        store.save_labels([(i, [_lab(HEADLINE, 0.9, HOSTILE[1])]) for i in ids], "v", T)
        digest = build_digest(store, DAY)
    html = render_digest(digest).html
    for title in HOSTILE:
        assert title not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<img" not in html and "<script" not in html and "<b " not in html
    assert "javascript:" not in html.lower() and "vbscript:" not in html and "data:text" not in html
    hrefs = re.findall(r'href="([^"]*)"', html)
    assert hrefs == ["https://ok.example/a?b=1&amp;c=&#34;2&#34;"]
    text = render_digest(digest).text  # plain text is not HTML-escaped, and carries no unsafe links either
    assert HOSTILE[0] in text and "javascript:" not in text.lower()


def test_autoescape_looks_for_html_anywhere_in_the_name():
    assert autoescape("digest.html.j2") and autoescape("custom/Digest.HTML") and autoescape("feed.xml.j2")
    assert autoescape(None)
    assert not autoescape("digest.txt.j2")


@pytest.mark.parametrize("url,ok", [("https://a.example/x", True), ("http://a.example", True),
                                    ("javascript:alert(1)", False), ("java\tscript:alert(1)", False),
                                    ("//a.example/x", False), ("/relative", False), ("", False), (None, False),
                                    ("https://a.example/\nx", False), ("ftp://a.example", False)])
def test_safe_url(url, ok):
    assert safe_url(url) == (url if ok else "")


def test_empty_day_is_one_line(tmp_path):
    db = str(tmp_path / "e.db")
    Store.open(db).close()
    result = CliRunner().invoke(cli, ["--db", db, "digest", "--date", "2021-01-14"], catch_exceptions=False)
    assert result.exit_code == 0 and result.output == "No new items for 2021-01-14.\n"
    with Store.open(db) as store:
        html = render_digest(build_digest(store, "2021-01-14")).html
    assert "<p style=\"margin:0 0 12px 0;\">No new items for 2021-01-14.</p>" in html and "<h2" not in html


def test_day_with_only_unflagged_documents_is_empty_but_keeps_the_footer(seeded):
    with Store.open(seeded) as store:
        digest = build_digest(store, "2021-01-10")
        text = render_digest(digest).text
    assert digest.empty
    assert text.splitlines()[0] == "No new items for 2021-01-10."
    assert "FAILING SOURCES (1)" in text
    assert "* cipherdaily: blocked (HTTP 403), 2 failures in a row, last success never: HTTP 403 Forbidden" in text
    assert "retired" not in text


def test_topic_sections_are_cut_at_ten(tmp_path):
    db = str(tmp_path / "many.db")
    with Store.open(db) as store:
        store.sync_sources([{"name": "s", "kind": "feed", "url": "https://s.example/feed"}])
        store.save_fetch([Document(source="s", guid=str(i), title=f"Bug {i:02d}", text="",
                                   url=f"https://s.example/{i}", published=f"{DAY}T01:00:00Z") for i in range(13)],
                         FetchOutcome("s", "ok", T, T))
        store.save_labels([(i + 1, [_lab("vulnerability", 0.5 + i / 100)]) for i in range(13)], "v", T)
        digest = build_digest(store, DAY)
        text = render_digest(digest).text
    section = digest.topics[0]
    assert section.total == 13 and section.more == 3
    assert [i.title for i in section.items][:2] == ["Bug 12", "Bug 11"] and len(section.items) == 10
    assert "and 3 more" in text


@pytest.mark.parametrize("bad", ["2021-13-01", "yesterday", "2021-1-2", "2021-02-30", "2021-01-12T00:00"])
def test_bad_date_is_a_one_line_usage_error(tmp_path, bad):
    db = str(tmp_path / "b.db")
    Store.open(db).close()
    result = CliRunner().invoke(cli, ["--db", db, "digest", "--date", bad])
    assert result.exit_code == 2, result.output
    assert result.output.startswith("Error: bad date") and result.output.count("\n") == 1


def test_missing_database_is_an_error(tmp_path):
    result = CliRunner().invoke(cli, ["--db", str(tmp_path / "nope.db"), "digest", "--date", DAY])
    assert result.exit_code == 3 and "no such database" in result.output


def test_templates_dir_overrides_by_name(seeded, tmp_path):
    mine = tmp_path / "tpl"
    mine.mkdir()
    (mine / "digest.txt.j2").write_text("Custom {{ digest.day }}: {{ digest.headline.items[0].title }}\n")
    (mine / "digest.html.j2").write_text("<p>{{ digest.headline.items[0].title }} {{ '<i>' }}</p>\n")
    with Store.open(seeded) as store:
        digest = build_digest(store, DAY)
    rendered = render_digest(digest, templates_dir=mine)
    assert rendered.text == f"Custom {DAY}: Quillmail Microsoft 365 certificate compromised\n"
    assert rendered.html == "<p>Quillmail Microsoft 365 certificate compromised &lt;i&gt;</p>\n"
    (mine / "digest.txt.j2").unlink()  # the packaged template fills in what the folder lacks
    assert render_digest(digest, templates_dir=mine).text.startswith(f"supplywatch digest for {DAY}")


def test_actions_from_a_quillmail_like_text():
    text = ("Quillmail said the certificate was stolen on Monday. Customers who use the connection are asked to "
            "delete the existing connection in their Microsoft 365 tenant immediately and re-establish it with the "
            "new certificate. The company has not said how many tenants were reached.")
    assert extract_actions(text) == [
        "Customers who use the connection are asked to delete the existing connection in their Microsoft 365 "
        "tenant immediately and re-establish it with the new certificate."]


def test_actions_phrases_order_and_limit():
    text = ("Nothing here. Acme recommends disabling the service. Administrators should rotate the keys.\n"
            "Users are urged to update to 2.0.1. Customers are advised to revoke old tokens. Quiet ending.")
    assert extract_actions(text) == ["Acme recommends disabling the service.", "Administrators should rotate the keys.",
                                     "Users are urged to update to 2.0.1."]
    assert extract_actions("") == [] and extract_actions("The vendor deleted the files.") == []
    # The company's own steps are news, not requests; an instruction is.
    assert extract_actions("The retailer said it will rotate the credentials of every account. It has revoked "
                           "the old certificate. Delete the connection and re-create it.") == [
        "Delete the connection and re-create it."]
    # A request in the vendor's voice is one; an adviser to customers, or users needing nothing, is not.
    assert extract_actions("Quillmail is asking every customer that uses the integration to delete the connection. "
                           "It's painful, said a consultant who advises several Quillmail customers. Most users will "
                           "not need to do anything. Acme urges customers to patch.") == [
        "Quillmail is asking every customer that uses the integration to delete the connection.",
        "Acme urges customers to patch."]
    long = "Customers should " + "really " * 200 + "act."
    (cut,) = extract_actions(long)
    assert len(cut) <= 400 and cut.endswith("really…")  # cut between words, never inside one


def test_digest_loads_nothing_heavy(seeded):
    assert _loaded(["--db", seeded, "digest", "--date", DAY]) == ""


def test_config_templates_folder_is_used_by_the_cli_and_a_missing_one_is_one_line(seeded, tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "digest.txt.j2").write_text("OUR HOUSE STYLE {{ digest.day }}: {{ digest.headline.items | length }}\n", "utf-8")
    cfg = tmp_path / "supplywatch.toml"
    cfg.write_text(f"[digest]\ntemplates = '{mine}'\n", "utf-8")
    result = CliRunner().invoke(cli, ["--config", str(cfg), "--db", seeded, "digest", "--date", DAY])
    assert result.exit_code == 0 and result.output == f"OUR HOUSE STYLE {DAY}: 1\n"
    cfg.write_text(f"[digest]\ntemplates = '{tmp_path / 'nowhere'}'\n", "utf-8")
    result = CliRunner().invoke(cli, ["--config", str(cfg), "--db", seeded, "digest", "--date", DAY])
    assert result.exit_code == 2 and result.stderr.count("\n") == 1 and "no such templates folder" in result.stderr


def test_analysts_corrections_win_over_the_classifier_in_the_digest(seeded):
    with Store.open(seeded) as store:
        ids = {guid: doc_id for doc_id, guid in store.db.execute("select id, guid from documents")}
        store.add_correction(ids["q1"], HEADLINE, False, T, note="not a theft")
        store.add_correction(ids["q2"], HEADLINE, False, T)
        store.add_correction(ids["w1"], "malware", True, T, note="the podcast covers a worm")
        digest = build_digest(store, DAY)
    assert digest.headline.items == []  # both Quillmail documents corrected to "no"
    assert "Weekly podcast: the year ahead" in [i.title for s in digest.topics for i in s.items if s.label == "malware"]
    assert "Quillmail Microsoft 365 certificate compromised" in [i.title for s in digest.topics for i in s.items]  # data_breach
