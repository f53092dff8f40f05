"""Collections and pair sets: the only readers of the data directory (BEIR layout, sentence pairs)."""

from ragcompare._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "beir": "Dataset Document DatasetError load_dataset load_beir_folder available_local",
    "pairs": "load_sentence_pairs scaled_pairs pair_sentences SIMILARITY_SETS",
}, globals())
