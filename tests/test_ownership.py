"""The whose-key sentence model (classifiers.ownership) and the heads that carry it.

Cues and features are checked on sentences written here (not in the training file); the fitted model with
the packaged encoder must tell a legitimate party's stolen certificate from one the malware's authors
bought, on sentences it was not fitted on. Heads round-trip through their files with the model, and a head
fitted before it (no ``own_w``) still loads and scores as it did.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from supplywatch.classifiers import PACKAGED_HEAD
from supplywatch.classifiers.features import DocFeatures
from supplywatch.classifiers.model import FEATURES, Head, HeadError
from supplywatch.classifiers.ownership import FEATURES as OWN_FEATURES
from supplywatch.classifiers.ownership import POSITIVE_CLASS, OwnershipModel, cues, document_features, sentences

STOLEN = "The spyware was signed with a certificate stolen from Varnholt Instruments, a maker of lab scales."
BOUGHT = "The spyware was signed with a certificate its operators bought through a front company last spring."
NEGATED = "Varnholt said no signing keys were taken and that its certificates were never used by the intruders."
PLAIN = "The ransomware encrypted files on the hospital's servers and demanded payment."


def test_cues_say_who_owned_the_artefact():
    legit, attacker, validation, negated, artefact = cues(STOLEN)
    assert legit == 1 and attacker == 0 and artefact == 1
    assert cues(BOUGHT)[1] == 1 and cues(BOUGHT)[0] == 0
    assert cues(NEGATED)[3] == 1  # a negation near the artefact
    assert cues(PLAIN)[4] == 0 and cues(PLAIN)[3] == 0  # no artefact: nothing to negate
    assert cues("A flaw in certificate validation let forged certificates pass.")[2] == 1


def test_the_training_sentences_cover_every_class():
    rows = sentences()
    classes = {r["class"] for r in rows}
    assert classes == {POSITIVE_CLASS, "attacker_obtained", "validation_flaw", "negated", "other_security"}
    assert len(rows) >= 300 and all(r["text"].strip() for r in rows)
    assert STOLEN not in {r["text"] for r in rows} and BOUGHT not in {r["text"] for r in rows}


def test_document_features_read_only_artefact_sentences():
    model = OwnershipModel(np.zeros(4 + 5, np.float32), 0.0)  # p = 0.5 everywhere
    units = ["Acme certificate stolen", PLAIN, STOLEN]
    feats, gated = document_features(units, np.zeros((3, 4), np.float32), model)
    assert list(gated) == [0.5, 0.0, 0.5]  # the ransomware sentence names no artefact
    assert dict(zip(OWN_FEATURES, feats, strict=True))["own_no_artefact"] == 0.0
    none, _ = document_features([PLAIN], np.zeros((1, 4), np.float32), model)
    assert dict(zip(OWN_FEATURES, none, strict=True)) == {**dict.fromkeys(OWN_FEATURES, 0.0), "own_no_artefact": 1.0}


@pytest.mark.slow
def test_the_fitted_model_knows_whose_certificate_it_was():
    from supplywatch.classifiers.encoder import Encoder

    encoder = Encoder()
    model = OwnershipModel.fit(encoder.encode)
    texts = [STOLEN, BOUGHT, NEGATED,
             "Hackers broke into Talmere's build system and shipped a backdoored update carrying Talmere's signature.",
             "The banking trojan uses a self-signed certificate to encrypt its traffic."]
    p = model.prob(encoder.encode(texts), np.array([cues(t) for t in texts]))
    assert p[0] > 0.5 > p[1] and p[3] > 0.5 > p[4], p
    assert p[2] < p[0]


def _head(own: OwnershipModel | None) -> Head:
    n = len(FEATURES) + (len(OWN_FEATURES) if own is not None else 0)
    return Head(version="t", encoder="e", pos=np.eye(2, 4, dtype=np.float32), neg=np.eye(2, 4, 2, dtype=np.float32),
                w=np.linspace(-1, 1, n), b=0.1, platt=(1.0, 0.0), threshold=0.3,
                cat_w=np.zeros((4, 4), np.float32), cat_b=np.zeros(4), cat_platt=np.tile([1.0, 0.0], (4, 1)),
                cat_thresholds=np.full(4, 0.5), own=own)


def test_a_head_with_the_model_round_trips(tmp_path):
    own = OwnershipModel(np.arange(9, dtype=np.float32) / 10, -0.25)
    head = _head(own)
    loaded = Head.load(head.save(tmp_path / "h"))
    assert loaded.own is not None and np.allclose(loaded.own.w, own.w) and loaded.own.b == own.b
    assert json.loads((tmp_path / "h" / "head.json").read_text())["features"] == list(FEATURES + OWN_FEATURES)
    doc = DocFeatures(["Acme certificate stolen", STOLEN], np.eye(2, 4, dtype=np.float32),
                      np.array([[1, 1, 1, 0], [1, 0, 1, 0]], np.float32))
    assert loaded.headline(doc) == head.headline(doc)
    assert loaded.headline(doc)[0] != _head(None).headline(doc)[0]  # the features take part in the score


def test_a_head_fitted_before_the_model_still_loads(tmp_path):
    old = Head.load(_head(None).save(tmp_path / "old"))
    assert old.own is None and old.features == FEATURES
    # a features list that does not match what the arrays hold is refused, with the folder named
    doc = json.loads((tmp_path / "old" / "head.json").read_text())
    (tmp_path / "old" / "head.json").write_text(json.dumps({**doc, "features": list(FEATURES + OWN_FEATURES)}))
    with pytest.raises(HeadError, match="incompatible version"):
        Head.load(tmp_path / "old")


def test_the_packaged_head_loads():
    assert Head.load(PACKAGED_HEAD).features[: len(FEATURES)] == FEATURES
