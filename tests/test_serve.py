"""`supplywatch serve`: the real Datasette server over a real store, loaded in headless Chromium and over HTTP.

The server runs as the command runs it (a subprocess, `serve --port 0`, stopped with Ctrl-C's SIGINT).
Searching finds documents, a hostile title shows as text and runs nothing, the canned queries render,
writes are refused, and the store file is byte-for-byte the same afterwards. Screenshots go to
tmp_path, and to $SUPPLYWATCH_SCREENSHOTS when set.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from supplywatch.reports.archive import metadata
from tests.test_exports import EVIL, seed

ROOT = Path(__file__).resolve().parents[1]


def _fingerprint(path: Path) -> tuple[str, int, int]:
    return hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns, path.stat().st_size


class Served:
    """``supplywatch --db DB serve --port 0`` in a subprocess; ``url`` is the archive's database page."""

    def __init__(self, db: Path, *extra: str):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "supplywatch", "--db", str(db), "serve", "--port", "0", *extra],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            # A shell that starts pytest in the background ignores SIGINT, and the child would inherit that:
            # give it the default disposition so Ctrl-C reaches it as it does at a terminal.
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        line = self.proc.stdout.readline()
        if "Serving" not in line:
            self.proc.kill()
            raise AssertionError(f"serve did not start: {line!r} {self.proc.stderr.read()!r}")
        self.url = line.split(" at ")[1].split()[0]
        self.port = int(urllib.parse.urlsplit(self.url).port)
        self.output: tuple[str, str] | None = None

    def stop(self) -> tuple[int, str, str]:
        """Ctrl-C, as a terminal sends it; returns exit code, rest of stdout, stderr."""
        if self.output is None:
            self.proc.send_signal(signal.SIGINT)
            self.output = self.proc.communicate(timeout=30)
        return self.proc.returncode, *self.output


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory):
    db = tmp_path_factory.mktemp("archive") / "archive.db"
    ids = seed(db)
    before = _fingerprint(db)
    server = Served(db)
    server.db, server.ids, server.before = db, ids, before  # type: ignore[attr-defined]
    yield server
    server.stop()


