"""Experiment (issue 10, third step): a SetFit-style contrastive fine-tune of MiniLM's top layers on project
data only -- the 303 written sentences plus the project examples' artefact sentences (a positive example's
sentences that pair an artefact with a compromise and no near-miss cue count as positive; a negative example's
artefact sentences as negative); no row of dev.jsonl, so one fine-tune serves every evaluation fold.
Balanced batches of 32; in-batch cosine similarity regressed to 1 (same class) / 0 (different), as SetFit's
CosineSimilarityLoss does pair by pair. Seeded (13).

Usage: python setfit_encoder.py OUT.pt [steps] [layers] [lr]   (then setfit_eval.py OUT.pt incident|time 0)"""
import sys, time, json
sys.path.insert(0, "/work/main")
import numpy as np
import torch
from supplywatch.classifiers import examples
from supplywatch.classifiers.encoder import Encoder
from supplywatch.classifiers.lexical import sentence_cues
from supplywatch.classifiers.ownership import sentences
from supplywatch.classifiers.passages import document_units
out, steps = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 100
layers = int(sys.argv[3]) if len(sys.argv) > 3 else 2
lr = float(sys.argv[4]) if len(sys.argv) > 4 else 2e-5
H = "supply_chain_cert_compromise"
texts, y = [], []
for r in sentences():
    texts.append(r["text"]); y.append(int(r["class"] == "legit_party_compromise"))
for e in examples():
    pos = H in (e.get("labels") or [])
    for u in document_units(e.get("title") or "", e.get("text") or "", limit=40):
        a, c, both, near = sentence_cues(u)
        if pos and both and not near:
            texts.append(u); y.append(1)
        elif not pos and a:
            texts.append(u); y.append(0)
y = np.array(y)
print(len(texts), "sentences", int(y.sum()), "positive", flush=True)
torch.manual_seed(13); rng = np.random.default_rng(13)
enc = Encoder(); model, tok = enc.model, enc.tokenizer
n = model.config.num_hidden_layers
for name, p in model.named_parameters():
    p.requires_grad = any(name.startswith(f"encoder.layer.{i}.") for i in range(n - layers, n))
opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr, weight_decay=0.01)
P, N = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
model.train(); t0 = time.time()
for step in range(steps):
    idx = np.concatenate([rng.choice(P, 16, replace=False), rng.choice(N, 16, replace=False)])
    b = tok([texts[i] for i in idx], padding=True, truncation=True, max_length=128, return_tensors="pt")
    h = model(**b).last_hidden_state
    m = b["attention_mask"].unsqueeze(-1).to(h.dtype)
    e = torch.nn.functional.normalize((h * m).sum(1) / m.sum(1).clamp(min=1e-9), dim=1)
    yy = torch.tensor(y[idx], dtype=torch.float32)
    target = (yy[:, None] == yy[None, :]).float()
    sim = e @ e.T
    iu = torch.triu_indices(32, 32, 1)
    loss = torch.nn.functional.mse_loss(sim[iu[0], iu[1]], target[iu[0], iu[1]])
    opt.zero_grad(); loss.backward(); opt.step()
    if step % 10 == 0:
        print(f"step {step} loss {loss.item():.4f} {time.time()-t0:.0f}s", flush=True)
delta = {k: v.detach().to(torch.float16) for k, v in model.state_dict().items()
         if any(k.startswith(f"encoder.layer.{i}.") for i in range(n - layers, n))}
torch.save(delta, out)
print("done", time.time() - t0, flush=True)
