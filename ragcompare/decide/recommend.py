"""Recommend bi-encoder, cross-encoder or hybrid ranking from corpus size, latency budget and accuracy.

The seed course's rules of thumb (:func:`seed_rule`) are kept as the explained baseline. The
recommendation itself (:func:`recommend`) comes from a *cost model* built on a measured hardware
profile (``ragcompare.decide.calibrate``) and from measured quality-versus-``k_retrieve`` curves: every
candidate configuration (approach x FAISS index x ``k_retrieve`` x reranker ``max_length`` x INT8)
gets a predicted p50/p95 latency, an expected nDCG@10 and an index size, and the cheapest candidate
that meets the latency budget (predicted p95) and the accuracy need wins.
"""

from __future__ import annotations

import html
import math
from dataclasses import asdict, dataclass, field

import numpy as np

from ragcompare.decide.calibrate import INDEX_KINDS, HardwareProfile, fit_linear, load_profile
from ragcompare.types import InvalidInputError

APPROACHES = ("bi-encoder", "hybrid", "cross-encoder")
ACCURACY_LEVELS = {
    "low": "at least 90% of the exact bi-encoder's nDCG@10 (approximate search may lose a little)",
    "medium": "at least half of the best measured reranking gain over the bi-encoder "
              "(97% of the bi-encoder if reranking gains nothing)",
    "high": "at least 90% of the best measured reranking gain "
            "(99% of the bi-encoder if reranking gains nothing)",
}
CE_ONLY_MAX_DOCS = 20_000
"""Cross-encoder-only candidates are considered up to this corpus size (beyond it: hopeless)."""
TIE_BAND = 0.10
"""Options whose p50 is within 10% (+1 ms) of the cheapest count as equally cheap."""


# -- results ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Settings:
    """Concrete configuration of one option."""

    index: str | None = None
    faiss_factory: str | None = None
    search_params: dict = field(default_factory=dict)
    k_retrieve: int | None = None
    reranker: str | None = None
    max_length: int | None = None
    batch_size: int | None = None
    optimization: str = "none"

    def describe(self) -> str:
        """One line, e.g. ``HNSW32 (efSearch=128) >> reranker@20, max_length 128, INT8``."""
        parts = []
        if self.index:
            params = ", ".join(f"{k}={v}" for k, v in self.search_params.items())
            parts.append(f"FAISS {self.faiss_factory}" + (f" ({params})" if params else ""))
        if self.reranker:
            k = f"top {self.k_retrieve}" if self.k_retrieve else "every document"
            opt = f", {self.optimization}" if self.optimization != "none" else ""
            parts.append(f"rerank {k} with {self.reranker} (max_length {self.max_length}, batch "
                         f"{self.batch_size}{opt})")
        return "; ".join(parts)


@dataclass(frozen=True)
class Option:
    """One candidate configuration with its predicted cost and expected quality."""

    approach: str
    settings: Settings
    p50_ms: float
    p95_ms: float
    ndcg10: float
    memory_bytes: int
    breakdown_ms: dict
    extrapolated: bool = False

    def label(self) -> str:
        """Short name used in tables and plots."""
        s = self.settings
        if self.approach == "bi-encoder":
            return f"bi-encoder [{s.index}]"
        opt = "+INT8" if s.optimization != "none" else ""
        if self.approach == "hybrid":
            return f"hybrid [{s.index} >> CE@{s.k_retrieve}, len {s.max_length}{opt}]"
        return f"cross-encoder only [len {s.max_length}{opt}]"


@dataclass(frozen=True)
class Alternative:
    """A runner-up and why it lost."""

    option: Option
    why_not: str


