"""Reciprocal-rank (and other) fusion of several first stages, via ranx."""

from __future__ import annotations

import contextlib
import time
import warnings
from collections.abc import Iterator, Mapping, Sequence

from ranx import Run, fuse

from ragcompare.checks import (
    check_choice,
    check_corpus,
    check_k,
    check_positive_int,
    check_queries,
    check_same_corpus,
)
from ragcompare.types import Hit, InvalidInputError, RagCompareError


@contextlib.contextmanager
def quiet_ranx() -> Iterator[None]:
    """Silence the numba type-safety warning ranx's kernels print when they compile (an int cast
    inside ranx that does not affect the scores)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="unsafe cast from uint64 to int64")
        yield


def hits_to_run(hits: Sequence[list[Hit]], name: str) -> Run:
    """Wrap per-query hit lists (queries numbered in order) as a ranx Run."""
    return Run({f"q{i}": ({h.doc_id: h.score for h in row} or {"__none__": 0.0})
                for i, row in enumerate(hits)}, name=name)


def fuse_hits(rankings: Sequence[Sequence[list[Hit]]], k: int, method: str = "rrf",
              params: Mapping[str, float] | None = None,
              names: Sequence[str] | None = None) -> list[list[Hit]]:
    """Fuse several rankings of the same queries with ``ranx.fuse`` and keep the top ``k``."""
    if len(rankings) < 2:
        raise InvalidInputError("fusion needs at least two rankings")
    n = len(rankings[0])
    if any(len(r) != n for r in rankings):
        raise InvalidInputError("every ranking must cover the same queries")
    names = list(names or [f"run{i}" for i in range(len(rankings))])
    runs = [hits_to_run(r, nm) for r, nm in zip(rankings, names)]
    k = check_positive_int(k, "k")
    try:
        with quiet_ranx():
            fused = fuse(runs=runs, method=method, params=dict(params or {"k": 60}),
                         norm=None if method == "rrf" else "min-max").to_dict()
    except (AssertionError, KeyError, TypeError, ValueError, ZeroDivisionError) as e:
        raise InvalidInputError(f"ranx cannot fuse with method {method!r} and params "
                                f"{dict(params or {})}: {e or type(e).__name__} (methods that "
                                "learn from judgments, such as probfuse, are not supported here)"
                                ) from None
    out = []
    for i in range(n):
        row = sorted(((d, s) for d, s in fused.get(f"q{i}", {}).items() if d != "__none__"),
                     key=lambda x: (-x[1], x[0]))
        out.append([Hit(d, float(s)) for d, s in row[:k]])
    return out


FUSION_METHODS = ("rrf", "wsum", "sum", "mnz", "max", "min", "med", "anz", "gmnz", "wmnz", "isr",
                  "log_isr", "logn_isr", "rbc", "bordafuse", "w_bordafuse", "condorcet",
                  "w_condorcet", "mapfuse", "posfuse", "probfuse", "segfuse", "slidefuse",
                  "bayesfuse", "mixed")
"""ranx's fusion methods (those that need training runs, e.g. probfuse, also need ``params``)."""


class FusionRetriever:
    """Run several retrievers and fuse their rankings (reciprocal-rank fusion by default).

    Every retriever must index the same corpus: built over different ones they are refused
    (:class:`~ragcompare.types.CorpusMismatchError`) at construction, at :meth:`index` and at
    :meth:`search`.
    """

    def __init__(self, retrievers: Sequence, k_each: int = 100, method: str = "rrf",
                 params: Mapping[str, float] | None = None) -> None:
        if isinstance(retrievers, (str, Mapping)) or not isinstance(retrievers, Sequence):
            raise InvalidInputError("retrievers must be a list of retrievers")
        if len(retrievers) < 2:
            raise InvalidInputError("FusionRetriever needs at least two retrievers")
        for i, r in enumerate(retrievers):
            if not callable(getattr(r, "search", None)) or not isinstance(getattr(r, "name", None), str):
                raise InvalidInputError(f"retriever {i} ({type(r).__name__}) has no search() and name")
        self.retrievers = list(retrievers)
        self.k_each = check_positive_int(k_each, "k_each")
        self.method = check_choice(method, "method", FUSION_METHODS)
        if params is not None and not isinstance(params, Mapping):
            raise InvalidInputError(f"params must be a mapping such as {{'k': 60}}, got {params!r}")
        self.params = dict(params or {"k": 60}) if method == "rrf" else dict(params or {})
        if method == "rrf":
            self.params["k"] = check_positive_int(self.params.get("k", 60), "params['k']")
        check_same_corpus(self.retrievers, "the fused retrievers")
        self.last_timings: dict[str, float] = {}
        self.name = f"{method}(" + " + ".join(r.name for r in self.retrievers) + ")"

    @property
    def doc_ids(self) -> list[str]:
        """Ids of the corpus the retrievers index."""
        return self.retrievers[0].doc_ids

    @property
    def corpus_fingerprint(self) -> str | None:
        """The fingerprint of the shared corpus (the most specific one the retrievers carry)."""
        fps = [getattr(r, "corpus_fingerprint", None) for r in self.retrievers]
        return next((f for f in fps if f and not f.startswith("ids:")), None) or fps[0]

    def index(self, corpus: Mapping[str, object]) -> FusionRetriever:
        """Index ``corpus`` in every retriever."""
        check_corpus(corpus)
        for r in self.retrievers:
            r.index(corpus)
        return self

    def search(self, queries: Sequence[str], k: int = 10) -> list[list[Hit]]:
        """Search with every retriever (top ``k_each``), fuse, keep the top ``k``."""
        queries = check_queries(queries)
        check_same_corpus(self.retrievers, "the fused retrievers")
        n_docs = len(self.doc_ids)
        if not n_docs:
            raise RagCompareError("index a corpus before searching")
        k = check_k(k, n_docs)
        each = max(k, min(self.k_each, n_docs))
        timings: dict[str, float] = {}
        rankings = []
        for r in self.retrievers:
            t0 = time.perf_counter()
            rankings.append(r.search(queries, each))
            timings[r.name] = time.perf_counter() - t0
        t0 = time.perf_counter()
        out = fuse_hits(rankings, k, self.method, self.params, [r.name for r in self.retrievers])
        timings["fuse"] = time.perf_counter() - t0
        self.last_timings = timings
        return out
