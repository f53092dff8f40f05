"""The recommender: every candidate configuration of a corpus size, and the cheapest that meets the
latency budget (predicted p95), the accuracy need and the memory budget.

Candidates are approach x FAISS index x ``k_retrieve`` x reranker ``max_length`` x INT8 x ordering
(the reranker's, or interpolated with the bi-encoder's scores at each measured ``alpha``); each gets
a predicted p50/p95 latency (:class:`~ragcompare.decide.cost.CostModel`), an expected nDCG@10 with the
95% interval of its gain over the bi-encoder (:class:`~ragcompare.decide.quality.QualityModel`) and an
index size. The accuracy need is checked on the *credited* nDCG@10: a gain counts only when its
interval excludes 0 (``ACCURACY_LEVELS``). When none meets every need, the answer says how far each
constraint must move (:func:`recommend`'s ``relax``).
"""

from __future__ import annotations

import math

import numpy as np

import ragcompare.decide.profile as _profiles
from ragcompare.checks import check_choice, check_float
from ragcompare.decide.cost import CostModel
from ragcompare.decide.indexes import INDEX_KINDS
from ragcompare.decide.profile import HardwareProfile, load_profile
from ragcompare.decide.quality import ACCURACY_LEVELS, QualityGain, QualityModel
from ragcompare.decide.rerankers import INT8_BACKEND, setting_key
from ragcompare.decide.results import (
    INT8_OPTIMIZATION,
    Alternative,
    Option,
    Recommendation,
    Settings,
    format_bytes,
)
from ragcompare.types import InvalidInputError

APPROACHES = ("bi-encoder", "hybrid", "cross-encoder")
CE_ONLY_MAX_DOCS = 20_000
"""Cross-encoder-only candidates are considered up to this corpus size (beyond it: hopeless)."""
MAX_QUERY_TOKENS = 10_000
"""The longest typical query length :func:`recommend` accepts (word pieces)."""
TIE_BAND = 0.10
"""Options whose p50 is within 10% (+1 ms) of the cheapest count as equally cheap."""


def candidate_options(n: int, cost: CostModel, quality: QualityModel, reranker: str) -> list[Option]:
    """Every configuration for a corpus of ``n`` documents, with predicted cost and expected quality:
    bi-encoder per index family; hybrid per family x ``k_retrieve`` x reranker setting x ordering
    (reranker only, or interpolated at each measured ``alpha``; same cost); and, up to
    ``CE_ONLY_MAX_DOCS``, cross-encoder only per reranker setting (credited with the deepest measured
    rerank depth). ANN recall against exact search scales each expected and credited nDCG@10."""
    opts: list[Option] = []
    enc50, enc95 = cost.encode
    ks = sorted(quality.curve) or [10, 20, 50, 100]
    for kind in cost.index_kinds:
        spec = INDEX_KINDS.get(kind)
        s50, s95, extra = cost.search_ms(kind, n)
        mem = cost.memory_bytes(kind, n)
        factory = spec.factory(n) if spec else kind
        params = spec.search_params(n) if spec else {}
        b50, b95 = cost.total([(enc50, enc95), (s50, s95)])
        opts.append(Option("bi-encoder", Settings(kind, factory, params), b50, b95,
                           quality.bi * cost.recall(kind, n, 10), mem,
                           {"encode": enc50, "search": s50}, extra))
        for k in ks:
            if k >= n:
                continue
            recall = cost.recall(kind, n, k)
            for setting, s in cost.rerank_settings.items():
                r50, r95 = cost.rerank_ms(setting, k)
                h50, h95 = cost.total([(enc50, enc95), (s50, s95), (r50, r95)])
                opt = INT8_OPTIMIZATION if s["int8"] else "none"
                for alpha in (None, *quality.alphas):
                    q = quality.hybrid(k, setting, alpha)
                    if q is None and (quality.measured or alpha is not None):
                        continue
                    q = q if q is not None else quality.bi
                    credited = quality.credited(k, setting, alpha)
                    credited = q if credited is None else credited
                    st = Settings(kind, factory, params, k, reranker, s["max_length"], min(32, k), opt,
                                  alpha)
                    opts.append(Option("hybrid", st, h50, h95, q * recall, mem,
                                       {"encode": enc50, "search": s50, "rerank": r50}, extra,
                                       quality.gain(k, setting, alpha), credited * recall))
    if n <= CE_ONLY_MAX_DOCS:
        for setting, s in cost.rerank_settings.items():
            # exhaustive scoring: credited with the deepest measured rerank depth
            q = quality.exhaustive(setting) if quality.curve else quality.bi
            if q is None:
                continue
            gain = quality.gain(quality.deepest, setting) if quality.curve else None
            credited = quality.credited(quality.deepest, setting) if quality.curve else q
            r50, r95 = cost.rerank_ms(setting, n)
            opt = INT8_OPTIMIZATION if s["int8"] else "none"
            st = Settings(None, None, {}, None, reranker, s["max_length"], 32, opt)
            opts.append(Option("cross-encoder", st, r50, r95, q, 0, {"rerank": r50}, False, gain,
                               q if credited is None else credited))
    return opts


