"""Routed recipes: two experts and a gate, fitted on their domains, mixed by the gate, kept in model files."""

import json
import zipfile

import numpy as np
import pytest

from mer.core.errors import MerError
from mer.models import modelfile
from mer.models.modelfile import TrainedModel
from mer.models.recipe import EmotionClassifier
from mer.models.routing import GATE_CLASSES, mix
from mer.models.routing_fit import RoutedClassifier

LABELS = np.array(["Q1", "Q2", "Q3", "Q4"])


def _two_domains(seed=0, n=48, cols=12):
    """Rows of two domains, shifted apart on column 0; the quadrant sits on columns 1-4 in the
    general domain and on columns 5-8 (in another order) in the specialist's."""
    rng = np.random.default_rng(seed)
    y = np.tile(LABELS, n // 4)
    X = rng.normal(size=(2 * n, cols))
    domain = np.repeat([False, True], n)
    q = np.concatenate([np.searchsorted(LABELS, y), np.searchsorted(LABELS, y)])
    X[np.arange(2 * n)[~domain], 1 + q[~domain]] += 3.0
    X[np.arange(2 * n)[domain], 5 + (3 - q[domain])] += 3.0
    X[domain, 0] += 10.0
    groups = np.concatenate([np.arange(n) // 2, 1000 + np.arange(n) // 2])
    return X, np.concatenate([y, y]), groups, domain


def _recipe():
    return EmotionClassifier(k=8, C=1.0, inner_folds=2)


def _routed(weights=(1.0, 1.0)):
    return RoutedClassifier(_recipe(), _recipe(), _recipe(), specialist_weights=weights)


def test_each_expert_learns_its_own_rows_and_the_gate_mixes_them():
    X, y, g, domain = _two_domains()
    model = _routed((0.0, 1.0)).fit(X, y, groups=g, domain=domain)
    alone = _recipe().fit(X[~domain], y[~domain], groups=g[~domain])  # the general expert sees only its domain
    np.testing.assert_allclose(model.general_.predict_proba(X), alone.predict_proba(X), rtol=1e-12)
    only_special = _recipe().fit(X[domain], y[domain], groups=g[domain])  # weight 0: general rows left out
    np.testing.assert_allclose(model.specialist_.predict_proba(X), only_special.predict_proba(X), rtol=1e-12)
    gate = model.gate_proba(X)
    assert gate[domain].min() > 0.8 and gate[~domain].max() < 0.2
    expected = (1 - gate[:, None]) * alone.predict_proba(X) + gate[:, None] * only_special.predict_proba(X)
    np.testing.assert_allclose(model.predict_proba(X), expected, rtol=1e-12)
    # the domains disagree on which columns carry the quadrant: one recipe on both reads worse than routing
    single = _recipe().fit(X, y, groups=g)
    X2, y2, _, d2 = _two_domains(seed=1)
    assert (model.predict(X2) == y2).mean() > (single.predict(X2) == y2).mean()
    assert (model.predict(X2[~d2]) == y2[~d2]).mean() >= 0.9


def test_fit_checks_its_inputs():
    X, y, g, domain = _two_domains()
    with pytest.raises(ValueError, match="needs `domain`"):
        _routed().fit(X, y, groups=g)
    with pytest.raises(ValueError, match="some but not all"):
        _routed().fit(X, y, groups=g, domain=np.zeros(len(y), bool))
    with pytest.raises(ValueError, match="specialist_weights"):
        _routed((0.0, 0.0)).fit(X, y, groups=g, domain=domain)


def test_mix_is_the_gate_weighted_mean():
    a, b = np.array([[1.0, 0.0], [0.5, 0.5]]), np.array([[0.0, 1.0], [0.1, 0.9]])
    np.testing.assert_allclose(mix(a, b, np.array([0.25, 1.0])), [[0.75, 0.25], [0.1, 0.9]])


def test_a_routed_model_file_holds_three_recipes_and_predicts_as_the_estimator(tmp_path):
    X, y, g, domain = _two_domains()
    est = _routed((1.0, 0.25)).fit(X, y, groups=g, domain=domain)
    path = modelfile.save(TrainedModel(est, "routed", inputs=[]), tmp_path / "routed.mer")
    with zipfile.ZipFile(path) as z:
        assert sorted(z.namelist()) == sorted(["manifest.json", modelfile.RECIPE_ARRAYS,
                                               *modelfile.ROUTED_ARRAYS.values()])
    manifest = modelfile.read_manifest(path)
    assert manifest["estimator"]["class"] == "RoutedClassifier" and manifest["schema_version"] == 3
    back = modelfile.load(path)
    X_new = np.vstack([X, np.random.default_rng(9).normal(size=(40, X.shape[1])) * 3])
    P = back.predict_proba(X_new)  # from the plain arrays, no scikit-learn estimator built
    assert back._estimator is None and back.kind == "recipe" and back.labels == tuple(LABELS)
    np.testing.assert_allclose(P, est.predict_proba(X_new), rtol=1e-12, atol=1e-15)
    rebuilt = back.estimator
    assert isinstance(rebuilt, RoutedClassifier) and rebuilt.specialist_weights == (1.0, 0.25)
    np.testing.assert_allclose(rebuilt.predict_proba(X_new), P, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(back._arrays.gate_proba(X_new), est.gate_proba(X_new), rtol=1e-12, atol=1e-15)
    again = modelfile.load(modelfile.save(back, tmp_path / "again.mer"))  # saving goes through the estimator
    np.testing.assert_allclose(again.predict_proba(X_new), P, rtol=1e-12, atol=1e-15)


def test_a_routed_file_missing_an_expert_or_with_a_foreign_gate_is_refused(tmp_path):
    X, y, g, domain = _two_domains()
    est = _routed().fit(X, y, groups=g, domain=domain)
    path = modelfile.save(TrainedModel(est, "routed", inputs=[]), tmp_path / "routed.mer")
    with zipfile.ZipFile(path) as z:
        members = {n: z.read(n) for n in z.namelist()}
    bad = tmp_path / "no-gate.mer"
    with zipfile.ZipFile(bad, "w") as z:
        for name, data in members.items():
            if name != "gate.npz":
                z.writestr(name, data)
    with pytest.raises(MerError, match=r"no-gate\.mer.*gate\.npz"):
        modelfile.load(bad)
    manifest = json.loads(members["manifest.json"])
    manifest["estimator"]["experts"]["gate"]["classes"] = ["a", "b"]
    foreign = tmp_path / "foreign-gate.mer"
    with zipfile.ZipFile(foreign, "w") as z:
        for name, data in members.items():
            z.writestr(name, json.dumps(manifest) if name == "manifest.json" else data)
    with pytest.raises(MerError, match=r"foreign-gate\.mer.*gate must have the classes"):
        modelfile.load(foreign)
    assert set(GATE_CLASSES) == {"general", "specialist"}
