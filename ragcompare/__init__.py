"""ragcompare: measure, teach and choose between bi-encoder, cross-encoder and hybrid ranking.

The public names are importable from the package itself (``from ragcompare import load_dataset,
BiEncoderRetriever, HybridPipeline, evaluate, recommend``); they load lazily, so ``import ragcompare``
stays cheap. The layers, lowest first (a layer imports only those before it):

``types``/``checks``/``storage``/``cliutil``/``settings``/``sysinfo`` → ``data`` → ``models``
→ ``retrieval`` → ``rerank`` → ``eval`` → ``decide`` / ``train`` / ``teach`` → ``cli``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ragcompare._lazy import lazy_exports
from ragcompare.types import (
    CorpusMismatchError,
    Hit,
    InvalidInputError,
    RagCompareError,
    Reranker,
    Retriever,
)

__version__ = "0.1.0"

_PUBLIC = {
    "data.beir": "Dataset Document DatasetError load_dataset",
    "data.pairs": "load_sentence_pairs",
    "models.resolve": "ModelNotAvailableError model_guide pick_reranker resolve_model",
    "models.pack": "training_collections",
    "retrieval.bm25": "BM25Retriever",
    "retrieval.dense": "BiEncoderRetriever",
    "retrieval.saved": "IndexFileError",
    "storage": "ArtifactError",
    "retrieval.cache": "EmbeddingCache",
    "retrieval.fusion": "FusionRetriever",
    "rerank.cross_encoder": "CrossEncoderReranker",
    "rerank.onnx": "OnnxCrossEncoderReranker",
    "rerank.pipeline": "HybridPipeline CrossEncoderOnly",
    "rerank.head": "rerank_head interpolate_hits",
    "eval.metrics": "evaluate retrieve",
    "eval.comparison": "compare format_comparison",
    "eval.sts": "spearman",
    "eval.timing": "latency_stats time_queries",
    "eval.bench": "run_benchmark",
    "sysinfo": "describe_machine",
    "settings": "quick_mode",
    "decide.recommender": "recommend",
    "decide.profile": "load_profile",
    "decide.calibration": "calibrate",
}

__getattr__, __dir__, _lazy_names = lazy_exports(__name__, _PUBLIC, globals())
__all__ = ["CorpusMismatchError", "Hit", "InvalidInputError", "RagCompareError", "Reranker",
           "Retriever", "__version__", *_lazy_names]

if TYPE_CHECKING:  # static checkers and editors see the real objects
    from ragcompare.data.beir import Dataset, DatasetError, Document, load_dataset  # noqa: F401
    from ragcompare.data.pairs import load_sentence_pairs  # noqa: F401
    from ragcompare.decide.calibration import calibrate  # noqa: F401
    from ragcompare.decide.profile import load_profile  # noqa: F401
    from ragcompare.decide.recommender import recommend  # noqa: F401
    from ragcompare.eval.bench import run_benchmark  # noqa: F401
    from ragcompare.eval.comparison import compare, format_comparison  # noqa: F401
    from ragcompare.eval.metrics import evaluate, retrieve  # noqa: F401
    from ragcompare.eval.sts import spearman  # noqa: F401
    from ragcompare.eval.timing import latency_stats, time_queries  # noqa: F401
    from ragcompare.models.pack import training_collections  # noqa: F401
    from ragcompare.models.resolve import (  # noqa: F401
        ModelNotAvailableError,
        model_guide,
        pick_reranker,
        resolve_model,
    )
    from ragcompare.rerank.cross_encoder import CrossEncoderReranker  # noqa: F401
    from ragcompare.rerank.head import interpolate_hits, rerank_head  # noqa: F401
    from ragcompare.rerank.onnx import OnnxCrossEncoderReranker  # noqa: F401
    from ragcompare.rerank.pipeline import CrossEncoderOnly, HybridPipeline  # noqa: F401
    from ragcompare.retrieval.bm25 import BM25Retriever  # noqa: F401
    from ragcompare.retrieval.cache import EmbeddingCache  # noqa: F401
    from ragcompare.retrieval.dense import BiEncoderRetriever  # noqa: F401
    from ragcompare.retrieval.fusion import FusionRetriever  # noqa: F401
    from ragcompare.retrieval.saved import IndexFileError  # noqa: F401
    from ragcompare.settings import quick_mode  # noqa: F401
    from ragcompare.storage import ArtifactError  # noqa: F401
    from ragcompare.sysinfo import describe_machine  # noqa: F401
