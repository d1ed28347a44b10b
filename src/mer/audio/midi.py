"""MIDI -> audio with a sampled-instrument synthesizer, and the EMOPIA piano dataset.

Rendering uses `midirenderer` (a SoundFont 2 synthesizer compiled into its PyPI wheel,
so ``pip install`` alone is enough: no system library) with the General MIDI
SoundFont ``TimGM6mb.sf2`` that the `pretty-midi` package ships. The synthesizer
plays at 48 kHz stereo; :func:`render` mixes to mono, keeps the first ``max_seconds``
and resamples to 22,050 Hz (soxr, as :func:`mer.audio.decode.load` does).

Renders are cached as 16-bit FLAC under ``<cache>/midi-render/`` keyed by the MIDI
file's content, the SoundFont's content, the sample rate, the excerpt length and
:data:`RENDER_VERSION`, and written atomically, so the second load of a dataset does
no synthesis.

EMOPIA (Hung et al. 2021) as distributed for this project: a flat folder of
``Q<k>_<song>_<n>.mid`` files. Label = ``Q<k>``; group = ``<song>`` (a YouTube id, which
may itself contain ``_`` and ``-``), so the clips of one song stay in one fold.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
from os import PathLike
from pathlib import Path
from typing import Sequence

import numpy as np

from mer.core.cache import file_digest, resolve_cache_dir
from mer.core.errors import MerError
from mer.core.io import write_bytes
from mer.core.progress import progress_bar

#: Bumped when rendering changes in a way that invalidates cached renders.
RENDER_VERSION = 1


#: Default excerpt length in seconds: the paper's 1,295 frames are 30 s; EMOPIA clips run 19-90 s.
DEFAULT_MAX_SECONDS = 30.0

_INSTALL_HINT = "pip install midirenderer pretty-midi (both wheels are self-contained; no system library needed)"


def _synth():
    try:
        import midirenderer
    except ImportError:
        raise MerError(f"MIDI rendering needs the SoundFont synthesizer 'midirenderer': {_INSTALL_HINT}") from None
    return midirenderer


def default_soundfont() -> Path:
    """The General MIDI SoundFont shipped by `pretty-midi` (TimGM6mb.sf2, 6 MB)."""
    try:
        import importlib.util

        spec = importlib.util.find_spec("pretty_midi")
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise MerError(f"MIDI rendering needs a General MIDI SoundFont from the 'pretty-midi' package: {_INSTALL_HINT}")
    path = Path(list(spec.submodule_search_locations)[0]) / "TimGM6mb.sf2"
    if not path.is_file():
        raise MerError(f"the 'pretty-midi' package has no TimGM6mb.sf2; reinstall it: {_INSTALL_HINT}", path)
    return path


@functools.lru_cache(maxsize=4)
def _soundfont(path: str) -> tuple[bytes, str]:
    data = Path(path).read_bytes()
    return data, hashlib.sha256(data).hexdigest()


def render(
    midi_path: str | PathLike,
    sr: int = 22050,
    *,
    soundfont: str | PathLike | None = None,
    max_seconds: float | None = DEFAULT_MAX_SECONDS,
) -> np.ndarray:
    """Synthesize a MIDI file to mono float32 audio.

    Parameters
    ----------
    midi_path : path
        A Standard MIDI File (.mid).
    sr : int > 0
        Output sample rate in Hz.
    soundfont : path, optional
        A SoundFont 2 file (default :func:`default_soundfont`).
    max_seconds : float > 0 or None
        Keep only the first ``max_seconds`` seconds (None: the whole piece).

    Returns
    -------
    y : np.ndarray, shape (n_samples,), float32
        Channels averaged, at ``sr`` Hz.

    Raises
    ------
    MerError
        Missing or unreadable MIDI file (naming it), silence only, or the synthesizer
        or SoundFont not installed (saying what to install).
    """
    import soundfile as sf

    midi_path = Path(midi_path)
    if not midi_path.is_file():
        raise MerError("MIDI file not found", midi_path)
    synth = _synth()
    sf2, _ = _soundfont(str(soundfont or default_soundfont()))
    try:
        wav = synth.render_wave_from(sf2, midi_path.read_bytes())
        data, native_sr = sf.read(io.BytesIO(wav), dtype="float32", always_2d=True)
    except (RuntimeError, ValueError, sf.LibsndfileError) as exc:
        raise MerError(f"cannot render MIDI ({exc})", midi_path) from None
    if max_seconds is not None:
        data = data[: int(round(max_seconds * native_sr))]
    y = data.mean(axis=1)
    if y.size == 0 or not np.any(y):
        raise MerError("the MIDI file renders to silence (no notes?)", midi_path)
    if native_sr != sr:
        import librosa

        y = librosa.resample(y, orig_sr=native_sr, target_sr=sr, res_type="soxr_hq")
    return np.ascontiguousarray(y, dtype=np.float32)


def render_key(midi_path: str | PathLike, sr: int, soundfont: str | PathLike | None, max_seconds: float | None) -> str:
    """SHA-256 naming a render: MIDI content, SoundFont content, rate, excerpt, version."""
    _, sf2_digest = _soundfont(str(soundfont or default_soundfont()))
    blob = json.dumps({"midi": file_digest(midi_path), "sf2": sf2_digest, "sr": sr, "max_seconds": max_seconds,
                       "v": RENDER_VERSION}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def render_cached(
    midi_path: str | PathLike,
    cache_dir: str | PathLike | None = None,
    sr: int = 22050,
    *,
    soundfont: str | PathLike | None = None,
    max_seconds: float | None = DEFAULT_MAX_SECONDS,
) -> Path:
    """Path of the cached FLAC render of `midi_path`, rendering it first on a miss (atomic write)."""
    import soundfile as sf

    midi_path = Path(midi_path)
    if not midi_path.is_file():
        raise MerError("MIDI file not found", midi_path)
    _synth()  # say what to install before hashing anything
    key = render_key(midi_path, sr, soundfont, max_seconds)
    out = resolve_cache_dir(cache_dir) / "midi-render" / key[:2] / f"{key}.flac"
    if out.is_file() and out.stat().st_size > 0:
        return out
    y = render(midi_path, sr, soundfont=soundfont, max_seconds=max_seconds)
    buf = io.BytesIO()
    sf.write(buf, np.clip(y, -1.0, 1.0), sr, format="FLAC", subtype="PCM_16")
    write_bytes(out, buf.getvalue())
    return out


def _render_one(args) -> tuple[int, str | None, str | None]:
    i, midi_path, cache_dir, sr, soundfont, max_seconds = args
    try:
        return i, str(render_cached(midi_path, cache_dir, sr, soundfont=soundfont, max_seconds=max_seconds)), None
    except MerError as exc:
        return i, None, str(exc)
    except Exception as exc:  # one odd file must not end the batch
        return i, None, f"{midi_path}: unexpected {type(exc).__name__} ({' '.join(str(exc).split())})"


def render_many(
    midi_paths: Sequence[str | PathLike],
    cache_dir: str | PathLike | None = None,
    sr: int = 22050,
    *,
    soundfont: str | PathLike | None = None,
    max_seconds: float | None = DEFAULT_MAX_SECONDS,
    jobs: int = 1,
    progress: bool = True,
) -> tuple[list[Path | None], list[tuple[Path, str]]]:
    """Cached renders of many MIDI files, in ``jobs`` processes.

    Returns
    -------
    renders : list of Path or None (None where rendering failed), aligned with ``midi_paths``
    failures : list of (MIDI path, one-line reason)
    """
    _synth()
    soundfont = str(soundfont or default_soundfont())
    tasks = [(i, str(p), None if cache_dir is None else str(cache_dir), sr, soundfont, max_seconds)
             for i, p in enumerate(midi_paths)]
    renders: list[Path | None] = [None] * len(tasks)
    failures: list[tuple[Path, str]] = []
    with progress_bar("rendering MIDI", total=len(tasks), enabled=progress) as advance:
        if jobs <= 1 or len(tasks) <= 1:
            results = map(_render_one, tasks)
            pool = None
        else:
            from mer.core.parallel import WorkerPool

            # WorkerPool: its workers are ended at once on Ctrl-C (see mer.core.parallel)
            pool = WorkerPool(jobs)
            results = (f.result() for f in [pool.submit(_render_one, t) for t in tasks])
        try:
            for i, out, error in results:
                if error is None:
                    renders[i] = Path(out)
                else:
                    failures.append((Path(midi_paths[i]), error))
                advance()
        except BaseException:
            if pool is not None:
                pool.terminate()
            raise
        if pool is not None:
            pool.close()
    return renders, failures


