"""Quality versus ``k_retrieve``: the sweep that measures it (slow, hardware independent) and
:class:`QualityModel`, which turns the measured curves into an expected nDCG@10 per option.

The curves are nDCG@10 of the bi-encoder alone and of the bi-encoder followed by a cross-encoder
reranking its top ``k_retrieve`` (``ragcompare.rerank.head.rerank_head`` via
``ragcompare.eval.sweeps.sweep_k_retrieve``), on real collections, with a reranker that did not see
the collection's judgments where one is shipped.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from ragcompare.decide.rerankers import INT8_BACKEND, setting_key, setting_reranker

QUALITY_DATASETS = ("cranfield", "cisi")
QUALITY_KS = (10, 20, 50, 100)
QUALITY_VARIANTS = ((256, False), (128, False), (256, True), (128, True))
"""(max_length, int8) measured: the first gives the full curve, the others a difference at k=20."""

ACCURACY_LEVELS = {
    "low": "at least 90% of the exact bi-encoder's nDCG@10 (approximate search may lose a little)",
    "medium": "at least half of the best measured reranking gain over the bi-encoder "
              "(97% of the bi-encoder if reranking gains nothing)",
    "high": "at least 90% of the best measured reranking gain "
            "(99% of the bi-encoder if reranking gains nothing)",
}


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


def measure_quality(datasets: Sequence[str] = QUALITY_DATASETS, ks: Sequence[int] = QUALITY_KS,
                    n_queries: int = 30, variants: Sequence[tuple[int, bool]] = ((256, False),),
                    delta_k: int = 20, reranker: str | None = None, seed: int = 0,
                    rerankers: dict[str, tuple[str, str]] | None = None,
                    log: Callable[[str], None] = print) -> dict:
    """nDCG@10 of the bi-encoder and of bi-encoder >> cross-encoder at each ``k_retrieve``.

    Each sampled query's top ``max(ks)`` bi-encoder candidates are scored once (one call per query);
    reranking the top ``k`` for every ``k`` in ``ks`` reuses those scores (a pair's score does not
    depend on the other candidates). The first of ``variants`` (max_length, int8) gives the full
    curve; the others are measured on the top ``delta_k`` only and stored as a difference to the
    first. ``rerankers`` maps a collection to (name to record, model path) when the reranker is not
    resolvable by name yet; otherwise ``reranker`` or ``models.pick_reranker`` (held-out) is used.
    """
    from ragcompare.data.beir import load_dataset
    from ragcompare.eval.metrics import evaluate
    from ragcompare.eval.sweeps import PairScoreCache, sweep_k_retrieve
    from ragcompare.models.resolve import pick_reranker
    from ragcompare.retrieval.dense import BiEncoderRetriever

    out: dict[str, dict] = {}
    bi = None
    for name in datasets:
        ds = load_dataset(name)
        rr_name, rr = (rerankers or {}).get(name) or (None, reranker or pick_reranker(name))
        rr_name = rr_name or rr
        trained_on = _trained_on(rr)
        texts = ds.texts
        if bi is None:
            bi = BiEncoderRetriever(show_progress=False)
        bi.index(texts)
        qids = list(ds.queries)
        all_first = dict(zip(qids, bi.search([ds.queries[q] for q in qids], max(ks))))
        full = evaluate({q: all_first[q] for q in qids}, ds.qrels, ["ndcg@10"])["ndcg@10"]
        sample = ds.sample_queries(n_queries, seed)
        first = {q: all_first[q] for q in sample}
        bi_sample = evaluate(first, ds.qrels, ["ndcg@10"])["ndcg@10"]
        entry: dict[str, object] = {"reranker": rr_name, "held_out": name.lower() not in trained_on,
                                    "trained_on": sorted(trained_on), "queries_total": len(qids),
                                    "queries_sampled": len(sample), "bi_encoder_all": full,
                                    "bi_encoder": bi_sample, "hybrid": {}, "deltas": {}}
        for vi, (ml, quant) in enumerate(variants):
            cache = PairScoreCache(setting_reranker(rr, ml, quant), texts)
            depths = ks if vi == 0 else (delta_k,)
            for q in sample:  # the deepest head at once: every shallower head is a prefix of it
                cache.get(ds.queries[q], [h.doc_id for h in first[q][:max(depths)]])
            frame = sweep_k_retrieve(first, {q: ds.queries[q] for q in sample}, cache, ds.qrels, depths,
                                     k=max(ks), metrics=["ndcg@10"])
            curve = {str(int(k)): float(v) for k, v in zip(frame["k_retrieve"], frame["ndcg@10"])}
            key = setting_key(ml, quant)
            log(f"  {name} {key}: {curve} ({cache.seconds:.0f} s)")
            if vi == 0:
                entry["hybrid"] = curve
                entry["curve_setting"] = key
            else:
                entry["deltas"][key] = {"k": delta_k,
                                        "delta": curve[str(delta_k)] - entry["hybrid"][str(delta_k)]}
        out[name] = entry
    return {"metric": "ndcg@10", "datasets": out, "ks": list(ks), "int8_backend": INT8_BACKEND}


def _trained_on(model: str) -> set[str]:
    """Collections whose judgments trained ``model`` (its card, or a training run's results.json)."""
    from ragcompare.models.pack import training_collections
    from ragcompare.models.resolve import resolve_model

    trained_on = training_collections(resolve_model(model, "cross-encoder"))
    results = Path(model).parent / "results.json"
    if not trained_on and Path(model).is_dir() and results.is_file():
        trained_on = {c.lower() for c in json.loads(results.read_text()).get("training_collections", [])}
    return trained_on
