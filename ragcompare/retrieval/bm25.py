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

from ragcompare.checks import (
    check_choice,
    check_corpus,
    check_float,
    check_k,
    check_queries,
    check_unique_ids,
    corpus_fingerprint,
)
from ragcompare.retrieval.saved import IndexFileError, load_index, save_index
from ragcompare.types import Hit, InvalidInputError, RagCompareError

# bm25s sets its own logger to DEBUG at import; its per-index debug lines would flood notebooks.
logging.getLogger("bm25s").setLevel(logging.WARNING)

FORMAT = "ragcompare.bm25/2"
"""Version of the metadata a saved BM25 index keeps in its manifest (see :mod:`ragcompare.storage`)."""
LEGACY_FORMAT = "ragcompare.bm25/1"
"""BM25 indexes saved before manifests (bm25s files + ``meta.json``): still loaded, checked for size."""
KIND = "bm25 index"
METHODS = ("robertson", "atire", "bm25l", "bm25+", "lucene")
"""The BM25 variants bm25s implements."""


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
                 language: str = "english", stopwords: str | Sequence[str] = "en") -> None:
        self.k1 = check_float(k1, "k1", minimum=0.0)
        self.b = check_float(b, "b", minimum=0.0, maximum=1.0)
        self.method = check_choice(method, "method", METHODS)
        if not isinstance(language, str):
            raise InvalidInputError(f"language must be a Snowball language name, got {language!r}")
        try:
            self.stemmer = Stemmer.Stemmer(language)
        except KeyError:
            raise InvalidInputError(f"no Snowball stemmer for language {language!r}; one of "
                                    f"{', '.join(Stemmer.algorithms())}") from None
        if isinstance(stopwords, str):
            try:
                bm25s.tokenize(["probe"], stopwords=stopwords, show_progress=False)
            except ValueError as e:
                raise InvalidInputError(f"stopwords {stopwords!r}: {e}") from None
        elif (not isinstance(stopwords, Sequence)
              or not all(isinstance(w, str) for w in stopwords)):
            raise InvalidInputError("stopwords must be a language code such as 'en' or a list "
                                    "of words")
        else:
            stopwords = list(stopwords)
        self.language, self.stopwords = language, stopwords
        self.model: bm25s.BM25 | None = None
        self.doc_ids: list[str] = []
        self.corpus_fingerprint: str | None = None
        self.last_timings: dict[str, float] = {}
        self.name = "bm25"

    def index(self, corpus: Mapping[str, object]) -> BM25Retriever:
        """Tokenise and index ``corpus`` ({doc_id: text or Document})."""
        texts = check_corpus(corpus)
        t0 = time.perf_counter()
        self.index_tokens(list(texts), tokenize(list(texts.values()), self.stemmer, self.stopwords))
        self.corpus_fingerprint = corpus_fingerprint(texts)
        self.last_timings = {"build_index": time.perf_counter() - t0}
        return self

    def index_tokens(self, doc_ids: Sequence[str], tokens) -> BM25Retriever:
        """Index documents already tokenized: a bm25s ``Tokenized`` (see :func:`tokenize`), one row
        per id of ``doc_ids``, in that order."""
        if isinstance(doc_ids, str) or not isinstance(doc_ids, Sequence) or not doc_ids:
            raise InvalidInputError("doc_ids must be a non-empty list of document ids")
        if not hasattr(tokens, "ids") or not hasattr(tokens, "vocab"):
            raise InvalidInputError("tokens must be a bm25s Tokenized, as tokenize() returns")
        if len(tokens.ids) != len(doc_ids):
            raise InvalidInputError(f"{len(doc_ids)} document ids for {len(tokens.ids)} tokenized documents")
        ids = list(check_corpus(dict.fromkeys(doc_ids, "")))
        check_unique_ids(doc_ids)
        if not any(len(row) for row in tokens.ids):
            raise InvalidInputError("no document of the corpus holds an indexable word (after "
                                    "stopword removal and stemming): BM25 has nothing to match")
        t0 = time.perf_counter()
        model = bm25s.BM25(k1=self.k1, b=self.b, method=self.method)
        with np.errstate(invalid="ignore", divide="ignore"):
            model.index(tokens, show_progress=False)
        self.model, self.doc_ids = model, ids
        self.corpus_fingerprint = corpus_fingerprint(ids)
        self.last_timings = {"build_index": time.perf_counter() - t0}
        return self

    def search(self, queries: Sequence[str], k: int = 10) -> list[list[Hit]]:
        """Top-``k`` documents per query; documents sharing no term with the query are left out."""
        self._require_index()
        queries = check_queries(queries)
        k = check_k(k, len(self.doc_ids))
        t0 = time.perf_counter()
        out = self.search_tokens(tokenize(queries, self.stemmer, self.stopwords, return_ids=False), k)
        self.last_timings = {"search": time.perf_counter() - t0}
        return out

    def search_tokens(self, queries: Sequence[Sequence[str]], k: int = 10) -> list[list[Hit]]:
        """:meth:`search` for queries already tokenized (token lists, as ``tokenize(...,
        return_ids=False)`` gives them)."""
        self._require_index()
        k = check_k(k, len(self.doc_ids))
        if isinstance(queries, str) or not isinstance(queries, Sequence):
            raise InvalidInputError("queries must be a list of token lists")
        t0 = time.perf_counter()
        out: list[list[Hit]] = []
        for i, tokens in enumerate(queries):
            if (isinstance(tokens, str) or not isinstance(tokens, Sequence)
                    or not all(isinstance(t, str) for t in tokens)):
                raise InvalidInputError(f"query {i} must be a list of token strings")
            ids = self.model.get_tokens_ids(list(tokens))
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
        """Save atomically into ``directory``: bm25s's own numpy/JSON files, the ids as JSON, and a
        manifest with hashes (no pickle). A failed save leaves the previous index loadable."""
        if self.model is None:
            raise RagCompareError("nothing to save: index a corpus first")
        meta = {"format": FORMAT, "k1": self.k1, "b": self.b, "method": self.method,
                "language": self.language, "stopwords": self.stopwords,
                "corpus_fingerprint": self.corpus_fingerprint}
        model = self.model
        return save_index(directory, KIND, self.doc_ids, lambda folder: model.save(
            str(folder / "bm25s"), allow_pickle=False, show_progress=False), meta)

    @classmethod
    def load(cls, directory: str | Path) -> BM25Retriever:
        """Load an index written by :meth:`save` (manifest, hashes and sizes checked)."""
        folder, meta, ids = load_index(directory, KIND, FORMAT, LEGACY_FORMAT)
        if meta.get("format") == FORMAT:  # a legacy index keeps bm25s's files beside meta.json
            folder = folder / "bm25s"
        try:
            r = cls(k1=meta["k1"], b=meta["b"], method=meta["method"], language=meta["language"],
                    stopwords=meta["stopwords"])
        except (KeyError, InvalidInputError) as e:
            raise IndexFileError(f"{directory}: the BM25 settings are corrupt ({e})") from None
        try:
            r.model = bm25s.BM25.load(str(folder), allow_pickle=False, show_progress=False)
            n_docs = int(r.model.scores["num_docs"])
        except (OSError, ValueError, KeyError, TypeError, json.JSONDecodeError) as e:
            raise IndexFileError(f"{directory} holds a corrupt BM25 index: {e}") from None
        if n_docs != len(ids):
            raise IndexFileError(f"{directory}: index and its ids disagree on the corpus size")
        r.doc_ids = list(ids)
        r.corpus_fingerprint = meta.get("corpus_fingerprint") or corpus_fingerprint(ids)
        return r
