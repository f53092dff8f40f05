"""On-disk embedding cache keyed by model + text (SQLite, float32 blobs; no pickle)."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from ragcompare.settings import cache_dir


def _key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class EmbeddingCache:
    """Stores one vector per (model fingerprint, text); counts hits and misses."""

    def __init__(self, model_fingerprint: str, path: str | Path | None = None) -> None:
        self.path = Path(path) if path else cache_dir() / "embeddings.sqlite"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.model = model_fingerprint
        self.hits = 0
        self.misses = 0
        with self._connect() as con:
            con.execute("CREATE TABLE IF NOT EXISTS emb (model TEXT, key TEXT, dim INTEGER, "
                        "vec BLOB, PRIMARY KEY (model, key))")

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=30)

    def get_or_compute(self, texts: Sequence[str],
                       encode: Callable[[list[str]], np.ndarray]) -> np.ndarray:
        """Return vectors for ``texts``, encoding (and storing) only those not cached yet."""
        keys = [_key(t) for t in texts]
        found: dict[str, np.ndarray] = {}
        with self._connect() as con:
            unique = list(dict.fromkeys(keys))
            for start in range(0, len(unique), 500):
                chunk = unique[start:start + 500]
                marks = ",".join("?" * len(chunk))
                for key, dim, blob in con.execute(
                        f"SELECT key, dim, vec FROM emb WHERE model=? AND key IN ({marks})",
                        [self.model, *chunk]):
                    vec = np.frombuffer(blob, dtype=np.float32)
                    if vec.shape[0] == dim:
                        found[key] = vec
        missing = [i for i, k in enumerate(keys) if k not in found]
        self.hits += len(keys) - len(missing)
        self.misses += len(missing)
        if missing:
            todo = list(dict.fromkeys(keys[i] for i in missing))
            first = {k: i for i, k in reversed(list(enumerate(keys)))}
            vecs = np.asarray(encode([texts[first[k]] for k in todo]), dtype=np.float32)
            with self._connect() as con:
                con.executemany("INSERT OR REPLACE INTO emb VALUES (?, ?, ?, ?)",
                                [(self.model, k, v.shape[0], v.tobytes()) for k, v in
                                 zip(todo, vecs)])
            found.update(zip(todo, vecs))
        return np.stack([found[k] for k in keys])

    def clear(self) -> None:
        """Forget every vector of this model."""
        with self._connect() as con:
            con.execute("DELETE FROM emb WHERE model=?", [self.model])

    @property
    def hit_rate(self) -> float:
        """Share of lookups served from the cache so far."""
        total = self.hits + self.misses
        return self.hits / total if total else 0.0
