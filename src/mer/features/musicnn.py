"""The musicnn network in PyTorch and the conversion of its TensorFlow checkpoints.

Split from :mod:`mer.features.embeddings` so that importing the embeddings' inputs,
configurations and pooling does not import PyTorch (about 1 s of start-up): only
running the network does. This module holds:

* :class:`Musicnn` — the architecture of ``musicnn/models.py::build_musicnn``
  (front end of timbral and temporal convolutions over a 96-band log-mel patch,
  a dense-residual 1-D CNN mid end, mean / max pooling over time and a dense back
  end), inference only.
* :func:`read_tf_checkpoint` — a reader of TensorFlow's checkpoint bundle format
  (``.index`` + ``.data-00000-of-00001``) in plain Python and NumPy, so the
  conversion needs no TensorFlow.
* :func:`read_graph_def` — the nodes and float constants of a frozen TensorFlow
  GraphDef (``.pb``), in the same plain-Python protobuf parsing (Essentia's heads).
* :func:`convert_tf_variables`, :func:`convert_checkpoint` — TF variable names and
  layouts -> this module's ``state_dict``, saved as the shipped ``.pt`` files.
* :func:`load_musicnn` — a network with converted weights.
"""

from __future__ import annotations

import struct
from os import PathLike
from pathlib import Path
from typing import Mapping, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from mer.core.errors import MerError
from mer.core.io import write_bytes
from mer.features.musicnn_spec import BN_EPS, DEFAULT_WEIGHTS, MUSICNN_N_MELS

# ---------------------------------------------------------------------------
# Model
# ---------------------------------------------------------------------------


