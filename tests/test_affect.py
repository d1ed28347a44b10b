"""The valence / arousal head: its estimator, its arrays in model files, and its use in predict / timeline."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest

from mer.core.errors import MerError
from mer.core.labels import valence_arousal
from mer.features.blocks import DEFAULT_BLOCKS
from mer.models import modelfile
from mer.models.affect import AXES, AffectHead, choose_weight, probability_affect
from mer.models.affect_fit import AffectRegressor
from mer.models.recipe import EmotionClassifier

LABELS = ("Q1", "Q2", "Q3", "Q4")


def _data(n=80, d=12, seed=0):
    """Inputs whose first two columns carry valence and arousal, quadrant labels from their signs."""
    rng = np.random.default_rng(seed)
    v, a = rng.uniform(-0.8, 0.8, n), rng.uniform(-0.8, 0.8, n)
    X = np.column_stack([v, a, rng.normal(size=(n, d - 2))]) + 0.05 * rng.normal(size=(n, d))
    y = np.where(v > 0, np.where(a > 0, "Q1", "Q4"), np.where(a > 0, "Q2", "Q3"))
    return X, y, np.arange(n) // 2, {"valence": v, "arousal": a}


@pytest.fixture(scope="module")
def recipe_with_head():
    X, y, groups, t = _data()
    clf = EmotionClassifier(k="all", C=1.0).fit(X, y, groups)
    regs = {axis: AffectRegressor(k=(1, "all"), alpha=(0.1, 10.0), inner_folds=2).fit(X, t[axis], groups)
            for axis in AXES}
    head = AffectHead.from_regressors(regs, {"valence": 0.5, "arousal": 0.75})
    return X, t, clf, regs, head


def _model(clf, head=None):
    return modelfile.TrainedModel(clf, "recipe-test", inputs=list(DEFAULT_BLOCKS)[:1], affect=head,
                                  metadata={"n_clips": 80})


def test_head_arrays_predict_as_the_fitted_regressors(recipe_with_head):
    X, t, clf, regs, head = recipe_with_head
    R = head.regress(X)
    for j, axis in enumerate(AXES):
        np.testing.assert_allclose(R[:, j], regs[axis].predict(X), rtol=0, atol=1e-10)
        assert np.corrcoef(R[:, j], t[axis])[0, 1] > 0.95  # the structure was learnt
    P = clf.predict_proba(X)
    expected = np.clip(np.array([0.5, 0.75]) * R + np.array([0.5, 0.25]) * probability_affect(P, clf.classes_), -1, 1)
    np.testing.assert_allclose(head.predict(X, P, clf.classes_), expected, rtol=0, atol=1e-12)
    with pytest.raises(MerError, match="reads 12 input columns"):
        head.regress(X[:, :5])


def test_head_round_trip_through_the_model_file_is_bitwise(recipe_with_head, tmp_path):
    X, _, clf, _, head = recipe_with_head
    model = _model(clf, head)
    back = modelfile.load(modelfile.save(model, tmp_path / "h.mer"))
    assert set(back.affect.arrays) == set(head.arrays)
    for k, v in head.arrays.items():
        assert back.affect.arrays[k].dtype == v.dtype and np.array_equal(back.affect.arrays[k], v), k
    P = back.predict_proba(X)
    np.testing.assert_array_equal(P, model.predict_proba(X))
    np.testing.assert_array_equal(back.valence_arousal(P, back.affect_regression(X)),
                                  model.valence_arousal(P, model.affect_regression(X)))
    assert back.affect.weights == {"valence": 0.5, "arousal": 0.75}


def test_adding_a_head_keeps_the_classifier_bytes(recipe_with_head, tmp_path):
    X, _, clf, _, head = recipe_with_head
    path = modelfile.save(_model(clf), tmp_path / "plain.mer")
    with zipfile.ZipFile(path) as z:
        before = {n: z.read(n) for n in z.namelist() if n != "manifest.json"}
    manifest = modelfile.set_affect_head(path, head, {"method": "test"})
    with zipfile.ZipFile(path) as z:
        after = {n: z.read(n) for n in z.namelist() if n != "manifest.json"}
    assert set(after) == set(before) | {modelfile.AFFECT_ARRAYS}
    assert all(after[n] == before[n] for n in before)
    assert manifest["metadata"]["affect"] == {"method": "test"}
    back = modelfile.load(path)
    np.testing.assert_array_equal(back.predict_proba(X), clf.predict_proba(X))
    assert back.affect is not None and not list(tmp_path.glob(".*part"))


def _with_arrays(src, dst, change):
    """Copy a .mer file, `change(arrays)` editing its head's arrays; checksums kept valid."""
    import hashlib
    import json

    with zipfile.ZipFile(src) as z:
        members = {n: z.read(n) for n in z.namelist()}
    with np.load(io.BytesIO(members[modelfile.AFFECT_ARRAYS])) as npz:
        arrays = {k: npz[k] for k in npz.files}
    change(arrays)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    members[modelfile.AFFECT_ARRAYS] = buf.getvalue()
    manifest = json.loads(members["manifest.json"])
    manifest["checksums"][modelfile.AFFECT_ARRAYS] = hashlib.sha256(buf.getvalue()).hexdigest()
    members["manifest.json"] = json.dumps(manifest).encode()
    with zipfile.ZipFile(dst, "w") as z:
        for n, data in members.items():
            z.writestr(n, data)
    return dst


