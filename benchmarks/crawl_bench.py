"""Crawl benchmark: supplywatch's real crawl of a large local news site, beside a naive loop and the CPU limit.

The site is built from ../shared/corpus/news-metadata/cybersecurity-news-en-title-3000.csv (3,000 real
titles, outlets and dates): one RSS 2.0 feed per top outlet, the other outlets' rows in "other-NN"
feeds of at most 250 entries, and one article page per row with a deterministic generated body of
400-800 words inside realistic boilerplate (navigation, cookie banner, share bar, newsletter box,
related links, comments, footer). A real HTTP server (supplywatch.localsite.LocalServer) serves it
on 127.0.0.1 from this (orchestrating) process.

Three measurements (four when asked), each in a fresh Python process so their memory figures do not mix:

* supplywatch: ``Pipeline.crawl()`` on a fresh database - Scrapy in a forked child,
  trafilatura in ``extract_workers`` processes, one SQLite transaction per source.
* naive: a sequential loop of urllib + feedparser + trafilatura.extract + sqlite3 over the same
  site; pages for a sample of the entries (default 300), extrapolated (or everything with --full).
* scrapy (only when asked: --only ...,scrapy): a stock Scrapy spider that fetches every feed and page with
  the same concurrency and does nothing with them: what Scrapy itself costs a request on this machine.
* limit: the per-article CPU cost of feed parse share + crawlers.workers.extract_page + the
  Store.save_fetch insert, measured in-process without HTTP over the same sample, times the
  article count, spread over os.cpu_count() cores.

Each stage reports its wall time, peak memory (ru_maxrss, and the whole process tree's RSS/PSS sampled
from /proc), CPU seconds per process role, the CPU other processes used meanwhile, and a speed probe:
on a shared machine those say how far to trust the figures. --repeat N runs rounds of all stages and
keeps each stage's fastest run; --wait-quiet waits for other processes to leave the CPUs first.

Usage:  .venv/bin/python benchmarks/crawl_bench.py [--articles N] [--sample N] [--full] [--repeat N]
        [--profile [FILE]] [--scrapy-setting KEY=VALUE ...] [--latency LO,HI] [--json FILE] [--check]
Exit codes: 0 ran (aims met or not, unless --check), 1 --check and an aim missed or a stage failed,
2 the corpus under ../shared is missing.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import html
import json
import os
import platform
import random
import re
import resource
import shlex
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape as xml_escape

ROOT = Path(__file__).resolve().parents[1]
CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "news-metadata" / "cybersecurity-news-en-title-3000.csv"
TOP_OUTLETS = 9  # outlets with a feed of their own; the rest go into "other-NN" feeds
OTHER_FEED_SIZE = 250
AIM_VS_NAIVE = 5.0
AIM_VS_LIMIT = 0.80
RESULT_MARK = "BENCH-RESULT "

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


# ---------------------------------------------------------------------------------------------
# The site
# ---------------------------------------------------------------------------------------------

VENDORS = ["Microsoft", "Cisco", "Fortinet", "Ivanti", "Citrix", "Palo Alto Networks", "VMware", "Atlassian",
           "Oracle", "SAP", "Juniper", "SonicWall", "Zyxel", "Apple", "Google", "Mozilla", "Adobe",
           "Progress Software", "SolarWinds", "Veeam", "F5", "Check Point", "Okta", "Cloudflare"]
PRODUCTS = ["Exchange Server", "FortiOS", "Connect Secure", "NetScaler ADC", "PAN-OS", "vCenter Server",
            "Confluence Data Center", "WebLogic Server", "NetWeaver", "Junos OS", "SMA 100 appliances",
            "Chrome", "Firefox", "Acrobat Reader", "MOVEit Transfer", "Orion", "Backup & Replication",
            "BIG-IP", "Quantum Gateway", "Workforce Identity", "SharePoint", "Outlook", "iOS", "Windows"]
ACTORS = ["LockBit", "Scattered Spider", "Lazarus Group", "APT29", "Volt Typhoon", "Cl0p", "BlackCat",
          "Akira", "Play", "Black Basta", "Salt Typhoon", "FIN7", "Sandworm", "Kimsuky", "RansomHub"]
SECTORS = ["healthcare", "financial services", "manufacturing", "retail", "education", "local government",
           "telecommunications", "energy", "logistics", "legal services", "hospitality", "insurance"]
COUNTRIES = ["the United States", "the United Kingdom", "Germany", "South Korea", "Japan", "Australia",
             "India", "Canada", "France", "Brazil", "the Netherlands", "Singapore"]
AGENCIES = ["CISA", "the NCSC", "the FBI", "ENISA", "the BSI", "CERT-In", "the ACSC", "KISA"]
FIRST = ["Alex", "Maria", "Sam", "Priya", "Jonas", "Chen", "Fatima", "Tom", "Elena", "Kwame", "Yuki", "Daniel",
         "Aisha", "Lucas", "Hannah", "Omar", "Sofia", "Ben", "Mei", "Ravi"]
LAST = ["Turner", "Okafor", "Schmidt", "Nakamura", "Kowalski", "Fernandes", "Lindqvist", "Reyes", "Patel",
        "Hughes", "Moreau", "Kim", "Novak", "Adeyemi", "Rossi", "Walsh", "Haddad", "Larsen", "Singh", "Park"]
SECTIONS = ["News", "Security", "Business", "Technology", "Privacy", "Cloud", "Policy", "Opinion", "Reviews",
            "Podcasts", "Events", "Newsletters"]

SENTENCES = [
    "Researchers at {vendor} said the flaw, tracked as {cve}, affects {product} and carries a CVSS score of {cvss}.",
    "{agency} added {cve} to its catalogue of known exploited vulnerabilities and gave agencies {n} days to patch.",
    "The attackers are believed to be linked to {actor}, a group that has targeted {sector} organisations since {year}.",
    "According to the company, roughly {k},000 customers in {country} may have had personal data exposed.",
    "Security teams were urged to apply the update immediately, or to disable the affected component until they can.",
    "The intrusion was detected on {weekday}, when staff noticed unusual outbound traffic from a file server.",
    "{vendor} said it had found no evidence that the vulnerability was exploited before the patch was released.",
    "Analysts noted that exploitation attempts began within {n} hours of the proof-of-concept code appearing online.",
    "The ransom note demanded payment in cryptocurrency and threatened to publish {k} gigabytes of stolen files.",
    "Incident responders recommend rotating credentials, reviewing VPN logs and checking for unfamiliar scheduled tasks.",
    "In a statement, a spokesperson said the company had engaged external forensic specialists and informed regulators.",
    "The campaign relied on phishing emails that impersonated {vendor} support staff and delivered a loader by link.",
    "Exposure scans suggest that more than {k},000 internet-facing {product} instances remained unpatched last week.",
    "{agency} published indicators of compromise and detection rules for defenders in {sector}.",
    "The breach is the latest in a string of attacks on suppliers to the {sector} sector in {country}.",
    "Affected versions include releases prior to {major}.{minor}.{patch}, which fixes the issue along with {n} other bugs.",
    "Threat intelligence firms said {actor} had shifted from encrypting systems to pure data-theft extortion.",
    "The vulnerability allows an unauthenticated attacker to execute arbitrary code by sending a crafted request.",
    "Customers using managed versions of {product} were protected automatically, the company said.",
    "Lawmakers in {country} have called for mandatory reporting of such incidents within {n} hours.",
    "The stolen data reportedly includes names, email addresses, phone numbers and partial payment details.",
    "Some services were restored after {n} days, but several back-office systems remained offline.",
    "Experts warned that the same technique could be used against other products built on the same library.",
    "The group claimed responsibility on its leak site and posted samples of what it said were internal documents.",
    "{vendor} has released mitigations for customers who cannot upgrade, including a configuration change.",
    "The incident is being investigated jointly with {agency} and law enforcement partners in {country}.",
    "A second flaw, {cve}, could let a local user escalate privileges to administrator on affected systems.",
    "Insurers say claims linked to attacks on {sector} firms rose by {n} percent compared with last year.",
    "The researchers disclosed the issue to {vendor} in {month}, and a fix shipped {n} weeks later.",
    "Defenders should prioritise systems exposed to the internet and those holding authentication secrets.",
    "The malware communicates with its command-and-control servers over encrypted DNS to evade monitoring.",
    "Officials said there was no indication that operational technology or safety systems had been affected.",
    "The company's shares fell {n} percent in early trading after the disclosure.",
    "Investigators believe initial access was obtained through stolen credentials for a contractor's account.",
    "It is the {ordinal} major security incident disclosed by a {sector} company in {country} this quarter.",
    "Security vendor telemetry shows the botnet peaked at around {k},000 requests per second during the attack.",
]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December"]
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
ORDINALS = ["second", "third", "fourth", "fifth", "sixth"]
SUBHEADS = ["What happened", "Who is affected", "What to do now", "Background", "The response",
            "How the attack worked", "What experts say", "Timeline"]


def slugify(text: str, limit: int = 40) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:limit].strip("-")
    return slug or "outlet"


def pub_datetime(value: str) -> datetime:
    try:
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    except ValueError:
        return datetime(2026, 1, 1, tzinfo=UTC)


def _fill(template: str, rng: random.Random) -> str:
    return template.format(
        vendor=rng.choice(VENDORS), product=rng.choice(PRODUCTS), actor=rng.choice(ACTORS),
        sector=rng.choice(SECTORS), country=rng.choice(COUNTRIES), agency=rng.choice(AGENCIES),
        cve=f"CVE-{rng.choice([2024, 2025, 2026])}-{rng.randint(1000, 59999)}", cvss=f"{rng.uniform(5, 10):.1f}",
        n=rng.randint(2, 45), k=rng.randint(2, 900), year=rng.randint(2016, 2024), weekday=rng.choice(WEEKDAYS),
        month=rng.choice(MONTHS), ordinal=rng.choice(ORDINALS), major=rng.randint(1, 17), minor=rng.randint(0, 9),
        patch=rng.randint(0, 30),
    )


def _case_number(sentence: str, rng: random.Random) -> str:
    """The sentence with a number no other page has before its full stop ("(case N)": "ref." would end it)."""
    return f"{sentence[:-1]} (case {rng.randint(10**7, 10**8 - 1)})."


# Sentences that name a signing artefact (classifiers.guard.names_artefact) without stating a compromise: what makes
# a real article cost classify all its sentences (load_rows(artefact_share=)).
ARTEFACT_SENTENCES = [
    "Administrators were advised to check which code-signing certificates their build servers still trust.",
    "The vendor said its signing keys are kept in a hardware security module and were not affected.",
    "Researchers noted that the loader carried a valid digital signature from a certificate issued last year.",
    "The update mechanism verifies the signing certificate before any package is installed.",
]


def article_body(row: dict[str, str], rng: random.Random) -> list[tuple[str, str]]:
    """(tag, text) blocks of a 400-800 word article built from the row and the vocabulary."""
    title, desc = row["title"].strip(), row["description"].strip()
    target = rng.randint(400, 800)
    blocks: list[tuple[str, str]] = []
    lead = f"{title}. {desc}" if desc and desc != title else f"{title}."
    blocks.append(("p", lead))
    words = len(lead.split())
    keyword = max(re.findall(r"[A-Za-z][A-Za-z-]{3,}", title) or ["security"], key=len)
    subheads = rng.sample(SUBHEADS, k=len(SUBHEADS))
    paragraph_no = 0
    while words < target:
        sentences = [_fill(rng.choice(SENTENCES), rng) for _ in range(rng.randint(3, 6))]
        if rng.random() < 0.3:
            sentences.insert(rng.randint(0, len(sentences)), f"The report on {keyword.lower()} drew wide attention "
                             f"among {rng.choice(SECTORS)} security teams.")
        if row.get("artefact") and paragraph_no == 1:  # one artefact sentence in the second paragraph
            sentences.insert(1, rng.choice(ARTEFACT_SENTENCES))
        if row.get("distinct"):  # a number no other page has: no sentence repeats (load_rows)
            sentences = [_case_number(s, rng) for s in sentences]
        text = " ".join(sentences)
        paragraph_no += 1
        if paragraph_no % 3 == 0 and subheads:
            blocks.append(("h2", subheads.pop()))
        if paragraph_no == 4:
            quote = _fill("\u201cWe are working around the clock with {agency} to restore services,\u201d a "
                          "spokesperson for the company said.", rng)
            if row.get("distinct"):
                quote = _case_number(quote, rng)
            blocks.append(("blockquote", quote))
        blocks.append(("p", text))
        words += len(text.split())
    return blocks


def article_page(row: dict[str, str], slug: str, outlet: str, related: list[tuple[str, str]]) -> str:
    rng = random.Random(row["id"])
    e = html.escape
    title, desc = row["title"].strip(), row["description"].strip()
    when = pub_datetime(row["pub_date"])
    iso = when.strftime("%Y-%m-%dT%H:%M:%SZ")
    author = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
    url = f"{{{{BASE}}}}/{slug}/{row['id']}.html"
    nav = "".join(f'<li><a href="/{s.lower()}/">{s}</a></li>' for s in SECTIONS)
    body_parts = []
    for i, (tag, text) in enumerate(article_body(row, rng)):
        body_parts.append(f"<{tag}>{e(text)}</{tag}>")
        if i == 3:
            body_parts.append(
                '<aside class="newsletter-signup"><h4>Get the security briefing</h4><p>The day\'s top cyber '
                'stories, in your inbox every weekday morning.</p><form action="/subscribe" method="post">'
                '<input type="email" name="email" placeholder="Your email"><button>Sign up</button></form></aside>')
    related_html = "".join(f'<li><a href="/{s}">{e(t)}</a></li>' for t, s in related)
    comments = []
    for _ in range(rng.randint(3, 6)):
        who = f"{rng.choice(FIRST).lower()}{rng.randint(1, 999)}"
        comments.append(
            f'<li class="comment"><div class="comment-author">{who}</div><time>{rng.randint(1, 23)} hours ago</time>'
            f'<p>{e(_fill(rng.choice(SENTENCES), rng))} Not surprising at all, honestly.</p>'
            '<div class="comment-actions"><a href="#">Reply</a> <a href="#">Like</a> <a href="#">Report</a></div></li>')
    tags = "".join(f'<a href="/tag/{slugify(t)}/">{e(t)}</a> ' for t in rng.sample(SECTORS + ACTORS, k=4))
    ld = json.dumps({"@context": "https://schema.org", "@type": "NewsArticle", "headline": title,
                     "datePublished": iso, "author": {"@type": "Person", "name": author},
                     "publisher": {"@type": "Organization", "name": outlet}})
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{e(title)} | {e(outlet)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="description" content="{e(desc[:300])}">
<meta name="author" content="{e(author)}">
<meta property="og:title" content="{e(title)}">
<meta property="og:type" content="article">
<meta property="og:site_name" content="{e(outlet)}">
<meta property="og:url" content="{url}">
<meta property="article:published_time" content="{iso}">
<link rel="canonical" href="{url}">
<link rel="stylesheet" href="/static/site.css">
<script type="application/ld+json">{ld}</script>
<script>window.dataLayer=window.dataLayer||[];function gtag(){{dataLayer.push(arguments);}}gtag('js',new Date());</script>
</head>
<body class="article-page">
<div class="cookie-banner" role="dialog"><p>We use cookies to personalise content and ads and to analyse our traffic.
<a href="/privacy/">Privacy policy</a></p><button>Accept all</button><button>Manage settings</button></div>
<header class="site-header">
<div class="logo"><a href="/">{e(outlet)}</a></div>
<nav class="main-nav" aria-label="Sections"><ul>{nav}</ul></nav>
<form class="search" action="/search"><input type="search" name="q" placeholder="Search"><button>Go</button></form>
<div class="account"><a href="/login/">Sign in</a> <a href="/subscribe/">Subscribe</a></div>
</header>
<div class="ad-slot leaderboard">Advertisement</div>
<main id="content">
<div class="breadcrumbs"><a href="/">Home</a> &rsaquo; <a href="/security/">Security</a>
&rsaquo; <a href="/security/news/">News</a></div>
<article class="post">
<header class="post-header">
<h1 class="headline">{e(title)}</h1>
<p class="standfirst">{e(desc[:240])}</p>
<div class="byline">By <a rel="author" href="/authors/{slugify(author)}/">{e(author)}</a>
<time datetime="{iso}">{when.strftime("%d %B %Y, %H:%M")} UTC</time></div>
<div class="share-bar">Share this article: <a href="https://twitter.com/intent/tweet?url={url}">X</a>
<a href="https://www.linkedin.com/sharing/share-offsite/?url={url}">LinkedIn</a>
<a href="https://www.facebook.com/sharer/sharer.php?u={url}">Facebook</a> <a href="mailto:?subject={e(title)}">Email</a>
<button class="copy-link">Copy link</button></div>
</header>
<div class="article-body">
{chr(10).join(body_parts)}
</div>
<div class="tags">Topics: {tags}</div>
<div class="author-box"><strong>{e(author)}</strong> covers cybersecurity for {e(outlet)}.
<a href="/authors/{slugify(author)}/">More from this author</a></div>
</article>
<aside class="related"><h3>Related stories</h3><ul>{related_html}</ul></aside>
<div class="ad-slot mpu">Advertisement</div>
<section class="comments" id="comments"><h3>{len(comments)} comments</h3><ul>{"".join(comments)}</ul>
<form class="comment-form"><textarea name="comment" placeholder="Join the discussion"></textarea><button>Post</button></form>
</section>
</main>
<footer class="site-footer">
<ul><li><a href="/about/">About us</a></li><li><a href="/contact/">Contact</a></li><li><a href="/advertise/">Advertise</a></li>
<li><a href="/privacy/">Privacy</a></li><li><a href="/terms/">Terms</a></li><li><a href="/rss/">RSS feeds</a></li></ul>
<p>&copy; 2026 {e(outlet)}. All rights reserved. Reproduction without permission is prohibited.</p>
</footer>
<script src="/static/app.js" defer></script>
</body>
</html>
"""


