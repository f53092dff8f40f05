"""Decision helper on the evaluation protocol: gains with 95% intervals, the accuracy rule that counts a
gain only when its interval excludes 0, interpolated hybrids, old profiles, the CPU-mismatch warning."""

from __future__ import annotations

import json

import numpy as np
import pytest
from test_decide import make_profile

import ragcompare.decide.profile as profiles
from ragcompare.decide import (
    QUALITY_ALPHAS,
    QUALITY_KS,
    HardwareProfile,
    QualityModel,
    pool_quality,
    recommend,
    score_key,
)

SETTINGS = ("256-int8", "256", "128", "128-int8")
CURVE = "256-int8"


def pooled_quality(gains: dict | None = None, bi: float = 0.40, queries: int = 301,
                   default: tuple[float, float, float] = (-0.01, -0.03, 0.01)) -> dict:
    """A measured quality dict in the new format, with the pooled statistics written directly:
    every (setting, k, alpha) gets ``default`` (diff, low, high) unless ``gains`` says otherwise."""
    gains = gains or {}
    options = []
    for s in SETTINGS:
        for k in QUALITY_KS:
            for a in (None, *QUALITY_ALPHAS):
                diff, low, high = gains.get((s, k, a), default)
                options.append({"setting": s, "k": k, "alpha": a, "mean": bi + diff, "diff": diff,
                                "low": low, "high": high, "p_value": 0.5, "queries": queries,
                                "derived": s != CURVE and k != 20})
    deltas = {s: {"k": 20, "diff": 0.0, "low": -0.01, "high": 0.01, "p_value": 1.0, "queries": queries}
              for s in SETTINGS[1:]}
    sets = {name: {"reranker": "toy-reranker", "held_out": True, "bi_encoder": bi, "curve_setting": CURVE,
                   "hybrid": {}, "deltas": {}} for name in ("toy-a", "toy-b")}
    return {"metric": "ndcg@10", "curve_setting": CURVE, "ks": list(QUALITY_KS),
            "alphas": list(QUALITY_ALPHAS), "int8_backend": "onnx-int8", "datasets": sets,
            "pooled": {"datasets": list(sets), "bi_encoder": {"mean": bi, "queries": queries},
                       "options": options, "deltas": deltas}}


def profile_with(quality: dict) -> HardwareProfile:
    prof = make_profile()
    for s in prof.cross_encoder["settings"].values():
        s["backend"] = "onnx-int8" if s["int8"] else "torch"
    prof.quality = quality
    return prof


@pytest.fixture(autouse=True)
def same_machine(monkeypatch):
    """No CPU-mismatch warning unless a test asks for one."""
    monkeypatch.setattr(profiles, "cpu_mismatch", lambda profile, here=None: None, raising=False)


# -- (a) a significant gain makes the hybrid; a gain whose interval includes 0 does not ---------------
def test_significant_gain_recommends_hybrid_when_the_budget_allows():
    prof = profile_with(pooled_quality({(CURVE, 20, None): (0.04, 0.02, 0.06)}))
    rec = recommend(1e4, 2000, "high", profile=prof)
    assert rec.feasible and rec.approach == "hybrid"
    assert (rec.settings.k_retrieve, rec.settings.max_length, rec.settings.alpha) == (20, 256, None)
    assert rec.gain.significant and rec.gain.queries == 301
    assert "expected nDCG@10 0.440, +0.040 [+0.020, +0.060] over the bi-encoder on toy-a+toy-b, " \
           "301 queries" in rec.quality
    assert rec.quality in rec.summary() and "+0.040 [+0.020, +0.060]" in rec.to_html()
    data = json.loads(json.dumps(rec.to_dict()))
    assert data["gain"]["low"] == 0.02 and data["warnings"] == []
    # the same need on a budget no rerank fits: an honest "infeasible", not a bi-encoder
    tight = recommend(1e4, 30, "high", profile=prof)
    assert not tight.feasible and any("accuracy: lower the need" in r for r in tight.relax)
    # a low need never pays for the reranker
    assert recommend(1e4, 2000, "low", profile=prof).approach == "bi-encoder"


def test_gain_whose_interval_includes_zero_recommends_the_bi_encoder():
    prof = profile_with(pooled_quality({(CURVE, 20, None): (0.04, -0.01, 0.09)}))
    quality = QualityModel(prof.quality)
    assert quality.best_gain == (0.0, None) and quality.required("high") == pytest.approx(0.99 * 0.40)
    rec = recommend(1e4, 2000, "high", profile=prof)
    assert rec.feasible and rec.approach == "bi-encoder" and rec.gain is None
    assert "the bi-encoder itself on toy-a+toy-b, 301 queries" in rec.quality
    assert any("no reranking option's gain" in r for r in rec.reasons)
    assert quality.hybrid(20, CURVE) == pytest.approx(0.44)
    assert quality.credited(20, CURVE) == pytest.approx(0.40)  # counted as no gain
    # a smaller gain that is measurable beats a larger one that is not
    prof = profile_with(pooled_quality({(CURVE, 20, None): (0.04, -0.01, 0.09),
                                        (CURVE, 50, None): (0.02, 0.005, 0.035)}))
    rec = recommend(1e4, 2000, "high", profile=prof)
    assert rec.approach == "hybrid" and rec.settings.k_retrieve == 50 and rec.gain.significant
    assert rec.required_ndcg10 == pytest.approx(0.40 + 0.9 * 0.02)
    assert any("includes 0" in r for r in rec.summary().splitlines() if "CE@20" in r)


