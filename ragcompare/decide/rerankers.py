"""The reranker behind each profiled setting: ``max_length`` x (PyTorch | ONNX Runtime INT8).

A profile's cross-encoder settings are keyed ``"256"``, ``"128"``, ``"256-int8"``, ``"128-int8"``.
The INT8 ones are ONNX Runtime dynamic quantization (``ragcompare.rerank.onnx``, variant
``onnx-int8``) -- the same backend the recommendation names -- the others the PyTorch
sentence-transformers cross-encoder. Timing needs a reranker even where none is trained or cached:
then an architecture stand-in is built once (MiniLM-L6 with a fresh one-logit head).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path

from ragcompare.checks import check_bool, check_int, check_positive_int
from ragcompare.storage import (
    ArtifactError,
    atomic_directory,
    atomic_write_json,
    hash_tree,
    read_json_object,
    verify_tree,
)

INT8_BACKEND = "onnx-int8"
"""The ``ragcompare.rerank.onnx`` variant measured for every ``*-int8`` setting."""
STAND_IN_NAME = "MiniLM-L6 (architecture stand-in)"
STAND_IN_NOTE = ("no trained reranker available: timed an untrained MiniLM-L6 cross-encoder "
                 "(same architecture and compute as cross-encoder/ms-marco-MiniLM-L-6-v2)")
STAND_IN_RECORD = "stand-in.json"
"""Written last into the stand-in folder: the sha256 of every file (checked when it is reused)."""


def setting_key(max_length: int, int8: bool) -> str:
    """The profile's key of a reranker setting, e.g. ``"128-int8"``."""
    return f"{check_int(max_length, 'max_length', minimum=0)}{'-int8' if check_bool(int8, 'int8') else ''}"


def setting_reranker(model: str, max_length: int, int8: bool = False, batch_size: int = 32,
                     threads: int | None = None):
    """The reranker of one setting: ONNX Runtime INT8 if ``int8``, else PyTorch.

    ``threads`` is ONNX Runtime's intra-op thread count (default: torch's current count, so both
    backends are timed alike); the first INT8 use of a model exports and quantizes it (cached).
    """
    if threads is not None:
        threads = check_positive_int(threads, "threads")
    if not check_bool(int8, "int8"):
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
    if target.exists():
        try:
            record = read_json_object(target / STAND_IN_RECORD, "stand-in record")
            files = record.get("files")
            if not isinstance(files, dict) or "config.json" not in files:
                raise ArtifactError(f"{target / STAND_IN_RECORD} lists no model files")
            verify_tree(target, files, "stand-in reranker")
            return target
        except ArtifactError as e:
            warnings.warn(f"{e}; rebuilding it", RuntimeWarning, stacklevel=2)
    torch.manual_seed(0)
    model = CrossEncoder(str(base_model_path()), num_labels=1, device="cpu", local_files_only=True)
    with atomic_directory(target) as tmp:  # an interrupted save never leaves a folder in use
        model.save(str(tmp))
        atomic_write_json(tmp / STAND_IN_RECORD, {"files": hash_tree(tmp)})
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
