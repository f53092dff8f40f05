"""Bi-encoder and BM25 retrieval with the real model, persistence, and bad input."""

from __future__ import annotations

import numpy as np
import pytest

from ragcompare.retrieval.bm25 import BM25Retriever
from ragcompare.retrieval.cache import EmbeddingCache
from ragcompare.retrieval.dense import BiEncoderRetriever, IndexFileError
from ragcompare.types import InvalidInputError, RagCompareError


def _titles(small_corpus, cranfield, n=25):
    ids = list(small_corpus)[:n]
    return ids, [cranfield.corpus[i].title for i in ids]


@pytest.fixture(scope="module")
def bm25(small_corpus):
    return BM25Retriever().index(small_corpus)


@pytest.mark.parametrize("which", ["bi", "bm25"])
def test_title_finds_its_document_in_top3(which, bi_retriever, bm25, small_corpus, cranfield):
    retriever = bi_retriever if which == "bi" else bm25
    ids, titles = _titles(small_corpus, cranfield)
    hits = retriever.search(titles, k=3)
    found = sum(doc_id in [h.doc_id for h in row] for doc_id, row in zip(ids, hits))
    assert found >= 0.9 * len(ids), f"{which}: only {found}/{len(ids)} titles found their doc"


def test_hits_are_sorted_and_cosine_bounded(bi_retriever):
    row = bi_retriever.search(["shock waves on a flat plate"], k=10)[0]
    scores = [h.score for h in row]
    assert scores == sorted(scores, reverse=True) and len(row) == 10
    assert all(-1.0001 <= s <= 1.0001 for s in scores)


def test_bi_encoder_save_load_round_trip(bi_retriever, small_corpus, tmp_path):
    queries = ["boundary layer transition", "heat transfer at hypersonic speed"]
    before = bi_retriever.search(queries, k=20)
    bi_retriever.save(tmp_path / "idx")
    loaded = BiEncoderRetriever.load(tmp_path / "idx", use_cache=False, show_progress=False)
    assert loaded.search(queries, k=20) == before
    assert loaded.doc_ids == list(small_corpus)


def test_bm25_save_load_round_trip(bm25, tmp_path):
    queries = ["boundary layer transition", "heat transfer at hypersonic speed"]
    bm25.save(tmp_path / "bm25")
    assert BM25Retriever.load(tmp_path / "bm25").search(queries, k=20) == bm25.search(queries, 20)


