"""Head-to-head benchmark of the ranking architectures on one judged collection.

Every pipeline is timed one query at a time (as a search service sees them) after a warm-up query;
quality comes from ranx over the same queries, and every row carries its difference to the bi-encoder
on those queries with a paired 95% interval and p-value (:mod:`ragcompare.eval.comparison`). Rows
measured on a sample of the queries are flagged and kept out of the full-set table. Machine and
settings travel with the numbers.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field

import pandas as pd

from ragcompare.checks import check_alpha, check_choice, check_int, check_max_length, check_positive_int
from ragcompare.data.beir import Dataset
from ragcompare.eval.comparison import compare, compare_runs, format_p
from ragcompare.eval.metrics import DEFAULT_METRICS, check_metrics, evaluate
from ragcompare.eval.timing import latency_stats, time_queries
from ragcompare.sysinfo import machine_info
from ragcompare.types import InvalidInputError, Results


@dataclass
class BenchRecord:
    """One pipeline's measured quality and latency, with the settings that produced them."""

    name: str
    metrics: dict[str, float]
    latency: dict[str, float]
    settings: dict[str, object]
    queries_evaluated: int
    notes: list[str] = field(default_factory=list)
    sampled: bool = False
    comparison: dict[str, dict[str, object]] = field(default_factory=dict)
    """Per metric: the difference to the baseline on this record's queries (``Difference.to_dict``)."""


@dataclass
class BenchReport:
    """All records of one benchmark run plus the machine description."""

    dataset: str
    records: list[BenchRecord]
    machine: dict[str, object]
    setup_seconds: dict[str, float]

    def to_frame(self, sampled: bool = False, metric: str | None = None) -> pd.DataFrame:
        """One row per pipeline measured on all queries (``sampled=True``: on a sample): metrics,
        p50/p95 latency, queries, the difference in ``metric`` (default: the first) to the
        baseline with its 95% interval and p-value, notes."""
        rows = []
        for r in self.records:
            if r.sampled != sampled:
                continue
            m = metric or next(iter(r.metrics))
            row = {"pipeline": r.name, **r.metrics, "p50_ms": r.latency["p50_ms"],
                   "p95_ms": r.latency["p95_ms"], "queries": r.queries_evaluated}
            d = r.comparison.get(m)
            if d:
                row[f"Δ {m} vs {d['baseline']}"] = d["diff"]
                row["95% CI"] = f"[{d['low']:+.3f}, {d['high']:+.3f}]" if r.name != d["baseline"] else ""
                row["p"] = format_p(d["p_value"]) if r.name != d["baseline"] else ""
            row["notes"] = "; ".join(r.notes)
            rows.append(row)
        return pd.DataFrame(rows).set_index("pipeline") if rows else pd.DataFrame()

    def to_json(self) -> dict[str, object]:
        """JSON-ready dict: dataset, machine, setup times and one record per pipeline."""
        return {"dataset": self.dataset, "machine": self.machine,
                "setup_seconds": self.setup_seconds, "records": [asdict(r) for r in self.records]}


def measure_pipeline(name: str, retriever, queries: Mapping[str, str],
                     qrels: Mapping[str, Mapping[str, int]], k: int,
                     metrics: Sequence[str] = DEFAULT_METRICS, settings: Mapping[str, object] | None = None,
                     notes: Sequence[str] = (), warmup: int = 1, progress: bool = False
                     ) -> tuple[BenchRecord, Results]:
    """One pipeline's record: each query searched alone after ``warmup`` untimed ones
    (:func:`~ragcompare.eval.timing.time_queries`), the results scored with ranx, the latencies
    summarised (:func:`~ragcompare.eval.timing.latency_stats`). Returns the record and the results."""
    results, times = time_queries(retriever, queries, k, warmup=warmup, progress=progress, desc=name)
    record = BenchRecord(name, evaluate(results, qrels, metrics), latency_stats(times), dict(settings or {}),
                         len(results), list(notes))
    return record, results


