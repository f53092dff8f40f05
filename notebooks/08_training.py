# %% [markdown]
# # 08 · Training your own rankers: a cross-encoder and a bi-encoder
#
# No package here ships a pretrained reranker, so ragcompare trains its own (`data/models/`). This
# notebook does the same thing at small scale, in a few minutes on a CPU, so you can watch it happen.
#
# **What you will learn**
#
# - how a cross-encoder is trained: (query, document, label) pairs and a binary cross-entropy loss —
#   the *simpler* setup of the two;
# - how a bi-encoder is trained: (query, positive) rows where the **other documents in the batch** act
#   as negatives (`MultipleNegativesRankingLoss`), and why adding **mined hard negatives** matters;
# - how to mine hard negatives from BM25 and the bi-encoder while skipping likely false negatives;
# - why the evaluation protocol decides what a number means: new queries on the *same* collection
#   (in-domain) versus a collection the model never saw (out-of-domain) can give opposite answers.

# %%
# %matplotlib inline
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import Markdown

from ragcompare.teach import setup_notebook

# One torch thread: on a small machine shared with other jobs, a second thread per process
# oversubscribes the cores and timings become erratic. On a machine of your own, pass torch_threads=None.
QUICK = setup_notebook(torch_threads=1)  # RAGCOMPARE_QUICK=1: fewer queries, same collection, same models

# %% [markdown]
# ## 1 · Data: judged queries, split two ways
#
# Cranfield (aeronautics abstracts) has 225 judged queries. We train on two thirds of them and keep
# the other third as **unseen queries on the same collection**. CISI (library science) is never used
# for training: it is the **unseen collection**. `split_queries` makes the split reproducible;
# `subset` restricts a collection to some of its queries (the corpus stays whole).

# %%
from sentence_transformers import CrossEncoder, SentenceTransformer

from ragcompare import compare, format_comparison, load_dataset, resolve_model
from ragcompare.eval import compare_runs
from ragcompare.settings import cache_dir
from ragcompare.train import (
    as_results,
    bm25_rankings,
    build_rerank_pairs,
    dense_rankings,
    encode_corpus,
    freeze_layers,
    judged_qrels,
    loss_curve,
    mine_hard_negatives,
    reranking_runs,
    split_queries,
    subset,
    train_bi_encoder,
    train_cross_encoder,
)

cran = load_dataset("cranfield")
cisi = load_dataset("cisi")
train_q, test_q = split_queries(cran, test_fraction=1 / 3, seed=12)
train_coll = subset(cran, train_q)
test_coll = subset(cran, test_q if not QUICK else test_q[:25])
cisi_eval = cisi if not QUICK else subset(cisi, sorted(cisi.queries)[:20])
print(f"cranfield: {len(cran.corpus)} documents, {len(train_q)} training queries, "
      f"{len(test_q)} held-out queries ({len(test_coll.queries)} evaluated)")
print(f"cisi: {len(cisi.corpus)} documents, {len(cisi_eval.queries)} queries evaluated, "
      "never trained on")

# %% [markdown]
# ## 2 · Hard negatives
#
# A cross-encoder learns from labelled pairs: judged-relevant documents are positives. Negatives
# should be *hard* — documents that a first stage ranks high but that are not relevant — otherwise
# the model only learns to separate on-topic from off-topic text, which the first stage already does.
#
# `mine_hard_negatives` takes ranks 1–50 of BM25 and of the bi-encoder (interleaved) and drops:
# judged-relevant documents, and any document whose embedding is nearly identical (cosine ≥ 0.93)
# to a positive — those are likely **false negatives**, relevant documents nobody judged.

# %%
bi = SentenceTransformer(resolve_model("sentence-transformers/all-MiniLM-L6-v2"), device="cpu")
emb = encode_corpus(cran, bi, cache_dir=cache_dir() / "training-emb")
bm25_run = bm25_rankings(cran, k=100)
dense_run = dense_rankings(cran, bi, emb, k=100)
negatives = mine_hard_negatives(train_coll, [bm25_run, dense_run], n_negatives=16, depth=50,
                                doc_emb=emb, duplicate_threshold=0.93, seed=12)
