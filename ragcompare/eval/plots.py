"""Figures of the benchmark tables: quality against latency with the Pareto front, and latency against
corpus size with measured and extrapolated segments (notebook 05)."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from ragcompare.eval.perf import pareto_front


def plot_pareto(frame: pd.DataFrame, cost: str = "p50_ms", quality: str = "ndcg@10",
                hue: str | None = None, ax=None, title: str = "", logx: bool = True):
    """Scatter of quality against cost with each point labelled and the Pareto front drawn."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    ax = ax or plt.subplots(figsize=(7, 4.5))[1]
    data = frame.reset_index()
    label = data.columns[0]
    sns.scatterplot(data=data, x=cost, y=quality, hue=hue, ax=ax, s=70)
    for _, row in data.iterrows():
        ax.annotate(str(row[label]), (row[cost], row[quality]), fontsize=7,
                    xytext=(4, 3), textcoords="offset points")
    groups = data.groupby(hue) if hue else [(None, data)]
    for _, g in groups:
        front = pareto_front(g.set_index(label), cost, quality)
        ax.plot(front[cost], front[quality], "--", lw=1, color="grey")
    if logx:
        ax.set_xscale("log")
    ax.set_title(title)
    return ax



def plot_scaling(frame: pd.DataFrame, ax=None, budgets_ms: Sequence[float] = (100.0, 1000.0)):
    """Log-log latency versus corpus size; extrapolated segments dashed, latency budgets as lines."""
    import matplotlib.pyplot as plt

    ax = ax or plt.subplots(figsize=(7, 4.2))[1]
    for i, (name, g) in enumerate(frame.groupby("approach", sort=False)):
        color = f"C{i}"
        g = g.sort_values("docs")
        meas = g[g["source"] == "measured"]
        if len(meas):
            ax.plot(meas["docs"], meas["latency_ms"], "o-", color=color, label=f"{name} (measured)")
        extra = g[g["source"] == "extrapolated"]
        if len(extra):
            joined = pd.concat([meas.tail(1), extra])
            ax.plot(joined["docs"], joined["latency_ms"], "s--", color=color, alpha=0.7,
                    label=f"{name} (extrapolated)")
    for b in budgets_ms:
        ax.axhline(b, color="grey", lw=0.8, ls=":")
        ax.annotate(f"{b:g} ms budget", (frame["docs"].min(), b), fontsize=7, va="bottom")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("documents in the corpus")
    ax.set_ylabel("latency per query (ms, p50)")
    ax.legend(fontsize=7)
    return ax
