"""Any English mood word as a point of the valence / arousal plane, from Warriner et al.'s norms.

Warriner, Kuperman & Brysbaert (2013) had listeners rate 13,915 English lemmas for
valence and arousal on a 1-9 scale. A word maps to mer's [-1, 1] plane by the same
``(rating - 5) / 4`` as the tag-derived targets the models learn
(:mod:`mer.data.targets`, whose reader this module reuses): "furious" -> (-0.61, +0.27),
"serene" -> (+0.48, -0.08). A phrase of several words ("dark calm") is the mean of its
words' points; every word must be in the norms.

The norms are licensed CC BY-NC-ND 3.0 (non-commercial, no derivatives); mer itself is
MIT. The file is therefore **not shipped** with mer: it is read from a path
(:func:`norms_path`), in order ``$MER_NORMS`` (the CSV or its folder), then
``warriner-norms/Ratings_Warriner_et_al.csv`` in the user data folder of mer
(``platformdirs.user_data_dir("mer")``, beside the default library). Get it, unchanged,
from the paper's supplementary material or https://github.com/JULIELab/XANEW.

The words of :data:`mer.core.labels.MOOD_WORDS` ("happy", "tense", "sad", "calm"...)
keep naming their quadrant's centre in :func:`mer.library.playlist.parse_mood` and need
no file; :func:`word_point` gives their norm point when asked directly.
"""

from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass
from functools import lru_cache
from os import PathLike
from pathlib import Path

import numpy as np

from mer.core.errors import MerError
from mer.data.targets import CENTRE, HALF_RANGE, NORMS_FILE, find_norms, load_norms

#: Environment variable naming the norms CSV (or its folder).
NORMS_ENV = "MER_NORMS"

#: Where the norms are fetched from (unchanged, with their licence).
NORMS_SOURCE = "https://github.com/JULIELab/XANEW"

#: Known words suggested for an unknown one.
N_SUGGESTIONS = 3

_SPLIT = re.compile(r"[\s,;+/]+")


def default_norms_path() -> Path:
    """``warriner-norms/Ratings_Warriner_et_al.csv`` in the user data folder of mer."""
    from platformdirs import user_data_dir

    return Path(user_data_dir("mer", appauthor=False)) / "warriner-norms" / NORMS_FILE


def norms_path(path: str | PathLike | None = None) -> Path:
    """The norms CSV: `path` (file or folder), else ``$MER_NORMS``, else :func:`default_norms_path`.

    Raises MerError (one line: where to get the file and where to put it) when there is none.
    """
    given = path if path is not None else os.environ.get(NORMS_ENV)
    if given:
        return find_norms(Path(given).expanduser())
    default = default_norms_path()
    if default.is_file():
        return default
    raise MerError(f"mood words beyond the quadrant words need Warriner et al.'s norms (CC BY-NC-ND, not shipped "
                   f"with mer): put {NORMS_FILE} from {NORMS_SOURCE} at {default} or name it in ${NORMS_ENV}")


@dataclass(frozen=True)
class WordNorms:
    """The norms on mer's scale.

    Attributes
    ----------
    path : Path
    points : dict of str -> (valence, arousal)
        Lower-case word -> its point, each in [-1, 1].
    """

    path: Path
    points: dict[str, tuple[float, float]]

    def point(self, text: str) -> tuple[float, float]:
        """(valence, arousal) of a word or phrase (the mean of its words); MerError naming an unknown word."""
        words = [w for w in _SPLIT.split(text.strip().lower()) if w]
        if not words:
            raise MerError("an empty mood word")
        unknown = [w for w in words if w not in self.points]
        if unknown:
            w = unknown[0]
            near = difflib.get_close_matches(w, self.points, n=N_SUGGESTIONS, cutoff=0.6)
            hint = f" (nearest known: {', '.join(near)})" if near else ""
            raise MerError(f"'{w}' is not in Warriner et al.'s norms{hint}")
        v, a = np.mean([self.points[w] for w in words], axis=0)
        return float(v), float(a)


@lru_cache(maxsize=4)
def _load(path: Path, mtime_ns: int) -> WordNorms:
    raw = load_norms(path)
    return WordNorms(path, {w: ((v - CENTRE) / HALF_RANGE, (a - CENTRE) / HALF_RANGE) for w, (v, a) in raw.items()})


def word_norms(path: str | PathLike | None = None) -> WordNorms:
    """The norms at :func:`norms_path` (`path`), read once per process (again when the file changes)."""
    found = norms_path(path).resolve()
    return _load(found, found.stat().st_mtime_ns)


def word_point(text: str, *, norms: str | PathLike | None = None) -> tuple[float, float]:
    """(valence, arousal) in [-1, 1] of an English word or phrase from Warriner et al.'s norms.

    Raises
    ------
    MerError
        One line: the unknown word and the nearest known ones, or no norms file.
    """
    return word_norms(norms).point(text)


def is_phrase(text: str) -> bool:
    """Whether `text` looks like words (letters, spaces, hyphens, apostrophes) rather than a path or number."""
    return bool(text.strip()) and all(c.isalpha() or c in " -'" for c in text.strip())
