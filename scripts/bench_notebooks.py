"""Generate notebooks 05 (benchmarks) and 06 (optimizations); execute them with nbconvert.

    python scripts/bench_notebooks.py            # both
    python scripts/bench_notebooks.py 06
    RAGCOMPARE_QUICK=0 jupyter nbconvert --to notebook --execute --inplace notebooks/06_optimizations.ipynb

Shares the cell helpers and the setup cell of ``scripts/make_notebooks.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from make_notebooks import SETUP, code, md, write  # noqa: E402

THREADS = '''\
import faiss
import torch

# Another job may be using the other core: with more torch threads than free cores, torch slows down
# dramatically (oversubscription). Every comparison here runs baseline and optimized side by side
# with the SAME thread count, interleaved, so background load hits both alike.
THREADS = 1
torch.set_num_threads(THREADS)
faiss.omp_set_num_threads(THREADS)
print(f"torch threads: {torch.get_num_threads()}, ONNX Runtime intra-op threads: {THREADS}")'''


def nb06() -> list:
    return [
        md("""
# 06 · Making ranking faster: ONNX Runtime, INT8, batching, compressed indexes, caching

The cross-encoder dominates the cost of a hybrid pipeline, and the vector index dominates its memory.
This notebook measures — on this machine, in one run, against the plain PyTorch model — what the usual
optimizations buy and what they cost in ranking quality.

**You will learn to**

1. export a cross-encoder and a bi-encoder to **ONNX**, fuse the graph and **quantize it to INT8**
   (dynamic quantization: no calibration data), and measure speed-up *and* nDCG@10 change together;
2. see what **length-sorted batching** saves over naive batching (and that sentence-transformers
   already does it for you);
3. choose a **FAISS index** from a recall / speed / memory frontier (Flat, IVF, PQ, IVF-PQ with exact
   re-ranking, HNSW, PCA, scalar quantization) and try sentence-transformers' **embedding
   quantization** (int8 / binary + rescoring);
4. measure the **embedding cache** and **multi-process replicas**, and report honestly when an
   optimization does not help.

The heavy lifting lives in `ragcompare.optimize`, `ragcompare.ann` and `ragcompare.perf`; the same
measurements run from the command line with `scripts/bench_optimize.py` and `scripts/bench_ann.py`.
"""),
        code(SETUP),
        code(THREADS + """

import os

from ragcompare import ann, optimize, perf
from ragcompare.bi_encoder import BiEncoderRetriever
from ragcompare.cross_encoder import CrossEncoderReranker
from ragcompare.datasets import load_dataset
from ragcompare.models import pick_reranker, training_collections

dataset = load_dataset("cranfield")
# Offline, pick_reranker returns ragcompare's own reranker that never saw this collection's
# judgments, so the quality numbers below are held-out. RAGCOMPARE_RERANKER overrides it.
reranker_name = os.environ.get("RAGCOMPARE_RERANKER") or pick_reranker(dataset.name)
# ragcompare's offline rerankers were trained on 128-token pairs and rank best at that length.
CE_MAX_LENGTH = 128
torch_ce = CrossEncoderReranker(reranker_name, max_length=CE_MAX_LENGTH, batch_size=32)
print(dataset)
print("cross-encoder:", reranker_name)
print("trained on the judgments of:", sorted(training_collections(torch_ce.resolved)) or "(hub model)")"""),
        md("""
## 1 · ONNX export and dynamic INT8 quantization

Three files are produced from the same weights, all in the cache directory (never in git):

| variant | what it is |
|---|---|
| `onnx-fp32` | the model traced to ONNX (`torch.onnx.export`), run by ONNX Runtime |
| `onnx-opt-fp32` | ONNX Runtime's optimizer fuses attention, LayerNorm and GELU into single kernels |
| `onnx-int8` | the fused graph with **int8 weights** (per output channel), activations quantized on the fly |

Why INT8 is the lever on this CPU: integer dot products (VNNI instructions) run several times faster
than float32 ones, and the weights shrink 4×. *Dynamic* quantization needs no calibration set.
(sentence-transformers' own `export_dynamic_quantized_onnx_model` does the same through `optimum`,
which does not support transformers 5 yet; `ragcompare.optimize` calls the underlying tools directly.)
"""),
        code("""
paths = optimize.prepare(reranker_name, "cross-encoder")
sizes = pd.Series({v: optimize.file_size_mb(p) for v, p in paths.items()}, name="MB")
sizes"""),
        md("""
### Side by side, same inputs, one run

Every variant reranks the **same** bi-encoder top-k candidates of the same queries. Queries are
processed one at a time (as a search service sees them) and, for each query, the variants take turns
in a rotating order — so a burst of background load cannot favour one of them. Speed is reported as
pairs scored per second; quality as nDCG@10 of the reranked list.
"""),
        code("""
