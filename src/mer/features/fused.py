"""Fused extraction of the paper's 204 rows: every shared analysis computed once.

:func:`mer.features.paper.extract_reference` calls one librosa function per feature and so
computes the same STFT about nine times, the same constant-Q transform three times
(chroma_cqt, tonnetz and chroma_cqt's tuning estimate) and the same mel spectrogram
three times (mel, mfcc, the onset envelope of tempo). :func:`extract_fused` computes

* **one STFT** (Hann, ``n_fft``, ``hop_length``, centred, zero-padded): its magnitude
  feeds centroid, bandwidth, rolloff, contrast, flatness and chroma_cqt's tuning
  estimate; its power feeds chroma_stft (and its tuning estimate) and the mel bands;
* **one mel spectrogram in dB**, shared by mfcc and the onset envelope (librosa's
  onset_strength uses the same 128 Slaney mel bands), and one onset envelope for tempo;
* **one decimation pyramid** (the signal halved six times with soxr, as librosa's
  multirate VQT does) shared by the constant-Q transform of chroma_cqt (36 bins per
  octave, estimated tuning) and the variable-Q transform of chroma_vqt (``ji5``,
  12 bins per octave, tuning 0). Their filter banks differ, so each keeps its own
  per-octave response; the banks depend only on the configuration and the tuning and
  are built once per process instead of once per call;
* tonnetz from the chroma_cqt above (what ``librosa.feature.tonnetz(y=...)`` computes
  internally), rms from the framed signal (librosa's ``y`` path), and the zero-crossing
  rate by counting sign changes with a cumulative sum (integer arithmetic).

Every step repeats librosa's arithmetic (same dtypes, same order of operations, same
memory layout where a reduction depends on it), so the result is bitwise equal to the
reference, with one exception; ``tests/test_fused.py`` states the tolerance per row
group. Where this module does a step its own way, it is to skip work librosa repeats
or does not need, and the numbers do not change: the STFTs run on strided views of the
padded signal in cache-sized blocks; piptrack looks only at the 150 Hz - 4 kHz bins it
keeps; filter banks are sparsified straight into CSR; rms squares each sample once;
the tempogram's autocorrelations run on contiguous rows; rolloff takes the first bin
that reaches the threshold (``argmax``) instead of a ``nanmin`` over a NaN mask. The
exception: spectral_centroid and spectral_bandwidth come from the first three spectral
moments in one float64 matrix product, not from librosa's normalised float32 copy
(at most one float32 ulp apart).

Bitwise equality was established against librosa 0.11.0; the tests compare with the
installed librosa, so a change in librosa shows up there.

The same building blocks process a long track window by window
(:func:`extract_windowed`): frame-local features of each window are computed on the
window plus enough context that the kept frames are those of the whole-signal analysis,
and the few whole-clip quantities (the two tuning estimates, the dB floor of the mel
spectrogram, the tempo) are computed from per-frame data gathered over all windows.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

import numpy as np

from mer.audio import decode as audio
from mer.core.errors import MerError
from mer.features.paper import (
    FeatureConfig,
    _check_signal,
    single_threaded_blas,
    stack_features,
)
from mer.features.rhythm import envelope_tempogram, localmax_rows

#: librosa defaults the paper's recipe inherits (librosa 0.10 / 0.11).
_TUNING_N_FFT = 2048          # estimate_tuning(y=...) in chroma_cqt analyses this STFT ...
_TUNING_HOP = _TUNING_N_FFT // 4  # ... with stft's default hop
_PIPTRACK_FMIN, _PIPTRACK_FMAX, _PIPTRACK_THRESHOLD = 150.0, 4000.0, 0.1
_TUNING_RESOLUTION = 0.01
_CQT_BINS_PER_OCTAVE = 36     # chroma_cqt
_VQT_BINS_PER_OCTAVE = 12     # chroma_vqt
_N_OCTAVES = 7
_CQ_SPARSITY = 0.01
_RES_TYPE = "soxr_hq"
_ONSET_N_FFT, _ONSET_N_MELS = 2048, 128  # onset_strength's melspectrogram
_TEMPO_AC_SECONDS = 8.0  # tempo's ac_size

_QUIET = (
    "Trying to estimate tuning from empty frequency set",
    "n_fft=.* is too large for input signal",
)


# --------------------------------------------------------------------------- STFT


def _framewise_rfft(y: np.ndarray, n_fft: int, hop_length: int, window: np.ndarray | None,
                    bins_first: bool) -> np.ndarray:
    """``librosa.stft(y, center=True, pad_mode="constant", dtype=complex64)``, bitwise.

    librosa multiplies float32 frames by a float64 window, runs a float64 real FFT per
    frame and stores complex64; so does this, on a strided view of the zero-padded
    signal, one block of frames at a time. Only the memory layout may differ:

    Parameters
    ----------
    window : np.ndarray, shape (n_fft,), float64, or None
        None for librosa's ``window="ones"`` (multiplying by 1.0 changes nothing).
    bins_first : bool
        False: return shape (T, 1 + n_fft // 2), C order, so that ``.T`` has librosa's
        (Fortran) layout. True: return shape (1 + n_fft // 2, T) in C order, the layout
        a sparse filter bank's ``dot`` reads without a copy.
    """
    import librosa
    from numpy.lib.stride_tricks import as_strided

    n, half = len(y), n_fft // 2
    n_frames = 1 + n // hop_length
    padded = np.zeros(n + 2 * half, dtype=np.float64)
    padded[half: half + n] = y
    frames = as_strided(padded, shape=(n_frames, n_fft), strides=(hop_length * 8, 8), writeable=False)
    n_bins = 1 + half
    out = np.empty((n_bins, n_frames) if bins_first else (n_frames, n_bins), dtype=np.complex64)
    rfft = librosa.get_fftlib().rfft
    block = max(1, (1 << 16) // n_fft)  # 512 kB of float64 frames at a time: stays in cache
    for b0 in range(0, n_frames, block):
        b1 = min(b0 + block, n_frames)
        spec = rfft(frames[b0:b1] if window is None else frames[b0:b1] * window, axis=-1)
        if bins_first:
            out[:, b0:b1] = spec.T
        else:
            out[b0:b1] = spec
    return out


@lru_cache(maxsize=8)
def _hann(n_fft: int) -> np.ndarray:
    import librosa

    return librosa.filters.get_window("hann", n_fft, fftbins=True)


def stft_magnitude(y: np.ndarray, n_fft: int, hop_length: int) -> np.ndarray:
    """``np.abs(librosa.stft(y, n_fft=n_fft, hop_length=hop_length))``, bitwise, same layout.

    Returns
    -------
    np.ndarray, shape (1 + n_fft // 2, 1 + len(y) // hop_length), float32, Fortran order
    """
    return np.abs(_framewise_rfft(y, n_fft, hop_length, _hann(n_fft), bins_first=False)).T


def pitch_peaks(S: np.ndarray, sr: float, n_fft: int) -> tuple[np.ndarray, np.ndarray]:
    """The spectral peaks that ``librosa.piptrack`` finds in `S`, as flat arrays.

    Equal to ``pitches[pitches > 0]`` and the matching ``magnitudes`` of
    ``librosa.piptrack(S=S, sr=sr, n_fft=n_fft)`` (default fmin 150 Hz, fmax 4 kHz,
    threshold 0.1 of each frame's maximum), in another order. Only the bins between
    fmin and fmax (and their two neighbours) are analysed, instead of all of them.

    Parameters
    ----------
    S : np.ndarray, shape (1 + n_fft // 2, T)
        Magnitude or power spectrogram (non-negative).

    Returns
    -------
    pitches, magnitudes : np.ndarray, shape (n_peaks,), float32
        Peak frequency in Hz (parabolic interpolation) and magnitude.
    """
    import librosa

    n_bins = S.shape[-2]
    fft_freqs = librosa.fft_frequencies(sr=sr, n_fft=n_fft)
    fmax = min(_PIPTRACK_FMAX, float(sr) / 2)
    in_band = np.flatnonzero((_PIPTRACK_FMIN <= fft_freqs) & (fft_freqs < fmax))
    if in_band.size == 0 or S.shape[-1] == 0:
        return np.zeros(0, np.float32), np.zeros(0, np.float32)
    lo, hi = int(in_band[0]), int(in_band[-1]) + 1
    a, b = max(lo - 1, 0), min(hi + 1, n_bins)  # neighbours for the 3-point stencils
    X = S[a:b]
    ref = _PIPTRACK_THRESHOLD * np.max(S, axis=-2)  # per-frame threshold over *all* bins
    peaks = localmax_rows(X * (X > ref[np.newaxis]))
    peaks[: lo - a] = False
    peaks[hi - a:] = False
    rows, cols = np.nonzero(peaks)
    shift = _parabolic_shift(X, rows, cols)
    avg = _gradient_at(X, rows, cols)
    dskew = np.float32(0.5) * avg * shift
    pitches = ((rows + a) + shift) * float(sr) / n_fft  # float64, as in piptrack
    mags = X[rows, cols] + dskew
    return pitches.astype(np.float32), mags.astype(np.float32)


def _parabolic_shift(X: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """librosa's parabolic-interpolation stencil at (rows, cols), with its numba dtypes.

    The stencil adds the two neighbours in float32 and then works in float64
    (``2 * x[0]`` is an int times a float32 in numba); the result is stored as float32.
    Edge rows get 0, as in librosa.
    """
    shift = np.zeros(len(rows), dtype=np.float32)
    inner = (rows > 0) & (rows < X.shape[0] - 1)
    r, c = rows[inner], cols[inner]
    x0, xp, xm = X[r, c], X[r + 1, c], X[r - 1, c]
    a = (xp + xm).astype(np.float64) - 2 * x0.astype(np.float64)
    bb = (xp - xm).astype(np.float64) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        val = np.where(np.abs(bb) >= np.abs(a), 0.0, -bb / a)
    shift[inner] = val
    return shift


def _gradient_at(X: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """``np.gradient(X, axis=0)[rows, cols]`` without the whole-array gradient."""
    n = X.shape[0]
    out = np.empty(len(rows), dtype=X.dtype)
    inner = (rows > 0) & (rows < n - 1)
    r, c = rows[inner], cols[inner]
    out[inner] = (X[r + 1, c] - X[r - 1, c]) / 2.0
    # one-sided differences at the edges; pitch_peaks only asks for an edge row of
    # its slice when that row is also an edge of the whole spectrogram
    first, last = rows == 0, rows == n - 1
    out[first] = X[1, cols[first]] - X[0, cols[first]]
    out[last] = X[n - 1, cols[last]] - X[n - 2, cols[last]]
    return out


def tuning_from_peaks(pitches: np.ndarray, mags: np.ndarray, bins_per_octave: int) -> float:
    """``librosa.estimate_tuning`` from the peaks of :func:`pitch_peaks`.

    Keeps the peaks at least as strong as their median and returns the most common
    deviation from A440 in fractions of a bin (resolution 0.01); 0.0 without peaks.
    """
    import librosa

    keep = pitches > 0
    pitches, mags = pitches[keep], mags[keep]
    threshold = np.median(mags) if len(mags) else 0.0
    return float(librosa.pitch_tuning(pitches[mags >= threshold], resolution=_TUNING_RESOLUTION,
                                      bins_per_octave=bins_per_octave))


# ------------------------------------------------------------- cached filter banks


@lru_cache(maxsize=8)
def _mel_basis(sr: int, n_fft: int, n_mels: int) -> np.ndarray:
    import librosa

    return librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels)


@lru_cache(maxsize=256)
def _chroma_basis(sr: int, n_fft: int, tuning: float) -> np.ndarray:
    import librosa

    return librosa.filters.chroma(sr=sr, n_fft=n_fft, tuning=tuning, n_chroma=12)


@lru_cache(maxsize=8)
def _cq_to_chroma(n_bins: int, bins_per_octave: int) -> np.ndarray:
    import librosa

    return librosa.filters.cq_to_chroma(n_bins, bins_per_octave=bins_per_octave, n_chroma=12)


@dataclass(frozen=True)
class _QBank:
    """Everything librosa's ``vqt`` computes before it looks at the signal.

    Attributes
    ----------
    octaves : tuple of (fft_basis, n_fft)
        Per octave, top octave first: the sparse FFT-domain filters (csr, complex64)
        and the frame length of that octave's STFT.
    sqrt_lengths : np.ndarray, shape (n_bins, 1), float64
        Square roots of the filter lengths; librosa's ``scale=True`` divides by them.
    n_bins : int
    early_downsample : int
        How many halvings librosa applies before the first octave.
    """

    octaves: tuple
    sqrt_lengths: np.ndarray
    n_bins: int
    early_downsample: int


def _relative_bandwidth(freqs: np.ndarray) -> np.ndarray:
    # librosa.filters._relative_bandwidth (private in librosa), repeated here
    bpo = np.empty_like(freqs)
    logf = np.log2(freqs)
    bpo[0] = 1 / (logf[1] - logf[0])
    bpo[-1] = 1 / (logf[-1] - logf[-2])
    bpo[1:-1] = 2 / (logf[2:] - logf[:-2])
    return (2.0 ** (2 / bpo) - 1) / (2.0 ** (2 / bpo) + 1)


def _num_two_factors(x: int) -> int:
    n = 0
    while x > 0 and x % 2 == 0:
        n, x = n + 1, x // 2
    return n


@lru_cache(maxsize=256)
def _q_bank(sr: int, hop_length: int, bins_per_octave: int, intervals: str, tuning: float) -> _QBank:
    """The filter bank of ``librosa.vqt(n_bins=7 * bins_per_octave, fmin=C1, gamma=0, ...)``.

    Built with librosa's own functions, step by step as in ``librosa.vqt``; cached per
    (configuration, tuning): chroma_cqt's tuning takes one of 101 values.
    """
    import librosa

    n_bins = _N_OCTAVES * bins_per_octave
    fmin = librosa.note_to_hz("C1") * 2.0 ** (tuning / bins_per_octave)
    freqs = librosa.interval_frequencies(n_bins=n_bins, fmin=fmin, intervals=intervals,
                                         bins_per_octave=bins_per_octave, sort=True)
    alpha = _relative_bandwidth(freqs)
    lengths, cutoff = librosa.filters.wavelet_lengths(freqs=freqs, sr=sr, window="hann", filter_scale=1,
                                                      gamma=0, alpha=alpha)
    nyquist = sr / 2.0
    if cutoff > nyquist:
        raise ValueError(f"constant-Q filters up to {cutoff:.0f} Hz exceed the Nyquist frequency {nyquist:.0f} Hz")
    count1 = max(0, int(np.ceil(np.log2(nyquist / cutoff)) - 1) - 1)
    count2 = max(0, _num_two_factors(hop_length) - _N_OCTAVES + 1)
    early = min(count1, count2)
    sr = sr / 2.0**early  # from here on librosa's vqt works at the early-downsampled rate
    my_sr, my_hop = sr, hop_length // 2**early
    fftlib = librosa.get_fftlib()
    octaves = []
    for i in range(_N_OCTAVES):
        sl = slice(-bins_per_octave, None) if i == 0 else slice(-bins_per_octave * (i + 1), -bins_per_octave * i)
        basis, lens = _wavelet(freqs[sl], my_sr, alpha[sl])
        n_fft = basis.shape[1]
        basis *= lens[:, np.newaxis] / float(n_fft)
        fft_basis = fftlib.fft(basis, n=n_fft, axis=1)[:, : n_fft // 2 + 1]
        fft_basis = _sparsify_rows(fft_basis, _CQ_SPARSITY, scale=np.sqrt(sr / my_sr))
        octaves.append((fft_basis, n_fft))
        if my_hop % 2 == 0:
            my_hop //= 2
            my_sr /= 2.0
    lengths, _ = librosa.filters.wavelet_lengths(freqs=freqs, sr=sr, window="hann", filter_scale=1,
                                                 gamma=0, alpha=alpha)
    return _QBank(tuple(octaves), np.sqrt(lengths)[:, np.newaxis], n_bins, early)


def _wavelet(freqs: np.ndarray, sr: float, alpha: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``librosa.filters.wavelet(freqs=freqs, sr=sr, alpha=alpha, window="hann", norm=1,
    filter_scale=1, gamma=0, pad_fft=True)``, bitwise, with less per-filter overhead.

    Returns
    -------
    basis : np.ndarray, shape (len(freqs), 2**k), complex64
    lengths : np.ndarray, shape (len(freqs),), float64
    """
    import librosa

    lengths, _ = librosa.filters.wavelet_lengths(freqs=freqs, sr=sr, window="hann", filter_scale=1, gamma=0,
                                                 alpha=alpha)
    size = int(2.0 ** np.ceil(np.log2(max(lengths))))
    basis = np.zeros((len(freqs), size), dtype=np.complex64)
    tiny = np.finfo(np.float64).tiny
    for i, (ilen, freq) in enumerate(zip(lengths, freqs)):
        sig = librosa.util.phasor(np.arange(-ilen // 2, ilen // 2, dtype=float) * 2 * np.pi * freq / sr)
        sig *= _hann(len(sig))  # an integer length: librosa's fractional-window wrapper changes nothing
        norm = np.sum(np.abs(sig))  # librosa.util.normalize(sig, norm=1)
        sig = sig / (norm if norm >= tiny else 1.0)
        start = (size - len(sig)) // 2  # librosa.util.pad_center
        basis[i, start: start + len(sig)] = sig
    return basis, lengths


def _sparsify_rows(x: np.ndarray, quantile: float, scale: np.float64):
    """``librosa.util.sparsify_rows(x, quantile=quantile, dtype=complex64) * scale``, bitwise.

    librosa fills a ``lil_matrix`` row by row (zeros are not stored), which is most of
    the cost of building a filter bank; this builds the same CSR matrix directly. The
    scaling repeats ``fft_basis[:] *= scale`` (complex128 product stored as complex64).
    """
    import scipy.sparse

    mags = np.abs(x)
    norms = np.sum(mags, axis=1, keepdims=True)
    mag_sort = np.sort(mags, axis=1)
    cumulative = np.cumsum(mag_sort / norms, axis=1)
    threshold = mag_sort[np.arange(x.shape[0]), np.argmin(cumulative < quantile, axis=1)]
    rows, cols = np.nonzero((mags >= threshold[:, np.newaxis]) & (x != 0))
    data = (x[rows, cols].astype(np.complex64) * scale).astype(np.complex64)
    return scipy.sparse.csr_matrix((data, (rows, cols)), shape=x.shape)


def _pyramid(y: np.ndarray, early: int, hop_length: int) -> list[tuple[np.ndarray, int]]:
    """The signal and hop of each octave of librosa's multirate VQT: y, y/2, y/4, ...

    Shared by every bank with the same early-downsampling count.
    """
    import librosa

    if early > 0:
        factor = 2**early
        y = librosa.resample(y, orig_sr=factor, target_sr=1, res_type=_RES_TYPE, scale=True)
        hop_length //= factor
    levels = [(y, hop_length)]
    for _ in range(_N_OCTAVES - 1):  # librosa also resamples after the last octave; unused
        if hop_length % 2 == 0:
            hop_length //= 2
            y = librosa.resample(y, orig_sr=2, target_sr=1, res_type=_RES_TYPE, scale=True)
        levels.append((y, hop_length))
    return levels


def _q_magnitude(levels: list[tuple[np.ndarray, int]], bank: _QBank) -> np.ndarray:
    """|VQT| (n_bins, T) from the pyramid, as ``np.abs(librosa.vqt(...))``."""
    responses = []
    for (fft_basis, n_fft), (y_oct, hop) in zip(bank.octaves, levels):
        # == librosa.stft(y_oct, window="ones", ...), laid out for the sparse product
        D = _framewise_rfft(y_oct, n_fft, hop, None, bins_first=True)
        responses.append(fft_basis.dot(D))
    n_cols = min(r.shape[-1] for r in responses)
    V = np.empty((bank.n_bins, n_cols), dtype=np.complex64, order="F")
    end = bank.n_bins
    for r in responses:  # librosa's __trim_stack: top octave last
        n = r.shape[0]
        if end < n:
            V[:end] = r[-end:, :n_cols]
        else:
            V[end - n: end] = r[:, :n_cols]
        end -= n
    V /= bank.sqrt_lengths
    return np.abs(V)


def _chroma_from_q(C: np.ndarray, bins_per_octave: int) -> np.ndarray:
    import librosa

    chroma = np.einsum("cf,...ft->...ct", _cq_to_chroma(C.shape[-2], bins_per_octave), C, optimize=True)
    chroma[chroma < 0.0] = 0.0
    return librosa.util.normalize(chroma, norm=np.inf, axis=-2)


def constant_q_chromas(y: np.ndarray, config: FeatureConfig, tuning: float) -> dict[str, np.ndarray]:
    """chroma_cqt, chroma_vqt and tonnetz from one decimation pyramid.

    Parameters
    ----------
    y : np.ndarray, shape (n,), float32
    config : FeatureConfig
    tuning : float
        chroma_cqt's tuning in fractions of a 36-per-octave bin (chroma_vqt uses 0).

    Returns
    -------
    dict with ``chroma_cqt`` (12, T), ``chroma_vqt`` (12, T), ``tonnetz`` (6, T)
    """
    import librosa

    sr, hop = config.sr, config.hop_length
    cqt_bank = _q_bank(sr, hop, _CQT_BINS_PER_OCTAVE, "equal", float(tuning))
    vqt_bank = _q_bank(sr, hop, _VQT_BINS_PER_OCTAVE, config.vqt_intervals, 0.0)
    pyramids: dict[int, list] = {}
    out = {}
    for name, bank, bpo in (("chroma_cqt", cqt_bank, _CQT_BINS_PER_OCTAVE),
                            ("chroma_vqt", vqt_bank, _VQT_BINS_PER_OCTAVE)):
        if bank.early_downsample not in pyramids:
            pyramids[bank.early_downsample] = _pyramid(y, bank.early_downsample, hop)
        out[name] = _chroma_from_q(_q_magnitude(pyramids[bank.early_downsample], bank), bpo)
    out["tonnetz"] = librosa.feature.tonnetz(chroma=out["chroma_cqt"])
    return out


# ----------------------------------------------------------- STFT-derived groups


def spectral_shape(S: np.ndarray, sr: int, n_fft: int) -> dict[str, np.ndarray]:
    """spectral_centroid and spectral_bandwidth (p=2) of a magnitude spectrogram.

    Both from the moments ``sum(S)``, ``sum(f S)``, ``sum(f^2 S)`` over frequency,
    one float64 matrix product: ``bandwidth^2 = m2/m0 - centroid^2``. Frames with
    ``m0`` below the float32 ``tiny`` are zero, as in librosa's normalisation.
    """
    import librosa

    freq = librosa.fft_frequencies(sr=sr, n_fft=n_fft)
    powers = np.stack([np.ones_like(freq), freq, freq**2])
    m0, m1, m2 = powers @ S.astype(np.float64)
    norm = np.where(m0 < np.finfo(S.dtype).tiny, 1.0, m0)
    centroid = m1 / norm
    var = (m2 - 2 * centroid * m1 + centroid**2 * m0) / norm
    return {"spectral_centroid": centroid[np.newaxis],
            "spectral_bandwidth": np.sqrt(np.maximum(var, 0.0))[np.newaxis]}


def spectral_rolloff(S: np.ndarray, sr: int, n_fft: int, roll_percent: float = 0.85) -> np.ndarray:
    """``librosa.feature.spectral_rolloff(S=S)``, bitwise, without the NaN mask."""
    import librosa

    freq = librosa.fft_frequencies(sr=sr, n_fft=n_fft)
    total = np.cumsum(S, axis=-2)
    threshold = roll_percent * total[-1]
    first = np.argmax(total >= threshold[np.newaxis], axis=-2)  # librosa: nanmin over freq where reached
    return freq[first][np.newaxis]


def rms(y: np.ndarray, frame_length: int, hop_length: int) -> np.ndarray:
    """``librosa.feature.rms(y=y)``, bitwise: each sample squared once instead of once per frame.

    librosa averages the squares of each (zero-padded, centred) frame along the frame's
    contiguous axis; averaging a strided view of the squared signal is the same sum.
    """
    from numpy.lib.stride_tricks import as_strided

    half = frame_length // 2
    sq = np.square(np.pad(y, (half, half)), dtype=np.float32)
    n_frames = 1 + (len(sq) - frame_length) // hop_length
    frames = as_strided(sq, shape=(frame_length, n_frames), strides=(sq.strides[0], hop_length * sq.strides[0]),
                        writeable=False)
    return np.sqrt(np.mean(frames, axis=-2, keepdims=True))


def zero_crossing_rate(y: np.ndarray, frame_length: int, hop_length: int) -> np.ndarray:
    """``librosa.feature.zero_crossing_rate(y)`` by a cumulative count (exact).

    A crossing is a change of sign bit between consecutive samples, samples within
    1e-10 of zero counting as +0; frames are centred with edge padding and the first
    sample of a frame counts no crossing (librosa's ``pad=False``).
    """
    half = frame_length // 2
    yp = np.pad(y, (half, half), mode="edge")
    # librosa compares float32 samples with the float64 threshold
    neg = np.signbit(yp) & ~(np.abs(yp) <= np.float64(1e-10))
    cross = np.concatenate([[0], np.cumsum(neg[1:] != neg[:-1], dtype=np.int64)])
    n_frames = 1 + (len(yp) - frame_length) // hop_length
    starts = np.arange(n_frames) * hop_length
    counts = cross[starts + frame_length - 1] - cross[starts]
    return (counts / frame_length)[np.newaxis]


def stft_features(y: np.ndarray, config: FeatureConfig, S: np.ndarray, P: np.ndarray,
                  tuning_stft: float) -> dict[str, np.ndarray]:
    """The frame-local groups that come from the STFT or the framed signal.

    Parameters
    ----------
    y : np.ndarray, shape (n,)
    config : FeatureConfig
    S : np.ndarray, shape (1 + n_fft // 2, T)
        |STFT| of `y` (:func:`stft_magnitude`).
    P : np.ndarray, shape (1 + n_fft // 2, T)
        ``S**2``.
    tuning_stft : float
        chroma_stft's tuning in fractions of a chroma bin.

    Returns
    -------
    dict: chroma_stft, mel (power), rms, spectral_centroid, spectral_bandwidth,
    spectral_flatness, spectral_rolloff, zero_crossing_rate; and the frame-local inputs of
    whole-clip groups (:func:`whole_clip_features`): ``contrast_peak`` and
    ``contrast_valley``, and ``onset_mel`` (the mel power of tempo's onset envelope, when
    it is not ``mel``)
    """
    import librosa

    c = config
    out = {
        "chroma_stft": librosa.util.normalize(
            np.einsum("cf,...ft->...ct", _chroma_basis(c.sr, c.n_fft, tuning_stft), P, optimize=True),
            norm=np.inf, axis=-2),
        "mel": np.einsum("...ft,mf->...mt", P, _mel_basis(c.sr, c.n_fft, c.n_mels), optimize=True),
        "rms": rms(y, c.n_fft, c.hop_length),
        **spectral_shape(S, c.sr, c.n_fft),
        **contrast_bands(S, c.sr, c.n_fft, c.n_contrast_bands),
        "spectral_flatness": librosa.feature.spectral_flatness(S=S, n_fft=c.n_fft),
        "spectral_rolloff": spectral_rolloff(S, c.sr, c.n_fft),
        "zero_crossing_rate": zero_crossing_rate(y, c.n_fft, c.hop_length),
    }
    if not _onset_shares_mel(c):
        out["onset_mel"] = librosa.feature.melspectrogram(y=y, sr=c.sr, n_fft=_ONSET_N_FFT, hop_length=c.hop_length)
    return out


def contrast_bands(S: np.ndarray, sr: int, n_fft: int, n_bands: int, fmin: float = 200.0,
                   quantile: float = 0.02) -> dict[str, np.ndarray]:
    """Per-band peak and valley energy of ``librosa.feature.spectral_contrast(S=S)``.

    librosa's contrast is ``power_to_db(peak) - power_to_db(valley)``, and
    ``power_to_db`` floors each at its whole-clip maximum minus 80 dB; so the frame-local
    part stops here and :func:`whole_clip_features` takes the decibels.

    Returns
    -------
    dict with ``contrast_peak`` and ``contrast_valley``, each (n_bands + 1, T) float64
    """
    import librosa

    freq = librosa.fft_frequencies(sr=sr, n_fft=n_fft)
    octa = np.zeros(n_bands + 2)
    octa[1:] = fmin * 2.0 ** np.arange(0, n_bands + 1)
    if np.any(octa[:-1] >= 0.5 * sr):
        raise ValueError("spectral contrast: a frequency band exceeds the Nyquist frequency")
    valley = np.zeros((n_bands + 1, S.shape[-1]))
    peak = np.zeros_like(valley)
    for k, (f_low, f_high) in enumerate(zip(octa[:-1], octa[1:])):  # librosa's loop, step by step
        current_band = np.logical_and(freq >= f_low, freq <= f_high)
        idx = np.flatnonzero(current_band)
        if k > 0:
            current_band[idx[0] - 1] = True
        if k == n_bands:
            current_band[idx[-1] + 1:] = True
        sub_band = S[..., current_band, :]
        if k < n_bands:
            sub_band = sub_band[..., :-1, :]
        n = int(np.maximum(np.rint(quantile * np.sum(current_band)), 1))
        sortedr = np.sort(sub_band, axis=-2)
        valley[k] = np.mean(sortedr[..., :n, :], axis=-2)
        peak[k] = np.mean(sortedr[..., -n:, :], axis=-2)
    return {"contrast_peak": peak, "contrast_valley": valley}


def _onset_shares_mel(config: FeatureConfig) -> bool:
    """Whether tempo's onset envelope (librosa defaults: n_fft 2048, 128 mels) uses the mel group."""
    return (config.n_fft, config.n_mels) == (_ONSET_N_FFT, _ONSET_N_MELS)


#: Intermediates of :func:`stft_features` that only :func:`whole_clip_features` reads (not features).
WHOLE_CLIP_INPUTS = ("contrast_peak", "contrast_valley", "onset_mel")


def whole_clip_features(parts: dict[str, np.ndarray], config: FeatureConfig, *,
                        tempogram_block: int | None = None) -> dict[str, np.ndarray]:
    """spectral_contrast, mfcc and tempo from the frame-local data of the whole clip.

    These three need the whole clip: ``power_to_db`` floors at the clip's maximum minus
    80 dB (contrast's peaks and valleys, the mel spectrogram of mfcc and of the onset
    envelope), and the tempo averages the tempogram over all frames.

    Parameters
    ----------
    parts : dict
        :func:`stft_features` of the whole clip (or its windows, concatenated over
        frames): ``mel``, ``contrast_peak``, ``contrast_valley`` and optionally
        ``onset_mel`` are read. Not modified (:func:`_finish_features` drops the
        intermediates, :data:`WHOLE_CLIP_INPUTS`).
    tempogram_block : int, optional
        Average the tempogram over blocks of this many frames (see :func:`mean_tempogram`).

    Returns
    -------
    dict with ``spectral_contrast`` (n_bands + 1, T), ``mfcc`` (n_mfcc, T), ``tempo`` (1,)
    """
    import librosa

    c = config
    peak, valley = parts["contrast_peak"], parts["contrast_valley"]
    onset_mel = parts.get("onset_mel")
    mel_db = librosa.power_to_db(parts["mel"])
    mfcc = librosa.feature.mfcc(S=mel_db, n_mfcc=c.n_mfcc)
    # == librosa.onset.onset_strength(y=...): the same mel in dB, first difference, mean
    onset_db = mel_db if onset_mel is None else librosa.power_to_db(onset_mel)
    onset = librosa.onset.onset_strength(S=onset_db, sr=c.sr, n_fft=_ONSET_N_FFT, hop_length=c.hop_length)
    tempo = librosa.feature.tempo(tg=mean_tempogram(onset, c, tempogram_block), sr=c.sr, hop_length=c.hop_length)
    return {"spectral_contrast": librosa.power_to_db(peak) - librosa.power_to_db(valley),
            "mfcc": mfcc, "tempo": np.atleast_1d(tempo)}


def _finish_features(parts: dict[str, np.ndarray], config: FeatureConfig, *,
                     tempogram_block: int | None = None) -> dict[str, np.ndarray]:
    """A new dict: the features of `parts` without :data:`WHOLE_CLIP_INPUTS`, then :func:`whole_clip_features`."""
    whole = whole_clip_features(parts, config, tempogram_block=tempogram_block)
    return {g: A for g, A in parts.items() if g not in WHOLE_CLIP_INPUTS} | whole


def mean_tempogram(onset: np.ndarray, config: FeatureConfig, block: int | None = None) -> np.ndarray:
    """The tempogram averaged over frames, as ``librosa.feature.tempo`` aggregates it.

    Parameters
    ----------
    onset : np.ndarray, shape (T,)
    block : int, optional
        None: the whole (win_length, T) tempogram at once, averaged exactly as librosa
        does (bitwise). An int: blocks of that many frames, summed; memory is then
        bounded by the block instead of 2.6 kB per frame (1.6 GB for an hour), and the
        mean differs from librosa's only by float64 summation order (~1e-16).

    Returns
    -------
    np.ndarray, shape (win_length, 1), float64
    """
    if block is None:
        return np.mean(tempogram(onset, config), axis=-1, keepdims=True)
    n = onset.shape[-1]
    total = sum(tempogram(onset, config, frames=slice(b0, min(b0 + block, n))).sum(axis=-1)
                for b0 in range(0, n, block))
    return (total / n)[:, np.newaxis]


def tempogram(onset: np.ndarray, config: FeatureConfig, frames: slice | None = None) -> np.ndarray:
    """``librosa.feature.tempogram(onset_envelope=onset)`` as ``tempo`` calls it, bitwise.

    The autocorrelation of each 8-s window runs on rows (one contiguous frame per FFT)
    instead of columns, which is faster and gives the same numbers; the result is
    returned in librosa's layout so that ``tempo``'s mean over frames is the same sum.

    Parameters
    ----------
    frames : slice, optional
        Only these frames (columns) of the tempogram.

    Returns
    -------
    np.ndarray, shape (win_length, T), float64, C order
    """
    import librosa

    win = librosa.time_to_frames(_TEMPO_AC_SECONDS, sr=config.sr, hop_length=config.hop_length).item()
    return envelope_tempogram(onset, win, frames=frames)


# ---------------------------------------------------------------- whole clip


def _tuning_spectrogram(y: np.ndarray, config: FeatureConfig, S: np.ndarray) -> np.ndarray:
    """The |STFT| chroma_cqt estimates its tuning from (n_fft 2048, hop 512)."""
    if (config.n_fft, config.hop_length) == (_TUNING_N_FFT, _TUNING_HOP):
        return S
    return stft_magnitude(y, _TUNING_N_FFT, _TUNING_HOP)


def fused_features(y: np.ndarray, config: FeatureConfig | None = None) -> dict[str, np.ndarray]:
    """Each of the 14 features, computed from shared intermediates.

    Same contract as :func:`mer.features.paper.reference_features`: a dict of group name
    -> (rows, T) arrays, ``tempo`` of shape (1,).
    """
    c = config or FeatureConfig()
    y = _check_signal(y, c)
    with warnings.catch_warnings(), single_threaded_blas():
        for msg in _QUIET:
            warnings.filterwarnings("ignore", message=msg)
        S = stft_magnitude(y, c.n_fft, c.hop_length)
        P = S**2
        tuning_stft = tuning_from_peaks(*pitch_peaks(P, c.sr, c.n_fft), bins_per_octave=12)
        tuning_cqt = tuning_from_peaks(*pitch_peaks(_tuning_spectrogram(y, c, S), c.sr, _TUNING_N_FFT),
                                       bins_per_octave=_CQT_BINS_PER_OCTAVE)
        parts = stft_features(y, c, S, P, tuning_stft)
        parts.update(constant_q_chromas(y, c, tuning_cqt))
        parts = _finish_features(parts, c)
    return parts


# ------------------------------------------------------------ long tracks, windowed

#: Files longer than this (seconds) are processed window by window (:func:`extract_long_file`).
LONG_TRACK_SECONDS = 120.0
#: Frames kept per window, in seconds of audio.
WINDOW_SECONDS = 60.0
#: Frames of the tempogram held at once on the windowed path (2.6 kB each).
_TEMPOGRAM_BLOCK = 4096
#: Audio analysed on each side of a window and then dropped, in seconds: more than half
#: the longest constant-Q filter (C1 at 36 bins per octave, 1.6 s) plus the resampler's
#: transients at the deepest octave, so kept frames never see a window's edge.
CONTEXT_SECONDS = 4.0


@dataclass(frozen=True)
class _Span:
    """One window: frames centred in [k0, k1) samples, analysed on samples [s, e)."""

    k0: int
    k1: int
    s: int
    e: int
    last: bool

    def crop(self, A: np.ndarray, hop: int, n_samples: int) -> np.ndarray:
        """The frames of `A` (analysed on [s, e), hop `hop`) that this window keeps."""
        first = -(-self.k0 // hop) - self.s // hop
        stop = (n_samples // hop + 1 if self.last else -(-self.k1 // hop)) - self.s // hop
        return A[..., first:stop]


def _spans(n_samples: int, config: FeatureConfig, window: int, context: int) -> list[_Span]:
    n_frames = 1 + n_samples // config.hop_length
    end = n_frames * config.hop_length
    starts = range(0, end, window)
    return [_Span(k0, min(k0 + window, end), max(0, k0 - context), min(n_samples, k0 + window + context),
                  last=k0 + window >= end) for k0 in starts]


def extract_windowed(read: Callable[[int, int], np.ndarray], n_samples: int, config: FeatureConfig | None = None,
                     window_seconds: float = WINDOW_SECONDS, context_seconds: float = CONTEXT_SECONDS) -> np.ndarray:
    """The (204, T) matrix of a long signal, analysed window by window in bounded memory.

    Two passes over the signal: the first gathers the spectral peaks of every frame
    (for the two tuning estimates, which are whole-clip quantities); the second computes
    each window's frame-local groups on the window plus `context_seconds` on each side
    and keeps the window's own frames. mfcc and tempo are then computed from the mel
    spectrogram of the whole clip (their dB floor and tempogram mean are whole-clip).

    Equal to :func:`extract_fused` on the whole signal (tested in tests/test_fused.py):
    the STFT-derived rows, contrast and mfcc bitwise; tempo too unless two tempo
    candidates score within ~1e-16 (the tempogram is averaged block by block, see
    :func:`mean_tempogram`); chroma_cqt, chroma_vqt and tonnetz within 1e-4, because
    each window's decimation pyramid rounds differently from the whole signal's.

    Parameters
    ----------
    read : callable (start, stop) -> np.ndarray, shape (stop - start,), float32
        Samples [start, stop) of the mono signal at ``config.sr``.
    n_samples : int
        Length of the signal.
    window_seconds, context_seconds : float
        Frames kept per window and the audio analysed around them.

    Returns
    -------
    np.ndarray, shape (204, 1 + n_samples // hop_length), float32
    """
    c = config or FeatureConfig()
    hop = c.hop_length
    align = math.lcm(hop, _TUNING_HOP, 2 ** (_N_OCTAVES - 1))  # window starts on every frame / decimation grid
    window = max(align, int(window_seconds * c.sr) // align * align)
    if n_samples <= window + 2 * int(context_seconds * c.sr):
        return extract_fused(read(0, n_samples), c)
    share_tuning_stft = (c.n_fft, c.hop_length) == (_TUNING_N_FFT, _TUNING_HOP)
    with warnings.catch_warnings(), single_threaded_blas():
        for msg in _QUIET:
            warnings.filterwarnings("ignore", message=msg)
        # pass 1: spectral peaks of every frame -> the two tuning estimates
        stft_context = -(-max(c.n_fft, _TUNING_N_FFT) // 2 // align) * align
        peaks: dict[int, list] = {12: [], _CQT_BINS_PER_OCTAVE: []}
        for span in _spans(n_samples, c, window, stft_context):
            seg = _check_signal(read(span.s, span.e), c)
            S = span.crop(stft_magnitude(seg, c.n_fft, hop), hop, n_samples)
            peaks[12].append(pitch_peaks(S**2, c.sr, c.n_fft))
            if not share_tuning_stft:
                S = span.crop(stft_magnitude(seg, _TUNING_N_FFT, _TUNING_HOP), _TUNING_HOP, n_samples)
            peaks[_CQT_BINS_PER_OCTAVE].append(pitch_peaks(S, c.sr, _TUNING_N_FFT))
        tuning = {bins: tuning_from_peaks(np.concatenate([p for p, _ in found]), np.concatenate([m for _, m in found]),
                                          bins_per_octave=bins) for bins, found in peaks.items()}
        # pass 2: frame-local groups of each window, on the window and its context
        pieces: dict[str, list] = {}
        context = -(-int(context_seconds * c.sr) // align) * align
        for span in _spans(n_samples, c, window, context):
            seg = _check_signal(read(span.s, span.e), c)
            S = stft_magnitude(seg, c.n_fft, hop)
            parts = stft_features(seg, c, S, S**2, tuning[12])
            parts.update(constant_q_chromas(seg, c, tuning[_CQT_BINS_PER_OCTAVE]))
            for g, A in parts.items():
                pieces.setdefault(g, []).append(span.crop(A, hop, n_samples))
        parts = {g: np.concatenate(A, axis=-1) for g, A in pieces.items()}
        parts = _finish_features(parts, c, tempogram_block=_TEMPOGRAM_BLOCK)
    return stack_features(parts, c)


def extract_long_file(path, config: FeatureConfig | None = None, window_seconds: float = WINDOW_SECONDS) -> np.ndarray:
    """The (204, T) matrix of an audio file of any length, in memory bounded by the window.

    The file is decoded once, block by block (:func:`mer.audio.decode.stream`, the same samples
    as :func:`mer.audio.decode.load`), into a temporary float32 file that both passes of
    :func:`extract_windowed` read window by window.

    Raises
    ------
    MerError
        Naming the file, for anything wrong with it.
    """
    import tempfile

    c = config or FeatureConfig()
    with tempfile.TemporaryFile(prefix="mer-decoded-") as spill:
        n = 0
        for block in audio.stream(path, sr=c.sr):
            spill.write(np.ascontiguousarray(block, dtype=np.float32).tobytes())
            n += len(block)

        def read(start: int, stop: int) -> np.ndarray:
            spill.seek(start * 4)
            return np.frombuffer(spill.read((stop - start) * 4), dtype=np.float32).copy()

        try:
            return extract_windowed(read, n, c, window_seconds=window_seconds)
        except MerError as exc:
            raise exc.with_path(path) from None


def extract_fused(y: np.ndarray, config: FeatureConfig | None = None) -> np.ndarray:
    """The paper's (204, T) feature matrix with each shared analysis computed once.

    Parameters
    ----------
    y : np.ndarray, shape (n_samples,)
        Mono audio at ``config.sr``.
    config : FeatureConfig, optional

    Returns
    -------
    np.ndarray, shape (204, T), float32
        Equal to :func:`mer.features.paper.extract_reference` (tolerances in
        ``tests/test_fused.py``), several times faster.
    """
    return stack_features(fused_features(y, config), config)
