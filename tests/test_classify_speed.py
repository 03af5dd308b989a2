"""Issue 13's classify levers: the int8 encoder's parity with fp32, its fallback, the embedding cache across
runs, and lead-only featurizing that leaves every flag (and the demo's evidence) as it was."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from supplywatch.classifiers import HEADLINE, examples
from supplywatch.classifiers.features import LEAD_UNITS, Featurizer, select_units
from supplywatch.classifiers.guard import cap_headline
from supplywatch.classifiers.passages import document_units
from supplywatch.store.embcache import EmbeddingCache

ROOT = Path(__file__).resolve().parents[1]


class CountingEncoder:
    """A deterministic stand-in for the transformer (the cache is under test, not the model): a vector per text
    from its digest, and a count of the texts it was asked to encode."""

    dim = 8

    def __init__(self) -> None:
        self.calls = 0

    def encode(self, texts: list[str]) -> np.ndarray:
        self.calls += len(texts)
        out = np.array([np.frombuffer(hashlib.sha256(t.encode()).digest()[:32], dtype=np.float32) for t in texts])
        out = np.nan_to_num(out, nan=1.0, posinf=1.0, neginf=-1.0).clip(-1e3, 1e3)
        return (out / np.linalg.norm(out, axis=1, keepdims=True)).astype(np.float32)


DOCS = [{"title": "Vendor's code-signing certificate stolen",
         "text": "Attackers stole the code-signing certificate of the vendor. They signed malware with it. "
                 "Customers were told to update."},
        {"title": "A quiet week", "text": "Nothing happened this week at all, said everyone we asked about it."}]


def test_cache_hits_return_the_vectors_a_fresh_encoding_gives(tmp_path):
    first_enc, second_enc = CountingEncoder(), CountingEncoder()
    first = Featurizer(first_enc, cache=EmbeddingCache(tmp_path / "e.sqlite", "ns"))(DOCS)
    assert first_enc.calls > 0
    again = Featurizer(second_enc, cache=EmbeddingCache(tmp_path / "e.sqlite", "ns"))
    second = again(DOCS)
    assert second_enc.calls == 0 and again.store_cache.hits == first_enc.calls and again.store_cache.misses == 0
    for a, b in zip(first, second, strict=True):
        assert a.units == b.units and np.array_equal(a.emb, b.emb)
    # another encoder identity is another namespace: nothing is shared
    other_enc = CountingEncoder()
    Featurizer(other_enc, cache=EmbeddingCache(tmp_path / "e.sqlite", "other"))(DOCS)
    assert other_enc.calls == first_enc.calls


def test_cache_is_bounded_least_recently_used_first(tmp_path):
    cache = EmbeddingCache(tmp_path / "e.sqlite", "ns", max_entries=3)
    cache.put({b"a": b"1", b"b": b"2", b"c": b"3"})
    assert cache.get([b"a"]) == {b"a": b"1"}  # a is used now; b is the oldest
    cache.put({b"d": b"4"})
    assert len(cache) == 3 and cache.get([b"a", b"b", b"c", b"d"]) == {b"a": b"1", b"c": b"3", b"d": b"4"}


def test_a_broken_cache_costs_time_never_the_work(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    cache = EmbeddingCache(blocker / "e.sqlite", "ns")  # its folder cannot be made
    enc = CountingEncoder()
    feats = Featurizer(enc, cache=cache)(DOCS)
    assert len(feats) == 2 and enc.calls > 0 and cache.error
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(b"this is not a database" * 100)
    cache = EmbeddingCache(garbage, "ns")
    assert Featurizer(CountingEncoder(), cache=cache)(DOCS) and cache.error


def test_selection_keeps_every_unit_when_the_headline_could_be_flagged():
    for row in examples()[:120]:
        units = document_units(row.get("title") or "", row.get("text") or "", limit=40)
        kept = select_units(units)
        if kept is units:
            continue
        # lead only: then no sentence names a signing artefact, so the headline is capped below any threshold
        assert kept == units[:LEAD_UNITS] and cap_headline(1.0, units, 0.5) < 0.5
        assert select_units(units, 1) == units[:1]  # a head whose topics read words: the title alone


@pytest.fixture(scope="module")
def clf():
    from supplywatch.classifiers import Classifier

    return Classifier()


def test_selection_changes_no_flag_and_keeps_the_demo_evidence(clf):
    from supplywatch.classifiers.labelling import label_documents
    from supplywatch.crawlers.extract import extract
    from supplywatch.demo import demo_site_root

    docs = []
    for path in sorted(demo_site_root().rglob("*.html")):
        got = extract(path.read_text("utf-8"))
        if got.text and len(got.text) > 200:
            docs.append({"title": got.title, "text": got.text})
    assert len(docs) >= 8
    full = label_documents(docs, clf.head, Featurizer(clf.encoder), None)
    # the packaged head's topics read words, so `classify` embeds a document that cannot be flagged from its title
    assert clf.head.words is not None and clf.featurizer.lead == clf.head.embedded_lead == 1
    for lead in (LEAD_UNITS, clf.head.embedded_lead):
        featurizer = Featurizer(clf.encoder, select=True, lead=lead)
        selected = label_documents(docs, clf.head, featurizer, None)
        assert [[f for _, f in labels] for labels in full] == [[f for _, f in labels] for labels in selected]
        # the topics' scores and evidence come from words: the same whatever was embedded
        assert [labels[1:] for labels in full] == [labels[1:] for labels in selected]
        flagged = [(a[0][0], b[0][0]) for a, b in zip(full, selected, strict=True) if a[0][1]]
        assert flagged, "the demo has a flagged headline"
        for a, b in flagged:
            # fp32 batches pad differently when fewer units are sent: the last bits of a vector may move
            assert a.label == HEADLINE and a.evidence == b.evidence and abs(a.score - b.score) < 1e-6


@pytest.mark.slow
def test_int8_encoder_stays_within_cosine_0_99_of_fp32(clf):
    pytest.importorskip("onnxruntime")
    from supplywatch.classifiers.encoder import Encoder

    int8 = clf.encoder if clf.encoder.backend == "onnx-int8" else Encoder(backend="onnx-int8")
    fp32 = Encoder(backend="torch")
    sentences = sorted({u for row in examples()[::4] for u in document_units(row.get("title") or "",
                                                                             row.get("text") or "", limit=40)})[:150]
    cos = (int8.encode(sentences) * fp32.encode(sentences)).sum(1)
    assert cos.min() >= 0.99, (cos.min(), sentences[int(cos.argmin())])
    assert int8.name.endswith("-int8") and not fp32.name.endswith("-int8") and int8.identity != fp32.identity


def test_the_default_encoder_is_fp32_on_onnx_runtime_with_the_vectors_of_torch(clf):
    # The packaged heads were fitted on torch's fp32 vectors; ONNX Runtime runs the same weights 1.4x as fast
    # (benchmarks/CLASSIFY.md), so it may share torch's name, cached embeddings and stored story vectors only if
    # its vectors are torch's to float rounding.
    pytest.importorskip("onnxruntime")
    from supplywatch.classifiers.encoder import Encoder

    default, torch_ = Encoder(), Encoder(backend="torch")
    assert default.backend == ("torch" if torch_.device == "cuda" else "onnx")
    assert (default.name, default.identity) == (torch_.name, torch_.identity)
    sentences = sorted({u for row in examples()[::4] for u in document_units(row.get("title") or "",
                                                                             row.get("text") or "", limit=40)})[:150]
    diff = abs(default.encode(sentences) - torch_.encode(sentences)).max()
    assert diff < 1e-5, diff


@pytest.mark.parametrize("backend", ["auto", "fp32"])
def test_without_onnxruntime_auto_and_fp32_fall_back_to_torch(tmp_path, backend):
    script = ("import sys; sys.modules['onnxruntime'] = None\n"
              "from supplywatch.classifiers.encoder import Encoder\n"
              f"e = Encoder(backend={backend!r})\n"
              "v = e.encode(['a signing key was stolen'])\n"
              "print(e.backend, e.name, v.shape)\n")
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300,
                         env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "SUPPLYWATCH_CACHE": str(tmp_path)})
    assert out.returncode == 0, out.stderr
    backend, name, *_ = out.stdout.split()
    assert backend == "torch" and not name.endswith("-int8") and "(1, 384)" in out.stdout


def test_onnx_asked_for_by_name_without_onnxruntime_is_a_one_line_error(tmp_path):
    script = ("import sys; sys.modules['onnxruntime'] = None\n"
              "from supplywatch.classifiers.encoder import Encoder, ModelError\n"
              "try:\n    Encoder(backend='onnx')\nexcept ModelError as exc:\n    print('ModelError:', exc)\n")
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300,
                         env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "SUPPLYWATCH_CACHE": str(tmp_path)})
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("ModelError: the fp32 ONNX encoder") and len(out.stdout.strip().splitlines()) == 1


def test_the_torch_encoder_hands_freed_heap_back_after_every_batch_not_only_every_call(monkeypatch):
    # Clustering encodes 1,000 lead texts in one call; trimmed once a call, the heap grew 300-500 MB within it
    # (a 100,000-document backfill peaked at 1.57 GB while clustering: benchmarks/BACKFILL.md).
    from supplywatch.classifiers import encoder as encoder_module

    trims = []
    real = encoder_module.release_freed_memory
    monkeypatch.setattr(encoder_module, "release_freed_memory", lambda: trims.append(1) or real())
    enc = encoder_module.Encoder(backend="torch", batch_size=2)
    vectors = enc.encode([f"Sentence number {i} about a stolen signing key." for i in range(5)])
    assert vectors.shape == (5, enc.dim) and len(trims) == 3  # batches of 2, 2 and 1
