"""Grouped, stratified splits: an artist, a song or every copy of a clip stays on one side, checked on every fold."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from mer.core.errors import MerError


@dataclass(frozen=True)
class Fold:
    """One train / test split: indices into the dataset."""

    repeat: int
    fold: int
    train: np.ndarray
    test: np.ndarray


def check_disjoint_groups(groups, train, test) -> None:
    """Raise if any group has clips on both sides of a split (a leak)."""
    groups = np.asarray(groups)
    shared = set(groups[train]) & set(groups[test])
    if shared:
        raise AssertionError(f"{len(shared)} group(s) on both sides of a split, e.g. {sorted(shared)[:3]}")


def grouped_folds(y, groups=None, n_splits: int = 5, repeats: int = 1, seed: int = 0) -> list[Fold]:
    """Stratified group k-fold splits, repeated `repeats` times with different shuffles.

    When a class has fewer clips than folds, stratification is impossible and the
    folds are grouped only (shuffled ``GroupKFold``).

    Parameters
    ----------
    y : array-like, shape (n,)
        Labels (stratification target).
    groups : array-like, shape (n,), optional
        Group of each clip (artist, song, source clip); None makes every clip its own group.
    n_splits : int >= 2
    repeats : int >= 1
        Repeat ``r`` shuffles with ``random_state = seed + r``.
    seed : int

    Returns
    -------
    list of Fold
        ``n_splits * repeats`` folds; within a repeat the test sets partition the data.

    Raises
    ------
    MerError
        Fewer groups than folds.
    """
    from sklearn.model_selection import StratifiedGroupKFold

    y = np.asarray(y)
    groups = np.arange(len(y)) if groups is None else np.asarray(groups)
    if len(groups) != len(y):
        raise ValueError(f"{len(y)} labels but {len(groups)} groups")
    if n_splits < 2:
        raise ValueError(f"n_splits must be >= 2, got {n_splits}")
    n_groups = len(np.unique(groups))
    if n_groups < n_splits:
        raise MerError(f"{n_groups} group(s) cannot fill {n_splits} folds; use fewer folds or more data")
    from sklearn.model_selection import GroupKFold

    folds = []
    for r in range(repeats):
        cv = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed + r)
        with warnings.catch_warnings():  # "least populated class has fewer members than n_splits"
            warnings.simplefilter("ignore", UserWarning)
            try:
                splits = list(cv.split(np.zeros(len(y)), y, groups))
            except ValueError:  # a class with fewer clips than folds: group-only folds
                cv = GroupKFold(n_splits=n_splits, shuffle=True, random_state=seed + r)
                splits = list(cv.split(np.zeros(len(y)), y, groups))
        for k, (tr, te) in enumerate(splits):
            check_disjoint_groups(groups, tr, te)
            folds.append(Fold(r, k, tr, te))
    return folds


def grouped_holdout(y, groups=None, fraction: float = 0.15, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A grouped, stratified-where-possible validation split (for early stopping).

    Takes the first fold of a ``round(1 / fraction)``-fold :func:`grouped_folds`; with
    too few groups for that it falls back to ``GroupShuffleSplit``. With fewer than
    two groups (or ``fraction <= 0``) the validation set is empty.

    Returns
    -------
    train, val : np.ndarray of int
    """
    y = np.asarray(y)
    idx = np.arange(len(y))
    groups = idx if groups is None else np.asarray(groups)
    n_groups = len(np.unique(groups))
    if fraction <= 0 or n_groups < 2:
        return idx, idx[:0]
    n_splits = max(2, int(round(1.0 / fraction)))
    if n_groups >= n_splits:
        f = grouped_folds(y, groups, n_splits=n_splits, seed=seed)[0]
        return f.train, f.test
    from sklearn.model_selection import GroupShuffleSplit

    tr, va = next(GroupShuffleSplit(n_splits=1, test_size=fraction, random_state=seed).split(idx, y, groups))
    check_disjoint_groups(groups, tr, va)
    return tr, va
