r"""How good are ``mer similar``'s neighbours? Weights chosen on some artists, scored on others.

    python -m mer.study.similar [--data ../shared/data/4q-dev] [--emopia ../shared/data/emopia-midi]
                                [--k 10] [--lockbox 0.4] [--seed 0] [--json FILE] [--cached-only]

For each clip of 4q-dev, its `k` nearest neighbours among the clips of **other artists**
(:class:`mer.workflows.similarity.VectorIndex`, the vector a scan stores:
:func:`vectors`), scored by

* ``same_quadrant``: the share of neighbours with the clip's quadrant label (random: the
  share of same-label clips among the other artists', about 0.25);
* ``va_distance``: the mean Euclidean distance from the neighbours' tag-derived valence /
  arousal targets (:mod:`mer.data.targets`) to the clip's (lower is better).

The weights and metric are **chosen** (the best ``same_quadrant``, ties to the lower
``va_distance``) over :func:`candidates` on the clips of a random 60 % of the artists
(queries and neighbours among those only) and **reported** on the other 40 %, the
lockbox: artists no choice touched (queries and neighbours among the lockbox clips).
Reported beside it, on the same clips: random neighbours (exact expectation), valence /
arousal-only neighbours (the model's two outputs), and embeddings only.

No leakage: the valence / arousal in each clip's vector come from models that never saw
its artist (:func:`out_of_fold_va`: out of fold over 5 artist-grouped folds, the default
head's configuration); for the choice, out of fold over the choice artists' clips only,
so the choice reads nothing of the lockbox. The embeddings, tempo and loudness come from
no model trained on these labels.

With ``--emopia``: the rendered EMOPIA clips (:func:`mer.data.emopia.load_emopia`),
neighbours among **other songs**, the chosen configuration and the same baselines
(``same_quadrant`` only: EMOPIA has no tag targets); valence / arousal out of fold per
song (:func:`emopia_out_of_fold_va`).

``--cached-only``: only the clips whose inputs are all cached, as many per quadrant as the
rarest has (for a quick look while a cache fills; the reported figures used every clip).

Measured 2026-12-08 (all 540 clips, docs/recommendation.md): chosen on 337 clips of 241
artists: penultimate layers, valence / arousal 4, tempo / loudness 0.25, cosine; lockbox
(203 clips, 160 artists) same quadrant 0.691, target distance 0.349 (valence / arousal
only 0.665 / 0.364, embeddings only 0.525 / 0.432, random 0.245 / 0.585). The first
version used the shipped model's in-sample valence / arousal (0.885 / 0.254: leakage).

Inputs come through the feature cache (:func:`mer.extraction.inputs.clip_inputs`,
``$MER_CACHE``); tempo is the recipe's descriptor column and loudness the signal check's
RMS dBFS, as ``mer scan`` stores them.
"""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path

import numpy as np

from mer.audio.quality import facts_dict
from mer.core.errors import MerError
from mer.workflows.similarity import METRICS, VectorIndex, assemble, pooled_columns

#: Tempo column of the recipe's inputs (what ``mer scan`` stores as ``tempo_bpm``).
TEMPO_COLUMN = "descriptors:tempo"

#: Groups of the vector searched together in :func:`candidates`.
#: Artist-grouped (4q-dev) or song-grouped (EMOPIA) folds of the out-of-fold valence / arousal.
OOF_FOLDS = 5

EMB_SETS = {"tags": ("musicnn_msd:tags", "musicnn_mtt:tags"),
            "penultimate": ("musicnn_msd:penultimate", "musicnn_mtt:penultimate"),
            "both": ("musicnn_msd:tags", "musicnn_mtt:tags", "musicnn_msd:penultimate", "musicnn_mtt:penultimate")}


