"""Encode, with a fine-tuned delta, every unit that names a signing artefact (dev, examples, news, sentences).
Usage: python ft_cache.py DELTA.pt OUT.npz"""
import csv, json, sys, time
import numpy as np
sys.path.insert(0, "/work/exp10")
from supplywatch.classifiers import examples
from supplywatch.classifiers.passages import document_units
from cache import unit_key
from sentence_head import ownership_cues
import finetune
texts = {}
def add(title, text, limit=40):
    for u in document_units(title or "", text or "", limit=limit):
        if ownership_cues(u)[4] > 0:
            texts[unit_key(u)] = u
for line in open("/work/shared/eval/dev.jsonl"):
    r = json.loads(line); add(r["title"], r["text"])
for r in examples(): add(r.get("title"), r.get("text"))
for r in csv.DictReader(open("/work/shared/corpus/news-metadata/cybersecurity-news-en-title-3000.csv")):
    add(r["title"], r.get("description") or "")
for l in open("/work/exp10/sentences.jsonl"):
    t = json.loads(l)["text"]; texts[unit_key(t)] = t
print(len(texts), "artefact units", flush=True)
tok, model = finetune.load(sys.argv[1])
t = time.time(); keys = list(texts)
emb = finetune.encode(tok, model, [texts[k] for k in keys])
print(f"encoded in {time.time()-t:.0f}s ({len(keys)/(time.time()-t):.0f}/s)")
np.savez(sys.argv[2], keys=np.array(keys, dtype="S16"), emb=emb)