@pytest.mark.parametrize("change, words", [
    (lambda a: a.update(valence_coef=a["valence_coef"][:-1]), "weights for"),
    (lambda a: a.update(arousal_mean=a["arousal_mean"][:3], arousal_scale=a["arousal_scale"][:3]), "input columns"),
    (lambda a: a.update(valence_selected=a["valence_selected"] + 100), "selected columns"),
    (lambda a: a.update(arousal_weight=np.asarray(1.5)), "outside"),
    (lambda a: a.pop("valence_intercept"), "missing"),
])
def test_wrong_head_arrays_are_refused_naming_the_file(recipe_with_head, tmp_path, change, words):
    _, _, clf, _, head = recipe_with_head
    good = modelfile.save(_model(clf, head), tmp_path / "good.mer")
    bad = _with_arrays(good, tmp_path / "bad-head.mer", change)
    with pytest.raises(MerError) as err:
        modelfile.load(bad)
    msg = str(err.value)
    assert "bad-head.mer" in msg and modelfile.AFFECT_ARRAYS in msg and words in msg and "\n" not in msg


def test_a_model_without_head_reports_probability_differences(recipe_with_head):
    from mer.workflows.predict import predict_features

    X, _, clf, _, head = recipe_with_head
    plain = _model(clf)
    assert plain.affect_regression(X) is None
    preds = predict_features(plain, X[:6], [f"c{i}.wav" for i in range(6)])
    for p in preds:
        assert (p.valence, p.arousal) == valence_arousal(p.probabilities)
    headed = predict_features(_model(clf, head), X[:6], [f"c{i}.wav" for i in range(6)])
    assert [p.probabilities for p in headed] == [p.probabilities for p in preds]  # the head changes no quadrant
    assert any(abs(h.valence - p.valence) > 1e-3 for h, p in zip(headed, preds))
    assert all(-1 <= h.valence <= 1 and -1 <= h.arousal <= 1 for h in headed)


def test_choose_weight_prefers_r_then_concordance():
    rng = np.random.default_rng(3)
    t = rng.normal(scale=0.3, size=300)
    good, noisy = t + 0.05 * rng.normal(size=300), t + 0.6 * rng.normal(size=300)
    assert choose_weight(t, good, noisy)[0] == 1.0  # the regression alone correlates best
    assert choose_weight(t, noisy, good)[0] == 0.0
    # same r (perfect correlation), but only the regression is on the targets' scale: CCC decides
    w, scores = choose_weight(t, t.copy(), 3 * t)
    assert w == 1.0 and scores[0.0]["r"] == pytest.approx(1.0) and scores[0.0]["ccc"] < 0.7


