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


def dump_json(path: str | Path, obj: Any) -> None:
    """Write ``obj`` as indented JSON (creating the folder)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2) + "\n")


def read_json(path: str | Path) -> Any:
    """Read a JSON file."""
    return json.loads(Path(path).read_text())


def dump_xz(path: str | Path, obj: Any) -> None:
    """Write ``obj`` as lzma-compressed JSON (creating the folder)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with lzma.open(path, "wt") as fh:
        json.dump(obj, fh)


def load_xz(path: str | Path) -> Any:
    """Read a :func:`dump_xz` file."""
    with lzma.open(path, "rt") as fh:
        return json.load(fh)


def bi_encoder(device: str | None = None) -> Any:
    """The all-MiniLM-L6-v2 bi-encoder from the offline package (default device: the training one)."""
    return load_bi_encoder(str(base_model_path()), device=device or train_device())


def cross_encoder(path: str | Path, max_length: int | None, device: str | None = None) -> Any:
    """A CrossEncoder from a packed (materialized first) or full model folder, hub never contacted
    (default device: the training one; ``max_length`` None: the tokenizer's limit)."""
    return load_cross_encoder(str(path), max_length=max_length, device=device or train_device(),
                              local_files_only=True)
