"""Describe the machine and library versions next to every measured number.

Two hosts sold as the same "AMD EPYC, 2 cores" can differ several times in speed (one with AVX-512 and
VNNI, one with AVX2 only), so the description names the CPU's SIMD features (:func:`cpu_features`) and
:func:`measure_gemm_peaks` measures what its matrix multiplies actually reach.
"""

from __future__ import annotations

import contextlib
import os
import platform
import statistics
import time
from collections.abc import Callable, Iterator
from importlib import metadata

from ragcompare.checks import check_float, check_int, check_positive_int

_PACKAGES = ("torch", "sentence-transformers", "transformers", "faiss-cpu", "bm25s", "ranx",
             "numpy", "onnxruntime")

# The /proc/cpuinfo flags that decide how fast dense fp32 / int8 / bf16 kernels run, in display order:
# x86 ("flags" line), then ARM ("Features" line).
SIMD_FEATURES = ("avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx_vnni", "avx512_bf16",
                 "avx512_fp16", "amx_tile", "amx_int8", "amx_bf16",
                 "asimd", "asimddp", "sve", "sve2", "i8mm", "bf16")

GEMM_KEYS = ("numpy_fp32_gflops", "torch_fp32_gflops", "torch_int8_gops")
"""The rates :func:`measure_gemm_peaks` may report (the torch ones only where torch runs them)."""


def _read_cpuinfo() -> str:
    """The text of /proc/cpuinfo, or "" where there is none (not Linux, no permission)."""
    try:
        with open("/proc/cpuinfo") as f:
            return f.read()
    except OSError:
        return ""


def cpu_model(cpuinfo: str | None = None) -> str:
    """The CPU's marketing name (Linux /proc/cpuinfo, else platform.processor()).

    ``cpuinfo`` is the text to parse instead of this machine's /proc/cpuinfo (for tests)."""
    text = _read_cpuinfo() if cpuinfo is None else cpuinfo
    for line in text.splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def cpu_features(cpuinfo: str | None = None) -> list[str]:
    """The CPU's SIMD features that matter for model inference (:data:`SIMD_FEATURES`, in that order),
    e.g. ``["avx2", "fma", "avx512f", ..., "avx512_vnni"]``.

    Read from the first ``flags`` (x86) or ``Features`` (ARM) line of /proc/cpuinfo, or of ``cpuinfo``
    when given (for tests). Empty where that cannot be read (not Linux): unknown, never an error.
    """
    text = _read_cpuinfo() if cpuinfo is None else cpuinfo
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip().lower() in ("flags", "features"):
            have = set(value.lower().split())
            return [f for f in SIMD_FEATURES if f in have]
    return []


def describe_features(features: list[str] | tuple[str, ...]) -> str:
    """A short form of :func:`cpu_features`: ``"AVX-512+VNNI+BF16"``, ``"AVX2+FMA"``, ``"NEON+dotprod"``."""
    f = set(features)
    if not f:
        return "SIMD features unknown"
    if "avx512f" in f:
        parts = ["AVX-512"] + [name for flag, name in (("avx512_vnni", "VNNI"), ("avx512_bf16", "BF16"),
                                                       ("avx512_fp16", "FP16")) if flag in f]
    elif "avx2" in f:
        parts = ["AVX2"] + [name for flag, name in (("fma", "FMA"), ("avx_vnni", "AVX-VNNI")) if flag in f]
    elif f & {"asimd", "sve", "sve2"}:
        base = "SVE2" if "sve2" in f else "SVE" if "sve" in f else "NEON"
        parts = [base] + [name for flag, name in (("asimddp", "dotprod"), ("i8mm", "I8MM"), ("bf16", "BF16"))
                          if flag in f]
    else:
        parts = [x.upper() for x in features]
    if f & {"amx_tile", "amx_int8", "amx_bf16"}:
        parts.append("AMX")
    return "+".join(parts)


