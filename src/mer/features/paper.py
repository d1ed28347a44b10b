"""The paper's 14 Librosa features as one (204, T) matrix per clip.

Chang et al. (arXiv 2405.06747) stack, per frame at 22,050 Hz with n_fft 2048 and
hop 512: chroma_stft (12), chroma_cqt (12), chroma_vqt (12, ``intervals='ji5'``),
melspectrogram (128, power), mfcc (20), rms (1), spectral_centroid (1),
spectral_bandwidth (1), spectral_contrast (7), spectral_flatness (1),
spectral_rolloff (1), tonnetz (6), zero_crossing_rate (1) and tempo (1, the clip's
global tempo repeated over frames) = 204 rows.

This module only *extracts*: every row is what the corresponding librosa function
returns for the same signal and parameters. Modelling transforms (dB mel,
standardisation, pooling, fixed length) live in :mod:`mer.features.transforms`.

Edge cases, decided here once:

* A clip shorter than one analysis frame (``n_fft`` samples, 93 ms at 22,050 Hz) is
  rejected with :class:`~mer.core.errors.MerError`: no frame of it is a full analysis frame.
* Silence is not an error: every row stays finite (chroma and tonnetz are zero, mel
  is zero power, flatness is 1, tempo is librosa's prior, about 117 BPM). librosa's
  warnings about tuning estimation on silence and about short multirate CQT octaves
  on clips under a second are expected and silenced.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import warnings
from dataclasses import asdict, dataclass, field
from typing import Sequence

import numpy as np

from mer.audio.signal import validate_mono

PITCH_CLASSES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
TONNETZ_DIMS = ("fifth_x", "fifth_y", "minor_x", "minor_y", "major_x", "major_y")

#: Bumped whenever extraction changes in a way that invalidates cached features.
EXTRACTOR_VERSION = 1


@dataclass(frozen=True)
class FeatureConfig:
    """Parameters of feature extraction; part of every cache key and model file.

    Attributes
    ----------
    sr : int
        Sample rate in Hz that audio is decoded to.
    n_fft : int
        STFT window length in samples (also the frame length of rms and zcr).
    hop_length : int
        Hop between frames in samples (23.2 ms at 22,050 Hz).
    n_mels : int
        Mel bands.
    n_mfcc : int
        MFCC coefficients.
    n_contrast_bands : int
        Spectral contrast sub-bands; the feature has ``n_contrast_bands + 1`` rows.
    vqt_intervals : str
        Tuning system of chroma_vqt (librosa ``intervals``).
    """

    sr: int = 22050
    n_fft: int = 2048
    hop_length: int = 512
    n_mels: int = 128
    n_mfcc: int = 20
    n_contrast_bands: int = 6
    vqt_intervals: str = "ji5"

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "FeatureConfig":
        return cls(**d)

    def key(self) -> str:
        """A short hash of the configuration and the extractor version, for cache keys."""
        blob = json.dumps({"v": EXTRACTOR_VERSION, **self.to_dict()}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    @property
    def frame_seconds(self) -> float:
        """Hop between frames in seconds."""
        return self.hop_length / self.sr


@dataclass(frozen=True)
class GroupedNames:
    """The names of the entries along one axis and the consecutive groups they form.

    Shared by :class:`FeatureSpec` (rows of the feature matrix) and
    :class:`mer.features.descriptors.DescriptorSpec` (entries of the descriptor vector).
    """

    groups: tuple[tuple[str, int], ...]
    names: tuple[str, ...] = field(repr=False)

    #: What a group is called in error messages.
    kind = "feature"

    @classmethod
    def from_named(cls, named: Sequence[tuple[str, Sequence[str]]]):
        """From (group, names of its entries) pairs, in axis order."""
        return cls(groups=tuple((g, len(n)) for g, n in named), names=tuple(x for _, n in named for x in n))

    @property
    def group_names(self) -> tuple[str, ...]:
        return tuple(g for g, _ in self.groups)

    @property
    def entry_groups(self) -> tuple[str, ...]:
        """The group of each entry, shape (len(names),)."""
        return tuple(g for g, n in self.groups for _ in range(n))

    def span(self, group: str) -> slice:
        """The entries of one group as a slice along the axis."""
        start = 0
        for g, n in self.groups:
            if g == group:
                return slice(start, start + n)
            start += n
        raise KeyError(f"unknown {self.kind} group '{group}' (known: {', '.join(self.group_names)})")

    def indices(self, groups: Sequence[str]) -> np.ndarray:
        """Indices of the entries of the given groups, in axis order."""
        wanted = set(groups)
        for g in wanted:
            self.span(g)  # raises on unknown names
        return np.array([i for i, g in enumerate(self.entry_groups) if g in wanted], dtype=int)


class FeatureSpec(GroupedNames):
    """Names every row of the feature matrix and the group it belongs to.

    Use it to select groups, label plots and run ablations without magic indices::

        spec = FeatureSpec.from_config(FeatureConfig())
        spec.n_rows                 # 204
        spec.rows("mfcc")           # slice(164, 184)
        spec.select(X, ["mfcc", "rms"]).shape  # (21, T)
    """

    @classmethod
    def from_config(cls, config: FeatureConfig | None = None) -> "FeatureSpec":
        c = config or FeatureConfig()
        return cls.from_named([
            ("chroma_stft", [f"chroma_stft:{p}" for p in PITCH_CLASSES]),
            ("chroma_cqt", [f"chroma_cqt:{p}" for p in PITCH_CLASSES]),
            ("chroma_vqt", [f"chroma_vqt:{p}" for p in PITCH_CLASSES]),
            ("mel", [f"mel:{i}" for i in range(c.n_mels)]),
            ("mfcc", [f"mfcc:{i}" for i in range(c.n_mfcc)]),
            ("rms", ["rms"]),
            ("spectral_centroid", ["spectral_centroid"]),
            ("spectral_bandwidth", ["spectral_bandwidth"]),
            ("spectral_contrast", [f"spectral_contrast:{i}" for i in range(c.n_contrast_bands + 1)]),
            ("spectral_flatness", ["spectral_flatness"]),
            ("spectral_rolloff", ["spectral_rolloff"]),
            ("tonnetz", [f"tonnetz:{d}" for d in TONNETZ_DIMS]),
            ("zero_crossing_rate", ["zero_crossing_rate"]),
            ("tempo", ["tempo"]),
        ])

    @property
    def row_names(self) -> tuple[str, ...]:
        return self.names

    @property
    def n_rows(self) -> int:
        return len(self.names)

    @property
    def row_groups(self) -> tuple[str, ...]:
        """The group of each row, shape (n_rows,)."""
        return self.entry_groups

    def rows(self, group: str) -> slice:
        """The rows of one group as a slice into axis 0 of the matrix."""
        return self.span(group)

    def select(self, X: np.ndarray, groups: Sequence[str]) -> np.ndarray:
        """Rows of `X` (shape (n_rows, T) or (N, n_rows, T)) belonging to `groups`."""
        return np.take(X, self.indices(groups), axis=-2)


@contextlib.contextmanager
def single_threaded_blas():
    """Run the enclosed matrix products on one BLAS thread.

    OpenBLAS rounds a multi-threaded float32 matrix product differently from a
    single-threaded one (the mel bands differ in the last bit), so features are computed
    on one thread: then they are bitwise the same in this process, in a worker process
    and on a Dask worker. The parallelism of `mer` is across files.
    """
    with _threadpools().limit(limits=1, user_api="blas"):
        yield


@functools.lru_cache(maxsize=1)
def _threadpools():
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()  # inspecting the loaded libraries once is enough


def _check_signal(y: np.ndarray, config: FeatureConfig) -> np.ndarray:
    """`y` as float32 mono of at least one analysis frame (:func:`mer.audio.signal.validate_mono`)."""
    return validate_mono(y, sr=config.sr, min_samples=config.n_fft)


def reference_features(y: np.ndarray, config: FeatureConfig | None = None) -> dict[str, np.ndarray]:
    """Each of the 14 features by a direct call of its librosa function.

    This is the paper's recipe, one librosa call per feature. It recomputes the
    same STFT and constant-Q analyses several times; it is the ground truth that
    faster extractors are tested against.

    Parameters
    ----------
    y : np.ndarray, shape (n_samples,)
        Mono audio at ``config.sr``.
    config : FeatureConfig, optional

    Returns
    -------
    dict of group name -> np.ndarray
        Shapes (rows, T) in :class:`FeatureSpec` order, except ``tempo``: shape (1,), BPM.
    """
    import librosa

    c = config or FeatureConfig()
    y = _check_signal(y, c)
    sr, n_fft, hop = c.sr, c.n_fft, c.hop_length
    stft = dict(sr=sr, n_fft=n_fft, hop_length=hop)
    with warnings.catch_warnings(), single_threaded_blas():
        warnings.filterwarnings("ignore", message="Trying to estimate tuning from empty frequency set")
        warnings.filterwarnings("ignore", message="n_fft=.* is too large for input signal")
        return {
            "chroma_stft": librosa.feature.chroma_stft(y=y, **stft),
            "chroma_cqt": librosa.feature.chroma_cqt(y=y, sr=sr, hop_length=hop),
            "chroma_vqt": librosa.feature.chroma_vqt(y=y, sr=sr, hop_length=hop, intervals=c.vqt_intervals),
            "mel": librosa.feature.melspectrogram(y=y, n_mels=c.n_mels, **stft),
            "mfcc": librosa.feature.mfcc(y=y, n_mfcc=c.n_mfcc, n_mels=c.n_mels, **stft),
            "rms": librosa.feature.rms(y=y, frame_length=n_fft, hop_length=hop),
            "spectral_centroid": librosa.feature.spectral_centroid(y=y, **stft),
            "spectral_bandwidth": librosa.feature.spectral_bandwidth(y=y, **stft),
            "spectral_contrast": librosa.feature.spectral_contrast(y=y, n_bands=c.n_contrast_bands, **stft),
            "spectral_flatness": librosa.feature.spectral_flatness(y=y, n_fft=n_fft, hop_length=hop),
            "spectral_rolloff": librosa.feature.spectral_rolloff(y=y, **stft),
            "tonnetz": librosa.feature.tonnetz(y=y, sr=sr, hop_length=hop),
            "zero_crossing_rate": librosa.feature.zero_crossing_rate(y, frame_length=n_fft, hop_length=hop),
            "tempo": np.atleast_1d(librosa.feature.tempo(y=y, sr=sr, hop_length=hop)),
        }


def stack_features(parts: dict[str, np.ndarray], config: FeatureConfig | None = None) -> np.ndarray:
    """Stack per-group features into the (204, T) matrix in :class:`FeatureSpec` order.

    Frame-wise groups are cut to their shortest length (they agree for centred
    librosa frames); the scalar ``tempo`` is repeated over the T frames.
    """
    spec = FeatureSpec.from_config(config)
    framewise = [g for g in spec.group_names if g != "tempo"]
    T = min(parts[g].shape[-1] for g in framewise)
    out = np.empty((spec.n_rows, T), dtype=np.float32)
    for g in spec.group_names:
        rows = spec.rows(g)
        out[rows] = parts[g].reshape(-1, 1) if g == "tempo" else parts[g][:, :T]
    return out


def extract_reference(y: np.ndarray, config: FeatureConfig | None = None) -> np.ndarray:
    """The paper's (204, T) feature matrix by one librosa call per feature.

    Parameters
    ----------
    y : np.ndarray, shape (n_samples,)
        Mono audio at ``config.sr`` (22,050 Hz by default).
    config : FeatureConfig, optional

    Returns
    -------
    np.ndarray, shape (204, T), float32
        T = 1 + n_samples // hop_length frames (centred). Rows as named by
        :class:`FeatureSpec`; mel is power (not dB).
    """
    return stack_features(reference_features(y, config), config)


