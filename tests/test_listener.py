"""Listener-rated valence / arousal heads: the .pb reader against the real protobuf library, the head's
arithmetic, the shipped .npz files, musicnn's pre-ReLU dense output and its patches at Essentia's hop."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mer.core.errors import MerError
from mer.features import embeddings as E
from mer.features.blocks import LISTENER_HOP, listener_block
from mer.models import listener as L

HEADS_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "pretrained" / "essentia-va-heads"
PB = {"emomusic": "emomusic-msd-musicnn-1.pb", "deam": "deam-musicnn-msd-1.pb"}


@pytest.fixture(scope="module")
def pb_dir() -> Path:
    if not all((HEADS_DIR / f).is_file() for f in PB.values()):
        pytest.skip(f"Essentia heads not found at {HEADS_DIR}")
    return HEADS_DIR


# ---------------------------------------------------------------------------
# An independent reading of the .pb: the real protobuf library with TensorFlow's field numbers
# (graph.proto, node_def.proto, attr_value.proto, tensor.proto, tensor_shape.proto)
# ---------------------------------------------------------------------------


def _graph_def_class():
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    F = descriptor_pb2.FieldDescriptorProto
    fdp = descriptor_pb2.FileDescriptorProto(name="mer_test_tf_graph.proto", package="mertest", syntax="proto3")

    def add(msg, name, number, ftype, label=F.LABEL_OPTIONAL, type_name=None):
        f = msg.field.add(name=name, number=number, type=ftype, label=label)
        if type_name:
            f.type_name = type_name

    shape = fdp.message_type.add(name="TensorShapeProto")
    dim = shape.nested_type.add(name="Dim")
    add(dim, "size", 1, F.TYPE_INT64)
    add(dim, "name", 2, F.TYPE_STRING)
    add(shape, "dim", 2, F.TYPE_MESSAGE, F.LABEL_REPEATED, ".mertest.TensorShapeProto.Dim")
    add(shape, "unknown_rank", 3, F.TYPE_BOOL)
    tensor = fdp.message_type.add(name="TensorProto")
    add(tensor, "dtype", 1, F.TYPE_INT32)  # an enum in TensorFlow: the same varint
    add(tensor, "tensor_shape", 2, F.TYPE_MESSAGE, type_name=".mertest.TensorShapeProto")
    add(tensor, "version_number", 3, F.TYPE_INT32)
    add(tensor, "tensor_content", 4, F.TYPE_BYTES)
    add(tensor, "float_val", 5, F.TYPE_FLOAT, F.LABEL_REPEATED)
    add(tensor, "int_val", 7, F.TYPE_INT32, F.LABEL_REPEATED)
    attr = fdp.message_type.add(name="AttrValue")
    for name, number, ftype in (("s", 2, F.TYPE_BYTES), ("i", 3, F.TYPE_INT64), ("f", 4, F.TYPE_FLOAT),
                                ("b", 5, F.TYPE_BOOL), ("type", 6, F.TYPE_INT32)):
        add(attr, name, number, ftype)
    add(attr, "shape", 7, F.TYPE_MESSAGE, type_name=".mertest.TensorShapeProto")
    add(attr, "tensor", 8, F.TYPE_MESSAGE, type_name=".mertest.TensorProto")
    node = fdp.message_type.add(name="NodeDef")
    entry = node.nested_type.add(name="AttrEntry")
    entry.options.map_entry = True
    add(entry, "key", 1, F.TYPE_STRING)
    add(entry, "value", 2, F.TYPE_MESSAGE, type_name=".mertest.AttrValue")
    add(node, "name", 1, F.TYPE_STRING)
    add(node, "op", 2, F.TYPE_STRING)
    add(node, "input", 3, F.TYPE_STRING, F.LABEL_REPEATED)
    add(node, "device", 4, F.TYPE_STRING)
    add(node, "attr", 5, F.TYPE_MESSAGE, F.LABEL_REPEATED, ".mertest.NodeDef.AttrEntry")
    graph = fdp.message_type.add(name="GraphDef")
    add(graph, "node", 1, F.TYPE_MESSAGE, F.LABEL_REPEATED, ".mertest.NodeDef")
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("mertest.GraphDef"))


def _parse(path: Path):
    pytest.importorskip("google.protobuf")
    g = _graph_def_class()()
    g.ParseFromString(path.read_bytes())
    return g


def _tensor(t) -> np.ndarray:
    shape = [d.size for d in t.tensor_shape.dim]
    dtype = {1: np.float32, 3: np.int32}[t.dtype]
    if t.tensor_content:
        return np.frombuffer(t.tensor_content, dtype="<f4" if t.dtype == 1 else "<i4").astype(dtype).reshape(shape)
    v = list(t.float_val) if t.dtype == 1 else list(t.int_val)
    return np.array(v + v[-1:] * (int(np.prod(shape, dtype=int)) - len(v)), dtype=dtype).reshape(shape)


def _run_graph(g, x: np.ndarray) -> np.ndarray:
    """Evaluate the GraphDef on input `x` op by op, as TensorFlow defines the ops (the semantics check)."""
    nodes = {n.name: n for n in g.node}
    memo: dict[str, np.ndarray] = {}

    def value(name: str) -> np.ndarray:
        name = name.split(":")[0]
        if name in memo:
            return memo[name]
        n = nodes[name]
        a = [value(i) for i in n.input]
        if n.op == "Const":
            out = _tensor(n.attr["value"].tensor)
        elif n.op == "Placeholder":
            out = x
        elif n.op == "Shape":
            out = np.array(a[0].shape, dtype=np.int32)
        elif n.op == "StridedSlice":
            out = a[0][int(a[1][0]): int(a[2][0]): int(a[3][0])]
            if n.attr["shrink_axis_mask"].i & 1:
                out = out[0]
        elif n.op == "Pack":
            out = np.stack([np.asarray(v) for v in a], axis=n.attr["axis"].i)
        elif n.op == "Reshape":
            out = a[0].reshape([int(s) for s in np.ravel(a[1])])
        elif n.op in ("Add", "AddV2"):
            out = a[0] + a[1]
        elif n.op == "Sub":
            out = a[0] - a[1]
        elif n.op == "Mul":
            out = a[0] * a[1]
        elif n.op == "Rsqrt":
            out = 1.0 / np.sqrt(a[0])
        elif n.op == "MatMul":
            A = a[0].T if n.attr["transpose_a"].b else a[0]
            B = a[1].T if n.attr["transpose_b"].b else a[1]
            out = A @ B
        else:
            raise AssertionError(f"op {n.op} not expected in a BatchNorm + Dense head")
        memo[name] = out
        return out

    return value("dense_out")


@pytest.mark.real_data
@pytest.mark.parametrize("name", list(PB))
def test_reader_equals_the_protobuf_library(pb_dir, name):
    """Every node (name, op, inputs) and every float constant read without protobuf equals protobuf's reading."""
    from mer.features.musicnn import read_graph_def

    g = _parse(pb_dir / PB[name])
    nodes, constants = read_graph_def(pb_dir / PB[name])
    assert [(n.name, n.op, n.inputs) for n in nodes] == [(n.name, n.op, tuple(n.input)) for n in g.node]
    expected = {n.name: _tensor(n.attr["value"].tensor) for n in g.node
                if n.op == "Const" and n.attr["value"].tensor.dtype == 1}
    assert sorted(constants) == sorted(expected) and len(expected) == 7
    for k, v in expected.items():
        assert constants[k].shape == v.shape and constants[k].dtype == np.float32, k
        np.testing.assert_array_equal(constants[k], v, err_msg=k)
    mm = next(n for n in nodes if n.op == "MatMul")
    ref = next(n for n in g.node if n.op == "MatMul")
    assert (mm.attrs["transpose_a"], mm.attrs["transpose_b"]) == (ref.attr["transpose_a"].b, ref.attr["transpose_b"].b)


