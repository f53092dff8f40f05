"""The decision helper: bi-encoder, hybrid or cross-encoder from corpus size, latency budget and accuracy.

One concept per module: ``profile`` (a machine's measured costs, JSON), ``indexes`` (the FAISS index
families), ``fits`` (the curve fits), ``calibration`` (measuring a profile: ``ragcompare calibrate``),
``rerankers`` (the reranker behind each profiled setting, PyTorch or ONNX Runtime INT8), ``quality``
(quality-vs-``k_retrieve`` curves and the model reading them), ``cost`` (the cost model),
``recommender`` (the search over options: :func:`recommend`), ``results`` (what it returns and how it
renders), ``rules`` (the course's starting rules of thumb), ``widgets`` (the ipywidgets tool),
``validation`` (running recommended configurations for real: ``scripts/validate_decide.py``), ``cli``.
"""

from ragcompare._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "profile": ("HardwareProfile ProfileError load_profile check_profile available_profiles "
                "user_profile_path SHIPPED_PROFILE"),
    "indexes": "IndexKind INDEX_KINDS nlist_for",
    "fits": "fit_linear fit_power",
    "calibration": ("calibrate update_quality speed_probe real_vectors GaussianScaleUp "
                    "measure_indexes measure_cross_encoder measure_encode query_tokens"),
    "rerankers": "setting_key setting_reranker timing_reranker INT8_BACKEND",
    "quality": ("QualityModel QualityGain ACCURACY_LEVELS measure_quality pool_quality score_key "
                "QUALITY_ALPHAS QUALITY_KS"),
    "cost": "CostModel",
    "recommender": ("recommend candidate_options latency_curves check_needs quality_line APPROACHES "
                    "CE_ONLY_MAX_DOCS"),
    "results": "Recommendation Option Settings Alternative INT8_OPTIMIZATION",
    "rules": "rule_of_thumb compare_with_rules_of_thumb RuleOfThumbAdvice",
    "widgets": "DecisionTool PRESETS",
    "validation": ("scenario_grid ConfigurationRunner run_all summarise planned_seconds approach_label "
                   "SECONDS_PER_CONFIG"),
}, globals())
