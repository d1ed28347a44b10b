"""Valence / arousal heads trained on listener ratings: Essentia's emoMusic and DEAM heads on musicnn-MSD.

Two small TensorFlow graphs of Essentia's model collection (Music Technology Group,
Universitat Pompeu Fabra; Alonso-Jimenez, Bogdanov, Pons & Serra, "Tensorflow Audio
Models in Essentia", ICASSP 2020; licensed CC BY-NC-SA 4.0) map musicnn-MSD's back-end
dense layer *before its ReLU* (200 values per 3-s patch, :attr:`MusicnnOutput.dense
<mer.features.musicnn.MusicnnOutput>`) to the mean valence and arousal that listeners
gave on a 1-9 scale:

* ``emomusic-msd-musicnn-1.pb``: emoMusic (Soleymani et al. 2013, 744 clips), outputs
  ``[valence, arousal]``;
* ``deam-musicnn-msd-1.pb``: DEAM (Aljanaki et al. 2017, 1,802 songs), outputs
  ``[arousal, valence]`` (its first output tracks listeners' arousal; see
  ``../shared/pretrained/essentia-va-heads/README.md``).

Each graph is ``BatchNorm(200)`` then ``Dense(200 -> 2)``, nothing else:
``rating = ((x - mean) * scale / sqrt(var + epsilon) + bias) @ kernel + dense_bias``
(:func:`convert_pb` reads the constants with :func:`mer.features.musicnn.read_graph_def`
and checks that the graph computes exactly that, :func:`head_roles`). The head is linear,
so the head of the patches' mean equals the mean of the per-patch heads: a clip's value
is :meth:`ListenerHead.predict` of its mean pre-ReLU dense vector
(:func:`mer.extraction.listener.listener_va`).

The converted arrays ship as ``mer/resources/listener-emomusic.npz`` and
``listener-deam.npz`` (plain ``.npz``, read with ``allow_pickle=False``) with the licence
beside them (``mer/resources/ESSENTIA_HEADS_LICENSE``); ``experiments/convert_listener_heads.py``
rebuilds them from the ``.pb`` files. They are a separable part: nothing else in `mer`
loads them unless asked, so a model without them keeps mer's own licence.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from dataclasses import dataclass
from os import PathLike
from pathlib import Path

import numpy as np

from mer.core.errors import MerError
from mer.core.io import save_npz
from mer.models.affect import RATING_CENTRE, RATING_HALF_RANGE

#: Folder of the shipped heads.
RESOURCES = Path(__file__).resolve().parents[1] / "resources"

#: Shipped heads by name -> file under :data:`RESOURCES`.
SHIPPED = {"emomusic": "listener-emomusic.npz", "deam": "listener-deam.npz"}

#: Output order of each known graph (by the name :func:`convert_pb` gives it).
ORDERS = {"emomusic": ("valence", "arousal"), "deam": ("arousal", "valence")}

LICENCE = "CC BY-NC-SA 4.0"
ATTRIBUTION = ("Music Technology Group, Universitat Pompeu Fabra (Essentia models); Alonso-Jimenez, Bogdanov, "
               "Pons, Serra, \"Tensorflow Audio Models in Essentia\", ICASSP 2020")


#: Width of the input: musicnn-MSD's back-end dense layer.
N_UNITS = 200

_ARRAYS = {"scale": (N_UNITS,), "bias": (N_UNITS,), "mean": (N_UNITS,), "var": (N_UNITS,), "epsilon": (),
           "kernel": (N_UNITS, 2), "dense_bias": (2,)}
_FORMAT = "mer-listener-head"


@dataclass(frozen=True, eq=False)
class ListenerHead:
    """A BatchNorm(200) + Dense(200 -> 2) head and where it came from.

    Attributes
    ----------
    name : str
        ``emomusic`` or ``deam`` (or any name given to :func:`convert_pb`).
    scale, bias, mean, var : np.ndarray, shape (200,), float32
        The batch norm's gamma, beta, moving mean and variance.
    epsilon : np.ndarray, shape (), float32
    kernel : np.ndarray, shape (200, 2), float32
    dense_bias : np.ndarray, shape (2,), float32
    order : tuple of str
        What the graph's two outputs are: ``("valence", "arousal")`` or ``("arousal", "valence")``.
    source : str
        File name of the ``.pb`` it was converted from.
    sha256 : str
        SHA-256 of that ``.pb``.
    licence, attribution : str
    """

    name: str
    scale: np.ndarray
    bias: np.ndarray
    mean: np.ndarray
    var: np.ndarray
    epsilon: np.ndarray
    kernel: np.ndarray
    dense_bias: np.ndarray
    order: tuple[str, str]
    source: str
    sha256: str
    licence: str = LICENCE
    attribution: str = ATTRIBUTION

    def ratings(self, dense: np.ndarray) -> np.ndarray:
        """The graph's own outputs: (n, 2) on the listeners' 1-9 scale, in :attr:`order`.

        Parameters
        ----------
        dense : np.ndarray, shape (n, 200) or (200,)
            musicnn-MSD's pre-ReLU dense output (per patch, or a clip's patch mean).
        """
        x = np.asarray(dense, dtype=np.float32)
        if x.shape[-1:] != (N_UNITS,):
            raise MerError(f"listener head '{self.name}' expects (n, {N_UNITS}) inputs, got shape {x.shape}")
        x = x.reshape(-1, N_UNITS)
        factor = self.scale / np.sqrt(self.var + self.epsilon)
        normed = x * factor + (self.bias - self.mean * factor)  # the graph's mul_1 + sub
        return (normed @ self.kernel + self.dense_bias).astype(np.float32)

    def predict(self, dense: np.ndarray) -> np.ndarray:
        """(n, 2) ``[valence, arousal]`` on mer's scale ``(rating - 5) / 4`` (0 neutral, 1..9 -> [-1, 1])."""
        r = self.ratings(dense)
        cols = [self.order.index("valence"), self.order.index("arousal")]
        return ((r[:, cols] - RATING_CENTRE) / RATING_HALF_RANGE).astype(np.float32)

    def manifest(self) -> dict:
        """The head's description as saved beside its arrays."""
        return {"format": _FORMAT, "name": self.name, "order": list(self.order), "source": self.source,
                "sha256": self.sha256, "licence": self.licence, "attribution": self.attribution,
                "input": "musicnn-MSD model/dense/BiasAdd (pre-ReLU), 200 per 3-s patch",
                "output": "[valence, arousal] = (rating - 5) / 4 of the 1-9 listener scale"}

    def arrays(self) -> dict[str, np.ndarray]:
        return {k: getattr(self, k) for k in _ARRAYS}


