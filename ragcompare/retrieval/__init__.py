"""First stages behind the ``Retriever`` protocol: BM25, dense (FAISS), their fusion; the embedding cache."""

from ragcompare._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "bm25": "BM25Retriever",
    "dense": "BiEncoderRetriever IndexFileError",
    "cache": "EmbeddingCache",
    "fusion": "FusionRetriever fuse_hits",
}, globals())