bi = BiEncoderRetriever(show_progress=False).index(dataset.texts)
N_QUERIES, K = (8, 10) if QUICK else (50, 20)
queries = dataset.sample_queries(N_QUERIES, seed=0)
candidates = optimize.rerank_candidates(bi, dataset, queries, K)
rerankers = {"torch fp32": torch_ce}
# onnx-opt-fp32 runs at onnx-fp32 speed on this CPU (ORT applies most fusions itself at load time),
# so the timed comparison keeps the plain export and the INT8 model.
rerankers.update({v: optimize.OnnxCrossEncoderReranker(reranker_name, v, max_length=CE_MAX_LENGTH,
                                                         batch_size=32, threads=THREADS)
                  for v in ("onnx-fp32", "onnx-int8")})
ce_table, ce_results = optimize.compare_rerankers(rerankers, queries, candidates, dataset.qrels,
                                                  baseline="torch fp32")
print(f"{len(queries)} queries x {K} candidates = {int(ce_table['pairs'].iloc[0])} pairs per variant, "
      f"{THREADS} thread(s)")
ce_table[["pairs_per_s", "speedup", "p50_ms", "p95_ms", "ndcg@10", "ndcg@10_rel_change_%"]]"""),
        code("""
fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
ce_table["speedup"].plot.barh(ax=axes[0], color="C0")
axes[0].axvline(1, color="grey", lw=0.8)
axes[0].set_xlabel("speed-up vs torch fp32 (pairs/s)")
ce_table["ndcg@10_rel_change_%"].plot.barh(ax=axes[1], color="C1")
axes[1].axvline(0, color="grey", lw=0.8)
axes[1].set_xlabel("nDCG@10 change vs torch fp32 (%)")
axes[1].set_yticklabels([])
plt.tight_layout()"""),
        md("""
nDCG@10 over a few dozen queries moves with single swapped documents, so the score-level agreement
is a useful second view: how far the raw scores drift, and whether the *order* of candidates survives
(Spearman rank correlation with the fp32 scores).
"""),
        code("""
pairs = [(queries[q], t) for q in list(candidates)[:5] for t in candidates[q].values()]
reference = torch_ce.score_pairs(pairs)
agreement = pd.DataFrame({name: optimize.score_agreement(reference, r.score_pairs(pairs))
                          for name, r in rerankers.items()}).T
agreement"""),
        md("""
### Does the INT8 cost depend on how the score is used?

A reranker can *replace* the first stage's order (pure reranking, above) or be *interpolated* with it:
`alpha * z(CE score) + (1 - alpha) * z(bi-encoder score)`, each z-normalised per query
(`HybridPipeline(..., alpha=0.5)`). Interpolation keeps the bi-encoder's signal where the reranker is
unsure — which is also where INT8's small score errors swap candidates. The scores are the ones just
computed; only the fusion is new, so this costs no model time.
"""),
        code("""
from ragcompare.evaluate import evaluate

ALPHA = 0.5
mixed = optimize.interpolated_results(bi, queries, ce_results, alpha=ALPHA)
by_use = pd.DataFrame({
    "pure rerank": {n: evaluate(r, dataset.qrels, ["ndcg@10"])["ndcg@10"] for n, r in ce_results.items()},
    f"interpolated (alpha={ALPHA})": {n: evaluate(r, dataset.qrels, ["ndcg@10"])["ndcg@10"]
                                      for n, r in mixed.items()}})
by_use.join((100 * (by_use / by_use.loc["torch fp32"] - 1)).add_suffix(" change %")).round(4)"""),
        md("""
On all 301 judged queries of both collections (`scripts/bench_optimize.py --dataset cranfield,cisi`,
see the README) INT8 cost pure reranking 1.07% of nDCG@10 and interpolated reranking 0.20%, neither
significant (p = 0.19 and 0.72), at a 3.25× speed-up. A few dozen queries, as here, cannot separate
changes of that size from noise.
"""),
        md("""
## 2 · Batching: sort by length, pad to the batch's longest

A batch is padded to its longest member, so mixing a 30-token pair with a 256-token pair wastes
compute on padding. Sorting by length first groups similar lengths. sentence-transformers already
sorts inside every `predict` / `encode` call — the only way to *lose* that is to feed it small chunks
in arrival order, which is what a naive service loop does. We compare the two on the same pairs
(shuffled, as they would arrive from several queries).
"""),
        code("""
pool = [(queries[q], t) for q in list(candidates)[: 2 if QUICK else 8] for t in candidates[q].values()]
pool = [pool[i] for i in np.random.default_rng(0).permutation(len(pool))]
runner = rerankers["onnx-int8"].model.runner
lengths = runner.lengths([p[0] for p in pool], [p[1] for p in pool])
batching = pd.concat([
    optimize.batching_comparison(lambda xs, ce=ce: ce.score_pairs(xs), pool, lengths, batch_size=16,
                                 repeats=2).assign(model=name)
    for name, ce in (("torch fp32", torch_ce), ("onnx-int8", rerankers["onnx-int8"]))])
