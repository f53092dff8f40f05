# %% [markdown]
# # 03 · The cross-encoder: reranking, scores, limits and cost
#
# A cross-encoder reads a (query, document) pair *jointly* and outputs one relevance score. It is the
# most accurate kind of ranker a transformer gives you per pair — and the most expensive, since nothing
# can be computed before the query arrives.
#
# **You will learn to**
#
# 1. rerank a candidate list and measure what reranking changes;
# 2. read the scores: raw logits versus calibrated (sigmoid) scores, and what "calibrated" does and
#    does not promise;
# 3. handle the pair length limit (512 tokens for BERT-style models): what truncation hides, and the
#    passage-splitting fix;
# 4. measure the cost per pair as a function of the pair length;
# 5. tell which of the classic cross-encoder use cases can be shown with the models available offline
#    (reranking, answer highlighting and — when the STS model is shipped — semantic similarity) and
#    which need a model we cannot ship (the code a connected user runs is included).

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
from pathlib import Path

from ragcompare import (
    BiEncoderRetriever,
    CrossEncoderReranker,
    load_dataset,
    pick_reranker,
    training_collections,
)

dataset = load_dataset("cranfield")
# The reranker: the hub's ms-marco MiniLM when online; offline, ragcompare's own trained model that
# never saw this collection's judgments. RAGCOMPARE_RERANKER overrides it (a model id or folder).
reranker_name = pick_reranker(dataset.name)
reranker = CrossEncoderReranker(reranker_name, max_length=256)
print(dataset)
print("cross-encoder:", reranker_name, "-> folder", Path(reranker.resolved).name)
print("trained on the judgments of:", sorted(training_collections(reranker.resolved)) or "(hub model)")
bi = BiEncoderRetriever("sentence-transformers/all-MiniLM-L6-v2", show_progress=False).index(dataset.texts)

# %% [markdown]
# ## 1 · Reranking a candidate list
#
# The bi-encoder proposes 20 candidates for a query; the cross-encoder scores each (query, candidate)
# pair and the list is re-sorted by that score. The table shows every candidate's rank before and
# after, with the judges' grade (0 = not judged relevant).

# %%
from ragcompare import evaluate

qid = "1"
query = dataset.queries[qid]
candidates = bi.search([query], 20)[0]
reranked = reranker.rerank(query, {h.doc_id: dataset.texts[h.doc_id] for h in candidates})
before = {h.doc_id: r for r, h in enumerate(candidates, 1)}
judged = dataset.qrels[qid]
table = pd.DataFrame([{"after": r, "before": before[h.doc_id], "doc_id": h.doc_id, "logit": h.score,
                       "grade": judged.get(h.doc_id, 0), "title": dataset.corpus[h.doc_id].title[:55]}
                      for r, h in enumerate(reranked, 1)])
one = {m: evaluate({qid: hits}, dataset.qrels, ["ndcg@10"])["ndcg@10"]
       for m, hits in (("bi-encoder", candidates), ("reranked", reranked))}
print(f"query {qid}: {query}")
print("nDCG@10 for this query:", {k: round(v, 3) for k, v in one.items()})
table.head(10)

# %% [markdown]
# One query proves little. The table below runs the same top-20 rerank over **every query** of the
# collection (scoring 20 pairs per query takes a few minutes on a small CPU; the cell prints the rate it
# measured). `compare` scores both rankings on the same queries and gives the change in nDCG@10 with its
# 95% interval (paired bootstrap) and p-value (randomization test). Pair scores are memoised
# (`PairScoreCache`) so that later sections reuse them instead of scoring the same pairs again.

# %%
from ragcompare import compare, format_comparison, retrieve
from ragcompare.eval import PairScoreCache, compare_runs, rerank_results

sample = dataset.sample_queries(10 if QUICK else None)  # None: all queries
first = retrieve(bi, sample, k=100)
cache = PairScoreCache(reranker, dataset.texts)
reranked_runs = rerank_results(first, sample, cache, k_retrieve=20, k=100)
sample_runs = {"bi-encoder": first, "bi-encoder >> cross-encoder@20": reranked_runs}
quality = compare(sample_runs, dataset.qrels)
rerank_effect = compare_runs(sample_runs, dataset.qrels, metrics=["ndcg@10"])[
    "bi-encoder >> cross-encoder@20"]["ndcg@10"]
