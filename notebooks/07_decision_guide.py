# %% [markdown]
# # 07 · Choosing an architecture: a measured decision guide
#
# Earlier notebooks measured what bi-encoders, cross-encoders and hybrids cost and how well they rank.
# This one turns those measurements into a **decision**: given a corpus size, a latency budget and an
# accuracy need, which approach (and which concrete settings) should you run *on your hardware*?
#
# **What you will learn**
#
# * the classic rules of thumb ("bi-encoder for millions of docs and < 10 ms", "cross-encoder when
#   < 1000 candidates", "hybrid at 50–100 ms") and why they are only a starting point;
# * how a **hardware profile** (measured by `ragcompare calibrate`) and **quality-vs-`k_retrieve`
#   curves** become a cost model that predicts p50/p95 latency, expected nDCG@10 and index memory;
# * how `ragcompare.recommend` picks the *cheapest* configuration that meets every need, and
#   what it says when nothing does (which constraint to relax, and by how much);
# * where the measured answer disagrees with the rules of thumb — and an interactive tool to explore it.
#
# Everything runs offline in a couple of minutes; set `RAGCOMPARE_QUICK=1` for the CI-sized run.

# %% [markdown]
# ## 1 · The hardware profile
#
# A recommendation is only as good as its numbers. `ragcompare calibrate` measures this machine:
# query-encoding time, FAISS search time per index type at several corpus sizes (real cranfield + cisi
# embeddings, scaled up with synthetic vectors drawn from a Gaussian fitted to them), index sizes, ANN
# recall, and cross-encoder cost per (query, document) pair for each `max_length`, with and without INT8
# quantization. The package ships a profile measured on the reference machine; running
# `ragcompare calibrate` (about two minutes; `--quick` for seconds) saves *your* profile in the cache
# directory, and from then on it replaces the shipped one.
#
# We load whichever profile applies here and look at what it says about the machine.

# %%
import warnings

warnings.filterwarnings("ignore")

import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import display

from ragcompare import load_profile, quick_mode, recommend
from ragcompare.decide import (
    ACCURACY_LEVELS,
    CostModel,
    QualityModel,
    available_profiles,
    compare_with_seed,
    seed_rule,
)

QUICK = quick_mode()
profile = load_profile()
print("profiles found:", {d: str(p).split("ragcompare/")[-1] for d, p in available_profiles().items()})
print("using:", profile.label)
print("measured:", profile.created, "| threads:", profile.threads)
for note in profile.notes:
    print(" -", note)

# %% [markdown]
# The profile records the machine description and the thread count used while measuring. On a shared
# machine, timings with many threads suffer badly from oversubscription, so the reference profile was
# measured with one torch/FAISS thread. The load-average note tells you how busy the machine was.
#
# Here are the raw measurements behind the cost model: the per-query search time of each FAISS index
# family at each measured corpus size, its recall against exact search, and its size on disk.

# %%
rows = []
for kind, entry in profile.indexes.items():
    for p in entry["points"]:
        rows.append({"index": kind, "n": p["n"], "p50_ms": p["p50_ms"], "recall@10": p["recall@10"],
                     "MB": p["bytes"] / 1e6, "build_s": p["build_s"]})
search = pd.DataFrame(rows)
search.round(3)

# %%
cost = CostModel(profile)
fig, ax = plt.subplots(1, 2, figsize=(11, 3.6))
import numpy as np

ns = np.logspace(3, 7, 30)
for kind, g in search.groupby("index"):
    line, = ax[0].plot(g["n"], g["p50_ms"], "o", label=f"{kind} (measured)")
    ax[0].plot(ns, [cost.search_ms(kind, n)[0] for n in ns], "-", color=line.get_color(), alpha=0.6)
ax[0].set(xscale="log", yscale="log", xlabel="corpus size (vectors)", ylabel="search p50 (ms)",
          title="FAISS search: measured points and fitted power laws")
ax[0].legend(fontsize=8)
ce = pd.DataFrame([{"setting": k, "ms_per_pair": v["ms_per_pair"], "overhead_ms": v["overhead_ms"]}
                   for k, v in profile.cross_encoder["settings"].items()])
ax[1].bar(ce["setting"], ce["ms_per_pair"], color="#d62728")
ax[1].set(ylabel="ms per (query, doc) pair", title="cross-encoder cost per pair (max_length, INT8)")
fig.tight_layout()
plt.show()

