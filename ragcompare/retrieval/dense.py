"""Bi-encoder retrieval: sentence-transformers embeddings in a FAISS index."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import faiss
import numpy as np

from ragcompare.checks import (
    check_corpus,
    check_float,
    check_k,
    check_max_length,
    check_positive_int,
    check_queries,
    check_text,
    check_unique_ids,
    corpus_fingerprint,
)
from ragcompare.models.resolve import (
    DEFAULT_BI_ENCODER,
    load_bi_encoder,
    model_hash,
    resolve_model,
)
from ragcompare.retrieval.cache import EmbeddingCache
from ragcompare.retrieval.saved import IndexFileError, load_index, save_index
from ragcompare.types import Hit, InvalidInputError, RagCompareError

FORMAT = "ragcompare.bi_encoder/2"
"""Version of the metadata a saved index keeps in its manifest (see :mod:`ragcompare.storage`)."""
LEGACY_FORMAT = "ragcompare.bi_encoder/1"
"""Indexes saved before manifests (``index.faiss`` + ``meta.json``): still loaded, checked for size."""
KIND = "bi-encoder index"


def _dim(model) -> int:
    get = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    return int(get())


def _positions(model) -> int | None:
    """Token positions the transformer of a sentence-transformers model was built with."""
    try:
        return int(model[0].auto_model.config.max_position_embeddings)
    except (AttributeError, IndexError, KeyError, TypeError, ValueError):
        return None


def _fingerprint(name: str, model) -> str:
    """Cache key for a model: the name asked for, its dimensions, length, and weights' hash."""
    return f"{name}|dim={_dim(model)}|len={model.max_seq_length}|{model_hash(resolve_model(name))}"


def _search_params(params: object) -> dict[str, float]:
    """Search-time FAISS parameters as ``{name: number}`` (numpy numbers accepted)."""
    if params is None:
        return {}
    if not isinstance(params, Mapping):
        raise InvalidInputError(f"search_params must be a mapping such as {{'nprobe': 8}}, got "
                                f"{type(params).__name__}")
    out: dict[str, float] = {}
    for key, value in params.items():
        if not isinstance(key, str) or not key:
            raise InvalidInputError(f"search parameter names must be strings, got {key!r}")
        number = check_float(value, f"search parameter {key!r}", minimum=0)
        out[key] = int(number) if float(number).is_integer() else number
    return out


