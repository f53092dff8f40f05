# %% [markdown]
# # 01 · Three ways to rank: bi-encoder, cross-encoder, hybrid
#
# Search and RAG systems rank documents for a query with one of three architectures. This notebook
# shows — with real models on a real collection, not diagrams — what each one computes:
#
# 1. **Bi-encoder**: query and document are encoded *independently* into one vector each; relevance is
#    the cosine of the two vectors. Document vectors can be computed before any query arrives.
# 2. **Cross-encoder**: query and document are fed *jointly* through one transformer, which outputs a
#    single relevance score. Every query token can attend to every document token — and nothing can be
#    computed before the query is known.
# 3. **Hybrid (two-stage)**: a bi-encoder retrieves candidates cheaply, a cross-encoder reranks the top
#    `k_retrieve` of them.
#
# **You will learn** what "encode independently" and "attend jointly" mean at the level of tokens
# (heatmaps of both), what each architecture can precompute, and what each costs per query on this
# machine (measured, printed below).

# %%
# %matplotlib inline
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import display

from ragcompare.teach import setup_notebook

# One torch thread: on a small machine shared with other jobs, a second thread per process
# oversubscribes the cores and timings become erratic. On a machine of your own, pass torch_threads=None.
QUICK = setup_notebook(torch_threads=1)  # RAGCOMPARE_QUICK=1: fewer queries, same collection, same models

# %% [markdown]
# ## The collection and one query
#
# Cranfield: 1,400 aerodynamics abstracts, 225 queries with graded judgments (4 = complete answer).
# We follow one query and one document the judges marked relevant.

# %%
# NBVAL_CHECK_OUTPUT
from ragcompare import load_dataset

dataset = load_dataset("cranfield")
qid, doc_id = "1", "184"
query, document = dataset.queries[qid], dataset.texts[doc_id]
print(dataset)
print(f"query {qid}: {query}")
print(f"document {doc_id} (grade {dataset.qrels[qid][doc_id]}): {document[:240]}...")

# %% [markdown]
# ## 1 · Bi-encoder: two independent encodings, one cosine
#
# The bi-encoder (`all-MiniLM-L6-v2`) maps each text to a 384-dimensional unit vector. The document's
# vector does not depend on the query — encode it alone or inside a batch of other documents and you
# get the same numbers. That is the property that lets a search engine compute all document vectors
# offline.

# %%
from ragcompare import BiEncoderRetriever

bi = BiEncoderRetriever("sentence-transformers/all-MiniLM-L6-v2", show_progress=False)
q_vec = bi.encode_queries([query])[0]
d_vec = bi.encode_documents([document])[0]
d_vec_in_batch = bi.encode_documents([dataset.texts["1"], document, dataset.texts["2"]])[1]
print("query vector:   ", np.round(q_vec[:6], 3), "...")
print("document vector:", np.round(d_vec[:6], 3), "...")

# %%
# NBVAL_CHECK_OUTPUT
print("query vector:", q_vec.shape, "document vector:", d_vec.shape)
print("document vector independent of its batch:", bool(np.allclose(d_vec, d_vec_in_batch, atol=1e-4)))
print(f"relevance = cosine(query, document) = {float(q_vec @ d_vec):.2f}")

# %% [markdown]
# ## 2 · Cross-encoder: one joint input, one score
#
# The cross-encoder reads the pair as one sequence, `[CLS] query [SEP] document [SEP]`, and a small
# head on top outputs a single logit. There is no document vector to store: change the query and the
# whole pair has to be read again.

# %%
from pathlib import Path

from ragcompare import CrossEncoderReranker, pick_reranker, training_collections

# The reranker: the hub's ms-marco MiniLM when online; offline, ragcompare's own trained model that
# never saw this collection's judgments. RAGCOMPARE_RERANKER overrides it (a model id or folder).
reranker_name = pick_reranker(dataset.name)
reranker = CrossEncoderReranker(reranker_name, max_length=256)
print("cross-encoder:", reranker_name)
print("  loaded from the folder:", Path(reranker.resolved).name)
print("  trained on the judgments of:", sorted(training_collections(reranker.resolved)) or "(hub model)")
tokens = reranker.model.tokenizer.tokenize(query, document)
print(f"joint input: {len(tokens) + 3} tokens, starting", " ".join(["[CLS]"] + tokens[:22]), "...")
print(f"score(query, relevant document) = {reranker.score(query, [document])[0]:.3f} (raw logit)")

# %% [markdown]
# ## 3 · Token by token: what can interact with what
#
# Left: the **cross-encoder's attention** from each query token to each document token (averaged over
# all layers and heads) — the model itself computes these weights while reading the pair, so every
# query word can look at every document word. Right: the **bi-encoder's token-similarity matrix** —
# the cosine between the contextual token vectors of the query and of the document, each encoded
# separately. The bi-encoder never computes this matrix: its query tokens never saw the document, and
# all it keeps is the mean of each side's token vectors. The matrix is drawn here to show what a
# single pooled vector has to summarise.

# %%
from ragcompare.teach import (
               bi_encoder_token_similarity,
               cross_encoder_attention,
               load_attention_model,
               plot_token_matrix,
)

