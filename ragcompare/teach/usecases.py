"""Bi-encoder use cases beyond search, for the notebooks.

* clustering of document vectors with labels from each cluster's distinctive frequent terms,
  and a 2-D map of the vectors;
* near-duplicate detection by cosine similarity (with word overlap beside it);
* FAQ-style matching (nearest stored question, or "no answer" below a threshold).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from ragcompare.types import InvalidInputError

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
