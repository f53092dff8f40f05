"""Command line: ``ragcompare bench``, ``ragcompare models``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ragcompare.types import InvalidInputError, RagCompareError


def _alphas(text: str | None) -> list[float]:
    """Parse ``--alpha 0.3,0.5`` (each value is checked by HybridPipeline)."""
    if not text:
        return []
    try:
        return [float(x) for x in text.split(",")]
    except ValueError:
        raise InvalidInputError(f"--alpha takes comma-separated numbers in [0, 1], got {text!r}") from None


def _bench(args: argparse.Namespace) -> int:
    from ragcompare.data.beir import load_dataset
    from ragcompare.eval.bench import run_benchmark
    from ragcompare.sysinfo import describe_machine, set_threads

    if args.threads:
        set_threads(args.threads)
    if args.no_progress:  # also the weight-loading bars transformers draws on stderr
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
    dataset = load_dataset(args.dataset)
    print(f"dataset: {dataset!r}")
    print(f"machine: {describe_machine()}")
    report = run_benchmark(dataset, bi_encoder=args.bi_encoder, cross_encoder=args.cross_encoder,
                           k_retrieve=args.k_retrieve, max_length=args.max_length,
                           rerank_queries=args.rerank_queries, ce_only_queries=args.ce_only_queries,
                           hybrid_first_stages=args.first_stages.split(","),
                           alphas=_alphas(args.alpha),
                           progress=not args.no_progress)
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
          f"setup: {', '.join(f'{k}={v:.2f}' for k, v in report.setup_seconds.items())}")
    if args.output:
        Path(args.output).write_text(json.dumps(report.to_json(), indent=2))
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
    p = argparse.ArgumentParser(prog="ragcompare", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    b = sub.add_parser("bench", help="compare BM25, bi-encoder, fusion, hybrid, cross-encoder only")
    b.add_argument("--dataset", default="cranfield", help="name or path of a BEIR-layout folder")
    b.add_argument("--bi-encoder", default=None, help="bi-encoder id or path")
    b.add_argument("--cross-encoder", default=None, help="cross-encoder id or path")
    b.add_argument("--k-retrieve", type=int, default=20, help="candidates reranked per query")
    b.add_argument("--max-length", type=int, default=256, help="cross-encoder max tokens per pair")
    b.add_argument("--rerank-queries", type=int, default=None,
                   help="sample this many queries for the hybrid pipelines (default: all)")
    b.add_argument("--first-stages", default="bi-encoder",
                   help="comma-separated first stages to rerank: bi-encoder, bm25, rrf")
    b.add_argument("--alpha", default=None,
                   help="also run hybrids that interpolate alpha*z(CE) + (1-alpha)*z(first stage), "
                        "comma-separated values in [0, 1] (e.g. 0.5)")
    b.add_argument("--ce-only-queries", type=int, default=2,
                   help="queries for cross-encoder-only (scores every document; 0 to skip)")
    b.add_argument("--threads", type=int, default=None,
                   help="torch/FAISS threads (default: all cores; use 1 on a busy machine)")
    b.add_argument("--output", default=None, help="also write the table as JSON")
    b.add_argument("--no-progress", action="store_true", help="hide progress bars")
    b.set_defaults(func=_bench)
    m = sub.add_parser("models", help="print the model guide and the shipped offline models")
    m.set_defaults(func=_models)
    from ragcompare.decide.cli import add_cli

    add_cli(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``ragcompare`` command."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except RagCompareError as e:
        print(f"ragcompare: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
