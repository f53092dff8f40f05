"""Hardware profiles: the measured costs of one machine, as JSON, and where they are found.

A profile is written by ``ragcompare calibrate`` (:func:`ragcompare.decide.calibrate`) into the user's
cache dir; a reference profile ships with the package (``profiles/reference-cpu.json``). The user's
own profile of a device replaces the shipped one.

A profile only predicts the machine it was measured on: two hosts sold as the same "AMD EPYC, 2 cores"
were seen to differ several times in matrix-multiply speed (AVX-512 with VNNI against AVX2 only). The
profile's ``machine`` dict therefore records the CPU's SIMD features (``cpu_features``) and measured GEMM
peaks (``gemm``, :func:`ragcompare.sysinfo.measure_gemm_peaks`), and :func:`cpu_mismatch` says when this
machine is not the profiled one. Profiles written before these keys existed load unchanged.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from ragcompare.checks import check_float, check_positive_int
from ragcompare.settings import cache_dir
from ragcompare.storage import ArtifactError, atomic_write_json, read_json_object
from ragcompare.sysinfo import GEMM_KEYS, cpu_features, cpu_model, describe_features, measure_gemm_peaks
from ragcompare.types import InvalidInputError, RagCompareError

FORMAT = "ragcompare.profile/1"
SHIPPED_DIR = Path(__file__).resolve().parent / "profiles"
SHIPPED_PROFILE = SHIPPED_DIR / "reference-cpu.json"


class ProfileError(RagCompareError):
    """A hardware profile is missing, corrupt or of an unknown format."""


@dataclass
class HardwareProfile:
    """Measured costs of one machine (JSON-serialisable; see :func:`ragcompare.decide.calibrate`)."""

    device: str
    machine: dict
    threads: dict
    created: str
    bi_encoder: dict
    indexes: dict
    cross_encoder: dict
    quality: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    probe_ms: float | None = None
    source: str = ""

    def to_json(self) -> dict:
        """JSON-ready dict (with the format tag)."""
        d = asdict(self)
        d.pop("source")
        return {"format": FORMAT, **d}

    def save(self, path: str | Path) -> Path:
        """Write the profile as JSON, atomically (a failed save leaves the previous file as it was);
        a value JSON cannot hold (NaN, a numpy array) is refused before anything is written."""
        if not isinstance(path, (str, os.PathLike)) or not str(path).strip():
            raise InvalidInputError(f"path must be a file path, got {path!r}")
        path = Path(path).expanduser()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_json(path, self.to_json(), indent=1)
        except ArtifactError as e:
            raise ProfileError(f"hardware profile not saved to {path}: {e}") from None
        except OSError as e:
            raise ProfileError(f"hardware profile not saved to {path}: {e.strerror or e}") from None
        return path

    @classmethod
    def load(cls, path: str | Path) -> HardwareProfile:
        """Read a profile written by :meth:`save` (checks the format tag, the fields and their
        types; :func:`check_profile` checks that it can predict anything)."""
        path = Path(path).expanduser()
        data = _read_tagged(path)
        data.pop("format")
        names = {f.name for f in fields(cls)} - {"source"}
        missing = sorted(n for n in names if n not in data and n not in _OPTIONAL)
        unknown = sorted(set(data) - names)
        if missing or unknown:
            raise ProfileError(f"hardware profile {path} is malformed: "
                               + "; ".join([*([f"missing {', '.join(missing)}"] if missing else []),
                                            *([f"unknown {', '.join(unknown)}"] if unknown else [])]))
        for name, kind in _TYPES.items():
            if name in data and not isinstance(data[name], kind):
                raise ProfileError(f"hardware profile {path}: {name} must be a "
                                   f"{kind.__name__ if isinstance(kind, type) else 'number'}, got "
                                   f"{type(data[name]).__name__}")
        return cls(**data, source=str(path))

    @property
    def label(self) -> str:
        """Short human description: device, CPU/GPU name, threads."""
        gpu = self.machine.get("gpu")
        what = gpu if self.device != "cpu" and gpu else self.machine.get("cpu", "?")
        return f"{self.device.upper()}: {what} (torch threads {self.threads.get('torch')})"

    @property
    def cpu_features(self) -> list[str] | None:
        """The profiled CPU's SIMD features (:func:`ragcompare.sysinfo.cpu_features`); ``None`` when the
        profile predates recording them (an empty list: recorded, but unreadable on that machine)."""
        features = self.machine.get("cpu_features")
        return list(features) if isinstance(features, (list, tuple)) else None

    @property
    def gemm_peaks(self) -> dict | None:
        """The GEMM rates measured while calibrating (:func:`ragcompare.sysinfo.measure_gemm_peaks`), or
        ``None`` when the profile does not record them."""
        gemm = self.machine.get("gemm")
        return dict(gemm) if isinstance(gemm, dict) else None


_OPTIONAL = {"quality", "notes", "probe_ms"}
"""Fields a profile may lack (older ones do)."""
_TYPES: dict[str, type | tuple[type, ...]] = {
    "device": str, "machine": dict, "threads": dict, "created": str, "bi_encoder": dict,
    "indexes": dict, "cross_encoder": dict, "quality": dict, "notes": list,
    "probe_ms": (int, float, type(None))}


def _read_tagged(path: Path) -> dict:
    """The JSON object at ``path`` if it carries this module's format tag, else :class:`ProfileError`."""
    if not path.is_file():
        raise ProfileError(f"no hardware profile at {path}")
    try:
        data = read_json_object(path, "hardware profile")
    except ArtifactError as e:  # not JSON, not UTF-8 text, not an object
        raise ProfileError(str(e)) from None
    if data.get("format") != FORMAT:
        raise ProfileError(f"{path} is not a ragcompare hardware profile ({FORMAT})")
    return data


