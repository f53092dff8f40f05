"""STS cross-encoder training data: the gold pair sets (STS-B, SICK) and silver pairs in the style of
Augmented SBERT (sentences re-paired with neighbours and random partners, labelled by a mix of a
cross-encoder and the bi-encoder), plus precomputed bi-encoder cosines (``sts-prepare``) so the
cross-encoder side can run where the bi-encoder is not installed."""

from __future__ import annotations

import random
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ragcompare.checks import check_alpha
from ragcompare.data.pairs import scaled_pairs
from ragcompare.train.io import dump_xz, load_xz
from ragcompare.types import InvalidInputError

STS_EVAL_SETS = (("stsb", "test"), ("stsb", "dev"), ("sick", "test"))
"""The pair sets every STS cross-encoder is evaluated on."""


def build_sts_pairs(sources: Sequence[tuple[str, str]], both_orders: bool = True, seed: int = 12
                    ) -> list[tuple[str, str, float]]:
    """Concatenate pair sets (``[(name, split), ...]``), optionally adding the swapped order."""
    rng = random.Random(seed)
    pairs: list[tuple[str, str, float]] = []
    for name, split in sources:
        for a, b, s in scaled_pairs(name, split):
            pairs.append((a, b, s))
            if both_orders:
                pairs.append((b, a, s))
    rng.shuffle(pairs)
    return pairs


def neighbour_pairs(
    sentences: Sequence[str], embeddings: np.ndarray, neighbours: int = 2, random_partners: int = 1,
    exclude: Iterable[tuple[str, str]] = (), n: int | None = None, seed: int = 12,
) -> list[tuple[str, str]]:
    """Unlabelled sentence pairs for silver labelling (Augmented SBERT's sampling).

    Each sentence is paired with its ``neighbours`` nearest other sentences by cosine of the
    (normalised) ``embeddings`` and with ``random_partners`` random ones, so both similar and
    dissimilar pairs appear. Pairs in ``exclude`` (e.g. the gold pairs) are skipped; the result is
    shuffled and cut to ``n``.
    """
    emb = np.asarray(embeddings, dtype=np.float32)
    if emb.ndim != 2 or len(emb) != len(sentences) or len(sentences) < 2:
        raise ValueError("need >= 2 sentences and one embedding row per sentence")
    skip = set(exclude)
    rng = random.Random(seed)
    sims = emb @ emb.T
    np.fill_diagonal(sims, -np.inf)
    out: list[tuple[str, str]] = []
    for i, sent in enumerate(sentences):
        for j in np.argsort(-sims[i])[:neighbours]:
            if (sent, sentences[int(j)]) not in skip:
                out.append((sent, sentences[int(j)]))
        for _ in range(random_partners):
            j = rng.randrange(len(sentences) - 1)
            j += j >= i  # never the sentence itself
            out.append((sent, sentences[j]))
    rng.shuffle(out)
    return out[:n] if n is not None else out


def silver_candidates(n: int, seed: int, bi: Any, neighbours: int = 2, random_partners: int = 1
                      ) -> list[tuple[str, str]]:
    """STS-B train sentences re-paired: nearest neighbours + random partners, gold pairs excluded."""
    gold = scaled_pairs("stsb", "train")
    sentences = sorted({x for p in gold for x in p[:2]})
    emb = bi.encode(sentences, normalize_embeddings=True, convert_to_numpy=True, batch_size=64)
    known = {(x, y) for x, y, _ in gold} | {(y, x) for x, y, _ in gold}
    return neighbour_pairs(sentences, emb, neighbours=neighbours, random_partners=random_partners,
                           exclude=known, n=n, seed=seed)


class PairCosines:
    """Precomputed bi-encoder cosines of sentence pairs, usable wherever a bi-encoder is asked for
    pair cosines (:func:`bi_cosines`): lets the cross-encoder side run where the bi-encoder is not
    installed (e.g. a GPU machine), with the cosines computed here beforehand."""

    def __init__(self, table: dict[tuple[str, str], float]) -> None:
        self.table = dict(table)

    def cosines(self, pairs: Sequence[tuple[str, str]]) -> np.ndarray:
        """Cosines of ``pairs`` (either order); KeyError names the first missing pair."""
        out = np.empty(len(pairs), dtype=np.float32)
        for i, (a, b) in enumerate(pairs):
            v = self.table.get((a, b), self.table.get((b, a)))
            if v is None:
                raise KeyError(f"no precomputed cosine for the pair {(a[:40], b[:40])!r}")
            out[i] = v
        return out


def bi_cosines(bi_encoder: Any, pairs: Sequence[tuple[str, str]]) -> np.ndarray:
    """Cosine of the normalised bi-encoder embeddings of each pair (or a :class:`PairCosines` lookup)."""
    if isinstance(bi_encoder, PairCosines):
        return bi_encoder.cosines(pairs)
    texts = sorted({t for p in pairs for t in p})  # each distinct sentence encoded once
    emb = bi_encoder.encode(texts, normalize_embeddings=True, convert_to_numpy=True)
    row = {t: i for i, t in enumerate(texts)}
    return np.einsum("ij,ij->i", emb[[row[a] for a, _ in pairs]], emb[[row[b] for _, b in pairs]])


