"""The model quality gate: the time-split head measured on real articles must stay above its floors.

Fitted on 2011-2014 (plus the project's own examples), measured on 2015-2017 of
../shared/eval/dev.jsonl: new events and vendors, as the product meets the future.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import shared_path

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]


def test_time_split_quality_stays_above_floors():
    dev = shared_path("eval", "dev.jsonl")
    from supplywatch.classifiers import Head
    from supplywatch.classifiers.encoder import Encoder
    from supplywatch.classifiers.evaluate import evaluate, read_jsonl
    from supplywatch.classifiers.features import Featurizer

    floors = json.loads((ROOT / "classifiers" / "quality-floors.json").read_text())
    head = Head.load(ROOT / "classifiers" / "head-timesplit")
    assert "before 2015" in json.dumps(head.manifest["sources"])  # fitted on the past only
    result = evaluate(read_jsonl(dev, since="2015"), head, Featurizer(Encoder()))
    headline = result["labels"]["supply_chain_cert_compromise"]
    print(json.dumps(result, indent=1))
    assert headline["f1"] >= floors["supply_chain_cert_compromise"]["f1"], headline
    assert headline["precision"] >= floors["supply_chain_cert_compromise"]["precision"], headline
    assert result["categories"]["macro_f1"] >= floors["categories"]["macro_f1"], result["categories"]
    baseline = result["baseline"]["labels"]["supply_chain_cert_compromise"]["f1"]
    assert headline["f1"] >= baseline + floors["baseline_margin"], (headline, baseline)
