"""The reranker behind each profiled setting: ``max_length`` x (PyTorch | ONNX Runtime INT8).

A profile's cross-encoder settings are keyed ``"256"``, ``"128"``, ``"256-int8"``, ``"128-int8"``.
The INT8 ones are ONNX Runtime dynamic quantization (``ragcompare.rerank.onnx``, variant
``onnx-int8``) -- the same backend the recommendation names -- the others the PyTorch
sentence-transformers cross-encoder. Timing needs a reranker even where none is trained or cached:
then an architecture stand-in is built once (MiniLM-L6 with a fresh one-logit head).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

INT8_BACKEND = "onnx-int8"
"""The ``ragcompare.rerank.onnx`` variant measured for every ``*-int8`` setting."""
STAND_IN_NAME = "MiniLM-L6 (architecture stand-in)"
STAND_IN_NOTE = ("no trained reranker available: timed an untrained MiniLM-L6 cross-encoder "
                 "(same architecture and compute as cross-encoder/ms-marco-MiniLM-L-6-v2)")


def setting_key(max_length: int, int8: bool) -> str:
    """The profile's key of a reranker setting, e.g. ``"128-int8"``."""
    return f"{max_length}{'-int8' if int8 else ''}"


def setting_reranker(model: str, max_length: int, int8: bool = False, batch_size: int = 32,
                     threads: int | None = None):
    """The reranker of one setting: ONNX Runtime INT8 if ``int8``, else PyTorch.

    ``threads`` is ONNX Runtime's intra-op thread count (default: torch's current count, so both
    backends are timed alike); the first INT8 use of a model exports and quantizes it (cached).
    """
    if not int8:
        from ragcompare.rerank.cross_encoder import CrossEncoderReranker

        return CrossEncoderReranker(model, max_length=max_length, batch_size=batch_size)
    import torch

    from ragcompare.rerank.onnx import OnnxCrossEncoderReranker

    return OnnxCrossEncoderReranker(model, variant=INT8_BACKEND, max_length=max_length,
                                    batch_size=batch_size, threads=threads or torch.get_num_threads())


def stand_in_path() -> Path:
    """A saved MiniLM-L6 cross-encoder with an untrained one-logit head (timing only), built once in
    the cache dir from the bi-encoder base (``ragcompare.models.pack.base_model_path``)."""
    import torch
    from sentence_transformers import CrossEncoder

    from ragcompare.models.pack import base_model_path
    from ragcompare.settings import cache_dir

    target = cache_dir() / "decide" / "stand-in-minilm-l6-cross-encoder"
    if (target / "config.json").is_file():
        return target
    torch.manual_seed(0)
    model = CrossEncoder(str(base_model_path()), num_labels=1, device="cpu", local_files_only=True)
    tmp = target.with_name(f"{target.name}.tmp")
    model.save(str(tmp))
    tmp.replace(target)
    return target


def timing_reranker(log: Callable[[str], None] = print) -> tuple[str, str, str]:
    """(name to record, model to load, note): the shipped / hub reranker, else the stand-in."""
    from ragcompare.models.resolve import ModelNotAvailableError, pick_reranker, resolve_model

    try:
        name = pick_reranker(None)
        resolve_model(name, "cross-encoder")
        return name, name, ""
    except ModelNotAvailableError:
        log(f"  {STAND_IN_NOTE}")
        return STAND_IN_NAME, str(stand_in_path()), STAND_IN_NOTE
