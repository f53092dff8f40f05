"""Generate the teaching notebooks (cells only; execute them with nbconvert to store outputs).

    python scripts/make_notebooks.py            # all notebooks
    python scripts/make_notebooks.py 02 04      # some of them

Cells whose output is deterministic carry ``# NBVAL_CHECK_OUTPUT`` (checked by ``pytest --nbval-lax``);
timing cells never do.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parent.parent
NB_DIR = ROOT / "notebooks"
CHECK = "# NBVAL_CHECK_OUTPUT"

SETUP = '''\
import warnings

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
import torch
from transformers.utils import logging as hf_logging

from ragcompare.config import quick_mode
from ragcompare.sysinfo import describe_machine

hf_logging.set_verbosity_error()
hf_logging.disable_progress_bar()
warnings.filterwarnings("ignore", category=FutureWarning)
%matplotlib inline
plt.rcParams.update({"figure.dpi": 100, "savefig.dpi": 100, "figure.figsize": (7, 3.6)})
sns.set_theme(style="whitegrid", context="notebook")
pd.set_option("display.precision", 3)
pd.set_option("display.max_colwidth", 90)

# One torch thread: on a small machine shared with other jobs, a second thread per process
# oversubscribes the cores and timings become erratic. On a machine of your own, delete this line.
torch.set_num_threads(1)
QUICK = quick_mode()  # RAGCOMPARE_QUICK=1: fewer queries, same collection, same models
print("quick mode" if QUICK else "full mode")
print(describe_machine())'''


def md(text: str):
    """A Markdown cell."""
    return new_markdown_cell(text.strip("\n"))


_SPLIT = re.compile(r"^((?:ax|axes\[\d\]|plt|fig)\.[^\n]*?\)); (?=(?:ax|axes\[\d\]|plt|fig)\.)", re.M)


def code(text: str, check: bool = False):
    """A code cell; ``check`` marks its output as checked by nbval-lax."""
    text = text.strip("\n")
    while _SPLIT.search(text):  # one statement per line (ruff E702)
        text = _SPLIT.sub("\\1\n", text)
    return new_code_cell(f"{CHECK}\n{text}" if check else text)


def _keep_outputs(path: Path, cells: list) -> bool:
    """Copy stored outputs from ``path`` when its code cells are unchanged (only prose edited)."""
    if not path.is_file():
        return False
    old = nbformat.read(path, as_version=4)
    old_code = [c for c in old.cells if c.cell_type == "code"]
    new_code = [c for c in cells if c.cell_type == "code"]
    if [c.source for c in old_code] != [c.source for c in new_code]:
        return False
    for o, n in zip(old_code, new_code):
        n.outputs, n.execution_count = o.outputs, o.execution_count
    return True


def write(name: str, cells: list) -> Path:
    """Write a notebook with a python3 kernel spec (keeping outputs if no code cell changed)."""
    path = NB_DIR / name
    kept = _keep_outputs(path, cells)
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    nb.metadata["language_info"] = {"name": "python"}
    NB_DIR.mkdir(exist_ok=True)
    nbformat.write(nb, path)
    if kept:
        print(f"{name}: code unchanged, stored outputs kept")
    return path


RERANKER_IMPORTS = "import os\n"
MODELS_IMPORT = "from ragcompare.models import pick_reranker, training_collections\n"

RERANKER_PICK = '''\
# The reranker: the hub's ms-marco MiniLM when online; offline, ragcompare's own trained model that
# never saw this collection's judgments. RAGCOMPARE_RERANKER overrides it (a model id or folder).
reranker_name = os.environ.get("RAGCOMPARE_RERANKER") or pick_reranker(dataset.name)'''



# ---------------------------------------------------------------------------------------------
# 02 bi-encoder
# ---------------------------------------------------------------------------------------------

def nb02() -> list:
    return [
        md('''
# 02 · The bi-encoder: semantic search and its other uses

A bi-encoder turns every text into one vector, **independently** of any other text. That single
property makes it cheap: documents are encoded once, ahead of time, and a query costs one encoding
plus a nearest-neighbour lookup.

**You will learn to**

1. precompute and cache document embeddings for a real collection (Cranfield, 1,400 aerodynamics
   abstracts with 225 judged queries);
2. search them exactly with FAISS, inspect the hits and score the ranking with nDCG@10;
3. measure query latency, stage by stage;
4. reuse the same vectors for **clustering** (with a 2-D map and labels from frequent terms),
   **near-duplicate detection** and **FAQ-style matching**;
5. set up **asymmetric** query/document encoders, and see what can and cannot be shown offline.

Every number below is computed by the cells; timings depend on the machine (printed next).
'''),
        code(SETUP),
        md('''
## 1 · The collection

`load_dataset` reads the BEIR layout (`corpus.jsonl`, `queries.jsonl`, `qrels/test.tsv`). A
document's text for every model is `title. abstract`.
'''),
        code('''
from ragcompare.datasets import load_dataset

dataset = load_dataset("cranfield")
print(dataset)
doc_id = "1"
print(f"document {doc_id}: {dataset.texts[doc_id][:300]}...")
qid = "1"
print(f"query {qid}: {dataset.queries[qid]}")
print(f"judged relevant for query {qid}: {sorted(dataset.qrels[qid], key=int)}")''', check=True),
        md('''
## 2 · Precompute and cache the document embeddings

`BiEncoderRetriever.index` encodes every document with `all-MiniLM-L6-v2` (384 dimensions, a
6-layer MiniLM) and stores the L2-normalised vectors in a FAISS index. Vectors are also kept in an
on-disk cache (SQLite, keyed by model and text), so the second run of this notebook encodes nothing.
The `cache hit rate` line tells you which case you are in.
'''),
        code('''
import time

from ragcompare.bi_encoder import BiEncoderRetriever

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
      "for the whole collection without the cache")'''),
        code('''
doc_vectors = bi.encode_documents(list(dataset.texts.values()))  # served from the cache
print("vectors:", doc_vectors.shape, doc_vectors.dtype)
print("unit length:", bool(np.allclose(np.linalg.norm(doc_vectors, axis=1)[
    np.linalg.norm(doc_vectors, axis=1) > 0], 1, atol=1e-3)))
print("FAISS index:", type(bi.faiss_index).__name__, "holding", bi.faiss_index.ntotal, "vectors")
print(f"index size: {bi.memory_bytes / 1e6:.2f} MB (= {len(bi.doc_ids)} x {bi.dim} x 4 bytes + header)")''',
             check=True),
        md('''
## 3 · Exact search and what it returns

`"Flat"` is brute force: the query vector is compared with every document vector by inner product,
which for unit vectors is the cosine similarity. It is exact, so we can check it against a plain
NumPy matrix product. Relevance grades come from the Cranfield judgments (4 = complete answer).
'''),
        code('''
query = dataset.queries[qid]
hits = bi.search([query], k=5)[0]
qvec = bi.encode_queries([query])[0]
brute = np.argsort(-(doc_vectors @ qvec), kind="stable")[:5]
print("query:", query)
print("top-5 ids:", [h.doc_id for h in hits])
print("FAISS Flat == NumPy brute force:", [h.doc_id for h in hits] == [bi.doc_ids[i] for i in brute])''',
             check=True),
        code('''
def show_hits(hits, qid):
    """Hits as a table: id, score, relevance grade, title."""
    judged = dataset.qrels.get(qid, {})
    return pd.DataFrame([{"doc_id": h.doc_id, "cosine": h.score, "grade": judged.get(h.doc_id, 0),
                          "title": dataset.corpus[h.doc_id].title} for h in hits])

show_hits(hits, qid)'''),
        md('''
Over all judged queries the ranking quality is measured with `ranx` (nDCG@10, MRR@10, recall@100,
MAP). In quick mode a reproducible sample of queries is used.
'''),
        code('''
from ragcompare.evaluate import evaluate, retrieve

eval_queries = dataset.sample_queries(60 if QUICK else None)
bi_results = retrieve(bi, eval_queries, k=100)
bi_metrics = evaluate(bi_results, dataset.qrels)
print(f"{len(eval_queries)} queries:", {m: round(v, 3) for m, v in bi_metrics.items()})'''),
        md('''
## 4 · Query latency

A search service sees queries one at a time. `stage_timings` searches each query alone (after a
warm-up) and records the retriever's own per-stage timings: encoding the query with the transformer
versus searching the FAISS index. *These numbers depend on the machine and on whatever else runs on
it; they are never checked by the tests.*
'''),
        code('''
from ragcompare.analysis import stage_timings
from ragcompare.bench import latency_stats

lat_queries = dataset.sample_queries(20 if QUICK else 100, seed=1)
lat = stage_timings(bi, lat_queries, k=10)
bi_latency = latency_stats(lat["total"] / 1000)
print({k: round(v, 2) for k, v in bi_latency.items()})
print(lat[["encode_query", "search"]].median().round(3).to_dict(), "(median ms per stage)")

fig, ax = plt.subplots(figsize=(7, 3))
lat[["encode_query", "search"]].plot.hist(bins=30, alpha=0.7, ax=ax, logx=False)
ax.set_xlabel("milliseconds per query"); ax.set_title("where a bi-encoder query spends its time")
plt.tight_layout(); plt.show()'''),
        md('''
Encoding the query dominates; the exact search over 1,400 vectors is a small matrix product. At
millions of documents the search share grows, which is what approximate FAISS indexes (IVF, HNSW,
PQ — any factory string works in `BiEncoderRetriever`) are for.

## 5 · Use case: clustering the collection

The same vectors group documents by topic without any labels. K-means finds the groups; each group
is named by its **distinctive frequent terms** (terms frequent in the cluster but not everywhere,
a class-based TF-IDF), and PCA draws the 384-dimensional vectors on a 2-D map.
'''),
        code('''
from ragcompare.analysis import cluster_table, cluster_vectors, project_2d

n_clusters = 8
texts = list(dataset.texts.values())
labels = cluster_vectors(doc_vectors, n_clusters, seed=0)
clusters = cluster_table(bi.doc_ids, texts, labels, top_n=4)
clusters'''),
        code('''
xy = project_2d(doc_vectors)
fig, ax = plt.subplots(figsize=(8, 6))
palette = sns.color_palette("tab10", n_clusters)
for c in range(n_clusters):
    m = labels == c
    ax.scatter(xy[m, 0], xy[m, 1], s=8, alpha=0.6, color=palette[c])
for _, row in clusters.iterrows():
    cx, cy = np.median(xy[labels == row.cluster], axis=0)
    ax.annotate(", ".join(row.label.split(", ")[:3]), (cx, cy), fontsize=8, weight="bold",
                ha="center", bbox={"boxstyle": "round", "fc": "white", "alpha": 0.8,
                                    "ec": palette[row.cluster]})
ax.set_title(f"Cranfield documents: PCA of bi-encoder vectors, {n_clusters} k-means clusters")
ax.set_xticks([]); ax.set_yticks([])
plt.tight_layout(); plt.show()'''),
        md('''
## 6 · Use case: near-duplicate detection

Two documents whose vectors have a cosine close to 1 say the same thing. Comparing every pair is a
single matrix product here (1,400² pairs); the `jaccard` column adds plain word overlap, which tells
copies (high overlap) from paraphrases (low overlap). The histogram shows how rare such pairs are
among random pairs.
'''),
        code('''
from ragcompare.analysis import near_duplicates, similarity_histogram_values

threshold = 0.95
dups = near_duplicates(bi.doc_ids, doc_vectors, threshold=threshold, texts=dataset.texts)
dups["text_a"] = [dataset.texts[d][:60] for d in dups.doc_a]
dups["text_b"] = [dataset.texts[d][:60] for d in dups.doc_b]
print(f"{len(dups)} pairs with cosine >= {threshold}")
print(dups[["doc_a", "doc_b"]].to_string(index=False))''', check=True),
        code('''
display(dups)
sims = similarity_histogram_values(doc_vectors, sample=600)
fig, ax = plt.subplots(figsize=(7, 3))
ax.hist(sims, bins=80, color="steelblue")
ax.axvline(threshold, color="crimson", ls="--", label=f"threshold {threshold}")
ax.set_xlabel("cosine similarity of random document pairs"); ax.set_ylabel("pairs"); ax.legend()
plt.tight_layout(); plt.show()
print(f"random pairs: median cosine {np.median(sims):.2f}, "
      f"99.9th percentile {np.percentile(sims, 99.9):.2f}")'''),
        md('''
Read the table before trusting it: the top pair may be two **empty** documents (the Cranfield
corpus has abstracts with no text; the empty string gets one and the same vector), the next ones
are true duplicates — the same paper entered twice, with near-identical word sets. Near-duplicate
detection is a cheap data-quality check before you build an index.

## 7 · Use case: FAQ-style matching

In FAQ search, a user's question is matched to the closest **stored question**, whose answer is then
returned — short text against short text, plus a rule for "I have no answer". Cranfield has no FAQ,
so we build one from what it has: each document **title** plays a stored question, its abstract the
answer, and the judged queries play users. A match is correct when the judges marked that
document relevant to the query. A score threshold turns low-confidence matches into "no answer":
the plot shows how much precision each step of coverage buys.
'''),
        code('''
from ragcompare.analysis import faq_threshold_curve, match_faq

faq_ids = [d for d, doc in dataset.corpus.items() if doc.title]
faq_vectors = bi.encode_documents([dataset.corpus[d].title for d in faq_ids])  # cached after run 1
faq_queries = dataset.sample_queries(60 if QUICK else None)
q_vectors = bi.encode_queries(list(faq_queries.values()))
matches = match_faq(q_vectors, faq_vectors, faq_ids)
correct = [dataset.qrels[q].get(m, 0) > 0 for q, (m, _) in zip(faq_queries, matches)]
faq_precision = float(np.mean(correct))
print(f"{len(faq_queries)} questions; best FAQ entry is relevant for {faq_precision:.0%} of them")

curve = faq_threshold_curve([s for _, s in matches], correct, np.arange(0.3, 0.85, 0.05))
fig, ax = plt.subplots(figsize=(6, 3.2))
ax.plot(curve.threshold, curve.answered, marker="o", label="share of questions answered")
ax.plot(curve.threshold, curve.precision, marker="s", label="precision of the answers")
ax.set_xlabel("minimum cosine to answer"); ax.set_ylim(0, 1.05); ax.legend()
ax.set_title("FAQ matching: coverage vs precision")
plt.tight_layout(); plt.show()
curve.round(2)'''),
        code('''
examples = pd.DataFrame([{"question": faq_queries[q][:70], "matched FAQ title": dataset.corpus[m].title[:60],
                          "cosine": s, "relevant": ok}
                         for (q, (m, s), ok) in list(zip(faq_queries, matches, correct))[:6]])
examples'''),
        md('''
## 8 · Asymmetric query and document encoders

Queries and documents differ: a 15-word question against a 150-word abstract. Asymmetric setups
encode them differently — either **two models** (e.g. DPR's question and context encoders) or one
model with **different instructions** (E5/BGE-style `"query: "` / `"passage: "` prompts). In
ragcompare both sides are one argument each: `BiEncoderRetriever(doc_model, query_model=...)`.

With a connected machine this cell runs a real asymmetric pair. Offline it is skipped, because those
weights cannot be shipped here:
'''),
        code('''
from ragcompare.models import hub_reachable

if hub_reachable() and not QUICK:
    asym = BiEncoderRetriever(
        "sentence-transformers/facebook-dpr-ctx_encoder-single-nq-base",
        query_model="sentence-transformers/facebook-dpr-question_encoder-single-nq-base",
        show_progress=False).index(dataset.texts)
    print("DPR (two encoders):", evaluate(retrieve(asym, eval_queries, 100), dataset.qrels))
else:
    print("offline: the DPR question/context encoders need the Hugging Face hub; skipped")'''),
        md('''
Offline the only bi-encoder is `all-MiniLM-L6-v2`. Below, honestly labelled, is what can be run
with it: (a) the **same API** with a separate query model — here the same weights loaded twice, so
the vectors (and scores) must be identical, which the cell checks; (b) an **instruction prefix** on
the query side only (`prompt="query: "`), which models such as E5 are trained for and MiniLM is not.
Measure before you adopt a prompt: the change it makes is printed below.
'''),
        code('''
two_model = BiEncoderRetriever("sentence-transformers/all-MiniLM-L6-v2", query_model="all-minilm-l6-v2",
                               show_progress=False)
two_model.add_vectors(bi.doc_ids, doc_vectors)  # document vectors computed once, reused
same = np.allclose(two_model.encode_queries([query]), bi.encode_queries([query]), atol=1e-5)
print("query encoder is a second model object:", two_model.query_model is not two_model.model)
print("same weights -> identical query vectors:", same)''', check=True),
        code('''
from ragcompare.evaluate import to_results

q_ids = list(eval_queries)
prefixed = bi.query_model.encode([eval_queries[q] for q in q_ids], prompt="query: ",
                                 normalize_embeddings=True, convert_to_numpy=True)
prompt_results = to_results(q_ids, bi.search_vectors(prefixed, 100))
prompt_metrics = evaluate(prompt_results, dataset.qrels)
asym_table = pd.DataFrame({"symmetric (no prompt)": bi_metrics,
                           'query prompt "query: "': prompt_metrics}).T
asym_table'''),
        md('''
## Summary

The cell below prints this notebook's measured numbers; the points after it refer to them.
'''),
        code('''
print(f"- collection: {len(dataset.corpus)} documents; embeddings {doc_vectors.shape[1]}-d, "
      f"index {bi.memory_bytes / 1e6:.1f} MB")
print(f"- cold encoding about {1 / per_doc_s:.0f} docs/s; "
      f"with the cache the index was built in {index_s:.1f} s")
print(f"- exact search quality on {len(eval_queries)} queries: nDCG@10 {bi_metrics['ndcg@10']:.3f}, "
      f"recall@100 {bi_metrics['recall@100']:.3f}")
print(f"- query latency p50 {bi_latency['p50_ms']:.1f} ms (of which FAISS search "
      f"{lat['search'].median():.2f} ms)")
print(f"- {len(dups)} near-duplicate pairs at cosine >= {threshold}")
print(f"- FAQ matching: top FAQ entry relevant for {faq_precision:.0%} of questions")
print(f"- query prompt on a model not trained for it: nDCG@10 "
      f"{prompt_metrics['ndcg@10'] - bi_metrics['ndcg@10']:+.3f}")'''),
        md('''
- Documents are encoded **once**; afterwards a query costs one short encoding plus a search that is
  a tiny fraction of the latency at this corpus size (see the printed split).
- The same vectors give clustering, near-duplicate detection and FAQ matching for free — but check
  what they find (the empty documents above) before trusting them.
- Asymmetric setups are a constructor argument; whether a prompt or a second encoder helps is an
  empirical question, answered above for the one model available offline.

## Exercises

1. Replace `"Flat"` with `"HNSW32"` or `"IVF16,Flat"` (and `bi.set_search_params(nprobe=4)`): how
   much recall@100 do you lose, and does latency change at this corpus size?
2. Change `n_clusters` to 4 and 16. Which cluster labels stay stable? Which clusters split?
3. Load `load_dataset("cisi")` and repeat the near-duplicate scan: what does a threshold of 0.9
   find there?
'''),
    ]


# ---------------------------------------------------------------------------------------------
# 01 architectures
# ---------------------------------------------------------------------------------------------

def nb01() -> list:
    return [
        md("""
