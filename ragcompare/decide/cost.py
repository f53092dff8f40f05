"""The cost model: predicted latency (p50/p95), index memory and ANN recall from a hardware profile."""

from __future__ import annotations

import math

import numpy as np

from ragcompare.decide.fits import fit_linear, fit_power
from ragcompare.decide.profile import HardwareProfile


class CostModel:
    """Latency, memory and recall predictions from a hardware profile.

    Search time per index family is fitted as a power law ``c * n**b`` over the measured sizes
    (log-log least squares): it captures Flat's linear scan as well as the cache effects that make
    graph and IVF search grow faster than their textbook O(log n) / O(sqrt n).

    Tails (p95 - p50): a component's tail is the larger of its measured absolute tail (interpolated
    in ``n``) and its p50 times (p95/p50 - 1), the ratio taken from its own measurements of >= 1 ms
    (sub-millisecond timings only catch rare scheduler stalls) or else from query encoding. A query's
    p95 is its p50 plus the root-sum-square of its components' tails.
    """

    def __init__(self, profile: HardwareProfile, slowdown: float = 1.0,
                 query_tokens: float | None = None) -> None:
        self.profile = profile
        self.slowdown = slowdown
        enc = profile.bi_encoder
        self.encode = (enc["p50_ms"] * slowdown, enc["p95_ms"] * slowdown)
        base = max(1.0, enc["p95_ms"] / enc["p50_ms"])  # the profiled query mix: lengths + stalls
        self.query_tokens = enc.get("median_tokens")
        if "p95_tokens" in enc and "ms_per_token" in enc:
            # tail = long queries (p95 length of the profiled mix, scaled to the asked median length)
            # x scheduler stalls (p95/p50 of the residuals of the length fit)
            tok50 = float(query_tokens or enc["median_tokens"])
            tok95 = enc["p95_tokens"] * tok50 / enc["median_tokens"]
            a, b = enc["overhead_ms"], enc["ms_per_token"]
            e50 = (a + b * tok50) * slowdown if query_tokens else enc["p50_ms"] * slowdown
            e95 = (a + b * tok95) * enc.get("p95_ratio", 1.0) * slowdown
            self.encode, self.query_tokens = (e50, max(e95, e50)), tok50
        elif query_tokens is not None and "ms_per_token" in enc:
            e50 = (enc["overhead_ms"] + enc["ms_per_token"] * query_tokens) * slowdown
            self.encode, self.query_tokens = (e50, e50 * base), float(query_tokens)
        self._search: dict[str, tuple] = {}
        for kind, entry in profile.indexes.items():
            pts = entry["points"]
            ns = [p["n"] for p in pts]
            self._search[kind] = (fit_power(ns, [p["p50_ms"] for p in pts]), _tail_ratio(pts, base),
                                  fit_linear(ns, [p["bytes"] for p in pts]), max(ns), pts)
        self.rerank_settings = profile.cross_encoder.get("settings", {})
        self._rerank_ratio = {k: _tail_ratio(v.get("points", []), base) for k, v in
                              self.rerank_settings.items()}

    @property
    def index_kinds(self) -> list[str]:
        """Index families measured in the profile."""
        return list(self._search)

    def search_ms(self, kind: str, n: int) -> tuple[float, float, bool]:
        """Predicted (p50, p95, extrapolated) search time of one query."""
        p50, ratio, _, n_max, pts = self._search[kind]
        t50 = self.slowdown * p50[0] * n ** p50[1]
        xs = np.log10([p["n"] for p in pts])
        abs_tail = float(np.interp(math.log10(max(n, 1)), xs,
                                   [max(p["p95_ms"] - p["p50_ms"], 0.0) for p in pts]))
        return t50, t50 + max(abs_tail * self.slowdown, t50 * (ratio - 1)), n > n_max * 1.05

    def largest_measured(self, kind: str) -> int:
        """The largest corpus size measured for ``kind`` (beyond it search time is extrapolated)."""
        return int(self._search[kind][3])

    def memory_bytes(self, kind: str, n: int) -> int:
        """Predicted serialised index size."""
        a, b = self._search[kind][2]
        return int(a + b * n)

    def recall(self, kind: str, n: int, k: int) -> float:
        """ANN recall against exact search at ``k`` (10 or 100), log-interpolated in ``n``.

        Beyond the measured sizes the trend of the last two points is continued downwards only.
        """
        pts = self._search[kind][4]
        key = "recall@10" if k <= 10 else "recall@100"
        xs = np.log10([p["n"] for p in pts])
        ys = np.asarray([p[key] for p in pts])
        x = math.log10(max(n, 1))
        if x <= xs[0]:
            return float(ys[0])
        if x <= xs[-1]:
            return float(np.interp(x, xs, ys))
        if len(xs) >= 2:
            slope = min(0.0, (ys[-1] - ys[-2]) / max(xs[-1] - xs[-2], 1e-9))
            return float(np.clip(ys[-1] + slope * (x - xs[-1]), 0.0, 1.0))
        return float(ys[-1])

    def rerank_ms(self, setting: str, pairs: int) -> tuple[float, float]:
        """Predicted (p50, p95) of one rerank call of ``pairs`` pairs."""
        s = self.rerank_settings[setting]
        p50 = (s["overhead_ms"] + s["ms_per_pair"] * pairs) * self.slowdown
        return p50, p50 * self._rerank_ratio[setting]

    @staticmethod
    def total(parts: list[tuple[float, float]]) -> tuple[float, float]:
        """(p50, p95) of a query made of components given as (p50, p95)."""
        p50 = sum(a for a, _ in parts)
        return p50, p50 + math.sqrt(sum((b - a) ** 2 for a, b in parts))


def _tail_ratio(points: list[dict], default: float) -> float:
    """Median p95/p50 over measured points of >= 1 ms (``default`` when there are none)."""
    ratios = [p["p95_ms"] / p["p50_ms"] for p in points if p.get("p50_ms", 0) >= 1.0]
    return max(1.0, float(np.median(ratios))) if ratios else default
