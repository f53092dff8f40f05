"""Look inside the two architectures: token-level matrices.

* :func:`bi_encoder_token_similarity` -- query and document are encoded *separately*; the cosine
  similarity between their contextual token vectors shows what a bi-encoder has to work with (two
  independent sets of vectors, pooled into one vector each before they ever meet).
* :func:`cross_encoder_attention` -- query and document are fed *jointly*; the attention weights
  from query tokens to document tokens show "every token can attend to every other token".

What each architecture costs is :mod:`ragcompare.teach.costs`; the pair length limit,
:mod:`ragcompare.teach.truncation`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ragcompare.checks import check_queries
from ragcompare.types import InvalidInputError


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
