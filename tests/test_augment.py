"""Augmentation: seeded transforms, cached copies, and that no copy of a held-out clip is trained on."""

from __future__ import annotations

import numpy as np
import pytest

from mer.audio import augment as A
from mer.extraction import augmented as XA
from mer.workflows import augmented as W
from mer.eval.splits import grouped_folds

SR = 22050


def _signal(seconds=2.0, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(int(SR * seconds)) / SR
    return (0.3 * np.sin(2 * np.pi * 220 * t) + 0.05 * rng.standard_normal(t.size)).astype(np.float32)


@pytest.mark.parametrize("transform", [A.Noise(), A.TimeShift(), A.PitchShift(), A.TimeStretch(), A.Gain()])
def test_transforms_are_seeded_and_keep_length(transform):
    y = _signal()
    a = transform.augment(y, SR, seed=7)
    b = transform.augment(y, SR, seed=7)
    c = transform.augment(y, SR, seed=8)
    assert a.dtype == np.float32 and a.shape == y.shape
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)
    assert not np.array_equal(a, y)


def test_seeding_leaves_global_random_state_alone():
    np.random.seed(123)
    expected = np.random.rand()
    np.random.seed(123)
    A.Noise().augment(_signal(), SR, seed=1)
    assert np.random.rand() == expected


def test_time_shift_zeroes_the_vacated_part_within_half_a_second():
    y = _signal() + 1.0  # no zero samples in the source
    for seed in range(5):
        z = A.TimeShift(max_seconds=0.5).augment(y, SR, seed=seed)
        n_zero = int((z == 0).sum())
        assert 0 < n_zero <= 0.5 * SR + 1
        head, tail = z[:n_zero], z[-n_zero:]
        assert not np.any(head) or not np.any(tail)  # the zeros are one block at one end


def test_noise_is_added_at_the_requested_snr():
    y = _signal(seed=1)
    for seed in range(4):
        z = A.Noise(min_snr_db=15, max_snr_db=20).augment(y, SR, seed=seed)
        snr = 10 * np.log10(np.mean(y.astype(float) ** 2) / np.mean((z - y).astype(float) ** 2))
        assert 14.5 < snr < 20.5


def test_paper_augmenter_gives_each_copy_one_transform():
    aug = A.paper_augmenter()
    y = _signal()
    noisy, shifted, pitched = (aug.augment(y, SR, seed=3, copy=k) for k in range(3))
    assert (shifted == 0).sum() > 0  # the shift zero-fills
    assert (noisy == 0).sum() == 0  # noise everywhere, no shift
    assert np.array_equal(aug.augment(y, SR, seed=3, copy=3), noisy)  # copy 3 cycles back to the noise transform


def test_descriptions_and_keys_are_stable_and_specific():
    d1, d2 = A.description(A.paper_augmenter()), A.description(A.paper_augmenter())
    assert d1 == d2
    assert A.description(A.PerCopy((A.Noise(min_snr_db=5),))) != A.description(A.PerCopy((A.Noise(),)))
    k = A.copy_key("abc", A.paper_augmenter(), 0, 0)
    assert k == A.copy_key("abc", A.paper_augmenter(), 0, 0)
    others = {A.copy_key("abd", A.paper_augmenter(), 0, 0), A.copy_key("abc", A.paper_augmenter(), 1, 0),
              A.copy_key("abc", A.paper_augmenter(), 0, 1), A.copy_key("abc", A.all_augmenter(), 0, 0)}
    assert k not in others and len(others) == 4


def test_bad_ranges_and_names_are_rejected():
    with pytest.raises(ValueError):
        A.Noise(min_snr_db=30, max_snr_db=10)
    with pytest.raises(ValueError):
        A.Gain(p=1.5)
    with pytest.raises(A.MerError, match="unknown augmenter"):
        A.get_augmenter("nope")


def test_augmented_features_are_cached(tmp_path):
    from tests.conftest import write_tone

    paths = [write_tone(tmp_path / f"t{i}.wav", sr=SR, seconds=1.0, channels=1, freq=220 * (i + 1)) for i in range(2)]
    copies, failures, stats = XA.augmented_features(paths, 2, "paper", cache_dir=tmp_path / "c", progress=False)
    assert failures == [] and stats == {"n_cached": 0, "n_computed": 4}
    assert all(X.shape[0] == 204 for row in copies for X in row)
    assert not np.array_equal(copies[0][0], copies[0][1])
    again, _, stats2 = XA.augmented_features(paths, 2, "paper", cache_dir=tmp_path / "c", progress=False)
    assert stats2 == {"n_cached": 4, "n_computed": 0}  # a second run does no audio work
    assert all(np.array_equal(a, b) for r1, r2 in zip(copies, again) for a, b in zip(r1, r2))
    broken, failures, _ = XA.augmented_features([tmp_path / "missing.wav"], 1, cache_dir=tmp_path / "c", progress=False)
    assert broken == [[None]] and "missing.wav" in failures[0][1]


