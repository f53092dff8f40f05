"""BM25 via ``bm25s`` (Snowball stemming + English stopwords), same interface as the others."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import bm25s
import numpy as np
import Stemmer

from ragcompare.types import Hit, RagCompareError, check_corpus, check_k, check_queries

# bm25s sets its own logger to DEBUG at import; its per-index debug lines would flood notebooks.
logging.getLogger("bm25s").setLevel(logging.WARNING)

FORMAT = "ragcompare.bm25/1"  # the on-disk format tag, unchanged since the first release


def tokenize(texts: Sequence[str], stemmer: Stemmer.Stemmer | None = None, stopwords: str = "en",
             return_ids: bool = True):
    """BM25's tokens, exactly as :class:`BM25Retriever` makes them: bm25s tokenization, ``stopwords``
    removed, Snowball stems (``stemmer``; English by default).

    Returns a ``bm25s`` ``Tokenized`` (token ids + vocabulary) or, with ``return_ids=False``, one
    list of token strings per text.
    """
    return bm25s.tokenize(list(texts), stopwords=stopwords, stemmer=stemmer or Stemmer.Stemmer("english"),
                          return_ids=return_ids, show_progress=False)


class BM25Retriever:
    """Lexical retrieval: Lucene-variant BM25 over stemmed, stopword-filtered tokens."""

    def __init__(self, k1: float = 1.5, b: float = 0.75, method: str = "lucene",
                 language: str = "english", stopwords: str = "en") -> None:
        self.k1, self.b, self.method = k1, b, method
        self.language, self.stopwords = language, stopwords
        self.stemmer = Stemmer.Stemmer(language)
        self.model: bm25s.BM25 | None = None
        self.doc_ids: list[str] = []
        self.last_timings: dict[str, float] = {}
        self.name = "bm25"

    def index(self, corpus: Mapping[str, object]) -> BM25Retriever:
        """Tokenise and index ``corpus`` ({doc_id: text or Document})."""
        texts = check_corpus(corpus)
        t0 = time.perf_counter()
        self.index_tokens(list(texts), tokenize(list(texts.values()), self.stemmer, self.stopwords))
        self.last_timings = {"build_index": time.perf_counter() - t0}
        return self

    def index_tokens(self, doc_ids: Sequence[str], tokens) -> BM25Retriever:
        """Index documents already tokenized: a bm25s ``Tokenized`` (see :func:`tokenize`), one row
        per id of ``doc_ids``, in that order."""
        from ragcompare.types import InvalidInputError, check_unique_ids

        if len(tokens.ids) != len(doc_ids):
            raise InvalidInputError(f"{len(doc_ids)} document ids for {len(tokens.ids)} tokenized documents")
        check_unique_ids(doc_ids)
        t0 = time.perf_counter()
        model = bm25s.BM25(k1=self.k1, b=self.b, method=self.method)
        model.index(tokens, show_progress=False)
        self.model, self.doc_ids = model, list(doc_ids)
        self.last_timings = {"build_index": time.perf_counter() - t0}
        return self

    def search(self, queries: Sequence[str], k: int = 10) -> list[list[Hit]]:
        """Top-``k`` documents per query; documents sharing no term with the query are left out."""
        self._require_index()
        queries = check_queries(queries)
        t0 = time.perf_counter()
        out = self.search_tokens(tokenize(queries, self.stemmer, self.stopwords, return_ids=False), k)
        self.last_timings = {"search": time.perf_counter() - t0}
        return out

    def search_tokens(self, queries: Sequence[Sequence[str]], k: int = 10) -> list[list[Hit]]:
        """:meth:`search` for queries already tokenized (token lists, as ``tokenize(...,
        return_ids=False)`` gives them)."""
        self._require_index()
        check_k(k, len(self.doc_ids))
        t0 = time.perf_counter()
        out: list[list[Hit]] = []
        for tokens in queries:
            ids = self.model.get_tokens_ids(tokens)
            if not ids:
                out.append([])
                continue
            scores = self.model.get_scores_from_ids(ids)
            top = np.argsort(-scores, kind="stable")[:k]
            out.append([Hit(self.doc_ids[i], float(scores[i])) for i in top if scores[i] > 0])
        self.last_timings = {"search": time.perf_counter() - t0}
        return out

    def _require_index(self) -> None:
        if self.model is None:
            raise RagCompareError("index a corpus (or load an index) before searching")

    def save(self, directory: str | Path) -> Path:
        """Save with bm25s's own numpy/JSON format plus ``meta.json`` (no pickle)."""
        if self.model is None:
            raise RagCompareError("nothing to save: index a corpus first")
        directory = Path(directory)
        self.model.save(str(directory), allow_pickle=False, show_progress=False)
        meta = {"format": FORMAT, "k1": self.k1, "b": self.b, "method": self.method,
                "language": self.language, "stopwords": self.stopwords, "doc_ids": self.doc_ids}
        (directory / "meta.json").write_text(json.dumps(meta))
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> BM25Retriever:
        """Load an index written by :meth:`save`."""
        from ragcompare.retrieval.dense import IndexFileError

        directory = Path(directory)
        try:
            meta = json.loads((directory / "meta.json").read_text())
        except FileNotFoundError:
            raise IndexFileError(f"missing meta.json in {directory}") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise IndexFileError(f"{directory / 'meta.json'} is corrupt: {e}") from None
        if meta.get("format") != FORMAT:
            raise IndexFileError(f"{directory} is not a ragcompare BM25 index ({FORMAT})")
        r = cls(k1=meta["k1"], b=meta["b"], method=meta["method"], language=meta["language"],
                stopwords=meta["stopwords"])
        try:
            r.model = bm25s.BM25.load(str(directory), allow_pickle=False, show_progress=False)
        except (OSError, ValueError, json.JSONDecodeError) as e:
            raise IndexFileError(f"{directory} holds a corrupt BM25 index: {e}") from None
        r.doc_ids = list(meta["doc_ids"])
        if r.model.scores["num_docs"] != len(r.doc_ids):
            raise IndexFileError(f"{directory}: index and meta.json disagree on the corpus size")
        return r
