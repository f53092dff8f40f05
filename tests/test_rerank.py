"""Cross-encoder plumbing, fusion and hybrid ordering (tiny random model: plumbing only)."""

from __future__ import annotations

import numpy as np
import pytest

from ragcompare.rerank.head import interpolate_hits
from ragcompare.rerank.pipeline import CrossEncoderOnly, HybridPipeline
from ragcompare.retrieval.fusion import FusionRetriever, fuse_hits
from ragcompare.types import Hit, InvalidInputError


def test_rrf_matches_hand_computation():
    a = [[Hit("a", 3), Hit("b", 2), Hit("c", 1)]]
    b = [[Hit("b", 9), Hit("d", 5), Hit("a", 1)]]
    fused = fuse_hits([a, b], k=4)[0]
    assert [h.doc_id for h in fused] == ["b", "a", "d", "c"]
    assert fused[0].score == pytest.approx(1 / 62 + 1 / 61)
    assert fused[1].score == pytest.approx(1 / 61 + 1 / 63)
    with pytest.raises(InvalidInputError):
        fuse_hits([a], k=2)
    with pytest.raises(InvalidInputError):
        fuse_hits([a, a + a], k=2)


def test_interpolation_matches_hand_computed_z_scores():
    first = [[Hit("a", 0.9), Hit("b", 0.5), Hit("c", 0.4)], [Hit("x", 2.0)]]
    ce = [[Hit("c", 8.0), Hit("b", 1.0), Hit("a", -1.0)], [Hit("x", -3.0)]]

    def z(x):
        x = np.asarray(x, dtype=float)
        return (x - x.mean()) / x.std()

    expected = dict(zip("abc", 0.3 * z([-1.0, 1.0, 8.0]) + 0.7 * z([0.9, 0.5, 0.4])))
    out = interpolate_hits(first, ce, alpha=0.3)
    assert [h.doc_id for h in out[0]] == sorted(expected, key=lambda d: -expected[d])
    for h in out[0]:
        assert h.score == pytest.approx(expected[h.doc_id])
    assert out[1] == ce[1]  # one document: nothing to normalise
    assert [h.doc_id for h in interpolate_hits(first, ce, 1.0)[0]] == ["c", "b", "a"]
    assert [h.doc_id for h in interpolate_hits(first, ce, 0.0)[0]] == ["a", "b", "c"]
    for bad in (-0.1, 1.5, "0.5", True):
        with pytest.raises(InvalidInputError):
            interpolate_hits(first, ce, bad)
    with pytest.raises(InvalidInputError):
        interpolate_hits(first, ce[:1], 0.5)
    with pytest.raises(InvalidInputError):
        interpolate_hits(first, [[Hit("a", 1.0), Hit("b", 0.0), Hit("z", 0.0)], ce[1]], 0.5)


def test_fusion_retriever_over_real_retrievers(bi_retriever, small_corpus):
    from ragcompare.retrieval.bm25 import BM25Retriever

    fusion = FusionRetriever([BM25Retriever().index(small_corpus), bi_retriever], k_each=30)
    row = fusion.search(["pressure distribution on a cone"], k=10)[0]
    assert len(row) == 10 and len({h.doc_id for h in row}) == 10
    assert set(fusion.last_timings) == {"bm25", bi_retriever.name, "fuse"}


def test_scores_raw_and_calibrated(tiny_reranker):
    pairs = [("wing flutter", "flutter of a swept wing"), ("heat", "x " * 2000)]  # long: truncated
    raw = tiny_reranker.score_pairs(pairs)
    cal = tiny_reranker.score_pairs(pairs, calibrated=True)
    assert raw.shape == (2,) and np.allclose(cal, 1 / (1 + np.exp(-raw)), atol=1e-6)
    assert ((cal > 0) & (cal < 1)).all()


def test_bad_pairs(tiny_reranker):
    for bad in ("q", ("q", "d"), [("q",)], [("q", 3)], [["q", "d", "e"]]):
        with pytest.raises(InvalidInputError):
            tiny_reranker.score_pairs(bad)
    with pytest.raises(InvalidInputError):
        tiny_reranker.score("", ["doc"])
    assert tiny_reranker.score_pairs([]).shape == (0,)