batching"""),
        md("""
## 3 · The bi-encoder through ONNX Runtime

The same three variants for all-MiniLM-L6-v2. Document encoding is a one-off (pre-computation) cost,
query encoding is paid per search. Quality: nDCG@10 of bi-encoder retrieval on the whole collection.
"""),
        code("""
encoders = {"torch fp32": BiEncoderRetriever(show_progress=False)}
encoders.update({v: optimize.onnx_bi_encoder(variant=v, threads=THREADS, show_progress=False)
                 for v in (["onnx-int8"] if QUICK else ["onnx-fp32", "onnx-int8"])})
docs = list(dataset.texts.values())[: 32 if QUICK else 128]
bi_timing = perf.measure_interleaved(
    {name: (lambda r=r: r._encode(r.model, docs, False)) for name, r in encoders.items()},
    items_per_call=len(docs), repeats=2, warmup=1)
bi_table = bi_timing[["throughput_per_s"]].rename(columns={"throughput_per_s": "docs_per_s"})
bi_table["speedup"] = bi_table["docs_per_s"] / bi_table["docs_per_s"].iloc[0]
if not QUICK:  # nDCG needs the whole collection encoded (onnx-fp32 matches torch to 1e-6: skipped)
    from ragcompare.evaluate import evaluate, retrieve

    for name in ("torch fp32", "onnx-int8"):
        run = retrieve(encoders[name].index(dataset.texts), dataset.queries, 100)
        bi_table.loc[name, "ndcg@10"] = evaluate(run, dataset.qrels, ["ndcg@10"])["ndcg@10"]
bi_table"""),
        md("""
## 4 · FAISS: recall, speed and memory per vector

Every configuration is built over the same real embeddings and compared with exact search
(`Flat`): **recall@10** is the share of the exact top 10 that the index returns. Bytes per vector
is the serialised index size divided by the number of vectors (codes plus per-index overhead such as
centroids). A float32 384-d vector takes 1,536 bytes; the bar we look for is **≥ 8× smaller at
recall@10 ≥ 0.9**.

