"""Look inside the two architectures: token-level matrices and what each one can precompute.

* :func:`bi_encoder_token_similarity` -- query and document are encoded *separately*; the cosine
  similarity between their contextual token vectors shows what a bi-encoder has to work with (two
  independent sets of vectors, pooled into one vector each before they ever meet).
* :func:`cross_encoder_attention` -- query and document are fed *jointly*; the attention weights
  from query tokens to document tokens show "every token can attend to every other token".
* :func:`precompute_costs` -- measured cost of what each architecture does offline and per query.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ragcompare.types import InvalidInputError, check_queries


@dataclass
class TokenMatrix:
    """A query-tokens x document-tokens matrix with its labels."""

    rows: list[str]
    cols: list[str]
    values: np.ndarray
    title: str

    def top_pairs(self, n: int = 5) -> pd.DataFrame:
        """The ``n`` strongest (query token, document token) cells."""
        flat = np.argsort(-self.values, axis=None, kind="stable")[:n]
        r, c = np.unravel_index(flat, self.values.shape)
        return pd.DataFrame({"query_token": [self.rows[i] for i in r],
                             "doc_token": [self.cols[j] for j in c],
                             "value": [float(self.values[i, j]) for i, j in zip(r, c)]})


def _content_positions(tokenizer, input_ids: Sequence[int]) -> list[int]:
    """Positions of the ids that are not special tokens ([CLS], [SEP], <s>, ...)."""
    special = set(tokenizer.all_special_ids)
    return [i for i, t in enumerate(input_ids) if int(t) not in special]


def bi_encoder_token_similarity(model, query: str, document: str,
                                max_doc_tokens: int = 40) -> TokenMatrix:
    """Cosine similarity of contextual token vectors, query and document encoded independently.

    ``model`` is a ``SentenceTransformer``. Special tokens are dropped; the document is cut to its
    first ``max_doc_tokens`` word pieces so the matrix stays readable.
    """
    check_queries([query, document])
    tok = model.tokenizer
    mats, labels = [], []
    for text in (query, document):
        emb = model.encode(text, output_value="token_embeddings", convert_to_numpy=False)
        emb = emb.detach().float().cpu().numpy()
        ids = tok(text, truncation=True, max_length=model.max_seq_length)["input_ids"]
        keep = _content_positions(tok, ids)
        mats.append(emb[keep])
        labels.append(tok.convert_ids_to_tokens([ids[i] for i in keep]))
    q, d = mats[0], mats[1][:max_doc_tokens]
    q = q / np.linalg.norm(q, axis=1, keepdims=True)
    d = d / np.linalg.norm(d, axis=1, keepdims=True)
    return TokenMatrix(labels[0], labels[1][:max_doc_tokens], q @ d.T,
                       "bi-encoder: cosine of token vectors (encoded separately)")


def load_attention_model(model_path: str | Path):
    """Tokenizer and eager-attention copy of a cross-encoder (attention weights need 'eager')."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(model_path))
    model = AutoModelForSequenceClassification.from_pretrained(
        str(model_path), attn_implementation="eager")
    model.eval()
    return tokenizer, model