def feed_xml(name: str, title: str, items: list[tuple[dict[str, str], str]]) -> str:
    x = xml_escape
    parts = [f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom">
<channel>
<title>{x(title)}</title>
<link>{{{{BASE}}}}/</link>
<description>Cybersecurity news from {x(title)}</description>
<language>en</language>
<atom:link href="{{{{BASE}}}}/feeds/{name}.xml" rel="self" type="application/rss+xml"/>
"""]
    for row, slug in items:
        parts.append(
            f"<item><title>{x(row['title'].strip())}</title>"
            f"<link>{{{{BASE}}}}/{slug}/{row['id']}.html</link>"
            f'<guid isPermaLink="false">{x(row["id"])}</guid>'
            f"<pubDate>{format_datetime(pub_datetime(row['pub_date']), usegmt=True)}</pubDate>"
            f"<description>{x(row['description'].strip())}</description></item>\n")
    parts.append("</channel>\n</rss>\n")
    return "".join(parts)


COPY_SHIFT_DAYS = 200  # the corpus spans six months; each copy is another such half-year, further back


def load_rows(limit: int, *, distinct: bool = False, artefact_share: float = 0.0) -> list[dict[str, str]]:
    """The first ``limit`` rows of the corpus. Past its 3,000 rows, copies: copy k of a row has its own id (so
    its own URL and generated page text), the same title, and a publication date k x 200 days earlier, so
    no two copies of a story fall in one clustering window -- a site with years of archive.

    ``distinct``: no two documents share a sentence, as in a real year of news. Copy k's title and summary carry
    "(k)", and every generated sentence a reference number (:func:`article_body`). Without it the copies repeat
    their titles and summaries, and the ~60 sentence templates repeat across pages, so the embedding cache
    serves most of a large backfill's sentences from the second copy on (benchmarks/BACKFILL.md).

    ``artefact_share``: that share of the articles (chosen by a hash of the id: the same ones in every run) gets
    one sentence naming a signing artefact (:data:`ARTEFACT_SENTENCES`), as 12% of dev.jsonl's real articles name
    one; classify embeds such an article whole (classifiers.features.select_units). Default: none added."""
    with CORPUS.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    out = rows[:limit]
    copy = 1
    while len(out) < limit:
        for row in rows[:limit - len(out)]:
            when = pub_datetime(row["pub_date"]) - timedelta(days=COPY_SHIFT_DAYS * copy)
            out.append({**row, "id": f"{row['id']}-c{copy}", "pub_date": when.strftime("%Y-%m-%dT%H:%M:%S"),
                        "article_link": f"{row['article_link']}#c{copy}"})
            if distinct:
                out[-1].update(title=f"{row['title'].strip()} ({copy})",
                               description=f"{row['description'].strip()} ({copy})" if row["description"].strip() else "")
        copy += 1
    if distinct:
        for row in out:
            row["distinct"] = "1"
    for row in out:
        if artefact_share and int(hashlib.sha256(row["id"].encode()).hexdigest()[:8], 16) < artefact_share * 2**32:
            row["artefact"] = "1"
    return out


def build_site(rows: list[dict[str, str]], site: Path) -> list[dict[str, Any]]:
    """Write feeds, pages and robots.txt under ``site``; return the feeds (name, path, entries)."""
    counts = Counter(r["source_title"] for r in rows)
    top = [o for o, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_OUTLETS]]
    slugs: dict[str, str] = {}
    for outlet in sorted(counts):
        slug = slugify(outlet)
        while slug in slugs.values() or slug in ("feeds", "static"):
            slug += "-x"
        slugs[outlet] = slug
    groups: dict[str, tuple[str, list[dict[str, str]]]] = {slugs[o]: (o, []) for o in top}
    rest: list[dict[str, str]] = []
    for row in rows:
        if row["source_title"] in top:
            groups[slugs[row["source_title"]]][1].append(row)
        else:
            rest.append(row)
    for i in range(0, len(rest), OTHER_FEED_SIZE):
        groups[f"other-{i // OTHER_FEED_SIZE + 1:02d}"] = ("Other outlets", rest[i:i + OTHER_FEED_SIZE])
    (site / "feeds").mkdir(parents=True, exist_ok=True)
    (site / "robots.txt").write_text(
        "User-agent: *\nDisallow: /search\nDisallow: /login/\nDisallow: /subscribe\n\nSitemap: {{BASE}}/sitemap.xml\n")
    feeds = []
    for name, (title, members) in groups.items():
        members = sorted(members, key=lambda r: r["pub_date"], reverse=True)  # newest first, like real feeds
        items = [(r, slugs[r["source_title"]]) for r in members]
        (site / "feeds" / f"{name}.xml").write_text(feed_xml(name, title, items), "utf-8")
        for j, (row, slug) in enumerate(items):
            related = [(items[k][0]["title"].strip(), f"{items[k][1]}/{items[k][0]['id']}.html")
                       for k in range(j + 1, min(j + 7, len(items)))] or [(title, "")]
            page = site / slug / f"{row['id']}.html"
            page.parent.mkdir(exist_ok=True)
            page.write_text(article_page(row, slug, row["source_title"], related), "utf-8")
        feeds.append({"name": name, "path": f"/feeds/{name}.xml", "entries": len(items)})
    return feeds


def sample_positions(n: int, step: int) -> list[int]:
    """Entry positions of one feed taken into a sample: every ``step``-th."""
    return list(range(0, n, step))


# ---------------------------------------------------------------------------------------------
# Process measurement
# ---------------------------------------------------------------------------------------------

CLK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def _children(pid: int) -> list[int]:
    out = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as fh:
                out += [int(c) for c in fh.read().split()]
    except OSError:
        pass
    return out


class TreeSampler(threading.Thread):
    """Samples a process tree (root + descendants) from /proc: summed RSS and PSS peaks, per-depth CPU.

    ru_maxrss only gives the largest single process; forked children share copy-on-write pages with
    their parent, so the sum of RSS over-counts and the sum of PSS (proportional set size) is the
    honest footprint of the tree.
    """

    def __init__(self, root: int, interval: float = 0.2):
        super().__init__(daemon=True)
        self.root, self.interval = root, interval
        self.peak_rss = self.peak_pss = 0
        self.cpu: dict[int, tuple[int, float]] = {}  # pid -> (depth, cpu seconds last seen)
        self.pids_seen: set[int] = set()
        self.own_cpu = 0.0
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            self.sample()
            self._halt.wait(self.interval)
        self.own_cpu = time.thread_time()

    def sample(self) -> None:
        rss = pss = 0
        todo = [(self.root, 0)]
        while todo:
            pid, depth = todo.pop()
            todo += [(c, depth + 1) for c in _children(pid)]
            try:
                with open(f"/proc/{pid}/stat") as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
                cpu = (int(fields[11]) + int(fields[12])) / CLK  # utime, stime
                rss += int(fields[21]) * PAGE
                with open(f"/proc/{pid}/smaps_rollup") as fh:
                    for line in fh:
                        if line.startswith("Pss:"):
                            pss += int(line.split()[1]) * 1024
                            break
            except (OSError, IndexError, ValueError):
                continue
            self.cpu[pid] = (depth, cpu)
            self.pids_seen.add(pid)
        self.peak_rss, self.peak_pss = max(self.peak_rss, rss), max(self.peak_pss, pss)

    def stop(self) -> None:
        self._halt.set()
        self.join()

    def cpu_by_depth(self) -> dict[int, float]:
        out: dict[int, float] = {}
        for depth, cpu in self.cpu.values():
            out[depth] = out.get(depth, 0.0) + cpu
        return out


def system_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, from /proc/stat."""
    try:
        with open("/proc/stat") as fh:
            values = [int(v) for v in fh.readline().split()[1:]]
    except (OSError, ValueError):
        return 0.0, 0.0
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return (sum(values) - idle) / CLK, sum(values) / CLK


def wait_for_quiet(max_wait: float, threshold: float = 0.25) -> float:
    """Wait (up to ``max_wait`` s) until other processes use less than ``threshold`` cores; return their use."""
    deadline = time.monotonic() + max_wait
    while True:
        b0, _ = system_busy()
        time.sleep(1.0)
        b1, _ = system_busy()
        busy = b1 - b0
        if busy < threshold or time.monotonic() >= deadline:
            return busy
        print(f"  machine busy ({busy:.2f} cores used by other processes), waiting ...", file=sys.stderr, flush=True)
        time.sleep(4.0)


def speed_probe() -> float:
    """Milliseconds for a fixed pure-Python workload: shows the machine's speed drifting between stages
    (a virtual machine on a shared host can slow down with no other process visible inside it)."""
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        total = 0
        for i in range(400_000):
            total += i * i % 7
        best = min(best, time.perf_counter() - t0)
    return 1000 * best


def rusage() -> dict[str, float]:
    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"self_maxrss_mb": s.ru_maxrss / 1024, "children_maxrss_mb": c.ru_maxrss / 1024,
            "self_cpu_s": s.ru_utime + s.ru_stime, "children_cpu_s": c.ru_utime + c.ru_stime}


