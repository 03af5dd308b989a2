"""Fine-tune the top layers of the packaged MiniLM on the project-written sentences (CPU, fixed seed).

Sentence classification trained end to end: mean-pooled, L2-normalised embedding -> cosine classifier
over the five sentence classes (scale 20), cross-entropy; only the top ``layers`` transformer layers
(and the classifier) are trained. What ships is the delta: the top layers' state dict in fp16
(``save_delta``); ``load`` rebuilds the encoder from the packaged model + delta.

Usage: python finetune.py sentences.jsonl OUT.pt [layers] [epochs]
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

CLASSES = ("legit_party_compromise", "attacker_obtained", "validation_flaw", "negated", "other_security")


def _base():
    import torch
    from transformers import AutoModel, AutoTokenizer
    from supplywatch.classifiers.encoder import packaged_model_path
    torch.set_num_threads(2)
    p = str(packaged_model_path())
    return AutoTokenizer.from_pretrained(p, local_files_only=True), AutoModel.from_pretrained(p, local_files_only=True)


def _pool(model, batch):
    import torch
    h = model(**batch).last_hidden_state
    m = batch["attention_mask"].unsqueeze(-1).to(h.dtype)
    return torch.nn.functional.normalize((h * m).sum(1) / m.sum(1).clamp(min=1e-9), dim=1)


def train(sentences: list[dict], *, layers: int = 2, epochs: int = 6, lr: float = 3e-5, seed: int = 13,
          batch_size: int = 16, scale: float = 20.0):
    import torch
    torch.manual_seed(seed)
    np.random.seed(seed)
    tok, model = _base()
    n = model.config.num_hidden_layers
    for name, p in model.named_parameters():
        p.requires_grad = any(name.startswith(f"encoder.layer.{i}.") for i in range(n - layers, n))
    texts = [s["text"] for s in sentences]
    y = torch.tensor([CLASSES.index(s["class"]) for s in sentences])
    # cosine classifier initialised at the class centroids of the base embeddings
    model.eval()
    with torch.no_grad():
        base = torch.cat([_pool(model, tok(texts[i:i + 64], padding=True, truncation=True, max_length=128,
                                           return_tensors="pt")) for i in range(0, len(texts), 64)])
    centroids = torch.stack([torch.nn.functional.normalize(base[y == k].mean(0), dim=0) for k in range(len(CLASSES))])
    W = torch.nn.Parameter(centroids.clone())
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW([{"params": params, "lr": lr}, {"params": [W], "lr": 1e-2}], weight_decay=0.01)
    counts = torch.bincount(y, minlength=len(CLASSES)).float()
    lossf = torch.nn.CrossEntropyLoss(weight=(counts.sum() / counts) / len(CLASSES))
    model.train()
    g = torch.Generator().manual_seed(seed)
    t0 = time.time()
    for ep in range(epochs):
        order = torch.randperm(len(texts), generator=g)
        tot = 0.0
        for s in range(0, len(texts), batch_size):
            idx = order[s:s + batch_size]
            b = tok([texts[i] for i in idx], padding=True, truncation=True, max_length=128, return_tensors="pt")
            e = _pool(model, b)
            logits = scale * e @ torch.nn.functional.normalize(W, dim=1).T
            loss = lossf(logits, y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            tot += float(loss) * len(idx)
        print(f"epoch {ep} loss {tot / len(texts):.3f} {time.time() - t0:.0f}s", flush=True)
    model.eval()
    delta = {k: v.detach().to(torch.float16) for k, v in model.state_dict().items()
             if any(k.startswith(f"encoder.layer.{i}.") for i in range(n - layers, n))}
    return tok, model, delta


def save_delta(delta, path):
    import torch
    torch.save(delta, path)
    return Path(path).stat().st_size


def load(path):
    """(tokenizer, model): packaged model with the saved top-layer delta applied."""
    import torch
    tok, model = _base()
    delta = torch.load(path)
    model.load_state_dict({k: v.float() for k, v in delta.items()}, strict=False)
    model.eval()
    return tok, model


def encode(tok, model, texts, batch_size=64):
    import torch
    out = np.zeros((len(texts), model.config.hidden_size), np.float32)
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    with torch.inference_mode():
        for s in range(0, len(order), batch_size):
            idx = order[s:s + batch_size]
            b = tok([texts[i] or " " for i in idx], padding=True, truncation=True, max_length=128, return_tensors="pt")
            out[idx] = _pool(model, b).numpy()
    return out


if __name__ == "__main__":
    import json
    src, dst = sys.argv[1], sys.argv[2]
    layers = int(sys.argv[3]) if len(sys.argv) > 3 else 2
    epochs = int(sys.argv[4]) if len(sys.argv) > 4 else 6
    rows = [json.loads(l) for l in open(src) if l.strip()]
    t = time.time()
    tok, model, delta = train(rows, layers=layers, epochs=epochs)
    size = save_delta(delta, dst)
    print(f"trained in {time.time() - t:.0f}s; delta {size / 1e6:.1f} MB -> {dst}")
