"""Quality versus ``k_retrieve``: the sweep that measures it (slow, hardware independent) and
:class:`QualityModel`, which turns the measured curves into an expected nDCG@10 per option and the
95% interval of its gain over the bi-encoder.

The protocol is the rest of the course's (``ragcompare.eval.comparison``): every option is scored on
*every* judged query of each collection, the same queries as the bi-encoder it is compared with, and
its gain is the mean per-query difference in nDCG@10 with a paired bootstrap 95% interval and a Fisher
randomization p-value (:func:`~ragcompare.eval.comparison.paired_difference` on
:func:`~ragcompare.eval.metrics.per_query` scores). The reranker of each collection is one that did not
see that collection's judgments where one is shipped.

Options measured (``measure_quality``):

* the *curve*: the bi-encoder's top ``k`` reranked by the cross-encoder (ONNX Runtime INT8,
  ``max_length`` 256: three times faster than PyTorch fp32, so every query's top 100 can be scored) at
  each ``k`` in ``QUALITY_KS`` (``ragcompare.rerank.head.rerank_head``);
* the *interpolated hybrid* at each ``k`` and each ``alpha`` in ``QUALITY_ALPHAS``: the head ordered by
  ``alpha * z(reranker) + (1 - alpha) * z(bi-encoder)`` (``ragcompare.rerank.head.interpolate_hits``),
  from the same cached pair scores -- no extra model time;
* the other reranker settings (PyTorch fp32 at 256 and 128, INT8 at 128) on the top ``DELTA_K`` only,
  stored as per-query differences to the curve setting (each with its interval). At other depths
  their scores are *derived*: the curve's per-query score plus that setting's per-query difference at
  ``DELTA_K`` (labelled as derived wherever shown).

Pooling (:func:`pool_quality`): the expected nDCG@10 and the gain interval of an option are computed on
the per-query values of all measured collections together (cranfield's 225 and cisi's 76 judged
queries: 301 paired differences, one bootstrap), not by averaging per-collection intervals; a
collection with more queries weighs more, as it does in a pooled mean.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ragcompare.decide.rerankers import INT8_BACKEND, setting_key, setting_reranker

QUALITY_DATASETS = ("cranfield", "cisi")
QUALITY_KS = (10, 20, 50, 100)
QUALITY_VARIANTS = ((256, True), (256, False), (128, False), (128, True))
"""(max_length, int8) measured: the first (ONNX INT8 at 256) gives the full curve, the others a
per-query difference to it at ``DELTA_K``."""
QUALITY_ALPHAS = (0.3, 0.5, 0.7)
"""Interpolation weights of the reranker's z-score (``interpolate_hits``, through
``eval.sweeps.rerank_results``) measured at every depth."""
DELTA_K = 20
PROTOCOL = ("every judged query of each collection; per-query nDCG@10 (ranx) against the bi-encoder on "
            "the same queries: mean difference, paired bootstrap 95% interval, Fisher randomization "
            "p-value (ragcompare.eval.comparison.paired_difference); pooled over the collections' "
            "per-query differences")
BI_KEY = "bi-encoder"

ACCURACY_LEVELS = {
    "low": "at least 90% of the exact bi-encoder's nDCG@10 (approximate search may lose a little)",
    "medium": "at least half of the best measurable reranking gain over the bi-encoder (a gain counts "
              "only when its 95% interval excludes 0; 97% of the bi-encoder if no gain does)",
    "high": "at least 90% of the best measurable reranking gain "
            "(99% of the bi-encoder if no gain is measurable)",
}
"""The accuracy needs, relative to the measured curves. The rule for gains: an option's gain over the
bi-encoder is counted only when its 95% interval excludes 0 (a measured loss always counts); an option
whose gain is not measurably positive is credited with the bi-encoder's nDCG@10. So the bi-encoder
meets every level unless some reranking option measurably beats it, and then 'medium' and 'high' need
such an option: a hybrid is recommended exactly when reranking measurably helps and the budget allows.
Profiles measured before intervals existed take their gains at face value (and say so)."""


def score_key(setting: str, k: int, alpha: float | None = None) -> str:
    """The name of one option's per-query scores, e.g. ``"256-int8@20"``, ``"256-int8@20 alpha=0.5"``."""
    return f"{setting}@{int(k)}" + ("" if alpha is None else f" alpha={float(alpha):g}")