def combined_teacher_labels(
    cross_encoder: Any, bi_encoder: Any, pairs: Sequence[tuple[str, str]],
    gold: Sequence[tuple[str, str, float]], weight: float = 0.45, batch_size: int = 64,
) -> np.ndarray:
    """Silver labels in [0, 1] from ``weight * z(CE) + (1 - weight) * z(bi-encoder cosine)``.

    The cross-encoder score is the mean over both pair orders. z-scores use the mean/std of the
    ``gold`` pairs' scores, and a linear fit on those gold pairs maps the mix to the label scale.
    """
    weight = check_alpha(weight)

    def scores(ps: Sequence[tuple[str, str]]) -> tuple[np.ndarray, np.ndarray]:
        ce = (np.asarray(cross_encoder.predict(list(ps), batch_size=batch_size, show_progress_bar=False))
              + np.asarray(cross_encoder.predict([(b, a) for a, b in ps], batch_size=batch_size,
                                                 show_progress_bar=False))) / 2
        return ce, bi_cosines(bi_encoder, ps)

    gc, gb = scores([(a, b) for a, b, _ in gold])
    stats = (gc.mean(), gc.std(), gb.mean(), gb.std())
    if min(stats[1], stats[3]) == 0:
        raise ValueError("constant teacher scores on the gold pairs")

    def mix(c: np.ndarray, b: np.ndarray) -> np.ndarray:
        return weight * (c - stats[0]) / stats[1] + (1 - weight) * (b - stats[2]) / stats[3]

    slope, intercept = np.polyfit(mix(gc, gb), [g for _, _, g in gold], 1)
    return np.clip(slope * mix(*scores(pairs)) + intercept, 0.0, 1.0)


# --------------------------------------------------------------------------------------------
# sts-prepare files
# --------------------------------------------------------------------------------------------


@dataclass
class Prepared:
    """An ``sts-prepare`` file: silver candidates, the bi-encoder cosines, the command that made it."""

    candidates: list[tuple[str, str]]
    cosines: PairCosines
    command: str


def prepare_sts(out: str | Path, bi: Any, n_silver: int, seed: int, neighbours: int, random_partners: int,
                command: str) -> dict[str, Any]:
    """Write the bi-encoder side of STS distillation to ``out`` (lzma JSON): ``n_silver`` silver
    candidates and the cosine of every pair ``sts --prepared`` needs (silver, STS-B train, the
    evaluation sets). Returns what was written."""
    t0 = time.monotonic()
    cand = silver_candidates(n_silver, seed, bi, neighbours, random_partners)
    pairs = list(cand) + [(x, y) for x, y, _ in scaled_pairs("stsb", "train")]
    for name, split in STS_EVAL_SETS:
        pairs += [(x, y) for x, y, _ in scaled_pairs(name, split)]
    cos = bi_cosines(bi, pairs)
    data = {"command": command, "silver_candidates": [list(p) for p in cand],
            "cosines": [[x, y, round(float(c), 6)] for (x, y), c in zip(pairs, cos, strict=True)],
            "wall_time_s": round(time.monotonic() - t0, 1)}
    dump_xz(out, data)
    return data


def read_prepared(path: str | Path) -> Prepared:
    """Read a :func:`prepare_sts` file."""
    d = load_xz(path)
    return Prepared([(x, y) for x, y in d["silver_candidates"]],
                    PairCosines({(x, y): c for x, y, c in d["cosines"]}), d["command"])


def silver_pairs(teacher: Any, teacher_name: str, bi: Any, n: int, seed: int, weight: float,
                 prepared: Prepared | None = None, prepared_path: str | Path | None = None,
                 ) -> tuple[list[tuple[str, str, float]], dict[str, Any]]:
    """``n`` re-paired STS-B train sentences labelled by :func:`combined_teacher_labels` of ``teacher``
    (a cross-encoder) and ``bi`` (ensemble distillation); with ``prepared``, its first ``n`` candidates
    and cosines are used instead of ``bi``. Returns the pairs and their description for the results."""
    if prepared and len(prepared.candidates) < n:
        raise InvalidInputError(f"{prepared_path} holds {len(prepared.candidates)} silver candidates, "
                                f"< --silver {n}")
    t0 = time.monotonic()
    gold = scaled_pairs("stsb", "train")
    sampling = "STS-B train sentences x (2 nearest neighbours + 1 random partner), gold pairs excluded"
    if prepared:
        cand, bi = prepared.candidates[:n], prepared.cosines
        sampling = f"the first {n} candidates of {prepared_path} ({prepared.command})"
    else:
        cand = silver_candidates(n, seed, bi)
    labels = combined_teacher_labels(teacher, bi, cand, gold, weight=weight)
    info = {"pairs": len(cand), "teacher": f"{weight:g} * z({teacher_name}, both orders) + "
            f"{1 - weight:g} * z(all-MiniLM-L6-v2 cosine), mapped to 0..1 by a linear fit on STS-B train",
            "sampling": sampling, "label_mean": round(float(labels.mean()), 3),
            "labelling_wall_time_s": round(time.monotonic() - t0, 1)}
    return [(x, y, float(v)) for (x, y), v in zip(cand, labels, strict=True)], info
