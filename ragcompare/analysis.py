"""Bi-encoder use cases beyond search, and rerank-depth sweeps, for the notebooks.

* clustering of document vectors with labels from each cluster's distinctive frequent terms,
  and a 2-D map of the vectors;
* near-duplicate detection by cosine similarity (with word overlap beside it);
* FAQ-style matching (nearest stored question, or "no answer" below a threshold);
* ``k_retrieve`` sweeps of a two-stage pipeline, scoring every (query, document) pair only once.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from ragcompare.evaluate import DEFAULT_METRICS, evaluate
from ragcompare.types import Hit, InvalidInputError, Results

_WORD = re.compile(r"[a-z][a-z\-]{2,}")


# ---------------------------------------------------------------------------------------------
# clustering
# ---------------------------------------------------------------------------------------------


def _check_vectors(vectors: np.ndarray) -> np.ndarray:
    v = np.asarray(vectors, dtype=np.float32)
    if v.ndim != 2 or v.shape[0] == 0:
        raise InvalidInputError(f"expected a non-empty (n, dim) array, got shape {v.shape}")
    return v


def cluster_vectors(vectors: np.ndarray, n_clusters: int, seed: int = 0) -> np.ndarray:
    """K-means cluster id per row of (normalised) ``vectors``."""
    from sklearn.cluster import KMeans

    v = _check_vectors(vectors)
    if not 1 <= n_clusters <= len(v):
        raise InvalidInputError(f"n_clusters must be in 1..{len(v)}, got {n_clusters}")
    return KMeans(n_clusters=n_clusters, n_init=10, random_state=seed).fit_predict(v)


def project_2d(vectors: np.ndarray, seed: int = 0) -> np.ndarray:
    """Project vectors to 2-D with PCA (deterministic, fast, keeps global structure)."""
    from sklearn.decomposition import PCA

    v = _check_vectors(vectors)
    return PCA(n_components=2, random_state=seed).fit_transform(v)


def tokenize_terms(text: str, stopwords: Iterable[str] | None = None) -> list[str]:
    """Lower-cased words of 3+ letters, English stopwords removed."""
    if stopwords is None:
        from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS as stopwords
    stop = set(stopwords)
    return [w for w in _WORD.findall(text.lower()) if w not in stop]


def cluster_terms(texts: Sequence[str], labels: Sequence[int], top_n: int = 4,
                  min_df: int = 3) -> dict[int, list[str]]:
    """Label each cluster with its most *distinctive* frequent terms (class-based TF-IDF).

    A term scores ``tf(term, cluster) * log(1 + mean words per cluster / tf(term, corpus))``:
    frequent in the cluster, but not merely frequent everywhere. Terms in fewer than ``min_df``
    documents are ignored.
    """
    if len(texts) != len(labels):
        raise InvalidInputError(f"{len(texts)} texts for {len(labels)} labels")
    docs = [tokenize_terms(t) for t in texts]
    df: dict[str, int] = {}
    for words in docs:
        for w in set(words):
            df[w] = df.get(w, 0) + 1
    vocab = sorted(w for w, c in df.items() if c >= min_df)
    index = {w: i for i, w in enumerate(vocab)}
    clusters = sorted(set(int(x) for x in labels))
    row = {c: i for i, c in enumerate(clusters)}
    tf = np.zeros((len(clusters), len(vocab)))
    for words, lab in zip(docs, labels):
        for w in words:
            j = index.get(w)
            if j is not None:
                tf[row[int(lab)], j] += 1
    if not vocab:
        return {c: [] for c in clusters}
    avg_words = tf.sum() / len(clusters)
    weight = tf * np.log1p(avg_words / np.maximum(tf.sum(axis=0), 1))
    return {c: [vocab[j] for j in np.argsort(-weight[row[c]], kind="stable")[:top_n]
                if tf[row[c], j] > 0] for c in clusters}


def cluster_table(ids: Sequence[str], texts: Sequence[str], labels: Sequence[int],
                  top_n: int = 4) -> pd.DataFrame:
    """One row per cluster: size, label terms and an example document id (sorted by size)."""
    terms = cluster_terms(texts, labels, top_n)
    rows = []
    for c, words in terms.items():
        members = [i for i, lab in zip(ids, labels) if int(lab) == c]
        rows.append({"cluster": c, "size": len(members), "label": ", ".join(words),
                     "example_doc": members[0]})
    return pd.DataFrame(rows).sort_values(["size", "cluster"], ascending=[False, True]) \
        .reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# near-duplicates and FAQ matching
# ---------------------------------------------------------------------------------------------


def jaccard(a: str, b: str) -> float:
    """Word-set overlap of two texts (|A & B| / |A | B|), after stopword removal."""
    sa, sb = set(tokenize_terms(a)), set(tokenize_terms(b))
    return len(sa & sb) / len(sa | sb) if sa | sb else 0.0


def near_duplicates(ids: Sequence[str], vectors: np.ndarray, threshold: float = 0.95,
                    texts: Mapping[str, str] | None = None, chunk: int = 1024) -> pd.DataFrame:
    """All pairs of documents whose cosine similarity is at least ``threshold`` (most similar first).

    ``vectors`` must be L2-normalised (rows in ``ids`` order). With ``texts``, a ``jaccard`` column
    shows the word overlap, to tell copies (high overlap) from paraphrases (low overlap).
    """
    v = _check_vectors(vectors)
    if len(ids) != len(v):
        raise InvalidInputError(f"{len(ids)} ids for {len(v)} vectors")
    if not -1.0 <= threshold <= 1.0:
        raise InvalidInputError(f"threshold must be a cosine in [-1, 1], got {threshold}")
    rows = []
    for start in range(0, len(v), chunk):
        sims = v[start:start + chunk] @ v.T
        for i, j in zip(*np.nonzero(sims >= threshold)):
            a = start + int(i)
            if int(j) > a:
                rows.append((ids[a], ids[int(j)], float(sims[i, j])))
    out = pd.DataFrame(rows, columns=["doc_a", "doc_b", "cosine"])
    if texts is not None:
        out["jaccard"] = [jaccard(texts[a], texts[b]) for a, b in zip(out.doc_a, out.doc_b)]
    return out.sort_values(["cosine", "doc_a", "doc_b"], ascending=[False, True, True]) \
        .reset_index(drop=True)


def similarity_histogram_values(vectors: np.ndarray, sample: int = 500, seed: int = 0) -> np.ndarray:
    """Cosines of all distinct pairs among a random sample of rows (for a histogram)."""
    v = _check_vectors(vectors)
    rng = np.random.default_rng(seed)
    idx = rng.choice(len(v), size=min(sample, len(v)), replace=False)
    sims = v[idx] @ v[idx].T
    return sims[np.triu_indices(len(idx), k=1)]


def match_faq(query_vectors: np.ndarray, faq_vectors: np.ndarray, faq_ids: Sequence[str],
              min_score: float | None = None) -> list[tuple[str | None, float]]:
    """Best FAQ entry per query: ``(faq_id, cosine)``, or ``(None, cosine)`` below ``min_score``."""
    q, f = _check_vectors(query_vectors), _check_vectors(faq_vectors)
    if len(faq_ids) != len(f):
        raise InvalidInputError(f"{len(faq_ids)} FAQ ids for {len(f)} vectors")
    sims = q @ f.T
    best = sims.argmax(axis=1)
    out: list[tuple[str | None, float]] = []
    for row, j in enumerate(best):
        score = float(sims[row, j])
        out.append((faq_ids[j] if min_score is None or score >= min_score else None, score))
    return out


def faq_threshold_curve(scores: Sequence[float], correct: Sequence[bool],
                        thresholds: Sequence[float]) -> pd.DataFrame:
    """Share of questions answered and precision of the answers, per score threshold."""
    s = np.asarray(scores, dtype=np.float64)
    c = np.asarray(correct, dtype=bool)
    if s.shape != c.shape:
        raise InvalidInputError("scores and correct must have the same length")
    rows = []
    for t in thresholds:
        answered = s >= t
        n = int(answered.sum())
        rows.append({"threshold": float(t), "answered": n / len(s) if len(s) else 0.0,
                     "precision": float(c[answered].mean()) if n else float("nan"),
                     "n_answered": n})
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------
# rerank depth (k_retrieve) sweeps
# ---------------------------------------------------------------------------------------------


class PairScoreCache:
    """Cross-encoder scores memoised per (query, doc id): each pair is scored once per session.

    Scores of a pair do not depend on the other candidates, so sweeps over ``k_retrieve`` or over
    first stages can share them; this class is for quality sweeps, never for timing.
    """

    def __init__(self, reranker, texts: Mapping[str, str]) -> None:
        self.reranker, self.texts = reranker, texts
        self.scores: dict[tuple[str, str], float] = {}
        self.pairs_scored = 0
        self.seconds = 0.0

    def get(self, query: str, doc_ids: Sequence[str]) -> dict[str, float]:
        """Scores of ``doc_ids`` for ``query``, computing only the missing pairs (in one batch)."""
        todo = [d for d in dict.fromkeys(doc_ids) if (query, d) not in self.scores]
        if todo:
            t0 = time.perf_counter()
            values = self.reranker.score(query, [self.texts[d] for d in todo])
            self.seconds += time.perf_counter() - t0
            self.pairs_scored += len(todo)
            self.scores.update({(query, d): float(s) for d, s in zip(todo, values)})
        return {d: self.scores[(query, d)] for d in doc_ids}


def rerank_head(first: Sequence[Hit], scores: Mapping[str, float], k_retrieve: int,
                k: int) -> list[Hit]:
    """What :class:`~ragcompare.pipeline.HybridPipeline` returns, given the pair scores.

    The top ``k_retrieve`` first-stage hits are sorted by score (stable), the rest keeps its order.
    """
    head = list(first[:k_retrieve])
    order = np.argsort(-np.array([scores[h.doc_id] for h in head]), kind="stable")
    reranked = [Hit(head[i].doc_id, float(scores[head[i].doc_id])) for i in order]
    floor = min((h.score for h in reranked), default=0.0) - 1.0
    tail = [Hit(h.doc_id, floor - i) for i, h in enumerate(first[k_retrieve:])]
    return (reranked + tail)[:k]


def rerank_results(first_stage: Results, queries: Mapping[str, str], cache: PairScoreCache,
                   k_retrieve: int, k: int = 100) -> Results:
    """Rerank the top ``k_retrieve`` of every query's first-stage hits with cached pair scores."""
    out: Results = {}
    for qid, hits in first_stage.items():
        head = [h.doc_id for h in hits[:k_retrieve]]
        out[qid] = rerank_head(hits, cache.get(queries[qid], head), k_retrieve, k)
    return out


