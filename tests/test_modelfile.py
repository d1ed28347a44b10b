import hashlib
import io
import json
import zipfile

import numpy as np
import pytest

from mer.models import modelfile
from mer.models.baselines import SummaryClassifier
from mer.core.errors import MerError
from mer.features.paper import FeatureConfig
from mer.models.modelfile import TrainedModel
from mer.models.sequence import SequenceClassifier


def _data(n=16, seed=0):
    rng = np.random.default_rng(seed)
    y = np.array(["Q1", "Q2", "Q3", "Q4"] * (n // 4))
    X = [rng.random((204, 30 + i % 5)).astype(np.float32) + np.eye(204, 1, -170 - "Q1Q2Q3Q4".index(q) // 2)
         for i, q in enumerate(y)]
    return X, y


def _rewrite(src, dst, change):
    """Copy a .mer zip, letting `change(name, data) -> data` edit members."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for name in zin.namelist():
            zout.writestr(name, change(name, zin.read(name)))
    return dst


@pytest.fixture(scope="module")
def saved_models(tmp_path_factory):
    X, y = _data()
    d = tmp_path_factory.mktemp("models")
    seq = SequenceClassifier(arch="brnn", epochs=2, pool=4, progress=False).fit(X, y)
    rf = SummaryClassifier("random_forest", random_state=0, model_params={"n_estimators": 20}).fit(X, y)
    mlp = SummaryClassifier("mlp", input="flat", pool=64, model_params={"max_iter": 30}).fit(X, y)
    paths = {}
    for name, est in (("seq", seq), ("rf", rf), ("mlp", mlp)):
        paths[name] = modelfile.save(TrainedModel(est, name, FeatureConfig(), {"data": {"n_clips": 16}}),
                                     d / f"{name}.mer")
    return X, {"seq": seq, "rf": rf, "mlp": mlp}, paths


@pytest.mark.parametrize("name", ["seq", "rf", "mlp"])
def test_round_trip_gives_identical_probabilities(saved_models, name):
    X, ests, paths = saved_models
    loaded = modelfile.load(paths[name])
    np.testing.assert_array_equal(loaded.predict_proba(X), ests[name].predict_proba(X))
    assert loaded.labels == ("Q1", "Q2", "Q3", "Q4") and loaded.name == name
    assert loaded.feature_config == FeatureConfig()
    assert loaded.estimator.get_params() == ests[name].get_params()


def test_manifest_describes_the_model(saved_models):
    _, _, paths = saved_models
    m = modelfile.read_manifest(paths["seq"])
    assert m["format"] == "mer-model" and m["schema_version"] == modelfile.SCHEMA_VERSION
    assert m["kind"] == "sequence" and m["estimator"]["params"]["arch"] == "brnn"
    assert set(m["metadata"]["versions"]) >= {"mer", "torch", "sklearn", "librosa", "numpy"}
    assert m["metadata"]["data"] == {"n_clips": 16} and "saved" in m["metadata"]
    with zipfile.ZipFile(paths["seq"]) as z:
        assert sorted(z.namelist()) == ["manifest.json", "weights.npz"]
    with zipfile.ZipFile(paths["rf"]) as z:
        assert sorted(z.namelist()) == ["estimator.skops", "manifest.json"]


def test_not_a_zip_is_rejected(tmp_path):
    p = tmp_path / "x.mer"
    p.write_bytes(b"\x80\x04 definitely not a zip, maybe a pickle")
    with pytest.raises(MerError, match=r"x\.mer: not a mer model file \(not a zip"):
        modelfile.load(p)
    with pytest.raises(MerError, match="model file not found"):
        modelfile.load(tmp_path / "missing.mer")


def test_foreign_zip_is_rejected(tmp_path):
    p = tmp_path / "foreign.mer"
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("data.txt", "hello")
    with pytest.raises(MerError, match="no manifest.json"):
        modelfile.load(p)
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("manifest.json", json.dumps({"format": "something-else"}))
    with pytest.raises(MerError, match="not a mer model file"):
        modelfile.load(p)


def test_newer_schema_is_rejected_with_a_clear_message(saved_models, tmp_path):
    _, _, paths = saved_models

    def bump(name, data):
        if name != "manifest.json":
            return data
        m = json.loads(data)
        m["schema_version"] = modelfile.SCHEMA_VERSION + 1
        return json.dumps(m).encode()

    p = _rewrite(paths["seq"], tmp_path / "new.mer", bump)
    with pytest.raises(MerError, match="newer mer .*upgrade mer"):
        modelfile.load(p)


def test_corrupt_files_are_rejected(saved_models, tmp_path):
    _, _, paths = saved_models
    truncated = tmp_path / "trunc.mer"
    truncated.write_bytes(paths["seq"].read_bytes()[:-200])
    with pytest.raises(MerError, match="trunc.mer"):
        modelfile.load(truncated)
    tampered = _rewrite(paths["seq"], tmp_path / "tampered.mer",
                        lambda n, d: d[:-8] + b"\0" * 8 if n == "weights.npz" else d)
    with pytest.raises(MerError, match="checksum of weights.npz"):
        modelfile.load(tampered)


def test_untrusted_types_are_refused(saved_models, tmp_path):
    import hashlib

    import skops.io
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    _, _, paths = saved_models
    evil = skops.io.dumps(make_pipeline(FunctionTransformer(func=print)))

    def swap(name, data):
        if name == "estimator.skops":
            return evil
        if name == "manifest.json":  # a consistent file: the checksum matches the new member
            m = json.loads(data)
            m["checksums"]["estimator.skops"] = hashlib.sha256(evil).hexdigest()
            return json.dumps(m).encode()
        return data

    p = _rewrite(paths["rf"], tmp_path / "evil.mer", swap)
    with pytest.raises(MerError, match="refusing to load untrusted type.*print"):
        modelfile.load(p)


def test_save_is_atomic_and_leaves_no_partial_file(saved_models, tmp_path):
    _, ests, _ = saved_models
    target = tmp_path / "m.mer"
    target.write_bytes(b"old")
    bad = TrainedModel(ests["seq"], "seq", FeatureConfig(), {"x": object()})  # not JSON-serialisable
    with pytest.raises(TypeError):
        modelfile.save(bad, target)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["m.mer"]


def _old_param_names(name, data):
    """A manifest as mer wrote it before estimators called their seed `random_state`."""
    if name != "manifest.json":
        return data
    m = json.loads(data)
    params = m["estimator"]["params"]
    m["estimator"]["params"] = {("seed" if k == "random_state" else k): v for k, v in params.items()}
    return json.dumps(m).encode()


def test_files_that_store_the_old_seed_name_still_load(tmp_path):
    from mer.models.recipe import EmotionClassifier

    X, y = _data()
    rng = np.random.default_rng(1)
    V = rng.normal(size=(16, 12)) + np.repeat(np.eye(4, 12), 4, axis=0) * 3
    models = {"seq": (SequenceClassifier(arch="gru", epochs=1, pool=4, random_state=5, progress=False).fit(X, y), X),
              "recipe": (EmotionClassifier(k=4, C=1.0, random_state=5).fit(V, y), V)}
    for name, (est, inputs) in models.items():
        new = modelfile.save(TrainedModel(est, name, inputs=[] if name == "recipe" else None), tmp_path / f"{name}.mer")
        old = _rewrite(new, tmp_path / f"{name}-old.mer", _old_param_names)
        assert "seed" in modelfile.read_manifest(old)["estimator"]["params"]
        back = modelfile.load(old)
        assert back.estimator.random_state == 5 and "seed" not in back.estimator.get_params()
        np.testing.assert_array_equal(back.predict_proba(inputs), est.predict_proba(inputs))


def _recipe(tmp_path):
    from mer.models.recipe import EmotionClassifier

    rng = np.random.default_rng(3)
    y = np.repeat(np.array(["Q1", "Q2", "Q3", "Q4"]), 6)
    V = rng.normal(size=(24, 10)) + np.repeat(np.eye(4, 10), 6, axis=0) * 2
    est = EmotionClassifier(k=(3, 6), C=(0.1, 1.0), inner_folds=2, random_state=2).fit(V, y)
    return est, V, modelfile.save(TrainedModel(est, "recipe", inputs=[]), tmp_path / "recipe.mer")


def test_recipe_models_are_plain_arrays_with_the_same_outputs(tmp_path):
    est, V, path = _recipe(tmp_path)
    with zipfile.ZipFile(path) as z:
        assert sorted(z.namelist()) == ["manifest.json", modelfile.RECIPE_ARRAYS]
    back = modelfile.load(path)
    X = np.random.default_rng(4).normal(size=(50, V.shape[1])) * 3
    np.testing.assert_array_equal(back.predict_proba(X), est.predict_proba(X))
    assert back.estimator.best_params_ == est.best_params_
    # a schema-1 file (the pipeline in skops' format) still loads, with the same outputs
    import skops.io

    def as_schema_1(name, data):
        if name != "manifest.json":
            return data
        m = json.loads(data)
        m["schema_version"] = 1
        blob = skops.io.dumps(est.pipeline_)
        m["checksums"] = {"estimator.skops": hashlib.sha256(blob).hexdigest()}
        as_schema_1.blob = blob
        return json.dumps(m).encode()

    old = tmp_path / "schema1.mer"
    with zipfile.ZipFile(path) as z, zipfile.ZipFile(old, "w") as out:
        out.writestr("manifest.json", as_schema_1("manifest.json", z.read("manifest.json")))
        out.writestr("estimator.skops", as_schema_1.blob)
    np.testing.assert_array_equal(modelfile.load(old).predict_proba(X), est.predict_proba(X))


def test_recipe_arrays_of_the_wrong_shape_are_refused(tmp_path):
    est, V, path = _recipe(tmp_path)
    with zipfile.ZipFile(path) as z:
        manifest, blob = json.loads(z.read("manifest.json")), z.read(modelfile.RECIPE_ARRAYS)
    with np.load(io.BytesIO(blob)) as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays["coef"] = arrays["coef"][:, :-1]  # one weight short of the selected columns
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    manifest["checksums"][modelfile.RECIPE_ARRAYS] = hashlib.sha256(buf.getvalue()).hexdigest()
    bad = tmp_path / "bad.mer"
    with zipfile.ZipFile(bad, "w") as z:
        z.writestr("manifest.json", json.dumps(manifest))
        z.writestr(modelfile.RECIPE_ARRAYS, buf.getvalue())
    with pytest.raises(MerError, match=r"bad\.mer.*pipeline\.npz.*weights for"):
        modelfile.load(bad)


@pytest.mark.parametrize("which", ["small", "shipped", "window"])
def test_recipe_probabilities_without_scikit_learn_equal_the_pipelines(tmp_path, which):
    """A loaded recipe predicts from its arrays (RecipeArrays), bitwise as the rebuilt scikit-learn pipeline,
    and builds that estimator only when asked for it."""
    if which == "small":
        _, V, path = _recipe(tmp_path)
        X = np.vstack([V, np.random.default_rng(4).normal(size=(50, V.shape[1])) * 3])
    else:  # the shipped models; the window model's scaling and columns are weighted (weigh_inputs)
        path = modelfile.default_model_path().with_name("window.mer" if which == "window" else "default.mer")
        arrays = modelfile.load(path)._arrays
        arrays = getattr(arrays, "general", arrays)  # a routed model: its general expert's scaling
        X = arrays.mean + arrays.scale * np.random.default_rng(5).normal(size=(200, arrays.n_columns)) * 1.5
        X = X.astype(np.float32)  # as clip_inputs gives them
    model = modelfile.load(path)
    assert isinstance(model, modelfile.DeferredRecipeModel) and model.kind == "recipe"
    P = model.predict_proba(X)
    assert model._estimator is None  # predicting built no scikit-learn estimator
    assert model.labels == tuple(model.estimator.classes_)
    expected = model.estimator.predict_proba(X)  # bitwise equal here; a tolerance for other BLAS kernels
    np.testing.assert_allclose(P, expected, rtol=1e-12, atol=1e-15)
    assert (P.argmax(1) == expected.argmax(1)).all() and len(set(P.argmax(1))) > 1
    with pytest.raises(ValueError, match="expected finite inputs"):
        model.predict_proba(X[:, :-1])
    back = modelfile.load(modelfile.save(model, tmp_path / "again.mer"))  # saving goes through the estimator
    np.testing.assert_array_equal(back.predict_proba(X), P)