qid = train_q[0]
positive = next(d for d, g in cran.qrels[qid].items() if g > 0)
rank_of = {d: r + 1 for r, (d, _) in enumerate(dense_run[qid])}
example = pd.DataFrame(
    [{"role": "query", "text": cran.queries[qid][:90], "bi-encoder rank": None}]
    + [{"role": "positive (judged)", "text": cran.corpus[positive].title[:90],
        "bi-encoder rank": rank_of.get(positive)}]
    + [{"role": "hard negative", "text": cran.corpus[d].title[:90], "bi-encoder rank": rank_of.get(d)}
       for d in negatives[qid][:3]])
example

# %% [markdown]
# The pairs: up to 16 judged positives per training query (label 1) and its 16 mined negatives
# (label 0): the 8 hardest, plus 8 drawn from deeper ranks for variety.

# %%
# NBVAL_CHECK_OUTPUT
pairs = build_rerank_pairs(train_coll, negatives, max_positives=16, seed=12)
print(f"{len(pairs)} training pairs, {sum(p[2] > 0.5 for p in pairs)} positive")

# %% [markdown]
# ## 3 · Train a cross-encoder
#
# We start from ragcompare's STS cross-encoder (itself trained from the all-MiniLM-L6-v2 weights on
# STS-B and SICK) and continue on the Cranfield pairs with sentence-transformers' `CrossEncoderTrainer`
# and `BinaryCrossEntropyLoss`. Details that matter (see `ragcompare.train`): the embeddings and the
# first 3 layers stay frozen (faster, and the saved model only differs from its parent in the top
# layers), the score head gets a 10× larger learning rate than the body, and a wall-time budget stops
# training cleanly. Quick mode trains 40 steps; full mode 300 (the cell prints how many epochs that is).
# Training prints nothing while it runs; the losses it logs come back in `log_history`.

# %%
sts_path = resolve_model("ragcompare-stsb-minilm-l6")
before = CrossEncoder(sts_path, max_length=128, device="cpu")
model = CrossEncoder(sts_path, max_length=128, device="cpu")
freeze_layers(model, 3)
steps = 40 if QUICK else 300
ce_result = train_cross_encoder(
    model, pairs, cache_dir() / "nb08-cross-encoder", epochs=steps * 16 / len(pairs) + 1,
    max_steps=steps, batch_size=16, lr_body=5e-5, lr_head=5e-4, budget_s=900, eval_steps=10,
    logging_steps=5, seed=12)
print({k: v for k, v in ce_result.as_dict().items() if k != "eval_history"})

# %%
curve = pd.DataFrame(loss_curve(ce_result.log_history))
fig, ax = plt.subplots(figsize=(9, 3), layout="constrained")
ax.plot(curve["step"], curve["loss"], "o-", ms=3, lw=0.8, alpha=0.6, label="logged loss (one batch)")
ax.plot(curve["step"], curve["loss"].rolling(5, min_periods=1).mean(), lw=2, label="mean of 5 logs")
ax.axhline(np.log(2), color="grey", ls=":", label="ln 2: a model that always says 0.5")
ax.set_xlabel("training step (16 pairs each)")
ax.set_ylabel("BCE loss")
ax.set_title("Cross-encoder training loss")
ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
plt.show()

# %% [markdown]
# ## 4 · Before and after, on unseen queries and on an unseen collection
#
# Each cross-encoder reranks the bi-encoder's top 20; ranks below 20 keep the first-stage order. All
# rankings of a collection are scored on the same queries; `compare` gives each one's change in nDCG@10
# against the bi-encoder with its 95% interval (paired bootstrap over queries) and p-value
# (randomization test).

# %%
cisi_emb = encode_corpus(cisi, bi, cache_dir=cache_dir() / "training-emb")
stages = {
    test_coll.name: (test_coll, {"BM25": bm25_run, "bi-encoder": dense_run}),
    cisi_eval.name: (cisi_eval, {"BM25": bm25_rankings(cisi, k=100),
                                 "bi-encoder": dense_rankings(cisi, bi, cisi_emb, k=100)}),
}
BEFORE = "bi-encoder top-20 >> cross-encoder before"
AFTER = "bi-encoder top-20 >> cross-encoder after"
rankings, qrels_of, comparisons = {}, {}, {}
for coll, runs in stages.values():
    runs = {name: {q: run[q] for q in coll.queries} for name, run in runs.items()}
    rankings[coll.name] = reranking_runs(coll, runs, {"cross-encoder before": before,
                                                      "cross-encoder after": model},
                                         rerank_over="bi-encoder", k=20)
    qrels_of[coll.name] = judged_qrels(coll)
    comparisons[coll.name] = compare(rankings[coll.name], qrels_of[coll.name], metrics=["ndcg@10"],
                                     baseline="bi-encoder")
