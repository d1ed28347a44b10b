"""The paper's study, done honestly: every model x every dataset (as given and augmented).

:func:`run_experiment` runs a grid of *cells* — (dataset, augmentation level, model) —
under grouped cross-validation with **the same folds for every model and every
augmentation level of a dataset**, so that differences can be tested pairwise over
folds. Augmented copies are made only of the training clips of a fold, carry their
source's group and never reach validation or test (:class:`mer.workflows.augmented.AugmentedClassifier`).

Each finished cell is written atomically to ``OUT/cells/<cell>.json`` together with a
fingerprint of everything it depends on (clips, folds, model parameters, augmenter,
seed, feature configuration); a rerun skips every cell whose file is there with the same
fingerprint, so an interrupted run resumes at the first unfinished cell.

:func:`write_report` then writes ``results.json`` (every fold of every cell),
``results.md`` (mean +- std of macro-F1 and accuracy, the best per column in bold, and
the findings), ``scores.png`` (bar chart with error bars) and ``confusion-<dataset>.png``
(the best model per dataset). :func:`findings` tests the paper's three claims with
paired tests over folds (paired t-test and Wilcoxon signed-rank).
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Sequence

import numpy as np

from mer.audio.augment import description, get_augmenter
from mer.core.errors import MerError
from mer.core.io import write_json, write_text
from mer.core.progress import progress_bar
from mer.data import datasets, emopia
from mer.eval.metrics import classification_metrics
from mer.eval.splits import check_disjoint_groups, grouped_folds
from mer.eval.stats import paired_test
from mer.extraction.augmented import CopyBank
from mer.features.paper import FeatureConfig
from mer.models.baselines import BASELINES
from mer.report.plots import _figure, save_figure
from mer.workflows.augmented import AugmentedClassifier
from mer.workflows.train import load_features, make_estimator

#: The recurrent architectures (the paper's RNN, BRNN, LSTM, plus GRU).
NEURAL_MODELS = ("rnn", "brnn", "lstm", "gru")

#: Models of a ``--quick`` run: two recurrent nets the claims compare, two classic baselines.
QUICK_MODELS = ("rnn", "lstm", "logreg", "rbf_svm")

#: What ``--quick`` changes: clips per quadrant (whole groups), folds, epochs.
QUICK = dict(n_per_label=16, folds=3, epochs=5, patience=3)

#: Significance level of the findings.
ALPHA = 0.05


def default_models() -> tuple[str, ...]:
    """rnn, brnn, lstm, gru and the 12 baselines."""
    return (*NEURAL_MODELS, *BASELINES)


def is_neural(model: str) -> bool:
    return model.removeprefix("paper-") in NEURAL_MODELS


def make_model(name: str, *, seed: int = 0, epochs: int | None = None, patience: int | None = None):
    """An unfitted estimator for `name` (see :func:`mer.workflows.train.make_estimator`), seeded, bars off."""
    if is_neural(name):
        params = dict(random_state=seed, progress=False)
        if epochs is not None:
            params["epochs"] = epochs
        if patience is not None:
            params["patience"] = patience
        return make_estimator(name, **params)
    return make_estimator(name, random_state=seed)


# -- datasets -------------------------------------------------------------------------------


def subset_per_label(dataset, n_per_label: int, seed: int = 0):
    """A seeded subset with about `n_per_label` clips per label, taking whole groups only.

    Groups are visited in a seeded random order; a group is taken while any of its
    labels is still short of `n_per_label`. Whole groups keep the subset's folds honest.
    """
    from collections import Counter

    rng = np.random.default_rng(seed)
    by_group: dict[str, list[int]] = {}
    for i, c in enumerate(dataset.clips):
        by_group.setdefault(c.group, []).append(i)
    names = sorted(by_group)
    counts: Counter = Counter()
    keep: list[int] = []
    for g in (names[j] for j in rng.permutation(len(names))):
        labels = {dataset.clips[i].label for i in by_group[g]}
        if any(counts[lab] < n_per_label for lab in labels):
            keep += by_group[g]
            counts.update(dataset.clips[i].label for i in by_group[g])
        if all(counts[lab] >= n_per_label for lab in dataset.labels):
            break
    return dataset.subset(sorted(keep))


def load_dataset(source: str, *, n_per_label: int | None = None, seed: int = 0, cache_dir=None, jobs: int = 1,
                 progress: bool = True):
    """Load DATA; a MIDI folder is indexed, subset, then rendered (so ``--quick`` renders only what it uses)."""
    path = Path(source)
    if path.is_dir() and emopia.is_emopia_folder(path):
        ds = emopia.emopia_index(path)
        if n_per_label:
            ds = subset_per_label(ds, n_per_label, seed)
        return emopia.render_dataset(ds, cache_dir=cache_dir, jobs=jobs, progress=progress)
    ds = datasets.load(source, cache_dir=cache_dir)
    return subset_per_label(ds, n_per_label, seed) if n_per_label else ds


@dataclass
class PreparedData:
    """One dataset of the grid: its clips' features, labels, groups, folds and copy bank."""

    source: str
    name: str
    tag: str
    ids: np.ndarray
    y: np.ndarray
    groups: np.ndarray
    bank: object
    folds: list
    problems: list[str] = field(default_factory=list)
    failures: list = field(default_factory=list)

    @property
    def n(self) -> int:
        return len(self.y)

    def fingerprint(self) -> str:
        blob = json.dumps({"ids": self.ids.tolist(), "y": self.y.tolist(), "groups": self.groups.tolist(),
                           "folds": [f.test.tolist() for f in self.folds]}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()


def _tag(source: str) -> str:
    name = Path(source.rstrip("/")).name or source
    return "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in name)


def prepare(source: str, *, n_per_label: int | None, folds: int, repeats: int, seed: int, augmenter,
            config=None, cache_dir=None, jobs: int = 1, progress: bool = True) -> PreparedData:
    """Load, (subset,) extract through the cache and split one dataset."""
    ds = load_dataset(source, n_per_label=n_per_label, seed=seed, cache_dir=cache_dir, jobs=jobs, progress=progress)
    feats = load_features(ds, config=config, cache_dir=cache_dir, jobs=jobs, progress=progress)
    path_of = {c.id: c.path for c in ds.clips}
    bank = CopyBank(feats.X, [path_of[i] for i in feats.ids], augmenter, seed=seed, config=config,
                    cache_dir=cache_dir, jobs=jobs, progress=progress)
    fold_list = grouped_folds(feats.y, feats.groups, n_splits=folds, repeats=repeats, seed=seed)
    return PreparedData(source, ds.name, _tag(source), feats.ids, feats.y, feats.groups, bank, fold_list,
                        list(ds.problems), list(feats.failures))


# -- cells -----------------------------------------------------------------------------------


def cell_name(tag: str, n_copies: int, model: str) -> str:
    return f"{tag}__aug{n_copies}__{model}"


def _cell_fingerprint(data: PreparedData, n_copies: int, model: str, estimator, augmenter, seed: int, config) -> str:
    params = {k: v for k, v in estimator.get_params(deep=False).items() if k != "progress"}
    blob = json.dumps({"data": data.fingerprint(), "n_copies": n_copies, "model": model, "params": params,
                       "augment": description(augmenter) if n_copies else None, "seed": seed,
                       "features": (config or FeatureConfig()).key()}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def run_cell(data: PreparedData, n_copies: int, model: str, *, seed: int = 0, epochs: int | None = None,
             patience: int | None = None, progress: bool = True) -> dict:
    """Cross-validate one (dataset, augmentation level, model) cell on the dataset's folds.

    Returns a JSON-ready dict: ``folds`` (per fold: metrics, confusion, sizes, wall time),
    ``predictions`` (out-of-fold label per clip id, per repeat), ``wall_s``.
    """
    labels = sorted(set(data.y.tolist()))
    X = np.arange(data.n)
    predictions: dict[int, dict[str, str]] = {}
    folds = []
    t_all = time.perf_counter()
    with progress_bar(f"{model} folds", total=len(data.folds), enabled=progress) as advance:
        for f in data.folds:
            check_disjoint_groups(data.groups, f.train, f.test)
            est = AugmentedClassifier(make_model(model, seed=seed, epochs=epochs, patience=patience), data.bank,
                                      n_copies=n_copies, random_state=seed)
            t0 = time.perf_counter()
            est.fit(X[f.train], data.y[f.train], data.groups[f.train])
            pred = np.asarray(est.predict(X[f.test])).astype(str)
            m = classification_metrics(data.y[f.test], pred, labels)
            folds.append({"repeat": f.repeat, "fold": f.fold, "n_train_clips": len(est.train_indices_),
                          "n_validation_clips": len(est.validation_indices_), "n_train_samples": est.n_train_samples_,
                          "n_test": len(f.test), "wall_s": time.perf_counter() - t0, **m})
            predictions.setdefault(f.repeat, {}).update(dict(zip(data.ids[f.test].tolist(), pred.tolist())))
            advance()
    return {"folds": folds, "predictions": {str(r): p for r, p in predictions.items()},
            "labels": labels, "wall_s": time.perf_counter() - t_all}


def run_experiment(
    data: Sequence[str],
    out: str | PathLike,
    *,
    models: Sequence[str] | None = None,
    augment: Sequence[int] = (0, 3),
    augmenter="paper",
    folds: int = 5,
    repeats: int = 1,
    seed: int = 0,
    quick: bool = False,
    n_per_label: int | None = None,
    epochs: int | None = None,
    config=None,
    cache_dir: str | PathLike | None = None,
    jobs: int = 1,
    progress: bool = True,
    max_cells: int | None = None,
) -> dict:
    """Run (or resume) the grid and write the report.

    Parameters
    ----------
    data : sequence of str
        Datasets (anything :func:`mer.data.datasets.load` accepts, or an EMOPIA MIDI folder).
    out : path
        Output folder (cells, results, plots).
    models : sequence of str, optional
        Default: :func:`default_models` (``--quick``: :data:`QUICK_MODELS`).
    augment : sequence of int
        Augmentation levels: copies per training clip (0 = as given).
    augmenter : str or augmenter
        See :func:`mer.audio.augment.get_augmenter` (default: the paper's three transforms).
    folds, repeats, seed
        Grouped folds, shared by every cell of a dataset.
    quick : bool
        A small first look (:data:`QUICK`): fewer clips, folds, epochs and models.
    n_per_label, epochs : int, optional
        Override the clip subset per quadrant and the maximum epochs of the networks.
    config : FeatureConfig, optional
    cache_dir, jobs, progress
        Feature cache, worker processes for extraction and rendering, progress bars.
    max_cells : int, optional
        Compute at most this many cells; the report then covers the finished cells only
        (``max_cells=0`` reports on what an interrupted run left, computing nothing).

    Returns
    -------
    dict
        The content of ``results.json``.
    """
    out = Path(out)
    augmenter = get_augmenter(augmenter)
    n_per_label, folds, epochs, patience = _quick_settings(quick, n_per_label, folds, epochs)
    models = list(models or (QUICK_MODELS if quick else default_models()))
    augment = _levels(augment)
    for m in models:  # fail on a typo before any work
        make_model(m)
    t_start = time.perf_counter()
    prepared = _prepare_all(data, n_per_label=n_per_label, folds=folds, repeats=repeats, seed=seed,
                            augmenter=augmenter, config=config, cache_dir=cache_dir, jobs=jobs, progress=progress)
    grid = _grid(prepared, augment, models)
    cells, n_computed, n_skipped = _run_grid(grid, out, augmenter=augmenter, seed=seed, epochs=epochs,
                                             patience=patience, config=config, progress=progress, max_cells=max_cells)
    results = {
        "datasets": [_dataset_summary(p) for p in prepared],
        "settings": {"models": models, "augment": augment, "augmenter": augmenter.describe(), "folds": folds,
                     "repeats": repeats, "seed": seed, "quick": quick, "n_per_label": n_per_label,
                     "epochs": epochs, "patience": patience},
        "complete": len(cells) == len(grid),
        "n_cells_computed": n_computed,
        "n_cells_skipped": n_skipped,
        "wall_s": time.perf_counter() - t_start,
        "cells": cells,
    }
    results["findings"] = findings(results)
    write_report(out, results)
    return results


def _quick_settings(quick: bool, n_per_label: int | None, folds: int,
                    epochs: int | None) -> tuple[int | None, int, int | None, int | None]:
    """(n_per_label, folds, epochs, patience) of a run: :data:`QUICK` fills in what a quick run leaves open."""
    if not quick:
        return n_per_label, folds, epochs, None
    return n_per_label or QUICK["n_per_label"], min(folds, QUICK["folds"]), epochs or QUICK["epochs"], QUICK["patience"]


def _levels(augment: Sequence[int]) -> list[int]:
    """Distinct augmentation levels in increasing order; MerError if one is negative."""
    levels = sorted(set(int(a) for a in augment))
    if any(a < 0 for a in levels):
        raise MerError(f"augmentation levels must be >= 0, got {levels}")
    return levels


def _prepare_all(data: Sequence[str], **kwargs) -> list[PreparedData]:
    """:func:`prepare` of every dataset (keyword arguments as it takes them), with distinct tags."""
    prepared = [prepare(d, **kwargs) for d in data]
    tags = [p.tag for p in prepared]
    for i, t in enumerate(tags):  # two folders with one name: keep cells apart
        if tags.count(t) > 1:
            prepared[i].tag = f"{t}-{i + 1}"
    return prepared


def _grid(prepared: list[PreparedData], augment: list[int], models: list[str]) -> list[tuple[PreparedData, int, str]]:
    """Every (dataset, augmentation level, model) cell, in the order they are computed.

    Cheap cells first, so that an interrupted run has filled as much of the table as it could:
    level by level (copies cost audio work), and within a level the baselines of every dataset
    before the networks.
    """
    families = ([m for m in models if not is_neural(m)], [m for m in models if is_neural(m)])
    return [(p, a, m) for a in augment for family in families for p in prepared for m in family]


def _run_grid(grid: list[tuple[PreparedData, int, str]], out: Path, *, augmenter, seed: int, epochs: int | None,
              patience: int | None, config, progress: bool, max_cells: int | None) -> tuple[list[dict], int, int]:
    """Compute the cells of `grid` that ``out/cells`` has no current file for (at most `max_cells`).

    Returns (every cell finished now or before, in grid order; cells computed; cells reused).
    """
    cells, n_computed, n_skipped = [], 0, 0
    with progress_bar("cells", total=len(grid), enabled=progress) as advance:
        for p, a, m in grid:
            name = cell_name(p.tag, a, m)
            path = out / "cells" / f"{name}.json"
            fp = _cell_fingerprint(p, a, m, make_model(m, seed=seed, epochs=epochs, patience=patience), augmenter,
                                   seed, config)
            cell = _read_cell(path, fp)
            if cell is None:
                if max_cells is not None and n_computed >= max_cells:
                    continue  # collect the finished cells that follow, compute no more
                cell = {"cell": name, "dataset": p.tag, "source": p.source, "n_copies": a, "model": m,
                        "fingerprint": fp, **run_cell(p, a, m, seed=seed, epochs=epochs, patience=patience,
                                                      progress=progress)}
                write_json(path, cell)
                n_computed += 1
            else:
                n_skipped += 1
            cells.append(cell)
            advance()
    return cells, n_computed, n_skipped


def _dataset_summary(p: PreparedData) -> dict:
    """A dataset's entry of ``results.json``: size, groups, counts per label, folds, problems."""
    return {"tag": p.tag, "source": p.source, "name": p.name, "n_clips": p.n,
            "n_groups": int(len(np.unique(p.groups))),
            "counts": {lab: int((p.y == lab).sum()) for lab in sorted(set(p.y.tolist()))},
            "folds": [{"repeat": f.repeat, "fold": f.fold, "test_ids": p.ids[f.test].tolist()} for f in p.folds],
            "problems": p.problems, "failures": [str(r) for _, r in p.failures],
            "copy_failures": [str(r) for _, r in getattr(p.bank, "failures", [])]}


def _read_cell(path: Path, fingerprint: str) -> dict | None:
    try:
        cell = json.loads(path.read_text())
    except (FileNotFoundError, ValueError, OSError):
        return None
    return cell if cell.get("fingerprint") == fingerprint and cell.get("folds") else None


# -- statistics ------------------------------------------------------------------------------


def fold_values(cell: dict, metric: str) -> np.ndarray:
    """Per-fold values of ``accuracy`` or ``macro_f1``, in (repeat, fold) order."""
    folds = sorted(cell["folds"], key=lambda f: (f["repeat"], f["fold"]))
    return np.array([f[metric] for f in folds], dtype=float)


def _verdict(test: dict, expected_positive: bool = True) -> str:
    d, p = test["mean_diff"], test["p_t"]
    if not np.isfinite(d):
        return "not testable"
    if np.isfinite(p) and p < ALPHA:
        return "supports" if (d > 0) == expected_positive else "contradicts"
    return "no significant difference"


def _index(results: dict) -> dict:
    return {(c["dataset"], c["n_copies"], c["model"]): c for c in results["cells"]}


def findings(results: dict, *, metric: str = "accuracy") -> list[dict]:
    """The paper's three claims, each tested on this run's folds.

    Each finding: ``claim``, ``summary`` (one sentence from the numbers), ``tests`` (one
    row per comparison: what, the two means, the paired test, a verdict). Comparisons use
    `metric` (the paper reports accuracy); macro-F1 tests are included alongside.
    """
    models = results["settings"]["models"]
    ctx = _Comparisons(
        cells=_index(results), tags=[d["tag"] for d in results["datasets"]],
        levels=sorted(results["settings"].get("augment") or {c["n_copies"] for c in results["cells"]}),
        neural=[m for m in models if is_neural(m)], baselines=[m for m in models if not is_neural(m)],
        metric=metric, missing="" if results.get("complete", True) else " (or its cells are not finished yet)")
    return [_augmentation_claim(ctx), _data_size_claim(ctx), _family_claim(ctx)]


@dataclass
class _Comparisons:
    """What the claims are tested on: the run's cells by (dataset, level, model), its
    datasets, augmentation levels and model families, and the metric of the verdicts."""

    cells: dict
    tags: list[str]
    levels: list[int]
    neural: list[str]
    baselines: list[str]
    metric: str
    missing: str  # added to a 'not testable' summary of an unfinished run

    def test(self, tag: str, a1: int, m1: str, a2: int, m2: str, expected_positive: bool = True) -> dict | None:
        """Cell (a1, m1) against cell (a2, m2) of dataset `tag`, paired over folds; None if one is missing."""
        c1, c2 = self.cells.get((tag, a1, m1)), self.cells.get((tag, a2, m2))
        if c1 is None or c2 is None:
            return None
        row = {"dataset": tag, "a": f"{m1} (aug {a1})", "b": f"{m2} (aug {a2})"}
        for met in ("accuracy", "macro_f1"):
            x, y = fold_values(c1, met), fold_values(c2, met)
            row[met] = {"mean_a": float(x.mean()), "mean_b": float(y.mean()), **paired_test(x, y)}
            row[met]["verdict"] = _verdict(row[met], expected_positive)
        row["verdict"] = row[self.metric]["verdict"]
        return row


def _augmentation_claim(ctx: _Comparisons) -> dict:
    """1. Augmentation improves RNN accuracy (by about 20 %)."""
    rows = []
    if len(ctx.levels) > 1 and ctx.neural:
        for tag in ctx.tags:
            for m in ctx.neural:
                for a in ctx.levels[1:]:
                    r = ctx.test(tag, a, m, ctx.levels[0], m)
                    if r:
                        r["relative_change"] = r["accuracy"]["mean_a"] / max(r["accuracy"]["mean_b"], 1e-12) - 1
                        rows.append(r)
    if rows:
        n_sup = sum(r["verdict"] == "supports" for r in rows)
        n_con = sum(r["verdict"] == "contradicts" for r in rows)
        rel = np.mean([r["relative_change"] for r in rows])
        summary = (f"{n_sup} of {len(rows)} (dataset, network) pairs gain significantly from augmentation and "
                   f"{n_con} lose significantly (paired t-test over folds, p < {ALPHA}); the mean relative change "
                   f"in accuracy is {rel:+.1%} (the paper: about +20 %).")
    else:
        summary = ("Not testable in this run: it needs a recurrent model and at least two augmentation levels"
                   f"{ctx.missing}.")
    return {"claim": "Augmentation improves RNN accuracy by about 20 %", "summary": summary, "tests": rows}


def _data_size_claim(ctx: _Comparisons) -> dict:
    """2. Simple RNNs win on small data, BRNN / LSTM on larger data."""
    rows = []
    complex_nets = [m for m in ("brnn", "lstm") if m in ctx.neural]
    if "rnn" in ctx.neural and complex_nets:
        small, large = ctx.levels[0], ctx.levels[-1]
        for tag in ctx.tags:
            for m in complex_nets:
                r = ctx.test(tag, small, "rnn", small, m)
                if r:
                    r["size"] = "small"
                    rows.append(r)
                if large != small:
                    r = ctx.test(tag, large, m, large, "rnn")
                    if r:
                        r["size"] = "large"
                        rows.append(r)
    if rows:
        def count(size, verdict):
            return sum(r["size"] == size and r["verdict"] == verdict for r in rows)

        n_small = sum(r["size"] == "small" for r in rows)
        n_large = sum(r["size"] == "large" for r in rows)
        summary = (f"On the small data (no augmentation) the simple RNN beats BRNN/LSTM significantly in "
                   f"{count('small', 'supports')} of {n_small} comparisons and loses significantly in "
                   f"{count('small', 'contradicts')}; ")
        summary += (f"on the larger data (augmented) BRNN/LSTM beat the RNN significantly in "
                    f"{count('large', 'supports')} of {n_large} and lose significantly in "
                    f"{count('large', 'contradicts')}." if n_large else
                    f"the larger (augmented) data is not in this run{ctx.missing}.")
    else:
        summary = f"Not testable in this run: it needs rnn and brnn or lstm{ctx.missing}."
    return {"claim": "Simple RNNs win on small data, BRNN/LSTM on larger data", "summary": summary, "tests": rows}


def _family_claim(ctx: _Comparisons) -> dict:
    """3. Neural networks beat classic baselines on larger data."""
    rows, levels = [], ctx.levels
    if ctx.neural and ctx.baselines:
        for tag in ctx.tags:
            for a in (levels[0], levels[-1]) if len(levels) > 1 else levels:
                def best(names):
                    have = [m for m in names if (tag, a, m) in ctx.cells]
                    return max(have, key=lambda m: fold_values(ctx.cells[(tag, a, m)], ctx.metric).mean()) \
                        if have else None

                bn, bb = best(ctx.neural), best(ctx.baselines)
                if bn and bb:
                    r = ctx.test(tag, a, bn, a, bb)
                    r["size"] = "large" if a == levels[-1] and len(levels) > 1 else "small"
                    rows.append(r)
    if rows:
        large_rows = [r for r in rows if r["size"] == "large"]
        which = "On the larger (augmented) data" if large_rows else (
            f"The larger (augmented) data is not in this run{ctx.missing}; on the data as given")
        large_rows = large_rows or rows
        n_sup = sum(r["verdict"] == "supports" for r in large_rows)
        n_con = sum(r["verdict"] == "contradicts" for r in large_rows)
        summary = (f"{which} the best network beats the best baseline significantly on {n_sup} of "
                   f"{len(large_rows)} datasets and loses significantly on {n_con} (the best of each family is "
                   f"chosen by mean {ctx.metric} on these same folds, an optimistic choice that helps the family "
                   f"with more members: here {len(ctx.baselines)} baselines, {len(ctx.neural)} networks).")
    else:
        summary = f"Not testable in this run: it needs at least one network and one baseline{ctx.missing}."
    return {"claim": "Neural networks beat classic baselines on larger data", "summary": summary, "tests": rows}


# -- report ----------------------------------------------------------------------------------


def _fmt(x: float) -> str:
    return f"{x:.3f}"


def results_table(results: dict, metric: str) -> str:
    """Markdown: one row per model, one column per (dataset, augmentation); mean +- std; best per column bold."""
    cells = _index(results)
    cols = [(d["tag"], a) for d in results["datasets"] for a in results["settings"]["augment"]]
    models = results["settings"]["models"]
    head = "| model | " + " | ".join(f"{t} aug {a}" for t, a in cols) + " |"
    lines = [head, "|" + "---|" * (len(cols) + 1)]
    best = {}
    for col in cols:
        means = {m: fold_values(cells[(*col, m)], metric).mean() for m in models if (*col, m) in cells}
        best[col] = max(means.values()) if means else None
    for m in models:
        row = [m]
        for col in cols:
            c = cells.get((*col, m))
            if c is None:
                row.append("–")
                continue
            v = fold_values(c, metric)
            text = f"{_fmt(v.mean())} ± {_fmt(v.std())}"
            row.append(f"**{text}**" if np.isclose(v.mean(), best[col]) else text)
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def _p(x: float) -> str:
    return "–" if not np.isfinite(x) else (f"{x:.3f}" if x >= 0.001 else f"{x:.1e}")


def findings_markdown(items: list[dict]) -> str:
    parts = []
    for k, f in enumerate(items, 1):
        parts.append(f"### {k}. {f['claim']}\n\n{f['summary']}\n")
        if f["tests"]:
            parts.append("| dataset | A | B | acc A | acc B | Δ acc | p (t) | p (Wilcoxon) | Δ F1 | p (t) | verdict |")
            parts.append("|---|---|---|---|---|---|---|---|---|---|---|")
            for r in f["tests"]:
                a, m = r["accuracy"], r["macro_f1"]
                parts.append(f"| {r['dataset']} | {r['a']} | {r['b']} | {_fmt(a['mean_a'])} | {_fmt(a['mean_b'])} | "
                             f"{a['mean_diff']:+.3f} | {_p(a['p_t'])} | {_p(a['p_wilcoxon'])} | "
                             f"{m['mean_diff']:+.3f} | {_p(m['p_t'])} | {r['verdict']} |")
            parts.append("")
    return "\n".join(parts)


def write_report(out: str | PathLike, results: dict) -> list[Path]:
    """Write results.json, results.md and the plots into `out`; returns the paths written."""
    out = Path(out)
    written = [out / "results.json", out / "results.md"]
    write_json(written[0], results)
    s = results["settings"]
    repeats_text = f" x {s['repeats']} repeats" if s["repeats"] > 1 else ""
    networks_text = ""
    if any(is_neural(m) for m in s["models"]):
        from mer.models.sequence import SequenceClassifier

        net = SequenceClassifier()
        networks_text = (f" Recurrent networks: at most {s.get('epochs') or net.epochs} epochs, early stopping "
                         f"after {s.get('patience') or net.patience} epochs without a lower loss on a grouped "
                         "validation split of the training clips (never an augmented copy).")
    lines = [
        "# mer experiment", "",
        f"Models: {', '.join(s['models'])}. Augmentation levels (copies per training clip): "
        f"{', '.join(map(str, s['augment']))}. Grouped {s['folds']}-fold cross-validation"
        f"{repeats_text}, the same folds for every cell of a "
        f"dataset; seed {s['seed']}{'; --quick' if s['quick'] else ''}.{networks_text}"
        + ("" if results["complete"] else " **Incomplete run: some cells are missing.**"), "",
        *([f"**Quick run** ({s['n_per_label']} clips per quadrant, whole groups; at most {s['epochs']} epochs): a "
           "first look at the pipeline, not a result to quote.", ""] if s["quick"] else []),
        "| dataset | clips | groups | per quadrant |", "|---|---|---|---|",
    ]
    for d in results["datasets"]:
        lines.append(f"| {d['tag']} | {d['n_clips']} | {d['n_groups']} | "
                     + ", ".join(f"{k} {v}" for k, v in d["counts"].items()) + " |")
    lines += ["", "## Macro-F1 (mean ± std over folds; best per column in bold)", "", results_table(results, "macro_f1"),
              "", "## Accuracy (mean ± std over folds; best per column in bold)", "", results_table(results, "accuracy"),
              "", "## Findings", "",
              "Each claim of the paper is tested on this run's folds with a paired t-test (and a Wilcoxon "
              f"signed-rank test) over folds; 'supports' / 'contradicts' need p < {ALPHA} on accuracy. With "
              f"{s['folds'] * s['repeats']} paired folds the smallest two-sided Wilcoxon p is "
              f"{2 / 2 ** (s['folds'] * s['repeats']):.3g}. An augmented network also takes (1 + copies) times as "
              "many optimiser steps per epoch, so where training stops at the epoch limit rather than by early "
              "stopping, part of an augmentation gain may be more training rather than more data.", "",
              findings_markdown(results["findings"]),
              f"Wall time of this invocation: {results['wall_s']:.0f} s ({results['n_cells_computed']} cells computed, "
              f"{results['n_cells_skipped']} reused); cross-validation time of all cells, as measured when each "
              f"was computed: {sum(c.get('wall_s', 0.0) for c in results['cells']):.0f} s.", ""]
    if results["cells"]:
        written += plot_scores(results, out / "scores.png")
        written += plot_best_confusions(results, out)
        lines += ["![scores](scores.png)", ""] + [f"![{p.stem}]({p.name})" for p in written[3:]] + [""]
    write_text(written[1], "\n".join(lines))
    return written


def plot_scores(results: dict, path: Path, metric: str = "macro_f1") -> list[Path]:
    """Grouped bar chart: models on x, one bar per (dataset, augmentation), error bars = std over folds."""
    cells = _index(results)
    cols = [(d["tag"], a) for d in results["datasets"] for a in results["settings"]["augment"]]
    models = [m for m in results["settings"]["models"] if any((*c, m) in cells for c in cols)]
    plt, fig = _figure(figsize=(max(6.0, 0.7 * len(models) * max(1, len(cols)) ** 0.5 + 3), 4.5))
    ax = fig.add_subplot(111)
    width = 0.8 / max(1, len(cols))
    x = np.arange(len(models))
    for j, col in enumerate(cols):
        vals = [fold_values(cells[(*col, m)], metric) if (*col, m) in cells else np.array([np.nan]) for m in models]
        ax.bar(x + (j - (len(cols) - 1) / 2) * width, [v.mean() for v in vals], width,
               yerr=[v.std() for v in vals], capsize=2, label=f"{col[0]} aug {col[1]}")
    ax.axhline(0.25, color="grey", lw=0.8, ls="--", label="chance (4 classes)")
    ax.set_xticks(x)
    ax.set_xticklabels(models, rotation=45, ha="right")
    ax.set_ylabel(f"{metric.replace('_', '-')} (mean ± std over folds)")
    ax.legend(fontsize=7, ncol=2)
    ax.set_title("Grouped cross-validation, same folds for every model")
    save_figure(fig, path)
    return [path]


def plot_best_confusions(results: dict, out: Path, metric: str = "macro_f1") -> list[Path]:
    """Confusion matrix (summed over folds, row-normalised, counts annotated) of the best cell per dataset."""
    written = []
    for d in results["datasets"]:
        mine = [c for c in results["cells"] if c["dataset"] == d["tag"]]
        if not mine:
            continue
        best = max(mine, key=lambda c: fold_values(c, metric).mean())
        C = np.sum([np.asarray(f["confusion"]) for f in best["folds"]], axis=0)
        labels = best["labels"]
        R = C / np.maximum(C.sum(axis=1, keepdims=True), 1)
        plt, fig = _figure(figsize=(4.6, 4.0))
        ax = fig.add_subplot(111)
        ax.imshow(R, cmap="Blues", vmin=0, vmax=1)
        for i in range(len(labels)):
            for j in range(len(labels)):
                ax.text(j, i, f"{C[i, j]}\n{R[i, j]:.0%}", ha="center", va="center", fontsize=8,
                        color="white" if R[i, j] > 0.6 else "black")
        ax.set_xticks(range(len(labels)), labels)
        ax.set_yticks(range(len(labels)), labels)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        ax.set_title(f"{d['tag']}: {best['model']} (aug {best['n_copies']})\n"
                     f"macro-F1 {fold_values(best, metric).mean():.3f}", fontsize=9)
        path = out / f"confusion-{d['tag']}.png"
        save_figure(fig, path)
        written.append(path)
    return written
