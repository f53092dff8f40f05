# %% [markdown]
# # 06 · Making ranking faster: ONNX Runtime, INT8, batching, compressed indexes, caching
#
# The cross-encoder dominates the cost of a hybrid pipeline, and the vector index dominates its memory.
# This notebook measures — on this machine, in one run, against the plain PyTorch model — what the usual
# optimizations buy and what they cost in ranking quality.
#
# **You will learn to**
#
# 1. export a cross-encoder and a bi-encoder to **ONNX**, fuse the graph and **quantize it to INT8**
#    (dynamic quantization: no calibration data), and measure speed-up *and* nDCG@10 change together;
# 2. see what **length-sorted batching** saves over naive batching (and that sentence-transformers
#    already does it for you);
# 3. choose a **FAISS index** from a recall / speed / memory frontier (Flat, IVF, PQ, IVF-PQ with exact
#    re-ranking, HNSW, PCA, scalar quantization) and try sentence-transformers' **embedding
#    quantization** (int8 / binary + rescoring);
# 4. measure the **embedding cache** and **multi-process replicas**, and report honestly when an
#    optimization does not help.
#
# The heavy lifting lives in `ragcompare.rerank` (ONNX export, INT8) and `ragcompare.eval` (variants
# compared side by side, the ANN frontier, performance runs); the same measurements run from the
# command line with `scripts/bench_optimize.py` and `scripts/bench_ann.py`.

# %%
# %matplotlib inline
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from IPython.display import Markdown, display

from ragcompare.teach import setup_notebook

# One torch thread: on a small machine shared with other jobs, a second thread per process
# oversubscribes the cores and timings become erratic. On a machine of your own, pass torch_threads=None.
QUICK = setup_notebook(torch_threads=1)  # RAGCOMPARE_QUICK=1: fewer queries, same collection, same models

# %%
from ragcompare.teach import pin_threads

# Baseline and optimized variants always run with the SAME thread count, interleaved, so that another
# job on a shared machine slows both alike (more torch threads than free cores: oversubscription).
THREADS = pin_threads(1)  # torch, FAISS and each ONNX Runtime session below

from ragcompare import (
    BiEncoderRetriever,
    CrossEncoderReranker,
    OnnxCrossEncoderReranker,
    compare,
    format_comparison,
    load_dataset,
    pick_reranker,
    training_collections,
)
from ragcompare.data import pair_sentences
from ragcompare.eval import (
    IndexSpec,
    ResultSet,
    batching_comparison,
    compare_rerankers,
    compare_runs,
    default_specs,
    evaluate_embedding_quantization,
    evaluate_specs,
    file_size_mb,
    frontier,
    interpolated_results,
    measure_interleaved,
    replica_scoring,
    rerank_candidates,
    score_agreement,
)
from ragcompare.models import model_card
from ragcompare.rerank import onnx_bi_encoder, prepare

dataset = load_dataset("cranfield")
# Offline, pick_reranker returns ragcompare's own reranker that never saw this collection's
# judgments, so the quality numbers below are held-out. RAGCOMPARE_RERANKER overrides it.
reranker_name = pick_reranker(dataset.name)
# Pairs are cut to 128 tokens: half the cost per pair of 256 (notebook 03, section 4). The cell prints
# the length the reranker was trained at and what its card measured at both lengths.
CE_MAX_LENGTH = 128
torch_ce = CrossEncoderReranker(reranker_name, max_length=CE_MAX_LENGTH, batch_size=32)
print(dataset)
print("cross-encoder:", reranker_name)
print("trained on the judgments of:", sorted(training_collections(torch_ce.resolved)) or "(hub model)")
card = model_card(torch_ce.resolved)  # {} for a hub model
if card.get("max_length"):
    print(f"trained on pairs of up to {card['max_length']} tokens; scored here at {CE_MAX_LENGTH}")
for t in card.get("evaluation_by_max_length", {}).get("tables", []):
    reranked = t[f"bi_encoder_top{t['k']}_reranked"]
    print(f"  its card: held-out {t['collection']} ({t['queries']} queries), bi-encoder top-{t['k']} "
          f"reranked at {t['eval_max_length']} tokens: nDCG@10 {reranked:.4f}")

