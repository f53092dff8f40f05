# %% [markdown]
# # 07 · Choosing an architecture: a measured decision guide
#
# Earlier notebooks measured what bi-encoders, cross-encoders and hybrids cost and how well they rank.
# This one turns those measurements into a **decision**: given a corpus size, a latency budget and an
# accuracy need, which approach (and which concrete settings) should you run *on your hardware*?
#
# **What you will learn**
#
# * the course's starting rules of thumb ("bi-encoder for millions of docs and < 10 ms",
#   "cross-encoder when < 1000 candidates", "hybrid at 50–100 ms") and why they are only a starting
#   point;
# * how a **hardware profile** (measured by `ragcompare calibrate`) and **quality-vs-`k_retrieve`
#   curves** — measured on every judged query, with a 95% interval for each gain over the bi-encoder —
#   become a cost model that predicts p50/p95 latency, expected nDCG@10 and index memory;
# * how `ragcompare.recommend` picks the *cheapest* configuration that meets every need, counting a
#   quality gain only when it is measurably above zero, and what it says when nothing fits (which
#   constraint to relax, and by how much);
# * where the measured answer disagrees with the rules of thumb — and an interactive tool to explore it.
#
# Nothing is re-measured here: the notebook reads a stored profile, so it runs in seconds; set
# `RAGCOMPARE_QUICK=1` for the CI-sized run.

# %% [markdown]
# ## 1 · The hardware profile
#
# A recommendation is only as good as its numbers. `ragcompare calibrate` measures a machine:
# query-encoding time, FAISS search time per index type at several corpus sizes (real cranfield + cisi
# embeddings, scaled up with synthetic vectors drawn from a Gaussian fitted to them), index sizes, ANN
# recall, and cross-encoder cost per (query, document) pair for each `max_length`, with PyTorch and with
# ONNX Runtime INT8. The package ships a profile measured on the reference machine; running
# `ragcompare calibrate` (`--quick` for a smoke test) saves *your* profile in the cache directory, and
# from then on it replaces the shipped one.
#
# We load whichever profile applies here and look at what it says about the machine; its notes say how
# busy the machine was and how long the calibration took.

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import Markdown, display

from ragcompare import load_profile, recommend
from ragcompare.decide import (
    ACCURACY_LEVELS,
    CostModel,
    QualityModel,
    available_profiles,
    compare_with_rules_of_thumb,
    rule_of_thumb,
)
from ragcompare.eval import format_p
from ragcompare.teach import setup_notebook

QUICK = setup_notebook(torch_threads=1)
profile = load_profile()
print("profiles found:", {d: str(p).split("ragcompare/")[-1] for d, p in available_profiles().items()})
print("using:", profile.label)
print("measured:", profile.created, "| threads:", profile.threads)
for note in profile.notes:
    print(" -", note)

# %% [markdown]
# The profile records the machine description and the thread count used while measuring. On a shared
# machine, timings with many threads suffer badly from oversubscription, so the reference profile is
# measured with one torch/FAISS thread. If this machine is not the profiled one, every recommendation
# below starts with a warning saying so: its latencies are then someone else's.
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
ns = np.logspace(3, 7, 30)
for kind, g in search.groupby("index"):
    line, = ax[0].plot(g["n"], g["p50_ms"], "o", label=f"{kind} (measured)")
    ax[0].plot(ns, [cost.search_ms(kind, n)[0] for n in ns], "-", color=line.get_color(), alpha=0.6)
ax[0].set(xscale="log", yscale="log", xlabel="corpus size (vectors)", ylabel="search p50 (ms)",
          title="FAISS search: measured points and fitted power laws")
ax[0].legend(fontsize=8, loc="upper left")
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
slowest = max(per_pair, key=per_pair.get)
flat_1m = cost.search_ms("Flat", 1_000_000)[0]
hnsw_1m = cost.search_ms("HNSW32", 1_000_000)[0]
pairs_in_100ms = max(0, int((100 - enc - cost.rerank_settings[fastest]["overhead_ms"]) / per_pair[fastest]))
print(f"One query encoding costs {enc:.1f} ms (p50).")
print(f"Exact (Flat) search over 1M vectors is predicted at {flat_1m:.0f} ms, HNSW32 at {hnsw_1m:.2f} ms.")
print(f"The cheapest reranker setting ({fastest}) costs {per_pair[fastest]:.1f} ms per pair, so reranking "
      f"the top 100 candidates takes ~{100 * per_pair[fastest]:.0f} ms and the top 20 "
      f"~{20 * per_pair[fastest]:.0f} ms.")