# 01 · Three ways to rank: bi-encoder, cross-encoder, hybrid

Search and RAG systems rank documents for a query with one of three architectures. This notebook
shows — with real models on a real collection, not diagrams — what each one computes:

1. **Bi-encoder**: query and document are encoded *independently* into one vector each; relevance is
   the cosine of the two vectors. Document vectors can be computed before any query arrives.
2. **Cross-encoder**: query and document are fed *jointly* through one transformer, which outputs a
   single relevance score. Every query token can attend to every document token — and nothing can be
   computed before the query is known.
3. **Hybrid (two-stage)**: a bi-encoder retrieves candidates cheaply, a cross-encoder reranks the top
   `k_retrieve` of them.

**You will learn** what "encode independently" and "attend jointly" mean at the level of tokens
(heatmaps of both), what each architecture can precompute, and what each costs per query on this
machine (measured, printed below).
"""),
        code(SETUP),
        md("""
## The collection and one query

Cranfield: 1,400 aerodynamics abstracts, 225 queries with graded judgments (4 = complete answer).
We follow one query and one document the judges marked relevant.
"""),
        code("""
from ragcompare.datasets import load_dataset

dataset = load_dataset("cranfield")
qid, doc_id = "1", "184"
query, document = dataset.queries[qid], dataset.texts[doc_id]
print(dataset)
print(f"query {qid}: {query}")
print(f"document {doc_id} (grade {dataset.qrels[qid][doc_id]}): {document[:240]}...")""", check=True),
        md("""