pd.concat({name: format_comparison(frame) for name, frame in comparisons.items()}, names=["collection"])

# %%
from matplotlib.ticker import MaxNLocator

SHORT = {"BM25": "BM25", BEFORE: "rerank, cross-encoder before", AFTER: "rerank, cross-encoder after"}
fig, axes = plt.subplots(1, len(comparisons), figsize=(11, 3), sharex=True, sharey=True,
                         layout="constrained")
for ax, (name, frame) in zip(np.atleast_1d(axes), comparisons.items()):
    rows = frame.drop(index="bi-encoder")
    y = np.arange(len(rows))
    d = rows["Δ ndcg@10"]
    ax.errorbar(d, y, xerr=[d - rows["Δ ndcg@10 low"], rows["Δ ndcg@10 high"] - d], fmt="o", capsize=4)
    ax.axvline(0, color="grey", lw=1)
    ax.set_yticks(y, [SHORT[n] for n in rows.index])
    ax.xaxis.set_major_locator(MaxNLocator(5))
    ax.set_title(f"{name}, {int(frame['queries'].iloc[0])} queries: bi-encoder nDCG@10 "
                 f"{frame.loc['bi-encoder', 'ndcg@10']:.3f}", fontsize=10)
np.atleast_1d(axes)[0].invert_yaxis()
fig.supxlabel("Δ nDCG@10 vs the bi-encoder (0 = the bi-encoder), with its 95% interval", fontsize=10)
plt.show()


# %%
def reading(d):
    """A difference in words, from its interval."""
    return "a real gain" if d.low > 0 else "a real loss" if d.high < 0 else "no difference this test can see"


training_effect = {name: compare_runs(r, qrels_of[name], BEFORE, ["ndcg@10"])[AFTER]["ndcg@10"]
                   for name, r in rankings.items()}


def verdict(name):
    frame = comparisons[name]
    best = frame.loc[["BM25", "bi-encoder"], "ndcg@10"].idxmax()
    vs_best = compare_runs(rankings[name], qrels_of[name], best, ["ndcg@10"])[AFTER]["ndcg@10"]
    return (f"**{name}**: reranking with the trained model gives nDCG@10 {frame.loc[AFTER, 'ndcg@10']:.3f}. "
            f"Training changed it by {training_effect[name].describe()} — {reading(training_effect[name])}; "
            f"against the best first stage, {best} ({frame.loc[best, 'ndcg@10']:.3f}), it is "
            f"{vs_best.describe()} — {reading(vs_best)}.")


Markdown("\n\n".join(verdict(c) for c in comparisons))

# %% [markdown]
# **Reading the result.** Two things to look for. First, the *unseen queries* (the Cranfield rows):
# training on judged pairs of the same collection is meant to teach the model that collection's
# vocabulary and its judges' habits. Second, the *unseen collection* (the CISI rows): a few hundred
# queries from one domain teach domain habits, not a general notion of relevance, so gains rarely
# transfer.
#
# A small score head on a body pre-trained for *mean-pooled sentence vectors* can need far more data
# than this to learn relevance. The next cell puts this run next to what the shipped Cranfield
# reranker's card records for a much longer run.

# %%
from ragcompare.models import model_card, shipped_models

shipped_cards = {name: model_card(path) for name, path in shipped_models().items()}
in_domain = next((n for n, c in shipped_cards.items() if c.get("training_collections") == ["cranfield"]),
                 None)
widths = [d.high - d.low for d in training_effect.values()]
text = (f"This run: {ce_result.steps} steps on {len(pairs):,} pairs changed nDCG@10 by "
        + " and ".join(f"{d.describe()} on {name}" for name, d in training_effect.items())
        + f". The intervals are {min(widths):.3f}–{max(widths):.3f} wide"
        + (": with this few queries a handful of swapped documents moves the mean by a few hundredths."
           if max(widths) >= 0.02 else "."))