def sweep_k_retrieve(first_stage: Results, queries: Mapping[str, str], cache: PairScoreCache,
                     qrels: Mapping[str, Mapping[str, int]], depths: Sequence[int], k: int = 100,
                     metrics: Sequence[str] = DEFAULT_METRICS) -> pd.DataFrame:
    """Quality of first stage -> rerank top ``k_retrieve`` for each depth (0 = no reranking)."""
    rows = []
    for depth in depths:
        if depth < 0:
            raise InvalidInputError(f"k_retrieve must be >= 0, got {depth}")
        res = first_stage if depth == 0 else rerank_results(first_stage, queries, cache, depth, k)
        rows.append({"k_retrieve": depth, **evaluate(res, qrels, metrics)})
    return pd.DataFrame(rows)


def time_k_retrieve(first_stage, reranker, texts: Mapping[str, str], queries: Mapping[str, str],
                    depths: Sequence[int], k: int = 10) -> pd.DataFrame:
    """Per-query wall-clock latency of the real two-stage pipeline for each ``k_retrieve``.

    Each query is searched alone after one warm-up query; rows hold the median and mean latency
    (ms) and the median time of each stage.
    """
    from ragcompare.bench import time_queries
    from ragcompare.pipeline import HybridPipeline

    rows = []
    for depth in depths:
        pipe = HybridPipeline(first_stage, reranker, k_retrieve=max(depth, 1))
        pipe.texts = dict(texts)
        if depth == 0:  # first stage alone
            _, times = time_queries(first_stage, queries, k)
            retrieve = rerank = None
        else:
            retrieve, rerank = [], []
            ids = list(queries)
            pipe.search([queries[ids[0]]], k)  # warm-up
            times = []
            for qid in ids:
                t0 = time.perf_counter()
                pipe.search([queries[qid]], k)
                times.append(time.perf_counter() - t0)
                retrieve.append(pipe.last_timings["retrieve"][0])
                rerank.append(pipe.last_timings["rerank"][0])
        rows.append({"k_retrieve": depth, "p50_ms": 1000 * float(np.median(times)),
                     "mean_ms": 1000 * float(np.mean(times)),
                     "retrieve_ms": 1000 * float(np.median(retrieve if retrieve else times)),
                     "rerank_ms": 1000 * float(np.median(rerank)) if rerank else 0.0,
                     "queries": len(times)})
    return pd.DataFrame(rows)


