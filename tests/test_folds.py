"""``eval --folds``: leave-one-incident-out and the time split (classifiers.folds), on own-written rows.

The fold logic is checked by construction with a bag-of-words stand-in encoder (no model to load): an
incident whose two articles are word-for-word duplicates is caught when its twin sits on the training side
under another incident name, and not when the incident is held out as a whole; a fold's head equals
``train.fit`` on the same rows. The CLI's error cases never load a model.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
from click.testing import CliRunner

from supplywatch.classifiers.features import Featurizer
from supplywatch.classifiers.folds import FoldFitter, evaluate_folds
from supplywatch.classifiers.ownership import OwnershipModel
from supplywatch.classifiers.train import fit
from supplywatch.cli import cli
from supplywatch.store import InputError, vocabulary

HEADLINE = vocabulary.headline()


class WordsEncoder:
    """Unit vectors of hashed lower-case words: sentences sharing words are close, a duplicate is identical."""

    name = "words-stand-in"

    def encode(self, texts):
        out = np.zeros((len(texts), 256), np.float32)
        for i, text in enumerate(texts):
            for word in text.lower().replace(".", " ").replace(",", " ").split():
                out[i, int(hashlib.md5(word.encode()).hexdigest(), 16) % 256] += 1.0
            out[i] /= np.linalg.norm(out[i]) or 1.0
        return out


VENDORS = ["Arlen", "Brisco", "Cavell", "Dunmore", "Elsworth", "Fenwick"]
TWIN = {"title": "Qorvath Zeppel update channel hijacked",
        "text": "Qorvath Zeppel confirmed that intruders stole the Zeppel firmware signing key and pushed "
                "tampered Zeppel firmware to every Qorvath router. Qorvath Zeppel owners got the tampered "
                "Zeppel image through the Qorvath update channel."}


def _positive(vendor: str, incident: str, published: str) -> dict:
    return {"title": f"{vendor} code signing certificate stolen",
            "text": f"Attackers stole the code signing certificate of {vendor} and signed malware with it. "
                    f"{vendor} revoked the stolen certificate and warned its customers.",
            "labels": [HEADLINE], "categories": ["malware"], "incident": incident, "published": published}


def _negative(i: int, published: str) -> dict:
    topics = [("Ransomware hits hospital", "Ransomware encrypted the hospital records and the attackers demanded "
               "payment in bitcoin.", ["malware"]),
              ("Browser patch fixes flaw", "A patch fixes a memory flaw in the browser that allowed remote code "
               "execution on visiting pages.", ["vulnerability"]),
              ("Retailer loses card data", "The retailer said card numbers of shoppers were exposed in a breach of "
               "its payment systems.", ["data_breach"]),
              ("Expired certificate breaks app", "An expired certificate broke the mobile app for a day until the "
               "vendor renewed the certificate.", ["vulnerability"])]
    title, text, cats = topics[i % 4]
    return {"title": f"{title} {i}", "text": f"{text} Report number {i} of the week.", "labels": [],
            "categories": cats, "incident": "", "published": published}


def rows(twin_incidents: tuple[str, str]) -> list[dict]:
    out = [_positive(v, f"inc-{v.lower()}", f"201{i % 4 + 1}-0{i % 9 + 1}") for i, v in enumerate(VENDORS)]
    out += [_negative(i, f"201{i % 4 + 1}-{i % 12 + 1:02d}") for i in range(24)]
    out += [{**TWIN, "labels": [HEADLINE], "categories": ["malware"], "incident": inc, "published": f"2013-0{m}"}
            for inc, m in zip(twin_incidents, (3, 4), strict=True)]
    return out


EXAMPLES = [_positive(v, "", "") for v in ("Gorran", "Hollis", "Ingram")] + [_negative(i, "") for i in range(30, 36)]


def _caught(result: dict, incident: str) -> int:
    return result["incidents"][incident]["caught"]


def test_incident_folds_through_the_cli_path():
    held = evaluate_folds(rows(("twin", "twin")), Featurizer(WordsEncoder()), examples=EXAMPLES, analyst=(0, 2))
    assert held["incidents"]["twin"]["of"] == 2
    # the simulated analyst: no answers is the plain reading; answers never lower it here
    assert held["analyst"]["0"]["labels"] == held["labels"]
    assert held["analyst"]["2"]["labels"][HEADLINE]["f1"] >= held["labels"][HEADLINE]["f1"]
    # the ordinary incidents are caught: their wording is shared by the other vendors' incidents
    assert all(_caught(held, f"inc-{v.lower()}") == 1 for v in VENDORS), held["incidents"]
    assert held["folds"] == "incident" and len(held["fold_thresholds"]) == 1 + len(VENDORS) + 4  # + 4 years
    assert set(held["no_memory"]["labels"]) == {HEADLINE} and "macro_f1" in held["categories"]
    assert held["baseline"]["labels"][HEADLINE]["support"] == len(VENDORS) + 2
    assert held["n"] == len(rows(("twin", "twin")))


def test_a_fold_head_never_sees_the_incident_it_scores():
    """The twin's two articles are word-for-word duplicates: held out together, no prototype of theirs is in
    the fold's head; named as two incidents, each one's fold holds the other's sentences and scores it higher."""
    featurizer = Featurizer(WordsEncoder())
    held_rows, leaked_rows = EXAMPLES + rows(("twin", "twin")), EXAMPLES + rows(("twin-a", "twin-b"))
    twin = featurizer([TWIN])[0]
    held_fit = FoldFitter(held_rows, featurizer(held_rows))
    held = held_fit.fit(np.array([r.get("incident") != "twin" for r in held_rows]), name="incident twin")
    assert (twin.emb @ held.pos.T).max() < 0.99 and (twin.emb @ held.neg.T).max() < 0.99
    leaked = FoldFitter(leaked_rows, featurizer(leaked_rows)).fit(
        np.array([r.get("incident") != "twin-a" for r in leaked_rows]), name="incident twin-a")
    assert (twin.emb @ leaked.pos.T).max() > 0.999  # its twin's sentences are prototypes
    assert leaked.headline(twin)[0] > held.headline(twin)[0]
    # and evaluate_folds hands each positive the head of its own incident's fold
    result = evaluate_folds(rows(("twin", "twin")), featurizer, examples=EXAMPLES)
    assert result["fold_thresholds"]["incident twin"] == round(held.threshold, 4)


