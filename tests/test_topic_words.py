"""Topic tags from a document's words (classifiers.topicwords): fitted with the head, saved beside it as plain
arrays, loaded back to the same scores, and each topic's evidence is the sentence whose words carry it."""

from __future__ import annotations

import json

import numpy as np
import pytest

from supplywatch.classifiers.features import DocFeatures
from supplywatch.classifiers.model import CATEGORIES, FEATURES, Head, HeadError
from supplywatch.classifiers.train import fit_topics

BREACH = CATEGORIES.index("data_breach")
ATTACK_WORDS = ["customer records exposed in a data breach", "attackers stole the database of account details",
                "the leaked records include email addresses and passwords"]
OTHER_WORDS = ["the patch fixes a flaw in the router firmware", "researchers found a bug in the parser",
               "the update closes a remote code execution hole"]


def _rows(n: int = 40) -> tuple[list[list[str]], list[dict]]:
    rng = np.random.default_rng(5)
    texts, rows = [], []
    for i in range(n):
        breach = bool(i % 2)
        words = ATTACK_WORDS if breach else OTHER_WORDS
        texts.append([*rng.permutation(words).tolist(), f"item{i}"])
        rows.append({"published": f"{2011 + i % 5}-03", "categories": ["data_breach"] if breach else []})
    return texts, rows


def _head() -> Head:
    texts, rows = _rows()
    words, cat_b, cat_platt, cat_thr = fit_topics(texts, rows)
    return Head(version="t", encoder="e", pos=np.eye(2, 4, dtype=np.float32), neg=np.eye(2, 4, 2, dtype=np.float32),
                w=np.zeros(len(FEATURES)), b=0.0, platt=(1.0, 0.0), threshold=0.3,
                cat_w=np.zeros((len(CATEGORIES), 0), np.float32), cat_b=cat_b, cat_platt=cat_platt,
                cat_thresholds=cat_thr, words=words)


def _doc(units: list[str]) -> DocFeatures:
    # two units embedded (the lead of a document naming no artefact), all of them read for words
    return DocFeatures(units[:2], np.eye(2, 4, dtype=np.float32), np.zeros((2, 4), np.float32), all_units=units)


def test_topic_words_tag_by_words_and_cite_the_sentence_that_carries_them(tmp_path):
    head = _head()
    breach = _doc(["Quarterly results are out", "Sales rose in the third quarter",
                   "Attackers stole the database of account details and the leaked records include passwords"])
    plain = _doc(["Quarterly results are out", "Sales rose in the third quarter", "The patch fixes a flaw"])
    name, score, evidence = head.categories(breach)[BREACH]
    assert name == "data_breach" and score >= head.cat_thresholds[BREACH]
    # the evidence is the third sentence, which was never embedded: words are read from every unit
    assert evidence.startswith("Attackers stole")
    assert head.categories(plain)[BREACH][1] < head.cat_thresholds[BREACH]


def test_a_head_with_topic_words_round_trips_as_plain_arrays(tmp_path):
    head = _head()
    folder = head.save(tmp_path / "h")
    with np.load(folder / "arrays.npz", allow_pickle=False) as arrays:  # no pickled vectorizer
        assert {"words_terms", "words_idf", "words_w"} <= set(arrays.files)
    assert json.loads((folder / "head.json").read_text())["format"] == 2
    loaded = Head.load(folder)
    assert loaded.words.terms.tolist() == head.words.terms.tolist()
    doc = _doc(["Breach at a retailer", "customer records exposed in a data breach", "the patch fixes a flaw"])
    assert loaded.categories(doc) == head.categories(doc)


def test_a_format_2_head_without_its_words_is_refused(tmp_path):
    folder = _head().save(tmp_path / "h")
    with np.load(folder / "arrays.npz") as arrays:
        kept = {k: arrays[k] for k in arrays.files if not k.startswith("words_")}
    np.savez_compressed(folder / "arrays.npz", **kept)
    with pytest.raises(HeadError, match="incompatible version"):
        Head.load(folder)
