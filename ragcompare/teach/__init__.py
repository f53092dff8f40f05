"""Course helpers: what the architectures compute, shown (attention and token-similarity maps), what
they cost, the cross-encoder's pair length limit, bi-encoder use cases beyond search (clustering,
near-duplicates, FAQ matching), the verdicts of the claims table and the notebooks' setup."""

from ragcompare._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "usecases": ("cluster_vectors cluster_table cluster_terms project_2d near_duplicates jaccard "
        "similarity_histogram_values match_faq faq_threshold_curve"),
    "explain": ("TokenMatrix load_attention_model cross_encoder_attention bi_encoder_token_similarity "
        "plot_token_matrix"),
    "costs": "precompute_costs pair_cost",
    "truncation": "pair_lengths split_passages max_passage_score truncation_experiment",
    "notebook": "setup_notebook pin_threads",
    "claims": "verdict NOT_OFFLINE",
}, globals())
