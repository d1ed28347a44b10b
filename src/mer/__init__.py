"""mer: music emotion recognition on Russell's circumplex (Q1 happy, Q2 tense, Q3 sad, Q4 calm).

The package is in layers; a module imports only from its own layer or the ones below
(checked by import-linter in the tests, see pyproject.toml)::

    apps        cli (commands), render (table / JSON / CSV)
    study       experiment (the paper's grid, paired tests), demo
    workflows   train, predict, augmented, timeline  | report   plots, timeline_plots
    extraction  batch, inputs, store, augmented      | data     datasets, emopia, types
                                                     | models   sequence, baselines, recipe, modelfile
    features    paper, fused, methods, transforms,   | eval     splits, metrics, cv, stats
                descriptors, embeddings, blocks
    audio       decode, signal, quality, augment, midi, synth
    core        errors, io, labels, cache, parallel, progress

A researcher's entry points: :func:`mer.workflows.predict.predict_files`,
:func:`mer.workflows.train.train`, :func:`mer.eval.cv.cross_validate`,
:func:`mer.data.datasets.load` and :func:`mer.models.modelfile.load`.
"""

from mer.core.errors import MerError

__version__ = "0.1.0"
__all__ = ["MerError", "__version__"]
