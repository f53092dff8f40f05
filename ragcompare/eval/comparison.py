"""The evaluation protocol: every comparison scores its rows on the same queries and reports each
row's difference to a named baseline with a paired 95% interval and a p-value.

- per-query scores come from ranx (:func:`ragcompare.eval.metrics.per_query`);
- runs over different query sets are refused, or aligned on the queries they share when asked
  (``align="intersect"``; the table then says how many were dropped);
- the interval is a paired bootstrap of the mean per-query difference (scipy), the p-value ranx's
  two-sided Fisher randomization test (or its paired Student t-test).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from ragcompare.checks import check_choice, check_float, check_int
from ragcompare.eval.metrics import DEFAULT_METRICS, check_metrics, check_qrels, check_results, per_query
from ragcompare.types import InvalidInputError, Results

CONFIDENCE = 0.95
TESTS = ("fisher", "student")
ALIGN = ("refuse", "intersect")


class QuerySetMismatchError(InvalidInputError):
    """The runs of one comparison were evaluated on different queries."""


@dataclass(frozen=True)
class Difference:
    """One run against the baseline on one metric, over the same queries."""

    metric: str
    baseline: str
    mean: float
    baseline_mean: float
    diff: float
    low: float
    high: float
    p_value: float
    queries: int
    test: str

    @property
    def relative(self) -> float:
        """The difference relative to the baseline's mean (nan when that is 0)."""
        return self.diff / self.baseline_mean if self.baseline_mean else float("nan")

    @property
    def significant(self) -> bool:
        """True when the 95% interval excludes 0."""
        return self.low > 0 or self.high < 0

    @property
    def reading(self) -> str:
        """The difference in words, from its interval: a real gain, a real loss, or no difference."""
        return ("a real gain" if self.low > 0 else "a real loss" if self.high < 0
                else "no difference this test can see")

    def to_dict(self) -> dict[str, object]:
        """JSON-ready dict (with the relative difference; an undefined value is ``None``)."""
        d = {**asdict(self), "relative": self.relative}
        return {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in d.items()}

    def describe(self, digits: int = 3) -> str:
        """``+0.012 [-0.004, +0.028], p=0.14 (225 queries)``."""
        f = f"{{:+.{digits}f}}"
        p = format_p(self.p_value)
        return (f"{f.format(self.diff)} [{f.format(self.low)}, {f.format(self.high)}], "
                f"p{p if p.startswith('<') else '=' + p} ({self.queries} queries)")


def format_p(p: float | None) -> str:
    """A p-value for a table: 3 significant digits, ``<0.001`` below that, ``n/a`` if undefined."""
    if p is None or math.isnan(p):
        return "n/a"
    return "<0.001" if p < 0.001 else f"{p:.3f}" if p < 0.1 else f"{p:.2f}"


def _check_finite(values: np.ndarray, name: str) -> None:
    bad = np.flatnonzero(~np.isfinite(values))
    if len(bad):
        raise InvalidInputError(f"{name} holds {len(bad)} values that are not finite numbers "
                                f"(first at position {bad[0]}: {values[bad[0]]})")


def _check_confidence(confidence: object) -> float:
    value = check_float(confidence, "confidence", 0.0, 1.0)
    if not 0 < value < 1:
        raise InvalidInputError(f"confidence must be in (0, 1), got {value:g}")
    return value