def test_rerank_orders_by_score_and_cuts_k(tiny_reranker, small_corpus):
    cands = dict(list(small_corpus.items())[:12])
    scores = tiny_reranker.score("wing", list(cands.values()))
    hits = tiny_reranker.rerank("wing", cands, k=5)
    expected = [list(cands)[i] for i in np.argsort(-scores, kind="stable")[:5]]
    assert [h.doc_id for h in hits] == expected
    with pytest.raises(InvalidInputError):
        tiny_reranker.rerank("wing", cands, k=13)


def test_hybrid_reranks_head_and_keeps_tail_order(bi_retriever, tiny_reranker, small_corpus):
    hybrid = HybridPipeline(bi_retriever, tiny_reranker, k_retrieve=8).index(
        small_corpus, index_first_stage=False)
    q = "transition of the boundary layer"
    first = [h.doc_id for h in bi_retriever.search([q], 20)[0]]
    out = hybrid.search([q], k=20)[0]
    head = [h.doc_id for h in out[:8]]
    assert set(head) == set(first[:8])
    expected_head = tiny_reranker.rerank(q, {d: small_corpus[d] for d in first[:8]})
    assert head == [h.doc_id for h in expected_head]
    assert [h.doc_id for h in out[8:]] == first[8:]
    scores = [h.score for h in out]
    assert scores == sorted(scores, reverse=True)
    assert len(hybrid.last_timings["retrieve"]) == len(hybrid.last_timings["rerank"]) == 1
    with pytest.raises(InvalidInputError):
        HybridPipeline(bi_retriever, tiny_reranker, k_retrieve=0)


def test_hybrid_with_alpha_interpolates_the_head(bi_retriever, tiny_reranker, small_corpus):
    q = "transition of the boundary layer"
    first = bi_retriever.search([q], 20)[0]
    reranked = tiny_reranker.rerank(q, {h.doc_id: small_corpus[h.doc_id] for h in first[:8]})
    for alpha in (0.0, 0.5, 1.0):
        hybrid = HybridPipeline(bi_retriever, tiny_reranker, k_retrieve=8, alpha=alpha).index(
            small_corpus, index_first_stage=False)
        out = hybrid.search([q], k=20)[0]
        expected = interpolate_hits([first[:8]], [reranked], alpha)[0]
        assert [h.doc_id for h in out[:8]] == [h.doc_id for h in expected]
        assert [h.doc_id for h in out[8:]] == [h.doc_id for h in first[8:]]
        assert [h.score for h in out] == sorted((h.score for h in out), reverse=True)
    assert [h.doc_id for h in out[:8]] == [h.doc_id for h in reranked]  # alpha = 1
    assert "alpha=0.5" in HybridPipeline(bi_retriever, tiny_reranker, alpha=0.5).name
    with pytest.raises(InvalidInputError):
        HybridPipeline(bi_retriever, tiny_reranker, alpha=2.0)


def test_cross_encoder_only_scores_everything(tiny_reranker, small_corpus):
    few = dict(list(small_corpus.items())[:20])
    only = CrossEncoderOnly(tiny_reranker).index(few)
    out = only.search(["supersonic flow"], k=20)[0]
    assert [h.doc_id for h in out] == [h.doc_id for h in tiny_reranker.rerank("supersonic flow", few)]


def test_bad_settings_are_refused_before_loading(tiny_cross_encoder_dir):
    from ragcompare.rerank.cross_encoder import CrossEncoderReranker

    for bad in ({"max_length": 0}, {"batch_size": -1}, {"max_length": 12.5}, {"batch_size": True}):
        with pytest.raises(InvalidInputError):
            CrossEncoderReranker(str(tiny_cross_encoder_dir), **bad)
    ce = CrossEncoderReranker(str(tiny_cross_encoder_dir), max_length=48, batch_size=3)
    assert (ce.max_length, ce.batch_size, ce.last_timings) == (48, 3, {})
    assert ce.name == f"cross-encoder[{tiny_cross_encoder_dir.name}]"