rate = cache.pairs_scored / cache.seconds
scope = ("all" if len(sample) == len(dataset.queries) else "a sample of") + f" {len(sample)}"
print(f"{scope} of the {len(dataset.queries)} queries; {cache.pairs_scored} pairs scored in "
      f"{cache.seconds:.0f} s ({rate:.1f} pairs/s on this machine, now)")
format_comparison(quality)

# %% [markdown]
# ## 2 · Raw logits versus calibrated scores
#
# `score_pairs` returns the model's raw **logit** by default; `calibrated=True` passes it through a
# sigmoid, giving a number in 0–1. The sigmoid is monotonic, so the *ranking* is the same either way
# (checked below). What changes is what you can do with one score on its own: a 0–1 score invites a
# fixed threshold ("keep candidates above 0.5"). Whether 0.5 then means "50 % of such documents are
# relevant" is an empirical question — the reliability plot on the right answers it for this model on
# this collection (judged grade > 0 counts as relevant; unjudged documents count as not relevant).

# %%
from ragcompare.rerank import sigmoid

pairs = [(query, dataset.texts[h.doc_id]) for h in reranked[:5]]
raw = reranker.score_pairs(pairs)
cal = reranker.score_pairs(pairs, calibrated=True)
display(pd.DataFrame({"doc_id": [h.doc_id for h in reranked[:5]], "raw logit": raw, "calibrated": cal}))

logits = np.array([cache.scores[(sample[q], h.doc_id)] for q in sample for h in first[q][:20]])
relevant = np.array([dataset.qrels[q].get(h.doc_id, 0) > 0 for q in sample for h in first[q][:20]])
order = np.argsort(-logits, kind="stable")
print("sigmoid keeps the order of the logits:", bool(np.all(np.diff(sigmoid(logits)[order]) <= 0)))

# %%
calibrated = sigmoid(logits)
fig, axes = plt.subplots(1, 3, figsize=(14, 3.4))
panels = ((axes[0], logits, "raw logit", 30),
          (axes[1], calibrated, "calibrated (sigmoid)", np.linspace(0, 1, 31)))
for ax, values, name, bins in panels:
    ax.hist(values[~relevant], bins=bins, alpha=0.6, label="not judged relevant")
    ax.hist(values[relevant], bins=bins, alpha=0.6, label="judged relevant")
    ax.set_xlabel(name)
    ax.legend(fontsize=8)
bins = np.linspace(0, 1, 6)
which = np.clip(np.digitize(calibrated, bins) - 1, 0, len(bins) - 2)
centres, rates, counts = [], [], []
for b in range(len(bins) - 1):
    m = which == b
    if m.sum() >= 5:
        centres.append(calibrated[m].mean())
        rates.append(relevant[m].mean())
        counts.append(int(m.sum()))
axes[2].plot([0, 1], [0, 1], ls="--", color="grey", label="perfectly calibrated")
axes[2].plot(centres, rates, marker="o", label="this model")
axes[2].set_xlabel("calibrated score (bin mean)")
axes[2].set_ylabel("share judged relevant")
axes[2].legend(fontsize=8)
plt.tight_layout()
plt.show()
above = calibrated >= 0.5
above_text = (f"{above.mean():.0%} of pairs score >= 0.5, "
              f"{relevant[above].mean():.0%} of those judged relevant" if above.any()
              else "no pair scores >= 0.5")
print(f"{len(logits)} pairs: {above_text}")

# %% [markdown]
# ## 3 · The pair length limit and truncation
#
# BERT-style cross-encoders have 512 position embeddings, so a pair — query, document and three
# special tokens — is cut to at most 512 tokens (we run at `max_length=256` for speed; section 4
# shows the cost of going longer). Truncation removes tokens from the **end of the document**: anything
# relevant that sits beyond the cut is invisible to the model. First, how long are Cranfield pairs?

# %%
# NBVAL_CHECK_OUTPUT
from ragcompare.teach import pair_lengths

