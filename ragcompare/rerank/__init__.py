"""Rerankers behind the ``Reranker`` protocol (PyTorch and ONNX Runtime backends), the one head-and-tail
rerank step, and the two-stage pipelines."""

from ragcompare._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "cross_encoder": "CrossEncoderReranker sigmoid",
    "onnx": ("OnnxCrossEncoderReranker OnnxCrossEncoderModel OnnxSentenceEncoder onnx_bi_encoder "
             "prepare export_onnx optimize_onnx quantize_onnx OptimizeError "
             "VARIANTS"),
    "head": "rerank_head interpolate_hits",
    "pipeline": "HybridPipeline CrossEncoderOnly",
}, globals())
