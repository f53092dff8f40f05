"""What a careless or hostile user does to saved indexes and mixed components: failed saves at every
write step, flipped bytes, foreign files, another model, another corpus; and property-based queries,
corpora and k against every retriever and the pipeline."""

from __future__ import annotations

import errno
import json
import os
import shutil

import faiss
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ragcompare import storage
from ragcompare.checks import corpus_fingerprint
from ragcompare.rerank.pipeline import CrossEncoderOnly, HybridPipeline
from ragcompare.retrieval.bm25 import BM25Retriever
from ragcompare.retrieval.dense import BiEncoderRetriever, IndexFileError
from ragcompare.retrieval.fusion import FusionRetriever
from ragcompare.types import CorpusMismatchError, InvalidInputError, RagCompareError

QUERIES = ["boundary layer transition", "heat transfer at hypersonic speed", "wing flutter"]
FAULT_STEPS = ("os.replace", "os.fsync", "write")


@pytest.fixture(scope="module")
def corpora(small_corpus):
    """Two different corpora: the first 100 documents and the last 100 of the small corpus."""
    ids = list(small_corpus)
    return ({i: small_corpus[i] for i in ids[:100]}, {i: small_corpus[i] for i in ids[-100:]})


@pytest.fixture(scope="module")
def bi_pair(bi_retriever, small_corpus, corpora):
    """Bi-encoders over corpus A and corpus B, from the session index's vectors (no re-encoding)."""
    ids = list(small_corpus)
    vectors = bi_retriever.faiss_index.reconstruct_n(0, len(ids))
    out = []
    for corpus in corpora:
        r = BiEncoderRetriever(use_cache=False, show_progress=False)
        rows = [ids.index(i) for i in corpus]
        r.add_vectors(list(corpus), vectors[rows], corpus=corpus)
        out.append(r)
    return out


@pytest.fixture(scope="module")
def bm25_pair(corpora):
    return [BM25Retriever().index(c) for c in corpora]


def _load(kind, d):
    return (BiEncoderRetriever.load(d, use_cache=False, show_progress=False) if kind == "bi"
            else BM25Retriever.load(d))


def _pair(kind, bi_pair, bm25_pair):
    return bi_pair if kind == "bi" else bm25_pair


# -- round trip and manifest -----------------------------------------------------------------
@pytest.mark.parametrize("kind", ["bi", "bm25"])
def test_round_trip_keeps_answers_and_fingerprint(kind, bi_pair, bm25_pair, corpora, tmp_path):
    r = _pair(kind, bi_pair, bm25_pair)[0]
    d = r.save(tmp_path / kind)
    back = _load(kind, d)
    assert back.search(QUERIES, 10) == r.search(QUERIES, 10)
    assert back.corpus_fingerprint == r.corpus_fingerprint == corpus_fingerprint(corpora[0])
    manifest = json.loads((d / "manifest.json").read_text())
    assert manifest["meta"]["count"] == len(corpora[0])
    assert set(manifest["files"]) >= {"doc_ids.json"}
    if kind == "bi":
        assert len(manifest["meta"]["model_hash"]) == 64 and manifest["meta"]["dim"] == 384


# -- fault injection: a failed save leaves the previous version -----------------------------
def _count_calls(monkeypatch, target):
    calls = {"n": 0}
    real = getattr(os, target.split(".")[1])

    def counting(*a, **kw):
        calls["n"] += 1
        return real(*a, **kw)

    monkeypatch.setattr(os, target.split(".")[1], counting)
    return calls


def _steps(kind, r, tmp_path, monkeypatch, target) -> int:
    """How many calls of ``target`` one successful save makes (so each can be made to fail)."""
    with monkeypatch.context() as m:
        calls = _count_calls(m, target)
        r.save(tmp_path / "probe")
    shutil.rmtree(tmp_path / "probe")
    return calls["n"]


def _fail_at(monkeypatch, target, at):
    name = target.split(".")[1]
    real = getattr(os, name)
    calls = {"n": 0}

    def failing(*a, **kw):
        calls["n"] += 1
        if calls["n"] == at:
            raise OSError(errno.ENOSPC, "No space left on device (injected)")
        return real(*a, **kw)

    monkeypatch.setattr(os, name, failing)


