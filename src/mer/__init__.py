"""mer: music emotion recognition on Russell's circumplex (Q1 happy, Q2 tense, Q3 sad, Q4 calm).

The package is in layers; a module imports only from its own layer or the ones below
(checked by import-linter in the tests, see pyproject.toml)::

    apps        cli (commands), service (HTTP), web (the page), render (table / JSON / CSV)
    study       experiment (the paper's grid, paired tests), windows, valence, demo
                                                     | library  db, scan, export, tags, playlist, track
    workflows   train, predict, augmented, timeline  | report   plots, timeline_plots, playlist_plots
    extraction  batch, inputs, store, augmented      | data     datasets, emopia, types
                                                     | models   sequence, baselines, recipe, modelfile
    features    paper, fused, methods, transforms,   | eval     splits, metrics, cv, stats
                descriptors, embeddings, blocks
    audio       decode, signal, quality, augment, midi, synth
    core        errors, io, labels, cache, parallel, progress

The package's own functions are the short way in, each with the shipped model by
default (loaded once per process)::

    import mer

    preds, failures = mer.predict_files(["song.mp3", "other.flac"])   # clip-level predictions
    p = mer.predict("song.mp3")                                        # one file; MerError if it fails
    tl = mer.timeline("song.mp3")                                      # emotion over time
    model = mer.load_model("my.mer")                                   # any of them takes model=...

A researcher's entry points below them: :func:`mer.workflows.predict.predict_files`,
:func:`mer.workflows.timeline.timeline`, :func:`mer.workflows.train.train`,
:func:`mer.eval.cv.cross_validate`, :func:`mer.data.datasets.load`,
:func:`mer.models.modelfile.load` and :func:`mer.library.db.open_library`.
"""

from os import PathLike

from mer.core import jit as _jit
from mer.core.errors import MerError
from mer.core.version import __version__

_jit.install()  # librosa's numba kernels compile on first use, not at import (a fast first run)

__all__ = ["MerError", "__version__", "load_model", "predict", "predict_files", "timeline"]

#: Models loaded by name (``None``: the shipped clip model, ``"timeline"``: the shipped window model).
_loaded: dict = {}


def load_model(path: str | PathLike | None = None):
    """A trained model (:class:`mer.models.modelfile.TrainedModel`).

    `path` is a ``.mer`` file; ``None`` gives the shipped clip model, loaded once per
    process and shared by later calls. Raises :class:`MerError` naming the file when it
    cannot be read.
    """
    from mer.workflows.predict import load_model as load

    if path is not None:
        return load(path)
    if None not in _loaded:
        _loaded[None] = load(None)
    return _loaded[None]


def _model(model, default: str | None = None):
    """`model` as a TrainedModel: itself, a file loaded, or the shipped default (`default` names which)."""
    if model is not None and not isinstance(model, (str, PathLike)):
        return model
    if model is not None:
        return load_model(model)
    if default is None:
        return load_model()
    if default not in _loaded:
        from mer.workflows.timeline import load_timeline_model

        _loaded[default] = load_timeline_model()
    return _loaded[default]


def predict_files(paths, model=None, *, jobs: int = 1, cache_dir: str | PathLike | None = None,
                  progress: bool = False):
    """Quadrant, four probabilities, valence / arousal and reliability flags of each audio file.

    Parameters
    ----------
    paths : path or sequence of paths
        Audio files (any format :func:`mer.audio.decode.load` reads).
    model : TrainedModel, path or None
        A model, a ``.mer`` file, or None for the shipped clip model (loaded once).
    jobs : int
        Worker processes for feature extraction.
    cache_dir : path, optional
        Feature cache root (default: ``$MER_CACHE``, else the user cache folder).
    progress : bool
        Show progress bars on stderr.

    Returns
    -------
    predictions : list of :class:`mer.workflows.predict.Prediction`
        In the order of `paths`, failed files left out (``.to_dict()``: the JSON schema).
    failures : list of (Path, str)
        Each failed file with a one-line reason.
    """
    from mer.workflows.predict import predict_files as predict_with

    if isinstance(paths, (str, PathLike)):
        paths = [paths]
    return predict_with(_model(model), paths, jobs=jobs, cache_dir=cache_dir, progress=progress)


def predict(path: str | PathLike, model=None, *, cache_dir: str | PathLike | None = None):
    """The prediction of one audio file (see :func:`predict_files`); :class:`MerError` if it fails."""
    preds, failures = predict_files([path], model, cache_dir=cache_dir)
    if failures:
        raise MerError(failures[0][1])
    return preds[0]


def timeline(source, *, model=None, **settings):
    """Emotion over a whole track, window by window (:func:`mer.workflows.timeline.timeline`).

    `source` is an audio file or a mono signal (then pass ``sr=`` in Hz); `model` a model,
    a ``.mer`` file, or None for the shipped window model (loaded once); `settings` are
    the workflow's ``window``, ``hop`` (s), ``smooth``, ``smooth_width``, ``switch_prob``,
    ``sr``, ``progress``. Returns a :class:`mer.workflows.timeline.Timeline`
    (``.to_dict()``: schema ``mer.timeline/1``).
    """
    from mer.workflows.timeline import timeline as timeline_of

    return timeline_of(source, model=_model(model, "timeline"), **settings)
