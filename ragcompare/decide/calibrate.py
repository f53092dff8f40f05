"""Measure this machine's costs (a *hardware profile*) for the decision helper (``ragcompare.decide``).

What is measured, always one query at a time after a warm-up:

* query encoding (bi-encoder, batch of one query);
* FAISS search time per index type (Flat, IVF-Flat, HNSW, IVF-PQ) at several corpus sizes, plus the
  index size in bytes and the ANN recall against exact search;
* cross-encoder latency for a rerank call of ``p`` pairs, per ``max_length`` (and INT8 dynamic
  quantization), fitted as ``overhead + p * per_pair``;
* optionally (``quality=True``, slow) nDCG@10 of bi-encoder >> cross-encoder versus ``k_retrieve``.

Corpus sizes above the real collections are reached honestly but synthetically: the real document
embeddings of cranfield + cisi are kept, and extra vectors are drawn from a multivariate Gaussian
fitted to them (their mean and full covariance), then L2-normalised like real embeddings. Queries are
always the real queries. Gaussian vectors are less clustered than real ones, so ANN recall measured on
them is, if anything, pessimistic; search time does not depend on the values for Flat and barely for
the others.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ragcompare.settings import cache_dir
from ragcompare.types import InvalidInputError, RagCompareError

FORMAT = "ragcompare.profile/1"
SHIPPED_DIR = Path(__file__).resolve().parent / "profiles"
SHIPPED_PROFILE = SHIPPED_DIR / "reference-cpu.json"
QUALITY_DATASETS = ("cranfield", "cisi")
QUALITY_KS = (10, 20, 50, 100)
QUALITY_VARIANTS = ((256, False), (128, False), (256, True), (128, True))


class ProfileError(RagCompareError):
    """A hardware profile is missing, corrupt or of an unknown format."""


# -- index families ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class IndexKind:
    """One FAISS index family: how its factory string and search parameters scale with ``n``."""

    name: str
    scaling: str  # "linear" | "sqrt" | "log": the shape fitted to measured search times
    ann: bool
    note: str

    def factory(self, n: int) -> str:
        """FAISS factory string for a corpus of ``n`` vectors."""
        if self.name == "Flat":
            return "Flat"
        if self.name == "HNSW32":
            return "HNSW32"
        nlist = nlist_for(n)
        return f"IVF{nlist},Flat" if self.name == "IVF-Flat" else f"IVF{nlist},PQ48x4fs"

    def search_params(self, n: int) -> dict[str, int]:
        """Search-time parameters used when measuring (and recommended)."""
        if self.name == "HNSW32":
            return {"efSearch": 128}
        if self.name in ("IVF-Flat", "IVF-PQ"):
            return {"nprobe": min(16, nlist_for(n))}
        return {}


INDEX_KINDS: dict[str, IndexKind] = {k.name: k for k in (
    IndexKind("Flat", "linear", False, "exact search; time grows linearly with the corpus"),
    IndexKind("IVF-Flat", "sqrt", True, "inverted lists over k-means cells (nlist ~ 4*sqrt(n), "
              "nprobe 16); full vectors"),
    IndexKind("HNSW32", "log", True, "graph index (M=32, efSearch 128); fastest search, slow build, "
              "~25% more memory than Flat"),
    IndexKind("IVF-PQ", "sqrt", True, "inverted lists + 4-bit product quantization (48 bytes -> "
              "24 bytes/vector): ~16x less memory, lower recall"),
)}


def nlist_for(n: int) -> int:
    """IVF cells for ``n`` vectors: ~4*sqrt(n), at most n/39 (FAISS wants >= 39 points per cell)."""
    return int(max(1, min(round(4 * math.sqrt(n)), n // 39)))


# -- the profile ---------------------------------------------------------------------------------------
@dataclass
class HardwareProfile:
    """Measured costs of one machine (JSON-serialisable; see :func:`calibrate`)."""

    device: str
    machine: dict
    threads: dict
    created: str
    bi_encoder: dict
    indexes: dict
    cross_encoder: dict
    quality: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    probe_ms: float | None = None
    source: str = ""

    def to_json(self) -> dict:
        """JSON-ready dict (with the format tag)."""
        d = asdict(self)
        d.pop("source")
        return {"format": FORMAT, **d}

    def save(self, path: str | Path) -> Path:
        """Write the profile as JSON."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json(), indent=1) + "\n")
        return path

    @classmethod
    def load(cls, path: str | Path) -> HardwareProfile:
        """Read a profile written by :meth:`save` (validates the format)."""
        path = Path(path)
        if not path.is_file():
            raise ProfileError(f"no hardware profile at {path}")
        try:
            data = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise ProfileError(f"{path} is not valid JSON: {e}") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ProfileError(f"{path} is not a ragcompare hardware profile ({FORMAT})")
        data.pop("format")
        try:
            return cls(**data, source=str(path))
        except TypeError as e:
            raise ProfileError(f"{path}: {e}") from None

    @property
    def label(self) -> str:
        """Short human description: device, CPU/GPU name, threads."""
        gpu = self.machine.get("gpu")
        what = gpu if self.device != "cpu" and gpu else self.machine.get("cpu", "?")
        return f"{self.device.upper()}: {what} (torch threads {self.threads.get('torch')})"


