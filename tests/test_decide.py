"""Decision helper: boundaries, bad input, profiles, CLI and widget (fast, no timing asserts)."""

from __future__ import annotations

import json
import math

import pytest

from ragcompare.decide import (
    ACCURACY_LEVELS,
    INDEX_KINDS,
    SHIPPED_PROFILE,
    CostModel,
    GaussianScaleUp,
    HardwareProfile,
    ProfileError,
    QualityModel,
    Recommendation,
    available_profiles,
    compare_with_rules_of_thumb,
    fit_linear,
    fit_power,
    latency_curves,
    load_profile,
    recommend,
    rule_of_thumb,
)
from ragcompare.types import InvalidInputError


def _points(kind: str) -> list[dict]:
    """Synthetic measurements shaped like real ones (ms, bytes, recall)."""
    per = {"Flat": (1e-4, 1.0, 1536), "IVF-Flat": (2e-3, 0.5, 1550), "HNSW32": (5e-3, 0.35, 1800),
           "IVF-PQ": (1e-3, 0.5, 40)}[kind]
    rec = {"Flat": 1.0, "IVF-Flat": 0.9, "HNSW32": 0.99, "IVF-PQ": 0.5}[kind]
    return [{"n": n, "p50_ms": per[0] * n ** per[1], "p95_ms": 1.3 * per[0] * n ** per[1],
             "bytes": int(per[2] * n), "recall@10": rec, "recall@100": rec}
            for n in (1_000, 10_000, 100_000)]


def make_profile(ms_per_pair: float = 5.0, device: str = "cpu") -> HardwareProfile:
    """A small, deterministic profile: encode 10 ms, reranker ``ms_per_pair`` (INT8: half)."""
    settings = {}
    for ml, quant, f in ((256, False, 1.0), (128, False, 0.6), (256, True, 0.5), (128, True, 0.3)):
        key = f"{ml}{'-int8' if quant else ''}"
        settings[key] = {"max_length": ml, "int8": quant, "points": [], "overhead_ms": 2.0,
                         "ms_per_pair": ms_per_pair * f, "p95_overhead_ms": 3.0,
                         "p95_ms_per_pair": 1.2 * ms_per_pair * f}
    quality = {"metric": "ndcg@10", "ks": [10, 20, 50, 100], "datasets": {
        "toy": {"reranker": "toy-reranker", "held_out": True, "bi_encoder": 0.40,
                "hybrid": {"10": 0.42, "20": 0.44, "50": 0.45, "100": 0.46},
                "curve_setting": "256",
                "deltas": {"128": {"k": 20, "delta": -0.01}, "256-int8": {"k": 20, "delta": -0.002},
                           "128-int8": {"k": 20, "delta": -0.012}}}}}
    return HardwareProfile(
        device=device, machine={"cpu": "toy CPU", "cores": 2, "gpu": None},
        threads={"torch": 1, "faiss": 1}, created="2026-01-01T00:00:00+00:00",
        bi_encoder={"model": "toy", "dim": 384, "p50_ms": 10.0, "p95_ms": 14.0},
        indexes={k: {"scaling": INDEX_KINDS[k].scaling, "ann": INDEX_KINDS[k].ann, "note": "",
                     "points": _points(k)} for k in INDEX_KINDS},
        cross_encoder={"model": "toy-reranker", "batch_size": 32, "note": "", "settings": settings},
        quality=quality)


@pytest.fixture()
def prof() -> HardwareProfile:
    return make_profile()


# -- boundaries ------------------------------------------------------------------------------------------
def test_tiny_corpus_allows_cross_encoder_only(prof):
    rec = recommend(50, 2000, "high", profile=prof)
    assert rec.feasible and rec.approach == "cross-encoder"
    assert rec.settings.index is None and rec.settings.k_retrieve is None
    assert rec.expected_ndcg10 >= rec.required_ndcg10


def test_huge_corpus_tight_budget_gets_ann_bi_encoder(prof):
    rec = recommend(5e8, 50, "low", profile=prof)
    assert rec.feasible and rec.approach == "bi-encoder"
    assert INDEX_KINDS[rec.settings.index].ann
    assert rec.predicted_p95_ms <= 50
    assert any("extrapolated" in r for r in rec.reasons)


