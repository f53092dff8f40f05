"""Fast correctness tests for ragcompare.rerank.onnx, ragcompare.eval.speed, ragcompare.eval.ann,
ragcompare.eval.perf and the timing harness.

The tiny randomly-initialised BERT built here only exercises the code paths; its scores and
timings are never results. No test asserts on speed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _tiny import WORDS, tiny_bert  # noqa: E402

from ragcompare.eval import ann, perf, speed, timing
from ragcompare.types import InvalidInputError, Reranker


def _tiny_bert(path: Path, classifier: bool, seed: int = 0) -> Path:
    return tiny_bert(path, classifier=classifier, seed=seed)


def _texts(n: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, int(rng.integers(2, 12)))) for _ in range(n)]


@pytest.fixture()
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("RAGCOMPARE_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


# -- ONNX ---------------------------------------------------------------------------------------
def test_onnx_cross_encoder_matches_torch(tmp_path, cache) -> None:
    pytest.importorskip("onnxruntime")
    from ragcompare.rerank import onnx as optimize
    from ragcompare.rerank.cross_encoder import CrossEncoderReranker

    model = str(_tiny_bert(tmp_path / "ce", classifier=True))
    torch_ce = CrossEncoderReranker(model, max_length=32)
    pairs = list(zip(_texts(20, 1), _texts(20, 2)))
    ref = torch_ce.score_pairs(pairs)
    for variant in ("onnx-fp32", "onnx-opt-fp32"):
        onnx_ce = optimize.OnnxCrossEncoderReranker(model, variant=variant, max_length=32, batch_size=4)
        got = onnx_ce.score_pairs(pairs)
        np.testing.assert_allclose(got, ref, atol=1e-4, rtol=1e-4)
        assert str(onnx_ce.onnx_path).startswith(str(cache))
    int8 = optimize.OnnxCrossEncoderReranker(model, variant="onnx-int8", max_length=32)
    got = int8.score_pairs(pairs)
    assert got.shape == ref.shape and np.isfinite(got).all()
    # unsorted batches give the same scores as length-sorted ones
    int8.model.sort_by_length = False
    np.testing.assert_allclose(int8.score_pairs(pairs), got, atol=1e-5)
    hits = int8.rerank("cat sat", {"a": "the cat sat", "b": "heat flow", "c": "dog"}, k=2)
    assert len(hits) == 2 and hits[0].score >= hits[1].score
    assert isinstance(int8, Reranker) and int8.max_length == 32 and "onnx-int8" in int8.name
    assert int8.rerank("cat", {"a": "the cat", "b": "dog"}, calibrated=True)[0].score <= 1.0


def test_onnx_export_is_cached(tmp_path, cache) -> None:
    pytest.importorskip("onnxruntime")
    from ragcompare.rerank import onnx as optimize

    model = str(_tiny_bert(tmp_path / "ce", classifier=True))
    folder = optimize.export_onnx(model, "cross-encoder")
    stamp = (folder / "model.onnx").stat().st_mtime_ns
    assert optimize.export_onnx(model, "cross-encoder") == folder
    assert (folder / "model.onnx").stat().st_mtime_ns == stamp
    with pytest.raises(InvalidInputError):
        optimize.onnx_dir(model, "reranker")
    with pytest.raises(InvalidInputError):
        optimize.prepare(model, "cross-encoder", ["onnx-fp16"])


def test_onnx_sentence_encoder_matches_sentence_transformers(tmp_path, cache) -> None:
    pytest.importorskip("onnxruntime")
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer

    from ragcompare.rerank import onnx as optimize

    body = _tiny_bert(tmp_path / "body", classifier=False)
    tr = Transformer(str(body), max_seq_length=32)
    st = SentenceTransformer(modules=[tr, Pooling(tr.get_embedding_dimension(), "mean"), Normalize()])
    st.save(str(tmp_path / "st"))
    model = str(tmp_path / "st")
    texts = _texts(15, 3)
    ref = SentenceTransformer(model).encode(texts, normalize_embeddings=True)
    path = optimize.prepare(model, "bi-encoder", ["onnx-fp32"])["onnx-fp32"]
    enc = optimize.OnnxSentenceEncoder(path)
    np.testing.assert_allclose(enc.encode(texts, batch_size=4), ref, atol=1e-5)
    assert enc.get_sentence_embedding_dimension() == ref.shape[1]


def test_padding_cost_model() -> None:
    from ragcompare.eval.speed import padded_tokens
    from ragcompare.rerank.onnx import batch_order

    lengths = [5, 50, 6, 48]
    assert list(batch_order(lengths, True)) == [1, 3, 2, 0]
    assert list(batch_order(lengths, False)) == [0, 1, 2, 3]
    assert padded_tokens(lengths, 2, sort_by_length=False) == 2 * 50 + 2 * 48
    assert padded_tokens(lengths, 2, sort_by_length=True) == 2 * 50 + 2 * 6
    with pytest.raises(InvalidInputError):
        padded_tokens(lengths, 0, True)


def test_score_agreement() -> None:
    from ragcompare.eval.speed import score_agreement

    a = np.array([0.1, 0.5, 0.3])
    out = score_agreement(a, a + 0.01)
    assert out["spearman"] == pytest.approx(1.0) and out["max_abs_diff"] == pytest.approx(0.01)
    # tied scores get average ranks (scipy): identical vectors with ties agree perfectly
    tied = np.array([1.0, 1.0, 2.0, 0.0])
    assert score_agreement(tied, tied)["spearman"] == pytest.approx(1.0)
    assert score_agreement(tied, [1.0, 1.0, 3.0, -1.0])["spearman"] == pytest.approx(1.0)
    with pytest.raises(InvalidInputError):
        score_agreement(a, a[:2])


def test_pool_comparisons_weights_queries_and_keeps_collections_apart() -> None:
    import pandas as pd

    from ragcompare.eval.metrics import evaluate
    from ragcompare.eval.speed import pool_comparisons
    from ragcompare.types import Hit

    def hits(*ids: str) -> list[Hit]:
        return [Hit(d, float(len(ids) - i)) for i, d in enumerate(ids)]

    # the same query id "1" in both collections must not collide
    qrels_a = {"1": {"x": 1}, "2": {"y": 1}}
    qrels_b = {"1": {"z": 1}}
    res_a = {"base": {"1": hits("x", "y"), "2": hits("x", "y")},
             "fast": {"1": hits("y", "x"), "2": hits("x", "y")}}
    res_b = {"base": {"1": hits("w", "z")}, "fast": {"1": hits("z", "w")}}

    def frame(res, qrels, pairs, seconds):
        return pd.DataFrame([{"variant": n, "ndcg@10": evaluate(res[n], qrels, ["ndcg@10"])["ndcg@10"],
                              "pairs": pairs, "pairs_per_s": pairs / s}
                             for n, s in zip(res, seconds)]).set_index("variant")

    parts = {"a": (frame(res_a, qrels_a, 4, [2.0, 1.0]), res_a, qrels_a),
             "b": (frame(res_b, qrels_b, 2, [2.0, 0.5]), res_b, qrels_b)}
    out = pool_comparisons(parts)
    per_query = {"base": [1.0, 1 / np.log2(3), 1 / np.log2(3)], "fast": [1 / np.log2(3), 1 / np.log2(3), 1.0]}
    for n, scores in per_query.items():
        assert out.loc[n, "ndcg@10"] == pytest.approx(np.mean(scores))
    assert out.loc["base", "queries"] == 3 and out.loc["base", "pairs"] == 6
    assert out.loc["fast", "pairs_per_s"] == pytest.approx(6 / 1.5)
    assert out.loc["fast", "speedup"] == pytest.approx((6 / 1.5) / (6 / 4.0))
    assert (out.loc["fast", "wins"], out.loc["fast", "ties"], out.loc["fast", "losses"]) == (1, 1, 1)
    assert 0.0 <= out.loc["fast", "p_value"] <= 1.0 and out.loc["base", "diff"] == 0
    assert out.loc["fast", "diff"] == pytest.approx(out.loc["fast", "ndcg@10"] - out.loc["base", "ndcg@10"])
    assert out.loc["fast", "diff_low"] <= out.loc["fast", "diff"] <= out.loc["fast", "diff_high"]
    with pytest.raises(InvalidInputError):
        pool_comparisons({})
    with pytest.raises(InvalidInputError):
        pool_comparisons(parts, baseline="missing")


def test_interpolated_results_reuse_scores_and_first_stage() -> None:
    from ragcompare.eval.speed import interpolated_results
    from ragcompare.rerank.head import interpolate_hits
    from ragcompare.types import Hit

    class Stage:
        calls = 0

        def search(self, queries, k):
            Stage.calls += 1
            return [[Hit(d, s) for d, s in (("a", 3.0), ("b", 2.0), ("c", 1.0))][:k] for _ in queries]

    reranked = {"q1": [Hit("c", 9.0), Hit("a", 1.0), Hit("b", 0.0)],
                "q2": [Hit("b", 5.0), Hit("a", 4.0), Hit("c", -1.0)]}
    results = {"fp32": reranked, "int8": reranked}
    out = interpolated_results(Stage(), {"q1": "x", "q2": "y"}, results, alpha=0.5)
    heads = Stage().search(["x", "y"], 3)
    assert out["fp32"] == out["int8"] == dict(zip(["q1", "q2"], interpolate_hits(
        heads, [reranked["q1"], reranked["q2"]], 0.5)))
    assert Stage.calls == 2  # one search for both variants, one for the expected value


# -- FAISS --------------------------------------------------------------------------------------
def _vectors(n: int, d: int = 32, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_recall_at_k() -> None:
    truth = np.array([[1, 2, 3], [4, 5, 6]])
    assert ann.recall_at_k(truth, truth, 3) == 1.0
    assert ann.recall_at_k(np.array([[3, 9, 1], [7, 8, 9]]), truth, 3) == pytest.approx(2 / 6)
    assert ann.recall_at_k(np.array([[2, 1, 0], [4, 0, 0]]), truth, 2) == pytest.approx(3 / 4)
    with pytest.raises(InvalidInputError):
        ann.recall_at_k(truth, truth, 4)
    with pytest.raises(InvalidInputError):
        ann.recall_at_k(truth[:1], truth, 1)


def test_validate_spec_rejects_bad_configs() -> None:
    ok = ann.IndexSpec("pq", "PQ8x4")
    ann.validate_spec(ok, 32, 1000)
    bad = [
        (ann.IndexSpec("pq", "PQ7x8"), 32, 100_000),           # 7 does not divide 32
        (ann.IndexSpec("pca", "PCA64,Flat"), 32, 1000),        # PCA larger than input
        (ann.IndexSpec("ivf", "IVF1024,Flat"), 32, 1000),      # too few training vectors
        (ann.IndexSpec("pq", "PQ8x8"), 32, 1000),              # 256 centroids, 1000 vectors
        (ann.IndexSpec("flat", "Flat", {"nprob": 4}), 32, 10),  # typo'd parameter
        (ann.IndexSpec("empty", " "), 32, 10),
    ]
    for spec, dim, n in bad:
        with pytest.raises(InvalidInputError):
            ann.validate_spec(spec, dim, n)


def test_evaluate_specs_flat_is_exact_and_pq_is_smaller() -> None:
    base, queries = _vectors(2000), _vectors(20, seed=1)
    frame = ann.evaluate_specs([ann.IndexSpec("Flat", "Flat"), ann.IndexSpec("PQ8x4", "PQ8x4"),
                                ann.IndexSpec("IVF16", "IVF16,Flat", {"nprobe": 16})],
                               base, queries, k=5, repeats=1)
    assert frame.loc["Flat", "recall@5"] == 1.0
    assert frame.loc["IVF16", "recall@5"] == 1.0  # probing every list is exhaustive
    assert frame.loc["PQ8x4", "bytes_per_vector"] < frame.loc["Flat", "bytes_per_vector"] / 8
    assert frame.loc["Flat", "bytes_per_vector"] == pytest.approx(4 * 32, rel=0.05)
    assert set(ann.frontier(frame, "recall@5", 0.99, 0.5).index) == {"IVF16", "Flat"}
    assert list(ann.frontier(frame, "recall@5", 0.0, 8.0).index) == ["PQ8x4"]


def test_default_specs_are_valid_and_buildable() -> None:
    base = _vectors(12_000, d=64)
    specs = ann.default_specs(64, len(base))
    names = [s.name for s in specs]
    assert "Flat (exact)" in names and any("RFlat" in n for n in names)
    for spec in specs:
        ann.validate_spec(spec, 64, len(base))


def test_synthetic_like_matches_shape_and_norm() -> None:
    real = _vectors(300, d=16)
    for method in ("gaussian", "noisy"):
        syn = ann.synthetic_like(real, 1000, method=method)
        assert syn.shape == (1000, 16) and syn.dtype == np.float32
        np.testing.assert_allclose(np.linalg.norm(syn, axis=1), 1.0, atol=1e-5)
    with pytest.raises(InvalidInputError):
        ann.synthetic_like(real, 10, method="uniform")


def test_embedding_quantization_times_searches_not_index_builds(monkeypatch) -> None:
    from sentence_transformers.util import quantization

    base = _vectors(600)
    queries = base[:8] + 0.05 * _vectors(8, seed=3)  # each query next to one document
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    real_search, real_timer = quantization.semantic_search_faiss, ann._time_search
    calls: list[tuple[bool, bool]] = []  # (inside a timed pass, built an index)
    timing_now = [False]

    def spy_search(*args, **kwargs):
        calls.append((timing_now[0], kwargs.get("corpus_index") is None))
        return real_search(*args, **kwargs)

    def spy_timer(*args, **kwargs):
        timing_now[0] = True
        try:
            return real_timer(*args, **kwargs)
        finally:
            timing_now[0] = False

    monkeypatch.setattr(quantization, "semantic_search_faiss", spy_search)
    monkeypatch.setattr(ann, "_time_search", spy_timer)
    frame = ann.evaluate_embedding_quantization(base, queries, k=1, repeats=2)
    assert sum(built for _, built in calls) == 4  # one build per configuration ...
    assert not any(timed and built for timed, built in calls)  # ... never inside a timed pass
    assert sum(timed for timed, _ in calls) >= 4 * 2 * len(queries)
    assert list(frame.index) == ["ST uint8", "ST uint8 + rescore", "ST ubinary", "ST ubinary + rescore"]
    assert (frame["qps"] > 0).all() and frame["recall@1"].between(0, 1).all()
    assert frame.loc["ST ubinary", "recall@1"] == frame.loc["ST ubinary + rescore", "recall@1"] == 1.0
    assert frame.loc["ST ubinary", "memory_reduction_x"] == pytest.approx(32.0)
    assert frame.loc["ST uint8", "memory_reduction_x"] == pytest.approx(4.0)


# -- harness ------------------------------------------------------------------------------------
def test_measure_and_interleaved_report_percentiles() -> None:
    out = timing.measure(lambda: sum(range(1000)), items_per_call=10, repeats=5, warmup=1)
    for key in ("p50_ms", "p95_ms", "p99_ms", "throughput_per_s", "peak_rss_mb"):
        assert key in out
    assert out["p50_ms"] <= out["p99_ms"] and out["n"] == 5
    frame = timing.measure_interleaved({"a": lambda: None, "b": lambda: None}, repeats=4)
    assert list(frame.index) == ["a", "b"] and (frame["n"] == 4).all()
    with pytest.raises(InvalidInputError):
        timing.measure(lambda: None, repeats=0)


def test_time_calls_warms_up_untimed_and_keeps_results() -> None:
    seen: list[int] = []
    results, seconds = timing.time_calls(lambda i: seen.append(i) or i * 10, 3, warmup=2)
    assert seen == [0, 1, 0, 1, 2]  # warm-up items first, then every item once
    assert results == [0, 10, 20] and len(seconds) == 3 and all(t >= 0 for t in seconds)
    assert timing.time_calls(lambda i: i, 0) == ([], [])
    with pytest.raises(InvalidInputError):
        timing.time_calls(lambda i: i, 2, warmup=-1)


def test_time_interleaved_rotates_the_order_per_item() -> None:
    order: list[tuple[str, int]] = []
    fns = {n: (lambda i, n=n: order.append((n, i)) or f"{n}{i}") for n in "abc"}
    results, seconds = timing.time_interleaved(fns, 3, warmup=1)
    assert order[:3] == [("a", 0), ("b", 0), ("c", 0)]  # warm-up round
    assert [n for n, _ in order[3:]] == list("abc" "bca" "cab")
    assert results == {n: [f"{n}{i}" for i in range(3)] for n in "abc"}
    assert {n: len(t) for n, t in seconds.items()} == {"a": 3, "b": 3, "c": 3}
    with pytest.raises(InvalidInputError):
        timing.time_interleaved({}, 1)


def test_time_queries_searches_each_query_alone() -> None:
    from ragcompare.types import Hit

    class Stage:
        calls: list[list[str]] = []

        def search(self, queries, k):
            Stage.calls.append(list(queries))
            return [[Hit(q, 1.0)][:k] for q in queries]

    results, times = timing.time_queries(Stage(), {"q1": "a", "q2": "b"}, 1, warmup=5)
    assert Stage.calls == [["a"], ["b"], ["a"], ["b"]]  # warm-up capped at the queries there are
    assert results == {"q1": [Hit("a", 1.0)], "q2": [Hit("b", 1.0)]} and len(times) == 2


class _FakeReranker:
    """Scores a document by its length; counts its calls."""

    def __init__(self, name: str, sign: float = 1.0) -> None:
        self.name, self.sign, self.calls, self.max_length = name, sign, 0, 32

    def rerank(self, query, candidates, k=None, calibrated=False):
        from ragcompare.types import Hit

        self.calls += 1
        ranked = sorted(candidates, key=lambda d: -self.sign * len(candidates[d]))
        return [Hit(d, -i) for i, d in enumerate(ranked)][:k]


def test_compare_rerankers_interleaves_and_scores_every_variant() -> None:
    rerankers = {"base": _FakeReranker("base"), "flipped": _FakeReranker("flipped", -1.0)}
    queries = {"q1": "x", "q2": "y", "q3": "z"}
    candidates = {q: {"long": "a long relevant text", "s": "short"} for q in queries}
    qrels = {q: {"long": 1} for q in queries}
    frame, results = speed.compare_rerankers(rerankers, queries, candidates, qrels, warmup=1)
    assert rerankers["base"].calls == rerankers["flipped"].calls == 4  # 1 warm-up + 3 timed
    assert frame.loc["base", "ndcg@10"] == 1.0 and frame.loc["flipped", "ndcg@10"] < 1.0
    assert frame.loc["base", "speedup"] == 1.0 and frame.loc["base", "pairs"] == 6
    assert frame.loc["flipped", "ndcg@10_rel_change_%"] < 0
    assert [h.doc_id for h in results["flipped"]["q1"]] == ["s", "long"]
    with pytest.raises(InvalidInputError):
        speed.compare_rerankers(rerankers, queries, candidates, qrels, baseline="none")
    with pytest.raises(InvalidInputError):
        speed.compare_rerankers(rerankers, queries, {}, qrels)


def test_batching_comparison_counts_padding() -> None:
    calls: list[int] = []

    def score(xs):
        calls.append(len(xs))
        return np.zeros(len(xs))

    lengths = [5, 50, 6, 48]
    frame = speed.batching_comparison(score, list("abcd"), lengths, batch_size=2, repeats=2)
    assert sorted(calls) == [2, 2, 2, 2, 4, 4]  # per repeat: one whole-list call, two chunks
    assert frame["padded_tokens"].tolist() == [2 * 50 + 2 * 6, 2 * 50 + 2 * 48]
    assert (frame["seconds"] > 0).all()
    with pytest.raises(InvalidInputError):
        speed.batching_comparison(score, list("abc"), lengths)


def test_pareto_front() -> None:
    frame = pd.DataFrame({"ms": [1, 2, 3, 4], "q": [0.5, 0.4, 0.7, 0.6]}, index=list("abcd"))
    assert list(perf.pareto_front(frame, "ms", "q").index) == ["a", "c"]
    with pytest.raises(InvalidInputError):
        perf.pareto_front(frame, "ms", "ndcg")


def test_result_set_round_trip(tmp_path) -> None:
    rs = perf.ResultSet("demo", settings={"threads": 1})
    rs.add("latency", pd.DataFrame({"p50_ms": [1.0, 2.0]}, index=pd.Index(["x", "y"], name="name")))
    paths = rs.save(tmp_path)
    assert {p.name for p in paths} == {"demo.json", "demo_latency.csv"}
    back = perf.ResultSet.load(tmp_path / "demo.json")
    assert back.settings == {"threads": 1} and "versions" in back.machine
    assert back.tables["latency"]["p50_ms"].tolist() == [1.0, 2.0]


def test_bm25_scaling_uses_the_retrievers_stemmed_tokens() -> None:
    docs = ["the flows of heated gases", "a gas flowing over wings", "wing flutter at high speeds"]
    lengths, probs, q_tokens = perf.bm25_token_stats(docs, ["flowing gas", "the of"])
    from ragcompare.retrieval.bm25 import tokenize

    vocab = tokenize(docs).vocab
    assert "flow" in vocab and "flows" not in vocab and "the" not in vocab  # Snowball stems, stopwords
    assert probs.sum() == pytest.approx(1.0) and sum(lengths) == 11
    assert sorted(q_tokens[0]) == sorted([vocab["flow"], vocab["gas"]]) and q_tokens[1] == []
    frame = perf.bm25_scaling(lengths, probs, q_tokens, [5, 20], k=3)
    assert frame["docs"].tolist() == [5, 20] and (frame["search_p50_ms"] > 0).all()
    assert (frame["build_s"] > 0).all()


def test_plots_draw_fronts_and_segments() -> None:
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    from ragcompare.eval import plots

    table = pd.DataFrame({"p50_ms": [1.0, 5.0, 9.0], "ndcg@10": [0.3, 0.5, 0.4]},
                         index=pd.Index(["bm25", "hybrid", "slow"], name="pipeline"))
    ax = plots.plot_pareto(table)
    assert [t.get_text() for t in ax.texts] == ["bm25", "hybrid", "slow"]
    assert list(ax.lines[0].get_xdata()) == [1.0, 5.0]  # the Pareto front leaves "slow" out
    curves = pd.DataFrame({"approach": ["a"] * 3, "docs": [10, 100, 1000], "latency_ms": [1.0, 2.0, 20.0],
                           "source": ["measured", "measured", "extrapolated"]})
    ax = plots.plot_scaling(curves, budgets_ms=(5.0,))
    assert len(ax.lines) == 3  # measured, extrapolated (joined to the last measured point), budget
    assert list(ax.lines[1].get_xdata()) == [100, 1000]
