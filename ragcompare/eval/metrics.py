"""Retrieval metrics through ranx (means and per-query scores), TREC run export; comparisons of
runs live in :mod:`ragcompare.eval.comparison`.

Every entry checks what it is given before ranx sees it (:func:`check_results`,
:func:`check_qrels`, :func:`check_metrics`): a ranx run is a dict per query, so a hit list naming
one document twice, or listed in an order its scores contradict, would be scored as a ranking
nobody gave; such results are refused rather than scored.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from ranx import Qrels, Run
from ranx import evaluate as ranx_evaluate

from ragcompare.checks import (
    check_float,
    check_int,
    check_positive_int,
    check_text,
    check_unique_ids,
    shown,
)
from ragcompare.retrieval.fusion import quiet_ranx
from ragcompare.storage import atomic_output, check_writable
from ragcompare.types import Hit, InvalidInputError, Results

DEFAULT_METRICS = ("ndcg@10", "mrr@10", "recall@100", "map")
RANX_METRICS = ("ndcg", "ndcg_burges", "dcg", "dcg_burges", "mrr", "map", "recall", "precision",
                "f1", "hits", "hit_rate", "r-precision", "bpref", "rbp")
"""The metric names ranx computes: ``name``, ``name@k`` or ``name@k-lN`` (relevant = grade >= N);
``rbp`` takes its persistence as ``rbp.95``."""

_METRIC = re.compile(r"^(?P<name>[a-z_-]+?)(?:@(?P<k>[0-9]{1,9}))?(?:-l(?P<level>[0-9]{1,3}))?$")
_RBP = re.compile(r"^rbp[.@][0-9]{1,9}(?:-l[0-9]{1,3})?$")
_EMPTY_RUN = "__none__"
"""The placeholder document ranx needs for a query that returned nothing."""


def _query_id(q: object, what: str) -> str:
    if not isinstance(q, str) or not q:
        raise InvalidInputError(f"{what}: query ids must be non-empty strings, got {shown(q)} "
                                f"({type(q).__name__}); use the dataset's str ids")
    return q


def check_metrics(metrics: object) -> list[str]:
    """Metric names ranx knows (see :data:`RANX_METRICS`), as a list without repeats."""
    if isinstance(metrics, str):
        raise InvalidInputError(f"metrics must be a list of metric names, not one string: use "
                                f"[{shown(metrics)}]")
    if not isinstance(metrics, Sequence):
        raise InvalidInputError(f"metrics must be a list of metric names, got "
                                f"{type(metrics).__name__}")
    out = list(metrics)
    if not out:
        raise InvalidInputError("no metrics given; e.g. ['ndcg@10', 'mrr@10']")
    for m in out:
        match = _METRIC.match(m) if isinstance(m, str) else None
        ok = (bool(_RBP.match(m)) if isinstance(m, str) and m.startswith("rbp") else
              match is not None and match["name"] in RANX_METRICS and match["name"] != "rbp"
              and int(match["k"] or 1) >= 1 and int(match["level"] or 1) >= 1)
        if not ok:
            raise InvalidInputError(
                f"unknown metric {shown(m)}; use ranx names such as ndcg@10, mrr@10, recall@100, "
                f"map, precision@5 (name@k with k >= 1; names: {', '.join(RANX_METRICS)})")
    check_unique_ids(out, "metric")
    return out


def check_qrels(qrels: object) -> dict[str, dict[str, int]]:
    """Judgments as ``{query id: {doc id: integer grade}}`` (numpy ints accepted); queries with
    no judgment are left out."""
    if not isinstance(qrels, Mapping):
        raise InvalidInputError(f"qrels must be a mapping of query id -> {{doc id: grade}}, got "
                                f"{type(qrels).__name__}")
    out: dict[str, dict[str, int]] = {}
    for q, judged in qrels.items():
        _query_id(q, "qrels")
        if not isinstance(judged, Mapping):
            raise InvalidInputError(f"qrels[{shown(q)}] must be a mapping of doc id -> grade, got "
                                    f"{type(judged).__name__}")
        grades = {}
        for d, g in judged.items():
            if not isinstance(d, str) or not d:
                raise InvalidInputError(f"qrels[{shown(q)}]: document ids must be non-empty strings, "
                                        f"got {shown(d)}")
            grades[d] = check_int(g, f"grade of document {shown(d)} for query {shown(q)}")
        if grades:
            out[q] = grades
    if not out:
        raise InvalidInputError("qrels holds no judgment")
    return out


def check_results(results: object, what: str = "results") -> Results:
    """Refuse anything but ``{query id: [Hit, ...]}`` best first: a document listed twice for one
    query, a score that is not a finite number, or scores that rise down a list (ranx would
    score another order than the one given). Returns ``results``."""
    if not isinstance(results, Mapping):
        raise InvalidInputError(f"{what} must be a mapping of query id -> list of Hit, got "
                                f"{type(results).__name__}")
    for q, hits in results.items():
        _query_id(q, what)
        if isinstance(hits, (str, bytes, Mapping)) or not isinstance(hits, Sequence):
            raise InvalidInputError(f"{what}[{shown(q)}] must be a list of Hit, got "
                                    f"{type(hits).__name__}")
        rank_of: dict[str, int] = {}
        previous = math.inf
        for rank, h in enumerate(hits, 1):
            if not isinstance(h, Hit):
                raise InvalidInputError(f"{what}[{shown(q)}] item {rank} is {type(h).__name__}, not Hit")
            if not isinstance(h.doc_id, str) or not h.doc_id or h.doc_id == _EMPTY_RUN:
                raise InvalidInputError(f"{what}[{shown(q)}] item {rank}: doc_id must be a non-empty "
                                        f"string, got {shown(h.doc_id)}")
            if h.doc_id in rank_of:
                raise InvalidInputError(
                    f"{what}: query {shown(q)} lists document {shown(h.doc_id)} twice (ranks "
                    f"{rank_of[h.doc_id]} and {rank}); remove the duplicate (it would be scored "
                    "as a different ranking)")
            rank_of[h.doc_id] = rank
            score = h.score
            if type(score) is not float or not math.isfinite(score):
                score = check_float(score, f"{what}: score of document {shown(h.doc_id)} for "
                                           f"query {shown(q)}")
            if score > previous:
                raise InvalidInputError(
                    f"{what}: query {shown(q)} is not best first: document {shown(h.doc_id)} at "
                    f"rank {rank} scores {score:g}, above rank {rank - 1} ({previous:g}); sort hits "
                    "by score, highest first")
            previous = score
    return results  # type: ignore[return-value]


def to_results(query_ids: Sequence[str], hits: Sequence[list[Hit]]) -> Results:
    """Pair query ids with the hit lists a retriever returned for them (same order)."""
    for name, value in (("query_ids", query_ids), ("hits", hits)):
        if isinstance(value, (str, Mapping)) or not isinstance(value, Sequence):
            raise InvalidInputError(f"{name} must be a list, got {type(value).__name__}")
    if len(query_ids) != len(hits):
        raise InvalidInputError(f"{len(query_ids)} query ids for {len(hits)} hit lists")
    for q in query_ids:
        _query_id(q, "query_ids")
    check_unique_ids(query_ids, "query")
    return check_results(dict(zip(query_ids, hits)))


def retrieve(retriever, queries: Mapping[str, str], k: int = 100) -> Results:
    """Run ``retriever`` over ``{query_id: text}`` and return query id -> hits."""
    if not isinstance(queries, Mapping):
        raise InvalidInputError(f"queries must be a mapping of query id -> text, got "
                                f"{type(queries).__name__}")
    if not queries:
        raise InvalidInputError("no queries given")
    k = check_positive_int(k, "k")
    if not callable(getattr(retriever, "search", None)):
        raise InvalidInputError(f"retriever must have a search(queries, k) method, got "
                                f"{type(retriever).__name__}")
    ids = [_query_id(q, "queries") for q in queries]
    texts = [check_text(queries[i], f"query {shown(i)}") for i in ids]
    hits = retriever.search(texts, k)
    if isinstance(hits, Sequence) and len(hits) != len(ids):
        raise InvalidInputError(f"the retriever returned {len(hits)} hit lists for {len(ids)} "
                                "queries")
    return to_results(ids, hits)


def to_run(results: Results, name: str = "run") -> Run:
    """Convert results to a ranx Run (queries with no hits get an empty ranking)."""
    check_results(results)
    if not isinstance(name, str) or not name:
        raise InvalidInputError(f"name must be a non-empty string, got {shown(name)}")
    return Run({q: ({h.doc_id: float(h.score) for h in hits} or {_EMPTY_RUN: 0.0})
                for q, hits in results.items()}, name=name)


def _judged(results: object, qrels: object, metrics: object
            ) -> tuple[Qrels, Run, list[str]]:
    """The checked inputs of an evaluation: qrels and run of the judged queries of ``results``."""
    check_results(results)
    metrics = check_metrics(metrics)
    judged = {q: j for q, j in check_qrels(qrels).items() if q in results}
    if not judged:
        sample = ", ".join(repr(q) for q in list(results)[:3])
        raise InvalidInputError(f"no query of the results ({len(results)}: {sample or 'none'}) "
                                "has judgments in qrels; are they from the same dataset?")
    return Qrels(judged), to_run({q: results[q] for q in judged}), metrics


def evaluate(results: Results, qrels: Mapping[str, Mapping[str, int]],
             metrics: Sequence[str] = DEFAULT_METRICS) -> dict[str, float]:
    """Mean of each metric over the judged queries present in ``results``.

    Only queries that were run are scored (so a sampled run is evaluated on its sample); queries of
    ``results`` that ``qrels`` does not judge are not scored (as trec_eval does).
    """
    qrels_, run, metrics = _judged(results, qrels, metrics)
    with quiet_ranx():
        scores = ranx_evaluate(qrels_, run, metrics, make_comparable=True)
    if not isinstance(scores, dict):
        scores = {metrics[0]: scores}
    return {m: float(v) for m, v in scores.items()}


def per_query(results: Results, qrels: Mapping[str, Mapping[str, int]],
              metrics: Sequence[str] = DEFAULT_METRICS) -> pd.DataFrame:
    """Each metric per judged query present in ``results`` (rows: query id, sorted; columns: metrics)."""
    qrels_, run, metrics = _judged(results, qrels, metrics)
    with quiet_ranx():
        scores = ranx_evaluate(qrels_, run, metrics, return_mean=False, make_comparable=True)
    if not isinstance(scores, dict):
        scores = {metrics[0]: scores}
    return pd.DataFrame({m: np.asarray(v, dtype=float) for m, v in scores.items()},
                        index=pd.Index(list(qrels_.keys()), name="query_id"))


def write_trec(results: Results, path: str | Path, run_name: str = "ragcompare") -> Path:
    """Write a TREC run file: ``qid Q0 docid rank score run_name`` (atomically: a failed write
    leaves any previous file as it was)."""
    check_results(results)
    if not isinstance(run_name, str) or not run_name or any(c.isspace() for c in run_name):
        raise InvalidInputError(f"run_name must be a non-empty string without spaces, got "
                                f"{shown(run_name)}")
    for q, hits in results.items():
        for ident in [q, *(h.doc_id for h in hits)]:
            if any(c.isspace() for c in ident):
                raise InvalidInputError(f"id {shown(ident)} holds whitespace, which a TREC run file "
                                        "cannot hold")
    if not isinstance(path, (str, Path)) or not str(path):
        raise InvalidInputError(f"path must be a file path, got {shown(path)}")
    path = check_writable(path, "TREC run file")
    with atomic_output(path, "w", encoding="utf-8") as f:
        for qid, hits in results.items():
            for rank, h in enumerate(hits, 1):
                f.write(f"{qid} Q0 {h.doc_id} {rank} {float(h.score):.6f} {run_name}\n")
    return path
