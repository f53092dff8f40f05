"""Command line: ``ragcompare bench``, ``ragcompare models``, ``ragcompare recommend|calibrate``.

Every argument is checked while the command line is parsed, before any data is read or any model
loaded; a wrong one ends with one ``ragcompare: error: ...`` line (exit status 2). An unexpected
error ends with one line too (exit status 1); ``--debug`` shows its traceback. ``bench --output`` is
checked writable before the run, written atomically, and gets the pipelines that finished when the
run is interrupted (Ctrl-C, exit status 130).
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from pathlib import Path

from ragcompare.cliutil import (
    Parser,
    alpha_list,
    choice_list,
    non_negative_int,
    output_file,
    positive_int,
    run_command,
)


# -- argument checks that need the data and model layers ---------------------------------------
def _dataset(text: str) -> str:
    """``type=`` for ``--dataset``: a BEIR-layout folder, a collection of the data dir or a BEIR name
    (looked up, not read: the loader checks the files)."""
    from ragcompare.data.beir import BEIR_NAMES, available_local
    from ragcompare.settings import data_dir

    name = text.strip()
    try:
        found = bool(name) and "\0" not in name and (
            Path(name).expanduser().is_dir() or name.lower() in BEIR_NAMES
            or ("/" not in name and (data_dir() / name).is_dir()))
    except (OSError, ValueError):  # a name the file system refuses
        found = False
    if not found:
        raise argparse.ArgumentTypeError(
            f"unknown dataset {name!r}: no such folder, not in {data_dir()} (set RAGCOMPARE_DATA_DIR) "
            f"and not a BEIR name; available here: {', '.join(available_local()) or 'none'}")
    return name


def _model(text: str) -> str:
    """``type=`` for a model id or folder: a folder that exists is checked now (a packed one when it
    is rebuilt), an id when it is resolved."""
    from ragcompare.models.resolve import folder_problem

    path = Path(text).expanduser()
    if not text.strip():
        raise argparse.ArgumentTypeError("expected a model id or folder, got ''")
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{path} is a file, not a model folder")
    if path.is_dir() and not (path / "pack.json").is_file():
        problem = folder_problem(path)
        if problem:
            raise argparse.ArgumentTypeError(f"{path} is not a usable model folder: {problem}")
    return text


def _first_stages(text: str) -> list[str]:
    """``type=`` for ``--first-stages``: names of :data:`ragcompare.eval.bench.FIRST_STAGES`."""
    from ragcompare.eval.bench import FIRST_STAGES

    return choice_list(FIRST_STAGES)(text)


# -- bench ------------------------------------------------------------------------------------
def _json_ready(obj: object) -> object:
    """``obj`` with numpy values made Python ones and NaN/inf made ``None`` (JSON cannot hold them)."""
    if isinstance(obj, dict):
        return {str(k): _json_ready(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_ready(v) for v in obj]
    if hasattr(obj, "tolist") and not isinstance(obj, (str, bytes)):  # numpy scalars and arrays
        return _json_ready(obj.tolist())
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if obj is None or isinstance(obj, (str, int, float)):
        return obj
    return str(obj)


def _save_report(report, path: Path, interrupted: bool) -> None:
    from ragcompare.storage import atomic_write_json

    atomic_write_json(path, _json_ready({**report.to_json(), "interrupted": interrupted}), indent=2)


def _print_report(report, args: argparse.Namespace) -> None:
    import pandas as pd

    for sampled in (False, True):
        frame = report.to_frame(sampled=sampled)
        if frame.empty:
            continue
        counts = sorted(set(frame["queries"]))
        print(f"\n{'SAMPLED (not comparable with the table above)' if sampled else 'all queries'}: "
              f"{', '.join(map(str, counts))} queries; differences to the bi-encoder on the same "
              "queries, paired bootstrap 95% CI, Fisher randomization p-value")
        with pd.option_context("display.width", 220, "display.max_columns", 20,
                               "display.max_colwidth", 70, "display.float_format", "{:.3f}".format):
            print(frame.drop(columns=["notes"]).to_string())
        for name, note in frame["notes"].items():
            if note:
                print(f"  note [{name}]: {note}")
    for r in report.records:
        if "cross_encoder" in r.settings:
            print(f"settings: cross-encoder {r.settings['cross_encoder']}, max_length "
                  f"{r.settings['max_length']}, k_retrieve {r.settings['k_retrieve']}; bi-encoder "
                  f"{args.bi_encoder or 'sentence-transformers/all-MiniLM-L6-v2'} (FAISS Flat IP)")
            break
    print("latency: wall-clock per query (one query at a time, after one warm-up query); "
          f"setup: {', '.join(f'{k}={v:.2f}' for k, v in report.setup_seconds.items()) or 'n/a'}")


def _bench(args: argparse.Namespace) -> int:
    from ragcompare.data.beir import load_dataset
    from ragcompare.eval import bench
    from ragcompare.sysinfo import describe_machine, set_threads

    if args.threads:
        set_threads(args.threads)
    if args.no_progress:  # also the weight-loading bars transformers draws on stderr
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
    dataset = load_dataset(args.dataset)
    print(f"dataset: {dataset!r}")
    print(f"machine: {describe_machine()}")
    finished: list = []
    results: dict = {}

    def on_record(record, ranked) -> None:
        finished.append(record)
        results[record.name] = ranked

    try:
        report = bench.run_benchmark(
            dataset, bi_encoder=args.bi_encoder, cross_encoder=args.cross_encoder,
            k_retrieve=args.k_retrieve, max_length=args.max_length,
            rerank_queries=args.rerank_queries, ce_only_queries=args.ce_only_queries,
            hybrid_first_stages=args.first_stages, alphas=args.alpha,
            progress=not args.no_progress, on_record=on_record)
    except KeyboardInterrupt:
        if not finished:
            raise KeyboardInterrupt("no pipeline had finished; nothing was saved") from None
        from ragcompare.sysinfo import machine_info

        bench.add_comparisons(finished, results, dataset.qrels, "bi-encoder")
        report = bench.BenchReport(dataset.name, finished, machine_info(), {})
        saved = ""
        if args.output:
            _save_report(report, args.output, interrupted=True)
            saved = f"; wrote them to {args.output} (marked interrupted)"
        print(f"\nINTERRUPTED: the {len(finished)} pipelines that finished")
        _print_report(report, args)
        raise KeyboardInterrupt(f"{len(finished)} pipelines had finished{saved}") from None
    if args.output:
        _save_report(report, args.output, interrupted=False)
    _print_report(report, args)
    if args.output:
        print(f"wrote {args.output}")
    return 0


def _models(args: argparse.Namespace) -> int:
    import pandas as pd

    from ragcompare.models.resolve import model_guide, shipped_models

    with pd.option_context("display.width", 200, "display.max_colwidth", 60):
        print(model_guide().to_string(index=False))
    print("\nshipped (offline) models:", ", ".join(shipped_models()) or "none")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The ``ragcompare`` argument parser (subcommands register themselves here)."""
    p = Parser(prog="ragcompare", description=__doc__,
               formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    b = sub.add_parser("bench", help="compare BM25, bi-encoder, fusion, hybrid, cross-encoder only")
    b.add_argument("--dataset", type=_dataset, default="cranfield",
                   help="name or path of a BEIR-layout folder")
    b.add_argument("--bi-encoder", type=_model, default=None, help="bi-encoder id or path")
    b.add_argument("--cross-encoder", type=_model, default=None, help="cross-encoder id or path")
    b.add_argument("--k-retrieve", type=positive_int, default=20, help="candidates reranked per query")
    b.add_argument("--max-length", type=positive_int, default=256,
                   help="cross-encoder max tokens per pair")
    b.add_argument("--rerank-queries", type=positive_int, default=None,
                   help="sample this many queries for the hybrid pipelines (default: all)")
    b.add_argument("--first-stages", type=_first_stages, default=["bi-encoder"],
                   help="comma-separated first stages to rerank: bi-encoder, bm25, rrf")
    b.add_argument("--alpha", type=alpha_list, default=[],
                   help="also run hybrids that interpolate alpha*z(CE) + (1-alpha)*z(first stage), "
                        "comma-separated values in [0, 1] (e.g. 0.5)")
    b.add_argument("--ce-only-queries", type=non_negative_int, default=2,
                   help="queries for cross-encoder-only (scores every document; 0 to skip)")
    b.add_argument("--threads", type=positive_int, default=None,
                   help="torch/FAISS threads (default: all cores; use 1 on a busy machine)")
    b.add_argument("--output", type=output_file, default=None,
                   help="also write the records as JSON (checked writable before the run)")
    b.add_argument("--no-progress", action="store_true", help="hide progress bars")
    b.set_defaults(func=_bench)
    m = sub.add_parser("models", help="print the model guide and the shipped offline models")
    m.set_defaults(func=_models)
    from ragcompare.decide.cli import add_cli

    add_cli(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``ragcompare`` command; returns the exit status (0 done, 1 unexpected
    error, 2 user error, 130 interrupted)."""
    return run_command(build_parser().parse_args, lambda args: args.func(args), argv)


if __name__ == "__main__":
    sys.exit(main())
