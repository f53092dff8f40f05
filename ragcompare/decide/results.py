"""What :func:`ragcompare.decide.recommend` returns: the chosen option, its settings, the runner-ups,
and their plain-text / HTML / JSON renderings."""

from __future__ import annotations

import html
from dataclasses import asdict, dataclass, field

from ragcompare.decide.quality import QualityGain

INT8_OPTIMIZATION = "ONNX Runtime INT8 (onnx-int8)"
"""``Settings.optimization`` of a reranker with dynamic INT8 weights, run by ONNX Runtime:
``ragcompare.rerank.onnx.OnnxCrossEncoderReranker(model, variant="onnx-int8")`` (what a profile's
``*-int8`` settings measure)."""
APPROACH_COLORS = {"bi-encoder": "#1f77b4", "hybrid": "#2ca02c", "cross-encoder": "#d62728"}


@dataclass(frozen=True)
class Settings:
    """Concrete configuration of one option."""

    index: str | None = None
    faiss_factory: str | None = None
    search_params: dict = field(default_factory=dict)
    k_retrieve: int | None = None
    reranker: str | None = None
    max_length: int | None = None
    batch_size: int | None = None
    optimization: str = "none"
    alpha: float | None = None
    """Interpolated hybrid: order the head by ``alpha * z(reranker) + (1 - alpha) * z(bi-encoder)``
    (``ragcompare.rerank.head.interpolate_hits``; ``HybridPipeline(..., alpha=alpha)``); None: by the
    reranker alone."""

    def describe(self) -> str:
        """One line, e.g. ``FAISS HNSW32 (efSearch=128); rerank top 20 with ... (max_length 128, ...)``."""
        parts = []
        if self.index:
            params = ", ".join(f"{k}={v}" for k, v in self.search_params.items())
            parts.append(f"FAISS {self.faiss_factory}" + (f" ({params})" if params else ""))
        if self.reranker:
            k = f"top {self.k_retrieve}" if self.k_retrieve else "every document"
            opt = f", {self.optimization}" if self.optimization != "none" else ""
            parts.append(f"rerank {k} with {self.reranker} (max_length {self.max_length}, batch "
                         f"{self.batch_size}{opt})")
        if self.alpha is not None:
            parts.append(f"order by {self.alpha:g} x z(reranker) + {1 - self.alpha:g} x z(bi-encoder) "
                         f"(interpolated, alpha={self.alpha:g})")
        return "; ".join(parts)


@dataclass(frozen=True)
class Option:
    """One candidate configuration with its predicted cost and expected quality."""

    approach: str
    settings: Settings
    p50_ms: float
    p95_ms: float
    ndcg10: float
    memory_bytes: int
    breakdown_ms: dict
    extrapolated: bool = False
    gain: QualityGain | None = None
    """Measured gain of this reranking over the (exact) bi-encoder; None for the bi-encoder itself."""
    credited_ndcg10: float | None = None
    """nDCG@10 the accuracy levels count (``ndcg10`` unless a gain is not measurably above 0)."""

    @property
    def credited(self) -> float:
        """nDCG@10 checked against the accuracy need (see ``ACCURACY_LEVELS``)."""
        return self.ndcg10 if self.credited_ndcg10 is None else self.credited_ndcg10

    def label(self) -> str:
        """Short name used in tables and plots."""
        s = self.settings
        if self.approach == "bi-encoder":
            return f"bi-encoder [{s.index}]"
        opt = "+INT8" if s.optimization != "none" else ""
        if self.approach == "hybrid":
            mix = f", alpha {s.alpha:g}" if s.alpha is not None else ""
            return f"hybrid [{s.index} >> CE@{s.k_retrieve}, len {s.max_length}{opt}{mix}]"
        return f"cross-encoder only [len {s.max_length}{opt}]"

    def quality_text(self) -> str:
        """``nDCG@10 0.410 (+0.030 [+0.010, +0.050])`` -- the gain over the bi-encoder, if any."""
        return f"nDCG@10 {self.ndcg10:.3f}" + (f" ({self.gain.interval()})" if self.gain else "")


@dataclass(frozen=True)
class Alternative:
    """A runner-up and why it lost."""

    option: Option
    why_not: str