@pytest.mark.parametrize("kind", ["bi", "bm25"])
@pytest.mark.parametrize("target", ["os.replace", "os.fsync"])
def test_save_failing_at_every_step_keeps_the_previous_index(kind, target, bi_pair, bm25_pair,
                                                             tmp_path, monkeypatch):
    old, new = _pair(kind, bi_pair, bm25_pair)
    d = old.save(tmp_path / "idx")
    expected = old.search(QUERIES, 10)
    steps = _steps(kind, new, tmp_path, monkeypatch, target)
    assert steps >= 1
    for at in range(1, steps + 1):
        with monkeypatch.context() as m:
            _fail_at(m, target, at)
            try:
                new.save(d)
                saved = True
            except (RagCompareError, OSError):
                saved = False
        answers = _load(kind, d).search(QUERIES, 10)
        # a failure before the manifest's rename keeps the old index; a save that went through
        # (a failed directory fsync is not fatal) holds the new one, whole
        wanted = new.search(QUERIES, 10) if saved else expected
        assert answers == wanted, f"save failing at {target} call {at} of {steps}"
        old.save(d)  # back to the old version for the next step
    assert len(list(d.glob("data-*"))) == 1


@pytest.mark.parametrize("kind", ["bi", "bm25"])
def test_save_failing_while_writing_data_keeps_the_previous_index(kind, bi_pair, bm25_pair,
                                                                  tmp_path, monkeypatch):
    old, new = _pair(kind, bi_pair, bm25_pair)
    d = old.save(tmp_path / "idx")
    expected = old.search(QUERIES, 10)

    def broken(*a, **kw):
        raise OSError(errno.EIO, "I/O error (injected)")

    if kind == "bi":
        monkeypatch.setattr(faiss, "write_index", broken)
    else:
        monkeypatch.setattr(type(new.model), "save", broken)
    with pytest.raises(IndexFileError, match="previous version"):
        new.save(d)
    monkeypatch.undo()
    assert _load(kind, d).search(QUERIES, 10) == expected
    assert len(list(d.glob("data-*"))) == 1


def test_unencodable_metadata_is_refused_before_writing(bi_pair, tmp_path):
    old = bi_pair[0]
    d = old.save(tmp_path / "idx")
    before = sorted(p.name for p in d.rglob("*"))
    broken = BiEncoderRetriever(use_cache=False, show_progress=False)
    broken.faiss_index, broken.doc_ids = bi_pair[1].faiss_index, bi_pair[1].doc_ids
    broken.search_params = {"nprobe": object()}  # bypasses the setter's checks on purpose
    with pytest.raises(IndexFileError, match="JSON"):
        broken.save(d)
    assert sorted(p.name for p in d.rglob("*")) == before
    assert BiEncoderRetriever.load(d, use_cache=False).search(QUERIES, 5) == old.search(QUERIES, 5)


def test_numpy_scalars_are_plain_numbers_when_saved(bi_pair, tmp_path):
    r = BM25Retriever(k1=np.float32(1.2), b=np.float64(0.7)).index(dict(zip("ab", ["wing", "flow"])))
    back = BM25Retriever.load(r.save(tmp_path / "bm25"))
    assert (back.k1, back.b) == (pytest.approx(1.2), 0.7)
    ivf = BiEncoderRetriever(index_factory="IVF2,Flat", use_cache=False,
                             search_params={"nprobe": np.int64(2)})
    ivf.add_vectors(bi_pair[0].doc_ids, bi_pair[0].faiss_index.reconstruct_n(0, 100))
    assert BiEncoderRetriever.load(ivf.save(tmp_path / "ivf"), use_cache=False).search_params == {"nprobe": 2}


def test_refused_search_params_are_not_kept(bi_pair, tmp_path):
    r = bi_pair[0]
    with pytest.raises(InvalidInputError, match="no parameter"):
        r.set_search_params(nprobe=4)
    assert r.search_params == {}
    back = BiEncoderRetriever.load(r.save(tmp_path / "idx"), use_cache=False)
    assert back.search(QUERIES, 5) == r.search(QUERIES, 5)
    for bad in ({"nprobe": "4"}, {"nprobe": float("nan")}, {"nprobe": -1}, {"nprobe": True}):
        with pytest.raises(InvalidInputError):
            r.set_search_params(**bad)
        assert r.search_params == {}
    with pytest.raises(InvalidInputError):
        BiEncoderRetriever(use_cache=False, search_params={3: 1})


