"""Cross-encoder scoring and reranking (sentence-transformers ``CrossEncoder``)."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

import numpy as np
import torch

from ragcompare.models.resolve import DEFAULT_CROSS_ENCODER, load_cross_encoder, resolve_model
from ragcompare.types import Hit, InvalidInputError, check_k, check_queries


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Map raw logits to calibrated 0-1 scores."""
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=np.float64)))


def check_settings(max_length: object, batch_size: object) -> None:
    """Refuse a non-positive or non-integer ``max_length`` / ``batch_size``."""
    for name, value in (("max_length", max_length), ("batch_size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise InvalidInputError(f"{name} must be a positive int, got {value!r}")


class CrossEncoderReranker:
    """Read (query, document) jointly and output one relevance score per pair.

    ``max_length`` caps the tokens of the pair (the longest part is truncated first); raw logits
    come from :meth:`score_pairs` by default, calibrated 0-1 scores with ``calibrated=True``.
    """

    def __init__(self, model: str = DEFAULT_CROSS_ENCODER, max_length: int = 256,
                 batch_size: int = 32, device: str = "cpu", show_progress: bool = False,
                 backend: str = "torch", model_kwargs: dict | None = None) -> None:
        self._configure(model, max_length, batch_size, show_progress)
        kwargs = {"backend": backend}
        if model_kwargs:
            kwargs["model_kwargs"] = model_kwargs
        self.model = load_cross_encoder(model, max_length=max_length, device=device, **kwargs)
        self.name = f"cross-encoder[{model.split('/')[-1]}]"

    def _configure(self, model: str, max_length: int, batch_size: int, show_progress: bool) -> None:
        """Check and keep the settings every backend shares (``self.model`` is the backend's job)."""
        check_settings(max_length, batch_size)
        self.model_name = model
        self.resolved = resolve_model(model, "cross-encoder")
        self.max_length, self.batch_size, self.show_progress = max_length, batch_size, show_progress
        self.last_timings: dict[str, float] = {}

    def score_pairs(self, pairs: Sequence[tuple[str, str]], calibrated: bool = False) -> np.ndarray:
        """Score (query, document) pairs; raw logits, or sigmoid scores if ``calibrated``."""
        if isinstance(pairs, (str, tuple)) or not isinstance(pairs, Sequence):
            raise InvalidInputError("pairs must be a list of (query, document) tuples")
        if len(pairs) == 0:
            return np.zeros(0, dtype=np.float32)
        for i, pair in enumerate(pairs):
            if (not isinstance(pair, (tuple, list)) or len(pair) != 2
                    or not all(isinstance(x, str) for x in pair)):
                raise InvalidInputError(f"pair {i} is not a (query: str, document: str) tuple")
        t0 = time.perf_counter()
        logits = self.model.predict([tuple(p) for p in pairs], batch_size=self.batch_size,
                                    show_progress_bar=self.show_progress,
                                    activation_fn=torch.nn.Identity(), convert_to_numpy=True)
        logits = np.asarray(logits, dtype=np.float32).reshape(len(pairs), -1)
        if logits.shape[1] != 1:
            raise InvalidInputError(f"{self.model_name} outputs {logits.shape[1]} labels; a "
                                    "relevance cross-encoder outputs one score")
        self.last_timings = {"score": time.perf_counter() - t0, "pairs": float(len(pairs))}
        out = logits[:, 0]
        return sigmoid(out).astype(np.float32) if calibrated else out

    def score(self, query: str, documents: Sequence[str], calibrated: bool = False) -> np.ndarray:
        """Score one query against several documents."""
        check_queries([query])
        if isinstance(documents, str) or not isinstance(documents, Sequence):
            raise InvalidInputError("documents must be a list of strings")
        return self.score_pairs([(query, d) for d in documents], calibrated=calibrated)

    def rerank(self, query: str, candidates: Mapping[str, str], k: int | None = None,
               calibrated: bool = False) -> list[Hit]:
        """Reorder ``candidates`` ({doc_id: text}) by cross-encoder score; keep the top ``k``."""
        if not isinstance(candidates, Mapping):
            raise InvalidInputError("candidates must be a mapping of doc id -> text")
        if not candidates:
            return []
        k = len(candidates) if k is None else check_k(k, len(candidates))
        scores = self.score(query, list(candidates.values()), calibrated=calibrated)
        order = np.argsort(-scores, kind="stable")[:k]
        ids = list(candidates)
        return [Hit(ids[i], float(scores[i])) for i in order]
