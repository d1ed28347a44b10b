"""Seeded audio augmentation, and its leakage-free use in training.

The paper (Chang et al., arXiv 2405.06747) grows 900 training clips to 3,600 with three
transforms: noise injection at a signal-to-noise ratio, a time shift (roll by up to
+-0.5 s, the vacated part zeroed) and a pitch shift (+-2 semitones). They are here as
small frozen dataclasses over `audiomentations`, plus time stretch and gain:

* :class:`Noise`, :class:`TimeShift`, :class:`PitchShift`, :class:`TimeStretch`,
  :class:`Gain` — one transform each, every range and the probability ``p`` configurable.
* :class:`Compose` — apply every transform in order (each with its own ``p``).
* :class:`PerCopy` — copy ``k`` of a clip gets transform ``k mod n``: with the paper's
  three transforms and 3 copies, each clip gets one noisy, one shifted and one
  pitch-shifted copy (900 -> 3,600). This is :func:`paper_augmenter`.

Every augmenter has a stable :meth:`describe` (its parameters as plain data), so an
augmented copy is named by ``sha256(source file content, description, seed, copy index)``:
that is its feature-cache key (:func:`copy_key`) and the seed of its random draws, so a
copy is the same in every fold and every run, and a second run does no audio work.

Leakage: :class:`AugmentedClassifier` wraps an estimator; its ``fit`` receives the
training fold only, carves its early-stopping validation split by source group *before*
any copy exists, and adds copies of exactly the training clips it kept, each with its
source's group. A copy of a validation or test clip cannot be built by it, because it is
never given those clips' indices.
"""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import json
import random
from dataclasses import asdict, dataclass
from os import PathLike
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from mer.errors import MerError

#: Bumped when the way copies are made changes (invalidates cached augmented features).
AUGMENT_VERSION = 1


@contextlib.contextmanager
def _seeded(seed: int) -> Iterator[None]:
    """Seed Python's and NumPy's global generators (audiomentations draws from both), then restore them."""
    py_state, np_state = random.getstate(), np.random.get_state()
    random.seed(seed)
    np.random.seed(seed % 2**32)
    try:
        yield
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)


class _Transform:
    """Base of the single transforms: parameters in the dataclass, the work in audiomentations."""

    def _build(self):  # pragma: no cover - abstract
        raise NotImplementedError

    def describe(self) -> dict:
        """Name and parameters as plain data (stable; part of the cache key)."""
        return {"transform": type(self).__name__, **asdict(self)}

    def __call__(self, y: np.ndarray, sr: int) -> np.ndarray:
        """Transform mono float32 audio ``y`` (n_samples,) at ``sr`` Hz, drawing from the global RNGs."""
        out = self._build()(samples=np.ascontiguousarray(y, dtype=np.float32), sample_rate=sr)
        return np.asarray(out, dtype=np.float32)

    def augment(self, y: np.ndarray, sr: int, *, seed: int, copy: int = 0) -> np.ndarray:
        with _seeded(seed):
            return self(y, sr)


def _check_range(lo: float, hi: float, what: str) -> None:
    if lo > hi:
        raise ValueError(f"{what}: minimum {lo} is greater than maximum {hi}")


def _check_p(p: float) -> None:
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p must be a probability in [0, 1], got {p}")


@dataclass(frozen=True)
class Noise(_Transform):
    """Add white Gaussian noise at a signal-to-noise ratio drawn uniformly in [min_snr_db, max_snr_db] dB."""

    min_snr_db: float = 10.0
    max_snr_db: float = 30.0
    p: float = 1.0

    def __post_init__(self):
        _check_range(self.min_snr_db, self.max_snr_db, "Noise SNR")
        _check_p(self.p)

    def _build(self):
        from audiomentations import AddGaussianSNR

        return AddGaussianSNR(min_snr_db=self.min_snr_db, max_snr_db=self.max_snr_db, p=self.p)


@dataclass(frozen=True)
class TimeShift(_Transform):
    """Shift by a uniform draw in [-max_seconds, +max_seconds] s; the vacated part is zeros (no roll-over).

    ``fade_seconds`` > 0 fades in / out at the cut to avoid a click (0: a plain cut, as in the paper).
    """

    max_seconds: float = 0.5
    fade_seconds: float = 0.0
    p: float = 1.0

    def __post_init__(self):
        if self.max_seconds < 0:
            raise ValueError(f"max_seconds must be >= 0, got {self.max_seconds}")
        _check_p(self.p)

    def _build(self):
        from audiomentations import Shift

        return Shift(min_shift=-self.max_seconds, max_shift=self.max_seconds, shift_unit="seconds",
                     rollover=False, fade_duration=self.fade_seconds, p=self.p)


