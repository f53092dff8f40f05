"""The one timing harness: warm-up, repeats, round-robin interleaving, p50/p95/p99, peak memory.

Everything ragcompare times goes through these functions -- the benchmark, calibration, the
performance runs, the notebooks -- so every latency figure means the same thing: wall-clock seconds
of one call, measured after untimed warm-up calls.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from ragcompare.checks import check_float, check_int, check_positive_int
from ragcompare.types import InvalidInputError, Results


def latency_stats(seconds: Sequence[float]) -> dict[str, float]:
    """p50/p95/p99/mean in milliseconds over per-query latencies, plus the sample count."""
    if len(seconds) == 0:
        raise InvalidInputError("no latency samples")
    ms = np.asarray(seconds, dtype=np.float64) * 1000.0
    return {"p50_ms": float(np.percentile(ms, 50)), "p95_ms": float(np.percentile(ms, 95)),
            "p99_ms": float(np.percentile(ms, 99)), "mean_ms": float(ms.mean()), "n": len(ms)}


def time_interleaved(fns: Mapping[str, Callable[[int], object]], n: int, warmup: int = 0,
                     progress: bool = False, desc: str = ""
                     ) -> tuple[dict[str, list], dict[str, list[float]]]:
    """Call each ``fns[name](i)`` for items ``i = 0 .. n-1`` and time every call.

    ``warmup`` untimed rounds come first (items ``0 .. warmup-1``, every function); then, item by
    item, the functions take turns in an order rotated by one per item, so background load hits
    them alike. Returns, by name, the calls' results and their wall-clock seconds (one per item).
    """
    if not fns:
        raise InvalidInputError("nothing to time")
    if n < 0 or warmup < 0:
        raise InvalidInputError(f"need n >= 0 and warmup >= 0, got {n}, {warmup}")
    names = list(fns)
    for i in range(warmup):
        for name in names:
            fns[name](i)
    results: dict[str, list] = {name: [] for name in names}
    seconds: dict[str, list[float]] = {name: [] for name in names}
    for i in tqdm(range(n), desc=desc, disable=not progress, leave=False):
        turn = i % len(names)
        for name in names[turn:] + names[:turn]:
            fn = fns[name]
            t0 = time.perf_counter()
            out = fn(i)
            seconds[name].append(time.perf_counter() - t0)
            results[name].append(out)
    return results, seconds


def time_calls(fn: Callable[[int], object], n: int, warmup: int = 0, progress: bool = False,
               desc: str = "") -> tuple[list, list[float]]:
    """:func:`time_interleaved` for one function: ``fn(i)`` for ``i < warmup`` untimed, then
    ``fn(0) .. fn(n-1)`` timed; returns the timed calls' results and per-call seconds."""
    results, seconds = time_interleaved({"": fn}, n, warmup, progress, desc)
    return results[""], seconds[""]


def _drop_result(fn: Callable[[], object]) -> Callable[[int], None]:
    """``fn`` as a per-item call that keeps no result (nothing measured stays alive in memory)."""
    def call(_i: int) -> None:
        fn()

    return call


def time_queries(retriever, queries: Mapping[str, str], k: int, warmup: int = 1,
                 progress: bool = False, desc: str = "") -> tuple[Results, list[float]]:
    """Search each query alone (after ``warmup`` untimed queries); results and per-query seconds."""
    ids = list(queries)
    hits, times = time_calls(lambda i: retriever.search([queries[ids[i]]], k)[0], len(ids),
                             min(warmup, len(ids)), progress, desc)
    return dict(zip(ids, hits)), times


def rss_bytes() -> int:
    """Resident memory of this process in bytes (Linux /proc, else psutil, else 0)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        try:
            import psutil

            return int(psutil.Process().memory_info().rss)
        except ImportError:
            return 0


class PeakMemory:
    """Context manager sampling RSS every ``interval`` s: ``peak_mb`` and ``delta_mb`` over the start."""

    def __init__(self, interval: float = 0.005) -> None:
        self.interval = interval
        self.start = self.peak = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_bytes())
            time.sleep(self.interval)

    def __enter__(self) -> PeakMemory:
        self.start = self.peak = rss_bytes()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.peak = max(self.peak, rss_bytes())

    @property
    def peak_mb(self) -> float:
        """Highest RSS seen, MB."""
        return self.peak / 1e6

    @property
    def delta_mb(self) -> float:
        """Highest RSS seen minus RSS at entry, MB (what the measured code added)."""
        return (self.peak - self.start) / 1e6


def measure(fn: Callable[[], object], items_per_call: int = 1, repeats: int = 10, warmup: int = 2,
            track_memory: bool = True) -> dict[str, float]:
    """Call ``fn`` ``warmup`` times untimed, then ``repeats`` times timed.

    Returns p50/p95/p99/mean ms per call, throughput (items per second over all timed calls),
    and peak RSS / RSS growth in MB while the timed calls ran.
    """
    repeats = check_positive_int(repeats, "repeats")
    warmup = check_int(warmup, "warmup", minimum=0)
    items_per_call = check_float(items_per_call, "items_per_call", positive=True)
    for _ in range(warmup):
        fn()
    mem = PeakMemory()
    if track_memory:
        mem.__enter__()
    try:
        _, times = time_calls(_drop_result(fn), repeats)
    finally:
        if track_memory:
            mem.__exit__()
    out = latency_stats(times)
    out["throughput_per_s"] = items_per_call * len(times) / sum(times)
    if track_memory:
        out["peak_rss_mb"] = mem.peak_mb
        out["rss_delta_mb"] = mem.delta_mb
    return out


def measure_interleaved(fns: dict[str, Callable[[], object]], items_per_call: int = 1,
                        repeats: int = 10, warmup: int = 2) -> pd.DataFrame:
    """:func:`measure` for several alternatives, run round-robin so background load hits all alike."""
    if not fns:
        raise InvalidInputError("nothing to measure")
    _, times = time_interleaved({n: _drop_result(f) for n, f in fns.items()}, repeats, warmup)
    rows = []
    for n in fns:
        s = latency_stats(times[n])
        s["throughput_per_s"] = items_per_call * len(times[n]) / sum(times[n])
        rows.append({"name": n, **s})
    return pd.DataFrame(rows).set_index("name")


