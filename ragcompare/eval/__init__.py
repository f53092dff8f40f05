"""Evaluation: metrics (ranx), semantic-similarity scores (scipy), the one timing harness, the benchmark,
rerank-depth sweeps, the ANN frontier and performance runs."""

from ragcompare._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "metrics": "evaluate compare retrieve to_results DEFAULT_METRICS",
    "sts": "spearman mix_scores fit_mix_weight",
    "timing": "latency_stats time_queries measure measure_interleaved",
    "bench": "run_benchmark",
    "sweeps": "PairScoreCache rerank_results sweep_k_retrieve time_k_retrieve stage_timings",
}, globals())
