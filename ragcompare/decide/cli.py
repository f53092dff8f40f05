"""The decision helper's commands: ``ragcompare recommend`` and ``ragcompare calibrate``.

Every argument is checked while the command line is parsed (:mod:`ragcompare.cliutil`): numbers are
finite and positive, the accuracy is a known level, ``calibrate --output`` is writable, all before a
profile is read or anything is measured.
"""

from __future__ import annotations

import json

from ragcompare.cliutil import choice, output_file, positive_int, positive_number
from ragcompare.decide.calibration import calibrate, update_quality
from ragcompare.decide.quality import ACCURACY_LEVELS
from ragcompare.decide.recommender import recommend
from ragcompare.decide.rules import rule_of_thumb


def _cli_recommend(args) -> int:
    rec = recommend(args.corpus_size, args.latency_ms, args.accuracy, profile=args.profile,
                    memory_budget_gb=args.memory_gb, query_tokens=args.query_tokens)
    if args.json:
        print(json.dumps(rec.to_dict(), indent=1, default=str))
    else:
        print(rec.summary())
        thumb = rule_of_thumb(args.corpus_size, args.latency_ms, args.accuracy)
        print(f"the course's starting rules of thumb say: {thumb.approach} ({thumb.rule})")
    return 0


def _cli_calibrate(args) -> int:
    if args.quality_only:
        update_quality(args.output, n_queries=args.quality_queries)
        return 0
    quality = args.quality
    if args.quality and args.quality_queries:  # a sampled quick check: measure it here, pass it on
        from ragcompare.decide.quality import measure_quality

        quality = measure_quality(n_queries=args.quality_queries)
    calibrate(quick=args.quick, threads=args.threads, quality=quality, output=args.output)
    return 0


def add_cli(sub) -> None:
    """Register ``ragcompare recommend`` and ``ragcompare calibrate`` on the CLI's subparsers (made by
    a :class:`ragcompare.cliutil.Parser`)."""
    r = sub.add_parser("recommend", help="recommend bi-encoder / hybrid / cross-encoder from needs")
    r.add_argument("--corpus-size", type=positive_number, required=True, help="documents, e.g. 2e6")
    r.add_argument("--latency-ms", type=positive_number, required=True,
                   help="p95 latency budget per query")
    r.add_argument("--accuracy", type=choice(ACCURACY_LEVELS), default="medium",
                   help=" | ".join(ACCURACY_LEVELS))
    r.add_argument("--memory-gb", type=positive_number, default=None,
                   help="optional index memory budget")
    r.add_argument("--query-tokens", type=positive_number, default=None,
                   help="typical query length in word pieces (default: the profiled query mix)")
    r.add_argument("--profile", default=None,
                   help="hardware profile: cpu, cuda or a JSON path (default: yours, else shipped)")
    r.add_argument("--json", action="store_true", help="print the recommendation as JSON")
    r.set_defaults(func=_cli_recommend)
    c = sub.add_parser("calibrate", help="measure this machine's costs and save a hardware profile")
    c.add_argument("--quick", action="store_true", help="tiny sizes, for tests (seconds)")
    c.add_argument("--threads", type=positive_int, default=1,
                   help="torch/FAISS threads while measuring (default 1: robust on a busy machine)")
    c.add_argument("--quality", action="store_true",
                   help="also measure nDCG@10 of every reranking option on every judged query, with "
                        "the 95%% interval of its gain over the bi-encoder (needs the shipped "
                        "rerankers; ~12 min on 2 cores; uses every core)")
    c.add_argument("--quality-only", action="store_true",
                   help="only re-measure the quality curves into the profile at --output (default: "
                        "yours, else the shipped one), e.g. after a new reranker ships")
    c.add_argument("--quality-queries", type=positive_int, default=None,
                   help="sample this many queries per collection for the quality curves (quick "
                        "checks only; default: every judged query)")
    c.add_argument("--output", type=output_file, default=None,
                   help="profile path (default: the user cache dir); checked writable first")
    c.set_defaults(func=_cli_calibrate)