# %%
enc = profile.bi_encoder["p50_ms"]
per_pair = {k: v["ms_per_pair"] for k, v in profile.cross_encoder["settings"].items()}
fastest = min(per_pair, key=per_pair.get)
flat_1m = cost.search_ms("Flat", 1_000_000)[0]
hnsw_1m = cost.search_ms("HNSW32", 1_000_000)[0]
print(f"One query encoding costs {enc:.1f} ms (p50).")
print(f"Exact (Flat) search over 1M vectors is predicted at {flat_1m:.0f} ms, HNSW32 at {hnsw_1m:.2f} ms.")
print(f"The cheapest reranker setting ({fastest}) costs {per_pair[fastest]:.1f} ms per pair, so reranking "
      f"the top 100 candidates takes ~{100 * per_pair[fastest]:.0f} ms and the top 20 "
      f"~{20 * per_pair[fastest]:.0f} ms.")
print(f"Reranker timed: {profile.cross_encoder['model']}")

# %% [markdown]
# Read those numbers against the rules of thumb: a "50–100 ms hybrid" presumes a reranker that scores
# a hundred pairs in well under 100 ms — a GPU, or a fast multi-core CPU. On the reference machine
# (2 shared cores, one thread) a pair costs tens of milliseconds, so the budget in which a hybrid fits
# is much larger. The search itself is almost never the bottleneck below a million vectors: the query
# encoding and the reranker are.
#
# ## 2 · How good is each option? Quality vs `k_retrieve`
#
# Cost is half of the decision. The other half is quality: nDCG@10 of the bi-encoder alone and of the
# bi-encoder followed by a cross-encoder reranking its top `k_retrieve` candidates, measured on
# cranfield and cisi (with a reranker that did not see the collection's judgments). More candidates
# give the reranker more to fix, at a linear cost.

# %%
quality = QualityModel(profile.quality)
if quality.measured:
    curve = pd.DataFrame({name: {"bi-encoder": d["bi_encoder"],
                                 **{f"rerank@{k}": v for k, v in d["hybrid"].items()}}
                          for name, d in profile.quality["datasets"].items()}).T
    curve["queries"] = [d["queries_sampled"] for d in profile.quality["datasets"].values()]
    display(curve.round(3))
    print(f"reranker: {quality.reranker}; deltas of other settings (measured at k=20): "
          + ", ".join(f"{k} {v:+.3f}" for k, v in quality.deltas.items()))
else:
    print("No quality curves in this profile yet (no reranker was available when it was measured):")
    print("the decision then treats reranking as gaining nothing, and accuracy is judged by ANN recall only.")
print(f"mean bi-encoder nDCG@10 {quality.bi:.3f}; best measured {quality.best:.3f}")
if quality.curve:
    top_k = max(quality.curve, key=quality.curve.get)
    verdict = "improves on" if quality.curve[top_k] > quality.bi else "does NOT improve on"
    print(f"verdict: reranking (best at k_retrieve={top_k}: {quality.curve[top_k]:.3f}) "
          f"{verdict} the bi-encoder here")

# %% [markdown]
# An accuracy *need* is expressed relative to these curves, because absolute nDCG depends on the
# collection. The levels, and the nDCG@10 each requires on the measured curves:

# %%
# NBVAL_CHECK_OUTPUT
for level, meaning in ACCURACY_LEVELS.items():
    print(f"{level:>6}: {meaning}")

# %%
for level in ACCURACY_LEVELS:
    print(f"{level:>6}: nDCG@10 >= {quality.required(level):.3f}")

# %% [markdown]
# ## 3 · The rules of thumb, as a function
#
# The seed course's advice is kept, unchanged, as `seed_rule`. It never looks at the hardware.

# %%
# NBVAL_CHECK_OUTPUT
for case in [(500, 200, "high"), (5_000_000, 5, "medium"), (100_000, 80, "high"), (100_000, 80, "low")]:
    advice = seed_rule(*case)
    print(f"{case}: {advice.approach:13s} <- {advice.rule}")

# %% [markdown]
# ## 4 · A measured recommendation
#
# `recommend` enumerates every configuration — bi-encoder with each FAISS index, hybrid with each index,
# `k_retrieve` and reranker setting, and cross-encoder-only for small corpora — predicts its p50/p95
# latency and expected nDCG@10, and returns the cheapest one whose **predicted p95** fits the budget and
# whose quality meets the need, with the reasons and the runner-ups.

# %%
rec = recommend(2e6, 50, "high")
print(rec.summary())

# %% [markdown]
# When nothing fits, the answer says so plainly and quantifies each way out: the budget the cheapest
# accurate option needs, the accuracy level reachable within the budget, and the largest corpus (per
# shard) for which the need can be met.

# %%
print(recommend(1e6, 5, "high").summary())

# %%
print(recommend(300, 20_000, "high").summary())

# %% [markdown]
# ## 5 · Where measurement disagrees with the rules of thumb
#
# We ask both for a grid of scenarios and count the disagreements.

# %%
grid = compare_with_seed(corpus_sizes=(500, 1e4, 1e5, 1e6, 1e7), budgets=(10, 50, 100, 500, 2000),
                         accuracies=("low", "medium", "high"))