def stage_timings(retriever, queries: Mapping[str, str], k: int = 10, warmup: int = 1
                  ) -> pd.DataFrame:
    """Search each query alone; one row per query with the retriever's ``last_timings`` (ms)."""
    ids = list(queries)
    for qid in ids[:warmup]:
        retriever.search([queries[qid]], k)
    rows = []
    for qid in ids:
        t0 = time.perf_counter()
        retriever.search([queries[qid]], k)
        total = time.perf_counter() - t0
        stages = {name: 1000 * float(np.sum(v)) for name, v in retriever.last_timings.items()}
        rows.append({"query_id": qid, **stages, "total": 1000 * total})
    return pd.DataFrame(rows).set_index("query_id")


# ---------------------------------------------------------------------------------------------
# sentence-pair sets (semantic similarity)
# ---------------------------------------------------------------------------------------------


def load_sentence_pairs(name: str = "stsb", split: str = "test", n: int | None = None,
                        seed: int = 0) -> pd.DataFrame:
    """A sentence-pair set from ``<data dir>/pairs/<name>/<split>.tsv`` (STS-B, SICK).

    Columns ``sentence1``, ``sentence2``, ``score`` (+ the set's extra columns); with ``n``, a
    reproducible random sample of ``n`` rows.
    """
    from ragcompare.config import data_dir
    from ragcompare.datasets import DatasetError

    path = data_dir() / "pairs" / name / f"{split}.tsv"
    if not path.is_file():
        raise DatasetError(f"no sentence-pair file at {path}")
    df = pd.read_csv(path, sep="\t", quoting=3, keep_default_na=False)
    missing = {"sentence1", "sentence2", "score"} - set(df.columns)
    if missing:
        raise DatasetError(f"{path}: missing columns {sorted(missing)}")
    df["score"] = df["score"].astype(float)
    if n is not None and n < len(df):
        df = df.sample(n=n, random_state=seed).reset_index(drop=True)
    return df