if in_domain:
    card = shipped_cards[in_domain]
    log = [h for h in card["eval_history"] if "eval_dev_ndcg@10" in h][-1]
    mining, ev = card["mining"]["cranfield"], card["evaluation"]
    reranked = ev[f"bi_encoder_top{ev['k']}_reranked"]
    text += (
        f"\n\nThe shipped `{in_domain}` trained for {card['steps']:,} steps (batch "
        f"{card['hyperparameters']['batch_size']}) on {mining['train_queries']} Cranfield queries plus "
        f"corpus adaptation. On the {mining['dev_queries']} Cranfield queries held out of its training, its "
        f"log ends at nDCG@10 {log['eval_dev_ndcg@10']:.3f} for the reranked bi-encoder top {ev['k']}, "
        f"against {log['eval_dev_base_ndcg@10']:.3f} for the bi-encoder's own order. On the collection it "
        f"never saw ({ev['collection']}, {ev['queries']} queries) it reranks to {reranked:.4f}, against "
        f"{ev['bi_encoder']:.4f} for the bi-encoder alone.")
Markdown(text)

# %% [markdown]
# That is why ragcompare evaluates its shipped rerankers only leave-one-collection-out (each model card
# lists its training collections and the benchmark refuses to score a model on them), and why the
# public ms-marco rerankers were trained on ~500,000 queries across every topic on the web.

# %% [markdown]
# ## 5 · Fine-tuning the bi-encoder: in-batch negatives, with and without hard negatives
#
# A bi-encoder cannot score a pair on its own terms; it has to place every document in one vector
# space. `MultipleNegativesRankingLoss` treats each (query, positive) row's *other* rows in the batch as
# negatives — cheap, but those are mostly easy (random other topics). Adding one mined hard negative per
# row gives the loss a document that actually competes. Both runs start from the same weights and see
# the same queries; vectors are capped at 128 tokens here (and for the baseline) to keep it fast.

# %%
import tempfile


def bi_encoder_results(st_model, coll):
    doc_vectors = encode_corpus(cran, st_model)
    return as_results(dense_rankings(coll, st_model, doc_vectors, k=100), list(coll.queries))


BASE = "all-MiniLM-L6-v2 (not fine-tuned)"
IN_BATCH, HARD = "in-batch negatives only", "+ 1 mined hard negative per row"
base_path = resolve_model("sentence-transformers/all-MiniLM-L6-v2")
base = SentenceTransformer(base_path, device="cpu")
base.max_seq_length = 128
bi_runs, bi_steps, bi_curves = {BASE: bi_encoder_results(base, test_coll)}, {BASE: 0}, {}
for label, negs in ((IN_BATCH, None), (HARD, negatives)):
    st = SentenceTransformer(base_path, device="cpu")
    st.max_seq_length = 128
    with tempfile.TemporaryDirectory() as tmp:
        res = train_bi_encoder(st, train_coll, negs, tmp, epochs=0.3 if QUICK else 1.0,
                               batch_size=16, lr=2e-5, budget_s=600, seed=12, logging_steps=2)
    bi_curves[label] = pd.DataFrame(loss_curve(res.log_history))
    bi_steps[label] = res.steps
    bi_runs[label] = bi_encoder_results(st, test_coll)
bi_quality = format_comparison(compare(bi_runs, judged_qrels(test_coll), metrics=["ndcg@10", "recall@100"]))
bi_quality.insert(0, "training steps", [bi_steps[n] for n in bi_quality.index])
bi_quality

# %%
fig, ax = plt.subplots(figsize=(9, 3), layout="constrained")
for label, c in bi_curves.items():
    ax.plot(c["step"], c["loss"], "o-", ms=3, label=label)
ax.set_xlabel("training step (16 rows each)")
ax.set_ylabel("MNRL loss")
ax.set_title("Bi-encoder fine-tuning loss")
ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
plt.show()
bi_effects = compare_runs(bi_runs, judged_qrels(test_coll), BASE, ["ndcg@10"])
hard_vs_in_batch = compare_runs(bi_runs, judged_qrels(test_coll), IN_BATCH, ["ndcg@10"])[HARD]["ndcg@10"]
Markdown(
    f"Mean logged loss: {bi_curves[IN_BATCH]['loss'].mean():.2f} with in-batch negatives only, "
    f"{bi_curves[HARD]['loss'].mean():.2f} with a hard negative per row. On the "
    f"{len(test_coll.queries)} held-out queries, against the model before fine-tuning: in-batch only "
    f"{bi_effects[IN_BATCH]['ndcg@10'].describe()} — {reading(bi_effects[IN_BATCH]['ndcg@10'])}, with "
    f"hard negatives {bi_effects[HARD]['ndcg@10'].describe()} — {reading(bi_effects[HARD]['ndcg@10'])}; "
    f"hard negatives against in-batch only: {hard_vs_in_batch.describe()} — {reading(hard_vs_in_batch)}.")

