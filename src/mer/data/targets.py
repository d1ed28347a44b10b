"""Continuous valence / arousal targets of 4Q clips from their AllMusic mood tags and Warriner's norms.

Panda et al. (2018) labelled each 4Q clip by looking its AllMusic mood tags up in the
valence / arousal norms of Warriner, Kuperman & Brysbaert (2013) (13,915 English
words rated 1-9 by listeners). The same lookup gives every clip a *continuous*
valence and arousal: the mean rating of its tags found in the norms
(``MoodsFoundStr`` of ``panda_dataset_taffc_metadata.csv``), mapped to mer's [-1, 1]
scale by ``(rating - 5) / 4`` (5 is the scale's neutral middle).

Measured on the 540 clips of 4q-dev (mean +- std of the [1, 9] ratings, 3-17 found tags
per clip): Q1 valence 6.85 +- 0.68, arousal 5.75 +- 0.44; Q2 3.54 +- 0.47, 5.40 +- 0.28;
Q3 3.62 +- 0.58, 4.17 +- 0.45; Q4 6.44 +- 0.53, 3.86 +- 0.52. The quadrant means
separate well, with spread within each quadrant: what a regressor can learn beyond
the quadrant.

``PQuad`` (the share of a clip's tags that agree with its quadrant, 0.5-1) comes with
the targets as a label-reliability weight.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from os import PathLike
from pathlib import Path

import numpy as np

from mer.core.errors import MerError

#: The norms' file name inside its folder (as distributed by Warriner et al.).
NORMS_FILE = "Ratings_Warriner_et_al.csv"

#: Centre and half-range of the norms' 1-9 scale: ``(rating - CENTRE) / HALF_RANGE`` is in [-1, 1].
CENTRE, HALF_RANGE = 5.0, 4.0


@dataclass(frozen=True)
class MoodTarget:
    """A clip's tag-derived targets.

    Attributes
    ----------
    valence, arousal : float
        Mean norm of the clip's tags, in [-1, 1].
    agreement : float
        ``PQuad``: share of the clip's tags that agree with its quadrant, in [0, 1].
    n_tags : int
        Tags found in the norms.
    """

    valence: float
    arousal: float
    agreement: float
    n_tags: int


def _rows(path: Path, needed: set[str]) -> list[dict[str, str]]:
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise MerError(f"cannot read CSV: {exc}", path) from None
    if not rows or not needed <= set(rows[0]):
        found = ",".join(rows[0]) if rows else "nothing"
        raise MerError(f"expected columns {','.join(sorted(needed))}, found {found}", path)
    return rows


def find_norms(near: str | PathLike) -> Path:
    """The norms file in ``warriner-norms/`` beside the dataset folder `near` (or `near` itself if a file)."""
    near = Path(near)
    for candidate in (near, near / NORMS_FILE, near.parent / "warriner-norms" / NORMS_FILE):
        if candidate.is_file():
            return candidate
    raise MerError(f"no {NORMS_FILE} in {near} or {near.parent / 'warriner-norms'}", near)


def load_norms(path: str | PathLike) -> dict[str, tuple[float, float]]:
    """Word (lower case) -> (valence, arousal) on the norms' 1-9 scale."""
    path = Path(path)
    rows = _rows(path, {"Word", "V.Mean.Sum", "A.Mean.Sum"})
    try:
        return {r["Word"].strip().lower(): (float(r["V.Mean.Sum"]), float(r["A.Mean.Sum"])) for r in rows}
    except ValueError as exc:
        raise MerError(f"malformed rating: {exc}", path) from None


def mood_targets(metadata: str | PathLike, norms: str | PathLike) -> dict[str, MoodTarget]:
    """Clip id (``Song``) -> :class:`MoodTarget` for every clip with at least one tag in the norms.

    Parameters
    ----------
    metadata : path
        ``panda_dataset_taffc_metadata.csv`` (columns ``Song``, ``MoodsFoundStr``, ``PQuad``).
    norms : path
        Warriner et al.'s ratings CSV (:data:`NORMS_FILE`).
    """
    words = load_norms(norms)
    out = {}
    for r in _rows(Path(metadata), {"Song", "MoodsFoundStr", "PQuad"}):
        tags = [t.strip().lower() for t in r["MoodsFoundStr"].split(";") if t.strip()]
        rated = np.array([words[t] for t in tags if t in words], dtype=float).reshape(-1, 2)
        if not len(rated):
            continue
        v, a = (rated.mean(axis=0) - CENTRE) / HALF_RANGE
        try:
            agreement = float(r["PQuad"])
        except ValueError:
            agreement = float("nan")
        out[r["Song"].strip()] = MoodTarget(float(v), float(a), agreement, len(rated))
    return out
