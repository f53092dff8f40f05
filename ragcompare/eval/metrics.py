"""Retrieval metrics through ranx, results tables, TREC run export."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd
from ranx import Qrels, Run
from ranx import evaluate as ranx_evaluate

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
    scores = ranx_evaluate(Qrels(judged), run, list(metrics), make_comparable=True)
    if isinstance(scores, float):
        scores = {metrics[0]: scores}
    return {m: float(v) for m, v in scores.items()}


def compare(runs: Mapping[str, Results], qrels: Mapping[str, Mapping[str, int]],
            metrics: Sequence[str] = DEFAULT_METRICS) -> pd.DataFrame:
    """One row per named run: its metrics and the number of queries evaluated."""
    rows = []
    for name, results in runs.items():
        row = {"pipeline": name, **evaluate(results, qrels, metrics)}
        row["queries"] = sum(1 for q in results if q in qrels)
        rows.append(row)
    return pd.DataFrame(rows).set_index("pipeline")


def write_trec(results: Results, path: str | Path, run_name: str = "ragcompare") -> Path:
    """Write a TREC run file: ``qid Q0 docid rank score run_name``."""
    path = Path(path)
    with path.open("w") as f:
        for qid, hits in results.items():
            for rank, h in enumerate(hits, 1):
                f.write(f"{qid} Q0 {h.doc_id} {rank} {h.score:.6f} {run_name}\n")
    return path