@pytest.mark.parametrize("whose_key", [False, True])
def test_a_fold_equals_train_fit_on_the_same_rows(whose_key):
    featurizer = Featurizer(WordsEncoder())
    data = EXAMPLES + rows(("twin-a", "twin-b"))
    train = np.array([r.get("published", "") < "2013" for r in data])
    own = OwnershipModel.fit(WordsEncoder().encode) if whose_key else None
    fast = FoldFitter(data, featurizer(data), own=own).fit(train, name="before 2013")
    slow = fit([r for r, t in zip(data, train, strict=True) if t], featurizer, sources={}, encoder_name="x",
               ownership=whose_key)
    assert fast.features == slow.features and len(slow.w) == len(slow.features)
    assert (slow.own is not None) == whose_key and (not whose_key or np.allclose(fast.own.w, slow.own.w))
    assert np.allclose(fast.w, slow.w, atol=1e-6) and abs(fast.b - slow.b) < 1e-6
    assert abs(fast.threshold - slow.threshold) < 1e-9
    assert fast.pos.shape == slow.pos.shape and fast.neg.shape == slow.neg.shape
    assert fast.words.terms.tolist() == slow.words.terms.tolist()
    assert np.allclose(fast.words.w, slow.words.w, atol=1e-6) and np.allclose(fast.cat_b, slow.cat_b, atol=1e-6)
    assert np.allclose(fast.cat_thresholds, slow.cat_thresholds)  # both chosen on the latest years trained on


def test_the_version_names_the_fitted_model_not_only_its_data(monkeypatch):
    from supplywatch.classifiers import train

    featurizer = Featurizer(WordsEncoder())
    data = EXAMPLES + rows(("twin-a", "twin-b"))
    first = fit(data, featurizer, sources={}, encoder_name="x")
    assert fit(data, featurizer, sources={}, encoder_name="x").version == first.version  # a refit: the same model
    # the same examples fitted by changed code (here the topic models' regularisation) is a new model, which
    # classify must relabel with
    monkeypatch.setattr(train, "TOPIC_C", train.TOPIC_C / 4)
    changed = fit(data, featurizer, sources={}, encoder_name="x")
    assert changed.manifest["data_sha"] == first.manifest["data_sha"] and changed.version != first.version


def test_time_split_scores_only_the_later_rows():
    result = evaluate_folds(rows(("twin-a", "twin-b")), Featurizer(WordsEncoder()), folds="time", cut="2013",
                            examples=EXAMPLES)
    later = [r for r in rows(("twin-a", "twin-b")) if r["published"] >= "2013"]
    assert result["n"] == len(later) and list(result["fold_thresholds"]) == ["before 2013"]


def test_positives_without_an_incident_are_an_input_error():
    data = rows(("twin", "twin"))
    data[0] = {**data[0], "incident": ""}
    with pytest.raises(InputError, match="1 of 8 have none"):
        evaluate_folds(data, Featurizer(WordsEncoder()), examples=EXAMPLES)


@pytest.mark.parametrize("args, why", [
    ([], "needs an 'incident' on every positive"),
    (["--head", "somewhere"], "leave out --head"),
    (["--no-memory"], "leave out --no-memory"),
])
def test_cli_errors_are_one_line_exit_2(tmp_path, args, why):
    data = tmp_path / "rows.jsonl"
    data.write_text("".join(json.dumps({k: v for k, v in r.items() if k != "incident"}) + "\n"
                            for r in rows(("twin", "twin"))))
    result = CliRunner().invoke(cli, ["--db", str(tmp_path / "x.db"), "eval", str(data), "--folds", "incident",
                                      *args])
    assert result.exit_code == 2, result.output
    assert why in result.output and result.output.startswith("Error: ") and result.output.count("\n") == 1


