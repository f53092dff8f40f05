"""CPU features, GEMM peaks and the profile-vs-this-machine check (fast; no timing asserts)."""

from __future__ import annotations

import json

import pytest

from ragcompare.decide.profile import SHIPPED_PROFILE, HardwareProfile, cpu_mismatch, this_machine
from ragcompare.sysinfo import (
    GEMM_KEYS,
    SIMD_FEATURES,
    cpu_features,
    cpu_model,
    describe_features,
    describe_gemm,
    describe_machine,
    machine_info,
    measure_gemm_peaks,
)
from ragcompare.types import InvalidInputError

AVX512 = """processor\t: 0
vendor_id\t: AuthenticAMD
model name\t: AMD EPYC
flags\t\t: fpu sse sse2 avx fma f16c avx2 avx512f avx512dq avx512bw avx512vl avx512_bf16 avx512_vnni
processor\t: 1
model name\t: AMD EPYC
flags\t\t: fpu sse sse2 avx fma f16c avx2 avx512f avx512dq avx512bw avx512vl avx512_bf16 avx512_vnni
"""
AVX2 = """processor\t: 0
model name\t: AMD EPYC
flags\t\t: fpu sse sse2 avx fma f16c avx2 bmi2
"""
ARM = """processor\t: 0
BogoMIPS\t: 50.00
Features\t: fp asimd evtstrm aes crc32 atomics asimddp sve i8mm bf16
"""
HOST_A = ["avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx512_bf16"]
HOST_B = ["avx2", "fma"]


def _profile(machine: dict, device: str = "cpu") -> HardwareProfile:
    """A minimal profile: only the machine matters here."""
    return HardwareProfile(device=device, machine=machine, threads={"torch": 1, "faiss": 1},
                           created="2026-01-01T00:00:00+00:00", bi_encoder={}, indexes={}, cross_encoder={})


def _machine(features: list[str] | None = HOST_A, gemm: dict | None = None, **kw) -> dict:
    m = {"cpu": "AMD EPYC", "cores": 2, "gpu": None, **kw}
    if features is not None:
        m["cpu_features"] = list(features)
    if gemm is not None:
        m["gemm"] = gemm
    return m


# -- features ----------------------------------------------------------------------------------------
def test_features_from_fake_cpuinfo():
    assert cpu_features(AVX512) == HOST_A
    assert cpu_features(AVX2) == HOST_B
    assert cpu_features(ARM) == ["asimd", "asimddp", "sve", "i8mm", "bf16"]
    assert cpu_features("") == [] and cpu_features("model name : x\n") == []
    assert cpu_model(AVX512) == "AMD EPYC"


def test_features_short_form():
    assert describe_features(HOST_A) == "AVX-512+VNNI+BF16"
    assert describe_features(HOST_B) == "AVX2+FMA"
    assert describe_features(["avx2", "fma", "avx_vnni", "amx_tile", "amx_int8"]) == "AVX2+FMA+AVX-VNNI+AMX"
    assert describe_features(cpu_features(ARM)) == "SVE+dotprod+I8MM+BF16"
    assert describe_features([]) == "SIMD features unknown"


def test_this_machine_is_described_with_its_features():
    feats = cpu_features()
    assert isinstance(feats, list) and set(feats) <= set(SIMD_FEATURES)
    assert machine_info()["cpu_features"] == feats
    assert describe_features(feats) in describe_machine()


# -- GEMM peaks --------------------------------------------------------------------------------------
def test_gemm_peaks_are_positive_with_expected_keys():
    peaks = measure_gemm_peaks(size=64, repeats=2, threads=1)
    assert peaks["size"] == 64 and peaks["repeats"] == 2
    assert peaks["numpy_fp32_gflops"] > 0
    rates = {k: v for k, v in peaks.items() if k in GEMM_KEYS}
    assert set(rates) <= set(GEMM_KEYS) and all(v > 0 for v in rates.values())
    try:
        import torch  # noqa: F401
    except ImportError:
        assert peaks["threads"] is None
    else:
        assert peaks["threads"] == 1 and peaks["torch_fp32_gflops"] > 0
    assert "GFLOP/s" in describe_gemm(peaks) and "GFLOP/s" in describe_machine(gemm=peaks)


def test_gemm_peaks_restore_torch_threads():
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    measure_gemm_peaks(size=32, repeats=1, threads=1)
    assert torch.get_num_threads() == before


@pytest.mark.parametrize("kwargs", [{"size": 0}, {"size": 2.5}, {"repeats": 0}, {"threads": 0},
                                    {"threads": True}, {"budget_s": -1}])
def test_gemm_peaks_refuse_bad_input(kwargs):
    with pytest.raises(InvalidInputError):
        measure_gemm_peaks(**kwargs)


# -- profile vs this machine -------------------------------------------------------------------------
def test_same_machine_gives_no_warning():
    gemm = {"size": 1024, "threads": 2, "torch_fp32_gflops": 266.0, "torch_int8_gops": 1080.0}
    profile = _profile(_machine(HOST_A, gemm=gemm))
    assert profile.cpu_features == HOST_A and profile.gemm_peaks == gemm
    assert cpu_mismatch(profile, _machine(HOST_A)) is None
    near = {**gemm, "torch_fp32_gflops": 200.0, "torch_int8_gops": 900.0}  # within 1.5x
    assert cpu_mismatch(profile, _machine(HOST_A, gemm=near)) is None


