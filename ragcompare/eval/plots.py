"""Figures of the benchmark tables: quality against latency with the Pareto front, and latency against
corpus size with measured and extrapolated segments (notebook 05)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ragcompare.eval.perf import pareto_front


def place_labels(ax, xs: Sequence[float], ys: Sequence[float], labels: Sequence[str],
                 fontsize: float = 7) -> list:
    """Label each point so that labels overlap neither each other nor the points, with a thin leader
    line where a label had to move (adjustText). Call it once the axes' limits and scales are final.
    Returns the text objects."""
    from adjustText import adjust_text

    xs, ys = np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)
    texts = [ax.text(x, y, str(label), fontsize=fontsize) for x, y, label in zip(xs, ys, labels)]
    for t in texts:
        t.set_in_layout(False)  # labels never move the layout they were placed in
    if texts:
        adjust_text(texts, x=xs, y=ys, ax=ax, expand=(1.15, 1.3),
                    arrowprops={"arrowstyle": "-", "color": "grey", "lw": 0.5})
    return texts


def legend_beside(ax, **kwargs):
    """The axes' legend to the right of the plot, outside the data area (``kwargs`` go to
    ``ax.legend``)."""
    return ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, **kwargs)


def plot_pareto(frame: pd.DataFrame, cost: str = "p50_ms", quality: str = "ndcg@10",
                hue: str | None = None, ax=None, title: str = "", logx: bool = True, fontsize: float = 7,
                xlabel: str | None = None, ylabel: str | None = None):
    """Scatter of quality against cost with the Pareto front drawn and each point labelled where its
    label overlaps no other label or point (:func:`place_labels`; with several axes, build the figure
    with ``layout="constrained"`` so the layout is final when the labels are placed)."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    ax = ax or plt.subplots(figsize=(7, 4.5))[1]
    data = frame.reset_index()
    label = data.columns[0]
    sns.scatterplot(data=data, x=cost, y=quality, hue=hue, ax=ax, s=70)
    groups = data.groupby(hue) if hue else [(None, data)]
    for _, g in groups:
        front = pareto_front(g.set_index(label), cost, quality)
        ax.plot(front[cost], front[quality], "--", lw=1, color="grey")
    if logx:
        ax.set_xscale("log")
    ax.margins(x=0.12, y=0.15)  # room for labels at the edges
    ax.set_title(title)
    if xlabel is not None:
        ax.set_xlabel(xlabel)
    if ylabel is not None:
        ax.set_ylabel(ylabel)
    place_labels(ax, data[cost].tolist(), data[quality].tolist(), data[label].astype(str).tolist(), fontsize)
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
