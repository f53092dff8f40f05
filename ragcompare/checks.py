"""Input validation: the one place every public entry checks what it was given.

Each ``check_*`` returns the value in its plain Python form (numpy integer and float scalars are
accepted where an int or a float is meant) or raises :class:`~ragcompare.types.InvalidInputError`
naming the parameter. Text that holds nothing but whitespace, zero-width or control characters
counts as empty. Corpus fingerprints, which let components built over different corpora refuse to
combine, live here too.

Like :mod:`ragcompare.types`, this is the lowest layer: it imports nothing else from ragcompare.
"""

from __future__ import annotations

import hashlib
import math
import numbers
import unicodedata
from collections.abc import Iterable, Mapping, Sequence

from ragcompare.types import CorpusMismatchError, InvalidInputError

_INVISIBLE = {"Cc", "Cf", "Cs", "Co", "Cn", "Zs", "Zl", "Zp"}
"""Unicode categories that carry no visible text: controls, format (zero-width), unassigned,
surrogates, private use, separators."""


def shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# -- numbers ----------------------------------------------------------------------------------
def check_int(value: object, name: str, minimum: int | None = None,
              maximum: int | None = None) -> int:
    """An integer (Python or numpy; not bool, not a float) within ``[minimum, maximum]``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InvalidInputError(f"{name} must be an int, got {shown(value)} "
                                f"({type(value).__name__})")
    out = int(value)
    if minimum is not None and out < minimum:
        raise InvalidInputError(f"{name} must be at least {minimum}, got {out}")
    if maximum is not None and out > maximum:
        raise InvalidInputError(f"{name} must be at most {maximum}, got {out}")
    return out


def check_positive_int(value: object, name: str, maximum: int | None = None) -> int:
    """An integer >= 1 (see :func:`check_int`)."""
    return check_int(value, name, minimum=1, maximum=maximum)


def check_float(value: object, name: str, minimum: float | None = None,
                maximum: float | None = None, positive: bool = False) -> float:
    """A finite real number (Python or numpy int/float; not bool) within ``[minimum, maximum]``;
    ``positive`` also refuses 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidInputError(f"{name} must be a number, got {shown(value)} "
                                f"({type(value).__name__})")
    try:
        out = float(value)
    except OverflowError:
        raise InvalidInputError(f"{name} is too large: {shown(value)}") from None
    if not math.isfinite(out):
        raise InvalidInputError(f"{name} must be a finite number, got {out}")
    if positive and out <= 0:
        raise InvalidInputError(f"{name} must be positive, got {out:g}")
    if minimum is not None and out < minimum:
        raise InvalidInputError(f"{name} must be at least {minimum:g}, got {out:g}")
    if maximum is not None and out > maximum:
        raise InvalidInputError(f"{name} must be at most {maximum:g}, got {out:g}")
    return out


def check_alpha(alpha: object) -> float:
    """An interpolation weight: a number in [0, 1]."""
    return check_float(alpha, "alpha", 0.0, 1.0)


def check_bool(value: object, name: str) -> bool:
    """A flag: ``True`` or ``False`` (Python or numpy bool; not 0/1, not a string)."""
    if type(value).__name__ not in ("bool", "bool_"):
        raise InvalidInputError(f"{name} must be True or False, got {shown(value)}")
    return bool(value)


def check_choice(value: object, name: str, choices: Iterable[str]) -> str:
    """One of ``choices`` (strings)."""
    options = tuple(choices)
    if not isinstance(value, str) or value not in options:
        raise InvalidInputError(f"{name} must be one of {', '.join(options)}; got {shown(value)}")
    return value


def check_max_length(max_length: object, positions: int | None, model: str = "the model") -> int:
    """Tokens per input: a positive int no larger than the model's position embeddings."""
    value = check_positive_int(max_length, "max_length")
    if positions is not None and value > positions:
        raise InvalidInputError(f"max_length={value} exceeds the {positions} positions {model} "
                                "was built with")
    return value


# -- text -------------------------------------------------------------------------------------
def visible(text: str) -> str:
    """``text`` without whitespace, zero-width, control or other invisible characters."""
    return "".join(ch for ch in text
                   if not ch.isspace() and unicodedata.category(ch) not in _INVISIBLE)


