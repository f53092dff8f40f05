"""Measure this machine's costs (a *hardware profile*) for the decision helper (``ragcompare calibrate``).

What is measured, always one query at a time after a warm-up, with ``ragcompare.eval.timing``:

* query encoding (bi-encoder, batch of one query);
* FAISS search time per index family (``decide.indexes``: Flat, IVF-Flat, HNSW, IVF-PQ, built by
  ``eval.ann.build_index``) at several corpus sizes, plus the index size in bytes and the ANN
  recall against exact search;
* cross-encoder latency for a rerank call of ``p`` pairs, per ``max_length``, with PyTorch and with
  ONNX Runtime dynamic INT8 (``decide.rerankers``), fitted as ``overhead + p * per_pair``;
* optionally (``quality=True``, slow: ~12 minutes on 2 cores) nDCG@10 of every reranking option on
  every judged query, with the 95% interval of its gain over the bi-encoder (``decide.quality``; not a
  timing, so it runs on every core whatever ``threads`` says).

Corpus sizes above the real collections are reached honestly but synthetically: the real document
embeddings of cranfield + cisi are kept, and extra vectors are drawn from a multivariate Gaussian
fitted to them (``eval.ann.synthetic_like``: their mean and full covariance, L2-normalised like real
embeddings). Queries are always the real queries. Gaussian vectors are less clustered than real
ones, so ANN recall measured on them is, if anything, pessimistic; search time does not depend on
the values for Flat and barely for the others.
"""

from __future__ import annotations

import datetime as _dt
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from ragcompare.checks import check_positive_int
from ragcompare.decide.fits import fit_linear
from ragcompare.decide.indexes import INDEX_KINDS
from ragcompare.decide.profile import (
    SHIPPED_PROFILE,
    HardwareProfile,
    check_profile,
    load_profile,
    user_profile_path,
)
from ragcompare.decide.quality import QUALITY_DATASETS, QUALITY_VARIANTS, measure_quality
from ragcompare.decide.rerankers import INT8_BACKEND, setting_key, setting_reranker, timing_reranker
from ragcompare.eval.timing import latency_stats, measure, time_calls
from ragcompare.storage import ArtifactError, check_writable
from ragcompare.sysinfo import restored_threads, set_threads
from ragcompare.types import InvalidInputError

DEFAULT_SIZES = {"Flat": (1_000, 10_000, 100_000), "IVF-Flat": (10_000, 30_000, 100_000),
                 "HNSW32": (1_000, 10_000, 30_000), "IVF-PQ": (10_000, 30_000, 100_000)}
QUICK_SIZES = {"Flat": (1_000, 4_000), "IVF-Flat": (2_000, 4_000), "HNSW32": (1_000, 4_000),
               "IVF-PQ": (2_000, 4_000)}


def _point(stats: dict) -> dict[str, float]:
    """The profile's latency fields from :func:`latency_stats` / :func:`measure` output."""
    return {"p50_ms": stats["p50_ms"], "p95_ms": stats["p95_ms"], "samples": stats["n"]}


# -- vectors -----------------------------------------------------------------------------------------
def real_vectors(datasets: Sequence[str] = QUALITY_DATASETS, model: str | None = None,
                 log: Callable[[str], None] = print) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Document vectors, query vectors and query texts of the real collections (embedding-cached)."""
    from ragcompare.data.beir import load_dataset
    from ragcompare.models.resolve import DEFAULT_BI_ENCODER
    from ragcompare.retrieval.dense import BiEncoderRetriever

    bi = BiEncoderRetriever(model or DEFAULT_BI_ENCODER, show_progress=False)
    docs, queries = [], []
    for name in datasets:
        ds = load_dataset(name)
        log(f"  embedding {name}: {len(ds.corpus)} documents (cached after the first run)")
        docs.append(bi.encode_documents(list(ds.texts.values())))
        queries.extend(ds.queries.values())
    qv = bi.cache.get_or_compute(["query: " + q for q in queries],
                                 lambda todo: bi.encode_queries([t[7:] for t in todo]))
    return np.vstack(docs).astype(np.float32), np.asarray(qv, dtype=np.float32), queries


class GaussianScaleUp:
    """Corpora of any size from real embeddings: the real vectors first, then Gaussian samples
    (``eval.ann.synthetic_like``). The synthetic rows of a smaller corpus are a prefix of a larger one's."""

    def __init__(self, real: np.ndarray, seed: int = 0) -> None:
        if real.ndim != 2 or real.shape[0] < 2:
            raise InvalidInputError("need at least two real vectors to fit a Gaussian")
        self.real = np.ascontiguousarray(real, dtype=np.float32)
        self.seed = seed

    def corpus(self, n: int) -> np.ndarray:
        """``n`` vectors: the real ones first, then Gaussian samples, all L2-normalised."""
        from ragcompare.eval.ann import synthetic_like

        if n <= len(self.real):
            return self.real[:n].copy()
        return np.vstack([self.real, synthetic_like(self.real, n - len(self.real), self.seed)])