# %% [markdown]
# ## 1 · ONNX export and dynamic INT8 quantization
#
# Three files are produced from the same weights, all in the cache directory (never in git):
#
# | variant | what it is |
# |---|---|
# | `onnx-fp32` | the model traced to ONNX (`torch.onnx.export`), run by ONNX Runtime |
# | `onnx-opt-fp32` | ONNX Runtime's optimizer fuses attention, LayerNorm and GELU into single kernels |
# | `onnx-int8` | the fused graph, **int8 weights** (per output channel), activations quantized on the fly |
#
# Why INT8 is the lever on this CPU: integer dot products (VNNI instructions) run several times faster
# than float32 ones, and the weights shrink 4×. *Dynamic* quantization needs no calibration set.
# (sentence-transformers' own `export_dynamic_quantized_onnx_model` does the same through `optimum`,
# which does not support transformers 5 yet; `ragcompare.rerank.onnx` calls the underlying tools directly.)

# %%
paths = prepare(reranker_name, "cross-encoder")
sizes = pd.Series({v: file_size_mb(p) for v, p in paths.items()}, name="MB")
sizes

# %% [markdown]
# ### Side by side, same inputs, one run
#
# Every variant reranks the **same** bi-encoder top-k candidates of the same queries. Queries are
# processed one at a time (as a search service sees them) and, for each query, the variants take turns
# in a rotating order — so a burst of background load cannot favour one of them. Speed is reported as
# pairs scored per second. The timed run uses a reproducible **sample** of the queries (each variant
# scores every pair; all queries would multiply the run time), and the quality below is on that sample.

# %%
bi = BiEncoderRetriever(show_progress=False).index(dataset.texts)
N_QUERIES, K = (8, 10) if QUICK else (50, 20)
queries = dataset.sample_queries(N_QUERIES, seed=0)
candidates = rerank_candidates(bi, dataset, queries, K)
rerankers = {"torch fp32": torch_ce}
# onnx-opt-fp32 runs at onnx-fp32 speed on this CPU (ORT applies most fusions itself at load time),
# so the timed comparison keeps the plain export and the INT8 model.
rerankers.update({v: OnnxCrossEncoderReranker(reranker_name, v, max_length=CE_MAX_LENGTH,
                                              batch_size=32, threads=THREADS)
                  for v in ("onnx-fp32", "onnx-int8")})
ce_table, ce_results = compare_rerankers(rerankers, queries, candidates, dataset.qrels,
                                         baseline="torch fp32")
print(f"sample of {len(queries)} of the {len(dataset.queries)} queries x {K} candidates = "
      f"{int(ce_table['pairs'].iloc[0])} pairs per variant, {THREADS} thread(s)")
ce_table[["pairs_per_s", "speedup", "p50_ms", "p95_ms"]]

# %% [markdown]
# Quality on the same sampled queries: `compare` gives each variant's change in nDCG@10 against the
# PyTorch model with its 95% interval (paired bootstrap over queries) and p-value (randomization test).

# %%
ce_quality = compare(ce_results, dataset.qrels, metrics=["ndcg@10", "mrr@10"], baseline="torch fp32")
int8_effect = compare_runs(ce_results, dataset.qrels, "torch fp32", ["ndcg@10"])["onnx-int8"]["ndcg@10"]
print(f"sample of {len(queries)} of the {len(dataset.queries)} queries, reranked top {K}")
format_comparison(ce_quality)

# %%
from matplotlib.ticker import MaxNLocator

names = list(ce_table.index)
y = np.arange(len(names))
fig, axes = plt.subplots(1, 2, figsize=(10, 3), sharey=True, layout="constrained")
axes[0].barh(y, ce_table.loc[names, "speedup"], color="C0")
for yi, v in zip(y, ce_table.loc[names, "speedup"]):
    axes[0].text(v, yi, f" {v:.2f}×", va="center", fontsize=9)
axes[0].set_xlim(0, 1.2 * ce_table["speedup"].max())
axes[0].set_yticks(y, names)
axes[0].invert_yaxis()
axes[0].set_xlabel("speed-up vs torch fp32 (pairs/s)")
q = ce_quality.loc[names]
axes[1].errorbar(q["Δ ndcg@10"], y, xerr=[q["Δ ndcg@10"] - q["Δ ndcg@10 low"],
                                          q["Δ ndcg@10 high"] - q["Δ ndcg@10"]],
                 fmt="o", color="C1", capsize=4)