Index families: `IVF` (search only the `nprobe` closest of `nlist` clusters), `HNSW` (graph),
`PQ` (product quantization: `m` sub-vectors of 8 or 4 bits — `fs` = fast-scan kernels), `SQ`
(scalar quantization per dimension), `IVF…,PQ` (PQ codes of the *residual* — the vector minus its
cluster's centroid — more accurate than plain PQ at the same bytes), `PCA` (fewer dimensions;
FAISS's PCA also centres the vectors, which changes inner products — watch its recall), `RFlat`
(re-rank the candidates exactly — exact scores back, but the full vectors are kept too, so it saves
no memory).
"""),
        code("""
from ragcompare.evaluate import evaluate

vec_model = BiEncoderRetriever(show_progress=False)
doc_vecs = [vec_model.encode_documents(list(load_dataset(n).texts.values()))
            for n in (("cranfield",) if QUICK else ("cranfield", "cisi"))]
query_vecs = np.vstack([vec_model.encode_queries(list(load_dataset(n).queries.values()))
                        for n in ("cranfield", "cisi")])
if not QUICK:  # grow the pool with the STS-B / SICK sentences (real text, real embeddings)
    doc_vecs.append(vec_model.encode_documents(ann.pair_sentences()))
vectors = np.vstack(doc_vecs)
print(f"{len(vectors):,} vectors x {vectors.shape[1]} dims, {len(query_vecs)} queries")
# Train the quantizers on a subsample (>= 39 points per centroid, FAISS's own bar): PQ training is
# the slow part on one core. All vectors are indexed and searched.
train = vectors[np.random.default_rng(0).permutation(len(vectors))[: min(len(vectors), 12_000)]]
specs = [s for s in ann.default_specs(vectors.shape[1], len(train)) if "PQ96x8" not in s.factory]
if not QUICK:
    specs += [ann.IndexSpec("SQ4", "SQ4"), ann.IndexSpec("PQ128x8", "PQ128x8"),
              # the same 128-byte codes, but encoding the residual to an IVF centroid
              ann.IndexSpec("IVF256,PQ128x8 nprobe=32", "IVF256,PQ128x8", {"nprobe": 32}),
              ann.IndexSpec("PQ192x4fs", "PQ192x4fs"), ann.IndexSpec("PQ96x4fs", "PQ96x4fs"),
              ann.IndexSpec("HNSW32 ef=16", "HNSW32", {"efSearch": 16})]
else:
    specs += [ann.IndexSpec("PQ96x4fs", "PQ96x4fs")]
index_table = ann.evaluate_specs(specs, vectors, query_vecs, k=10, repeats=1 if QUICK else 3, train=train)
index_table[["recall@10", "qps", "bytes_per_vector", "memory_reduction_x", "build_s"]]"""),
        md("""
### Embedding quantization (sentence-transformers)

`quantize_embeddings` stores each document as `uint8` (4× smaller, ranges calibrated on the corpus)
or as packed bits (`ubinary`, 32× smaller). Queries stay float32; with **rescoring** the top
`k × 4` candidates are re-scored with the float query against the quantized documents.
"""),
        code("""
quant_table = ann.evaluate_embedding_quantization(vectors, query_vecs[: 60 if QUICK else None], k=10,
                                                  repeats=1)
frontier_table = pd.concat([index_table, quant_table])
quant_table[["recall@10", "qps", "bytes_per_vector", "memory_reduction_x"]]"""),
        code("""
fig, ax = plt.subplots(figsize=(8, 4.5))
data = frontier_table.reset_index()
sns.scatterplot(data=data, x="bytes_per_vector", y="recall@10", size="qps", sizes=(30, 250),
                hue="memory_reduction_x", palette="viridis", ax=ax, legend="brief")
for _, row in data.iterrows():
    ax.annotate(row["config"], (row["bytes_per_vector"], row["recall@10"]), fontsize=6,
                xytext=(3, 2), textcoords="offset points")
ax.axvline(4 * vectors.shape[1] / 8, color="red", ls=":", lw=1)
ax.axhline(0.9, color="red", ls=":", lw=1)
ax.set_xscale("log")
ax.set_xlabel("bytes per vector (log)")
ax.set_title("Index frontier: up and left is better; red lines = 8x smaller than Flat, recall 0.9")
ax.legend(fontsize=6, loc="lower right")
plt.tight_layout()
meets_bar = ann.frontier(frontier_table)
meets_bar[["recall@10", "qps", "bytes_per_vector", "memory_reduction_x"]]"""),
        md("""
## 5 · The embedding cache

Document vectors are stored on disk keyed by model and text (`ragcompare.cache.EmbeddingCache`).
Re-indexing the same documents — re-running a notebook, rebuilding an index with other settings —
reads them back instead of running the model.
"""),
        code("""
import tempfile
import time
from pathlib import Path

from ragcompare.cache import EmbeddingCache

cache_docs = dict(list(dataset.texts.items())[: 32 if QUICK else 256])
rows = []
with tempfile.TemporaryDirectory() as tmp:
    r = BiEncoderRetriever(show_progress=False)
    r.cache = EmbeddingCache(r.cache.model, Path(tmp) / "emb.sqlite")
    for run in ("first run (cold)", "re-run (warm)"):
        h0, m0 = r.cache.hits, r.cache.misses
        t0 = time.perf_counter()
        r.index(cache_docs)
        rows.append({"run": run, "seconds": time.perf_counter() - t0, "hits": r.cache.hits - h0,
                     "misses": r.cache.misses - m0})
cache_table = pd.DataFrame(rows).set_index("run")
cache_table["hit_rate"] = cache_table["hits"] / (cache_table["hits"] + cache_table["misses"])
cache_table["time_saved_%"] = 100 * (1 - cache_table["seconds"] / cache_table["seconds"].iloc[0])
cache_table"""),
        md("""
## 6 · Replicas: several processes scoring in parallel

sentence-transformers can spread `CrossEncoder.predict` over a pool of worker processes. On a
many-core server that is how throughput scales; on a 2-core machine that is already busy, each
replica competes for the same cores and pays process start-up and inter-process transfer. We measure
rather than assume (full mode only: starting the pool takes a while).
"""),
        code("""
if QUICK:
    replica_table = None
    print("skipped in quick mode")
else:
    sample = pool[:96]
    t0 = time.perf_counter()
    torch_ce.score_pairs(sample)
    one = time.perf_counter() - t0
    rep = optimize.replica_scoring(reranker_name, sample, processes=2)
    replica_table = pd.DataFrame(
        [{"setup": "1 process x 1 thread", "pairs_per_s": len(sample) / one},
         {"setup": "2 replica processes (ST pool)", "pairs_per_s": rep["pairs_per_s"]}]).set_index("setup")
replica_table"""),
        md("""
## 7 · Save the results with the machine they were measured on
"""),
        code("""
results = perf.ResultSet("06_optimizations", settings={"threads": THREADS, "quick": QUICK,
                                                       "cross_encoder": reranker_name,
                                                       "queries": len(queries), "k": K})
for key, frame in {"cross_encoder": ce_table, "batching": batching, "bi_encoder": bi_table,
                   "indexes": frontier_table.drop(columns=["params"]), "cache": cache_table}.items():
    results.add(key, frame)
if replica_table is not None:
    results.add("replicas", replica_table)
saved = results.save(Path(tempfile.gettempdir()) / "ragcompare_results")
print("machine:", results.machine["cpu"], "| versions:", results.machine["versions"])
print("saved:", ", ".join(p.name for p in saved))"""),
        md("""
## Summary
"""),
        code("""
from IPython.display import Markdown

best = ce_table.drop(index="torch fp32")["speedup"].idxmax()
b = ce_table.loc[best]
small = meets_bar.iloc[0] if len(meets_bar) else None
sorted_row = batching[batching["model"] == "torch fp32"].iloc[0]
naive_row = batching[batching["model"] == "torch fp32"].iloc[1]
text = f\"\"\"
* **Cross-encoder**: `{best}` scores {b['pairs_per_s']:.0f} pairs/s against
  {ce_table.loc['torch fp32', 'pairs_per_s']:.0f} for the PyTorch fp32 model — **{b['speedup']:.1f}×** —
  with nDCG@10 {b['ndcg@10']:.4f} vs {ce_table.loc['torch fp32', 'ndcg@10']:.4f}
  ({b['ndcg@10_rel_change_%']:+.2f}% relative) on {len(queries)} held-out queries, {THREADS} thread(s).
  The model file shrinks from {sizes['onnx-fp32']:.0f} MB to {sizes['onnx-int8']:.0f} MB.
* **Batching**: naive arrival-order chunks compute {naive_row['padded_tokens']:,} token slots,
  length-sorted {sorted_row['padded_tokens']:,} ({naive_row['padding_overhead_%']:.0f}% vs
  {sorted_row['padding_overhead_%']:.0f}% padding); sentence-transformers already sorts inside each call.
* **Index**: \"\"\" + (
    f"`{meets_bar.index[0]}` keeps recall@10 {small['recall@10']:.3f} at "
    f"{small['bytes_per_vector']:.0f} bytes/vector ({small['memory_reduction_x']:.1f}× less than Flat)."
    if small is not None else "no configuration met 8× at recall 0.9 here.") + f\"\"\"