def check_text(value: object, name: str) -> str:
    """A string with at least one visible character (returned unchanged)."""
    if not isinstance(value, str):
        raise InvalidInputError(f"{name} is {type(value).__name__}, not str")
    if any("\ud800" <= ch <= "\udfff" for ch in value):
        raise InvalidInputError(f"{name} holds a lone surrogate (text that is not valid Unicode)")
    if not visible(value):
        raise InvalidInputError(f"{name} is empty (nothing but whitespace, zero-width or control "
                                "characters)")
    return value


def check_queries(queries: object) -> list[str]:
    """A non-empty batch of query strings (a single string is refused: wrap it in a list)."""
    if isinstance(queries, str):
        raise InvalidInputError("queries must be a list of strings, not one string: use [query]")
    if not isinstance(queries, Sequence):
        raise InvalidInputError(f"queries must be a list of strings, got {type(queries).__name__}")
    if len(queries) == 0:
        raise InvalidInputError("no queries given")
    return [check_text(q, f"query {i}") for i, q in enumerate(queries)]


def check_k(k: object, n_docs: int) -> int:
    """``k`` (hits per query) as an int in ``[1, n_docs]``."""
    value = check_positive_int(k, "k")
    if value > n_docs:
        raise InvalidInputError(f"k={value} is larger than the corpus ({n_docs} documents)")
    return value


def check_corpus(corpus: object) -> dict[str, str]:
    """A corpus given as ``{doc_id: text}`` (or ``Document`` values), returned as id -> text."""
    if not isinstance(corpus, Mapping):
        raise InvalidInputError(
            f"corpus must be a mapping of doc id -> text, got {type(corpus).__name__}")
    if len(corpus) == 0:
        raise InvalidInputError("the corpus is empty")
    out: dict[str, str] = {}
    for doc_id, doc in corpus.items():
        if not isinstance(doc_id, str) or not visible(doc_id):
            raise InvalidInputError(f"document id {shown(doc_id)} must be a non-empty str")
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


# -- corpus identity --------------------------------------------------------------------------
def corpus_fingerprint(texts: Mapping[str, str] | Sequence[str]) -> str:
    """A short hash naming a corpus: its ids and texts (``{id: text}``), or its ids alone.

    Order does not matter. Fingerprints of ids alone start with ``ids:``; they are compared only
    with other fingerprints of ids alone (the doc-id sets are always compared, see
    :func:`check_same_corpus`).
    """
    h = hashlib.sha256()
    if isinstance(texts, Mapping):
        for doc_id in sorted(texts):
            h.update(doc_id.encode("utf-8", "surrogatepass") + b"\0")
            h.update(hashlib.sha256(texts[doc_id].encode("utf-8", "surrogatepass")).digest())
        return "sha256:" + h.hexdigest()[:32]
    for doc_id in sorted(texts):
        h.update(doc_id.encode("utf-8", "surrogatepass") + b"\0")
    return "ids:" + h.hexdigest()[:32]


def check_same_corpus(parts: Sequence[object], what: str = "these components") -> None:
    """Refuse components (anything with ``doc_ids`` and ``corpus_fingerprint``) built over
    different corpora. Components that have indexed nothing yet are skipped.

    Fingerprints of the same kind decide alone (they hash the ids); the doc-id sets are compared
    only when a fingerprint is missing or the two are of different kinds (ids alone vs ids + texts),
    so the check stays cheap on every search.
    """
    seen = [part for part in parts if getattr(part, "doc_ids", None)]
    for part in seen[1:]:
        first = seen[0]
        fp0, fp = (getattr(p, "corpus_fingerprint", None) for p in (first, part))
        if fp and fp0 and fp.split(":")[0] == fp0.split(":")[0]:
            same = fp == fp0
        else:
            same = set(first.doc_ids) == set(part.doc_ids)
        if not same:
            name0, name = (getattr(p, "name", type(p).__name__) for p in (first, part))
            raise CorpusMismatchError(
                f"{what} were built over different corpora: {name0} indexed {len(first.doc_ids)} "
                f"documents ({fp0 or 'no fingerprint'}), {name} {len(part.doc_ids)} "
                f"({fp or 'no fingerprint'}); index them over the same corpus")