@dataclass
class Recommendation:
    """What :func:`recommend` returns. ``feasible`` is False when no option meets every need."""

    feasible: bool
    approach: str | None
    settings: Settings | None
    predicted_p50_ms: float | None
    predicted_p95_ms: float | None
    expected_ndcg10: float | None
    required_ndcg10: float
    memory_bytes: int | None
    reasons: list[str]
    alternatives: list[Alternative]
    relax: list[str]
    inputs: dict
    profile: str
    option: Option | None = None

    def to_dict(self) -> dict:
        """JSON-ready dict."""
        return asdict(self)

    def summary(self) -> str:
        """Plain-text rendering (what ``ragcompare recommend`` prints)."""
        i = self.inputs
        lines = [f"need: {i['corpus_size']:,} documents, p95 <= {i['latency_budget_ms']:g} ms, "
                 f"accuracy {i['accuracy']} (nDCG@10 >= {self.required_ndcg10:.3f})",
                 f"profile: {self.profile}"
                 + (f" (times x{i['slowdown']:.2f} for current load)" if i.get("slowdown", 1) != 1
                    else "")]
        if self.feasible and self.settings is not None:
            lines += [f"RECOMMENDATION: {self.approach}",
                      f"  settings: {self.settings.describe()}",
                      f"  predicted latency: p50 {self.predicted_p50_ms:.1f} ms, p95 "
                      f"{self.predicted_p95_ms:.1f} ms",
                      f"  expected nDCG@10: {self.expected_ndcg10:.3f}",
                      f"  index memory: {_fmt_bytes(self.memory_bytes or 0)}"]
        else:
            lines.append("NO OPTION MEETS ALL NEEDS (infeasible). Relax one constraint:")
            lines += [f"  - {r}" for r in self.relax]
        lines.append("why:")
        lines += [f"  - {r}" for r in self.reasons]
        if self.alternatives:
            lines.append("alternatives:")
            for a in self.alternatives:
                o = a.option
                lines.append(f"  - {o.label()}: p50 {o.p50_ms:.1f} ms, p95 {o.p95_ms:.1f} ms, "
                             f"nDCG@10 {o.ndcg10:.3f} -- {a.why_not}")
        return "\n".join(lines)

    def to_html(self) -> str:
        """A readable card (used by the widget)."""
        e = html.escape
        i = self.inputs
        need = (f"{i['corpus_size']:,} docs &middot; p95 &le; {i['latency_budget_ms']:g} ms &middot; "
                f"accuracy <b>{e(i['accuracy'])}</b> (nDCG@10 &ge; {self.required_ndcg10:.3f})")
        if self.feasible and self.settings is not None:
            color = {"bi-encoder": "#1f77b4", "hybrid": "#2ca02c", "cross-encoder": "#d62728"}
            head = (f"<div class='rc-approach' style='font-size:1.4em;font-weight:bold;color:"
                    f"{color.get(self.approach or '', '#333')}'>Recommended: {e(self.approach or '')}"
                    "</div>")
            body = (f"<div class='rc-settings'>{e(self.settings.describe())}</div>"
                    f"<table style='margin-top:4px'><tr><td>predicted latency</td><td><b>p50 "
                    f"{self.predicted_p50_ms:.1f} ms</b>, p95 {self.predicted_p95_ms:.1f} ms</td></tr>"
                    f"<tr><td>expected nDCG@10</td><td><b>{self.expected_ndcg10:.3f}</b></td></tr>"
                    f"<tr><td>index memory</td><td>{_fmt_bytes(self.memory_bytes or 0)}</td></tr>"
                    "</table>")
        else:
            head = ("<div class='rc-approach' style='font-size:1.4em;font-weight:bold;color:#b00'>"
                    "Infeasible: no option meets all needs</div>")
            body = "<ul>" + "".join(f"<li>{e(r)}</li>" for r in self.relax) + "</ul>"
        reasons = "<ul>" + "".join(f"<li>{e(r)}</li>" for r in self.reasons) + "</ul>"
        alts = "".join(f"<li><b>{e(a.option.label())}</b>: p50 {a.option.p50_ms:.1f} ms, nDCG@10 "
                       f"{a.option.ndcg10:.3f} &mdash; {e(a.why_not)}</li>" for a in self.alternatives)
        return (f"<div class='rc-card' style='border:1px solid #ccc;border-radius:8px;padding:10px;"
                f"max-width:820px'><div style='color:#555'>{need}</div>{head}{body}"
                f"<details open><summary>why</summary>{reasons}</details>"
                f"<details><summary>runner-ups</summary><ul>{alts}</ul></details>"
                f"<div style='color:#888;font-size:0.85em'>profile: {e(self.profile)}</div></div>")


def _fmt_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


# -- the seed's rules ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SeedAdvice:
    """What the seed's rules of thumb say, and which rule fired."""

    approach: str
    rule: str