def emit(result: dict[str, Any]) -> None:
    result.update(rusage())
    print(RESULT_MARK + json.dumps(result), flush=True)


# ---------------------------------------------------------------------------------------------
# Stages (each runs in its own Python process)
# ---------------------------------------------------------------------------------------------


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return json.dumps(str(value))


def crawl_options(max_entries: int, extract_workers: int) -> dict[str, Any]:
    return {
        "private_allowlist": ["127.0.0.1"],
        # A local benchmark measures our own cost, not politeness towards a remote site.
        "autothrottle": False,
        "autothrottle_start_delay": 0.0,
        "download_delay": 0.0,
        "concurrent_requests": 16,
        "concurrent_per_host": 16,
        "extract_workers": extract_workers,
        "max_entries_per_source": max(200, max_entries),
        "timeout": 60.0,
    }


def stage_supplywatch(args: argparse.Namespace, feeds: list[dict[str, Any]]) -> None:
    from supplywatch import config as configuration
    from supplywatch.pipeline import make_pipeline
    from supplywatch.store import Store

    work = Path(args.work)
    cfg_path = work / "supplywatch.toml"
    lines = ["[crawl]"] + [f"{k} = {toml_value(v)}" for k, v in
                           crawl_options(max(f["entries"] for f in feeds), args.extract_workers).items()]
    for f in feeds:
        lines += ["", "[[sources]]", f"name = {toml_value(f['name'])}", 'kind = "feed"',
                  f"url = {toml_value(args.base + f['path'])}"]
    cfg_path.write_text("\n".join(lines) + "\n", "utf-8")
    cfg = configuration.load(cfg_path)
    db = str(work / "supplywatch.db")
    if args.profile:
        install_profiler(work / "crawl.prof")
    if args.scrapy_setting:
        override_scrapy_settings(args.scrapy_setting)
    t0 = time.perf_counter()
    with make_pipeline(cfg, db) as sw:
        reports = sw.crawl()
    wall = time.perf_counter() - t0
    with Store.open(db) as store:
        total = store.count_documents()
        page = store.db.execute("select count(*) from documents where text_source = 'page'").fetchone()[0]
        words = store.db.execute("select coalesce(sum(length(text) - length(replace(text, ' ', '')) + 1), 0) "
                                 "from documents where text_source = 'page'").fetchone()[0]
    bad = [r for r in reports if r.get("status") != "ok"]
    emit({"stage": "supplywatch", "seconds": wall, "articles": total, "page_text": page,
          "mean_words": words / page if page else 0, "sources": len(reports),
          "failed_pages": sum(r.get("failed_pages", 0) or 0 for r in reports),
          "bad_sources": [{k: r.get(k) for k in ("source", "status", "error")} for r in bad],
          "options": cfg.crawl | {"user_agent": "..."}})