def benchmark_pipelines(pipelines: Mapping[str, object], dataset: Dataset,
                        queries: Mapping[str, str] | None = None, k: int = 100, warmup: int = 1,
                        metrics: Sequence[str] = ("ndcg@10", "recall@100"),
                        baseline: str | None = None, return_results: bool = False
                        ) -> pd.DataFrame | tuple[pd.DataFrame, dict[str, Results]]:
    """Quality and one-query-at-a-time latency of several ready retrievers on one collection
    (:func:`measure_pipeline` each), all on the same ``queries`` (default: all of them).

    Rows: pipeline; columns: metrics, the difference in the first metric to ``baseline`` (default:
    the first pipeline) with its 95% interval and p-value (see :func:`ragcompare.compare`), p50/p95/p99
    ms, queries/s, queries. A pipeline that must be sampled belongs in a table of its own.
    ``return_results=True`` also returns each pipeline's results (for further paired comparisons).
    """
    queries = queries or dict(dataset.queries)
    rows, results = [], {}
    for name, retriever in pipelines.items():
        depth = min(k, len(getattr(retriever, "doc_ids", [])) or k)
        rec, results[name] = measure_pipeline(name, retriever, queries, dataset.qrels, depth, metrics,
                                              warmup=warmup)
        lat = rec.latency
        rows.append({"pipeline": name, "p50_ms": lat["p50_ms"], "p95_ms": lat["p95_ms"],
                     "p99_ms": lat["p99_ms"], "qps": 1000.0 / lat["mean_ms"]})
    quality = compare(results, dataset.qrels, metrics, baseline=baseline)
    frame = quality.join(pd.DataFrame(rows).set_index("pipeline"))
    frame.attrs.update(quality.attrs)
    return (frame, results) if return_results else frame


FIRST_STAGES = ("bi-encoder", "bm25", "rrf")
"""The first stages a benchmark can feed to the reranker."""


def run_benchmark(dataset: Dataset, bi_encoder: str | None = None,
                  cross_encoder: str | None = None, k_retrieve: int = 20, max_length: int = 256,
                  rerank_queries: int | None = None, ce_only_queries: int = 2,
                  ce_only_max_docs: int = 5000, metrics: Sequence[str] = DEFAULT_METRICS,
                  depth: int = 100, seed: int = 0, progress: bool = True,
                  hybrid_first_stages: Sequence[str] = ("bi-encoder",),
                  alphas: Sequence[float] = (), log=print,
                  on_record: Callable[[BenchRecord, Results], None] | None = None) -> BenchReport:
    """Run BM25, bi-encoder, their RRF fusion, hybrid reranking and cross-encoder-only.

    ``hybrid_first_stages`` picks which first stages ("bi-encoder", "bm25", "rrf") feed the
    reranker; each ``alphas`` value adds, per first stage, a hybrid that interpolates the
    cross-encoder and first-stage scores (``HybridPipeline(alpha=...)``); cross-encoder-only runs
    on ``ce_only_queries`` sampled queries (it scores every document) when the corpus has at most
    ``ce_only_max_docs`` documents.

    Every argument is checked before any model loads (:class:`InvalidInputError` naming it).
    ``on_record(record, results)``, if given, is called as each pipeline finishes: a caller keeps
    what finished when the run is interrupted.
    """
    from ragcompare.models.resolve import DEFAULT_BI_ENCODER
    from ragcompare.retrieval.bm25 import BM25Retriever
    from ragcompare.retrieval.dense import BiEncoderRetriever
    from ragcompare.retrieval.fusion import FusionRetriever

    # Fail before the long runs, not after them.
    if not isinstance(dataset, Dataset):
        raise InvalidInputError(f"dataset must be a Dataset (load_dataset), got {type(dataset).__name__}")
    k_retrieve = check_positive_int(k_retrieve, "k_retrieve")
    max_length = check_max_length(max_length, None)  # the model's positions: checked when it loads
    rerank_queries = None if rerank_queries is None else check_positive_int(rerank_queries,
                                                                             "rerank_queries")
    ce_only_queries = check_int(ce_only_queries, "ce_only_queries", minimum=0)
    ce_only_max_docs = check_int(ce_only_max_docs, "ce_only_max_docs", minimum=0)
    depth = check_positive_int(depth, "depth")
    seed = check_int(seed, "seed")
    metrics = check_metrics(metrics)
    for name, values in (("hybrid_first_stages", hybrid_first_stages), ("alphas", alphas)):
        if isinstance(values, str) or not isinstance(values, Sequence):
            raise InvalidInputError(f"{name} must be a list, got {type(values).__name__}")
    hybrid_first_stages = [check_choice(s, "first stage", FIRST_STAGES) for s in hybrid_first_stages]
    alphas = [check_alpha(a) for a in alphas]
    for name, fn in (("log", log), ("on_record", on_record or print)):
        if not callable(fn):
            raise InvalidInputError(f"{name} must be callable, got {type(fn).__name__}")

    bi_encoder = bi_encoder or DEFAULT_BI_ENCODER
    texts = dataset.texts
    depth = min(depth, len(texts))
    setup: dict[str, float] = {}
    records: list[BenchRecord] = []
    results_of: dict[str, Results] = {}

    def record(name: str, retriever, queries: Mapping[str, str], settings: dict,
               notes: list[str] | None = None, k: int = depth, warmup: int = 1) -> Results:
        log(f"  running {name} on {len(queries)} queries ...")
        rec, results = measure_pipeline(name, retriever, queries, dataset.qrels, k, metrics, settings,
                                        notes or [], warmup, progress)
        rec.sampled = len(queries) < len(dataset.queries)
        records.append(rec)
        results_of[name] = results
        if on_record is not None:
            on_record(rec, results)
        return results

    def report() -> BenchReport:
        add_comparisons(records, results_of, dataset.qrels, "bi-encoder", metrics, seed)
        return BenchReport(dataset.name, records, machine_info(), setup)

    t0 = time.perf_counter()
    bm25 = BM25Retriever().index(texts)
    setup["bm25_index_s"] = time.perf_counter() - t0
    record("bm25", bm25, dataset.queries, {"k1": bm25.k1, "b": bm25.b, "stemmer": "snowball-en"})

    t0 = time.perf_counter()
    bi = BiEncoderRetriever(bi_encoder, show_progress=progress).index(texts)
    setup["bi_encoder_index_s"] = time.perf_counter() - t0
    hit_rate = bi.cache.hit_rate if bi.cache else 0.0
    setup["embedding_cache_hit_rate"] = hit_rate
    record("bi-encoder", bi, dataset.queries,
           {"model": bi_encoder, "index": bi.index_factory, "dim": bi.dim})

    fusion = FusionRetriever([bm25, bi], k_each=depth)
    record("rrf(bm25+bi-encoder)", fusion, dataset.queries, {"method": "rrf", "k": 60,
                                                            "k_each": depth})

    reranker = _load_reranker(cross_encoder, dataset.name, max_length, log)
    if reranker is None:
        return report()
    ce_name, ce, ce_notes = reranker
    from ragcompare.rerank.pipeline import CrossEncoderOnly, HybridPipeline

    sample = dataset.sample_queries(rerank_queries, seed)
    base = {"cross_encoder": ce_name, "max_length": max_length, "k_retrieve": k_retrieve}
    notes = list(ce_notes)
    if len(sample) < len(dataset.queries):
        notes.append(f"sampled {len(sample)} of {len(dataset.queries)} queries")
    stages = dict(zip(FIRST_STAGES, (bi, bm25, fusion)))
    for first_name in hybrid_first_stages:
        first = stages[first_name]
        for alpha in (None, *alphas):
            hybrid = HybridPipeline(first, ce, k_retrieve=k_retrieve, alpha=alpha)
            hybrid.texts = texts
            mix = "" if alpha is None else f" (alpha={alpha:g})"
            record(f"{first_name} >> cross-encoder@{k_retrieve}{mix}", hybrid, sample,
                   {**base, "first_stage": first_name, "alpha": alpha}, notes)

    if ce_only_queries > 0 and len(texts) <= ce_only_max_docs:
        few = dataset.sample_queries(ce_only_queries, seed)
        only = CrossEncoderOnly(ce).index(texts)
        t0 = time.perf_counter()
        record("cross-encoder only", only, few, {**base, "k_retrieve": len(texts)},
               [*ce_notes, f"only {len(few)} sampled queries: scores all {len(texts)} documents "
                           "per query; metrics are noisy"], k=depth, warmup=0)
        setup["cross_encoder_only_s"] = time.perf_counter() - t0
    elif ce_only_queries > 0:
        log(f"  cross-encoder only skipped: {len(texts)} documents > ce_only_max_docs")
    return report()


