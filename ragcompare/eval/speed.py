"""Inference speed-ups measured side by side: reranker variants on the same candidates, pooled over
collections, score agreement, batching strategies, replica processes (notebook 06,
``scripts/bench_optimize.py``).

The variants themselves (ONNX Runtime export, fused graph, dynamic INT8) live in
:mod:`ragcompare.rerank.onnx`; every timing here goes through :mod:`ragcompare.eval.timing`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ragcompare.checks import check_positive_int
from ragcompare.eval.comparison import paired_difference, shared_queries
from ragcompare.eval.metrics import evaluate, per_query
from ragcompare.eval.sts import spearman
from ragcompare.eval.timing import latency_stats, time_calls, time_interleaved
from ragcompare.types import InvalidInputError, Reranker


def rerank_candidates(first_stage, dataset, queries: Mapping[str, str], k_retrieve: int
                      ) -> dict[str, dict[str, str]]:
    """The first stage's top ``k_retrieve`` documents per query: {qid: {doc_id: text}}."""
    texts = dataset.texts
    ids = list(queries)
    hits = first_stage.search([queries[q] for q in ids], k_retrieve)
    return {q: {h.doc_id: texts[h.doc_id] for h in hs} for q, hs in zip(ids, hits)}


def _relative_to(frame: pd.DataFrame, baseline: str, metric: str) -> pd.DataFrame:
    """Add the speed-up (pairs/s) and the relative change of ``metric`` (%) versus ``baseline``."""
    base = frame.loc[baseline]
    frame["speedup"] = frame["pairs_per_s"] / base["pairs_per_s"]
    frame[f"{metric}_rel_change_%"] = 100.0 * (frame[metric] - base[metric]) / base[metric]
    return frame


def _check_baseline(names: list[str], baseline: str | None) -> str:
    """``baseline`` (default: the first name), refused when it is not one of ``names``."""
    baseline = baseline or names[0]
    if baseline not in names:
        raise InvalidInputError(f"baseline {baseline!r} is not one of {names}")
    return baseline


def compare_rerankers(rerankers: Mapping[str, Reranker], queries: Mapping[str, str],
                      candidates: Mapping[str, Mapping[str, str]],
                      qrels: Mapping[str, Mapping[str, int]], baseline: str | None = None,
                      warmup: int = 2, metric: str = "ndcg@10", progress: bool = False
                      ) -> tuple[pd.DataFrame, dict[str, dict]]:
    """Rerank the same candidates with every reranker, interleaved query by query.

    Each query is scored by all rerankers in a rotating order (so background load hits them
    alike; :func:`~ragcompare.eval.timing.time_interleaved`); returns (DataFrame with pairs/s,
    p50/p95 per-query latency, metric, relative change and speed-up versus ``baseline``;
    the difference to the baseline on the same queries with its 95% interval and p-value, per-query
    wins/ties/losses; per-reranker results).
    """
    names = list(rerankers)
    if not names:
        raise InvalidInputError("no rerankers to compare")
    baseline = _check_baseline(names, baseline)
    qids = [q for q in queries if q in candidates and candidates[q]]
    if not qids:
        raise InvalidInputError("no query has candidates")
    calls = {n: (lambda i, r=rerankers[n]: r.rerank(queries[qids[i]], candidates[qids[i]])) for n in names}
    hits, times = time_interleaved(calls, len(qids), min(warmup, len(qids)), progress, "rerank")
    results = {n: dict(zip(qids, hits[n])) for n in names}
    pairs = sum(len(candidates[q]) for q in qids)
    rows = []
    for n in names:
        lat = latency_stats(times[n])
        quality = evaluate(results[n], qrels, [metric])[metric]
        rows.append({"variant": n, "pairs_per_s": pairs / sum(times[n]), "p50_ms": lat["p50_ms"],
                     "p95_ms": lat["p95_ms"], metric: quality, "queries": len(qids), "pairs": pairs})
    frame = _relative_to(pd.DataFrame(rows).set_index("variant"), baseline, metric)
    return _with_differences(frame, results, qrels, baseline, metric), results


