# %% [markdown]
# # 02 · The bi-encoder: semantic search and its other uses
#
# A bi-encoder turns every text into one vector, **independently** of any other text. That single
# property makes it cheap: documents are encoded once, ahead of time, and a query costs one encoding
# plus a nearest-neighbour lookup.
#
# **You will learn to**
#
# 1. precompute and cache document embeddings for a real collection (Cranfield, 1,400 aerodynamics
#    abstracts with 225 judged queries);
# 2. search them exactly with FAISS, inspect the hits and score the ranking with nDCG@10;
# 3. measure query latency, stage by stage;
# 4. reuse the same vectors for **clustering** (with a 2-D map and labels from frequent terms),
#    **near-duplicate detection** and **FAQ-style matching**;
# 5. set up **asymmetric** query/document encoders, and see what can and cannot be shown offline.
#
# Every number below is computed by the cells; timings depend on the machine (printed next).

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

# %% [markdown]
# ## 1 · The collection
#
# `load_dataset` reads the BEIR layout (`corpus.jsonl`, `queries.jsonl`, `qrels/test.tsv`). A
# document's text for every model is `title. abstract`.

# %%
# NBVAL_CHECK_OUTPUT
from ragcompare import load_dataset

dataset = load_dataset("cranfield")
print(dataset)
doc_id = "1"
print(f"document {doc_id}: {dataset.texts[doc_id][:300]}...")
qid = "1"
print(f"query {qid}: {dataset.queries[qid]}")
print(f"judged relevant for query {qid}: {sorted(dataset.qrels[qid], key=int)}")

# %% [markdown]
# ## 2 · Precompute and cache the document embeddings
#
# `BiEncoderRetriever.index` encodes every document with `all-MiniLM-L6-v2` (384 dimensions, a
# 6-layer MiniLM) and stores the L2-normalised vectors in a FAISS index. Vectors are also kept in an
# on-disk cache (SQLite, keyed by model and text), so the second run of this notebook encodes nothing.
# The `cache hit rate` line tells you which case you are in.

# %%
import time

from ragcompare import BiEncoderRetriever

bi = BiEncoderRetriever("sentence-transformers/all-MiniLM-L6-v2", index_factory="Flat",
                        show_progress=False)
t0 = time.perf_counter()
bi.index(dataset.texts)
index_s = time.perf_counter() - t0
print(f"indexed {len(bi.doc_ids)} documents in {index_s:.1f} s "
      f"(encode {bi.last_timings['encode_corpus']:.2f} s, build index "
      f"{bi.last_timings['build_index'] * 1000:.1f} ms); cache hit rate {bi.cache.hit_rate:.0%}")

# What a cold run costs: encode a small batch without the cache and scale up.
sample = list(dataset.texts.values())[:32]
t0 = time.perf_counter()
bi._encode(bi.model, sample, False)
per_doc_s = (time.perf_counter() - t0) / len(sample)
print(f"cold encoding: {1 / per_doc_s:.0f} documents/s -> about {per_doc_s * len(dataset.corpus):.0f} s "
      "for the whole collection without the cache")

# %%
# NBVAL_CHECK_OUTPUT
doc_vectors = bi.encode_documents(list(dataset.texts.values()))  # served from the cache
print("vectors:", doc_vectors.shape, doc_vectors.dtype)
print("unit length:", bool(np.allclose(np.linalg.norm(doc_vectors, axis=1)[
    np.linalg.norm(doc_vectors, axis=1) > 0], 1, atol=1e-3)))
print("FAISS index:", type(bi.faiss_index).__name__, "holding", bi.faiss_index.ntotal, "vectors")
print(f"index size: {bi.memory_bytes / 1e6:.2f} MB (= {len(bi.doc_ids)} x {bi.dim} x 4 bytes + header)")

# %% [markdown]
# ## 3 · Exact search and what it returns
#
# `"Flat"` is brute force: the query vector is compared with every document vector by inner product,
# which for unit vectors is the cosine similarity. It is exact, so we can check it against a plain
# NumPy matrix product. Relevance grades come from the Cranfield judgments (4 = complete answer).

# %%
# NBVAL_CHECK_OUTPUT
query = dataset.queries[qid]
hits = bi.search([query], k=5)[0]
qvec = bi.encode_queries([query])[0]
brute = np.argsort(-(doc_vectors @ qvec), kind="stable")[:5]
print("query:", query)
print("top-5 ids:", [h.doc_id for h in hits])
print("FAISS Flat == NumPy brute force:", [h.doc_id for h in hits] == [bi.doc_ids[i] for i in brute])