def cross_encoder_attention(tokenizer, model, query: str, document: str, layer: int | None = None,
                            max_length: int = 256, max_doc_tokens: int = 40
                            ) -> tuple[TokenMatrix, float]:
    """Attention from query tokens to document tokens when the pair is read jointly.

    Weights are averaged over heads, and over all layers when ``layer`` is None (else that layer,
    negative indices allowed). Returns the matrix and the model's raw score (logit) for the pair.
    """
    import torch

    check_queries([query, document])
    enc = tokenizer(query, document, truncation="longest_first", max_length=max_length,
                    return_tensors="pt")
    with torch.no_grad():
        out = model(**enc, output_attentions=True)
    if not out.attentions:
        raise InvalidInputError("the model returned no attention weights (load it with "
                                "load_attention_model, which asks for eager attention)")
    att = torch.stack(out.attentions)[:, 0].float()  # layers x heads x L x L
    att = att.mean(dim=(0, 1)) if layer is None else att[layer].mean(dim=0)
    ids = enc["input_ids"][0].tolist()
    types = enc.get("token_type_ids")
    special = set(tokenizer.all_special_ids)
    if types is not None:
        seg = types[0].tolist()
    else:  # models without segment ids: everything after the first separator is the document
        first_sep = next(i for i, t in enumerate(ids) if t in special and i > 0)
        seg = [0 if i <= first_sep else 1 for i in range(len(ids))]
    q_pos = [i for i, t in enumerate(ids) if t not in special and seg[i] == 0]
    d_pos = [i for i, t in enumerate(ids) if t not in special and seg[i] == 1][:max_doc_tokens]
    values = att[q_pos][:, d_pos].numpy()
    label = "all layers" if layer is None else f"layer {layer}"
    matrix = TokenMatrix(tokenizer.convert_ids_to_tokens([ids[i] for i in q_pos]),
                         tokenizer.convert_ids_to_tokens([ids[i] for i in d_pos]), values,
                         f"cross-encoder: attention query -> document ({label}, mean of heads)")
    return matrix, float(out.logits[0, 0])


def plot_token_matrix(matrix: TokenMatrix, ax=None, cmap: str = "viridis"):
    """Heatmap of a :class:`TokenMatrix` (query tokens on rows, document tokens on columns)."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(max(6, 0.22 * len(matrix.cols)), 0.3 * len(matrix.rows) + 1))
    im = ax.imshow(matrix.values, aspect="auto", cmap=cmap, interpolation="nearest")
    ax.grid(False)
    ax.set_xticks(range(len(matrix.cols)), matrix.cols, rotation=90, fontsize=7)
    ax.set_yticks(range(len(matrix.rows)), matrix.rows, fontsize=8)
    ax.set_title(matrix.title, fontsize=9)
    ax.figure.colorbar(im, ax=ax, fraction=0.025, pad=0.01)
    return ax


def _seconds(fn, repeat: int) -> float:
    """Median wall-clock seconds of ``repeat`` calls of ``fn``."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def precompute_costs(bi_encoder, reranker, texts: Mapping[str, str], query: str,
                     sample_docs: int = 16, k_retrieve: int = 20, repeat: int = 3) -> pd.DataFrame:
    """Measure what each architecture pays offline (per document) and online (per query).

    ``bi_encoder`` is an indexed :class:`~ragcompare.retrieval.dense.BiEncoderRetriever`, ``reranker`` a
    :class:`~ragcompare.rerank.cross_encoder.CrossEncoderReranker`. Document encoding and pair scoring are
    timed on ``sample_docs`` documents and scaled to the corpus (the ``how`` column says which
    numbers are measured directly and which are scaled from a measured per-item cost).
    """
    if sample_docs <= 0:
        raise InvalidInputError("sample_docs must be positive")
    docs = list(texts.values())[:sample_docs]
    n = len(texts)
    k = min(10, n)
    bi_encoder.search([query], k)  # warm-up
    doc_s = _seconds(lambda: bi_encoder._encode(bi_encoder.model, docs, False), 1) / len(docs)
    query_s = _seconds(lambda: bi_encoder.search([query], k), repeat)
    reranker.score(query, docs[:2])  # warm-up
    pair_s = _seconds(lambda: reranker.score(query, docs), 1) / len(docs)
    rows = [
        ("bi-encoder", "offline", "encode every document once", n * doc_s,
         f"scaled: {len(docs)} docs measured x {n}"),
        ("bi-encoder", "per query", "encode query + exact search over all vectors", query_s,
         "measured"),
        ("cross-encoder", "offline", "nothing: no pair exists before the query arrives", 0.0,
         "-"),
        ("cross-encoder", "per query", f"score all {n} (query, document) pairs", n * pair_s,
         f"scaled: {len(docs)} pairs measured x {n}"),
        ("hybrid", "offline", "the bi-encoder's document vectors", n * doc_s, "as bi-encoder"),
        ("hybrid", "per query", f"bi-encoder search + score top-{k_retrieve} pairs",
         query_s + k_retrieve * pair_s, f"measured query + {k_retrieve} x measured pair cost"),
    ]
    return pd.DataFrame(rows, columns=["architecture", "when", "work", "seconds", "how"])