@dataclass(frozen=True)
class QualityGain:
    """An option's expected nDCG@10 gain over the bi-encoder and, where measured, its 95% interval."""

    diff: float
    low: float | None = None
    high: float | None = None
    p_value: float | None = None
    queries: int | None = None
    datasets: tuple[str, ...] = ()
    derived: bool = False
    """True when estimated from the curve plus a difference measured at another depth."""

    @property
    def measured(self) -> bool:
        """Whether the interval was measured."""
        return self.low is not None and self.high is not None

    @property
    def significant(self) -> bool:
        """True when the 95% interval excludes 0."""
        return self.measured and (self.low > 0 or self.high < 0)

    @property
    def counts(self) -> bool:
        """Whether the accuracy levels count this gain (see ``ACCURACY_LEVELS``): a loss always, a
        positive gain when its interval excludes 0, or -- no interval measured -- at face value."""
        return self.diff <= 0 or not self.measured or self.significant

    def interval(self) -> str:
        """``+0.030 [+0.010, +0.050]``, or ``+0.030 (interval not measured)``."""
        if not self.measured:
            return f"{self.diff:+.3f} (interval not measured)"
        return f"{self.diff:+.3f} [{self.low:+.3f}, {self.high:+.3f}]"

    def describe(self) -> str:
        """``+0.030 [+0.010, +0.050] over the bi-encoder on cranfield+cisi, 301 queries, p=0.002``."""
        from ragcompare.eval.comparison import format_p

        where = f" on {'+'.join(self.datasets)}" if self.datasets else ""
        text = f"{self.interval()} over the bi-encoder{where}"
        if self.queries:
            text += f", {self.queries} queries"
        if self.measured and self.p_value is not None:
            text += f", p={format_p(self.p_value)}"
        if self.derived:
            text += f" (derived: the curve plus this setting's difference measured at k={DELTA_K})"
        return text


def _interp(points: Mapping[int, float], k: int, at_zero: float) -> float:
    """``points`` ({k: value}) log-interpolated at ``k``; below the smallest k linearly from ``at_zero``."""
    ks = sorted(points)
    ys = [points[x] for x in ks]
    if k >= ks[0]:
        return float(np.interp(math.log(max(k, 1)), np.log(ks), ys))
    return at_zero + (ys[0] - at_zero) * k / ks[0]