def test_whose_key_without_folds_is_one_line_exit_2(tmp_path):
    data = tmp_path / "rows.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows(("twin", "twin"))))
    result = CliRunner().invoke(cli, ["--db", str(tmp_path / "x.db"), "eval", str(data), "--whose-key"])
    assert result.exit_code == 2 and result.output == "Error: --whose-key needs --folds (a fitted head carries its " \
        "own features: train --whose-key)\n", result.output


def test_the_simulated_analyst_reads_only_the_gold_of_the_items_it_answers():
    from supplywatch.classifiers.evaluate import label_rows

    from .test_labelling_guard import ScoreHead, featurizer

    week = [  # one publication week; ScoreHead flags at 0.5
        # its statement is past the lead, where a score below the explicit-statement floor does not flag it
        {"id": 1, "title": "Arlen issues a notice to customers", "published": "2021-01-04", "score": 0.15,
         "labels": [HEADLINE],
         "text": "Arlen published a notice to all of its customers on Monday morning. The company said that its support "
                 "lines would stay open through the whole week. Attackers stole the Arlen code signing key and signed "
                 "malware with it."},
        {"id": 2, "title": "Brisco ships a new router", "published": "2021-01-05", "score": 0.05, "labels": [HEADLINE],
         "text": "The router has faster wireless."},
        {"id": 3, "title": "Cavell fixes a bug", "published": "2021-01-05", "score": 0.55, "labels": [],
         "text": "Cavell fixed a bug in its certificate validation; no key was stolen."},
    ]
    later = {"id": 4, "title": "Sanctions over the Arlen attack", "published": "2021-01-20", "score": 0.01,
             "labels": [HEADLINE], "text": "The Treasury named the group behind it."}
    machine: list[bool] = []
    _, flags, _ = label_rows([*week, later], lambda r: ScoreHead(), featurizer, analyst=2, machine_flags=machine)
    # the two nearest the threshold (0.55 and 0.15: below the explicit-statement floor) take their gold answers;
    # the far one (0.05) keeps its flag
    assert flags == [True, False, False, True] and machine == [False, False, False, True]
    # the yes opened the Arlen incident, so the next week's follow-up joins it on the machine's own
    _, alone, _ = label_rows([*week, later], lambda r: ScoreHead(), featurizer, analyst=0)
    assert alone == [False, False, False, False]



def test_eval_clusters_its_articles_by_month_as_run_clusters_before_classify():
    """`cluster_rows` puts rows into stories with the featurizer's encoder (dev.jsonl's month dates read as the
    1st); a stand-in featurizer without an encoder leaves the rows as they are."""
    from supplywatch.classifiers.evaluate import cluster_rows

    class Encoder:  # vectors by title: the rule under test is the clustering, not the model
        def encode(self, texts):
            return np.array([[1.0, 0.0] if "Quillmail" in t else [0.0, 1.0] for t in texts], dtype=np.float32)

    class Feats:
        encoder = Encoder()

    rows = [{"title": "Quillmail certificate stolen", "published": "2021-01"},
            {"title": "Acme patches router", "published": "2021-01"},
            {"title": "Quillmail tells customers to re-create the connection", "published": "2021-01"},
            {"title": "Quillmail certificate stolen again", "published": "2021-06"}]  # months later: another story
    assert cluster_rows(rows, Feats()) == 3
    assert rows[0]["story_id"] == rows[2]["story_id"] != rows[1]["story_id"]
    assert rows[3]["story_id"] not in {rows[0]["story_id"], rows[1]["story_id"]}
    bare = [{"title": "x", "published": "2021-01"}]
    assert cluster_rows(bare, lambda docs: docs) == 0 and "story_id" not in bare[0]


def test_train_reuses_the_embedding_cache_of_an_earlier_run(tmp_path):
    """`train` after `eval` (or another `train`) encodes only the sentences the cache across runs lacks."""
    from supplywatch.classifiers.train import train_head
    from supplywatch.store.embcache import EmbeddingCache

    class Counting(WordsEncoder):
        dim = 256

        def __init__(self):
            self.texts = 0

        def encode(self, texts):
            self.texts += len(texts)
            return super().encode(texts)

    data = EXAMPLES + rows(("twin-a", "twin-b"))
    first, second = Counting(), Counting()
    cache = lambda encoder: EmbeddingCache(tmp_path / "embeddings.sqlite", encoder.name)  # noqa: E731
    one = train_head(data, {}, lambda: first, str(tmp_path / "one"), cache=cache)
    two = train_head(data, {}, lambda: second, str(tmp_path / "two"), cache=cache)
    assert first.texts > 0 and second.texts == 0
    assert np.array_equal(one.pos, two.pos) and one.threshold == two.threshold
    assert np.array_equal(one.cat_thresholds, two.cat_thresholds)
