"""Datasets: lists of labelled clips with the group each belongs to.

:func:`load` detects the layout of what it is given:

* ``"synthetic"`` (optionally ``"synthetic:n=40,seed=1,duration=6"``): the built-in
  seeded generator (:mod:`mer.audio.synth`), rendered once into the cache directory.
* The 4Q layout of Panda et al. (2018): ``Q1..Q4/<id>.mp3`` beside
  ``panda_dataset_taffc_annotations.csv`` and ``panda_dataset_taffc_metadata.csv``.
  The label comes from the annotations (checked against the folder), the group is
  the artist, so that evaluation can keep an artist in one fold.
* A folder per label: ``Q1..Q4`` or mood words (``happy``, ``angry``, ``sad``,
  ``calm``, ...) mapped to quadrants. Each clip is its own group.
* A CSV manifest with a header ``path,label[,group]``; relative paths are relative to
  the CSV's folder; labels are quadrants or mood words.
* EMOPIA (Hung et al. 2021): a flat folder of ``Q<k>_<song>_<n>.mid`` piano MIDI
  files, rendered to audio with a SoundFont synthesizer and cached (:mod:`mer.audio.midi`).
  Label = the prefix, group = the song.

Groups exist so that evaluation keeps an artist, a song, or every augmented copy of
one clip in one fold.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from os import PathLike
from pathlib import Path

from mer.audio import synth as synthetic
from mer.audio.decode import SUPPORTED_EXTENSIONS
from mer.core.cache import resolve_cache_dir
from mer.core.errors import MerError
from mer.core.labels import QUADRANTS, normalise_label
from mer.data import emopia
from mer.data.types import Clip, Dataset

_4Q_ANNOTATIONS = "panda_dataset_taffc_annotations.csv"
_4Q_METADATA = "panda_dataset_taffc_metadata.csv"


def load(source: str | PathLike, *, cache_dir: str | PathLike | None = None) -> Dataset:
    """Load a dataset, detecting its layout (see the module docstring).

    Parameters
    ----------
    source : str or PathLike
        ``"synthetic[:k=v,...]"``, a 4Q-layout folder, a folder per label, or a CSV manifest.
    cache_dir : path, optional
        Where the synthetic set is rendered (default: the feature cache root).

    Raises
    ------
    MerError
        Missing path, unknown label folders (listed), a malformed manifest, or no clips.
    """
    text = str(source)
    if text == "synthetic" or text.startswith("synthetic:"):
        return load_synthetic(cache_dir=cache_dir, **_parse_options(text))
    path = Path(source)
    if not path.exists():
        raise MerError("dataset not found (expected a folder, a CSV manifest or 'synthetic')", path)
    if path.is_file():
        if path.suffix.lower() != ".csv":
            raise MerError("a dataset file must be a CSV manifest with columns path,label[,group]", path)
        ds = load_manifest(path)
    elif (path / _4Q_ANNOTATIONS).is_file():
        ds = load_4q(path)
    elif emopia.is_emopia_folder(path):
        ds = emopia.load_emopia(path, cache_dir=cache_dir)
    else:
        ds = load_label_folders(path)
    if not ds.clips:
        raise MerError("no audio clips found", path)
    return ds


def _parse_options(text: str) -> dict:
    """``'synthetic:n=40,seed=1'`` -> ``{'n_per_quadrant': 40, 'seed': 1}``."""
    aliases = {"n": "n_per_quadrant"}
    opts = {}
    if ":" in text:
        for item in filter(None, text.split(":", 1)[1].split(",")):
            k, _, v = item.partition("=")
            k = aliases.get(k.strip(), k.strip())
            try:
                opts[k] = float(v) if "." in v else int(v)
            except ValueError:
                raise MerError(f"bad synthetic option '{item}' (use k=number, e.g. synthetic:n=40,seed=1)") from None
    return opts


def load_synthetic(
    *,
    n_per_quadrant: int = 30,
    clips_per_song: int = 2,
    duration: float = 6.0,
    seed: int = 0,
    cache_dir: str | PathLike | None = None,
) -> Dataset:
    """The built-in synthetic set, rendered to WAV once under ``<cache>/synthetic/``.

    Group = synthetic song, so the sections of one song stay in one fold.
    """
    tag = f"n{n_per_quadrant}-c{clips_per_song}-d{duration:g}-s{seed}-v{synthetic.GENERATOR_VERSION}"
    root = resolve_cache_dir(cache_dir) / "synthetic" / tag
    rows = synthetic.write_dataset(
        root, n_per_quadrant=n_per_quadrant, clips_per_song=clips_per_song, duration=duration, seed=seed
    )
    clips = [Clip(Path(p), q, song, Path(p).stem) for p, q, song in rows]
    return Dataset(f"synthetic({tag})", clips, QUADRANTS, root)


def _audio_files(folder: Path) -> tuple[list[Path], list[Path]]:
    """(audio files, other non-hidden files) directly inside `folder`, sorted."""
    audio, other = [], []
    for p in sorted(folder.iterdir()):
        if p.name.startswith(".") or not p.is_file():
            continue
        (audio if p.suffix.lower() in SUPPORTED_EXTENSIONS else other).append(p)
    return audio, other


def _read_csv(path: Path) -> list[dict[str, str]]:
    """Rows of a CSV with a header; UTF-8, falling back to Latin-1 (the 4Q files)."""
    for encoding in ("utf-8-sig", "latin-1"):
        try:
            with open(path, newline="", encoding=encoding) as f:
                rows = list(csv.DictReader(f))
            break
        except UnicodeDecodeError:
            continue
        except csv.Error as exc:
            raise MerError(f"malformed CSV ({exc})", path) from None
    if not rows:
        raise MerError("CSV has a header but no rows", path)
    return rows


def _group_name(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().casefold()


def load_4q(root: str | PathLike) -> Dataset:
    """The 4Q Audio Emotion Dataset (Panda et al. 2018) in its original layout.

    Only clips whose audio is present are loaded (a subset such as 4q-dev is fine).
    Label = the annotation's quadrant; a clip whose folder disagrees, or that has no
    annotation, is reported in ``problems`` and skipped. Group = artist (case- and
    space-normalised); a clip with no artist becomes its own group.
    """
    root = Path(root)
    ann_path, meta_path = root / _4Q_ANNOTATIONS, root / _4Q_METADATA
    ann = _read_csv(ann_path)
    if not {"Song", "Quadrant"} <= set(ann[0]):
        raise MerError(f"expected columns Song,Quadrant, found {','.join(ann[0])}", ann_path)
    label_of = {r["Song"].strip(): r["Quadrant"].strip() for r in ann}
    artist_of: dict[str, str] = {}
    problems: list[str] = []
    if meta_path.is_file():
        meta = _read_csv(meta_path)
        if not {"Song", "Artist"} <= set(meta[0]):
            raise MerError(f"expected columns Song,Artist, found {','.join(meta[0])}", meta_path)
        artist_of = {r["Song"].strip(): r["Artist"] for r in meta}
    else:
        problems.append(f"{meta_path}: missing; every clip becomes its own group (artists unknown)")

    clips = []
    for q in QUADRANTS:
        folder = root / q
        if not folder.is_dir():
            problems.append(f"{folder}: missing quadrant folder")
            continue
        audio, other = _audio_files(folder)
        problems += [f"{p}: not an audio file, ignored" for p in other]
        for p in audio:
            song = p.stem
            label = label_of.get(song)
            if label is None:
                problems.append(f"{p}: no annotation in {_4Q_ANNOTATIONS}, skipped")
                continue
            if label != q:
                problems.append(f"{p}: annotated {label} but stored under {q}, skipped")
                continue
            artist = artist_of.get(song, "").strip()
            if not artist and artist_of:
                problems.append(f"{p}: no artist in {_4Q_METADATA}, its own group")
            clips.append(Clip(p, label, _group_name(artist) if artist else f"clip:{song}", song))
    return Dataset(f"4q({root.name})", clips, QUADRANTS, root, problems)


def load_label_folders(root: str | PathLike) -> Dataset:
    """A folder per label (``Q1``..``Q4`` or mood words); each clip is its own group."""
    root = Path(root)
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    with_audio = [f for f in folders if _audio_files(f)[0]]
    if not with_audio:
        raise MerError("no label folders with audio found (expected Q1..Q4 or mood-word folders)", root)
    unknown = [f.name for f in with_audio if normalise_label(f.name) is None]
    if unknown:
        raise MerError(
            f"unknown label folder(s): {', '.join(unknown)} "
            f"(use Q1..Q4 or mood words such as happy, angry, sad, calm)",
            root,
        )
    clips, problems = [], []
    for folder in with_audio:
        label = normalise_label(folder.name)
        audio, other = _audio_files(folder)
        problems += [f"{p}: not an audio file, ignored" for p in other]
        for p in audio:
            cid = f"{folder.name}/{p.stem}"
            clips.append(Clip(p, label, f"clip:{cid}", cid))
    return Dataset(f"folders({root.name})", clips, QUADRANTS, root, problems)


def load_manifest(path: str | PathLike) -> Dataset:
    """A CSV manifest with header ``path,label[,group]``.

    Relative paths are resolved against the CSV's folder. Rows with a missing file
    are reported in ``problems``; a missing column or an unknown label is an error
    naming the line.
    """
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            header = [h.strip().lower() for h in next(reader, [])]
            rows = list(enumerate(reader, start=2))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise MerError(f"malformed CSV ({exc})", path) from None
    if header[:2] != ["path", "label"]:
        raise MerError(f"the header must start with path,label (found: {','.join(header) or 'nothing'})", path)
    has_group = len(header) > 2 and header[2] == "group"
    clips, problems = [], []
    for line, row in rows:
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) < 2:
            raise MerError(f"line {line}: expected path,label[,group], got {','.join(row)}", path)
        file, label_text = row[0].strip(), row[1].strip()
        label = normalise_label(label_text)
        if label is None:
            raise MerError(f"line {line}: unknown label '{label_text}' (use Q1..Q4 or a mood word)", path)
        audio = Path(file) if Path(file).is_absolute() else path.parent / file
        if not audio.is_file():
            problems.append(f"{audio}: listed on line {line} of {path.name} but not found, skipped")
            continue
        group = row[2].strip() if has_group and len(row) > 2 and row[2].strip() else f"clip:{file}"
        clips.append(Clip(audio, label, group, file))
    ids = Counter(c.id for c in clips)
    dupes = [i for i, n in ids.items() if n > 1]
    if dupes:
        raise MerError(f"paths listed more than once: {', '.join(dupes[:5])}", path)
    return Dataset(f"manifest({path.name})", clips, QUADRANTS, path.parent, problems)
