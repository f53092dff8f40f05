"""Course helpers: what the architectures compute, shown (attention and token-similarity maps, costs),
and bi-encoder use cases beyond search (clustering, near-duplicates, FAQ matching)."""

from ragcompare._lazy import lazy_exports

_EXPORTS = {
    "cluster_vectors": "ragcompare.teach.usecases",
    "cluster_table": "ragcompare.teach.usecases",
    "project_2d": "ragcompare.teach.usecases",
    "near_duplicates": "ragcompare.teach.usecases",
    "similarity_histogram_values": "ragcompare.teach.usecases",
    "match_faq": "ragcompare.teach.usecases",
    "faq_threshold_curve": "ragcompare.teach.usecases",
    "load_attention_model": "ragcompare.teach.explain",
    "cross_encoder_attention": "ragcompare.teach.explain",
    "bi_encoder_token_similarity": "ragcompare.teach.explain",
    "plot_token_matrix": "ragcompare.teach.explain",
    "precompute_costs": "ragcompare.teach.explain",
    "pair_lengths": "ragcompare.teach.explain",
    "truncation_experiment": "ragcompare.teach.explain",
    "pair_cost": "ragcompare.teach.explain",
}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
