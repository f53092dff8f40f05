"""Saved benchmark results, Pareto fronts and latency-versus-corpus-size runs (notebook 05).

Plots of these tables are in :mod:`ragcompare.eval.plots`.

Timing comes from :mod:`ragcompare.eval.timing`. Every saved result carries the machine description
(:func:`ragcompare.sysinfo.machine_info`) and the settings used.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ragcompare.eval.timing import latency_stats, time_calls
from ragcompare.storage import atomic_write_text
from ragcompare.sysinfo import machine_info
from ragcompare.types import InvalidInputError


@dataclass
class ResultSet:
    """Named result tables of one benchmark run plus the machine and settings they were measured on."""

    name: str
    settings: dict[str, object] = field(default_factory=dict)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    machine: dict[str, object] = field(default_factory=machine_info)

    def add(self, key: str, frame: pd.DataFrame) -> pd.DataFrame:
        """Store a table under ``key`` (returned unchanged for chaining)."""
        self.tables[key] = frame
        return frame

    def to_json(self) -> dict[str, object]:
        """JSON-ready dict: name, machine, settings, each table as a list of records."""
        return {"name": self.name, "machine": self.machine, "settings": self.settings,
                "tables": {k: json.loads(v.reset_index().to_json(orient="records"))
                           for k, v in self.tables.items()}}

    def save(self, directory: str | Path) -> list[Path]:
        """Write ``<name>.json`` (everything) and one ``<name>_<table>.csv`` per table, each atomically
        (a failed save leaves the previous file as it was). Everything is encoded before the first
        file is written."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        files = {directory / f"{self.name}.json": json.dumps(self.to_json(), indent=1, default=str)}
        files.update({directory / f"{self.name}_{key}.csv": frame.to_csv()
                      for key, frame in self.tables.items()})
        for path, text in files.items():
            atomic_write_text(path, text)
        return list(files)

    @classmethod
    def load(cls, path: str | Path) -> ResultSet:
        """Read a JSON file written by :meth:`save`."""
        data = json.loads(Path(path).read_text())
        tables = {k: pd.DataFrame(v) for k, v in data["tables"].items()}
        return cls(data["name"], data.get("settings", {}), tables, data.get("machine", {}))


def pareto_front(frame: pd.DataFrame, cost: str, quality: str) -> pd.DataFrame:
    """Rows not dominated by another (lower-or-equal cost and higher-or-equal quality, one strictly)."""
    for col in (cost, quality):
        if col not in frame.columns:
            raise InvalidInputError(f"no column {col!r}")
    keep = []
    c, q = frame[cost].to_numpy(), frame[quality].to_numpy()
    for i in range(len(frame)):
        dominated = np.any((c <= c[i]) & (q >= q[i]) & ((c < c[i]) | (q > q[i])))
        keep.append(not dominated)
    return frame[np.array(keep)].sort_values(cost)


def scaling_latency(real_vectors: np.ndarray, queries: np.ndarray, sizes: Sequence[int],
                    factories: dict[str, tuple[str, dict[str, float], int]], k: int = 10,
                    n_queries: int = 20, seed: int = 0, train_size: int = 50_000,
                    progress: Callable[[str], None] | None = None) -> pd.DataFrame:
    """Search latency per query versus corpus size, on vectors scaled up from real embeddings.

    ``factories``: label -> (FAISS factory, search params, largest size to build it at). Vectors
    come from :func:`ragcompare.eval.ann.synthetic_like` (Gaussian fitted to ``real_vectors``), built once
    at the largest size and sliced. Returns one row per (index, size): p50/p95 ms per query.
    """
    from ragcompare.eval.ann import IndexSpec, build_index, faiss_bytes, synthetic_like

    sizes = sorted(int(s) for s in sizes)
    if not sizes or sizes[0] <= 0:
        raise InvalidInputError("sizes must be positive")
    pool = synthetic_like(real_vectors, sizes[-1], seed=seed)
    q = np.ascontiguousarray(queries[:n_queries], dtype=np.float32)
    rows = []
    for label, (factory, params, max_n) in factories.items():
        for n in sizes:
            if n > max_n:
                continue
            if progress:
                progress(f"{label} @ {n:,}")
            base = pool[:n]
            train = base[:min(n, train_size)]
            t0 = time.perf_counter()
            try:
                index = build_index(IndexSpec(label, factory, params), base, train)
            except InvalidInputError:  # e.g. too few vectors to train this many IVF lists
                continue
            build_s = time.perf_counter() - t0
            _, times = time_calls(lambda i, index=index: index.search(q[i:i + 1], k), len(q), warmup=1)
            s = latency_stats(times)
            rows.append({"index": label, "docs": n, "search_p50_ms": s["p50_ms"],
                         "search_p95_ms": s["p95_ms"], "build_s": build_s,
                         "index_mb": faiss_bytes(index) / 1e6})
            del index
    return pd.DataFrame(rows)


