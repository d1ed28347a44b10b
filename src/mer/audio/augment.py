"""Seeded audio augmentation: small composable transforms over audiomentations, and copy keys.

The paper (Chang et al., arXiv 2405.06747) grows 900 training clips to 3,600 with three
transforms: noise injection at a signal-to-noise ratio, a time shift (roll by up to
+-0.5 s, the vacated part zeroed) and a pitch shift (+-2 semitones). They are here as
small frozen dataclasses over `audiomentations`, plus time stretch and gain:

* :class:`Noise`, :class:`TimeShift`, :class:`PitchShift`, :class:`TimeStretch`,
  :class:`Gain` — one transform each, every range and the probability ``p`` configurable.
* :class:`Compose` — apply every transform in order (each with its own ``p``).
* :class:`PerCopy` — copy ``k`` of a clip gets transform ``k mod n``: with the paper's
  three transforms and 3 copies, each clip gets one noisy, one shifted and one
  pitch-shifted copy (900 -> 3,600). This is :func:`paper_augmenter`.

Every augmenter has a stable :meth:`describe` (its parameters as plain data), so an
augmented copy is named by ``sha256(source file content, description, seed, copy index)``:
that is its feature-cache key (:func:`copy_key`) and the seed of its random draws, so a
copy is the same in every fold and every run, and a second run does no audio work.

Their use in training: :mod:`mer.extraction.augmented` (copies through the feature cache) and
:mod:`mer.workflows.augmented` (:class:`~mer.workflows.augmented.AugmentedClassifier`, which
augments the training fold only).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import random
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from mer.audio import decode as audio
from mer.core.errors import MerError

#: Bumped when the way copies are made changes (invalidates cached augmented features).
AUGMENT_VERSION = 1


@contextlib.contextmanager
def _seeded(seed: int) -> Iterator[None]:
    """Seed Python's and NumPy's global generators (audiomentations draws from both), then restore them."""
    py_state, np_state = random.getstate(), np.random.get_state()
    random.seed(seed)
    np.random.seed(seed % 2**32)
    try:
        yield
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)


class _Transform:
    """Base of the single transforms: parameters in the dataclass, the work in audiomentations."""

    def _build(self):  # pragma: no cover - abstract
        raise NotImplementedError

    def describe(self) -> dict:
        """Name and parameters as plain data (stable; part of the cache key)."""
        return {"transform": type(self).__name__, **asdict(self)}

    def __call__(self, y: np.ndarray, sr: int) -> np.ndarray:
        """Transform mono float32 audio ``y`` (n_samples,) at ``sr`` Hz, drawing from the global RNGs."""
        out = self._build()(samples=np.ascontiguousarray(y, dtype=np.float32), sample_rate=sr)
        return np.asarray(out, dtype=np.float32)

    def augment(self, y: np.ndarray, sr: int, *, seed: int, copy: int = 0) -> np.ndarray:
        with _seeded(seed):
            return self(y, sr)


def _check_range(lo: float, hi: float, what: str) -> None:
    if lo > hi:
        raise ValueError(f"{what}: minimum {lo} is greater than maximum {hi}")


def _check_p(p: float) -> None:
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p must be a probability in [0, 1], got {p}")


@dataclass(frozen=True)
class Noise(_Transform):
    """Add white Gaussian noise at a signal-to-noise ratio drawn uniformly in [min_snr_db, max_snr_db] dB."""

    min_snr_db: float = 10.0
    max_snr_db: float = 30.0
    p: float = 1.0

    def __post_init__(self):
        _check_range(self.min_snr_db, self.max_snr_db, "Noise SNR")
        _check_p(self.p)

    def _build(self):
        from audiomentations import AddGaussianSNR

        return AddGaussianSNR(min_snr_db=self.min_snr_db, max_snr_db=self.max_snr_db, p=self.p)


@dataclass(frozen=True)
class TimeShift(_Transform):
    """Shift by a uniform draw in [-max_seconds, +max_seconds] s; the vacated part is zeros (no roll-over).

    ``fade_seconds`` > 0 fades in / out at the cut to avoid a click (0: a plain cut, as in the paper).
    """

    max_seconds: float = 0.5
    fade_seconds: float = 0.0
    p: float = 1.0

    def __post_init__(self):
        if self.max_seconds < 0:
            raise ValueError(f"max_seconds must be >= 0, got {self.max_seconds}")
        _check_p(self.p)

    def _build(self):
        from audiomentations import Shift

        return Shift(min_shift=-self.max_seconds, max_shift=self.max_seconds, shift_unit="seconds",
                     rollover=False, fade_duration=self.fade_seconds, p=self.p)


@dataclass(frozen=True)
class PitchShift(_Transform):
    """Shift pitch by a uniform draw in [min_semitones, max_semitones], keeping the duration."""

    min_semitones: float = -2.0
    max_semitones: float = 2.0
    p: float = 1.0

    def __post_init__(self):
        _check_range(self.min_semitones, self.max_semitones, "PitchShift semitones")
        _check_p(self.p)

    def _build(self):
        from audiomentations import PitchShift as _PitchShift

        return _PitchShift(min_semitones=self.min_semitones, max_semitones=self.max_semitones, p=self.p)


@dataclass(frozen=True)
class TimeStretch(_Transform):
    """Change tempo by a rate drawn in [min_rate, max_rate] (> 1 faster), keeping pitch and length."""

    min_rate: float = 0.9
    max_rate: float = 1.1
    p: float = 1.0

    def __post_init__(self):
        _check_range(self.min_rate, self.max_rate, "TimeStretch rate")
        if self.min_rate <= 0:
            raise ValueError(f"min_rate must be > 0, got {self.min_rate}")
        _check_p(self.p)

    def _build(self):
        from audiomentations import TimeStretch as _TimeStretch

        # Same length as the source: the copy has as many frames as the clip it stands for.
        return _TimeStretch(min_rate=self.min_rate, max_rate=self.max_rate, leave_length_unchanged=True, p=self.p)


@dataclass(frozen=True)
class Gain(_Transform):
    """Multiply by a gain drawn in [min_db, max_db] dB."""

    min_db: float = -6.0
    max_db: float = 6.0
    p: float = 1.0

    def __post_init__(self):
        _check_range(self.min_db, self.max_db, "Gain dB")
        _check_p(self.p)

    def _build(self):
        from audiomentations import Gain as _Gain

        return _Gain(min_gain_db=self.min_db, max_gain_db=self.max_db, p=self.p)


@dataclass(frozen=True)
class Compose:
    """Apply every transform in order; each fires with its own probability ``p``."""

    transforms: tuple = ()

    def __post_init__(self):
        object.__setattr__(self, "transforms", tuple(self.transforms))

    def describe(self) -> dict:
        return {"compose": [t.describe() for t in self.transforms]}

    def augment(self, y: np.ndarray, sr: int, *, seed: int, copy: int = 0) -> np.ndarray:
        with _seeded(seed):
            for t in self.transforms:
                y = t(y, sr)
        return y


@dataclass(frozen=True)
class PerCopy:
    """Copy ``k`` of a clip gets ``transforms[k % len(transforms)]`` (one transform per copy).

    Each element may be a single transform or a :class:`Compose`.
    """

    transforms: tuple = ()

    def __post_init__(self):
        object.__setattr__(self, "transforms", tuple(self.transforms))
        if not self.transforms:
            raise ValueError("PerCopy needs at least one transform")

    def describe(self) -> dict:
        return {"per_copy": [t.describe() for t in self.transforms]}

    def augment(self, y: np.ndarray, sr: int, *, seed: int, copy: int = 0) -> np.ndarray:
        return self.transforms[copy % len(self.transforms)].augment(y, sr, seed=seed, copy=copy)


def paper_augmenter() -> PerCopy:
    """The paper's recipe: copy 1 noise (10-30 dB SNR), copy 2 time shift (+-0.5 s), copy 3 pitch shift (+-2 st)."""
    return PerCopy((Noise(), TimeShift(), PitchShift()))