# -- (b) an interpolated hybrid can win --------------------------------------------------------------
def test_interpolated_hybrid_wins_when_it_scores_higher():
    prof = profile_with(pooled_quality({(CURVE, 20, None): (0.04, 0.02, 0.06),
                                        (CURVE, 20, 0.5): (0.06, 0.04, 0.08)}))
    for need in ("medium", "high"):  # high: only it qualifies; medium: same cost, higher quality
        rec = recommend(1e4, 2000, need, profile=prof)
        assert rec.approach == "hybrid" and rec.settings.alpha == 0.5, need
        assert "alpha=0.5" in rec.settings.describe() and "alpha 0.5" in rec.option.label()
        assert any("interpolated hybrid" in r for r in rec.reasons)


# -- (c) an old profile without intervals still recommends, saying so --------------------------------
def test_old_profile_without_intervals_says_interval_not_measured(tmp_path):
    old = make_profile()  # the 30-query format: hybrid means and deltas, no per-query data
    path = old.save(tmp_path / "old.json")
    prof = HardwareProfile.load(path)
    quality = QualityModel(prof.quality)
    assert quality.measured and not quality.intervals and quality.alphas == []
    rec = recommend(1e4, 1000, "high", profile=prof)
    assert rec.feasible and rec.approach == "hybrid"
    assert not rec.gain.measured and "interval not measured" in rec.quality
    assert "interval not measured" in rec.summary()
    assert all(o.option.settings.alpha is None for o in rec.alternatives)


# -- (d) the CPU-mismatch warning is carried -----------------------------------------------------------
def test_cpu_mismatch_warning_is_carried(monkeypatch):
    seen = []

    def mismatch(profile, here=None):
        seen.append(profile)
        return "this profile was measured on another CPU; run `ragcompare calibrate`"

    monkeypatch.setattr(profiles, "cpu_mismatch", mismatch, raising=False)
    prof = profile_with(pooled_quality())
    for rec in (recommend(1e4, 500, "medium", profile=prof), recommend(1e6, 1, "high", profile=prof)):
        assert rec.warnings == ["this profile was measured on another CPU; run `ragcompare calibrate`"]
        assert "WARNING: this profile was measured on another CPU" in rec.summary()
        assert "measured on another CPU" in rec.to_html() and rec.to_dict()["warnings"] == rec.warnings
    assert seen and seen[0] is prof


def test_widget_card_shows_the_warning(monkeypatch):
    pytest.importorskip("ipywidgets")
    from ragcompare.decide import DecisionTool

    monkeypatch.setattr(profiles, "cpu_mismatch", lambda profile, here=None: "another CPU", raising=False)
    tool = DecisionTool(profiles={"cpu": profile_with(pooled_quality())}, plot=False)
    assert "another CPU" in tool.card.value


def test_cli_prints_the_warning(monkeypatch, capsys):
    from ragcompare.cli import main

    monkeypatch.setattr(profiles, "cpu_mismatch", lambda profile, here=None: "another CPU", raising=False)
    assert main(["recommend", "--corpus-size", "1e4", "--latency-ms", "500"]) == 0
    assert "WARNING: another CPU" in capsys.readouterr().out


