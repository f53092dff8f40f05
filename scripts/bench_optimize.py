"""Cross-encoder / bi-encoder inference optimizations measured side by side in one run.

    python scripts/bench_optimize.py --dataset cranfield --threads 1 --out results/optimize
    python scripts/bench_optimize.py --dataset cranfield,cisi --sections ce --max-length 128


Cross-encoder: the sentence-transformers PyTorch fp32 model versus ONNX Runtime fp32, fused fp32
and dynamic INT8, reranking the same bi-encoder top-``k`` candidates of every query (interleaved
query by query, same thread count); nDCG@10 of each rerank. The reranker is
``pick_reranker(dataset)``: one that never saw the collection's judgments (held out).
With several collections (comma-separated) the cross-encoder comparison runs on each, each with
its own held-out reranker, and is also pooled over all their queries (with a paired t-test).
Also: bi-encoder ONNX/INT8, length-sorted vs naive batching, replica processes, embedding cache.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from ragcompare.eval import (
    ResultSet,
    batching_comparison,
    compare_rerankers,
    evaluate,
    file_size_mb,
    interpolated_results,
    measure_interleaved,
    pool_comparisons,
    replica_scoring,
    rerank_candidates,
    retrieve,
    score_agreement,
    time_calls,
)
from ragcompare.rerank import VARIANTS, OnnxCrossEncoderReranker, onnx_bi_encoder


def cross_encoder_section(rs: ResultSet, a: argparse.Namespace, dataset, first,
                          extras: bool = True) -> tuple:
    """Compare the variants on one collection; returns (frame, {"pure"|"interpolated": results})."""
    from ragcompare.models.resolve import pick_reranker
    from ragcompare.rerank.cross_encoder import CrossEncoderReranker

    name = a.cross_encoder or pick_reranker(dataset.name)
    queries = dataset.sample_queries(a.queries, seed=0)
    cands = rerank_candidates(first, dataset, queries, a.k)
    rerankers = {"torch fp32 (sentence-transformers)":
                 CrossEncoderReranker(name, max_length=a.max_length, batch_size=a.batch_size)}
    for v in a.variants.split(","):
        rerankers[v] = OnnxCrossEncoderReranker(name, v, a.max_length, a.batch_size, a.threads)
    print(f"cross-encoder {name}: {len(queries)} queries x {a.k} candidates, {a.threads} thread(s)")
    frame, results = compare_rerankers(rerankers, queries, cands, dataset.qrels,
                                                progress=True)
    if a.alpha is not None:  # the same scores, fused with the first stage's (no extra model time)
        mixed = interpolated_results(first, queries, results, a.alpha)
        results = {"pure": results, "interpolated": mixed}
        metric = f"ndcg@10_interpolated_alpha{a.alpha:g}"
        frame[metric] = [evaluate(mixed[v], dataset.qrels, ["ndcg@10"])["ndcg@10"] for v in frame.index]
        base = frame[metric].iloc[0]
        frame[f"{metric}_rel_change_%"] = 100.0 * (frame[metric] - base) / base
    else:
        results = {"pure": results}
    sizes = {"torch fp32 (sentence-transformers)": np.nan}
    sizes.update({v: file_size_mb(r.onnx_path) for v, r in rerankers.items() if v in
                  VARIANTS})
    frame["model_mb"] = pd.Series(sizes)
    # score agreement over the first queries' pairs
    pairs = [(queries[q], t) for q in list(cands)[:10] for t in cands[q].values()]
    base = rerankers["torch fp32 (sentence-transformers)"].score_pairs(pairs)
    agree = {v: score_agreement(base, r.score_pairs(pairs)) for v, r in rerankers.items()}
    frame = frame.join(pd.DataFrame(agree).T)
    rs.settings[f"cross_encoder_{dataset.name}"] = name
    rs.add(f"cross_encoder_{dataset.name}", frame)
    print(frame.round(4).to_string())
    if not extras:
        return frame, results

    # batching: whole-list (sorted inside) vs naive fixed-order chunks, all candidates of some queries
    items = [(queries[q], t) for q in list(cands)[:a.batch_queries] for t in cands[q].values()]
    rng = np.random.default_rng(0)
    items = [items[i] for i in rng.permutation(len(items))]  # arrival order, not retrieval order
    tok = rerankers["onnx-int8"].model.runner
    lengths = tok.lengths([p[0] for p in items], [p[1] for p in items])
    rows = []
    for label in ("torch fp32 (sentence-transformers)", "onnx-int8"):
        ce = rerankers[label]
        b = batching_comparison(lambda xs, ce=ce: ce.score_pairs(xs), items, lengths,
                                         a.batch_size, repeats=2)
        rows.append(b.assign(model=label))
    batching = pd.concat(rows)
    rs.add("batching", batching)
    print(batching.round(3).to_string())

    if a.replicas:
        sample = items[: a.replica_pairs]
        single = rerankers["torch fp32 (sentence-transformers)"]
        one = time_calls(lambda _i: single.score_pairs(sample), 1)[1][0]
        rep = replica_scoring(name, sample, processes=2, max_length=a.max_length,
                                       batch_size=a.batch_size)
        rep_frame = pd.DataFrame([{"setup": "1 process x 1 thread", "seconds": one,
                                   "pairs_per_s": len(sample) / one},
                                  {"setup": "2 processes x 1 thread (ST multi-process pool)",
                                   "seconds": rep["seconds"], "pairs_per_s": rep["pairs_per_s"]}]
                                 ).set_index("setup")
        rs.add("replicas", rep_frame)
        print(rep_frame.round(2).to_string())
    return frame, results


def bi_encoder_section(rs: ResultSet, a: argparse.Namespace, dataset) -> None:
    from ragcompare.retrieval.dense import BiEncoderRetriever

    torch_bi = BiEncoderRetriever(show_progress=False)
    encoders = {"torch fp32 (sentence-transformers)": torch_bi}
    for v in VARIANTS:
        encoders[v] = onnx_bi_encoder(variant=v, threads=a.threads, show_progress=False)
    texts = list(dataset.texts.values())
    sample = texts[: a.encode_docs]
    timing = measure_interleaved(
        {n: (lambda r=r: r._encode(r.model, sample, False)) for n, r in encoders.items()},
        items_per_call=len(sample), repeats=2, warmup=1)
    rows = []
    for n, r in encoders.items():
        r.index(dataset.texts)
        ndcg = evaluate(retrieve(r, dataset.queries, 100), dataset.qrels, ["ndcg@10"])["ndcg@10"]
        rows.append({"variant": n, "ndcg@10": ndcg})
    frame = timing[["throughput_per_s", "p50_ms"]].rename(
        columns={"throughput_per_s": "docs_per_s", "p50_ms": "batch_ms"}).join(
        pd.DataFrame(rows).set_index("variant"))
    base = frame.iloc[0]
    frame["speedup"] = frame["docs_per_s"] / base["docs_per_s"]
    frame["ndcg@10_rel_change_%"] = 100 * (frame["ndcg@10"] - base["ndcg@10"]) / base["ndcg@10"]
    rs.add("bi_encoder", frame)
    print(frame.round(4).to_string())


def cache_section(rs: ResultSet, a: argparse.Namespace, dataset) -> None:
    from ragcompare.retrieval.cache import EmbeddingCache
    from ragcompare.retrieval.dense import BiEncoderRetriever

    docs = dict(list(dataset.texts.items())[: a.encode_docs])
    with tempfile.TemporaryDirectory() as tmp:
        r = BiEncoderRetriever(show_progress=False)
        r.cache = EmbeddingCache(r.cache.model, Path(tmp) / "emb.sqlite")
        rows = []
        for run in ("first run (cold cache)", "re-run (warm cache)"):
            before_h, before_m = r.cache.hits, r.cache.misses
            secs = time_calls(lambda _i, r=r: r.index(docs), 1)[1][0]
            hits, misses = r.cache.hits - before_h, r.cache.misses - before_m
            rows.append({"run": run, "seconds": secs, "hits": hits, "misses": misses,
                         "hit_rate": hits / (hits + misses)})
    frame = pd.DataFrame(rows).set_index("run")
    frame["time_saved_%"] = 100 * (1 - frame["seconds"] / frame["seconds"].iloc[0])
    rs.add("cache", frame)
    print(frame.round(3).to_string())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", default="cranfield", help="collection(s), comma-separated")
    p.add_argument("--cross-encoder", default=None, help="default: pick_reranker(dataset)")
    p.add_argument("--threads", type=int, default=1, help="torch and ONNX Runtime intra-op threads")
    p.add_argument("--queries", type=int, default=None, help="sample of queries (default all)")
    p.add_argument("-k", type=int, default=20, help="candidates reranked per query")
    p.add_argument("--max-length", type=int, default=256)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--batch-queries", type=int, default=10, help="queries pooled for batching test")
    p.add_argument("--encode-docs", type=int, default=256, help="docs timed for bi-encoder/cache")
    p.add_argument("--replicas", action="store_true", help="also time 2 replica processes")
    p.add_argument("--replica-pairs", type=int, default=160)
    p.add_argument("--alpha", type=float, default=0.5,
                   help="also score alpha*z(CE)+(1-alpha)*z(bi-encoder) reranking; -1 to skip")
    p.add_argument("--variants", default=",".join(VARIANTS), help="ONNX variants to compare")
    p.add_argument("--sections", default="ce,bi,cache")
    p.add_argument("--out", default="results/optimize")
    a = p.parse_args()
    a.alpha = None if a.alpha < 0 else a.alpha


    from ragcompare.data.beir import load_dataset
    from ragcompare.retrieval.dense import BiEncoderRetriever
    from ragcompare.sysinfo import describe_machine, set_threads

    set_threads(a.threads)
    datasets = [load_dataset(n) for n in a.dataset.split(",")]
    dataset = datasets[0]
    print(f"machine: {describe_machine()}")
    rs = ResultSet(f"optimize_{a.dataset.replace(',', '+')}",
                   settings={**vars(a), "command": " ".join(sys.argv)})
    sections = set(a.sections.split(","))
    if "ce" in sections:
        parts = {}
        for i, ds in enumerate(datasets):
            first = BiEncoderRetriever(show_progress=False).index(ds.texts)
            frame, results = cross_encoder_section(rs, a, ds, first, extras=i == 0)
            parts[ds.name] = (frame, results, ds.qrels)
        if len(parts) > 1:
            for mode in next(iter(parts.values()))[1]:
                pooled = pool_comparisons(
                    {c: (f, res[mode], qr) for c, (f, res, qr) in parts.items()})
                key = "cross_encoder_pooled" + ("" if mode == "pure" else f"_{mode}")
                rs.add(key, pooled)
                print(f"pooled over {' + '.join(parts)}: {mode} reranking"
                      + (f" (alpha={a.alpha:g})" if mode != "pure" else ""))
                print(pooled.round(4).to_string())
    if "bi" in sections:
        bi_encoder_section(rs, a, dataset)
    if "cache" in sections:
        cache_section(rs, a, dataset)
    for path in rs.save(a.out):
        print("wrote", path)


if __name__ == "__main__":
    main()
