"""Saved benchmark results, Pareto fronts and latency-versus-corpus-size runs (notebook 05).

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

from ragcompare.eval.timing import latency_stats
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
        """Write ``<name>.json`` (everything) and one ``<name>_<table>.csv`` per table."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        paths = [directory / f"{self.name}.json"]
        paths[0].write_text(json.dumps(self.to_json(), indent=1, default=str))
        for key, frame in self.tables.items():
            p = directory / f"{self.name}_{key}.csv"
            frame.to_csv(p)
            paths.append(p)
        return paths

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


def plot_pareto(frame: pd.DataFrame, cost: str = "p50_ms", quality: str = "ndcg@10",
                hue: str | None = None, ax=None, title: str = "", logx: bool = True):
    """Scatter of quality against cost with each point labelled and the Pareto front drawn."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    ax = ax or plt.subplots(figsize=(7, 4.5))[1]
    data = frame.reset_index()
    label = data.columns[0]
    sns.scatterplot(data=data, x=cost, y=quality, hue=hue, ax=ax, s=70)
    for _, row in data.iterrows():
        ax.annotate(str(row[label]), (row[cost], row[quality]), fontsize=7,
                    xytext=(4, 3), textcoords="offset points")
    groups = data.groupby(hue) if hue else [(None, data)]
    for _, g in groups:
        front = pareto_front(g.set_index(label), cost, quality)
        ax.plot(front[cost], front[quality], "--", lw=1, color="grey")
    if logx:
        ax.set_xscale("log")
    ax.set_title(title)
    return ax


def scaling_latency(real_vectors: np.ndarray, queries: np.ndarray, sizes: Sequence[int],
                    factories: dict[str, tuple[str, dict[str, float], int]], k: int = 10,
                    n_queries: int = 20, seed: int = 0, train_size: int = 50_000,
                    progress: Callable[[str], None] | None = None) -> pd.DataFrame:
    """Search latency per query versus corpus size, on vectors scaled up from real embeddings.

    ``factories``: label -> (FAISS factory, search params, largest size to build it at). Vectors
    come from :func:`ragcompare.eval.ann.synthetic_like` (Gaussian fitted to ``real_vectors``), built once
    at the largest size and sliced. Returns one row per (index, size): p50/p95 ms per query.
    """
    from ragcompare.eval.ann import IndexSpec, build_index, synthetic_like

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
            index.search(q[:1], k)
            times = []
            for i in range(len(q)):
                t0 = time.perf_counter()
                index.search(q[i:i + 1], k)
                times.append(time.perf_counter() - t0)
            s = latency_stats(times)
            rows.append({"index": label, "docs": n, "search_p50_ms": s["p50_ms"],
                         "search_p95_ms": s["p95_ms"], "build_s": build_s,
                         "index_mb": faiss_bytes(index) / 1e6})
            del index
    return pd.DataFrame(rows)


def faiss_bytes(index) -> int:
    """Serialised size of a FAISS index."""
    import faiss

    return int(faiss.serialize_index(index).nbytes)


def bm25_token_stats(doc_texts: Sequence[str], query_texts: Sequence[str]
                     ) -> tuple[list[int], np.ndarray, list[list[int]]]:
    """Document lengths, unigram probabilities and query token ids of a real collection (bm25s
    tokenizer, English stopwords) - the statistics :func:`bm25_scaling` samples from."""
    import bm25s

    docs = bm25s.tokenize(list(doc_texts), stopwords="en", show_progress=False)
    counts = np.zeros(len(docs.vocab), dtype=np.float64)
    for ids in docs.ids:
        np.add.at(counts, ids, 1)
    probs = counts / counts.sum()
    qs = bm25s.tokenize(list(query_texts), stopwords="en", show_progress=False)
    inverse = {i: w for w, i in qs.vocab.items()}
    query_ids = [[docs.vocab[inverse[i]] for i in ids if inverse[i] in docs.vocab] for ids in qs.ids]
    return [len(ids) for ids in docs.ids], probs, query_ids


def bm25_scaling(doc_lengths: Sequence[int], token_probs: np.ndarray, query_tokens: Sequence[Sequence[int]],
                 sizes: Sequence[int], k: int = 10, seed: int = 0) -> pd.DataFrame:
    """BM25 (bm25s) query latency on synthetic corpora of token ids drawn from real statistics.

    Each synthetic document samples a real document length and that many tokens from the real
    corpus' unigram distribution ``token_probs``; queries are real (tokenized) queries.
    """
    import bm25s
    from bm25s.tokenization import Tokenized

    rng = np.random.default_rng(seed)
    vocab = {str(i): i for i in range(len(token_probs))}
    rows = []
    for n in sorted(int(s) for s in sizes):
        lens = rng.choice(np.asarray(doc_lengths), n)
        flat = rng.choice(len(token_probs), int(lens.sum()), p=token_probs)
        cuts = np.cumsum(lens)[:-1]
        docs = [d.tolist() for d in np.split(flat, cuts)]
        model = bm25s.BM25()
        t0 = time.perf_counter()
        model.index(Tokenized(ids=docs, vocab=vocab), show_progress=False)
        build_s = time.perf_counter() - t0
        times = []
        model.retrieve([[str(t) for t in query_tokens[0]] or ["0"]], k=k, show_progress=False,
                       n_threads=1)  # warm-up
        for qt in query_tokens:
            qt = [str(t) for t in qt] or ["0"]
            t0 = time.perf_counter()
            model.retrieve([qt], k=k, show_progress=False, n_threads=1)
            times.append(time.perf_counter() - t0)
        s = latency_stats(times)
        rows.append({"index": "BM25 (bm25s)", "docs": n, "search_p50_ms": s["p50_ms"],
                     "search_p95_ms": s["p95_ms"], "build_s": build_s, "index_mb": float("nan")})
        del model, docs, flat
    return pd.DataFrame(rows)


def benchmark_pipelines(pipelines: dict[str, object], dataset, queries: dict[str, str] | None = None,
                        k: int = 100, warmup: int = 1, metrics: Sequence[str] = ("ndcg@10", "recall@100"),
                        query_sets: dict[str, dict[str, str]] | None = None) -> pd.DataFrame:
    """Quality and one-query-at-a-time latency of several retrievers on one collection.

    ``query_sets`` may give some pipelines their own (smaller) query sample, e.g. cross-encoder-only;
    the ``queries`` column says how many each was measured on. Rows: pipeline; columns: metrics,
    p50/p95/p99 ms, queries/s, queries.
    """
    from ragcompare.eval.metrics import evaluate
    from ragcompare.eval.timing import time_queries

    queries = queries or dict(dataset.queries)
    rows = []
    for name, retriever in pipelines.items():
        qs = (query_sets or {}).get(name, queries)
        depth = min(k, len(getattr(retriever, "doc_ids", [])) or k)
        results, times = time_queries(retriever, qs, depth, warmup=warmup)
        lat = latency_stats(times)
        rows.append({"pipeline": name, **evaluate(results, dataset.qrels, metrics),
                     "p50_ms": lat["p50_ms"], "p95_ms": lat["p95_ms"], "p99_ms": lat["p99_ms"],
                     "qps": len(times) / sum(times), "queries": len(times)})
    return pd.DataFrame(rows).set_index("pipeline")


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


def plot_scaling(frame: pd.DataFrame, ax=None, budgets_ms: Sequence[float] = (100.0, 1000.0)):
    """Log-log latency versus corpus size; extrapolated segments dashed, latency budgets as lines."""
    import matplotlib.pyplot as plt

    ax = ax or plt.subplots(figsize=(7, 4.2))[1]
    for i, (name, g) in enumerate(frame.groupby("approach", sort=False)):
        color = f"C{i}"
        g = g.sort_values("docs")
        meas = g[g["source"] == "measured"]
        if len(meas):
            ax.plot(meas["docs"], meas["latency_ms"], "o-", color=color, label=f"{name} (measured)")
        extra = g[g["source"] == "extrapolated"]
        if len(extra):
            joined = pd.concat([meas.tail(1), extra])
            ax.plot(joined["docs"], joined["latency_ms"], "s--", color=color, alpha=0.7,
                    label=f"{name} (extrapolated)")
    for b in budgets_ms:
        ax.axhline(b, color="grey", lw=0.8, ls=":")
        ax.annotate(f"{b:g} ms budget", (frame["docs"].min(), b), fontsize=7, va="bottom")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("documents in the corpus")
    ax.set_ylabel("latency per query (ms, p50)")
    ax.legend(fontsize=7)
    return ax