def _accurate(o: Option, need: float) -> bool:
    """Whether ``o``'s credited nDCG@10 meets ``need``."""
    return o.credited >= need - 1e-9


def quality_line(o: Option, quality: QualityModel, cost: CostModel | None = None, n: int = 0) -> str:
    """``expected nDCG@10 0.410, +0.030 [+0.010, +0.050] over the bi-encoder on cranfield+cisi, 301
    queries, p=0.002`` for option ``o`` (what :class:`Recommendation` names)."""
    if not quality.measured:
        return (f"expected nDCG@10 {o.ndcg10:.3f} relative to the exact bi-encoder (=1.0): quality not "
                "measured in this profile")
    text = f"expected nDCG@10 {o.ndcg10:.3f}"
    if o.gain is not None:
        text += ", " + o.gain.describe()
    else:
        text += (f": the bi-encoder itself on {'+'.join(quality.datasets)}"
                 + (f", {quality.queries} queries" if quality.queries else ""))
    s = o.settings
    if cost is not None and s.index in INDEX_KINDS and INDEX_KINDS[s.index].ann:
        text += (f"; x{cost.recall(s.index, n, s.k_retrieve or 10):.3f} for {s.index}'s measured recall "
                 "against exact search")
    return text


def check_needs(corpus_size: object, latency_budget_ms: object, accuracy: object
                ) -> tuple[int, float, str]:
    """Validated (documents, budget in ms, accuracy level); :class:`InvalidInputError` otherwise."""
    size = check_float(corpus_size, "corpus_size", positive=True)
    budget = check_float(latency_budget_ms, "latency_budget_ms", positive=True)
    n = int(round(size))
    if n < 1:
        raise InvalidInputError(f"corpus_size must be at least 1 document, got {corpus_size!r}")
    level = accuracy.strip().lower() if isinstance(accuracy, str) else accuracy
    return n, budget, check_choice(level, "accuracy", ACCURACY_LEVELS)


def _pick(cands: list[Option]) -> Option:
    """Cheapest option; within the tie band prefer exact search, higher credited then expected quality,
    less memory (so an interpolated hybrid, at the same cost, wins when it scores higher)."""
    cheapest = min(c.p50_ms for c in cands)
    band = [c for c in cands if c.p50_ms <= cheapest * (1 + TIE_BAND) + 1.0]
    return min(band, key=lambda c: (INDEX_KINDS[c.settings.index].ann if c.settings.index in
                                    INDEX_KINDS else False, -round(c.credited, 3), -round(c.ndcg10, 3),
                                    c.memory_bytes, c.p50_ms))


def _mismatch_warning(prof: HardwareProfile) -> list[str]:
    """``profile.cpu_mismatch``'s warning when this machine is not the profiled one."""
    try:
        text = _profiles.cpu_mismatch(prof)
    except Exception as e:  # never let the machine check break a recommendation
        return [f"could not compare this machine with the profile's ({type(e).__name__}: {e})"]
    return [text] if text else []


def _level_met(q: float, quality: QualityModel) -> str | None:
    for level in ("high", "medium", "low"):
        if q >= quality.required(level) - 1e-9:
            return level
    return None


