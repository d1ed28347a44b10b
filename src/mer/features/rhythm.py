"""librosa's onset picking, tempogram and beat tracker on an onset envelope, in NumPy: nothing to compile.

:func:`onset_frames`, :func:`envelope_tempogram` and :func:`beat_frames` compute what
``librosa.onset.onset_detect(onset_envelope=env)``, ``librosa.feature.tempogram(onset_envelope=env)``
and ``librosa.beat.beat_track(onset_envelope=env, bpm=bpm)`` compute, with librosa's
arithmetic step for step (the same dtypes, the same order of additions, ``math.exp`` /
``math.log`` where librosa's numba kernels call the C library), so the results are
the same frames and the same numbers: on the 540 4Q clips and the 1,078 rendered EMOPIA
clips every onset, beat and descriptor is equal (``tests/test_rhythm.py`` checks real clips).

Why: these are the only librosa functions on the default model's path whose work is done
by numba kernels (``__peak_pick``, ``__beat_track_dp`` and four more, ``abs2``), and
compiling them took ~7 s of a first ``mer predict`` on a fresh install (empty numba
cache), loading them from the cache ~1 s of every new process. Here the dynamic
programme runs one vectorised step per frame (~10 ms for a 30-s clip).
"""

from __future__ import annotations

import math

import numpy as np
import scipy.fft


def abs2(z: np.ndarray) -> np.ndarray:
    """``librosa.util.abs2(z)`` of a complex array, exactly: ``re**2 + im**2`` in `z`'s precision."""
    return z.real**2 + z.imag**2


def localmax_rows(X: np.ndarray) -> np.ndarray:
    """``librosa.util.localmax(X, axis=0)`` for an array with at least 2 rows, exactly, in NumPy.

    librosa's is a numba stencil (first row False, inner rows ``x[i] > x[i-1] and x[i] >= x[i+1]``,
    last row ``x[-1] > x[-2]``); compiling it cost 2.6 s of a first run on a fresh install.
    """
    peaks = np.zeros(X.shape, dtype=bool)
    peaks[1:-1] = (X[1:-1] > X[:-2]) & (X[1:-1] >= X[2:])
    peaks[-1] = X[-1] > X[-2]
    return peaks