# ---------------------------------------------------------------------------------------------
# the pair length limit
# ---------------------------------------------------------------------------------------------


def pair_lengths(tokenizer, query: str, documents: Sequence[str]) -> np.ndarray:
    """Tokens of each (query, document) pair as a cross-encoder sees it, before truncation."""
    check_queries([query])
    enc = tokenizer([query] * len(documents), list(documents), truncation=False)
    return np.array([len(ids) for ids in enc["input_ids"]])


def split_passages(tokenizer, text: str, max_tokens: int = 200, stride: int = 150) -> list[str]:
    """Cut ``text`` into windows of ``max_tokens`` word pieces, starting every ``stride`` pieces."""
    if not 0 < stride <= max_tokens:
        raise InvalidInputError(f"need 0 < stride <= max_tokens, got {stride}, {max_tokens}")
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    if not ids:
        return [text]
    starts = range(0, max(len(ids) - max_tokens, 0) + 1, stride)
    out = [tokenizer.decode(ids[s:s + max_tokens]) for s in starts]
    last = starts[-1] + max_tokens
    if last < len(ids):
        out.append(tokenizer.decode(ids[-max_tokens:]))
    return out


def max_passage_score(reranker, query: str, text: str, max_tokens: int = 200,
                      stride: int = 150) -> tuple[float, int, int]:
    """Score a long document as its best passage (MaxP): ``(score, best passage, n passages)``."""
    passages = split_passages(reranker.model.tokenizer, text, max_tokens, stride)
    scores = reranker.score(query, passages)
    best = int(np.argmax(scores))
    return float(scores[best]), best, len(passages)


def truncation_experiment(reranker, query: str, relevant: str, filler: str,
                          passage_tokens: int = 200) -> pd.DataFrame:
    """What truncation hides: the same relevant text scored alone, before and after a long filler.

    ``reranker`` should use ``max_length`` 512. Rows show the pair's token count, whether the
    relevant text fits in the window, the raw score, and the score of the best passage (MaxP).
    """
    tok = reranker.model.tokenizer
    variants = {"relevant text alone": relevant,
                "relevant text, then filler": f"{relevant} {filler}",
                "filler, then relevant text": f"{filler} {relevant}"}
    rows = []
    for name, text in variants.items():
        n = int(pair_lengths(tok, query, [text])[0])
        start = 0 if not text.startswith(filler) else int(pair_lengths(tok, query, [filler])[0])
        maxp, _, n_pass = max_passage_score(reranker, query, text, passage_tokens,
                                            passage_tokens // 2)
        rows.append({"document": name, "pair_tokens": n,
                     "relevant_text_visible": start + 10 < reranker.max_length,
                     "score": float(reranker.score(query, [text])[0]),
                     "maxp_score": maxp, "passages": n_pass})
    return pd.DataFrame(rows).set_index("document")


def pair_cost(reranker, pairs: Sequence[tuple[str, str]], repeat: int = 1) -> dict[str, float]:
    """Measured milliseconds per pair and pairs per second for scoring ``pairs`` in batches."""
    if not pairs:
        raise InvalidInputError("no pairs to time")
    reranker.score_pairs(list(pairs[:2]))  # warm-up
    s = _seconds(lambda: reranker.score_pairs(list(pairs)), repeat)
    return {"ms_per_pair": 1000 * s / len(pairs), "pairs_per_s": len(pairs) / s,
            "pairs": len(pairs)}
