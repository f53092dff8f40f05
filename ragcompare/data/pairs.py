"""The one reader of sentence-pair sets: ``<data dir>/pairs/<name>/<split>.tsv`` (STS-B, SICK, RTE).

Each file is UTF-8 (a leading BOM is accepted), tab-separated with a header holding at least
``sentence1``, ``sentence2`` and a label column (``score`` for similarity sets); no field is ever
quoted. Like the collection loader, the reader never guesses: a line with the wrong number of
columns, an empty sentence, or a score that is not a finite number (or lies outside the set's known
range) raises :class:`~ragcompare.data.beir.DatasetError` naming the file and line.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import pandas as pd

from ragcompare.checks import check_int, check_positive_int, shown, visible
from ragcompare.data.beir import DatasetError, check_simple_name, tsv_rows
from ragcompare.settings import data_dir

SCORE_RANGES: dict[str, tuple[float, float]] = {"stsb": (0.0, 5.0), "sick": (1.0, 5.0)}
"""The gold-score range of each similarity set (for rescaling to [0, 1])."""

_NUMBER = re.compile(r"^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$")


def _read_pairs(path: Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """Header and ``(line number, fields)`` rows of a pair file with ``sentence1``/``sentence2``."""
    rows = list(tsv_rows(path))
    if not rows:
        raise DatasetError(f"{path} is empty (expected a header line)")
    (_, header), body = rows[0], rows[1:]
    header = [h.strip() for h in header]
    twice = sorted({h for h in header if header.count(h) > 1})
    if twice:
        raise DatasetError(f"{path}: the header names columns {twice} twice")
    missing = {"sentence1", "sentence2"} - set(header)
    if missing:
        raise DatasetError(f"{path}: missing columns {sorted(missing)} (header: {header})")
    return header, body


def _score(text: str, where: str, bounds: tuple[float, float] | None) -> float:
    value = float(text) if _NUMBER.match(text.strip()) else math.nan
    if not math.isfinite(value):
        raise DatasetError(f"{where}: score {shown(text)} is not a finite number")
    if bounds is not None and not bounds[0] <= value <= bounds[1]:
        raise DatasetError(f"{where}: score {value:g} is outside this set's range "
                           f"[{bounds[0]:g}, {bounds[1]:g}]")
    return value


def load_sentence_pairs(name: str = "stsb", split: str = "test", n: int | None = None,
                        seed: int = 0) -> pd.DataFrame:
    """A sentence-pair set as a DataFrame: ``sentence1``, ``sentence2``, ``score`` (+ the set's extra
    columns); with ``n``, a reproducible random sample of ``n`` rows."""
    name = check_simple_name(name, "name")
    split = check_simple_name(split, "split")
    n = None if n is None else check_positive_int(n, "n")
    seed = check_int(seed, "seed", 0, 2**32 - 1)
    path = data_dir() / "pairs" / name / f"{split}.tsv"
    if not path.is_file():
        raise DatasetError(f"no sentence-pair file at {path}")
    header, body = _read_pairs(path)
    if "score" not in header:
        raise DatasetError(f"{path}: missing column 'score' (header: {header}); {name!r} is not a "
                           "similarity set")
    if not body:
        raise DatasetError(f"{path} holds no pairs")
    cols = {c: header.index(c) for c in ("sentence1", "sentence2", "score")}
    scores = []
    for lineno, row in body:
        where = f"{path}:{lineno}"
        for c in ("sentence1", "sentence2"):
            if not visible(row[cols[c]]):
                raise DatasetError(f"{where}: {c} is empty")
        scores.append(_score(row[cols["score"]], where, SCORE_RANGES.get(name)))
    df = pd.DataFrame([row for _, row in body], columns=header)
    df["score"] = scores
    if n is not None and n < len(df):
        df = df.sample(n=n, random_state=seed).reset_index(drop=True)
    return df


def scaled_pairs(name: str, split: str) -> list[tuple[str, str, float]]:
    """``(sentence1, sentence2, score)`` with the score rescaled to [0, 1] by :data:`SCORE_RANGES`
    (the form the STS cross-encoder trains and is evaluated on)."""
    if name not in SCORE_RANGES:
        raise DatasetError(f"{name!r} has no known score range; known: {sorted(SCORE_RANGES)}")
    lo, hi = SCORE_RANGES[name]
    df = load_sentence_pairs(name, split)
    return [(a, b, (s - lo) / (hi - lo))
            for a, b, s in zip(df["sentence1"], df["sentence2"], df["score"])]


SIMILARITY_SETS = ("sick", "stsb")
"""The sentence-similarity sets, in the order their sentences are pooled."""


def pair_sentences(names: tuple[str, ...] = SIMILARITY_SETS, limit: int | None = None) -> list[str]:
    """Unique sentences of the named pair sets (every split, file order), e.g. to grow a pool of real
    sentence vectors beyond the small collections."""
    if isinstance(names, str):
        raise DatasetError(f"names must be a tuple of set names, not one string: use ({names!r},)")
    names = tuple(check_simple_name(nm, "set name") for nm in names)
    limit = None if limit is None else check_positive_int(limit, "limit")
    seen: dict[str, None] = {}
    for name in names:
        folder = data_dir() / "pairs" / name
        if not folder.is_dir():
            raise DatasetError(f"no sentence-pair set at {folder}")
        for path in sorted(folder.glob("*.tsv")):
            header, body = _read_pairs(path)
            a_col, b_col = header.index("sentence1"), header.index("sentence2")
            for _, row in body:
                for text in (row[a_col].strip(), row[b_col].strip()):
                    if visible(text):
                        seen.setdefault(text, None)
                if limit and len(seen) >= limit:
                    return list(seen)[:limit]
    return list(seen)