att_tokenizer, att_model = load_attention_model(reranker.resolved)
attention, logit = cross_encoder_attention(att_tokenizer, att_model, query, document, max_doc_tokens=32)
similarity = bi_encoder_token_similarity(bi.model, query, document, max_doc_tokens=32)
fig, axes = plt.subplots(1, 2, figsize=(15, 5.5))
plot_token_matrix(attention, axes[0], cmap="magma")
plot_token_matrix(similarity, axes[1], cmap="viridis")
plt.tight_layout()
plt.show()

# %%
print("strongest cross-encoder attention (query token -> document token):")
display(attention.top_pairs(5))
print("most similar token vectors in the bi-encoder:")
display(similarity.top_pairs(5))

# %% [markdown]
# Both matrices light up where query and document share words (the table above lists the strongest
# cells). The difference is *where* the comparison happens: inside the cross-encoder, these
# interactions feed the next layer and finally the score; in the bi-encoder, each side is squeezed into
# one vector first and the only interaction left is one dot product.
#
# ## 4 · The hybrid pipeline on the same query
#
# `HybridPipeline` asks the bi-encoder for the top `k_retrieve` documents and lets the cross-encoder
# reorder them. The table shows where each document sat before and after reranking, with the judges'
# grade.

# %%
from ragcompare import HybridPipeline

bi.index(dataset.texts)  # document vectors: from the on-disk cache after the first run
hybrid = HybridPipeline(bi, reranker, k_retrieve=20)
hybrid.texts = dataset.texts  # the first stage is indexed already
first = bi.search([query], 20)[0]
reranked = hybrid.search([query], 10)[0]
first_rank = {h.doc_id: r for r, h in enumerate(first, 1)}
judged = dataset.qrels[qid]
pd.DataFrame([{"hybrid rank": r, "bi-encoder rank": first_rank[h.doc_id], "doc_id": h.doc_id,
               "ce score": h.score, "grade": judged.get(h.doc_id, 0),
               "title": dataset.corpus[h.doc_id].title[:60]} for r, h in enumerate(reranked, 1)])

# %% [markdown]
# ## 5 · What can be precomputed, and what each architecture costs
#
# `precompute_costs` times each step on this machine: encoding documents (bi-encoder, offline), the
# online part of a bi-encoder query (encode + exact search over all vectors), and scoring pairs with
# the cross-encoder. Where a number is scaled from a measured per-item cost, the `how` column says so.
# *Timings are not checked by the tests: they depend on the machine and its load.*

# %%
from ragcompare.teach import precompute_costs

costs = precompute_costs(bi, reranker, dataset.texts, query, sample_docs=8 if QUICK else 24,
                         k_retrieve=20)
display(costs.round(3))
fig, ax = plt.subplots(figsize=(7, 3))
pivot = costs.pivot(index="architecture", columns="when", values="seconds")
pivot.plot.barh(ax=ax, logx=True, color=["#8da0cb", "#fc8d62"])
ax.legend(title="when", loc="center left", bbox_to_anchor=(1.01, 0.5))
ax.set_xlabel("seconds (log scale)")
ax.set_title(f"cost on this machine, {len(dataset.corpus)} documents")
ax.text(ax.get_xlim()[0] * 1.2, list(pivot.index).index("cross-encoder") - 0.125,
        "offline: nothing to precompute", va="center", fontsize=8)
plt.tight_layout()
plt.show()

# %% [markdown]
# ## Summary
#
# Built from this run's measurements on this machine (they move with its load).

# %%
from IPython.display import Markdown

c = costs.set_index(["architecture", "when"])["seconds"]
how = costs.set_index(["architecture", "when"])["how"]
Markdown(f"""
- A **bi-encoder** pays for documents once, offline: about {c['bi-encoder', 'offline']:.0f} s for the
  {len(dataset.corpus):,} documents here ({how['bi-encoder', 'offline']}; notebook 02 estimates the same
  cost from another sample). Each query is then one short encoding plus a vector search,
  {c['bi-encoder', 'per query'] * 1000:.0f} ms, so it scales to large collections.
- A **cross-encoder** sees query and document together — richer interactions, as the attention map
  shows — but nothing is reusable across queries: scoring every document costs about
  {c['cross-encoder', 'per query']:.0f} s per query ({how['cross-encoder', 'per query']}), out of reach
  beyond toy sizes.
- The **hybrid** pipeline spends the cross-encoder's cost only on a short candidate list: about
  {c['hybrid', 'per query']:.2f} s per query for the top {hybrid.k_retrieve},
  {c['cross-encoder', 'per query'] / c['hybrid', 'per query']:.0f}× less than the cross-encoder alone.
  Notebook 04 measures how long that list should be.
- The two scores live on different scales: for the relevant document the cross-encoder's logit is
  {logit:.3f}, the bi-encoder's cosine {float(q_vec @ d_vec):.3f}. Only the order each one gives is
  comparable.
""")

# %% [markdown]
# ## Exercises
#
# 1. Pass `layer=0` and `layer=-1` to `cross_encoder_attention`: how do early and late layers differ?
# 2. Pick a document judged *non-relevant* for this query and compare both heatmaps with the ones above.
# 3. Re-run `precompute_costs` with `k_retrieve=100`: where does the hybrid's per-query cost land
#    between the two pure architectures?