print(f"Reranker timed: {profile.cross_encoder['model']}")

# %%
cores, threads = profile.machine.get("cores"), profile.threads.get("torch")
Markdown(f"""
Read those numbers against the rules of thumb: a "50–100 ms hybrid" presumes a reranker that scores a
hundred pairs in well under 100 ms — a GPU, or a fast multi-core CPU. On the profiled machine
({cores} cores, {threads} torch thread{'s' if threads != 1 else ''}) one pair costs between
{per_pair[fastest]:.1f} ms ({fastest}) and {per_pair[slowest]:.1f} ms ({slowest}), so within 100 ms —
after the {enc:.1f} ms query encoding — even the fastest setting reranks at most {pairs_in_100ms}
candidates. With HNSW the search over a million vectors ({hnsw_1m:.2f} ms) is
{'cheaper' if hnsw_1m < enc else 'more expensive'} than encoding the query: the query encoding and the
reranker are what the budget pays for.
""")

# %% [markdown]
# ## 2 · How good is each option? Quality vs `k_retrieve`, with intervals
#
# Cost is half of the decision. The other half is quality: nDCG@10 of the bi-encoder alone and of the
# bi-encoder followed by a cross-encoder reranking its top `k_retrieve` candidates, measured on
# cranfield and cisi with a reranker that did not see the collection's judgments. More candidates give
# the reranker more to fix, at a linear cost — and more chances to push a good first-stage hit down.
#
# The measurement follows the same protocol as the rest of the course: **every judged query** of both
# collections, each option compared with the bi-encoder *on the same queries*, and for each option the
# mean per-query gain in nDCG@10 with a paired bootstrap 95% interval and a randomization p-value. The
# two collections' per-query differences are pooled into one interval. A 30-query sample would give an
# interval several times wider than its own gain: too noisy to decide anything.
#
# Two kinds of hybrid are measured from the same reranker scores:
#
# * **reranked**: the top `k_retrieve` reordered by the cross-encoder alone;
# * **interpolated**: the top `k_retrieve` reordered by `alpha · z(cross-encoder) + (1 − alpha) ·
#   z(bi-encoder)` (both scores standardised per query), which keeps part of the bi-encoder's judgement
#   — useful when the reranker is good but not uniformly better. It costs the same as reranking.
#
# The full curve is measured with the ONNX Runtime INT8 reranker at `max_length` 256 (the fastest
# setting that reads whole abstracts); the other settings are measured at `k_retrieve` = 20 as
# per-query differences to it.

# %%
quality = QualityModel(profile.quality)


def gain_text(diff, low, high) -> str:
    """``+0.012 [-0.004, +0.028]`` or, without an interval, ``+0.012 (interval not measured)``."""
    if low is None or high is None or pd.isna(low):
        return f"{diff:+.3f} (interval not measured)"
    return f"{diff:+.3f} [{low:+.3f}, {high:+.3f}]"