def seed_rule(corpus_size: float, latency_budget_ms: float, accuracy: str = "medium") -> SeedAdvice:
    """The seed course's rules of thumb, unchanged (the baseline the measurements are compared to).

    * "cross-encoder when < 1000 candidates" (and the budget allows a rerank: >= 50 ms);
    * "bi-encoder for millions of documents and < 10 ms" (and whenever accuracy need is low or the
      budget is below the hybrid range);
    * "hybrid at 50-100 ms" otherwise.
    """
    n, budget, acc = _check_inputs(corpus_size, latency_budget_ms, accuracy)
    if n < 1000 and budget >= 50 and acc != "low":
        return SeedAdvice("cross-encoder", "fewer than 1000 candidates: score them all with a "
                                           "cross-encoder")
    if budget < 10 or (n >= 1_000_000 and budget < 50):
        return SeedAdvice("bi-encoder", "millions of documents / under 10 ms: bi-encoder with ANN")
    if budget < 50 or acc == "low":
        return SeedAdvice("bi-encoder", "below the 50-100 ms hybrid range (or accuracy need low): "
                                        "bi-encoder")
    return SeedAdvice("hybrid", "50-100 ms or more: bi-encoder retrieval + cross-encoder rerank")


# -- cost and quality models -----------------------------------------------------------------------------
def fit_power(n: list[float], t: list[float]) -> tuple[float, float]:
    """Least-squares fit of ``t = c * n**b`` in log-log space (``b`` clipped to [0, 1.5])."""
    x, y = np.log(np.asarray(n, float)), np.log(np.maximum(np.asarray(t, float), 1e-6))
    if len(x) < 2 or np.ptp(x) == 0:
        return float(np.exp(y.mean())), 0.0
    b, a = np.polyfit(x, y, 1)
    b = float(np.clip(b, 0.0, 1.5))
    return float(np.exp(np.mean(y - b * x))), b


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


class QualityModel:
    """Expected nDCG@10 from the measured curves (mean over the measured collections)."""

    def __init__(self, quality: dict) -> None:
        sets = (quality or {}).get("datasets", {})
        self.measured = bool(sets)
        self.datasets = list(sets)
        if not self.measured:
            self.bi, self.curve, self.deltas, self.reranker = 1.0, {}, {}, None
            return
        self.bi = float(np.mean([d["bi_encoder"] for d in sets.values()]))
        ks = sorted({int(k) for d in sets.values() for k in d.get("hybrid", {})})
        self.curve = {k: float(np.mean([d["hybrid"][str(k)] for d in sets.values()
                                        if str(k) in d.get("hybrid", {})])) for k in ks}
        keys = {key for d in sets.values() for key in d.get("deltas", {})}
        self.deltas = {key: float(np.mean([d["deltas"][key]["delta"] for d in sets.values()
                                           if key in d.get("deltas", {})])) for key in keys}
        first = next(iter(sets.values()))
        self.curve_setting = first.get("curve_setting", "256")
        self.reranker = first.get("reranker")
        self.held_out = all(d.get("held_out", True) for d in sets.values())

    @property
    def best(self) -> float:
        """Best measured quality (the hybrid curve's maximum, or the bi-encoder)."""
        return max([self.bi, *self.curve.values()])

    def hybrid(self, k: int, setting: str) -> float | None:
        """Expected nDCG@10 of reranking the top ``k`` (log-interpolated; None if unmeasured)."""
        if not self.curve:
            return None
        ks = sorted(self.curve)
        xs, ys = np.log(ks), np.asarray([self.curve[x] for x in ks])
        base = float(np.interp(math.log(max(k, 1)), xs, ys)) if k >= ks[0] else (
            self.bi + (ys[0] - self.bi) * k / ks[0])
        if setting == getattr(self, "curve_setting", setting):
            return base
        if setting not in self.deltas:
            return None
        return base + self.deltas[setting]

    def exhaustive(self, setting: str) -> float | None:
        """Expected nDCG@10 of scoring every document: the best measured rerank depth's quality."""
        if not self.curve:
            return None
        best_k = max(self.curve, key=self.curve.get)
        return self.hybrid(best_k, setting)

    def required(self, accuracy: str) -> float:
        """nDCG@10 an accuracy level asks for (see ``ACCURACY_LEVELS``)."""
        gain = max(self.best - self.bi, 0.0)
        if accuracy == "low":
            return 0.90 * self.bi
        share, floor = (0.5, 0.97) if accuracy == "medium" else (0.9, 0.99)
        return self.bi + share * gain if gain > 0 else floor * self.bi


