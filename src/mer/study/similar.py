r"""How good are ``mer similar``'s neighbours? Weights chosen on some artists, scored on others.

    python -m mer.study.similar [--data ../shared/data/4q-dev] [--emopia ../shared/data/emopia-midi]
                                [--k 10] [--lockbox 0.4] [--seed 0] [--json FILE] [--cached-only]

For each clip of 4q-dev, its `k` nearest neighbours among the clips of **other artists**
(:class:`mer.workflows.similarity.VectorIndex`, the vector a scan stores:
:func:`clip_vectors`), scored by

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

Caveat measured-in: the shipped model was trained on every 4q-dev clip (and every EMOPIA
clip), so its valence / arousal on them are in-sample; the embeddings-only row has no
such advantage (musicnn never saw these labels).

With ``--emopia``: the rendered EMOPIA clips (:func:`mer.data.emopia.load_emopia`),
neighbours among **other songs**, the chosen configuration and the same baselines
(``same_quadrant`` only: EMOPIA has no tag targets).

``--cached-only``: only the clips whose inputs are all cached, as many per quadrant as the
rarest has (for a quick look while a cache fills; the reported figures used every clip).

Measured 2026-12-08 (all 540 clips, docs/recommendation.md): chosen on 337 clips of 241
artists: penultimate layers, valence / arousal 4, tempo / loudness 0.25, cosine; lockbox
(203 clips, 160 artists) same quadrant 0.885, target distance 0.254 (valence / arousal
only 0.862 / 0.266, embeddings only 0.525 / 0.432, random 0.245 / 0.585).

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
EMB_SETS = {"tags": ("musicnn_msd:tags", "musicnn_mtt:tags"),
            "penultimate": ("musicnn_msd:penultimate", "musicnn_mtt:penultimate"),
            "both": ("musicnn_msd:tags", "musicnn_mtt:tags", "musicnn_msd:penultimate", "musicnn_mtt:penultimate")}


def clip_vectors(dataset, *, cache_dir=None, jobs: int = 1, progress: bool = False):
    """(vectors (n, VECTOR_SIZE), ok mask (n,)) of a dataset's clips, as ``mer scan`` would store them."""
    from mer.extraction.inputs import clip_inputs, measure_files
    from mer.workflows.predict import load_model, predict_features

    model = load_model()
    inputs = clip_inputs(dataset.paths, cache_dir=cache_dir, jobs=jobs, progress=progress)
    if inputs.names != [n for name, config in model.inputs for n in _names(name, config)]:
        raise MerError("the shipped model reads other inputs than the recipe's default blocks")
    ok_paths = [p for p, good in zip(inputs.paths, inputs.ok) if good]
    preds = predict_features(model, inputs.X, ok_paths)
    loud = measure_files(ok_paths, cache_dir=cache_dir, jobs=jobs, progress=progress)
    rms = [np.nan if f is None else facts_dict(f)["rms_dbfs"] for f in loud.features]
    X = assemble(inputs.X[:, pooled_columns(inputs.names)], [p.valence for p in preds], [p.arousal for p in preds],
                 inputs.X[:, inputs.names.index(TEMPO_COLUMN)], rms)
    return X, inputs.ok


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


def choose_and_report(X, labels, groups, targets, *, k: int = 10, lockbox: float = 0.4, seed: int = 0) -> dict:
    """Choose the configuration on the choice artists, score it and the baselines on the lockbox artists."""
    names = np.unique(groups)
    rng = np.random.default_rng(seed)
    locked = set(rng.choice(names, size=int(round(lockbox * len(names))), replace=False))
    box = np.array([g in locked for g in groups])
    sub = (lambda a, m: None if a is None else a[m])
    search = evaluate(X[~box], labels[~box], groups[~box], sub(targets, ~box), k, candidates())
    search.pop("random")
    best = min(search, key=lambda c: (-search[c]["same_quadrant"], search[c]["va_distance"] or 0.0))
    chosen = next(c for c in candidates() if c[0] == best)
    report = evaluate(X[box], labels[box], groups[box], sub(targets, box), k, [chosen, *baselines()])
    everything = evaluate(X, labels, groups, targets, k, [chosen, *baselines()])
    return {"k": k, "seed": seed, "choice_clips": int((~box).sum()), "lockbox_clips": int(box.sum()),
            "choice_artists": int(len(names) - len(locked)), "lockbox_artists": len(locked),
            "chosen": {"label": best, "weights": chosen[1], "metric": chosen[2], "choice_score": search[best]},
            "search": search, "lockbox": report, "all_clips": everything}


def fourq_study(root, *, cache_dir=None, k: int = 10, lockbox: float = 0.4, seed: int = 0, jobs: int = 1,
                cached: bool = False) -> dict:
    """:func:`choose_and_report` on 4q-dev (groups: artists; targets: tag-derived); `cached`: cached clips only."""
    from mer.data.datasets import load_4q
    from mer.data.targets import find_norms, mood_targets

    ds = load_4q(root)
    ds = balanced(cached_only(ds, cache_dir=cache_dir), seed=seed) if cached else ds
    X, ok = clip_vectors(ds, cache_dir=cache_dir, jobs=jobs)
    clips = [c for c, good in zip(ds.clips, ok) if good]
    tg = mood_targets(Path(root) / "panda_dataset_taffc_metadata.csv", find_norms(root))
    keep = np.array([c.id in tg for c in clips])
    clips = [c for c, good in zip(clips, keep) if good]
    targets = np.array([(tg[c.id].valence, tg[c.id].arousal) for c in clips])
    return choose_and_report(X[keep], np.array([c.label for c in clips]), np.array([c.group for c in clips]),
                             targets, k=k, lockbox=lockbox, seed=seed)


def emopia_study(root, chosen: dict, *, cache_dir=None, k: int = 10, jobs: int = 1, cached: bool = False) -> dict:
    """The chosen configuration and the baselines on rendered EMOPIA (groups: songs; no targets)."""
    from mer.data.emopia import load_emopia

    ds = load_emopia(root, cache_dir=cache_dir, jobs=jobs, progress=False)
    ds = cached_only(ds, cache_dir=cache_dir) if cached else ds
    X, ok = clip_vectors(ds, cache_dir=cache_dir, jobs=jobs)
    clips = [c for c, good in zip(ds.clips, ok) if good]
    config = ("chosen: " + chosen["label"], chosen["weights"], chosen["metric"])
    return {"clips": len(clips), "songs": len({c.group for c in clips}),
            **evaluate(X, np.array([c.label for c in clips]), np.array([c.group for c in clips]), None, k,
                       [config, *baselines()])}


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
    print(f"chosen on {fq['choice_clips']} clips of {fq['choice_artists']} artists: {fq['chosen']['label']}")
    print(f"\nlockbox: {fq['lockbox_clips']} clips of {fq['lockbox_artists']} artists, k={args.k}")
    print("\n".join(table(fq["lockbox"])))
    print(f"\nall {fq['choice_clips'] + fq['lockbox_clips']} clips (the chosen row is in-sample for the choice)")
    print("\n".join(table(fq["all_clips"])))
    if args.emopia:
        result["emopia"] = emopia_study(args.emopia, fq["chosen"], k=args.k, jobs=args.jobs, cached=args.cached_only)
        print(f"\nEMOPIA (rendered): {result['emopia']['clips']} clips of {result['emopia']['songs']} songs")
        print("\n".join(table(result["emopia"])))
    if args.json:
        from mer.core.io import write_json

        write_json(args.json, result)


if __name__ == "__main__":
    main()