@pytest.mark.real_data
@pytest.mark.parametrize("name", list(PB))
def test_converted_head_equals_the_graph_run_op_by_op(pb_dir, name):
    """convert_pb's arrays are the graph's constants by name, and ratings() == the graph evaluated op by op."""
    g = _parse(pb_dir / PB[name])
    consts = {n.name: _tensor(n.attr["value"].tensor) for n in g.node if n.op == "Const"}
    head = L.convert_pb(pb_dir / PB[name])
    for role, const in (("scale", "scale"), ("bias", "bias"), ("mean", "mean"), ("var", "var"),
                        ("epsilon", "onnx_tf_prefix_batch_normalization/add/y")):
        np.testing.assert_array_equal(getattr(head, role), consts[const], err_msg=role)
    kernel = next(k for k in consts if k.startswith("dense_out/kernel"))
    bias = next(k for k in consts if k.startswith("dense_out/bias"))
    np.testing.assert_array_equal(head.kernel, consts[kernel])
    np.testing.assert_array_equal(head.dense_bias, consts[bias])
    assert head.order == L.ORDERS[name] and head.licence == "CC BY-NC-SA 4.0"
    import hashlib

    assert head.sha256 == hashlib.sha256((pb_dir / PB[name]).read_bytes()).hexdigest()
    x = np.random.default_rng(3).normal(0.0, 3.0, (6, 200)).astype(np.float32)
    graph = _run_graph(g, x)
    assert graph.shape == (6, 2)
    # float32 sums of 200 products in another order: measured max |difference| ~1e-6 on values ~1-9
    np.testing.assert_allclose(head.ratings(x), graph, rtol=1e-5, atol=1e-5)
    cols = [head.order.index("valence"), head.order.index("arousal")]
    np.testing.assert_allclose(head.predict(x), (graph[:, cols] - 5.0) / 4.0, rtol=1e-5, atol=1e-5)


