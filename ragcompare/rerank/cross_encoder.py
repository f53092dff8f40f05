"""Cross-encoder scoring and reranking (sentence-transformers ``CrossEncoder``)."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch

from ragcompare.checks import (
    check_bool,
    check_choice,
    check_corpus,
    check_k,
    check_max_length,
    check_positive_int,
    check_text,
)
from ragcompare.models.resolve import DEFAULT_CROSS_ENCODER, load_cross_encoder, resolve_model
from ragcompare.storage import read_json_object
from ragcompare.types import Hit, InvalidInputError, RagCompareError

BACKENDS = ("torch", "onnx", "openvino")
"""sentence-transformers ``CrossEncoder`` backends."""
_OFFSET_POSITIONS = {"roberta", "xlm-roberta", "xlm-roberta-xl", "camembert", "mpnet", "longformer",
                     "data2vec-text", "bart", "mbart"}
"""Model types whose position ids start after the padding index (usable = positions - pad - 1)."""


class ModelOutputError(RagCompareError):
    """The model answered something no score can be made of (NaN/inf logits)."""


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Map raw logits to calibrated 0-1 scores."""
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=np.float64)))


def model_positions(config: Mapping[str, object]) -> int | None:
    """Tokens a model of this ``config.json`` can read (None if the config does not say).

    BERT-like models use ``max_position_embeddings`` positions; RoBERTa-like ones start counting
    after the padding index, so two fewer (514 -> 512). The tokenizer's ``model_max_length`` is
    not used: sentence-transformers saves the training ``max_length`` there (128 on a model with
    512 positions).
    """
    positions = config.get("max_position_embeddings")
    if isinstance(positions, bool) or not isinstance(positions, int) or positions <= 0:
        return None
    if config.get("model_type") in _OFFSET_POSITIONS:
        pad = config.get("pad_token_id")
        positions -= (pad if isinstance(pad, int) and not isinstance(pad, bool) else 1) + 1
    return positions if positions > 0 else None


def folder_positions(model_dir: str | Path) -> int | None:
    """:func:`model_positions` of a local model folder (None for a hub id or a folder without
    ``config.json``)."""
    config = Path(model_dir) / "config.json"
    return model_positions(read_json_object(config, "model config")) if config.is_file() else None


def _utf8(text: str, name: str) -> str:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInputError(f"{name} holds a lone surrogate (invalid Unicode); decode the "
                                "text properly") from None
    return text


