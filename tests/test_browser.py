"""The rendered digest in a real browser: headless Chromium loads it from a local HTTP server on 127.0.0.1.

Hostile titles, evidence, actions, vendors, errors and URLs must show as text and run nothing; the
sections must be there. Each test saves a screenshot in its tmp_path, and in $SUPPLYWATCH_SCREENSHOTS
when that is set (``SUPPLYWATCH_SCREENSHOTS=docs pytest -m browser -k demo_day`` remakes docs/digest.png).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from supplywatch import config as configuration
from supplywatch.demo import DEMO_DAY, demo_site_root, write_demo_config
from supplywatch.localsite import LocalServer
from supplywatch.pipeline import make_pipeline
from supplywatch.reports.digest import HEADLINE, build_digest, sentences
from supplywatch.reports.render import render_digest
from supplywatch.store import Document, FetchOutcome, Label, Store
from tests.conftest import static

pytestmark = pytest.mark.browser

DAY = "2021-01-12"
T = "2021-01-13T06:00:00Z"
ALL = [HEADLINE, "vulnerability", "malware", "cyber_attack", "data_breach"]
PWN = "window.__pwned=1"
SCRIPT = f"<script>{PWN}</script>"
IMG = f'"><img src=x onerror="{PWN}">'
ANCHOR = f'<a href="javascript:{PWN}">click me</a>'
SVG = f"<svg onload={PWN}>"
IFRAME = '<iframe srcdoc="<script>parent.__pwned=1</script>"></iframe>'
JS_URL = f"javascript:{PWN}"

# What the page must not contain, read from the live DOM.
DOM_PROBE = """
const all = [...document.querySelectorAll('*')];
return {
  pwned: typeof window.__pwned,
  scripts: document.scripts.length,
  on_attributes: all.flatMap(e => [...e.attributes].map(a => e.tagName + ' ' + a.name)).filter(n => / on/i.test(n)),
  active: all.filter(e => /^(IMG|SVG|IFRAME|OBJECT|EMBED|FORM|INPUT|BUTTON|VIDEO|AUDIO|LINK|BASE|META)$/i.test(e.tagName)
                    && !(e.tagName === 'META' && !e.httpEquiv)).map(e => e.tagName),
  js_links: document.querySelectorAll('a[href^="javascript:" i]').length,
  hrefs: [...document.links].map(a => a.href),
  headings: [...document.querySelectorAll('h1, h2')].map(h => h.tagName + ' ' + h.innerText),
  text: document.body.innerText,
};
"""


def _labels(flagged: dict[str, tuple[float, str]]) -> list[tuple[Label, bool]]:
    """All five labels, as the classifier writes them: ``flagged`` ones with score and evidence, the rest not."""
    return [(Label(name, *flagged[name]), True) if name in flagged else (Label(name, 0.04, ""), False) for name in ALL]


def show(browser: Any, server: LocalServer, html: str, screenshot: str, tmp_path: Path, *,
         width: int = 1000) -> dict[str, Any]:
    """Serve ``html`` at /digest.html, load it, screenshot the whole page, and return what DOM_PROBE saw."""
    server.routes["/digest.html"] = static(html, "text/html; charset=utf-8")
    browser.set_window_size(1000, 1400)
    browser.get(server.url("/digest.html"))
    assert browser.execute_script("return document.readyState") == "complete"
    save_screenshot(browser, screenshot, tmp_path, width=width)
    return browser.execute_script(DOM_PROBE)


def save_screenshot(browser: Any, name: str, tmp_path: Path, *, width: int = 1000, max_height: int = 4000) -> list[Path]:
    """The page as PNG, as tall as its content (up to ``max_height``), into tmp_path and $SUPPLYWATCH_SCREENSHOTS."""
    # The window's frame (outer minus inner height) is not part of the viewport a screenshot shows.
    frame = browser.execute_script("return window.outerHeight - window.innerHeight")
    browser.set_window_size(width, 200 + frame)
    height = browser.execute_script("return Math.ceil(document.body.getBoundingClientRect().height)")
    browser.set_window_size(width, min(height, max_height) + frame)
    folders = [tmp_path]
    if os.environ.get("SUPPLYWATCH_SCREENSHOTS"):
        folders.append(Path(os.environ["SUPPLYWATCH_SCREENSHOTS"]))
    paths = []
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / name
        assert browser.save_screenshot(str(path)), path
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        paths.append(path)
    return paths


@pytest.fixture
def hostile_db(tmp_path: Path) -> str:
    """One day of documents whose every field a feed controls is an attack, and a failing source that says so."""
    db = str(tmp_path / "hostile.db")
    sources = [{"name": "evilwire", "kind": "feed", "url": "https://evilwire.example/feed"},
               {"name": "mirror", "kind": "feed", "url": "https://mirror.example/feed"},
               {"name": "broken", "kind": "feed", "url": "https://broken.example/feed"}]
    docs = [
        Document(source="evilwire", guid="s", title=f"Signing key stolen {SCRIPT}", url=JS_URL,
                 vendor=IFRAME, published=f"{DAY}T09:00:00Z",
                 text=f"The vendor's signing key was stolen. Customers should rotate keys {SVG} today.\n\n"
                      f"Administrators must revoke the old certificate {ANCHOR} at once."),
        Document(source="evilwire", guid="i", title=f"Router flaw {IMG}", url="https://evilwire.example/router",
                 published=f"{DAY}T10:00:00Z", text=f"Users should update to 2.1 {SCRIPT}."),
        Document(source="evilwire", guid="a", title=f"Worm spreads {ANCHOR}", url=f" {JS_URL}",
                 published=f"{DAY}T11:00:00Z", text="A worm spreads."),
        Document(source="evilwire", guid="v", title=f"Records exposed {SVG}", url="JaVaScRiPt:window.__pwned=1",
                 published=f"{DAY}T12:00:00Z", text="Two million records were exposed."),
    ]
    mirrored = Document(source="mirror", guid="m", title=f"Signing key stolen {SCRIPT}", url="data:text/html,<b>x</b>",
                        published=f"{DAY}T13:00:00Z", text=f"Clients are urged to re-establish trust {IMG}.")
    labels = {
        "s": {HEADLINE: (0.97, f"The vendor's signing key was stolen {IMG}")},
        "m": {HEADLINE: (0.91, SCRIPT)},
        "i": {"vulnerability": (0.88, f"Router flaw {SVG}")},
        "a": {"malware": (0.81, ANCHOR)},
        "v": {"data_breach": (0.77, IFRAME)},
    }
    with Store.open(db) as store:
        store.sync_sources(sources)
        store.save_fetch(docs, FetchOutcome("evilwire", "ok", T, T))
        store.save_fetch([mirrored], FetchOutcome("mirror", "ok", T, T))
        store.save_fetch([], FetchOutcome("broken", "blocked", T, T, http_status=403,
                                          error=f'<b onmouseover="{PWN}">403</b> {SCRIPT}'))
        ids = {guid: doc_id for doc_id, guid in store.db.execute("select id, guid from documents")}
        store.save_labels([(ids[g], _labels(flagged)) for g, flagged in labels.items()], "test-v1", T)
    return db


def test_hostile_digest_runs_nothing_and_shows_the_text(browser, server, hostile_db, tmp_path):
    with Store.open(hostile_db) as store:
        html = render_digest(build_digest(store, DAY)).html
    seen = show(browser, server, html, "digest-hostile.png", tmp_path)

    assert seen["pwned"] == "undefined"  # no script, handler or javascript: URL ran
    assert seen["scripts"] == 0 and seen["on_attributes"] == [] and seen["active"] == []
    assert seen["js_links"] == 0
    assert seen["hrefs"] == ["https://evilwire.example/router"]  # the only http(s) document URL
    text = seen["text"]
    for attack in (SCRIPT, IMG, ANCHOR, SVG, IFRAME):
        assert attack in text, attack  # shown as text, not markup
    assert f"Signing key stolen {SCRIPT}" in text and f"vendor {IFRAME}" in text
    assert seen["headings"] == [
        f"H1 supplywatch digest for {DAY}",
        "H2 Supply-chain certificate and signing-key compromises (1)",
        "H2 Vulnerabilities (1)", "H2 Malware (1)", "H2 Data breaches (1)",
        "H2 Failing sources (1)",
    ]
    # The story: both outlets, the best document's evidence, the actions asked of customers, the other link.
    assert f"{DAY} · 2 sources: evilwire, mirror · vendor {IFRAME} · {HEADLINE} 0.97" in text
    assert f"“The vendor's signing key was stolen {IMG}”" in text
    assert f"Actions asked of customers:\nCustomers should rotate keys {SVG} today.\n" in text
    assert f"Administrators must revoke the old certificate {ANCHOR} at once." in text
    assert f"Clients are urged to re-establish trust {IMG}." in text
    assert "Also: mirror" in text
    assert f'broken: blocked (HTTP 403), 1 failure in a row, last success never: <b onmouseover="{PWN}">403</b>' in text
    # The page fetched nothing but itself: no image, frame or script source was requested.
    assert set(server.hits) <= {"/digest.html", "/favicon.ico"}, server.hits


def test_empty_day_shows_its_one_line(browser, server, tmp_path):
    db = tmp_path / "empty.db"
    with Store.open(db) as store:
        html = render_digest(build_digest(store, "2021-01-14")).html
    seen = show(browser, server, html, "digest-empty.png", tmp_path)
    lines = [line for line in seen["text"].splitlines() if line.strip()]
    assert lines == ["supplywatch digest for 2021-01-14", "No new items for 2021-01-14."]
    assert seen["headings"] == ["H1 supplywatch digest for 2021-01-14"]
    assert seen["pwned"] == "undefined" and seen["hrefs"] == []


def test_the_browser_reaches_nothing_beyond_loopback(browser):
    from selenium.common.exceptions import WebDriverException

    for url in ("http://example.com/", "https://93.184.215.14/"):
        with pytest.raises(WebDriverException, match="ERR_PROXY_CONNECTION_FAILED"):
            browser.get(url)


# -- the demo's day ---------------------------------------------------------------------------

# The flagged labels `supplywatch demo` gets from the model on the founding example's day, seeded here so that
# the test needs no model: title start -> {label: (score, a phrase of the evidence: the title or a sentence)}.
DEMO_LABELS = {
    "Quillmail customers told to rebuild": {HEADLINE: (0.9985, "asked to delete"),
                                            "cyber_attack": (0.5725, "Quillmail customers told")},
    "Quillmail says attackers compromised": {HEADLINE: (0.9956, "had been compromised")},
    "Quillmail: ‘sophisticated’": {HEADLINE: (0.9876, "sophisticated threat actor")},
    "Corvane GridSense": {"vulnerability": (0.9536, "fixed username and password")},
    "January Patch Tuesday": {"vulnerability": (0.8422, "January Patch Tuesday")},
    "DDoS attack knocks Nimbus": {"cyber_attack": (0.7397, "scrubbing service")},
}
QUILLMAIL = "Quillmail customers told to rebuild Microsoft 365 connections after certificate theft"


@pytest.fixture(scope="session")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The demo site crawled as `supplywatch demo` crawls it; the demo day's labels and stories seeded (no model).

    The three outlets' Quillmail reports are one story, as the story clustering makes them.
    """
    out = tmp_path_factory.mktemp("demo")
    db = str(out / "supplywatch-demo.db")
    with LocalServer(demo_site_root()) as site:
        cfg = configuration.load(write_demo_config(out / "supplywatch.toml", site.base))
        with make_pipeline(cfg, db) as pipeline:
            reports = pipeline.crawl()
    assert {r["status"] for r in reports} == {"ok"}, reports
    with Store.open(db) as store:
        labels = []
        quillmail: int | None = None
        for doc in store.digest_documents(DEMO_DAY):
            start = next((s for s in DEMO_LABELS if doc["title"].startswith(s)), None)
            units = [doc["title"], *sentences(doc["text"])]
            flagged = {label: (score, next(u for u in units if phrase in u))
                       for label, (score, phrase) in DEMO_LABELS.get(start, {}).items()}
            labels.append((doc["id"], _labels(flagged)))
            if doc["title"].startswith("Quillmail"):
                quillmail = store.assign_story(doc["id"], quillmail, similarity=0.8 if quillmail else 1.0,
                                               reason="manual" if quillmail else "first")
            else:
                store.assign_story(doc["id"])
        assert store.save_labels(labels, "demo-seeded", T) == len(labels) and quillmail is not None
        assert store.story(quillmail)["documents"] == 3
    return db


