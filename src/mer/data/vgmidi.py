"""VGMIDI's labelled pieces (Ferreira & Whitehead, ISMIR 2019): piano video-game music with listener valence / arousal.

The data folder holds ``annotations/vgmidi_raw_1.json`` and ``vgmidi_raw_2.json`` (two rounds of
annotation) and ``midi/``. Each JSON has ``pieces`` (``pieceN``: ``midi`` file name, ``name``,
``duration`` in s, ``measures``) and ``annotations`` (``pieceN_k``: listener k's ``valence`` and
``arousal`` traces, one value in [-1, 1] per measure). :func:`load_vgmidi` gives one
:class:`Piece` per piece entry: its listeners' traces, their mean curve per measure, the
mean over measures (the clip-level target) and the measures' times in s.

Measured on the data (2026-12-08): the two rounds list 95 + 105 = 200 pieces, every one with
28-32 listeners. Round 1 also holds the traces of 4 pieces that have no ``pieces`` entry
(``piece81``, ``piece85``, ``piece86``, ``piece96``: no MIDI named), and ``midi/`` holds 4
files no entry names; nothing links the two, so both are left out and listed in
``problems`` (200 pieces, not 204). 3 traces of round 2 have one value more than their
piece's measures: the extra last value is dropped (listed).

**Measure times.** The annotation tool's measure is 4 quarter notes, whatever the time
signature: the JSON's count equals the MIDI's length in quarter notes / 4 (rounded up) for
188 pieces and rounded for 10 more, where the MIDI's own downbeats (time signatures, via
pretty_midi) give the count for only 126 (3/4 pieces have 4/3 as many bars). So measure k
starts at tick ``4 k`` quarter notes through the MIDI's tempo map (``timing = "tempo-map"``)
when the count agrees (198 pieces); otherwise (2 pieces) measures are ``duration /
measures`` s each (``"uniform"``). Against the uniform split, a piece's largest shift of a
measure start is 0.81 s in the median piece, over 1 s in 70 pieces, 4.6 s at the 90th
percentile and 33.0 s at most (tempo changes, and MIDI lengths that differ from the JSON's
duration); see :func:`timing_summary`.

**Groups.** Each piece is a song, except a few that are versions of one: ``Boggys Igloo
Happy`` / ``Sad``, ``Runway`` / ``Runway X``, ``One Winged Angel`` / its ``Reborn
Arrangement``, ``Stone Temple Tower`` / ``Stone Tower Temple Inverted``, ``Overworld`` /
``Overworld 2``, Banjo-Tooie's ``Isle O Hags`` / ``Isle O Hags Cauldron Keep`` / ``Cauldron
Keep``, FF VII's ``JENOVA`` / ``Jenova Absolute``: :func:`song_group` gives them one group
(the game and the name with variant words dropped, plus a small table), so a fold never
splits them.

Rendering goes through :func:`mer.audio.midi.render_many` exactly as EMOPIA's
(:func:`mer.data.emopia.render_dataset`): TimGM6mb SoundFont, cached 22,050-Hz FLAC under
``<cache>/midi-render/``, but whole pieces (``max_seconds=None``: 18-398 s, median 93 s,
6.26 h in all), since the listeners' curves cover whole pieces.

Research use only: fan transcriptions of copyrighted game music, never shipped with `mer`.
"""

from __future__ import annotations

import json
import math
import re
import warnings
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path

import numpy as np

from mer.core.errors import MerError

#: The annotation files, in round order.
ANNOTATION_FILES = ("annotations/vgmidi_raw_1.json", "annotations/vgmidi_raw_2.json")

#: Words that mark a version of a song rather than another song (dropped from group names).
VARIANT_WORDS = {"happy", "sad", "x", "1", "2", "inverted", "remix", "arranged", "reborn", "arrangement"}

#: Pieces of one game that are one song under different names (lower-case, variant words dropped).
SAME_SONG = {
    ("banjo-tooie", "isle o hags cauldron keep"): "isle o hags",
    ("banjo-tooie", "cauldron keep"): "isle o hags",
    ("final fantasy vii", "jenova absolute"): "jenova",
    ("the legend of zelda majoras mask", "stone tower temple"): "stone temple tower",
}


@dataclass
class Piece:
    """One labelled VGMIDI piece.

    Attributes
    ----------
    id : str
        ``r<round>:<pieceN>``, unique over both rounds.
    midi : Path
    name, game, group : str
        The piece's title, its game (from the MIDI file name ``series_console_game_title.mid``)
        and its song group (:func:`song_group`).
    traces : np.ndarray, shape (2, n_listeners, n_measures)
        Every listener's valence (``[0]``) and arousal (``[1]``) per measure, in [-1, 1].
    measure_starts, measure_ends : np.ndarray, shape (n_measures,)
        Seconds from the start of the piece.
    timing : str
        ``"tempo-map"`` or ``"uniform"`` (see the module docstring).
    duration : float
        The JSON's duration in s.
    """

    id: str
    midi: Path
    name: str
    game: str
    group: str
    traces: np.ndarray
    measure_starts: np.ndarray
    measure_ends: np.ndarray
    timing: str
    duration: float

    @property
    def n_listeners(self) -> int:
        return int(self.traces.shape[1])

    @property
    def n_measures(self) -> int:
        return int(self.traces.shape[2])

    @property
    def valence(self) -> np.ndarray:
        """Mean valence over listeners per measure, shape (n_measures,)."""
        return self.traces[0].mean(axis=0)

    @property
    def arousal(self) -> np.ndarray:
        """Mean arousal over listeners per measure, shape (n_measures,)."""
        return self.traces[1].mean(axis=0)

    @property
    def clip_target(self) -> tuple[float, float]:
        """(valence, arousal): the mean curves' means over measures."""
        return float(self.valence.mean()), float(self.arousal.mean())