* **Cache**: a warm re-run served {cache_table['hit_rate'].iloc[1]:.0%} of the vectors from disk and
  saved {cache_table['time_saved_%'].iloc[1]:.1f}% of the indexing time.
\"\"\"
if replica_table is not None:
    text += (f"* **Replicas**: 2 processes scored {replica_table['pairs_per_s'].iloc[1]:.1f} pairs/s vs "
             f"{replica_table['pairs_per_s'].iloc[0]:.1f} for one process on this busy 2-core machine.\\n")
Markdown(text)"""),
        md("""
**Take-aways**

* Dynamic INT8 through ONNX Runtime is the largest single win for transformer inference on a CPU with
  fast integer instructions — measure the quality change on *your* collection next to the speed-up.
* Quantize weights per channel: per-tensor INT8 loses much more accuracy on MiniLM-sized models.
* Product quantization and scalar quantization reach large memory savings; how much recall survives
  depends on the data — check recall against exact search before trusting a setting.
* Parallel replicas only help when there are idle cores.

## Exercises

1. Re-run the cross-encoder comparison with `THREADS = 2` (if your machine has free cores). Does
   the INT8 speed-up grow or shrink, and why might it?
2. Quantize with `optimize.quantize_onnx(folder, per_channel=False, force=True)` and compare the
   nDCG@10 change with the per-channel default.
3. Add `ann.IndexSpec("OPQ48,PQ48x8", "OPQ48,PQ48x8")` (a learned rotation before PQ) to the
   frontier: does it move recall at the same 48 bytes per vector, and what does its training cost?
4. Set `CE_MAX_LENGTH = 256` in the first cell and re-run section 1. The model never saw pairs longer
   than 128 tokens in training: does the INT8 model's nDCG change stay as small?
"""),
    ]


def nb05() -> list:
    return [
        md("""
# 05 · Benchmarks: the real figures on this machine

Course material and blog posts quote round numbers: *bi-encoder 1–5 ms per query, cross-encoder
50–200 ms per pair, hybrid ~50 ms, nDCG@10 0.92 vs 0.75, INT8 2–4× faster with < 1% accuracy loss,
PQ 8× less memory*. This notebook measures each of them here, with the machine and library versions
printed next to the numbers.

**You will learn to**

1. benchmark retrieval pipelines properly: warm-up, one query at a time, p50/p95/p99 latency,
   throughput, quality on the same queries;
2. read an **accuracy / latency Pareto plot** and pick the pipelines worth considering;
3. rebuild the seed's *Performance Characteristics* table from measurements;
4. extrapolate latency to **10^3–10^6 documents** honestly and see where cross-encoder-only search
   stops being feasible.
"""),
        code(SETUP),
        code(THREADS + """

import os

from ragcompare import optimize, perf
from ragcompare.bi_encoder import BiEncoderRetriever
from ragcompare.bm25 import BM25Retriever
from ragcompare.cross_encoder import CrossEncoderReranker
from ragcompare.datasets import load_dataset
from ragcompare.fusion import FusionRetriever
from ragcompare.models import pick_reranker, training_collections
from ragcompare.pipeline import CrossEncoderOnly, HybridPipeline"""),
        md("""