def head_roles(nodes) -> dict[str, str]:
    """Which ``Const`` node is which part of the head, read off the graph's wiring.

    Follows the graph back from its output and checks that it computes
    ``(x * f + (bias - mean * f)) @ kernel + dense_bias`` with ``f = rsqrt(var + epsilon) * scale``
    (the ONNX-to-TF export of a batch norm and a dense layer), ``x`` the placeholder.

    Parameters
    ----------
    nodes : list of :class:`mer.features.musicnn.GraphNode`

    Returns
    -------
    dict
        ``scale, bias, mean, var, epsilon, kernel, dense_bias`` -> ``Const`` node name.

    Raises
    ------
    ValueError
        The graph computes something else.
    """
    by = {n.name: n for n in nodes}
    used = {i.split(":")[0].lstrip("^") for n in nodes for i in n.inputs}
    ends = [n.name for n in nodes if n.name not in used and n.op not in ("Const", "Shape")]  # a dangling Shape
    if len(ends) != 1:
        raise ValueError(f"expected one output node, found {ends}")

    def node(name: str, ops: tuple[str, ...]):
        n = by.get(name.split(":")[0])
        if n is None or n.op not in ops:
            raise ValueError(f"'{name}' is {n.op if n else 'missing'}, expected {'/'.join(ops)}")
        return n

    def source(name: str):  # through Reshape / Identity to the Const or Placeholder behind
        n = by[name.split(":")[0]]
        while n.op in ("Reshape", "Identity"):
            n = by[n.inputs[0].split(":")[0]]
        return n

    def split(n, first_is) -> tuple[str, str]:  # the operands of a commutative op, the one that `first_is` first
        a, b = n.inputs[:2]
        return (a, b) if first_is(a) else (b, a)

    add = node(ends[0], ("Add", "AddV2", "BiasAdd"))
    mm_name, dense_bias = split(add, lambda i: by[i].op == "MatMul")
    mm = node(mm_name, ("MatMul",))
    if mm.attrs.get("transpose_a") or mm.attrs.get("transpose_b"):
        raise ValueError("transposed MatMul")
    bn_name, kernel = split(mm, lambda i: source(i).op != "Const")
    bn = node(bn_name, ("Add", "AddV2"))
    mul1_name, sub_name = split(bn, lambda i: by[i].op == "Mul")
    x, f_name = split(node(mul1_name, ("Mul",)), lambda i: source(i).op == "Placeholder")
    rsqrt, scale = split(node(f_name, ("Mul",)), lambda i: by[i].op == "Rsqrt")
    add_eps = node(node(rsqrt, ("Rsqrt",)).inputs[0], ("Add", "AddV2"))
    var, epsilon = split(add_eps, lambda i: by[i].op == "Reshape")
    sub = node(sub_name, ("Sub",))
    bias, mul2 = sub.inputs[:2]
    mean, f2 = split(node(mul2, ("Mul",)), lambda i: i != f_name)
    if f2 != f_name or source(x).op != "Placeholder":
        raise ValueError("the batch norm's mean term does not use its scale factor")
    roles = {"scale": scale, "bias": bias, "mean": mean, "var": var, "epsilon": epsilon, "kernel": kernel,
             "dense_bias": dense_bias}
    out = {k: source(v).name for k, v in roles.items()}
    not_const = [k for k, v in out.items() if by[v].op != "Const"]
    if not_const:
        raise ValueError(f"{', '.join(not_const)} not constant")
    return out


