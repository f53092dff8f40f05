"""Shared types: hits, errors, and the ``Retriever`` / ``Reranker`` protocols.

This is the lowest layer: it imports nothing else from ragcompare (input checks live in
:mod:`ragcompare.checks`, persistence in :mod:`ragcompare.storage`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable


class RagCompareError(Exception):
    """Base class for errors raised by ragcompare."""


class InvalidInputError(RagCompareError, ValueError):
    """A caller passed a value ragcompare refuses to guess about (empty query, bad k, ...)."""


class CorpusMismatchError(InvalidInputError):
    """Components built over different corpora were asked to work together."""


@dataclass(frozen=True)
class Hit:
    """One ranked document: its id and the score the ranker gave it (higher is better)."""

    doc_id: str
    score: float


Results = dict[str, list[Hit]]
"""Query id -> hits, best first."""


@runtime_checkable
class Retriever(Protocol):
    """What every first stage and pipeline offers: index a corpus, then search it.

    ``search`` takes a batch of query strings and returns, per query, its hits best first.
    ``last_timings`` holds the seconds each stage of the last ``search`` call took.
    """

    name: str
    last_timings: Mapping[str, object]
    corpus_fingerprint: str | None
    """Hash of the indexed corpus (:func:`ragcompare.checks.corpus_fingerprint`); None before
    indexing."""

    @property
    def doc_ids(self) -> list[str]:
        """Ids of the indexed corpus, in index order."""
        ...

    def index(self, corpus: Mapping[str, object]) -> Retriever:
        """Index ``{doc_id: text or Document}``; returns itself."""
        ...

    def search(self, queries: Sequence[str], k: int = 10) -> list[list[Hit]]:
        """Top-``k`` hits per query, best first."""
        ...


@runtime_checkable
class Reranker(Protocol):
    """What every reranking backend offers: score pairs, and reorder one query's candidates."""

    name: str
    max_length: int

    def score(self, query: str, documents: Sequence[str], calibrated: bool = False) -> object:
        """One score per document for ``query`` (a numpy array; higher is more relevant)."""
        ...

    def score_pairs(self, pairs: Sequence[tuple[str, str]], calibrated: bool = False) -> object:
        """One score per (query, document) pair."""
        ...

    def rerank(self, query: str, candidates: Mapping[str, str], k: int | None = None,
               calibrated: bool = False) -> list[Hit]:
        """``candidates`` ({doc_id: text}) reordered by score, top ``k`` kept."""
        ...