## 1 · Every pipeline on both collections

For each collection we build BM25, the bi-encoder (all-MiniLM-L6-v2, exact FAISS search), their
reciprocal-rank fusion, and hybrids that rerank the top 20 candidates with the cross-encoder — as the
PyTorch fp32 model and as the INT8 ONNX model from notebook 06. The reranker is always one that never
saw that collection's judgments. Cross-encoder-only search scores *every* document for a query, so
it is timed on one query only (its quality figure is therefore noise; its latency is not).
"""),
        code("""
K_RERANK = 20
HYBRID_QUERIES = 5 if QUICK else 30
CE_ONLY_QUERIES = 0 if QUICK else 1
tables, components = {}, {}
for name in ("cranfield", "cisi"):
    dataset = load_dataset(name)
    # held-out reranker per collection; RAGCOMPARE_RERANKER_<NAME> / RAGCOMPARE_RERANKER override it
    reranker_name = (os.environ.get(f"RAGCOMPARE_RERANKER_{name.upper()}")
                     or os.environ.get("RAGCOMPARE_RERANKER") or pick_reranker(name))
    ce = CrossEncoderReranker(reranker_name, max_length=256)
    ce_int8 = optimize.OnnxCrossEncoderReranker(reranker_name, "onnx-int8", threads=THREADS)
    bm25 = BM25Retriever().index(dataset.texts)
    bi = BiEncoderRetriever(show_progress=False).index(dataset.texts)
    rrf = FusionRetriever([bm25, bi], k_each=100)
    pipelines = {"BM25": bm25, "bi-encoder": bi, "RRF(BM25+bi)": rrf}
    for label, first, rr in (("bi >> CE fp32", bi, ce), ("bi >> CE int8", bi, ce_int8),
                             ("RRF >> CE int8", rrf, ce_int8)):
        hybrid = HybridPipeline(first, rr, k_retrieve=K_RERANK)
        hybrid.texts = dataset.texts
        pipelines[label] = hybrid
    sample = dataset.sample_queries(HYBRID_QUERIES, seed=0)
    query_sets = {k: sample for k in pipelines if ">>" in k}
    if CE_ONLY_QUERIES:
        pipelines["CE int8 only"] = CrossEncoderOnly(ce_int8).index(dataset.texts)
        query_sets["CE int8 only"] = dataset.sample_queries(CE_ONLY_QUERIES, seed=0)
    print(f"{name}: reranker {reranker_name} (trained on the judgments of: "
          f"{sorted(training_collections(ce.resolved)) or 'none recorded (no card.json)'})")
    tables[name] = perf.benchmark_pipelines(pipelines, dataset, query_sets=query_sets)
    # components for the scaling study and the characteristics table
    q = list(dataset.queries.values())[:30]
    enc = perf.measure(lambda q=q: [bi.encode_queries([x]) for x in q], items_per_call=len(q),
                       repeats=1, warmup=0)
    pairs = [(q[0], t) for t in list(dataset.texts.values())[:K_RERANK]]
    speed = perf.measure_interleaved({"fp32": lambda: ce.score_pairs(pairs),
                                      "int8": lambda: ce_int8.score_pairs(pairs)},
                                     items_per_call=len(pairs), repeats=3 if QUICK else 10, warmup=1)
    components[name] = {"encode_ms": 1000 / enc["throughput_per_s"],
                        "pairs_per_s_fp32": speed.loc["fp32", "throughput_per_s"],
                        "pairs_per_s_int8": speed.loc["int8", "throughput_per_s"],
                        "rerank_ms_fp32": speed.loc["fp32", "p50_ms"],
                        "rerank_ms_int8": speed.loc["int8", "p50_ms"],
                        "docs": len(dataset.texts), "index_bytes": bi.memory_bytes}
bench = pd.concat(tables, names=["collection"])
bench"""),
        md("""
## 2 · Accuracy versus latency

Each point is a pipeline; the dashed line joins the **Pareto-optimal** ones (no other pipeline is
both faster and better). Anything off the line is dominated: there is a configuration that is at
least as good and at least as fast.
"""),
        code("""
fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
for ax, (name, table) in zip(axes, tables.items()):
    perf.plot_pareto(table, cost="p50_ms", quality="ndcg@10", ax=ax,
                     title=f"{name}: nDCG@10 vs p50 latency per query ({THREADS} thread)")
    ax.set_xlabel("p50 latency per query (ms, log)")
plt.tight_layout()
pareto = {name: list(perf.pareto_front(t, "p50_ms", "ndcg@10").index) for name, t in tables.items()}
for name, front in pareto.items():
    print(f"{name}: Pareto front = {' -> '.join(front)}")"""),
        md("""
## 3 · Latency versus corpus size: 10^3 to 10^6 documents