def test_timeline_smooths_the_head_regression_like_the_probabilities(recipe_with_head):
    from mer.workflows.timeline import Window, apply_smoothing

    head = recipe_with_head[-1]
    n = 7
    raw = np.column_stack([np.linspace(-0.5, 0.5, n), np.zeros(n)])
    raw[3, 0] = 0.9  # a one-window spike the running median removes
    P = np.tile([0.25, 0.25, 0.25, 0.25], (n, 1))  # probability differences 0
    windows = [Window(2.0 * i, 2.0 * i + 10, None, None, dict(zip(LABELS, P[i])), None, None,
                      raw_affect=tuple(raw[i])) for i in range(n)]
    apply_smoothing(windows, LABELS, method="median", width=3, affect=head)
    v = np.array([w.valence for w in windows])
    median = np.array([np.median(raw[max(i - 1, 0):i + 2, 0]) for i in range(n)])
    median[-1] = np.median([raw[-2, 0], raw[-1, 0], raw[-1, 0]])  # 'nearest' padding at the ends
    median[0] = np.median([raw[0, 0], raw[0, 0], raw[1, 0]])
    np.testing.assert_allclose(v, head.weights["valence"] * median, rtol=0, atol=1e-12)
    assert v[3] < 0.5  # the spike is gone
    apply_smoothing(windows, LABELS, method="none", affect=head)
    np.testing.assert_allclose([w.valence for w in windows], head.weights["valence"] * raw[:, 0], atol=1e-12)


def test_the_shipped_models_carry_a_documented_head():
    from mer.workflows.predict import load_model
    from mer.workflows.timeline import load_timeline_model

    for model in (load_model(), load_timeline_model()):
        assert model.affect is not None and model.affect.n_columns == model._arrays.n_columns
        card = model.metadata["affect"]
        assert set(card["weights"]) == set(AXES) and "[-1, 1]" in card["scale"] and "(x + 1) / 2" in card["scale"]
        assert set(card["out_of_fold"]["valence"]) == {"probabilities", "head"}
        # both carry the listener-rated emoMusic head, named with its licence, as the last input block
        assert model.affect.listener is not None and model.inputs[-1][0] == "listener_dense"
        assert [h["name"] for h in card["listener"]["heads"]] == ["emomusic"]
        assert card["listener"]["heads"][0]["licence"] == "CC BY-NC-SA 4.0"
        assert any("CC BY-NC-SA 4.0" in part["licence"] for part in model.metadata["parts"])


def test_the_shipped_model_without_the_listener_heads_builds_and_loads(tmp_path):
    """A user who needs other terms strips the heads: mer's own head, the same quadrant probabilities."""
    from mer.study.listener import attach_listener
    from mer.workflows.predict import load_model

    out = attach_listener(modelfile.default_model_path(), [], heads=(), out=tmp_path / "own-head.mer")
    own = modelfile.load(out)
    shipped = load_model()
    assert own.affect.listener is None and "listener" not in own.metadata["affect"]
    assert [n for n, _ in own.inputs] == [n for n, _ in shipped.inputs][:-1]
    assert not any("CC BY-NC-SA" in part["licence"] for part in own.metadata["parts"])
    rng = np.random.default_rng(3)
    general = shipped._arrays.general
    X = general.mean + general.scale * rng.normal(size=(20, general.n_columns))
    D = rng.normal(size=(20, 200))
    np.testing.assert_array_equal(own.predict_proba(X), shipped.predict_proba(np.hstack([X, D])))
    P = own.predict_proba(X)
    np.testing.assert_allclose(own.valence_arousal(P, own.affect_regression(X)),
                               shipped.affect.with_listener(None).predict(X, P, own.labels), rtol=0, atol=1e-12)


