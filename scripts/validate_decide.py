"""Validate ``ragcompare.decide.recommend`` on this machine (a benchmark, not a timed test).

For a grid of scenarios (corpus size x latency budget x accuracy need) it asks for a recommendation,
then builds and runs that configuration for real (``ragcompare.decide.validation``): live query
encoding with the bi-encoder, the recommended FAISS index over real cranfield+cisi document vectors
(scaled up with Gaussian synthetic vectors beyond 2,860, as ``ragcompare calibrate`` does), and the
reranker over real document texts. Each distinct configuration is run once on ``--queries`` real
queries (one at a time, after a warm-up) and its measurement is shared by every scenario that
recommended it.

Reported: the prediction error (median |predicted - measured| / measured of p50, and the share of
scenarios predicted within +-25%), the budget hits (share of scenarios whose measured p95, and p50,
meets the budget) and the share of scenarios recommending each approach (bi-encoder, hybrid,
interpolated hybrid, cross-encoder, infeasible). Other jobs on the machine add noise. Before measuring
it prints the predicted measuring time (index builds not included).

    python scripts/validate_decide.py                  # default grid (sizes up to 300k)
    python scripts/validate_decide.py --sizes 100 1400 1e4 1e5 1e6 --output tmp/validate.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from ragcompare.decide import (
    SECONDS_PER_CONFIG,
    ConfigurationRunner,
    load_profile,
    planned_seconds,
    run_all,
    scenario_grid,
    speed_probe,
    summarise,
)
from ragcompare.sysinfo import set_threads


def main(argv: list[str] | None = None) -> int:
    """Run the grid; print and optionally save the results."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", nargs="+", type=float, default=[100, 1400, 1e4, 1e5, 3e5])
    p.add_argument("--budgets", nargs="+", type=float, default=[10, 30, 100, 300, 1000, 2000])
    p.add_argument("--accuracy", nargs="+", default=["low", "medium", "high"])
    p.add_argument("--queries", type=int, default=100,
                   help="real queries timed per configuration (fewer, >= 20, for configurations "
                        "predicted to need more than --seconds-per-config in all); a p95 needs many: "
                        "query lengths have a long tail")
    p.add_argument("--seconds-per-config", type=float, default=SECONDS_PER_CONFIG,
                   help="timed seconds aimed at per configuration (slow ones get fewer queries)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--profile", default=None, help="profile device name or JSON path")
    p.add_argument("--output", default=None, help="write the per-scenario table as JSON")
    p.add_argument("--alternatives-max-ms", type=float, default=1500,
                   help="also run the runner-ups predicted under this p50 (checks the cost model of "
                        "approaches that were not chosen); 0 to skip")
    p.add_argument("--no-adjust", action="store_true",
                   help="do not scale predictions by the current load (speed probe vs profile)")
    args = p.parse_args(argv)

    threads = set_threads(args.threads)
    profile = load_profile(args.profile)
    probe = speed_probe()
    slowdown = 1.0 if args.no_adjust or not profile.probe_ms else probe / profile.probe_ms
    print(f"profile: {profile.label} ({profile.source}); threads now {threads}; "
          f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; speed probe {probe:.1f} ms "
          f"vs {profile.probe_ms} ms when profiled -> predictions x{slowdown:.2f}")
    runner = ConfigurationRunner(args.queries, seconds=args.seconds_per_config)
    print(f"{len(runner.queries) - 1} timed queries (mixed cranfield/cisi), "
          f"median {runner.tokens:.0f} tokens")
    scenarios, configs, alternatives = scenario_grid(profile, args.sizes, args.budgets, args.accuracy,
                                                     slowdown, runner.tokens, args.alternatives_max_ms)
    print(f"{len(scenarios)} scenarios, {sum(r.feasible for *_, r in scenarios)} feasible, "
          f"{len(configs)} distinct recommended configurations to run (+{len(alternatives)} runner-ups)")
    plan = planned_seconds([*configs.values(), *alternatives.values()], len(runner.queries) - 1,
                           args.seconds_per_config)
    print(f"predicted measuring time: ~{plan / 60:.1f} min (plus index builds)", flush=True)
    measured = run_all(runner, configs, alternatives, log=lambda s: print(s, flush=True))
    s = summarise(scenarios, configs, alternatives, measured, probe)

    print()
    print(f"feasible scenarios: {s['feasible']} of {len(s['rows'])} (the rest were answered 'infeasible')")
    print(f"recommended configuration meets its budget (measured p95 <= budget): "
          f"{s['share_meets_budget_p95']:.1%}")
    print(f"                                             (measured p50 <= budget): "
          f"{s['share_meets_budget_p50']:.1%}")
    print(f"predicted p50 within +-25% of measured: {s['share_p50_within_25pct']:.1%} of scenarios, "
          f"{s['configs_within']:.1%} of {len(configs)} distinct configurations")
    print(f"runner-ups (not chosen, also run): predicted p50 within +-25% for {s['alternatives_within']:.1%} "
          f"of {len(alternatives)} configurations")
    for a, e in s["by_approach"].items():
        print(f"  {a:13s}: {e['configurations']} configurations, median |p50 error| {e['median_error']:.1%}, "
              f"within +-25%: {e['within']:.0%}")
    print(f"with predictions re-scaled by the speed probe taken right before each run: median |p50 error| "
          f"{s['reprobed_median_error']:.1%}, within +-25% for {s['reprobed_within']:.0%} of "
          f"{len(configs) + len(alternatives)} configurations")
    print(f"prediction error: median |predicted - measured| / measured p50 {s['median_error']:.1%}; "
          f"load average now {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    print("scenarios recommending each approach: "
          + ", ".join(f"{a} {share:.0%}" for a, share in s["approach_shares"].items()))
    for r in s["misses"]:
        print(f"  miss: n={r['corpus_size']:,} budget {r['budget_ms']:g} {r['accuracy']}: {r['option']} "
              f"predicted {r['predicted_p50_ms']:.1f}/{r['predicted_p95_ms']:.1f}, measured "
              f"{r['measured_p50_ms']:.1f}/{r['measured_p95_ms']:.1f} ms (p50/p95)")
    if args.output:
        out = Path(args.output)
        out.parent.mkdir(parents=True, exist_ok=True)
        keep = ("share_meets_budget_p95", "share_meets_budget_p50", "share_p50_within_25pct", "median_error",
                "approach_shares", "by_approach", "configs", "rows")
        out.write_text(json.dumps({"profile": profile.label, "threads": threads, "slowdown": slowdown,
                                   **{k: s[k] for k in keep}}, indent=1))
        print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
