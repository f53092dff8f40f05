"""The FAISS index families the decision helper measures and recommends, as ``eval.ann.IndexSpec``s.

Each family's factory string and search parameters depend on the corpus size ``n`` (IVF cells grow
like ``sqrt(n)``); :meth:`IndexKind.spec` gives the concrete configuration that
:func:`ragcompare.eval.ann.build_index` builds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ragcompare.eval.ann import IndexSpec

TRAIN_MAX = 50_000
"""IVF training uses at most this many vectors (a random sample), unless FAISS asks for more."""
MIN_POINTS_PER_CELL = 39
"""FAISS's own bar: k-means wants at least 39 training points per centroid."""


def nlist_for(n: int) -> int:
    """IVF cells for ``n`` vectors: ~4*sqrt(n), at most n/39 (FAISS wants >= 39 points per cell)."""
    return int(max(1, min(round(4 * math.sqrt(n)), n // MIN_POINTS_PER_CELL)))


@dataclass(frozen=True)
class IndexKind:
    """One FAISS index family: how its factory string and search parameters scale with ``n``."""

    name: str
    scaling: str  # "linear" | "sqrt" | "log": the shape fitted to measured search times
    ann: bool
    note: str

    @property
    def ivf(self) -> bool:
        """True for the inverted-file families (they need training)."""
        return self.name in ("IVF-Flat", "IVF-PQ")

    def factory(self, n: int) -> str:
        """FAISS factory string for a corpus of ``n`` vectors."""
        if self.name == "IVF-Flat":
            return f"IVF{nlist_for(n)},Flat"
        if self.name == "IVF-PQ":
            return f"IVF{nlist_for(n)},PQ48x4fs"
        return self.name  # "Flat" and "HNSW32" are their own factory strings

    def search_params(self, n: int) -> dict[str, int]:
        """Search-time parameters used when measuring (and recommended)."""
        if self.name == "HNSW32":
            return {"efSearch": 128}
        if self.ivf:
            return {"nprobe": min(16, nlist_for(n))}
        return {}

    def spec(self, n: int) -> IndexSpec:
        """The concrete configuration for ``n`` vectors."""
        return IndexSpec(self.name, self.factory(n), self.search_params(n))

    def training_sample(self, vectors: np.ndarray, seed: int = 0) -> np.ndarray | None:
        """Vectors to train on: a sorted random sample of ``TRAIN_MAX`` (or the 39 per cell FAISS
        needs, if more) for IVF over a large corpus; None (= all vectors) otherwise."""
        n = len(vectors)
        size = max(TRAIN_MAX, MIN_POINTS_PER_CELL * nlist_for(n))
        if not self.ivf or n <= size:
            return None
        rows = np.random.default_rng(seed).permutation(n)[:size]
        return vectors[np.sort(rows)]


INDEX_KINDS: dict[str, IndexKind] = {k.name: k for k in (
    IndexKind("Flat", "linear", False, "exact search; time grows linearly with the corpus"),
    IndexKind("IVF-Flat", "sqrt", True, "inverted lists over k-means cells (nlist ~ 4*sqrt(n), "
              "nprobe 16); full vectors"),
    IndexKind("HNSW32", "log", True, "graph index (M=32, efSearch 128); fastest search, slow build, "
              "~25% more memory than Flat"),
    IndexKind("IVF-PQ", "sqrt", True, "inverted lists + 4-bit product quantization (48 bytes -> "
              "24 bytes/vector): ~16x less memory, lower recall"),
)}