def interpolated_results(first_stage, queries: Mapping[str, str], results: Mapping[str, Mapping],
                         alpha: float = 0.5) -> dict[str, dict]:
    """Re-order each reranker's results by ``alpha * z(CE) + (1 - alpha) * z(first stage)``.

    ``results`` is ``compare_rerankers``' second value ({variant: {qid: hits}}); the first stage is
    searched again for the scores of the same candidates (its top ``len(hits)``). No model time.
    """
    from ragcompare.rerank.head import interpolate_hits

    out: dict[str, dict] = {}
    heads: dict[int, dict[str, list]] = {}
    for variant, res in results.items():
        qids = list(res)
        for depth in {len(res[q]) for q in qids} - set(heads):
            heads[depth] = dict(zip(qids, first_stage.search([queries[q] for q in qids], depth)))
        out[variant] = dict(zip(qids, interpolate_hits(
            [heads[len(res[q])][q] for q in qids], [res[q] for q in qids], alpha)))
    return out


def _with_differences(frame: pd.DataFrame, results: Mapping[str, Mapping], qrels: Mapping,
                      baseline: str, metric: str) -> pd.DataFrame:
    """Add each variant's difference in ``metric`` to ``baseline`` on the same queries (paired 95%
    interval and p-value, :func:`~ragcompare.eval.comparison.paired_difference`, as ``compare_runs``
    gives) and its per-query wins/ties/losses, from one evaluation of each run."""
    qids = shared_queries(results, qrels)
    scores = {n: per_query({q: res[q] for q in qids}, qrels, [metric])[metric] for n, res in results.items()}
    for n in results:
        diff, low, high, p = paired_difference(scores[n].to_numpy(), scores[baseline].to_numpy())
        frame.loc[n, ["diff", "diff_low", "diff_high", "p_value"]] = [diff, low, high, p]
        delta = scores[n] - scores[baseline]
        frame.loc[n, ["wins", "ties", "losses"]] = [int((delta > 0).sum()), int((delta == 0).sum()),
                                                    int((delta < 0).sum())]
    return frame.astype({"wins": int, "ties": int, "losses": int})


def pool_comparisons(parts: Mapping[str, tuple], baseline: str | None = None,
                     metric: str = "ndcg@10") -> pd.DataFrame:
    """Pool per-collection :func:`compare_rerankers` runs into one comparison over all queries.

    ``parts`` maps a collection name to ``(frame, results, qrels)`` as returned by
    ``compare_rerankers`` plus that collection's qrels. Query ids are prefixed with the collection
    so they cannot collide. Returns a DataFrame per variant: pooled pairs/s (all pairs / all
    scoring time), speed-up, pooled mean ``metric`` and its relative change versus ``baseline``,
    the difference to the baseline over the pooled queries with its paired 95% interval and
    p-value (``diff``, ``diff_low``, ``diff_high``, ``p_value``), and per-query wins/ties/losses.
    """
    if not parts:
        raise InvalidInputError("no per-collection comparisons to pool")
    frames = {c: part[0] for c, part in parts.items()}
    names = list(next(iter(frames.values())).index)
    for c, f in frames.items():
        if list(f.index) != names:
            raise InvalidInputError(f"collection {c!r} compares {list(f.index)}, expected {names}")
    baseline = _check_baseline(names, baseline)
    qrels = {f"{c}:{q}": dict(j) for c, (_, res, qr) in parts.items()
             for q, j in qr.items() if q in res[baseline] and j}
    pooled = {n: {f"{c}:{q}": hits for c, (_, res, _) in parts.items()
                  for q, hits in res[n].items() if f"{c}:{q}" in qrels} for n in names}
    rows = []
    for n in names:
        pairs = sum(f.loc[n, "pairs"] for f in frames.values())
        seconds = sum(f.loc[n, "pairs"] / f.loc[n, "pairs_per_s"] for f in frames.values())
        rows.append({"variant": n, "pairs_per_s": pairs / seconds,
                     metric: evaluate(pooled[n], qrels, [metric])[metric],
                     "queries": len(qrels), "pairs": int(pairs)})
    frame = _relative_to(pd.DataFrame(rows).set_index("variant"), baseline, metric)
    return _with_differences(frame, pooled, qrels, baseline, metric)


