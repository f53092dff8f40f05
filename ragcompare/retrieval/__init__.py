"""First stages behind the ``Retriever`` protocol: BM25, dense (FAISS), their fusion; the embedding cache."""

from ragcompare._lazy import lazy_exports

_EXPORTS = {
    "BM25Retriever": "ragcompare.retrieval.bm25",
    "BiEncoderRetriever": "ragcompare.retrieval.dense",
    "IndexFileError": "ragcompare.retrieval.dense",
    "EmbeddingCache": "ragcompare.retrieval.cache",
    "FusionRetriever": "ragcompare.retrieval.fusion",
    "fuse_hits": "ragcompare.retrieval.fusion",
}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
