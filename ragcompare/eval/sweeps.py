"""Rerank-depth (``k_retrieve``) sweeps of a two-stage pipeline, scoring each (query, document) pair
once, and per-stage timings of a pipeline."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from ragcompare.eval.metrics import DEFAULT_METRICS, evaluate
from ragcompare.eval.timing import time_calls, time_queries
from ragcompare.rerank.head import interpolate_hits, rerank_head
from ragcompare.types import Hit, InvalidInputError, Results


class PairScoreCache:
    """Cross-encoder scores memoised per (query, doc id): each pair is scored once per session.

    Scores of a pair do not depend on the other candidates, so sweeps over ``k_retrieve`` or over
    first stages can share them; this class is for quality sweeps, never for timing.
    """

    def __init__(self, reranker, texts: Mapping[str, str]) -> None:
        self.reranker, self.texts = reranker, texts
        self.scores: dict[tuple[str, str], float] = {}
        self.pairs_scored = 0
        self.seconds = 0.0

    def get(self, query: str, doc_ids: Sequence[str]) -> dict[str, float]:
        """Scores of ``doc_ids`` for ``query``, computing only the missing pairs (in one batch)."""
        todo = [d for d in dict.fromkeys(doc_ids) if (query, d) not in self.scores]
        if todo:
            t0 = time.perf_counter()
            values = self.reranker.score(query, [self.texts[d] for d in todo])
            self.seconds += time.perf_counter() - t0
            self.pairs_scored += len(todo)
            self.scores.update({(query, d): float(s) for d, s in zip(todo, values)})
        return {d: self.scores[(query, d)] for d in doc_ids}


def rerank_results(first_stage: Results, queries: Mapping[str, str], cache: PairScoreCache,
                   k_retrieve: int, k: int = 100, alpha: float | None = None) -> Results:
    """Rerank the top ``k_retrieve`` of every query's first-stage hits with cached pair scores; with
    ``alpha``, each head is ordered by ``interpolate_hits`` (z-normalised cross-encoder and first-stage
    scores, one batched fusion) instead of the cross-encoder score alone."""
    qids = list(first_stage)
    scores = {q: cache.get(queries[q], [h.doc_id for h in first_stage[q][:k_retrieve]]) for q in qids}
    if alpha is not None:
        fused = interpolate_hits([first_stage[q][:k_retrieve] for q in qids],
                                 [[Hit(d, s) for d, s in scores[q].items()] for q in qids], alpha)
        scores = {q: {h.doc_id: h.score for h in row} for q, row in zip(qids, fused)}
    return {q: rerank_head(first_stage[q], scores[q], k_retrieve, k) for q in qids}


def sweep_k_retrieve(first_stage: Results, queries: Mapping[str, str], cache: PairScoreCache,
                     qrels: Mapping[str, Mapping[str, int]], depths: Sequence[int], k: int = 100,
                     metrics: Sequence[str] = DEFAULT_METRICS) -> pd.DataFrame:
    """Quality of first stage -> rerank top ``k_retrieve`` for each depth (0 = no reranking)."""
    rows = []
    for depth in depths:
        if depth < 0:
            raise InvalidInputError(f"k_retrieve must be >= 0, got {depth}")
        res = first_stage if depth == 0 else rerank_results(first_stage, queries, cache, depth, k)
        rows.append({"k_retrieve": depth, **evaluate(res, qrels, metrics)})
    return pd.DataFrame(rows)


def _stage_seconds(retriever, queries: Mapping[str, str], k: int, warmup: int = 1
                   ) -> tuple[list[str], list[float], list[Mapping[str, object]]]:
    """Search each query alone after ``warmup`` untimed ones (:func:`time_calls`): query ids,
    per-query seconds and the retriever's ``last_timings`` after each query."""
    ids = list(queries)

    def one(i: int) -> Mapping[str, object]:
        retriever.search([queries[ids[i]]], k)
        return retriever.last_timings

    stages, times = time_calls(one, len(ids), min(warmup, len(ids)))
    return ids, times, stages


def time_k_retrieve(first_stage, reranker, texts: Mapping[str, str], queries: Mapping[str, str],
                    depths: Sequence[int], k: int = 10) -> pd.DataFrame:
    """Per-query wall-clock latency of the real two-stage pipeline for each ``k_retrieve``.

    Each query is searched alone after one warm-up query; rows hold the median and mean latency
    (ms) and the median time of each stage.
    """
    from ragcompare.rerank.pipeline import HybridPipeline

    rows = []
    for depth in depths:
        if depth == 0:  # first stage alone
            _, times = time_queries(first_stage, queries, k)
            retrieve, rerank = times, [0.0]
        else:
            pipe = HybridPipeline(first_stage, reranker, k_retrieve=depth)
            pipe.texts = dict(texts)
            _, times, stages = _stage_seconds(pipe, queries, k)
            retrieve = [t["retrieve"][0] for t in stages]
            rerank = [t["rerank"][0] for t in stages]
        rows.append({"k_retrieve": depth, "p50_ms": 1000 * float(np.median(times)),
                     "mean_ms": 1000 * float(np.mean(times)),
                     "retrieve_ms": 1000 * float(np.median(retrieve)),
                     "rerank_ms": 1000 * float(np.median(rerank)), "queries": len(times)})
    return pd.DataFrame(rows)


def stage_timings(retriever, queries: Mapping[str, str], k: int = 10, warmup: int = 1
                  ) -> pd.DataFrame:
    """Search each query alone; one row per query with the retriever's ``last_timings`` (ms)."""
    ids, times, stages = _stage_seconds(retriever, queries, k, warmup)
    return pd.DataFrame([{"query_id": qid, **{name: 1000 * float(np.sum(v)) for name, v in st.items()},
                          "total": 1000 * total} for qid, st, total in zip(ids, stages, times)]
                        ).set_index("query_id")
