"""Describe the machine and library versions next to every measured number."""

from __future__ import annotations

import os
import platform
from importlib import metadata

_PACKAGES = ("torch", "sentence-transformers", "transformers", "faiss-cpu", "bm25s", "ranx",
             "numpy", "onnxruntime")


def cpu_model() -> str:
    """The CPU's marketing name (Linux /proc/cpuinfo, else platform.processor())."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def machine_info() -> dict[str, object]:
    """CPU, core count, torch threads, GPU (if any), OS, Python and library versions."""
    info: dict[str, object] = {"cpu": cpu_model(), "cores": os.cpu_count(),
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


def describe_machine() -> str:
    """One line for printing above a results table."""
    i = machine_info()
    gpu = f", GPU {i['gpu']}" if i.get("gpu") else ", no GPU"
    v = i["versions"]
    libs = ", ".join(f"{k} {v[k]}" for k in ("torch", "sentence-transformers", "faiss-cpu") if k in v)
    return (f"{i['cpu']} ({i['cores']} cores, torch threads {i.get('torch_threads')}{gpu}); "
            f"Python {i['python']}; {libs}")


def set_threads(n: int) -> dict[str, int]:
    """Run torch and FAISS on ``n`` threads each (on a machine shared with other jobs, fewer threads than
    cores avoids oversubscription); returns the counts now in force."""
    import faiss
    import torch

    if isinstance(n, bool) or not isinstance(n, int) or n <= 0:
        raise ValueError(f"threads must be a positive int, got {n!r}")
    torch.set_num_threads(n)
    faiss.omp_set_num_threads(n)
    return {"torch": torch.get_num_threads(), "faiss": faiss.omp_get_max_threads()}
