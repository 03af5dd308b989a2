"""Where the explicit-statement lead rule fires (``labelling.EXPLICIT_LEAD``): the documents with an explicit
statement in their title or lead among dev.jsonl, the project examples and the 3,000 modern feed items (title and
description). Prints each one that is not a labelled positive, then the counts (benchmarks/QUALITY.md).
Usage: python benchmarks/detection_research/lead_scan.py"""
import csv
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared"
sys.path.insert(0, str(ROOT))

from supplywatch import classifiers  # noqa: E402
from supplywatch.classifiers.explicit import explicit_evidence  # noqa: E402
from supplywatch.classifiers.features import MAX_UNITS  # noqa: E402
from supplywatch.classifiers.labelling import EXPLICIT_LEAD  # noqa: E402
from supplywatch.classifiers.passages import document_units  # noqa: E402

HEADLINE = "supply_chain_cert_compromise"


def lead_statement(title: str, text: str) -> str | None:
    units = document_units(title, text, limit=MAX_UNITS)[:EXPLICIT_LEAD]
    i = explicit_evidence(units)
    return units[i] if i >= 0 else None


def main() -> None:
    dev = [json.loads(line) for line in (SHARED / "eval" / "dev.jsonl").open(encoding="utf-8")]
    with (SHARED / "corpus" / "news-metadata" / "cybersecurity-news-en-title-3000.csv").open(encoding="utf-8") as f:
        news = list(csv.DictReader(f))
    sets = {
        "dev": [(r["title"], r["text"], HEADLINE in (r.get("labels") or [])) for r in dev],
        "project": [(r["title"], r["text"], HEADLINE in (r.get("labels") or [])) for r in classifiers.examples()],
        "news": [(r["title"], r.get("description") or "", None) for r in news],
    }
    for name, rows in sets.items():
        hits: dict = {True: 0, False: 0, None: 0}
        total: dict = {True: 0, False: 0, None: 0}
        for title, text, gold in rows:
            total[gold] += 1
            sentence = lead_statement(title, text)
            if sentence:
                hits[gold] += 1
                if gold is not True:
                    print(f"  {name} {gold} | {title[:70]} | {sentence[:160]}")
        print(f"{name}: lead statements in positives {hits[True]} of {total[True]}, negatives {hits[False]} of "
              f"{total[False]}, unlabelled {hits[None]} of {total[None]}")


if __name__ == "__main__":
    main()