@dataclass(frozen=True)
class PitchShift(_Transform):
    """Shift pitch by a uniform draw in [min_semitones, max_semitones], keeping the duration."""

    min_semitones: float = -2.0
    max_semitones: float = 2.0
    p: float = 1.0

    def __post_init__(self):
        _check_range(self.min_semitones, self.max_semitones, "PitchShift semitones")
        _check_p(self.p)

    def _build(self):
        from audiomentations import PitchShift as _PitchShift

        return _PitchShift(min_semitones=self.min_semitones, max_semitones=self.max_semitones, p=self.p)


@dataclass(frozen=True)
class TimeStretch(_Transform):
    """Change tempo by a rate drawn in [min_rate, max_rate] (> 1 faster), keeping pitch and length."""

    min_rate: float = 0.9
    max_rate: float = 1.1
    p: float = 1.0

    def __post_init__(self):
        _check_range(self.min_rate, self.max_rate, "TimeStretch rate")
        if self.min_rate <= 0:
            raise ValueError(f"min_rate must be > 0, got {self.min_rate}")
        _check_p(self.p)

    def _build(self):
        from audiomentations import TimeStretch as _TimeStretch

        # Same length as the source: the copy has as many frames as the clip it stands for.
        return _TimeStretch(min_rate=self.min_rate, max_rate=self.max_rate, leave_length_unchanged=True, p=self.p)


@dataclass(frozen=True)
class Gain(_Transform):
    """Multiply by a gain drawn in [min_db, max_db] dB."""

    min_db: float = -6.0
    max_db: float = 6.0
    p: float = 1.0

    def __post_init__(self):
        _check_range(self.min_db, self.max_db, "Gain dB")
        _check_p(self.p)

    def _build(self):
        from audiomentations import Gain as _Gain

        return _Gain(min_gain_db=self.min_db, max_gain_db=self.max_db, p=self.p)


@dataclass(frozen=True)
class Compose:
    """Apply every transform in order; each fires with its own probability ``p``."""

    transforms: tuple = ()

    def __post_init__(self):
        object.__setattr__(self, "transforms", tuple(self.transforms))

    def describe(self) -> dict:
        return {"compose": [t.describe() for t in self.transforms]}

    def augment(self, y: np.ndarray, sr: int, *, seed: int, copy: int = 0) -> np.ndarray:
        with _seeded(seed):
            for t in self.transforms:
                y = t(y, sr)
        return y


@dataclass(frozen=True)
class PerCopy:
    """Copy ``k`` of a clip gets ``transforms[k % len(transforms)]`` (one transform per copy).

    Each element may be a single transform or a :class:`Compose`.
    """

    transforms: tuple = ()

    def __post_init__(self):
        object.__setattr__(self, "transforms", tuple(self.transforms))
        if not self.transforms:
            raise ValueError("PerCopy needs at least one transform")

    def describe(self) -> dict:
        return {"per_copy": [t.describe() for t in self.transforms]}

    def augment(self, y: np.ndarray, sr: int, *, seed: int, copy: int = 0) -> np.ndarray:
        return self.transforms[copy % len(self.transforms)].augment(y, sr, seed=seed, copy=copy)


def paper_augmenter() -> PerCopy:
    """The paper's recipe: copy 1 noise (10-30 dB SNR), copy 2 time shift (+-0.5 s), copy 3 pitch shift (+-2 st)."""
    return PerCopy((Noise(), TimeShift(), PitchShift()))


def all_augmenter() -> Compose:
    """All five transforms chained, each applied with probability 0.5."""
    return Compose((Noise(p=0.5), TimeShift(p=0.5), PitchShift(p=0.5), TimeStretch(p=0.5), Gain(p=0.5)))


#: Named augmenters for the command line (``--augmenter NAME``).
AUGMENTERS = {"paper": paper_augmenter, "all": all_augmenter}