# %%
def show_hits(hits, qid):
    """Hits as a table: id, score, relevance grade, title."""
    judged = dataset.qrels.get(qid, {})
    return pd.DataFrame([{"doc_id": h.doc_id, "cosine": h.score, "grade": judged.get(h.doc_id, 0),
                          "title": dataset.corpus[h.doc_id].title} for h in hits])

show_hits(hits, qid)

# %% [markdown]
# Over all judged queries the ranking quality is measured with `ranx` (nDCG@10, MRR@10, recall@100,
# MAP). In quick mode a reproducible sample of queries is used.

# %%
from ragcompare import evaluate, retrieve

eval_queries = dataset.sample_queries(60 if QUICK else None)
bi_results = retrieve(bi, eval_queries, k=100)
bi_metrics = evaluate(bi_results, dataset.qrels)
print(f"{len(eval_queries)} queries:", {m: round(v, 3) for m, v in bi_metrics.items()})

# %% [markdown]
# ## 4 · Query latency
#
# A search service sees queries one at a time. `stage_timings` searches each query alone (after a
# warm-up) and records the retriever's own per-stage timings: encoding the query with the transformer
# versus searching the FAISS index. *These numbers depend on the machine and on whatever else runs on
# it; they are never checked by the tests.*

# %%
from ragcompare import latency_stats
from ragcompare.eval import stage_timings

lat_queries = dataset.sample_queries(20 if QUICK else 100, seed=1)
lat = stage_timings(bi, lat_queries, k=10)
bi_latency = latency_stats(lat["total"] / 1000)
print({k: round(v, 2) for k, v in bi_latency.items()})
print(lat[["encode_query", "search"]].median().round(3).to_dict(), "(median ms per stage)")

fig, ax = plt.subplots(figsize=(7, 3), layout="constrained")
lat[["encode_query", "search"]].plot.hist(bins=30, alpha=0.7, ax=ax, logx=False)
ax.set_xlabel("milliseconds per query")
ax.set_title("where a bi-encoder query spends its time")
ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
plt.show()
median_ms = lat[["encode_query", "search"]].median()
display(Markdown(
    f"Median over {len(lat)} queries: encoding the query takes {median_ms['encode_query']:.1f} ms, the "
    f"exact search over {bi.faiss_index.ntotal:,} vectors {median_ms['search']:.2f} ms — the search is "
    f"{median_ms['search'] / median_ms.sum():.0%} of the time."))

# %% [markdown]
# At this corpus size the exact search is one small matrix product. At millions of documents its
# share grows, which is what approximate FAISS indexes (IVF, HNSW, PQ — any factory string works in
# `BiEncoderRetriever`) are for.
#
# ## 5 · Use case: clustering the collection
#
# The same vectors group documents by topic without any labels. K-means finds the groups; each group
# is named by its **distinctive frequent terms** (terms frequent in the cluster but not everywhere,
# a class-based TF-IDF), and PCA draws the 384-dimensional vectors on a 2-D map. The map keeps only
# two of the 384 directions: clusters that overlap on it can still be apart in the full space.

# %%
from ragcompare.teach import cluster_table, cluster_vectors, project_2d

n_clusters = 8
texts = list(dataset.texts.values())
labels = cluster_vectors(doc_vectors, n_clusters, seed=0)
clusters = cluster_table(bi.doc_ids, texts, labels, top_n=4)
clusters

# %%
xy = project_2d(doc_vectors)
fig, ax = plt.subplots(figsize=(10, 6), layout="constrained")
palette = sns.color_palette("tab10", n_clusters)
for _, row in clusters.iterrows():  # largest cluster first, as in the table
    m = labels == row.cluster
    ax.scatter(xy[m, 0], xy[m, 1], s=8, alpha=0.6, color=palette[row.cluster],
               label=f"{row.cluster}: {', '.join(row.label.split(', ')[:3])} ({row['size']})")
    cx, cy = np.median(xy[m], axis=0)  # the cluster's centre: a large marker of its colour
    ax.scatter([cx], [cy], s=120, marker="X", color=palette[row.cluster], edgecolor="black", lw=0.8)
ax.legend(title="cluster: frequent terms (documents)", loc="upper left", bbox_to_anchor=(1.01, 1.0),
          fontsize=8, title_fontsize=8, markerscale=2)
ax.set_title(f"Cranfield documents: PCA of bi-encoder vectors, {n_clusters} k-means clusters (X = centre)")
ax.set_xticks([])
ax.set_yticks([])
plt.show()

# %% [markdown]
# ## 6 · Use case: near-duplicate detection
#
# Two documents whose vectors have a cosine close to 1 say the same thing. Comparing every pair is a
# single matrix product here (1,400² pairs); the `jaccard` column adds plain word overlap, which tells
# copies (high overlap) from paraphrases (low overlap). The histogram shows how rare such pairs are
# among random pairs.