# -- leakage --------------------------------------------------------------------------------


class TaggedBank(XA.CopyBank):
    """A bank whose matrices encode (source index, copy number) and that logs copy requests."""

    def __init__(self, n):
        super().__init__([np.full((3, 4), i * 10.0, dtype=np.float32) for i in range(n)])
        self.requests: list[int] = []

    def copies(self, indices, n_copies):
        self.requests += [int(i) for i in indices]
        return [[np.full((3, 4), int(i) * 10.0 + k + 1, dtype=np.float32) for k in range(n_copies)] for i in indices]


class RecordingClassifier:
    """Remembers the source of every matrix it was fitted on, and its validation set."""

    def fit(self, X, y, groups=None, X_val=None, y_val=None):
        self.seen_ = [(int(x[0, 0]) // 10, int(x[0, 0]) % 10) for x in X]  # (source, 0 = original / k = copy k)
        self.seen_groups_ = list(groups)
        self.val_ = [int(x[0, 0]) // 10 for x in (X_val or [])]
        self.val_copies_ = [int(x[0, 0]) % 10 for x in (X_val or [])]
        self.classes_ = np.unique(y)
        return self

    def predict(self, X):
        return np.array([self.classes_[0]] * len(X))

    def get_params(self, deep=False):
        return {"val_fraction": 0.2}


def test_no_copy_of_a_test_or_validation_clip_is_ever_trained_on():
    n = 60
    rng = np.random.default_rng(0)
    y = np.array([f"Q{1 + i % 4}" for i in range(n)])
    groups = np.array([f"artist{rng.integers(0, 20)}" for _ in range(n)])
    for fold in grouped_folds(y, groups, n_splits=5, seed=0):
        bank = TaggedBank(n)
        est = W.AugmentedClassifier(RecordingClassifier(), bank, n_copies=3).fit(fold.train, y[fold.train],
                                                                                  groups[fold.train])
        rec = est.estimator_
        trained = {s for s, _ in rec.seen_}
        assert trained.isdisjoint(fold.test)  # nothing of a test clip, original or copy
        assert trained.isdisjoint(rec.val_)  # nor of a validation clip
        assert set(rec.val_) and set(rec.val_) <= set(fold.train) and set(rec.val_copies_) == {0}  # originals only
        assert set(groups[rec.val_]).isdisjoint(groups[list(trained)])  # validation carved by group
        assert set(bank.requests) == trained  # copies were only ever made of trained clips
        assert sorted(k for s, k in rec.seen_ if s == min(trained)) == [0, 1, 2, 3]  # original + 3 copies
        assert [groups[s] for s, _ in rec.seen_] == rec.seen_groups_  # a copy carries its source's group
        assert sorted(set(est.trained_sources_)) == sorted(trained)
        assert est.n_train_samples_ == 4 * len(trained)


def test_augmented_classifier_clones_share_the_bank():
    from sklearn.base import clone

    bank = TaggedBank(4)
    est = W.AugmentedClassifier(RecordingClassifier(), bank, n_copies=1)
    assert clone(est).bank is bank


@pytest.mark.slow
def test_sequence_classifier_early_stops_on_the_validation_set_it_is_given():
    from mer.models.sequence import SequenceClassifier

    rng = np.random.default_rng(0)
    X = [rng.standard_normal((204, 40)).astype(np.float32) + (i % 2) for i in range(16)]
    y = np.array(["Q1", "Q2"] * 8)
    bank = XA.CopyBank(X)
    est = W.AugmentedClassifier(SequenceClassifier(arch="rnn", hidden_size=8, epochs=2, pool=4, progress=False,
                                                   val_fraction=0.25),
                                bank, n_copies=0).fit(np.arange(16), y, np.array([f"g{i // 2}" for i in range(16)]))
    assert len(est.validation_indices_) >= 2 and set(est.validation_indices_).isdisjoint(est.trained_sources_)
    assert all("val_loss" in h for h in est.estimator_.history_)
    assert est.predict(np.arange(4)).shape == (4,)
