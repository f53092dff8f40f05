"""Every setting ragcompare reads from the environment, in one place (each is listed in the README).

* ``RAGCOMPARE_DATA_DIR`` -- folder of the BEIR-layout collections and the ``pairs/``, ``qa/`` sets
  (default ``../shared/datasets`` next to the project root);
* ``RAGCOMPARE_CACHE_DIR`` -- embeddings, downloads, rebuilt models, ONNX exports, your hardware
  profiles (default ``~/.cache/ragcompare``);
* ``RAGCOMPARE_QUICK`` -- ``1``: notebooks and benchmarks subsample (for CI only);
* ``RAGCOMPARE_OFFLINE`` -- ``1``: never contact the Hugging Face hub (as do ``HF_HUB_OFFLINE`` and
  ``TRANSFORMERS_OFFLINE``);
* ``RAGCOMPARE_RERANKER`` -- reranker id or folder used instead of the automatic held-out choice;
  ``RAGCOMPARE_RERANKER_<COLLECTION>`` (e.g. ``_CISI``) the same for one collection;
* ``RAGCOMPARE_TRAIN_DEVICE`` -- device training and its evaluation run on: ``cpu`` (default) or
  ``cuda[:N]``.
"""

from __future__ import annotations

import os
from pathlib import Path

from ragcompare.types import InvalidInputError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
"""The repository root when installed from a checkout (``pip install -e .``)."""

MODELS_DIR = PROJECT_ROOT / "data" / "models"
"""Models this project trained and ships (compact form, see ``ragcompare.models.pack``)."""

_TRUE = {"1", "true", "yes", "on"}


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in _TRUE


def data_dir() -> Path:
    """Directory holding BEIR-layout collections: ``$RAGCOMPARE_DATA_DIR`` or ``../shared/datasets``."""
    env = os.environ.get("RAGCOMPARE_DATA_DIR")
    return Path(env).expanduser() if env else (PROJECT_ROOT.parent / "shared" / "datasets").resolve()


def cache_dir() -> Path:
    """Cache dir for embeddings, downloads, rebuilt models (``$RAGCOMPARE_CACHE_DIR``); created."""
    env = os.environ.get("RAGCOMPARE_CACHE_DIR")
    path = Path(env).expanduser() if env else Path.home() / ".cache" / "ragcompare"
    path.mkdir(parents=True, exist_ok=True)
    return path


def quick_mode() -> bool:
    """True when ``RAGCOMPARE_QUICK`` asks notebooks and benchmarks to subsample (CI only)."""
    return _flag("RAGCOMPARE_QUICK")


def hub_offline() -> bool:
    """True when the user forbids hub access (``RAGCOMPARE_OFFLINE``, ``HF_HUB_OFFLINE``,
    ``TRANSFORMERS_OFFLINE``)."""
    return any(_flag(v) for v in ("RAGCOMPARE_OFFLINE", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def reranker_override(collection: str | None = None) -> str | None:
    """The reranker the user asked for: ``RAGCOMPARE_RERANKER_<COLLECTION>``, else
    ``RAGCOMPARE_RERANKER``, else None (automatic choice)."""
    if collection:
        value = os.environ.get(f"RAGCOMPARE_RERANKER_{collection.upper()}", "").strip()
        if value:
            return value
    return os.environ.get("RAGCOMPARE_RERANKER", "").strip() or None


def train_device() -> str:
    """Device for training and its evaluation (``RAGCOMPARE_TRAIN_DEVICE``: ``cpu``, ``cuda[:N]``)."""
    dev = os.environ.get("RAGCOMPARE_TRAIN_DEVICE", "cpu").strip() or "cpu"
    if dev.split(":")[0] not in {"cpu", "cuda"}:
        raise InvalidInputError(f"RAGCOMPARE_TRAIN_DEVICE must be cpu or cuda[:N], got {dev!r}")
    return dev
