"""Semantic-similarity evaluation: Spearman correlation (scipy) and the combination of two scorers
(a cross-encoder and a bi-encoder's cosine) on one z-normalised scale."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.stats import spearmanr

from ragcompare.checks import check_alpha
from ragcompare.types import InvalidInputError


def spearman(a: Sequence[float], b: Sequence[float]) -> float:
    """Spearman rank correlation (``scipy.stats.spearmanr``; ties get average ranks)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape or a.ndim != 1 or len(a) < 2:
        raise InvalidInputError("need two sequences of the same length >= 2")
    return float(spearmanr(a, b).statistic)


def mix_scores(a: Sequence[float], b: Sequence[float], weight: float) -> np.ndarray:
    """``weight * z(a) + (1 - weight) * z(b)``: two scorers' outputs on one scale (z-normalised)."""
    weight = check_alpha(weight)
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape or a.ndim != 1 or len(a) < 2:
        raise InvalidInputError("need two 1-d score arrays of the same length (>= 2)")
    if a.std() == 0 or b.std() == 0:
        raise InvalidInputError("a constant score array cannot be z-normalised")
    return weight * (a - a.mean()) / a.std() + (1 - weight) * (b - b.mean()) / b.std()


def fit_mix_weight(a: Sequence[float], b: Sequence[float], gold: Sequence[float],
                   steps: int = 21) -> float:
    """The weight in [0, 1] (grid of ``steps``) whose :func:`mix_scores` best matches ``gold``
    (Spearman). Fit it on a development split, never on the split you report."""
    if steps < 2:
        raise InvalidInputError(f"steps must be >= 2, got {steps}")
    grid = np.linspace(0.0, 1.0, steps)
    return float(max(grid, key=lambda w: spearman(mix_scores(a, b, w), gold)))
