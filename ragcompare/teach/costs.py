"""What each architecture costs, measured: offline work per document and online work per query
(:func:`precompute_costs`), and the price of one cross-encoder pair (:func:`pair_cost`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import pandas as pd

from ragcompare.checks import check_positive_int
from ragcompare.eval.timing import measure
from ragcompare.types import InvalidInputError


def _seconds(fn: Callable[[], object], repeat: int) -> float:
    """Median wall-clock seconds of ``repeat`` calls of ``fn`` (the timing harness; the callers warm up)."""
    return measure(fn, repeats=repeat, warmup=0, track_memory=False)["p50_ms"] / 1000.0


def precompute_costs(bi_encoder, reranker, texts: Mapping[str, str], query: str,
                     sample_docs: int = 16, k_retrieve: int = 20, repeat: int = 3) -> pd.DataFrame:
    """Measure what each architecture pays offline (per document) and online (per query).

    ``bi_encoder`` is an indexed :class:`~ragcompare.retrieval.dense.BiEncoderRetriever`, ``reranker`` a
    :class:`~ragcompare.rerank.cross_encoder.CrossEncoderReranker`. Document encoding and pair scoring are
    timed on ``sample_docs`` documents and scaled to the corpus (the ``how`` column says which
    numbers are measured directly and which are scaled from a measured per-item cost).
    """
    sample_docs = check_positive_int(sample_docs, "sample_docs")
    docs = list(texts.values())[:sample_docs]
    n = len(texts)
    k = min(10, n)
    bi_encoder.search([query], k)  # warm-up
    doc_s = _seconds(lambda: bi_encoder._encode(bi_encoder.model, docs, False), 1) / len(docs)
    query_s = _seconds(lambda: bi_encoder.search([query], k), repeat)
    reranker.score(query, docs[:2])  # warm-up
    pair_s = _seconds(lambda: reranker.score(query, docs), 1) / len(docs)
    rows = [
        ("bi-encoder", "offline", "encode every document once", n * doc_s,
         f"scaled: {len(docs)} docs measured x {n}"),
        ("bi-encoder", "per query", "encode query + exact search over all vectors", query_s,
         "measured"),
        ("cross-encoder", "offline", "nothing: no pair exists before the query arrives", 0.0,
         "-"),
        ("cross-encoder", "per query", f"score all {n} (query, document) pairs", n * pair_s,
         f"scaled: {len(docs)} pairs measured x {n}"),
        ("hybrid", "offline", "the bi-encoder's document vectors", n * doc_s, "as bi-encoder"),
        ("hybrid", "per query", f"bi-encoder search + score top-{k_retrieve} pairs",
         query_s + k_retrieve * pair_s, f"measured query + {k_retrieve} x measured pair cost"),
    ]
    return pd.DataFrame(rows, columns=["architecture", "when", "work", "seconds", "how"])


def pair_cost(reranker, pairs: Sequence[tuple[str, str]], repeat: int = 1) -> dict[str, float]:
    """Measured milliseconds per pair and pairs per second for scoring ``pairs`` in batches."""
    if not pairs:
        raise InvalidInputError("no pairs to time")
    reranker.score_pairs(list(pairs[:2]))  # warm-up
    s = _seconds(lambda: reranker.score_pairs(list(pairs)), repeat)
    return {"ms_per_pair": 1000 * s / len(pairs), "pairs_per_s": len(pairs) / s,
            "pairs": len(pairs)}