def user_profile_path(device: str = "cpu") -> Path:
    """Where ``ragcompare calibrate`` saves this user's profile (in the cache dir)."""
    return cache_dir() / "profiles" / f"{device}.json"


def available_profiles() -> dict[str, Path]:
    """Profiles that exist here, by device: the user's own replace the shipped ones."""
    found: dict[str, Path] = {}
    for folder in (SHIPPED_DIR, cache_dir() / "profiles"):  # later folders win
        for p in sorted(folder.glob("*.json")) if folder.is_dir() else []:
            try:
                found[HardwareProfile.load(p).device] = p
            except ProfileError:
                continue
    return found


def load_profile(which: str | Path | HardwareProfile | None = None) -> HardwareProfile:
    """A profile by device name ("cpu", "cuda"), by path, or the default (user's cpu, else shipped)."""
    if isinstance(which, HardwareProfile):
        return which
    if which is None:
        which = "cpu"
    if isinstance(which, Path) or str(which).endswith(".json"):
        return HardwareProfile.load(which)
    profiles = available_profiles()
    if which not in profiles:
        raise ProfileError(f"no measured {which!r} profile here (have: {', '.join(profiles) or 'none'})"
                           f"; run `ragcompare calibrate` on that hardware to create one")
    return HardwareProfile.load(profiles[which])


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
    """Synthetic document vectors from a Gaussian fitted to real embeddings (mean + covariance)."""

    def __init__(self, real: np.ndarray, seed: int = 0) -> None:
        if real.ndim != 2 or real.shape[0] < 2:
            raise InvalidInputError("need at least two real vectors to fit a Gaussian")
        self.real = np.ascontiguousarray(real, dtype=np.float32)
        self.mean = real.mean(axis=0)
        cov = np.cov(real, rowvar=False)
        vals, vecs = np.linalg.eigh(cov)
        self.transform = (vecs * np.sqrt(np.clip(vals, 0, None))).T.astype(np.float32)
        self.rng = np.random.default_rng(seed)

    def corpus(self, n: int) -> np.ndarray:
        """``n`` vectors: the real ones first, then Gaussian samples, all L2-normalised."""
        if n <= len(self.real):
            return self.real[:n].copy()
        extra = n - len(self.real)
        out = [self.real]
        for start in range(0, extra, 100_000):
            m = min(100_000, extra - start)
            z = self.rng.standard_normal((m, self.real.shape[1]), dtype=np.float32)
            x = z @ self.transform + self.mean
            x /= np.linalg.norm(x, axis=1, keepdims=True)
            out.append(x.astype(np.float32))
        return np.vstack(out)


def build_index(vectors: np.ndarray, kind: str, train_max: int = 50_000, seed: int = 0):
    """Build the FAISS index of family ``kind`` over ``vectors`` (inner product)."""
    import faiss

    spec = INDEX_KINDS[kind]
    n, d = vectors.shape
    index = faiss.index_factory(d, spec.factory(n), faiss.METRIC_INNER_PRODUCT)
    if not index.is_trained:
        rows = np.random.default_rng(seed).permutation(n)[:train_max]
        index.train(vectors[np.sort(rows)])
    index.add(vectors)
    ps = faiss.ParameterSpace()
    for key, value in spec.search_params(n).items():
        ps.set_index_parameter(index, key, value)
    return index