@dataclass
class VGMidi:
    """The labelled pieces and what was left out while loading (one line each)."""

    root: Path
    pieces: list[Piece]
    problems: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.pieces)

    @property
    def groups(self) -> np.ndarray:
        return np.array([p.group for p in self.pieces])

    def subset(self, ids) -> "VGMidi":
        """The pieces whose ids are in `ids`, in this set's order."""
        ids = set(ids)
        return VGMidi(self.root, [p for p in self.pieces if p.id in ids], list(self.problems))


def read_annotations(path: str | PathLike) -> tuple[dict, dict]:
    """``pieces`` and ``annotations`` of one VGMIDI JSON file.

    Raises
    ------
    MerError
        The file is missing, not JSON, or lacks either table (naming the file).
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MerError("VGMIDI annotation file not found", path) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MerError(f"cannot read VGMIDI annotations ({exc})", path) from None
    if not isinstance(data, dict) or not isinstance(data.get("pieces"), dict) \
            or not isinstance(data.get("annotations"), dict):
        raise MerError("not a VGMIDI annotation file (needs 'pieces' and 'annotations' tables)", path)
    return data["pieces"], data["annotations"]


def song_group(game: str, name: str) -> str:
    """The song a piece is a version of: ``"<game>/<name without variant words>"``, lower-case."""
    game = _words(game)
    words = _words(name).split()
    while len(words) > 1 and words[-1] in VARIANT_WORDS:
        words.pop()
    title = " ".join(words)
    return f"{game}/{SAME_SONG.get((game, title), title)}"


def _words(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s-]", "", text.lower()).replace("_", " ").split())


def measure_times(midi_path: str | PathLike, n_measures: int, duration: float
                  ) -> tuple[np.ndarray, np.ndarray, str]:
    """Start and end (s) of each annotated measure, and which timing gave them.

    Measures of 4 quarter notes through the MIDI's tempo map when the MIDI spans
    `n_measures` of them (its length in quarter notes / 4, rounded up or to nearest):
    ``"tempo-map"``; else `duration` / `n_measures` s each: ``"uniform"``.

    Raises
    ------
    MerError
        The MIDI file is missing or unreadable (naming it).
    """
    import pretty_midi

    midi_path = Path(midi_path)
    if not midi_path.is_file():
        raise MerError("MIDI file not found", midi_path)
    try:
        with warnings.catch_warnings():  # pretty_midi warns about type-0 / odd meta events
            warnings.simplefilter("ignore")
            pm = pretty_midi.PrettyMIDI(str(midi_path))
        bars = pm.time_to_tick(pm.get_end_time()) / (4 * pm.resolution)
    except Exception as exc:  # mido raises OSError, EOFError, ValueError, KeyError... on bad files
        raise MerError(f"cannot read MIDI ({type(exc).__name__}: {exc})", midi_path) from None
    if n_measures in (math.ceil(bars - 1e-6), round(bars)):
        edges = np.array([pm.tick_to_time(4 * pm.resolution * k) for k in range(n_measures + 1)])
        return edges[:-1], edges[1:], "tempo-map"
    edges = np.linspace(0.0, float(duration), n_measures + 1)
    return edges[:-1], edges[1:], "uniform"


def uniform_offsets(piece: Piece) -> np.ndarray:
    """|tempo-map start - uniform start| of each measure in s (zeros for a uniform piece)."""
    uniform = np.arange(piece.n_measures) * piece.duration / piece.n_measures
    return np.abs(piece.measure_starts - uniform)


def timing_summary(pieces: list[Piece]) -> dict:
    """How many pieces have each timing, and how far the tempo map moves measures from ``duration / measures``."""
    worst = np.array([uniform_offsets(p).max() for p in pieces if p.timing == "tempo-map"])
    return {"tempo_map": int(sum(p.timing == "tempo-map" for p in pieces)),
            "uniform": int(sum(p.timing == "uniform" for p in pieces)),
            "max_offset_s": {"median": float(np.median(worst)), "p90": float(np.percentile(worst, 90)),
                             "max": float(worst.max()), "over_1s": int((worst > 1.0).sum())} if len(worst) else None}


def _traces(key: str, listeners: dict, n: int, source: Path, problems: list[str]) -> np.ndarray:
    """(2, n_listeners, n) traces of one piece from its ``key_<k>`` entries; bad traces are listed and left out."""
    rows = []
    for k in sorted(listeners, key=_listener_number):
        a = listeners[k]
        try:
            v, ar = (np.asarray(a[axis], dtype=float) for axis in ("valence", "arousal"))
        except (KeyError, TypeError, ValueError):
            problems.append(f"{source}: trace {k} has no numeric valence / arousal; left out")
            continue
        if len(v) == len(ar) == n + 1:
            problems.append(f"{source}: trace {k} has {n + 1} values for {n} measures; last value dropped")
            v, ar = v[:n], ar[:n]
        if len(v) != n or len(ar) != n or not (np.all(np.abs(v) <= 1) and np.all(np.abs(ar) <= 1)):
            problems.append(f"{source}: trace {k} has {len(v)} / {len(ar)} values for {n} measures "
                            "(or values outside [-1, 1]); left out")
            continue
        rows.append((v, ar))
    if not rows:
        raise MerError(f"piece {key} has no usable listener trace", source)
    return np.stack([np.stack([r[0] for r in rows]), np.stack([r[1] for r in rows])])


def _listener_number(key: str) -> int:
    tail = key.rsplit("_", 1)[-1]
    return int(tail) if tail.isdigit() else 0


def _piece(root: Path, rnd: int, key: str, entry: dict, listeners: dict, source: Path,
           problems: list[str]) -> Piece:
    try:
        midi_name, n, duration = str(entry["midi"]), int(entry["measures"]), float(entry["duration"])
    except (KeyError, TypeError, ValueError):
        raise MerError(f"piece {key} lacks 'midi', 'measures' or 'duration'", source) from None
    midi = root / "midi" / midi_name
    starts, ends, timing = measure_times(midi, n, duration)
    parts = Path(midi_name).stem.split("_")
    game = parts[2] if len(parts) >= 4 else ""
    name = parts[-1] if len(parts) >= 4 else str(entry.get("name", key))
    return Piece(f"r{rnd}:{key}", midi, name, game, song_group(game, name),
                 _traces(key, listeners, n, source, problems), starts, ends, timing, duration)


def load_vgmidi(root: str | PathLike) -> VGMidi:
    """The labelled VGMIDI pieces under `root` (see the module docstring).

    A piece whose MIDI is missing or unreadable, or without a usable trace, is left out and
    listed in ``problems`` (one line naming the file), as are traces of pieces without an
    entry and MIDI files no entry names.

    Raises
    ------
    MerError
        An annotation file is missing or malformed (naming it), or no piece could be loaded.
    """
    root = Path(root)
    pieces: list[Piece] = []
    problems: list[str] = []
    named: set[str] = set()
    for rnd, rel in enumerate(ANNOTATION_FILES, start=1):
        source = root / rel
        entries, annotations = read_annotations(source)
        by_piece: dict[str, dict] = {}
        for k, a in annotations.items():
            by_piece.setdefault(k.rsplit("_", 1)[0], {})[k] = a
        for key in sorted(entries, key=lambda k: (len(k), k)):
            entry = entries[key]
            named.add(str(entry.get("midi", "")) if isinstance(entry, dict) else "")
            try:
                if not isinstance(entry, dict):
                    raise MerError(f"piece {key} is not a table", source)
                pieces.append(_piece(root, rnd, key, entry, by_piece.get(key, {}), source, problems))
            except MerError as exc:
                problems.append(f"{exc}; left out")
        orphans = sorted(set(by_piece) - set(entries), key=lambda k: (len(k), k))
        if orphans:
            problems.append(f"{source}: traces of {', '.join(orphans)} have no piece entry (no MIDI named); left out")
    unnamed = sorted(p.name for p in (root / "midi").glob("*.mid")) if (root / "midi").is_dir() else []
    unnamed = [n for n in unnamed if n not in named]
    if unnamed:
        problems.append(f"{root / 'midi'}: {len(unnamed)} MIDI file(s) named by no piece entry, left out: "
                        + "; ".join(unnamed))
    if not pieces:
        raise MerError("no VGMIDI piece could be loaded", root)
    return VGMidi(root, pieces, problems)


def render_pieces(data: VGMidi, *, cache_dir: str | PathLike | None = None, sr: int = 22050,
                  soundfont: str | PathLike | None = None, jobs: int = 1, progress: bool = True
                  ) -> tuple[VGMidi, list[Path]]:
    """Each piece's whole-piece render (cached FLAC, :func:`mer.audio.midi.render_many` as for EMOPIA).

    Returns
    -------
    data : VGMidi
        The pieces that rendered (failures appended to ``problems``).
    renders : list of Path, aligned with ``data.pieces``
    """
    from mer.audio.midi import render_many

    renders, failures = render_many([p.midi for p in data.pieces], cache_dir, sr, soundfont=soundfont,
                                    max_seconds=None, jobs=jobs, progress=progress)
    kept = [(p, r) for p, r in zip(data.pieces, renders) if r is not None]
    problems = list(data.problems) + [f"{reason}; left out" for _, reason in failures]
    return VGMidi(data.root, [p for p, _ in kept], problems), [r for _, r in kept]
