"""`mer demo`: the whole pipeline on the embedded synthetic set, no data needed.

Synthetic clips -> the paper's features (cached) -> a per-quadrant summary and a
figure -> grouped cross-validation of rnn / brnn / lstm and two baselines -> the
best of them fitted on all clips and saved as a ``.mer`` file -> a prediction on a
freshly generated clip of a song the models never heard.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path

import numpy as np

from mer.audio import synth as synthetic
from mer.core import labels
from mer.core.io import atomic_open
from mer.data import datasets
from mer.eval.cv import cross_validate
from mer.extraction.batch import extract_dataset
from mer.features.paper import FeatureConfig, FeatureSpec
from mer.models import modelfile
from mer.report.plots import plot_feature_matrices
from mer.workflows.predict import predict_files
from mer.workflows.train import Features, is_sequence_model, make_estimator, train


@dataclass
class DemoReport:
    dataset: str
    counts: dict[str, int]
    n_groups: int
    feature_shape: tuple[int, int]
    per_quadrant: dict[str, dict[str, float]]
    figures: list[Path] = field(default_factory=list)
    failures: list[tuple[Path, str]] = field(default_factory=list)
    cv: dict[str, dict] = field(default_factory=dict)
    model_name: str | None = None
    model_path: Path | None = None
    fresh_clip: Path | None = None
    fresh_label: str | None = None
    prediction: object = None
    n_folds: int = 0


#: Models the demo cross-validates, with parameters that train in seconds on 6-s clips.
DEMO_MODELS = {
    "rnn": dict(epochs=25, lr=1e-3), "brnn": dict(epochs=25, lr=1e-3), "lstm": dict(epochs=25, lr=2e-3),
    "logreg": {}, "random_forest": {},
}


def run_demo(out_dir: str | PathLike = "mer-demo", *, cache_dir=None, jobs: int = 2, progress: bool = True,
             n_per_quadrant: int = 30, models: dict[str, dict] | None = None, n_folds: int = 3,
             fresh_seed: int = 987_654) -> DemoReport:
    """Generate the synthetic set, extract the paper's features, summarise and plot them,
    cross-validate `models` (default :data:`DEMO_MODELS`; ``{}`` skips modelling), save the
    best as ``out_dir/demo.mer`` and predict a fresh clip (``out_dir/fresh-Q*.wav``)."""
    out_dir = Path(out_dir)
    config = FeatureConfig()
    spec = FeatureSpec.from_config(config)
    ds = datasets.load_synthetic(n_per_quadrant=n_per_quadrant, cache_dir=cache_dir)
    res = extract_dataset(ds, config=config, cache_dir=cache_dir, jobs=jobs, progress=progress)
    per_quadrant = {}
    examples, titles = [], []
    for q in ds.labels:
        mats = [X for X, c in zip(res.features, ds.clips) if X is not None and c.label == q]
        if not mats:
            continue
        per_quadrant[q] = {
            "tempo_bpm": float(np.mean([X[spec.rows("tempo")][0, 0] for X in mats])),
            "rms": float(np.mean([X[spec.rows("rms")].mean() for X in mats])),
            "centroid_hz": float(np.mean([X[spec.rows("spectral_centroid")].mean() for X in mats])),
        }
        examples.append(mats[0])
        titles.append(f"{q}: {labels.QUADRANT_NAMES[q]}")
    fig_path = out_dir / "features.png"
    plot_feature_matrices(examples, titles, fig_path, config)
    ok = [X for X in res.features if X is not None]
    report = DemoReport(
        dataset=ds.name, counts=ds.counts(), n_groups=ds.n_groups(),
        feature_shape=ok[0].shape if ok else (spec.n_rows, 0),
        per_quadrant=per_quadrant, figures=[fig_path], failures=res.failures,
    )
    models = DEMO_MODELS if models is None else models
    if models and ok:
        _model_step(report, ds, res, models, out_dir, config, cache_dir, progress, n_folds, fresh_seed)
    return report


def _model_step(report, ds, res, models, out_dir, config, cache_dir, progress, n_folds, fresh_seed) -> None:
    """Cross-validate, save the best model, predict a fresh clip; results go into `report`."""
    import soundfile as sf

    keep = np.flatnonzero(res.ok)
    clips = [ds.clips[i] for i in keep]
    feats = Features([res.features[i] for i in keep], np.array([c.label for c in clips]),
                     np.array([c.group for c in clips]), np.array([c.id for c in clips]))
    for name, params in models.items():
        extra = {"progress": progress} if is_sequence_model(name) else {}
        cv = cross_validate(make_estimator(name, **params, **extra), feats.X, feats.y, feats.groups,
                            n_splits=n_folds, progress=progress)
        report.cv[name] = cv.summary()
    report.n_folds = n_folds
    best = max(report.cv, key=lambda n: report.cv[n]["macro_f1_mean"])
    trained = train(ds, best, folds=0, params=dict(models[best]), features=feats, config=config, progress=progress)
    trained.model.metadata["cv"] = report.cv[best]
    report.model_name, report.model_path = best, modelfile.save(trained.model, out_dir / "demo.mer")

    # A clip of a song outside the training set (a seed the set never uses), as a WAV.
    label = "Q2"
    report.fresh_clip, report.fresh_label = out_dir / f"fresh-{label}.wav", label
    y = synthetic.generate_clip(label, seed=fresh_seed, duration=6.0, sr=config.sr)
    with atomic_open(report.fresh_clip, "wb") as f:
        sf.write(f, y, config.sr, format="WAV", subtype="PCM_16")
    preds, failures = predict_files(modelfile.load(report.model_path), [report.fresh_clip], cache_dir=cache_dir,
                                    progress=False)
    report.failures += failures
    report.prediction = preds[0] if preds else None