tokenizer = reranker.model.tokenizer
lengths = pair_lengths(tokenizer, query, list(dataset.texts.values()))
limit = reranker.model.model.config.max_position_embeddings
print(f"model position limit: {limit} tokens; pairs with query {qid}: median {int(np.median(lengths))}, "
      f"max {lengths.max()}")
for cut in (256, 512):
    print(f"pairs longer than {cut}: {(lengths > cut).sum()} of {len(lengths)} "
          f"({(lengths > cut).mean():.1%})")

# %%
fig, ax = plt.subplots(figsize=(7, 3))
ax.hist(lengths, bins=60, color="slategray")
for cut, colour in ((256, "orange"), (512, "crimson")):
    ax.axvline(cut, color=colour, ls="--", label=f"{cut} tokens")
ax.set_xlabel("tokens in (query, document) pair")
ax.set_ylabel("documents")
ax.legend(loc="upper right")
plt.tight_layout()
plt.show()
Markdown(f"With this query, {(lengths > reranker.max_length).mean():.0%} of the Cranfield pairs are cut at "
         f"the {reranker.max_length} tokens we run at, and {(lengths > limit).mean():.1%} would be cut even "
         f"at the model's {limit}-token limit.")

# %% [markdown]
# Web pages, PDFs and long RAG chunks are much longer than these abstracts. The experiment below makes
# truncation visible: the same relevant abstract is scored alone,
# followed by a long filler (other, non-relevant abstracts) and preceded by it. With the filler first
# the relevant text falls beyond the 512-token window. The standard fix is to split long documents into
# overlapping passages and keep the best passage's score (**MaxP**), shown in the last column.

# %%
from ragcompare.teach import truncation_experiment

relevant_doc = "184"
non_relevant = [d for d in dataset.corpus if d not in judged and dataset.corpus[d].text][:6]
filler = " ".join(dataset.texts[d] for d in non_relevant)
reranker_512 = CrossEncoderReranker(reranker_name, max_length=512)
trunc = truncation_experiment(reranker_512, query, dataset.texts[relevant_doc], filler, passage_tokens=200)
trunc

# %%
# NBVAL_CHECK_OUTPUT
print(trunc[["pair_tokens", "relevant_text_visible", "passages"]].to_string())

# %% [markdown]
# ## 4 · Cost per pair
#
# The cross-encoder's cost grows with the pair length (attention is quadratic in it, the feed-forward
# layers linear). `pair_cost` times the same candidate pairs at several `max_length` settings. *Timings
# depend on the machine and its load and are not checked by the tests.*

# %%
from ragcompare.teach import pair_cost

long_docs = [d for d in dataset.corpus if lengths[bi.doc_ids.index(d)] > 300][: 8 if QUICK else 24]
timing_pairs = [(query, dataset.texts[d]) for d in long_docs]
cost_rows = []
for max_length in (64, 128, 256, 512):
    ce = reranker_512 if max_length == 512 else CrossEncoderReranker(reranker_name, max_length=max_length)
    cost_rows.append({"max_length": max_length, **pair_cost(ce, timing_pairs)})
costs = pd.DataFrame(cost_rows).set_index("max_length")
display(costs.round(2))
fig, ax = plt.subplots(figsize=(6, 3))
costs["ms_per_pair"].plot(marker="o", ax=ax)
ax.set_ylabel("ms per pair")
ax.set_xscale("log", base=2)
ax.set_xticks(costs.index, costs.index)
ax.set_title("cross-encoder cost per pair vs max_length")
plt.tight_layout()
plt.show()
ms_256 = costs.loc[256, "ms_per_pair"]
print(f"at max_length 256: {ms_256:.0f} ms per pair -> top-20 rerank ~{20 * ms_256 / 1000:.2f} s, "
      f"scoring all {len(dataset.corpus)} documents "
      f"~{len(dataset.corpus) * ms_256 / 1000:.0f} s per query")

