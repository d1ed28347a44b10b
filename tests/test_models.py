import re

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from mer.models.baselines import BASELINES, SummaryClassifier
from mer.core.errors import MerError
from mer.eval.cv import cross_validate
from mer.models.sequence import PAPER_LR, LSTMClassifier, RNNClassifier, SequenceClassifier, build_network
from mer.workflows.train import make_estimator, model_names


def _toy(n=24, T=40, seed=0):
    """Clips whose row 170 (an MFCC) carries the class; two clips per group."""
    rng = np.random.default_rng(seed)
    y = np.array(["Q1", "Q2", "Q3", "Q4"] * (n // 4))
    X = []
    for i in range(n):
        x = rng.random((204, T + int(rng.integers(0, 8)))).astype(np.float32)
        x[170] += 2.0 * ("Q1", "Q2", "Q3", "Q4").index(y[i])
        X.append(x)
    return X, y, np.arange(n) // 2


def test_networks_have_the_papers_shapes():
    brnn = build_network("brnn", 204, 4)
    assert isinstance(brnn, RNNClassifier) and brnn.rnn.bidirectional and brnn.rnn.hidden_size == 128
    assert brnn.head[1].in_features == 256 and brnn.head[1].out_features == 128
    assert [type(m).__name__ for m in brnn.head] == ["Dropout", "Linear", "BatchNorm1d", "ReLU", "Linear"]
    lstm = build_network("lstm", 204, 4)
    assert isinstance(lstm, LSTMClassifier)
    names = [type(m).__name__ for m in lstm.head]
    assert names == ["Linear", "BatchNorm1d", "ReLU", "Dropout"] * 3 + ["Linear"]
    assert isinstance(build_network("gru", 204, 4).rnn, torch.nn.GRU)
    out = lstm.eval()(torch.zeros(3, 17, 204))
    assert out.shape == (3, 4)
    assert PAPER_LR == {"rnn": 1e-4, "brnn": 1e-4, "lstm": 3e-4, "gru": 3e-4}


def test_padding_is_not_read_when_lengths_are_given():
    torch.manual_seed(0)
    for arch in ("rnn", "brnn", "lstm", "gru"):
        net = build_network(arch, 204, 4).eval()
        short, long = torch.randn(1, 5, 204), torch.randn(1, 9, 204)
        padded = torch.cat([torch.cat([short, torch.zeros(1, 4, 204)], 1), long])
        both = net(padded, torch.tensor([5, 9]))
        torch.testing.assert_close(both[0], net(short)[0])
        torch.testing.assert_close(both[1], net(long)[0])
        # ... and the gradients that train it are those of each clip on its own
        rnn = net.rnn
        both[:, 0].sum().backward()
        batched = [p.grad.clone() for p in rnn.parameters()]
        rnn.zero_grad()
        (net(short)[0, 0] + net(long)[0, 0]).backward()
        for g, p in zip(batched, rnn.parameters()):
            torch.testing.assert_close(g, p.grad)
        rnn.zero_grad()


def test_zero_initial_states_make_inference_deterministic():
    net = build_network("lstm", 204, 4).eval()
    x = torch.randn(2, 12, 204)
    torch.testing.assert_close(net(x), net(x), rtol=0, atol=0)


def test_estimators_follow_sklearn_conventions():
    est = SequenceClassifier(arch="gru", epochs=3, pool=2)
    c = clone(est)
    assert c.get_params() == est.get_params() and c is not est
    assert set(est.get_params()) >= {"arch", "hidden_size", "lr", "epochs", "grad_clip", "mel_db", "pool",
                                     "n_frames", "random_state", "device", "patience", "val_fraction"}
    s = SummaryClassifier("rbf_svm", input="flat")
    assert clone(s).get_params() == s.get_params()
    with pytest.raises(NotFittedError):
        est.predict_proba([np.zeros((204, 10), np.float32)])
    with pytest.raises(NotFittedError):
        s.predict([np.zeros((204, 10), np.float32)])


def test_registry_names_and_paper_configuration():
    assert {"rnn", "brnn", "lstm", "gru", "paper-lstm", "logreg", "logreg-flat", "mlp-flat"} <= set(model_names())
    paper = make_estimator("paper-lstm")
    assert (paper.mel_db, paper.pool, paper.n_frames, paper.lr) == (False, 1, 1295, None)
    assert make_estimator("rnn", epochs=3).epochs == 3
    assert make_estimator("qda-flat").input == "flat" and make_estimator("qda").input == "stats"
    with pytest.raises(MerError, match="unknown model 'cnn'"):
        make_estimator("cnn")


def test_sequence_classifier_learns_is_deterministic_and_restores_the_best_epoch():
    X, y, g = _toy()
    kw = dict(arch="gru", epochs=12, lr=3e-3, pool=2, batch_size=8, progress=False)
    a = SequenceClassifier(**kw).fit(X, y, groups=g)
    b = SequenceClassifier(**kw).fit(X, y, groups=g)
    P = a.predict_proba(X)
    assert P.shape == (24, 4) and np.allclose(P.sum(1), 1, atol=1e-5)
    assert np.array_equal(P, b.predict_proba(X))  # same seed, same numbers
    assert not np.array_equal(P, SequenceClassifier(**kw, random_state=1).fit(X, y, groups=g).predict_proba(X))
    assert (a.predict(X) == y).mean() > 0.7
    assert list(a.classes_) == ["Q1", "Q2", "Q3", "Q4"]
    best = min(a.history_, key=lambda h: h["val_loss"])
    assert a.best_epoch_ == best["epoch"]
    assert all(set(h) >= {"train_loss", "val_loss", "val_accuracy"} for h in a.history_)


def test_fixed_length_and_no_validation():
    X, y, g = _toy(n=8)
    est = SequenceClassifier(arch="lstm", epochs=2, mel_db=False, pool=1, n_frames=30, val_fraction=0,
                             progress=False).fit(X, y)
    assert est.preprocessor_.transform_one(X[0]).shape == (204, 30)
    assert est.best_epoch_ == 2 and len(est.history_) == 2 and "val_loss" not in est.history_[0]


@pytest.mark.slow  # measured over 10 s (issue 24, --durations on 2 busy cores)
@pytest.mark.parametrize("inp", ["stats", "flat"])
def test_all_twelve_baselines_fit_and_give_probabilities(inp):
    X, y, _ = _toy(n=32, T=70)
    for name in BASELINES:
        # 4 pooled frames keep flat vectors at 816 dims: QDA/LDA hold and decompose d x d covariances
        est = SummaryClassifier(name, input=inp, pool=64, n_frames=4, random_state=0).fit(X, y)
        P = est.predict_proba(X)
        assert P.shape == (32, 4), name
        assert np.allclose(P.sum(axis=1), 1.0), name
        assert np.array_equal(est.predict(X), est.classes_[P.argmax(1)]), name
    assert SummaryClassifier("logreg", input=inp, pool=8).vectors(X).shape == (
        32, 5 * 204 if inp == "stats" else 204 * int(np.ceil(1295 / 8)))


def test_qda_refuses_dimensions_whose_covariances_would_not_fit_in_memory():
    X, y, _ = _toy(n=8, T=70)
    with pytest.raises(ValueError, match="qda on 33048 dimensions"):
        SummaryClassifier("qda", input="flat", pool=8).fit(X, y)


@pytest.mark.slow  # measured over 10 s (issue 24, --durations on 2 busy cores)
def test_models_learn_the_synthetic_set_above_chance(synthetic_features):
    _, _, f = synthetic_features
    seq = SequenceClassifier(arch="gru", epochs=20, lr=3e-3, batch_size=8, val_fraction=0, progress=False)
    cv = cross_validate(seq, f.X, f.y, f.groups, n_splits=3, progress=False)
    assert cv.mean("accuracy") > 0.5, cv.summary()  # chance: 0.25


@pytest.mark.parametrize("param, value, message", [
    ("epochs", 0, "epochs == 0, must be >= 1"),
    ("batch_size", 0, "batch_size == 0, must be >= 2"),
    ("batch_size", 1, "batch_size == 1, must be >= 2"),  # BatchNorm cannot train on batches of one
    ("val_fraction", 1.5, "val_fraction == 1.5, must be < 1"),
    ("val_fraction", -0.1, "val_fraction == -0.1, must be >= 0"),
    ("dropout", 1.0, "dropout == 1.0, must be < 1"),
    ("lr", 0.0, "lr == 0.0, must be > 0"),
    ("random_state", -1, "random_state == -1, must be >= 0"),
    ("arch", "cnn", "arch must be one of rnn, brnn, lstm, gru, got 'cnn'"),
])
def test_fit_refuses_parameters_out_of_range_naming_them(param, value, message):
    X, y, g = _toy(n=8)
    est = SequenceClassifier(**{"epochs": 1, "progress": False, param: value})  # accepted here, as in sklearn
    with pytest.raises(ValueError, match=re.escape(message)):
        est.fit(X, y, groups=g)
    assert not hasattr(est, "network_")  # refused before any work


def test_fit_refuses_parameters_of_the_wrong_type():
    X, y, g = _toy(n=8)
    with pytest.raises(TypeError, match="epochs must be an instance of int"):
        SequenceClassifier(epochs=2.5, progress=False).fit(X, y, groups=g)
    with pytest.raises(ValueError, match="pool == 0, must be >= 1"):
        SummaryClassifier(input="flat", pool=0).fit(X, y)
    with pytest.raises(ValueError, match="model must be one of"):
        SummaryClassifier(model="nope").fit(X, y)


def test_an_unfitted_estimator_raises_sklearns_not_fitted_error():
    X, _, _ = _toy(n=4)
    for est in (SequenceClassifier(), SummaryClassifier()):
        for method in (est.predict_proba, est.predict):
            with pytest.raises(NotFittedError, match=f"This {type(est).__name__} instance is not fitted yet"):
                method(X)
    with pytest.raises(NotFittedError):
        SequenceClassifier().get_state()
