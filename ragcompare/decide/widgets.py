"""Interactive decision tool (ipywidgets): sliders and industry presets -> recommendation card + plot."""

from __future__ import annotations

import html

import numpy as np

from ragcompare.decide.profile import HardwareProfile, available_profiles, load_profile
from ragcompare.decide.recommender import APPROACHES, latency_curves, recommend
from ragcompare.decide.results import APPROACH_COLORS, Recommendation

PRESETS: dict[str, tuple[float, float, str, str]] = {
    "e-commerce": (2e6, 100, "medium", "product search: millions of items, fast pages"),
    "legal": (5e5, 2000, "high", "case law / contracts: recall and precision matter, users wait"),
    "healthcare": (1e6, 1000, "high", "clinical literature: accuracy first"),
    "support": (2e4, 300, "medium", "help-desk articles: small corpus, chat-speed answers"),
    "media": (1e7, 50, "low", "news / media archive: huge, snappy, 'good enough'"),
    "finance": (2e5, 500, "high", "filings and reports: precise answers within half a second"),
}
"""Illustrative presets after the course's industry examples: (docs, p95 ms, accuracy, why)."""

class DecisionTool:
    """Sliders for corpus size (log), latency budget (log), accuracy need and hardware profile;
    one-click industry presets; a recommendation card (with the expected gain over the bi-encoder and
    its 95% interval, and any warning such as a profile measured on another CPU) and a
    latency-vs-corpus-size plot.

    ``profiles`` maps device names to profiles (default: every measured profile found here). A GPU
    choice only appears when a measured GPU profile exists; otherwise it is shown disabled with the
    reason (GPU numbers are never invented).
    """

    def __init__(self, profiles: dict[str, HardwareProfile] | None = None, corpus_size: float = 1e5,
                 latency_budget_ms: float = 300, accuracy: str = "medium", plot: bool = True) -> None:
        import ipywidgets as w

        self.profiles = profiles or {d: load_profile(p) for d, p in available_profiles().items()}
        if not self.profiles:
            raise RuntimeError("no hardware profile found: run `ragcompare calibrate`")
        self.show_plot = plot
        style = {"description_width": "150px"}
        layout = w.Layout(width="560px")
        self.corpus = w.FloatLogSlider(value=corpus_size, base=10, min=2, max=9, step=0.05,
                                       description="corpus size (docs)", readout_format=".3s",
                                       style=style, layout=layout, continuous_update=False)
        self.budget = w.FloatLogSlider(value=latency_budget_ms, base=10, min=0, max=4, step=0.05,
                                       description="p95 budget (ms)", readout_format=".3g",
                                       style=style, layout=layout, continuous_update=False)
        self.accuracy = w.ToggleButtons(options=["low", "medium", "high"], value=accuracy,
                                        description="accuracy need", style=style)
        self.device = w.ToggleButtons(options=[(self._device_label(d), d) for d in self.profiles],
                                      value=next(iter(self.profiles)), description="hardware",
                                      style=style)
        has_gpu = any(d != "cpu" for d in self.profiles)
        self.gpu_button = w.Button(description="GPU (not measured)", disabled=True,
                                   tooltip="no measured GPU profile here", layout=w.Layout(
                                       display="none" if has_gpu else "inline-flex"))
        self.gpu_note = w.HTML(
            "" if has_gpu else
            "<span style='color:#777'>GPU: no measured GPU profile on this installation, so no GPU "
            "option (numbers are never invented). Run <code>ragcompare calibrate</code> on a GPU "
            "machine to add one.</span>")
        self.preset_buttons = []
        for name, (_, _, _, why) in PRESETS.items():
            b = w.Button(description=name, tooltip=why, layout=w.Layout(width="110px"))
            b.on_click(lambda _b, name=name: self.apply_preset(name))
            self.preset_buttons.append(b)
        self.preset_note = w.HTML("")
        self.card = w.HTML()
        self.out = w.Output()
        for ctl in (self.corpus, self.budget, self.accuracy, self.device):
            ctl.observe(lambda _change: self.update(), names="value")
        self.recommendation: Recommendation | None = None
        self.widget = w.VBox([
            w.HTML("<b>Industry presets</b> (one click)"), w.HBox(self.preset_buttons), self.preset_note,
            self.corpus, self.budget, self.accuracy, w.HBox([self.device, self.gpu_button]),
            self.gpu_note, self.card, self.out])
        self.update()

    def _device_label(self, device: str) -> str:
        p = self.profiles[device]
        return f"{device.upper()} (measured: {p.machine.get('gpu') or p.machine.get('cpu', '?')})"[:60]

    @property
    def profile(self) -> HardwareProfile:
        """The profile currently selected."""
        return self.profiles[self.device.value]

    def apply_preset(self, name: str) -> None:
        """Set the three needs from an industry preset (one update, not three)."""
        n, budget, acc, why = PRESETS[name]
        self._hold = True
        try:
            self.corpus.value, self.budget.value, self.accuracy.value = n, budget, acc
        finally:
            self._hold = False
        self.preset_note.value = (f"<i>preset <b>{html.escape(name)}</b>: {html.escape(why)} "
                                  f"({n:,.0f} docs, {budget:g} ms, {acc})</i>")
        self.update()

    def update(self) -> Recommendation | None:
        """Recompute the recommendation, card and plot from the current controls."""
        if getattr(self, "_hold", False):
            return None
        rec = recommend(self.corpus.value, self.budget.value, self.accuracy.value, profile=self.profile)
        self.recommendation = rec
        self.card.value = rec.to_html()
        if self.show_plot:
            self._plot(rec)
        return rec

    def _plot(self, rec: Recommendation) -> None:
        import matplotlib.pyplot as plt

        curves = latency_curves(rec.inputs["accuracy"], np.logspace(2, 9, 29), profile=self.profile)
        self.out.clear_output(wait=True)
        with self.out:
            fig, ax = plt.subplots(figsize=(7.5, 3.6))
            for approach in APPROACHES:
                pts = curves[approach]
                good = [(n, t) for n, t, ok in pts if ok]
                weak = [(n, t) for n, t, ok in pts if not ok]
                if good:
                    ax.plot(*zip(*good), "-", label=approach, color=APPROACH_COLORS[approach], lw=2)
                if weak:
                    ax.plot(*zip(*weak), ":", color=APPROACH_COLORS[approach], lw=1.5, alpha=0.6,
                            label=f"{approach} (below accuracy need)")
            ax.axhline(rec.inputs["latency_budget_ms"], color="k", ls="--", lw=1,
                       label=f"budget {rec.inputs['latency_budget_ms']:g} ms")
            ax.axvline(rec.inputs["corpus_size"], color="#999", ls=":", lw=1)
            if rec.feasible:
                ax.plot(rec.inputs["corpus_size"], rec.predicted_p50_ms, "o", ms=12, mfc="none",
                        mec="k", mew=2, label=f"chosen: {rec.approach}")
            ax.set(xscale="log", yscale="log", xlabel="corpus size (documents)",
                   ylabel="predicted p50 latency (ms)",
                   title=f"cheapest option per approach meeting '{rec.inputs['accuracy']}' accuracy")
            ax.grid(True, which="major", alpha=0.3)
            ax.legend(fontsize=8, loc="upper left")
            fig.tight_layout()
            plt.show()

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)
