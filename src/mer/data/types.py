"""Dataset types: a labelled clip and a list of them with the group each belongs to.

Groups exist so that evaluation keeps an artist, a song, or every augmented copy of
one clip in one fold.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mer.core.labels import QUADRANTS


@dataclass(frozen=True)
class Clip:
    """One labelled audio clip.

    Attributes
    ----------
    path : Path
        The audio file.
    label : str
        Its quadrant, ``'Q1'`` .. ``'Q4'``.
    group : str
        Clips that must stay in one fold share a group (artist, song, source clip).
    id : str
        A name unique within the dataset.
    """

    path: Path
    label: str
    group: str
    id: str


@dataclass
class Dataset:
    """A list of clips, the label set, and problems found while loading.

    ``problems`` are non-fatal findings (files skipped, label disagreements); fatal
    ones raise :class:`MerError` from :func:`load`.
    """

    name: str
    clips: list[Clip]
    labels: tuple[str, ...] = QUADRANTS
    root: Path | None = None
    problems: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.clips)

    def __iter__(self):
        return iter(self.clips)

    def __getitem__(self, i: int) -> Clip:
        return self.clips[i]

    @property
    def paths(self) -> list[Path]:
        return [c.path for c in self.clips]

    @property
    def y(self) -> np.ndarray:
        """Label indices into ``labels``, shape (n_clips,)."""
        index = {lab: i for i, lab in enumerate(self.labels)}
        return np.array([index[c.label] for c in self.clips], dtype=int)

    @property
    def groups(self) -> np.ndarray:
        return np.array([c.group for c in self.clips])

    @property
    def ids(self) -> np.ndarray:
        return np.array([c.id for c in self.clips])

    def counts(self) -> dict[str, int]:
        """Clips per label, in label order."""
        c = Counter(clip.label for clip in self.clips)
        return {lab: c.get(lab, 0) for lab in self.labels}

    def n_groups(self) -> int:
        return len({c.group for c in self.clips})

    def subset(self, indices) -> "Dataset":
        return Dataset(self.name, [self.clips[i] for i in indices], self.labels, self.root, list(self.problems))