# %% [markdown]
# ## 5 · Use cases: what we can show offline, and what needs another model
#
# | use case | model it needs | here |
# |---|---|---|
# | rerank search / RAG candidates | relevance cross-encoder (MS MARCO style) | shown above (offline model) |
# | highlight the answering passage | the same relevance cross-encoder | shown below |
# | semantic textual similarity (STS) | STS cross-encoder (`cross-encoder/stsb-*`) | shown below if shipped |
# | NLI, zero-shot classification | NLI cross-encoder (`cross-encoder/nli-deberta-v3-*`) | hub only |
# | duplicate-question detection | `cross-encoder/quora-distilroberta-base` | hub only |
#
# The hub-only rows have code at the end of this section.
#
# ### Answer highlighting
#
# Split a relevant abstract into sentences and let the relevance cross-encoder score each against the
# query: the best sentence is a candidate answer snippet for a RAG prompt or a results page.

# %%
sentences = [s.strip() + " ." for s in dataset.corpus[relevant_doc].text.split(" .") if len(s.split()) > 3]
sentence_scores = reranker.score(query, sentences)
snippets = pd.DataFrame({"score": sentence_scores, "sentence": sentences})
snippets = snippets.sort_values("score", ascending=False)
print("query:", query)
snippets.head(4)

# %% [markdown]
# ### Semantic textual similarity
#
# An STS cross-encoder reads two sentences jointly and predicts their similarity (STS-B gold scores are
# 0–5). We compare its Spearman correlation with the gold scores to the bi-encoder's cosine on the same
# sample of the STS-B test split.

# %%
from ragcompare import ModelNotAvailableError, load_sentence_pairs, spearman
from ragcompare.models import DEFAULT_STS_CROSS_ENCODER, model_card

sts = load_sentence_pairs("stsb", "test", n=150 if QUICK else 600, seed=0)
bi_cos = np.sum(bi.encode_queries(list(sts.sentence1)) * bi.encode_queries(list(sts.sentence2)), axis=1)
sts_rows = {"bi-encoder cosine (all-MiniLM-L6-v2)": spearman(bi_cos, sts.score)}
sts_ce = sts_pred = None
sts_card = {}
try:
    sts_ce = CrossEncoderReranker(DEFAULT_STS_CROSS_ENCODER, max_length=128)
    sts_pred = sts_ce.score_pairs(list(zip(sts.sentence1, sts.sentence2)), calibrated=True)
    sts_card = model_card(sts_ce.resolved)  # {} for a hub model
    sts_ran = sts_card.get("name", DEFAULT_STS_CROSS_ENCODER)  # the row is named after what ran
    if sts_ran != DEFAULT_STS_CROSS_ENCODER:
        print(f"{DEFAULT_STS_CROSS_ENCODER} is not available here; running ragcompare's {sts_ran} instead")
    sts_rows[f"STS cross-encoder ({sts_ran})"] = spearman(sts_pred, sts.score)
except ModelNotAvailableError as e:
    print("STS cross-encoder not available here:", str(e)[:160], "...")
print(f"STS-B test sample of {len(sts)} pairs, Spearman correlation with the gold scores:")
pd.Series(sts_rows, name="spearman").round(3).to_frame()

# %% [markdown]
# The two architectures make *different* errors: the cross-encoder sees word-level interactions, the
# bi-encoder was trained on a billion sentence pairs. Putting both scores on one scale (z-scores) and
# mixing them, `w * z(cross-encoder) + (1 - w) * z(cosine)`, often beats each alone. The weight `w` is
# fitted on the STS-B **dev** split and only then applied to the test sample — fitting it on the pairs
# you report would flatter the result. (ragcompare's own STS cross-encoder was itself partly distilled
# from such a combination, so the two agree more than independent models would.)

# %%
from ragcompare.eval import fit_mix_weight, mix_scores

if sts_ce is not None:
    dev = load_sentence_pairs("stsb", "dev", n=200 if QUICK else None, seed=0)
    dev_ce = sts_ce.score_pairs(list(zip(dev.sentence1, dev.sentence2)), calibrated=True)
    dev_cos = np.sum(bi.encode_queries(list(dev.sentence1)) * bi.encode_queries(list(dev.sentence2)),
                     axis=1)
    w = fit_mix_weight(dev_ce, dev_cos, dev.score)
    print(f"weight fitted on {len(dev)} STS-B dev pairs: w = {w:.2f}")
    sts_rows[f"combined, w = {w:.2f}"] = spearman(mix_scores(sts_pred, bi_cos, w), sts.score)