class BiEncoderRetriever:
    """Encode documents once, search them by vector similarity.

    ``index_factory`` is a FAISS factory string ("Flat", "IVF64,Flat", "HNSW32", "PQ16", ...);
    vectors are L2-normalised and compared by inner product (= cosine). ``query_model`` enables
    asymmetric setups (a different encoder for queries; dimensions must match).
    """

    def __init__(self, model: str = DEFAULT_BI_ENCODER, query_model: str | None = None,
                 index_factory: str = "Flat", batch_size: int = 64, use_cache: bool = True,
                 show_progress: bool = True, search_params: Mapping[str, float] | None = None,
                 device: str = "cpu", max_seq_length: int | None = None) -> None:
        if not isinstance(index_factory, str) or not index_factory.strip():
            raise InvalidInputError("index_factory must be a FAISS factory string such as 'Flat'")
        check_text(model, "model")
        if query_model is not None:
            check_text(query_model, "query_model")
        self.batch_size = check_positive_int(batch_size, "batch_size")
        self.search_params = _search_params(search_params)
        self.model_name = model
        self.query_model_name = query_model
        self.index_factory = index_factory
        self.use_cache = bool(use_cache)
        self.show_progress = bool(show_progress)
        self.device = device
        self.model = load_bi_encoder(model, device=device)
        if max_seq_length is not None:
            self.model.max_seq_length = check_max_length(max_seq_length, _positions(self.model),
                                                         model)
        self.query_model = self.model
        if query_model and query_model != model:
            self.query_model = load_bi_encoder(query_model, device=device)
            dq = _dim(self.query_model)
            dd = _dim(self.model)
            if dq != dd:
                raise InvalidInputError(
                    f"query model {query_model!r} has {dq} dims, document model {model!r} {dd}")
        self.dim = _dim(self.model)
        self.faiss_index: faiss.Index | None = None
        self.doc_ids: list[str] = []
        self.corpus_fingerprint: str | None = None
        self.cache = (EmbeddingCache(_fingerprint(model, self.model), dim=self.dim) if use_cache
                      else None)
        self.last_timings: dict[str, float] = {}
        self.name = f"bi-encoder[{model.split('/')[-1]}|{index_factory}]"

    # -- encoding -----------------------------------------------------------------------------
    def _encode(self, model, texts: list[str], progress: bool) -> np.ndarray:
        return model.encode(texts, batch_size=self.batch_size, show_progress_bar=progress,
                            normalize_embeddings=True, convert_to_numpy=True).astype(np.float32)

    def encode_documents(self, texts: Sequence[str]) -> np.ndarray:
        """Normalised document vectors (served from the embedding cache when possible)."""
        texts = list(texts)
        if self.cache is None:
            return self._encode(self.model, texts, self.show_progress)
        return self.cache.get_or_compute(
            texts, lambda todo: self._encode(self.model, todo, self.show_progress))

    def encode_queries(self, queries: Sequence[str]) -> np.ndarray:
        """Normalised query vectors (never cached: query time is what we measure)."""
        return self._encode(self.query_model, check_queries(queries), False)

    # -- indexing and search --------------------------------------------------------------------
    def index(self, corpus: Mapping[str, object]) -> BiEncoderRetriever:
        """Encode ``corpus`` ({doc_id: text or Document}) and build the FAISS index."""
        texts = check_corpus(corpus)
        t0 = time.perf_counter()
        vectors = self.encode_documents(list(texts.values()))
        t1 = time.perf_counter()
        self.add_vectors(list(texts), vectors, corpus=texts)
        self.last_timings = {"encode_corpus": t1 - t0, "build_index": time.perf_counter() - t1}
        return self

    def add_vectors(self, doc_ids: Sequence[str], vectors: np.ndarray,
                    corpus: Mapping[str, str] | None = None) -> None:
        """Build the index from precomputed normalised vectors (ids in row order).

        ``corpus`` ({doc_id: text}, the texts the vectors encode) gives the index its corpus
        fingerprint; without it the fingerprint names the ids only.
        """
        if isinstance(doc_ids, str) or not isinstance(doc_ids, Sequence):
            raise InvalidInputError("doc_ids must be a list of document ids")
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[1] != self.dim:
            raise InvalidInputError(f"expected vectors of shape (n, {self.dim}), got "
                                    f"{vectors.shape}")
        if len(doc_ids) != vectors.shape[0] or not len(doc_ids):
            raise InvalidInputError(f"{len(doc_ids)} ids for {vectors.shape[0]} vectors")
        if not np.isfinite(vectors).all():
            raise InvalidInputError("vectors hold NaN or infinite values")
        ids = list(check_corpus(dict.fromkeys(doc_ids, "")))
        check_unique_ids(doc_ids)
        if corpus is not None:
            texts = check_corpus(corpus)
            if list(texts) != ids:
                raise InvalidInputError("corpus must hold the ids of doc_ids, in the same order")
            fingerprint = corpus_fingerprint(texts)
        else:
            fingerprint = corpus_fingerprint(ids)
        try:
            index = faiss.index_factory(self.dim, self.index_factory, faiss.METRIC_INNER_PRODUCT)
            if not index.is_trained:
                index.train(vectors)
            index.add(vectors)
        except RuntimeError as e:
            raise InvalidInputError(
                f"FAISS could not build {self.index_factory!r} over {len(ids)} vectors: "
                f"{str(e).strip().splitlines()[-1]}") from None
        self._apply_search_params(index, self.search_params)  # refuses before anything is kept
        self.faiss_index, self.doc_ids, self.corpus_fingerprint = index, ids, fingerprint

    def _apply_search_params(self, index: faiss.Index, params: Mapping[str, float]) -> None:
        ps = faiss.ParameterSpace()
        for key, value in params.items():
            try:
                ps.set_index_parameter(index, key, value)
            except RuntimeError as e:
                raise InvalidInputError(f"index {self.index_factory!r} has no parameter {key!r}: "
                                        f"{str(e).strip().splitlines()[-1]}") from None

    def set_search_params(self, **params: float) -> None:
        """Change search-time parameters such as ``nprobe`` (IVF) or ``efSearch`` (HNSW); a value
        the index refuses is not kept."""
        merged = {**self.search_params, **_search_params(params)}
        if self.faiss_index is not None:
            self._apply_search_params(self.faiss_index, merged)
        self.search_params = merged

    def search_vectors(self, query_vectors: np.ndarray, k: int) -> list[list[Hit]]:
        """Search with precomputed query vectors."""
        if self.faiss_index is None:
            raise RagCompareError("index a corpus (or load an index) before searching")
        k = check_k(k, len(self.doc_ids))
        q = np.ascontiguousarray(query_vectors, dtype=np.float32)
        if q.ndim != 2 or q.shape[1] != self.dim:
            raise InvalidInputError(f"query vectors must have shape (n, {self.dim}), got {q.shape}")
        if not np.isfinite(q).all():
            raise InvalidInputError("query vectors hold NaN or infinite values")
        scores, ids = self.faiss_index.search(q, k)
        return [[Hit(self.doc_ids[i], float(s)) for s, i in zip(srow, irow) if i >= 0]
                for srow, irow in zip(scores, ids)]

    def search(self, queries: Sequence[str], k: int = 10) -> list[list[Hit]]:
        """Top-``k`` documents for each query, best first."""
        if self.faiss_index is None:
            raise RagCompareError("index a corpus (or load an index) before searching")
        k = check_k(k, len(self.doc_ids))
        t0 = time.perf_counter()
        q = self.encode_queries(queries)
        t1 = time.perf_counter()
        hits = self.search_vectors(q, k)
        self.last_timings = {"encode_query": t1 - t0, "search": time.perf_counter() - t1}
        return hits

    # -- persistence ----------------------------------------------------------------------------
    def _model_record(self) -> dict[str, object]:
        return {"model": self.model_name, "query_model": self.query_model_name,
                "model_hash": model_hash(resolve_model(self.model_name)),
                "query_model_hash": (model_hash(resolve_model(self.query_model_name))
                                     if self.query_model_name else None)}

    def save(self, directory: str | Path) -> Path:
        """Save the index atomically into ``directory`` (FAISS's own format, the ids as JSON and a
        manifest with hashes; no pickle). A failed save leaves the previous index loadable."""
        if self.faiss_index is None:
            raise RagCompareError("nothing to save: index a corpus first")
        meta = {"format": FORMAT, **self._model_record(), "index_factory": self.index_factory,
                "dim": self.dim, "corpus_fingerprint": self.corpus_fingerprint,
                "max_seq_length": self.model.max_seq_length, "search_params": self.search_params,
                "batch_size": self.batch_size}
        index = self.faiss_index
        return save_index(directory, KIND, self.doc_ids,
                          lambda folder: faiss.write_index(index, str(folder / "index.faiss")), meta)

    @classmethod
    def load(cls, directory: str | Path, **overrides) -> BiEncoderRetriever:
        """Load an index written by :meth:`save`, after checking its manifest, hashes, sizes, and
        that the model encoding queries is the one that built it (``overrides`` are constructor
        arguments, e.g. ``use_cache=False``)."""
        folder, meta, ids = load_index(directory, KIND, FORMAT, LEGACY_FORMAT)
        need = ("model", "query_model", "index_factory", "dim", "batch_size", "search_params",
                "max_seq_length")
        if any(k not in meta for k in need) or not (folder / "index.faiss").is_file():
            raise IndexFileError(f"{directory}: incomplete index (needs index.faiss and the "
                                 f"settings {', '.join(need)})")
        try:
            index = faiss.read_index(str(folder / "index.faiss"))
        except RuntimeError:
            raise IndexFileError(f"{folder / 'index.faiss'} is not a readable FAISS index") from None
        if index.ntotal != len(ids) or index.d != meta["dim"]:
            raise IndexFileError(f"{directory}: index holds {index.ntotal}x{index.d} vectors, "
                                 f"the manifest expects {len(ids)}x{meta['dim']}")
        kwargs = {"model": meta["model"], "query_model": meta["query_model"],
                  "index_factory": meta["index_factory"], "batch_size": meta["batch_size"],
                  "search_params": meta["search_params"],
                  "max_seq_length": meta["max_seq_length"], **overrides}
        retriever = cls(**kwargs)
        if retriever.dim != meta["dim"]:
            raise IndexFileError(f"model {kwargs['model']!r} has {retriever.dim} dims, "
                                 f"the index {meta['dim']}")
        if "model_hash" in meta:
            now = retriever._model_record()
            for key in ("model_hash", "query_model_hash"):
                if meta.get(key) and now.get(key) != meta[key]:
                    which = "query model" if key.startswith("query") else "model"
                    raise IndexFileError(
                        f"{directory} was built with {which} {meta[key.replace('_hash', '')]!r} "
                        f"(weights {meta[key][:12]}); {kwargs[key.replace('_hash', '')]!r} has other "
                        "weights (" + str(now.get(key))[:12] + "): its vectors would not match; "
                        "load it with the model that built it, or index the corpus again")
        retriever._apply_search_params(index, retriever.search_params)
        retriever.faiss_index, retriever.doc_ids = index, list(ids)
        retriever.corpus_fingerprint = meta.get("corpus_fingerprint") or corpus_fingerprint(ids)
        return retriever

    @property
    def memory_bytes(self) -> int:
        """Size of the serialised index in bytes."""
        if self.faiss_index is None:
            return 0
        return int(faiss.serialize_index(self.faiss_index).nbytes)
