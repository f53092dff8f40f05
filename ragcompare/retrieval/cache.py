"""On-disk embedding cache keyed by model + text (SQLite, float32 blobs; no pickle).

The cache never trusts its file: a file that is not SQLite, is damaged, holds a foreign ``emb``
table or cannot be opened, read or written makes the cache warn once (:class:`CacheWarning`) and
compute everything instead; it never raises for it and never deletes the file. Every stored
vector is checked before it is served (byte length = dimension x 4, finite values, and a digest
of model, key and bytes, so a flipped byte is caught too); a row that fails is a miss and is
overwritten. Rows written before digests existed are misses once. What ``encode`` returns is
checked before it is stored.
"""

from __future__ import annotations

import contextlib
import hashlib
import sqlite3
import warnings
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np

from ragcompare.checks import check_positive_int
from ragcompare.settings import cache_dir
from ragcompare.types import InvalidInputError

_LEGACY = (("model", "TEXT", 1), ("key", "TEXT", 2), ("dim", "INTEGER", 0), ("vec", "BLOB", 0))
"""The ``emb`` table of earlier versions: (name, declared type, position in the primary key)."""
_COLUMNS = (*_LEGACY, ("digest", "BLOB", 0))
_SCHEMA = ("CREATE TABLE IF NOT EXISTS emb (model TEXT, key TEXT, dim INTEGER, vec BLOB, "
           "digest BLOB, PRIMARY KEY (model, key))")
_CHUNK = 500
_FAILURES = (sqlite3.Error, OSError, UnicodeDecodeError)  # a damaged file can hold undecodable names


class CacheWarning(RuntimeWarning):
    """The embedding cache file cannot be used; vectors are computed without it."""


def _key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _digest(model: str, key: str, dim: int, vec: bytes) -> bytes:
    h = hashlib.blake2b(f"{model}\0{key}\0{dim}\0".encode("utf-8", "surrogatepass"), digest_size=16)
    h.update(vec)
    return h.digest()


def _reason(error: BaseException) -> str:
    return getattr(error, "strerror", None) or str(error) or type(error).__name__