if quality.intervals:
    table = quality.table()
    curve_rows = table[(table["setting"] == quality.curve_setting) | (table["k_retrieve"] == 0)].copy()
    curve_rows["option"] = [("bi-encoder" if k == 0 else f"rerank top {k}" +
                             ("" if pd.isna(a) else f", interpolated alpha={a:g}"))
                            for k, a in zip(curve_rows["k_retrieve"], curve_rows["alpha"])]
    curve_rows["gain (95% CI)"] = ["baseline" if k == 0 else gain_text(d, lo, hi) for k, d, lo, hi in zip(
        curve_rows["k_retrieve"], curve_rows["gain"], curve_rows["low"], curve_rows["high"])]
    curve_rows["p"] = ["" if k == 0 else format_p(p)
                       for k, p in zip(curve_rows["k_retrieve"], curve_rows["p"])]
    display(Markdown(f"Pooled over {', '.join(quality.datasets)}: {quality.queries} judged queries, "
                     f"reranker setting {quality.curve_setting}."))
    display(curve_rows.set_index("option")[["ndcg@10", "gain (95% CI)", "p", "queries"]].round(3))
    per_collection = pd.DataFrame({
        name: {"queries": d["queries_evaluated"], "reranker": d["reranker"],
               "bi-encoder": round(d["bi_encoder"], 3),
               **{f"rerank@{k}": gain_text(g["diff"], g["low"], g["high"])
                  for k, g in d["hybrid_gain"].items()}}
        for name, d in profile.quality["datasets"].items()}).T
    display(Markdown("The same gains per collection (each on all of its judged queries):"))
    display(per_collection)
    deltas = pd.DataFrame([{"setting": s, "vs": quality.curve_setting, "k_retrieve": d["k"],
                            "Δ nDCG@10 (95% CI)": gain_text(d["diff"], d["low"], d["high"]),
                            "p": format_p(d["p_value"]), "queries": d["queries"]}
                           for s, d in quality.delta_intervals.items()]).set_index("setting")
    display(Markdown("The other reranker settings, as differences to the curve's setting:"))
    display(deltas)
elif quality.measured:
    curve = pd.DataFrame({name: {"bi-encoder": d["bi_encoder"],
                                 **{f"rerank@{k}": v for k, v in d["hybrid"].items()}}
                          for name, d in profile.quality["datasets"].items()}).T
    curve["queries"] = [d.get("queries_sampled") for d in profile.quality["datasets"].values()]
    display(curve.round(3))
    print("This profile's quality curves were measured on small query samples, without intervals "
          "(interval not measured); run `ragcompare calibrate --quality-only` to measure them properly.")
else:
    print("No quality curves in this profile yet (no reranker was available when it was measured):")
    print("the decision then treats reranking as gaining nothing, and accuracy is judged by ANN recall only.")

# %% [markdown]
# The same gains as a picture: each point is the mean gain over the bi-encoder at one rerank depth, the
# bar its 95% interval. A bar that crosses the dashed zero line is a gain the data cannot tell apart
# from no gain at all.

# %%
if quality.intervals:
    fig, ax = plt.subplots(figsize=(8.5, 3.6))
    kinds = [None, *quality.alphas]
    for i, alpha in enumerate(kinds):
        rows_ = table[(table["setting"] == quality.curve_setting) &
                      (table["alpha"].isna() if alpha is None else table["alpha"] == alpha)]
        x = np.arange(len(rows_)) + (i - (len(kinds) - 1) / 2) * 0.12
        yerr = np.clip([rows_["gain"] - rows_["low"], rows_["high"] - rows_["gain"]], 0, None)
        label = "reranked" if alpha is None else f"interpolated, alpha={alpha:g}"
        ax.errorbar(x, rows_["gain"], yerr=yerr, fmt="o", capsize=3, label=label)
    ax.axhline(0, color="k", ls="--", lw=1)
    ax.set_xticks(range(len(quality.curve)), [f"top {k}" for k in sorted(quality.curve)])
    ax.set(xlabel="candidates reranked (k_retrieve)", ylabel="Δ nDCG@10 vs bi-encoder",
           title=f"gain over the bi-encoder, 95% intervals ({quality.queries} queries)")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    plt.show()
else:
    print("no intervals in this profile: nothing to plot")

# %%
best_gain, best_option = quality.best_gain
if best_option is not None:
    k_b, s_b, a_b = best_option
    kind = "reranking" if a_b is None else f"interpolating (alpha={a_b:g})"
    verdict = (f"**Reranking measurably helps here.** The best counted gain is {kind} the top {k_b} with "
               f"setting {s_b}: {quality.gain(*best_option).describe()}.")
elif quality.intervals:
    top = quality.table().iloc[1:].sort_values("gain").iloc[-1]
    verdict = (f"**No reranking option measurably beats the bi-encoder here.** The largest mean gain is "
               f"{gain_text(top['gain'], top['low'], top['high'])} (top {int(top['k_retrieve'])}, setting "
               f"{top['setting']}), and its interval includes zero.")
elif quality.measured:
    verdict = ("This profile has no intervals, so its gains are taken at face value (interval not "
               "measured).")
else:
    verdict = "No quality was measured in this profile."
Markdown(verdict)