def recommend(corpus_size: float, latency_budget_ms: float, accuracy: str = "medium",
              profile: str | HardwareProfile | None = None,
              memory_budget_gb: float | None = None, slowdown: float = 1.0,
              query_tokens: float | None = None) -> Recommendation:
    """Recommend the cheapest approach and settings that meet the latency budget and accuracy need.

    ``latency_budget_ms`` is compared with the *predicted p95* per query (one query at a time on the
    profiled hardware). ``accuracy`` is "low", "medium" or "high" (see ``ACCURACY_LEVELS``).
    ``profile`` is a device name ("cpu", "cuda"), a JSON path or a loaded profile (default: the
    user's own CPU profile if calibrated, else the shipped reference profile). ``slowdown``
    scales every measured time (e.g. ``ragcompare.decide.speed_probe() / profile.probe_ms`` when the
    machine is busier now than when it was profiled). ``query_tokens`` is your typical query
    length in word pieces (default: the median of the profiled cranfield+cisi query mix).

    The answer names the chosen option's expected nDCG@10 and its gain over the bi-encoder with the
    95% interval (``Recommendation.quality`` / ``.gain``); an accuracy need counts a gain only when
    that interval excludes 0. ``Recommendation.warnings`` carries ``profile.cpu_mismatch``'s warning
    when this machine is not the one the profile was measured on.
    """
    n, budget, acc = check_needs(corpus_size, latency_budget_ms, accuracy)
    if memory_budget_gb is not None:
        memory_budget_gb = check_float(memory_budget_gb, "memory_budget_gb", positive=True)
    slowdown = check_float(slowdown, "slowdown", positive=True)
    if query_tokens is not None:
        query_tokens = check_float(query_tokens, "query_tokens", maximum=MAX_QUERY_TOKENS,
                                   positive=True)
    prof = load_profile(profile)  # checked: every section present, every number finite
    try:
        cost, quality = CostModel(prof, slowdown, query_tokens), QualityModel(prof.quality)
    except (KeyError, TypeError, ValueError, IndexError, AttributeError, ZeroDivisionError) as e:
        raise _profiles.ProfileError(
            f"hardware profile {prof.source or '(not saved)'} is malformed ({type(e).__name__}: "
            f"{e}); run `ragcompare calibrate` to measure a new one") from None
    reranker = quality.reranker or prof.cross_encoder.get("model", "cross-encoder")
    need = quality.required(acc)
    mem_cap = memory_budget_gb * 1e9 if memory_budget_gb else math.inf
    opts = candidate_options(n, cost, quality, reranker)
    fits_time = [o for o in opts if o.p95_ms <= budget]
    good = [o for o in opts if _accurate(o, need)]
    fits_mem = [o for o in opts if o.memory_bytes <= mem_cap]
    ok = [o for o in fits_time if o in good and o in fits_mem]
    inputs = {"corpus_size": n, "latency_budget_ms": budget, "accuracy": acc,
              "memory_budget_gb": memory_budget_gb, "slowdown": slowdown,
              "query_tokens": cost.query_tokens}
    reasons = _context_reasons(prof, quality, n)
    warnings = _mismatch_warning(prof)
    if not ok:
        relax = _relax(n, budget, acc, need, opts, fits_time, good, fits_mem, cost, quality,
                       reranker, mem_cap)
        alts = _alternatives(None, opts, budget, need, mem_cap)
        return Recommendation(False, None, None, None, None, None, need, None,
                              [f"no option predicts p95 <= {budget:g} ms with nDCG@10 >= {need:.3f}"
                               + (f" within {memory_budget_gb:g} GB" if memory_budget_gb else ""),
                               *reasons], alts, relax, inputs, prof.label, warnings=warnings)
    best = _pick(ok)
    why = [f"cheapest option meeting every need: predicted p50 {best.p50_ms:.1f} ms ("
           + ", ".join(f"{k} {v:.1f}" for k, v in best.breakdown_ms.items())
           + f"), p95 {best.p95_ms:.1f} ms <= budget {budget:g} ms",
           f"expected nDCG@10 {best.ndcg10:.3f}"
           + (f" (counted as {best.credited:.3f})" if best.credited < best.ndcg10 - 1e-9 else "")
           + f" >= {need:.3f} needed for '{acc}' accuracy ({ACCURACY_LEVELS[acc]})"]
    if best.gain is not None:
        why.append(_gain_reason(best.gain))
    if best.settings.alpha is not None:
        why.append(f"interpolated hybrid: the head is ordered by {best.settings.alpha:g} x z(reranker) + "
                   f"{1 - best.settings.alpha:g} x z(bi-encoder) -- at the reranker's cost, it keeps "
                   "some of the bi-encoder's judgement (HybridPipeline(..., alpha=...))")
    if best.settings.index in INDEX_KINDS:
        spec = INDEX_KINDS[best.settings.index]
        why.append(f"{best.settings.index}: {spec.note}; recall vs exact search "
                   f"{cost.recall(spec.name, n, best.settings.k_retrieve or 10):.3f} (measured)"
                   if spec.ann else f"{best.settings.index}: {spec.note}")
    if best.extrapolated:
        why.append(f"search time extrapolated beyond the largest measured index "
                   f"({cost.largest_measured(best.settings.index):,} vectors) with the fitted power law")
    if best.settings.optimization != "none":
        why.append(_int8_reason(prof, quality, best.settings))
    alts = _alternatives(best, opts, budget, need, mem_cap)
    return Recommendation(True, best.approach, best.settings, best.p50_ms, best.p95_ms, best.ndcg10,
                          need, best.memory_bytes, why + reasons, alts, [], inputs, prof.label, best,
                          best.gain, quality_line(best, quality, cost, n), warnings)


