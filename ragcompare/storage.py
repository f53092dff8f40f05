"""Atomic, verified persistence: every file and folder ragcompare saves goes through here.

* :func:`atomic_write_bytes` / :func:`atomic_write_text` / :func:`atomic_write_json` /
  :func:`atomic_output` write into a temporary sibling, fsync it, and rename it over the target:
  a reader sees the old file or the new one, never half of one, and a failed write leaves the old
  file as it was.
* :func:`atomic_directory` does the same for a whole folder (model packs, rebuilt models, exports).
* :func:`save_artifact` / :func:`load_artifact` keep a *saved artefact* (an index, a BM25 model)
  in a folder with one ``manifest.json`` naming what it holds (kind, format, corpus fingerprint,
  counts, the sha256 of every data file). Each save writes a fresh data folder, then replaces the
  manifest in one rename, then removes the previous data: a failure at any step leaves the previous
  version loadable. Loading checks the kind, the format and every hash, and refuses with
  :class:`ArtifactError` rather than answer from a damaged or foreign folder.

Nothing here pickles. Lowest layer: imports only :mod:`ragcompare.types`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
import shutil
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any

from ragcompare.types import RagCompareError

FORMAT = "ragcompare.artifact/1"
MANIFEST = "manifest.json"
_DATA_DIR = re.compile(r"^data-[0-9a-f]{12}$")


class ArtifactError(RagCompareError):
    """A saved file or folder is missing, corrupt, of another kind, or cannot be written."""


# -- files ------------------------------------------------------------------------------------
def file_sha256(path: str | Path) -> str:
    """sha256 of a file's bytes (hex)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


_HASHES: dict[str, tuple[tuple[int, int, int], str]] = {}
"""absolute path -> ((size, mtime_ns, inode), sha256) of the files hashed in this process."""


def _stat_key(path: Path) -> tuple[str, tuple[int, int, int]]:
    st = path.stat()
    return os.path.abspath(path), (st.st_size, st.st_mtime_ns, st.st_ino)


def cached_sha256(path: str | Path) -> str:
    """sha256 of a file, hashed once per process while its size, mtime and inode stay the same."""
    where, stat = _stat_key(Path(path))
    known = _HASHES.get(where)
    if known is not None and known[0] == stat:
        return known[1]
    digest = file_sha256(where)
    _HASHES[where] = (stat, digest)
    return digest


def remember_sha256(path: str | Path, digest: str) -> None:
    """Record a file's sha256 (just computed elsewhere) so :func:`cached_sha256` need not re-hash it."""
    where, stat = _stat_key(Path(path))
    _HASHES[where] = (stat, digest)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def _tmp_sibling(path: Path, suffix: str = ".tmp") -> Path:
    return path.with_name(f".{path.name}.{secrets.token_hex(4)}{suffix}")


def check_writable(path: str | Path, what: str = "output") -> Path:
    """Refuse early (before a long run) a target file whose folder is missing or read-only."""
    path = Path(path).expanduser()
    if path.is_dir():
        raise ArtifactError(f"{what} {path} is a folder; give a file name")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise ArtifactError(f"{what} {path}: folder {parent} does not exist")
    probe = _tmp_sibling(path, ".probe")
    try:
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        raise ArtifactError(f"{what} {path} cannot be written: {e.strerror or e}") from None
    return path


@contextlib.contextmanager
def atomic_output(path: str | Path, mode: str = "wb", encoding: str | None = None) -> Iterator[IO]:
    """Open a temporary sibling of ``path`` for writing; on success it is fsynced and renamed over
    ``path``; on any error it is removed and ``path`` is left as it was."""
    path = Path(path)
    tmp = _tmp_sibling(path)
    try:
        with open(tmp, mode, encoding=encoding) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (temporary sibling, fsync, rename)."""
    with atomic_output(path, "wb") as fh:
        fh.write(data)
    return Path(path)


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def to_json(obj: object, indent: int | None = None) -> str:
    """Strict JSON (no NaN/inf): a value JSON cannot hold raises :class:`ArtifactError` before
    anything is written."""
    try:
        return json.dumps(obj, indent=indent, allow_nan=False)
    except (TypeError, ValueError) as e:
        raise ArtifactError(f"cannot save as JSON: {e}") from None


def atomic_write_json(path: str | Path, obj: object, indent: int | None = 1) -> Path:
    """Encode ``obj`` (strictly, see :func:`to_json`), then write it atomically."""
    return atomic_write_text(path, to_json(obj, indent) + "\n")


def read_json(path: str | Path, what: str = "file") -> Any:
    """Parse a JSON file; a missing, unreadable or corrupt file raises :class:`ArtifactError`."""
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ArtifactError(f"missing {what} {path}") from None
    except IsADirectoryError:
        raise ArtifactError(f"{what} {path} is a folder, not a file") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ArtifactError(f"{what} {path} is corrupt: {e}") from None
    except OSError as e:
        raise ArtifactError(f"cannot read {what} {path}: {e.strerror or e}") from None


def read_json_object(path: str | Path, what: str = "file") -> dict[str, Any]:
    """:func:`read_json` for a file that must hold a JSON object."""
    obj = read_json(path, what)
    if not isinstance(obj, dict):
        raise ArtifactError(f"{what} {path} is corrupt: expected a JSON object, got "
                            f"{type(obj).__name__}")
    return obj


# -- folders ----------------------------------------------------------------------------------
def hash_tree(folder: str | Path, exclude: frozenset[str] | set[str] = frozenset()) -> dict[str, str]:
    """sha256 of every file under ``folder`` (relative POSIX path -> hex), ``exclude`` names skipped
    (remembered, so verifying the folder later in this process need not hash it again)."""
    root = Path(folder)
    return {p.relative_to(root).as_posix(): cached_sha256(p) for p in sorted(root.rglob("*"))
            if p.is_file() and p.name not in exclude}


def verify_tree(folder: str | Path, expected: Mapping[str, str], what: str = "folder") -> None:
    """Raise :class:`ArtifactError` unless every listed file exists with its listed sha256."""
    root = Path(folder)
    for rel, digest in expected.items():
        path = root / rel
        if not path.is_file():
            raise ArtifactError(f"{what} {root} is incomplete: {rel} is missing")
        if cached_sha256(path) != digest:
            raise ArtifactError(f"{what} {root} is corrupt: {rel} does not match its recorded "
                                "sha256 (changed or damaged since it was written)")


def _sync_tree(folder: Path) -> None:
    for p in folder.rglob("*"):
        if p.is_file():
            with open(p, "rb") as fh:
                os.fsync(fh.fileno())
    for d in [folder, *(p for p in folder.rglob("*") if p.is_dir())]:
        _fsync_dir(d)


@contextlib.contextmanager
def atomic_directory(target: str | Path) -> Iterator[Path]:
    """Build a folder in a temporary sibling; on success it replaces ``target`` (the previous one is
    removed only once the new one is in place); on error it is deleted and ``target`` kept."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_sibling(target, ".tmp")
    tmp.mkdir()
    try:
        yield tmp
        _sync_tree(tmp)
        old = None
        if target.exists():
            old = _tmp_sibling(target, ".old")
            os.replace(target, old)
        try:
            os.replace(tmp, target)
        except BaseException:
            if old is not None:
                os.replace(old, target)
            raise
        _fsync_dir(target.parent)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