# %% [markdown]
# An accuracy *need* is expressed relative to these measurements, because absolute nDCG depends on the
# collection. The rule for gains: an option's gain counts only when its 95% interval excludes zero; an
# option whose gain is not measurably positive is credited with the bi-encoder's nDCG@10. So "medium"
# and "high" ask for a reranker exactly when some reranking option measurably beats the bi-encoder. The
# levels, and the nDCG@10 each requires here:

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
# The course's starting rules of thumb are kept, unchanged, as `rule_of_thumb`. They never look at the
# hardware, nor at whether the reranker helps on your data.

# %%
# NBVAL_CHECK_OUTPUT
for case in [(500, 200, "high"), (5_000_000, 5, "medium"), (100_000, 80, "high"), (100_000, 80, "low")]:
    advice = rule_of_thumb(*case)
    print(f"{case}: {advice.approach:13s} <- {advice.rule}")

# %% [markdown]
# ## 4 · A measured recommendation
#
# `recommend` enumerates every configuration — bi-encoder with each FAISS index; hybrid with each index,
# `k_retrieve`, reranker setting and ordering (reranked or interpolated); cross-encoder-only for small
# corpora — predicts its p50/p95 latency and expected nDCG@10, and returns the cheapest one whose
# **predicted p95** fits the budget and whose quality meets the need. The answer names the expected
# nDCG@10 and the gain over the bi-encoder with its 95% interval, then the reasons and the runner-ups.

# %%
rec = recommend(2e6, 50, "high")
print(rec.summary())

# %% [markdown]
# A small corpus with a generous budget: here a reranker is affordable, so the answer turns on whether
# it measurably helps.

# %%
generous = recommend(2e4, 2000, "high")
print(generous.summary())

# %%
Markdown(f"For 20,000 documents, a 2 s budget and a high accuracy need the recommendation is "
         f"**{generous.approach or 'infeasible'}**"
         + (f": {generous.quality}." if generous.quality else "."))

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
grid = compare_with_rules_of_thumb(corpus_sizes=(500, 1e4, 1e5, 1e6, 1e7), budgets=(10, 50, 100, 500, 2000),
                                   accuracies=("low", "medium", "high"))
agree = grid["agree"].mean()
print(f"{len(grid)} scenarios; the rules of thumb and the measured recommendation agree in {agree:.0%}.")
print(pd.crosstab(grid["rule_of_thumb"], grid["measured"]))

# %%
disagree = grid[~grid["agree"]]
with pd.option_context("display.max_colwidth", 90, "display.width", 200):
    display(disagree.head(12)[["corpus_size", "budget_ms", "accuracy", "rule_of_thumb", "measured",
                               "settings", "p50_ms"]]
            .round(1))

# %%
def counts(frame: pd.DataFrame) -> str:
    """``hybrid 3, bi-encoder 5`` (what the measured column says, most frequent first)."""
    return ", ".join(f"{k} {v}" for k, v in frame["measured"].value_counts().items()) or "none"


hyb = grid[grid["rule_of_thumb"] == "hybrid"]
ce_rows = grid[grid["rule_of_thumb"] == "cross-encoder"]
big = grid[(grid["corpus_size"] >= 1_000_000) & (grid["measured"] == "bi-encoder")]
big_ann = int((~big["settings"].str.startswith("FAISS Flat")).sum())
hybrids = grid[grid["measured"] == "hybrid"]
top10_ms = cost.rerank_ms(fastest, 10)[0]
pairs_1000_s = cost.rerank_ms(fastest, 1000)[0] / 1000
best_text = quality.gain(*best_option).describe() if best_option is not None else ""
premise = (f"some reranking option measurably beats the bi-encoder ({best_text}), so the medium and "
           "high needs ask for a reranker and a hybrid is recommended wherever its rerank fits the "
           "budget" if best_option is not None else
           "no reranking option's gain has an interval above zero on these collections, so the "
           "measured recommendation never pays for a reranker, whatever the budget" if quality.intervals
           else "no reranking option beats the bi-encoder in this profile's measurements (which carry "
           "no intervals), so the measured recommendation never pays for a reranker")
