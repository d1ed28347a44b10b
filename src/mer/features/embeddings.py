"""Pretrained music-tagging embeddings: a PyTorch port of musicnn (MSD_musicnn).

musicnn (Pons & Serra, "musicnn: pre-trained convolutional neural networks for
music audio tagging", ISMIR 2019 LBD; PyPI ``musicnn`` 0.1.0, ISC licence,
Music Technology Group, Universitat Pompeu Fabra) is a CNN trained to predict the
50 most frequent Last.fm tags of the Million Song Dataset, among them mood tags
(``happy``, ``sad``, ``chill``, ``Mellow``, ``beautiful``, ``party``...). Its
pooled activations are a compact description of a clip that was learnt from far
more music than any emotion dataset holds.

This module holds the audio side, which imports no PyTorch (:mod:`mer.features.musicnn`
holds the network and the weight conversion, and is imported only to run it):
:func:`musicnn_input`, :func:`patches`, :func:`embed`, :func:`clip_embedding` — audio ->
musicnn's input -> per-patch outputs -> one vector per clip, named by
:func:`embedding_names`; :class:`EmbeddingConfig`; :func:`embed_stream` for long tracks.
The names of :mod:`mer.features.musicnn` (``Musicnn``, ``load_musicnn``,
``read_tf_checkpoint``, ``convert_checkpoint``...) are still reachable from here.

The converted weights of the MSD model (Million Song Dataset, Last.fm tags) and the
MTT model (MagnaTagATune tags: ``slow``, ``fast``, ``soft``, ``loud``, instruments...)
ship with `mer` as ``mer/resources/msd_musicnn.pt`` and ``mer/resources/mtt_musicnn.pt``
(float16, ``torch.load(weights_only=True)`` state dicts, 1.6 MB each) with the ISC
licence beside them (``mer/resources/MUSICNN_LICENSE``).

Input deviation from the original, on purpose: musicnn computes
``log10(10000 * mel + 1)`` on a float16 mel, which overflows to ``inf`` for mel
power above about 6.5 (loud low bands of most commercial masters); here the mel is
rounded to float16 as the original does but compressed in float32, so loud music
gets finite inputs, as in training.
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from mer.audio import decode as audio
from mer.core.errors import MerError
from mer.features.musicnn_spec import (  # noqa: F401  (re-exported: the public names of musicnn's analysis)
    DEFAULT_WEIGHTS,
    MSD_TAGS,
    MTT_TAGS,
    MUSICNN_HOP,
    MUSICNN_N_FFT,
    MUSICNN_N_MELS,
    MUSICNN_SR,
    PATCH_FRAMES,
    TAGS,
)

if TYPE_CHECKING:
    from mer.features.musicnn import Musicnn, MusicnnOutput

#: Bumped whenever :func:`clip_embedding` changes in a way that invalidates caches.
EMBEDDING_VERSION = 1


# ---------------------------------------------------------------------------
# Input
# ---------------------------------------------------------------------------


def musicnn_input(y: np.ndarray, sr: int) -> np.ndarray:
    """musicnn's input representation of a signal.

    Parameters
    ----------
    y : np.ndarray, shape (n_samples,)
        Mono audio.
    sr : int
        Its sample rate in Hz; resampled to 16 kHz (soxr_hq) when different.

    Returns
    -------
    np.ndarray, shape (T, 96), float32
        ``log10(10000 * mel + 1)`` of the 96-band power mel spectrogram (n_fft 512,
        hop 256, i.e. 16 ms frames), time first as musicnn expects.
    """
    import librosa

    y = np.asarray(y, dtype=np.float32)
    if y.ndim != 1:
        raise MerError(f"expected mono audio of shape (n_samples,), got shape {y.shape}")
    if sr != MUSICNN_SR:
        y = librosa.resample(y, orig_sr=sr, target_sr=MUSICNN_SR, res_type="soxr_hq")
    mel = librosa.feature.melspectrogram(
        y=y, sr=MUSICNN_SR, n_fft=MUSICNN_N_FFT, hop_length=MUSICNN_HOP, n_mels=MUSICNN_N_MELS
    )
    mel = mel.T.astype(np.float16).astype(np.float32)  # the original's float16 rounding
    return np.log10(10000.0 * mel + 1.0).astype(np.float32)


def patches(L: np.ndarray, n_frames: int = PATCH_FRAMES, hop: int | None = None) -> np.ndarray:
    """Cut a (T, 96) input into patches of `n_frames` frames.

    Non-overlapping by default, as ``musicnn.extractor`` does; a trailing partial
    patch is dropped. An input shorter than one patch is repeated until it fills one
    (musicnn's ``repeat-pad`` for short training clips).

    Returns
    -------
    np.ndarray, shape (n_patches, n_frames, 96), float32
    """
    L = np.asarray(L, dtype=np.float32)
    if L.shape[0] == 0:
        raise MerError("no frames to cut into patches (empty audio)")
    if L.shape[0] < n_frames:
        L = np.tile(L, (int(np.ceil(n_frames / L.shape[0])), 1))[:n_frames]
    hop = hop or n_frames
    starts = range(0, L.shape[0] - n_frames + 1, hop)
    return np.stack([L[s : s + n_frames] for s in starts])


# ---------------------------------------------------------------------------
# Clip embeddings
# ---------------------------------------------------------------------------

#: Parts of :func:`clip_embedding`, in output order, and their per-patch width. ``dense`` is the
#: back end's dense layer before its ReLU (:attr:`MusicnnOutput.dense <mer.features.musicnn.MusicnnOutput>`),
#: the input of the listener-rated heads of :mod:`mer.models.listener`.
EMBEDDING_PARTS = {"tags": 50, "penultimate": 200, "mean_pool": 753, "max_pool": 753, "dense": 200}

#: The :class:`~mer.features.musicnn.MusicnnOutput` field of each part.
_FIELD_OF = {"tags": "logits", "penultimate": "penultimate", "mean_pool": "mean_pool", "max_pool": "max_pool",
             "dense": "dense"}


@dataclass(frozen=True)
class EmbeddingConfig:
    """What :func:`clip_embedding` returns; part of every cache key.

    Attributes
    ----------
    parts : tuple of str
        Keys of :data:`EMBEDDING_PARTS`: ``tags`` (tag logits), ``penultimate``,
        ``mean_pool``, ``max_pool``, ``dense`` (pre-ReLU dense layer).
    stats : tuple of str
        Statistics over the clip's patches: ``mean``, ``std``, ``max``.
    patch_hop : int
        Hop between patches in frames (187: non-overlapping 3-s patches; 93, 1.5 s, is how
        Essentia cuts patches for its listener-rated heads).
    weights : str
        Stem of the weights file under ``mer/resources`` (``msd_musicnn`` or
        ``mtt_musicnn``); part of the key, so different weights never share a cache.
    sr : int
        Rate audio is decoded at before resampling to 16 kHz (decode at 16 kHz directly
        by default).
    """

    parts: tuple[str, ...] = ("tags", "penultimate")
    stats: tuple[str, ...] = ("mean", "std")
    patch_hop: int = PATCH_FRAMES
    weights: str = "msd_musicnn"
    sr: int = MUSICNN_SR

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "EmbeddingConfig":
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})

    def key(self) -> str:
        """A short hash of the configuration and the embedding version, for cache keys."""
        blob = json.dumps({"kind": "musicnn", "v": EMBEDDING_VERSION, **self.to_dict()}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


def embedding_names(config: EmbeddingConfig | None = None) -> list[str]:
    """Names of :func:`clip_embedding`'s entries, e.g. ``'mean:tag:happy'``, ``'std:penultimate:17'``."""
    c = config or EmbeddingConfig()
    names = []
    for s in c.stats:
        for part in c.parts:
            if part == "tags":
                names += [f"{s}:tag:{t}" for t in TAGS.get(c.weights, MSD_TAGS)]
            else:
                names += [f"{s}:{part}:{i}" for i in range(EMBEDDING_PARTS[part])]
    return names


def embed(y: np.ndarray, sr: int, model: "Musicnn | None" = None, patch_hop: int = PATCH_FRAMES,
          batch_size: int = 10) -> MusicnnOutput:
    """musicnn's outputs for every 3-s patch of a signal, as NumPy arrays.

    Parameters
    ----------
    y : np.ndarray, shape (n_samples,)
        Mono audio at `sr` Hz.
    model : Musicnn, optional
        Default: :func:`load_musicnn` (the shipped MSD weights).
    patch_hop : int
        Hop between patches in frames (187 = non-overlapping).
    batch_size : int
        Patches per model call. 10, a 30-s clip's patches: the activations of one call
        take ~18 MB per patch (measured: +184 MiB peak RSS at 10, +368 MiB at 32), so
        memory does not grow with the clip. Outputs depend on the batching only through
        float rounding (~3e-6 between 10 and 32 on a 65-s signal); clips of up to 10
        patches (33 s, the 30-s training clips) get exactly the outputs of batches of 32.

    Returns
    -------
    MusicnnOutput of np.ndarray
        Each (n_patches, width), float32.
    """
    import torch

    from mer.features.musicnn import MusicnnOutput, load_musicnn

    model = model if model is not None else load_musicnn()
    P = patches(musicnn_input(y, sr), hop=patch_hop)
    outs = []
    with torch.inference_mode():
        for s in range(0, len(P), batch_size):
            outs.append(model(torch.from_numpy(P[s : s + batch_size])))
    return MusicnnOutput(*(torch.cat([getattr(o, f) for o in outs]).numpy() for f in MusicnnOutput._fields))


def pool_embedding(out: MusicnnOutput, config: EmbeddingConfig | None = None) -> np.ndarray:
    """Statistics over patches of :func:`embed`'s outputs -> one vector per clip.

    Returns
    -------
    np.ndarray, shape (len(embedding_names(config)),), float32
    """
    c = config or EmbeddingConfig()
    parts = []
    for s in c.stats:
        for part in c.parts:
            if part not in _FIELD_OF:
                raise ValueError(f"unknown embedding part '{part}' (known: {', '.join(_FIELD_OF)})")
            A = getattr(out, _FIELD_OF[part])
            if s == "mean":
                parts.append(A.mean(0))
            elif s == "std":
                parts.append(A.std(0))
            elif s == "max":
                parts.append(A.max(0))
            else:
                raise ValueError(f"unknown statistic '{s}' (known: mean, std, max)")
    return np.concatenate(parts).astype(np.float32)


def clip_embedding(y: np.ndarray, sr: int, config: EmbeddingConfig | None = None,
                   model: "Musicnn | None" = None) -> np.ndarray:
    """One musicnn embedding vector for a clip (:func:`embed` then :func:`pool_embedding`).

    Parameters
    ----------
    y : np.ndarray, shape (n_samples,)
        Mono audio at `sr` Hz (any length; under 3 s it is repeated to fill a patch).
    config : EmbeddingConfig, optional
    model : Musicnn, optional
        Default: the shipped MSD weights.

    Returns
    -------
    np.ndarray, shape (len(embedding_names(config)),), float32
    """
    c = config or EmbeddingConfig()
    return pool_embedding(embed(y, sr, model, patch_hop=c.patch_hop), c)


@functools.lru_cache(maxsize=4)
def _cached_model(path: str) -> "Musicnn":
    # one load per process and weights file: batch extraction calls this once per clip
    from mer.features.musicnn import load_musicnn

    return load_musicnn(path)


def weights_path(config: EmbeddingConfig | None = None) -> Path:
    """The weights file an :class:`EmbeddingConfig` names (shipped under ``mer/resources``)."""
    c = config or EmbeddingConfig()
    return DEFAULT_WEIGHTS.parent / f"{c.weights}.pt"


def embed_signal(y: np.ndarray, config: EmbeddingConfig | None = None) -> np.ndarray:
    """:func:`clip_embedding` of audio at ``config.sr`` with the weights the config names.

    The ``method(y, config)`` form that :func:`mer.extraction.batch.extract_files` calls.
    """
    c = config or EmbeddingConfig()
    return clip_embedding(y, c.sr, c, model=_cached_model(str(weights_path(c))))


# ---------------------------------------------------------------------------
# Long tracks: patches streamed, statistics combined exactly
# ---------------------------------------------------------------------------

#: Patches run through the model together on the streamed path (4 = 12 s of audio).
#: Measured on a 2-minute track, peak RSS over the loaded model: +30 MiB with 1 patch per
#: call, +129 with 4, +197 with 10 (one thread: 3.3, 2.7 and 3.1 CPU-s). Not 1: with two
#: torch threads on two busy cores, one patch per call took 12.7 CPU-s and 132 s of wall
#: time (a thread barrier per layer for little work), 4 patches 6.6 CPU-s and 19 s.
STREAM_PATCHES = 4


class PatchStatistics:
    """Mean, std and max over patches of musicnn outputs, accumulated chunk by chunk.

    Chunks are merged with Chan et al.'s pairwise update of count, mean and sum of
    squared deviations in float64, so the result equals :func:`pool_embedding` of all
    the patches at once up to float32 rounding (the max is exact).

    Parameters
    ----------
    config : EmbeddingConfig, optional
        Which parts and statistics (:func:`pool_embedding`'s order).
    """

    def __init__(self, config: EmbeddingConfig | None = None):
        self.config = c = config or EmbeddingConfig()
        for part in c.parts:
            if part not in _FIELD_OF:
                raise ValueError(f"unknown embedding part '{part}' (known: {', '.join(_FIELD_OF)})")
        for stat in c.stats:
            if stat not in ("mean", "std", "max"):
                raise ValueError(f"unknown statistic '{stat}' (known: mean, std, max)")
        self.n = 0
        self.mean: dict[str, np.ndarray] = {}
        self.m2: dict[str, np.ndarray] = {}
        self.max: dict[str, np.ndarray] = {}

    def update(self, out: MusicnnOutput) -> None:
        """Add the (k, width) outputs of k more patches."""
        k = 0
        for part in self.config.parts:
            A = np.asarray(getattr(out, _FIELD_OF[part]), dtype=np.float64)
            k = len(A)
            if k == 0:
                return
            mean, m2, top = A.mean(0), ((A - A.mean(0)) ** 2).sum(0), A.max(0)
            if self.n == 0:
                self.mean[part], self.m2[part], self.max[part] = mean, m2, top
            else:
                n = self.n + k
                delta = mean - self.mean[part]
                self.mean[part] = self.mean[part] + delta * (k / n)
                self.m2[part] = self.m2[part] + m2 + delta**2 * (self.n * k / n)
                self.max[part] = np.maximum(self.max[part], top)
        self.n += k

    def result(self) -> np.ndarray:
        """The pooled vector, shape (len(embedding_names(config)),), float32."""
        if self.n == 0:
            raise MerError("no patches to pool (empty audio)")
        stat = {"mean": lambda p: self.mean[p], "std": lambda p: np.sqrt(self.m2[p] / self.n),
                "max": lambda p: self.max[p]}
        return np.concatenate([stat[s](p) for s in self.config.stats for p in self.config.parts]).astype(np.float32)


def held_samples(held: np.ndarray, start: int, a: int, b: int) -> np.ndarray:
    """Samples [a, b) of a stream of which `held` holds [start, start + len(held)), zeros elsewhere.

    Zeros before 0 and past the end are librosa's ``center=True`` padding; the streaming
    embedders (:func:`embed_stream`, :func:`mer.features.patch_stream.stream_patch_outputs`)
    read their analysis frames through this.
    """
    out = np.zeros(b - a, dtype=np.float32)
    lo, hi = max(a, start), min(b, start + len(held))
    if hi > lo:
        out[lo - a : hi - a] = held[lo - start : hi - start]
    return out


def _input_frames(read, f0: int, f1: int) -> np.ndarray:
    """Frames [f0, f1) of :func:`musicnn_input` of a 16-kHz signal, from the samples they cover.

    ``read(start, stop)`` returns samples [start, stop) with zeros outside the signal:
    frame t is centred on sample ``t * hop`` (librosa's ``center=True`` with zero padding),
    so the frames equal those of the whole signal's :func:`musicnn_input`.
    """
    import librosa

    half = MUSICNN_N_FFT // 2
    y = read(f0 * MUSICNN_HOP - half, (f1 - 1) * MUSICNN_HOP + half)
    mel = librosa.feature.melspectrogram(y=y, sr=MUSICNN_SR, n_fft=MUSICNN_N_FFT, hop_length=MUSICNN_HOP,
                                         n_mels=MUSICNN_N_MELS, center=False)
    mel = mel.T.astype(np.float16).astype(np.float32)  # as musicnn_input
    return np.log10(10000.0 * mel + 1.0).astype(np.float32)


def embed_stream(blocks, config: EmbeddingConfig | None = None, *, model: "Musicnn | None" = None,
                 chunk_patches: int = STREAM_PATCHES) -> np.ndarray:
    """:func:`clip_embedding` of a 16-kHz signal that arrives block by block, in bounded memory.

    The patches are those of the whole signal (:func:`patches` of :func:`musicnn_input`,
    the trailing partial patch dropped); they are computed and run through the model
    `chunk_patches` at a time from the samples they cover, and their statistics are
    combined exactly (:class:`PatchStatistics`). So the result equals
    :func:`clip_embedding` of the whole signal within float rounding (measured on 47 s of
    real 4Q music: max |difference| 1e-6, values up to 7; tests/test_embeddings.py checks
    1e-4). At most one chunk's audio plus one decoded block is held.

    Parameters
    ----------
    blocks : iterable of np.ndarray, shape (n,), float32
        Consecutive pieces of the mono signal at 16 kHz (``MUSICNN_SR``).
    config : EmbeddingConfig, optional
    model : Musicnn, optional
        Default: the weights the config names.
    chunk_patches : int >= 1
        Patches per model call.

    Returns
    -------
    np.ndarray, shape (len(embedding_names(config)),), float32
    """
    import torch

    from mer.features.musicnn import MusicnnOutput

    c = config or EmbeddingConfig()
    model = model if model is not None else _cached_model(str(weights_path(c)))
    stats = PatchStatistics(c)
    hop, width, chunk = c.patch_hop, PATCH_FRAMES, max(1, int(chunk_patches))
    held = np.zeros(0, dtype=np.float32)  # samples [start, start + len(held)) of the signal
    start = n_seen = 0

    def read(a: int, b: int) -> np.ndarray:
        return held_samples(held, start, a, b)

    def run(p0: int, p1: int) -> None:
        L = _input_frames(read, p0 * hop, (p1 - 1) * hop + width)
        P = np.stack([L[(p - p0) * hop : (p - p0) * hop + width] for p in range(p0, p1)])
        with torch.inference_mode():
            out = model(torch.from_numpy(P))
        stats.update(MusicnnOutput(*(getattr(out, f).numpy() for f in MusicnnOutput._fields)))

    def end_sample(p1: int) -> int:  # one past the last sample patches [.., p1) cover
        return (p1 - 1) * hop * MUSICNN_HOP + (width - 1) * MUSICNN_HOP + MUSICNN_N_FFT // 2

    p = 0
    for block in blocks:
        held = np.concatenate([held, np.asarray(block, dtype=np.float32)])
        n_seen += len(block)
        while end_sample(p + chunk) <= n_seen:
            run(p, p + chunk)
            p += chunk
            drop = max(0, p * hop * MUSICNN_HOP - MUSICNN_N_FFT // 2) - start  # no later patch needs these
            held, start = held[drop:], start + drop
    n_frames = 1 + n_seen // MUSICNN_HOP
    if n_frames < width:  # under 3 s: nothing was dropped; musicnn's repeat-padding
        return clip_embedding(held, MUSICNN_SR, c, model=model)
    n_patches = (n_frames - width) // hop + 1
    while p < n_patches:
        run(p, min(p + chunk, n_patches))
        p += chunk
    return stats.result()


def embed_long_file(path, config: EmbeddingConfig | None = None, *, chunk_patches: int = STREAM_PATCHES) -> np.ndarray:
    """:func:`embed_stream` of an audio file decoded block by block at 16 kHz (:func:`mer.audio.decode.stream`).

    What :func:`mer.extraction.batch.extract_file` computes for a file longer than
    :data:`mer.features.fused.LONG_TRACK_SECONDS`: the same embedding as :func:`embed_signal` of
    the whole file (within float rounding, see :func:`embed_stream`) in memory bounded by
    one chunk: measured with ``benchmarks/long_track.py``, 719 MiB peak RSS on a 60-minute
    file (1.2 CPU-s per minute of audio), where the whole 10-minute file took 1305 MiB.
    The file is decoded straight to 16 kHz whatever ``config.sr`` (16 kHz by default,
    where both paths decode the same samples).

    Raises
    ------
    MerError
        Naming the file, for anything wrong with it.
    """
    c = config or EmbeddingConfig()
    return audio.reduce_stream(path, lambda blocks: embed_stream(blocks, c, chunk_patches=chunk_patches),
                               sr=MUSICNN_SR)


# a file longer than mer.features.fused.LONG_TRACK_SECONDS is embedded chunk by chunk
# (mer.extraction.batch.extract_file looks for this attribute on the method it is given)
embed_signal.long_track = embed_long_file


def __getattr__(name: str):
    # the network's names, reachable from here as before the split, loaded (with PyTorch) on first use
    if name in _NETWORK_NAMES:
        from mer.features import musicnn

        return getattr(musicnn, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_NETWORK_NAMES = ("Musicnn", "MusicnnOutput", "load_musicnn", "read_tf_checkpoint", "convert_tf_variables",
                  "convert_checkpoint", "_tf_layer_names")