def test_impossible_budget_is_a_clear_infeasible_answer(prof):
    rec = recommend(1e6, 1, "high", profile=prof)
    assert not rec.feasible and rec.approach is None and rec.settings is None
    assert rec.relax and any(r.startswith("latency: raise the budget to >=") for r in rec.relax)
    text = rec.summary()
    assert "infeasible" in text.lower() and "raise the budget" in text


def test_infeasible_accuracy_suggests_lower_level(prof):
    rec = recommend(1e5, 30, "high", profile=prof)
    assert not rec.feasible
    assert any("accuracy: lower the need to" in r for r in rec.relax)
    assert any("latency" in r for r in rec.relax)


def test_cheapest_option_that_meets_need(prof):
    low = recommend(1e4, 1000, "low", profile=prof)
    high = recommend(1e4, 1000, "high", profile=prof)
    assert low.approach == "bi-encoder" and low.settings.index == "Flat"
    assert high.approach == "hybrid" and high.expected_ndcg10 >= high.required_ndcg10
    assert high.predicted_p50_ms > low.predicted_p50_ms
    assert high.settings.k_retrieve in (50, 100) and high.settings.batch_size
    assert high.alternatives and all(a.why_not for a in high.alternatives)


def test_budget_monotone_more_time_never_worse_quality(prof):
    q = [recommend(1e4, b, "medium", profile=prof).expected_ndcg10 for b in (100, 300, 1000)]
    assert all(x is not None for x in q)
    # the cheapest option meeting the need: quality always reaches the need
    assert min(q) >= QualityModel(prof.quality).required("medium") - 1e-9


def test_memory_budget_is_respected(prof):
    rec = recommend(1e7, 500, "low", profile=prof, memory_budget_gb=1.0)
    if rec.feasible:
        assert rec.memory_bytes <= 1e9
    else:
        assert any(r.startswith(("memory", "corpus", "accuracy", "latency")) for r in rec.relax)


# -- bad input -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("n, budget, acc", [
    (-5, 100, "low"), (0, 100, "low"), (1e4, 0, "low"), (1e4, -1, "low"), (math.nan, 10, "low"),
    (1e4, math.inf, "low"), (True, 10, "low"), ("1000", 10, "low"), (1e4, 100, "extreme"),
    (1e4, 100, None), (0.2, 100, "low"),
])
def test_bad_input(prof, n, budget, acc):
    with pytest.raises(InvalidInputError):
        recommend(n, budget, acc, profile=prof)


def test_bad_memory_budget(prof):
    with pytest.raises(InvalidInputError):
        recommend(1e4, 100, "low", profile=prof, memory_budget_gb=0)


def test_accuracy_is_case_insensitive(prof):
    assert recommend(1e4, 100, " Low ", profile=prof).inputs["accuracy"] == "low"
    assert set(ACCURACY_LEVELS) == {"low", "medium", "high"}


# -- the course's starting rules of thumb ---------------------------------------------------------------
def test_rule_of_thumb_baseline():
    assert rule_of_thumb(500, 200, "high").approach == "cross-encoder"
    assert rule_of_thumb(5e6, 5, "medium").approach == "bi-encoder"
    assert rule_of_thumb(1e5, 80, "high").approach == "hybrid"
    assert rule_of_thumb(1e5, 80, "low").approach == "bi-encoder"
    with pytest.raises(InvalidInputError):
        rule_of_thumb(-1, 10)


def test_compare_with_rules_of_thumb_table(prof):
    df = compare_with_rules_of_thumb((100, 1e6), (10, 1000), ("high",), profile=prof)
    assert len(df) == 4
    assert {"rule_of_thumb", "measured", "agree", "interpolated", "gain", "gain_low"} <= set(df.columns)


# -- models and fits -------------------------------------------------------------------------------------
def test_fits():
    a, b = fit_linear([1, 10, 100], [3, 12, 102])
    assert a > 0 and 0.9 < b < 1.1
    c, p = fit_power([1e3, 1e4, 1e5], [1.0, 10.0, 100.0])
    assert abs(p - 1.0) < 1e-6 and abs(c * 1e6 ** p - 1000) < 1e-3


def test_cost_model_recall_never_extrapolates_upwards(prof):
    cost = CostModel(prof)
    assert cost.recall("HNSW32", 1e9, 10) <= 0.99 + 1e-9
    p50, p95, extra = cost.search_ms("Flat", 1e6)
    assert p95 >= p50 > 0 and extra


