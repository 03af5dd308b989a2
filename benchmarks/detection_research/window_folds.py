"""Research (2026-12-01): the window of window.patch (features.embedded_indices: title, 2 lead sentences, each sentence
naming a signing artefact with its neighbours) applied in training and scoring alike, to artefact-naming documents
only (the others whole, as the fold fits read them). Run from a checkout of 44a7198 with window.patch applied:
PYTHONPATH=<it> python window_folds.py time|incident
"""
import json, sys, time
import supplywatch.classifiers.features as F
from supplywatch.classifiers import evaluate as ev
from supplywatch.classifiers.encoder import Encoder
from supplywatch.classifiers.folds import evaluate_folds
from supplywatch.classifiers.guard import names_artefact
from supplywatch.store.embcache import for_encoder
folds = sys.argv[1]
orig = F.embedded_indices
n = {"units": 0, "kept": 0}
def window(units, lead=1):
    out = orig(units, 1) if any(names_artefact(u) for u in units) else list(range(len(units)))
    n["units"] += len(units); n["kept"] += len(out)
    return out
F.embedded_indices = window
enc = Encoder()
fz = F.Featurizer(enc, select=True, cache=for_encoder(enc.identity, 200_000))
rows = ev.read_jsonl("/work/shared/eval/dev.jsonl")
t = time.time()
res = evaluate_folds(rows, fz, folds=folds, encoder_name=enc.name, analyst=(2, 5) if folds == "incident" else ())
H = "supply_chain_cert_compromise"
out = {"folds": folds, "units": n, "s": round(time.time() - t), "headline": res["labels"][H],
       "no_memory": res["no_memory"]["labels"][H], "macro_f1": res["categories"].get("macro_f1")}
if "analyst" in res:
    out["analyst"] = {k: v.get("labels", {}).get(H) for k, v in res["analyst"].items()}
print(json.dumps(out, default=str))