# -- candidates ------------------------------------------------------------------------------------------
def _options(n: int, cost: CostModel, quality: QualityModel, reranker: str) -> list[Option]:
    opts: list[Option] = []
    enc50, enc95 = cost.encode
    ks = sorted(quality.curve) or [10, 20, 50, 100]
    for kind in cost.index_kinds:
        spec = INDEX_KINDS.get(kind)
        s50, s95, extra = cost.search_ms(kind, n)
        mem = cost.memory_bytes(kind, n)
        factory = spec.factory(n) if spec else kind
        params = spec.search_params(n) if spec else {}
        b50, b95 = cost.total([(enc50, enc95), (s50, s95)])
        opts.append(Option("bi-encoder", Settings(kind, factory, params), b50, b95,
                           quality.bi * cost.recall(kind, n, 10), mem,
                           {"encode": enc50, "search": s50}, extra))
        for k in ks:
            if k >= n:
                continue
            for setting, s in cost.rerank_settings.items():
                q = quality.hybrid(k, setting)
                if q is None and quality.measured:
                    continue
                q = (q if q is not None else quality.bi) * cost.recall(kind, n, k)
                r50, r95 = cost.rerank_ms(setting, k)
                opt = "INT8 dynamic quantization (reranker)" if s["int8"] else "none"
                st = Settings(kind, factory, params, k, reranker, s["max_length"], min(32, k), opt)
                h50, h95 = cost.total([(enc50, enc95), (s50, s95), (r50, r95)])
                opts.append(Option("hybrid", st, h50, h95, q, mem,
                                   {"encode": enc50, "search": s50, "rerank": r50}, extra))
    if n <= CE_ONLY_MAX_DOCS:
        for setting, s in cost.rerank_settings.items():
            # exhaustive scoring: credited with the reranker's best measured depth (plateau)
            q = quality.exhaustive(setting) if quality.curve else quality.bi
            if q is None:
                continue
            r50, r95 = cost.rerank_ms(setting, n)
            opt = "INT8 dynamic quantization (reranker)" if s["int8"] else "none"
            st = Settings(None, None, {}, None, reranker, s["max_length"], 32, opt)
            opts.append(Option("cross-encoder", st, r50, r95, q, 0, {"rerank": r50}))
    return opts


def _check_inputs(corpus_size: object, latency_budget_ms: object, accuracy: object
                  ) -> tuple[int, float, str]:
    for name, v in (("corpus_size", corpus_size), ("latency_budget_ms", latency_budget_ms)):
        if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
            raise InvalidInputError(f"{name} must be a number, got {type(v).__name__}")
        if not math.isfinite(float(v)) or float(v) <= 0:
            raise InvalidInputError(f"{name} must be a positive finite number, got {v!r}")
    n = int(round(float(corpus_size)))
    if n < 1:
        raise InvalidInputError(f"corpus_size must be at least 1 document, got {corpus_size!r}")
    if not isinstance(accuracy, str) or accuracy.strip().lower() not in ACCURACY_LEVELS:
        raise InvalidInputError(f"accuracy must be one of {', '.join(ACCURACY_LEVELS)}, got "
                                f"{accuracy!r}")
    return n, float(latency_budget_ms), accuracy.strip().lower()


def _pick(cands: list[Option]) -> Option:
    """Cheapest option; within the tie band prefer exact search, higher quality, less memory."""
    cheapest = min(c.p50_ms for c in cands)
    band = [c for c in cands if c.p50_ms <= cheapest * (1 + TIE_BAND) + 1.0]
    return min(band, key=lambda c: (INDEX_KINDS[c.settings.index].ann if c.settings.index in
                                    INDEX_KINDS else False, -round(c.ndcg10, 3), c.memory_bytes,
                                    c.p50_ms))


def _level_met(q: float, quality: QualityModel) -> str | None:
    for level in ("high", "medium", "low"):
        if q >= quality.required(level) - 1e-9:
            return level
    return None