def test_gaussian_scale_up_keeps_real_vectors():
    import numpy as np

    real = np.random.default_rng(0).standard_normal((50, 8)).astype("float32")
    real /= np.linalg.norm(real, axis=1, keepdims=True)
    x = GaussianScaleUp(real).corpus(200)
    assert x.shape == (200, 8) and np.allclose(x[:50], real)
    assert np.allclose(np.linalg.norm(x, axis=1), 1.0, atol=1e-5)


def test_latency_curves(prof):
    curves = latency_curves("medium", [1e3, 1e5], profile=prof)
    assert set(curves) == {"bi-encoder", "hybrid", "cross-encoder"}
    assert curves["bi-encoder"][0][0] == 1000 and not curves["bi-encoder"][0][2]
    assert curves["hybrid"][0][2] and curves["hybrid"][0][1] > curves["bi-encoder"][0][1]
    assert len(curves["cross-encoder"]) == 1  # not considered above CE_ONLY_MAX_DOCS


# -- profiles --------------------------------------------------------------------------------------------
def test_shipped_profile_records_machine_and_threads():
    p = HardwareProfile.load(SHIPPED_PROFILE)
    assert p.device == "cpu" and p.machine.get("cpu") and p.machine.get("cores")
    assert p.threads.get("torch") == 1
    assert {"Flat", "HNSW32"} <= set(p.indexes)
    assert p.cross_encoder["settings"]
    rec = recommend(2e6, 50, "high", profile=p)
    assert isinstance(rec, Recommendation)


def test_user_profile_replaces_shipped(tmp_path, monkeypatch, prof):
    monkeypatch.setenv("RAGCOMPARE_CACHE_DIR", str(tmp_path))
    assert load_profile().source == str(SHIPPED_PROFILE)
    prof.save(tmp_path / "profiles" / "cpu.json")
    assert available_profiles()["cpu"] == tmp_path / "profiles" / "cpu.json"
    assert load_profile().machine["cpu"] == "toy CPU"


def test_no_invented_gpu_profile(tmp_path, monkeypatch):
    monkeypatch.setenv("RAGCOMPARE_CACHE_DIR", str(tmp_path))
    if "cuda" in available_profiles():
        pytest.skip("a measured GPU profile exists here")
    with pytest.raises(ProfileError, match="calibrate"):
        load_profile("cuda")


def test_corrupt_profile(tmp_path):
    bad = tmp_path / "x.json"
    bad.write_text("{not json")
    with pytest.raises(ProfileError):
        HardwareProfile.load(bad)
    bad.write_text(json.dumps({"format": "other"}))
    with pytest.raises(ProfileError):
        HardwareProfile.load(bad)


# -- CLI -------------------------------------------------------------------------------------------------
def test_cli_recommend(capsys):
    from ragcompare.cli import main

    assert main(["recommend", "--corpus-size", "2e6", "--latency-ms", "50", "--accuracy", "high"]) == 0
    out = capsys.readouterr().out
    assert "need: 2,000,000 documents" in out and "the course's starting rules of thumb say" in out
    assert "seed" not in out
    assert main(["recommend", "--corpus-size", "-3", "--latency-ms", "50"]) == 2


