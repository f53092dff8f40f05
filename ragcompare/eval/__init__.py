"""Evaluation: metrics (ranx), semantic-similarity scores (scipy), the one timing harness, the benchmark,
rerank-depth sweeps, the ANN frontier and performance runs."""

from ragcompare._lazy import lazy_exports

_EXPORTS = {
    "evaluate": "ragcompare.eval.metrics",
    "compare": "ragcompare.eval.metrics",
    "retrieve": "ragcompare.eval.metrics",
    "to_results": "ragcompare.eval.metrics",
    "DEFAULT_METRICS": "ragcompare.eval.metrics",
    "spearman": "ragcompare.eval.sts",
    "mix_scores": "ragcompare.eval.sts",
    "fit_mix_weight": "ragcompare.eval.sts",
    "latency_stats": "ragcompare.eval.timing",
    "time_queries": "ragcompare.eval.timing",
    "measure": "ragcompare.eval.timing",
    "measure_interleaved": "ragcompare.eval.timing",
    "run_benchmark": "ragcompare.eval.bench",
    "PairScoreCache": "ragcompare.eval.sweeps",
    "rerank_results": "ragcompare.eval.sweeps",
    "sweep_k_retrieve": "ragcompare.eval.sweeps",
    "time_k_retrieve": "ragcompare.eval.sweeps",
    "stage_timings": "ragcompare.eval.sweeps",
}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