def add_comparisons(records: Sequence[BenchRecord], results: Mapping[str, Results],
                    qrels: Mapping[str, Mapping[str, int]], baseline: str,
                    metrics: Sequence[str] = DEFAULT_METRICS, seed: int = 0) -> None:
    """Fill each record's ``comparison``: its difference to ``baseline`` on the record's own queries
    (the baseline's results restricted to them), per metric."""
    if baseline not in results:
        return
    for r in records:
        diffs = compare_runs({baseline: results[baseline], r.name: results[r.name]}, qrels,
                             baseline, metrics, align="intersect", seed=seed)[r.name]
        r.comparison = {m: d.to_dict() for m, d in diffs.items()}


def _load_reranker(cross_encoder: str | None, dataset_name: str, max_length: int, log):
    """Load the requested (or default held-out) reranker; None with a message if unavailable."""
    from ragcompare.models.pack import check_evaluation
    from ragcompare.models.resolve import ModelNotAvailableError, pick_reranker
    from ragcompare.rerank.cross_encoder import CrossEncoderReranker

    try:
        name = cross_encoder or pick_reranker(dataset_name)
        ce = CrossEncoderReranker(name, max_length=max_length)
    except ModelNotAvailableError as e:
        log(f"  hybrid and cross-encoder-only skipped: {e}")
        return None
    notes = []
    if not check_evaluation(ce.resolved, dataset_name.lower(), strict=False):
        msg = (f"{name} was trained on {dataset_name}'s own judgments: its scores here are not a "
               "fair (held-out) evaluation")
        warnings.warn(msg, stacklevel=2)
        notes.append("NOT HELD OUT: reranker trained on this collection")
    return name, ce, notes
