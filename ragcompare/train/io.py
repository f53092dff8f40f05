"""Files and models the training commands read and write: JSON results, lzma-compressed JSON (the files
that travel to a GPU machine), the all-MiniLM-L6-v2 bi-encoder and cross-encoders from model folders."""

from __future__ import annotations

import json
import lzma
from pathlib import Path
from typing import Any

from ragcompare.models.pack import base_model_path
from ragcompare.models.resolve import load_bi_encoder, load_cross_encoder
from ragcompare.settings import train_device
from ragcompare.storage import ArtifactError, atomic_output, atomic_write_text
from ragcompare.storage import read_json as _read_json


def _encode(obj: Any, indent: int | None = None) -> str:
    """``obj`` as JSON (NaN kept, as training results have always been written); a value JSON cannot
    hold raises :class:`ArtifactError` before anything is written."""
    try:
        return json.dumps(obj, indent=indent)
    except (TypeError, ValueError) as e:
        raise ArtifactError(f"cannot save as JSON: {e}") from None


def _folder_for(path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ArtifactError(f"cannot create the folder of {path}: {e.strerror or e}") from None


def dump_json(path: str | Path, obj: Any) -> None:
    """Write ``obj`` as indented JSON (creating the folder), atomically: a failed write leaves the
    previous file as it was."""
    path = Path(path)
    text = _encode(obj, indent=2) + "\n"
    _folder_for(path)
    atomic_write_text(path, text)


def read_json(path: str | Path) -> Any:
    """Read a JSON file (a missing or corrupt one raises :class:`ArtifactError`)."""
    return _read_json(path, "file")


def dump_xz(path: str | Path, obj: Any) -> None:
    """Write ``obj`` as lzma-compressed JSON (creating the folder), atomically."""
    path = Path(path)
    text = _encode(obj)
    _folder_for(path)
    with atomic_output(path, "wb") as fh, lzma.open(fh, "wt", encoding="utf-8") as z:
        z.write(text)


def load_xz(path: str | Path) -> Any:
    """Read a :func:`dump_xz` file (a missing, truncated or corrupt one raises :class:`ArtifactError`)."""
    try:
        with lzma.open(path, "rt", encoding="utf-8") as fh:
            return json.load(fh)
    except FileNotFoundError:
        raise ArtifactError(f"missing file {path}") from None
    except (lzma.LZMAError, EOFError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ArtifactError(f"{path} is corrupt (not lzma-compressed JSON, or truncated): {e}") from None
    except OSError as e:
        raise ArtifactError(f"cannot read {path}: {e.strerror or e}") from None


def bi_encoder(device: str | None = None) -> Any:
    """The all-MiniLM-L6-v2 bi-encoder from the offline package (default device: the training one)."""
    return load_bi_encoder(str(base_model_path()), device=device or train_device())


def cross_encoder(path: str | Path, max_length: int | None, device: str | None = None) -> Any:
    """A CrossEncoder from a packed (materialized first) or full model folder, hub never contacted
    (default device: the training one; ``max_length`` None: the tokenizer's limit)."""
    return load_cross_encoder(str(path), max_length=max_length, device=device or train_device(),
                              local_files_only=True)
