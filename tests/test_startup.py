"""A first run on a fresh install: librosa's numba kernels compile on first use (mer.core.jit), not at import.

Each check that depends on what a process imported runs in a fresh Python process with
its own empty ``NUMBA_CACHE_DIR``; none depends on timing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest


def _run(code: str, tmp_path: Path) -> dict:
    """Run `code` in a fresh Python (fresh numba cache under `tmp_path`); it prints one JSON object last."""
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "numba")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600, env=env,
                         check=False)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_import_mer_and_librosa_import_no_numba(tmp_path):
    got = _run("import json, sys, mer, librosa; print(json.dumps({'numba': 'numba' in sys.modules}))", tmp_path)
    assert got == {"numba": False}


@pytest.mark.slow  # measured over 10 s (issue 24, --durations on 2 busy cores)
def test_librosa_kernels_wait_for_their_first_call_and_others_compile_at_once(tmp_path):
    code = """
import json, sys
import numpy as np
import mer
import librosa.util.utils as U
import numba
k = U._localmax
before = {"type": type(k).__name__, "compiled": k.compiled, "signatures": k.compiled_signatures}
x = np.array([0, 3, 1, 1, 2, 2, 0, 5], dtype=np.float32)
peaks = U.localmax(x)
after_call = {"compiled": k.compiled, "signatures": k.compiled_signatures, "peaks": peaks.tolist()}
types = k.types  # anything else than a call builds the whole eager kernel
def add_one(a, out):
    out[:] = a + 1
def twice(a):
    return 2 * a
user_gu = numba.guvectorize(["void(float64[:], float64[:])"], "(n)->(n)")(add_one)
user_vec = numba.vectorize(["float64(float64)"])(twice)
print(json.dumps({"before": before, "after_call": after_call, "types": types, "compiled": k.compiled,
                  "user_gu": [type(user_gu).__name__, user_gu.types], "user_vec": [type(user_vec).__name__,
                  user_vec.types], "user_gu_out": user_gu(np.arange(3.0)).tolist()}))
"""
    got = _run(code, tmp_path)
    assert got["before"] == {"type": "DeferredKernel", "compiled": False, "signatures": []}
    # one loop, the one NumPy picks for float32, and librosa's definition: first element False,
    # inner ones x[i] > x[i-1] and x[i] >= x[i+1], the last x[-1] > x[-2]
    x = [0, 3, 1, 1, 2, 2, 0, 5]
    expected = [False] + [x[i] > x[i - 1] and x[i] >= x[i + 1] for i in range(1, len(x) - 1)] + [x[-1] > x[-2]]
    assert got["after_call"] == {"compiled": False, "signatures": ["void(float32[:], bool_[:])"], "peaks": expected}
    assert got["types"] == ["h->?", "i->?", "l->?", "f->?", "d->?"] and got["compiled"] is True
    # a user's numba code with signatures is compiled by numba at decoration, as always
    assert got["user_gu"] == ["GUFunc", ["d->d"]] and got["user_vec"] == ["DUFunc", ["d->d"]]
    assert got["user_gu_out"] == [1.0, 2.0, 3.0]


@pytest.mark.slow  # measured over 10 s (issue 24, --durations on 2 busy cores)
def test_the_loop_picked_without_compiling_is_the_one_numpy_picks(tmp_path):
    """For librosa's kernels whose loops differ in dtype, the one-loop choice equals NumPy's own resolution."""
    code = """
import json
import numpy as np
import mer
from mer.core import jit
import librosa.util.utils as U, librosa.beat as B
kernels = [U._localmax, U._cabs2, U._phasor_angles, getattr(U, "__peak_pick")] + [
    getattr(B, f"__{name}") for name in ("beat_track_dp", "last_beat_selector", "trim_beats", "dp_backtrack")]
candidates = [np.dtype(t) for t in ("bool", "int8", "int16", "int32", "int64", "uint32", "float16", "float32",
                                     "float64", "complex64", "complex128")] + [int, float, complex]
