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