class _Checker:
    """Checks of one profile's fields, each refusal a :class:`ProfileError` naming the profile."""

    def __init__(self, profile: HardwareProfile) -> None:
        self.where = profile.source or "(not saved)"

    def fail(self, message: str) -> ProfileError:
        return ProfileError(f"hardware profile {self.where}: {message}; run `ragcompare calibrate` "
                            "to measure a new one")

    def section(self, value: object, name: str) -> dict:
        if not isinstance(value, Mapping):
            raise self.fail(f"{name} must be an object, got {type(value).__name__}")
        if not value:
            raise self.fail(f"{name} is empty")
        return dict(value)

    def number(self, entry: Mapping, key: str, where: str, optional: bool = False, **bounds) -> None:
        if key not in entry:
            if optional:
                return
            raise self.fail(f"{where}.{key} is missing")
        try:
            check_float(entry[key], f"{where}.{key}", **bounds)
        except InvalidInputError as e:
            raise self.fail(str(e)) from None

    def points(self, value: object, where: str, required: bool) -> list[dict]:
        if not isinstance(value, list) or (required and not value):
            raise self.fail(f"{where}.points must be a non-empty list")
        if not all(isinstance(p, Mapping) for p in value):
            raise self.fail(f"{where}.points must hold objects")
        return value


def check_profile(profile: HardwareProfile) -> HardwareProfile:
    """``profile`` if it can predict: its bi-encoder, index and cross-encoder sections are non-empty
    and every number the cost model reads is finite (and positive where it divides or takes a log);
    else a :class:`ProfileError` naming the profile and the field."""
    if not isinstance(profile, HardwareProfile):
        raise InvalidInputError(f"profile must be a HardwareProfile, got {type(profile).__name__}")
    c = _Checker(profile)
    enc = c.section(profile.bi_encoder, "bi_encoder")
    for key in ("p50_ms", "p95_ms"):
        c.number(enc, key, "bi_encoder", positive=True)
    for key in ("median_tokens", "p95_tokens", "p95_ratio"):
        c.number(enc, key, "bi_encoder", optional=True, positive=True)
    for key in ("overhead_ms", "ms_per_token"):
        c.number(enc, key, "bi_encoder", optional=True)
    for kind, entry in c.section(profile.indexes, "indexes").items():
        where = f"indexes.{kind}"
        for i, p in enumerate(c.points(c.section(entry, where).get("points"), where, required=True)):
            c.number(p, "n", f"{where}.points[{i}]", positive=True)
            c.number(p, "p50_ms", f"{where}.points[{i}]", positive=True)
            c.number(p, "p95_ms", f"{where}.points[{i}]", minimum=0)
            c.number(p, "bytes", f"{where}.points[{i}]", minimum=0)
            for key in ("recall@10", "recall@100"):
                c.number(p, key, f"{where}.points[{i}]", minimum=0, maximum=1)
    ce = c.section(profile.cross_encoder, "cross_encoder")
    settings = ce.get("settings", {})
    if not isinstance(settings, Mapping):
        raise c.fail("cross_encoder.settings must be an object")
    for key, s in settings.items():
        where = f"cross_encoder.settings.{key}"
        s = c.section(s, where)
        for field_ in ("overhead_ms", "ms_per_pair"):
            c.number(s, field_, where)
        try:
            check_positive_int(s.get("max_length"), f"{where}.max_length")
        except InvalidInputError as e:
            raise c.fail(str(e)) from None
        if not isinstance(s.get("int8"), bool):
            raise c.fail(f"{where}.int8 must be true or false, got {s.get('int8')!r}")
        for i, p in enumerate(c.points(s.get("points", []), where, required=False)):
            for field_ in ("p50_ms", "p95_ms"):
                c.number(p, field_, f"{where}.points[{i}]", minimum=0)
    for key in ("datasets", "pooled"):
        if not isinstance(profile.quality.get(key, {}), Mapping):
            raise c.fail(f"quality.{key} must be an object")
    return profile