def test_two_kinds_never_share_a_folder(bi_pair, bm25_pair, tmp_path):
    d = bi_pair[0].save(tmp_path / "both")
    with pytest.raises(IndexFileError, match="already holds a bi-encoder index"):
        bm25_pair[0].save(d)
    assert BiEncoderRetriever.load(d, use_cache=False).search(QUERIES, 3) == bi_pair[0].search(QUERIES, 3)
    with pytest.raises(IndexFileError, match="not a 'bm25 index'"):
        BM25Retriever.load(d)


# -- corruption ------------------------------------------------------------------------------
def _flip(path, where=0.5):
    raw = bytearray(path.read_bytes())
    raw[int(len(raw) * where)] ^= 0xFF
    path.write_bytes(bytes(raw))


CORRUPTIONS = {
    "flip a byte of each data file": lambda d: [_flip(p) for p in d.glob("data-*/**/*") if p.is_file()],
    "flip the first data file": lambda d: _flip(sorted(p for p in d.glob("data-*/**/*") if p.is_file())[0]),
    "truncate the ids": lambda d: next(d.glob("data-*/doc_ids.json")).write_text("[\"1\""),
    "replace the ids": lambda d: next(d.glob("data-*/doc_ids.json")).write_text("[]"),
    "truncate the manifest": lambda d: (d / "manifest.json").write_bytes(
        (d / "manifest.json").read_bytes()[:40]),
    "manifest is a list": lambda d: (d / "manifest.json").write_text("[]"),
    "manifest of another format": lambda d: _edit(d, format="other/9"),
    "manifest names no files": lambda d: _edit(d, files=None),
    "manifest names a foreign data folder": lambda d: _edit(d, data="../../etc"),
    "manifest is not UTF-8": lambda d: (d / "manifest.json").write_bytes(b"\xff\xfe{"),
    "data folder deleted": lambda d: shutil.rmtree(next(d.glob("data-*"))),
    "data file deleted": lambda d: next(d.glob("data-*/doc_ids.json")).unlink(),
    "manifest deleted": lambda d: (d / "manifest.json").unlink(),
    "manifest replaced by a folder": lambda d: ((d / "manifest.json").unlink(),
                                                (d / "manifest.json").mkdir()),
    "foreign files only": lambda d: (shutil.rmtree(d), d.mkdir(), (d / "index.faiss").write_bytes(b"x" * 99)),
    "legacy meta of another kind": lambda d: (shutil.rmtree(d), d.mkdir(),
                                              (d / "meta.json").write_text('{"format": "x/1"}')),
    "legacy meta corrupt": lambda d: (shutil.rmtree(d), d.mkdir(), (d / "meta.json").write_text("{")),
}


def _edit(d, **changes):
    m = json.loads((d / "manifest.json").read_text())
    m.update(changes)
    (d / "manifest.json").write_text(json.dumps(m))


@pytest.mark.parametrize("kind", ["bi", "bm25"])
@pytest.mark.parametrize("how", list(CORRUPTIONS))
def test_damaged_index_is_refused_clearly(kind, how, bi_pair, bm25_pair, tmp_path):
    d = _pair(kind, bi_pair, bm25_pair)[0].save(tmp_path / "idx")
    CORRUPTIONS[how](d)
    with pytest.raises(IndexFileError):
        _load(kind, d)


