"""Per-article reading of the product path's folds (what `eval --folds` decides for each article): raw head
score, threshold, the guard's reason, flag, evidence. For error analysis; prints JSON lines.
Usage: python errors.py incident|time > out.jsonl"""
import json, sys
sys.path.insert(0, "/work/main")
from supplywatch.classifiers import evaluate as ev
from supplywatch.classifiers.encoder import Encoder
from supplywatch.classifiers.features import Featurizer
from supplywatch.classifiers.folds import evaluate_folds
from supplywatch.classifiers.model import HEADLINE
from supplywatch.classifiers.guard import headline_guard
from supplywatch.store.embcache import for_encoder

records = []
orig = ev.label_documents
def spy(docs, head, featurizer, book=None):
    fs = featurizer(docs)
    raw = [next(l for l, _ in head.labels(f) if l.label == HEADLINE).score for f in fs]
    gd = [headline_guard(f.units) for f in fs]
    out = orig(docs, head, featurizer, book)
    for d, labs, r, g, f in zip(docs, out, raw, gd, fs):
        lab, flag = next((l, f) for l, f in labs if l.label == HEADLINE)
        records.append({"title": d.get("title"), "pub": str(d.get("published"))[:10], "gold": HEADLINE in (d.get("labels") or []),
                        "incident": d.get("incident"), "raw": round(r, 3), "thr": round(head.threshold, 3),
                        "flag": flag, "reason": lab.reason, "evidence": (lab.evidence or "")[:300], "memory": book is not None,
                        "guard": g.passes, "gev": f.units[g.evidence][:300] if g.passes else g.reason})
    return out
ev.label_documents = spy
rows = ev.read_jsonl("/work/shared/eval/dev.jsonl")
enc = Encoder()
evaluate_folds(rows, Featurizer(enc, cache=for_encoder(enc.identity, 200_000)), folds=sys.argv[1], encoder_name=enc.name)
for r in records:
    if r["memory"]:
        print(json.dumps(r))
