"""Collections and pair sets: the only readers of the data directory (BEIR layout, sentence pairs)."""

from ragcompare._lazy import lazy_exports

_EXPORTS = {
    "Dataset": "ragcompare.data.beir",
    "Document": "ragcompare.data.beir",
    "DatasetError": "ragcompare.data.beir",
    "load_dataset": "ragcompare.data.beir",
    "load_beir_folder": "ragcompare.data.beir",
    "available_local": "ragcompare.data.beir",
    "load_sentence_pairs": "ragcompare.data.pairs",
    "scaled_pairs": "ragcompare.data.pairs",
}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
