"""Models: the model guide, id resolution with offline fallbacks, reranker choice, and compact packs."""

from ragcompare._lazy import lazy_exports

_EXPORTS = {
    "ModelNotAvailableError": "ragcompare.models.resolve",
    "model_guide": "ragcompare.models.resolve",
    "resolve_model": "ragcompare.models.resolve",
    "load_bi_encoder": "ragcompare.models.resolve",
    "load_cross_encoder": "ragcompare.models.resolve",
    "pick_reranker": "ragcompare.models.resolve",
    "hub_reachable": "ragcompare.models.resolve",
    "shipped_models": "ragcompare.models.resolve",
    "model_card": "ragcompare.models.resolve",
    "training_collections": "ragcompare.models.resolve",
    "DEFAULT_BI_ENCODER": "ragcompare.models.resolve",
    "DEFAULT_CROSS_ENCODER": "ragcompare.models.resolve",
    "DEFAULT_STS_CROSS_ENCODER": "ragcompare.models.resolve",
    "materialize": "ragcompare.models.pack",
    "base_model_path": "ragcompare.models.pack",
    "PackError": "ragcompare.models.pack",
}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