def all_augmenter() -> Compose:
    """All five transforms chained, each applied with probability 0.5."""
    return Compose((Noise(p=0.5), TimeShift(p=0.5), PitchShift(p=0.5), TimeStretch(p=0.5), Gain(p=0.5)))


#: Named augmenters for the command line (``--augmenter NAME``).
AUGMENTERS = {"paper": paper_augmenter, "all": all_augmenter}


def get_augmenter(name_or_augmenter="paper"):
    """An augmenter by name (see :data:`AUGMENTERS`), or the augmenter itself."""
    if not isinstance(name_or_augmenter, str):
        return name_or_augmenter
    try:
        return AUGMENTERS[name_or_augmenter]()
    except KeyError:
        raise MerError(f"unknown augmenter '{name_or_augmenter}' (known: {', '.join(AUGMENTERS)})") from None


def description(augmenter) -> str:
    """Canonical JSON of an augmenter's parameters (sorted keys, no spaces): stable across runs."""
    from importlib.metadata import version

    blob = {"v": AUGMENT_VERSION, "audiomentations": version("audiomentations"), **augmenter.describe()}
    return json.dumps(blob, sort_keys=True, separators=(",", ":"))


def copy_key(source_key: str, augmenter, seed: int, copy: int) -> str:
    """Cache key (SHA-256 hex) of copy ``copy`` of the audio whose content hash is ``source_key``."""
    blob = json.dumps({"source": source_key, "augment": description(augmenter), "seed": int(seed), "copy": int(copy)},
                      sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()


@dataclass(frozen=True)
class AugmentedSource:
    """A picklable recipe for one augmented copy: ``source(sr)`` decodes the file and transforms it.

    The random draws are seeded by ``key`` (from :func:`copy_key`), so the copy is reproducible.
    """

    path: Path
    augmenter: object
    key: str
    copy: int

    def __call__(self, sr: int) -> np.ndarray:
        y = audio.load(self.path, sr=sr)
        return self.augmenter.augment(y, sr, seed=int(self.key[:8], 16), copy=self.copy)

    def __str__(self) -> str:
        return f"{self.path} (augmented copy {self.copy + 1})"


