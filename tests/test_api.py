"""The package's own functions: ``mer.predict_files``, ``mer.predict``, ``mer.timeline``, ``mer.load_model``.

Each takes the shipped model by default, loaded once per process; none needs a model first.
"""

from __future__ import annotations

import pytest

import mer
from tests.conftest import write_tone


@pytest.fixture
def fresh(monkeypatch):
    """No model loaded yet in this process (the package keeps the shipped ones after the first call)."""
    monkeypatch.setattr(mer, "_loaded", {})


def test_default_models_are_loaded_once(fresh, monkeypatch):
    from mer.workflows import predict as wp
    from mer.workflows import timeline as wt

    loads = []
    monkeypatch.setattr(wp, "load_model", lambda path=None: loads.append(("clip", path)) or object())
    monkeypatch.setattr(wt, "load_timeline_model", lambda path=None: loads.append(("window", path)) or object())
    monkeypatch.setattr(wt, "timeline", lambda source, *, model, **kw: (source, model, kw))
    monkeypatch.setattr(wp, "predict_files", lambda model, paths, **kw: (model, paths, kw))
    assert mer.load_model() is mer.load_model()
    first, second = mer.timeline("a.mp3", hop=5.0), mer.timeline("b.mp3")
    assert first[1] is second[1] and first[2] == {"hop": 5.0}
    model, paths, kw = mer.predict_files("one.mp3")  # one path is a list of one
    assert model is mer.load_model() and paths == ["one.mp3"] and kw["progress"] is False
    assert loads == [("clip", None), ("window", None)]
    mer.load_model("my.mer")  # a named file is loaded each time it is asked for
    assert loads[-1] == ("clip", "my.mer")


@pytest.mark.slow  # 20 s under load: musicnn and the descriptors of a tone
def test_predict_files_needs_no_model_first(tmp_path):
    clip = write_tone(tmp_path / "tone.wav", seconds=8.0)
    preds, failures = mer.predict_files([clip, tmp_path / "missing.wav"])
    assert [p.path for p in preds] == [clip] and len(failures) == 1 and "missing.wav" in failures[0][1]
    assert preds[0].quadrant in ("Q1", "Q2", "Q3", "Q4")
    assert abs(sum(preds[0].probabilities.values()) - 1.0) < 1e-6
    assert mer.predict(clip).to_dict() == preds[0].to_dict()  # the same model, loaded once
    with pytest.raises(mer.MerError, match="missing.wav"):
        mer.predict(tmp_path / "missing.wav")