class QualityModel:
    """Expected nDCG@10 of each option and the interval of its gain over the bi-encoder.

    New profiles (with ``quality["pooled"]``, see :func:`pool_quality`) give pooled per-query means and
    intervals; older ones the mean over collections of 30-query samples, without intervals ("interval
    not measured"), whose gains are then taken at face value.
    """

    def __init__(self, quality: dict | None) -> None:
        quality = quality or {}
        sets = quality.get("datasets", {})
        pooled = quality.get("pooled") or {}
        self.measured = bool(sets)
        self.datasets = list(sets)
        self.intervals = bool(pooled.get("options"))
        self.alphas: list[float] = []
        self._options: dict[tuple[str, int, float | None], dict] = {}
        self.delta_intervals: dict[str, dict] = {}
        self.reranker = next(iter(sets.values())).get("reranker") if sets else None
        self.rerankers = {name: d.get("reranker") for name, d in sets.items()}
        self.held_out = all(d.get("held_out", True) for d in sets.values())
        if not self.measured:
            self.bi, self.queries, self.curve, self.deltas = 1.0, 0, {}, {}
            self.curve_setting = "256"
            return
        if self.intervals:
            self.bi = float(pooled["bi_encoder"]["mean"])
            self.queries = int(pooled["bi_encoder"]["queries"])
            self.curve_setting = quality.get("curve_setting") or next(iter(sets.values()))["curve_setting"]
            for o in pooled["options"]:
                alpha = None if o.get("alpha") is None else float(o["alpha"])
                self._options[(o["setting"], int(o["k"]), alpha)] = o
            self.alphas = sorted({a for _, _, a in self._options if a is not None})
            self.curve = {k: float(o["mean"]) for (s, k, a), o in self._options.items()
                          if s == self.curve_setting and a is None}
            self.delta_intervals = dict(pooled.get("deltas", {}))
            self.deltas = {s: float(d["diff"]) for s, d in self.delta_intervals.items()}
            return
        # a profile measured before intervals: mean over collections of 30-query samples
        self.bi = float(np.mean([d["bi_encoder"] for d in sets.values()]))
        self.queries = int(sum(d.get("queries_sampled", 0) for d in sets.values()))
        ks = sorted({int(k) for d in sets.values() for k in d.get("hybrid", {})})
        self.curve = {k: float(np.mean([d["hybrid"][str(k)] for d in sets.values()
                                        if str(k) in d.get("hybrid", {})])) for k in ks}
        keys = {key for d in sets.values() for key in d.get("deltas", {})}
        self.deltas = {key: float(np.mean([d["deltas"][key]["delta"] for d in sets.values()
                                           if key in d.get("deltas", {})])) for key in keys}
        self.curve_setting = next(iter(sets.values())).get("curve_setting", "256")

    @property
    def settings(self) -> list[str]:
        """Reranker settings with a measured quality (the curve's and those with a difference to it)."""
        return [self.curve_setting, *sorted(s for s in self.deltas if s != self.curve_setting)]

    def hybrid(self, k: int, setting: str, alpha: float | None = None) -> float | None:
        """Expected nDCG@10 of reranking the top ``k`` with ``setting`` (interpolated with the
        bi-encoder's scores when ``alpha`` is set); None if not measured."""
        if not self.curve:
            return None
        if self.intervals:
            if (setting, int(k), alpha) in self._options:
                return float(self._options[(setting, int(k), alpha)]["mean"])
            points = {kk: float(o["mean"]) for (s, kk, a), o in self._options.items()
                      if s == setting and a == alpha}
            return _interp(points, k, self.bi) if points else None
        if alpha is not None:
            return None
        base = _interp(self.curve, k, self.bi)
        if setting == self.curve_setting:
            return base
        return base + self.deltas[setting] if setting in self.deltas else None

    def gain(self, k: int, setting: str, alpha: float | None = None) -> QualityGain | None:
        """The option's gain over the bi-encoder, with its pooled 95% interval where measured."""
        q = self.hybrid(k, setting, alpha)
        if q is None:
            return None
        o = self._options.get((setting, int(k), alpha))
        if o is None:
            return QualityGain(q - self.bi, queries=self.queries or None, datasets=tuple(self.datasets),
                               derived=setting != self.curve_setting or int(k) not in self.curve)
        return QualityGain(float(o["diff"]), o.get("low"), o.get("high"), o.get("p_value"),
                           int(o["queries"]), tuple(self.datasets), bool(o.get("derived")))

    def credited(self, k: int, setting: str, alpha: float | None = None) -> float | None:
        """nDCG@10 the accuracy levels count for this option: its expected value, or the bi-encoder's
        when its gain is positive but not measurably so (see ``ACCURACY_LEVELS``)."""
        q, g = self.hybrid(k, setting, alpha), self.gain(k, setting, alpha)
        if q is None or g is None:
            return q
        return q if g.counts else self.bi

    @property
    def deepest(self) -> int | None:
        """The deepest measured rerank depth (what scoring every document is credited with)."""
        return max(self.curve) if self.curve else None

    def exhaustive(self, setting: str) -> float | None:
        """Expected nDCG@10 of scoring every document: that of the deepest measured rerank depth, the
        closest measured to scoring everything."""
        return None if not self.curve else self.hybrid(self.deepest, setting)

    def options(self) -> list[tuple[int, str, float | None]]:
        """Every measured (k, setting, alpha)."""
        if self.intervals:
            return sorted(((k, s, a) for s, k, a in self._options),
                          key=lambda x: (x[0], x[1], -1 if x[2] is None else x[2]))
        return [(k, s, None) for k in sorted(self.curve) for s in self.settings]

    @property
    def best_gain(self) -> tuple[float, tuple[int, str, float | None] | None]:
        """The largest gain the accuracy levels count (0 and None when no option's does)."""
        best, which = 0.0, None
        for k, s, a in self.options():
            g = self.gain(k, s, a)
            if g is not None and g.diff > best + 1e-12 and g.counts:
                best, which = g.diff, (k, s, a)
        return best, which

    @property
    def best(self) -> float:
        """nDCG@10 of the best counted option (the bi-encoder's when no gain counts)."""
        return self.bi + self.best_gain[0]

    def required(self, accuracy: str) -> float:
        """nDCG@10 an accuracy level asks for (see ``ACCURACY_LEVELS``)."""
        gain = self.best_gain[0]
        if accuracy == "low":
            return 0.90 * self.bi
        share, floor = (0.5, 0.97) if accuracy == "medium" else (0.9, 0.99)
        return self.bi + share * gain if gain > 0 else floor * self.bi

    def table(self):
        """A DataFrame of every measured option: k, setting, alpha, expected nDCG@10, gain over the
        bi-encoder with its 95% interval and p-value, queries, and whether it is derived."""
        import pandas as pd

        rows = [{"k_retrieve": 0, "setting": "-", "alpha": None, "ndcg@10": self.bi, "gain": 0.0,
                 "low": None, "high": None, "p": None, "queries": self.queries, "derived": False,
                 "counts": False}]
        for k, s, a in self.options():
            g = self.gain(k, s, a)
            rows.append({"k_retrieve": k, "setting": s, "alpha": a, "ndcg@10": self.hybrid(k, s, a),
                         "gain": g.diff, "low": g.low, "high": g.high, "p": g.p_value,
                         "queries": g.queries, "derived": g.derived, "counts": g.diff > 0 and g.counts})
        return pd.DataFrame(rows)


