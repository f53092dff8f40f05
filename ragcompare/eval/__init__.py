"""Evaluation: metrics (ranx), the comparison protocol (same queries, paired intervals),
semantic-similarity scores (scipy), the one timing harness, the benchmark, rerank-depth sweeps,
inference speed-ups side by side, the ANN frontier, performance runs and their plots."""

from ragcompare._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "metrics": "evaluate per_query retrieve to_results to_run write_trec DEFAULT_METRICS",
    "comparison": ("compare compare_runs paired_difference median_interval ratio_interval shared_queries "
                   "format_comparison format_p Difference QuerySetMismatchError"),
    "sts": "spearman mix_scores fit_mix_weight",
    "timing": "latency_stats time_queries time_calls time_interleaved measure measure_interleaved PeakMemory",
    "bench": "run_benchmark measure_pipeline benchmark_pipelines BenchRecord BenchReport",
    "sweeps": "PairScoreCache rerank_results sweep_k_retrieve time_k_retrieve stage_timings",
    "speed": ("rerank_candidates compare_rerankers interpolated_results pool_comparisons score_agreement "
              "padded_tokens batching_comparison replica_scoring file_size_mb"),
    "ann": ("IndexSpec validate_spec build_index exact_neighbours recall_at_k faiss_bytes bytes_per_vector "
            "evaluate_specs default_specs evaluate_embedding_quantization frontier synthetic_like"),
    "perf": "ResultSet pareto_front scaling_latency bm25_token_stats bm25_scaling approach_latency",
    "plots": "plot_pareto plot_scaling place_labels legend_beside",
}, globals())