def override_scrapy_settings(pairs: list[str]) -> None:
    """An experiment: extra Scrapy settings on top of crawlers.runner.scrapy_settings (KEY=VALUE, VALUE as JSON
    when it parses). Patched in this stage process only, before the crawl child is forked."""
    from supplywatch.crawlers import runner

    extra: dict[str, Any] = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        try:
            extra[key] = json.loads(value)
        except ValueError:
            extra[key] = value
    from supplywatch.crawlers import multi

    original, original_multi = runner.scrapy_settings, multi.one_crawler_settings

    def patched(options: dict[str, Any]) -> dict[str, Any]:
        return {**original(options), **extra}

    def patched_multi(base: dict[str, Any], options: dict[str, Any], sources: int) -> dict[str, Any]:
        return {**original_multi(base, options, sources), **extra}

    runner.scrapy_settings, multi.one_crawler_settings = patched, patched_multi


def install_profiler(path: Path) -> None:
    """cProfile the crawl child (the Scrapy reactor process) by wrapping crawlers.runner._crawl.

    The child is forked after this runs, so it inherits the wrapper; the extract workers are not
    profiled (their CPU time is reported per process by the sampler instead).
    """
    import cProfile

    from supplywatch.crawlers import runner

    original = runner._crawl

    def profiled(*a: Any, **kw: Any) -> Any:
        prof = cProfile.Profile()
        prof.enable()
        try:
            return original(*a, **kw)
        finally:
            prof.disable()
            prof.dump_stats(str(path))

    runner._crawl = profiled


