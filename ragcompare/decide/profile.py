"""Hardware profiles: the measured costs of one machine, as JSON, and where they are found.

A profile is written by ``ragcompare calibrate`` (:func:`ragcompare.decide.calibrate`) into the user's
cache dir; a reference profile ships with the package (``profiles/reference-cpu.json``). The user's
own profile of a device replaces the shipped one.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ragcompare.settings import cache_dir
from ragcompare.types import RagCompareError

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
        """Write the profile as JSON."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json(), indent=1) + "\n")
        return path

    @classmethod
    def load(cls, path: str | Path) -> HardwareProfile:
        """Read a profile written by :meth:`save` (validates the format)."""
        path = Path(path)
        data = _read_tagged(path)
        data.pop("format")
        try:
            return cls(**data, source=str(path))
        except TypeError as e:
            raise ProfileError(f"{path}: {e}") from None

    @property
    def label(self) -> str:
        """Short human description: device, CPU/GPU name, threads."""
        gpu = self.machine.get("gpu")
        what = gpu if self.device != "cpu" and gpu else self.machine.get("cpu", "?")
        return f"{self.device.upper()}: {what} (torch threads {self.threads.get('torch')})"


def _read_tagged(path: Path) -> dict:
    """The JSON object at ``path`` if it carries this module's format tag, else :class:`ProfileError`."""
    if not path.is_file():
        raise ProfileError(f"no hardware profile at {path}")
    try:
        data = json.loads(path.read_text())
    except ValueError as e:  # not JSON, or not UTF-8 text
        raise ProfileError(f"{path} is not valid JSON: {e}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ProfileError(f"{path} is not a ragcompare hardware profile ({FORMAT})")
    return data


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


def load_profile(which: str | Path | HardwareProfile | None = None) -> HardwareProfile:
    """A profile by device name ("cpu", "cuda"), by path, or the default (user's cpu, else shipped)."""
    if isinstance(which, HardwareProfile):
        return which
    if which is None:
        which = "cpu"
    if isinstance(which, Path) or str(which).endswith(".json"):
        return HardwareProfile.load(which)
    profiles = available_profiles()
    if which not in profiles:
        raise ProfileError(f"no measured {which!r} profile here (have: {', '.join(profiles) or 'none'})"
                           f"; run `ragcompare calibrate` on that hardware to create one")
    return HardwareProfile.load(profiles[which])
