"""The model quality gate: measured on real articles, the classifier must stay above its pinned floors.

Two readings of ../shared/eval/dev.jsonl, both on articles no head was fitted on:
- leave-one-incident-out (`supplywatch eval --folds incident`): each incident's articles scored by a head
  fitted without that incident, negatives by publication-year folds: generalisation to unseen incidents,
  which is what the product meets;
- the time split: the packaged head fitted on 2011-2014 (plus the project's own examples), measured on 2015-2017.
Both go through the production labelling path (head, incident book, guard, cap). One encoder cache serves both.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import shared_path

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
HEADLINE = "supply_chain_cert_compromise"


@pytest.fixture(scope="module")
def floors() -> dict:
    return json.loads((ROOT / "classifiers" / "quality-floors.json").read_text())


@pytest.fixture(scope="module")
def featurizer():
    from supplywatch.classifiers.encoder import Encoder
    from supplywatch.classifiers.features import Featurizer

    return Featurizer(Encoder())


def check(result: dict, floors: dict) -> None:
    headline = result["labels"][HEADLINE]
    print(json.dumps(result, indent=1))
    assert headline["f1"] >= floors[HEADLINE]["f1"], headline
    assert headline["precision"] >= floors[HEADLINE]["precision"], headline
    assert result["categories"]["macro_f1"] >= floors["categories"]["macro_f1"], result["categories"]
    baseline = result["baseline"]["labels"][HEADLINE]["f1"]
    assert headline["f1"] >= baseline + floors["baseline_margin"], (headline, baseline)


def test_leave_one_incident_out_quality_stays_above_floors(featurizer, floors):
    from supplywatch.classifiers.evaluate import read_jsonl
    from supplywatch.classifiers.folds import evaluate_folds

    rows = read_jsonl(shared_path("eval", "dev.jsonl"))
    result = evaluate_folds(rows, featurizer, folds="incident", encoder_name=featurizer.encoder.name)
    check(result, floors["leave_one_incident_out"])


def test_time_split_quality_stays_above_floors(featurizer, floors):
    from supplywatch.classifiers import Head
    from supplywatch.classifiers.evaluate import evaluate, read_jsonl

    head = Head.load(ROOT / "classifiers" / "head-timesplit")
    assert "before 2015" in json.dumps(head.manifest["sources"])  # fitted on the past only
    result = evaluate(read_jsonl(shared_path("eval", "dev.jsonl"), since="2015"), head, featurizer)
    check(result, floors["time_split"])