def clip_rows(dataset, *, cache_dir=None, jobs: int = 1, progress: bool = False):
    """The classifier's input rows of a dataset's readable clips and what the vector takes from them.

    Returns ``(rows (n_ok, n_columns), parts, ok mask (n,))``: `parts` holds the pooled
    embedding columns, the tempo and the RMS loudness of each readable clip (no model output).
    """
    from mer.extraction.inputs import clip_inputs, measure_files

    model = affect_model()
    inputs = clip_inputs(dataset.paths, cache_dir=cache_dir, jobs=jobs, progress=progress)
    if inputs.names != [n for name, config in model.inputs for n in _names(name, config)]:
        raise MerError("the shipped model reads other inputs than the recipe's default blocks")
    ok_paths = [p for p, good in zip(inputs.paths, inputs.ok) if good]
    loud = measure_files(ok_paths, cache_dir=cache_dir, jobs=jobs, progress=progress)
    rms = np.array([np.nan if f is None else facts_dict(f)["rms_dbfs"] for f in loud.features])
    X = inputs.X
    parts = {"pooled": X[:, pooled_columns(inputs.names)], "tempo": X[:, inputs.names.index(TEMPO_COLUMN)],
             "rms": rms}
    return X, parts, inputs.ok


def vectors(parts: dict, va: np.ndarray, rows=slice(None)) -> np.ndarray:
    """The vectors (:func:`mer.workflows.similarity.assemble`) of clips `rows` with valence / arousal `va` (n, 2)."""
    return assemble(parts["pooled"][rows], va[:, 0], va[:, 1], parts["tempo"][rows], parts["rms"][rows])


def affect_model():
    """The shipped default model as its classifier and mer's own valence / arousal head (no listener block)."""
    from mer.workflows.predict import load_model

    return load_model().without_listener()


def out_of_fold_va(X, labels, groups, targets, *, model=None, n_splits: int = OOF_FOLDS, seed: int = 0
                   ) -> np.ndarray:
    """Valence / arousal (n, 2) of each row from the default head's configuration fitted without its group.

    Out-of-fold over `n_splits` group folds (:func:`mer.models.affect_fit.out_of_fold_affect`:
    every row is predicted by a classifier and ridges whose training rows share no group
    with it): the recipe classifier ``EmotionClassifier(k=600, C=0.01)`` for the probability
    differences, the shipped card's ridge ``k`` / ``alpha`` per axis, its blend weights,
    clipped to [-1, 1] as the head does. `targets` (n, 2) are the tag-derived ones.
    """
    from mer.models.affect_fit import out_of_fold_affect
    from mer.models.recipe import EmotionClassifier

    card = (model or affect_model()).metadata["affect"]
    reg, prob = out_of_fold_affect(X, labels, groups, {"valence": targets[:, 0], "arousal": targets[:, 1]},
                                   classifier=EmotionClassifier(k=600, C=0.01), regressor_params=card["regressors"],
                                   n_splits=n_splits, random_state=seed)
    w = np.array([card["weights"]["valence"], card["weights"]["arousal"]])
    return np.clip(w * reg + (1 - w) * prob, -1.0, 1.0)


def cached_only(dataset, *, cache_dir=None):
    """The dataset's clips whose every input block is already in the feature cache (nothing computed)."""
    from dataclasses import replace

    from mer.core.cache import FeatureCache
    from mer.features.blocks import DEFAULT_BLOCKS

    caches = [FeatureCache(cache_dir, config) for _, config in DEFAULT_BLOCKS]
    keep = [c for c in dataset.clips if all(cache.key_for_file(c.path) in cache for cache in caches)]
    return replace(dataset, clips=keep)


def balanced(dataset, *, seed: int = 0):
    """As many clips of each quadrant as the rarest has (a seeded draw), so that random neighbours score 0.25."""
    from dataclasses import replace

    rng = np.random.default_rng(seed)
    by_label = {q: [c for c in dataset.clips if c.label == q] for q in dataset.labels}
    n = min(len(v) for v in by_label.values())
    keep = {id(c) for v in by_label.values() for i in rng.choice(len(v), size=n, replace=False) for c in [v[i]]}
    return replace(dataset, clips=[c for c in dataset.clips if id(c) in keep])


def _names(name, config):
    from mer.features.blocks import block_names

    return block_names(name, config)


