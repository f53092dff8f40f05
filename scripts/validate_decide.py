"""Validate ``ragcompare.decide.recommend.recommend`` on this machine (a benchmark, not a timed test).

For a grid of scenarios (corpus size x latency budget x accuracy need) it asks for a recommendation,
then builds and runs that configuration for real: live query encoding with the bi-encoder, the
recommended FAISS index over real cranfield+cisi document vectors (scaled up with Gaussian synthetic
vectors beyond 2,860, as ``ragcompare calibrate`` does), and the reranker over real document texts
(synthetic vectors borrow real texts round-robin, so rerank cost is that of real documents).
Each distinct configuration is run once on ``--queries`` real queries (one at a time, after a
warm-up) and its measurement is shared by every scenario that recommended it.

Reported: the share of scenarios whose measured p95 (and p50) meets the budget, and the share whose
predicted p50 is within +-25% of the measured p50. Other jobs on the machine add noise.

    python scripts/validate_decide.py                  # default grid (sizes up to 300k)
    python scripts/validate_decide.py --sizes 100 1400 1e4 1e5 1e6 --output tmp/validate.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ragcompare.decide.calibrate import (  # noqa: E402
    GaussianScaleUp,
    build_index,
    int8,
    load_profile,
    load_reranker_for_timing,
    real_vectors,
    set_threads,
    speed_probe,
)
from ragcompare.decide.recommend import recommend  # noqa: E402


def _key(opt, n: int) -> tuple:
    s = opt.settings
    return (opt.approach, n, s.index, s.k_retrieve, s.max_length, s.optimization != "none")


def main(argv: list[str] | None = None) -> int:
    """Run the grid; print and optionally save the results."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", nargs="+", type=float, default=[100, 1400, 1e4, 1e5, 3e5])
    p.add_argument("--budgets", nargs="+", type=float, default=[10, 30, 100, 300, 1000, 2000])
    p.add_argument("--accuracy", nargs="+", default=["low", "medium", "high"])
    p.add_argument("--queries", type=int, default=150,
                   help="real queries timed per configuration (fewer, >= 20, for configurations "
                        "predicted to need more than ~20 s in all); a p95 needs many: query lengths "
                        "have a long tail")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--profile", default=None, help="profile device name or JSON path")
    p.add_argument("--output", default=None, help="write the per-scenario table as JSON")
    p.add_argument("--alternatives-max-ms", type=float, default=3000,
                   help="also run the runner-ups predicted under this p50 (checks the cost model of "
                        "approaches that were not chosen); 0 to skip")
    p.add_argument("--no-adjust", action="store_true",
                   help="do not scale predictions by the current load (speed probe vs profile)")
    args = p.parse_args(argv)

    threads = set_threads(args.threads)
    from ragcompare.data.beir import load_dataset
    from ragcompare.models.resolve import load_bi_encoder

    profile = load_profile(args.profile)
    probe = speed_probe()
    slowdown = 1.0 if args.no_adjust or not profile.probe_ms else probe / profile.probe_ms
    print(f"profile: {profile.label} ({profile.source}); threads now {threads}; "
          f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; speed probe {probe:.1f} ms "
          f"vs {profile.probe_ms} ms when profiled -> predictions x{slowdown:.2f}")
    docs, _, qtexts = real_vectors(log=lambda s: None)
    texts = [t for name in ("cranfield", "cisi") for t in load_dataset(name).texts.values()]
    scale = GaussianScaleUp(docs)
    rng = np.random.default_rng(0)
    queries = [qtexts[i] for i in rng.permutation(len(qtexts))[: args.queries + 1]]
    bi = load_bi_encoder()
    from ragcompare.decide.calibrate import query_tokens

    tokens = float(np.median([query_tokens(bi, q) for q in queries[1:]]))
    print(f"{len(queries) - 1} timed queries (mixed cranfield/cisi), median {tokens:.0f} tokens")

    scenarios, configs, alternatives = [], {}, {}
    for n in (int(s) for s in args.sizes):
        for b in args.budgets:
            for a in args.accuracy:
                rec = recommend(n, b, a, profile=profile, slowdown=slowdown, query_tokens=tokens)
                scenarios.append((n, b, a, rec))
                if rec.feasible:
                    configs.setdefault(_key(rec.option, n), rec.option)
                for alt in rec.alternatives:
                    if alt.option.p50_ms <= args.alternatives_max_ms:
                        alternatives.setdefault(_key(alt.option, n), alt.option)
    alternatives = {k: v for k, v in alternatives.items() if k not in configs}
    print(f"{len(scenarios)} scenarios, {sum(r.feasible for *_, r in scenarios)} feasible, "
          f"{len(configs)} distinct recommended configurations to run (+{len(alternatives)} runner-ups)")

    rerankers: dict[tuple, object] = {}
    measured: dict[tuple, dict] = {}
    vec_cache: dict[int, np.ndarray] = {}
    index_cache: dict[str, object] = {}
    todo = {**configs, **alternatives}
    for key, rec in sorted(todo.items(), key=lambda kv: (kv[0][1], str(kv[0]))):
        approach, n, kind, k, ml, quant = key
        t0 = time.perf_counter()
        index = None
        if kind is not None:
            if n not in vec_cache:
                vec_cache.clear()
                index_cache.clear()
                vec_cache[n] = scale.corpus(n)
            if kind not in index_cache:
                index_cache[kind] = build_index(vec_cache[n], kind)
            index = index_cache[kind]
        ce = None
        if ml is not None:
            if (ml, quant) not in rerankers:
                _, model, _ = load_reranker_for_timing(ml, log=lambda s: None)
                rerankers[(ml, quant)] = int8(model) if quant else model
            ce = rerankers[(ml, quant)]
            ce.max_seq_length = ml
        build_s = time.perf_counter() - t0

        def run(q: str, index=index, ce=ce, n=n, k=k, approach=approach) -> None:
            if approach == "cross-encoder":
                ce.predict([(q, texts[i % len(texts)]) for i in range(n)], batch_size=32,
                           show_progress_bar=False)
                return
            v = bi.encode([q], normalize_embeddings=True, convert_to_numpy=True).astype(np.float32)
            _, ids = index.search(v, max(10, k or 10))
            if approach == "hybrid":
                ce.predict([(q, texts[i % len(texts)]) for i in ids[0][:k]], batch_size=min(32, k),
                           show_progress_bar=False)

        run(queries[0])
        probe_now = speed_probe(reps=3)
        times = []
        n_q = min(len(queries) - 1, max(20, int(20_000 / max(rec.p50_ms, 1e-3))))
        for q in queries[1:n_q + 1]:
            t = time.perf_counter()
            run(q)
            times.append((time.perf_counter() - t) * 1000)
        m = {"p50_ms": float(np.percentile(times, 50)), "p95_ms": float(np.percentile(times, 95)),
             "build_s": build_s, "probe_ms": probe_now}
        measured[key] = m
        tag = "  " if key in configs else "  (runner-up) "
        print(f"{tag}{rec.label():55s} n={n:>9,}: predicted p50 {rec.p50_ms:8.1f} "
              f"measured {m['p50_ms']:8.1f} ms (p95 {rec.p95_ms:8.1f} / {m['p95_ms']:8.1f}); "
              f"build {build_s:.1f} s; probe {probe_now:.1f} ms", flush=True)
        del index

    rows = []
    for n, b, a, rec in scenarios:
        row = {"corpus_size": n, "budget_ms": b, "accuracy": a, "feasible": rec.feasible,
               "approach": rec.approach, "option": rec.option.label() if rec.option else None,
               "predicted_p50_ms": rec.predicted_p50_ms, "predicted_p95_ms": rec.predicted_p95_ms}
        if rec.feasible:
            m = measured[_key(rec.option, n)]
            row.update({"measured_p50_ms": m["p50_ms"], "measured_p95_ms": m["p95_ms"],
                        "meets_budget_p95": m["p95_ms"] <= b, "meets_budget_p50": m["p50_ms"] <= b,
                        "p50_error": (rec.predicted_p50_ms - m["p50_ms"]) / m["p50_ms"]})
        rows.append(row)
    ok = [r for r in rows if r["feasible"]]
    share_p95 = np.mean([r["meets_budget_p95"] for r in ok]) if ok else float("nan")
    share_p50 = np.mean([r["meets_budget_p50"] for r in ok]) if ok else float("nan")
    within = np.mean([abs(r["p50_error"]) <= 0.25 for r in ok]) if ok else float("nan")
    def err(k: tuple, opt) -> float:
        return abs(opt.p50_ms - measured[k]["p50_ms"]) / measured[k]["p50_ms"]

    cfg_within = np.mean([err(k, o) <= 0.25 for k, o in configs.items()]) if configs else float("nan")
    alt_within = (np.mean([err(k, o) <= 0.25 for k, o in alternatives.items()])
                  if alternatives else float("nan"))
    print()
    print(f"feasible scenarios: {len(ok)} of {len(rows)} (the rest were answered 'infeasible')")
    print(f"recommended configuration meets its budget (measured p95 <= budget): {share_p95:.1%}")
    print(f"                                             (measured p50 <= budget): {share_p50:.1%}")
    print(f"predicted p50 within +-25% of measured: {within:.1%} of scenarios, "
          f"{cfg_within:.1%} of {len(configs)} distinct configurations")
    print(f"runner-ups (not chosen, also run): predicted p50 within +-25% for {alt_within:.1%} of "
          f"{len(alternatives)} configurations")
    by_approach: dict[str, list[float]] = {}
    for k, o in todo.items():
        by_approach.setdefault(o.approach, []).append(err(k, o))
    for a, errs in by_approach.items():
        print(f"  {a:13s}: {len(errs)} configurations, median |p50 error| {np.median(errs):.1%}, "
              f"within +-25%: {np.mean([e <= 0.25 for e in errs]):.0%}")
    reprobed = [abs(o.p50_ms * measured[k]["probe_ms"] / probe - measured[k]["p50_ms"])
                / measured[k]["p50_ms"] for k, o in todo.items()]
    print(f"with predictions re-scaled by the speed probe taken right before each run: median |p50 error| "
          f"{np.median(reprobed):.1%}, within +-25% for {np.mean([e <= 0.25 for e in reprobed]):.0%} of "
          f"{len(todo)} configurations")
    print(f"median |p50 error|: {np.median([abs(r['p50_error']) for r in ok]):.1%}; "
          f"load average now {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    misses = [r for r in ok if not r["meets_budget_p95"] or abs(r["p50_error"]) > 0.25]
    for r in misses:
        print(f"  miss: n={r['corpus_size']:,} budget {r['budget_ms']:g} {r['accuracy']}: {r['option']} "
              f"predicted {r['predicted_p50_ms']:.1f}/{r['predicted_p95_ms']:.1f}, measured "
              f"{r['measured_p50_ms']:.1f}/{r['measured_p95_ms']:.1f} ms (p50/p95)")
    if args.output:
        out = Path(args.output)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({"profile": profile.label, "threads": threads, "slowdown": slowdown,
                                   "share_meets_budget_p95": share_p95, "share_meets_budget_p50": share_p50,
                                   "share_p50_within_25pct": within,
                                   "configs": [{"key": list(map(str, k)), "predicted_p50_ms": o.p50_ms,
                                                "predicted_p95_ms": o.p95_ms, **measured[k],
                                                "recommended": k in configs} for k, o in todo.items()],
                                   "rows": rows}, indent=1))
        print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