def stage_naive(args: argparse.Namespace, feeds: list[dict[str, Any]]) -> None:
    import urllib.request

    import feedparser
    import trafilatura

    step = 1 if args.full else max(1, round(sum(f["entries"] for f in feeds) / args.sample))
    conn = sqlite3.connect(str(Path(args.work) / "naive.db"))
    conn.execute("create table articles (id integer primary key, guid text unique, url text, title text, "
                 "published text, text text)")
    feed_s = page_s = 0.0
    pages = entries_total = 0
    t_all = time.perf_counter()
    for f in feeds:
        t0 = time.perf_counter()
        with urllib.request.urlopen(args.base + f["path"], timeout=60) as resp:
            parsed = feedparser.parse(resp.read())
        entries = parsed.entries
        entries_total += len(entries)
        t1 = time.perf_counter()
        for i in sample_positions(len(entries), step):
            entry = entries[i]
            with urllib.request.urlopen(entry.link, timeout=60) as resp:
                page = resp.read().decode("utf-8", "replace")
            text = trafilatura.extract(page, url=entry.link)
            conn.execute("insert into articles (guid, url, title, published, text) values (?, ?, ?, ?, ?)",
                         (entry.get("id"), entry.link, entry.get("title"), entry.get("published"), text))
            pages += 1
        conn.commit()
        t2 = time.perf_counter()
        feed_s += t1 - t0
        page_s += t2 - t1
    wall = time.perf_counter() - t_all
    stored = conn.execute("select count(*) from articles where length(text) > 200").fetchone()[0]
    conn.close()
    est = feed_s + page_s * entries_total / pages if pages else wall
    emit({"stage": "naive", "measured_seconds": wall, "measured_pages": pages, "entries": entries_total,
          "feed_seconds": feed_s, "page_seconds": page_s, "seconds": est, "articles": entries_total,
          "stored_with_text": stored, "extrapolated": pages < entries_total})


def stage_scrapy(args: argparse.Namespace, feeds: list[dict[str, Any]]) -> None:
    """Scrapy's own floor: one stock spider fetches every feed and every article page with the crawl's
    concurrency and does nothing with them (links from the feed by a regex; no feedparser, no extraction, no
    store, none of our settings, middlewares or handlers). Its CPU is what Scrapy and Twisted cost per request
    on this machine, whatever a crawler built on them does."""
    import re

    import scrapy
    from scrapy.crawler import CrawlerProcess

    link = re.compile(rb"<link>([^<]+)</link>")
    fetched = {"feeds": 0, "pages": 0, "bytes": 0}

    class Floor(scrapy.Spider):
        name = "floor"

        async def start(self) -> Any:
            for f in feeds:
                yield scrapy.Request(args.base + f["path"], callback=self.feed)

        def feed(self, response: Any) -> Any:
            fetched["feeds"] += 1
            for url in link.findall(response.body)[1:]:  # the first <link> is the channel's
                yield scrapy.Request(url.decode(), callback=self.page)

        def page(self, response: Any) -> None:
            fetched["pages"] += 1
            fetched["bytes"] += len(response.body)

    options = crawl_options(max(f["entries"] for f in feeds), args.extract_workers)
    process = CrawlerProcess({"CONCURRENT_REQUESTS": options["concurrent_requests"],
                              "CONCURRENT_REQUESTS_PER_DOMAIN": options["concurrent_per_host"],
                              "ROBOTSTXT_OBEY": False, "LOG_ENABLED": False, "TELNETCONSOLE_ENABLED": False})
    t0, c0 = time.perf_counter(), time.process_time()
    process.crawl(Floor)
    process.start()
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    emit({"stage": "scrapy", "seconds": wall, "crawl_cpu_s": cpu, "articles": fetched["pages"],
          "feeds": fetched["feeds"], "mb": fetched["bytes"] / 2**20})