def _get(url: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _screenshot(browser: Any, name: str, tmp_path: Path) -> Path:
    frame = browser.execute_script("return window.outerHeight - window.innerHeight")
    height = browser.execute_script("return Math.ceil(document.documentElement.scrollHeight)")
    browser.set_window_size(1000, min(height, 3000) + frame)
    folders = [tmp_path] + ([Path(os.environ["SUPPLYWATCH_SCREENSHOTS"])] if os.environ.get("SUPPLYWATCH_SCREENSHOTS") else [])
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
        assert browser.save_screenshot(str(folder / name))
    browser.set_window_size(1000, 1400)
    return tmp_path / name


# -- over plain HTTP ------------------------------------------------------------------------------


def test_json_api_full_text_search(served: Served) -> None:
    status, rows = _get(f"{served.url}/documents.json?_search=certificate&_shape=array")
    assert status == 200
    assert {r["title"] for r in rows} == {"Acme code-signing certificate stolen, malware signed with it",
                                          "Acme revokes its stolen signing certificate"}
    status, rows = _get(f"{served.url}/documents.json?_search=revenue&_shape=array")
    assert [r["title"] for r in rows] == ["Quarterly results of a router maker"]
    # FTS syntax is escaped, not an error.
    status, rows = _get(f"{served.url}/documents.json?" + urllib.parse.urlencode({"_search": 'cert" OR', "_shape": "array"}))
    assert status == 200


def test_canned_queries_over_json(served: Served) -> None:
    status, rows = _get(f"{served.url}/cert_compromises_30_days.json?_shape=array")
    assert status == 200
    assert [r["id"] for r in rows] == [served.ids["k2"], served.ids["k"]]  # newest first; the 2021 one is too old
    assert [r["text_seen"] for r in rows] == ["feed summary only", "full page"]
    status, rows = _get(f"{served.url}/stories_for_supplier.json?supplier=acme&_shape=array")
    assert status == 200 and [(r["story_id"], r["supplier"]) for r in rows] == [(served.ids["story:k"], "Acme Corp")]
    status, rows = _get(f"{served.url}/documents_by_month.json?_shape=array")
    assert status == 200 and sum(r["documents"] for r in rows) == 4


BROWSE_COLUMNS = ["title", "source", "day", "labels", "text_seen", "snippet", "story", "url", "id"]


def test_browse_view_for_people_best_match_first(served: Served) -> None:
    # Newest first without a search; the raw documents table is still there beside it.
    status, body = _get(f"{served.url}/browse.json?search=")
    assert status == 200 and body["columns"] == BROWSE_COLUMNS
    rows = [dict(zip(body["columns"], r, strict=True)) for r in body["rows"]]
    assert [r["id"] for r in rows] == [served.ids[g] for g in ("k2", "k", "evil", "plain")]
    first = rows[1]
    assert first["title"] == "Acme code-signing certificate stolen, malware signed with it"
    assert (first["source"], first["day"]) == ("wire", first["day"][:10]) and len(first["day"]) == 10
    assert first["labels"] == "supply_chain_cert_compromise 0.95, malware 0.71"  # flagged ones, best first
    assert first["story"] == first["title"] and rows[0]["story"] == first["title"]  # k2 joined k's story
    assert first["snippet"].startswith("Attackers stole the code-signing certificate of Acme.")
    assert rows[3]["labels"] is None  # scored, not flagged: no label shown
    # What each label rests on (issue 16): k2 came from its feed entry alone.
    assert [r["text_seen"] for r in rows] == ["feed summary only", "full page", "full page", "full page"]
    status, raw = _get(f"{served.url}/documents.json?_shape=array")
    assert status == 200 and len(raw) == 4 and "canonical_url" in raw[0]

    # Searching: best match (bm25, title weighted) first, which here is not the newest first.
    status, rows = _get(f"{served.url}/browse.json?search=signed&_shape=array")
    assert status == 200 and [r["id"] for r in rows] == [served.ids["k"], served.ids["k2"]]
    assert list(rows[0]) == BROWSE_COLUMNS and "[signing]" in rows[0]["snippet"]
    status, rows = _get(f"{served.url}/browse.json?" + urllib.parse.urlencode({"search": 'cert" OR', "_shape": "array"}))
    assert status == 200  # FTS syntax is searched as words, never an error


@pytest.mark.parametrize("sql", [
    "delete from documents",
    "update documents set title = 'x'",
    "with x as (select 1) delete from documents",  # passes Datasette's SELECT check; the connection refuses it
    "select 1; drop table documents",
])
def test_writes_are_refused(served: Served, sql: str) -> None:
    status, body = _get(f"{served.url}.json?" + urllib.parse.urlencode({"sql": sql}))
    assert status == 400 and body["ok"] is False, body
    status, rows = _get(f"{served.url}/documents.json?_shape=array")
    assert len(rows) == 4 and "x" not in {r["title"] for r in rows}


def test_metadata_tolerates_a_store_without_supplier_tables() -> None:
    core = {"documents", "documents_fts", "labels", "stories", "story_documents", "sources"}
    meta = metadata(core)["databases"]["archive"]
    assert "stories_for_supplier" not in meta["queries"] and "suppliers" not in meta["tables"]
    assert meta["tables"]["documents"]["fts_table"] == "documents_fts"
    full = metadata(core | {"suppliers", "supplier_matches"})["databases"]["archive"]
    assert "stories_for_supplier" in full["queries"] and "supplier_matches" in full["tables"]


def test_one_line_errors(served: Served, tmp_path: Path) -> None:
    busy = subprocess.run([sys.executable, "-m", "supplywatch", "--db", str(served.db), "serve", "--port", str(served.port)],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert busy.returncode != 0
    assert busy.stderr.strip() == f"Error: port {served.port} on 127.0.0.1 is already in use (choose another with --port)"
    missing = subprocess.run([sys.executable, "-m", "supplywatch", "--db", str(tmp_path / "nope.db"), "serve"],
                             cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert missing.returncode != 0 and len(missing.stderr.strip().splitlines()) == 1
    assert "no such database" in missing.stderr and not (tmp_path / "nope.db").exists()


# -- in the browser -------------------------------------------------------------------------------


def _arrived(browser: Any, url_part: str, css: str = "body") -> None:
    """Wait for the navigation a click or submit started: Selenium returns before the next page has loaded,
    and reading the page at once reads the old one (CI failed on this once, with an empty header list)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(browser, 20).until(ec.url_contains(url_part))
    WebDriverWait(browser, 20).until(ec.presence_of_element_located((By.CSS_SELECTOR, css)))


@pytest.mark.browser
def test_search_box_finds_documents_and_hostile_title_is_text(served: Served, browser: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(f"{served.url}/documents")
    box = browser.find_element(By.CSS_SELECTOR, "form input[name=_search]")
    box.send_keys("certificate")
    box.submit()
    WebDriverWait(browser, 20).until(ec.url_contains("_search=certificate"))
    text = browser.find_element(By.TAG_NAME, "body").text
    assert "Acme code-signing certificate stolen, malware signed with it" in text
    assert "Quarterly results" not in text
    _screenshot(browser, "serve-search.png", tmp_path)

    box = browser.find_element(By.CSS_SELECTOR, "form input[name=_search]")
    box.clear()
    box.send_keys("worm")
    box.submit()
    WebDriverWait(browser, 20).until(ec.url_contains("_search=worm"))
    text = browser.find_element(By.TAG_NAME, "body").text
    assert EVIL in text  # shown as text...
    assert browser.execute_script("return typeof window.__pwned") == "undefined"  # ...and never run
    assert not browser.find_elements(By.CSS_SELECTOR, "td script, td a[href^='javascript:' i]")
    _screenshot(browser, "serve-hostile.png", tmp_path)

    browser.get(f"{served.url}/documents/{served.ids['evil']}")
    assert EVIL in browser.find_element(By.TAG_NAME, "body").text
    assert browser.execute_script("return typeof window.__pwned") == "undefined"


@pytest.mark.browser
def test_browse_page_shows_title_first_and_best_match_first(served: Served, browser: Any, tmp_path: Path) -> None:
    """The page people read (docs/archive.png: SUPPLYWATCH_SCREENSHOTS=docs pytest tests/test_serve.py -k browse_page)."""
    from selenium.webdriver.common.by import By

    browser.get(served.url)
    browser.find_element(By.LINK_TEXT, "Documents: search and read").click()
    _arrived(browser, "/browse")
    box = browser.find_element(By.CSS_SELECTOR, "form input[name=search]")
    box.send_keys("signed")
    box.submit()
    _arrived(browser, "search=signed", "table.rows-and-columns thead th")
    heads = [th.text.strip() for th in browser.find_elements(By.CSS_SELECTOR, "table.rows-and-columns thead th")]
    assert heads == BROWSE_COLUMNS
    rows = browser.find_elements(By.CSS_SELECTOR, "table.rows-and-columns tbody tr")
    assert [r.find_element(By.CSS_SELECTOR, "td").text for r in rows] == [
        "Acme code-signing certificate stolen, malware signed with it", "Acme revokes its stolen signing certificate"]
    assert "supply_chain_cert_compromise 0.95, malware 0.71" in rows[0].text and "[signing]" in rows[0].text
    assert "feed summary only" in rows[1].text and "feed summary only" not in rows[0].text
    assert "select" not in browser.find_element(By.TAG_NAME, "body").text.lower().split("documents: search")[0]
    _screenshot(browser, "archive.png", tmp_path)


@pytest.mark.browser
def test_canned_query_pages_render(served: Served, browser: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    browser.get(served.url)
    text = browser.find_element(By.TAG_NAME, "body").text
    for title in ("Supply-chain certificate compromises, last 30 days", "Stories for a supplier", "Documents by month"):
        assert title in text
    browser.find_element(By.LINK_TEXT, "Supply-chain certificate compromises, last 30 days").click()
    _arrived(browser, "/cert_compromises_30_days", "table.rows-and-columns tbody tr")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Supply-chain certificate compromises, last 30 days"
    rows = browser.find_elements(By.CSS_SELECTOR, "table.rows-and-columns tbody tr")
    assert len(rows) == 2 and "Attackers stole the code-signing certificate of Acme." in rows[1].text
    _screenshot(browser, "serve-canned.png", tmp_path)

    browser.get(f"{served.url}/stories_for_supplier?supplier=Acme+Corp")
    rows = browser.find_elements(By.CSS_SELECTOR, "table.rows-and-columns tbody tr")
    assert len(rows) == 1 and "Acme code-signing certificate stolen" in rows[0].text
    assert browser.execute_script("return typeof window.__pwned") == "undefined"


# -- last: stop it, as Ctrl-C does ----------------------------------------------------------------


def test_ctrl_c_stops_cleanly_and_the_file_is_unchanged(served: Served) -> None:
    time.sleep(0.2)
    code, out, err = served.stop()
    assert code == 130, (out, err)
    # Datasette logs each failed statement (the refused writes above) on a line of its own; nothing else.
    assert err.strip().splitlines()[-1] == "Interrupted.", err
    assert "Traceback" not in err and all(line.startswith("ERROR: conn=") for line in err.strip().splitlines()[:-1]), err
    assert _fingerprint(served.db) == served.before  # type: ignore[attr-defined]