def get_augmenter(name_or_augmenter="paper"):
    """An augmenter by name (see :data:`AUGMENTERS`), or the augmenter itself."""
    if not isinstance(name_or_augmenter, str):
        return name_or_augmenter
    try:
        return AUGMENTERS[name_or_augmenter]()
    except KeyError:
        raise MerError(f"unknown augmenter '{name_or_augmenter}' (known: {', '.join(AUGMENTERS)})") from None


def description(augmenter) -> str:
    """Canonical JSON of an augmenter's parameters (sorted keys, no spaces): stable across runs."""
    from importlib.metadata import version

    blob = {"v": AUGMENT_VERSION, "audiomentations": version("audiomentations"), **augmenter.describe()}
    return json.dumps(blob, sort_keys=True, separators=(",", ":"))


def copy_key(source_key: str, augmenter, seed: int, copy: int) -> str:
    """Cache key (SHA-256 hex) of copy ``copy`` of the audio whose content hash is ``source_key``."""
    blob = json.dumps({"source": source_key, "augment": description(augmenter), "seed": int(seed), "copy": int(copy)},
                      sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()


@dataclass(frozen=True)
class AugmentedSource:
    """A picklable recipe for one augmented copy: ``source(sr)`` decodes the file and transforms it.

    The random draws are seeded by ``key`` (from :func:`copy_key`), so the copy is reproducible.
    """

    path: Path
    augmenter: object
    key: str
    copy: int

    def __call__(self, sr: int) -> np.ndarray:
        from mer import audio

        y = audio.load(self.path, sr=sr)
        return self.augmenter.augment(y, sr, seed=int(self.key[:8], 16), copy=self.copy)

    def __str__(self) -> str:
        return f"{self.path} (augmented copy {self.copy + 1})"


def augmented_features(
    paths: Sequence[str | PathLike],
    n_copies: int,
    augmenter="paper",
    *,
    seed: int = 0,
    config=None,
    cache_dir: str | PathLike | None = None,
    jobs: int = 1,
    method: str | None = None,
    progress: bool = True,
):
    """Feature matrices of ``n_copies`` augmented copies of each file, through the feature cache.

    Parameters
    ----------
    paths : sequence of paths, length n
        Source audio files (the training clips: never pass validation or test clips).
    n_copies : int >= 0
    augmenter : str or augmenter
        See :func:`get_augmenter`.
    seed : int
        Base seed; with the source's content and the copy index it fixes each copy.
    config : FeatureConfig, optional
    cache_dir, jobs, method, progress
        As for :func:`mer.extraction.extract_files`.

    Returns
    -------
    copies : list (n) of list (n_copies) of np.ndarray (204, T) or None
        None where a copy failed.
    failures : list of (Path, str)
    stats : dict
        ``n_cached`` and ``n_computed`` copies.
    """
    from mer.cache import FeatureCache
    from mer.extraction import extract_sources

    if n_copies < 0:
        raise ValueError(f"n_copies must be >= 0, got {n_copies}")
    augmenter = get_augmenter(augmenter)
    cache = FeatureCache(cache_dir, config)
    items, failures, where = [], [], []
    for i, p in enumerate(paths):
        try:
            source_key = cache.key_for_file(p)
        except OSError as exc:
            failures.append((Path(p), f"{p}: {exc}"))
            continue
        for k in range(n_copies):
            key = copy_key(source_key, augmenter, seed, k)
            items.append((key, AugmentedSource(Path(p), augmenter, key, k)))
            where.append((i, k))
    res = extract_sources(items, config=config, cache_dir=cache_dir, jobs=jobs, method=method,
                          progress=progress, description="augmented copies")
    copies: list[list[np.ndarray | None]] = [[None] * n_copies for _ in paths]
    for (i, k), X in zip(where, res.features):
        copies[i][k] = X
    return copies, failures + res.failures, {"n_cached": res.n_cached, "n_computed": res.n_computed}


class CopyBank:
    """Original feature matrices of a dataset, and their augmented copies made on demand.

    Estimators that augment are fitted on *indices* into a bank (like scikit-learn's
    precomputed kernels): ``X[i]`` of the fold is clip ``i`` of the bank. Copies are
    computed (or read from the cache) only for the indices asked for, i.e. the training
    clips of a fold. They are kept on disk in the feature cache, not in memory (3 copies
    of the 4Q and EMOPIA clips are about 5 GB), and read back when asked for.

    Parameters
    ----------
    features : sequence of np.ndarray (204, T_i)
        The originals, aligned with ``paths``.
    paths : sequence of paths or None
        Source audio of each clip (None: no copies can be made, ``n_copies`` must be 0).
    augmenter, seed, config, cache_dir, jobs, method, progress
        As for :func:`augmented_features`.

    Attributes
    ----------
    failures : list of (Path, str)
        Copies that could not be made (they are left out of training).
    """

    def __init__(self, features, paths=None, augmenter="paper", *, seed: int = 0, config=None,
                 cache_dir=None, jobs: int = 1, method=None, progress: bool = False):
        self.features = list(features)
        self.paths = None if paths is None else [Path(p) for p in paths]
        if self.paths is not None and len(self.paths) != len(self.features):
            raise ValueError(f"{len(self.paths)} paths for {len(self.features)} feature matrices")
        self.augmenter = get_augmenter(augmenter)
        self.seed, self.config, self.cache_dir = seed, config, cache_dir
        self.jobs, self.method, self.progress = jobs, method, progress
        self._source_keys: dict[int, str] = {}
        self._failed: set[tuple[int, int]] = set()
        self.failures: list[tuple[Path, str]] = []

    def __len__(self) -> int:
        return len(self.features)

    def originals(self, indices) -> list[np.ndarray]:
        return [self.features[int(i)] for i in indices]

    def _copy_key(self, i: int, k: int) -> str:
        from mer.cache import FeatureCache

        if i not in self._source_keys:
            self._source_keys[i] = FeatureCache(self.cache_dir, self.config).key_for_file(self.paths[i])
        return copy_key(self._source_keys[i], self.augmenter, self.seed, k)

    def copies(self, indices, n_copies: int) -> list[list[np.ndarray | None]]:
        """Copies ``0..n_copies-1`` of each clip in ``indices`` (list per clip; None where one failed)."""
        from mer.cache import FeatureCache

        indices = [int(i) for i in indices]
        if n_copies == 0:
            return [[] for _ in indices]
        if self.paths is None:
            raise ValueError("this bank has no source paths, so it cannot make augmented copies")
        cache = FeatureCache(self.cache_dir, self.config)
        keys = {(i, k): self._copy_key(i, k) for i in indices for k in range(n_copies)}
        missing = sorted({i for (i, k), key in keys.items() if (i, k) not in self._failed and key not in cache})
        if missing:
            got, failures, _ = augmented_features(
                [self.paths[i] for i in missing], n_copies, self.augmenter, seed=self.seed, config=self.config,
                cache_dir=self.cache_dir, jobs=self.jobs, method=self.method, progress=self.progress)
            self.failures += failures
            self._failed |= {(i, k) for i, row in zip(missing, got) for k, X in enumerate(row) if X is None}
        return [[None if (i, k) in self._failed else cache.get(keys[(i, k)]) for k in range(n_copies)]
                for i in indices]


class AugmentedClassifier:
    """Fit ``estimator`` on the training clips plus ``n_copies`` augmented copies of each.

    Scikit-learn conventions: parameters in ``__init__``; ``fit(X, y, groups)``,
    ``predict(X)``, ``predict_proba(X)``. ``X`` is a sequence of integer indices into
    ``bank`` (a :class:`CopyBank`), so the wrapper can only make copies of the clips it
    is given — the training fold.

    Before any copy is made, a share of the training *groups* is set aside for early
    stopping (:func:`mer.evaluation.grouped_holdout`) and passed to the estimator as
    ``X_val`` / ``y_val`` (originals only); copies are then made of the remaining clips
    and carry their source's group. An estimator whose ``fit`` takes no ``X_val`` gets
    no validation set from here.

    Parameters
    ----------
    estimator : object
        A classifier with ``fit(X, y[, groups][, X_val, y_val])`` over sequences of
        (204, T) matrices, and ``predict`` / ``predict_proba``.
    bank : CopyBank
    n_copies : int >= 0
    validation_fraction : float in [0, 1) or None
        Share of training clips (whole groups) held out for early stopping; None takes
        the estimator's ``val_fraction`` (0 when it has none).
    random_state : int

    Attributes
    ----------
    estimator_ : the fitted estimator
    classes_ : np.ndarray
    train_indices_, validation_indices_ : np.ndarray
        Bank indices of the originals trained on, and of those used for validation.
    trained_sources_ : np.ndarray
        Bank index of the source of every sample the estimator was fitted on (originals
        and copies alike): the evidence that no other clip reached training.
    n_train_samples_ : int
        Originals plus copies the estimator was fitted on.
    """

    def __init__(self, estimator, bank: CopyBank, n_copies: int = 3, validation_fraction: float | None = None,
                 random_state: int = 0):
        self.estimator = estimator
        self.bank = bank
        self.n_copies = n_copies
        self.validation_fraction = validation_fraction
        self.random_state = random_state

    def _validation_fraction(self, takes_val: bool) -> float:
        if self.validation_fraction is not None:
            return self.validation_fraction
        params = self.estimator.get_params(deep=False) if hasattr(self.estimator, "get_params") else {}
        return float(params.get("val_fraction", 0.0) or 0.0) if takes_val else 0.0

    def fit(self, X, y, groups=None) -> "AugmentedClassifier":
        idx = np.asarray(X, dtype=int).ravel()
        y = np.asarray(y)
        groups = np.asarray(groups) if groups is not None else np.array([f"clip:{i}" for i in idx])
        if not (len(idx) == len(y) == len(groups)):
            raise ValueError(f"X, y and groups differ in length: {len(idx)}, {len(y)}, {len(groups)}")
        params = inspect.signature(self.estimator.fit).parameters
        takes_val = "X_val" in params and "y_val" in params
        tr, va = _holdout(y, groups, self._validation_fraction(takes_val), self.random_state)
        # From here on copies are made, and only of `tr`: validation groups are already set aside.
        copies = self.bank.copies(idx[tr], self.n_copies)
        feats, labels, grps, sources = self.bank.originals(idx[tr]), list(y[tr]), list(groups[tr]), list(idx[tr])
        for j, row in zip(tr, copies):
            for Xc in row:
                if Xc is not None:
                    feats.append(Xc)
                    labels.append(y[j])
                    grps.append(groups[j])
                    sources.append(idx[j])
        kwargs = {}
        if "groups" in params:
            kwargs["groups"] = np.asarray(grps)
        if takes_val and len(va):
            kwargs["X_val"], kwargs["y_val"] = self.bank.originals(idx[va]), y[va]
        self.estimator_ = _clone(self.estimator)
        self.estimator_.fit(feats, np.asarray(labels), **kwargs)
        self.train_indices_, self.validation_indices_ = idx[tr], idx[va]
        self.trained_sources_ = np.asarray(sources, dtype=int)
        self.n_train_samples_ = len(feats)
        self.classes_ = getattr(self.estimator_, "classes_", np.unique(y))
        return self

    def predict(self, X) -> np.ndarray:
        return self.estimator_.predict(self.bank.originals(np.asarray(X, dtype=int).ravel()))

    def predict_proba(self, X) -> np.ndarray:
        return self.estimator_.predict_proba(self.bank.originals(np.asarray(X, dtype=int).ravel()))

    def get_params(self, deep: bool = False) -> dict:
        return {"estimator": self.estimator, "bank": self.bank, "n_copies": self.n_copies,
                "validation_fraction": self.validation_fraction, "random_state": self.random_state}

    def set_params(self, **params) -> "AugmentedClassifier":
        for k, v in params.items():
            setattr(self, k, v)
        return self

    def __sklearn_clone__(self) -> "AugmentedClassifier":
        # The bank is shared data, not a parameter to copy: a clone per fold must reuse its copies.
        return AugmentedClassifier(_clone(self.estimator), self.bank, self.n_copies, self.validation_fraction,
                                   self.random_state)


def _holdout(y, groups, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Grouped, stratified validation split; a plain grouped shuffle split where classes are too small to stratify."""
    from mer.evaluation import grouped_holdout

    try:
        return grouped_holdout(y, groups, fraction, seed)
    except ValueError:  # StratifiedGroupKFold: fewer members per class than folds
        from sklearn.model_selection import GroupShuffleSplit

        tr, va = next(GroupShuffleSplit(n_splits=1, test_size=fraction, random_state=seed)
                      .split(np.zeros(len(y)), y, groups))
        return np.sort(tr), np.sort(va)


def _clone(estimator):
    from sklearn.base import clone

    try:
        return clone(estimator)
    except TypeError:  # not a scikit-learn estimator: use it as given
        return estimator