# -- measuring -----------------------------------------------------------------------------------------
def _stats(a: np.ndarray, b: np.ndarray) -> dict:
    """Mean of ``a - b`` with its paired 95% interval and p-value (``paired_difference``)."""
    from ragcompare.eval.comparison import paired_difference

    diff, low, high, p = paired_difference(a, b)
    clean = [None if x is None or not math.isfinite(x) else float(x) for x in (diff, low, high, p)]
    return dict(zip(("diff", "low", "high", "p_value"), clean), queries=int(len(a)))


def _vectors(entry: Mapping) -> dict[str, np.ndarray]:
    return {k: np.asarray(v, dtype=np.float64) for k, v in entry["per_query"]["scores"].items()}


def _option_vector(vec: Mapping[str, np.ndarray], curve: str, setting: str, k: int,
                   alpha: float | None, delta_k: int) -> tuple[np.ndarray | None, bool]:
    """Per-query scores of (setting, k, alpha): measured, or derived from the curve plus the setting's
    per-query difference at ``delta_k`` (second value True)."""
    key = score_key(setting, k, alpha)
    if key in vec:
        return vec[key], False
    base, at, ref = (vec.get(score_key(curve, k, alpha)), vec.get(score_key(setting, delta_k, alpha)),
                     vec.get(score_key(curve, delta_k, alpha)))
    if base is None or at is None or ref is None:
        return None, False
    return base + (at - ref), True


def pool_quality(datasets: Mapping[str, Mapping], curve_setting: str, settings: Sequence[str],
                 ks: Sequence[int], alphas: Sequence[float], delta_k: int = DELTA_K) -> dict:
    """Pooled statistics of every option over the per-query scores of all ``datasets`` (entries of
    :func:`measure_quality`): the bi-encoder's mean, and per (setting, k, alpha) the mean nDCG@10 and
    its gain over the bi-encoder on the same queries (paired bootstrap 95% interval, p-value), plus each
    setting's difference to the curve setting at ``delta_k``."""
    vecs = {name: _vectors(e) for name, e in datasets.items()}
    bi = np.concatenate([v[BI_KEY] for v in vecs.values()])
    options = []
    for setting in settings:
        for k in ks:
            for alpha in (None, *alphas):
                parts = [_option_vector(v, curve_setting, setting, k, alpha, delta_k) for v in vecs.values()]
                if any(p is None for p, _ in parts):
                    continue
                x = np.concatenate([p for p, _ in parts])
                options.append({"setting": setting, "k": int(k), "alpha": alpha, "mean": float(x.mean()),
                                **_stats(x, bi), "derived": any(d for _, d in parts)})
    deltas = {}
    for setting in settings:
        if setting == curve_setting:
            continue
        key, ref = score_key(setting, delta_k), score_key(curve_setting, delta_k)
        if all(key in v and ref in v for v in vecs.values()):
            deltas[setting] = {"k": int(delta_k), **_stats(np.concatenate([v[key] for v in vecs.values()]),
                                                           np.concatenate([v[ref] for v in vecs.values()]))}
    return {"datasets": list(datasets), "method": PROTOCOL,
            "bi_encoder": {"mean": float(bi.mean()), "queries": int(len(bi))},
            "options": options, "deltas": deltas}