# %%
# NBVAL_CHECK_OUTPUT
from ragcompare.teach import near_duplicates, similarity_histogram_values

threshold = 0.95
dups = near_duplicates(bi.doc_ids, doc_vectors, threshold=threshold, texts=dataset.texts)
dups["text_a"] = [dataset.texts[d][:60] for d in dups.doc_a]
dups["text_b"] = [dataset.texts[d][:60] for d in dups.doc_b]
print(f"{len(dups)} pairs with cosine >= {threshold}")
print(dups[["doc_a", "doc_b"]].to_string(index=False))

# %%
display(dups)
sims = similarity_histogram_values(doc_vectors, sample=600)
fig, ax = plt.subplots(figsize=(7, 3))
ax.hist(sims, bins=80, color="steelblue")
ax.axvline(threshold, color="crimson", ls="--", label=f"threshold {threshold}")
ax.set_xlabel("cosine similarity of random document pairs")
ax.set_ylabel("pairs")
ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
plt.tight_layout()
plt.show()
empty = [not (dataset.texts[a].strip() or dataset.texts[b].strip()) for a, b in zip(dups.doc_a, dups.doc_b)]
copies = dups[[not e for e in empty]]
n_empty = sum(empty)
Markdown(
    f"Random pairs have a median cosine of {np.median(sims):.2f} (99.9th percentile "
    f"{np.percentile(sims, 99.9):.2f}), so the {len(dups)} pairs at {threshold} or more stand out. "
    f"{n_empty} of them {'joins' if n_empty == 1 else 'join'} two **empty** documents"
    + (f"; the other {len(copies)} share {copies.jaccard.min():.0%}–{copies.jaccard.max():.0%} of "
       "their words (Jaccard)." if len(copies) else "."))

# %% [markdown]
# Read the table before trusting it. **Empty** documents (the Cranfield corpus has entries with no
# text) all get one and the same vector, so any two of them look like perfect duplicates. Pairs with a
# high word overlap are the same paper entered twice; a high cosine with little word overlap would be
# a paraphrase. Near-duplicate detection is a cheap data-quality check before you build an index.
#
# ## 7 · Use case: FAQ-style matching
#
# In FAQ search, a user's question is matched to the closest **stored question**, whose answer is then
# returned — short text against short text, plus a rule for "I have no answer". Cranfield has no FAQ,
# so we build one from what it has: each document **title** plays a stored question, its abstract the
# answer, and the judged queries play users. A match is correct when the judges marked that
# document relevant to the query. A score threshold turns low-confidence matches into "no answer":
# the plot shows how much precision each step of coverage buys.

# %%
from ragcompare.teach import faq_threshold_curve, match_faq

faq_ids = [d for d, doc in dataset.corpus.items() if doc.title]
faq_vectors = bi.encode_documents([dataset.corpus[d].title for d in faq_ids])  # cached after run 1
faq_queries = dataset.sample_queries(60 if QUICK else None)
q_vectors = bi.encode_queries(list(faq_queries.values()))
matches = match_faq(q_vectors, faq_vectors, faq_ids)
correct = [dataset.qrels[q].get(m, 0) > 0 for q, (m, _) in zip(faq_queries, matches)]
faq_precision = float(np.mean(correct))
print(f"{len(faq_queries)} questions; best FAQ entry is relevant for {faq_precision:.0%} of them")

curve = faq_threshold_curve([s for _, s in matches], correct, np.arange(0.3, 0.85, 0.05))
fig, ax = plt.subplots(figsize=(8, 3.2), layout="constrained")
ax.plot(curve.threshold, curve.answered, marker="o", label="share of questions answered")
ax.plot(curve.threshold, curve.precision, marker="s", label="precision of the answers")
ax.set_xlabel("minimum cosine to answer")
ax.set_ylim(0, 1.05)
ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
ax.set_title("FAQ matching: coverage vs precision")
plt.show()
curve.round(2)

# %%
examples = pd.DataFrame([{"question": faq_queries[q][:70], "matched FAQ title": dataset.corpus[m].title[:60],
                          "cosine": s, "relevant": ok}
                         for (q, (m, s), ok) in list(zip(faq_queries, matches, correct))[:6]])
examples

# %% [markdown]
# ## 8 · Asymmetric query and document encoders
#
# Queries and documents differ: a short question against a long abstract (the cell below counts the
# words). Asymmetric setups encode them differently — either **two models** (e.g. DPR's question and
# context encoders) or one model with **different instructions** (E5/BGE-style `"query: "` /
# `"passage: "` prompts). In ragcompare both sides are one argument each:
# `BiEncoderRetriever(doc_model, query_model=...)`.