def bm25_token_stats(doc_texts: Sequence[str], query_texts: Sequence[str]
                     ) -> tuple[list[int], np.ndarray, list[list[int]]]:
    """Document lengths, unigram probabilities and query token ids of a real collection, tokenized as
    :class:`~ragcompare.retrieval.bm25.BM25Retriever` does (English stopwords, Snowball stems) - the
    statistics :func:`bm25_scaling` samples from."""
    from ragcompare.retrieval.bm25 import tokenize

    docs = tokenize(doc_texts)
    counts = np.zeros(len(docs.vocab), dtype=np.float64)
    for ids in docs.ids:
        np.add.at(counts, ids, 1)
    probs = counts / counts.sum()
    qs = tokenize(query_texts)
    inverse = {i: w for w, i in qs.vocab.items()}
    query_ids = [[docs.vocab[inverse[i]] for i in ids if inverse[i] in docs.vocab] for ids in qs.ids]
    return [len(ids) for ids in docs.ids], probs, query_ids


def bm25_scaling(doc_lengths: Sequence[int], token_probs: np.ndarray, query_tokens: Sequence[Sequence[int]],
                 sizes: Sequence[int], k: int = 10, seed: int = 0) -> pd.DataFrame:
    """BM25 query latency on synthetic corpora of token ids drawn from real statistics.

    Each synthetic document samples a real document length and that many tokens from the real
    corpus' unigram distribution ``token_probs``; queries are real (tokenized) queries. Indexing and
    search are :class:`~ragcompare.retrieval.bm25.BM25Retriever`'s own (``index_tokens`` /
    ``search_tokens``: the benchmark's code path minus tokenizing text).
    """
    from bm25s.tokenization import Tokenized

    from ragcompare.retrieval.bm25 import BM25Retriever

    rng = np.random.default_rng(seed)
    vocab = {str(i): i for i in range(len(token_probs))}
    queries = [[str(t) for t in qt] or ["0"] for qt in query_tokens]
    rows = []
    for n in sorted(int(s) for s in sizes):
        lens = rng.choice(np.asarray(doc_lengths), n)
        flat = rng.choice(len(token_probs), int(lens.sum()), p=token_probs)
        cuts = np.cumsum(lens)[:-1]
        docs = [d.tolist() for d in np.split(flat, cuts)]
        bm25 = BM25Retriever().index_tokens([str(i) for i in range(n)], Tokenized(ids=docs, vocab=vocab))
        build_s = bm25.last_timings["build_index"]
        _, times = time_calls(lambda i, bm25=bm25: bm25.search_tokens([queries[i]], k), len(queries),
                              warmup=1)
        s = latency_stats(times)
        rows.append({"index": "BM25 (bm25s)", "docs": n, "search_p50_ms": s["p50_ms"],
                     "search_p95_ms": s["p95_ms"], "build_s": build_s, "index_mb": float("nan")})
        del bm25, docs, flat
    return pd.DataFrame(rows)


def approach_latency(search: pd.DataFrame, encode_ms: float, rerank_ms: float, pairs_per_s: float,
                     sizes: Sequence[int], bm25: pd.DataFrame | None = None,
                     vector_index: str = "Flat (exact)") -> pd.DataFrame:
    """Per-query latency of each approach versus corpus size, from measured components.

    bi-encoder = query encoding + vector search (measured at each size); hybrid = bi-encoder +
    reranking a fixed candidate list (``rerank_ms``, measured; independent of corpus size);
    cross-encoder only = size / ``pairs_per_s`` (EXTRAPOLATED from measured pairs/s); BM25 measured
    where ``bm25`` has the size, otherwise extrapolated linearly from the largest measured size.
    """
    rows = []
    vec = search[search["index"] == vector_index].set_index("docs")["search_p50_ms"]
    for n in sorted(int(s) for s in sizes):
        if n in vec.index:
            bi = encode_ms + float(vec.loc[n])
            rows.append({"approach": "bi-encoder", "docs": n, "latency_ms": bi, "source": "measured"})
            rows.append({"approach": "hybrid (bi-encoder >> cross-encoder)", "docs": n,
                         "latency_ms": bi + rerank_ms, "source": "measured"})
        rows.append({"approach": "cross-encoder only", "docs": n,
                     "latency_ms": 1000.0 * n / pairs_per_s, "source": "extrapolated"})
        if bm25 is not None and len(bm25):
            b = bm25.set_index("docs")["search_p50_ms"]
            if n in b.index:
                rows.append({"approach": "BM25", "docs": n, "latency_ms": float(b.loc[n]),
                             "source": "measured"})
            elif n > b.index.max():
                top = int(b.index.max())
                rows.append({"approach": "BM25", "docs": n, "latency_ms": float(b.loc[top]) * n / top,
                             "source": "extrapolated"})
    return pd.DataFrame(rows)