axes[1].axvline(0, color="grey", lw=0.8)
axes[1].xaxis.set_major_locator(MaxNLocator(5))
axes[1].set_xlabel(f"Δ nDCG@10 vs torch fp32, 95% CI ({len(queries)} sampled queries)")
plt.show()

# %% [markdown]
# nDCG@10 over a few dozen queries moves with single swapped documents, so the score-level agreement
# is a useful second view: how far the raw scores drift, and whether the *order* of candidates survives
# (Spearman rank correlation with the fp32 scores).

# %%
pairs = [(queries[q], t) for q in list(candidates)[:5] for t in candidates[q].values()]
reference = torch_ce.score_pairs(pairs)
agreement = pd.DataFrame({name: score_agreement(reference, r.score_pairs(pairs))
                          for name, r in rerankers.items()}).T
agreement

# %% [markdown]
# ### Does the INT8 cost depend on how the score is used?
#
# A reranker can *replace* the first stage's order (pure reranking, above) or be *interpolated* with it:
# `alpha * z(CE score) + (1 - alpha) * z(bi-encoder score)`, each z-normalised per query
# (`HybridPipeline(..., alpha=0.5)`). Interpolation keeps the bi-encoder's signal where the reranker is
# unsure — which is also where INT8's small score errors swap candidates. The scores are the ones just
# computed; only the fusion is new, so this costs no model time.

# %%
ALPHA = 0.5
mixed = interpolated_results(bi, queries, ce_results, alpha=ALPHA)
by_use = {"pure rerank": ce_results, f"interpolated (alpha={ALPHA})": mixed}
int8_by_use = {use: compare_runs(runs, dataset.qrels, "torch fp32", ["ndcg@10"])["onnx-int8"]["ndcg@10"]
               for use, runs in by_use.items()}
print(f"sample of {len(queries)} of the {len(dataset.queries)} queries")
pd.concat({use: format_comparison(compare(runs, dataset.qrels, metrics=["ndcg@10"], baseline="torch fp32"))
           for use, runs in by_use.items()}, names=["scores used as"])

# %%
pure, interpolated = int8_by_use.values()
width = (pure.high - pure.low) / pure.baseline_mean
Markdown(
    f"On these {len(queries)} sampled queries INT8 changes nDCG@10 by {pure.describe()} when its score "
    f"alone orders the candidates — {pure.reading} — and by {interpolated.describe()} when interpolated "
    f"— {interpolated.reading}. The first interval is {width:.0%} of the baseline's nDCG@10 wide"
    + (": a sample this size cannot resolve changes of a percent or two. " if width > 0.04 else ". ")
    + "`scripts/bench_optimize.py --dataset cranfield,cisi` runs the same comparison on every judged "
    "query of both collections (the README has its table).")

# %% [markdown]
# ## 2 · Batching: sort by length, pad to the batch's longest
#
# A batch is padded to its longest member, so mixing a 30-token pair with a 256-token pair wastes
# compute on padding. Sorting by length first groups similar lengths. sentence-transformers already
# sorts inside every `predict` / `encode` call — the only way to *lose* that is to feed it small chunks
# in arrival order, which is what a naive service loop does. We compare the two on the same pairs
# (shuffled, as they would arrive from several queries).

# %%
pool = [(queries[q], t) for q in list(candidates)[: 2 if QUICK else 8] for t in candidates[q].values()]
pool = [pool[i] for i in np.random.default_rng(0).permutation(len(pool))]
runner = rerankers["onnx-int8"].model.runner
lengths = runner.lengths([p[0] for p in pool], [p[1] for p in pool])
batching = pd.concat([
    batching_comparison(lambda xs, ce=ce: ce.score_pairs(xs), pool, lengths, batch_size=16,
                        repeats=2).assign(model=name)
    for name, ce in (("torch fp32", torch_ce), ("onnx-int8", rerankers["onnx-int8"]))])
batching

# %% [markdown]
# ## 3 · The bi-encoder through ONNX Runtime
#
# The same three variants for all-MiniLM-L6-v2. Document encoding is a one-off (pre-computation) cost,
# query encoding is paid per search. Quality: nDCG@10 of bi-encoder retrieval on the whole collection.

# %%
encoders = {"torch fp32": BiEncoderRetriever(show_progress=False)}
encoders.update({v: onnx_bi_encoder(variant=v, threads=THREADS, show_progress=False)
                 for v in (["onnx-int8"] if QUICK else ["onnx-fp32", "onnx-int8"])})