def stage_limit(args: argparse.Namespace, feeds: list[dict[str, Any]]) -> None:
    from supplywatch.crawlers.feeds import parse_feed
    from supplywatch.crawlers.urls import canonical_url
    from supplywatch.crawlers.workers import extract_page
    from supplywatch.store import Document, FetchOutcome, Store, utcnow

    site, base = Path(args.site), args.base.encode()
    now = utcnow()
    total = sum(f["entries"] for f in feeds)
    step = max(1, round(total / args.sample))

    def served(rel: str) -> bytes:  # the bytes the server sends: {{BASE}} replaced
        return (site / rel.lstrip("/")).read_bytes().replace(b"{{BASE}}", base)

    # Feed parse: every feed in full (cheap), its cost shared over the entries.
    parse_s = 0.0
    picked: list[tuple[str, Any]] = []
    for f in feeds:
        body = served(f["path"])
        t0 = time.perf_counter()
        result = parse_feed(body, args.base + f["path"], "application/xml; charset=utf-8", "utf-8", now=now,
                            cap=max(200, total))
        parse_s += time.perf_counter() - t0
        picked += [(f["name"], result.entries[i]) for i in sample_positions(len(result.entries), step)]
    bodies = [(name, entry, served(entry.link[len(args.base):])) for name, entry in picked]
    for _, entry, body in bodies[:5]:  # warm-up: trafilatura's first calls build caches
        extract_page(body, "utf-8", entry.link)
    # Extraction: decode + trafilatura, exactly what the extract workers run.
    docs: dict[str, list[Document]] = {}
    t0, c0 = time.perf_counter(), time.process_time()
    extracted = [(name, entry, extract_page(body, "utf-8", entry.link)[0]) for name, entry, body in bodies]
    extract_s, extract_cpu = time.perf_counter() - t0, time.process_time() - c0
    for name, entry, ex in extracted:
        docs.setdefault(name, []).append(Document(
            source=name, kind="article", title=entry.title, text=ex.text, summary=entry.summary, url=entry.link,
            canonical_url=canonical_url(ex.canonical_url or entry.link), guid=entry.guid,
            author=entry.author or ex.author, published=entry.published, text_source="page",
            entry_hash=entry.entry_hash, flags=list(entry.flags)))
    # Insert: Store.save_fetch per source, as the pipeline does (one transaction per source).
    db = Path(args.work) / "limit.db"
    with Store.open(db) as store:
        store.sync_sources([{"name": f["name"], "kind": "feed", "url": args.base + f["path"]} for f in feeds])
        t0 = time.perf_counter()
        for name, batch in docs.items():
            store.save_fetch(batch, FetchOutcome(name, "ok", now, utcnow(), http_status=200))
        insert_s = time.perf_counter() - t0
        # For reference: one document per transaction (commit each time).
        extra = [d for batch in docs.values() for d in batch][:50]
        for d in extra:
            d.canonical_url = (d.canonical_url or "") + "?single"
            d.guid = (d.guid or "") + "-single"
        t0 = time.perf_counter()
        for d in extra:
            store.save_fetch([d], FetchOutcome(d.source, "ok", now, utcnow(), http_status=200))
        single_s = (time.perf_counter() - t0) / max(1, len(extra))
    n = len(bodies)
    per_article = parse_s / total + extract_s / n + insert_s / n
    cores = os.cpu_count() or 1
    par_s = parallel_extraction(bodies, cores) if cores > 1 else extract_s
    limit_s = per_article * total / cores
    emit({"stage": "limit", "sampled": n, "articles": total, "cores": cores,
          "parse_ms": 1000 * parse_s / total, "extract_ms": 1000 * extract_s / n,
          "extract_cpu_ms": 1000 * extract_cpu / n, "insert_ms": 1000 * insert_s / n,
          "insert_single_txn_ms": 1000 * single_s, "per_article_ms": 1000 * per_article,
          "seconds": limit_s, "cpu_seconds": per_article * total,
          "mean_words": sum(len(e[2].text.split()) for e in extracted) / n,
          "parallel_speedup": extract_s / par_s if par_s else 0.0})


_PAR_BODIES: list[tuple[str, Any, bytes]] = []


def _par_extract(i: int) -> int:
    from supplywatch.crawlers.workers import extract_page

    _, entry, body = _PAR_BODIES[i]
    extract_page(body, "utf-8", entry.link)
    return i


def parallel_extraction(bodies: list[tuple[str, Any, bytes]], cores: int) -> float:
    """Seconds to extract the same sample in ``cores`` forked processes: how far the cores really scale
    (vCPUs that are hyperthreads, or a shared host, give less than ``cores`` times one)."""
    import multiprocessing

    global _PAR_BODIES  # noqa: PLW0603 - read by the forked workers
    _PAR_BODIES = bodies
    with multiprocessing.get_context("fork").Pool(cores) as pool:
        pool.map(_par_extract, [i % len(bodies) for i in range(2 * cores)], chunksize=1)  # warm-up
        t0 = time.perf_counter()
        pool.map(_par_extract, range(len(bodies)), chunksize=1)
        return time.perf_counter() - t0


STAGES = {"supplywatch": stage_supplywatch, "naive": stage_naive, "limit": stage_limit, "scrapy": stage_scrapy}


# ---------------------------------------------------------------------------------------------
# Orchestration
# ---------------------------------------------------------------------------------------------


def run_stage(name: str, args: argparse.Namespace, site: Path, work: Path, base: str, feeds_file: Path
              ) -> dict[str, Any]:
    stage_work = work / name
    stage_work.mkdir(parents=True)
    cmd = [sys.executable, str(Path(__file__).resolve()), "--_stage", name, "--_site", str(site), "--_work",
           str(stage_work), "--_base", base, "--_feeds", str(feeds_file), "--sample", str(args.sample),
           "--extract-workers", str(args.extract_workers)]
    if args.full:
        cmd.append("--full")
    if args.profile and name == "supplywatch":
        cmd.append("--profile")
    for pair in args.scrapy_setting or []:
        cmd += ["--scrapy-setting", pair]
    busy_before_start = wait_for_quiet(args.wait_quiet) if args.wait_quiet > 0 else None
    probe_before = speed_probe()
    print(f"  running {name} ...", flush=True, file=sys.stderr)
    before = resource.getrusage(resource.RUSAGE_SELF)
    sys_before, wall_before = system_busy(), time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, cwd=str(ROOT))
    sampler = TreeSampler(proc.pid)
    sampler.start()
    out, _ = proc.communicate()
    sampler.stop()
    after = resource.getrusage(resource.RUSAGE_SELF)
    sys_after, wall_after = system_busy(), time.perf_counter()
    result: dict[str, Any] = {"stage": name, "error": f"exit code {proc.returncode}"}
    for line in out.splitlines():
        if line.startswith(RESULT_MARK):
            result = json.loads(line[len(RESULT_MARK):])
        elif line.strip():
            print(f"  [{name}] {line}", file=sys.stderr)
    # The server runs on threads of this process; the sampler's own CPU is taken out.
    server_cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime) - sampler.own_cpu
    result.update(tree_peak_rss_mb=sampler.peak_rss / 2**20, tree_peak_pss_mb=sampler.peak_pss / 2**20,
                  cpu_by_depth=sampler.cpu_by_depth(), server_cpu_s=max(0.0, server_cpu),
                  processes=len(sampler.pids_seen))
    # Other processes on the machine during the stage: everything busy minus this run's own CPU.
    ours = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    ours += result.get("self_cpu_s", 0.0) + result.get("children_cpu_s", 0.0)
    span = wall_after - wall_before
    result.update(foreign_cores=max(0.0, (sys_after[0] - sys_before[0] - ours) / span) if span else 0.0,
                  busy_before_start=busy_before_start, loadavg=os.getloadavg()[0],
                  probe_ms=[round(probe_before, 1), round(speed_probe(), 1)])
    if args.profile and name == "supplywatch" and (stage_work / "crawl.prof").exists():
        shutil.copy(stage_work / "crawl.prof", Path(args.profile_out))
    return result


def machine_info() -> dict[str, str]:
    info = {"python": platform.python_version(), "platform": platform.platform()}
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
        m = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.M)
        info["cpu"] = m.group(1).strip() if m else platform.processor() or "unknown"
        mem = re.search(r"^MemTotal:\s*(\d+) kB", Path("/proc/meminfo").read_text(), re.M)
        info["ram"] = f"{int(mem.group(1)) / 2**20:.1f} GiB" if mem else "unknown"
    except OSError:
        info.setdefault("cpu", platform.processor() or "unknown")
        info.setdefault("ram", "unknown")
    info["cores"] = f"{os.cpu_count()} (os.cpu_count), {len(os.sched_getaffinity(0))} usable"
    from importlib.metadata import PackageNotFoundError, version

    libs = []
    for pkg in ("scrapy", "twisted", "trafilatura", "feedparser", "lxml", "sqlite-utils"):
        try:
            libs.append(f"{pkg} {version(pkg)}")
        except PackageNotFoundError:
            libs.append(f"{pkg} ?")
    info["libraries"] = ", ".join(libs) + f", SQLite {sqlite3.sqlite_version}"
    return info