agree = grid["agree"].mean()
print(f"{len(grid)} scenarios; the seed rule and the measured recommendation agree in {agree:.0%}.")
print(pd.crosstab(grid["seed"], grid["measured"]))

# %%
disagree = grid[~grid["agree"]]
with pd.option_context("display.max_colwidth", 90, "display.width", 200):
    display(disagree.head(12)[["corpus_size", "budget_ms", "accuracy", "seed", "measured",
                               "settings", "p50_ms"]]
            .round(1))

# %%
hyb = grid[(grid["seed"] == "hybrid")]
print(f"The seed rule says 'hybrid' in {len(hyb)} scenarios; on this profile a hybrid is recommended in "
      f"{(hyb['measured'] == 'hybrid').sum()} of them, "
      f"'infeasible' in {(hyb['measured'] == 'infeasible').sum()}, "
      f"and a plain bi-encoder in {(hyb['measured'] == 'bi-encoder').sum()}.")
ce_rows = grid[grid["seed"] == "cross-encoder"]
print(f"The seed rule says 'cross-encoder' (< 1000 docs) in {len(ce_rows)} scenarios; measured: "
      + ", ".join(f"{k} {v}" for k, v in ce_rows["measured"].value_counts().items()) + ".")

# %% [markdown]
# Typical disagreements, and why:
#
# * **"cross-encoder when < 1000 candidates"** assumes scoring a thousand pairs is affordable. Per
#   query, it costs `n × (ms per pair)`; on a CPU that is seconds, so for a few hundred documents the
#   measured answer is usually a hybrid or a bi-encoder — unless the budget is generous.
# * **"hybrid at 50–100 ms"** holds on fast hardware. On a slow or shared CPU even a top-10 rerank can
#   exceed 100 ms, and the honest answer is "bi-encoder" (if the accuracy need allows) or "infeasible:
#   raise the budget to X ms".
# * **"bi-encoder for millions of docs"** agrees with measurement, with a twist: exact (Flat) search over
#   millions of vectors is itself tens to hundreds of ms on one core, so the recommendation switches to
#   an ANN index (HNSW) and tells you its measured recall.
# * **"reranking helps"** is the unstated premise of every hybrid rule. The quality curves in section 2
#   test it for the shipped reranker on collections it was not trained on; when the verdict there is
#   "does NOT improve", the measured recommendation never pays for a reranker, whatever the budget.
#
# ## 6 · The decision tool
#
# Move the sliders, pick an accuracy need, or click an industry preset. The card shows the
# recommendation; the plot shows, per approach, the cheapest predicted p50 that meets the accuracy need
# at each corpus size (dotted where that approach cannot reach the need), the budget line and the chosen
# point. A GPU choice appears only when a measured GPU profile exists.

# %%
from ragcompare.decide import DecisionTool

tool = DecisionTool(corpus_size=1e5, latency_budget_ms=300, accuracy="medium")
tool

# %% [markdown]
# ## 7 · Check it yourself
#
# The cost model is a prediction. `scripts/validate_decide.py` runs the recommended configuration for
# real over a grid of scenarios and reports how often it meets its budget and how close the predicted
# p50 is (other jobs on a shared machine add noise — the script scales predictions by a quick speed
# probe to account for the current load). Calibrating your own machine takes one command:
#
# ```bash
# ragcompare calibrate            # ~2 minutes; --quick for a smoke test
# ragcompare recommend --corpus-size 2e6 --latency-ms 50 --accuracy high
# ```
#
# ## Summary
#
# * Rules of thumb encode someone else's hardware. A measured profile plus quality curves give a
#   recommendation for *yours*: approach, FAISS index, `k_retrieve`, reranker `max_length`, batch size
#   and INT8 — with predicted p50/p95, expected nDCG@10 and index memory.
# * The cheapest option that meets the need wins; the runner-ups say why they lost; an infeasible
#   request says which constraint to relax and by how much.
# * On a CPU, reranking is the expensive part: it scales with `k_retrieve × ms per pair`, so
#   `max_length` and INT8 quantization move the feasibility frontier more than the choice of index.
#
# ## Exercises
#
# 1. Run `ragcompare calibrate --quick` and compare `recommend(1e5, 300, "high", profile="cpu")` with the
#    shipped profile's answer. Which component's measured cost changed most?
# 2. Find the smallest latency budget at which `recommend(2e4, b, "high")` returns a hybrid. How does it
#    move if you pass `memory_budget_gb=0.01`?
# 3. The levels in `ACCURACY_LEVELS` are relative to the measured curves. Change the need to an absolute
#    one: write a function that returns the cheapest option with `ndcg10 >= 0.40` using
#    `ragcompare.decide.candidate_options` and `CostModel`, and compare its choice with `recommend`'s.
