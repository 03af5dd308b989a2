"""Topic thresholds follow the publisher's latest tagging habit (classifiers.train.calibration_rows).

A publisher's tag drifts by year (dev.jsonl's ``cyber_attack``: 0% of 2011's articles, 33% of 2017's), so a
topic's Platt scaling and threshold are chosen on the training years nearest those it will score; its weights
still learn from every row. Checked on constructed articles where the cut-off moves between years.
"""

from __future__ import annotations

import numpy as np

from supplywatch.classifiers.model import CATEGORIES
from supplywatch.classifiers.train import CALIBRATION_MIN, _best_threshold, calibration_rows, fit_topics

TOPIC = CATEGORIES[0]


def _rows(years: list[int], per_year: int = 12) -> list[dict]:
    return [{"published": f"{y}-0{i % 9 + 1}", "categories": [TOPIC] if i % 2 else []}
            for y in years for i in range(per_year)]


def _years(rows: list[dict], mask: np.ndarray) -> set[str]:
    return {r["published"][:4] for r, m in zip(rows, mask, strict=True) if m}


def _y(rows: list[dict]) -> np.ndarray:
    return np.array([TOPIC in r["categories"] for r in rows], dtype=int)


def test_the_two_latest_years_by_default_and_the_neighbours_of_a_reference():
    rows = _rows(list(range(2011, 2018))) + [{"published": "", "categories": [TOPIC]}] * 30  # undated: examples
    y = _y(rows)
    assert _years(rows, calibration_rows(rows, y)) == {"2016", "2017"}
    # a held-out middle year: the years one away on each side (it is not itself trained on)
    middle = [r for r in rows if not r["published"].startswith("2014")]
    assert _years(middle, calibration_rows(middle, _y(middle), 2014)) == {"2012", "2013", "2015", "2016"}
    assert not calibration_rows(rows, y)[-30:].any()  # undated rows never choose a threshold


def test_all_rows_when_the_nearest_years_are_too_few_or_nothing_is_dated():
    rows = _rows([2011, 2012, 2013], per_year=12) + _rows([2017], per_year=CALIBRATION_MIN)
    rows[-CALIBRATION_MIN:] = [{**r, "categories": []} for r in rows[-CALIBRATION_MIN:]]  # 2017: no tag at all
    assert calibration_rows(rows, _y(rows)) is None
    undated = [{"published": "", "categories": [TOPIC] if i % 2 else []} for i in range(40)]
    assert calibration_rows(undated, _y(undated)) is None


def _text(grade: int) -> list[str]:
    """An article's units at a grade from "plainly not" (0) to "plainly the topic" (9): one word a grade."""
    return [f"report grade{grade}", f"grade{grade} notes"]


def _drifting(seed: int = 3) -> tuple[list[list[str]], list[dict]]:
    """Articles of every grade; until 2014 only grades 8-9 are tagged, from 2015 on grades 4-9 (the tag spread
    to milder articles)."""
    rng = np.random.default_rng(seed)
    rows, texts = [], []
    for year in range(2011, 2017):
        cut = 8 if year <= 2014 else 4
        for grade in rng.integers(0, 10, 60):
            rows.append({"published": f"{year}-06", "categories": [TOPIC] if grade >= cut else []})
            texts.append(_text(int(grade)))
    return texts, rows


def _tagged(fitted: tuple, grade: int) -> bool:
    words, cat_b, cat_platt, cat_thr = fitted
    z = float(words.logits([_text(grade)])[0][0][0] + cat_b[0])
    return 1 / (1 + np.exp(-(cat_platt[0][0] * z + cat_platt[0][1]))) >= cat_thr[0]


def test_a_drifting_tag_is_cut_where_the_latest_years_put_it():
    texts, rows = _drifting()
    latest = fit_topics(texts, rows)
    earliest = fit_topics(texts, rows, reference_year=2011)
    # an article in the band the tag spread to: tagged under the latest habit, not under 2011's
    assert _tagged(latest, 6) and not _tagged(earliest, 6)
    # both agree at the ends; the weights are the same fit, only the cut-off moved
    assert _tagged(latest, 9) and _tagged(earliest, 9) and not _tagged(latest, 1)
    assert np.allclose(latest[0].w, earliest[0].w) and np.allclose(latest[1], earliest[1])


def test_a_clean_separation_keeps_a_cut_off_between_the_classes():
    # calibrated scores that separate perfectly sit a hair under 1 and over 0; a cut-off rounded up to 1.000
    # would exclude every positive, and the only one left would be 0 (everything tagged)
    p = np.array([0.99996, 0.99999, 0.999995, 0.00002, 0.00001, 0.0])
    y = np.array([1, 1, 1, 0, 0, 0])
    t = _best_threshold(p, y)
    assert ((p >= t) == (y == 1)).all()
