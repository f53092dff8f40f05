"""Approximate nearest-neighbour index comparisons: recall against exact search, speed, memory.

Every FAISS configuration is described by an :class:`IndexSpec` (factory string + search
parameters), built over the same normalised vectors and measured against exact inner-product search:
recall@k, queries per second and bytes per vector (serialised index size / vectors). Embedding
quantization (int8 / binary with float rescoring, sentence-transformers' ``semantic_search_faiss``)
is measured the same way.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import faiss
import numpy as np
import pandas as pd

from ragcompare.checks import check_positive_int
from ragcompare.eval.timing import time_calls
from ragcompare.types import InvalidInputError

_IVF = re.compile(r"IVF(\d+)")
_PQ = re.compile(r"PQ(\d+)(?:x(\d+))?")
_PCA = re.compile(r"PCAR?(\d+)")


@dataclass(frozen=True)
class IndexSpec:
    """A FAISS configuration: display name, factory string, search-time parameters."""

    name: str
    factory: str
    params: dict[str, float] = field(default_factory=dict)


def validate_spec(spec: IndexSpec, dim: int, n_vectors: int) -> None:
    """Refuse configurations FAISS would reject or silently train badly.

    Checks: PQ sub-quantizers divide the (possibly PCA-reduced) dimension, PCA output <= dim,
    IVF lists and PQ centroids have enough training vectors (>= 39 per centroid, FAISS's own bar).
    """
    if not isinstance(spec.factory, str) or not spec.factory.strip():
        raise InvalidInputError("factory must be a non-empty FAISS factory string")
    if dim <= 0 or n_vectors <= 0:
        raise InvalidInputError(f"need positive dim and vector count, got {dim}, {n_vectors}")
    d = dim
    pca = _PCA.search(spec.factory)
    if pca:
        d = int(pca.group(1))
        if d > dim:
            raise InvalidInputError(f"{spec.factory}: PCA to {d} dims exceeds the input's {dim}")
    ivf = _IVF.search(spec.factory)
    if ivf and int(ivf.group(1)) * 39 > n_vectors:
        raise InvalidInputError(f"{spec.factory}: {ivf.group(1)} lists need >= "
                                f"{int(ivf.group(1)) * 39} training vectors, have {n_vectors}")
    pq = _PQ.search(spec.factory.replace("OPQ", "#"))
    if pq:
        m, bits = int(pq.group(1)), int(pq.group(2) or 8)
        if d % m:
            raise InvalidInputError(f"{spec.factory}: {m} PQ sub-vectors do not divide {d} dims")
        if (1 << bits) * 39 > n_vectors and "fs" not in spec.factory:
            raise InvalidInputError(f"{spec.factory}: {1 << bits} centroids per sub-quantizer need "
                                    f">= {(1 << bits) * 39} training vectors, have {n_vectors}")
    for key in spec.params:
        if key not in ("nprobe", "efSearch", "k_factor", "k_factor_rf", "ht"):
            raise InvalidInputError(f"unknown search parameter {key!r}")


def build_index(spec: IndexSpec, vectors: np.ndarray, train: np.ndarray | None = None) -> faiss.Index:
    """Build (train + add) the index of ``spec`` over normalised ``vectors`` (inner product)."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if vectors.ndim != 2:
        raise InvalidInputError(f"vectors must be 2-d, got shape {vectors.shape}")
    train = vectors if train is None else np.ascontiguousarray(train, dtype=np.float32)
    validate_spec(spec, vectors.shape[1], len(train))
    index = faiss.index_factory(vectors.shape[1], spec.factory, faiss.METRIC_INNER_PRODUCT)
    if not index.is_trained:
        index.train(train)
    index.add(vectors)
    ps = faiss.ParameterSpace()
    for key, value in spec.params.items():
        ps.set_index_parameter(index, key, value)
    return index


def exact_neighbours(vectors: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    """Ids of the exact top-``k`` by inner product (ground truth)."""
    flat = faiss.IndexFlatIP(vectors.shape[1])
    flat.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return flat.search(np.ascontiguousarray(queries, dtype=np.float32), k)[1]


def recall_at_k(found: np.ndarray, truth: np.ndarray, k: int) -> float:
    """Mean share of the exact top-``k`` found in the returned top-``k`` (k-recall@k)."""
    found, truth = np.asarray(found), np.asarray(truth)
    if found.ndim != 2 or truth.ndim != 2 or len(found) != len(truth):
        raise InvalidInputError("found and truth must be 2-d arrays with one row per query")
    if k <= 0 or k > truth.shape[1] or k > found.shape[1]:
        raise InvalidInputError(f"k={k} must be in 1..{min(found.shape[1], truth.shape[1])}")
    hits = [len(set(f[:k]) & set(t[:k])) for f, t in zip(found, truth)]
    return float(np.mean(hits) / k)


def faiss_bytes(index: faiss.Index) -> int:
    """Serialised size of a FAISS index."""
    return int(faiss.serialize_index(index).nbytes)


def bytes_per_vector(index: faiss.Index) -> float:
    """Serialised index size divided by the number of vectors (codes + per-index overhead)."""
    if index.ntotal == 0:
        raise InvalidInputError("empty index")
    return float(faiss_bytes(index)) / index.ntotal


def _time_search(search: Callable[[int], object], n_queries: int, repeats: int) -> tuple[list, float]:
    """``search(i)`` for every query ``i``, one call per query, ``repeats`` passes; the last pass's
    results and the best pass's queries/second (timed calls only)."""
    found: list = []
    best = float("inf")
    for _ in range(repeats):
        found, seconds = time_calls(search, n_queries)
        best = min(best, sum(seconds))
    return found, n_queries / best


def evaluate_specs(specs: Sequence[IndexSpec], vectors: np.ndarray, queries: np.ndarray, k: int = 10,
                   repeats: int = 3, train: np.ndarray | None = None,
                   progress: Callable[[str], None] | None = None) -> pd.DataFrame:
    """Recall@k vs exact search, queries/s (one query per call, best of ``repeats``), bytes/vector."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    queries = np.ascontiguousarray(queries, dtype=np.float32)
    truth = exact_neighbours(vectors, queries, k)
    flat_bytes = 4.0 * vectors.shape[1]
    rows = []
    for spec in specs:
        if progress:
            progress(spec.name)
        t0 = time.perf_counter()
        index = build_index(spec, vectors, train)
        build_s = time.perf_counter() - t0
        rows_found, qps = _time_search(lambda i, ix=index: ix.search(queries[i:i + 1], k)[1], len(queries),
                                       repeats)
        ids = np.vstack(rows_found)
        bpv = bytes_per_vector(index)
        rows.append({"config": spec.name, "factory": spec.factory, "params": dict(spec.params),
                     f"recall@{k}": recall_at_k(ids, truth, k), "qps": qps, "bytes_per_vector": bpv,
                     "memory_reduction_x": flat_bytes / bpv, "build_s": build_s,
                     "vectors": len(vectors)})
    return pd.DataFrame(rows).set_index("config")


def default_specs(dim: int, n_vectors: int) -> list[IndexSpec]:
    """A spread of configurations valid for ``n_vectors`` vectors of ``dim`` dims."""
    nlist = int(max(4, min(4096, 4 * np.sqrt(n_vectors))))
    nlist = 1 << int(np.log2(nlist))
    while nlist * 39 > n_vectors and nlist > 1:
        nlist //= 2
    candidates = [
        IndexSpec("Flat (exact)", "Flat"),
        IndexSpec("SQ8", "SQ8"),
        IndexSpec(f"IVF{nlist},Flat nprobe=8", f"IVF{nlist},Flat", {"nprobe": 8}),
        IndexSpec(f"IVF{nlist},Flat nprobe=32", f"IVF{nlist},Flat", {"nprobe": 32}),
        IndexSpec("HNSW32 ef=64", "HNSW32", {"efSearch": 64}),
        IndexSpec(f"PQ{dim // 8}x8", f"PQ{dim // 8}x8"),
        IndexSpec(f"PQ{dim // 4}x8", f"PQ{dim // 4}x8"),
        IndexSpec(f"IVF{nlist},PQ{dim // 8}x8 nprobe=16", f"IVF{nlist},PQ{dim // 8}x8", {"nprobe": 16}),
        IndexSpec(f"IVF{nlist},PQ{dim // 8}x8,RFlat nprobe=16 k_factor_rf=4",
                  f"IVF{nlist},PQ{dim // 8}x8,RFlat", {"nprobe": 16, "k_factor_rf": 4}),
        IndexSpec("PCA128,Flat", "PCA128,Flat"),
        IndexSpec("PCA192,SQ8", "PCA192,SQ8"),
        IndexSpec("PCA128,SQ8", "PCA128,SQ8"),
    ]
    valid = []
    for spec in candidates:
        try:
            validate_spec(spec, dim, n_vectors)
        except InvalidInputError:
            continue
        valid.append(spec)
    return valid


def evaluate_embedding_quantization(vectors: np.ndarray, queries: np.ndarray, k: int = 10,
                                    rescore_multiplier: int = 4, repeats: int = 3) -> pd.DataFrame:
    """sentence-transformers embedding quantization (int8 / ubinary), with and without rescoring.

    Uses ``semantic_search_faiss``: documents stored as uint8 (scalar, calibrated on the corpus) or
    packed bits; queries stay float32 and, with rescoring, the top ``k * rescore_multiplier``
    candidates are re-scored with the float query against the quantized document vectors.
    """
    from sentence_transformers.util.quantization import quantize_embeddings, semantic_search_faiss

    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    queries = np.ascontiguousarray(queries, dtype=np.float32)
    truth = exact_neighbours(vectors, queries, k)
    rows = []
    for precision in ("uint8", "ubinary"):
        corpus = quantize_embeddings(vectors, precision=precision, calibration_embeddings=vectors)
        for rescore in (False, True):
            opts = {"corpus_precision": precision, "top_k": k, "calibration_embeddings": vectors,
                    "rescore": rescore, "rescore_multiplier": rescore_multiplier, "exact": True,
                    "output_index": True}
            # the first call builds the index: an untimed warm-up; every timed call reuses the index
            _, _, index = semantic_search_faiss(queries[:1], corpus_embeddings=corpus, **opts)
            out, qps = _time_search(
                lambda i, index=index, opts=opts: [h["corpus_id"] for h in semantic_search_faiss(
                    queries[i:i + 1], corpus_index=index, **opts)[0][0]], len(queries), repeats)
            found = np.array([row + [-1] * (k - len(row)) for row in out])
            bpv = corpus.nbytes / len(corpus)
            rows.append({"config": f"ST {precision}{' + rescore' if rescore else ''}",
                         "factory": f"semantic_search_faiss({precision})",
                         "params": {"rescore_multiplier": rescore_multiplier} if rescore else {},
                         f"recall@{k}": recall_at_k(found, truth, k), "qps": qps,
                         "bytes_per_vector": bpv, "memory_reduction_x": 4.0 * vectors.shape[1] / bpv,
                         "build_s": float("nan"), "vectors": len(vectors)})
    return pd.DataFrame(rows).set_index("config")


def frontier(frame: pd.DataFrame, recall_col: str = "recall@10", min_recall: float = 0.9,
             min_reduction: float = 8.0) -> pd.DataFrame:
    """Configurations meeting both bars, smallest memory first."""
    ok = frame[(frame[recall_col] >= min_recall) & (frame["memory_reduction_x"] >= min_reduction)]
    return ok.sort_values("bytes_per_vector")


def synthetic_like(real: np.ndarray, n: int, seed: int = 0, method: str = "gaussian") -> np.ndarray:
    """``n`` normalised vectors that look like ``real`` (for scaling up a small real corpus).

    ``gaussian``: draws from a multivariate Gaussian with the real vectors' mean and covariance;
    ``noisy``: real vectors resampled with replacement plus isotropic noise of the same total
    variance share (``0.3`` of the per-dimension standard deviation). Both are L2-normalised.
    """
    real = np.asarray(real, dtype=np.float64)
    if real.ndim != 2 or len(real) < 2:
        raise InvalidInputError("real must be a 2-d array with at least two vectors")
    n = check_positive_int(n, "n")
    rng = np.random.default_rng(seed)
    if method == "gaussian":
        mean = real.mean(0)
        cov = np.cov(real, rowvar=False)
        evals, evecs = np.linalg.eigh(cov)
        factor = evecs * np.sqrt(np.clip(evals, 0, None))
        out = np.empty((n, real.shape[1]), dtype=np.float32)
        for start in range(0, n, 100_000):
            m = min(100_000, n - start)
            out[start:start + m] = mean + rng.standard_normal((m, real.shape[1])) @ factor.T
    elif method == "noisy":
        sd = real.std(0)
        out = np.empty((n, real.shape[1]), dtype=np.float32)
        for start in range(0, n, 100_000):
            m = min(100_000, n - start)
            out[start:start + m] = (real[rng.integers(0, len(real), m)]
                                    + 0.3 * sd * rng.standard_normal((m, real.shape[1])))
    else:
        raise InvalidInputError(f"method must be 'gaussian' or 'noisy', got {method!r}")
    out /= np.linalg.norm(out, axis=1, keepdims=True)
    return out