def test_corrupt_or_missing_index_files(bi_retriever, tmp_path):
    d = bi_retriever.save(tmp_path / "idx")
    (d / "manifest.json").write_text("{oops")
    with pytest.raises(IndexFileError, match="corrupt"):
        BiEncoderRetriever.load(d)
    with pytest.raises(IndexFileError, match="nothing was saved"):
        bi_retriever.save(d)
    (d / "manifest.json").unlink()
    bi_retriever.save(d)
    (index_file,) = d.glob("data-*/index.faiss")
    raw = index_file.read_bytes()
    index_file.write_bytes(raw[: len(raw) // 3])
    with pytest.raises(IndexFileError, match="does not match its recorded sha256"):
        BiEncoderRetriever.load(d)
    index_file.unlink()
    with pytest.raises(IndexFileError, match="index.faiss is missing"):
        BiEncoderRetriever.load(d)
    with pytest.raises(IndexFileError, match="not a folder"):
        BM25Retriever.load(tmp_path / "nothing")


def test_ivf_index_with_nprobe(bi_retriever, small_corpus):
    vecs = bi_retriever.encode_documents(list(small_corpus.values()))
    ivf = BiEncoderRetriever(index_factory="IVF4,Flat", use_cache=False, show_progress=False,
                             search_params={"nprobe": 4})
    ivf.add_vectors(list(small_corpus), vecs)
    q = bi_retriever.encode_queries(["supersonic wing flutter"])
    assert [h.doc_id for h in ivf.search_vectors(q, 5)[0]] == \
        [h.doc_id for h in bi_retriever.search_vectors(q, 5)[0]]  # nprobe = nlist is exact
    with pytest.raises(InvalidInputError, match="no parameter"):
        ivf.set_search_params(efSearch=5)


def test_embedding_cache_round_trip(tmp_path, bi_retriever):
    cache = EmbeddingCache("test-model", tmp_path / "c.sqlite")
    calls = []

    def enc(texts):
        calls.append(list(texts))
        return bi_retriever.model.encode(texts, normalize_embeddings=True)

    texts = ["a wing", "a shock", "a wing"]
    first = cache.get_or_compute(texts, enc)
    second = cache.get_or_compute(texts, enc)
    assert np.array_equal(first, second) and calls == [["a wing", "a shock"]]
    assert cache.hits == 3 and cache.misses == 3 and cache.hit_rate == 0.5


@pytest.mark.parametrize("which", ["bi", "bm25"])
def test_bad_queries_and_k(which, bi_retriever, bm25):
    r = bi_retriever if which == "bi" else bm25
    n = len(r.doc_ids)
    for bad_k in (0, -1, n + 1, 2.5, True):
        with pytest.raises(InvalidInputError):
            r.search(["wing"], k=bad_k)
    for bad in ([""], ["   "], [], "wing", [3], None):
        with pytest.raises(InvalidInputError):
            r.search(bad, k=1)
    assert len(r.search(["wing"], k=n)[0]) <= n


@pytest.mark.parametrize("cls", [BM25Retriever, lambda: BiEncoderRetriever(use_cache=False)])
def test_bad_corpora(cls):
    r = cls()
    with pytest.raises(RagCompareError, match="before searching"):
        r.search(["x"], 1)
    for bad, msg in (({}, "empty"), ({"a": 3}, "not str"), ({1: "x"}, "non-empty str"),
                     (["a", "b"], "mapping")):
        with pytest.raises(InvalidInputError, match=msg):
            r.index(bad)


def test_vector_checks(bi_retriever):
    with pytest.raises(InvalidInputError, match="shape"):
        bi_retriever.search_vectors(np.zeros((1, 7), dtype=np.float32), 3)
    r = BiEncoderRetriever(use_cache=False, show_progress=False)
    with pytest.raises(InvalidInputError, match="duplicate"):
        r.add_vectors(["a", "a"], np.zeros((2, r.dim), dtype=np.float32))
    with pytest.raises(InvalidInputError, match="ids for"):
        r.add_vectors(["a"], np.zeros((2, r.dim), dtype=np.float32))
    ivf = BiEncoderRetriever(index_factory="IVF64,Flat", use_cache=False)
    with pytest.raises(InvalidInputError, match="could not build"):
        ivf.add_vectors(["a", "b"], np.ones((2, r.dim), dtype=np.float32))  # 2 points, 64 lists


def test_stopword_only_query_matches_nothing(bm25):
    assert bm25.search(["the of and"], k=5) == [[]]


def test_tokenize_is_the_retrievers_own(bm25, small_corpus):
    from ragcompare.retrieval.bm25 import tokenize

    tokens = tokenize(["The flows over the wings"], return_ids=False)
    assert tokens == [["flow", "over", "wing"]]  # stopwords ("the") out, Snowball stems
    pre = BM25Retriever().index_tokens(list(small_corpus), tokenize(list(small_corpus.values())))
    queries = ["boundary layer transition", "heat transfer at hypersonic speed"]
    assert pre.search(queries, 10) == bm25.search(queries, 10)
    assert bm25.search_tokens(tokenize(queries, return_ids=False), 10) == bm25.search(queries, 10)
    with pytest.raises(InvalidInputError, match="document ids"):
        BM25Retriever().index_tokens(["a"], tokenize(["x y", "z w"]))
    with pytest.raises(InvalidInputError, match="duplicate"):
        BM25Retriever().index_tokens(["a", "a"], tokenize(["wing", "flow"]))
    with pytest.raises(RagCompareError, match="before searching"):
        BM25Retriever().search_tokens([["wing"]], 1)