def user_profile_path(device: str = "cpu") -> Path:
    """Where ``ragcompare calibrate`` saves this user's profile (in the cache dir)."""
    return cache_dir() / "profiles" / f"{device}.json"


def available_profiles() -> dict[str, Path]:
    """Profiles that exist here, by device: the user's own replace the shipped ones."""
    found: dict[str, Path] = {}
    for folder in (SHIPPED_DIR, cache_dir() / "profiles"):  # later folders win
        for p in sorted(folder.glob("*.json")) if folder.is_dir() else []:
            try:
                found[HardwareProfile.load(p).device] = p
            except ProfileError:
                continue
    return found


def _is_file(text: str) -> bool:
    try:
        return Path(text).expanduser().is_file()
    except (OSError, ValueError):  # a name the file system refuses
        return False


def load_profile(which: str | Path | HardwareProfile | None = None) -> HardwareProfile:
    """A profile by device name ("cpu", "cuda"), by path, or the default (user's cpu, else shipped),
    checked by :func:`check_profile` (a malformed one raises :class:`ProfileError`)."""
    if isinstance(which, HardwareProfile):
        return check_profile(which)
    if which is None:
        which = "cpu"
    if not isinstance(which, (str, os.PathLike)) or not str(which).strip():
        raise InvalidInputError(f"profile must be a device name, a JSON path or a HardwareProfile, "
                                f"got {which!r}")
    if isinstance(which, os.PathLike) or str(which).endswith(".json") or _is_file(str(which)):
        return check_profile(HardwareProfile.load(which))
    profiles = available_profiles()
    own = user_profile_path(which) if which.isidentifier() else None
    if own is not None and own.is_file() and profiles.get(which) != own:
        HardwareProfile.load(own)  # the user's own profile is damaged: say so, not use the shipped one
    if which not in profiles:
        raise ProfileError(f"no measured {which!r} profile here (have: {', '.join(profiles) or 'none'})"
                           f"; run `ragcompare calibrate` on that hardware to create one")
    return check_profile(HardwareProfile.load(profiles[which]))


# -- is this the profiled machine? -------------------------------------------------------------------
_CALIBRATE = "run `ragcompare calibrate` to measure this machine"


def _norm(text: object) -> str:
    return " ".join(str(text).split()).casefold() if text else ""


def _cpu_words(machine: dict) -> str:
    """``"AMD EPYC, 2 cores, AVX2+FMA"`` from a machine dict (what it records)."""
    parts = [str(machine.get("cpu") or "unknown CPU")]
    if isinstance(machine.get("cores"), int):
        parts.append(f"{machine['cores']} cores")
    if machine.get("cpu_features"):
        parts.append(describe_features(machine["cpu_features"]))
    return ", ".join(parts)