def _scores(results, qrels, qids: Sequence[str]) -> np.ndarray:
    """Per-query nDCG@10 of ``results`` in the order of ``qids`` (``eval.per_query``, ranx)."""
    from ragcompare.eval.metrics import per_query

    return per_query(results, qrels, ["ndcg@10"])["ndcg@10"].reindex(list(qids)).to_numpy(dtype=float)


def measure_quality(datasets: Sequence[str] = QUALITY_DATASETS, ks: Sequence[int] = QUALITY_KS,
                    n_queries: int | None = None, variants: Sequence[tuple[int, bool]] = QUALITY_VARIANTS,
                    delta_k: int = DELTA_K, alphas: Sequence[float] = QUALITY_ALPHAS,
                    reranker: str | None = None, seed: int = 0,
                    rerankers: dict[str, tuple[str, str]] | None = None, threads: int | None = None,
                    log: Callable[[str], None] = print) -> dict:
    """nDCG@10 of the bi-encoder and of each reranking option, per query, with the difference
    statistics of each option against the bi-encoder on the same queries (see the module docstring).

    ``n_queries=None`` uses every judged query (the protocol); a number samples that many per
    collection (quick runs and tests only). Each query's top ``max(ks)`` bi-encoder candidates are
    scored once per setting; every shallower head and every ``alpha`` reuses those scores. The first
    of ``variants`` (max_length, int8) gives the full curve; the others are scored on the top
    ``delta_k`` only. ``rerankers`` maps a collection to (name to record, model path) when the reranker
    is not resolvable by name; otherwise ``reranker`` or ``models.pick_reranker`` (held-out) is used.
    Not a timing: it runs on ``threads`` threads (default: every core) and restores the counts after.
    """
    from ragcompare.sysinfo import restored_threads, set_threads
    from ragcompare.types import InvalidInputError

    if not variants:
        raise InvalidInputError("measure_quality needs at least one (max_length, int8) variant")
    if any(int(k) < 1 for k in ks) or delta_k < 1:
        raise InvalidInputError(f"rerank depths must be >= 1, got {list(ks)} and {delta_k}")
    with restored_threads():
        set_threads(threads or os.cpu_count() or 1)
        return _measure(datasets, [int(k) for k in ks], n_queries, variants, delta_k,
                        [float(a) for a in alphas], reranker, seed, rerankers, log)


