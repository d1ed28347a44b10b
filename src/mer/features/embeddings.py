"""Pretrained music-tagging embeddings: a PyTorch port of musicnn (MSD_musicnn).

musicnn (Pons & Serra, "musicnn: pre-trained convolutional neural networks for
music audio tagging", ISMIR 2019 LBD; PyPI ``musicnn`` 0.1.0, ISC licence,
Music Technology Group, Universitat Pompeu Fabra) is a CNN trained to predict the
50 most frequent Last.fm tags of the Million Song Dataset, among them mood tags
(``happy``, ``sad``, ``chill``, ``Mellow``, ``beautiful``, ``party``...). Its
pooled activations are a compact description of a clip that was learnt from far
more music than any emotion dataset holds.

This module holds:

* :class:`Musicnn` — the architecture of ``musicnn/models.py::build_musicnn``
  (front end of timbral and temporal convolutions over a 96-band log-mel patch,
  a dense-residual 1-D CNN mid end, mean / max pooling over time and a dense back
  end), in PyTorch, inference only.
* :func:`read_tf_checkpoint` — a reader of TensorFlow's checkpoint bundle format
  (``.index`` + ``.data-00000-of-00001``) in plain Python and NumPy, so the
  conversion needs no TensorFlow.
* :func:`convert_tf_variables` — TF variable names and layouts -> this module's
  ``state_dict``.
* :func:`musicnn_input`, :func:`patches`, :func:`embed`, :func:`clip_embedding`
  — audio -> musicnn's input -> per-patch outputs -> one vector per clip, named by
  :func:`embedding_names`.

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
import struct
from dataclasses import asdict, dataclass
from os import PathLike
from pathlib import Path
from typing import Mapping, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from mer.audio import decode as audio
from mer.core.errors import MerError
from mer.core.io import write_bytes

#: Analysis parameters musicnn was trained with (``musicnn/configuration.py``).
MUSICNN_SR = 16000
MUSICNN_N_FFT = 512
MUSICNN_HOP = 256
MUSICNN_N_MELS = 96
#: Frames of one input patch: 3 s at 16 kHz, hop 256 (``librosa.time_to_frames(3) + 1``).
PATCH_FRAMES = 187

#: The 50 output tags of the MSD model, in output order.
MSD_TAGS = (
    "rock", "pop", "alternative", "indie", "electronic", "female vocalists", "dance", "00s",
    "alternative rock", "jazz", "beautiful", "metal", "chillout", "male vocalists", "classic rock",
    "soul", "indie rock", "Mellow", "electronica", "80s", "folk", "90s", "chill", "instrumental",
    "punk", "oldies", "blues", "hard rock", "ambient", "acoustic", "experimental", "female vocalist",
    "guitar", "Hip-Hop", "70s", "party", "country", "easy listening", "sexy", "catchy", "funk",
    "electro", "heavy metal", "Progressive rock", "60s", "rnb", "indie pop", "sad", "House", "happy",
)

#: The 50 output tags of the MagnaTagATune model, in output order.
MTT_TAGS = (
    "guitar", "classical", "slow", "techno", "strings", "drums", "electronic", "rock", "fast", "piano", "ambient",
    "beat", "violin", "vocal", "synth", "female", "indian", "opera", "male", "singing", "vocals", "no vocals",
    "harpsichord", "loud", "quiet", "flute", "woman", "male vocal", "no vocal", "pop", "soft", "sitar", "solo",
    "man", "classic", "choir", "voice", "new age", "dance", "male voice", "female vocal", "beats", "harp", "cello",
    "no voice", "weird", "country", "metal", "female voice", "choral",
)

#: Tag names of each shipped weights file (by stem).
TAGS = {"msd_musicnn": MSD_TAGS, "mtt_musicnn": MTT_TAGS}

#: Default location of the shipped, converted MSD weights.
DEFAULT_WEIGHTS = Path(__file__).resolve().parents[1] / "resources" / "msd_musicnn.pt"

#: Bumped whenever :func:`clip_embedding` changes in a way that invalidates caches.
EMBEDDING_VERSION = 1

_BN_EPS = 1e-3  # tf.compat.v1.layers.batch_normalization's default epsilon


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
# Model
# ---------------------------------------------------------------------------


class MusicnnOutput(NamedTuple):
    """Outputs of :class:`Musicnn` for a batch of B patches.

    logits : (B, n_tags) — sigmoid gives the tag probabilities (the taggram).
    penultimate : (B, n_units) — the back end's batch-normalised dense layer.
    mean_pool, max_pool : (B, 753) — time-pooled front- and mid-end feature maps.
    """

    logits: torch.Tensor
    penultimate: torch.Tensor
    mean_pool: torch.Tensor
    max_pool: torch.Tensor


class Musicnn(nn.Module):
    """musicnn (``build_musicnn`` of the original ``models.py``), inference only.

    Input: (B, T, 96) log-mel patches from :func:`musicnn_input` / :func:`patches`
    (T = 187 for the 3-s patches it was trained on; any T >= 1 works).

    Parameters
    ----------
    n_tags : int
        Output tags (50 for the MSD and MTT models).
    n_mels : int
        Mel bands of the input (96).
    n_filt_midend, n_units_backend : int
        64 and 200 for ``MSD_musicnn`` / ``MTT_musicnn``.
    """

    #: Time lengths of the temporal front-end filters, in frames.
    TEMPORAL_LENGTHS = (128, 64, 32)

    def __init__(self, n_tags: int = 50, n_mels: int = MUSICNN_N_MELS, n_filt_midend: int = 64,
                 n_units_backend: int = 200):
        super().__init__()
        self.input_bn = nn.BatchNorm2d(1, eps=_BN_EPS)
        # timbral front end: (7 x 38) and (7 x 67) filters, int(1.6 * 128) = 204 each
        self.timbral = nn.ModuleList([nn.Conv2d(1, 204, (7, int(r * n_mels))) for r in (0.4, 0.7)])
        self.timbral_bn = nn.ModuleList([nn.BatchNorm2d(204, eps=_BN_EPS) for _ in range(2)])
        # temporal front end: (k x 1) filters, int(1.6 * 32) = 51 each
        self.temporal = nn.ModuleList([nn.Conv2d(1, 51, (k, 1)) for k in self.TEMPORAL_LENGTHS])
        self.temporal_bn = nn.ModuleList([nn.BatchNorm2d(51, eps=_BN_EPS) for _ in self.TEMPORAL_LENGTHS])
        n_front = 2 * 204 + 3 * 51
        self.mid = nn.ModuleList(
            [nn.Conv1d(n_front, n_filt_midend, 7)] + [nn.Conv1d(n_filt_midend, n_filt_midend, 7) for _ in range(2)]
        )
        self.mid_bn = nn.ModuleList([nn.BatchNorm1d(n_filt_midend, eps=_BN_EPS) for _ in range(3)])
        n_pool = n_front + 3 * n_filt_midend  # 753
        self.pool_bn = nn.BatchNorm1d(2 * n_pool, eps=_BN_EPS)
        self.dense = nn.Linear(2 * n_pool, n_units_backend)
        self.dense_bn = nn.BatchNorm1d(n_units_backend, eps=_BN_EPS)
        self.out = nn.Linear(n_units_backend, n_tags)

    def forward(self, x: torch.Tensor) -> MusicnnOutput:
        x = self.input_bn(x.unsqueeze(1))  # (B, 1, T, F)
        front = []
        padded = F.pad(x, (0, 0, 3, 3))  # the original pads time only, then 'valid' convs
        for conv, norm in zip(self.timbral, self.timbral_bn):
            front.append(norm(torch.relu(conv(padded))).amax(dim=3))  # max over frequency
        for k, conv, norm in zip(self.TEMPORAL_LENGTHS, self.temporal, self.temporal_bn):
            # TF 'same' padding of an even kernel: (k - 1) // 2 before, the rest after
            h = conv(F.pad(x, (0, 0, (k - 1) // 2, k - 1 - (k - 1) // 2)))
            front.append(norm(torch.relu(h)).amax(dim=3))
        h = torch.cat(front, dim=1)  # (B, 561, T)
        maps = [h]
        for i, (conv, norm) in enumerate(zip(self.mid, self.mid_bn)):
            out = norm(torch.relu(conv(F.pad(h, (3, 3)))))
            h = out if i == 0 else out + h  # residual connections after the first layer
            maps.append(h)
        fmap = torch.cat(maps, dim=1)  # (B, 753, T): dense connection of all levels
        max_pool = fmap.amax(dim=2)
        mean_pool = fmap.mean(dim=2)
        # the original flattens a (753, 2) array of [max, mean]: columns interleave
        pooled = torch.stack([max_pool, mean_pool], dim=2).flatten(1)
        penultimate = self.dense_bn(torch.relu(self.dense(self.pool_bn(pooled))))
        return MusicnnOutput(self.out(penultimate), penultimate, mean_pool, max_pool)


# ---------------------------------------------------------------------------
# Weight conversion
# ---------------------------------------------------------------------------

_TF_DTYPES = {1: np.float32, 2: np.float64, 3: np.int32, 9: np.int64, 19: np.float16, 10: np.bool_}
_TABLE_MAGIC = 0xDB4775248B80FB57


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7


def _proto_fields(buf: bytes) -> list[tuple[int, int | bytes]]:
    """(field number, value) pairs of a serialised protobuf message (varint / bytes / fixed)."""
    out, pos = [], 0
    while pos < len(buf):
        tag, pos = _varint(buf, pos)
        field, wire = tag >> 3, tag & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 2:
            n, pos = _varint(buf, pos)
            value, pos = buf[pos : pos + n], pos + n
        elif wire == 5:
            value, pos = struct.unpack_from("<I", buf, pos)[0], pos + 4
        elif wire == 1:
            value, pos = struct.unpack_from("<Q", buf, pos)[0], pos + 8
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        out.append((field, value))
    return out


def _block_entries(data: bytes, offset: int, size: int) -> list[tuple[bytes, bytes]]:
    """Key/value pairs of one (uncompressed) SSTable block."""
    if data[offset + size] != 0:  # the trailer's compression byte
        raise ValueError("compressed checkpoint index blocks are not supported")
    block = data[offset : offset + size]
    n_restarts = struct.unpack_from("<I", block, len(block) - 4)[0]
    end = len(block) - 4 - 4 * n_restarts
    entries, pos, key = [], 0, b""
    while pos < end:
        shared, pos = _varint(block, pos)
        unshared, pos = _varint(block, pos)
        n_value, pos = _varint(block, pos)
        key = key[:shared] + block[pos : pos + unshared]
        pos += unshared
        entries.append((key, block[pos : pos + n_value]))
        pos += n_value
    return entries


def read_tf_checkpoint(prefix: str | PathLike) -> dict[str, np.ndarray]:
    """Every numeric tensor of a TensorFlow (V2 bundle) checkpoint, without TensorFlow.

    Parameters
    ----------
    prefix : path
        The checkpoint prefix: ``<prefix>.index`` and ``<prefix>.data-00000-of-00001``
        must exist (for musicnn's folders the prefix is the folder itself plus ``/``,
        i.e. files named ``.index`` and ``.data-00000-of-00001`` inside it).

    Returns
    -------
    dict of variable name -> np.ndarray
        Names as TensorFlow stores them (e.g. ``'conv2d/kernel'``); string tensors
        are skipped.

    Raises
    ------
    MerError
        Missing files or anything that is not an uncompressed single-shard bundle.
    """
    prefix = str(prefix)
    index_path, data_path = Path(prefix + ".index"), Path(prefix + ".data-00000-of-00001")
    for p in (index_path, data_path):
        if not p.is_file():
            raise MerError("checkpoint file not found", p)
    index = index_path.read_bytes()
    data = data_path.read_bytes()
    try:
        if struct.unpack_from("<Q", index, len(index) - 8)[0] != _TABLE_MAGIC:
            raise ValueError("not a TensorFlow checkpoint index (bad magic number)")
        footer = index[-48:]
        _, pos = _varint(footer, 0)  # metaindex handle: offset, size
        _, pos = _varint(footer, pos)
        idx_offset, pos = _varint(footer, pos)
        idx_size, pos = _varint(footer, pos)
        tensors = {}
        for _, handle in _block_entries(index, idx_offset, idx_size):
            off, p = _varint(handle, 0)
            size, _ = _varint(handle, p)
            for key, value in _block_entries(index, off, size):
                if not key:  # the bundle header
                    continue
                fields = dict(_proto_fields(value))
                dtype = _TF_DTYPES.get(fields.get(1, 0))
                if dtype is None:
                    continue
                shape = [dict(_proto_fields(d)).get(1, 0) for f, d in _proto_fields(fields.get(2, b"")) if f == 2]
                if fields.get(3, 0) != 0:
                    raise ValueError("multi-shard checkpoints are not supported")
                start, n = fields.get(4, 0), fields.get(5, 0)
                tensors[key.decode()] = np.frombuffer(data[start : start + n], dtype=dtype).reshape(shape).copy()
    except (ValueError, IndexError, struct.error) as exc:
        raise MerError(f"cannot read TensorFlow checkpoint ({exc})", index_path) from None
    return tensors


def _tf_layer_names() -> dict[str, str]:
    """TF layer name -> this module's parameter prefix, in ``build_musicnn``'s creation order."""
    names = {"batch_normalization": "input_bn"}
    convs = ["timbral.0", "timbral.1", "temporal.0", "temporal.1", "temporal.2", "mid.0", "mid.1", "mid.2"]
    bns = ["timbral_bn.0", "timbral_bn.1", "temporal_bn.0", "temporal_bn.1", "temporal_bn.2",
           "mid_bn.0", "mid_bn.1", "mid_bn.2", "pool_bn", "dense_bn"]
    for i, c in enumerate(convs):
        names["conv2d" if i == 0 else f"conv2d_{i}"] = c
    for i, b in enumerate(bns, start=1):
        names[f"batch_normalization_{i}"] = b
    names["dense"], names["dense_1"] = "dense", "out"
    return names


def convert_tf_variables(variables: Mapping[str, np.ndarray]) -> dict[str, torch.Tensor]:
    """musicnn's TF variables -> a :class:`Musicnn` ``state_dict`` (float32).

    Layout changes: 2-D conv kernels (kh, kw, in, out) -> (out, in, kh, kw); the
    mid-end's (7, C, 1, out) kernels, 2-D convolutions spanning all C channels, ->
    1-D (out, C, 7); dense (in, out) -> (out, in); batch-norm gamma / beta /
    moving_mean / moving_variance -> weight / bias / running_mean / running_var.
    Optimiser slots (``.../Adam``) and other extra variables are ignored.

    Raises
    ------
    MerError
        A variable the architecture needs is missing or has the wrong shape.
    """
    layer = _tf_layer_names()
    bn_names = {"gamma": "weight", "beta": "bias", "moving_mean": "running_mean", "moving_variance": "running_var"}
    state = {}
    for raw_name, value in variables.items():
        name = raw_name.split(":")[0]
        parts = name.split("/")
        if len(parts) != 2 or parts[0] not in layer:
            continue
        prefix, leaf = layer[parts[0]], parts[1]
        a = np.asarray(value, dtype=np.float32)
        if leaf in bn_names:
            state[f"{prefix}.{bn_names[leaf]}"] = a
        elif leaf == "kernel" and a.ndim == 4 and prefix.startswith("mid"):
            state[f"{prefix}.weight"] = a[:, :, 0, :].transpose(2, 1, 0)
        elif leaf == "kernel" and a.ndim == 4:
            state[f"{prefix}.weight"] = a.transpose(3, 2, 0, 1)
        elif leaf == "kernel" and a.ndim == 2:
            state[f"{prefix}.weight"] = a.T
        elif leaf == "bias":
            state[f"{prefix}.bias"] = a
    reference = Musicnn().state_dict()
    out = {}
    for key, ref in reference.items():
        if key.endswith("num_batches_tracked"):
            out[key] = ref
            continue
        if key not in state:
            raise MerError(f"checkpoint lacks the variable for '{key}'")
        if tuple(state[key].shape) != tuple(ref.shape):
            raise MerError(f"'{key}': checkpoint shape {state[key].shape} != expected {tuple(ref.shape)}")
        out[key] = torch.from_numpy(np.ascontiguousarray(state[key]))
    return out


def convert_checkpoint(prefix: str | PathLike, out: str | PathLike, half: bool = True) -> dict:
    """Convert a musicnn TF checkpoint into a :class:`Musicnn` weights file, once.

    ::

        pip download musicnn==0.1.0 --no-deps && unzip musicnn-0.1.0-py3-none-any.whl -d musicnn-wheel
        python -c "from mer.features.embeddings import convert_checkpoint as c; \\
                   c('musicnn-wheel/musicnn/MSD_musicnn/', 'src/mer/resources/msd_musicnn.pt')"

    Parameters
    ----------
    prefix : path
        Checkpoint prefix (see :func:`read_tf_checkpoint`).
    out : path
        Output file, written atomically: a ``torch.save`` dict of tensors only, which
        ``torch.load(..., weights_only=True)`` reads without unpickling code.
    half : bool
        Store float16 (half the size; outputs differ from float32 by < 0.01 in tag
        probability on real music).

    Returns
    -------
    dict
        ``n_params`` and ``bytes`` written.
    """
    import io

    state = convert_tf_variables(read_tf_checkpoint(prefix))
    if half:
        state = {k: (v.half() if v.is_floating_point() else v) for k, v in state.items()}
    buf = io.BytesIO()
    torch.save(state, buf)
    write_bytes(out, buf.getvalue())
    return {"n_params": int(sum(v.numel() for k, v in state.items() if v.is_floating_point())),
            "bytes": len(buf.getvalue())}


def load_musicnn(path: str | PathLike | None = None) -> "Musicnn":
    """A :class:`Musicnn` in eval mode (float32) with converted weights.

    Parameters
    ----------
    path : path, optional
        A file written by :func:`convert_checkpoint`; default the shipped MSD weights.

    Raises
    ------
    MerError
        Missing or unreadable file, or weights of another architecture.
    """
    path = Path(path) if path is not None else DEFAULT_WEIGHTS
    if not path.is_file():
        raise MerError("musicnn weights not found", path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        model = Musicnn()
        model.load_state_dict({k: (v.float() if v.is_floating_point() else v) for k, v in state.items()})
    except Exception as exc:  # torch raises UnpicklingError, RuntimeError, KeyError... on foreign files
        raise MerError(f"cannot load musicnn weights ({' '.join(str(exc).split())[:200]})", path) from None
    return model.eval()


# ---------------------------------------------------------------------------
# Clip embeddings
# ---------------------------------------------------------------------------

#: Parts of :func:`clip_embedding`, in output order, and their per-patch width.
EMBEDDING_PARTS = {"tags": 50, "penultimate": 200, "mean_pool": 753, "max_pool": 753}


@dataclass(frozen=True)
class EmbeddingConfig:
    """What :func:`clip_embedding` returns; part of every cache key.

    Attributes
    ----------
    parts : tuple of str
        Keys of :data:`EMBEDDING_PARTS`: ``tags`` (tag logits), ``penultimate``,
        ``mean_pool``, ``max_pool``.
    stats : tuple of str
        Statistics over the clip's patches: ``mean``, ``std``, ``max``.
    patch_hop : int
        Hop between patches in frames (187: non-overlapping 3-s patches).
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
    field_of = {"tags": "logits", "penultimate": "penultimate", "mean_pool": "mean_pool", "max_pool": "max_pool"}
    parts = []
    for s in c.stats:
        for part in c.parts:
            if part not in field_of:
                raise ValueError(f"unknown embedding part '{part}' (known: {', '.join(field_of)})")
            A = getattr(out, field_of[part])
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

_FIELD_OF = {"tags": "logits", "penultimate": "penultimate", "mean_pool": "mean_pool", "max_pool": "max_pool"}


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
    c = config or EmbeddingConfig()
    model = model if model is not None else _cached_model(str(weights_path(c)))
    stats = PatchStatistics(c)
    hop, width, chunk = c.patch_hop, PATCH_FRAMES, max(1, int(chunk_patches))
    held = np.zeros(0, dtype=np.float32)  # samples [start, start + len(held)) of the signal
    start = n_seen = 0

    def read(a: int, b: int) -> np.ndarray:
        out = np.zeros(b - a, dtype=np.float32)  # zeros before 0 and past the end: librosa's padding
        lo, hi = max(a, start), min(b, start + len(held))
        if hi > lo:
            out[lo - a : hi - a] = held[lo - start : hi - start]
        return out

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