class EmbeddingCache:
    """Stores one vector per (model fingerprint, text); counts hits and misses.

    ``dim`` is the model's embedding size: stored vectors of another size are misses. Without it
    the size is learnt from the first vectors ``encode`` returns (and, until then, a lookup whose
    hits disagree in size is recomputed).
    """

    def __init__(self, model_fingerprint: str, path: str | Path | None = None,
                 dim: int | None = None) -> None:
        if not isinstance(model_fingerprint, str) or not model_fingerprint:
            raise InvalidInputError("model_fingerprint must be a non-empty str, got "
                                    f"{model_fingerprint!r}")
        if path is not None and not isinstance(path, (str, Path)):
            raise InvalidInputError(f"path must be a file path, got {type(path).__name__}")
        self.dim = None if dim is None else check_positive_int(dim, "dim")
        self.path = Path(path).expanduser() if path else cache_dir() / "embeddings.sqlite"
        self.model = model_fingerprint
        self.hits = 0
        self.misses = 0
        self.disabled: str | None = None
        """Why the file is not used (None while it is)."""
        self._writable = True
        self._warned = False
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._session() as con:
                self._check_schema(con)
        except _FAILURES as e:
            self._give_up(_reason(e))

    # -- the file -----------------------------------------------------------------------------
    @contextlib.contextmanager
    def _session(self) -> Iterator[sqlite3.Connection]:
        """A connection in one transaction (committed on success), always closed."""
        con = sqlite3.connect(self.path, timeout=30)
        try:
            with con:
                yield con
        finally:
            con.close()

    def _check_schema(self, con: sqlite3.Connection) -> None:
        """Create the ``emb`` table, or check that the one there has our columns and key (a table of
        an earlier version gets its digest column)."""
        found = tuple((name, kind.upper(), pk) for _cid, name, kind, _null, _default, pk
                      in con.execute("PRAGMA table_info(emb)"))
        if not found:
            con.execute(_SCHEMA)
        elif found == _LEGACY:
            con.execute("ALTER TABLE emb ADD COLUMN digest BLOB")
        elif found != _COLUMNS:
            raise sqlite3.DatabaseError(
                "its table 'emb' has columns " + ", ".join(f"{n} {t}" for n, t, _ in found)
                + ", not the embedding cache's")

    def _warn(self, what: str, reason: str) -> None:
        if not self._warned:  # one warning per cache, whatever fails next
            self._warned = True
            warnings.warn(f"embedding cache {self.path} cannot be {what} ({reason}); running without "
                          "the cache; delete the file to rebuild it", CacheWarning, stacklevel=4)

    def _give_up(self, reason: str) -> None:
        """Stop using the file (one warning)."""
        if self.disabled is None:
            self.disabled = reason
            self._warn("used", reason)

    def _stop_writing(self, reason: str) -> None:
        """Keep serving what the file holds, but store nothing more (one warning)."""
        if self._writable:
            self._writable = False
            self._warn("written", reason)

    def _lookup(self, keys: list[str]) -> dict[str, np.ndarray]:
        """The stored vectors of ``keys`` that pass the checks (all others are misses)."""
        found: dict[str, np.ndarray] = {}
        if self.disabled is not None or not keys:
            return found
        try:
            with self._session() as con:
                for start in range(0, len(keys), _CHUNK):
                    chunk = keys[start:start + _CHUNK]
                    marks = ",".join("?" * len(chunk))
                    for key, dim, blob, digest in con.execute(
                            f"SELECT key, dim, vec, digest FROM emb WHERE model=? AND key IN ({marks})",
                            [self.model, *chunk]):
                        vec = self._valid(key, dim, blob, digest)
                        if vec is not None:
                            found[key] = vec
        except _FAILURES as e:
            self._give_up(_reason(e))
            return {}
        return found

    def _valid(self, key: str, dim: object, blob: object, digest: object) -> np.ndarray | None:
        """The vector in a stored row, or None when the row is not a sound vector."""
        if (isinstance(dim, bool) or not isinstance(dim, int) or dim <= 0
                or (self.dim is not None and dim != self.dim)
                or not isinstance(blob, bytes) or len(blob) != 4 * dim
                or digest != _digest(self.model, key, dim, blob)):
            return None
        vec = np.frombuffer(blob, dtype=np.float32)
        return vec if np.isfinite(vec).all() else None

    def _store(self, keys: list[str], vecs: np.ndarray) -> None:
        if self.disabled is not None or not self._writable:
            return
        rows = []
        for k, v in zip(keys, vecs):
            blob = v.tobytes()
            rows.append((self.model, k, int(v.shape[0]), blob,
                         _digest(self.model, k, int(v.shape[0]), blob)))
        try:
            with self._session() as con:  # one transaction: all rows or none
                con.executemany("INSERT OR REPLACE INTO emb (model, key, dim, vec, digest) "
                                "VALUES (?, ?, ?, ?, ?)", rows)
        except sqlite3.OperationalError as e:  # read-only file or folder, full disk, locked
            self._stop_writing(_reason(e))
        except _FAILURES as e:
            self._give_up(_reason(e))

    # -- the public side ------------------------------------------------------------------------
    def _encode(self, encode: Callable[[list[str]], np.ndarray], texts: list[str]) -> np.ndarray:
        """``encode(texts)``, checked: one finite row per text, of the cache's dimension."""
        out = encode(texts)
        try:
            with np.errstate(over="ignore", invalid="ignore"):  # overflow to inf is caught below
                vecs = np.asarray(out, dtype=np.float32)
        except (TypeError, ValueError) as e:
            raise InvalidInputError(f"encode returned {type(out).__name__}, not an array of vectors "
                                    f"({e})") from None
        if vecs.ndim != 2 or vecs.shape[0] != len(texts) or vecs.shape[1] == 0:
            raise InvalidInputError(f"encode must return one vector per text, shape "
                                    f"({len(texts)}, dim); got shape {vecs.shape}")
        if self.dim is not None and vecs.shape[1] != self.dim:
            raise InvalidInputError(f"encode returned {vecs.shape[1]}-dim vectors; this cache holds "
                                    f"{self.dim}-dim vectors of {self.model!r}")
        bad = ~np.isfinite(vecs).all(axis=1)
        if bad.any():
            raise InvalidInputError(f"encode returned non-finite values (NaN/inf) for "
                                    f"{int(bad.sum())} of {len(texts)} texts (first: text "
                                    f"{int(np.argmax(bad))})")
        return vecs

    def get_or_compute(self, texts: Sequence[str],
                       encode: Callable[[list[str]], np.ndarray]) -> np.ndarray:
        """Return vectors for ``texts``, encoding (and storing) only those not cached yet."""
        if isinstance(texts, str) or not isinstance(texts, Sequence):
            raise InvalidInputError("texts must be a list of strings")
        texts = list(texts)
        for i, t in enumerate(texts):
            if not isinstance(t, str):
                raise InvalidInputError(f"text {i} is {type(t).__name__}, not str")
        if not callable(encode):
            raise InvalidInputError("encode must be a function: list of texts -> array of vectors")
        keys = [_key(t) for t in texts]
        first = {k: i for i, k in reversed(list(enumerate(keys)))}
        found = self._lookup(list(first))
        encoded: set[str] = set()
        while True:
            todo = [k for k in first if k not in found]
            if todo:
                vecs = self._encode(encode, [texts[first[k]] for k in todo])
                self.dim = self.dim or int(vecs.shape[1])
                self._store(todo, vecs)
                found.update(zip(todo, vecs))
                encoded.update(todo)
            elif self.dim is None and found:  # only hits: learn their size if they agree on one
                sizes = Counter(v.shape[0] for v in found.values())
                self.dim = next(iter(sizes)) if len(sizes) == 1 else None
            stale = [k for k, v in found.items() if self.dim is None or v.shape[0] != self.dim]
            if not stale:
                break
            for k in stale:  # hits of another size than this model's: recompute, overwrite
                del found[k]
        self.misses += sum(k in encoded for k in keys)
        self.hits += sum(k not in encoded for k in keys)
        if not keys:
            return np.zeros((0, self.dim or 0), dtype=np.float32)
        return np.stack([found[k] for k in keys])

    def clear(self) -> None:
        """Forget every vector of this model."""
        if self.disabled is not None:
            return
        try:
            with self._session() as con:
                con.execute("DELETE FROM emb WHERE model=?", [self.model])
        except _FAILURES as e:  # what could not be forgotten must not be served either
            self._give_up(_reason(e))

    @property
    def hit_rate(self) -> float:
        """Share of lookups served from the cache so far."""
        total = self.hits + self.misses
        return self.hits / total if total else 0.0