def report(results: dict[str, dict[str, Any]], args: argparse.Namespace, feeds: list[dict[str, Any]],
           site_stats: dict[str, Any], command: str) -> tuple[str, bool]:
    sw, nv, lim = results.get("supplywatch", {}), results.get("naive", {}), results.get("limit", {})

    def rate(r: dict[str, Any]) -> float:
        return r["articles"] / r["seconds"] if r.get("seconds") else 0.0

    lines = []
    w = lines.append
    w(f"Site: {site_stats['articles']} articles in {len(feeds)} RSS feeds "
      f"({site_stats['pages_mb']:.1f} MB of pages, mean {site_stats['page_kb']:.1f} KB/page), "
      f"built in {site_stats['build_s']:.1f} s, served by supplywatch.localsite.LocalServer on 127.0.0.1")
    if args.latency:
        w(f"Latency: each response delayed {args.latency.replace(',', '-')} ms (uniform, seeded per path: "
          f"seed {args.latency_seed}), served by threads so delays overlap")
    if args.scrapy_setting:
        w(f"EXPERIMENT: Scrapy settings patched on top of supplywatch's: {', '.join(args.scrapy_setting)}")
    w("Note: autothrottle is off and concurrency is 16 per host: a local benchmark measures our own cost, "
      "not politeness towards a remote site.")
    w("")
    w(f"{'method':<34} {'articles':>8} {'seconds':>9} {'articles/s':>11} {'peak RSS MB':>24}")
    w("-" * 90)
    if "seconds" in sw:
        mem = f"parent {sw['self_maxrss_mb']:.0f} / child {sw['children_maxrss_mb']:.0f}"
        w(f"{'supplywatch crawl (Pipeline.crawl)':<34} {sw['articles']:>8} {sw['seconds']:>9.1f} {rate(sw):>11.1f} {mem:>24}")
    else:
        w(f"{'supplywatch crawl (Pipeline.crawl)':<34} " + (f"FAILED: {sw.get('error')}" if sw else "not run (--only)"))
    if "seconds" in nv:
        label = "naive sequential loop" + (" (extrap.)" if nv.get("extrapolated") else "")
        w(f"{label:<34} {nv['articles']:>8} {nv['seconds']:>9.1f} {rate(nv):>11.1f} {nv['self_maxrss_mb']:>24.0f}")
    else:
        w(f"{'naive sequential loop':<34} " + (f"FAILED: {nv.get('error')}" if nv else "not run (--only)"))
    if "seconds" in lim:
        label = f"CPU limit ({lim['cores']} cores, computed)"
        w(f"{label:<34} {lim['articles']:>8} {lim['seconds']:>9.1f} {rate(lim):>11.1f} {'-':>24}")
    else:
        w(f"{'CPU limit':<34} " + (f"FAILED: {lim.get('error')}" if lim else "not run (--only)"))
    if args.repeat > 1:
        w("Runs (seconds; the fastest is shown): " + ", ".join(f"{n} {r.get('all_seconds')}" for n, r in results.items()))
    w("")
    ok = all("seconds" in r for r in (sw, nv, lim))
    met = False
    if ok:
        vs_naive, vs_limit = rate(sw) / rate(nv), rate(sw) / rate(lim)
        met = vs_naive >= AIM_VS_NAIVE and vs_limit >= AIM_VS_LIMIT
        w(f"supplywatch / naive : {vs_naive:5.2f}x   (aim >= {AIM_VS_NAIVE:.0f}x: "
          f"{'met' if vs_naive >= AIM_VS_NAIVE else 'NOT met'})")
        w(f"supplywatch / limit : {100 * vs_limit:5.1f}%   (aim >= {100 * AIM_VS_LIMIT:.0f}%: "
          f"{'met' if vs_limit >= AIM_VS_LIMIT else 'NOT met'})")
        w("")
    if "seconds" in sw:
        d = sw["cpu_by_depth"]
        w("supplywatch details:")
        w(f"  documents stored {sw['articles']} ({sw['page_text']} with page text, mean {sw['mean_words']:.0f} words), "
          f"{sw['sources']} sources, failed pages {sw['failed_pages']}, sources not ok {len(sw['bad_sources'])}"
          + (f": {sw['bad_sources'][:3]}" if sw["bad_sources"] else ""))
        w(f"  peak RSS (ru_maxrss): parent {sw['self_maxrss_mb']:.0f} MB (RUSAGE_SELF: the process calling Pipeline.crawl); "
          f"children {sw['children_maxrss_mb']:.0f} MB (RUSAGE_CHILDREN: the largest single descendant reaped - "
          "the Scrapy child or one extract worker - not a sum)")
        w(f"  whole tree, sampled from /proc every 0.2 s: peak sum RSS {sw['tree_peak_rss_mb']:.0f} MB, "
          f"peak sum PSS {sw['tree_peak_pss_mb']:.0f} MB ({sw['processes']} processes; PSS shares copy-on-write pages)")
        w(f"  CPU seconds: parent {d.get('0', d.get(0, 0)):.1f}, Scrapy child (reactor) {d.get('1', d.get(1, 0)):.1f}, "
          f"extract workers {d.get('2', d.get(2, 0)):.1f} (sampled), HTTP server {sw['server_cpu_s']:.1f}; "
          f"wall {sw['seconds']:.1f} s x {os.cpu_count()} cores = {sw['seconds'] * (os.cpu_count() or 1):.1f} core-s")
    if "seconds" in nv:
        w("naive details:" + (
            f" pages fetched+extracted for {nv['measured_pages']} of {nv['entries']} entries in "
            f"{nv['page_seconds']:.1f} s, all {len(feeds)} feeds fetched+parsed in {nv['feed_seconds']:.1f} s; "
            f"seconds = feeds + pages x {nv['entries'] / nv['measured_pages']:.2f} (extrapolated; --full for all)"
            if nv.get("extrapolated") else f" all {nv['measured_pages']} pages in {nv['measured_seconds']:.1f} s")
          + f"; {nv['stored_with_text']} stored with > 200 chars of text; trafilatura.extract with its defaults")
    if "seconds" in lim:
        w(f"limit details: per article {lim['per_article_ms']:.2f} ms = feed parse share {lim['parse_ms']:.2f} "
          f"+ extract_page {lim['extract_ms']:.2f} (CPU {lim['extract_cpu_ms']:.2f}) + save_fetch insert {lim['insert_ms']:.2f} "
          f"(one transaction per source; {lim['insert_single_txn_ms']:.2f} ms with one per document), "
          f"over {lim['sampled']} sampled pages; x {lim['articles']} articles / {lim['cores']} cores "
          f"= {lim['seconds']:.1f} s; excludes HTTP serving and fetching")
        scaled = lim["parallel_speedup"] / (lim["per_article_ms"] / 1000)
        w(f"  scaling check: the same extractions in {lim['cores']} processes at once ran "
          f"{lim['parallel_speedup']:.2f}x as fast as in one (ideal {lim['cores']}x); "
          f"a limit at that speedup: {scaled:.1f} articles/s")
    floor = results.get("scrapy", {})
    if "seconds" in floor and floor.get("articles"):
        floor_ms = 1000 * floor["crawl_cpu_s"] / floor["articles"]
        w(f"Scrapy's own floor (a stock spider fetching the {floor['feeds']} feeds and {floor['articles']} pages "
          f"with the same concurrency, doing nothing with them): {floor['crawl_cpu_s']:.1f} CPU s = "
          f"{floor_ms:.2f} ms an article, {floor['seconds']:.1f} s wall")
        if "seconds" in sw and sw.get("articles"):
            d = sw["cpu_by_depth"]
            reactor_ms = 1000 * d.get("1", d.get(1, 0)) / sw["articles"]
            w(f"  supplywatch's Scrapy child (reactor): {reactor_ms:.2f} ms an article = "
              f"{reactor_ms / floor_ms:.2f}x the floor")
        if "seconds" in lim:
            ceiling = lim["per_article_ms"] / (lim["per_article_ms"] + floor_ms)
            w(f"  any Scrapy crawl's ceiling against the limit: limit / (limit + floor) = "
              f"{lim['per_article_ms']:.2f} / ({lim['per_article_ms']:.2f} + {floor_ms:.2f}) = {100 * ceiling:.1f}% "
              f"(every core busy all the time; aim {100 * AIM_VS_LIMIT:.0f}%)")
    probes = [f"{n} {r['probe_ms'][0]:.0f}/{r['probe_ms'][1]:.0f}" for n, r in results.items() if "probe_ms" in r]
    w("Speed probe before/after each stage shown (ms for a fixed pure-Python loop; drift = the host changing speed): "
      + ", ".join(probes))
    noisy = [f"{n} {r['foreign_cores']:.2f}" for n, r in results.items() if "foreign_cores" in r]
    w("Other processes' CPU during each stage (cores, from /proc/stat minus this run's own): " + ", ".join(noisy)
      + ("  <- WARNING: a busy machine; figures are low" if any(r.get("foreign_cores", 0) > 0.2
                                                           for r in results.values()) else ""))
    w("")
    info = machine_info()
    w(f"Machine: {info['cpu']}; {info['cores']}; RAM {info['ram']}; Python {info['python']}; {info['platform']}")
    w(f"Libraries: {info['libraries']}")
    w(f"Command: {command}")
    return "\n".join(lines), ok and met


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--articles", type=int, default=3000, help="rows of the corpus to build the site from (default 3000)")
    p.add_argument("--sample", type=int, default=300, help="pages sampled for the naive loop and the limit (default 300)")
    p.add_argument("--full", action="store_true", help="run the naive loop over every page instead of extrapolating")
    p.add_argument("--extract-workers", type=int, default=0, help="[crawl] extract_workers (default 0: one per core)")
    p.add_argument("--repeat", type=int, default=1, help="run each stage N times and keep the fastest (default 1)")
    p.add_argument("--scrapy-setting", action="append", metavar="KEY=VALUE",
                   help="experiment: add a Scrapy setting to supplywatch's own (repeatable; not for the reference figures)")
    p.add_argument("--only", default="supplywatch,naive,limit", help="comma-separated stages to run")
    p.add_argument("--profile", nargs="?", const="crawl.prof", default=None, metavar="FILE",
                   help="cProfile the Scrapy child into FILE (slows it: not for timing) and print the top functions")
    p.add_argument("--wait-quiet", type=float, default=120.0, metavar="S",
                   help="before each stage, wait up to S seconds for other processes to leave the CPUs "
                        "(default 120; 0: do not wait)")
    p.add_argument("--latency", default="", metavar="LO,HI",
                   help="delay each response by LO..HI ms (seeded per path, e.g. 50,300): a remote site's latency")
    p.add_argument("--latency-seed", type=int, default=13, help="seed of the per-path delays (default 13)")
    p.add_argument("--json", metavar="FILE", help="also write the raw results as JSON")
    p.add_argument("--keep", action="store_true", help="keep the temporary site and databases")
    p.add_argument("--check", action="store_true", help="exit 1 when an aim is missed")
    for hidden in ("--_stage", "--_site", "--_work", "--_base", "--_feeds"):
        p.add_argument(hidden, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    args.profile_out = args.profile
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args._stage:  # a stage process started by the orchestrator
        args.site, args.work, args.base = args._site, args._work, args._base
        args.profile = bool(args.profile)
        feeds = json.loads(Path(args._feeds).read_text())
        STAGES[args._stage](args, feeds)
        return 0

    if not CORPUS.exists():
        print(f"error: the corpus is missing: {CORPUS}\n"
              "This benchmark builds its site from ../shared/corpus/news-metadata/ beside the project "
              "(present only in the project's own workspace).", file=sys.stderr)
        return 2
    stages = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(stages) - set(STAGES)
    if unknown:
        print(f"error: unknown stage(s) {', '.join(sorted(unknown))} (known: {', '.join(STAGES)})", file=sys.stderr)
        return 2
    command = f"cd {shlex.quote(os.getcwd())} && {shlex.join([os.path.relpath(sys.executable)] + sys.argv)}"
    rows = load_rows(args.articles)
    tmp = Path(tempfile.mkdtemp(prefix="supplywatch-bench-"))
    try:
        site, work = tmp / "site", tmp / "work"
        work.mkdir()
        print(f"Building the site from {len(rows)} rows in {tmp} ...", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        feeds = build_site(rows, site)
        pages = [p for p in site.rglob("*.html")]
        size = sum(p.stat().st_size for p in pages)
        site_stats = {"articles": len(pages), "pages_mb": size / 2**20, "page_kb": size / len(pages) / 1024,
                      "build_s": time.perf_counter() - t0}
        feeds_file = work / "feeds.json"
        feeds_file.write_text(json.dumps(feeds))
        from supplywatch.localsite import Handler, LocalServer

        class BenchServer(LocalServer):
            request_queue_size = 128  # socketserver's default listen backlog of 5 is for toy servers

        delays = [float(x) / 1000 for x in args.latency.split(",")] if args.latency else None

        class SlowHandler(Handler):
            """Each response waits LO..HI ms first, the same for a path in every run (seeded by the path)."""

            def do_GET(self, head: bool = False) -> None:  # noqa: N802 - stdlib name
                if delays:
                    time.sleep(random.Random(f"{args.latency_seed}:{self.path}").uniform(*delays))
                super().do_GET(head)

        results: dict[str, dict[str, Any]] = {}
        with BenchServer(site) as server:
            server.RequestHandlerClass = SlowHandler
            runs_by_stage: dict[str, list[dict[str, Any]]] = {name: [] for name in stages}
            # Rounds of all stages (not all runs of one stage, then the next), so that a slow spell of
            # the machine does not land on one method only.
            for i in range(max(1, args.repeat)):
                for name in stages:
                    runs_by_stage[name].append(run_stage(name, args, site, work / f"run{i + 1}", server.base, feeds_file))
            for name, runs in runs_by_stage.items():
                # Several runs: keep the fastest (the least disturbed by anything else on the machine).
                timed = [r for r in runs if "seconds" in r]
                best = min(timed, key=lambda r: r["seconds"]) if timed else runs[-1]
                best["all_seconds"] = [round(r["seconds"], 2) for r in timed]
                results[name] = best
        text, met = report(results, args, feeds, site_stats, command)
        print()
        print(text)
        if args.profile and Path(args.profile).exists():
            import pstats

            print(f"\nProfile of the Scrapy child (cProfile, {args.profile}), top 30 by own time:")
            pstats.Stats(args.profile).sort_stats("tottime").print_stats(30)
        if args.json:
            Path(args.json).write_text(json.dumps({"results": results, "feeds": feeds, "site": site_stats,
                                                   "machine": machine_info(), "command": command}, indent=2))
    finally:
        if args.keep:
            print(f"kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    if args.check and not met:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