# -- pooling per-query values --------------------------------------------------------------------------
def _per_query_sets(seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    sets = {}
    for name, m in (("toy-a", 40), ("toy-b", 20)):
        bi = rng.uniform(0.1, 0.7, m)
        scores = {"bi-encoder": bi}
        for k in (10, 20):
            for a in (None, 0.5):
                scores[score_key(CURVE, k, a)] = bi + 0.05 + rng.normal(0, 0.02, m)
        for a in (None, 0.5):
            scores[score_key("128", 20, a)] = scores[score_key(CURVE, 20, a)] - 0.01
        sets[name] = {"per_query": {"queries": [f"q{i}" for i in range(m)],
                                    "scores": {k: v.tolist() for k, v in scores.items()}}}
    return sets


def test_pool_quality_pools_per_query_differences_and_derives_other_depths():
    sets = _per_query_sets()
    pooled = pool_quality(sets, CURVE, [CURVE, "128"], [10, 20], [0.5], delta_k=20)
    assert pooled["bi_encoder"]["queries"] == 60
    opts = {(o["setting"], o["k"], o["alpha"]): o for o in pooled["options"]}
    assert set(opts) == {(s, k, a) for s in (CURVE, "128") for k in (10, 20) for a in (None, 0.5)}
    a, b = (np.concatenate([np.asarray(sets[n]["per_query"]["scores"][key]) for n in sets])
            for key in (score_key(CURVE, 10), "bi-encoder"))
    assert opts[(CURVE, 10, None)]["diff"] == pytest.approx(float((a - b).mean()))
    assert opts[(CURVE, 10, None)]["low"] > 0 and not opts[(CURVE, 10, None)]["derived"]
    assert opts[("128", 10, None)]["derived"] and not opts[("128", 20, None)]["derived"]
    assert opts[("128", 10, None)]["diff"] == pytest.approx(opts[(CURVE, 10, None)]["diff"] - 0.01)
    assert pooled["deltas"]["128"]["diff"] == pytest.approx(-0.01)
    quality = QualityModel({"datasets": {n: {"reranker": "r", "curve_setting": CURVE} for n in sets},
                            "curve_setting": CURVE, "pooled": pooled})
    assert quality.intervals and quality.queries == 60 and quality.alphas == [0.5]
    assert quality.gain(10, "128").derived and quality.gain(10, CURVE).significant
    assert "60 queries" in quality.gain(10, CURVE).describe()
    assert len(quality.table()) == 1 + len(opts)


def test_batched_interpolation_matches_rerank_head_with_alpha():
    """``rerank_results`` (used by ``measure_quality``) fuses all queries in one ``ranx.fuse``; the
    order must be the pipeline's."""
    from ragcompare.eval.sweeps import rerank_results
    from ragcompare.rerank.head import rerank_head
    from ragcompare.types import Hit

    rng = np.random.default_rng(3)
    docs = [f"d{i}" for i in range(30)]
    first = {f"q{j}": [Hit(d, float(s)) for d, s in zip(rng.permutation(docs), np.sort(rng.random(30))[::-1])]
             for j in range(6)}
    table = {(f"text {j}", d): float(rng.normal()) for j in range(6) for d in docs}

    class Cache:
        def get(self, query, doc_ids):
            return {d: table[(query, d)] for d in doc_ids}

    queries = {f"q{j}": f"text {j}" for j in range(6)}
    for k, alpha in ((10, 0.3), (20, 0.7), (10, None)):
        got = rerank_results(first, queries, Cache(), k, 30, alpha)
        for q in first:
            want = rerank_head(first[q], Cache().get(queries[q], [h.doc_id for h in first[q][:k]]), k, 30,
                               alpha)
            assert [h.doc_id for h in got[q]] == [h.doc_id for h in want]


def test_validation_keys_and_shares_know_interpolation():
    from ragcompare.decide.validation import approach_label, option_key, scenario_grid, summarise

    prof = profile_with(pooled_quality({(CURVE, 20, 0.5): (0.06, 0.04, 0.08)}))
    scenarios, configs, alternatives = scenario_grid(prof, [1e4], [30, 2000], ["low", "high"])
    labels = [approach_label(r) for *_, r in scenarios]
    assert "hybrid (interpolated)" in labels and "bi-encoder" in labels and "infeasible" in labels
    assert any(k[-1] == 0.5 for k in configs)
    rec = next(r for *_, r in scenarios if approach_label(r) == "hybrid (interpolated)")
    assert option_key(rec.option, 10_000)[-1] == 0.5
    measured = {k: {"p50_ms": o.p50_ms, "p95_ms": o.p95_ms, "build_s": 0.0, "probe_ms": 1.0}
                for k, o in {**configs, **alternatives}.items()}
    s = summarise(scenarios, configs, alternatives, measured, probe_ms=1.0)
    assert s["approach_shares"]["hybrid (interpolated)"] == 0.25
    assert sum(s["approach_shares"].values()) == pytest.approx(1.0)


# -- measuring (real collection, tiny random reranker: plumbing only, numbers not asserted) -----------
def test_measure_quality_stores_per_query_statistics(tiny_cross_encoder_dir):
    pytest.importorskip("onnxruntime")
    from ragcompare.decide import measure_quality

    model = str(tiny_cross_encoder_dir)
    q = measure_quality(datasets=("cranfield",), ks=(10, 20), n_queries=4,
                        variants=((32, True), (32, False)), delta_k=10, alphas=(0.5,),
                        rerankers={"cranfield": ("tiny", model)}, log=lambda s: None)
    entry = q["datasets"]["cranfield"]
    assert q["curve_setting"] == "32-int8" and entry["queries_evaluated"] == 4
    assert set(entry["hybrid_gain"]) == {"10", "20"} and {"diff", "low", "high", "p_value"} <= set(
        entry["hybrid_gain"]["10"])
    assert set(entry["interpolated"]["0.5"]) == {"10", "20"}
    assert {"delta", "low", "high", "interpolated"} <= set(entry["deltas"]["32"])
    assert len(entry["per_query"]["scores"]["bi-encoder"]) == 4
    assert q["pooled"]["bi_encoder"]["queries"] == 4
    model_q = QualityModel(q)
    assert model_q.intervals and model_q.settings == ["32-int8", "32"]
    assert model_q.hybrid(20, "32", 0.5) is not None  # derived from the k=10 difference
    json.dumps(q)  # JSON-ready