## 1 · Bi-encoder: two independent encodings, one cosine

The bi-encoder (`all-MiniLM-L6-v2`) maps each text to a 384-dimensional unit vector. The document's
vector does not depend on the query — encode it alone or inside a batch of other documents and you
get the same numbers. That is the property that lets a search engine compute all document vectors
offline.
"""),
        code("""
from ragcompare.bi_encoder import BiEncoderRetriever

bi = BiEncoderRetriever("sentence-transformers/all-MiniLM-L6-v2", show_progress=False)
q_vec = bi.encode_queries([query])[0]
d_vec = bi.encode_documents([document])[0]
d_vec_in_batch = bi.encode_documents([dataset.texts["1"], document, dataset.texts["2"]])[1]
print("query vector:   ", np.round(q_vec[:6], 3), "...")
print("document vector:", np.round(d_vec[:6], 3), "...")"""),
        code("""
print("query vector:", q_vec.shape, "document vector:", d_vec.shape)
print("document vector independent of its batch:", bool(np.allclose(d_vec, d_vec_in_batch, atol=1e-4)))
print(f"relevance = cosine(query, document) = {float(q_vec @ d_vec):.2f}")""", check=True),
        md("""
## 2 · Cross-encoder: one joint input, one score

The cross-encoder reads the pair as one sequence, `[CLS] query [SEP] document [SEP]`, and a small
head on top outputs a single logit. There is no document vector to store: change the query and the
whole pair has to be read again.
"""),
        code(RERANKER_IMPORTS + """