# -- machine state -----------------------------------------------------------------------------------
def speed_probe(reps: int = 7) -> float:
    """Median ms of a fixed torch workload (one MiniLM-sized layer's matmuls, current threads).

    Stored in the profile; measuring it again later gives the current slowdown (e.g. other jobs
    competing for the CPU): ``speed_probe() / profile.probe_ms``.
    """
    import torch

    g = torch.Generator().manual_seed(0)
    x = torch.randn(128, 384, generator=g)
    w1, w2 = torch.randn(384, 1536, generator=g), torch.randn(1536, 384, generator=g)

    def layer() -> None:
        for _ in range(8):
            (x @ w1).relu_() @ w2

    with torch.inference_mode():
        return measure(layer, repeats=reps, warmup=1, track_memory=False)["p50_ms"]


# -- measurements ------------------------------------------------------------------------------------
def measure_indexes(scale: GaussianScaleUp, queries: np.ndarray, sizes: dict[str, Sequence[int]],
                    n_queries: int = 40, k: int = 100,
                    log: Callable[[str], None] = print) -> dict[str, dict]:
    """Search p50/p95, bytes, build time and recall@10/@100 per index family and corpus size."""
    from ragcompare.eval.ann import build_index, exact_neighbours, faiss_bytes, recall_at_k

    out: dict[str, dict] = {}
    q = np.ascontiguousarray(queries[:n_queries])
    for kind, kind_sizes in sizes.items():
        family = INDEX_KINDS[kind]
        points = []
        for n in map(int, kind_sizes):
            x = scale.corpus(n)
            kk = min(k, n)
            truth = exact_neighbours(x, q, kk)
            t0 = time.perf_counter()
            index = build_index(family.spec(n), x, family.training_sample(x))
            build_s = time.perf_counter() - t0
            _, times = time_calls(lambda i, index=index, kk=kk: index.search(q[i][None], kk), len(q),
                                  warmup=1)
            got = index.search(q, kk)[1]
            rec10, rec100 = recall_at_k(got, truth, min(10, kk)), recall_at_k(got, truth, kk)
            point = {"n": n, **_point(latency_stats(times)), "bytes": faiss_bytes(index),
                     "build_s": round(build_s, 2), "recall@10": rec10, "recall@100": rec100,
                     "factory": family.factory(n), "search_params": family.search_params(n)}
            log(f"  {kind:8s} n={n:>8,}: p50 {point['p50_ms']:.3f} ms, recall@10 {rec10:.3f}, "
                f"build {build_s:.1f} s")
            points.append(point)
            del index, x
        out[kind] = {"scaling": family.scaling, "ann": family.ann, "note": family.note, "points": points}
    return out


def measure_cross_encoder(query_texts: Sequence[str], doc_texts: Sequence[str],
                          max_lengths: Sequence[int] = (128, 256), pair_counts: Sequence[int] = (4, 16, 48),
                          reps: int = 3, batch_size: int = 32, with_int8: bool = True,
                          log: Callable[[str], None] = print) -> dict:
    """Latency of one rerank call of ``p`` real (query, document) pairs; linear fit per setting.

    Settings are ``max_length`` x backend: PyTorch, and (``with_int8``) ONNX Runtime dynamic INT8.
    """
    rng = np.random.default_rng(0)
    name, model, note = timing_reranker(log)
    settings: dict[str, dict] = {}
    variants = [(ml, False) for ml in max_lengths]
    if with_int8:
        variants += [(ml, True) for ml in max_lengths]
    for ml, quant in variants:
        reranker = setting_reranker(model, ml, quant, batch_size)
        points = []
        for p in pair_counts:
            def call(p: int = p, reranker=reranker) -> None:
                q = query_texts[int(rng.integers(len(query_texts)))]
                reranker.score_pairs([(q, doc_texts[j]) for j in rng.integers(len(doc_texts), size=p)])

            points.append({"pairs": int(p), **_point(measure(call, repeats=reps, warmup=1,
                                                             track_memory=False))})
        fit = fit_linear([pt["pairs"] for pt in points], [pt["p50_ms"] for pt in points])
        fit95 = fit_linear([pt["pairs"] for pt in points], [pt["p95_ms"] for pt in points])
        settings[setting_key(ml, quant)] = {
            "max_length": ml, "int8": quant, "backend": INT8_BACKEND if quant else "torch",
            "points": points, "overhead_ms": fit[0], "ms_per_pair": fit[1],
            "p95_overhead_ms": fit95[0], "p95_ms_per_pair": fit95[1],
            "pairs_per_s": 1000.0 / fit[1] if fit[1] > 0 else None}
        log(f"  cross-encoder max_length={ml}{' ONNX INT8' if quant else ''}: "
            f"{fit[1]:.1f} ms/pair + {fit[0]:.1f} ms per call")
    return {"model": name, "batch_size": batch_size, "note": note, "settings": settings}


