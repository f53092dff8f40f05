"""Reranker training data from judged collections: query splits, first-stage rankings (BM25, the
bi-encoder, their RRF), hard-negative mining, (query, document, label) pairs, and title pseudo-queries
labelled by a rank-fusion teacher (corpus adaptation without queries or judgments).

A collection is a :class:`ragcompare.data.beir.Dataset` (``load_dataset("cranfield")``): documents
are read as ``Document.full_text``, the same text every other model in ragcompare reads. A ranking is
``{query id: [(doc id, score), ...]}``, best first.

ranx and bm25s are imported inside the functions that need them: the GPU machine that trains may
lack them, and the training path (``--from-data`` runs) never calls those functions.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from ragcompare.data.beir import Dataset

Ranking = dict[str, list[tuple[str, float]]]
"""Query id -> ``[(doc id, score), ...]``, best first."""

COLLECTIONS = ("cranfield", "cisi")
"""The judged collections the shipped rerankers train and are evaluated on."""


# --------------------------------------------------------------------------------------------
# Query splits
# --------------------------------------------------------------------------------------------


def split_queries(coll: Dataset, test_fraction: float = 0.33, seed: int = 12) -> tuple[list[str], list[str]]:
    """Split the judged queries into (train, test) query ids, reproducibly.

    A query split keeps the corpus and the judging style shared between train and test: it
    measures *in-domain* generalisation to new queries, not transfer to a new collection.
    """
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    qids = sorted(coll.queries)
    if len(qids) < 2:
        raise ValueError(f"{coll.name}: need at least 2 judged queries to split, got {len(qids)}")
    random.Random(seed).shuffle(qids)
    n_test = min(len(qids) - 1, max(1, round(len(qids) * test_fraction)))
    return sorted(qids[n_test:]), sorted(qids[:n_test])


def subset(coll: Dataset, qids: Iterable[str]) -> Dataset:
    """The same collection restricted to some queries (corpus shared, qrels of those queries)."""
    qids = list(qids)
    keep = [q for q in qids if q in coll.queries]
    missing = set(qids) - set(keep)
    if missing:
        raise KeyError(f"{coll.name}: unknown query ids {sorted(missing)[:5]}")
    return replace(coll, name=f"{coll.name}[{len(keep)} queries]",
                   queries={q: coll.queries[q] for q in keep},
                   qrels={q: coll.qrels.get(q, {}) for q in keep})


# --------------------------------------------------------------------------------------------
# First-stage rankings
# --------------------------------------------------------------------------------------------


def bm25_rankings(coll: Dataset, k: int = 100) -> Ranking:
    """Every query's top-k documents by BM25 (:class:`ragcompare.retrieval.bm25.BM25Retriever`).

    Documents sharing no term with the query (score 0) are not retrieved; equal scores keep corpus
    order.
    """
    from ragcompare.retrieval.bm25 import BM25Retriever

    retriever = BM25Retriever().index(coll.corpus)
    qids = list(coll.queries)
    hits = retriever.search([coll.queries[q] for q in qids], min(k, len(coll.corpus)))
    return {q: [(h.doc_id, h.score) for h in row] for q, row in zip(qids, hits, strict=True)}


def encode_corpus(coll: Dataset, model: Any, cache_dir: Path | None = None, batch_size: int = 32,
                  progress: bool = False) -> np.ndarray:
    """Encode all documents (corpus order) with a SentenceTransformer (normalised), cached on disk if
    asked; ``progress`` shows a progress bar (the command line does, notebooks do not)."""
    cache = None
    if cache_dir is not None:
        cache_dir.mkdir(parents=True, exist_ok=True)
        msl = getattr(model, "max_seq_length", 0)
        cache = cache_dir / f"{coll.name}-docs-{len(coll.corpus)}-len{msl}.npy"
        if cache.exists():
            return np.load(cache)
    emb = model.encode([d.full_text for d in coll.corpus.values()], batch_size=batch_size,
                       normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=progress)
    if cache is not None:
        np.save(cache, emb)
    return emb


def dense_rankings(coll: Dataset, model: Any, doc_emb: np.ndarray, k: int = 100) -> Ranking:
    """Every query's top-k documents by cosine with the bi-encoder (``doc_emb``: :func:`encode_corpus`)."""
    qids, doc_ids = list(coll.queries), list(coll.corpus)
    qemb = model.encode([coll.queries[q] for q in qids], normalize_embeddings=True,
                        convert_to_numpy=True, show_progress_bar=False)
    sims = qemb @ doc_emb.T
    k = min(k, doc_emb.shape[0])
    out: Ranking = {}
    for n, q in enumerate(qids):
        top = np.argsort(-sims[n])[:k]
        out[q] = [(doc_ids[int(i)], float(sims[n, i])) for i in top]
    return out