@pytest.mark.parametrize("kind", ["bi", "bm25"])
def test_extra_files_do_not_matter(kind, bi_pair, bm25_pair, tmp_path):
    r = _pair(kind, bi_pair, bm25_pair)[0]
    d = tmp_path / "idx"
    d.mkdir()
    (d / "notes.txt").write_text("mine")
    r.save(d)
    (d / "data-zzz").mkdir()
    assert _load(kind, d).search(QUERIES, 3) == r.search(QUERIES, 3)
    assert (d / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize("path_kind", ["file", "missing"])
def test_load_or_save_where_no_folder_is(path_kind, bi_pair, tmp_path):
    target = tmp_path / "x"
    if path_kind == "file":
        target.write_text("not a folder")
        with pytest.raises(IndexFileError, match="file, not a folder"):
            bi_pair[0].save(target)
    with pytest.raises(IndexFileError):
        BiEncoderRetriever.load(target)


def test_legacy_index_still_loads(bi_pair, tmp_path):
    r = bi_pair[0]
    d = tmp_path / "old"
    d.mkdir()
    faiss.write_index(r.faiss_index, str(d / "index.faiss"))
    (d / "meta.json").write_text(json.dumps({
        "format": "ragcompare.bi_encoder/1", "model": r.model_name, "query_model": None,
        "index_factory": "Flat", "dim": 384, "max_seq_length": 256, "search_params": {},
        "batch_size": 64, "doc_ids": r.doc_ids}))
    back = BiEncoderRetriever.load(d, use_cache=False)
    assert back.search(QUERIES, 5) == r.search(QUERIES, 5)
    assert back.corpus_fingerprint == corpus_fingerprint(r.doc_ids)
    (d / "meta.json").write_text(json.dumps({"format": "ragcompare.bi_encoder/1", "dim": 384,
                                             "doc_ids": r.doc_ids}))
    with pytest.raises(IndexFileError, match="incomplete"):
        BiEncoderRetriever.load(d)


def test_loading_with_another_model_of_the_same_size_is_refused(bi_pair, tmp_path):
    from tests._tiny import tiny_bert

    other = tiny_bert(tmp_path / "other-384", classifier=False, hidden=384)
    d = bi_pair[0].save(tmp_path / "idx")
    with pytest.raises(IndexFileError, match="other weights"):
        BiEncoderRetriever.load(d, model=str(other), max_seq_length=32, use_cache=False)


# -- components over different corpora -------------------------------------------------------
def test_fusion_of_different_corpora_is_refused(bi_pair, bm25_pair):
    with pytest.raises(CorpusMismatchError, match="different corpora"):
        FusionRetriever([bm25_pair[1], bi_pair[0]])
    fused = FusionRetriever([bm25_pair[0], bi_pair[0]])
    assert fused.corpus_fingerprint == bi_pair[0].corpus_fingerprint
    assert {h.doc_id for row in fused.search(QUERIES, 10) for h in row} <= set(bi_pair[0].doc_ids)


def test_fusion_notices_a_retriever_reindexed_later(corpora):
    a, b = BM25Retriever().index(corpora[0]), BM25Retriever().index(corpora[0])
    fused = FusionRetriever([a, b])
    b.index(corpora[1])
    with pytest.raises(CorpusMismatchError):
        fused.search(QUERIES, 5)


def test_same_ids_other_texts_is_a_different_corpus(corpora):
    changed = dict(corpora[0])
    first = next(iter(changed))
    changed[first] = changed[first] + " (edited)"
    with pytest.raises(CorpusMismatchError):
        FusionRetriever([BM25Retriever().index(corpora[0]), BM25Retriever().index(changed)])


def test_pipeline_refuses_a_first_stage_over_another_corpus(bm25_pair, corpora, tiny_reranker):
    hybrid = HybridPipeline(bm25_pair[1], tiny_reranker, k_retrieve=5)
    with pytest.raises(CorpusMismatchError):
        hybrid.index(corpora[0], index_first_stage=False)
    with pytest.raises(RagCompareError, match="indexed nothing"):
        HybridPipeline(BM25Retriever(), tiny_reranker).index(corpora[0], index_first_stage=False)
    first = BM25Retriever().index(corpora[0])
    hybrid = HybridPipeline(first, tiny_reranker, k_retrieve=5).index(corpora[0], index_first_stage=False)
    first.index(corpora[1])  # re-indexed behind the pipeline's back
    with pytest.raises(CorpusMismatchError, match="another corpus"):
        hybrid.search(["wing flutter supersonic flow"], 5)


@pytest.mark.parametrize("bad", [
    {"first_stage": "bm25"}, {"reranker": None}, {"k_retrieve": 0}, {"k_retrieve": 2.5},
    {"k_retrieve": True}, {"alpha": 1.5}, {"alpha": float("nan")}, {"alpha": "0.5"}, {"name": " \u200b"},
])
def test_pipeline_refuses_bad_parts(bad, bm25_pair, tiny_reranker):
    kwargs = {"first_stage": bm25_pair[0], "reranker": tiny_reranker, **bad}
    with pytest.raises(InvalidInputError):
        HybridPipeline(**kwargs)


@pytest.mark.parametrize("bad", [
    {"retrievers": []}, {"retrievers": "bm25"}, {"k_each": 0}, {"k_each": np.float64(3)},
    {"method": "nope"}, {"params": [60]}, {"params": {"k": -1}},
])
def test_fusion_refuses_bad_settings(bad, bm25_pair):
    kwargs = {"retrievers": [bm25_pair[0], bm25_pair[0]], **bad}
    with pytest.raises(InvalidInputError):
        FusionRetriever(**kwargs)


@pytest.mark.parametrize("bad", [
    {"k1": -1}, {"k1": float("inf")}, {"k1": "1.2"}, {"b": 1.5}, {"method": "okapi"},
    {"language": "klingon"}, {"language": 3}, {"stopwords": "xx"}, {"stopwords": [1, 2]},
])
def test_bm25_refuses_bad_settings(bad):
    with pytest.raises(InvalidInputError):
        BM25Retriever(**bad)


@pytest.mark.parametrize("corpus", [
    {"a": "the of and", "b": "a an"}, {"a": "", "b": "   "}, {"a": "\u200b\u200b"},
])
def test_bm25_corpus_without_indexable_words(corpus):
    with pytest.raises(InvalidInputError, match="indexable word"):
        BM25Retriever().index(corpus)


@pytest.mark.parametrize("query", ["\u200b\u200b", "\x00\x00", "\u2060", " \t\n", "\ufeff", "\x1b"])
@pytest.mark.parametrize("kind", ["bi", "bm25", "cross-encoder"])
def test_invisible_queries_are_empty_everywhere(kind, query, bi_pair, bm25_pair, tiny_reranker, corpora):
    if kind == "cross-encoder":
        with pytest.raises(InvalidInputError, match="empty"):
            tiny_reranker.score(query, ["a document"])
        return
    with pytest.raises(InvalidInputError, match="empty"):
        _pair(kind, bi_pair, bm25_pair)[0].search([query], 3)


@pytest.mark.parametrize("k", [np.int64(2), np.int32(2), np.uint8(2)])
def test_numpy_integer_k_is_an_int(k, bi_pair, bm25_pair):
    for r in (bi_pair[0], bm25_pair[0], FusionRetriever([bi_pair[0], bm25_pair[0]])):
        assert all(len(row) <= 2 for row in r.search(QUERIES, k))


@pytest.mark.parametrize("bad", [{"batch_size": 2.5}, {"batch_size": 0}, {"max_seq_length": 1024},
                                 {"max_seq_length": 0}, {"model": ""}, {"index_factory": " "}])
def test_bi_encoder_refuses_bad_settings(bad):
    with pytest.raises(InvalidInputError):
        BiEncoderRetriever(use_cache=False, **bad)


@pytest.mark.parametrize("bad", [np.full((1, 384), np.nan, np.float32), np.zeros((1, 3), np.float32)])
def test_bad_vectors_are_refused(bad, bi_pair):
    with pytest.raises(InvalidInputError):
        bi_pair[0].search_vectors(bad, 3)
    with pytest.raises(InvalidInputError):
        BiEncoderRetriever(use_cache=False, show_progress=False).add_vectors(["a"], bad)


# -- property-based: any queries, corpora, k -------------------------------------------------
TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)
WORDS = st.lists(st.sampled_from(["wing", "flow", "shock", "the", "layer", "heat", "\u200b", "Ω",
                                  "boundary", "of", "x" * 30, "1e9", "ﬂow"]), max_size=8).map(" ".join)