def test_different_features_are_named():
    msg = cpu_mismatch(_profile(_machine(HOST_A)), _machine(HOST_B))
    assert msg is not None and "ragcompare calibrate" in msg
    assert "avx512f" in msg and "avx512_vnni" in msg and "lacks" in msg
    assert "AVX-512+VNNI+BF16" in msg  # the profile's CPU, in short form
    msg = cpu_mismatch(_profile(_machine(HOST_B)), _machine(HOST_A))
    assert "avx512_vnni" in msg and "which the profile's CPU lacks" in msg


def test_model_cores_and_gpu_differences_are_named():
    msg = cpu_mismatch(_profile(_machine(HOST_A)), _machine(HOST_A, cpu="Intel Xeon", cores=8))
    assert "Intel Xeon" in msg and "8 cores here, 2 in the profile" in msg
    assert cpu_mismatch(_profile(_machine(HOST_A)), _machine(HOST_A, cpu="AMD  EPYC")) is None  # spacing
    gpu = _profile(_machine(HOST_A, gpu="NVIDIA H200"), device="cuda")
    assert "GPU" in cpu_mismatch(gpu, _machine(HOST_A, gpu="NVIDIA T4"))
    assert cpu_mismatch(gpu, _machine(HOST_A, gpu="NVIDIA H200")) is None


def test_gemm_difference_beyond_tolerance_is_named():
    gemm = {"size": 1024, "threads": 2, "torch_fp32_gflops": 266.0}
    profile = _profile(_machine(HOST_A, gemm=gemm))
    slow = {**gemm, "torch_fp32_gflops": 73.0}
    msg = cpu_mismatch(profile, _machine(HOST_A, gemm=slow))
    assert "fp32 GEMM" in msg and "slower" in msg and "ragcompare calibrate" in msg
    assert cpu_mismatch(profile, _machine(HOST_A, gemm=slow), tolerance=4.0) is None
    # measured on another thread count: not comparable, so nothing is said about it
    assert cpu_mismatch(profile, _machine(HOST_A, gemm={**slow, "threads": 1})) is None
    with pytest.raises(InvalidInputError):
        cpu_mismatch(profile, _machine(HOST_A), tolerance=0.5)
    with pytest.raises(InvalidInputError):
        cpu_mismatch(profile, "AMD EPYC")


def test_unknown_sides_are_not_guessed():
    # this machine's features unreadable (not Linux): nothing to compare on features
    assert cpu_mismatch(_profile(_machine(HOST_A)), _machine([])) is None
    # profile recorded an empty list (calibrated where features were unreadable): likewise
    assert cpu_mismatch(_profile(_machine([])), _machine(HOST_B)) is None
    # GEMM measured here but not in the profile: nothing said about it
    assert cpu_mismatch(_profile(_machine(HOST_A)), _machine(HOST_A, gemm={"threads": 1,
                                                                         "torch_fp32_gflops": 1.0})) is None


def test_old_profile_without_features_gets_a_mild_note(tmp_path):
    old = _profile(_machine(features=None))
    path = old.save(tmp_path / "old.json")
    data = json.loads(path.read_text())
    assert "cpu_features" not in data["machine"] and "gemm" not in data["machine"]
    loaded = HardwareProfile.load(path)
    assert loaded.cpu_features is None and loaded.gemm_peaks is None
    msg = cpu_mismatch(loaded, _machine(HOST_B))
    assert "does not record" in msg and "ragcompare calibrate" in msg and "AVX2+FMA" in msg
    assert cpu_mismatch(loaded, _machine([])) is None  # features unknown on both sides: say nothing
    # a real difference is still named, with the note alongside
    msg = cpu_mismatch(loaded, _machine(HOST_B, cores=4))
    assert "4 cores here" in msg and "does not record" in msg


def test_shipped_profile_still_loads_and_is_checked():
    shipped = HardwareProfile.load(SHIPPED_PROFILE)
    assert shipped.machine.get("cpu")
    here = this_machine(shipped)
    assert {"cpu", "cores", "cpu_features"} <= set(here)
    msg = cpu_mismatch(shipped, here)
    if shipped.cpu_features is None and here["cpu_features"]:
        assert msg and "ragcompare calibrate" in msg
    assert cpu_mismatch(shipped, dict(shipped.machine)) is None  # its own machine: no warning


def test_round_trip_keeps_features_and_gemm(tmp_path):
    gemm = measure_gemm_peaks(size=32, repeats=1, threads=1)
    profile = _profile({**machine_info(), "gemm": gemm})
    loaded = HardwareProfile.load(profile.save(tmp_path / "cpu.json"))
    assert loaded.cpu_features == cpu_features() and loaded.gemm_peaks == gemm
    assert loaded.to_json() == profile.to_json()
    assert cpu_mismatch(loaded, {**this_machine(loaded), "gemm": gemm}) is None


def test_restored_threads_puts_the_counts_back_even_after_an_error():
    import faiss
    import torch

    from ragcompare.sysinfo import restored_threads, set_threads

    before = (torch.get_num_threads(), faiss.omp_get_max_threads())
    with pytest.raises(RuntimeError), restored_threads():
        set_threads(1 if before[0] != 1 else 2)
        raise RuntimeError("inside the block")
    assert (torch.get_num_threads(), faiss.omp_get_max_threads()) == before
