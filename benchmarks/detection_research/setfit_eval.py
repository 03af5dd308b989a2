"""The product-path folds (product_folds.py) with the fine-tuned encoder (setfit_encoder.py's delta) in place of
the packaged one: every unit of dev.jsonl and the examples re-encoded, fold heads refitted on those vectors.
Usage: python setfit_eval.py DELTA.pt incident|time 0"""
import sys
from pathlib import Path
sys.path.insert(0, "/work/main")
import torch
from supplywatch.classifiers.encoder import Encoder
DELTA = sys.argv.pop(1)
class FtEncoder(Encoder):
    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        d = torch.load(DELTA)
        self.model.load_state_dict({k: v.float() for k, v in d.items()}, strict=False)
        self.model.eval()
        self.name = "ft"; self.identity = f"ft-{DELTA.split('/')[-1]}|128|fp32"
import supplywatch.classifiers.encoder as E
src = (Path(__file__).parent / "product_folds.py").read_text().replace("from supplywatch.classifiers.encoder import Encoder", "Encoder = FtEncoder")
exec(src)
