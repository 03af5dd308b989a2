"""How sure a headline score may look, given how much text it rests on (issue 16).

The head's score is calibrated on full articles (thousands of characters). A feed entry -- a title and a
one-line summary -- gives it three sentences, and one word can decide them: the same raw 0.9 is far weaker
evidence there. The flag itself is decided elsewhere (the cap and the guard in :mod:`.guard`: no artefact, no
flag); this module only tempers the *confidence* a flagged or near-threshold score shows, so a reader sees a
line of text rated as what it is and the digest ranks a full article above a headline of the same raw score.

Only the part above the threshold shrinks, in proportion to the body text seen, so a score never crosses the
threshold either way here: what is flagged and what is not stays the guard's decision, and eval's figures do
not move.
"""

from __future__ import annotations

from collections.abc import Sequence

# About six sentences of article body: from there on, more text no longer changes how far the
# head's scores can be trusted (the dev set's full articles are 2,700-3,300 characters on average).
FULL_TEXT_CHARS = 1500
# A title alone still says something: its excess over the threshold keeps at least this share.
MIN_WEIGHT = 0.25


def text_weight(units: Sequence[str]) -> float:
    """The share of a full article's evidence that ``units`` (title first, then body units) carry, in
    [MIN_WEIGHT, 1]."""
    body = sum(len(u) for u in units[1:])
    return max(MIN_WEIGHT, min(1.0, body / FULL_TEXT_CHARS))


def temper(score: float, units: Sequence[str], threshold: float) -> float:
    """``score`` with its excess over ``threshold`` scaled by :func:`text_weight`; unchanged at or below it."""
    if score <= threshold:
        return score
    return threshold + (score - threshold) * text_weight(units)
