"""Supplier matching speed: a 5,000-supplier register against news documents.

Titles come from ../shared/corpus/news-metadata/cybersecurity-news-en-title-3000.csv; bodies are
generated (300-700 words of plausible security-news prose naming a few suppliers, their products,
and links, some on supplier domains). The register is real vendor names plus generated company
names, each with aliases, a domain and products.

Prints: the automaton's build time, documents/second for matching alone (``Matcher.match``) and
end to end through the store (``Pipeline.match_suppliers``: read, build, match, save in SQLite), each as
wall-clock and per CPU-second (steadier on a shared machine), and the machine.

    python benchmarks/supplier_match_bench.py                # 5,000 suppliers, 3,000 documents
    python benchmarks/supplier_match_bench.py --suppliers 20000 --documents 6000
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from supplywatch.classifiers.suppliers import Matcher  # noqa: E402
from supplywatch.pipeline import make_pipeline  # noqa: E402
from supplywatch.store import Document, FetchOutcome, Store  # noqa: E402

TITLES = ROOT.parent / "shared" / "corpus" / "news-metadata" / "cybersecurity-news-en-title-3000.csv"

REAL = """Microsoft Google Amazon Oracle Cisco SolarWinds Okta Mimecast Fortinet Palo Alto Networks Citrix VMware Ivanti
Atlassian Salesforce SAP Adobe Zoom Slack GitHub GitLab JetBrains Kaseya Accellion MOVEit Progress Software Cloudflare
Akamai CrowdStrike SentinelOne Sophos Trend Micro McAfee Broadcom Juniper Networks F5 Check Point Zscaler Twilio
Snowflake MongoDB Datadog HashiCorp Red Hat Canonical Apple Samsung Dell HP Lenovo Intel AMD Nvidia Qualcomm
Siemens Schneider Electric Rockwell Automation ABB Honeywell Ubiquiti Netgear TP-Link Zyxel SonicWall Barracuda
WatchGuard Veeam Commvault Rubrik Cohesity LastPass 1Password Bitwarden Dropbox Box DocuSign ServiceNow Workday
Infosys Wipro Accenture Capgemini Cognizant Tata Consultancy Services Kronos Blackbaud CircleCI Codecov Sisense
Rapid7 Tenable Qualys Splunk Elastic Confluent Databricks Okta Auth0 Ping Identity CyberArk BeyondTrust Thales
Entrust DigiCert Sectigo GoDaddy Namecheap Equinix Rackspace OVHcloud Hetzner DigitalOcean Linode Fastly""".split("\n")
REAL_NAMES = ["Palo Alto Networks", "Trend Micro", "Juniper Networks", "Check Point", "Red Hat", "Schneider Electric",
              "Rockwell Automation", "Tata Consultancy Services", "Progress Software", "Ping Identity"]

PREFIX = ("North Blue Iron Silver Cedar Granite Quantum Vertex Harbor Summit Pioneer Crescent Falcon Kestrel Osprey "
          "Meridian Atlas Beacon Cobalt Nimbus Orion Sterling Willow Aspen Lumen Polar Ridge Stone Bright Clear "
          "Swift True Prime Apex Nova Terra Aero Hydra Ember Frost Delta Sigma Omega Zen Echo Pulse Vector Helix").split()
MIDDLE = ("wind peak gate field bridge point line wave forge stack core path port shield trust cloud byte net data "
          "logic soft ware mark link grid sync flow vault cast mail scan").split()
SUFFIX = ["Systems", "Software", "Technologies", "Labs", "Networks", "Security", "Solutions", "Cloud", "Data",
          "Group", "Inc", "Analytics", "Logistics", "Payments", "Health", "Industries"]
PRODUCT = ["Gateway", "Connect", "Vault", "Sentinel", "Manager", "Portal", "Agent", "Hub", "Studio", "Edge", "Guard",
           "Console", "Sync", "Relay", "Archive"]

FILLER = [
    "The company said it was investigating the incident with the help of an outside forensics firm.",
    "Researchers said the attackers had access to the environment for several weeks before they were detected.",
    "It is not yet known how many customers were affected by the intrusion.",
    "A spokesperson declined to comment on whether any data had been taken.",
    "The vulnerability was reported through the vendor's bug bounty programme last month.",
    "Security teams are advised to review their logs for signs of compromise.",
    "The campaign has been attributed to a financially motivated group active since at least 2019.",
    "Patches are available for all supported versions, the advisory said.",
    "Analysts expect further disclosures as the investigation continues.",
    "The incident is the latest in a series of attacks on software suppliers.",
]
MENTION = [
    "{s} said its {p} product was not affected.",
    "Customers of {s} were told to rotate the credentials used by {p}.",
    "{s}'s security team published indicators of compromise at {u}.",
    "The flaw also affects {p}, according to {s}.",
    "A customer of {s} first noticed the suspicious activity.",
    "Details are in the advisory at {u}.",
]


def make_register(n: int, rng: random.Random) -> list[dict]:
    names = list(dict.fromkeys([w for line in REAL for w in line.split() if w not in
                                {"Alto", "Networks", "Micro", "Point", "Hat", "Electric", "Automation", "Consultancy",
                                 "Services", "Identity", "Software", "Palo", "Trend", "Juniper", "Check", "Red",
                                 "Schneider", "Rockwell", "Tata", "Progress", "Ping"}] + REAL_NAMES))
    seen = {x.casefold() for x in names}
    while len(names) < n:
        name = f"{rng.choice(PREFIX)}{rng.choice(MIDDLE)} {rng.choice(SUFFIX)}"
        if name.casefold() not in seen:
            seen.add(name.casefold())
            names.append(name)
    out = []
    for i, name in enumerate(names[:n], start=1):
        stem = name.split()[0]
        slug = "".join(c for c in name.lower() if c.isalnum())
        out.append({"id": i, "name": name, "aliases": [stem] if stem != name and len(stem) > 5 and rng.random() < 0.3
                    else [], "domains": [f"{slug}.example"],
                    "products": [f"{stem} {rng.choice(PRODUCT)}"] if rng.random() < 0.7 else [],
                    "tier": str(rng.randint(1, 3)), "owner": ""})
    return out


def make_documents(n: int, register: list[dict], rng: random.Random) -> list[dict]:
    with TITLES.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    docs = []
    for i in range(n):
        row = rows[i % len(rows)]
        sentences = []
        for _ in range(rng.randint(15, 35)):
            if rng.random() < 0.15:
                s = rng.choice(register)
                p = (s["products"] or [s["name"]])[0]
                sentences.append(rng.choice(MENTION).format(s=s["name"], p=p, u=f"https://{s['domains'][0]}/advisory/{i}"))
            else:
                sentences.append(rng.choice(FILLER))
        text = "\n\n".join(" ".join(sentences[j:j + 4]) for j in range(0, len(sentences), 4))
        docs.append({"id": i + 1, "title": row["title"], "text": text, "summary": row["description"],
                     "url": f"{row['article_link']}#{i}", "canonical_url": f"{row['article_link']}#{i}"})
    return docs


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{cpu}, {cores} cores available, Python {platform.python_version()} ({platform.system()})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--suppliers", type=int, default=5000)
    parser.add_argument("--documents", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    register = make_register(args.suppliers, rng)
    docs = make_documents(args.documents, register, rng)
    chars = sum(len(d["title"]) + len(d["text"]) for d in docs) / len(docs)
    print(f"machine: {machine()}")
    print(f"register: {len(register)} suppliers, {sum(1 + len(s['aliases']) + len(s['products']) for s in register)} "
          f"terms, {len(register)} domains; documents: {len(docs)}, {chars:.0f} characters on average")

    t0 = time.perf_counter()
    matcher = Matcher(register)
    build = time.perf_counter() - t0
    print(f"automaton build: {build * 1000:.0f} ms")

    best = best_cpu = 0.0
    for _ in range(3):
        t0, c0 = time.perf_counter(), time.process_time()
        found = sum(len(matcher.match(d)) for d in docs)
        best = max(best, len(docs) / (time.perf_counter() - t0))
        best_cpu = max(best_cpu, len(docs) / (time.process_time() - c0))
    print(f"matching alone: {best:,.0f} documents/s wall, {best_cpu:,.0f} per CPU-second (best of 3; {found} matches, "
          f"{found / len(docs):.1f} per document)")

    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "bench.db")
        now = "2026-01-01T00:00:00Z"
        with Store.open(db) as store:
            store.sync_sources([{"name": "bench", "kind": "feed", "url": "https://bench.example/rss"}])
            store.save_fetch([Document(source="bench", guid=str(d["id"]), title=d["title"], text=d["text"],
                                       summary=d["summary"], url=d["url"], canonical_url=d["canonical_url"],
                                       published=now) for d in docs], FetchOutcome("bench", "ok", now, now))
            store.import_suppliers(register)
        from supplywatch.classifiers import suppliers as matching

        matching._CACHE.clear()  # count the automaton's build, as a first run after an import does
        t0, c0 = time.perf_counter(), time.process_time()
        with make_pipeline(lambda: None, db, create=False) as sw:
            counts = sw.match_suppliers().as_dict()
        e2e, cpu = time.perf_counter() - t0, time.process_time() - c0
        print(f"end to end (read register, build, read documents, match, save in SQLite): "
              f"{counts['documents'] / e2e:,.0f} documents/s wall, {counts['documents'] / cpu:,.0f} per CPU-second "
              f"({counts['documents']} documents, {counts['matches']} matches, {e2e:.2f} s)")


if __name__ == "__main__":
    main()