We only have ~1,400 real documents per collection, so larger corpora are **synthetic but
realistic**: document vectors are drawn from a multivariate Gaussian fitted to the real Cranfield
embeddings (same mean and covariance), then L2-normalised; queries are real query embeddings. For BM25,
synthetic documents draw real document lengths and words from Cranfield's word frequencies.

How each approach's per-query latency is composed:

* **bi-encoder** = query encoding (measured) + vector search at that size (measured; exact `Flat`);
* **hybrid** = bi-encoder + reranking 20 candidates (measured; does not grow with the corpus);
* **cross-encoder only** = documents ÷ measured pairs per second — **extrapolated**, dashed;
* **BM25**: measured up to the largest size built, linear extrapolation beyond (an upper bound), dashed.
"""),
        code("""
from ragcompare.ann import synthetic_like  # noqa: F401  (used inside perf.scaling_latency)

cran = load_dataset("cranfield")
vec_model = BiEncoderRetriever(show_progress=False)
real_docs = vec_model.encode_documents(list(cran.texts.values()))
real_queries = vec_model.encode_queries(list(cran.queries.values()))
sizes = [1_000, 10_000] if QUICK else [1_000, 10_000, 100_000, 1_000_000]
factories = {"Flat (exact)": ("Flat", {}, sizes[-1]),
             "HNSW32 ef=64": ("HNSW32", {"efSearch": 64}, 10_000 if QUICK else 100_000),
             "IVF1024 nprobe=16": ("IVF1024,Flat", {"nprobe": 16}, sizes[-1])}
search = perf.scaling_latency(real_docs, real_queries, sizes, factories, n_queries=20,
                              train_size=50_000)
lengths, probs, q_tokens = perf.bm25_token_stats(list(cran.texts.values()),
                                                 list(cran.queries.values())[:20])
bm25_search = perf.bm25_scaling(lengths, probs, q_tokens, sizes[:2] if QUICK else sizes[:3])
pd.concat([search, bm25_search]).set_index(["index", "docs"])"""),
        code("""
c = components["cranfield"]
curves = perf.approach_latency(search, c["encode_ms"], c["rerank_ms_fp32"], c["pairs_per_s_fp32"],
                               sizes, bm25=bm25_search)
int8_only = perf.approach_latency(search, c["encode_ms"], c["rerank_ms_int8"], c["pairs_per_s_int8"],
                                  sizes)
int8_only = int8_only[int8_only["approach"] == "cross-encoder only"].assign(
    approach="cross-encoder only (INT8)")
curves = pd.concat([curves, int8_only])
ax = perf.plot_scaling(curves)
ax.set_title(f"Per-query latency vs corpus size ({THREADS} thread; dashed = extrapolated)")
feasible_1s = int(c["pairs_per_s_fp32"] * 1.0)
feasible_1s_int8 = int(c["pairs_per_s_int8"] * 1.0)
print(f"cross-encoder only fits a 1 s budget up to ~{feasible_1s:,} documents (fp32) or "
      f"~{feasible_1s_int8:,} (INT8) on this machine; at 10^6 documents one query would take "
      f"{1e6 / c['pairs_per_s_fp32'] / 3600:.1f} h (fp32).")
curves.pivot_table(index="docs", columns="approach", values="latency_ms")"""),
        md("""
## 4 · The seed's Performance Characteristics table, measured

The seed summarises the three architectures in one table. Here is each cell measured on this
machine (Cranfield unless stated; p50 latencies; one thread), next to what the seed says.
"""),
        code("""
