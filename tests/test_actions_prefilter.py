"""The digest's cheap word test before its action regexes never drops a sentence the regexes would take.

``reports.digest._asks`` looks for one of a few words before running ``_ASKED`` / ``_REMEDY`` (the
regexes cost most of a big day's digest). A word added to a regex and not to the word lists would be
silently lost: these sentences, made from every word of the regexes, catch that.
"""

from __future__ import annotations

import itertools
import re

import pytest

from supplywatch.reports import digest


def _words(pattern: str) -> list[str]:
    pattern = re.sub(r"\[([a-z])[a-z]*\]", r"\1", pattern)  # organi[sz]ations: organisations
    return sorted(set(re.findall(r"[a-z]{2,}", re.sub(r"\\[a-z]", " ", pattern))))


ASKED = _words(digest._ASKED.pattern)
REMEDY = _words(digest._REMEDY.pattern)


def _sentences() -> list[str]:
    out = []
    for a, b in itertools.product(ASKED, repeat=2):
        out += [f"{a.capitalize()} {b} act now.", f"The {a} are {b} to act.", f"Our {a} have been strongly {b} to act."]
    for a, b in itertools.product(REMEDY, repeat=2):
        out += [f"{a.capitalize()} the old key.", f"{a.upper()} {b} the old key.", f"The firm {a} that you {b}.",
                f"re-{a} it", f"It {a}s it."]
    # Case folding: re's IGNORECASE takes these for letters that casefold() keeps apart, or folds to them.
    out += ["ADMİNS should act.", "Admıns must act.", "Cuſtomers ſhould act.", "Pleaſe reſet it.", "Uſers were told to act."]
    return out


@pytest.mark.parametrize("words", [ASKED, REMEDY], ids=["asked", "remedy"])
def test_the_patterns_have_words(words):
    assert len(words) > 5  # the word extraction above still understands the patterns


def test_word_test_agrees_with_the_regexes():
    sentences = _sentences()
    missed = [s for s in sentences if digest._asks(s) != bool(digest._ASKED.search(s) or digest._REMEDY.search(s))]
    assert missed == []
    taken = sum(map(digest._asks, sentences))
    assert len(sentences) / 10 < taken < len(sentences) * 9 / 10  # the sentences do exercise both answers