def test_demo_day_digest(browser, server, demo_db, tmp_path):
    with Store.open(demo_db) as store:
        html = render_digest(build_digest(store, DEMO_DAY)).html
    seen = show(browser, server, html, "digest.png", tmp_path, width=800)
    assert seen["pwned"] == "undefined" and seen["scripts"] == 0
    assert [h for h in seen["headings"] if h.startswith("H2")] == [
        "H2 Supply-chain certificate and signing-key compromises (1)", "H2 Vulnerabilities (2)", "H2 Cyber attacks (1)"]
    # The founding example: Quillmail's stolen Microsoft 365 certificate, one story from all three outlets,
    # with the action it asks of customers.
    headline = seen["text"].split("compromises (1)", 1)[1].split("Vulnerabilities (2)", 1)[0]
    assert headline.lstrip().startswith(QUILLMAIL + "\n")
    assert f"{DEMO_DAY} · 3 sources: riskwire, patchreport, cipherdaily · {HEADLINE} 1.00" in headline
    actions = headline.split("Actions asked of customers:\n", 1)[1].split("Also:", 1)[0]
    assert "Customers who use the connection are asked to delete the existing connection" in actions
    assert "Also: patchreport, cipherdaily" in headline
    assert "Quillmail" not in seen["text"].split("Cyber attacks (1)", 1)[1]  # a headline story is not repeated
    assert len(seen["hrefs"]) == 6 and all(h.startswith("http://127.0.0.1:") for h in seen["hrefs"])