from ragcompare.cross_encoder import CrossEncoderReranker
""" + MODELS_IMPORT + """
""" + RERANKER_PICK + """
reranker = CrossEncoderReranker(reranker_name, max_length=256)
print("cross-encoder:", reranker_name)
print("  loaded from:", reranker.resolved)
print("  trained on the judgments of:", sorted(training_collections(reranker.resolved)) or "(hub model)")
tokens = reranker.model.tokenizer.tokenize(query, document)
print(f"joint input: {len(tokens) + 3} tokens, starting", " ".join(["[CLS]"] + tokens[:22]), "...")
print(f"score(query, relevant document) = {reranker.score(query, [document])[0]:.3f} (raw logit)")"""),
        md("""
## 3 · Token by token: what can interact with what

Left: the **cross-encoder's attention** from each query token to each document token (averaged over
all layers and heads) — the model itself computes these weights while reading the pair, so every
query word can look at every document word. Right: the **bi-encoder's token-similarity matrix** —
the cosine between the contextual token vectors of the query and of the document, each encoded
separately. The bi-encoder never computes this matrix: its query tokens never saw the document, and
all it keeps is the mean of each side's token vectors. The matrix is drawn here to show what a
single pooled vector has to summarise.
"""),
        code("""
from ragcompare.explain import (
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
plt.tight_layout(); plt.show()"""),
        code("""
print("strongest cross-encoder attention (query token -> document token):")
display(attention.top_pairs(5))
print("most similar token vectors in the bi-encoder:")
display(similarity.top_pairs(5))"""),
        md("""
Both matrices light up where query and document share words (the table above lists the strongest
cells). The difference is *where* the comparison happens: inside the cross-encoder, these
interactions feed the next layer and finally the score; in the bi-encoder, each side is squeezed into
one vector first and the only interaction left is one dot product.

## 4 · The hybrid pipeline on the same query

`HybridPipeline` asks the bi-encoder for the top `k_retrieve` documents and lets the cross-encoder
reorder them. The table shows where each document sat before and after reranking, with the judges'
grade.
"""),
        code("""
from ragcompare.pipeline import HybridPipeline

bi.index(dataset.texts)  # document vectors: from the on-disk cache after the first run
hybrid = HybridPipeline(bi, reranker, k_retrieve=20)
hybrid.texts = dataset.texts  # the first stage is indexed already
first = bi.search([query], 20)[0]
reranked = hybrid.search([query], 10)[0]
first_rank = {h.doc_id: r for r, h in enumerate(first, 1)}
judged = dataset.qrels[qid]
pd.DataFrame([{"hybrid rank": r, "bi-encoder rank": first_rank[h.doc_id], "doc_id": h.doc_id,
               "ce score": h.score, "grade": judged.get(h.doc_id, 0),
               "title": dataset.corpus[h.doc_id].title[:60]} for r, h in enumerate(reranked, 1)])"""),
        md("""
## 5 · What can be precomputed, and what each architecture costs

`precompute_costs` times each step on this machine: encoding documents (bi-encoder, offline), the
online part of a bi-encoder query (encode + exact search over all vectors), and scoring pairs with
the cross-encoder. Where a number is scaled from a measured per-item cost, the `how` column says so.
*Timings are not checked by the tests: they depend on the machine and its load.*
"""),
        code("""
from ragcompare.explain import precompute_costs

costs = precompute_costs(bi, reranker, dataset.texts, query, sample_docs=8 if QUICK else 24,
                         k_retrieve=20)
display(costs.round(3))
fig, ax = plt.subplots(figsize=(7, 3))
pivot = costs.pivot(index="architecture", columns="when", values="seconds")
pivot.plot.barh(ax=ax, logx=True, color=["#8da0cb", "#fc8d62"])
ax.legend(title="when", loc="center left", bbox_to_anchor=(1.01, 0.5))
ax.set_xlabel("seconds (log scale)"); ax.set_title(f"cost on this machine, {len(dataset.corpus)} documents")
ax.text(ax.get_xlim()[0] * 1.2, list(pivot.index).index("cross-encoder") - 0.125,
        "offline: nothing to precompute", va="center", fontsize=8)
plt.tight_layout(); plt.show()"""),
        md("""
## Summary

The cell below prints the measured numbers the summary refers to.
"""),
        code("""
c = costs.set_index(["architecture", "when"])["seconds"]
print(f"- bi-encoder: offline encoding of {len(dataset.corpus)} documents "
      f"~{c['bi-encoder', 'offline']:.0f} s "
      f"once; then {c['bi-encoder', 'per query'] * 1000:.0f} ms per query")
print(f"- cross-encoder alone: nothing to precompute; ~{c['cross-encoder', 'per query']:.0f} s per query "
      f"to score every document")
print(f"- hybrid (top-20 rerank): ~{c['hybrid', 'per query']:.2f} s per query, "
      f"{c['cross-encoder', 'per query'] / c['hybrid', 'per query']:.0f}x less than the cross-encoder alone")
print(f"- pair score for the relevant document: {logit:.3f} (cross-encoder logit) vs "
      f"cosine {float(q_vec @ d_vec):.3f} (bi-encoder)")"""),
        md("""
- A **bi-encoder** pays for documents once, offline; each query is one short encoding plus a vector
  search, so it scales to large collections.
- A **cross-encoder** sees query and document together — richer interactions, as the attention map
  shows — but nothing is reusable across queries, so scoring a whole collection per query is out of
  reach beyond toy sizes (see the printed seconds).
- The **hybrid** pipeline spends the cross-encoder's cost only on a short candidate list; notebook 04
  measures how long that list should be.

## Exercises

1. Pass `layer=0` and `layer=-1` to `cross_encoder_attention`: how do early and late layers differ?
2. Pick a document judged *non-relevant* for this query and compare both heatmaps with the ones above.
3. Re-run `precompute_costs` with `k_retrieve=100`: where does the hybrid's per-query cost land
   between the two pure architectures?
"""),
    ]


# ---------------------------------------------------------------------------------------------
# 03 cross-encoder
# ---------------------------------------------------------------------------------------------

def nb03() -> list:
    return [
        md("""
# 03 · The cross-encoder: reranking, scores, limits and cost

A cross-encoder reads a (query, document) pair *jointly* and outputs one relevance score. It is the
most accurate kind of ranker a transformer gives you per pair — and the most expensive, since nothing
can be computed before the query arrives.

**You will learn to**

1. rerank a candidate list and measure what reranking changes;
2. read the scores: raw logits versus calibrated (sigmoid) scores, and what "calibrated" does and
   does not promise;
3. handle the pair length limit (512 tokens for BERT-style models): what truncation hides, and the
   passage-splitting fix;
4. measure the cost per pair as a function of the pair length;
5. tell which of the classic cross-encoder use cases can be shown with the models available offline
   (reranking, answer highlighting and — when the STS model is shipped — semantic similarity) and
   which need a model we cannot ship (the code a connected user runs is included).
"""),
        code(SETUP),
        code(RERANKER_IMPORTS + """
from ragcompare.bi_encoder import BiEncoderRetriever
from ragcompare.cross_encoder import CrossEncoderReranker
from ragcompare.datasets import load_dataset
""" + MODELS_IMPORT + """
dataset = load_dataset("cranfield")
""" + RERANKER_PICK + """
reranker = CrossEncoderReranker(reranker_name, max_length=256)
print(dataset)
print("cross-encoder:", reranker_name, "->", reranker.resolved)
print("trained on the judgments of:", sorted(training_collections(reranker.resolved)) or "(hub model)")
bi = BiEncoderRetriever("sentence-transformers/all-MiniLM-L6-v2", show_progress=False)
bi.index(dataset.texts)"""),
        md("""
## 1 · Reranking a candidate list

The bi-encoder proposes 20 candidates for a query; the cross-encoder scores each (query, candidate)
pair and the list is re-sorted by that score. The table shows every candidate's rank before and
after, with the judges' grade (0 = not judged relevant).
"""),
        code("""
from ragcompare.evaluate import evaluate

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
table.head(10)"""),
        md("""
One query proves little. Over a reproducible sample of queries (smaller in quick mode), the same
top-20 rerank gives the comparison below. Pair scores are memoised (`PairScoreCache`) so that later
sections reuse them instead of scoring the same pairs again.
"""),
        code("""
from ragcompare.analysis import PairScoreCache, rerank_results
from ragcompare.evaluate import compare, retrieve

sample = dataset.sample_queries(10 if QUICK else 30)
first = retrieve(bi, sample, k=100)
cache = PairScoreCache(reranker, dataset.texts)
reranked_runs = rerank_results(first, sample, cache, k_retrieve=20, k=100)
quality = compare({"bi-encoder": first, "bi-encoder >> cross-encoder@20": reranked_runs}, dataset.qrels)
print(f"{cache.pairs_scored} pairs scored in {cache.seconds:.1f} s "
      f"({cache.pairs_scored / cache.seconds:.1f} pairs/s on this machine, now)")
quality"""),
        md("""
## 2 · Raw logits versus calibrated scores

`score_pairs` returns the model's raw **logit** by default; `calibrated=True` passes it through a
sigmoid, giving a number in 0–1. The sigmoid is monotonic, so the *ranking* is the same either way
(checked below). What changes is what you can do with one score on its own: a 0–1 score invites a
fixed threshold ("keep candidates above 0.5"). Whether 0.5 then means "50 % of such documents are
relevant" is an empirical question — the reliability plot on the right answers it for this model on
this collection (judged grade > 0 counts as relevant; unjudged documents count as not relevant).
"""),
        code("""
from ragcompare.cross_encoder import sigmoid

pairs = [(query, dataset.texts[h.doc_id]) for h in reranked[:5]]
raw = reranker.score_pairs(pairs)
cal = reranker.score_pairs(pairs, calibrated=True)
display(pd.DataFrame({"doc_id": [h.doc_id for h in reranked[:5]], "raw logit": raw, "calibrated": cal}))

logits = np.array([cache.scores[(sample[q], h.doc_id)] for q in sample for h in first[q][:20]])
relevant = np.array([dataset.qrels[q].get(h.doc_id, 0) > 0 for q in sample for h in first[q][:20]])
order = np.argsort(-logits, kind="stable")
print("sigmoid keeps the order of the logits:", bool(np.all(np.diff(sigmoid(logits)[order]) <= 0)))""",
             check=False),
        code("""
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
print(f"{len(logits)} pairs: {above_text}")"""),
        md("""
## 3 · The pair length limit and truncation

BERT-style cross-encoders have 512 position embeddings, so a pair — query, document and three
special tokens — is cut to at most 512 tokens (we run at `max_length=256` for speed; section 4
shows the cost of going longer). Truncation removes tokens from the **end of the document**: anything
relevant that sits beyond the cut is invisible to the model. First, how long are Cranfield pairs?
"""),
        code("""
from ragcompare.explain import pair_lengths

tokenizer = reranker.model.tokenizer
lengths = pair_lengths(tokenizer, query, list(dataset.texts.values()))
limit = reranker.model.model.config.max_position_embeddings
print(f"model position limit: {limit} tokens; pairs with query {qid}: median {int(np.median(lengths))}, "
      f"max {lengths.max()}")
for cut in (256, 512):
    print(f"pairs longer than {cut}: {(lengths > cut).sum()} of {len(lengths)} "
          f"({(lengths > cut).mean():.1%})")""",
             check=True),
        code("""
fig, ax = plt.subplots(figsize=(7, 3))
ax.hist(lengths, bins=60, color="slategray")
for cut, colour in ((256, "orange"), (512, "crimson")):
    ax.axvline(cut, color=colour, ls="--", label=f"{cut} tokens")
ax.set_xlabel("tokens in (query, document) pair"); ax.set_ylabel("documents"); ax.legend()
plt.tight_layout()
plt.show()"""),
        md("""
Cranfield abstracts are short, so truncation rarely bites here; web pages, PDFs and long RAG chunks
are another story. The experiment below makes it visible: the same relevant abstract is scored alone,
followed by a long filler (other, non-relevant abstracts) and preceded by it. With the filler first
the relevant text falls beyond the 512-token window. The standard fix is to split long documents into
overlapping passages and keep the best passage's score (**MaxP**), shown in the last column.
"""),
        code("""
from ragcompare.explain import truncation_experiment

relevant_doc = "184"
non_relevant = [d for d in dataset.corpus if d not in judged and dataset.corpus[d].text][:6]
filler = " ".join(dataset.texts[d] for d in non_relevant)
reranker_512 = CrossEncoderReranker(reranker_name, max_length=512)
trunc = truncation_experiment(reranker_512, query, dataset.texts[relevant_doc], filler, passage_tokens=200)
trunc"""),
        code("""
print(trunc[["pair_tokens", "relevant_text_visible", "passages"]].to_string())""", check=True),
        md("""
## 4 · Cost per pair

The cross-encoder's cost grows with the pair length (attention is quadratic in it, the feed-forward
layers linear). `pair_cost` times the same candidate pairs at several `max_length` settings. *Timings
depend on the machine and its load and are not checked by the tests.*
"""),
        code("""