def paired_difference(treatment: Sequence[float], control: Sequence[float], *,
                      confidence: float = CONFIDENCE, test: str = "fisher", n_resamples: int = 10_000,
                      seed: int = 0) -> tuple[float, float, float, float]:
    """Mean of ``treatment - control`` (paired, same queries in the same order), its bootstrap
    interval and a two-sided p-value: ``(diff, low, high, p)``."""
    from ranx.statistical_tests import fisher_randomization_test, paired_student_t_test
    from scipy.stats import bootstrap

    a = np.asarray(treatment, dtype=np.float64)
    b = np.asarray(control, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1 or len(a) == 0:
        raise InvalidInputError(f"need two paired 1-d score arrays, got shapes {a.shape} and {b.shape}")
    _check_finite(a, "treatment")
    _check_finite(b, "control")
    check_choice(test, "test", TESTS)
    confidence = _check_confidence(confidence)
    d = a - b
    diff = float(d.mean())
    if len(d) < 2 or np.allclose(d, d[0]):  # no spread: the interval is the point, no test possible
        return diff, diff, diff, 1.0 if diff == 0 else float("nan")
    ci = bootstrap((d,), np.mean, confidence_level=confidence, n_resamples=n_resamples,
                   method="percentile", random_state=np.random.default_rng(seed)).confidence_interval
    if test == "fisher":
        p, _ = fisher_randomization_test(b, a, n_permutations=n_resamples, max_p=1 - confidence,
                                         random_seed=seed)
    else:
        p, _ = paired_student_t_test(b, a, max_p=1 - confidence)
    return diff, float(ci.low), float(ci.high), float(p)


def median_interval(values: Sequence[float], confidence: float = CONFIDENCE, n_resamples: int = 5000,
                    seed: int = 0) -> tuple[float, float, float]:
    """Median of repeated measurements (e.g. per-round speed ratios) and its bootstrap interval:
    ``(median, low, high)``; with fewer than two distinct values the interval is their range."""
    from scipy.stats import bootstrap

    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 1 or len(v) == 0:
        raise InvalidInputError(f"need a non-empty 1-d array of values, got shape {v.shape}")
    _check_finite(v, "values")
    if len(v) < 2 or np.allclose(v, v[0]):
        return float(np.median(v)), float(v.min()), float(v.max())
    ci = bootstrap((v,), np.median, confidence_level=confidence, n_resamples=n_resamples,
                   method="percentile", random_state=np.random.default_rng(seed)).confidence_interval
    return float(np.median(v)), float(ci.low), float(ci.high)


def ratio_interval(treatment: Sequence[float], control: Sequence[float], confidence: float = CONFIDENCE,
                   n_resamples: int = 5000, seed: int = 0) -> tuple[float, float, float]:
    """``mean(treatment) / mean(control)`` over paired per-query scores and its paired bootstrap
    interval: ``(ratio, low, high)`` (e.g. "MiniLM keeps 97% [94%, 100%] of mpnet's nDCG@10")."""
    from scipy.stats import bootstrap

    a, b = np.asarray(treatment, dtype=np.float64), np.asarray(control, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1 or len(a) < 2 or b.mean() == 0:
        raise InvalidInputError("need two paired 1-d score arrays (>= 2 values, control mean not 0)")
    _check_finite(a, "treatment")
    _check_finite(b, "control")
    ci = bootstrap((a, b), lambda x, y: np.mean(x) / np.mean(y), paired=True, vectorized=False,
                   confidence_level=confidence, n_resamples=n_resamples, method="percentile",
                   random_state=np.random.default_rng(seed)).confidence_interval
    return float(a.mean() / b.mean()), float(ci.low), float(ci.high)


def shared_queries(runs: Mapping[str, Results], qrels: Mapping[str, Mapping[str, int]],
                   align: str = "refuse") -> list[str]:
    """The judged queries every run was evaluated on.

    With ``align="refuse"`` runs over different judged query sets raise
    :class:`QuerySetMismatchError` (naming the counts); with ``"intersect"`` the common queries are
    used.
    """
    check_choice(align, "align", ALIGN)
    if not isinstance(runs, Mapping):
        raise InvalidInputError(f"runs must be a mapping of run name -> results, got "
                                f"{type(runs).__name__}")
    if not runs:
        raise InvalidInputError("no runs to compare")
    for name, res in runs.items():
        check_results(res, f"run {name!r}")
    judged = check_qrels(qrels)
    sets = {name: {q for q in res if q in judged} for name, res in runs.items()}
    first = next(iter(sets.values()))
    if any(s != first for s in sets.values()):
        counts = ", ".join(f"{n}: {len(s)}" for n, s in sets.items())
        if align == "refuse":
            raise QuerySetMismatchError(
                f"the runs were evaluated on different judged queries ({counts}); compare them on "
                "the same queries, or pass align='intersect' to use only the queries they share")
        first = set.intersection(*sets.values())
    if not first:
        raise InvalidInputError("the runs share no judged query")
    return sorted(first)


def compare_runs(runs: Mapping[str, Results], qrels: Mapping[str, Mapping[str, int]],
                 baseline: str | None = None, metrics: Sequence[str] = DEFAULT_METRICS,
                 align: str = "refuse", test: str = "fisher", confidence: float = CONFIDENCE,
                 seed: int = 0) -> dict[str, dict[str, Difference]]:
    """Each run's :class:`Difference` to ``baseline`` (default: the first run) per metric, on the
    queries :func:`shared_queries` returns. The baseline maps to itself (difference 0)."""
    metrics = check_metrics(metrics)
    check_choice(test, "test", TESTS)
    _check_confidence(confidence)
    check_int(seed, "seed", 0)
    if not isinstance(runs, Mapping):
        raise InvalidInputError(f"runs must be a mapping of run name -> results, got "
                                f"{type(runs).__name__}")
    names = list(runs)
    baseline = names[0] if baseline is None else baseline
    if baseline not in runs:
        raise InvalidInputError(f"baseline {baseline!r} is not one of the runs {names}")
    qids = shared_queries(runs, qrels, align)
    scores = {n: per_query({q: runs[n][q] for q in qids}, qrels, metrics) for n in names}
    out: dict[str, dict[str, Difference]] = {}
    for n in names:
        out[n] = {}
        for m in metrics:
            a, b = scores[n][m].to_numpy(), scores[baseline][m].to_numpy()
            diff, low, high, p = paired_difference(a, b, confidence=confidence, test=test, seed=seed)
            out[n][m] = Difference(m, baseline, float(a.mean()), float(b.mean()), diff, low, high, p,
                                   len(qids), test)
    return out


def compare(runs: Mapping[str, Results], qrels: Mapping[str, Mapping[str, int]],
            metrics: Sequence[str] = DEFAULT_METRICS, baseline: str | None = None,
            align: str = "refuse", diff_metrics: Sequence[str] | None = None, test: str = "fisher",
            confidence: float = CONFIDENCE, seed: int = 0) -> pd.DataFrame:
    """One row per run on the same queries: each metric, the number of queries, and for each of
    ``diff_metrics`` (default: the first metric) the difference to ``baseline`` (default: the first
    run) with its 95% interval and p-value (columns ``Δ <m>``, ``Δ <m> low``, ``Δ <m> high``,
    ``p <m>``). See :func:`compare_runs`; :func:`format_comparison` renders it for reading."""
    diff_metrics = list(metrics[:1] if diff_metrics is None else diff_metrics)
    missing = [m for m in diff_metrics if m not in metrics]
    if missing:
        raise InvalidInputError(f"diff_metrics {missing} are not among metrics {list(metrics)}")
    diffs = compare_runs(runs, qrels, baseline, metrics, align, test, confidence, seed)
    rows = []
    for name, per_metric in diffs.items():
        row: dict[str, object] = {"pipeline": name, **{m: d.mean for m, d in per_metric.items()}}
        row["queries"] = next(iter(per_metric.values())).queries
        for m in diff_metrics:
            d = per_metric[m]
            row.update({f"Δ {m}": d.diff, f"Δ {m} low": d.low, f"Δ {m} high": d.high,
                        f"p {m}": d.p_value})
        rows.append(row)
    frame = pd.DataFrame(rows).set_index("pipeline")
    frame.attrs.update(baseline=next(iter(next(iter(diffs.values())).values())).baseline,
                       confidence=confidence, test=test, diff_metrics=diff_metrics)
    return frame


def format_comparison(frame: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """A :func:`compare` table for reading: metrics rounded, each difference as
    ``+0.012 [-0.004, +0.028]`` and its p-value as text; the baseline row shows ``baseline``."""
    baseline = frame.attrs.get("baseline")
    out = frame.copy()
    for m in frame.attrs.get("diff_metrics", []):
        cols = [f"Δ {m}", f"Δ {m} low", f"Δ {m} high", f"p {m}"]
        if not set(cols) <= set(frame.columns):
            continue
        f = f"{{:+.{digits}f}}"
        text = [("baseline" if name == baseline else
                 f"{f.format(r[cols[0]])} [{f.format(r[cols[1]])}, {f.format(r[cols[2]])}]")
                for name, r in frame.iterrows()]
        ptext = ["" if name == baseline else format_p(r[cols[3]]) for name, r in frame.iterrows()]
        out = out.drop(columns=cols)
        out[f"Δ {m} (95% CI)"] = text
        out[f"p {m}"] = ptext
    numeric = [c for c in out.columns if c != "queries" and pd.api.types.is_float_dtype(out[c])]
    out[numeric] = out[numeric].round(digits)
    return out
