"""Issue 16's classifier variants that did not help, measured on the valence study's folds.

    python experiments/issue16_variants.py hierarchical [--data ../shared/data/4q-dev]
    python experiments/issue16_variants.py augment [--data ../shared/data/4q-dev] [--jobs 2]

Both use the shipped recipe's clip rows (the cached rows of :mod:`mer.study.windows`) and
the same 5-fold x 3-repeat artist-grouped folds as ``python -m mer.study.valence``
(:func:`mer.eval.splits.grouped_folds`, seed 0, disjointness checked on every fold);
the reference is the recipe with k = 600, C = 0.01 (macro-F1 0.753 ± 0.038); p = paired
t-test over the 15 folds.

* ``hierarchical``: the recipe's P(high) / P(low arousal) split by a specialist trained
  on the training clips of that half only (Q3 vs Q4, Q1 vs Q2; k in {100, 300, 600},
  C in {0.003, 0.01, 0.03}), alone and averaged with the recipe's probabilities.
  Measured 2026-11-30: the best, the average with k = 300, C = 0.01, 0.756 ± 0.038
  (d +0.003, p 0.38); specialists alone 0.728-0.752.
* ``augment``: two augmented copies of every clip (copy 0 white noise at 20-40 dB SNR,
  copy 1 pitch shift within +-1 semitone; :mod:`mer.audio.augment`, their inputs cached by
  content, ~34 min on 2 busy cores the first time), added to the training folds (weight
  0.5 or 1) and / or averaged at test time. Measured 2026-11-30: every setting within
  0.746-0.757 (best: training copies at weight 0.5 with test-time averaging, 0.757 ±
  0.038, d +0.004, p 0.38); test-time averaging alone 0.748 (d -0.005).
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = Path(os.environ.get("MER_DATA", ROOT.parent / "shared" / "data")) / "4q-dev"


def recipe(k: int = 600, C: float = 0.01):
    from mer.models.recipe import EmotionClassifier

    return EmotionClassifier(k=k, C=C)


def macro_f1(y, classes, P) -> float:
    from sklearn.metrics import f1_score

    return float(f1_score(y, np.asarray(classes)[P.argmax(axis=1)], average="macro"))


def hierarchical(data, folds) -> dict:
    """Per-fold macro-F1 of the recipe and of each specialist setting."""
    res: dict[str, list] = {"recipe": []}
    for f in folds:
        tr, te = f.train, f.test
        base = recipe().fit(data.X[tr], data.y[tr], groups=data.groups[tr])
        P, cl = base.predict_proba(data.X[te]), list(base.classes_)
        res["recipe"].append(macro_f1(data.y[te], cl, P))
        for k in (100, 300, 600):
            for C in (0.003, 0.01, 0.03):
                Q = P.copy()
                for a, b in (("Q3", "Q4"), ("Q1", "Q2")):
                    half = tr[np.isin(data.y[tr], [a, b])]
                    spec = recipe(k, C).fit(data.X[half], data.y[half], groups=data.groups[half])
                    S = spec.predict_proba(data.X[te])
                    ia, ib = cl.index(a), cl.index(b)
                    total = P[:, ia] + P[:, ib]
                    Q[:, ia], Q[:, ib] = total * S[:, list(spec.classes_).index(a)], total * S[:, list(spec.classes_).index(b)]
                res.setdefault(f"specialists k={k} C={C}", []).append(macro_f1(data.y[te], cl, Q))
                res.setdefault(f"average k={k} C={C}", []).append(macro_f1(data.y[te], cl, (P + Q) / 2))
    return res


def augmented_rows(paths, *, jobs: int) -> np.ndarray:
    """Recipe inputs of the two augmented copies of each clip, shape (2, n_clips, n_columns), cached."""
    from mer.audio.augment import Noise, PerCopy, PitchShift
    from mer.extraction.augmented import augmented_features
    from mer.features.blocks import DEFAULT_BLOCKS
    from mer.features.descriptors import DescriptorConfig, describe
    from mer.features.embeddings import embed_signal

    aug = PerCopy((Noise(min_snr_db=20.0, max_snr_db=40.0), PitchShift(min_semitones=-1.0, max_semitones=1.0)))
    blocks = []
    for _, config in DEFAULT_BLOCKS:
        method = describe if isinstance(config, DescriptorConfig) else embed_signal
        copies, failures, _ = augmented_features(paths, 2, aug, config=config, method=method, jobs=jobs)
        if failures:
            raise SystemExit(f"{len(failures)} copies failed, e.g. {failures[0]}")
        blocks.append(np.array(copies))  # (n_clips, 2, n_block_columns)
    return np.concatenate(blocks, axis=2).transpose(1, 0, 2).astype(np.float32)


def augment(data, folds, X_aug) -> dict:
    """Per-fold macro-F1 with augmented copies in training (weight 0.5 / 1) and / or averaged at test."""
    res: dict[str, list] = {}
    for f in folds:
        tr, te = f.train, f.test
        base = recipe().fit(data.X[tr], data.y[tr], groups=data.groups[tr])
        P0 = base.predict_proba(data.X[te])
        PA = [base.predict_proba(X[te]) for X in X_aug]
        res.setdefault("recipe", []).append(macro_f1(data.y[te], base.classes_, P0))
        res.setdefault("recipe, test-time average", []).append(macro_f1(data.y[te], base.classes_, np.mean([P0, *PA], 0)))
        for w in (0.5, 1.0):
            for copies in ([0], [1], [0, 1]):
                X = np.concatenate([data.X[tr]] + [X_aug[k][tr] for k in copies])
                n = len(copies) + 1
                weights = np.r_[np.ones(len(tr)), np.full(len(tr) * len(copies), w)]
                m = recipe().fit(X, np.tile(data.y[tr], n), groups=np.tile(data.groups[tr], n),
                                 sample_weight=None if w == 1.0 else weights)
                Q = [m.predict_proba(data.X[te])] + [m.predict_proba(X_aug[k][te]) for k in copies]
                name = f"train copies {copies} w={w:g}"
                res.setdefault(name, []).append(macro_f1(data.y[te], m.classes_, Q[0]))
                res.setdefault(name + ", test-time average", []).append(macro_f1(data.y[te], m.classes_, np.mean(Q, 0)))
    return res


def table(res: dict) -> str:
    from mer.eval.stats import paired_test

    ref = np.array(res["recipe"])
    lines = []
    for name, v in res.items():
        v = np.array(v)
        test = "" if name == "recipe" else f"  d {v.mean() - ref.mean():+.3f} p {paired_test(v, ref)['p_t']:.3f}"
        lines.append(f"{name:<44} {v.mean():.3f} ± {v.std():.3f}{test}")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("variant", choices=("hierarchical", "augment"))
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--jobs", type=int, default=1)
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT / "src"))
    from mer.eval.splits import check_disjoint_groups, grouped_folds
    from mer.study.valence import load_valence_data
    from mer.study.windows import load_study_data

    warnings.filterwarnings("ignore", category=UserWarning)
    data = load_valence_data(args.data, jobs=args.jobs)
    folds = grouped_folds(data.y, data.groups, n_splits=5, repeats=3, seed=0)
    for f in folds:
        check_disjoint_groups(data.groups, f.train, f.test)
    if args.variant == "hierarchical":
        print(table(hierarchical(data, folds)))
        return 0
    paths = load_study_data(args.data, jobs=args.jobs).paths  # the clip order of data's rows
    if len(paths) != len(data.y):  # every 4q-dev clip has targets; a subset would misalign the copies
        raise SystemExit(f"{len(paths)} clips but {len(data.y)} rows with targets")
    print(table(augment(data, folds, augmented_rows(paths, jobs=args.jobs))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