@pytest.mark.slow
@pytest.mark.real_data
def test_shipped_valence_is_the_blend_of_its_own_head_and_emomusic_on_a_real_clip(fourq_dir):
    """End to end on a real clip: mer predict's valence / arousal equal the z-score blend computed by hand
    from the model's own head and the emoMusic head applied to the clip's listener block."""
    from mer.features.blocks import listener_block
    from mer.models.listener import load_head
    from mer.workflows.listener import listener_inputs
    from mer.workflows.predict import load_model, model_inputs, predict_files

    clip = sorted((fourq_dir / "Q3").glob("*.mp3"))[0]
    model = load_model()
    (pred,), failures = predict_files(model, [clip], progress=False)
    assert not failures
    X, ok, _ = model_inputs(model, [clip], progress=False)
    own_head = model.affect.with_listener(None)
    n = own_head.n_columns
    own = own_head.predict(X[:, :n], model.predict_proba(X), model.labels)[0]
    D = listener_inputs([clip], patch_hop=listener_block(187)[1].patch_hop).X
    emo = load_head("emomusic").predict(D)[0]
    card = model.metadata["affect"]["listener"]
    c0, s0 = np.array(card["own"]["centre"]), np.array(card["own"]["spread"])
    c1, s1 = np.array(card["heads"][0]["centre"]), np.array(card["heads"][0]["spread"])
    zs = np.array(card["z_spread"])
    expected = np.clip(c0 + s0 * ((own - c0) / s0 + (emo - c1) / s1) / 2 / zs, -1, 1)
    np.testing.assert_allclose([pred.valence, pred.arousal], expected, atol=2e-3)  # the card rounds to 4 places


@pytest.mark.slow
@pytest.mark.real_data
def test_reported_valence_separates_the_quadrants_on_real_clips(fourq_dir):
    """Two real clips per quadrant (training clips of the shipped model): Q1 / Q4 clips get a higher
    mean valence than Q2 / Q3 ones, and Q1 / Q2 a higher mean arousal than Q3 / Q4, from the head."""
    from mer.workflows.predict import load_model, predict_files

    files = [p for q in LABELS for p in sorted((fourq_dir / q).glob("*.mp3"))[:2]]
    model = load_model()
    assert model.affect is not None
    preds, failures = predict_files(model, files, progress=False)
    assert not failures and len(preds) == len(files)
    by_q = {q: [p for p in preds if p.path.parent.name == q] for q in LABELS}

    def mean(attr, quadrants):
        return np.mean([getattr(p, attr) for q in quadrants for p in by_q[q]])

    assert mean("valence", ("Q1", "Q4")) > mean("valence", ("Q2", "Q3"))
    assert mean("arousal", ("Q1", "Q2")) > mean("arousal", ("Q3", "Q4"))
    assert all(-1 <= p.valence <= 1 and -1 <= p.arousal <= 1 for p in preds)
    # the head reports its blend, not the probability differences
    assert any(abs(p.valence - valence_arousal(p.probabilities)[0]) > 1e-3 for p in preds)


def _listener_heads():
    """Two small listener heads with random constants, one in each output order."""
    from mer.models.listener import ListenerHead

    rng = np.random.default_rng(7)
    out = []
    for name, order in (("a", ("valence", "arousal")), ("b", ("arousal", "valence"))):
        f = lambda *shape: rng.normal(size=shape).astype(np.float32)  # noqa: E731
        out.append(ListenerHead(name, f(200), f(200), f(200), np.abs(f(200)) + 0.5, np.asarray(1e-6, np.float32),
                                f(200, 2) * 0.05, np.array([5.0, 5.0], np.float32) + f(2), order, "x.pb", "0" * 64))
    return out