@pytest.mark.real_data
def test_convert_refuses_a_graph_that_computes_something_else(pb_dir, tmp_path):
    """The same graph with the batch norm's mean term rewired (bias - mean, no scale factor) is refused."""
    g = _parse(pb_dir / PB["emomusic"])
    sub = next(n for n in g.node if n.op == "Sub")
    sub.input[1] = "Reshape_2"  # bias - mean instead of bias - mean * factor
    wired = tmp_path / "emomusic-rewired.pb"
    wired.write_bytes(g.SerializeToString())
    with pytest.raises(MerError, match="not a BatchNorm"):
        L.convert_pb(wired)
    assert L.convert_pb(pb_dir / PB["emomusic"]).name == "emomusic"


@pytest.mark.real_data
@pytest.mark.parametrize("name", list(PB))
def test_shipped_heads_equal_the_converted_graphs(pb_dir, name):
    shipped, converted = L.load_head(name), L.convert_pb(pb_dir / PB[name])
    for k in ("scale", "bias", "mean", "var", "epsilon", "kernel", "dense_bias"):
        np.testing.assert_array_equal(getattr(shipped, k), getattr(converted, k), err_msg=k)
    assert (shipped.name, shipped.order, shipped.source, shipped.sha256) == \
        (converted.name, converted.order, converted.source, converted.sha256)
    assert "Alonso-Jimenez" in shipped.attribution and "Pompeu Fabra" in shipped.attribution


# ---------------------------------------------------------------------------
# The head without the .pb files
# ---------------------------------------------------------------------------


def _random_head(order=("valence", "arousal"), seed=0) -> L.ListenerHead:
    rng = np.random.default_rng(seed)
    f = lambda *s: rng.normal(0, 1, s).astype(np.float32)  # noqa: E731
    return L.ListenerHead(name="test", scale=f(200), bias=f(200), mean=f(200),
                          var=np.abs(f(200)) + np.float32(0.5), epsilon=np.array(1e-3, np.float32),
                          kernel=f(200, 2) / 10, dense_bias=np.array([5.0, 4.0], np.float32), order=order,
                          source="test.pb", sha256="0" * 64)