checked, picked, mismatches = 0, 0, []
for k in kernels:
    n_in, loops, scalar = jit._loop_table(k._args)
    ufunc = k.kernel()
    ufunc = getattr(ufunc, "ufunc", ufunc)
    for base in loops:
        for pos in range(n_in):
            for c in candidates if scalar[pos] else candidates[:-3]:  # Python numbers only where scalars go
                ops = list(base[:n_in]); ops[pos] = c
                key = tuple(("weak", {int: "iufc", float: "fc", complex: "c"}[o]) if isinstance(o, type)
                            else ("array", o) for o in ops)
                try:
                    numpy = list(ufunc.resolve_dtypes(tuple(ops) + (None,) * (len(base) - n_in)))
                except TypeError:  # no loop takes these operands (NumPy's UFuncTypeError)
                    numpy = None
                mine = None if k._pick(key) is None else loops[k._pick(key)]
                checked += 1
                picked += mine is not None
                if mine is not None and mine != numpy:
                    mismatches.append([k.__name__, str(ops), str(mine), str(numpy)])
print(json.dumps({"checked": checked, "picked": picked, "mismatches": mismatches}))
"""
    got = _run(code, tmp_path)
    assert got["checked"] > 300 and got["picked"] > 50  # one loop where the choice is certain
    assert got["mismatches"] == []


def _descriptor_code(clip: Path, out: Path, *, eager: bool) -> str:
    pre = "import numba, librosa.util.utils, librosa.beat, librosa.onset, librosa.core.audio, librosa.core.pitch\n"
    return (pre if eager else "") + f"""
import json
import numpy as np
import mer
import librosa.util.utils
from mer.audio import decode
from mer.features.descriptors import DescriptorConfig, describe
y = decode.load({str(clip)!r}, sr=22050, duration=12.0)
np.save({str(out)!r}, describe(y, DescriptorConfig()))
print(json.dumps({{"kernel": type(librosa.util.utils._localmax).__name__}}))
"""


@pytest.mark.real_data
@pytest.mark.slow
def test_descriptors_of_a_real_clip_are_bitwise_those_of_eager_kernels(tmp_path, fourq_dir):
    # librosa's kernel modules imported before mer: numba compiles them at import, as without mer
    clip = sorted(fourq_dir.glob("Q2/*.mp3"))[3]
    eager = _run(_descriptor_code(clip, tmp_path / "eager.npy", eager=True), tmp_path / "a")
    deferred = _run(_descriptor_code(clip, tmp_path / "deferred.npy", eager=False), tmp_path / "b")
    assert eager == {"kernel": "GUFunc"} and deferred == {"kernel": "DeferredKernel"}
    a, b = np.load(tmp_path / "eager.npy"), np.load(tmp_path / "deferred.npy")
    assert a.dtype == b.dtype and a.shape == b.shape and a.size > 100
    assert a.tobytes() == b.tobytes()


@pytest.mark.real_data
def test_numpy_localmax_and_abs2_equal_librosas_on_a_real_clip(fourq_dir):
    import librosa

    from mer.audio import decode
    from mer.features import rhythm

    y = decode.load(sorted(fourq_dir.glob("Q3/*.mp3"))[2], sr=22050, duration=10.0)
    S = np.abs(librosa.stft(y))  # as pitch_peaks sees it: magnitudes thresholded per frame
    X = S * (S > 0.1 * S.max(axis=0))
    ours, theirs = rhythm.localmax_rows(X), librosa.util.localmax(X, axis=-2)
    assert ours.dtype == theirs.dtype == bool and ours.sum() > 100
    np.testing.assert_array_equal(ours, theirs)
    for z in (np.fft.rfft(y.astype(np.float64)), librosa.stft(y)):  # complex128 and complex64
        ours, theirs = rhythm.abs2(z), librosa.util.abs2(z)
        assert ours.dtype == theirs.dtype
        assert ours.tobytes() == theirs.tobytes()