@dataclass
class Recommendation:
    """What :func:`recommend` returns. ``feasible`` is False when no option meets every need."""

    feasible: bool
    approach: str | None
    settings: Settings | None
    predicted_p50_ms: float | None
    predicted_p95_ms: float | None
    expected_ndcg10: float | None
    required_ndcg10: float
    memory_bytes: int | None
    reasons: list[str]
    alternatives: list[Alternative]
    relax: list[str]
    inputs: dict
    profile: str
    option: Option | None = None
    gain: QualityGain | None = None
    """The chosen option's gain over the bi-encoder with its 95% interval (None: the bi-encoder)."""
    quality: str = ""
    """One line: expected nDCG@10 and the gain over the bi-encoder with its interval and queries."""
    warnings: list[str] = field(default_factory=list)
    """For the reader, e.g. the profile was measured on another CPU (``profile.cpu_mismatch``)."""

    def to_dict(self) -> dict:
        """JSON-ready dict."""
        return asdict(self)

    def summary(self) -> str:
        """Plain-text rendering (what ``ragcompare recommend`` prints)."""
        i = self.inputs
        lines = [f"need: {i['corpus_size']:,} documents, p95 <= {i['latency_budget_ms']:g} ms, "
                 f"accuracy {i['accuracy']} (nDCG@10 >= {self.required_ndcg10:.3f})",
                 f"profile: {self.profile}"
                 + (f" (times x{i['slowdown']:.2f} for current load)" if i.get("slowdown", 1) != 1
                    else "")]
        lines += [f"WARNING: {w}" for w in self.warnings]
        if self.feasible and self.settings is not None:
            lines += [f"RECOMMENDATION: {self.approach}",
                      f"  settings: {self.settings.describe()}",
                      f"  predicted latency: p50 {self.predicted_p50_ms:.1f} ms, p95 "
                      f"{self.predicted_p95_ms:.1f} ms",
                      f"  quality: {self.quality or f'expected nDCG@10 {self.expected_ndcg10:.3f}'}",
                      f"  index memory: {format_bytes(self.memory_bytes or 0)}"]
        else:
            lines.append("NO OPTION MEETS ALL NEEDS (infeasible). Relax one constraint:")
            lines += [f"  - {r}" for r in self.relax]
        lines.append("why:")
        lines += [f"  - {r}" for r in self.reasons]
        if self.alternatives:
            lines.append("alternatives:")
            for a in self.alternatives:
                o = a.option
                lines.append(f"  - {o.label()}: p50 {o.p50_ms:.1f} ms, p95 {o.p95_ms:.1f} ms, "
                             f"{o.quality_text()} -- {a.why_not}")
        return "\n".join(lines)

    def to_html(self) -> str:
        """A readable card (used by the widget)."""
        e = html.escape
        i = self.inputs
        need = (f"{i['corpus_size']:,} docs &middot; p95 &le; {i['latency_budget_ms']:g} ms &middot; "
                f"accuracy <b>{e(i['accuracy'])}</b> (nDCG@10 &ge; {self.required_ndcg10:.3f})")
        if self.feasible and self.settings is not None:
            color = APPROACH_COLORS.get(self.approach or "", "#333")
            head = (f"<div class='rc-approach' style='font-size:1.4em;font-weight:bold;color:"
                    f"{color}'>Recommended: {e(self.approach or '')}</div>")
            body = (f"<div class='rc-settings'>{e(self.settings.describe())}</div>"
                    f"<table style='margin-top:4px'><tr><td>predicted latency</td><td><b>p50 "
                    f"{self.predicted_p50_ms:.1f} ms</b>, p95 {self.predicted_p95_ms:.1f} ms</td></tr>"
                    f"<tr><td>expected nDCG@10</td><td><b>{self.expected_ndcg10:.3f}</b>"
                    + (f"<br><span class='rc-gain'>{e(self.quality)}</span>" if self.quality else "")
                    + "</td></tr>"
                    f"<tr><td>index memory</td><td>{format_bytes(self.memory_bytes or 0)}</td></tr>"
                    "</table>")
        else:
            head = ("<div class='rc-approach' style='font-size:1.4em;font-weight:bold;color:#b00'>"
                    "Infeasible: no option meets all needs</div>")
            body = "<ul>" + "".join(f"<li>{e(r)}</li>" for r in self.relax) + "</ul>"
        reasons = "<ul>" + "".join(f"<li>{e(r)}</li>" for r in self.reasons) + "</ul>"
        alts = "".join(f"<li><b>{e(a.option.label())}</b>: p50 {a.option.p50_ms:.1f} ms, "
                       f"{e(a.option.quality_text())} &mdash; {e(a.why_not)}</li>"
                       for a in self.alternatives)
        warn = "".join(f"<div class='rc-warning' style='background:#fff3cd;border:1px solid #e0c36c;"
                       f"border-radius:4px;padding:4px 8px;margin:4px 0'>&#9888; {e(w)}</div>"
                       for w in self.warnings)
        return (f"<div class='rc-card' style='border:1px solid #ccc;border-radius:8px;padding:10px;"
                f"max-width:820px'><div style='color:#555'>{need}</div>{warn}{head}{body}"
                f"<details open><summary>why</summary>{reasons}</details>"
                f"<details><summary>runner-ups</summary><ul>{alts}</ul></details>"
                f"<div style='color:#888;font-size:0.85em'>profile: {e(self.profile)}</div></div>")


def format_bytes(n: float) -> str:
    """``1234567`` -> ``1.2 MB`` (decimal units)."""
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"
