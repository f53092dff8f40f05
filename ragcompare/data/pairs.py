"""The one reader of sentence-pair sets: ``<data dir>/pairs/<name>/<split>.tsv`` (STS-B, SICK, RTE).

Each file is tab-separated with a header holding at least ``sentence1``, ``sentence2`` and a label
column (``score`` for similarity sets); no field is ever quoted.
"""

from __future__ import annotations

import csv

import pandas as pd

from ragcompare.data.beir import DatasetError
from ragcompare.settings import data_dir

SCORE_RANGES: dict[str, tuple[float, float]] = {"stsb": (0.0, 5.0), "sick": (1.0, 5.0)}
"""The gold-score range of each similarity set (for rescaling to [0, 1])."""


def load_sentence_pairs(name: str = "stsb", split: str = "test", n: int | None = None,
                        seed: int = 0) -> pd.DataFrame:
    """A sentence-pair set as a DataFrame: ``sentence1``, ``sentence2``, ``score`` (+ the set's extra
    columns); with ``n``, a reproducible random sample of ``n`` rows."""
    path = data_dir() / "pairs" / name / f"{split}.tsv"
    if not path.is_file():
        raise DatasetError(f"no sentence-pair file at {path}")
    df = pd.read_csv(path, sep="\t", quoting=csv.QUOTE_NONE, keep_default_na=False, dtype=str)
    missing = {"sentence1", "sentence2", "score"} - set(df.columns)
    if missing:
        raise DatasetError(f"{path}: missing columns {sorted(missing)}")
    df = df[df["score"] != ""].reset_index(drop=True)
    try:
        df["score"] = df["score"].astype(float)
    except ValueError as e:
        raise DatasetError(f"{path}: a score is not a number ({e})") from None
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
    return [(a, b, min(max((s - lo) / (hi - lo), 0.0), 1.0))
            for a, b, s in zip(df["sentence1"], df["sentence2"], df["score"])]


SIMILARITY_SETS = ("sick", "stsb")
"""The sentence-similarity sets, in the order their sentences are pooled."""


def pair_sentences(names: tuple[str, ...] = SIMILARITY_SETS, limit: int | None = None) -> list[str]:
    """Unique sentences of the named pair sets (every split, file order), e.g. to grow a pool of real
    sentence vectors beyond the small collections."""
    seen: dict[str, None] = {}
    for name in names:
        folder = data_dir() / "pairs" / name
        if not folder.is_dir():
            raise DatasetError(f"no sentence-pair set at {folder}")
        for path in sorted(folder.glob("*.tsv")):
            df = pd.read_csv(path, sep="\t", quoting=csv.QUOTE_NONE, keep_default_na=False, dtype=str)
            for a, b in zip(df["sentence1"], df["sentence2"]):
                for text in (a.strip(), b.strip()):
                    if text:
                        seen.setdefault(text, None)
                if limit and len(seen) >= limit:
                    return list(seen)[:limit]
    return list(seen)