def rrf_rankings(runs: Sequence[Ranking], k: int = 100, rrf_k: int = 60) -> Ranking:
    """Reciprocal-rank fusion (ranx, ``1 / (rrf_k + rank)``) of rankings of the same queries, top-k kept."""
    from ragcompare.retrieval.fusion import fuse_hits
    from ragcompare.types import Hit

    qids = list(runs[0])
    if any(set(r) != set(qids) for r in runs[1:]):
        raise ValueError("every ranking must cover the same queries")
    fused = fuse_hits([[[Hit(d, s) for d, s in r[q]] for q in qids] for r in runs], k=k,
                      method="rrf", params={"k": rrf_k})
    return {q: [(h.doc_id, h.score) for h in row] for q, row in zip(qids, fused, strict=True)}


# --------------------------------------------------------------------------------------------
# Hard negatives and training pairs
# --------------------------------------------------------------------------------------------


def mine_hard_negatives(
    coll: Dataset,
    rankings: Sequence[Ranking],
    n_negatives: int = 8,
    depth: int = 30,
    skip_top: int = 0,
    doc_emb: np.ndarray | None = None,
    duplicate_threshold: float = 0.93,
    seed: int = 12,
) -> dict[str, list[str]]:
    """Pick hard negatives per query from the first-stage rankings.

    Candidates are the ranks ``skip_top..depth`` of every ranking (interleaved); documents judged
    relevant (any grade > 0) are never negatives, and with ``doc_emb`` (corpus order) given, neither
    is any document whose cosine to one of the query's positives is >= ``duplicate_threshold``
    (likely false negatives / near-duplicates). Returns ``qid -> [doc_id, ...]``.
    """
    rng = random.Random(seed)
    index = {d: i for i, d in enumerate(coll.corpus)}
    out: dict[str, list[str]] = {}
    for qid in coll.queries:
        judged = coll.qrels.get(qid, {})
        positives = [d for d, g in judged.items() if g > 0 and d in index]
        pos_emb = None
        if doc_emb is not None and positives:
            pos_emb = doc_emb[[index[d] for d in positives]]
        seen: set[str] = set()
        pool: list[str] = []
        lists = [r.get(qid, [])[skip_top:depth] for r in rankings]
        for rank in range(max((len(x) for x in lists), default=0)):
            for lst in lists:
                if rank >= len(lst):
                    continue
                did = lst[rank][0]
                if did in seen:
                    continue
                seen.add(did)
                if judged.get(did, 0) > 0:
                    continue
                if pos_emb is not None and did in index:
                    if float(np.max(pos_emb @ doc_emb[index[did]])) >= duplicate_threshold:
                        continue
                pool.append(did)
        # keep the hardest half deterministic, sample the rest for diversity
        head = pool[: n_negatives // 2]
        tail = pool[n_negatives // 2 :]
        rng.shuffle(tail)
        out[qid] = head + tail[: n_negatives - len(head)]
    return out


def build_rerank_pairs(coll: Dataset, negatives: dict[str, list[str]], qids: Iterable[str] | None = None,
                       max_positives: int = 8, seed: int = 12) -> list[tuple[str, str, float]]:
    """(query, document, label) pairs: up to ``max_positives`` judged positives + the negatives."""
    rng = random.Random(seed)
    pairs: list[tuple[str, str, float]] = []
    for qid in qids if qids is not None else coll.queries:
        judged = coll.qrels.get(qid, {})
        pos = sorted((d for d, g in judged.items() if g > 0 and d in coll.corpus),
                     key=lambda d: (-judged[d], d))
        # highest grades first, then random among the rest
        top, rest = pos[: max_positives // 2], pos[max_positives // 2 :]
        rng.shuffle(rest)
        pos = top + rest[: max_positives - len(top)]
        q = coll.queries[qid]
        pairs += [(q, coll.corpus[d].full_text, 1.0) for d in pos]
        pairs += [(q, coll.corpus[d].full_text, 0.0) for d in negatives.get(qid, [])]
    rng.shuffle(pairs)
    return pairs


def contrastive_rows(coll: Dataset, negatives: dict[str, list[str]] | None, max_positives: int = 8,
                     seed: int = 12) -> dict[str, list[str]]:
    """Bi-encoder rows ``{"anchor", "positive"[, "negative"]}``: each query with up to
    ``max_positives`` judged positives (random), and with ``negatives`` one hard negative per row
    (queries without negatives are then skipped)."""
    rng = random.Random(seed)
    rows: dict[str, list[str]] = {"anchor": [], "positive": []}
    if negatives is not None:
        rows["negative"] = []
    for q in coll.queries:
        pos = [d for d, g in coll.qrels.get(q, {}).items() if g > 0 and d in coll.corpus]
        rng.shuffle(pos)
        negs = list(negatives.get(q, [])) if negatives is not None else []
        for i, d in enumerate(pos[:max_positives]):
            if negatives is not None:
                if not negs:
                    continue
                rows["negative"].append(coll.corpus[negs[i % len(negs)]].full_text)
            rows["anchor"].append(coll.queries[q])
            rows["positive"].append(coll.corpus[d].full_text)
    return rows


def rerank_dev_samples(coll: Dataset, first_stage: Ranking, qids: Iterable[str], k: int = 20
                       ) -> list[dict[str, Any]]:
    """Samples for ``CrossEncoderRerankingEvaluator`` (query, positives, first-stage top-k)."""
    samples = []
    for q in qids:
        pos = [coll.corpus[d].full_text for d, g in coll.qrels.get(q, {}).items() if g > 0]
        docs = [coll.corpus[d].full_text for d, _ in first_stage[q][:k]]
        samples.append({"query": coll.queries[q], "positive": pos, "documents": docs})
    return samples


# --------------------------------------------------------------------------------------------
# Corpus adaptation: title pseudo-queries and a rank-fusion teacher
# --------------------------------------------------------------------------------------------


def title_pseudo_queries(coll: Dataset, n: int, seed: int = 12, min_words: int = 3) -> Dataset:
    """Up to ``n`` pseudo-queries made from document titles: corpus text only, no queries or judgments.

    Query ids are ``"pq-<doc id>"`` so the source document can be recognised (and excluded) later.
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    docs = [d for d, doc in coll.corpus.items() if len(doc.title.split()) >= min_words]
    random.Random(seed).shuffle(docs)
    queries = {f"pq-{d}": coll.corpus[d].title.strip() for d in docs[:n]}
    return replace(coll, name=f"{coll.name}-title-queries", queries=queries, qrels={})


def distillation_pairs(pseudo: Dataset, candidates: Ranking, teachers: Sequence[Ranking], k: int = 12,
                       rrf_k: int = 60) -> list[tuple[str, str, float]]:
    """(pseudo-query, candidate, soft label) pairs labelled by a rank-fusion teacher.

    For each pseudo-query the candidates are ``candidates``' top ``k`` without the source document
    (the one the title came from); the teacher score is reciprocal-rank fusion (ranx, via
    :func:`rrf_rankings`) over two or more ``teachers`` (e.g. BM25 and the bi-encoder), min-max
    scaled to [0, 1] per query. The student learns the teacher's ordering of exactly the kind of list
    it will rerank, on the target corpus's own text.

    A candidate missing from a teacher's list gets nothing from that teacher (ranx, textbook RRF). The
    shipped rerankers were trained on labels that gave it rank ``len(list) + 1`` there instead: on the
    1400 title pseudo-queries of cranfield / cisi, about half of the labels differ, by 0.07 / 0.08 on
    average (at most 0.73), so a retrain with corpus adaptation will not reproduce them exactly.
    """
    qids = list(pseudo.queries)
    if not qids:
        return []
    runs = [{q: run.get(q, []) for q in qids} for run in teachers]
    width = max(len(row) for run in runs for row in run.values())
    fused = {q: dict(row) for q, row in rrf_rankings(runs, k=len(runs) * width, rrf_k=rrf_k).items()}
    pairs: list[tuple[str, str, float]] = []
    for q in qids:
        source = q[3:] if q.startswith("pq-") else None
        cands = [d for d, _ in candidates.get(q, []) if d != source][:k]
        if len(cands) < 2:
            continue
        score = np.array([fused[q].get(d, 0.0) for d in cands])
        span = score.max() - score.min()
        labels = (score - score.min()) / span if span > 0 else np.full(len(cands), 0.5)
        pairs += [(pseudo.queries[q], pseudo.corpus[d].full_text, float(y))
                  for d, y in zip(cands, labels, strict=True)]
    return pairs
