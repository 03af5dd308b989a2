"""Topic tags from a document's words: TF-IDF over its title and first sentences, one logistic model per topic.

Why words and not the lead embedding: the topics are the publisher's own tags, and a tag follows the words an
article uses ("breach", "records exposed", "DDoS", "patch"). On dev.jsonl the same logistic fit on TF-IDF
features beats the one on the mean lead vector for every topic, on the year folds and on the time split
(benchmarks/QUALITY.md, "Topic tags from words"). The headline stays on sentence embeddings: whose key it was is
a matter of meaning, not of vocabulary.

A document is its units (title and sentences, :attr:`.features.DocFeatures.word_units`): its term counts are the
sum of its units' (no bigram spans two sentences), so one pass over the units gives both the document's vector
and each unit's, the unit that scores highest for a topic being its evidence. scikit-learn does the counting and
the weighting; the vocabulary and idf are fitted with the head on its training rows only and kept as plain
arrays (no pickle).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import Any

import numpy as np

# Fixed, not tuned per fit. Bigrams catch "data breach", "zero day", "denial of service"; terms in fewer than 2
# training articles or in more than half of them carry no tag.
NGRAMS = (1, 2)
STOP_WORDS = "english"
MIN_DF, MAX_DF, MAX_TERMS = 2, 0.5, 100_000


@cache
def _unit_analyzer() -> Any:
    from sklearn.feature_extraction.text import CountVectorizer

    return CountVectorizer(stop_words=STOP_WORDS, ngram_range=NGRAMS).build_analyzer()


def analyze(units: list[str]) -> list[str]:
    """The terms of a document given as its units: each unit's words and bigrams, in order."""
    one = _unit_analyzer()
    return [term for unit in units for term in one(unit)]


@dataclass
class TopicWords:
    """Per-topic weights on a document's TF-IDF vector."""

    terms: np.ndarray  # (V,) str: the vocabulary, in column order
    idf: np.ndarray  # (V,) float32
    w: np.ndarray  # (topics, V) float32
    _parts: Any = field(default=None, repr=False, compare=False)

    @staticmethod
    def fit_vectorizer(docs: list[list[str]]) -> tuple[Any, Any]:
        """A vectorizer fitted on ``docs`` (each a list of units) and their TF-IDF matrix (documents x terms)."""
        from sklearn.feature_extraction.text import TfidfVectorizer

        vec = TfidfVectorizer(analyzer=analyze, sublinear_tf=True, min_df=MIN_DF, max_df=MAX_DF,
                              max_features=MAX_TERMS, dtype=np.float32)
        try:
            return vec, vec.fit_transform(docs)
        except ValueError as exc:  # scikit-learn's "After pruning, no terms remain. Try a lower min_df ..."
            if "no terms remain" not in str(exc):
                raise
            raise ValueError(f"no topic words: of {len(docs)} examples, no word is in at least {MIN_DF} of them and in "
                             "at most half; train on more examples") from None

    @classmethod
    def from_fit(cls, vec: Any, w: np.ndarray) -> TopicWords:
        return cls(np.asarray(vec.get_feature_names_out(), dtype=str), vec.idf_.astype(np.float32),
                   np.asarray(w, dtype=np.float32))

    def _counter_and_weights(self) -> tuple[Any, Any]:
        if self._parts is None:
            from sklearn.feature_extraction.text import CountVectorizer, TfidfTransformer

            counter = CountVectorizer(analyzer=analyze, vocabulary={t: i for i, t in enumerate(self.terms.tolist())},
                                      dtype=np.float32)
            weights = TfidfTransformer(sublinear_tf=True)
            weights.idf_ = self.idf
            self._parts = (counter, weights)
        return self._parts

    def logits(self, docs: list[list[str]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For documents given as lists of units: (documents x topics, units x topics, where each document's
        units start in the second), each row its TF-IDF vector times each topic's weights (no bias)."""
        import scipy.sparse as sp

        counter, weights = self._counter_and_weights()
        units = [[u] for d in docs for u in d]
        starts = np.cumsum([0] + [len(d) for d in docs])
        if not units:
            empty = np.zeros((0, len(self.w)), dtype=np.float32)
            return np.zeros((len(docs), len(self.w)), dtype=np.float32), empty, starts
        per_unit = counter.transform(units)
        owner = np.repeat(np.arange(len(docs)), np.diff(starts))
        summed = sp.csr_matrix((np.ones(len(units), dtype=np.float32), (owner, np.arange(len(units)))),
                               shape=(len(docs), len(units))) @ per_unit
        return (np.asarray(weights.transform(summed) @ self.w.T), np.asarray(weights.transform(per_unit) @ self.w.T),
                starts)

    def arrays(self) -> dict[str, np.ndarray]:
        # the vocabulary as one newline-joined UTF-8 buffer: a fixed-width str array pads every term to the
        # longest (4 bytes a character), and terms never hold a newline (they are runs of word characters)
        joined = "\n".join(self.terms.tolist()).encode("utf-8")
        return {"words_terms": np.frombuffer(joined, dtype=np.uint8), "words_idf": self.idf, "words_w": self.w}

    @classmethod
    def from_arrays(cls, arrays: Any) -> TopicWords | None:
        if "words_w" not in arrays:
            return None
        terms = np.array(arrays["words_terms"].tobytes().decode("utf-8").split("\n"), dtype=str)
        w, idf = arrays["words_w"].astype(np.float32), arrays["words_idf"].astype(np.float32)
        if not (len(terms) == len(idf) == w.shape[1]):
            raise ValueError(f"topic words: {len(terms)} terms, {len(idf)} idf values, {w.shape[1]} weights")
        return cls(terms, idf, w)
