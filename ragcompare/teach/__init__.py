"""Course helpers: what the architectures compute, shown (attention and token-similarity maps, costs),
and bi-encoder use cases beyond search (clustering, near-duplicates, FAQ matching)."""

from ragcompare._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "usecases": ("cluster_vectors cluster_table project_2d near_duplicates  "
        "similarity_histogram_values match_faq faq_threshold_curve"),
    "explain": ("load_attention_model cross_encoder_attention bi_encoder_token_similarity  "
        "plot_token_matrix precompute_costs pair_lengths truncation_experiment pair_cost"),
}, globals())
