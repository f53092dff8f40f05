"""Saved indexes: what every first stage's ``save`` / ``load`` shares (the folder layout lives in
:mod:`ragcompare.storage`: one manifest, hashed data files, atomic replacement).

A saved index keeps its document ids in ``doc_ids.json`` next to its engine's own files, and its
settings, count and corpus fingerprint in the manifest. Indexes saved before manifests (a
``meta.json`` with the ids inside, tagged with the retriever's legacy format) still load.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ragcompare.storage import (
    MANIFEST,
    ArtifactError,
    atomic_write_json,
    load_artifact,
    read_json,
    read_json_object,
    save_artifact,
)

IDS_FILE = "doc_ids.json"


class IndexFileError(ArtifactError):
    """A saved index is missing, corrupt, inconsistent or was built with another model."""


def save_index(directory: str | Path, kind: str, doc_ids: list[str],
               write: Callable[[Path], None], meta: Mapping[str, Any]) -> Path:
    """Save an index of ``kind`` atomically: ``write(folder)`` writes the engine's files, the ids go
    to ``doc_ids.json``; a failure leaves the previous version loadable."""

    def write_all(folder: Path) -> None:
        write(folder)
        atomic_write_json(folder / IDS_FILE, list(doc_ids), indent=None)

    try:
        return save_artifact(directory, kind, write_all, {**meta, "count": len(doc_ids)})
    except ArtifactError as e:
        raise IndexFileError(str(e)) from None


def load_index(directory: str | Path, kind: str, fmt: str,
               legacy_format: str) -> tuple[Path, dict[str, Any], list[str]]:
    """The data folder, metadata and document ids of the ``kind`` index saved in ``directory``,
    checked (manifest, hashes, format ``fmt``, ids unique strings matching the count)."""
    directory = Path(directory).expanduser()
    try:
        if not (directory / MANIFEST).exists() and (directory / "meta.json").exists():
            folder, meta = directory, read_json_object(directory / "meta.json", "index metadata")
            if meta.get("format") != legacy_format:
                raise ArtifactError(f"{directory / 'meta.json'} is not a ragcompare {kind}")
            ids = meta.get("doc_ids")
        else:
            folder, meta = load_artifact(directory, kind)
            if meta.get("format") != fmt:
                raise ArtifactError(f"{directory} holds a {kind} of format {meta.get('format')!r}; "
                                    f"this ragcompare reads {fmt}")
            ids = read_json(folder / IDS_FILE, "document ids")
            if not isinstance(ids, list) or meta.get("count") != len(ids):
                raise ArtifactError(f"{directory}: the document ids do not match the manifest")
        if (not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids)
                or len(set(ids)) != len(ids)):
            raise ArtifactError(f"{directory}: the document ids are corrupt")
    except ArtifactError as e:
        raise IndexFileError(str(e)) from None
    return folder, meta, ids