# %% [markdown]
# A row with a hard negative contains a document that looks relevant, so its loss is higher — and
# that is the point: easy in-batch negatives are separated after a few steps and stop teaching. With
# this little data (and, in quick mode, a few steps) read the intervals before any difference; rerun
# with other random seeds before you believe one.
#
# ## 6 · How ragcompare's shipped models were trained
#
# Every shipped model folder has a card with its base model, training data, exact command, steps,
# wall time and evaluation. The rerankers were each trained on one collection's judgments and
# evaluated on the other — and, to attack exactly the failure seen in section 4, also **adapted to the
# other collection's corpus text**: its document titles serve as pseudo-queries, and each one's
# bi-encoder candidates get soft labels from a teacher (reciprocal-rank fusion of BM25 and the
# bi-encoder). No query or judgment of the evaluation collection is used. The table and the summary
# after it read their figures from the cards.

# %%
# NBVAL_CHECK_OUTPUT
from ragcompare.models import model_card, shipped_models

cards = []
for name, path in shipped_models().items():
    card = model_card(path)
    ev = card.get("evaluation", {})
    cards.append({"model": name, "trained on": ", ".join(card.get("training_collections", [])) or
                  ", ".join(card.get("training_data", []))[:40],
                  "steps": card.get("total_steps", card.get("steps")),
                  "wall time (s)": card.get("total_wall_time_s", card.get("wall_time_s")),
                  "held-out": ev.get("collection", "STS-B test"),
                  "result": (f"rerank {ev['bi_encoder_top20_reranked']} vs bi-encoder {ev['bi_encoder']}"
                             if "bi_encoder" in ev else
                             f"Spearman {ev['stsb-test']['cross_encoder_spearman']} vs bi-encoder "
                             f"{ev['stsb-test']['bi_encoder_cosine_spearman']}")})
pd.DataFrame(cards).set_index("model")

# %%
lines = []
for name, path in shipped_models().items():
    card = model_card(path)
    ev, previous = card.get("evaluation", {}), card.get("previous_version", {})
    if "bi_encoder" not in ev:
        continue
    key = f"bi_encoder_top{ev['k']}_reranked"
    mixed = ev.get(f"bi_encoder_top{ev['k']}_interpolated_alpha0.5")
    lines.append(
        f"- `{name}` (trained on {', '.join(card['training_collections'])}, adapted to "
        f"{card['corpus_adaptation']['pseudo_queries']:,} {ev['collection']} titles), held-out "
        f"{ev['collection']} ({ev['queries']} queries): reranked nDCG@10 {ev[key]:.4f}"
        + (f" (previous version {previous[key]:.4f})" if key in previous else "")
        + (f", interpolated with the bi-encoder (α = 0.5) {mixed:.4f}" if mixed is not None else "")
        + f"; the bi-encoder alone {ev['bi_encoder']:.4f}, so pure reranking is "
        + ("above" if ev[key] > ev["bi_encoder"] else "below") + " it.")
Markdown("\n".join(lines) + "\n\nThe cards give means only (no per-query scores), so these differences "
         "come without intervals.")

# %% [markdown]
# ## Exercises
#
# 1. Train the cross-encoder on CISI's queries instead and evaluate on Cranfield. Is the picture
#    symmetric?
# 2. Start from the bare all-MiniLM-L6-v2 weights: `init_cross_encoder(base_path)` (it revives
#    the dead BERT pooler — see its docstring). How many steps until the loss leaves ln 2?
# 3. Set `duplicate_threshold=1.01` (keep near-duplicates of positives as negatives) and retrain. What
#    happens to held-out nDCG, and why?
# 4. Interpolate instead of replacing: `interpolate(first_stage, raw_scores, alpha=0.5)`
#    (get raw scores from `rerank`; all three come from `ragcompare.train`). Does fusion rescue the
#    out-of-domain case?
