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

A researcher's entry points: :func:`mer.workflows.predict.predict_files`,
:func:`mer.workflows.timeline.timeline`, :func:`mer.workflows.train.train`,
:func:`mer.eval.cv.cross_validate`, :func:`mer.data.datasets.load`,
:func:`mer.models.modelfile.load` and :func:`mer.library.db.open_library`; the first
three are also ``mer.predict_files``, ``mer.timeline`` and ``mer.load_model``.
"""

from mer.core import jit as _jit
from mer.core.errors import MerError

_jit.install()  # librosa's numba kernels compile on first use, not at import (a fast first run)

__version__ = "0.1.0"
__all__ = ["MerError", "__version__", "load_model", "predict_files", "timeline"]

#: Short names of the main entry points, imported on first use (``import mer`` stays light).
_ENTRY_POINTS = {"load_model": "mer.workflows.predict", "predict_files": "mer.workflows.predict",
                 "timeline": "mer.workflows.timeline"}


def __getattr__(name: str):
    if name in _ENTRY_POINTS:
        import importlib

        return getattr(importlib.import_module(_ENTRY_POINTS[name]), name)
    raise AttributeError(f"module 'mer' has no attribute {name!r}")