def candidates() -> list[tuple[str, dict, str]]:
    """(label, weights, metric) searched: embedding set x valence / arousal weight x tempo / loudness weight x metric."""
    out = []
    for (emb, groups), w_va, w_tl, metric in itertools.product(EMB_SETS.items(), (0, 0.25, 0.5, 1, 2, 4),
                                                               (0, 0.25), METRICS):
        weights = {g: 1.0 / len(groups) * 2 for g in groups}  # the embedding set weighs 2 in all
        weights |= {"valence": w_va, "arousal": w_va, "tempo": w_tl, "loudness": w_tl}
        out.append((f"{emb} va={w_va:g} tl={w_tl:g} {metric}", weights, metric))
    return out


def neighbours(X: np.ndarray, groups: np.ndarray, k: int, weights: dict, metric: str) -> np.ndarray:
    """(n, k) indices of each row's `k` nearest rows of other groups (standardised over `X` itself)."""
    index = VectorIndex(X, weights=weights, metric=metric)
    out = np.zeros((len(X), k), dtype=int)
    for i in range(len(X)):
        out[i] = index.nearest(X[i], k, groups != groups[i])[0]
    return out


def scores(nn: np.ndarray, labels: np.ndarray, targets: np.ndarray | None) -> dict:
    """``same_quadrant`` and ``va_distance`` (None without targets) of neighbour lists (n, k)."""
    same = float((labels[nn] == labels[:, None]).mean())
    if targets is None:
        return {"same_quadrant": same, "va_distance": None}
    d = np.linalg.norm(targets[nn] - targets[:, None, :], axis=2)
    return {"same_quadrant": same, "va_distance": float(d.mean())}


def random_scores(labels: np.ndarray, groups: np.ndarray, targets: np.ndarray | None) -> dict:
    """The expectation of :func:`scores` for neighbours drawn uniformly among other groups' clips."""
    same, dist = [], []
    for i in range(len(labels)):
        other = groups != groups[i]
        same.append(float((labels[other] == labels[i]).mean()))
        if targets is not None:
            dist.append(float(np.linalg.norm(targets[other] - targets[i], axis=1).mean()))
    return {"same_quadrant": float(np.mean(same)), "va_distance": float(np.mean(dist)) if dist else None}


def evaluate(X, labels, groups, targets, k: int, configs) -> dict:
    """label -> :func:`scores` of each configuration, plus ``random``."""
    out = {label: scores(neighbours(X, groups, k, w, m), labels, targets) for label, w, m in configs}
    out["random"] = random_scores(labels, groups, targets)
    return out


def baselines() -> list[tuple[str, dict, str]]:
    """Valence / arousal only, and embeddings only (tags, cosine)."""
    return [("valence/arousal only", {"valence": 1.0, "arousal": 1.0}, "euclidean"),
            ("embeddings only (tags, cosine)", {"musicnn_msd:tags": 1.0, "musicnn_mtt:tags": 1.0}, "cosine")]


def lockbox_mask(groups: np.ndarray, lockbox: float = 0.4, seed: int = 0) -> np.ndarray:
    """(n,) True for the clips of a seeded `lockbox` share of the groups (artists)."""
    names = np.unique(groups)
    locked = set(np.random.default_rng(seed).choice(names, size=int(round(lockbox * len(names))), replace=False))
    return np.array([g in locked for g in groups])


def choose_and_report(X_choice, X, box, labels, groups, targets, *, k: int = 10, seed: int = 0) -> dict:
    """Choose the configuration on the choice clips (``~box``), score it and the baselines on the lockbox (``box``).

    `X_choice` (n_choice, d): the choice clips' vectors, built from the choice artists' data
    only; `X` (n, d): every clip's vectors (the lockbox rows are scored, and all rows).
    """
    sub = (lambda a, m: None if a is None else a[m])
    search = evaluate(X_choice, labels[~box], groups[~box], sub(targets, ~box), k, candidates())
    search.pop("random")
    best = min(search, key=lambda c: (-search[c]["same_quadrant"], search[c]["va_distance"] or 0.0))
    chosen = next(c for c in candidates() if c[0] == best)
    report = evaluate(X[box], labels[box], groups[box], sub(targets, box), k, [chosen, *baselines()])
    everything = evaluate(X, labels, groups, targets, k, [chosen, *baselines()])
    return {"k": k, "seed": seed, "choice_clips": int((~box).sum()), "lockbox_clips": int(box.sum()),
            "choice_artists": len(set(groups[~box])), "lockbox_artists": len(set(groups[box])),
            "chosen": {"label": best, "weights": chosen[1], "metric": chosen[2], "choice_score": search[best]},
            "search": search, "lockbox": report, "all_clips": everything}