def this_machine(profile: HardwareProfile | None = None, measure_gemm: bool = False) -> dict:
    """This machine's CPU as :func:`cpu_mismatch` compares it: ``cpu``, ``cores``, ``cpu_features``
    (plus ``gpu`` for a non-CPU profile) and, with ``measure_gemm``, ``gemm``: a GEMM measurement at the
    profile's recorded size and thread count (about a second; skipped when the profile has none)."""
    here: dict = {"cpu": cpu_model(), "cores": os.cpu_count(), "cpu_features": cpu_features()}
    if profile is not None and profile.device != "cpu":
        try:
            import torch

            here["gpu"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
        except ImportError:
            here["gpu"] = None
    recorded = profile.gemm_peaks if profile is not None else None
    if measure_gemm and recorded:
        size = recorded.get("size") if isinstance(recorded.get("size"), int) else 1024
        threads = recorded.get("threads") if isinstance(recorded.get("threads"), int) else None
        here["gemm"] = measure_gemm_peaks(size=size, repeats=3, threads=threads)
    return here


def _gemm_differences(theirs: dict, ours: dict, tolerance: float) -> list[str]:
    """Phrases for the GEMM rates that differ by more than ``tolerance`` times (same thread count only)."""
    if theirs.get("threads") != ours.get("threads"):
        return []  # measured on different thread counts: not comparable, say nothing
    fp32 = next((k for k in ("torch_fp32_gflops", "numpy_fp32_gflops")
                 if isinstance(theirs.get(k), (int, float)) and isinstance(ours.get(k), (int, float))), None)
    out = []
    for key in (k for k in (fp32, "torch_int8_gops") if k in GEMM_KEYS):
        a, b = theirs.get(key), ours.get(key)
        if not (isinstance(a, (int, float)) and isinstance(b, (int, float))) or a <= 0 or b <= 0:
            continue
        ratio = max(a, b) / min(a, b)
        if ratio > tolerance:
            what, unit = ("int8 GEMM", "GOP/s") if key == "torch_int8_gops" else ("fp32 GEMM", "GFLOP/s")
            out.append(f"{what} runs at {b:.0f} {unit} here against {a:.0f} in the profile "
                       f"({ratio:.1f}× {'slower' if b < a else 'faster'}"
                       f"{'; other jobs competing for the CPU have the same effect' if b < a else ''})")
    return out


def cpu_mismatch(profile: HardwareProfile, here: dict | None = None, *, tolerance: float = 1.5,
                 measure_gemm: bool = False) -> str | None:
    """A warning for the reader when this machine is not the one ``profile`` was measured on, else ``None``.

    ``here`` describes this machine like :func:`ragcompare.sysinfo.machine_info` (keys ``cpu``,
    ``cores``, ``cpu_features``, optionally ``gpu`` and ``gemm`` = a fresh
    :func:`ragcompare.sysinfo.measure_gemm_peaks` result); by default :func:`this_machine` (no GEMM
    measurement unless ``measure_gemm=True``, which measures at the profile's size and threads, ~1 s).

    Compared, each only where both sides record it: the CPU model string, the core count, the SIMD
    features, the GPU (non-CPU profiles), and the GEMM rates (when both were measured on the same thread
    count; a difference above ``tolerance`` times counts). What one side does not record is never guessed
    at, with one exception: a profile that predates recording CPU features, read on a machine whose
    features are known, always gets a mild note (it cannot be told apart from a slower or faster CPU
    sold under the same name). The message names what differs and ends by asking to run
    ``ragcompare calibrate``.
    """
    if not isinstance(profile, HardwareProfile):
        raise InvalidInputError(f"profile must be a HardwareProfile, got {type(profile).__name__}")
    if isinstance(tolerance, bool) or not isinstance(tolerance, (int, float)) or tolerance < 1:
        raise InvalidInputError(f"tolerance must be a number >= 1, got {tolerance!r}")
    if here is None:
        here = this_machine(profile, measure_gemm=measure_gemm)
    elif not isinstance(here, dict):
        raise InvalidInputError(f"here must be a machine dict, got {type(here).__name__}")
    theirs = profile.machine if isinstance(profile.machine, dict) else {}
    diffs: list[str] = []

    a, b = _norm(theirs.get("cpu")), _norm(here.get("cpu"))
    if a and b and "unknown cpu" not in (a, b) and a != b:
        diffs.append(f"the CPU is {here['cpu']!r} here, {theirs['cpu']!r} in the profile")
    a, b = theirs.get("cores"), here.get("cores")
    if isinstance(a, int) and isinstance(b, int) and a != b:
        diffs.append(f"{b} cores here, {a} in the profile")
    ours_f = list(here.get("cpu_features") or [])
    theirs_f = profile.cpu_features
    if ours_f and theirs_f:
        lacks = [f for f in theirs_f if f not in ours_f]
        extra = [f for f in ours_f if f not in theirs_f]
        if lacks:
            diffs.append(f"this CPU lacks {', '.join(lacks)}, which the profile's CPU has")
        if extra:
            diffs.append(f"this CPU has {', '.join(extra)}, which the profile's CPU lacks")
    gpu_known = profile.device != "cpu" and "gpu" in here and "gpu" in theirs
    if gpu_known and _norm(here["gpu"]) != _norm(theirs["gpu"]):
        diffs.append(f"the GPU is {here['gpu'] or 'absent'} here, {theirs['gpu'] or 'absent'} in the profile")
    if isinstance(here.get("gemm"), dict) and profile.gemm_peaks:
        diffs += _gemm_differences(profile.gemm_peaks, here["gemm"], float(tolerance))

    unrecorded = theirs_f is None and bool(ours_f)
    if diffs:
        extra_note = " (the profile does not record its CPU's features)" if unrecorded else ""
        return (f"This machine is not the one the hardware profile was measured on ({_cpu_words(theirs)})"
                f"{extra_note}: {'; '.join(diffs)}. Its latency predictions may be off by several times "
                f"here; {_CALIBRATE}.")
    if unrecorded:
        return (f"The hardware profile ({_cpu_words(theirs)}) does not record its CPU's features, so it "
                f"cannot tell whether it was measured on a CPU like this one "
                f"({describe_features(ours_f)}); {_CALIBRATE}.")
    return None