def speed_probe(reps: int = 7) -> float:
    """Median ms of a fixed torch workload (one MiniLM-sized layer's matmuls, current threads).

    Stored in the profile; measuring it again later gives the current slowdown (e.g. other jobs
    competing for the CPU): ``speed_probe() / profile.probe_ms``.
    """
    import torch

    g = torch.Generator().manual_seed(0)
    x = torch.randn(128, 384, generator=g)
    w1, w2 = torch.randn(384, 1536, generator=g), torch.randn(1536, 384, generator=g)
    times = []
    with torch.inference_mode():
        for _ in range(reps + 1):
            t0 = time.perf_counter()
            for _ in range(8):
                (x @ w1).relu_() @ w2
            times.append(time.perf_counter() - t0)
    return float(np.median(times[1:]) * 1000)


def _time_calls(fn: Callable[[int], object], n: int, warmup: int = 1) -> list[float]:
    for i in range(warmup):
        fn(i)
    out = []
    for i in range(n):
        t0 = time.perf_counter()
        fn(i)
        out.append(time.perf_counter() - t0)
    return out


def _ms(seconds: Sequence[float]) -> dict[str, float]:
    ms = np.asarray(seconds) * 1000
    return {"p50_ms": float(np.percentile(ms, 50)), "p95_ms": float(np.percentile(ms, 95)),
            "samples": len(ms)}


def measure_indexes(scale: GaussianScaleUp, queries: np.ndarray, sizes: dict[str, Sequence[int]],
                    n_queries: int = 40, k: int = 100,
                    log: Callable[[str], None] = print) -> dict[str, dict]:
    """Search p50/p95, bytes, build time and recall@10/@100 per index family and corpus size."""
    import faiss

    out: dict[str, dict] = {}
    q = np.ascontiguousarray(queries[:n_queries])
    for kind, kind_sizes in sizes.items():
        spec = INDEX_KINDS[kind]
        points = []
        for n in kind_sizes:
            x = scale.corpus(int(n))
            kk = min(k, int(n))
            exact = faiss.IndexFlatIP(x.shape[1])
            exact.add(x)
            _, truth = exact.search(q, kk)
            t0 = time.perf_counter()
            index = build_index(x, kind)
            build_s = time.perf_counter() - t0
            times = _time_calls(lambda i, index=index, kk=kk: index.search(q[i % len(q)][None], kk),
                                len(q))
            _, got = index.search(q, kk)
            rec10 = np.mean([len(set(g[:10]) & set(t[:10])) / min(10, kk) for g, t in zip(got, truth)])
            rec100 = np.mean([len(set(g) & set(t)) / kk for g, t in zip(got, truth)])
            point = {"n": int(n), **_ms(times), "bytes": int(faiss.serialize_index(index).nbytes),
                     "build_s": round(build_s, 2), "recall@10": float(rec10),
                     "recall@100": float(rec100), "factory": spec.factory(int(n)),
                     "search_params": spec.search_params(int(n))}
            log(f"  {kind:8s} n={n:>8,}: p50 {point['p50_ms']:.3f} ms, recall@10 {rec10:.3f}, "
                f"build {build_s:.1f} s")
            points.append(point)
            del index, exact, x
        out[kind] = {"scaling": spec.scaling, "ann": spec.ann, "note": spec.note, "points": points}
    return out


def _stand_in_cross_encoder(max_length: int):
    """MiniLM-L6 with a fresh 1-label head: the same compute as ms-marco-MiniLM-L-6 (timing only)."""
    from sentence_transformers import CrossEncoder

    from ragcompare.models.pack import base_model_path

    return CrossEncoder(str(base_model_path()), num_labels=1, max_length=max_length, device="cpu",
                        local_files_only=True)


