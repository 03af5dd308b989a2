"""The guard's verdict on every dev and project document, and what a guard change flips.

Usage:
    python benchmarks/detection_research/guard_scan.py OUT.json            # verdicts with the code as it is
    python benchmarks/detection_research/guard_scan.py --compare A.json B.json

Per document: gold label, whether the guard passes, the sentences it reads as a stated compromise and those
`explicit.explicit_statement` reads as naming whose artefact it was. Compare two scans (before and after a change
to classifiers/guard.py) to see which documents stop or start passing and which sentences changed; the counts of
documents that pass, split dev/project and positive/negative, come first. Reads ../shared/eval/dev.jsonl.
"""
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
DEV = ROOT.parent / "shared" / "eval" / "dev.jsonl"


def scan(out: str) -> None:
    from supplywatch import classifiers
    from supplywatch.classifiers.explicit import explicit_statement
    from supplywatch.classifiers.guard import headline_guard, sentence_verdict
    from supplywatch.classifiers.passages import document_units

    dev = [dict(json.loads(line), where="dev") for line in DEV.open(encoding="utf-8")]
    rows = dev + [dict(r, where="project") for r in classifiers.examples()]
    result = {}
    for r in rows:
        units = document_units(r.get("title") or "", r.get("text") or "")
        result[r["id"]] = {"where": r["where"], "gold": "supply_chain_cert_compromise" in (r.get("labels") or []),
                           "title": r.get("title") or "", "guard": headline_guard(units).passes,
                           "yes": [u for u in units if sentence_verdict(u) == "yes"],
                           "explicit": [u for u in units if explicit_statement(u)]}
    Path(out).write_text(json.dumps(result), encoding="utf-8")
    counts(result)


def counts(result: dict) -> None:
    for where in ("dev", "project"):
        for gold in (False, True):
            docs = [v for v in result.values() if v["where"] == where and v["gold"] == gold]
            print(f"{where} {'positives' if gold else 'negatives'}: {sum(v['guard'] for v in docs)} of {len(docs)} "
                  f"pass the guard")


def compare(a_path: str, b_path: str) -> None:
    a, b = (json.loads(Path(p).read_text(encoding="utf-8")) for p in (a_path, b_path))
    print("before:"), counts(a)
    print("after:"), counts(b)
    for k, old in a.items():
        new = b.get(k)
        if new is None or (old["guard"], set(old["yes"]), old["explicit"]) == (new["guard"], set(new["yes"]), new["explicit"]):
            continue
        print(f"\n{'POSITIVE' if old['gold'] else 'negative'} ({old['where']}) guard {old['guard']} -> {new['guard']}: "
              f"{old['title'][:90]}")
        for s in set(old["yes"]) - set(new["yes"]):
            print(f"    no longer a stated compromise: {s[:200]}")
        for s in set(new["yes"]) - set(old["yes"]):
            print(f"    now a stated compromise: {s[:200]}")
        for s in set(old["explicit"]) ^ set(new["explicit"]):
            print(f"    explicit statement {'lost' if s in old['explicit'] else 'gained'}: {s[:200]}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--compare"] and len(sys.argv) == 4:
        compare(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 2:
        scan(sys.argv[1])
    else:
        sys.exit(__doc__)
