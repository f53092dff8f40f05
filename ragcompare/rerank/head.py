"""The one "rerank the head, keep the tail" step every two-stage ranking uses.

A first stage returns a ranked list; the reranker scores its top ``k_retrieve`` (the *head*). The head
is reordered by those scores -- or, with ``alpha``, by ``alpha * z(reranker) + (1 - alpha) * z(first
stage)`` (:func:`interpolate_hits`) -- and the rest of the list (the *tail*) follows in its
first-stage order, scored below the head. So recall@100 of a top-20 rerank is the first stage's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from ranx import fuse

from ragcompare.checks import check_alpha
from ragcompare.retrieval.fusion import hits_to_run, quiet_ranx
from ragcompare.types import Hit, InvalidInputError


def rerank_head(first: Sequence[Hit], scores: Mapping[str, float], k_retrieve: int, k: int,
                alpha: float | None = None) -> list[Hit]:
    """The top ``k`` after reranking ``first``'s top ``k_retrieve`` with ``scores`` ({doc_id: score}).

    The head is sorted by score (stable: ties keep first-stage order), or interpolated with the
    first-stage scores when ``alpha`` is set; the tail keeps its order, scored below the head.
    """
    head = list(first[:k_retrieve])
    order = np.argsort(-np.array([scores[h.doc_id] for h in head], dtype=np.float64), kind="stable")
    reranked = [Hit(head[i].doc_id, float(scores[head[i].doc_id])) for i in order]
    if alpha is not None:
        reranked = interpolate_hits([head], [reranked], alpha)[0]
    floor = min((h.score for h in reranked), default=0.0) - 1.0
    tail = [Hit(h.doc_id, floor - i) for i, h in enumerate(first[k_retrieve:])]
    return (reranked + tail)[:k]


def interpolate_hits(first_stage: Sequence[list[Hit]], reranked: Sequence[list[Hit]],
                     alpha: float) -> list[list[Hit]]:
    """Fuse reranker and first-stage scores: ``alpha * z(reranker) + (1 - alpha) * z(first stage)``.

    Scores are z-normalised per query (``ranx.fuse``, ``norm="zmuv"``, ``method="wsum"``), so the
    two scales need not match. Row ``i`` of ``reranked`` must hold the same documents as row ``i``
    of ``first_stage`` (the reranked head). ``alpha=1`` is the reranker's order, ``alpha=0`` the
    first stage's. Rows with fewer than two documents are returned as reranked.
    """
    alpha = check_alpha(alpha)
    if len(first_stage) != len(reranked):
        raise InvalidInputError(f"{len(first_stage)} first-stage rows for {len(reranked)} reranked rows")
    keep: dict[int, list[Hit]] = {}
    for i, (fs, rr) in enumerate(zip(first_stage, reranked)):
        if {h.doc_id for h in fs} != {h.doc_id for h in rr}:
            raise InvalidInputError(f"row {i}: reranked documents differ from the first stage's")
        if len(rr) < 2:
            keep[i] = list(rr)
    with quiet_ranx():
        fused = fuse(runs=[hits_to_run(first_stage, "first-stage"), hits_to_run(reranked, "reranker")],
                     method="wsum", norm="zmuv", params={"weights": [1.0 - alpha, float(alpha)]}).to_dict()
    out = []
    for i in range(len(reranked)):
        if i in keep:
            out.append(keep[i])
            continue
        row = sorted(fused[f"q{i}"].items(), key=lambda x: (-x[1], x[0]))
        out.append([Hit(d, float(s)) for d, s in row])
    return out
