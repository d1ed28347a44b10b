"""Signal-quality facts of an audio file and the reliability flags a prediction carries.

A model trained on 30-s music clips answers something for any input: 30 s of
digital silence came out Q2 "tense" at 0.85 and a 0.75-s fragment a confident Q1.
:func:`measure` computes four cheap facts in one pass over the decoded signal, and
:func:`flags` turns them into words a user can act on:

========================  =====================================================
``silent``                every frame below :attr:`QualityConfig.silence_dbfs`:
                          no quadrant is given (there is no music to judge).
``too_short``             shorter than :attr:`QualityConfig.min_seconds` (6 s):
                          musicnn embeds non-overlapping 3-s patches, so under 6 s
                          a clip has one patch and every spread-over-patches column
                          is 0, a value no 25-30-s training clip (~10 patches) had.
                          Measured (``benchmarks/short_clips.py``, 32 4q-dev clips,
                          first L seconds vs the whole clip): the quadrant stays
                          the same for 44 % / 47 % of cuts at 3 / 5 s, then 81 % at
                          6, 7, 8 and 10 s (the second patch), 88 % at 15 and 20 s.
``mostly_silent``         more than half the frames below the silence level: the
                          answer describes the music in a minority of the file (the
                          540 4q-dev clips have at most 9 % silent frames).
``clipped``               more than 1 % of samples at full scale (``|x| >= 0.999``):
                          distortion beyond anything in the training data (on the
                          540 4q-dev clips: median 0 %, 95th percentile 0.05 %,
                          most 0.29 %), which the model may read as tension or energy.
========================  =====================================================

Levels are RMS in dBFS, ``20 log10(rms)`` with full scale = 1.0 (a full-scale sine
is -3 dBFS), floored at :data:`FLOOR_DBFS`. The facts are measured on the signal the
features see (mono, resampled to ``sr``), in one decoding pass (block by block for
long files, :func:`measure_long_file`), and cached by file content like every other
input (:func:`measure_files`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

import numpy as np

from mer.audio import decode as audio

#: Bumped whenever :func:`measure` changes what it returns (part of the cache key).
QUALITY_VERSION = 1

#: Level reported for digital silence instead of -inf (JSON has no infinity), in dBFS.
FLOOR_DBFS = -120.0

#: The facts :func:`measure` returns, in order.
FACTS = ("duration_s", "rms_dbfs", "silent_fraction", "clipped_fraction")

#: Every flag :func:`flags` can raise, most severe first, with what it tells a user to do.
FLAG_MEANINGS = {
    "silent": "no signal above -60 dBFS: no quadrant given; check the file or the recording level",
    "too_short": "under 6 s (the model learnt from 30-s clips): use a longer excerpt, 10 s or more",
    "mostly_silent": "over half of it is silent: trim the silence and predict again",
    "clipped": "over 1 % of samples at full scale: distortion can pass for tension; use a clean source",
}
FLAGS = tuple(FLAG_MEANINGS)


@dataclass(frozen=True)
class QualityConfig:
    """How the facts are measured and flagged; the measuring part is the cache key.

    Attributes
    ----------
    sr : int
        Sample rate in Hz the file is decoded to (the features' rate).
    frame_length, hop_length : int
        RMS frames in samples (93 ms every 23 ms at 22,050 Hz); complete frames only,
        a signal shorter than one frame is one frame.
    silence_dbfs : float
        A frame whose RMS is below this level (dBFS) counts as silent; -60 dBFS is
        below the noise floor of any mastered recording, well above dithered silence.
    clip_level : float
        A sample with ``|x| >= clip_level`` (full scale 1.0) counts as clipped.
    min_seconds : float
        ``too_short`` below this duration in seconds: two 3-s musicnn patches (see
        the module docstring).
    mostly_silent : float
        ``mostly_silent`` above this share of silent frames (0..1).
    clipped : float
        ``clipped`` above this share of clipped samples (0..1); 0.01 = 1 %.
    """

    sr: int = 22050
    frame_length: int = 2048
    hop_length: int = 512
    silence_dbfs: float = -60.0
    clip_level: float = 0.999
    min_seconds: float = 6.0
    mostly_silent: float = 0.5
    clipped: float = 0.01

    def to_dict(self) -> dict:
        return asdict(self)

    def key(self) -> str:
        """A short hash of what :func:`measure` depends on (not the flag thresholds)."""
        d = {k: v for k, v in self.to_dict().items() if k not in ("min_seconds", "mostly_silent", "clipped")}
        blob = json.dumps({"kind": "quality", "v": QUALITY_VERSION, **d}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _dbfs(rms):
    return np.maximum(20.0 * np.log10(np.maximum(rms, 1e-12)), FLOOR_DBFS)


class Meter:
    """Accumulates the facts over consecutive blocks of one signal, in memory bounded by a block.

    Frames are the complete ``frame_length`` windows at every ``hop_length`` (no padding),
    so any split of the signal into blocks gives the same facts as the whole.
    """

    def __init__(self, config: QualityConfig):
        self.c = config
        self.n = self.n_clipped = self.n_frames = self.n_silent = 0
        self.sumsq = 0.0
        self.tail = np.zeros(0, dtype=np.float64)  # samples not yet past every frame they belong to
        # a frame is silent when its mean square is below this (silence_dbfs as power)
        self.silent_ms = 10.0 ** (config.silence_dbfs / 10.0)

    def add(self, y: np.ndarray) -> None:
        y = np.asarray(y, dtype=np.float64)
        self.n += y.size
        self.sumsq += float(np.dot(y, y))
        self.n_clipped += int(np.count_nonzero(np.abs(y) >= self.c.clip_level))
        buf = np.concatenate([self.tail, y])
        fl, hop = self.c.frame_length, self.c.hop_length
        if buf.size >= fl:
            k = 1 + (buf.size - fl) // hop
            cs = np.concatenate([[0.0], np.cumsum(buf * buf)])
            starts = np.arange(k) * hop
            ms = (cs[starts + fl] - cs[starts]) / fl
            self.n_frames += k
            self.n_silent += int(np.count_nonzero(ms < self.silent_ms))
            buf = buf[k * hop:]
        self.tail = buf

    def facts(self) -> np.ndarray:
        if self.n == 0:
            return np.array([0.0, FLOOR_DBFS, 1.0, 0.0])
        if self.n_frames == 0:  # shorter than one frame: the whole signal is the frame
            silent = float(self.sumsq / self.n < self.silent_ms)
        else:
            silent = self.n_silent / self.n_frames
        return np.array([self.n / self.c.sr, float(_dbfs(np.sqrt(self.sumsq / self.n))), silent,
                         self.n_clipped / self.n])


def measure(y: np.ndarray, config: QualityConfig | None = None) -> np.ndarray:
    """The signal-quality facts of a mono signal.

    Parameters
    ----------
    y : np.ndarray, shape (n_samples,)
        Mono audio at ``config.sr``, full scale 1.0.
    config : QualityConfig, optional

    Returns
    -------
    np.ndarray, shape (4,), float64
        :data:`FACTS`: duration in s, overall RMS level in dBFS, share of RMS frames
        below ``silence_dbfs`` (0..1), share of samples with ``|x| >= clip_level`` (0..1).
    """
    meter = Meter(config or QualityConfig())
    meter.add(y)
    return meter.facts()


def measure_long_file(path, config: QualityConfig | None = None) -> np.ndarray:
    """:func:`measure` of a file decoded block by block (:func:`mer.audio.decode.stream`): the same
    facts as the whole signal gives, in memory that does not grow with the file's length."""
    config = config or QualityConfig()
    meter = Meter(config)
    for block in audio.stream(path, sr=config.sr):
        meter.add(block)
    return meter.facts()


# mer.extraction.batch.extract_file takes this path for files over its long-track threshold
measure.long_track = measure_long_file


def facts_dict(values) -> dict[str, float]:
    """:func:`measure`'s vector as ``{fact: value}`` (JSON-ready, rounded to 4 decimals)."""
    return {name: round(float(v), 4) for name, v in zip(FACTS, values)}


def flags(facts: dict[str, float], config: QualityConfig | None = None) -> list[str]:
    """The reliability flags of a file's facts (:func:`facts_dict`), in :data:`FLAGS` order.

    ``silent`` excludes ``mostly_silent`` (it says more); the others combine freely.
    """
    config = config or QualityConfig()
    out = []
    silent = facts["silent_fraction"] >= 1.0
    if silent:
        out.append("silent")
    if facts["duration_s"] < config.min_seconds:
        out.append("too_short")
    if not silent and facts["silent_fraction"] > config.mostly_silent:
        out.append("mostly_silent")
    if facts["clipped_fraction"] > config.clipped:
        out.append("clipped")
    return out