def query_tokens(model, text: str) -> int:
    """Tokens the bi-encoder reads for ``text`` (after truncation)."""
    return min(len(model.tokenizer(text)["input_ids"]), int(model.max_seq_length))


def measure_encode(query_texts: Sequence[str], n: int = 40, model: str | None = None) -> dict:
    """Query-encoding latency (one query per call) of the bi-encoder, and its dependence on length.

    Pass a shuffled mix: cisi's paragraph-long queries cost more than cranfield's short ones. The fit
    ``ms = overhead + per_token * tokens`` lets predictions follow the user's query length.
    """
    from ragcompare.models.resolve import DEFAULT_BI_ENCODER, load_bi_encoder

    name = model or DEFAULT_BI_ENCODER
    m = load_bi_encoder(name)
    texts = [query_texts[i % len(query_texts)] for i in range(n)]
    _, times = time_calls(lambda i: m.encode([texts[i]], normalize_embeddings=True), n, warmup=2)
    tokens = [query_tokens(m, t) for t in texts]
    ms = [t * 1000 for t in times]
    fit = fit_linear(tokens, ms)
    resid = np.asarray(ms) / np.maximum(fit[0] + fit[1] * np.asarray(tokens), 1e-6)
    get_dim = getattr(m, "get_embedding_dimension", None) or m.get_sentence_embedding_dimension
    return {"model": name, "dim": int(get_dim()), **_point(latency_stats(times)),
            "median_tokens": float(np.median(tokens)), "p95_tokens": float(np.percentile(tokens, 95)),
            "overhead_ms": fit[0], "ms_per_token": fit[1],
            "p95_ratio": float(max(1.0, np.percentile(resid, 95) / max(np.percentile(resid, 50), 1e-6)))}


# -- the whole run -----------------------------------------------------------------------------------
def calibrate(quick: bool = False, threads: int | None = 1, quality: bool | dict = False,
              output: str | Path | None = None, save: bool = True,
              log: Callable[[str], None] = print) -> HardwareProfile:
    """Measure this machine and return (and by default save) its hardware profile.

    ``quality=False`` copies the quality curves from the shipped profile (quality does not depend on
    hardware); ``True`` re-measures them on every judged query (needs the shipped rerankers; slow, see
    :func:`~ragcompare.decide.quality.measure_quality`; ``quick`` samples 5 queries per collection); a
    dict (a ``measure_quality`` result) is used as is.

    The arguments, and that the profile can be written (``output``, or the user cache dir), are
    checked before anything is measured.
    """
    for name, flag in (("quick", quick), ("save", save)):
        if not isinstance(flag, bool):
            raise InvalidInputError(f"{name} must be True or False, got {flag!r}")
    threads = None if threads is None else check_positive_int(threads, "threads")
    if not isinstance(quality, (bool, dict)):
        raise InvalidInputError(f"quality must be True, False or a measure_quality result, got "
                                f"{type(quality).__name__}")
    if not callable(log):
        raise InvalidInputError(f"log must be callable, got {type(log).__name__}")
    if save:
        output = _writable_profile(output)
    with restored_threads():
        return _calibrate(quick, threads, quality, output, save, log)


def _writable_profile(path: str | Path | None) -> Path | None:
    """``path`` checked writable now (None: the user's profile folder is created and checked; the
    device, hence the file name, is known only once measuring starts)."""
    if path is None:
        folder = user_profile_path().parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise ArtifactError(f"cannot create the profile folder {folder}: {e.strerror or e}") from None
        check_writable(user_profile_path(), "hardware profile")
        return None
    if not isinstance(path, (str, os.PathLike)) or not str(path).strip():
        raise InvalidInputError(f"output must be a file path, got {path!r}")
    return check_writable(path, "hardware profile")


