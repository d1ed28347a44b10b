"""Issue 6 ablation: what each input block and modelling step adds on 4Q, measured strictly.

    MER_CACHE=/work/cache python experiments/issue6_ablation.py [--data ../shared/data/4q-dev] [--repeats 3]
        [--jobs 2] [--rows all|final] [--json out.json]

Every row runs the same 5-fold artist-grouped CV x `repeats` (mer.eval.splits.grouped_folds,
seeds 0..repeats-1), every fitted step inside the training folds (the tuned recipe also
tunes k and C by an inner grouped CV of the training folds only). Prints mean +- std over
all folds of macro-F1 and accuracy, per-quadrant F1, and wall time per row.

Inputs come through the feature cache: the paper's 204 rows (mer.extraction.batch), the
emotion descriptors (mer.features.descriptors) and the musicnn MSD / MTT embeddings
(mer.features.embeddings). A cold cache costs about 0.4 + 1.6 CPU-s per clip (descriptors + two
musicnn models) on top of the paper's features; keep the cache between runs.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

DEFAULT_DATA = Path(os.environ.get("MER_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")) / "4q-dev"


def paper_stats(ds, cache_dir, jobs):
    """(n, 1020): mean, std, p10, p50, p90 over time of the 204 rows, mel in dB."""
    from mer.extraction.batch import extract_dataset
    from mer.features.transforms import mel_to_db, summary_stats

    res = extract_dataset(ds, cache_dir=cache_dir, jobs=jobs, progress=False)
    if res.failures:
        raise SystemExit(f"{len(res.failures)} clip(s) failed feature extraction, e.g. {res.failures[0][1]}")
    return np.stack([summary_stats(mel_to_db(X)) for X in res.features])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--cache-dir", type=Path, default=None)
    ap.add_argument("--rows", choices=("all", "final"), default="all")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    warnings.filterwarnings("ignore", category=UserWarning)

    from mer.data import datasets
    from mer.eval.cv import cross_validate
    from mer.eval.splits import grouped_folds
    from mer.extraction.inputs import clip_inputs
    from mer.models.recipe import EmotionClassifier

    ds = datasets.load(args.data)
    y = np.array([c.label for c in ds.clips])
    groups = ds.groups
    t0 = time.time()
    inp = clip_inputs(ds.paths, cache_dir=args.cache_dir, jobs=args.jobs, progress=False)
    if inp.failures:
        raise SystemExit(f"{len(inp.failures)} clip(s) failed, e.g. {inp.failures[0][1]}")
    print(f"{len(ds)} clips, {ds.n_groups()} artists; inputs {inp.X.shape} in {time.time() - t0:.0f} s", flush=True)
    B = inp.blocks
    cols = lambda *names: np.concatenate([np.arange(B[n].start, B[n].stop) for n in names])  # noqa: E731
    folds = grouped_folds(y, groups, n_splits=5, repeats=args.repeats, seed=0)

    rows = []
    if args.rows == "all":
        P = paper_stats(ds, args.cache_dir, args.jobs)
        rows += [
            ("paper 204 rows x 5 stats (1020), LR C=0.01", P, EmotionClassifier(k="all", C=0.01)),
            ("descriptors (232), LR C=0.03", inp.X[:, cols("descriptors")], EmotionClassifier(k="all", C=0.03)),
            ("musicnn MSD (500), LR C=0.003", inp.X[:, cols("musicnn_msd")], EmotionClassifier(k="all", C=0.003)),
            ("musicnn MSD + MTT (1000), LR C=0.003", inp.X[:, cols("musicnn_msd", "musicnn_mtt")],
             EmotionClassifier(k="all", C=0.003)),
            ("descriptors + MSD (732), LR C=0.003", inp.X[:, cols("descriptors", "musicnn_msd")],
             EmotionClassifier(k="all", C=0.003)),
            ("descriptors + MSD + MTT (1232), LR C=0.003", inp.X, EmotionClassifier(k="all", C=0.003)),
            ("paper stats + descriptors + MSD + MTT (2252), LR C=0.003", np.hstack([P, inp.X]),
             EmotionClassifier(k="all", C=0.003)),
            ("descriptors + MSD + MTT, ANOVA k=600, LR C=0.005", inp.X, EmotionClassifier(k=600, C=0.005)),
        ]
    rows.append(("recipe: descriptors + MSD + MTT, k and C tuned by inner grouped CV", inp.X, EmotionClassifier()))

    report = []
    print(f"| row | macro-F1 | accuracy | F1 Q1 / Q2 / Q3 / Q4 | wall |\n|---|---|---|---|---|", flush=True)
    for name, X, est in rows:
        r = cross_validate(est, X, y, groups, folds=folds, progress=False)
        s = r.summary()
        per = " / ".join(f"{s['per_class_f1_mean'][q]:.2f}" for q in r.labels)
        print(f"| {name} | {s['macro_f1_mean']:.3f} ± {s['macro_f1_std']:.3f} | {s['accuracy_mean']:.3f} ± "
              f"{s['accuracy_std']:.3f} | {per} | {r.wall_s:.0f} s |", flush=True)
        report.append({"row": name, **{k: s[k] for k in ("macro_f1_mean", "macro_f1_std", "accuracy_mean",
                                                           "accuracy_std", "per_class_f1_mean", "confusion",
                                                           "labels", "wall_s")}})
    if args.json:
        from mer.core.io import write_json

        write_json(args.json, {"data": str(args.data), "n": len(ds), "repeats": args.repeats, "rows": report})
    return 0


if __name__ == "__main__":
    sys.exit(main())