def _gain_reason(g: QualityGain) -> str:
    """How the chosen option's gain over the bi-encoder was counted."""
    if not g.measured:
        return (f"gain over the bi-encoder {g.diff:+.3f}: interval not measured (a profile measured "
                "before intervals; taken at face value -- run `ragcompare calibrate --quality-only`)")
    if g.significant:
        return f"gain {g.describe()}: its 95% interval excludes 0, so it counts"
    return (f"gain {g.describe()}: its 95% interval includes 0, so the accuracy need counts this option "
            "as no better than the bi-encoder")


def _int8_reason(prof: HardwareProfile, quality: QualityModel, settings: Settings) -> str:
    """Why INT8, and whether this profile measured it with the backend the recommendation names."""
    text = ("dynamic INT8 weights run by ONNX Runtime (OnnxCrossEncoderReranker, variant onnx-int8) "
            "speed the reranker up on CPU")
    if quality.measured and quality.curve_setting.endswith("-int8"):
        text += (f"; the quality curve itself is measured with it (setting {quality.curve_setting}), the "
                 "other settings as per-query differences to it")
    elif quality.measured:
        text += "; its quality cost is measured on the top-20 rerank and included in the expected nDCG@10"
    setting = prof.cross_encoder.get("settings", {}).get(setting_key(settings.max_length or 0, True), {})
    if setting.get("backend") != INT8_BACKEND or (quality.measured and
                                                  prof.quality.get("int8_backend") != INT8_BACKEND):
        text += ("; this profile measured INT8 with an older backend (torch.ao quantization): run "
                 "`ragcompare calibrate --quality` to measure ONNX Runtime INT8")
    return text


def _context_reasons(prof: HardwareProfile, quality: QualityModel, n: int) -> list[str]:
    out = []
    if not quality.measured:
        out.append("quality curves not measured yet (no reranker when profiled): nDCG@10 is relative "
                   "to the exact bi-encoder (=1.0) and reranking is assumed to gain nothing")
    else:
        gain, which = quality.best_gain
        where = (f"all {quality.queries} judged queries of {'+'.join(quality.datasets)}" if quality.intervals
                 else f"{quality.queries} sampled queries of {'+'.join(quality.datasets)}")
        out.append(f"quality: nDCG@10 measured on {where} (~1.4k documents each; bi-encoder "
                   f"{quality.bi:.3f}); larger corpora usually score lower in absolute terms")
        if which is not None:
            k, setting, alpha = which
            mix = f", interpolated alpha={alpha:g}" if alpha is not None else ""
            out.append(f"best counted reranking gain: {quality.gain(k, setting, alpha).describe()} "
                       f"(top {k}, setting {setting}{mix})")
        elif quality.curve and quality.intervals:
            out.append(f"no reranking option's gain over the bi-encoder has a 95% interval above 0 on "
                       f"these collections (reranker {quality.reranker}), so no accuracy level asks "
                       "for more than the bi-encoder")
        elif quality.curve:
            out.append(f"the measured reranker ({quality.reranker}) does not beat the bi-encoder on "
                       "these collections, so reranking buys no accuracy here")
        if not quality.intervals:
            out.append("this profile's quality gains were measured on 30-query samples without "
                       "intervals (interval not measured): they are taken at face value; run "
                       "`ragcompare calibrate --quality-only` to measure them on every judged query")
        if not quality.held_out:
            out.append("the reranker's quality was measured on collections it was trained on")
    if n > CE_ONLY_MAX_DOCS:
        out.append(f"cross-encoder only not considered above {CE_ONLY_MAX_DOCS:,} documents "
                   "(it scores every document per query)")
    return out


