"""Bi-encoder retrieval: sentence-transformers embeddings in a FAISS index."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import faiss
import numpy as np

from ragcompare.models.resolve import DEFAULT_BI_ENCODER, load_bi_encoder, resolve_model
from ragcompare.retrieval.cache import EmbeddingCache
from ragcompare.types import (
    Hit,
    InvalidInputError,
    RagCompareError,
    check_corpus,
    check_k,
    check_queries,
    check_unique_ids,
)

FORMAT = "ragcompare.bi_encoder/1"  # the on-disk format tag, unchanged since the first release


class IndexFileError(RagCompareError):
    """A saved index is missing, corrupt or inconsistent."""


def _dim(model) -> int:
    get = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    return int(get())


def _fingerprint(name: str, model) -> str:
    """Cache key for a model: the name asked for, plus weight file stats for local folders."""
    resolved = Path(resolve_model(name))
    extra = ""
    if resolved.is_dir():
        weights = sorted(resolved.glob("*.safetensors")) + sorted(resolved.glob("*.bin"))
        extra = "|" + ",".join(f"{w.name}:{w.stat().st_size}" for w in weights)
    return f"{name}|dim={_dim(model)}|len={model.max_seq_length}{extra}"


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
        if batch_size <= 0:
            raise InvalidInputError(f"batch_size must be positive, got {batch_size}")
        self.model_name = model
        self.query_model_name = query_model
        self.index_factory = index_factory
        self.batch_size = batch_size
        self.use_cache = use_cache
        self.show_progress = show_progress
        self.search_params = dict(search_params or {})
        self.device = device
        self.model = load_bi_encoder(model, device=device)
        if max_seq_length:
            self.model.max_seq_length = max_seq_length
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
        self.cache = EmbeddingCache(_fingerprint(model, self.model)) if use_cache else None
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
        self.add_vectors(list(texts), vectors)
        self.last_timings = {"encode_corpus": t1 - t0, "build_index": time.perf_counter() - t1}
        return self

    def add_vectors(self, doc_ids: Sequence[str], vectors: np.ndarray) -> None:
        """Build the index from precomputed normalised vectors (ids in row order)."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[1] != self.dim:
            raise InvalidInputError(f"expected vectors of shape (n, {self.dim}), got "
                                    f"{vectors.shape}")
        if len(doc_ids) != vectors.shape[0]:
            raise InvalidInputError(f"{len(doc_ids)} ids for {vectors.shape[0]} vectors")
        check_unique_ids(doc_ids)
        try:
            index = faiss.index_factory(self.dim, self.index_factory, faiss.METRIC_INNER_PRODUCT)
            if not index.is_trained:
                index.train(vectors)
            index.add(vectors)
        except RuntimeError as e:
            raise InvalidInputError(
                f"FAISS could not build {self.index_factory!r} over {len(doc_ids)} vectors: "
                f"{str(e).strip().splitlines()[-1]}") from None
        self.faiss_index, self.doc_ids = index, list(doc_ids)
        self._apply_search_params()

    def _apply_search_params(self) -> None:
        ps = faiss.ParameterSpace()
        for key, value in self.search_params.items():
            try:
                ps.set_index_parameter(self.faiss_index, key, value)
            except RuntimeError as e:
                raise InvalidInputError(f"index {self.index_factory!r} has no parameter {key!r}: "
                                        f"{str(e).strip().splitlines()[-1]}") from None

    def set_search_params(self, **params: float) -> None:
        """Change search-time parameters such as ``nprobe`` (IVF) or ``efSearch`` (HNSW)."""
        self.search_params.update(params)
        if self.faiss_index is not None:
            self._apply_search_params()

    def search_vectors(self, query_vectors: np.ndarray, k: int) -> list[list[Hit]]:
        """Search with precomputed query vectors."""
        if self.faiss_index is None:
            raise RagCompareError("index a corpus (or load an index) before searching")
        check_k(k, len(self.doc_ids))
        q = np.ascontiguousarray(query_vectors, dtype=np.float32)
        if q.ndim != 2 or q.shape[1] != self.dim:
            raise InvalidInputError(f"query vectors must have shape (n, {self.dim}), got {q.shape}")
        scores, ids = self.faiss_index.search(q, k)
        return [[Hit(self.doc_ids[i], float(s)) for s, i in zip(srow, irow) if i >= 0]
                for srow, irow in zip(scores, ids)]

    def search(self, queries: Sequence[str], k: int = 10) -> list[list[Hit]]:
        """Top-``k`` documents for each query, best first."""
        if self.faiss_index is None:
            raise RagCompareError("index a corpus (or load an index) before searching")
        check_k(k, len(self.doc_ids))
        t0 = time.perf_counter()
        q = self.encode_queries(queries)
        t1 = time.perf_counter()
        hits = self.search_vectors(q, k)
        self.last_timings = {"encode_query": t1 - t0, "search": time.perf_counter() - t1}
        return hits

    # -- persistence ----------------------------------------------------------------------------
    def save(self, directory: str | Path) -> Path:
        """Write ``index.faiss`` (FAISS's own format) and ``meta.json``; no pickle."""
        if self.faiss_index is None:
            raise RagCompareError("nothing to save: index a corpus first")
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        faiss.write_index(self.faiss_index, str(directory / "index.faiss"))
        meta = {"format": FORMAT, "model": self.model_name, "query_model": self.query_model_name,
                "index_factory": self.index_factory, "dim": self.dim,
                "max_seq_length": self.model.max_seq_length, "search_params": self.search_params,
                "batch_size": self.batch_size, "doc_ids": self.doc_ids}
        (directory / "meta.json").write_text(json.dumps(meta))
        return directory

    @classmethod
    def load(cls, directory: str | Path, **overrides) -> BiEncoderRetriever:
        """Load an index written by :meth:`save` (validates format, sizes and dimensions)."""
        directory = Path(directory)
        meta_path, index_path = directory / "meta.json", directory / "index.faiss"
        for p in (meta_path, index_path):
            if not p.is_file():
                raise IndexFileError(f"missing {p.name} in {directory}")
        try:
            meta = json.loads(meta_path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise IndexFileError(f"{meta_path} is corrupt: {e}") from None
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise IndexFileError(f"{meta_path} is not a ragcompare bi-encoder index ({FORMAT})")
        try:
            index = faiss.read_index(str(index_path))
        except RuntimeError:
            raise IndexFileError(f"{index_path} is not a readable FAISS index") from None
        if index.ntotal != len(meta["doc_ids"]) or index.d != meta["dim"]:
            raise IndexFileError(f"{directory}: index holds {index.ntotal}x{index.d} vectors, "
                                 f"meta.json expects {len(meta['doc_ids'])}x{meta['dim']}")
        kwargs = {"model": meta["model"], "query_model": meta["query_model"],
                  "index_factory": meta["index_factory"], "batch_size": meta["batch_size"],
                  "search_params": meta["search_params"],
                  "max_seq_length": meta["max_seq_length"], **overrides}
        retriever = cls(**kwargs)
        if retriever.dim != meta["dim"]:
            raise IndexFileError(f"model {kwargs['model']!r} has {retriever.dim} dims, "
                                 f"the index {meta['dim']}")
        retriever.faiss_index, retriever.doc_ids = index, list(meta["doc_ids"])
        retriever._apply_search_params()
        return retriever

    @property
    def memory_bytes(self) -> int:
        """Size of the serialised index in bytes."""
        if self.faiss_index is None:
            return 0
        return int(faiss.serialize_index(self.faiss_index).nbytes)
