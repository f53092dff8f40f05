"""Check the recommender against reality: build and run recommended configurations, compare measured
with predicted latency (a benchmark, driven by ``scripts/validate_decide.py``).

For a grid of scenarios (corpus size x latency budget x accuracy need) :func:`scenario_grid` asks for
recommendations; :class:`ConfigurationRunner` runs each distinct configuration for real: live query
encoding with the bi-encoder, the recommended FAISS index over real cranfield+cisi document vectors
(scaled up with Gaussian vectors as calibration does), and the reranker over real document texts
(synthetic vectors borrow real texts round-robin, so rerank cost is that of real documents); an
interpolated hybrid also fuses the two stages' scores (``interpolate_hits``), as its pipeline would.
:func:`summarise` reports the prediction error (median |predicted - measured| / measured of p50 and
the share within +-25%), the budget hits (share of scenarios whose measured p95 meets the budget) and
the share of scenarios recommending each approach.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import numpy as np

from ragcompare.decide.calibration import GaussianScaleUp, query_tokens, real_vectors, speed_probe
from ragcompare.decide.indexes import INDEX_KINDS
from ragcompare.decide.profile import HardwareProfile
from ragcompare.decide.quality import QUALITY_DATASETS
from ragcompare.decide.recommender import recommend
from ragcompare.decide.rerankers import setting_reranker, timing_reranker
from ragcompare.decide.results import Option, Recommendation
from ragcompare.eval.timing import latency_stats, time_calls

Scenario = tuple[int, float, str, Recommendation]
WITHIN = 0.25
"""A prediction counts as right when its p50 is within +-25% of the measured p50."""
SECONDS_PER_CONFIG = 15.0
"""Timed seconds aimed at per configuration: slow ones get fewer queries (never fewer than 20)."""
MIN_QUERIES = 20


def option_key(opt: Option, n: int) -> tuple:
    """What makes two options the same configuration to run:
    (approach, n, index, k, length, int8, alpha)."""
    s = opt.settings
    return (opt.approach, n, s.index, s.k_retrieve, s.max_length, s.optimization != "none", s.alpha)


def approach_label(rec: Recommendation) -> str:
    """``bi-encoder``, ``hybrid``, ``hybrid (interpolated)``, ``cross-encoder`` or ``infeasible``."""
    if not rec.feasible or rec.approach is None:
        return "infeasible"
    if rec.approach == "hybrid" and rec.settings is not None and rec.settings.alpha is not None:
        return "hybrid (interpolated)"
    return rec.approach


def queries_to_time(predicted_p50_ms: float, n_queries: int,
                    seconds: float = SECONDS_PER_CONFIG) -> int:
    """Queries timed for a configuration: ``n_queries``, fewer (>= 20) when that would take more than
    ``seconds`` at the predicted p50."""
    return min(n_queries, max(MIN_QUERIES, int(1000 * seconds / max(predicted_p50_ms, 1e-3))))


def planned_seconds(options: Sequence[Option], n_queries: int, seconds: float = SECONDS_PER_CONFIG
                    ) -> float:
    """Predicted timed seconds (warm-up included, index builds not) to run ``options``."""
    return sum((queries_to_time(o.p50_ms, n_queries, seconds) + 1) * o.p50_ms / 1000 for o in options)


def scenario_grid(profile: HardwareProfile, sizes: Sequence[float], budgets: Sequence[float],
                  accuracies: Sequence[str], slowdown: float = 1.0, tokens: float | None = None,
                  alternatives_max_ms: float = 0.0
                  ) -> tuple[list[Scenario], dict[tuple, Option], dict[tuple, Option]]:
    """Every scenario's recommendation, the distinct recommended configurations, and the distinct
    runner-ups predicted under ``alternatives_max_ms`` that no scenario recommended."""
    scenarios: list[Scenario] = []
    configs: dict[tuple, Option] = {}
    alternatives: dict[tuple, Option] = {}
    for n in (int(s) for s in sizes):
        for b in budgets:
            for a in accuracies:
                rec = recommend(n, b, a, profile=profile, slowdown=slowdown, query_tokens=tokens)
                scenarios.append((n, b, a, rec))
                if rec.feasible and rec.option is not None:
                    configs.setdefault(option_key(rec.option, n), rec.option)
                for alt in rec.alternatives:
                    if alt.option.p50_ms <= alternatives_max_ms:
                        alternatives.setdefault(option_key(alt.option, n), alt.option)
    return scenarios, configs, {k: v for k, v in alternatives.items() if k not in configs}


class ConfigurationRunner:
    """Builds and times configurations; keeps the vectors and indexes of the last corpus size and
    one reranker per setting, so configurations sorted by size share them."""

    def __init__(self, n_queries: int, seed: int = 0, seconds: float = SECONDS_PER_CONFIG) -> None:
        from ragcompare.data.beir import load_dataset
        from ragcompare.models.resolve import load_bi_encoder

        docs, _, qtexts = real_vectors(log=lambda s: None)
        self.texts = [t for name in QUALITY_DATASETS for t in load_dataset(name).texts.values()]
        self.scale = GaussianScaleUp(docs)
        rng = np.random.default_rng(seed)
        self.queries = [qtexts[i] for i in rng.permutation(len(qtexts))[: n_queries + 1]]
        self.bi = load_bi_encoder()
        self.seconds = seconds
        self.tokens = float(np.median([query_tokens(self.bi, q) for q in self.queries[1:]]))
        self.reranker_model = timing_reranker(log=lambda s: None)[1]
        self._vectors: dict[int, np.ndarray] = {}
        self._indexes: dict[str, object] = {}
        self._rerankers: dict[tuple[int, bool], object] = {}

    def _index(self, kind: str, n: int):
        from ragcompare.eval.ann import build_index

        if n not in self._vectors:
            self._vectors.clear()
            self._indexes.clear()
            self._vectors[n] = self.scale.corpus(n)
        if kind not in self._indexes:
            x, family = self._vectors[n], INDEX_KINDS[kind]
            self._indexes[kind] = build_index(family.spec(n), x, family.training_sample(x))
        return self._indexes[kind]

    def _reranker(self, max_length: int, int8: bool):
        if (max_length, int8) not in self._rerankers:
            self._rerankers[(max_length, int8)] = setting_reranker(self.reranker_model, max_length, int8)
        return self._rerankers[(max_length, int8)]

    def run(self, key: tuple, predicted_p50_ms: float) -> dict[str, float]:
        """Build configuration ``key`` (see :func:`option_key`) and time it on real queries, one at a
        time after a warm-up (fewer queries, >= 20, when predicted to need over ``seconds`` in all)."""
        from ragcompare.rerank.head import interpolate_hits
        from ragcompare.types import Hit

        approach, n, kind, k, ml, quant, alpha = (*key, None)[:7]
        t0 = time.perf_counter()
        index = self._index(kind, n) if kind is not None else None
        ce = self._reranker(ml, quant) if ml is not None else None
        build_s = time.perf_counter() - t0
        texts = self.texts

        def run(q: str) -> None:
            if approach == "cross-encoder":
                ce.score_pairs([(q, texts[i % len(texts)]) for i in range(n)])
                return
            v = self.bi.encode([q], normalize_embeddings=True, convert_to_numpy=True).astype(np.float32)
            dist, ids = index.search(v, max(10, k or 10))
            if approach == "hybrid":
                head = [int(i) for i in ids[0][:k] if i >= 0]
                scores = ce.score_pairs([(q, texts[i % len(texts)]) for i in head])
                if alpha is not None:  # what HybridPipeline(..., alpha=alpha) adds: fuse both stages
                    first = [Hit(str(i), float(d)) for i, d in zip(head, dist[0])]
                    interpolate_hits([first], [[Hit(str(i), float(s)) for i, s in zip(head, scores)]],
                                     alpha)

        run(self.queries[0])
        probe_now = speed_probe(reps=3)
        timed = self.queries[1:1 + queries_to_time(predicted_p50_ms, len(self.queries) - 1, self.seconds)]
        _, seconds = time_calls(lambda i: run(timed[i]), len(timed), warmup=0)
        stats = latency_stats(seconds)
        return {"p50_ms": stats["p50_ms"], "p95_ms": stats["p95_ms"], "build_s": build_s,
                "probe_ms": probe_now}


def run_all(runner: ConfigurationRunner, configs: dict[tuple, Option], alternatives: dict[tuple, Option],
            log: Callable[[str], None] = print) -> dict[tuple, dict]:
    """Measure every configuration (smallest corpus first, so vectors and indexes are shared)."""
    measured: dict[tuple, dict] = {}
    todo = {**configs, **alternatives}
    for key, opt in sorted(todo.items(), key=lambda kv: (kv[0][1], str(kv[0]))):
        m = measured[key] = runner.run(key, opt.p50_ms)
        tag = "  " if key in configs else "  (runner-up) "
        log(f"{tag}{opt.label():55s} n={key[1]:>9,}: predicted p50 {opt.p50_ms:8.1f} "
            f"measured {m['p50_ms']:8.1f} ms (p95 {opt.p95_ms:8.1f} / {m['p95_ms']:8.1f}); "
            f"build {m['build_s']:.1f} s; probe {m['probe_ms']:.1f} ms")
    return measured


def _share(flags: Sequence[bool]) -> float:
    return float(np.mean(flags)) if len(flags) else float("nan")


def summarise(scenarios: list[Scenario], configs: dict[tuple, Option], alternatives: dict[tuple, Option],
              measured: dict[tuple, dict], probe_ms: float) -> dict:
    """Per-scenario rows and the shares: budget met (measured p95 / p50), p50 predicted within +-25%
    (per scenario, per recommended configuration, per runner-up, per approach, and after re-scaling
    each prediction by the speed probe taken right before its run), and the share of scenarios
    recommending each approach (``approach_shares``, see :func:`approach_label`)."""
    rows = []
    for n, b, a, rec in scenarios:
        row = {"corpus_size": n, "budget_ms": b, "accuracy": a, "feasible": rec.feasible,
               "approach": rec.approach, "recommended": approach_label(rec),
               "option": rec.option.label() if rec.option else None,
               "predicted_p50_ms": rec.predicted_p50_ms, "predicted_p95_ms": rec.predicted_p95_ms,
               "expected_ndcg10": rec.expected_ndcg10,
               "gain": rec.gain.diff if rec.gain else None, "gain_low": rec.gain.low if rec.gain else None,
               "gain_high": rec.gain.high if rec.gain else None}
        if rec.feasible and rec.option is not None:
            m = measured[option_key(rec.option, n)]
            row.update({"measured_p50_ms": m["p50_ms"], "measured_p95_ms": m["p95_ms"],
                        "meets_budget_p95": m["p95_ms"] <= b, "meets_budget_p50": m["p50_ms"] <= b,
                        "p50_error": (rec.predicted_p50_ms - m["p50_ms"]) / m["p50_ms"]})
        rows.append(row)
    ok = [r for r in rows if r["feasible"]]
    todo = {**configs, **alternatives}
    errors = {k: abs(o.p50_ms - measured[k]["p50_ms"]) / measured[k]["p50_ms"] for k, o in todo.items()}
    reprobed = [abs(o.p50_ms * measured[k]["probe_ms"] / probe_ms - measured[k]["p50_ms"])
                / measured[k]["p50_ms"] for k, o in todo.items()]
    by_approach: dict[str, list[float]] = {}
    for k, o in todo.items():
        by_approach.setdefault(o.approach, []).append(errors[k])
    labels = [r["recommended"] for r in rows]
    order = ["bi-encoder", "hybrid", "hybrid (interpolated)", "cross-encoder", "infeasible"]
    return {
        "rows": rows, "feasible": len(ok),
        "approach_shares": {a: labels.count(a) / len(labels) for a in order} if labels else {},
        "share_meets_budget_p95": _share([r["meets_budget_p95"] for r in ok]),
        "share_meets_budget_p50": _share([r["meets_budget_p50"] for r in ok]),
        "share_p50_within_25pct": _share([abs(r["p50_error"]) <= WITHIN for r in ok]),
        "configs_within": _share([errors[k] <= WITHIN for k in configs]),
        "alternatives_within": _share([errors[k] <= WITHIN for k in alternatives]),
        "by_approach": {a: {"configurations": len(e), "median_error": float(np.median(e)),
                            "within": _share([x <= WITHIN for x in e])} for a, e in by_approach.items()},
        "reprobed_median_error": float(np.median(reprobed)) if reprobed else float("nan"),
        "reprobed_within": _share([e <= WITHIN for e in reprobed]),
        "median_error": float(np.median([abs(r["p50_error"]) for r in ok])) if ok else float("nan"),
        "misses": [r for r in ok if not r["meets_budget_p95"] or abs(r["p50_error"]) > WITHIN],
        "configs": [{"key": list(map(str, k)), "predicted_p50_ms": o.p50_ms, "predicted_p95_ms": o.p95_ms,
                     **measured[k], "recommended": k in configs} for k, o in todo.items()],
    }