def load_reranker_for_timing(max_length: int, log: Callable[[str], None] = print):
    """The shipped/hub reranker if any, else an architecture stand-in; returns (name, model, note)."""
    from ragcompare.models.resolve import ModelNotAvailableError, load_cross_encoder, pick_reranker

    try:
        name = pick_reranker(None)
        return name, load_cross_encoder(name, max_length=max_length), ""
    except ModelNotAvailableError:
        note = ("no trained reranker available: timed an untrained MiniLM-L6 cross-encoder "
                "(same architecture and compute as cross-encoder/ms-marco-MiniLM-L-6-v2)")
        log(f"  {note}")
        return "MiniLM-L6 (architecture stand-in)", _stand_in_cross_encoder(max_length), note


def int8(model):
    """Dynamic INT8 quantization of a CrossEncoder's linear layers (torch, CPU), in place."""
    import torch
    from torch.ao.quantization import quantize_dynamic

    quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8, inplace=True)
    return model


def measure_cross_encoder(query_texts: Sequence[str], doc_texts: Sequence[str],
                          max_lengths: Sequence[int] = (128, 256), pair_counts: Sequence[int] = (4, 16, 48),
                          reps: int = 3, batch_size: int = 32, with_int8: bool = True,
                          log: Callable[[str], None] = print) -> dict:
    """Latency of one rerank call of ``p`` real (query, document) pairs; linear fit per setting."""
    import warnings

    rng = np.random.default_rng(0)
    name, model, note = load_reranker_for_timing(max_lengths[0], log)
    settings: dict[str, dict] = {}
    variants = [(ml, False) for ml in max_lengths]
    if with_int8:
        variants += [(ml, True) for ml in max_lengths]
    quantized = False
    for ml, quant in variants:
        if quant and not quantized:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model = int8(model)
            quantized = True
        model.max_seq_length = ml
        points = []
        for p in pair_counts:
            def call(i: int, p: int = p, model=model) -> None:
                q = query_texts[int(rng.integers(len(query_texts)))]
                docs = [doc_texts[j] for j in rng.integers(len(doc_texts), size=p)]
                model.predict([(q, d) for d in docs], batch_size=batch_size, show_progress_bar=False)

            times = _time_calls(call, reps)
            points.append({"pairs": int(p), **_ms(times)})
        fit = fit_linear([pt["pairs"] for pt in points], [pt["p50_ms"] for pt in points])
        fit95 = fit_linear([pt["pairs"] for pt in points], [pt["p95_ms"] for pt in points])
        key = f"{ml}{'-int8' if quant else ''}"
        settings[key] = {"max_length": ml, "int8": quant, "points": points,
                         "overhead_ms": fit[0], "ms_per_pair": fit[1],
                         "p95_overhead_ms": fit95[0], "p95_ms_per_pair": fit95[1],
                         "pairs_per_s": 1000.0 / fit[1] if fit[1] > 0 else None}
        log(f"  cross-encoder max_length={ml}{' INT8' if quant else ''}: "
            f"{fit[1]:.1f} ms/pair + {fit[0]:.1f} ms per call")
    return {"model": name, "batch_size": batch_size, "note": note, "settings": settings}


def fit_linear(x: Sequence[float], y: Sequence[float]) -> tuple[float, float]:
    """Non-negative least-squares fit ``y = a + b*x`` weighted by 1/y (relative errors)."""
    x_arr, y_arr = np.asarray(x, float), np.asarray(y, float)
    w = 1.0 / np.maximum(y_arr, 1e-9)
    a_mat = np.stack([np.ones_like(x_arr), x_arr], axis=1) * w[:, None]
    coef, *_ = np.linalg.lstsq(a_mat, y_arr * w, rcond=None)
    a, b = float(coef[0]), float(coef[1])
    if b < 0:
        return float(np.average(y_arr, weights=w)), 0.0
    if a < 0:
        b = float(np.sum(x_arr * y_arr * w * w) / np.sum(x_arr * x_arr * w * w))
        return 0.0, b
    return a, b


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
    times = _time_calls(lambda i: m.encode([texts[i]], normalize_embeddings=True), n, warmup=2)
    tokens = [query_tokens(m, t) for t in texts]
    ms = [t * 1000 for t in times]
    fit = fit_linear(tokens, ms)
    resid = np.asarray(ms) / np.maximum(fit[0] + fit[1] * np.asarray(tokens), 1e-6)
    get_dim = getattr(m, "get_embedding_dimension", None) or m.get_sentence_embedding_dimension
    return {"model": name, "dim": int(get_dim()), **_ms(times), "median_tokens": float(np.median(tokens)),
            "p95_tokens": float(np.percentile(tokens, 95)),
            "overhead_ms": fit[0], "ms_per_token": fit[1],
            "p95_ratio": float(max(1.0, np.percentile(resid, 95) / max(np.percentile(resid, 50), 1e-6)))}