class CrossEncoderReranker:
    """Read (query, document) jointly and output one relevance score per pair.

    ``max_length`` caps the tokens of the pair (the longest part is truncated first) and may not
    exceed the model's positions; raw logits come from :meth:`score_pairs` by default, calibrated
    0-1 scores with ``calibrated=True``. Queries must hold visible text; an empty document is a
    legitimate corpus entry and gets a score.
    """

    def __init__(self, model: str = DEFAULT_CROSS_ENCODER, max_length: int = 256,
                 batch_size: int = 32, device: str = "cpu", show_progress: bool = False,
                 backend: str = "torch", model_kwargs: dict | None = None) -> None:
        check_text(device, "device")
        backend = check_choice(backend, "backend", BACKENDS)
        if model_kwargs is not None and not isinstance(model_kwargs, Mapping):
            raise InvalidInputError(f"model_kwargs must be a dict, got {type(model_kwargs).__name__}")
        self._configure(model, max_length, batch_size, show_progress)
        kwargs: dict[str, object] = {"backend": backend}
        if model_kwargs:
            kwargs["model_kwargs"] = dict(model_kwargs)
        self.model = load_cross_encoder(model, max_length=self.max_length, device=device, **kwargs)
        if self.positions is None:  # a hub id: its config is known only once loaded
            config = getattr(getattr(self.model, "model", None), "config", None)
            self.positions = model_positions(config.to_dict()) if config is not None else None
            check_max_length(self.max_length, self.positions, model)
        self.name = f"cross-encoder[{model.split('/')[-1]}]"

    def _configure(self, model: str, max_length: int, batch_size: int, show_progress: bool) -> None:
        """Check and keep the settings every backend shares (``self.model`` is the backend's job)."""
        check_positive_int(max_length, "max_length")
        self.batch_size = check_positive_int(batch_size, "batch_size")
        self.show_progress = check_bool(show_progress, "show_progress")
        self.model_name = model
        self.resolved = resolve_model(model, "cross-encoder")
        self.positions = folder_positions(self.resolved) if Path(self.resolved).is_dir() else None
        self.max_length = check_max_length(max_length, self.positions, model)
        self.last_timings: dict[str, float] = {}

    # -- scoring ----------------------------------------------------------------------------------
    def _predict(self, pairs: list[tuple[str, str]], calibrated: object) -> np.ndarray:
        """Scores of already checked pairs."""
        calibrated = check_bool(calibrated, "calibrated")
        if not pairs:
            return np.zeros(0, dtype=np.float32)
        t0 = time.perf_counter()
        logits = self.model.predict(pairs, batch_size=self.batch_size,
                                    show_progress_bar=self.show_progress,
                                    activation_fn=torch.nn.Identity(), convert_to_numpy=True)
        logits = np.asarray(logits, dtype=np.float32).reshape(len(pairs), -1)
        if logits.shape[1] != 1:
            raise InvalidInputError(f"{self.model_name} outputs {logits.shape[1]} labels; a "
                                    "relevance cross-encoder outputs one score")
        bad = np.flatnonzero(~np.isfinite(logits[:, 0]))
        if bad.size:
            raise ModelOutputError(f"{self.model_name} returned non-finite scores (NaN/inf) for "
                                   f"{bad.size} of {len(pairs)} pairs (first: pair {int(bad[0])}); "
                                   "its weights are damaged or unsuitable: re-download or retrain it")
        self.last_timings = {"score": time.perf_counter() - t0, "pairs": float(len(pairs))}
        out = logits[:, 0]
        return sigmoid(out).astype(np.float32) if calibrated else out

    def score_pairs(self, pairs: Sequence[tuple[str, str]], calibrated: bool = False) -> np.ndarray:
        """Score (query, document) pairs; raw logits, or sigmoid scores if ``calibrated``."""
        if isinstance(pairs, (str, tuple)) or not isinstance(pairs, Sequence):
            raise InvalidInputError("pairs must be a list of (query, document) tuples")
        checked: list[tuple[str, str]] = []
        for i, pair in enumerate(pairs):
            if (not isinstance(pair, (tuple, list)) or len(pair) != 2
                    or not all(isinstance(x, str) for x in pair)):
                raise InvalidInputError(f"pair {i} is not a (query: str, document: str) tuple")
            query = _utf8(check_text(pair[0], f"the query of pair {i}"), f"the query of pair {i}")
            checked.append((query, _utf8(pair[1], f"the document of pair {i}")))
        return self._predict(checked, calibrated)

    def score(self, query: str, documents: Sequence[str], calibrated: bool = False) -> np.ndarray:
        """Score one query against several documents."""
        query = _utf8(check_text(query, "query"), "query")
        if isinstance(documents, str) or not isinstance(documents, Sequence):
            raise InvalidInputError("documents must be a list of strings")
        for i, doc in enumerate(documents):
            if not isinstance(doc, str):
                raise InvalidInputError(f"document {i} is {type(doc).__name__}, not str")
            _utf8(doc, f"document {i}")
        return self._predict([(query, d) for d in documents], calibrated)

    def rerank(self, query: str, candidates: Mapping[str, str], k: int | None = None,
               calibrated: bool = False) -> list[Hit]:
        """Reorder ``candidates`` ({doc_id: text}) by cross-encoder score; keep the top ``k``."""
        check_text(query, "query")
        if not isinstance(candidates, Mapping):
            raise InvalidInputError("candidates must be a mapping of doc id -> text, got "
                                    f"{type(candidates).__name__}")
        if not candidates:
            if k is not None:
                check_positive_int(k, "k")
            return []
        texts = check_corpus(candidates)
        k = len(texts) if k is None else check_k(k, len(texts))
        scores = self.score(query, list(texts.values()), calibrated=calibrated)
        order = np.argsort(-scores, kind="stable")[:k]
        ids = list(texts)
        return [Hit(ids[i], float(scores[i])) for i in order]
