"""Retrieval metrics through ranx (means and per-query scores), TREC run export; comparisons of
runs live in :mod:`ragcompare.eval.comparison`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from ranx import Qrels, Run
from ranx import evaluate as ranx_evaluate

from ragcompare.retrieval.fusion import quiet_ranx
from ragcompare.types import Hit, InvalidInputError, Results

DEFAULT_METRICS = ("ndcg@10", "mrr@10", "recall@100", "map")


def to_results(query_ids: Sequence[str], hits: Sequence[list[Hit]]) -> Results:
    """Pair query ids with the hit lists a retriever returned for them (same order)."""
    if len(query_ids) != len(hits):
        raise InvalidInputError(f"{len(query_ids)} query ids for {len(hits)} hit lists")
    return dict(zip(query_ids, hits))


def retrieve(retriever, queries: Mapping[str, str], k: int = 100) -> Results:
    """Run ``retriever`` over ``{query_id: text}`` and return query id -> hits."""
    ids = list(queries)
    return to_results(ids, retriever.search([queries[i] for i in ids], k))


def to_run(results: Results, name: str = "run") -> Run:
    """Convert results to a ranx Run (queries with no hits get an empty ranking)."""
    return Run({q: ({h.doc_id: h.score for h in hits} or {"__none__": 0.0})
                for q, hits in results.items()}, name=name)


def evaluate(results: Results, qrels: Mapping[str, Mapping[str, int]],
             metrics: Sequence[str] = DEFAULT_METRICS) -> dict[str, float]:
    """Mean of each metric over the judged queries present in ``results``.

    Only queries that were run are scored (so a sampled run is evaluated on its sample).
    """
    judged = {q: dict(j) for q, j in qrels.items() if q in results and j}
    if not judged:
        raise InvalidInputError("no query of the results has judgments in qrels")
    run = to_run({q: results[q] for q in judged})
    with quiet_ranx():
        scores = ranx_evaluate(Qrels(judged), run, list(metrics), make_comparable=True)
    if isinstance(scores, float):
        scores = {metrics[0]: scores}
    return {m: float(v) for m, v in scores.items()}


def per_query(results: Results, qrels: Mapping[str, Mapping[str, int]],
              metrics: Sequence[str] = DEFAULT_METRICS) -> pd.DataFrame:
    """Each metric per judged query present in ``results`` (rows: query id, sorted; columns: metrics)."""
    judged = {q: dict(j) for q, j in qrels.items() if q in results and j}
    if not judged:
        raise InvalidInputError("no query of the results has judgments in qrels")
    qrels_ = Qrels(judged)
    with quiet_ranx():
        scores = ranx_evaluate(qrels_, to_run({q: results[q] for q in judged}), list(metrics),
                               return_mean=False, make_comparable=True)
    if not isinstance(scores, dict):
        scores = {metrics[0]: scores}
    return pd.DataFrame({m: np.asarray(v, dtype=float) for m, v in scores.items()},
                        index=pd.Index(list(qrels_.keys()), name="query_id"))


def write_trec(results: Results, path: str | Path, run_name: str = "ragcompare") -> Path:
    """Write a TREC run file: ``qid Q0 docid rank score run_name``."""
    path = Path(path)
    with path.open("w") as f:
        for qid, hits in results.items():
            for rank, h in enumerate(hits, 1):
                f.write(f"{qid} Q0 {h.doc_id} {rank} {h.score:.6f} {run_name}\n")
    return path