def test_predict_is_batch_norm_then_dense_on_mers_scale():
    head = _random_head()
    x = np.random.default_rng(1).normal(0, 2, (7, 200))
    bn = (x - head.mean) / np.sqrt(head.var.astype(np.float64) + float(head.epsilon)) * head.scale + head.bias
    rating = bn @ head.kernel.astype(np.float64) + head.dense_bias
    np.testing.assert_allclose(head.ratings(x), rating, rtol=1e-5, atol=1e-5)  # float32 against float64
    np.testing.assert_allclose(head.predict(x), (rating - 5) / 4, rtol=1e-5, atol=1e-5)
    # linear: the head of the patches' mean is the mean of the patches' heads
    np.testing.assert_allclose(head.predict(x.mean(0))[0], head.predict(x).mean(0), rtol=1e-5, atol=1e-5)
    with pytest.raises(MerError, match="expects"):
        head.predict(np.zeros((3, 199)))


def test_deam_order_puts_valence_first():
    va, av = _random_head(("valence", "arousal")), _random_head(("arousal", "valence"))
    x = np.random.default_rng(2).normal(0, 2, (4, 200))
    np.testing.assert_array_equal(av.predict(x), va.predict(x)[:, ::-1])
    np.testing.assert_array_equal(av.ratings(x), va.ratings(x))  # the graph's own order is kept in ratings()
    assert L.load_head("deam").order == ("arousal", "valence")
    assert L.load_head("emomusic").order == ("valence", "arousal")


def test_save_load_roundtrip_and_refusals(tmp_path):
    head = _random_head(("arousal", "valence"))
    L.save(head, tmp_path / "h.npz")
    back = L.load(tmp_path / "h.npz")
    x = np.random.default_rng(4).normal(0, 2, (3, 200))
    np.testing.assert_array_equal(back.predict(x), head.predict(x))
    assert back.manifest() == head.manifest()
    with np.load(tmp_path / "h.npz", allow_pickle=False) as z:  # plain arrays, the manifest a JSON string
        assert json.loads(str(z["manifest"]))["licence"] == "CC BY-NC-SA 4.0"

    bad = tmp_path / "corrupt.npz"
    bad.write_bytes((tmp_path / "h.npz").read_bytes()[:300])
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, weights=np.zeros(3))
    short = tmp_path / "short.npz"
    arrays = head.arrays() | {"kernel": np.zeros((199, 2), np.float32)}
    np.savez(short, manifest=np.array(json.dumps(head.manifest())), **arrays)
    for path, why in ((bad, "not a listener head"), (foreign, "not a listener head"), (short, "'kernel'"),
                      (tmp_path / "missing.npz", "not found")):
        with pytest.raises(MerError, match=why) as e:
            L.load(path)
        assert str(e.value).startswith(str(path)) and "\n" not in str(e.value)


def test_convert_refuses_other_graphs(tmp_path):
    junk = tmp_path / "junk-1.pb"
    junk.write_bytes(b"\x0a\x03abc")  # a node holding garbage
    with pytest.raises(MerError, match="junk-1.pb"):
        L.convert_pb(junk, order=("valence", "arousal"))
    with pytest.raises(MerError, match="unknown output order"):
        L.convert_pb(junk)


# ---------------------------------------------------------------------------
# musicnn's pre-ReLU dense output and Essentia's patches
# ---------------------------------------------------------------------------


@pytest.mark.real_data
def test_dense_output_on_a_real_clip(fourq_clips):
    """relu(dense) through dense_bn is the existing penultimate; out() of it the existing logits."""
    import torch

    from mer.audio import decode as audio

    model = E.load_musicnn()
    path = next(iter(fourq_clips.values()))
    P = torch.from_numpy(E.patches(E.musicnn_input(audio.load(path, sr=16000), 16000), hop=LISTENER_HOP))
    with torch.inference_mode():
        out, ref = model(P), model.forward_reference(P)
        again = model.dense_bn(torch.relu(out.dense))
        logits = model.out(again)
    assert out.dense.shape == (len(P), 200) and bool((out.dense < 0).any())  # before the ReLU
    # the same float32 ops on the same tensor: measured identical; 1e-6 of the largest value allowed
    assert float((again - out.penultimate).abs().max()) <= 1e-6 * float(out.penultimate.abs().max())
    assert float((logits - out.logits).abs().max()) <= 1e-6 * float(out.logits.abs().max())
    # the fast path's dense equals the layer-by-layer network's (measured ~1e-6 relative)
    assert float((out.dense - ref.dense).abs().max()) <= 1e-5 * float(ref.dense.abs().max())