def recommend(corpus_size: float, latency_budget_ms: float, accuracy: str = "medium",
              profile: str | HardwareProfile | None = None,
              memory_budget_gb: float | None = None, slowdown: float = 1.0,
              query_tokens: float | None = None) -> Recommendation:
    """Recommend the cheapest approach and settings that meet the latency budget and accuracy need.

    ``latency_budget_ms`` is compared with the *predicted p95* per query (one query at a time on the
    profiled hardware). ``accuracy`` is "low", "medium" or "high" (see ``ACCURACY_LEVELS``).
    ``profile`` is a device name ("cpu", "cuda"), a JSON path or a loaded profile (default: the
    user's own CPU profile if calibrated, else the shipped reference profile). ``slowdown``
    scales every measured time (e.g. ``calibrate.speed_probe() / profile.probe_ms`` when the
    machine is busier now than when it was profiled). ``query_tokens`` is your typical query
    length in word pieces (default: the median of the profiled cranfield+cisi query mix).
    """
    n, budget, acc = _check_inputs(corpus_size, latency_budget_ms, accuracy)
    if memory_budget_gb is not None and (isinstance(memory_budget_gb, bool) or not isinstance(
            memory_budget_gb, (int, float)) or not memory_budget_gb > 0):
        raise InvalidInputError(f"memory_budget_gb must be a positive number, got {memory_budget_gb!r}")
    if isinstance(slowdown, bool) or not isinstance(slowdown, (int, float)) or not (
            math.isfinite(slowdown) and slowdown > 0):
        raise InvalidInputError(f"slowdown must be a positive number, got {slowdown!r}")
    prof = load_profile(profile)
    if query_tokens is not None and (isinstance(query_tokens, bool) or not isinstance(
            query_tokens, (int, float)) or not 0 < query_tokens < 10_000):
        raise InvalidInputError(f"query_tokens must be a positive number, got {query_tokens!r}")
    cost, quality = CostModel(prof, slowdown, query_tokens), QualityModel(prof.quality)
    reranker = quality.reranker or prof.cross_encoder.get("model", "cross-encoder")
    need = quality.required(acc)
    mem_cap = memory_budget_gb * 1e9 if memory_budget_gb else math.inf
    opts = _options(n, cost, quality, reranker)
    fits_time = [o for o in opts if o.p95_ms <= budget]
    good = [o for o in opts if o.ndcg10 >= need - 1e-9]
    fits_mem = [o for o in opts if o.memory_bytes <= mem_cap]
    ok = [o for o in fits_time if o in good and o in fits_mem]
    inputs = {"corpus_size": n, "latency_budget_ms": budget, "accuracy": acc,
              "memory_budget_gb": memory_budget_gb, "slowdown": slowdown,
              "query_tokens": cost.query_tokens}
    reasons = _context_reasons(prof, quality, n)
    if not ok:
        relax = _relax(n, budget, acc, need, opts, fits_time, good, fits_mem, cost, quality,
                       reranker, mem_cap)
        alts = _alternatives(None, opts, budget, need, mem_cap)
        return Recommendation(False, None, None, None, None, None, need, None,
                              [f"no option predicts p95 <= {budget:g} ms with nDCG@10 >= {need:.3f}"
                               + (f" within {memory_budget_gb:g} GB" if memory_budget_gb else ""),
                               *reasons], alts, relax, inputs, prof.label)
    best = _pick(ok)
    why = [f"cheapest option meeting every need: predicted p50 {best.p50_ms:.1f} ms ("
           + ", ".join(f"{k} {v:.1f}" for k, v in best.breakdown_ms.items())
           + f"), p95 {best.p95_ms:.1f} ms <= budget {budget:g} ms",
           f"expected nDCG@10 {best.ndcg10:.3f} >= {need:.3f} needed for '{acc}' accuracy "
           f"({ACCURACY_LEVELS[acc]})"]
    if best.settings.index in INDEX_KINDS:
        spec = INDEX_KINDS[best.settings.index]
        why.append(f"{best.settings.index}: {spec.note}; recall vs exact search "
                   f"{cost.recall(spec.name, n, best.settings.k_retrieve or 10):.3f} (measured)"
                   if spec.ann else f"{best.settings.index}: {spec.note}")
    if best.extrapolated:
        why.append(f"search time extrapolated beyond the largest measured index "
                   f"({cost._search[best.settings.index][3]:,} vectors) with the fitted power law")
    if best.settings.optimization != "none":
        why.append("INT8 dynamic quantization speeds the reranker up on CPU; its quality cost is "
                   "measured on the top-20 rerank and included in the expected nDCG@10"
                   if quality.measured else "INT8 dynamic quantization speeds the reranker up on CPU")
    alts = _alternatives(best, opts, budget, need, mem_cap)
    return Recommendation(True, best.approach, best.settings, best.p50_ms, best.p95_ms, best.ndcg10,
                          need, best.memory_bytes, why + reasons, alts, [], inputs, prof.label, best)


