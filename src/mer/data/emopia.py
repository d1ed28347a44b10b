"""EMOPIA (Hung et al., ISMIR 2021): pop-piano MIDI clips named ``Q<k>_<song>_<n>.mid``, as a dataset of rendered audio.

Label = ``Q<k>``, group = the song (so clips of one song share a fold); each clip is
rendered once to audio by :func:`mer.audio.midi.render_many` and cached.
"""

from __future__ import annotations

import re
from dataclasses import replace
from os import PathLike
from pathlib import Path

from mer.audio.midi import DEFAULT_MAX_SECONDS, render_many
from mer.core.errors import MerError
from mer.core.labels import QUADRANTS
from mer.data.types import Clip, Dataset

#: EMOPIA clip names: quadrant, song id, clip number.
EMOPIA_NAME = re.compile(r"^Q([1-4])_(.+)_(\d+)\.midi?$", re.IGNORECASE)


def emopia_files(root: str | PathLike) -> list[Path]:
    """The ``Q<k>_<song>_<n>.mid`` files directly inside `root`, sorted."""
    root = Path(root)
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_file() and EMOPIA_NAME.match(p.name))


def is_emopia_folder(root: str | PathLike) -> bool:
    """True if `root` directly holds EMOPIA-named MIDI files."""
    return bool(emopia_files(root))


def emopia_index(root: str | PathLike):
    """The EMOPIA clips of `root` as a :class:`~mer.data.types.Dataset` whose paths are the MIDI files.

    Nothing is rendered: use it to choose clips (e.g. a quick subset) before
    :func:`render_dataset`. Label = ``Q<k>``, group = ``song:<song>``, id = the file's stem.

    Raises
    ------
    MerError
        No EMOPIA-named MIDI files in `root`.
    """
    root = Path(root)
    files = emopia_files(root)
    if not files:
        raise MerError("no EMOPIA MIDI files (Q<k>_<song>_<n>.mid) found", root)
    problems = [f"{p}: MIDI file not named Q<k>_<song>_<n>.mid, ignored"
                for p in sorted(root.glob("*.mid")) if not EMOPIA_NAME.match(p.name)]
    clips = []
    for p in files:
        m = EMOPIA_NAME.match(p.name)
        clips.append(Clip(p, f"Q{m.group(1)}", f"song:{m.group(2)}", p.stem))
    return Dataset(f"emopia({root.name})", clips, QUADRANTS, root, problems)


def render_dataset(
    dataset,
    *,
    cache_dir: str | PathLike | None = None,
    sr: int = 22050,
    soundfont: str | PathLike | None = None,
    max_seconds: float | None = DEFAULT_MAX_SECONDS,
    jobs: int = 1,
    progress: bool = True,
):
    """The same dataset with each MIDI clip replaced by its cached FLAC render (label, group, id kept).

    A clip that fails to render is listed in ``problems`` and dropped.
    """
    renders, failures = render_many(dataset.paths, cache_dir, sr, soundfont=soundfont, max_seconds=max_seconds,
                                    jobs=jobs, progress=progress)
    clips = [replace(c, path=r) for c, r in zip(dataset.clips, renders) if r is not None]
    problems = list(dataset.problems) + [f"{reason}; skipped" for _, reason in failures]
    return Dataset(dataset.name, clips, dataset.labels, dataset.root, problems)


def load_emopia(
    root: str | PathLike,
    *,
    cache_dir: str | PathLike | None = None,
    sr: int = 22050,
    soundfont: str | PathLike | None = None,
    max_seconds: float | None = DEFAULT_MAX_SECONDS,
    jobs: int = 1,
    progress: bool = True,
):
    """The EMOPIA MIDI clips as a :class:`~mer.data.types.Dataset` of rendered audio.

    Each ``Q<k>_<song>_<n>.mid`` is rendered (once; cached) and becomes a
    :class:`~mer.data.types.Clip` whose ``path`` is the FLAC render, label ``Q<k>``,
    group ``song:<song>``, id the file's stem (:func:`emopia_index` then
    :func:`render_dataset`). Failures and unrecognised ``.mid`` names are listed in
    ``problems``.

    Raises
    ------
    MerError
        No EMOPIA-named MIDI files in `root`, or the synthesizer is not installed.
    """
    return render_dataset(emopia_index(root), cache_dir=cache_dir, sr=sr, soundfont=soundfont,
                          max_seconds=max_seconds, jobs=jobs, progress=progress)