cb = tables["cranfield"]
cs = tables["cisi"]
n_max = sizes[-1]
flat_max = search[(search["index"] == "Flat (exact)") & (search["docs"] == n_max)]["index_mb"].iloc[0]
rows = [
    ("Speed: bi-encoder, per query", "1-5 ms", f"{cb.loc['bi-encoder', 'p50_ms']:.1f} ms"),
    ("Speed: cross-encoder, per pair", "50-200 ms",
     f"{1000 / c['pairs_per_s_fp32']:.1f} ms fp32, {1000 / c['pairs_per_s_int8']:.1f} ms INT8"),
    ("Speed: hybrid (rerank 20), per query", "~50 ms",
     f"{cb.loc['bi >> CE fp32', 'p50_ms']:.0f} ms fp32, {cb.loc['bi >> CE int8', 'p50_ms']:.0f} ms INT8"),
    ("Accuracy: nDCG@10 hybrid vs bi-encoder", "0.92 vs 0.75",
     f"cranfield {cb.loc['bi >> CE fp32', 'ndcg@10']:.3f} vs {cb.loc['bi-encoder', 'ndcg@10']:.3f}; "
     f"cisi {cs.loc['bi >> CE fp32', 'ndcg@10']:.3f} vs {cs.loc['bi-encoder', 'ndcg@10']:.3f}"),
    ("Accuracy: INT8 cross-encoder", "2-4x faster, <1% loss",
     f"{c['pairs_per_s_int8'] / c['pairs_per_s_fp32']:.1f}x faster; nDCG@10 "
     f"{cb.loc['bi >> CE int8', 'ndcg@10']:.3f} vs {cb.loc['bi >> CE fp32', 'ndcg@10']:.3f} "
     f"({HYBRID_QUERIES} queries; see notebook 06 for the full comparison)"),
    (f"Scalability: latency at {n_max:,} docs", "bi-encoder: millions; cross-encoder: small sets",
     f"bi-encoder {curves[(curves.approach == 'bi-encoder') & (curves.docs == n_max)].latency_ms.iloc[0]:.0f}"
     f" ms (exact search); cross-encoder only {n_max / c['pairs_per_s_fp32']:,.0f} s (extrapolated)"),
    ("Memory: vector index", "bi-encoder stores embeddings; PQ 8x smaller",
     f"{c['index_bytes'] / c['docs']:.0f} bytes/doc (Flat, 384-d float32); {flat_max:,.0f} MB at "
     f"{n_max:,} docs; PQ/SQ options in notebook 06"),
    ("Pre-computation: encode the corpus", "bi-encoder needs it, cross-encoder none",
     f"{c['docs']} docs re-encoded at ~{1000 / c['encode_ms']:.0f} texts/s (short queries); cached on disk"),
]
characteristics = pd.DataFrame(rows, columns=["aspect", "seed claim", "measured here"]).set_index("aspect")
characteristics"""),
        code("""
results = perf.ResultSet("05_benchmarks", settings={"threads": THREADS, "quick": QUICK,
                                                    "hybrid_queries": HYBRID_QUERIES, "k_rerank": K_RERANK,
                                                    "scaling": "Gaussian fitted to cranfield embeddings"})
results.add("pipelines", bench)
results.add("scaling_search", pd.concat([search, bm25_search]))
results.add("scaling_curves", curves)
results.add("characteristics", characteristics)
import tempfile
from pathlib import Path

saved = results.save(Path(tempfile.gettempdir()) / "ragcompare_results")
print("saved:", ", ".join(p.name for p in saved))"""),
        md("""
## Summary
"""),
        code("""
from IPython.display import Markdown

best_c = max(tables["cranfield"].index, key=lambda p: tables["cranfield"].loc[p, "ndcg@10"])
pair_ms = 1000 / c["pairs_per_s_fp32"]
pair_verdict = "below" if pair_ms < 50 else "within" if pair_ms <= 200 else "above"
hybrid_verdict = "in line with" if cb.loc["bi >> CE int8", "p50_ms"] <= 75 else "far from"
Markdown(f\"\"\"
* On this machine ({THREADS} thread) the bi-encoder answers in {cb.loc['bi-encoder', 'p50_ms']:.1f} ms
  (p50) and BM25 in {cb.loc['BM25', 'p50_ms']:.1f} ms; reranking 20 candidates costs
  {c['rerank_ms_fp32']:.0f} ms with the PyTorch cross-encoder and {c['rerank_ms_int8']:.0f} ms with INT8.
* A cross-encoder pair costs {pair_ms:.1f} ms (fp32), {1000 / c['pairs_per_s_int8']:.1f} ms (INT8)
  — {pair_verdict} the seed's 50–200 ms; a 20-candidate hybrid takes
  {cb.loc['bi >> CE int8', 'p50_ms']:.0f} ms even with INT8 — {hybrid_verdict} the seed's ~50 ms.
* The best nDCG@10 on Cranfield comes from `{best_c}`; the seed's 0.92 vs 0.75 does not transfer to these
  collections (see notebook 04).
* Cross-encoder-only search fits a 1-second budget only up to ~{feasible_1s:,} documents (fp32,
  extrapolated from measured pairs/s); the bi-encoder with exact search stays interactive up to
  10^5–10^6 vectors, and approximate indexes push that further.
\"\"\")"""),
        md("""
## Exercises

1. Re-run section 1 with `K_RERANK = 50`. How do the hybrids move on the Pareto plot, and is any of
   them still on the front?
2. Swap the synthetic vectors for `ann.synthetic_like(real_docs, n, method="noisy")` (resampled real
   vectors plus noise). Does exact-search latency change? Why (or why not)?
3. Set `THREADS = 2` on an idle machine and re-run: which approaches gain, and which are bound by
   something other than arithmetic?
"""),
    ]


NOTEBOOKS = {"05": ("05_benchmarks.ipynb", nb05), "06": ("06_optimizations.ipynb", nb06)}


def main(argv: list[str]) -> None:
    """Write the selected notebooks (all by default)."""
    for key in argv or sorted(NOTEBOOKS):
        name, build = NOTEBOOKS[key]
        print("wrote", write(name, build()))


if __name__ == "__main__":
    main(sys.argv[1:])
