"""Models: the model guide, id resolution with offline fallbacks, reranker choice, and compact packs."""

from ragcompare._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "resolve": ("ModelNotAvailableError model_guide resolve_model load_bi_encoder  "
        "load_cross_encoder pick_reranker hub_reachable shipped_models model_card  "
        "DEFAULT_BI_ENCODER DEFAULT_CROSS_ENCODER  "
        "DEFAULT_STS_CROSS_ENCODER model_hash"),
    "pack": ("materialize base_model_path base_tensors read_card write_card training_collections "
             "check_evaluation select_reranker PackError TrainingCollectionError read_manifest verify_pack"),
}, globals())