docs = list(dataset.texts.values())[: 32 if QUICK else 128]
bi_timing = measure_interleaved(
    {name: (lambda r=r: r._encode(r.model, docs, False)) for name, r in encoders.items()},
    items_per_call=len(docs), repeats=2, warmup=1)
bi_table = bi_timing[["throughput_per_s"]].rename(columns={"throughput_per_s": "docs_per_s"})
bi_table["speedup"] = bi_table["docs_per_s"] / bi_table["docs_per_s"].iloc[0]
display(bi_table)
bi_quality = None
if QUICK:
    print("quick mode: retrieval quality needs the whole collection encoded; skipped")
else:  # onnx-fp32 gives the torch vectors to within float rounding: only INT8 is scored
    from ragcompare import retrieve

    bi_runs = {name: retrieve(encoders[name].index(dataset.texts), dataset.queries, 100)
               for name in ("torch fp32", "onnx-int8")}
    bi_quality = compare(bi_runs, dataset.qrels, metrics=["ndcg@10", "recall@100"])
    print(f"retrieval quality on all {len(dataset.queries)} queries")
    display(format_comparison(bi_quality))

# %% [markdown]
# ## 4 · FAISS: recall, speed and memory per vector
#
# Every configuration is built over the same real embeddings and compared with exact search
# (`Flat`): **recall@10** is the share of the exact top 10 that the index returns. Bytes per vector
# is the serialised index size divided by the number of vectors (codes plus per-index overhead such as
# centroids). A float32 384-d vector takes 1,536 bytes; the bar we look for is **≥ 8× smaller at
# recall@10 ≥ 0.9**.
#
# Index families: `IVF` (search only the `nprobe` closest of `nlist` clusters), `HNSW` (graph),
# `PQ` (product quantization: `m` sub-vectors of 8 or 4 bits — `fs` = fast-scan kernels), `SQ`
# (scalar quantization per dimension), `IVF…,PQ` (PQ codes of the *residual* — the vector minus its
# cluster's centroid — more accurate than plain PQ at the same bytes), `PCA` (fewer dimensions;
# FAISS's PCA also centres the vectors, which changes inner products — watch its recall), `RFlat`
# (re-rank the candidates exactly — exact scores back, but the full vectors are kept too, so it saves
# no memory).

# %%
vec_model = BiEncoderRetriever(show_progress=False)
doc_vecs = [vec_model.encode_documents(list(load_dataset(n).texts.values()))
            for n in (("cranfield",) if QUICK else ("cranfield", "cisi"))]
query_vecs = np.vstack([vec_model.encode_queries(list(load_dataset(n).queries.values()))
                        for n in ("cranfield", "cisi")])
if not QUICK:  # grow the pool with the STS-B / SICK sentences (real text, real embeddings)
    doc_vecs.append(vec_model.encode_documents(pair_sentences()))
vectors = np.vstack(doc_vecs)
print(f"{len(vectors):,} vectors x {vectors.shape[1]} dims, {len(query_vecs)} queries")
# Train the quantizers on a subsample (>= 39 points per centroid, FAISS's own bar): PQ training is
# the slow part on one core. All vectors are indexed and searched.
train = vectors[np.random.default_rng(0).permutation(len(vectors))[: min(len(vectors), 12_000)]]
specs = [s for s in default_specs(vectors.shape[1], len(train)) if "PQ96x8" not in s.factory]
if not QUICK:
    specs += [IndexSpec("SQ4", "SQ4"), IndexSpec("PQ128x8", "PQ128x8"),
              # the same 128-byte codes, but encoding the residual to an IVF centroid
              IndexSpec("IVF256,PQ128x8 nprobe=32", "IVF256,PQ128x8", {"nprobe": 32}),
              IndexSpec("PQ192x4fs", "PQ192x4fs"), IndexSpec("PQ96x4fs", "PQ96x4fs"),
              IndexSpec("HNSW32 ef=16", "HNSW32", {"efSearch": 16})]
else:
    specs += [IndexSpec("PQ96x4fs", "PQ96x4fs")]
index_table = evaluate_specs(specs, vectors, query_vecs, k=10, repeats=1 if QUICK else 3, train=train)
index_table[["recall@10", "qps", "bytes_per_vector", "memory_reduction_x", "build_s"]]