def _context_reasons(prof: HardwareProfile, quality: QualityModel, n: int) -> list[str]:
    out = []
    if not quality.measured:
        out.append("quality curves not measured yet (no reranker when profiled): nDCG@10 is relative "
                   "to the exact bi-encoder (=1.0) and reranking is assumed to gain nothing")
    else:
        top_k = max(quality.curve, key=quality.curve.get) if quality.curve else None
        out.append(f"quality: nDCG@10 measured on {', '.join(quality.datasets)} (~1.4k documents each; "
                   f"bi-encoder {quality.bi:.3f}"
                   + (f", best rerank {quality.curve[top_k]:.3f} at k_retrieve={top_k}" if top_k else "")
                   + "); larger corpora usually score lower in absolute terms")
        if quality.curve and max(quality.curve.values()) <= quality.bi:
            out.append(f"the measured reranker ({quality.reranker}) does not beat the bi-encoder on "
                       "these collections, so reranking buys no accuracy here")
        if not quality.held_out:
            out.append("the reranker's quality was measured on collections it was trained on")
    if n > CE_ONLY_MAX_DOCS:
        out.append(f"cross-encoder only not considered above {CE_ONLY_MAX_DOCS:,} documents "
                   "(it scores every document per query)")
    return out


def _why_not(o: Option, budget: float, need: float, mem_cap: float, best: Option | None) -> str:
    fails = []
    if o.p95_ms > budget:
        fails.append(f"too slow: p95 {o.p95_ms:.1f} ms > {budget:g} ms")
    if o.ndcg10 < need - 1e-9:
        fails.append(f"not accurate enough: nDCG@10 {o.ndcg10:.3f} < {need:.3f}")
    if o.memory_bytes > mem_cap:
        fails.append(f"index too big: {_fmt_bytes(o.memory_bytes)}")
    if fails:
        return "; ".join(fails)
    if best is not None and o.p50_ms > best.p50_ms * (1 + TIE_BAND) + 1.0:
        return f"meets every need but costs more: p50 {o.p50_ms:.1f} ms vs {best.p50_ms:.1f} ms"
    return ("meets every need at about the same cost; lost the tie-break (exact search first, then "
            "higher nDCG@10, then less memory)")


def _alternatives(best: Option | None, opts: list[Option], budget: float, need: float,
                  mem_cap: float) -> list[Alternative]:
    """Per approach: its best candidate (ok and cheapest; else fastest accurate; else most accurate
    within budget; else most accurate) plus, if different, the best-quality option within budget."""
    out: list[Alternative] = []

    def ok(o: Option) -> bool:
        return o.p95_ms <= budget and o.ndcg10 >= need - 1e-9 and o.memory_bytes <= mem_cap

    for approach in APPROACHES:
        mine = [o for o in opts if o.approach == approach and o is not best]
        if not mine:
            continue
        if best is not None and approach == best.approach:
            other_index = [o for o in mine if ok(o) and o.settings.index != best.settings.index]
            mine = other_index or [o for o in mine if ok(o)]
            if not mine:
                continue
        good = [o for o in mine if ok(o)]
        accurate = [o for o in mine if o.ndcg10 >= need - 1e-9]
        in_time = [o for o in mine if o.p95_ms <= budget]
        if good:
            pick = _pick(good)
        elif accurate:
            pick = min(accurate, key=lambda o: o.p95_ms)
        elif in_time:
            pick = max(in_time, key=lambda o: (o.ndcg10, -o.p50_ms))
        else:
            pick = max(mine, key=lambda o: (o.ndcg10, -o.p50_ms))
        out.append(Alternative(pick, _why_not(pick, budget, need, mem_cap, best)))
    in_budget = [o for o in opts if o.p95_ms <= budget and o.memory_bytes <= mem_cap]
    if in_budget:
        top = max(in_budget, key=lambda o: (round(o.ndcg10, 3), -o.p50_ms))
        if (best is None or top.ndcg10 > best.ndcg10 + 1e-6) and all(a.option != top for a in out):
            out.append(Alternative(top, "best quality that fits the budget: "
                                   + _why_not(top, budget, need, mem_cap, best)))
    return out


