"""Train the default model shipped in the package (src/mer/resources/default.mer).

    MER_CACHE=/work/cache python experiments/train_default.py [--data ../shared/data/4q-dev] [--repeats 3]

The recipe of :mod:`mer.models.recipe` (emotion descriptors + musicnn MSD/MTT embeddings ->
standardise -> ANOVA-F top-k -> logistic regression, k and C tuned by an inner
artist-grouped CV). First it measures the recipe under 5-fold artist-grouped CV x
`repeats` (everything fitted inside the training folds), then fits it on every clip and
writes the model with those CV figures on its card (`mer model-info`).
"""

from __future__ import annotations

import argparse
import os
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = Path(os.environ.get("MER_DATA", ROOT.parent / "shared" / "data")) / "4q-dev"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--out", type=Path, default=ROOT / "src" / "mer" / "resources" / "default.mer")
    args = ap.parse_args(argv)
    warnings.filterwarnings("ignore", category=UserWarning)

    from mer.data import datasets
    from mer.models import modelfile
    from mer.eval.cv import cross_validate
    from mer.extraction.inputs import clip_inputs
    from mer.features.blocks import DEFAULT_BLOCKS
    from mer.models.recipe import EmotionClassifier
    from mer.workflows.train import training_hashes

    ds = datasets.load(args.data)
    inp = clip_inputs(ds.paths, jobs=args.jobs)
    if inp.failures:
        raise SystemExit(f"{len(inp.failures)} clip(s) failed, e.g. {inp.failures[0][1]}")
    y, groups = np.array([c.label for c in ds.clips]), ds.groups
    cv = cross_validate(EmotionClassifier(), inp.X, y, groups, n_splits=5, repeats=args.repeats, seed=0,
                        progress=True)
    s = cv.summary()
    print(f"CV macro-F1 {s['macro_f1_mean']:.3f} ± {s['macro_f1_std']:.3f}, "
          f"accuracy {s['accuracy_mean']:.3f} ± {s['accuracy_std']:.3f}, "
          f"per-quadrant F1 {', '.join(f'{k} {v:.2f}' for k, v in s['per_class_f1_mean'].items())}")
    final = EmotionClassifier().fit(inp.X, y, groups)
    metadata = {
        "data": f"4Q Audio Emotion Dataset, 4q-dev subset ({len(ds)} clips, {ds.n_groups()} artists)",
        "n_clips": len(ds),
        "recipe": "emotion descriptors (232) + musicnn MSD & MTT embeddings (2 x 500) -> standardise -> "
                  f"ANOVA-F top-k -> L2 logistic regression; chosen k={final.best_params_['k']}, "
                  f"C={final.best_params_['C']} by inner artist-grouped 4-fold CV",
        "cv": {"protocol": f"5-fold artist-grouped CV x {args.repeats} repeats, all fitting inside training folds",
               "macro_f1": f"{s['macro_f1_mean']:.3f} ± {s['macro_f1_std']:.3f}",
               "accuracy": f"{s['accuracy_mean']:.3f} ± {s['accuracy_std']:.3f}",
               "per_quadrant_f1": {k: round(v, 3) for k, v in s["per_class_f1_mean"].items()}},
        "data_licence": "trained on research-only data: 4Q Audio Emotion Dataset (Panda, Malheiro & Paiva, "
                        "IEEE TAFFC 2018); musicnn weights ISC (Pons & Serra, MTG-UPF)",
        # content hashes of every training clip: `mer evaluate` warns when evaluated files overlap
        modelfile.TRAINING_HASHES: training_hashes(ds, ds.ids),
    }
    model = modelfile.TrainedModel(final, "recipe-descriptors-musicnn", metadata=metadata,
                                   inputs=list(DEFAULT_BLOCKS))
    modelfile.save(model, args.out)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e3:.0f} kB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