# %% [markdown]
# ### Embedding quantization (sentence-transformers)
#
# `quantize_embeddings` stores each document as `uint8` (4× smaller, ranges calibrated on the corpus)
# or as packed bits (`ubinary`, 32× smaller). Queries stay float32; with **rescoring** the top
# `k × 4` candidates are re-scored with the float query against the quantized documents.

# %%
quant_table = evaluate_embedding_quantization(vectors, query_vecs[: 60 if QUICK else None], k=10,
                                              repeats=1)
frontier_table = pd.concat([index_table, quant_table])
quant_table[["recall@10", "qps", "bytes_per_vector", "memory_reduction_x"]]

# %%
from ragcompare.eval import legend_beside, place_labels

fig, ax = plt.subplots(figsize=(10, 5.5), layout="constrained")
data = frontier_table.reset_index().rename(columns={"qps": "queries/s",
                                                    "memory_reduction_x": "× less memory than Flat"})
sns.scatterplot(data=data, x="bytes_per_vector", y="recall@10", size="queries/s", sizes=(30, 250),
                hue="× less memory than Flat", palette="viridis", ax=ax, legend="brief")
ax.axvline(4 * vectors.shape[1] / 8, color="red", ls=":", lw=1)
ax.axhline(0.9, color="red", ls=":", lw=1)
ax.set_xscale("log")
ax.set_xlim(data["bytes_per_vector"].min() / 1.5, data["bytes_per_vector"].max() * 2.5)
ax.set_ylim(data["recall@10"].min() - 0.04, 1.03)
ax.set_xlabel("bytes per vector (log)")
ax.set_title("Index frontier: up and left is better (red lines: 8x smaller than Flat, recall@10 0.9)")
legend_beside(ax, fontsize=7)
by_size = data.sort_values("bytes_per_vector")  # the compressed indexes get the first pick of places
place_labels(ax, by_size["bytes_per_vector"], by_size["recall@10"], by_size["config"], fontsize=6.5)
plt.show()
meets_bar = frontier(frontier_table)
meets_bar[["recall@10", "qps", "bytes_per_vector", "memory_reduction_x"]]

# %% [markdown]
# ## 5 · The embedding cache
#
# Document vectors are stored on disk keyed by model and text (`ragcompare.EmbeddingCache`).
# Re-indexing the same documents — re-running a notebook, rebuilding an index with other settings —
# reads them back instead of running the model.

# %%
import tempfile
import time
from pathlib import Path

from ragcompare import EmbeddingCache

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
cache_table

# %% [markdown]
# ## 6 · Replicas: several processes scoring in parallel
#
# sentence-transformers can spread `CrossEncoder.predict` over a pool of worker processes. On a
# many-core server that is how throughput scales; on a small machine that is already busy, each
# replica competes for the same cores and pays process start-up and inter-process transfer. We measure
# rather than assume (full mode only: starting the pool takes a while).

# %%
if QUICK:
    replica_table = None
    print("skipped in quick mode")
else:
    sample = pool[:96]
    t0 = time.perf_counter()
    torch_ce.score_pairs(sample)
    one = time.perf_counter() - t0
    rep = replica_scoring(reranker_name, sample, processes=2)
    replica_table = pd.DataFrame(
        [{"setup": "1 process x 1 thread", "pairs_per_s": len(sample) / one},
         {"setup": "2 replica processes (ST pool)", "pairs_per_s": rep["pairs_per_s"]}]).set_index("setup")
replica_table

# %% [markdown]
# ## 7 · Save the results with the machine they were measured on

# %%
results = ResultSet("06_optimizations", settings={"threads": THREADS, "quick": QUICK,
                                                  "cross_encoder": reranker_name,
                                                  "queries": len(queries), "k": K})
for key, frame in {"cross_encoder": ce_table, "batching": batching, "bi_encoder": bi_table,
                   "indexes": frontier_table.drop(columns=["params"]), "cache": cache_table}.items():
    results.add(key, frame)
if replica_table is not None:
    results.add("replicas", replica_table)
saved = results.save(Path(tempfile.gettempdir()) / "ragcompare_results")
print("machine:", results.machine["cpu"], "| versions:", results.machine["versions"])
print("saved:", ", ".join(p.name for p in saved))

# %% [markdown]
# ## Summary