def score_agreement(a: Sequence[float], b: Sequence[float]) -> dict[str, float]:
    """How close two score vectors are: max |diff| and Spearman rank correlation (ties averaged)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1 or len(a) < 2:
        raise InvalidInputError("need two 1-d score arrays of the same length (>= 2)")
    return {"max_abs_diff": float(np.abs(a - b).max()), "spearman": spearman(a, b)}


def padded_tokens(lengths: Sequence[int], batch_size: int, sort_by_length: bool) -> int:
    """Token slots computed when each batch is padded to its longest member (the cost model)."""
    from ragcompare.rerank.onnx import batch_order

    batch_size = check_positive_int(batch_size, "batch_size")
    lengths = np.asarray(lengths)[batch_order(lengths, sort_by_length)]
    return int(sum(lengths[i:i + batch_size].max() * len(lengths[i:i + batch_size])
                   for i in range(0, len(lengths), batch_size)))


def batching_comparison(score: Callable[[list], np.ndarray], items: Sequence, lengths: Sequence[int],
                        batch_size: int = 32, repeats: int = 1) -> pd.DataFrame:
    """Whole-list call (the library sorts by length inside) vs naive fixed-order batches.

    ``score(list_of_items)`` must score a list in one call (sentence-transformers ``predict`` or
    ``encode``); the naive side calls it once per ``batch_size`` chunk in the original order, so
    each batch is padded to its own longest member. Returns a DataFrame: seconds (best of
    ``repeats``, the two strategies interleaved), items/s and the padded token slots each computes.
    """
    items = list(items)
    if len(items) != len(lengths):
        raise InvalidInputError(f"{len(items)} items for {len(lengths)} lengths")
    strategies = {
        "length-sorted (library default)": lambda _i: score(items),
        "naive order (chunked calls)": lambda _i: np.concatenate(
            [score(items[i:i + batch_size]) for i in range(0, len(items), batch_size)]),
    }
    _, secs = time_interleaved(strategies, repeats)
    useful = int(np.sum(lengths))
    rows = []
    for name, sort in zip(strategies, (True, False)):
        slots = padded_tokens(lengths, batch_size, sort)
        best = min(secs[name])
        rows.append({"strategy": name, "seconds": best, "items_per_s": len(items) / best,
                     "padded_tokens": slots, "padding_overhead_%": 100.0 * (slots - useful) / useful})
    return pd.DataFrame(rows).set_index("strategy")


def replica_scoring(model: str, pairs: Sequence[tuple[str, str]], processes: int = 2,
                    max_length: int = 256, batch_size: int = 32) -> dict[str, float]:
    """Time sentence-transformers' multi-process CrossEncoder scoring on CPU replicas.

    Each replica is a separate process with one torch thread; returns seconds and pairs/s
    (the pool's start-up is excluded, one warm-up call included in start-up).
    """
    from ragcompare.models.resolve import load_cross_encoder

    processes = check_positive_int(processes, "processes")
    ce = load_cross_encoder(model, max_length=max_length)
    pool = ce.start_multi_process_pool(["cpu"] * processes)
    try:
        ce.predict(list(pairs[:processes * 2]), pool=pool, batch_size=batch_size)
        _, times = time_calls(lambda _i: ce.predict(list(pairs), pool=pool, batch_size=batch_size), 1)
    finally:
        ce.stop_multi_process_pool(pool)
    return {"processes": processes, "seconds": times[0], "pairs_per_s": len(pairs) / times[0]}


def file_size_mb(path: str | Path) -> float:
    """Size of a model file in MB."""
    return Path(path).stat().st_size / 1e6
