"""Evaluating trained models: STS Spearman tables, held-out reranking tables (nDCG@10 of BM25, the
bi-encoder, their RRF, each reranked and interpolated), and cross-encoder throughput.

ranx is imported inside the functions that need it (the GPU machine that trains may lack it).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ragcompare.data.beir import Dataset
from ragcompare.data.pairs import scaled_pairs
from ragcompare.eval.sts import fit_mix_weight, mix_scores, spearman
from ragcompare.train.data import Ranking, bm25_rankings, dense_rankings, encode_corpus, rrf_rankings
from ragcompare.train.sts import STS_EVAL_SETS, bi_cosines

log = logging.getLogger(__name__)

ALPHAS = (0.5, 0.7)
"""Interpolation weights of the held-out tables."""


# --------------------------------------------------------------------------------------------
# STS
# --------------------------------------------------------------------------------------------


def cross_encoder_sts(model: Any, pairs: Sequence[tuple[str, str, float]], batch_size: int = 64) -> float:
    """Spearman of cross-encoder scores vs gold on a pair set."""
    scores = model.predict([(a, b) for a, b, _ in pairs], batch_size=batch_size, show_progress_bar=False)
    return spearman(scores, [s for _, _, s in pairs])


def bi_encoder_sts(model: Any, pairs: Sequence[tuple[str, str, float]]) -> float:
    """Spearman of bi-encoder cosine (or :class:`~ragcompare.train.sts.PairCosines`) vs gold."""
    return spearman(bi_cosines(model, [(a, b) for a, b, _ in pairs]), [s for _, _, s in pairs])


def sts_table(model: Any, bi: Any) -> dict[str, dict[str, Any]]:
    """Spearman of the cross-encoder and of the bi-encoder cosine on every STS evaluation set."""
    table = {}
    for set_name, split in STS_EVAL_SETS:
        p = scaled_pairs(set_name, split)
        table[f"{set_name}-{split}"] = {
            "pairs": len(p),
            "cross_encoder_spearman": round(cross_encoder_sts(model, p), 4),
            "bi_encoder_cosine_spearman": round(bi_encoder_sts(bi, p), 4),
        }
        log.info("%s-%s: %s", set_name, split, table[f"{set_name}-{split}"])
    return table


def sts_combined(model: Any, bi: Any) -> dict[str, Any]:
    """Cross-encoder (one and both pair orders), bi-encoder cosine and their mix
    (:func:`ragcompare.eval.sts.mix_scores`, weight fitted on STS-B dev) on every STS evaluation set."""

    def scores(name: str, split: str) -> dict[str, Any]:
        p = scaled_pairs(name, split)
        one = np.asarray(model.predict([(x, y) for x, y, _ in p], batch_size=64, show_progress_bar=False))
        rev = np.asarray(model.predict([(y, x) for x, y, _ in p], batch_size=64, show_progress_bar=False))
        return {"ce": one, "ce_both": (one + rev) / 2, "bi": bi_cosines(bi, [(x, y) for x, y, _ in p]),
                "gold": [g for _, _, g in p]}

    dev = scores("stsb", "dev")
    weight = fit_mix_weight(dev["ce_both"], dev["bi"], dev["gold"])
    rows = []
    for name, split in STS_EVAL_SETS:
        s = dev if (name, split) == ("stsb", "dev") else scores(name, split)
        rho = {k: spearman(s[k], s["gold"]) for k in ("ce", "ce_both", "bi")}
        rows.append({
            "set": f"{name}-{split}" + (" (weight fitted here)" if split == "dev" else ""),
            "pairs": len(s["gold"]),
            "cross-encoder": round(rho["ce"], 4),
            "cross-encoder, both pair orders": round(rho["ce_both"], 4),
            "bi-encoder cosine": round(rho["bi"], 4),
            f"combined (w={weight:g})": round(
                spearman(mix_scores(s["ce_both"], s["bi"], weight), s["gold"]), 4)})
        log.info("%s", rows[-1])
    return {"combined_weight": weight,
            "combined": "w * z(cross-encoder, mean of both pair orders) + (1 - w) * "
                        "z(bi-encoder cosine), w fitted on STS-B dev (grid of 21)",
            "rows": rows}


# --------------------------------------------------------------------------------------------
# Reranking
# --------------------------------------------------------------------------------------------


def ndcg_at_10(coll: Dataset, run: Ranking) -> float:
    """nDCG@10 (:func:`ragcompare.eval.metrics.evaluate`, grades > 0 as given) over the judged queries
    present in ``run``."""
    from ragcompare.eval.metrics import evaluate

    return evaluate(as_results(run, list(coll.queries)), judged_qrels(coll), ["ndcg@10"])["ndcg@10"]


def _as_ranking(hits: Sequence[Any]) -> list[tuple[str, float]]:
    """Hits mapped onto strictly decreasing pseudo-scores, so ranx keeps exactly this order (ties in
    the real scores included)."""
    return [(h.doc_id, float(len(hits) - i)) for i, h in enumerate(hits)]


def rerank(
    coll: Dataset,
    model: Any,
    first_stage: Ranking,
    k: int = 20,
    batch_size: int = 32,
    show_progress_bar: bool = True,
    memo: dict[tuple[str, str], float] | None = None,
) -> tuple[Ranking, dict[str, list[float]]]:
    """Rerank each query's top-k with a cross-encoder (:func:`ragcompare.rerank.head.rerank_head`:
    ties keep first-stage order); ranks below k keep first-stage order.

    Returns the reranked run (pseudo-scores, see :func:`_as_ranking`) and the raw cross-encoder scores
    per query (first-stage top-k order). ``memo`` (query id, doc id) -> score is read and filled, so
    reranking several first stages of the same queries scores each pair once.
    """
    from ragcompare.rerank.head import rerank_head
    from ragcompare.types import Hit

    memo = {} if memo is None else memo
    todo = list(dict.fromkeys((q, d) for q, lst in first_stage.items() for d, _ in lst[:k]
                              if (q, d) not in memo))
    if todo:
        scores = model.predict([(coll.queries[q], coll.corpus[d].full_text) for q, d in todo],
                               batch_size=batch_size, show_progress_bar=show_progress_bar)
        memo.update({pair: float(x) for pair, x in zip(todo, scores, strict=True)})
    out: Ranking = {}
    raw: dict[str, list[float]] = {}
    for q, lst in first_stage.items():
        raw[q] = [memo[(q, d)] for d, _ in lst[:k]]
        hits = rerank_head([Hit(d, s) for d, s in lst], {d: memo[(q, d)] for d, _ in lst[:k]}, k, len(lst))
        out[q] = _as_ranking(hits)
    return out, raw


def interpolate(first_stage: Ranking, ce_scores: dict[str, list[float]], alpha: float, k: int = 20
                ) -> Ranking:
    """Optional score fusion: ``alpha * z(CE) + (1 - alpha) * z(first stage)`` within the top-k
    (:func:`ragcompare.rerank.head.rerank_head` with ``alpha``); ranks below k keep first-stage order.
    Documented option, reported separately from pure reranking."""
    from ragcompare.rerank.head import rerank_head
    from ragcompare.types import Hit

    out: Ranking = {}
    for q, lst in first_stage.items():
        scores = dict(zip((d for d, _ in lst[:k]), ce_scores[q], strict=True))
        hits = rerank_head([Hit(d, float(s)) for d, s in lst], scores, k, len(lst), alpha=alpha)
        out[q] = _as_ranking(hits)
    return out


def judged_qrels(coll: Dataset) -> dict[str, dict[str, int]]:
    """The relevant judgments (grade > 0) of each of ``coll``'s queries: what :func:`ndcg_at_10` scores
    against, ready for :func:`ragcompare.eval.comparison.compare` (queries left without any are skipped
    there)."""
    return {q: {d: g for d, g in coll.qrels.get(q, {}).items() if g > 0} for q in coll.queries}


def as_results(run: Ranking, queries: Sequence[str] | None = None) -> dict[str, list[Any]]:
    """A ranking ``{query id: [(doc id, score), ...]}`` as ragcompare results ``{query id: [Hit]}``
    (order kept), for the comparison protocol; only ``queries`` when given."""
    from ragcompare.types import Hit

    qids = list(run) if queries is None else [q for q in queries if q in run]
    return {q: [Hit(d, float(s)) for d, s in run[q]] for q in qids}


def reranking_runs(coll: Dataset, first_stages: dict[str, Ranking], rerankers: dict[str, Any],
                   rerank_over: str, k: int = 20, show_progress_bar: bool = False
                   ) -> dict[str, dict[str, list[Any]]]:
    """Each first stage and each cross-encoder reranking ``rerank_over``'s top-k, as results on
    ``coll``'s queries (:func:`as_results`), named as the rows of :func:`reranking_table`
    (``"<first stage> top-<k> >> <reranker>"``); ranks below k keep the first-stage order. Compare them
    with :func:`ragcompare.eval.comparison.compare` against :func:`judged_qrels`."""
    if rerank_over not in first_stages:
        raise KeyError(f"rerank_over={rerank_over!r} is not one of {sorted(first_stages)}")
    runs = {name: as_results(run, list(coll.queries)) for name, run in first_stages.items()}
    base = {q: first_stages[rerank_over][q] for q in coll.queries if q in first_stages[rerank_over]}
    for name, model in rerankers.items():
        run, _ = rerank(coll, model, base, k=k, show_progress_bar=show_progress_bar)
        runs[f"{rerank_over} top-{k} >> {name}"] = as_results(run, list(coll.queries))
    return runs


def reranking_table(coll: Dataset, first_stages: dict[str, Ranking], rerankers: dict[str, Any],
                    rerank_over: str, k: int = 20, show_progress_bar: bool = False) -> list[dict[str, Any]]:
    """nDCG@10 of each first stage and of each cross-encoder reranking ``rerank_over``'s top-k
    (:func:`reranking_runs`).

    Rows ``{"collection", "ranking", "ndcg@10"}``; ranks below k keep the first-stage order.
    """
    from ragcompare.eval.metrics import evaluate

    runs = reranking_runs(coll, first_stages, rerankers, rerank_over, k, show_progress_bar)
    qrels = judged_qrels(coll)
    return [{"collection": coll.name, "ranking": name,
             "ndcg@10": evaluate(res, qrels, ["ndcg@10"])["ndcg@10"]} for name, res in runs.items()]


def first_stages(coll: Dataset, bi: Any, cache_dir: Path | None = None, k: int = 100
                 ) -> tuple[Ranking, Ranking, np.ndarray]:
    """BM25 and bi-encoder top-k of every query, and the document embeddings (cached in ``cache_dir``)."""
    emb = encode_corpus(coll, bi, cache_dir=cache_dir, progress=True)
    return bm25_rankings(coll, k), dense_rankings(coll, bi, emb, k), emb


def held_out_table(model: Any, coll: Dataset, bm25: Ranking, dense: Ranking, max_length: int, k: int,
                   hybrid: bool = False) -> dict[str, Any]:
    """nDCG@10 on a held-out collection: BM25, bi-encoder, its top-k reranked and interpolated;
    with ``hybrid`` also the RRF(BM25, bi-encoder) first stage, its top-k reranked and interpolated."""
    t0 = time.monotonic()
    model.max_seq_length = max_length
    memo: dict[tuple[str, str], float] = {}  # the hybrid head shares most pairs with the dense one
    table: dict[str, Any] = {"collection": coll.name, "queries": len(coll.queries), "k": k,
                             "eval_max_length": max_length, "bm25": round(ndcg_at_10(coll, bm25), 4)}
    heads = [("bi_encoder", dense)]
    if hybrid:
        heads.append(("bm25_bi_encoder_rrf", rrf_rankings([bm25, dense])))
    for name, run in heads:
        table[name] = round(ndcg_at_10(coll, run), 4)
        reranked, raw = rerank(coll, model, run, k=k, memo=memo)
        table[f"{name}_top{k}_reranked"] = round(ndcg_at_10(coll, reranked), 4)
        for alpha in ALPHAS:
            table[f"{name}_top{k}_interpolated_alpha{alpha}"] = round(
                ndcg_at_10(coll, interpolate(run, raw, alpha, k)), 4)
    table["rerank_wall_time_s"] = round(time.monotonic() - t0, 1)
    log.info("held-out: %s", table)
    return table


# --------------------------------------------------------------------------------------------
# Throughput
# --------------------------------------------------------------------------------------------


def speed_pairs(coll: Dataset, queries: int, per_query: int) -> list[tuple[str, str]]:
    """Fixed (query, document) pairs of a collection for throughput runs: ``per_query`` documents
    spread over the corpus for each of the first ``queries`` queries."""
    docs = list(coll.corpus.values())
    return [(coll.queries[q], docs[(i * 37 + j) % len(docs)].full_text)
            for i, q in enumerate(list(coll.queries)[:queries]) for j in range(per_query)]


def measure_throughput(model: Any, pairs: Sequence[tuple[str, str]], max_length: int,
                       batch_size: int = 32) -> dict[str, float]:
    """Cross-encoder inference pairs/second at a given max_length (fp32, current threads): one untimed
    warm-up call, then one timed call over all ``pairs`` (:func:`ragcompare.eval.timing.measure`)."""
    from ragcompare.eval.timing import measure

    old = model.max_seq_length
    model.max_seq_length = max_length
    try:
        t = measure(lambda: model.predict(list(pairs), batch_size=batch_size, show_progress_bar=False),
                    items_per_call=len(pairs), repeats=1, warmup=1, track_memory=False)
    finally:
        model.max_seq_length = old
    return {"max_length": max_length, "pairs": len(pairs), "seconds": round(t["mean_ms"] / 1000, 2),
            "pairs_per_s": round(t["throughput_per_s"], 2), "threads": torch.get_num_threads(),
            "load_avg_1min_after": round(os.getloadavg()[0], 2)}