def _measure(datasets, ks, n_queries, variants, delta_k, alphas, reranker, seed, rerankers, log) -> dict:
    from ragcompare.data.beir import load_dataset
    from ragcompare.eval.sweeps import PairScoreCache, rerank_results
    from ragcompare.models.resolve import pick_reranker
    from ragcompare.retrieval.dense import BiEncoderRetriever
    from ragcompare.types import InvalidInputError

    out: dict[str, dict] = {}
    bi = None
    depth = max(ks)
    curve = setting_key(*variants[0])
    for name in datasets:
        ds = load_dataset(name)
        rr_name, rr = (rerankers or {}).get(name) or (None, reranker or pick_reranker(name))
        rr_name = rr_name or rr
        trained_on = _trained_on(rr)
        texts = ds.texts
        if bi is None:
            bi = BiEncoderRetriever(show_progress=False)
        bi.index(texts)
        judged = [q for q in ds.queries if ds.qrels.get(q)]
        all_first = dict(zip(judged, bi.search([ds.queries[q] for q in judged], depth)))
        chosen = set(ds.sample_queries(n_queries, seed)) if n_queries is not None else set(judged)
        qids = [q for q in judged if q in chosen]
        if not qids:
            raise InvalidInputError(f"{name}: no judged query to measure")
        first = {q: all_first[q] for q in qids}
        queries = {q: ds.queries[q] for q in qids}
        scores: dict[str, np.ndarray] = {BI_KEY: _scores(first, ds.qrels, qids)}
        entry: dict[str, object] = {
            "reranker": rr_name, "held_out": name.lower() not in trained_on,
            "trained_on": sorted(trained_on), "queries_total": len(judged), "queries_evaluated": len(qids),
            "bi_encoder_all": float(_scores(all_first, ds.qrels, judged).mean()),
            "bi_encoder": float(scores[BI_KEY].mean()), "curve_setting": curve,
            "hybrid": {}, "hybrid_gain": {}, "interpolated": {}, "interpolated_gain": {}, "deltas": {},
            "pairs_scored": {}, "seconds": {}}
        for vi, (ml, quant) in enumerate(variants):
            key = setting_key(ml, quant)
            cache = PairScoreCache(setting_reranker(rr, ml, quant), texts)
            depths = ks if vi == 0 else [delta_k]
            for q in qids:  # the deepest head at once: every shallower head is a prefix of it
                cache.get(queries[q], [h.doc_id for h in first[q][:max(depths)]])
            for k in depths:
                for alpha in (None, *alphas):
                    res = rerank_results(first, queries, cache, k, depth, alpha)
                    scores[score_key(key, k, alpha)] = _scores(res, ds.qrels, qids)
            entry["pairs_scored"][key] = cache.pairs_scored
            entry["seconds"][key] = round(cache.seconds, 1)
            if vi == 0:
                for k in ks:
                    x = scores[score_key(key, k)]
                    entry["hybrid"][str(k)] = float(x.mean())
                    entry["hybrid_gain"][str(k)] = _stats(x, scores[BI_KEY])
                for alpha in alphas:
                    a = f"{alpha:g}"
                    entry["interpolated"][a], entry["interpolated_gain"][a] = {}, {}
                    for k in ks:
                        x = scores[score_key(key, k, alpha)]
                        entry["interpolated"][a][str(k)] = float(x.mean())
                        entry["interpolated_gain"][a][str(k)] = _stats(x, scores[BI_KEY])
                log(f"  {name} ({len(qids)} queries) {key}: nDCG@10 bi-encoder {entry['bi_encoder']:.3f}, "
                    f"rerank " + ", ".join(f"@{k} {v:.3f}" for k, v in entry["hybrid"].items())
                    + f" ({cache.pairs_scored} pairs, {cache.seconds:.0f} s)")
            else:
                d = _stats(scores[score_key(key, delta_k)], scores[score_key(curve, delta_k)])
                d["interpolated"] = {f"{a:g}": _stats(scores[score_key(key, delta_k, a)],
                                                      scores[score_key(curve, delta_k, a)]) for a in alphas}
                entry["deltas"][key] = {"k": delta_k, "delta": d.pop("diff"), **d}
                log(f"  {name} {key}: {entry['deltas'][key]['delta']:+.3f} vs {curve} at k={delta_k} "
                    f"({cache.pairs_scored} pairs, {cache.seconds:.0f} s)")
        entry["per_query"] = {"queries": qids,
                              "scores": {k: [round(float(v), 5) for v in x] for k, x in scores.items()}}
        out[name] = entry
    settings = [setting_key(ml, quant) for ml, quant in variants]
    return {"metric": "ndcg@10", "protocol": PROTOCOL, "ks": list(ks), "alphas": list(alphas),
            "curve_setting": curve, "delta_k": delta_k, "settings": settings,
            "n_queries": n_queries, "int8_backend": INT8_BACKEND, "datasets": out,
            "pooled": pool_quality(out, curve, settings, ks, alphas, delta_k)}


def _trained_on(model: str) -> set[str]:
    """Collections whose judgments trained ``model`` (its card, or a training run's results.json)."""
    from ragcompare.models.pack import training_collections
    from ragcompare.models.resolve import resolve_model

    trained_on = training_collections(resolve_model(model, "cross-encoder"))
    results = Path(model).parent / "results.json"
    if not trained_on and Path(model).is_dir() and results.is_file():
        trained_on = {c.lower() for c in json.loads(results.read_text()).get("training_collections", [])}
    return trained_on