class MusicnnOutput(NamedTuple):
    """Outputs of :class:`Musicnn` for a batch of B patches.

    logits : (B, n_tags) — sigmoid gives the tag probabilities (the taggram).
    penultimate : (B, n_units) — the back end's batch-normalised dense layer.
    mean_pool, max_pool : (B, 753) — time-pooled front- and mid-end feature maps.
    dense : (B, n_units) — the back end's dense layer before its ReLU and batch norm
        (TensorFlow's ``model/dense/BiasAdd``), the input of Essentia's listener-rated
        valence / arousal heads (:mod:`mer.models.listener`); ``penultimate`` is
        ``dense_bn(relu(dense))``.
    """

    logits: torch.Tensor
    penultimate: torch.Tensor
    mean_pool: torch.Tensor
    max_pool: torch.Tensor
    dense: torch.Tensor


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
        self.input_bn = nn.BatchNorm2d(1, eps=BN_EPS)
        # timbral front end: (7 x 38) and (7 x 67) filters, int(1.6 * 128) = 204 each
        self.timbral = nn.ModuleList([nn.Conv2d(1, 204, (7, int(r * n_mels))) for r in (0.4, 0.7)])
        self.timbral_bn = nn.ModuleList([nn.BatchNorm2d(204, eps=BN_EPS) for _ in range(2)])
        # temporal front end: (k x 1) filters, int(1.6 * 32) = 51 each
        self.temporal = nn.ModuleList([nn.Conv2d(1, 51, (k, 1)) for k in self.TEMPORAL_LENGTHS])
        self.temporal_bn = nn.ModuleList([nn.BatchNorm2d(51, eps=BN_EPS) for _ in self.TEMPORAL_LENGTHS])
        n_front = 2 * 204 + 3 * 51
        self.mid = nn.ModuleList(
            [nn.Conv1d(n_front, n_filt_midend, 7)] + [nn.Conv1d(n_filt_midend, n_filt_midend, 7) for _ in range(2)]
        )
        self.mid_bn = nn.ModuleList([nn.BatchNorm1d(n_filt_midend, eps=BN_EPS) for _ in range(3)])
        n_pool = n_front + 3 * n_filt_midend  # 753
        self.pool_bn = nn.BatchNorm1d(2 * n_pool, eps=BN_EPS)
        self.dense = nn.Linear(2 * n_pool, n_units_backend)
        self.dense_bn = nn.BatchNorm1d(n_units_backend, eps=BN_EPS)
        self.out = nn.Linear(n_units_backend, n_tags)

    def forward(self, x: torch.Tensor) -> MusicnnOutput:
        """The network's outputs for a (B, T, 96) batch of log-mel patches.

        Computes what :meth:`forward_reference` (the layer-by-layer transcription of the
        original) computes, equal up to float32 summation order (max relative difference
        ~1e-6 on real clips), at a third of the CPU: the front end's 561 filters each end
        in ReLU -> batch norm -> max over frequency, and batch norm is a per-channel affine
        map ``s * v + b``, so the max over frequency is taken of the raw filter responses
        (of the negated filter where ``s < 0``, whose max is then the min) and ReLU and
        batch norm are applied to the (B, T) maxima instead of to every frequency bin. The
        responses themselves are plain matrix products (:func:`_timbral_max`,
        :func:`_temporal_max`), taken a few frames at a time so that each block of
        responses is reduced while it is still in cache.

        Measured on one core (one 30-s clip = 10 patches, MSD weights, 2 shared cores):
        0.27-0.30 CPU-s against 0.75-0.79 for :meth:`forward_reference`; the compute floor
        (1.40 G multiply-adds per patch at this machine's 134-158 GFLOP/s float32 GEMM)
        is 0.18-0.21 s. See ``benchmarks/predict.py``.
        """
        x = self.input_bn(x.unsqueeze(1)).squeeze(1)  # (B, T, F)
        front = [_timbral_max(x, conv, norm) for conv, norm in zip(self.timbral, self.timbral_bn)]
        front += [_temporal_max(x, k, conv, norm)
                  for k, conv, norm in zip(self.TEMPORAL_LENGTHS, self.temporal, self.temporal_bn)]
        return self._mid_and_back_end(torch.cat(front, dim=2).transpose(1, 2))

    def forward_reference(self, x: torch.Tensor) -> MusicnnOutput:
        """:meth:`forward` transcribed layer by layer from ``build_musicnn`` (the test oracle)."""
        x = self.input_bn(x.unsqueeze(1))  # (B, 1, T, F)
        front = []
        padded = F.pad(x, (0, 0, 3, 3))  # the original pads time only, then 'valid' convs
        for conv, norm in zip(self.timbral, self.timbral_bn):
            front.append(norm(torch.relu(conv(padded))).amax(dim=3))  # max over frequency
        for k, conv, norm in zip(self.TEMPORAL_LENGTHS, self.temporal, self.temporal_bn):
            # TF 'same' padding of an even kernel: (k - 1) // 2 before, the rest after
            h = conv(F.pad(x, (0, 0, (k - 1) // 2, k - 1 - (k - 1) // 2)))
            front.append(norm(torch.relu(h)).amax(dim=3))
        return self._mid_and_back_end(torch.cat(front, dim=1))  # (B, 561, T)

    def _mid_and_back_end(self, h: torch.Tensor) -> MusicnnOutput:
        """Mid end, pooling and back end of the (B, 561, T) front-end maps."""
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
        dense = self.dense(self.pool_bn(pooled))  # model/dense/BiasAdd
        penultimate = self.dense_bn(torch.relu(dense))
        return MusicnnOutput(self.out(penultimate), penultimate, mean_pool, max_pool, dense)


#: Frames of timbral responses computed per matrix product: 32 frames x 59 bins x 204
#: filters (1.5 MB) stay in cache until reduced (measured per clip: 16 -> 0.119 CPU-s,
#: 32 -> 0.115, 64 -> 0.120, all 187 at once -> 0.133).
TIMBRAL_CHUNK = 32


def _folded_norm(norm: nn.BatchNorm2d) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Batch norm as ``scale * v + shift`` per channel, and the sign of each scale (+1 at 0)."""
    scale = norm.weight / torch.sqrt(norm.running_var + norm.eps)
    return scale, norm.bias - norm.running_mean * scale, torch.where(scale >= 0, 1.0, -1.0)


def _norm_of_relu_of_max(M: torch.Tensor, sign: torch.Tensor, scale: torch.Tensor, shift: torch.Tensor):
    """``max_f norm(relu(r))`` from ``M = max_f(sign * r)``: sign * M is max_f r or min_f r."""
    return torch.relu(M * sign) * scale + shift


def _timbral_max(x: torch.Tensor, conv: nn.Conv2d, norm: nn.BatchNorm2d) -> torch.Tensor:
    """Timbral filters (7 frames x kf bins, 'valid' over a time-padded input) -> (B, T, C) maxima over frequency."""
    scale, shift, sign = _folded_norm(norm)
    C, _, kt, kf = conv.weight.shape
    W = (conv.weight.reshape(C, kt * kf) * sign[:, None]).t().contiguous()  # (kt * kf, C)
    B, T, n_bins = x.shape
    xp = F.pad(x, (0, 0, kt // 2, kt // 2))  # (B, T + kt - 1, F), contiguous
    n_pos = n_bins - kf + 1
    M = torch.empty(B, T, C)
    for b in range(B):
        for t0 in range(0, T, TIMBRAL_CHUNK):
            n = min(T, t0 + TIMBRAL_CHUNK) - t0
            # im2col of frames t0..t0+n: row (t, f) holds the kt x kf input window at (t, f)
            cols = xp[b, t0:].as_strided((n, n_pos, kt, kf), (n_bins, 1, n_bins, 1)).reshape(n * n_pos, kt * kf)
            M[b, t0 : t0 + n] = (cols @ W).view(n, n_pos, C).amax(dim=1)
    return _norm_of_relu_of_max(M + conv.bias * sign, sign, scale, shift)


def _temporal_max(x: torch.Tensor, k: int, conv: nn.Conv2d, norm: nn.BatchNorm2d) -> torch.Tensor:
    """Temporal filters (k frames x 1 bin, TF 'same' padding) -> (B, T, C) maxima over frequency."""
    scale, shift, sign = _folded_norm(norm)
    C = conv.weight.shape[0]
    W = conv.weight.reshape(C, k) * sign[:, None]
    B, T, n_bins = x.shape
    xp = F.pad(x, (0, 0, (k - 1) // 2, k - 1 - (k - 1) // 2))  # (B, T + k - 1, F)
    M = torch.empty(B, T, C)
    for b in range(B):
        taps = xp[b].as_strided((k, T * n_bins), (n_bins, 1))  # row j: frames j..j+T-1, all bins
        M[b] = (W @ taps).view(C, T, n_bins).amax(dim=2).t()
    return _norm_of_relu_of_max(M + conv.bias * sign, sign, scale, shift)


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


class GraphNode(NamedTuple):
    """One node of a TensorFlow GraphDef: name, op type, inputs (the graph's wiring) and attributes.

    ``attrs`` maps an attribute name to its value where it is a scalar (AttrValue's
    ``s`` bytes, ``i`` int, ``b`` bool, ``type`` enum int) and to the serialised
    AttrValue otherwise (tensors, shapes, lists).
    """

    name: str
    op: str
    inputs: tuple[str, ...]
    attrs: dict


def _attr_value(buf: bytes):
    """A serialised AttrValue -> its scalar value (s: bytes, i / type: int, b: bool), else the bytes."""
    fields = _proto_fields(buf)
    if len(fields) == 1 and fields[0][0] in (2, 3, 5, 6):
        f, v = fields[0]
        return bool(v) if f == 5 else v
    return buf


def _graph_node(buf: bytes) -> GraphNode:
    """A serialised NodeDef (1 name, 2 op, 3 input, 5 attr map entries of key 1 / AttrValue 2)."""
    text = {1: "", 2: ""}
    inputs, attrs = [], {}
    for f, v in _proto_fields(buf):
        if f in text:
            text[f] = v.decode()
        elif f == 3:
            inputs.append(v.decode())
        elif f == 5:
            entry = dict(_proto_fields(v))
            attrs[entry[1].decode()] = _attr_value(entry.get(2, b""))
    return GraphNode(text[1], text[2], tuple(inputs), attrs)


def _float_tensor(buf: bytes) -> np.ndarray | None:
    """A serialised float32 TensorProto as an array (None for other dtypes).

    The values are ``tensor_content`` (little-endian float32) or, for small constants,
    ``float_val`` (packed or not; a shorter list is filled with its last value, as
    TensorFlow does).
    """
    fields = _proto_fields(buf)
    t = dict(fields)
    if t.get(1, 0) != 1:  # DT_FLOAT
        return None
    shape = [dict(_proto_fields(d)).get(1, 0) for f, d in _proto_fields(t.get(2, b"")) if f == 2]
    if t.get(4):
        return np.frombuffer(t[4], dtype="<f4").astype(np.float32).reshape(shape)
    vals = []
    for f, v in fields:
        if f == 5:  # packed (bytes) or one fixed32 per value (int)
            vals += list(np.frombuffer(v if isinstance(v, bytes) else struct.pack("<I", v), dtype="<f4"))
    n = int(np.prod(shape)) if shape else 1
    if not vals:
        return np.zeros(shape, dtype=np.float32)
    return np.array(vals + vals[-1:] * (n - len(vals)), dtype=np.float32).reshape(shape)


def read_graph_def(path: str | PathLike) -> tuple[list[GraphNode], dict[str, np.ndarray]]:
    """The nodes and float32 constants of a frozen TensorFlow GraphDef (``.pb``), without TensorFlow.

    Parses the protobuf wire format with the checkpoint reader's :func:`_proto_fields`
    (GraphDef field 1 = node; NodeDef 1 name, 2 op, 3 input, 5 attr; AttrValue 8 tensor;
    TensorProto 1 dtype, 2 shape, 4 tensor_content, 5 float_val).

    Returns
    -------
    nodes : list of GraphNode
        Every node, in graph order.
    constants : dict of str -> np.ndarray, float32
        The ``value`` of every float32 ``Const`` node, by node name, with its shape.

    Raises
    ------
    MerError
        Missing file or anything that is not a GraphDef.
    """
    path = Path(path)
    if not path.is_file():
        raise MerError("TensorFlow graph not found", path)
    nodes, constants = [], {}
    try:
        for field, value in _proto_fields(path.read_bytes()):
            if field != 1:
                continue
            node = _graph_node(value)
            if not node.op:
                raise ValueError("a node without an op type")
            nodes.append(node)
            if node.op == "Const" and isinstance(node.attrs.get("value"), bytes):
                tensor = dict(_proto_fields(node.attrs["value"])).get(8)
                array = _float_tensor(tensor) if isinstance(tensor, bytes) else None
                if array is not None:
                    constants[node.name] = array
    except (ValueError, IndexError, KeyError, TypeError, UnicodeDecodeError, struct.error) as exc:
        raise MerError(f"cannot read TensorFlow GraphDef ({exc})", path) from None
    if not nodes:
        raise MerError("cannot read TensorFlow GraphDef (no nodes)", path)
    return nodes, constants


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
