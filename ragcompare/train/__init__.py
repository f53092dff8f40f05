"""Training the offline models: data and hard-negative mining, the trainers, held-out evaluation, model
cards and GPU bundles. The command line is ``python -m ragcompare.train`` (:mod:`ragcompare.train.cli`).

Nothing here imports ranx or bm25s at module level: the GPU machine that trains may lack them."""

from ragcompare._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "data": ("Ranking COLLECTIONS split_queries subset bm25_rankings encode_corpus dense_rankings "
             "rrf_rankings mine_hard_negatives build_rerank_pairs contrastive_rows rerank_dev_samples "
             "title_pseudo_queries distillation_pairs"),
    "sts": ("STS_EVAL_SETS build_sts_pairs neighbour_pairs silver_candidates PairCosines bi_cosines "
            "combined_teacher_labels Prepared prepare_sts read_prepared silver_pairs"),
    "trainer": ("set_seed loss_curve BudgetLinearSchedule WallTimeBudgetCallback init_cross_encoder "
                "freeze_layers make_optimizer pairs_to_dataset TrainResult train_cross_encoder "
                "train_bi_encoder"),
    "evaluation": ("cross_encoder_sts bi_encoder_sts sts_table sts_combined ndcg_at_10 rerank interpolate "
                   "judged_qrels as_results reranking_runs reranking_table first_stages held_out_table "
                   "speed_pairs measure_throughput"),
    "cards": "build_card add_max_length_tables add_combined_table score_pairs verify_reload ship",
    "gpu": "make_bundle carried_base build_packs extract_changed adopt_trained",
}, globals())
