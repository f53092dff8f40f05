"""Two-stage hybrid search (first stage -> cross-encoder rerank) and cross-encoder-only search."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

from ragcompare.checks import (
    check_alpha,
    check_corpus,
    check_k,
    check_positive_int,
    check_queries,
    check_same_corpus,
    check_text,
    corpus_fingerprint,
)
from ragcompare.rerank.cross_encoder import CrossEncoderReranker
from ragcompare.rerank.head import rerank_head
from ragcompare.types import CorpusMismatchError, Hit, InvalidInputError, RagCompareError


class HybridPipeline:
    """Retrieve candidates with any first stage, rerank the top ``k_retrieve`` with a cross-encoder.

    When ``k`` exceeds ``k_retrieve``, the first stage's hits below the reranked head follow in
    their original order (so recall@100 of a top-20 rerank is the first stage's recall@100).

    With ``alpha`` set, the head is ordered by ``alpha * z(cross-encoder) + (1 - alpha) *
    z(first stage)`` (:func:`ragcompare.rerank.head.rerank_head`) instead of the cross-encoder score
    alone: it keeps the first stage's signal when the reranker is unsure or out of its domain.

    ``last_timings`` holds per-query seconds for each stage of the last :meth:`search` call.
    """

    def __init__(self, first_stage, reranker: CrossEncoderReranker, k_retrieve: int = 100,
                 name: str | None = None, alpha: float | None = None) -> None:
        _check_parts(first_stage=first_stage, reranker=reranker)
        self.k_retrieve = check_positive_int(k_retrieve, "k_retrieve")
        self.first_stage, self.reranker = first_stage, reranker
        self.alpha = None if alpha is None else check_alpha(alpha)
        if name is not None:
            check_text(name, "name")
        self.texts: dict[str, str] = {}
        self.corpus_fingerprint: str | None = None
        self.last_timings: dict[str, list[float]] = {}
        mix = "" if alpha is None else f" (alpha={alpha:g})"
        self.name = name or f"{first_stage.name} >> {reranker.name}@{k_retrieve}{mix}"

    @property
    def doc_ids(self) -> list[str]:
        """Ids of the indexed corpus."""
        return list(self.texts)

    def index(self, corpus: Mapping[str, object], index_first_stage: bool = True) -> HybridPipeline:
        """Keep the document texts for reranking and (optionally) index the first stage.

        With ``index_first_stage=False`` the first stage must already index this same corpus
        (else :class:`~ragcompare.types.CorpusMismatchError`).
        """
        texts = check_corpus(corpus)
        fingerprint = corpus_fingerprint(texts)
        if index_first_stage:
            self.first_stage.index(corpus)
        else:
            _Corpus.check(self.first_stage, texts, fingerprint, "the first stage and the pipeline")
        self.texts, self.corpus_fingerprint = texts, fingerprint
        return self

    def search(self, queries: Sequence[str], k: int = 10) -> list[list[Hit]]:
        """First stage top ``k_retrieve`` -> rerank -> top ``k`` per query."""
        if not self.texts:
            raise RagCompareError("call index(corpus) before searching")
        queries = check_queries(queries)
        n_docs = len(self.texts)
        k = check_k(k, n_docs)
        k_retrieve = min(self.k_retrieve, n_docs)
        depth = max(k_retrieve, k)
        timings: dict[str, list[float]] = {"retrieve": [], "rerank": []}
        out = []
        for q in queries:
            t0 = time.perf_counter()
            first = self.first_stage.search([q], depth)[0]
            t1 = time.perf_counter()
            head = [h.doc_id for h in first[:k_retrieve]]
            unknown = [d for d in head if d not in self.texts]
            if unknown:
                raise CorpusMismatchError(
                    f"the first stage returned document {unknown[0]!r}, which the pipeline's corpus "
                    "does not hold: it indexed another corpus (index both over the same one)")
            scores = self.reranker.score(q, [self.texts[d] for d in head]) if head else []
            out.append(rerank_head(first, dict(zip(head, scores)), k_retrieve, k, self.alpha))
            timings["retrieve"].append(t1 - t0)
            timings["rerank"].append(time.perf_counter() - t1)
        self.last_timings = timings
        return out


class CrossEncoderOnly:
    """Score every document of the corpus with the cross-encoder (exhaustive, slow, exact)."""

    def __init__(self, reranker: CrossEncoderReranker) -> None:
        _check_parts(reranker=reranker)
        self.reranker = reranker
        self.texts: dict[str, str] = {}
        self.corpus_fingerprint: str | None = None
        self.last_timings: dict[str, list[float]] = {}
        self.name = f"{reranker.name} only"

    @property
    def doc_ids(self) -> list[str]:
        """Ids of the indexed corpus."""
        return list(self.texts)

    def index(self, corpus: Mapping[str, object]) -> CrossEncoderOnly:
        """Nothing can be precomputed: just keep the texts."""
        self.texts = check_corpus(corpus)
        self.corpus_fingerprint = corpus_fingerprint(self.texts)
        return self

    def search(self, queries: Sequence[str], k: int = 10) -> list[list[Hit]]:
        """Score all (query, document) pairs and keep the top ``k``."""
        if not self.texts:
            raise RagCompareError("call index(corpus) before searching")
        queries = check_queries(queries)
        k = check_k(k, len(self.texts))
        out, times = [], []
        for q in queries:
            t0 = time.perf_counter()
            out.append(self.reranker.rerank(q, self.texts, k))
            times.append(time.perf_counter() - t0)
        self.last_timings = {"rerank": times}
        return out


def _check_parts(**parts: object) -> None:
    """Refuse a first stage without ``search`` or a reranker without ``score`` at construction."""
    for role, part in parts.items():
        need = "score" if role == "reranker" else "search"
        if not callable(getattr(part, need, None)) or not isinstance(getattr(part, "name", None), str):
            raise InvalidInputError(f"{role} must have a {need}() method and a name, got "
                                    f"{type(part).__name__}")


class _Corpus:
    """A corpus (texts and fingerprint) as :func:`~ragcompare.checks.check_same_corpus` sees it."""

    def __init__(self, texts: Mapping[str, str], fingerprint: str) -> None:
        self.doc_ids, self.corpus_fingerprint, self.name = list(texts), fingerprint, "the corpus"

    @classmethod
    def check(cls, stage: object, texts: Mapping[str, str], fingerprint: str, what: str) -> None:
        if not list(getattr(stage, "doc_ids", None) or []):
            raise RagCompareError("the first stage has indexed nothing: call index(corpus) with "
                                  "index_first_stage=True, or index it first")
        check_same_corpus([stage, cls(texts, fingerprint)], what)