from ragcompare.explain import pair_cost

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
ax.set_ylabel("ms per pair"); ax.set_xscale("log", base=2); ax.set_xticks(costs.index, costs.index)
ax.set_title("cross-encoder cost per pair vs max_length")
plt.tight_layout()
plt.show()
ms_256 = costs.loc[256, "ms_per_pair"]
print(f"at max_length 256: {ms_256:.0f} ms per pair -> top-20 rerank ~{20 * ms_256 / 1000:.2f} s, "
      f"scoring all {len(dataset.corpus)} documents "
      f"~{len(dataset.corpus) * ms_256 / 1000:.0f} s per query")"""),
        md("""
## 5 · Use cases: what we can show offline, and what needs another model

| use case | model it needs | here |
|---|---|---|
| rerank search / RAG candidates | relevance cross-encoder (MS MARCO style) | shown above (offline reranker) |
| highlight the answering passage | the same relevance cross-encoder | shown below |
| semantic textual similarity (STS) | STS cross-encoder (`cross-encoder/stsb-*`) | shown below if shipped |
| NLI, zero-shot classification | NLI cross-encoder (`cross-encoder/nli-deberta-v3-*`) | hub only |
| duplicate-question detection | `cross-encoder/quora-distilroberta-base` | hub only |

The hub-only rows have code at the end of this section.

