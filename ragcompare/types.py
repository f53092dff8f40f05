"""Shared types: hits, errors, input checks, and the ``Retriever`` / ``Reranker`` protocols.

This is the lowest layer: it imports nothing else from ragcompare.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable


class RagCompareError(Exception):
    """Base class for errors raised by ragcompare."""


class InvalidInputError(RagCompareError, ValueError):
    """A caller passed a value ragcompare refuses to guess about (empty query, bad k, ...)."""


@dataclass(frozen=True)
class Hit:
    """One ranked document: its id and the score the ranker gave it (higher is better)."""

    doc_id: str
    score: float


Results = dict[str, list[Hit]]
"""Query id -> hits, best first."""


def check_k(k: object, n_docs: int) -> int:
    """Validate ``k`` against a corpus of ``n_docs`` documents and return it."""
    if isinstance(k, bool) or not isinstance(k, int):
        raise InvalidInputError(f"k must be an int, got {type(k).__name__}")
    if k <= 0:
        raise InvalidInputError(f"k must be positive, got {k}")
    if k > n_docs:
        raise InvalidInputError(f"k={k} is larger than the corpus ({n_docs} documents)")
    return k


def check_queries(queries: object) -> list[str]:
    """Validate a batch of query strings (a single string is refused: wrap it in a list)."""
    if isinstance(queries, str):
        raise InvalidInputError("queries must be a list of strings, not one string: use [query]")
    if not isinstance(queries, Sequence):
        raise InvalidInputError(f"queries must be a list of strings, got {type(queries).__name__}")
    if len(queries) == 0:
        raise InvalidInputError("no queries given")
    out = []
    for i, q in enumerate(queries):
        if not isinstance(q, str):
            raise InvalidInputError(f"query {i} is {type(q).__name__}, not str")
        if not q.strip():
            raise InvalidInputError(f"query {i} is empty")
        out.append(q)
    return out


def check_corpus(corpus: object) -> dict[str, str]:
    """Validate a corpus given as ``{doc_id: text}`` (or ``Document`` values) and return id -> text."""
    if not isinstance(corpus, Mapping):
        raise InvalidInputError(
            f"corpus must be a mapping of doc id -> text, got {type(corpus).__name__}"
        )
    if len(corpus) == 0:
        raise InvalidInputError("the corpus is empty")
    out: dict[str, str] = {}
    for doc_id, doc in corpus.items():
        if not isinstance(doc_id, str):
            raise InvalidInputError(f"document id {doc_id!r} is {type(doc_id).__name__}, not str")
        text = doc.full_text if hasattr(doc, "full_text") else doc
        if not isinstance(text, str):
            raise InvalidInputError(f"document {doc_id!r} is {type(doc).__name__}, not str")
        out[doc_id] = text
    return out


def check_unique_ids(ids: Sequence[str], what: str = "document") -> None:
    """Raise if ``ids`` holds a duplicate (a mapping cannot, but lists and files can)."""
    seen: set[str] = set()
    for i in ids:
        if i in seen:
            raise InvalidInputError(f"duplicate {what} id {i!r}")
        seen.add(i)


def check_alpha(alpha: object) -> float:
    """An interpolation weight: a number in [0, 1] (else InvalidInputError)."""
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0.0 <= alpha <= 1.0:
        raise InvalidInputError(f"alpha must be a number in [0, 1], got {alpha!r}")
    return float(alpha)


@runtime_checkable
class Retriever(Protocol):
    """What every first stage and pipeline offers: index a corpus, then search it.

    ``search`` takes a batch of query strings and returns, per query, its hits best first.
    ``last_timings`` holds the seconds each stage of the last ``search`` call took.
    """

    name: str
    last_timings: Mapping[str, object]

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
