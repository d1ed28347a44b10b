"""The recipe: per-clip inputs through the caches, and the tuned linear classifier."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from mer.features.descriptors import DescriptorConfig
from mer.features.embeddings import EmbeddingConfig
from mer.extraction.inputs import clip_inputs
from mer.models import recipe
from mer.models.recipe import EmotionClassifier


def _blobs(n_per_class=40, n_informative=5, n_noise=60, seed=0):
    rng = np.random.default_rng(seed)
    y = np.repeat(np.array(["Q1", "Q2", "Q3", "Q4"]), n_per_class)
    centres = rng.normal(0, 1.5, size=(4, n_informative))
    X = np.hstack([centres[np.searchsorted(["Q1", "Q2", "Q3", "Q4"], y)] + rng.normal(0, 1, (len(y), n_informative)),
                   rng.normal(0, 1, (len(y), n_noise))])
    groups = np.array([f"artist{i // 2}" for i in range(len(y))])  # two clips per artist
    return X, y, groups


def test_classifier_follows_sklearn_conventions_and_learns():
    X, y, groups = _blobs()
    est = EmotionClassifier(k=(5, 20), C=(0.01, 1.0), inner_folds=3)
    assert clone(est).get_params() == est.get_params()
    est.fit(X, y, groups=groups)
    assert set(est.inner_scores_) == {(5, 0.01), (5, 1.0), (20, 0.01), (20, 1.0)}
    assert est.best_params_ == dict(zip(("k", "C"), max(est.inner_scores_, key=est.inner_scores_.get)))
    assert list(est.classes_) == ["Q1", "Q2", "Q3", "Q4"]
    P = est.predict_proba(X)
    assert P.shape == (len(y), 4) and np.allclose(P.sum(1), 1)
    X2, y2, _ = _blobs(seed=0)
    assert (est.predict(X2) == y2).mean() > 0.8  # informative columns found


def test_classifier_single_values_skip_tuning_and_cap_k():
    X, y, groups = _blobs(n_noise=3)
    est = EmotionClassifier(k=500, C=0.1).fit(X, y)  # k > 8 columns: keeps all
    assert est.inner_scores_ == {}
    assert est.best_params_ == {"k": "all", "C": 0.1}
    assert est.pipeline_.named_steps["select"].get_support().all()


def test_inner_tuning_keeps_groups_apart(monkeypatch):
    seen = []
    real = recipe.grouped_folds

    def spy(y, groups=None, **kw):
        folds = real(y, groups, **kw)
        seen.append((np.asarray(groups), folds))
        return folds

    monkeypatch.setattr(recipe, "grouped_folds", spy)
    X, y, groups = _blobs()
    EmotionClassifier(k=(5, 10), C=0.1, inner_folds=3).fit(X, y, groups=groups)
    (g, folds), = seen
    for f in folds:
        assert not set(g[f.train]) & set(g[f.test])


def test_clip_inputs_names_blocks_and_failures(tmp_path):
    import soundfile as sf

    rng = np.random.default_rng(1)
    t = np.arange(22050 * 4) / 22050
    good = []
    for i, f in enumerate((220.0, 330.0)):
        p = tmp_path / f"c{i}.wav"
        sf.write(str(p), (0.3 * np.sin(2 * np.pi * f * t) + 0.01 * rng.standard_normal(len(t))).astype(np.float32),
                 22050)
        good.append(p)
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"nope")
    blocks = (("descriptors", DescriptorConfig()), ("msd", EmbeddingConfig(parts=("tags",), stats=("mean",))))
    res = clip_inputs([good[0], bad, good[1]], blocks=blocks, progress=False)
    assert res.ok.tolist() == [True, False, True]
    assert res.X.shape == (2, len(res.names))
    assert res.names[res.blocks["msd"]][-1] == "msd:mean:tag:happy"
    assert res.names[0].startswith("descriptors:")
    assert len(res.failures) == 1 and "bad.wav" in res.failures[0][1]
    assert np.isfinite(res.X).all()


def test_classifier_checks_fitting_and_parameters_as_sklearn_does():
    X, y, groups = _blobs(n_noise=3)
    est = EmotionClassifier(k=5, C=0.1)
    for method in (est.predict_proba, est.predict):
        with pytest.raises(NotFittedError, match="This EmotionClassifier instance is not fitted yet"):
            method(X)
    with pytest.raises(ValueError, match="inner_folds == 1, must be >= 2"):
        EmotionClassifier(inner_folds=1).fit(X, y, groups=groups)
    # random_state is the seed's one name and reaches the inner folds and the logistic regression
    assert "seed" not in est.get_params() and est.get_params()["random_state"] == 0
    fitted = EmotionClassifier(k=(3, 5), C=0.1, inner_folds=2, random_state=3).fit(X, y, groups=groups)
    assert fitted.pipeline_.named_steps["classify"].random_state == 3


def test_weighted_f_classif_equals_f_classif_with_equal_weights_and_follows_the_weights():
    from sklearn.feature_selection import f_classif

    X, y, _ = _blobs(n_noise=10)
    X[:, -1] = 1.0  # a constant column: NaN, as scikit-learn's
    F, p = recipe.weighted_f_classif(X, y, sample_weight=np.full(len(y), 0.3))
    with pytest.warns(UserWarning, match="constant"), np.errstate(divide="ignore", invalid="ignore"):
        F_ref, p_ref = f_classif(X, y)
    np.testing.assert_allclose(F[:-1], F_ref[:-1], rtol=1e-9)
    np.testing.assert_allclose(p[:-1], p_ref[:-1], rtol=1e-6, atol=1e-300)
    assert np.isnan(F[-1])
    # column 0 separates the classes only on rows weighted ~0: its F collapses with the weights
    rng = np.random.default_rng(1)
    X2 = rng.normal(size=(len(y), 3))
    light = np.arange(len(y)) % 2 == 0
    X2[light, 0] += 5 * np.searchsorted(["Q1", "Q2", "Q3", "Q4"], y[light])
    w = np.where(light, 1e-6, 1.0)
    assert recipe.weighted_f_classif(X2, y)[0][0] > 10  # measured 18.7
    assert recipe.weighted_f_classif(X2, y, sample_weight=w)[0][0] < 5
    with pytest.raises(ValueError, match="non-negative weight"):
        recipe.weighted_f_classif(X2, y, sample_weight=-w)


def test_weigh_inputs_weighs_scaling_and_column_choice_and_survives_a_model_file(tmp_path):
    from mer.models.modelfile import TrainedModel, load, save

    X, y, groups = _blobs(n_informative=3, n_noise=20)
    rng = np.random.default_rng(2)
    # a second set of rows, weighted 0.01, whose quadrant shows only in column 22
    X_other = rng.normal(size=(4 * len(y), X.shape[1]))
    y_other = np.resize(y, len(X_other))
    X_other[:, 22] += 4 * np.searchsorted(["Q1", "Q2", "Q3", "Q4"], y_other)
    Xa, ya = np.vstack([X, X_other]), np.r_[y, y_other]
    ga, wa = np.r_[groups, [f"other{i}" for i in range(len(X_other))]], np.r_[np.ones(len(y)), np.full(len(y_other), 0.01)]
    plain = EmotionClassifier(k=3, C=1.0).fit(Xa, ya, groups=ga, sample_weight=wa)
    weighed = EmotionClassifier(k=3, C=1.0, weigh_inputs=True).fit(Xa, ya, groups=ga, sample_weight=wa)
    chosen = {name: set(np.flatnonzero(m.pipeline_.named_steps["select"].get_support()))
              for name, m in (("plain", plain), ("weighed", weighed))}
    assert 22 in chosen["plain"] and chosen["weighed"] == {0, 1, 2}  # the heavy rows' informative columns
    scale = weighed.pipeline_.named_steps["scale"]
    np.testing.assert_allclose(scale.mean_, np.average(Xa, axis=0, weights=wa), rtol=1e-10, atol=1e-12)
    # without weights the option changes nothing
    np.testing.assert_array_equal(EmotionClassifier(k=3, C=1.0, weigh_inputs=True).fit(X, y).predict_proba(X),
                                  EmotionClassifier(k=3, C=1.0).fit(X, y).predict_proba(X))
    path = save(TrainedModel(weighed, "w", inputs=[]), tmp_path / "w.mer")
    loaded = load(path)
    assert loaded.estimator.get_params()["weigh_inputs"] is True
    np.testing.assert_allclose(loaded.predict_proba(X), weighed.predict_proba(X), rtol=1e-12, atol=1e-15)
    with pytest.raises(TypeError, match="weigh_inputs"):
        EmotionClassifier(weigh_inputs="yes").fit(X, y)