def _why_not(o: Option, budget: float, need: float, mem_cap: float, best: Option | None) -> str:
    fails = []
    if o.p95_ms > budget:
        fails.append(f"too slow: p95 {o.p95_ms:.1f} ms > {budget:g} ms")
    if not _accurate(o, need):
        if o.credited < o.ndcg10 - 1e-9 and o.ndcg10 >= need - 1e-9:
            fails.append(f"not measurably accurate enough: expected nDCG@10 {o.ndcg10:.3f}, but its gain "
                         f"{o.gain.interval() if o.gain else ''} includes 0, so it counts as "
                         f"{o.credited:.3f} < {need:.3f}")
        else:
            fails.append(f"not accurate enough: nDCG@10 {o.credited:.3f} < {need:.3f}")
    if o.memory_bytes > mem_cap:
        fails.append(f"index too big: {format_bytes(o.memory_bytes)}")
    if fails:
        return "; ".join(fails)
    if best is not None and o.p50_ms > best.p50_ms * (1 + TIE_BAND) + 1.0:
        return f"meets every need but costs more: p50 {o.p50_ms:.1f} ms vs {best.p50_ms:.1f} ms"
    return ("meets every need at about the same cost; lost the tie-break (exact search first, then "
            "higher nDCG@10, then less memory)")


def _alternatives(best: Option | None, opts: list[Option], budget: float, need: float,
                  mem_cap: float) -> list[Alternative]:
    """Per approach: its best candidate (ok and cheapest; else fastest accurate; else most accurate
    within budget; else most accurate) plus, if different, the best-quality option within budget."""
    out: list[Alternative] = []

    def ok(o: Option) -> bool:
        return o.p95_ms <= budget and _accurate(o, need) and o.memory_bytes <= mem_cap

    for approach in APPROACHES:
        mine = [o for o in opts if o.approach == approach and o is not best]
        if not mine:
            continue
        if best is not None and approach == best.approach:
            other_index = [o for o in mine if ok(o) and o.settings.index != best.settings.index]
            mine = other_index or [o for o in mine if ok(o)]
            if not mine:
                continue
        good = [o for o in mine if ok(o)]
        accurate = [o for o in mine if _accurate(o, need)]
        in_time = [o for o in mine if o.p95_ms <= budget]
        if good:
            pick = _pick(good)
        elif accurate:
            pick = min(accurate, key=lambda o: o.p95_ms)
        elif in_time:
            pick = max(in_time, key=lambda o: (o.credited, o.ndcg10, -o.p50_ms))
        else:
            pick = max(mine, key=lambda o: (o.credited, o.ndcg10, -o.p50_ms))
        out.append(Alternative(pick, _why_not(pick, budget, need, mem_cap, best)))
    in_budget = [o for o in opts if o.p95_ms <= budget and o.memory_bytes <= mem_cap]
    if in_budget:
        top = max(in_budget, key=lambda o: (round(o.credited, 3), round(o.ndcg10, 3), -o.p50_ms))
        if (best is None or top.credited > best.credited + 1e-6) and all(a.option != top for a in out):
            out.append(Alternative(top, "best quality that fits the budget: "
                                   + _why_not(top, budget, need, mem_cap, best)))
        hoped = max(in_budget, key=lambda o: (round(o.ndcg10, 3), -o.p50_ms))
        if (hoped.credited < hoped.ndcg10 - 1e-9 and (best is None or hoped.ndcg10 > best.ndcg10 + 1e-6)
                and all(a.option != hoped for a in out)):
            out.append(Alternative(hoped, "highest expected nDCG@10 that fits the budget: "
                                   + _why_not(hoped, budget, need, mem_cap, best)))
    return out


