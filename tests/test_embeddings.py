"""musicnn port: checkpoint reader, weight conversion, equality with the original TF graph."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from mer.extraction.inputs import embed_files
from mer.features import embeddings as E
from mer.core.errors import MerError

REFERENCE = Path(__file__).parent / "data" / "musicnn_tf_reference.json"


def _test_signal(seconds: float = 6.0, sr: int = 16000) -> np.ndarray:
    """The signal the TF reference outputs were computed on (do not change)."""
    rng = np.random.default_rng(6)
    t = np.arange(int(seconds * sr)) / sr
    y = sum(0.2 * np.sin(2 * np.pi * f * t) for f in (220.0, 277.2, 329.6))
    y = y * (0.6 + 0.4 * np.sin(2 * np.pi * 2.0 * t) ** 2)
    y = y + 0.05 * rng.standard_normal(len(t))
    return y.astype(np.float32)


@pytest.fixture(scope="module")
def shipped():
    return E.load_musicnn()


def test_shipped_weights_are_small_and_load_safely():
    size = E.DEFAULT_WEIGHTS.stat().st_size
    assert size < 2_000_000  # float16, about 1.6 MB
    state = torch.load(E.DEFAULT_WEIGHTS, weights_only=True)
    assert state["out.weight"].dtype == torch.float16
    assert (E.DEFAULT_WEIGHTS.parent / "MUSICNN_LICENSE").is_file()


def test_port_matches_original_tensorflow_graph(shipped):
    """Outputs of the original TF1 graph on the same input, stored once (see the JSON's 'source')."""
    ref = json.loads(REFERENCE.read_text())
    P = E.patches(E.musicnn_input(_test_signal(), 16000))
    assert P.shape == (2, 187, 96)
    with torch.no_grad():
        out = shipped(torch.from_numpy(P))
    taggram = torch.sigmoid(out.logits).numpy()
    # float16 weights: measured max |diff| ~4e-3 in tag probability on real music
    np.testing.assert_allclose(taggram, np.array(ref["taggram"]), atol=1e-2)
    np.testing.assert_allclose(out.penultimate.numpy(), np.array(ref["penultimate"]), atol=5e-2)
    np.testing.assert_allclose(out.mean_pool.numpy()[:, :40], np.array(ref["mean_pool"]), atol=5e-2)
    # and the ranking of tags is the original's
    assert (taggram.mean(0).argsort()[-5:] == np.array(ref["taggram"]).mean(0).argsort()[-5:]).all()


def test_patches_cut_and_repeat_pad():
    L = np.arange(400 * 96, dtype=np.float32).reshape(400, 96)
    assert E.patches(L).shape == (2, 187, 96)  # trailing partial patch dropped
    assert E.patches(L, hop=100).shape == (3, 187, 96)
    short = E.patches(L[:50])
    assert short.shape == (1, 187, 96)
    np.testing.assert_array_equal(short[0, 50:100], L[:50])  # repeated
    with pytest.raises(MerError):
        E.patches(L[:0])


def test_clip_embedding_shapes_and_names(shipped):
    y = _test_signal(seconds=2.0)  # shorter than a patch: repeat-padded
    cfg = E.EmbeddingConfig(parts=("tags", "penultimate", "mean_pool"), stats=("mean", "std"))
    v = E.clip_embedding(y, 16000, cfg, model=shipped)
    names = E.embedding_names(cfg)
    assert v.shape == (len(names),) == (2 * (50 + 200 + 753),)
    assert names[0] == "mean:tag:rock" and names[49] == "mean:tag:happy"
    assert np.isfinite(v).all()
    assert np.allclose(v[len(names) // 2:], 0)  # one patch: std over patches is zero
    assert E.EmbeddingConfig().key() != cfg.key()


def test_clip_embedding_resamples_other_rates(shipped):
    import librosa

    y16 = _test_signal()
    y22 = librosa.resample(y16, orig_sr=16000, target_sr=22050)
    a = E.clip_embedding(y16, 16000, model=shipped)
    b = E.clip_embedding(y22, 22050, model=shipped)
    assert np.corrcoef(a, b)[0, 1] > 0.99


# --- the pure-Python TF checkpoint reader, on a bundle written here -------------------


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(num: int, wire: int, payload: bytes | int) -> bytes:
    tag = _varint(num << 3 | wire)
    return tag + (_varint(payload) if wire == 0 else _varint(len(payload)) + payload)


def _block(entries: list[tuple[bytes, bytes]]) -> bytes:
    body = b"".join(_varint(0) + _varint(len(k)) + _varint(len(v)) + k + v for k, v in entries)
    return body + struct.pack("<II", 0, 1)  # one restart point at 0, then the count


def _write_bundle(prefix: Path, tensors: dict[str, np.ndarray]) -> None:
    """A minimal TF V2 checkpoint bundle (SSTable index + raw data), as TensorFlow lays it out."""
    data, entries, offset = b"", [(b"", _field(1, 0, 1))], 0  # header entry first (empty key)
    codes = {np.dtype(np.float32): 1, np.dtype(np.int64): 9}
    for name in sorted(tensors):
        a = np.asarray(tensors[name])  # (ascontiguousarray would make a scalar 1-d)
        shape = b"".join(_field(2, 2, _field(1, 0, d)) for d in a.shape)
        proto = _field(1, 0, codes[a.dtype]) + _field(2, 2, shape) + _field(4, 0, offset) + _field(5, 0, a.nbytes)
        entries.append((name.encode(), proto))
        data += a.tobytes()
        offset += a.nbytes
    index = bytearray()
    data_block = _block(entries)
    index += data_block + b"\x00\x00\x00\x00\x00"  # trailer: no compression + crc (unchecked)
    meta_off = len(index)
    meta_block = _block([])
    index += meta_block + b"\x00" * 5
    idx_off = len(index)
    idx_block = _block([(entries[-1][0], _varint(0) + _varint(len(data_block)))])
    index += idx_block + b"\x00" * 5
    handles = _varint(meta_off) + _varint(len(meta_block)) + _varint(idx_off) + _varint(len(idx_block))
    index += handles.ljust(40, b"\x00") + struct.pack("<Q", 0xDB4775248B80FB57)
    Path(str(prefix) + ".index").write_bytes(bytes(index))
    Path(str(prefix) + ".data-00000-of-00001").write_bytes(data)


def test_read_tf_checkpoint_roundtrip(tmp_path):
    rng = np.random.default_rng(0)
    tensors = {"conv2d/kernel": rng.standard_normal((7, 38, 1, 4)).astype(np.float32),
               "dense/bias": rng.standard_normal(5).astype(np.float32),
               "global_step": np.array(1234, dtype=np.int64)}
    _write_bundle(tmp_path / "model", tensors)
    got = E.read_tf_checkpoint(tmp_path / "model")
    assert set(got) == set(tensors)
    for k, v in tensors.items():
        np.testing.assert_array_equal(got[k], v)
        assert got[k].shape == v.shape


def test_read_tf_checkpoint_rejects_bad_files(tmp_path):
    with pytest.raises(MerError, match="not found"):
        E.read_tf_checkpoint(tmp_path / "missing")
    (tmp_path / "x.index").write_bytes(b"\x00" * 64)
    (tmp_path / "x.data-00000-of-00001").write_bytes(b"")
    with pytest.raises(MerError, match="magic"):
        E.read_tf_checkpoint(tmp_path / "x")


def test_convert_tf_variables_layouts_and_errors(shipped):
    # Build TF-layout variables from the shipped state dict by inverting each layout change.
    names = E._tf_layer_names()
    inv = {v: k for k, v in names.items()}
    state = {k: v.float().numpy() for k, v in shipped.state_dict().items() if not k.endswith("num_batches_tracked")}
    bn = {"weight": "gamma", "bias": "beta", "running_mean": "moving_mean", "running_var": "moving_variance"}
    tf_vars = {}
    for key, a in state.items():
        prefix, leaf = key.rsplit(".", 1)
        layer = inv[prefix]
        if "bn" in prefix or prefix == "input_bn":
            tf_vars[f"{layer}/{bn[leaf]}:0"] = a
        elif leaf == "bias":
            tf_vars[f"{layer}/bias:0"] = a
        elif prefix.startswith("mid"):
            tf_vars[f"{layer}/kernel:0"] = a.transpose(2, 1, 0)[:, :, None, :]
        elif a.ndim == 4:
            tf_vars[f"{layer}/kernel:0"] = a.transpose(2, 3, 1, 0)
        else:
            tf_vars[f"{layer}/kernel:0"] = a.T
    tf_vars["dense/kernel/Adam:0"] = np.zeros(3)  # optimiser slots are ignored
    back = E.convert_tf_variables(tf_vars)
    for k, v in state.items():
        np.testing.assert_array_equal(back[k].numpy(), v)
    del tf_vars["dense_1/bias:0"]
    with pytest.raises(MerError, match="out.bias"):
        E.convert_tf_variables(tf_vars)


def test_load_musicnn_errors(tmp_path):
    with pytest.raises(MerError, match="not found"):
        E.load_musicnn(tmp_path / "none.pt")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a torch file")
    with pytest.raises(MerError, match="cannot load"):
        E.load_musicnn(bad)


@pytest.mark.real_data
def test_embedding_on_real_clip(fourq_clips, shipped):
    from mer.audio import decode as audio

    path = next(iter(fourq_clips.values()))
    y = audio.load(path, sr=16000)
    out = E.embed(y, 16000, shipped)
    assert out.logits.shape[1] == 50 and out.logits.shape[0] >= 5  # >= 15 s of music
    assert np.isfinite(out.penultimate).all()


def test_embed_files_caches_and_reports_failures(tmp_path):
    import soundfile as sf

    good = tmp_path / "a.wav"
    sf.write(str(good), _test_signal(seconds=3.5), 16000)
    broken = tmp_path / "b.mp3"
    broken.write_bytes(b"ID3 broken")
    res = embed_files([good, broken], progress=False)
    assert res.ok.tolist() == [True, False]
    assert "b.mp3" in res.failures[0][1]
    assert res.features[0].shape == (len(E.embedding_names()),)
    again = embed_files([good], progress=False)
    assert again.n_cached == 1 and again.n_computed == 0
    np.testing.assert_array_equal(again.features[0], res.features[0])


def _long_wav(path: Path, seconds: float, sr: int = 44100) -> Path:
    """A stereo WAV at 44.1 kHz of changing chords and noise, so both paths resample."""
    import soundfile as sf

    rng = np.random.default_rng(11)
    t = np.arange(int(seconds * sr)) / sr
    root = 220.0 * 2 ** (np.floor(t / 4) % 5 / 12)  # a new chord every 4 s
    y = sum(0.15 * np.sin(2 * np.pi * root * r * t) for r in (1.0, 1.26, 1.5)) * (0.5 + 0.5 * np.sin(np.pi * t) ** 2)
    y = y + 0.03 * rng.standard_normal(len(t))
    sf.write(str(path), np.stack([y, y], axis=1).astype(np.float32), sr, subtype="PCM_16")
    return path


def test_patch_statistics_combine_chunks_exactly():
    rng = np.random.default_rng(0)
    c = E.EmbeddingConfig(parts=("tags", "max_pool"), stats=("mean", "std", "max"))
    out = E.MusicnnOutput(*(rng.normal(3.0, 2.0, (23, w)).astype(np.float32) for w in (50, 200, 753, 753, 200)))
    stats = E.PatchStatistics(c)
    for a, b in ((0, 1), (1, 8), (8, 9), (9, 23)):  # uneven chunks, one patch alone
        stats.update(E.MusicnnOutput(*(f[a:b] for f in out)))
    np.testing.assert_allclose(stats.result(), E.pool_embedding(out, c), rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="unknown statistic"):
        E.PatchStatistics(E.EmbeddingConfig(stats=("median",)))


@pytest.mark.parametrize("config", [E.EmbeddingConfig(), E.EmbeddingConfig(
    weights="mtt_musicnn", patch_hop=150, parts=("tags", "mean_pool"), stats=("mean", "std", "max"))],
    ids=["default", "overlapping-patches"])
@pytest.mark.slow  # measured over 10 s (issue 24, --durations on 2 busy cores)
def test_long_track_embedding_equals_whole_track(tmp_path, config):
    from mer.audio import decode as audio
    from mer.extraction.batch import extract_file

    path = _long_wav(tmp_path / "long.wav", 47.3)  # 15 patches and a partial one
    whole = E.embed_signal(audio.load(path, sr=config.sr), config)
    # 3 patches per model call (the default is 4): chunk edges inside the signal and,
    # with overlapping patches, a short last chunk
    streamed = E.embed_long_file(path, config, chunk_patches=3)
    # measured: max |difference| 1e-6 with values up to ~10 (float32 rounding of the
    # mel and of the float32 means); 1e-4 leaves room for BLAS differences
    np.testing.assert_allclose(streamed, whole, rtol=1e-4, atol=1e-4)
    # extract_file takes the streamed path past its threshold, the whole one below it
    via_file = extract_file(path, config, E.embed_signal, long_track_seconds=30.0)
    np.testing.assert_allclose(via_file, whole, rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(extract_file(path, config, E.embed_signal), whole)


@pytest.mark.parametrize("batch, frames", [(1, 187), (3, 40), (2, 5)])
def test_fast_forward_equals_the_layer_by_layer_network(batch, frames):
    """forward() (maxima of raw filter responses, batch norm folded) == forward_reference().

    Random weights with batch-norm scales of both signs, so that channels whose max over
    frequency must come from the negated filter (its min) are covered; lengths that are
    and are not multiples of the timbral chunk.
    """
    from mer.features.musicnn import Musicnn

    torch.manual_seed(batch * 1000 + frames)
    model = Musicnn(n_filt_midend=8, n_units_backend=16)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
                module.weight.uniform_(-2, 2)
                module.bias.uniform_(-1, 1)
                module.running_mean.uniform_(-1, 1)
                module.running_var.uniform_(0.5, 2)
    model.eval()
    assert any((bn.weight < 0).any() for bn in model.timbral_bn)
    x = torch.randn(batch, frames, 96)
    with torch.inference_mode():
        fast, ref = model(x), model.forward_reference(x)
    for name, a, b in zip(fast._fields, fast, ref):
        assert a.shape == b.shape, name
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-4, atol=1e-4 * float(b.abs().max()), err_msg=name)


@pytest.mark.real_data
@pytest.mark.parametrize("weights", ["msd_musicnn", "mtt_musicnn"])
def test_fast_forward_on_a_real_clip(fourq_clips, weights):
    """The shipped networks on the patches of a real 4Q clip: fast and reference paths agree.

    Measured: max relative difference ~1e-6 of each output's largest value (float32 summation order).
    """
    from mer.audio import decode as audio

    model = E.load_musicnn(E.DEFAULT_WEIGHTS.parent / f"{weights}.pt")
    path = next(iter(fourq_clips.values()))
    P = torch.from_numpy(E.patches(E.musicnn_input(audio.load(path, sr=16000), 16000)))
    with torch.inference_mode():
        fast, ref = model(P), model.forward_reference(P)
    for name, a, b in zip(fast._fields, fast, ref):
        assert float((a - b).abs().max()) <= 1e-5 * float(b.abs().max()), name