K = st.one_of(st.integers(-3, 130), st.sampled_from([np.int64(5), 2.0, True, None, "3"]))
QUERY_LISTS = st.lists(st.one_of(TEXT, WORDS), min_size=0, max_size=3)
PROPS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _valid(hits, n_queries, k, ids):
    assert len(hits) == n_queries
    for row in hits:
        assert len(row) <= k
        assert len({h.doc_id for h in row}) == len(row) and {h.doc_id for h in row} <= ids
        scores = [h.score for h in row]
        assert all(np.isfinite(scores)) and scores == sorted(scores, reverse=True)


def _search_or_refuse(retriever, queries, k, ids):
    try:
        hits = retriever.search(queries, k)
    except InvalidInputError:
        return
    _valid(hits, len(queries), k, ids)


@PROPS
@given(queries=QUERY_LISTS, k=K)
def test_any_queries_and_k_bm25(bm25_pair, queries, k):
    _search_or_refuse(bm25_pair[0], queries, k, set(bm25_pair[0].doc_ids))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(queries=QUERY_LISTS, k=K)
def test_any_queries_and_k_bi_encoder_and_fusion(bi_pair, bm25_pair, queries, k):
    _search_or_refuse(bi_pair[0], queries, k, set(bi_pair[0].doc_ids))
    _search_or_refuse(FusionRetriever([bi_pair[0], bm25_pair[0]]), queries, k, set(bi_pair[0].doc_ids))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(queries=st.lists(WORDS, min_size=0, max_size=2), k=K,
       alpha=st.one_of(st.none(), st.floats(0, 1)), depth=st.integers(1, 12))