def va_quality(va: np.ndarray, targets: np.ndarray) -> dict:
    """Pearson r of predicted valence / arousal (n, 2) against the targets (n, 2), per axis."""
    return {axis: float(np.corrcoef(va[:, j], targets[:, j])[0, 1]) for j, axis in enumerate(("valence", "arousal"))}


def fourq_study(root, *, cache_dir=None, k: int = 10, lockbox: float = 0.4, seed: int = 0, jobs: int = 1,
                cached: bool = False) -> dict:
    """:func:`choose_and_report` on 4q-dev (groups: artists; targets: tag-derived); `cached`: cached clips only.

    Valence / arousal are out of fold (:func:`out_of_fold_va`, artist folds): for the choice,
    over the choice artists' clips only; for the lockbox and all clips, over every clip.
    """
    from mer.data.datasets import load_4q
    from mer.data.targets import find_norms, mood_targets

    ds = load_4q(root)
    ds = balanced(cached_only(ds, cache_dir=cache_dir), seed=seed) if cached else ds
    rows, parts, ok = clip_rows(ds, cache_dir=cache_dir, jobs=jobs)
    clips = [c for c, good in zip(ds.clips, ok) if good]
    tg = mood_targets(Path(root) / "panda_dataset_taffc_metadata.csv", find_norms(root))
    keep = np.flatnonzero([c.id in tg for c in clips])
    clips = [clips[i] for i in keep]
    rows, parts = rows[keep], {name: v[keep] for name, v in parts.items()}
    targets = np.array([(tg[c.id].valence, tg[c.id].arousal) for c in clips])
    labels, groups = np.array([c.label for c in clips]), np.array([c.group for c in clips])
    box = lockbox_mask(groups, lockbox, seed)
    model = affect_model()
    va = out_of_fold_va(rows, labels, groups, targets, model=model, seed=seed)
    va_choice = out_of_fold_va(rows[~box], labels[~box], groups[~box], targets[~box], model=model, seed=seed)
    out = choose_and_report(vectors(parts, va_choice, ~box), vectors(parts, va), box, labels, groups, targets,
                            k=k, seed=seed)
    out["valence_arousal"] = {"protocol": f"out of fold, {OOF_FOLDS} artist-grouped folds (choice: over the choice "
                              "artists only; lockbox and all clips: over every clip)",
                              "r_all": va_quality(va, targets), "r_choice": va_quality(va_choice, targets[~box])}
    return out


def emopia_out_of_fold_va(rows, labels, songs, fourq_rows, fourq_labels, fourq_groups, *, model=None,
                          n_splits: int = OOF_FOLDS, seed: int = 0) -> np.ndarray:
    """Valence / arousal (n, 2) of EMOPIA clips from the default model's configuration fitted without their song.

    The shipped routed classifier (:mod:`mer.models.routing`, its parameters cloned) refitted
    per song-grouped fold on every 4q-dev clip plus the other folds' EMOPIA clips; the
    shipped head's ridges, fitted on 4q-dev only (they never saw EMOPIA), for the regression;
    the shipped blend weights.
    """
    from sklearn.base import clone

    from mer.eval.splits import check_disjoint_groups, grouped_folds
    from mer.models.affect import probability_affect

    model = model or affect_model()
    prob = np.empty((len(rows), 2))
    for f in grouped_folds(labels, songs, n_splits=n_splits, seed=seed):
        check_disjoint_groups(songs, f.train, f.test)
        X = np.vstack([fourq_rows, rows[f.train]])
        domain = np.r_[np.zeros(len(fourq_rows), bool), np.ones(len(f.train), bool)]
        clf = clone(model.estimator).fit(X, np.r_[fourq_labels, labels[f.train]],
                                         groups=np.r_[fourq_groups, songs[f.train]], domain=domain)
        prob[f.test] = probability_affect(clf.predict_proba(rows[f.test]), clf.classes_)
    w = np.array([model.affect.weights["valence"], model.affect.weights["arousal"]])
    return np.clip(w * model.affect_regression(rows)[:, :2] + (1 - w) * prob, -1.0, 1.0)