def machine_info() -> dict[str, object]:
    """CPU, core count, SIMD features, torch threads, GPU (if any), OS, Python and library versions."""
    info: dict[str, object] = {"cpu": cpu_model(), "cores": os.cpu_count(), "cpu_features": cpu_features(),
                               "platform": platform.platform(), "python": platform.python_version()}
    try:
        import torch

        info["torch_threads"] = torch.get_num_threads()
        info["gpu"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    except ImportError:
        info["gpu"] = None
    versions = {}
    for pkg in _PACKAGES:
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            continue
    info["versions"] = versions
    return info


def describe_gemm(peaks: dict) -> str:
    """One phrase for :func:`measure_gemm_peaks` output, e.g. ``"fp32 GEMM 266 GFLOP/s (torch),
    int8 1080 GOP/s, 2 threads"``."""
    parts = []
    fp32 = peaks.get("torch_fp32_gflops") or peaks.get("numpy_fp32_gflops")
    if fp32:
        lib = "torch" if peaks.get("torch_fp32_gflops") else "numpy"
        parts.append(f"fp32 GEMM {fp32:.0f} GFLOP/s ({lib})")
    if peaks.get("torch_int8_gops"):
        parts.append(f"int8 {peaks['torch_int8_gops']:.0f} GOP/s")
    if peaks.get("threads"):
        parts.append(f"{peaks['threads']} thread{'s' if peaks['threads'] != 1 else ''}")
    return ", ".join(parts) or "GEMM peaks not measured"


def describe_machine(gemm: dict | None = None) -> str:
    """One line for printing above a results table; ``gemm`` (from :func:`measure_gemm_peaks`) adds the
    measured matrix-multiply peaks."""
    i = machine_info()
    gpu = f", GPU {i['gpu']}" if i.get("gpu") else ", no GPU"
    v = i["versions"]
    libs = ", ".join(f"{k} {v[k]}" for k in ("torch", "sentence-transformers", "faiss-cpu") if k in v)
    peaks = f"; {describe_gemm(gemm)}" if gemm else ""
    return (f"{i['cpu']} ({i['cores']} cores, {describe_features(i['cpu_features'])}, "
            f"torch threads {i.get('torch_threads')}{gpu}); Python {i['python']}; {libs}{peaks}")


# -- measured matrix-multiply peaks -------------------------------------------------------------------
def _rate(call: Callable[[], object], ops: float, repeats: int, budget_s: float) -> float:
    """Giga-operations per second of ``call``: median over up to ``repeats`` timed calls after one
    warm-up; stops early once the timed calls exceed ``budget_s`` (at least one is always timed)."""
    call()
    times: list[float] = []
    while len(times) < repeats and (not times or sum(times) < budget_s):
        t0 = time.perf_counter()
        call()
        times.append(time.perf_counter() - t0)
    return float(f"{ops / max(statistics.median(times), 1e-9) / 1e9:.4g}")


def _int_mm_works(torch) -> bool:
    """Whether ``torch._int_mm`` exists and gives exact int8 x int8 -> int32 products on CPU."""
    fn = getattr(torch, "_int_mm", None)
    if fn is None:
        return False
    try:
        g = torch.Generator().manual_seed(0)
        a = torch.randint(-128, 128, (32, 64), dtype=torch.int8, generator=g)
        b = torch.randint(-128, 128, (64, 32), dtype=torch.int8, generator=g)
        out = fn(a, b)
        return out.dtype == torch.int32 and bool(torch.equal(out, a.to(torch.int32) @ b.to(torch.int32)))
    except Exception:  # noqa: BLE001 - not supported on this build/CPU: leave the int8 rate out
        return False


def measure_gemm_peaks(size: int = 1024, repeats: int = 5, threads: int | None = None,
                       budget_s: float = 0.6) -> dict:
    """Measured square GEMM rates of this machine: fp32 with numpy and (if importable) torch, and int8
    (``torch._int_mm``, only where it exists and works on CPU; left out otherwise).

    Returns ``{"size", "repeats", "threads", "numpy_threads", "numpy_fp32_gflops", "torch_fp32_gflops",
    "torch_int8_gops"}`` (the torch keys only when measured); each rate is the median over ``repeats``
    calls after a warm-up, cut short after ``budget_s`` seconds per kernel so the whole measurement stays
    around a second or two. ``threads`` runs torch (and numpy's BLAS, where ``threadpoolctl`` is
    installed) on that many threads for the measurement; ``threads`` in the result is torch's count in
    force (or ``None`` without torch), ``numpy_threads`` the BLAS's where known.
    """
    size = check_int(size, "size", minimum=8)
    repeats = check_positive_int(repeats, "repeats")
    threads = None if threads is None else check_positive_int(threads, "threads")
    budget_s = check_float(budget_s, "budget_s", positive=True)
    import numpy as np

    ops = 2.0 * size ** 3
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((size, size), dtype=np.float32) for _ in range(2))
    out: dict = {"size": size, "repeats": repeats, "threads": None, "numpy_threads": None}

    try:
        from threadpoolctl import threadpool_info, threadpool_limits
    except ImportError:
        threadpool_info = threadpool_limits = None
    if threadpool_limits is not None and threads is not None:
        with threadpool_limits(limits=threads, user_api="blas"):
            out["numpy_fp32_gflops"] = _rate(lambda: a @ b, ops, repeats, budget_s)
        out["numpy_threads"] = threads
    else:
        out["numpy_fp32_gflops"] = _rate(lambda: a @ b, ops, repeats, budget_s)
        blas = [i for i in (threadpool_info() if threadpool_info else []) if i.get("user_api") == "blas"]
        out["numpy_threads"] = blas[0].get("num_threads") if blas else None

    try:
        import torch
    except ImportError:
        return out
    before = torch.get_num_threads()
    try:
        if threads is not None:
            torch.set_num_threads(threads)
        out["threads"] = torch.get_num_threads()
        with torch.inference_mode():
            ta, tb = torch.from_numpy(a), torch.from_numpy(b)
            out["torch_fp32_gflops"] = _rate(lambda: ta @ tb, ops, repeats, budget_s)
            if _int_mm_works(torch):
                g = torch.Generator().manual_seed(0)
                ia, ib = (torch.randint(-128, 128, (size, size), dtype=torch.int8, generator=g)
                          for _ in range(2))
                try:
                    out["torch_int8_gops"] = _rate(lambda: torch._int_mm(ia, ib), ops, repeats, budget_s)
                except Exception:  # noqa: BLE001 - e.g. a size this build's kernel refuses: leave it out
                    pass
    finally:
        torch.set_num_threads(before)
    return out


@contextlib.contextmanager
def restored_threads() -> Iterator[None]:
    """Put torch's and FAISS's thread counts back as they were when the block ends, whatever it set."""
    import faiss
    import torch

    before = (torch.get_num_threads(), faiss.omp_get_max_threads())
    try:
        yield
    finally:
        torch.set_num_threads(before[0])
        faiss.omp_set_num_threads(before[1])


def set_threads(n: int) -> dict[str, int]:
    """Run torch and FAISS on ``n`` threads each (on a machine shared with other jobs, fewer threads than
    cores avoids oversubscription); returns the counts now in force."""
    import faiss
    import torch

    n = check_positive_int(n, "threads")
    torch.set_num_threads(n)
    faiss.omp_set_num_threads(n)
    return {"torch": torch.get_num_threads(), "faiss": faiss.omp_get_max_threads()}