def spearman(a: Sequence[float], b: Sequence[float]) -> float:
    """Spearman rank correlation (Pearson correlation of average ranks)."""
    sa, sb = pd.Series(np.asarray(a, dtype=float)), pd.Series(np.asarray(b, dtype=float))
    if len(sa) != len(sb) or len(sa) < 2:
        raise InvalidInputError("need two sequences of the same length >= 2")
    return float(sa.rank().corr(sb.rank()))


def mix_scores(a: Sequence[float], b: Sequence[float], weight: float) -> np.ndarray:
    """``weight * z(a) + (1 - weight) * z(b)``: two scorers' outputs on one scale (z-normalised)."""
    from ragcompare.types import check_alpha

    weight = check_alpha(weight)
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape or a.ndim != 1 or len(a) < 2:
        raise InvalidInputError("need two 1-d score arrays of the same length (>= 2)")
    if a.std() == 0 or b.std() == 0:
        raise InvalidInputError("a constant score array cannot be z-normalised")
    return weight * (a - a.mean()) / a.std() + (1 - weight) * (b - b.mean()) / b.std()


def fit_mix_weight(a: Sequence[float], b: Sequence[float], gold: Sequence[float],
                   steps: int = 21) -> float:
    """The weight in [0, 1] (grid of ``steps``) whose :func:`mix_scores` best matches ``gold``
    (Spearman). Fit it on a development split, never on the split you report."""
    if steps < 2:
        raise InvalidInputError(f"steps must be >= 2, got {steps}")
    grid = np.linspace(0.0, 1.0, steps)
    return float(max(grid, key=lambda w: spearman(mix_scores(a, b, w), gold)))