def test_any_queries_and_k_pipeline(bm25_pair, tiny_reranker, corpora, queries, k, alpha, depth):
    hybrid = HybridPipeline(bm25_pair[0], tiny_reranker, k_retrieve=depth, alpha=alpha)
    hybrid.index(corpora[0], index_first_stage=False)
    _search_or_refuse(hybrid, queries, k, set(corpora[0]))


@PROPS
@given(corpus=st.dictionaries(st.one_of(TEXT, st.integers()), st.one_of(TEXT, WORDS, st.none()),
                              max_size=6),
       queries=st.lists(WORDS, min_size=1, max_size=2), k=st.integers(-1, 7))
def test_any_corpus_bm25(corpus, queries, k):
    try:
        r = BM25Retriever().index(corpus)
    except InvalidInputError:
        return
    assert r.corpus_fingerprint == corpus_fingerprint(corpus)
    _search_or_refuse(r, queries, k, set(corpus))


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(corpus=st.dictionaries(WORDS.filter(str.strip), WORDS, min_size=1, max_size=4), k=st.integers(0, 5))
def test_any_corpus_cross_encoder_only(tiny_reranker, corpus, k):
    try:
        only = CrossEncoderOnly(tiny_reranker).index(corpus)
    except InvalidInputError:
        assert not all(k.strip("\u200b ") for k in corpus)
        return
    _search_or_refuse(only, ["wing flow"], k, set(corpus))


def test_storage_atomic_write_keeps_old_file_on_failure(tmp_path, monkeypatch):
    target = tmp_path / "f.json"
    storage.atomic_write_json(target, {"v": 1})
    for at in (1,):
        with monkeypatch.context() as m:
            _fail_at(m, "os.replace", at)
            with pytest.raises(OSError):
                storage.atomic_write_json(target, {"v": 2})
    assert json.loads(target.read_text()) == {"v": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["f.json"]  # no temporary left behind
    with pytest.raises(storage.ArtifactError, match="JSON"):
        storage.atomic_write_json(target, {"v": float("nan")})
    assert json.loads(target.read_text()) == {"v": 1}


def test_storage_atomic_directory_keeps_old_folder_on_failure(tmp_path):
    target = tmp_path / "pack"
    with storage.atomic_directory(target) as d:
        (d / "a").write_text("old")
    with pytest.raises(RuntimeError), storage.atomic_directory(target) as d:
        (d / "a").write_text("new")
        raise RuntimeError("interrupted")
    assert (target / "a").read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["pack"]


def test_legacy_bm25_index_still_loads(bm25_pair, tmp_path):
    r = bm25_pair[0]
    d = tmp_path / "old-bm25"
    r.model.save(str(d), allow_pickle=False, show_progress=False)
    meta = {"format": "ragcompare.bm25/1", "k1": r.k1, "b": r.b, "method": r.method,
            "language": r.language, "stopwords": r.stopwords, "doc_ids": r.doc_ids}
    (d / "meta.json").write_text(json.dumps(meta))
    assert BM25Retriever.load(d).search(QUERIES, 5) == r.search(QUERIES, 5)
    (d / "meta.json").write_text(json.dumps({**meta, "doc_ids": r.doc_ids[:-1]}))
    with pytest.raises(IndexFileError, match="disagree"):
        BM25Retriever.load(d)