# %%
query_words = np.median([len(q.split()) for q in dataset.queries.values()])
doc_words = np.median([len(t.split()) for t in dataset.texts.values()])
print(f"median length: queries {query_words:.0f} words, documents {doc_words:.0f} words")

# %% [markdown]
# With a connected machine the next cell runs a real asymmetric pair. Offline it is skipped, because
# those weights cannot be shipped here:

# %%
from ragcompare.models import hub_reachable

if hub_reachable() and not QUICK:
    asym = BiEncoderRetriever(
        "sentence-transformers/facebook-dpr-ctx_encoder-single-nq-base",
        query_model="sentence-transformers/facebook-dpr-question_encoder-single-nq-base",
        show_progress=False).index(dataset.texts)
    print("DPR (two encoders):", evaluate(retrieve(asym, eval_queries, 100), dataset.qrels))
else:
    print("offline: the DPR question/context encoders need the Hugging Face hub; skipped")

# %% [markdown]
# Offline the only bi-encoder is `all-MiniLM-L6-v2`. Below, honestly labelled, is what can be run
# with it: (a) the **same API** with a separate query model — here the same weights loaded twice, so
# the vectors (and scores) must be identical, which the cell checks; (b) an **instruction prefix** on
# the query side only (`prompt="query: "`), which models such as E5 are trained for and MiniLM is not.
# Measure before you adopt a prompt: `compare` scores both runs on the same queries and gives the
# change with its 95% interval (paired bootstrap) and p-value (randomization test).

# %%
# NBVAL_CHECK_OUTPUT
two_model = BiEncoderRetriever("sentence-transformers/all-MiniLM-L6-v2", query_model="all-minilm-l6-v2",
                               show_progress=False)
two_model.add_vectors(bi.doc_ids, doc_vectors)  # document vectors computed once, reused
same = np.allclose(two_model.encode_queries([query]), bi.encode_queries([query]), atol=1e-5)
print("query encoder is a second model object:", two_model.query_model is not two_model.model)
print("same weights -> identical query vectors:", same)

# %%
from ragcompare import compare, format_comparison
from ragcompare.eval import compare_runs, to_results

q_ids = list(eval_queries)
prefixed = bi.query_model.encode([eval_queries[q] for q in q_ids], prompt="query: ",
                                 normalize_embeddings=True, convert_to_numpy=True)
prompt_results = to_results(q_ids, bi.search_vectors(prefixed, 100))
prompt_runs = {"symmetric (no prompt)": bi_results, 'query prompt "query: "': prompt_results}
prompt_effect = compare_runs(prompt_runs, dataset.qrels, metrics=["ndcg@10"])[
    'query prompt "query: "']["ndcg@10"]
format_comparison(compare(prompt_runs, dataset.qrels))

# %% [markdown]
# ## Summary
#
# Built from this run's measurements (timings are this machine's, under its current load).

# %%
Markdown(f"""
- Documents are encoded **once**: {len(dataset.corpus):,} documents become {doc_vectors.shape[1]}-d
  vectors, a {bi.memory_bytes / 1e6:.1f} MB index. Cold, the model encodes about {1 / per_doc_s:.0f}
  documents/s here (about {per_doc_s * len(dataset.corpus):.0f} s for the collection, scaled from
  {len(sample)} documents; notebook 01 estimates the same from another sample); with the cache the
  index was built in {index_s:.1f} s.
- Exact search on {len(eval_queries)} queries: nDCG@10 {bi_metrics['ndcg@10']:.3f}, recall@100
  {bi_metrics['recall@100']:.3f}. A query costs {bi_latency['p50_ms']:.1f} ms (median), of which the
  FAISS search is {lat['search'].median():.2f} ms.
- The same vectors give clustering, near-duplicate detection ({len(dups)} pairs at cosine ≥
  {threshold}, {n_empty} of them between empty documents) and FAQ matching (the best FAQ entry is relevant
  for {faq_precision:.0%} of the questions) for free — check what they find before trusting them.
- Asymmetric setups are a constructor argument; whether a prompt helps is an empirical question. For
  MiniLM, which was not trained with one, the `"query: "` prompt changes nDCG@10 by
  {prompt_effect.describe()}: {"a real gain" if prompt_effect.low > 0 else
  "a real loss" if prompt_effect.high < 0 else "no difference this evaluation can detect"}.
""")

# %% [markdown]
# ## Exercises
#
# 1. Replace `"Flat"` with `"HNSW32"` or `"IVF16,Flat"` (and `bi.set_search_params(nprobe=4)`): how
#    much recall@100 do you lose, and does latency change at this corpus size?
# 2. Change `n_clusters` to 4 and 16. Which cluster labels stay stable? Which clusters split?
# 3. Load `load_dataset("cisi")` and repeat the near-duplicate scan: what does a threshold of 0.9
#    find there?