### Answer highlighting

Split a relevant abstract into sentences and let the relevance cross-encoder score each against the
query: the best sentence is a candidate answer snippet for a RAG prompt or a results page.
"""),
        code("""
sentences = [s.strip() + " ." for s in dataset.corpus[relevant_doc].text.split(" .") if len(s.split()) > 3]
sentence_scores = reranker.score(query, sentences)
snippets = pd.DataFrame({"score": sentence_scores, "sentence": sentences})
snippets = snippets.sort_values("score", ascending=False)
print("query:", query)
snippets.head(4)"""),
        md("""
### Semantic textual similarity

An STS cross-encoder reads two sentences jointly and predicts their similarity (STS-B gold scores are
0–5). We compare its Spearman correlation with the gold scores to the bi-encoder's cosine on the same
sample of the STS-B test split.
"""),
        code("""
from ragcompare.analysis import load_sentence_pairs, spearman
from ragcompare.models import DEFAULT_STS_CROSS_ENCODER, ModelNotAvailableError

sts = load_sentence_pairs("stsb", "test", n=150 if QUICK else 600, seed=0)
bi_cos = np.sum(bi.encode_queries(list(sts.sentence1)) * bi.encode_queries(list(sts.sentence2)), axis=1)
sts_rows = {"bi-encoder cosine (all-MiniLM-L6-v2)": spearman(bi_cos, sts.score)}
sts_ce = sts_pred = None
try:
    sts_ce = CrossEncoderReranker(DEFAULT_STS_CROSS_ENCODER, max_length=128)
    sts_pred = sts_ce.score_pairs(list(zip(sts.sentence1, sts.sentence2)), calibrated=True)
    print(f"{DEFAULT_STS_CROSS_ENCODER} resolves to {os.path.basename(sts_ce.resolved)}")
    sts_name = f"STS cross-encoder ({DEFAULT_STS_CROSS_ENCODER})"
    sts_rows[sts_name] = spearman(sts_pred, sts.score)
except ModelNotAvailableError as e:
    print("STS cross-encoder not available here:", str(e)[:160], "...")
print(f"STS-B test sample of {len(sts)} pairs, Spearman correlation with the gold scores:")
pd.Series(sts_rows, name="spearman").round(3).to_frame()"""),
        md("""
The two architectures make *different* errors: the cross-encoder sees word-level interactions, the
bi-encoder was trained on a billion sentence pairs. Putting both scores on one scale (z-scores) and
mixing them, `w * z(cross-encoder) + (1 - w) * z(cosine)`, often beats each alone. The weight `w` is
fitted on the STS-B **dev** split and only then applied to the test sample — fitting it on the pairs
you report would flatter the result. (`python scripts/train.py sts-eval` does the same on the full
test split: cross-encoder 0.838, cosine 0.819, combined 0.852. The shipped cross-encoder was itself
partly distilled from such a combination, so the two agree more than independent models would.)
"""),
        code("""
from ragcompare.analysis import fit_mix_weight, mix_scores

if sts_ce is not None:
    dev = load_sentence_pairs("stsb", "dev", n=200 if QUICK else None, seed=0)
    dev_ce = sts_ce.score_pairs(list(zip(dev.sentence1, dev.sentence2)), calibrated=True)
    dev_cos = np.sum(bi.encode_queries(list(dev.sentence1)) * bi.encode_queries(list(dev.sentence2)),
                     axis=1)
    w = fit_mix_weight(dev_ce, dev_cos, dev.score)
    print(f"weight fitted on {len(dev)} STS-B dev pairs: w = {w:.2f}")
    sts_rows[f"combined, w = {w:.2f}"] = spearman(mix_scores(sts_pred, bi_cos, w), sts.score)
pd.Series(sts_rows, name="spearman").round(3).to_frame()"""),
        md("""
### Use cases that need a model we cannot ship

The next cell is what a connected user runs; offline it says so and skips.
"""),
        code("""
from ragcompare.models import hub_reachable

if hub_reachable() and not QUICK:
    from sentence_transformers import CrossEncoder

    nli = CrossEncoder("cross-encoder/nli-deberta-v3-small")  # labels: contradiction, entailment, neutral
    print(nli.predict([("A man is eating pizza", "A man eats something")]).argmax(axis=1))
    quora = CrossEncoder("cross-encoder/quora-distilroberta-base")  # duplicate-question probability
    print(quora.predict([("How do I learn Python?", "What is the best way to learn Python?")]))
else:
    print("offline: NLI / zero-shot and duplicate-question cross-encoders need the Hugging Face hub; "
          "skipped")"""),
        md("""
## Summary

The cell below prints the measured numbers the summary refers to.
"""),
        code("""
q = quality["ndcg@10"]
print(f"- top-20 rerank on {len(sample)} queries: nDCG@10 {q.iloc[0]:.3f} (bi-encoder) -> "
      f"{q.iloc[1]:.3f} (reranked)")
print("- ranking is identical for raw logits and calibrated scores; " + above_text)
print(f"- {(lengths > 512).mean():.1%} of Cranfield pairs exceed 512 tokens; relevant text past the window "
      f"scored {trunc['score'].iloc[2]:.2f} vs {trunc['score'].iloc[0]:.2f} alone "
      f"(MaxP: {trunc['maxp_score'].iloc[2]:.2f})")