# -- saved artefacts (a folder with a manifest) ------------------------------------------------
def save_artifact(directory: str | Path, kind: str, write: Callable[[Path], None],
                  meta: Mapping[str, Any]) -> Path:
    """Save an artefact of ``kind`` into ``directory``.

    ``write(folder)`` writes the data files into a fresh folder; ``meta`` (JSON-encodable; checked
    before anything is written) is kept in the manifest with the sha256 of every data file. A folder
    holding an artefact of another kind is refused; one of the same kind is replaced only once the
    new version is complete.
    """
    directory = Path(directory).expanduser()
    if directory.exists() and not directory.is_dir():
        raise ArtifactError(f"cannot save into {directory}: it is a file, not a folder")
    previous = None
    if (directory / MANIFEST).exists():
        try:
            previous = read_json_object(directory / MANIFEST, "manifest")
        except ArtifactError as e:
            raise ArtifactError(f"{e}; nothing was saved: remove {directory} or pick another folder"
                                ) from None
        if previous.get("kind") != kind:
            raise ArtifactError(f"{directory} already holds a {previous.get('kind', 'foreign')} "
                                f"artefact; save the {kind} in a folder of its own")
    manifest: dict[str, Any] = {"format": FORMAT, "kind": kind, "data": "", "files": {},
                                "meta": dict(meta)}
    to_json(manifest)  # refuse what JSON cannot hold before touching the disk
    try:
        directory.mkdir(parents=True, exist_ok=True)
        data = directory / f"data-{secrets.token_hex(6)}"
        data.mkdir()
    except OSError as e:
        raise ArtifactError(f"cannot save into {directory}: {e.strerror or e}") from None
    try:
        write(data)
        _sync_tree(data)
        manifest["data"] = data.name
        manifest["files"] = hash_tree(data)
        atomic_write_json(directory / MANIFEST, manifest)
    except BaseException as e:
        shutil.rmtree(data, ignore_errors=True)
        if isinstance(e, OSError):
            raise ArtifactError(f"saving the {kind} into {directory} failed ({e.strerror or e}); "
                                "the previous version, if any, is untouched") from None
        raise
    for old in directory.iterdir():  # the previous version and leftovers of failed saves
        if old.is_dir() and _DATA_DIR.match(old.name) and old.name != data.name:
            shutil.rmtree(old, ignore_errors=True)
    return directory


def load_artifact(directory: str | Path, kind: str) -> tuple[Path, dict[str, Any]]:
    """The data folder and the metadata of the ``kind`` artefact saved in ``directory``, after
    checking the manifest's format and kind and the sha256 of every data file."""
    directory = Path(directory).expanduser()
    if not directory.is_dir():
        raise ArtifactError(f"no saved {kind} at {directory} (not a folder)")
    if not (directory / MANIFEST).exists():
        raise ArtifactError(f"{directory} holds no saved {kind} (no {MANIFEST})")
    manifest = read_json_object(directory / MANIFEST, "manifest")
    if manifest.get("format") != FORMAT:
        raise ArtifactError(f"{directory / MANIFEST} is not a ragcompare manifest ({FORMAT})")
    if manifest.get("kind") != kind:
        raise ArtifactError(f"{directory} holds a {manifest.get('kind')!r}, not a {kind!r}")
    files, meta, data = manifest.get("files"), manifest.get("meta"), manifest.get("data")
    if not (isinstance(files, dict) and isinstance(meta, dict) and isinstance(data, str)
            and _DATA_DIR.match(data)):
        raise ArtifactError(f"{directory / MANIFEST} is corrupt (missing data, files or meta)")
    verify_tree(directory / data, files, f"saved {kind}")
    return directory / data, meta
