"""The cross-encoder's pair length limit: how long a (query, document) pair is in tokens, what
truncation hides, and scoring a long document by its best passage (MaxP)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ragcompare.checks import check_queries
from ragcompare.types import InvalidInputError


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