Markdown(f"""
Where they disagree, and why:

* **"cross-encoder when < 1000 candidates"** assumes scoring a thousand pairs is affordable. Per query it
  costs `n × (ms per pair)`: {pairs_1000_s:.1f} s for 1,000 documents with the fastest setting here. In
  the {len(ce_rows)} scenarios where the rule says "cross-encoder", the measured answer is: {counts(ce_rows)}.
* **"hybrid at 50–100 ms"** holds on fast hardware. Here even a top-10 rerank costs {top10_ms:.0f} ms
  with the fastest setting. In the {len(hyb)} scenarios where the rule says "hybrid", the measured answer
  is: {counts(hyb)}.
* **"bi-encoder for millions of docs"** agrees with measurement, with a twist: exact (Flat) search over a
  million vectors is predicted at {flat_1m:.0f} ms here, so {big_ann} of the {len(big)} bi-encoder answers
  for a million documents or more use an approximate index and report its measured recall.
* **"reranking helps"** is the unstated premise of every hybrid rule. Tested on the profile's
  {quality.queries} measured queries: {premise}. The grid recommends a hybrid in {len(hybrids)} of
  {len(grid)} scenarios ({int(hybrids['interpolated'].sum())} of them interpolated).
""")

# %% [markdown]
# ## 6 · The decision tool
#
# Move the sliders, pick an accuracy need, or click an industry preset. The card shows the
# recommendation, its expected gain over the bi-encoder with the 95% interval, and any warning about the
# profile; the plot shows, per approach, the cheapest predicted p50 that meets the accuracy need at each
# corpus size (dotted where that approach cannot reach the need), the budget line and the chosen point.
# A GPU choice appears only when a measured GPU profile exists.

# %%
from ragcompare.decide import DecisionTool

tool = DecisionTool(corpus_size=1e5, latency_budget_ms=300, accuracy="medium")
tool

# %% [markdown]
# ## 7 · Check it yourself
#
# The cost model is a prediction. `scripts/validate_decide.py` runs the recommended configuration for
# real over a grid of scenarios and reports how close the predicted p50 is, how often the measured p95
# meets the budget, and how often each approach was recommended (other jobs on a shared machine add
# noise — the script scales predictions by a quick speed probe to account for the current load).
# Calibrating your own machine takes one command:
#
# ```bash
# ragcompare calibrate                  # this machine's costs; --quick for a smoke test
# ragcompare calibrate --quality-only   # re-measure the quality curves (slow: every judged query)
# ragcompare recommend --corpus-size 2e6 --latency-ms 50 --accuracy high
# ```
#
# ## Summary
#
# * Rules of thumb encode someone else's hardware and someone else's data. A measured profile plus
#   quality curves give a recommendation for *yours*: approach, FAISS index, `k_retrieve`, reranker
#   `max_length`, batch size, INT8 and, for an interpolated hybrid, `alpha` — with predicted p50/p95,
#   expected nDCG@10 and the 95% interval of its gain over the bi-encoder.
# * A gain counts only when its interval excludes zero: a reranker is recommended when it measurably
#   helps and the budget allows, never on the strength of a noisy sample.
# * The cheapest option that meets the need wins; the runner-ups say why they lost; an infeasible
#   request says which constraint to relax and by how much.
# * On a CPU, reranking is the expensive part: it scales with `k_retrieve × ms per pair`, so
#   `max_length` and INT8 quantization move the feasibility frontier more than the choice of index.
#
# ## Exercises
#
# 1. Run `ragcompare calibrate --quick` and compare `recommend(1e5, 300, "high", profile="cpu")` with the
#    shipped profile's answer. Which component's measured cost changed most?
# 2. Find the smallest latency budget at which `recommend(2e4, b, "high")` returns a hybrid (if it ever
#    does here). How does it move if you pass `memory_budget_gb=0.01`?
# 3. The levels in `ACCURACY_LEVELS` are relative to the measured curves. Change the need to an absolute
#    one: write a function that returns the cheapest option whose credited nDCG@10 (`Option.credited`)
#    reaches a threshold of your choice, using `ragcompare.decide.candidate_options` and `CostModel`,
#    and compare its choice with `recommend`'s.
# 4. `QualityModel(profile.quality).table()` lists every measured option with its interval. How many
#    options have an interval above zero, and how many would you expect by chance alone if none helped?