def test_listener_blend_folds_each_head_exactly_and_averages_z_scores():
    from mer.models.affect import ListenerBlend

    heads = _listener_heads()
    rng = np.random.default_rng(8)
    D_ref, own_ref = rng.normal(size=(60, 200)), rng.uniform(-0.6, 0.6, size=(60, 2))
    blend = ListenerBlend.from_heads(heads, own_ref, D_ref)
    D, own = rng.normal(size=(9, 200)), rng.uniform(-0.6, 0.6, size=(9, 2))
    H = blend.heads(D)
    for i, head in enumerate(heads):  # batch norm and the rating scale folded into one affine map
        np.testing.assert_allclose(H[:, 2 * i:2 * i + 2], head.predict(D.astype(np.float32)), rtol=0, atol=2e-5)
    comps = [own_ref] + [h.predict(D_ref.astype(np.float32)).astype(np.float64) for h in heads]
    centre = np.array([c.mean(0) for c in comps])
    spread = np.array([c.std(0) for c in comps])
    np.testing.assert_allclose(blend.centre, centre, atol=2e-5)
    np.testing.assert_allclose(blend.spread, spread, rtol=1e-4)
    z_ref = np.mean([(c - centre[i]) / spread[i] for i, c in enumerate(comps)], axis=0)
    np.testing.assert_allclose(blend.z_spread, z_ref.std(0), rtol=1e-4)
    now = [own] + [H[:, 2 * i:2 * i + 2] for i in range(2)]
    z = np.mean([(c - centre[i]) / spread[i] for i, c in enumerate(now)], axis=0)
    np.testing.assert_allclose(blend.blend(own, H), centre[0] + spread[0] * z / z_ref.std(0), rtol=1e-5, atol=1e-5)
    # on the reference clips the blend keeps mer's own centre and spread
    ref_blend = blend.blend(own_ref, blend.heads(D_ref))
    np.testing.assert_allclose(ref_blend.mean(0), own_ref.mean(0), atol=1e-9)
    np.testing.assert_allclose(ref_blend.std(0), own_ref.std(0), rtol=1e-9)
    with pytest.raises(ValueError, match="inconsistent shapes"):
        ListenerBlend(blend.weights_, blend.offsets, blend.centre[:2], blend.spread, blend.z_spread)


def test_a_head_with_a_listener_blend_reads_the_listener_block_and_round_trips(recipe_with_head, tmp_path):
    from mer.models.affect import ListenerBlend

    X, _, clf, _, head = recipe_with_head
    rng = np.random.default_rng(9)
    D = rng.normal(size=(len(X), 200))
    plain = _model(clf, head)
    own = plain.valence_arousal(plain.predict_proba(X), plain.affect_regression(X))
    blend = ListenerBlend.from_heads(_listener_heads(), own, D)
    model = _model(clf, head.with_listener(blend))
    rows = np.hstack([X, D])  # the model's inputs: the classifier's columns, then the listener block
    assert model.affect.n_inputs == X.shape[1] + 200
    P = model.predict_proba(rows)
    np.testing.assert_array_equal(P, plain.predict_proba(X))  # the classifier reads its own columns only
    R = model.affect_regression(rows)
    assert R.shape == (len(X), 6)
    np.testing.assert_allclose(R[:, :2], head.regress(X), rtol=0, atol=1e-12)
    va = model.valence_arousal(P, R)
    np.testing.assert_allclose(va, np.clip(blend.blend(own, blend.heads(D)), -1, 1), rtol=0, atol=1e-12)
    assert not np.allclose(va, own, atol=0.05)  # the listener heads moved the answer
    back = modelfile.load(modelfile.save(model, tmp_path / "listener.mer"))
    np.testing.assert_array_equal(back.valence_arousal(back.predict_proba(rows), back.affect_regression(rows)), va)
    stripped = modelfile.load(modelfile.save(_model(clf, back.affect.with_listener(None)), tmp_path / "plain.mer"))
    assert stripped.affect.listener is None  # a model without the heads still builds and loads
    np.testing.assert_array_equal(stripped.valence_arousal(stripped.predict_proba(X), stripped.affect_regression(X)),
                                  own)