def _relax(n: int, budget: float, acc: str, need: float, opts: list[Option], fits_time: list[Option],
           good: list[Option], fits_mem: list[Option], cost: CostModel, quality: QualityModel,
           reranker: str, mem_cap: float) -> list[str]:
    """How far each constraint must move for some option to meet the others."""
    out = []
    acc_mem = [o for o in good if o.memory_bytes <= mem_cap]
    if acc_mem:
        fastest = min(acc_mem, key=lambda o: o.p95_ms)
        out.append(f"latency: raise the budget to >= {math.ceil(fastest.p95_ms):,} ms (+"
                   f"{math.ceil(fastest.p95_ms - budget):,} ms, x{fastest.p95_ms / budget:.1f}) for "
                   f"{fastest.label()}")
    in_time = [o for o in fits_time if o.memory_bytes <= mem_cap]
    if in_time:
        top = max(in_time, key=lambda o: (o.credited, o.ndcg10))
        level = _level_met(top.credited, quality)
        if level and level != acc:
            out.append(f"accuracy: lower the need to '{level}' (best within {budget:g} ms: "
                       f"{top.label()}, nDCG@10 {top.credited:.3f} < {need:.3f} needed for '{acc}')")
        elif not level:
            out.append(f"accuracy: within {budget:g} ms the best credited nDCG@10 is {top.credited:.3f}, "
                       "below even the 'low' level")
    else:
        fastest = min(opts, key=lambda o: o.p95_ms)
        out.append(f"no configuration at all fits {budget:g} ms: the fastest ({fastest.label()}) "
                   f"needs p95 {fastest.p95_ms:.1f} ms")
    n_max = _max_corpus(n, budget, need, cost, quality, reranker, mem_cap)
    if n_max:
        out.append(f"corpus: shrink (shard/filter) to <= {n_max:,} documents per searched index "
                   f"(now {n:,}, /{n / n_max:.1f})")
    if mem_cap < math.inf:
        in_need = [o for o in fits_time if _accurate(o, need)]
        if in_need:
            small = min(in_need, key=lambda o: o.memory_bytes)
            out.append(f"memory: allow >= {small.memory_bytes / 1e9:.2f} GB ({small.label()})")
    return out


def _max_corpus(n: int, budget: float, need: float, cost: CostModel, quality: QualityModel,
                reranker: str, mem_cap: float) -> int | None:
    """Largest corpus below ``n`` for which some option meets every need (bisection on log n)."""
    def feasible(m: int) -> bool:
        return any(o.p95_ms <= budget and _accurate(o, need) and o.memory_bytes <= mem_cap
                   for o in candidate_options(m, cost, quality, reranker))

    lo, hi = 1.0, math.log10(max(n, 10))
    if not feasible(10):
        return None
    for _ in range(25):
        mid = (lo + hi) / 2
        if feasible(int(10 ** mid)):
            lo = mid
        else:
            hi = mid
    m = int(10 ** lo)
    return m if m < n else None


def latency_curves(accuracy: str = "medium", sizes: np.ndarray | None = None,
                   profile: str | HardwareProfile | None = None
                   ) -> dict[str, list[tuple[int, float, bool]]]:
    """Per approach and corpus size: (n, predicted p50, meets accuracy) of its cheapest option that
    meets ``accuracy`` (credited nDCG@10, see ``ACCURACY_LEVELS``) -- or, where none does, of its
    cheapest option at all (``meets`` False)."""
    prof = load_profile(profile)
    cost, quality = CostModel(prof), QualityModel(prof.quality)
    need = quality.required(check_needs(1, 1, accuracy)[2])
    sizes = np.logspace(2, 9, 29) if sizes is None else np.asarray(sizes)
    out: dict[str, list[tuple[int, float, bool]]] = {a: [] for a in APPROACHES}
    for n in sizes:
        opts = candidate_options(int(n), cost, quality, "r")
        for a in APPROACHES:
            mine = [o for o in opts if o.approach == a]
            good = [o.p50_ms for o in mine if _accurate(o, need)]
            if good:
                out[a].append((int(n), min(good), True))
            elif mine:
                out[a].append((int(n), min(o.p50_ms for o in mine), False))
    return out