def _relax(n: int, budget: float, acc: str, need: float, opts: list[Option], fits_time: list[Option],
           good: list[Option], fits_mem: list[Option], cost: CostModel, quality: QualityModel,
           reranker: str, mem_cap: float) -> list[str]:
    """How far each constraint must move for some option to meet the others."""
    out = []
    acc_mem = [o for o in good if o.memory_bytes <= mem_cap]
    if acc_mem:
        fastest = min(acc_mem, key=lambda o: o.p95_ms)
        out.append(f"latency: raise the budget to >= {math.ceil(fastest.p95_ms):,} ms (+"
                   f"{math.ceil(fastest.p95_ms - budget):,} ms, x{fastest.p95_ms / budget:.1f}) for "
                   f"{fastest.label()}")
    in_time = [o for o in fits_time if o.memory_bytes <= mem_cap]
    if in_time:
        top = max(in_time, key=lambda o: o.ndcg10)
        level = _level_met(top.ndcg10, quality)
        if level and level != acc:
            out.append(f"accuracy: lower the need to '{level}' (best within {budget:g} ms: "
                       f"{top.label()}, nDCG@10 {top.ndcg10:.3f} < {need:.3f} needed for '{acc}')")
        elif not level:
            out.append(f"accuracy: within {budget:g} ms the best expected nDCG@10 is {top.ndcg10:.3f}, "
                       "below even the 'low' level")
    else:
        fastest = min(opts, key=lambda o: o.p95_ms)
        out.append(f"no configuration at all fits {budget:g} ms: the fastest ({fastest.label()}) "
                   f"needs p95 {fastest.p95_ms:.1f} ms")
    n_max = _max_corpus(n, budget, need, cost, quality, reranker, mem_cap)
    if n_max:
        out.append(f"corpus: shrink (shard/filter) to <= {n_max:,} documents per searched index "
                   f"(now {n:,}, /{n / n_max:.1f})")
    if mem_cap < math.inf:
        in_need = [o for o in fits_time if o.ndcg10 >= need - 1e-9]
        if in_need:
            small = min(in_need, key=lambda o: o.memory_bytes)
            out.append(f"memory: allow >= {small.memory_bytes / 1e9:.2f} GB ({small.label()})")
    return out


def _max_corpus(n: int, budget: float, need: float, cost: CostModel, quality: QualityModel,
                reranker: str, mem_cap: float) -> int | None:
    """Largest corpus below ``n`` for which some option meets every need (bisection on log n)."""
    def feasible(m: int) -> bool:
        return any(o.p95_ms <= budget and o.ndcg10 >= need - 1e-9 and o.memory_bytes <= mem_cap
                   for o in _options(m, cost, quality, reranker))

    lo, hi = 1.0, math.log10(max(n, 10))
    if not feasible(10):
        return None
    for _ in range(25):
        mid = (lo + hi) / 2
        if feasible(int(10 ** mid)):
            lo = mid
        else:
            hi = mid
    m = int(10 ** lo)
    return m if m < n else None