@pytest.mark.parametrize("n_frames", [187, 279, 280, 373, 1876])
def test_patches_at_essentias_hop(n_frames):
    """Patches start every 93 frames; the trailing partial patch is discarded (Essentia's lastPatchMode
    "discard": 1 + floor((n_frames - 187) / 93) patches)."""
    L_in = np.tile(np.arange(n_frames, dtype=np.float32)[:, None], (1, 96))
    P = E.patches(L_in, hop=LISTENER_HOP)
    n = 1 + (n_frames - 187) // 93
    assert P.shape == (n, 187, 96)
    np.testing.assert_array_equal(P[:, 0, 0], np.arange(n) * 93)
    np.testing.assert_array_equal(P[:, -1, 0], np.arange(n) * 93 + 186)


def test_patches_of_a_clip_under_3_s_are_repeated():
    """Essentia gives no patch (so no value) for a clip under 187 frames; mer repeats it to fill one."""
    L_in = np.arange(100, dtype=np.float32)[:, None] * np.ones((1, 96), np.float32)
    P = E.patches(L_in, hop=LISTENER_HOP)
    assert P.shape == (1, 187, 96)
    np.testing.assert_array_equal(P[0, :, 0], np.arange(187) % 100)


def test_listener_block_keeps_the_default_keys():
    from mer.features.blocks import DEFAULT_BLOCKS

    name, config = listener_block()
    assert config.parts == ("dense",) and config.stats == ("mean",) and config.patch_hop == 93
    assert config.key() not in {c.key() for _, c in DEFAULT_BLOCKS}
    # the shipped models' inputs keep their cache keys (EmbeddingConfig's defaults and version unchanged)
    assert E.EmbeddingConfig().parts == ("tags", "penultimate") and E.EMBEDDING_VERSION == 1
    assert E.embedding_names(config) == [f"mean:dense:{i}" for i in range(200)]


@pytest.mark.real_data
@pytest.mark.slow
def test_listener_va_streamed_equals_in_memory_on_a_real_clip(fourq_clips, tmp_path):
    """The long-file path (patches streamed in chunks of 3) equals the whole clip in memory;
    listener_va goes through the cache and applies the shipped head."""
    from mer.audio import decode as audio
    from mer.workflows.listener import listener_inputs, listener_va

    path = next(iter(fourq_clips.values()))
    _, config = listener_block()
    whole = E.embed_signal(audio.load(path, sr=16000), config)
    streamed = E.embed_long_file(path, config, chunk_patches=3)
    # measured max |difference| ~1e-6 on values up to ~10 (float32 rounding); 1e-4 leaves room for BLAS
    np.testing.assert_allclose(streamed, whole, rtol=1e-4, atol=1e-4)
    missing = tmp_path / "missing.mp3"
    va = listener_va([path, missing], "emomusic", cache_dir=tmp_path / "cache")
    assert va.shape == (2, 2) and np.isnan(va[1]).all()
    np.testing.assert_allclose(va[0], L.load_head("emomusic").predict(whole)[0], rtol=1e-5, atol=1e-6)
    assert (tmp_path / "cache" / "features" / config.key()).is_dir()
    inputs = listener_inputs([path, missing], cache_dir=tmp_path / "cache")
    assert inputs.ok.tolist() == [True, False] and len(inputs.failures) == 1
    deam = listener_va([path], "deam", cache_dir=tmp_path / "cache")
    assert np.all(np.abs(deam) < 1) and np.all(np.abs(va[0]) < 1)
