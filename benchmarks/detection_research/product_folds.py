"""The product path's folds (classifiers.folds.evaluate_folds, as `eval --folds` runs them) with the tuning reading
beside them: the headline figures with the held-back incidents' positives removed.
Usage: python product_folds.py incident|time OWN(0|1) [ANALYST...]   (OWN 1: with the whose-key features)"""
import json, sys, time
sys.path.insert(0, "/work/main")
from supplywatch.classifiers.encoder import Encoder
from supplywatch.classifiers.evaluate import read_jsonl
from supplywatch.classifiers.features import Featurizer
from supplywatch.classifiers.folds import evaluate_folds
from supplywatch.store.embcache import for_encoder
HELD = {"ccleaner", "zeus-isonet-cert", "dell-edellroot", "turktrust-misissuance"}
folds, own = sys.argv[1], sys.argv[2] == "1"
rows = read_jsonl("/work/shared/eval/dev.jsonl")
enc = Encoder()
t = time.time()
r = evaluate_folds(rows, Featurizer(enc, cache=for_encoder(enc.identity, 200_000)), folds=folds,
                   encoder_name=enc.name, ownership=own, analyst=tuple(int(a) for a in sys.argv[3:]))
h = r["labels"]["supply_chain_cert_compromise"]
out = {"folds": folds, "own": own, "s": round(time.time() - t), "all": {k: h[k] for k in h if k != "threshold"},
       "nomem": {k: v for k, v in r["no_memory"]["labels"]["supply_chain_cert_compromise"].items() if k != "threshold"},
       "macro": r["categories"]["macro_f1"], "kw": r["baseline"]["labels"]["supply_chain_cert_compromise"]}
inc = r.get("incidents") or r.get("positives_by_incident")
if folds == "incident":
    TP = round(h["recall"] * h["support"]); FP = round(TP / h["precision"] - TP) if h["precision"] else 0
    FN = h["support"] - TP
    tp = TP - sum(inc[i]["caught"] for i in HELD if i in inc)
    fn = FN - sum(inc[i]["of"] - inc[i]["caught"] for i in HELD if i in inc)
    fp = FP
    p = tp / (tp + fp) if tp + fp else 0; rr = tp / (tp + fn)
    out["tune"] = {"p": round(p, 3), "r": round(rr, 3), "f1": round(2 * p * rr / (p + rr), 3) if p + rr else 0, "tp": tp, "fp": fp, "fn": fn}
    out["held"] = {i: inc[i] for i in HELD if i in inc}
out["incidents"] = {k: f'{v["caught"]}/{v["of"]}' for k, v in inc.items() if k not in HELD}
for n, a in (r.get("analyst") or {}).items():
    out[f"analyst{n}"] = {k: a["labels"]["supply_chain_cert_compromise"][k] for k in ("precision", "recall", "f1")}
print(json.dumps(out))
