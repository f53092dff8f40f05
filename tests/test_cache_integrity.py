"""The embedding cache never trusts its file: damaged, foreign, read-only or tampered caches give the
right vectors (as if uncached) with at most one warning; a bad ``encode`` gives a clear error."""

from __future__ import annotations

import os
import sqlite3
import stat
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ragcompare.retrieval.cache as cache_module
from ragcompare.retrieval.cache import CacheWarning, EmbeddingCache
from ragcompare.types import InvalidInputError, RagCompareError

DIM = 8
TEXTS = ["shock wave", "boundary layer", "", "heat flow", "shock wave", "a wing in supersonic flow"]


def encode(texts: list[str]) -> np.ndarray:
    """A deterministic stand-in encoder (a vector per text, from its hash)."""
    out = np.empty((len(texts), DIM), dtype=np.float32)
    for i, t in enumerate(texts):
        out[i] = np.random.default_rng(zlib.crc32(t.encode("utf-8"))).standard_normal(DIM)
    return out


EXPECTED = encode(TEXTS)


class Counting:
    """``encode`` that counts the texts it was asked for."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def __call__(self, texts: list[str]) -> np.ndarray:
        self.seen += texts
        return encode(texts)


def _run(cache: EmbeddingCache, texts: list[str] = TEXTS) -> tuple[np.ndarray, list[warnings.WarningMessage]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = cache.get_or_compute(texts, encode)
    return out, [w for w in caught if issubclass(w.category, CacheWarning)]


def _open(path: Path, dim: int | None = DIM) -> tuple[EmbeddingCache, list[warnings.WarningMessage]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cache = EmbeddingCache("model-a", path, dim=dim)
    return cache, [w for w in caught if issubclass(w.category, CacheWarning)]


@pytest.fixture()
def real_file(tmp_path) -> Path:
    """A healthy cache file holding the vectors of ``TEXTS`` (several pages long)."""
    path = tmp_path / "real.sqlite"
    cache = EmbeddingCache("model-a", path, dim=DIM)
    many = [f"document number {i}" for i in range(400)]
    cache.get_or_compute(TEXTS + many, encode)
    return path


def _rows(path: Path) -> dict[str, tuple[int, bytes]]:
    with sqlite3.connect(path) as con:
        return {k: (d, v) for k, d, v in con.execute("SELECT key, dim, vec FROM emb")}


def _tamper(path: Path, text: str, dim: object, blob: object, sign: bool = False) -> None:
    """Overwrite the row of ``text`` (with a matching digest if ``sign``: a row another encoder of
    another size could have written under the same fingerprint)."""
    key = cache_module._key(text)
    con = sqlite3.connect(path)
    with con:
        con.execute("UPDATE emb SET dim=?, vec=? WHERE key=?", [dim, blob, key])
        if sign:
            con.execute("UPDATE emb SET digest=? WHERE key=?",
                        [cache_module._digest("model-a", key, dim, blob), key])
    con.close()


# -- the healthy path -----------------------------------------------------------------------------
def _served_right_twice(path):
    """Open a cache at ``path``, ask for TEXTS twice; both answers must be the true vectors."""
    cache, opened = _open(path)
    enc = Counting()
    for _ in range(2):
        np.testing.assert_array_equal(cache.get_or_compute(TEXTS, enc), EXPECTED)
    return opened, enc


def test_round_trip_counts_hits_and_clear(tmp_path):
    path = tmp_path / "c.sqlite"
    cache, caught = _open(path)
    first, w1 = _run(cache)
    second, w2 = _run(cache)
    np.testing.assert_array_equal(first, EXPECTED)
    np.testing.assert_array_equal(second, EXPECTED)
    assert not (caught or w1 or w2)
    assert (cache.hits, cache.misses, cache.hit_rate) == (6, 6, 0.5)
    cache.clear()
    enc = Counting()
    cache.get_or_compute(TEXTS, enc)
    assert sorted(enc.seen) == sorted(set(TEXTS))
    assert cache.get_or_compute([], encode).shape == (0, DIM)


# -- a file that is not (our) SQLite ---------------------------------------------------------------
GARBAGE = {
    "text": b"this is not a database\n" * 200,
    "zeros": b"\0" * 8192,
    "sqlite-magic-then-junk": b"SQLite format 3\0" + os.urandom(4080),
    "gzip": b"\x1f\x8b\x08\x00" + os.urandom(2000),
}


@pytest.mark.parametrize("case", list(GARBAGE))
def test_garbage_file_runs_uncached_with_one_warning(tmp_path, case):
    path = tmp_path / "c.sqlite"
    path.write_bytes(GARBAGE[case])
    cache, opened = _open(path)
    out, used = _run(cache)
    again, more = _run(cache)
    np.testing.assert_array_equal(out, EXPECTED)
    np.testing.assert_array_equal(again, EXPECTED)
    warned = opened + used + more
    assert len(warned) == 1 and str(path) in str(warned[0].message)
    assert "running without the cache; delete the file to rebuild it" in str(warned[0].message)
    assert path.read_bytes() == GARBAGE[case]  # never deleted, never rewritten
    cache.clear()  # still no exception


@pytest.mark.parametrize("keep", [100, 4096, 0.5, -4096],
                         ids=["header", "first-page", "half", "last-page-cut"])
def test_truncated_file_runs_uncached(real_file, tmp_path, keep):
    data = real_file.read_bytes()
    cut = int(len(data) * keep) if isinstance(keep, float) else keep % len(data)
    path = tmp_path / "cut.sqlite"
    path.write_bytes(data[:cut])
    cache, opened = _open(path)
    out, used = _run(cache)
    np.testing.assert_array_equal(out, EXPECTED)
    assert len(opened + used) <= 1
    assert path.read_bytes() == data[:cut]


def test_foreign_sqlite_database_gets_our_table(tmp_path):
    path = tmp_path / "app.sqlite"
    con = sqlite3.connect(path)
    with con:
        con.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
        con.execute("INSERT INTO users (name) VALUES ('ada')")
    con.close()
    opened, enc = _served_right_twice(path)
    assert not opened and len(enc.seen) == len(set(TEXTS))  # the second call was served from it
    with sqlite3.connect(path) as con:
        assert con.execute("SELECT name FROM users").fetchall() == [("ada",)]


FOREIGN_EMB = {
    "other-columns": "CREATE TABLE emb (id INTEGER, payload TEXT)",
    "missing-dim": "CREATE TABLE emb (model TEXT, key TEXT, vec BLOB, PRIMARY KEY (model, key))",
    "no-primary-key": "CREATE TABLE emb (model TEXT, key TEXT, dim INTEGER, vec BLOB)",
    "extra-column": ("CREATE TABLE emb (model TEXT, key TEXT, dim INTEGER, vec BLOB, note TEXT, "
                     "PRIMARY KEY (model, key))"),
}


@pytest.mark.parametrize("case", list(FOREIGN_EMB))
def test_foreign_emb_table_is_left_alone(tmp_path, case):
    path = tmp_path / "c.sqlite"
    con = sqlite3.connect(path)
    with con:
        con.execute(FOREIGN_EMB[case])
    con.close()
    before = path.read_bytes()
    cache, opened = _open(path)
    out, used = _run(cache)
    np.testing.assert_array_equal(out, EXPECTED)
    assert len(opened) == 1 and not used and "emb" in str(opened[0].message)
    assert cache.disabled and path.read_bytes() == before


def test_path_is_a_folder(tmp_path):
    cache, opened = _open(tmp_path)
    out, used = _run(cache)
    np.testing.assert_array_equal(out, EXPECTED)
    assert len(opened + used) == 1


# -- rows that are not sound vectors -----------------------------------------------------------------
BAD_ROWS = {
    "short-blob": (DIM, b"\0" * (4 * DIM - 4)),
    "long-blob": (DIM, b"\0" * (4 * DIM + 4)),
    "odd-length-blob": (DIM, b"\0" * 7),
    "other-dimension": (DIM // 2, np.ones(DIM // 2, np.float32).tobytes()),
    "signed-other-dimension": (DIM // 2, np.ones(DIM // 2, np.float32).tobytes(), True),
    "nan": (DIM, np.full(DIM, np.nan, np.float32).tobytes()),
    "signed-nan": (DIM, np.full(DIM, np.nan, np.float32).tobytes(), True),
    "inf": (DIM, np.r_[np.ones(DIM - 1), np.inf].astype(np.float32).tobytes()),
    "signed-inf": (DIM, np.r_[np.ones(DIM - 1), np.inf].astype(np.float32).tobytes(), True),
    "text-instead-of-blob": (DIM, "not a vector"),
    "null-vector": (DIM, None),
    "dim-as-text": ("eight", np.ones(DIM, np.float32).tobytes()),
    "negative-dim": (-1, b""),
    "plausible-but-changed": (DIM, np.ones(DIM, np.float32).tobytes()),  # only the digest tells
}


@pytest.mark.parametrize("case", list(BAD_ROWS))
def test_unsound_row_is_a_miss_and_is_overwritten(real_file, case):
    _tamper(real_file, "heat flow", *BAD_ROWS[case])
    cache, opened = _open(real_file)
    enc = Counting()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = cache.get_or_compute(TEXTS, enc)
    np.testing.assert_array_equal(out, EXPECTED)
    assert enc.seen == ["heat flow"] and not opened and not caught
    assert cache.misses == 1 and cache.hits == len(TEXTS) - 1
    stored_dim, stored = _rows(real_file)[cache_module._key("heat flow")]
    assert stored_dim == DIM and np.array_equal(np.frombuffer(stored, np.float32), EXPECTED[3])


def test_without_dim_the_size_is_learnt_and_odd_rows_recomputed(real_file):
    _tamper(real_file, "heat flow", DIM // 2, np.ones(DIM // 2, np.float32).tobytes(), sign=True)
    cache, _ = _open(real_file, dim=None)
    enc = Counting()
    out = cache.get_or_compute(["heat flow", "boundary layer", "a new text"], enc)
    np.testing.assert_array_equal(out, encode(["heat flow", "boundary layer", "a new text"]))
    assert cache.dim == DIM and sorted(enc.seen) == ["a new text", "heat flow"]


def test_without_dim_disagreeing_hits_are_all_recomputed(real_file):
    _tamper(real_file, "heat flow", DIM // 2, np.ones(DIM // 2, np.float32).tobytes(), sign=True)
    cache, _ = _open(real_file, dim=None)
    enc = Counting()
    out = cache.get_or_compute(["heat flow", "boundary layer"], enc)
    np.testing.assert_array_equal(out, encode(["heat flow", "boundary layer"]))
    assert sorted(enc.seen) == ["boundary layer", "heat flow"] and cache.dim == DIM


def test_legacy_table_gets_digests_and_recomputes_once(tmp_path):
    path = tmp_path / "old.sqlite"
    con = sqlite3.connect(path)
    with con:
        con.execute("CREATE TABLE emb (model TEXT, key TEXT, dim INTEGER, vec BLOB, "
                    "PRIMARY KEY (model, key))")
        con.executemany("INSERT INTO emb VALUES (?, ?, ?, ?)",
                        [("model-a", cache_module._key(t), DIM, np.zeros(DIM, np.float32).tobytes())
                         for t in set(TEXTS)])  # unverifiable rows (here: wrong on purpose)
    con.close()
    opened, enc = _served_right_twice(path)
    assert not opened and len(enc.seen) == len(set(TEXTS))


def test_every_flipped_byte_is_caught_or_harmless(tmp_path):
    healthy = tmp_path / "ok.sqlite"
    EmbeddingCache("model-a", healthy, dim=DIM).get_or_compute(TEXTS, encode)
    raw = healthy.read_bytes()
    damaged = tmp_path / "flipped.sqlite"
    for pos in range(0, len(raw), 37):
        damaged.write_bytes(raw[:pos] + bytes([raw[pos] ^ 0x41]) + raw[pos + 1:])
        cache, opened = _open(damaged)
        out, used = _run(cache)
        np.testing.assert_array_equal(out, EXPECTED, err_msg=f"byte {pos} flipped")
        assert len(opened + used) <= 1


# -- a cache that cannot be written, or fails mid-way -----------------------------------------------
def _read_only_connect(real_connect):
    def connect(path, *args, **kwargs):
        return real_connect(f"file:{Path(path).resolve()}?mode=ro", *args, uri=True, **kwargs)
    return connect


def test_read_only_directory_runs_uncached(tmp_path, monkeypatch):
    folder = tmp_path / "ro"
    folder.mkdir()
    if os.geteuid() != 0:
        folder.chmod(stat.S_IRUSR | stat.S_IXUSR)
    else:  # root ignores the mode bits: open the way a read-only folder would let it
        monkeypatch.setattr(cache_module.sqlite3, "connect", _read_only_connect(sqlite3.connect))
    try:
        cache, opened = _open(folder / "c.sqlite")
        out, used = _run(cache)
        again, more = _run(cache)
    finally:
        folder.chmod(stat.S_IRWXU)
    np.testing.assert_array_equal(out, EXPECTED)
    np.testing.assert_array_equal(again, EXPECTED)
    assert len(opened + used + more) == 1 and cache.misses == 2 * len(TEXTS)


def test_read_only_file_still_serves_its_vectors(real_file, monkeypatch):
    monkeypatch.setattr(cache_module.sqlite3, "connect", _read_only_connect(sqlite3.connect))
    cache, opened = _open(real_file)
    texts = [*TEXTS, "never seen before"]
    out, used = _run(cache, texts)
    np.testing.assert_array_equal(out, encode(texts))
    assert len(opened + used) == 1 and "written" in str(used[0].message)
    assert cache.hits == len(TEXTS) and cache.misses == 1


def test_unwritable_cache_folder_runs_uncached(tmp_path, monkeypatch):
    blocker = tmp_path / "file-not-folder"
    blocker.write_text("x")
    cache, opened = _open(blocker / "sub" / "c.sqlite")  # mkdir fails: a file is in the way
    out, used = _run(cache)
    np.testing.assert_array_equal(out, EXPECTED)
    assert len(opened + used) == 1


@pytest.mark.parametrize("error", [sqlite3.OperationalError("database is locked"),
                                   sqlite3.DatabaseError("database disk image is malformed"),
                                   OSError(28, "No space left on device")],
                         ids=["locked", "malformed", "disk-full"])
def test_failure_after_opening_gives_one_warning(tmp_path, monkeypatch, error):
    cache, opened = _open(tmp_path / "c.sqlite")

    def broken(*_a, **_k):
        raise error

    monkeypatch.setattr(cache_module.sqlite3, "connect", broken)
    out, used = _run(cache)
    again, more = _run(cache)
    cache.clear()
    np.testing.assert_array_equal(out, EXPECTED)
    np.testing.assert_array_equal(again, EXPECTED)
    assert not opened and len(used + more) == 1


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(min_size=0, max_size=3000), keep=st.floats(0.0, 1.0))
def test_any_damage_never_raises(tmp_path_factory, data, keep):
    folder = tmp_path_factory.mktemp("fuzz")
    healthy = folder / "ok.sqlite"
    EmbeddingCache("model-a", healthy, dim=DIM).get_or_compute(TEXTS, encode)
    raw = healthy.read_bytes()
    cut = int(len(raw) * keep)
    damaged = folder / "damaged.sqlite"
    damaged.write_bytes(raw[:cut] + data + raw[cut + len(data):])
    cache, opened = _open(damaged)
    out, used = _run(cache)
    np.testing.assert_array_equal(out, EXPECTED)
    assert len(opened + used) <= 1


# -- what encode returns, and bad arguments ---------------------------------------------------------
BAD_ENCODE = {
    "one-dimensional": lambda t: np.zeros(len(t) * DIM, np.float32),
    "too-few-rows": lambda t: np.zeros((len(t) - 1, DIM), np.float32),
    "too-many-rows": lambda t: np.zeros((len(t) + 1, DIM), np.float32),
    "three-dimensional": lambda t: np.zeros((len(t), DIM, 1), np.float32),
    "zero-width": lambda t: np.zeros((len(t), 0), np.float32),
    "other-dimension": lambda t: np.zeros((len(t), DIM + 1), np.float32),
    "nan": lambda t: np.full((len(t), DIM), np.nan, np.float32),
    "overflow-to-inf": lambda t: np.full((len(t), DIM), 1e300),
    "strings": lambda t: np.array([["x"] * DIM] * len(t)),
    "ragged": lambda t: [[0.0] * DIM] + [[0.0]] * (len(t) - 1),
    "none": lambda t: None,
}


@pytest.mark.parametrize("case", list(BAD_ENCODE))
def test_bad_encode_output_is_refused_and_not_stored(tmp_path, case):
    path = tmp_path / "c.sqlite"
    cache = EmbeddingCache("model-a", path, dim=DIM)
    with pytest.raises(InvalidInputError, match="encode"):
        cache.get_or_compute(["one", "two", "three"], BAD_ENCODE[case])
    assert _rows(path) == {}
    np.testing.assert_array_equal(cache.get_or_compute(TEXTS, encode), EXPECTED)


def test_encode_own_errors_pass_through(tmp_path):
    def failing(_texts):
        raise ValueError("model exploded")

    with pytest.raises(ValueError, match="model exploded"):
        EmbeddingCache("model-a", tmp_path / "c.sqlite").get_or_compute(["x"], failing)


@pytest.mark.parametrize("kwargs", [
    {"model_fingerprint": ""}, {"model_fingerprint": None}, {"dim": 0}, {"dim": 2.5}, {"dim": True},
    {"path": 3},
], ids=["empty-fingerprint", "none-fingerprint", "dim-0", "dim-float", "dim-bool", "path-int"])
def test_bad_constructor_arguments(tmp_path, kwargs):
    args = {"model_fingerprint": "model-a", "path": tmp_path / "c.sqlite", **kwargs}
    with pytest.raises(RagCompareError):
        EmbeddingCache(**args)


def test_numpy_dim_is_accepted(tmp_path):
    assert EmbeddingCache("model-a", tmp_path / "c.sqlite", dim=np.int64(DIM)).dim == DIM


@pytest.mark.parametrize("texts", ["one string", [1, 2], ["ok", None], {"a": "b"}],
                         ids=["str", "ints", "none-item", "mapping"])
def test_bad_texts_are_refused(tmp_path, texts):
    with pytest.raises(InvalidInputError):
        EmbeddingCache("model-a", tmp_path / "c.sqlite").get_or_compute(texts, encode)


def test_encode_must_be_callable(tmp_path):
    with pytest.raises(InvalidInputError, match="encode"):
        EmbeddingCache("model-a", tmp_path / "c.sqlite").get_or_compute(["x"], "not a function")