# -- quality (slow; hardware independent) ----------------------------------------------------------
def measure_quality(datasets: Sequence[str] = QUALITY_DATASETS, ks: Sequence[int] = QUALITY_KS,
                    n_queries: int = 30, variants: Sequence[tuple[int, bool]] = ((256, False),),
                    delta_k: int = 20, reranker: str | None = None, seed: int = 0,
                    rerankers: dict[str, tuple[str, str]] | None = None,
                    log: Callable[[str], None] = print) -> dict:
    """nDCG@10 of the bi-encoder and of bi-encoder >> cross-encoder at each ``k_retrieve``.

    Each sampled query's top ``max(ks)`` bi-encoder candidates are scored once; reranking the top
    ``k`` for every ``k`` in ``ks`` reuses those scores (a pair's score does not depend on the other
    candidates). The first of ``variants`` (max_length, int8) gives the full curve; the others are
    measured on the top ``delta_k`` only and stored as a difference to the first. ``rerankers``
    maps a collection to (name to record, model path) when the reranker is not resolvable by name
    yet; otherwise ``reranker`` or ``models.pick_reranker`` (held-out) is used.
    """
    from ragcompare.data.beir import load_dataset
    from ragcompare.eval.metrics import evaluate
    from ragcompare.models.resolve import (
        load_cross_encoder,
        pick_reranker,
        resolve_model,
        training_collections,
    )
    from ragcompare.retrieval.dense import BiEncoderRetriever
    from ragcompare.types import Hit

    out: dict[str, dict] = {}
    bi = None
    for name in datasets:
        ds = load_dataset(name)
        rr_name, rr = (rerankers or {}).get(name) or (None, reranker or pick_reranker(name))
        rr_name = rr_name or rr
        trained_on = training_collections(resolve_model(rr, "cross-encoder"))
        if not trained_on and Path(rr).is_dir() and (Path(rr).parent / "results.json").is_file():
            results = json.loads((Path(rr).parent / "results.json").read_text())
            trained_on = {c.lower() for c in results.get("training_collections", [])}
        held_out = name.lower() not in trained_on
        texts = ds.texts
        if bi is None:
            bi = BiEncoderRetriever(show_progress=False)
        bi.index(texts)
        qids = list(ds.queries)
        all_first = dict(zip(qids, bi.search([ds.queries[q] for q in qids], max(ks))))
        full = evaluate({q: all_first[q] for q in qids}, ds.qrels, ["ndcg@10"])["ndcg@10"]
        sample = ds.sample_queries(n_queries, seed)
        first = {q: all_first[q] for q in sample}
        bi_sample = evaluate(first, ds.qrels, ["ndcg@10"])["ndcg@10"]
        entry: dict[str, object] = {"reranker": rr_name, "held_out": held_out,
                                    "trained_on": sorted(trained_on), "queries_total": len(qids),
                                    "queries_sampled": len(sample), "bi_encoder_all": full,
                                    "bi_encoder": bi_sample, "hybrid": {}, "deltas": {}}
        for vi, (ml, quant) in enumerate(variants):
            ce = load_cross_encoder(rr, max_length=ml)
            if quant:
                import warnings

                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    ce = int8(ce)
            depth = max(ks) if vi == 0 else delta_k
            t0 = time.perf_counter()
            scores = {q: ce.predict([(ds.queries[q], texts[h.doc_id]) for h in first[q][:depth]],
                                    batch_size=32, show_progress_bar=False) for q in sample}
            curve = {}
            for k in (ks if vi == 0 else (delta_k,)):
                res = {}
                for q in sample:
                    head = first[q][:k]
                    order = np.argsort(-np.asarray(scores[q][:k]), kind="stable")
                    res[q] = [Hit(head[i].doc_id, float(len(head) - r)) for r, i in enumerate(order)]
                curve[str(k)] = evaluate(res, ds.qrels, ["ndcg@10"])["ndcg@10"]
            key = f"{ml}{'-int8' if quant else ''}"
            log(f"  {name} {key}: {curve} ({time.perf_counter() - t0:.0f} s)")
            if vi == 0:
                entry["hybrid"] = curve
                entry["curve_setting"] = key
            else:
                entry["deltas"][key] = {"k": delta_k,
                                        "delta": curve[str(delta_k)] - entry["hybrid"][str(delta_k)]}
        out[name] = entry
    return {"metric": "ndcg@10", "datasets": out, "ks": list(ks)}