display(pd.Series(sts_rows, name="spearman").round(3).to_frame())
# The same evaluation on the whole test split, as recorded in the model's card (ragcompare models only)
full = {r["set"]: r for r in sts_card.get("evaluation_combined", {}).get("rows", [])}.get("stsb-test")
if full:
    combined_key = next(k for k in full if k.startswith("combined"))
    display(Markdown(
        f"On the whole STS-B test split ({full['pairs']:,} pairs) the card of `{sts_card['name']}` records "
        f"Spearman {full['cross-encoder']:.3f} for the cross-encoder, {full['bi-encoder cosine']:.3f} for "
        f"the cosine and {full[combined_key]:.3f} for the {combined_key} mix "
        f"(`{sts_card['evaluation_combined']['command']}`)."))

# %% [markdown]
# ### Use cases that need a model we cannot ship
#
# The next cell is what a connected user runs; offline it says so and skips.

# %%
from ragcompare.models import hub_reachable

if hub_reachable() and not QUICK:
    from sentence_transformers import CrossEncoder

    nli = CrossEncoder("cross-encoder/nli-deberta-v3-small")  # labels: contradiction, entailment, neutral
    print(nli.predict([("A man is eating pizza", "A man eats something")]).argmax(axis=1))
    quora = CrossEncoder("cross-encoder/quora-distilroberta-base")  # duplicate-question probability
    print(quora.predict([("How do I learn Python?", "What is the best way to learn Python?")]))
else:
    print("offline: NLI / zero-shot and duplicate-question cross-encoders need the Hugging Face hub; "
          "skipped")

# %% [markdown]
# ## Summary
#
# Built from this run's measurements (timings are this machine's, under its current load).

# %%
q = quality["ndcg@10"]
verdict = ("better" if rerank_effect.low > 0 else "worse" if rerank_effect.high < 0
           else "not distinguishable from the bi-encoder on these queries")
sts_lines = "\n".join(f"- STS-B Spearman ({len(sts)} test pairs), {name}: {rho:.3f}"
                      for name, rho in sts_rows.items())
Markdown(f"""
- Top-20 rerank on **{scope} of the {len(dataset.queries)} queries**: nDCG@10
  {q.iloc[0]:.3f} (bi-encoder) → {q.iloc[1]:.3f} (reranked), a change of {rerank_effect.describe()}:
  {verdict}.
- Ranking is identical for raw logits and calibrated scores; {above_text} (of the {len(logits)} scored
  pairs).
- {(lengths > 512).mean():.1%} of Cranfield pairs exceed 512 tokens. Relevant text pushed past the
  window scored {trunc['score'].iloc[2]:.2f} against {trunc['score'].iloc[0]:.2f} alone; MaxP over
  passages gave {trunc['maxp_score'].iloc[2]:.2f}.
- Cost: {costs.loc[128, 'ms_per_pair']:.0f} / {costs.loc[256, 'ms_per_pair']:.0f} /
  {costs.loc[512, 'ms_per_pair']:.0f} ms per pair at max_length 128 / 256 / 512.
{sts_lines}
""")

# %% [markdown]
# - Reranking reorders a short candidate list; whether it helps is measured, not assumed (see the
#   interval above, and notebook 04 for all queries). Offline the reranker is
#   ragcompare's own small model trained on another collection's judgments (and adapted to this
#   corpus's text, never its queries), not an MS MARCO model.
# - Calibrated scores rank exactly like logits; their value as a threshold depends on how well the
#   model's training matches your data (see the reliability plot).
# - Past the 512-token window the model is blind; split long documents into passages and keep the best
#   (MaxP), at the price of one pair per passage.
# - Cost per pair grows with `max_length`; choose it from your documents' length distribution.
#
# ## Exercises
#
# 1. Rerank the top 50 instead of the top 20 with `rerank_results(..., k_retrieve=50)`. Does nDCG@10
#    move? How many extra pairs did `cache.pairs_scored` count?
# 2. Use a threshold on calibrated scores to decide "no relevant document found" for a query. Which
#    threshold would you pick from the reliability plot?
# 3. Compute MaxP scores with 100-token passages for the filler experiment: how do passage length and
#    stride change the score and the cost?