# %%
best = ce_table.drop(index="torch fp32")["speedup"].idxmax()
b = ce_table.loc[best]
small = meets_bar.iloc[0] if len(meets_bar) else None
sorted_row = batching[batching["model"] == "torch fp32"].iloc[0]
naive_row = batching[batching["model"] == "torch fp32"].iloc[1]
best_effect = compare_runs(ce_results, dataset.qrels, "torch fp32", ["ndcg@10"])[best]["ndcg@10"]
text = f"""
* **Cross-encoder**: the fastest variant, `{best}`, scores {b['pairs_per_s']:.0f} pairs/s against
  {ce_table.loc['torch fp32', 'pairs_per_s']:.0f} for the PyTorch fp32 model — **{b['speedup']:.1f}×**,
  {THREADS} thread(s). On a **sample of {len(queries)}** of the {len(dataset.queries)} queries, all held
  out from the reranker's training, it changes nDCG@10 by {best_effect.describe(4)}:
  {best_effect.reading}. The INT8 model file is {sizes['onnx-int8']:.0f} MB against
  {sizes['onnx-fp32']:.0f} MB.
* **Batching**: naive arrival-order chunks compute {naive_row['padded_tokens']:,} token slots,
  length-sorted {sorted_row['padded_tokens']:,} ({naive_row['padding_overhead_%']:.0f}% vs
  {sorted_row['padding_overhead_%']:.0f}% padding); sentence-transformers already sorts inside each call.
* **Index**: """ + (
    f"`{meets_bar.index[0]}` keeps recall@10 {small['recall@10']:.3f} at "
    f"{small['bytes_per_vector']:.0f} bytes/vector ({small['memory_reduction_x']:.1f}× less than Flat)."
    if small is not None else "no configuration met 8× at recall 0.9 here.") + f"""
* **Cache**: a warm re-run served {cache_table['hit_rate'].iloc[1]:.0%} of the vectors from disk and
  saved {cache_table['time_saved_%'].iloc[1]:.1f}% of the indexing time.
"""
if bi_quality is not None:
    d = compare_runs(bi_runs, dataset.qrels, "torch fp32", ["ndcg@10"])["onnx-int8"]["ndcg@10"]
    text += (f"* **Bi-encoder**: INT8 encodes {bi_table.loc['onnx-int8', 'speedup']:.1f}× faster and changes "
             f"retrieval nDCG@10 on all queries by {d.describe(4)}: {d.reading}.\n")
if replica_table is not None:
    one, two = replica_table["pairs_per_s"].iloc[0], replica_table["pairs_per_s"].iloc[1]
    text += (f"* **Replicas**: 2 processes scored {two:.1f} pairs/s vs {one:.1f} for one process on this "
             f"{results.machine['cores']}-core machine — {'faster' if two > one else 'slower'}: "
             + ("the second process found idle capacity.\n" if two > one
                else "the processes compete for the same cores and pay start-up and transfer costs.\n"))
Markdown(text)

# %% [markdown]
# **Take-aways**
#
# * Dynamic INT8 through ONNX Runtime needs no calibration data and pays off on CPUs with fast integer
#   instructions — measure the quality change on *your* collection, on all of its queries, next to the
#   speed-up: a sample of a few dozen queries cannot see small changes.
# * The INT8 models here quantize weights per output channel; exercise 2 measures per-tensor
#   quantization, the other common setting.
# * Product quantization and scalar quantization reach large memory savings; how much recall survives
#   depends on the data — check recall against exact search before trusting a setting.
# * Parallel replicas need idle cores to help.
#
# ## Exercises
#
# 1. Re-run the cross-encoder comparison with `THREADS = 2` (if your machine has free cores). Does
#    the INT8 speed-up grow or shrink, and why might it?
# 2. Quantize with `quantize_onnx(folder, per_channel=False, force=True)` from `ragcompare.rerank` and
#    compare the nDCG@10 change with the per-channel default.
# 3. Add `IndexSpec("OPQ48,PQ48x8", "OPQ48,PQ48x8")` (a learned rotation before PQ) to the
#    frontier: does it move recall at the same 48 bytes per vector, and what does its training cost?
# 4. Set `CE_MAX_LENGTH = 256` in the first cell — the length the offline rerankers were trained at —
#    and re-run section 1. How much slower is each variant, and does the INT8 model's nDCG change stay
#    as small?