def test_cli_recommend_json(capsys):
    from ragcompare.cli import main

    assert main(["recommend", "--corpus-size", "1e4", "--latency-ms", "500", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["inputs"]["corpus_size"] == 10_000 and "feasible" in data


# -- widget ----------------------------------------------------------------------------------------------
def test_widget_updates_on_slider_and_preset(prof):
    pytest.importorskip("ipywidgets")
    from ragcompare.decide import PRESETS, DecisionTool

    tool = DecisionTool(profiles={"cpu": prof}, plot=False)
    first = tool.card.value
    tool.accuracy.value = "low" if tool.accuracy.value != "low" else "high"
    assert tool.card.value != first
    before = tool.card.value
    name = next(iter(PRESETS))
    tool.apply_preset(name)
    assert tool.card.value != before or tool.recommendation.inputs["accuracy"] == PRESETS[name][2]
    assert not tool.gpu_note.value == ""


# -- calibration (real measurement, quick sizes; no assertions on the numbers) --------------------------
def test_calibrate_quick_writes_a_profile(tmp_path):
    from ragcompare.decide import calibrate

    out = tmp_path / "cpu.json"
    prof = calibrate(quick=True, output=out, log=lambda s: None)
    loaded = HardwareProfile.load(out)
    assert loaded.threads["torch"] == 1 and loaded.machine["cpu"]
    assert loaded.probe_ms and loaded.bi_encoder["p50_ms"] > 0
    assert all(len(v["points"]) == 2 for v in loaded.indexes.values())
    assert set(loaded.cross_encoder["settings"]) == {"128", "256", "128-int8", "256-int8"}
    assert {s["backend"] for s in loaded.cross_encoder["settings"].values()} == {"torch", "onnx-int8"}
    assert recommend(1e5, 1000, "medium", profile=prof).inputs["corpus_size"] == 100_000


# -- package layout ----------------------------------------------------------------------------------------
def test_exported_functions_are_not_shadowed_by_modules():
    """A module named like an exported function would replace it once imported (the old layout's bug)."""
    import importlib
    import inspect
    import pkgutil

    import ragcompare.decide as decide

    modules = {m.name for m in pkgutil.iter_modules(decide.__path__)}
    for name in modules:
        importlib.import_module(f"ragcompare.decide.{name}")
    assert not modules & set(decide.__all__)
    from ragcompare.decide import calibrate as calibrate_fn
    from ragcompare.decide import recommend as recommend_fn

    assert inspect.isfunction(calibrate_fn) and inspect.isfunction(recommend_fn)
    import ragcompare

    assert ragcompare.recommend is recommend_fn and ragcompare.calibrate is calibrate_fn


# -- index families are eval.ann specs ---------------------------------------------------------------------
def test_index_kinds_build_with_ann_build_index():
    import numpy as np

    from ragcompare.decide import nlist_for
    from ragcompare.eval.ann import build_index

    x = np.random.default_rng(0).standard_normal((2_000, 48)).astype("float32")
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    for kind in INDEX_KINDS.values():
        spec = kind.spec(len(x))
        assert spec.factory == kind.factory(len(x)) and spec.params == kind.search_params(len(x))
        index = build_index(spec, x, kind.training_sample(x))
        assert index.ntotal == len(x)
    assert INDEX_KINDS["IVF-PQ"].factory(2_000) == f"IVF{nlist_for(2_000)},PQ48x4fs"


def test_training_sample_caps_ivf_training_but_keeps_39_per_cell():
    import numpy as np

    from ragcompare.decide import nlist_for
    from ragcompare.decide.indexes import TRAIN_MAX

    ivf = INDEX_KINDS["IVF-Flat"]
    assert ivf.training_sample(np.zeros((TRAIN_MAX, 2))) is None
    assert INDEX_KINDS["HNSW32"].training_sample(np.zeros((100_000, 2))) is None
    sample = ivf.training_sample(np.arange(60_000)[:, None].astype("float32"))
    assert sample.shape == (TRAIN_MAX, 1) and np.all(np.diff(sample[:, 0]) > 0)  # sorted, no repeats
    assert len(ivf.training_sample(np.zeros((400_000, 1)))) == 39 * nlist_for(400_000) > TRAIN_MAX


def test_gaussian_scale_up_corpora_are_nested():
    import numpy as np

    real = np.random.default_rng(1).standard_normal((20, 4)).astype("float32")
    scale = GaussianScaleUp(real)
    assert np.array_equal(scale.corpus(50), scale.corpus(80)[:50])
    with pytest.raises(InvalidInputError):
        GaussianScaleUp(real[:1])


# -- INT8 means ONNX Runtime -------------------------------------------------------------------------------
def test_int8_setting_is_the_onnx_runtime_reranker(tmp_path, monkeypatch, tiny_cross_encoder_dir):
    pytest.importorskip("onnxruntime")
    from ragcompare.decide import setting_key, setting_reranker
    from ragcompare.rerank.cross_encoder import CrossEncoderReranker
    from ragcompare.rerank.onnx import OnnxCrossEncoderReranker

    monkeypatch.setenv("RAGCOMPARE_CACHE_DIR", str(tmp_path))
    model = str(tiny_cross_encoder_dir)
    fp32, int8 = setting_reranker(model, 32), setting_reranker(model, 32, int8=True, threads=1)
    assert type(fp32) is CrossEncoderReranker and fp32.max_length == 32
    assert isinstance(int8, OnnxCrossEncoderReranker) and int8.variant == "onnx-int8"
    assert int8.score_pairs([("wing", "flow"), ("cat", "mat")]).shape == (2,)
    assert (setting_key(128, True), setting_key(256, False)) == ("128-int8", "256")


def test_timing_falls_back_to_a_saved_stand_in(tmp_path, monkeypatch):
    import ragcompare.models.resolve as resolve
    from ragcompare.decide import timing_reranker
    from ragcompare.decide.rerankers import STAND_IN_NAME
    from ragcompare.rerank.cross_encoder import CrossEncoderReranker

    def unavailable(_name=None):
        raise resolve.ModelNotAvailableError("offline, nothing shipped")

    monkeypatch.setenv("RAGCOMPARE_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(resolve, "pick_reranker", unavailable)
    name, model, note = timing_reranker(log=lambda s: None)
    assert name == STAND_IN_NAME and note and model.startswith(str(tmp_path))
    assert timing_reranker(log=lambda s: None)[1] == model  # built once
    assert CrossEncoderReranker(model, max_length=64).score_pairs([("a wing", "a flow")]).shape == (1,)


def test_legacy_int8_profile_is_flagged(prof):
    rec = recommend(1e4, 300, "medium", profile=prof)
    assert rec.settings.optimization == "ONNX Runtime INT8 (onnx-int8)"
    assert any("older backend" in r for r in rec.reasons)
    for s in prof.cross_encoder["settings"].values():
        s["backend"] = "onnx-int8" if s["int8"] else "torch"
    prof.quality["int8_backend"] = "onnx-int8"
    rec = recommend(1e4, 300, "medium", profile=prof)
    assert any("ONNX Runtime" in r for r in rec.reasons)
    assert not any("older backend" in r for r in rec.reasons)


# -- the quality sweep reorders the head like the old hand-written loop -------------------------------
def test_quality_sweep_matches_head_only_reordering():
    """``rerank_head`` keeps the tail the old loop dropped: nDCG@10 is the same for every k >= 10."""
    import numpy as np

    from ragcompare.eval.metrics import evaluate
    from ragcompare.eval.sweeps import PairScoreCache, sweep_k_retrieve
    from ragcompare.types import Hit

    rng = np.random.default_rng(0)
    docs = {f"d{i}": f"text {i}" for i in range(60)}
    queries = {f"q{j}": f"query {j}" for j in range(8)}
    first = {q: [Hit(d, float(-r)) for r, d in enumerate(rng.permutation(list(docs)))] for q in queries}
    qrels = {q: {d: int(rng.integers(1, 3)) for d in rng.choice(list(docs), 6, replace=False)}
             for q in queries}
    table = {(q, d): float(s) for q in queries.values() for d, s in zip(docs.values(), rng.random(60))}

    class Reranker:
        def score(self, query, documents):
            return np.array([table[(query, d)] for d in documents], dtype=np.float32)

    cache = PairScoreCache(Reranker(), docs)
    ks = (10, 20, 50)
    new = sweep_k_retrieve(first, queries, cache, qrels, ks, metrics=["ndcg@10"])
    for k, got in zip(new["k_retrieve"], new["ndcg@10"]):
        old = {}
        for q in queries:  # the loop measure_quality used to run
            head = first[q][:k]
            scores = np.asarray([table[(queries[q], docs[h.doc_id])] for h in head], dtype=np.float32)
            order = np.argsort(-scores, kind="stable")
            old[q] = [Hit(head[i].doc_id, float(len(head) - r)) for r, i in enumerate(order)]
        assert got == evaluate(old, qrels, ["ndcg@10"])["ndcg@10"]


# -- validation (no measurement) -----------------------------------------------------------------------
def test_scenario_grid_and_summary(prof):
    from ragcompare.decide.validation import option_key, scenario_grid, summarise

    scenarios, configs, alternatives = scenario_grid(prof, [1e3, 1e5], [100, 1000], ["low", "high"],
                                                     alternatives_max_ms=1e9)
    assert len(scenarios) == 8 and configs and not set(configs) & set(alternatives)
    for n, _, _, rec in scenarios:
        if rec.feasible:
            assert option_key(rec.option, n) in configs
    measured = {k: {"p50_ms": o.p50_ms, "p95_ms": o.p95_ms, "build_s": 0.0, "probe_ms": 1.0}
                for k, o in {**configs, **alternatives}.items()}
    s = summarise(scenarios, configs, alternatives, measured, probe_ms=1.0)
    assert s["share_p50_within_25pct"] == 1.0 and s["median_error"] == 0.0 and not [
        r for r in s["misses"] if abs(r["p50_error"]) > 0.25]
