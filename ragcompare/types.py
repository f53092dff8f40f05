"""Small shared types and input checks used by every retriever."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass


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