def update_quality(path: str | Path | None = None, n_queries: int = 30,
                   log: Callable[[str], None] = print) -> HardwareProfile:
    """Re-measure only the quality curves (e.g. after a new reranker ships) into an existing profile
    (default: the user's CPU profile if any, else the shipped one)."""
    path = Path(path) if path else Path(load_profile().source)
    profile = HardwareProfile.load(path)
    set_threads(1)
    profile.quality = measure_quality(n_queries=n_queries, variants=QUALITY_VARIANTS, log=log)
    profile.save(path)
    log(f"saved {path}")
    return profile


# -- the whole run -----------------------------------------------------------------------------------
DEFAULT_SIZES = {"Flat": (1_000, 10_000, 100_000), "IVF-Flat": (10_000, 30_000, 100_000),
                 "HNSW32": (1_000, 10_000, 30_000), "IVF-PQ": (10_000, 30_000, 100_000)}
QUICK_SIZES = {"Flat": (1_000, 4_000), "IVF-Flat": (2_000, 4_000), "HNSW32": (1_000, 4_000),
               "IVF-PQ": (2_000, 4_000)}


def set_threads(n: int = 1) -> dict[str, int]:
    """Pin torch and FAISS to ``n`` threads (avoids oversubscription when other jobs run)."""
    import faiss
    import torch

    torch.set_num_threads(n)
    faiss.omp_set_num_threads(n)
    return {"torch": torch.get_num_threads(), "faiss": n}


def calibrate(quick: bool = False, threads: int | None = 1, quality: bool | dict = False,
              output: str | Path | None = None, save: bool = True,
              log: Callable[[str], None] = print) -> HardwareProfile:
    """Measure this machine and return (and by default save) its hardware profile.

    ``quality=False`` copies the quality curves from the shipped profile (quality does not depend on
    hardware); ``True`` re-measures them (needs a reranker; slow); a dict is used as is.
    """
    import faiss
    import torch

    before = (torch.get_num_threads(), faiss.omp_get_max_threads())
    try:
        return _calibrate(quick, threads, quality, output, save, log)
    finally:
        torch.set_num_threads(before[0])
        faiss.omp_set_num_threads(before[1])


def _calibrate(quick: bool, threads: int | None, quality: bool | dict, output: str | Path | None,
               save: bool, log: Callable[[str], None]) -> HardwareProfile:
    import torch

    from ragcompare.data.beir import load_dataset
    from ragcompare.sysinfo import machine_info

    thread_info = set_threads(threads) if threads else {"torch": torch.get_num_threads(),
                                                        "faiss": None}
    t_start = time.perf_counter()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    log(f"calibrating ({'quick' if quick else 'full'}) on {device}, threads {thread_info}")
    probe_before = speed_probe()
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
        qual = measure_quality(n_queries=5 if quick else 30, variants=QUALITY_VARIANTS, log=log)
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
    info = machine_info()
    profile = HardwareProfile(device=device, machine=info, threads=thread_info,
                              created=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                              bi_encoder=enc, indexes=indexes, cross_encoder=ce, quality=qual,
                              notes=notes, probe_ms=round(probe, 3))
    if save:
        path = profile.save(output or user_profile_path(device))
        profile.source = str(path)
        log(f"saved {path}")
    return profile
