"""Fourth parties at scale: a 50,000-relation register matched against 3,000 documents, with propagation.

The register and the documents are supplier_match_bench.py's (5,000 suppliers, corpus titles with
generated bodies); on top, 50,000 relations: each of a random registered supplier to a fourth party
(6,000 generated vendors, each with a product) or, one in five, to another registered supplier (so
two-hop paths and cycles exist), of the five kinds, 60% with a version in use. One document in eight
gets a title naming a fourth party's product as compromised, half of those with an affected version range.

Prints the graph's build time, documents/s for matching plus propagation alone (``Matcher.match`` and
``Graph.impacts``), and end to end through SQLite (``Pipeline.match_suppliers`` with the relations, then
the same store without them), each wall-clock and per CPU-second, the impacts found, and the machine.

    python benchmarks/relations_bench.py                       # 50,000 relations, 3,000 documents
    python benchmarks/relations_bench.py --relations 200000
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from supplier_match_bench import PREFIX, PRODUCT, SUFFIX, machine, make_documents, make_register  # noqa: E402

from supplywatch.classifiers.propagation import Graph  # noqa: E402
from supplywatch.classifiers.suppliers import Matcher  # noqa: E402
from supplywatch.pipeline import make_pipeline  # noqa: E402
from supplywatch.store import Document, FetchOutcome, Store  # noqa: E402

KINDS = ["uses"] * 50 + ["component_of"] * 30 + ["subprocessor"] * 10 + ["integrates_with"] * 8 + ["we_use"] * 2
VENDOR_MIDDLE = "soft tek dyne matic works cloud ware sys byte logic".split()


def make_relations(n: int, register: list[dict], rng: random.Random) -> tuple[list[dict], list[tuple[str, str]]]:
    vendors: dict[str, str] = {}
    while len(vendors) < 6_000:  # of 8,000 possible names
        name = f"{rng.choice(PREFIX)}{rng.choice(VENDOR_MIDDLE)} {rng.choice(SUFFIX)}"
        vendors.setdefault(name, f"{name.split()[0]} {rng.choice(PRODUCT)}")
    pool = list(vendors.items())
    rows, seen = [], set()
    while len(rows) < n:
        supplier = rng.choice(register)["name"]
        kind = rng.choice(KINDS)
        if rng.random() < 0.2:
            other = rng.choice(register)
            target, product = other["name"], (other["products"] or [""])[0]
        else:
            target, product = rng.choice(pool)
        ident = (supplier, kind, target, product)
        if ident in seen or target == supplier:
            continue
        seen.add(ident)
        versions = f"{rng.randint(2018, 2024)}.{rng.randint(1, 4)}.{rng.randint(0, 3)}" if rng.random() < 0.6 else ""
        rows.append({"supplier": "" if kind == "we_use" else supplier, "relation": kind, "target": target,
                     "product": product, "versions": versions, "source": "bench" if rng.random() < 0.9 else "",
                     "as_of": "2024-01-01"})
    return rows, pool


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--suppliers", type=int, default=5000)
    parser.add_argument("--relations", type=int, default=50_000)
    parser.add_argument("--documents", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    register = make_register(args.suppliers, rng)
    docs = make_documents(args.documents, register, rng)
    relations, pool = make_relations(args.relations, register, rng)
    for doc in docs[::8]:
        vendor, product = rng.choice(pool)
        doc["title"] = f"{product} compromised: attackers pushed a malicious update"
        if rng.random() < 0.5:
            low = f"{rng.randint(2018, 2022)}.{rng.randint(1, 4)}"
            doc["text"] = (f"{vendor} said {product} versions {low} through {int(low[:4]) + 1}.4.9 are affected. "
                           + doc["text"])
    print(f"machine: {machine()}")
    print(f"register: {len(register)} suppliers, {len(relations)} relations; documents: {len(docs)}, "
          f"{len(docs[::8])} naming a fourth party's product in the title")

    matcher = Matcher(register)
    t0 = time.perf_counter()
    graph = Graph(register, relations)
    print(f"graph build (edges and the automaton of {len(graph.nodes)} parties): {(time.perf_counter() - t0) * 1000:.0f} ms")
    best = best_cpu = 0.0
    for _ in range(3):
        t0, c0 = time.perf_counter(), time.process_time()
        found = [graph.impacts(d, matcher.match(d)) for d in docs]
        best = max(best, len(docs) / (time.perf_counter() - t0))
        best_cpu = max(best_cpu, len(docs) / (time.process_time() - c0))
    reached = [i for imps in found for i in imps if i["hops"] > 0]
    by_status = {s: sum(1 for i in reached if i["status"] == s) for s in ("affected", "possibly affected")}
    print(f"matching + propagation alone: {best:,.0f} documents/s wall, {best_cpu:,.0f} per CPU-second (best of 3); "
          f"{len(reached)} parties reached through relations ({by_status['affected']} affected, "
          f"{by_status['possibly affected']} possibly; {sum(1 for i in reached if i['hops'] == 2)} at two hops)")

    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "bench.db")
        now = "2026-01-01T00:00:00Z"
        with Store.open(db) as store:
            store.sync_sources([{"name": "bench", "kind": "feed", "url": "https://bench.example/rss"}])
            store.save_fetch([Document(source="bench", guid=str(d["id"]), title=d["title"], text=d["text"],
                                       summary=d["summary"], url=d["url"], canonical_url=d["canonical_url"],
                                       published=now) for d in docs], FetchOutcome("bench", "ok", now, now))
            store.import_suppliers(register)
            t0 = time.perf_counter()
            store.import_relations(relations)
            print(f"import of {len(relations)} relations into SQLite: {time.perf_counter() - t0:.2f} s")
        for label in ("with relations", "without relations"):
            if label == "without relations":
                with Store.open(db) as store:
                    store.db.execute("delete from supplier_relations")
                    store.db.execute("update supplier_register set version = version + 1 where id = 1")
                    store.db.conn.commit()
            t0, c0 = time.perf_counter(), time.process_time()
            with make_pipeline(lambda: None, db, create=False) as sw:
                counts = sw.match_suppliers().as_dict()
            e2e, cpu = time.perf_counter() - t0, time.process_time() - c0
            with Store.open(db) as store:
                stored = store.db.execute("select count(*) from supplier_impacts where hops > 0").fetchone()[0]
            print(f"end to end {label} (read register and relations, build, match, propagate, save): "
                  f"{e2e:.2f} s, {counts['documents'] / e2e:,.0f} documents/s wall, {counts['documents'] / cpu:,.0f} "
                  f"per CPU-second; {stored} impacts through relations stored")


if __name__ == "__main__":
    main()