def convert_pb(pb_path: str | PathLike, name: str | None = None, order: tuple[str, str] | None = None
               ) -> ListenerHead:
    """Read an Essentia BatchNorm + Dense head from its frozen TensorFlow graph, without TensorFlow.

    Parameters
    ----------
    pb_path : path
        ``emomusic-msd-musicnn-1.pb`` or ``deam-musicnn-msd-1.pb`` (or a graph of the same form).
    name : str, optional
        Default: the file name up to its first ``-`` (``emomusic``, ``deam``).
    order : (str, str), optional
        What the two outputs are; default :data:`ORDERS` of `name` (required for other names).

    Raises
    ------
    MerError
        Naming the file: unreadable, another graph, or constants of the wrong shapes.
    """
    from mer.features.musicnn import read_graph_def

    path = Path(pb_path)
    name = name or path.name.split("-")[0]
    order = tuple(order or ORDERS.get(name, ()))
    if sorted(order) != ["arousal", "valence"]:
        raise MerError(f"unknown output order of head '{name}': pass order=('valence', 'arousal') or the reverse",
                       path)
    nodes, constants = read_graph_def(path)
    try:
        roles = head_roles(nodes)
    except (ValueError, KeyError, IndexError) as exc:
        raise MerError(f"not a BatchNorm + Dense head ({exc})", path) from None
    arrays = {k: constants[v] for k, v in roles.items()}
    _check_shapes(arrays, path)
    return ListenerHead(name=name, **arrays, order=order, source=path.name,
                        sha256=hashlib.sha256(path.read_bytes()).hexdigest())


def _check_shapes(arrays: dict, path) -> None:
    for k, shape in _ARRAYS.items():
        a = arrays.get(k)
        if a is None or a.shape != shape or a.dtype != np.float32:
            got = "missing" if a is None else f"{a.dtype} {a.shape}"
            raise MerError(f"listener head array '{k}' is {got}, expected float32 {shape}", path)


def save(head: ListenerHead, path: str | PathLike) -> None:
    """Write the head as a plain ``.npz`` (its arrays + ``manifest``, a JSON string), atomically."""
    save_npz(path, manifest=np.array(json.dumps(head.manifest(), sort_keys=True)), **head.arrays())


def load(path: str | PathLike) -> ListenerHead:
    """A head written by :func:`save` (``numpy.load(allow_pickle=False)``: no code is run).

    Raises
    ------
    MerError
        One line naming the file: missing, not an npz, no or another manifest, arrays of the wrong shapes.
    """
    path = Path(path)
    if not path.is_file():
        raise MerError("listener head not found", path)
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
        manifest = json.loads(str(data.pop("manifest")))
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        raise MerError(f"not a listener head file ({' '.join(str(exc).split())[:120]})", path) from None
    if not isinstance(manifest, dict) or manifest.get("format") != _FORMAT:
        raise MerError(f"not a listener head file (manifest format is not '{_FORMAT}')", path)
    _check_shapes(data, path)
    order = tuple(manifest.get("order", ()))
    if sorted(order) != ["arousal", "valence"]:
        raise MerError(f"listener head has an unknown output order {list(order)}", path)
    try:
        return ListenerHead(name=manifest["name"], **{k: data[k] for k in _ARRAYS}, order=order,
                            source=manifest["source"], sha256=manifest["sha256"], licence=manifest["licence"],
                            attribution=manifest["attribution"])
    except KeyError as exc:
        raise MerError(f"listener head manifest lacks {exc}", path) from None


def load_head(head: str | PathLike | ListenerHead = "emomusic") -> ListenerHead:
    """A shipped head by name (``emomusic``, ``deam``), a head file, or `head` itself."""
    if isinstance(head, ListenerHead):
        return head
    if str(head) in SHIPPED:
        return load(RESOURCES / SHIPPED[str(head)])
    return load(head)


def convert_shipped(pretrained: str | PathLike, out_dir: str | PathLike = RESOURCES) -> dict[str, Path]:
    """Rebuild the shipped heads from the ``.pb`` files in `pretrained` (``essentia-va-heads/``).

    Returns
    -------
    dict
        Head name -> file written.
    """
    files = {"emomusic": "emomusic-msd-musicnn-1.pb", "deam": "deam-musicnn-msd-1.pb"}
    written = {}
    for name, pb in files.items():
        target = Path(out_dir) / SHIPPED[name]
        save(convert_pb(Path(pretrained) / pb, name=name), target)
        written[name] = target
    return written