def emopia_study(root, chosen: dict, fourq_root, *, cache_dir=None, k: int = 10, jobs: int = 1,
                 cached: bool = False, seed: int = 0) -> dict:
    """The chosen configuration and the baselines on rendered EMOPIA (groups: songs; no targets).

    Valence / arousal out of fold per song group (:func:`emopia_out_of_fold_va`).
    """
    from mer.data.datasets import load_4q
    from mer.data.emopia import load_emopia

    ds = load_emopia(root, cache_dir=cache_dir, jobs=jobs, progress=False)
    ds = cached_only(ds, cache_dir=cache_dir) if cached else ds
    rows, parts, ok = clip_rows(ds, cache_dir=cache_dir, jobs=jobs)
    clips = [c for c, good in zip(ds.clips, ok) if good]
    fq = load_4q(fourq_root)
    fq_rows, _, fq_ok = clip_rows(fq, cache_dir=cache_dir, jobs=jobs)
    fq_clips = [c for c, good in zip(fq.clips, fq_ok) if good]
    labels, songs = np.array([c.label for c in clips]), np.array([c.group for c in clips])
    va = emopia_out_of_fold_va(rows, labels, songs, fq_rows, np.array([c.label for c in fq_clips]),
                               np.array([c.group for c in fq_clips]), seed=seed)
    config = ("chosen: " + chosen["label"], chosen["weights"], chosen["metric"])
    return {"clips": len(clips), "songs": len(set(songs)),
            **evaluate(vectors(parts, va), labels, songs, None, k, [config, *baselines()])}


def table(rows: dict) -> list[str]:
    """Markdown lines: one row per configuration."""
    lines = ["| neighbours | same quadrant | valence/arousal target distance |", "|---|---:|---:|"]
    for name, s in rows.items():
        if isinstance(s, dict) and "same_quadrant" in s:
            d = "-" if s["va_distance"] is None else f"{s['va_distance']:.3f}"
            lines.append(f"| {name} | {s['same_quadrant']:.3f} | {d} |")
    return lines


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m mer.study.similar", description=__doc__.split("\n\n")[1])
    parser.add_argument("--data", default="../shared/data/4q-dev")
    parser.add_argument("--emopia", default=None)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--lockbox", type=float, default=0.4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--json", default=None)
    parser.add_argument("--cached-only", action="store_true", help="only clips whose inputs are all in the cache, "
                        "as many per quadrant as the rarest has")
    args = parser.parse_args(argv)
    result = {"fourq": fourq_study(args.data, k=args.k, lockbox=args.lockbox, seed=args.seed, jobs=args.jobs,
                                   cached=args.cached_only)}
    fq = result["fourq"]
    print(f"valence / arousal {fq['valence_arousal']['protocol']}: r {fq['valence_arousal']['r_all']}")
    print(f"chosen on {fq['choice_clips']} clips of {fq['choice_artists']} artists: {fq['chosen']['label']}")
    print(f"\nlockbox: {fq['lockbox_clips']} clips of {fq['lockbox_artists']} artists, k={args.k}")
    print("\n".join(table(fq["lockbox"])))
    print(f"\nall {fq['choice_clips'] + fq['lockbox_clips']} clips (the chosen row is in-sample for the choice)")
    print("\n".join(table(fq["all_clips"])))
    if args.emopia:
        result["emopia"] = emopia_study(args.emopia, fq["chosen"], args.data, k=args.k, jobs=args.jobs,
                                        cached=args.cached_only, seed=args.seed)
        print(f"\nEMOPIA (rendered): {result['emopia']['clips']} clips of {result['emopia']['songs']} songs")
        print("\n".join(table(result["emopia"])))
    if args.json:
        from mer.core.io import write_json

        write_json(args.json, result)


if __name__ == "__main__":
    main()