print(f"- cost: {costs.loc[128, 'ms_per_pair']:.0f} / {costs.loc[256, 'ms_per_pair']:.0f} / "
      f"{costs.loc[512, 'ms_per_pair']:.0f} ms per pair at max_length 128 / 256 / 512")
for name, rho in sts_rows.items():
    print(f"- STS-B Spearman, {name}: {rho:.3f}")"""),
        md("""
- Reranking reorders a short candidate list; whether it helps is measured, not assumed (see the
  printed nDCG@10 values and notebook 04 for the full picture). Offline the reranker is
  ragcompare's own small model trained on another collection's judgments (and adapted to this
  corpus's text, never its queries), not an MS MARCO model.
- Calibrated scores rank exactly like logits; their value as a threshold depends on how well the
  model's training matches your data (see the reliability plot).
- Past the 512-token window the model is blind; split long documents into passages and keep the best
  (MaxP), at the price of one pair per passage.
- Cost per pair grows with `max_length`; choose it from your documents' length distribution.

## Exercises

1. Rerank the top 50 instead of the top 20 with `rerank_results(..., k_retrieve=50)`. Does nDCG@10
   move? How many extra pairs did `cache.pairs_scored` count?
2. Use a threshold on calibrated scores to decide "no relevant document found" for a query. Which
   threshold would you pick from the reliability plot?
3. Compute MaxP scores with 100-token passages for the filler experiment: how do passage length and
   stride change the score and the cost?
"""),
    ]


# ---------------------------------------------------------------------------------------------
# 04 hybrid
# ---------------------------------------------------------------------------------------------

def nb04() -> list:
    return [
        md("""
# 04 · The hybrid pipeline: how many candidates, which first stage, and what the claims are worth

The two-stage pipeline retrieves candidates with a cheap first stage and reranks the top `k_retrieve`
of them with a cross-encoder. Its two knobs decide quality and latency together.

**You will learn to**

1. compare first stages — bi-encoder, BM25 and their reciprocal-rank fusion — by what they put in the
   candidate list (recall@k bounds what any reranker can do);
2. measure **quality and latency as functions of `k_retrieve`** and read the trade-off off one plot;
3. pair every first stage with the reranker;
4. set the often-quoted claim *"0.92 nDCG@10 for the hybrid vs 0.75 for the bi-encoder alone"*
   against what we measure here.
"""),
        code(SETUP),
        code(RERANKER_IMPORTS + """
from ragcompare.bi_encoder import BiEncoderRetriever
from ragcompare.bm25 import BM25Retriever
from ragcompare.cross_encoder import CrossEncoderReranker
from ragcompare.datasets import load_dataset
from ragcompare.fusion import FusionRetriever
""" + MODELS_IMPORT + """
dataset = load_dataset("cranfield")
bi = BiEncoderRetriever("sentence-transformers/all-MiniLM-L6-v2", show_progress=False)
bi.index(dataset.texts)
bm25 = BM25Retriever().index(dataset.texts)
rrf = FusionRetriever([bm25, bi], k_each=100)
""" + RERANKER_PICK + """
reranker = CrossEncoderReranker(reranker_name, max_length=256)
print("cross-encoder:", reranker_name, "->", reranker.resolved)
print("trained on the judgments of:", sorted(training_collections(reranker.resolved)) or "(hub model)")"""),
        code("""
print(dataset)
print(f"BM25 and bi-encoder both index {len(bm25.doc_ids)} documents; fusion: {rrf.name}")""", check=True),
        md("""
## 1 · First stages: what reaches the candidate list

A reranker can only reorder what the first stage retrieved, so recall@k of the first stage is the
ceiling for a rerank of depth k.
"""),
        code("""
from ragcompare.evaluate import compare, evaluate, retrieve

all_queries = dataset.sample_queries(30 if QUICK else None)
first_stages = {"bm25": bm25, "bi-encoder": bi, "rrf(bm25 + bi-encoder)": rrf}
first_results = {name: retrieve(r, all_queries, k=100) for name, r in first_stages.items()}
depths_recall = [5, 10, 20, 30, 50, 100]
recall = pd.DataFrame({name: evaluate(res, dataset.qrels, [f"recall@{k}" for k in depths_recall])
                       for name, res in first_results.items()}).T
recall.columns = depths_recall
print(f"{len(all_queries)} queries")
display(compare(first_results, dataset.qrels))
fig, ax = plt.subplots(figsize=(6.5, 3.4))
for name, row in recall.iterrows():
    ax.plot(row.index, row.values, marker="o", label=name)
ax.set_xlabel("k (candidates)"); ax.set_ylabel("recall@k"); ax.set_xscale("log")
ax.set_xticks(depths_recall, depths_recall); ax.legend(); ax.set_title("first-stage recall")
plt.tight_layout()
plt.show()"""),
        md("""
## 2 · Quality and latency as functions of `k_retrieve`

Quality: for a sample of queries, the bi-encoder's ranking is reranked to each depth. Every
(query, document) pair is scored once and reused across depths (`PairScoreCache`); the cell checks
on one query that this gives exactly what `HybridPipeline` returns. Latency: the real pipeline is
timed per query (after a warm-up) at each depth on a few queries. *Timing cells are not checked by
the tests; they depend on the machine and its load.*
"""),
        code("""
from ragcompare.analysis import PairScoreCache, rerank_results, sweep_k_retrieve, time_k_retrieve
from ragcompare.pipeline import HybridPipeline

depths = [0, 5, 10, 20] if QUICK else [0, 5, 10, 20, 30, 50]
sample = dataset.sample_queries(10 if QUICK else 30)
cache = PairScoreCache(reranker, dataset.texts)
bi_sample = {q: first_results["bi-encoder"][q] for q in sample}
sweep = sweep_k_retrieve(bi_sample, sample, cache, dataset.qrels, depths)
print(f"{len(sample)} queries; {cache.pairs_scored} pairs scored once")
sweep.set_index("k_retrieve")"""),
        code("""
check_q = next(iter(sample))
pipe = HybridPipeline(bi, reranker, k_retrieve=10)
pipe.texts = dataset.texts
direct = [h.doc_id for h in pipe.search([sample[check_q]], 10)[0]]
cached = [h.doc_id for h in rerank_results({check_q: bi_sample[check_q]}, sample, cache, 10, 10)[check_q]]
print("cached scores reproduce HybridPipeline:", direct == cached)""", check=True),
        code("""
timing_queries = dataset.sample_queries(2 if QUICK else 4, seed=1)
latency = time_k_retrieve(bi, reranker, dataset.texts, timing_queries, depths)
latency.set_index("k_retrieve").round(1)"""),
        code("""
fig, axes = plt.subplots(1, 2, figsize=(12, 3.8))
axes[0].plot(sweep.k_retrieve, sweep["ndcg@10"], marker="o", label="nDCG@10")
axes[0].plot(sweep.k_retrieve, sweep["mrr@10"], marker="s", label="MRR@10")
axes[0].set_xlabel("k_retrieve (0 = bi-encoder only)"); axes[0].set_ylabel("score")
axes[0].set_title(f"quality, {len(sample)} queries"); axes[0].legend()
axes[1].bar(latency.k_retrieve.astype(str), latency.retrieve_ms, label="retrieve (bi-encoder)")
axes[1].bar(latency.k_retrieve.astype(str), latency.rerank_ms, bottom=latency.retrieve_ms,
            label="rerank (cross-encoder)")
axes[1].set_xlabel("k_retrieve"); axes[1].set_ylabel("median ms per query")
axes[1].set_title(f"latency on this machine, {len(timing_queries)} queries"); axes[1].legend()
plt.tight_layout()
plt.show()
per_doc_ms = np.polyfit(latency.k_retrieve, latency.p50_ms, 1)[0]
print(f"latency grows by ~{per_doc_ms:.0f} ms per extra reranked candidate")"""),
        md("""
## 3 · Which first stage to put under the reranker

All three first stages, alone and reranked at depth 20, on the same sample of queries (cached pair
scores are shared, so documents found by several first stages are scored once).
"""),
        code("""
k_fixed = 20
runs = {}
for name, res in first_results.items():
    part = {q: res[q] for q in sample}
    runs[name] = part
    runs[f"{name} >> cross-encoder@{k_fixed}"] = rerank_results(part, sample, cache, k_fixed, 100)
table = compare(runs, dataset.qrels)
display(table)
fig, ax = plt.subplots(figsize=(7, 3.2))
plot_df = pd.DataFrame({"first stage only": [table.loc[n, "ndcg@10"] for n in first_results],
                        f"reranked @{k_fixed}": [table.loc[f"{n} >> cross-encoder@{k_fixed}", "ndcg@10"]
                                                 for n in first_results]}, index=list(first_results))
plot_df.plot.bar(ax=ax, rot=0)
ax.set_ylabel("nDCG@10"); ax.set_title(f"first stage vs reranked, {len(sample)} queries")
plt.tight_layout()
plt.show()"""),
        md("""
## 4 · The claim: "0.92 nDCG@10 hybrid vs 0.75 bi-encoder only"

The seed material quotes these two numbers without a collection, a model or a query set. Absolute
nDCG@10 depends mostly on the collection and its judgments (Cranfield's judges marked many partially
relevant abstracts, and every method in the tables above scores far below the claimed values), so the
comparable quantity is the **change** from adding the reranker. The next cell sets both side by side.
"""),
        code("""
claim = {"bi-encoder only": 0.75, "hybrid": 0.92}
bi_only = table.loc["bi-encoder", "ndcg@10"]
hybrid_name = max((n for n in table.index if ">>" in n), key=lambda n: table.loc[n, "ndcg@10"])
best_hybrid = table.loc[hybrid_name, "ndcg@10"]
bi_hybrid = table.loc[f"bi-encoder >> cross-encoder@{k_fixed}", "ndcg@10"]
claims = pd.DataFrame({
    "bi-encoder only": [claim["bi-encoder only"], bi_only],
    "hybrid": [claim["hybrid"], bi_hybrid],
    "best hybrid measured": [np.nan, best_hybrid],
}, index=["seed's claim", f"measured on {dataset.name} ({len(sample)} queries)"])
claims["relative change (bi-encoder -> hybrid)"] = claims["hybrid"] / claims["bi-encoder only"] - 1
display(claims.style.format("{:.3f}", na_rep="-").format(
    "{:+.0%}", subset=["relative change (bi-encoder -> hybrid)"]))
fig, ax = plt.subplots(figsize=(6.5, 3.2))
claims[["bi-encoder only", "hybrid"]].plot.bar(ax=ax, rot=0)
ax.set_ylabel("nDCG@10"); ax.set_ylim(0, 1); ax.set_title("claimed vs measured")
plt.tight_layout()
plt.show()
print(f"best measured hybrid: {hybrid_name}")"""),
        md("""
## Summary

The cell below prints the measured numbers the summary refers to.
"""),
        code("""
best_k = int(sweep.loc[sweep["ndcg@10"].idxmax(), "k_retrieve"])
print("- first-stage recall@100: " + ", ".join(f"{n} {recall.loc[n, 100]:.3f}" for n in recall.index))
print(f"- k_retrieve sweep on {len(sample)} queries: nDCG@10 from {sweep['ndcg@10'].iloc[0]:.3f} (no rerank) "
      f"to {sweep['ndcg@10'].iloc[-1]:.3f} at k={depths[-1]}; best at k={best_k} "
      f"({sweep['ndcg@10'].max():.3f})")
print(f"- latency: {latency.p50_ms.iloc[0]:.0f} ms without rerank, {latency.p50_ms.iloc[-1]:.0f} ms at "
      f"k={depths[-1]} (~{per_doc_ms:.0f} ms per candidate on this machine)")
print(f"- claim: +{claim['hybrid'] / claim['bi-encoder only'] - 1:.0%} relative; measured "
      f"{bi_hybrid / bi_only - 1:+.0%} (bi-encoder >> cross-encoder@{k_fixed}), "
      f"best hybrid {best_hybrid / bi_only - 1:+.0%} ({hybrid_name})")"""),
        md("""
- Latency grows linearly with `k_retrieve` (the reranker's per-pair cost dominates); quality does not
  have to — read the best depth off the plot rather than assuming "more is better".
- The first stage sets the ceiling: a reranker cannot recover documents that recall@k missed.
- Quoted gains such as 0.75 → 0.92 belong to one collection, one model pair and one judging process;
  measure on your own data before budgeting the latency (the printed comparison above is ours).
- Which reranker produced these numbers matters as much as the pipeline: offline this is ragcompare's
  own small reranker, trained on another collection's judgments and adapted to this corpus's text
  (its model card in `data/models` records how); published rerankers are trained on MS MARCO's
  hundreds of thousands of queries. With the hub reachable, `pick_reranker` chooses
  `cross-encoder/ms-marco-MiniLM-L-6-v2` and this notebook measures that model instead.

## Exercises

1. Rerun the sweep on `load_dataset("cisi")` (keep `pick_reranker(dataset.name)`: it picks the
   reranker held out from that collection). Does the best `k_retrieve` move?
2. Change `k_fixed` to 50: which first stage profits most from a deeper rerank?
3. Fuse the cross-encoder's score with the first-stage score (e.g. `fusion.fuse_hits` on the two
   rankings) and compare with pure reranking.
"""),
    ]


NOTEBOOKS = {"01": ("01_architectures.ipynb", nb01), "02": ("02_bi_encoder.ipynb", nb02),
             "03": ("03_cross_encoder.ipynb", nb03), "04": ("04_hybrid.ipynb", nb04)}


def main(argv: list[str]) -> None:
    """Write the selected notebooks (all by default)."""
    chosen = argv or sorted(NOTEBOOKS)
    for key in chosen:
        name, build = NOTEBOOKS[key]
        print("wrote", write(name, build()))


if __name__ == "__main__":
    main(sys.argv[1:])