def latency_curves(accuracy: str = "medium", sizes: np.ndarray | None = None,
                   profile: str | HardwareProfile | None = None
                   ) -> dict[str, list[tuple[int, float, bool]]]:
    """Per approach and corpus size: (n, predicted p50, meets accuracy) of its cheapest option that
    meets ``accuracy`` -- or, where none does, of its cheapest option at all (``meets`` False)."""
    prof = load_profile(profile)
    cost, quality = CostModel(prof), QualityModel(prof.quality)
    need = quality.required(_check_inputs(1, 1, accuracy)[2])
    sizes = np.logspace(2, 9, 29) if sizes is None else np.asarray(sizes)
    out: dict[str, list[tuple[int, float, bool]]] = {a: [] for a in APPROACHES}
    for n in sizes:
        opts = _options(int(n), cost, quality, "r")
        for a in APPROACHES:
            mine = [o for o in opts if o.approach == a]
            good = [o.p50_ms for o in mine if o.ndcg10 >= need - 1e-9]
            if good:
                out[a].append((int(n), min(good), True))
            elif mine:
                out[a].append((int(n), min(o.p50_ms for o in mine), False))
    return out


def compare_with_seed(corpus_sizes=(500, 1e4, 1e5, 1e6, 1e7), budgets=(10, 50, 100, 500, 2000),
                      accuracies=("low", "medium", "high"),
                      profile: str | HardwareProfile | None = None):
    """A DataFrame: the seed rule's answer next to the measured recommendation for a grid."""
    import pandas as pd

    rows = []
    for n in corpus_sizes:
        for b in budgets:
            for a in accuracies:
                seed = seed_rule(n, b, a)
                rec = recommend(n, b, a, profile=profile)
                rows.append({"corpus_size": int(n), "budget_ms": b, "accuracy": a,
                             "seed": seed.approach,
                             "measured": rec.approach if rec.feasible else "infeasible",
                             "settings": rec.settings.describe() if rec.settings else "",
                             "p50_ms": rec.predicted_p50_ms, "ndcg10": rec.expected_ndcg10,
                             "agree": seed.approach == rec.approach})
    return pd.DataFrame(rows)


# -- command line ------------------------------------------------------------------------------------
def _cli_recommend(args) -> int:
    rec = recommend(args.corpus_size, args.latency_ms, args.accuracy, profile=args.profile,
                    memory_budget_gb=args.memory_gb, query_tokens=args.query_tokens)
    if args.json:
        import json

        print(json.dumps(rec.to_dict(), indent=1, default=str))
    else:
        print(rec.summary())
        seed = seed_rule(args.corpus_size, args.latency_ms, args.accuracy)
        print(f"seed rule of thumb: {seed.approach} ({seed.rule})")
    return 0


def _cli_calibrate(args) -> int:
    from ragcompare.decide.calibrate import calibrate, update_quality

    if args.quality_only:
        update_quality(args.output)
        return 0
    calibrate(quick=args.quick, threads=args.threads, quality=args.quality, output=args.output)
    return 0


def add_cli(sub) -> None:
    """Register ``ragcompare recommend`` and ``ragcompare calibrate`` on the CLI's subparsers."""
    r = sub.add_parser("recommend", help="recommend bi-encoder / hybrid / cross-encoder from needs")
    r.add_argument("--corpus-size", type=float, required=True, help="documents, e.g. 2e6")
    r.add_argument("--latency-ms", type=float, required=True, help="p95 latency budget per query")
    r.add_argument("--accuracy", default="medium", help="low | medium | high")
    r.add_argument("--memory-gb", type=float, default=None, help="optional index memory budget")
    r.add_argument("--query-tokens", type=float, default=None,
                   help="typical query length in word pieces (default: the profiled query mix)")
    r.add_argument("--profile", default=None,
                   help="hardware profile: cpu, cuda or a JSON path (default: yours, else shipped)")
    r.add_argument("--json", action="store_true", help="print the recommendation as JSON")
    r.set_defaults(func=_cli_recommend)
    c = sub.add_parser("calibrate", help="measure this machine's costs and save a hardware profile")
    c.add_argument("--quick", action="store_true", help="tiny sizes, for tests (seconds)")
    c.add_argument("--threads", type=int, default=1,
                   help="torch/FAISS threads while measuring (default 1: robust on a busy machine)")
    c.add_argument("--quality", action="store_true",
                   help="also measure nDCG@10 vs k_retrieve (needs a reranker; slow)")
    c.add_argument("--quality-only", action="store_true",
                   help="only re-measure the quality curves into the profile at --output (default: "
                        "yours, else the shipped one), e.g. after a new reranker ships")
    c.add_argument("--output", default=None, help="profile path (default: the user cache dir)")
    c.set_defaults(func=_cli_calibrate)
