"""The two curve fits behind the cost model: a line (per-pair and per-token costs, index bytes) and a
power law (search time versus corpus size)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def fit_linear(x: Sequence[float], y: Sequence[float]) -> tuple[float, float]:
    """Non-negative least-squares fit ``y = a + b*x`` weighted by 1/y (relative errors)."""
    x_arr, y_arr = np.asarray(x, float), np.asarray(y, float)
    w = 1.0 / np.maximum(y_arr, 1e-9)
    a_mat = np.stack([np.ones_like(x_arr), x_arr], axis=1) * w[:, None]
    coef, *_ = np.linalg.lstsq(a_mat, y_arr * w, rcond=None)
    a, b = float(coef[0]), float(coef[1])
    if b < 0:
        return float(np.average(y_arr, weights=w)), 0.0
    if a < 0:
        b = float(np.sum(x_arr * y_arr * w * w) / np.sum(x_arr * x_arr * w * w))
        return 0.0, b
    return a, b


def fit_power(n: Sequence[float], t: Sequence[float]) -> tuple[float, float]:
    """Least-squares fit of ``t = c * n**b`` in log-log space (``b`` clipped to [0, 1.5])."""
    x, y = np.log(np.asarray(n, float)), np.log(np.maximum(np.asarray(t, float), 1e-6))
    if len(x) < 2 or np.ptp(x) == 0:
        return float(np.exp(y.mean())), 0.0
    b, a = np.polyfit(x, y, 1)
    b = float(np.clip(b, 0.0, 1.5))
    return float(np.exp(np.mean(y - b * x))), b
