"""ragcompare: measure, teach and choose between bi-encoder, cross-encoder and hybrid ranking.

The public names are importable from the package itself (``from ragcompare import load_dataset,
BiEncoderRetriever, HybridPipeline, evaluate, recommend``); they load lazily, so ``import ragcompare``
stays cheap. The layers, lowest first (a layer imports only those before it):

``types``/``settings``/``sysinfo`` → ``data`` → ``models`` → ``retrieval`` → ``rerank`` → ``eval``
→ ``decide`` / ``train`` / ``teach`` → ``cli``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ragcompare._lazy import lazy_exports
from ragcompare.types import (
    Hit,
    InvalidInputError,
    RagCompareError,
    Reranker,
    Retriever,
)

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    # data
    "Dataset": "ragcompare.data.beir",
    "Document": "ragcompare.data.beir",
    "DatasetError": "ragcompare.data.beir",
    "load_dataset": "ragcompare.data.beir",
    "load_sentence_pairs": "ragcompare.data.pairs",
    # models
    "ModelNotAvailableError": "ragcompare.models.resolve",
    "model_guide": "ragcompare.models.resolve",
    "pick_reranker": "ragcompare.models.resolve",
    "resolve_model": "ragcompare.models.resolve",
    "training_collections": "ragcompare.models.resolve",
    # retrieval
    "BM25Retriever": "ragcompare.retrieval.bm25",
    "BiEncoderRetriever": "ragcompare.retrieval.dense",
    "EmbeddingCache": "ragcompare.retrieval.cache",
    "FusionRetriever": "ragcompare.retrieval.fusion",
    # rerank
    "CrossEncoderReranker": "ragcompare.rerank.cross_encoder",
    "OnnxCrossEncoderReranker": "ragcompare.rerank.onnx",
    "HybridPipeline": "ragcompare.rerank.pipeline",
    "CrossEncoderOnly": "ragcompare.rerank.pipeline",
    "rerank_head": "ragcompare.rerank.head",
    "interpolate_hits": "ragcompare.rerank.head",
    # eval
    "evaluate": "ragcompare.eval.metrics",
    "compare": "ragcompare.eval.metrics",
    "retrieve": "ragcompare.eval.metrics",
    "spearman": "ragcompare.eval.sts",
    "latency_stats": "ragcompare.eval.timing",
    "time_queries": "ragcompare.eval.timing",
    "run_benchmark": "ragcompare.eval.bench",
    "describe_machine": "ragcompare.sysinfo",
    "quick_mode": "ragcompare.settings",
    # decide
    "recommend": "ragcompare.decide.recommend",
    "load_profile": "ragcompare.decide.calibrate",
    "calibrate": "ragcompare.decide.calibrate",
}

__all__ = ["Hit", "InvalidInputError", "RagCompareError", "Reranker", "Retriever", "__version__",
           *_EXPORTS]


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())

if TYPE_CHECKING:  # static checkers and editors see the real objects
    from ragcompare.data.beir import Dataset, DatasetError, Document, load_dataset  # noqa: F401
    from ragcompare.data.pairs import load_sentence_pairs  # noqa: F401
    from ragcompare.decide.calibrate import (
        calibrate,  # noqa: F401
        load_profile,  # noqa: F401
    )
    from ragcompare.decide.recommend import recommend  # noqa: F401
    from ragcompare.eval.bench import run_benchmark  # noqa: F401
    from ragcompare.eval.metrics import compare, evaluate, retrieve  # noqa: F401
    from ragcompare.eval.sts import spearman  # noqa: F401
    from ragcompare.eval.timing import latency_stats, time_queries  # noqa: F401
    from ragcompare.models.resolve import (  # noqa: F401
        ModelNotAvailableError,
        model_guide,
        pick_reranker,
        resolve_model,
        training_collections,
    )
    from ragcompare.rerank.cross_encoder import CrossEncoderReranker  # noqa: F401
    from ragcompare.rerank.head import interpolate_hits, rerank_head  # noqa: F401
    from ragcompare.rerank.onnx import OnnxCrossEncoderReranker  # noqa: F401
    from ragcompare.rerank.pipeline import CrossEncoderOnly, HybridPipeline  # noqa: F401
    from ragcompare.retrieval.bm25 import BM25Retriever  # noqa: F401
    from ragcompare.retrieval.cache import EmbeddingCache  # noqa: F401
    from ragcompare.retrieval.dense import BiEncoderRetriever  # noqa: F401
    from ragcompare.retrieval.fusion import FusionRetriever  # noqa: F401
    from ragcompare.settings import quick_mode  # noqa: F401
    from ragcompare.sysinfo import describe_machine  # noqa: F401
