"""Rerankers behind the ``Reranker`` protocol (PyTorch and ONNX Runtime backends), the one head-and-tail
rerank step, and the two-stage pipelines."""

from ragcompare._lazy import lazy_exports

_EXPORTS = {
    "CrossEncoderReranker": "ragcompare.rerank.cross_encoder",
    "sigmoid": "ragcompare.rerank.cross_encoder",
    "OnnxCrossEncoderReranker": "ragcompare.rerank.onnx",
    "rerank_head": "ragcompare.rerank.head",
    "interpolate_hits": "ragcompare.rerank.head",
    "HybridPipeline": "ragcompare.rerank.pipeline",
    "CrossEncoderOnly": "ragcompare.rerank.pipeline",
}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