def _calibrate(quick: bool, threads: int | None, quality: bool | dict, output: str | Path | None,
               save: bool, log: Callable[[str], None]) -> HardwareProfile:
    import torch

    from ragcompare.data.beir import load_dataset
    from ragcompare.sysinfo import describe_features, describe_gemm, machine_info, measure_gemm_peaks

    thread_info = set_threads(threads) if threads else {"torch": torch.get_num_threads(),
                                                        "faiss": None}
    t_start = time.perf_counter()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    log(f"calibrating ({'quick' if quick else 'full'}) on {device}, threads {thread_info}")
    probe_before = speed_probe()
    machine = machine_info()  # includes the CPU's SIMD features (cpu_features)
    machine["gemm"] = measure_gemm_peaks(threads=thread_info["torch"])  # ~1 s: fp32/int8 GEMM peaks
    log(f"  CPU {describe_features(machine['cpu_features'])}; {describe_gemm(machine['gemm'])}")
    datasets = QUALITY_DATASETS[:1] if quick else QUALITY_DATASETS
    docs, qv, qtexts = real_vectors(datasets, log=log)
    scale = GaussianScaleUp(docs)
    mix = [qtexts[i] for i in np.random.default_rng(1).permutation(len(qtexts))]
    enc = measure_encode(mix, n=8 if quick else len(mix))  # every real query once: the length tail
    log(f"  query encoding: p50 {enc['p50_ms']:.1f} ms")
    sizes = QUICK_SIZES if quick else DEFAULT_SIZES
    indexes = measure_indexes(scale, qv, sizes, n_queries=10 if quick else 40, log=log)
    doc_texts = [t for name in datasets for t in load_dataset(name).texts.values()]
    ce = measure_cross_encoder(mix, doc_texts, max_lengths=(128, 256),
                               pair_counts=(2, 8) if quick else (4, 16, 48), reps=1 if quick else 3,
                               with_int8=True, log=log)
    if isinstance(quality, dict):
        qual = quality
    elif quality:
        qual = measure_quality(n_queries=5 if quick else None, variants=QUALITY_VARIANTS, log=log)
    else:
        qual = HardwareProfile.load(SHIPPED_PROFILE).quality if SHIPPED_PROFILE.is_file() else {}
    probe = (probe_before + speed_probe()) / 2
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    notes = [f"load average during calibration: {load[0]:.2f} on {os.cpu_count()} cores" if load
             else "load average unknown",
             f"synthetic scale-up: real {'+'.join(datasets)} document embeddings ({len(docs)}) plus vectors "
             "drawn from a Gaussian with their mean and full covariance, L2-normalised; real queries",
             f"calibration took {time.perf_counter() - t_start:.0f} s"]
    if ce["note"]:
        notes.append(ce["note"])
    profile = HardwareProfile(device=device, machine=machine, threads=thread_info,
                              created=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                              bi_encoder=enc, indexes=indexes, cross_encoder=ce, quality=qual,
                              notes=notes, probe_ms=round(probe, 3))
    if save:
        path = profile.save(output or user_profile_path(device))
        profile.source = str(path)
        log(f"saved {path}")
    return profile


def update_quality(path: str | Path | None = None, n_queries: int | None = None,
                   log: Callable[[str], None] = print) -> HardwareProfile:
    """Re-measure only the quality curves (e.g. after a new reranker ships) into an existing profile
    (default: the user's CPU profile if any, else the shipped one). ``n_queries=None`` measures every
    judged query (the protocol); a number samples that many per collection (quick checks only). Not a
    timing: it runs on every core and leaves the profile's timings as they are."""
    n_queries = None if n_queries is None else check_positive_int(n_queries, "n_queries")
    if path is not None and (not isinstance(path, (str, os.PathLike)) or not str(path).strip()):
        raise InvalidInputError(f"path must be a profile path, got {path!r}")
    path = Path(path).expanduser() if path else Path(load_profile().source)
    profile = check_profile(HardwareProfile.load(path))
    check_writable(path, "hardware profile")  # before measuring, not after
    profile.quality = measure_quality(n_queries=n_queries, variants=QUALITY_VARIANTS, log=log)
    profile.save(path)
    log(f"saved {path}")
    return profile