def envelope_tempogram(env: np.ndarray, win_length: int, *, frames: slice | None = None) -> np.ndarray:
    """``librosa.feature.tempogram(onset_envelope=env, win_length=win_length)`` (centred, Hann, inf-norm), bitwise.

    The autocorrelation of each window runs on rows (one contiguous frame per FFT)
    instead of columns: faster, the same numbers.

    Parameters
    ----------
    env : np.ndarray, shape (T,)
        Onset strength envelope.
    win_length : int >= 1
        Autocorrelation window in frames.
    frames : slice, optional
        Only these frames (columns).

    Returns
    -------
    np.ndarray, shape (win_length, T), float64, C order
    """
    import librosa

    n = env.shape[-1]
    padded = np.pad(env, (win_length // 2, win_length // 2), mode="linear_ramp", end_values=[0, 0])
    odf = librosa.util.frame(padded, frame_length=win_length, hop_length=1)[..., :n]  # (win, T), a view
    if frames is not None:
        odf = odf[..., frames]
    x = odf.T * librosa.filters.get_window("hann", win_length, fftbins=True)  # (T, win)
    fft = librosa.get_fftlib()
    n_pad = scipy.fft.next_fast_len(2 * win_length - 1, real=True)
    ac = fft.irfft(abs2(fft.rfft(x, n=n_pad, axis=-1)), n=n_pad, axis=-1)[:, :win_length]
    return librosa.util.normalize(np.ascontiguousarray(ac.T), norm=np.inf, axis=-2)


# ---------------------------------------------------------------------------
# Onsets
# ---------------------------------------------------------------------------


def onset_frames(env: np.ndarray, *, sr: float, hop_length: int) -> np.ndarray:
    """``librosa.onset.onset_detect(onset_envelope=env, sr=sr, hop_length=hop_length)``: onset frames, int64.

    The envelope is scaled to [0, 1], then peaks are picked with librosa's defaults
    (local max over 30 ms before, at least 0.07 above the mean of 100 ms before to
    100 ms after, then 30 ms without another onset).
    """
    env = env - np.min(env, keepdims=True, axis=-1)
    env /= np.max(env, keepdims=True, axis=-1) + np.finfo(env.dtype).tiny
    if not env.any() or not np.all(np.isfinite(env)):
        return np.array([], dtype=int)

    def frames(seconds: float, extra: int = 0) -> int:
        return int(np.ceil(seconds * sr // hop_length + extra))

    return np.flatnonzero(peak_pick(env, pre_max=frames(0.03), post_max=frames(0.0, 1), pre_avg=frames(0.10),
                                    post_avg=frames(0.10, 1), delta=0.07, wait=frames(0.03)))


def peak_pick(x: np.ndarray, *, pre_max: int, post_max: int, pre_avg: int, post_avg: int, delta: float,
              wait: int) -> np.ndarray:
    """``librosa.util.peak_pick(x, ..., sparse=False)`` of a 1-D float array: a boolean mask of peaks.

    Frame n is a peak if it is the max of ``x[n - pre_max : n + post_max]``, at least
    `delta` above the mean of ``x[n - pre_avg : n + post_avg]``, and more than `wait`
    frames after the previous peak. The mean is librosa's kernel's: a sequential sum in
    `x`'s precision, divided in float64, rounded back; `delta` is float32 as its kernel
    declares it.
    """
    x = np.asarray(x)
    n_frames = len(x)
    dtype = x.dtype.type
    delta32 = np.float32(delta)

    def mean(a: int, b: int):
        total = np.cumsum(x[a:b], dtype=x.dtype)[-1]  # sequential, as numba's loop
        return dtype(float(total) / (b - a))

    def above_mean(n: int, lo: int, hi: int) -> bool:
        threshold = mean(lo, hi) + delta32 if dtype is np.float32 else float(mean(lo, hi)) + float(delta32)
        return bool(x[n] >= threshold)

    peaks = np.zeros(n_frames, dtype=bool)
    peaks[0] = x[0] >= x[: min(post_max, n_frames)].max() and above_mean(0, 0, min(post_avg, n_frames))
    n = wait + 1 if peaks[0] else 1
    while n < n_frames:
        if x[n] == x[max(0, n - pre_max) : min(n + post_max, n_frames)].max() and \
                above_mean(n, max(0, n - pre_avg), min(n + post_avg, n_frames)):
            peaks[n] = True
            n += wait + 1
        else:
            n += 1
    return peaks


# ---------------------------------------------------------------------------
# Beats (Ellis 2007, as librosa.beat implements it)
# ---------------------------------------------------------------------------


def beat_frames(env: np.ndarray, *, sr: float, hop_length: int, bpm, tightness: float = 100.0,
                trim: bool = True) -> np.ndarray:
    """``librosa.beat.beat_track(onset_envelope=env, sr=sr, hop_length=hop_length, bpm=bpm)[1]``: beat frames.

    Parameters
    ----------
    env : np.ndarray, shape (T,), float
        Onset strength envelope.
    bpm : float or np.ndarray of shape (1,)
        The (static) tempo to track, beats per minute.

    Returns
    -------
    np.ndarray, shape (n_beats,), int64
    """
    if not env.any():
        return np.array([], dtype=int)
    bpm = np.atleast_1d(bpm)
    if bpm.shape != (1,) or not bpm[0] > 0:
        raise ValueError(f"beat_frames tracks one positive tempo, got bpm={bpm}")
    frames_per_beat = float(np.round(float(sr) / hop_length * 60.0 / bpm)[0])
    onsets = env / (env.std(ddof=1, axis=-1, keepdims=True) + np.finfo(env.dtype).tiny)
    # librosa's kernels have float32 and float64 loops; a float64 tempo makes NumPy pick float64
    localscore = _local_score(onsets.astype(np.float64), frames_per_beat)
    backlink, cumscore = _beat_dp(localscore, frames_per_beat, float(np.float32(tightness)))
    beats = np.zeros(len(env), dtype=bool)
    n = _last_beat(cumscore)
    while n >= 0:
        beats[n] = True
        n = backlink[n]
    return np.flatnonzero(_trim_beats(localscore, beats) if trim else beats)


def _local_score(onsets: np.ndarray, frames_per_beat: float) -> np.ndarray:
    """The onset envelope smoothed by a Gaussian of a beat's width (librosa's ``__beat_local_score``).

    librosa's loop adds ``window[k] * onsets[i + K // 2 - k]`` for k upwards, skipping
    the first onset and those past the end; adding the same products in the same order,
    vectorised over i (a product with a padded zero adds exactly nothing), is bitwise.
    """
    offsets = np.arange(-frames_per_beat, frames_per_beat + 1)
    window = np.array([math.exp(v) for v in (-0.5 * (offsets * 32.0 / frames_per_beat) ** 2)])
    K, N = len(window), len(onsets)
    padded = np.zeros(N + K)  # padded[j] = onsets[j] for 1 <= j < N, else 0
    padded[1:N] = onsets[1:]
    score = np.zeros(N)
    i = np.arange(N)
    for k in range(K):
        j = i + K // 2 - k
        score += window[k] * np.where((j >= 0) & (j < N), padded[np.clip(j, 0, N + K - 1)], 0.0)
    return score


def _beat_dp(localscore: np.ndarray, frames_per_beat: float, tightness: float) -> tuple[np.ndarray, np.ndarray]:
    """librosa's ``__beat_track_dp``: best predecessor and cumulative score of every frame."""
    N = len(localscore)
    span = int(2 * frames_per_beat) + 2
    penalty = tightness * (np.array([math.log(d) if d > 0 else 0.0 for d in range(span + 1)])
                           - math.log(frames_per_beat)) ** 2  # by distance i - loc
    cumscore = np.empty(N)
    backlink = np.empty(N, dtype=np.int64)
    threshold = 0.01 * localscore.max()
    first_beat = True
    near = int(np.round(frames_per_beat / 2))
    for i in range(N):
        # candidates loc = i - near, i - near - 1, ..., i - 2 * frames_per_beat, stopping before 0
        far = max(-1, int(i - 2 * frames_per_beat - 1))
        locs = np.arange(i - near, far, -1)
        best = -1
        if len(locs):
            scores = cumscore[locs] - penalty[i - locs]
            top = int(np.argmax(scores))  # the first maximum, as librosa's strict '>'
            best, best_score = int(locs[top]), scores[top]
        cumscore[i] = localscore[i] + best_score if best >= 0 else localscore[i]
        if first_beat and localscore[i] < threshold:
            backlink[i] = -1
        else:
            backlink[i] = best
            first_beat = False
    return backlink, cumscore


def _last_beat(cumscore: np.ndarray) -> int:
    """The last local maximum of the cumulative score that reaches half their median (librosa's ``__last_beat``)."""
    peaks = localmax_rows(cumscore)
    threshold = 0.5 * np.ma.getdata(np.ma.median(np.ma.masked_array(data=cumscore, mask=~peaks), axis=-1))
    ok = np.flatnonzero(peaks & (cumscore >= threshold))
    return int(ok[-1]) if len(ok) else len(cumscore) - 1


def _trim_beats(localscore: np.ndarray, beats: np.ndarray) -> np.ndarray:
    """Drop leading and trailing frames whose local score is under half the RMS of the smoothed beat scores."""
    w = np.array([0.5 + 0.5 * math.cos(math.pi * n / 4) for n in range(-4, 5, 2)])  # np.hanning(5)
    smooth = np.convolve(localscore[beats], w)[len(w) // 2 : len(localscore) + len(w) // 2]
    squares = smooth**2
    # the mean as numba's: a sequential sum (NaN for no beats: nothing is trimmed)
    threshold = 0.5 * (float(np.cumsum(squares)[-1]) / len(squares)) ** 0.5 if len(squares) else math.nan
    out = beats.copy()
    n = 0
    while n < len(localscore) and localscore[n] <= threshold:
        out[n] = False
        n += 1
    n = len(localscore) - 1
    while n >= 0 and localscore[n] <= threshold:
        out[n] = False
        n -= 1
    return out
