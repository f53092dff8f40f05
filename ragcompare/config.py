"""Where ragcompare looks for data and keeps its caches (overridable with environment variables)."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
"""The repository root when installed from a checkout (``pip install -e .``)."""

MODELS_DIR = PROJECT_ROOT / "data" / "models"
"""Models this project trained and ships (compact form, see ``ragcompare.model_pack``)."""


def data_dir() -> Path:
    """Directory holding BEIR-layout collections: ``$RAGCOMPARE_DATA_DIR`` or ``../shared/datasets``."""
    env = os.environ.get("RAGCOMPARE_DATA_DIR")
    return Path(env).expanduser() if env else (PROJECT_ROOT.parent / "shared" / "datasets").resolve()


def cache_dir() -> Path:
    """Cache dir for embeddings, downloads, rebuilt models (``$RAGCOMPARE_CACHE_DIR``)."""
    env = os.environ.get("RAGCOMPARE_CACHE_DIR")
    path = Path(env).expanduser() if env else Path.home() / ".cache" / "ragcompare"
    path.mkdir(parents=True, exist_ok=True)
    return path


def quick_mode() -> bool:
    """True when ``RAGCOMPARE_QUICK`` (or ``FAST``) asks notebooks/benchmarks to subsample for CI."""
    for var in ("RAGCOMPARE_QUICK", "FAST"):
        if os.environ.get(var, "").strip().lower() in {"1", "true", "yes", "on"}:
            return True
    return False
