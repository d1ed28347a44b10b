"""The window-model study of ``mer timeline``: window features, artist-grouped CV, held-out medleys.

    python -m mer.study.windows [--data ../shared/data/4q-dev] [--folds 5] [--repeats 3]
                                [--medley-repeats 1] [--medleys-per-fold 2] [--jobs 1]
                                [--save-model PATH] [--json FILE]

prints the CV table (per fold and mean +- std) and the medley table (one line per hop and
smoothing setting). Measured figures: :mod:`mer.workflows.timeline`'s docstring. Feature
extraction of the 540 clips took 41 min of wall time with ``--jobs 2`` on 2 busy shared
cores (cached afterwards: a rerun takes ~3 min).

1. **Window features** (:func:`clip_rows`). Each 4Q clip is decoded once per rate; the
   musicnn patch outputs of the whole clip are computed once (both models of the recipe's
   inputs, :func:`mer.features.patch_stream.stream_patch_outputs`); each window (10 s
   every 5 s, the last one ending at the clip's end: 5 per 30-s clip) gets its
   descriptors and the statistics of the patches centred in it, exactly as
   :func:`mer.workflows.timeline.timeline` builds a window's input row; the clip's own
   row (the shipped model's inputs) pools all its patches and describes the whole clip.
   Rows are cached per clip, keyed by the file's content and the settings
   (:class:`mer.core.cache.FeatureCache`).
2. **CV** (:func:`cross_validate_windows`): the clip-level artist-grouped folds of
   :func:`mer.eval.splits.grouped_folds` (5 x 3); windows inherit their clip's label and
   fold, and :func:`mer.eval.splits.check_disjoint_groups` checks every fold on windows
   as on clips. Per fold, the recipe (:class:`mer.models.recipe.EmotionClassifier` with the
   shipped clip model's chosen k = 600, C = 0.01: one fit per fold, where the inner 3 x 3 grid
   took ~4 CPU-min per fold on the windows; ``--k`` / ``--C`` with several values tune inside)
   is fitted on the training windows (the window model) and on the training clips (the
   shipped recipe); reported: window-level macro-F1, clip-level
   macro-F1 of the window model (mean probability over a clip's windows), and the clip
   model's clip-level macro-F1, on the same test clips.
3. **Medleys** (:func:`medley_study`): per fold, tracks of 3-6 *test* clips of that fold
   (consecutive clips of different quadrants, all artists different), plain and with 2-s
   crossfades, analysed with that fold's window model, so no medley clip was trained on.
   For each smoothing setting: the share of each clip's span whose quadrant equals its
   label and its clip-level prediction, and boundary errors (each true join to the
   nearest detected section boundary; boundaries more than 5 s from every join are
   spurious).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import numpy as np

from mer.audio import decode as audio
from mer.audio.windows import window_spans
from mer.core.cache import FeatureCache, file_digest
from mer.features.embeddings import MUSICNN_SR, EmbeddingConfig
from mer.features.patch_stream import stream_patch_outputs
from mer.models.modelfile import TrainedModel
from mer.workflows.timeline import window_inputs

#: Bumped when :func:`clip_rows` changes what it stores.
ROWS_VERSION = 1


@dataclass(frozen=True)
class RowsKey:
    """What a cached clip entry holds (window settings and the model's input blocks); a cache key."""

    window: float
    hop: float
    inputs: tuple

    def key(self) -> str:
        blob = json.dumps({"kind": "timeline-window-rows", "v": ROWS_VERSION, "window": self.window,
                           "hop": self.hop, "inputs": self.inputs}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


def rows_key(model: TrainedModel, *, window: float, hop: float) -> RowsKey:
    return RowsKey(float(window), float(hop),
                   tuple((name, type(c).__name__, json.dumps(c.to_dict(), sort_keys=True)) for name, c in model.inputs))


def clip_spans(duration: float, *, window: float, hop: float) -> list[tuple[float, float]]:
    """Windows of a clip for training: :func:`mer.audio.windows.window_spans`, the rule timelines read by.

    A 30-s clip with 10-s windows every 5 s: 0-10, 5-15, 10-20, 15-25, 20.06-30.06.
    """
    return window_spans(duration, window=window, hop=hop)


def signal_rows(model: TrainedModel, y: np.ndarray, sr: int, spans, *, y16: np.ndarray | None = None) -> np.ndarray:
    """Input rows of `model` for windows `spans` (s) of one signal, the patches computed once.

    Parameters
    ----------
    y : np.ndarray, shape (n,)
        The signal at `sr` Hz (the rate of the descriptor blocks).
    y16 : np.ndarray, optional
        The same signal at 16 kHz (resampled from `y` when not given).

    Returns
    -------
    np.ndarray, shape (len(spans), n_columns), float32
    """
    import soxr

    configs = [c for _, c in model.inputs if isinstance(c, EmbeddingConfig)]
    if y16 is None:
        y16 = soxr.resample(y, sr, MUSICNN_SR, quality="HQ").astype(np.float32)
    shared = stream_patch_outputs([y16], configs) if configs else None
    rows = []
    for t0, t1 in spans:
        seg = y[round(t0 * sr): round(t1 * sr)]
        rows.append(window_inputs(model, {sr: seg}, shared=shared, span=(t0, t1))[0])
    return np.stack(rows)


def clip_rows(path, model: TrainedModel, *, window: float, hop: float, cache: FeatureCache | None = None
              ) -> np.ndarray:
    """Row 0: the clip's own inputs (whole clip); rows 1..: its windows (:func:`clip_spans`).

    Each rate decoded once; cached under the file's SHA-256 when `cache` is given.
    """
    key = file_digest(path) if cache is not None else None
    if cache is not None:
        hit = cache.get(key)
        if hit is not None:
            return hit
    sr = model.feature_config.sr
    y = audio.load(path, sr=sr)
    y16 = audio.load(path, sr=MUSICNN_SR)
    duration = len(y) / sr
    rows = signal_rows(model, y, sr, [(0.0, duration)] + clip_spans(duration, window=window, hop=hop), y16=y16)
    if cache is not None:
        cache.put(key, rows)
    return rows


def _rows_worker(args) -> tuple[int, np.ndarray | None, str | None]:
    i, path, model_path, window, hop, cache_root = args
    from mer.core.errors import MerError
    from mer.workflows.predict import load_model

    model = _model_cached(model_path, load_model)
    try:
        cache = FeatureCache(cache_root, rows_key(model, window=window, hop=hop))
        return i, clip_rows(path, model, window=window, hop=hop, cache=cache), None
    except MerError as exc:
        return i, None, str(exc)


_MODELS: dict = {}


def _model_cached(path, load_model):
    if path not in _MODELS:  # the study's rows are the classifier's inputs: no listener block
        _MODELS[path] = load_model(path).without_listener()
    return _MODELS[path]


def dataset_rows(paths, *, model_path=None, window: float, hop: float, cache_root=None, jobs: int = 1,
                 progress: bool = True) -> tuple[list[np.ndarray | None], dict[int, str]]:
    """:func:`clip_rows` of every path (cached), in `jobs` processes; failures by index."""
    from mer.core.progress import progress_bar

    tasks = [(i, str(p), model_path, float(window), float(hop), cache_root) for i, p in enumerate(paths)]
    out: list[np.ndarray | None] = [None] * len(tasks)
    failures: dict[int, str] = {}
    with progress_bar("window features", total=len(tasks), enabled=progress) as advance:
        if jobs <= 1:
            results = map(_rows_worker, tasks)
        else:
            import multiprocessing as mp

            pool = mp.get_context("spawn").Pool(jobs, initializer=_one_thread)
            results = pool.imap_unordered(_rows_worker, tasks, chunksize=4)
        for i, rows, err in results:
            out[i] = rows
            if err:
                failures[i] = err
            advance()
    return out, failures


def _one_thread() -> None:
    import torch

    torch.set_num_threads(1)


# ---------------------------------------------------------------------------
# Cross-validation: window model vs clip model on the same artist-grouped folds
# ---------------------------------------------------------------------------


@dataclass
class StudyData:
    """Clip rows and window rows of a dataset (clips whose features failed left out).

    Attributes
    ----------
    paths, y, groups : np.ndarray, shape (n_clips,)
        File, quadrant label and artist group of each clip.
    X_clip : np.ndarray, shape (n_clips, n_columns)
        The shipped recipe's inputs of each whole clip.
    X_win : np.ndarray, shape (n_windows, n_columns)
    win_clip : np.ndarray, shape (n_windows,)
        The clip (row of `y`) each window was cut from.
    """

    paths: np.ndarray
    y: np.ndarray
    groups: np.ndarray
    X_clip: np.ndarray
    X_win: np.ndarray
    win_clip: np.ndarray
    failures: dict


def first_per_label(clips, n: int | None) -> list:
    """The first `n` clips of each label, in the dataset's order (all when `n` is None)."""
    seen: dict[str, int] = {}
    out = []
    for c in clips:
        seen[c.label] = seen.get(c.label, 0) + 1
        if n is None or seen[c.label] <= n:
            out.append(c)
    return out


def load_study_data(data_root, *, model_path=None, window: float = 10.0, hop: float = 5.0, cache_root=None,
                    jobs: int = 1, per_label: int | None = None, progress: bool = True) -> StudyData:
    """Rows of the 4Q clips under `data_root` (:func:`dataset_rows`, cached); `per_label` keeps the first n of each."""
    from mer.data.datasets import load_4q

    ds = load_4q(data_root)
    ds.clips = first_per_label(ds.clips, per_label)
    rows, failures = dataset_rows([c.path for c in ds.clips], model_path=model_path, window=window, hop=hop,
                                  cache_root=cache_root, jobs=jobs, progress=progress)
    keep = [i for i, r in enumerate(rows) if r is not None]
    clips = [ds.clips[i] for i in keep]
    X_clip, X_win, win_clip = stack_rows([rows[i] for i in keep])
    return StudyData(np.array([str(c.path) for c in clips]), np.array([c.label for c in clips]),
                     np.array([c.group for c in clips]), X_clip, X_win, win_clip,
                     {str(ds.clips[i].path): e for i, e in failures.items()})


def stack_rows(found: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Clip rows (n_clips, n_columns), window rows (n_windows, n_columns) and each window's clip
    (n_windows,) of :func:`clip_rows` results, in order."""
    return (np.stack([r[0] for r in found]), np.concatenate([r[1:] for r in found]),
            np.concatenate([np.full(len(r) - 1, j) for j, r in enumerate(found)]))


def window_folds(data: StudyData, folds):
    """Each clip-level fold as window indices (train, test), the artist grouping checked on both levels."""
    from mer.eval.splits import check_disjoint_groups

    out = []
    for f in folds:
        check_disjoint_groups(data.groups, f.train, f.test)
        wtr = np.flatnonzero(np.isin(data.win_clip, f.train))
        wte = np.flatnonzero(np.isin(data.win_clip, f.test))
        check_disjoint_groups(data.groups[data.win_clip], wtr, wte)
        out.append((wtr, wte))
    return out


def clip_probabilities(P_win: np.ndarray, win_clip: np.ndarray, clips: np.ndarray) -> np.ndarray:
    """Mean window probability of each clip in `clips`, shape (len(clips), n_labels)."""
    return np.stack([P_win[win_clip == c].mean(axis=0) for c in clips])


def run_fold(data: StudyData, fold, wtr: np.ndarray, wte: np.ndarray, *, estimator) -> dict:
    """Fit the window model and the clip model on one fold; their macro-F1 on its test clips / windows."""
    from sklearn.base import clone
    from sklearn.metrics import f1_score

    wm = clone(estimator).fit(data.X_win[wtr], data.y[data.win_clip[wtr]], groups=data.groups[data.win_clip[wtr]])
    P_win = wm.predict_proba(data.X_win[wte])
    y_win = data.y[data.win_clip[wte]]
    P_clip_w = clip_probabilities(P_win, data.win_clip[wte], fold.test)
    cm = clone(estimator).fit(data.X_clip[fold.train], data.y[fold.train], groups=data.groups[fold.train])
    P_clip_c = cm.predict_proba(data.X_clip[fold.test])
    y_test = data.y[fold.test]
    return {
        "repeat": fold.repeat, "fold": fold.fold, "n_train_clips": len(fold.train), "n_test_clips": len(fold.test),
        "n_train_windows": len(wtr), "n_test_windows": len(wte),
        "window_f1": float(f1_score(y_win, wm.classes_[P_win.argmax(1)], average="macro")),
        "clip_f1_window_model": float(f1_score(y_test, wm.classes_[P_clip_w.argmax(1)], average="macro")),
        "clip_f1_clip_model": float(f1_score(y_test, cm.classes_[P_clip_c.argmax(1)], average="macro")),
        "window_model_params": dict(wm.best_params_), "clip_model_params": dict(cm.best_params_),
        "_models": (wm, cm), "_clip_pred_window_model": dict(zip(fold.test, wm.classes_[P_clip_w.argmax(1)])),
        "_clip_pred_clip_model": dict(zip(fold.test, cm.classes_[P_clip_c.argmax(1)])),
    }


def cross_validate_windows(data: StudyData, folds, *, estimator, jobs: int = 1, progress: bool = True
                           ) -> list[dict]:
    """:func:`run_fold` of every fold, in `jobs` processes."""
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    from mer.core.progress import progress_bar

    pairs = window_folds(data, folds)
    with progress_bar("folds", total=len(folds), enabled=progress) as advance:
        if jobs <= 1:
            out = []
            for f, (wtr, wte) in zip(folds, pairs):
                out.append(run_fold(data, f, wtr, wte, estimator=estimator))
                advance()
            return out
        with ProcessPoolExecutor(jobs, mp_context=get_context("spawn")) as ex:
            futures = [ex.submit(run_fold, data, f, wtr, wte, estimator=estimator)
                       for f, (wtr, wte) in zip(folds, pairs)]
            out = []
            for fut in futures:
                out.append(fut.result())
                advance()
            return out


def cv_table(results: list[dict]) -> str:
    """Per-fold figures and mean ± std, as fixed-width text."""
    keys = ("window_f1", "clip_f1_window_model", "clip_f1_clip_model")
    head = f"{'repeat':>6} {'fold':>4}  {'window F1':>9}  {'clip F1 (window model)':>22}  {'clip F1 (clip model)':>20}"
    lines = [head]
    for r in results:
        lines.append(f"{r['repeat']:>6} {r['fold']:>4}  {r[keys[0]]:>9.3f}  {r[keys[1]]:>22.3f}  {r[keys[2]]:>20.3f}")
    m = {k: np.array([r[k] for r in results]) for k in keys}
    lines.append(f"{'mean':>11}  {m[keys[0]].mean():>9.3f}  {m[keys[1]].mean():>22.3f}  {m[keys[2]].mean():>20.3f}")
    lines.append(f"{'std':>11}  {m[keys[0]].std():>9.3f}  {m[keys[1]].std():>22.3f}  {m[keys[2]].std():>20.3f}")
    d = m[keys[1]] - m[keys[2]]
    lines.append(f"clip F1, window model - clip model: {d.mean():+.3f} ± {d.std():.3f} "
                 f"(window model better on {int((d > 0).sum())} of {len(d)} folds, worse on {int((d < 0).sum())})")
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# Medleys of held-out clips
# ---------------------------------------------------------------------------

#: A detected boundary farther than this from every true join is spurious, a join farther than this
#: from every detected boundary is missed (s).
BOUNDARY_TOLERANCE_S = 5.0


@dataclass
class Medley:
    """Clips played one after another (rows of :class:`StudyData`), joins in s, the signal at `sr` Hz."""

    clips: list[int]
    paths: list[str]
    crossfade_s: float
    y: np.ndarray
    sr: int
    spans: list[tuple[float, float]]
    joins: list[float]

    @property
    def duration(self) -> float:
        return len(self.y) / self.sr


def pick_sequences(data: StudyData, test: np.ndarray, *, n: int, rng: np.random.Generator) -> list[list[int]]:
    """`n` clip sequences of 3-6 test clips: consecutive quadrants differ, artists all different."""
    out = []
    for _ in range(n):
        length = int(rng.integers(3, 7))
        seq: list[int] = []
        for c in rng.permutation(test):
            if len(seq) == length:
                break
            if data.groups[c] in {data.groups[s] for s in seq} or (seq and data.y[c] == data.y[seq[-1]]):
                continue
            seq.append(int(c))
        out.append(seq)
    return out


def build_medley(data: StudyData, clips: list[int], *, sr: int, crossfade_s: float = 0.0) -> Medley:
    """Concatenate the clips (equal-power crossfades of `crossfade_s`); a join is the middle of its fade."""
    fade = round(crossfade_s * sr)
    y = audio.load(data.paths[clips[0]], sr=sr)
    spans, joins, start = [], [], 0.0
    for c in clips[1:]:
        nxt = audio.load(data.paths[c], sr=sr)
        join = (len(y) - fade / 2) / sr
        spans.append((start, join))
        joins.append(join)
        start = join
        if fade:
            t = np.linspace(0.0, np.pi / 2, fade, dtype=np.float32)
            mixed = y[-fade:] * np.cos(t) + nxt[:fade] * np.sin(t)
            y = np.concatenate([y[:-fade], mixed, nxt[fade:]])
        else:
            y = np.concatenate([y, nxt])
    spans.append((start, len(y) / sr))
    return Medley(list(clips), [str(data.paths[c]) for c in clips], crossfade_s, y.astype(np.float32), sr, spans, joins)


def span_agreement(windows, owned, span: tuple[float, float], quadrant: str) -> float:
    """Share of `span` (s) owned by windows whose quadrant is `quadrant`."""
    a, b = span
    hit = sum(max(0.0, min(o1, b) - max(o0, a)) for w, (o0, o1) in zip(windows, owned) if w.quadrant == quadrant)
    return hit / (b - a)


def boundary_errors(detected: list[float], joins: list[float]) -> tuple[list[float], int, int]:
    """Distance of each join to its nearest detected boundary (inf without any), spurious and missed counts.

    A detected boundary is spurious when no join lies within :data:`BOUNDARY_TOLERANCE_S`;
    a join is missed when no detected boundary does.
    """
    d = np.asarray(detected, dtype=float)
    errors = [float(np.min(np.abs(d - j))) if d.size else float("inf") for j in joins]
    spurious = int(sum(min((abs(b - j) for j in joins), default=np.inf) > BOUNDARY_TOLERANCE_S for b in d))
    missed = int(sum(e > BOUNDARY_TOLERANCE_S for e in errors))
    return errors, spurious, missed


def score_medley(P: np.ndarray, spans, labels, medley: Medley, clip_label, clip_pred, *, method: str, width: int,
                 switch_prob: float) -> dict:
    """One medley's timeline under one smoothing setting, scored against its clips and joins.

    Parameters
    ----------
    P : np.ndarray, shape (len(spans), n_labels)
        The model's raw probabilities of each window.
    clip_label, clip_pred : sequence of str
        Each medley clip's label and clip-level prediction.
    """
    from mer.workflows.timeline import Window, apply_smoothing, owned_spans, sections

    windows = [Window(t0, t1, None, None, dict(zip(labels, map(float, row))), None, None)
               for (t0, t1), row in zip(spans, P)]
    apply_smoothing(windows, tuple(labels), method=method, width=width, switch_prob=switch_prob)
    owned = owned_spans(windows, medley.duration)
    secs = sections(windows, medley.duration)
    errors, spurious, missed = boundary_errors([s.start_s for s in secs[1:]], medley.joins)
    # a join between clips the model reads alike (same clip-level prediction) cannot show as a boundary
    seen = [e for e, a, b in zip(errors, clip_pred, clip_pred[1:]) if a != b]
    return {"errors_detectable": seen,"agree_label": [span_agreement(windows, owned, sp, q) for sp, q in zip(medley.spans, clip_label)],
            "agree_pred": [span_agreement(windows, owned, sp, q) for sp, q in zip(medley.spans, clip_pred)],
            "errors": errors, "spurious": spurious, "missed": missed, "n_joins": len(medley.joins),
            "n_boundaries": len(secs) - 1, "minutes": medley.duration / 60}


def summarise_scores(scores: list[dict]) -> dict:
    """Pooled over medleys: mean agreement per clip, boundary error median / p90, spurious and missed rates."""
    lab = np.concatenate([s["agree_label"] for s in scores])
    pred = np.concatenate([s["agree_pred"] for s in scores])
    err = np.concatenate([s["errors"] for s in scores])
    finite = err[np.isfinite(err)]
    joins = sum(s["n_joins"] for s in scores)
    det = np.concatenate([s["errors_detectable"] for s in scores])
    return {"medleys": len(scores), "clips": int(lab.size), "joins": joins,
            "detectable_joins": int(det.size),
            "detectable_median_s": float(np.median(det)) if det.size else None,
            "detectable_p90_s": float(np.percentile(det, 90)) if det.size else None,
            "detectable_missed": int((det > BOUNDARY_TOLERANCE_S).sum()),
            "agree_label_mean": float(lab.mean()), "agree_pred_mean": float(pred.mean()),
            "agree_pred_min": float(pred.min()),
            "boundary_median_s": float(np.median(err)) if err.size else None,
            "boundary_p90_s": float(np.percentile(err, 90)) if finite.size == err.size and err.size else
            (float("inf") if err.size else None),
            "missed_joins": int(sum(s["missed"] for s in scores)),
            "spurious": int(sum(s["spurious"] for s in scores)),
            "spurious_per_min": float(sum(s["spurious"] for s in scores) / sum(s["minutes"] for s in scores))}


def medley_rows(model: TrainedModel, medley: Medley, spans, *, cache: FeatureCache | None) -> np.ndarray:
    """:func:`signal_rows` of a medley's windows, cached by its clips' contents, crossfade and spans."""
    key = None
    if cache is not None:
        blob = json.dumps({"clips": [file_digest(p) for p in medley.paths], "fade": medley.crossfade_s,
                           "sr": medley.sr, "spans": [[round(a, 6), round(b, 6)] for a, b in spans]})
        key = "medley-" + hashlib.sha256(blob.encode()).hexdigest()
        hit = cache.get(key)
        if hit is not None and len(hit) == len(spans):
            return hit
    rows = signal_rows(model, medley.y, medley.sr, spans)
    if cache is not None:
        cache.put(key, rows)
    return rows


#: Smoothing settings the medley study compares: (method, median width, switch probability).
SMOOTHINGS = (("none", 1, 0.0), ("median", 3, 0.0), ("median", 5, 0.0),
              ("hmm", 1, 0.02), ("hmm", 1, 0.05), ("hmm", 1, 0.1), ("hmm", 1, 0.2))


def setting_name(hop: float, method: str, width: int, switch_prob: float) -> str:
    detail = {"none": "", "median": f" {width}", "hmm": f" p={switch_prob:g}"}[method]
    return f"hop {hop:g} s, {method}{detail}"


def medley_plan(data: StudyData, folds, *, repeats: int, per_fold: int, crossfade_s: float, seed: int
                ) -> list[tuple[int, list[int], float]]:
    """``(fold index, clip sequence, crossfade s)`` of every medley: per fold of repeats < `repeats`,
    `per_fold` sequences of its test clips (:func:`pick_sequences`), each plain and crossfaded."""
    plan = []
    for i, f in enumerate(folds):
        if f.repeat < repeats:
            rng = np.random.default_rng(seed + 1000 * f.repeat + f.fold)
            for seq in pick_sequences(data, f.test, n=per_fold, rng=rng):
                plan += [(i, seq, 0.0), (i, seq, crossfade_s)]
    return plan


def medley_windows(data: StudyData, model: TrainedModel, seq: list[int], fade: float, *, window: float, hops):
    """The medley, its windows for each hop (:func:`mer.workflows.timeline.window_spans`) and their union."""
    from mer.workflows.timeline import window_spans

    m = build_medley(data, seq, sr=model.feature_config.sr, crossfade_s=fade)
    by_hop = {h: window_spans(m.duration, window=window, hop=h) for h in hops}
    union = sorted({(round(a, 6), round(b, 6)) for s in by_hop.values() for a, b in s})
    return m, by_hop, union


def medley_study(data: StudyData, folds, fold_results: list[dict], model: TrainedModel, *, window: float,
                 hops=(2.0, 5.0), per_fold: int = 2, crossfade_s: float = 2.0, repeats: int = 1,
                 cache: FeatureCache | None = None, seed: int = 0, progress: bool = True) -> dict:
    """Medleys of each fold's test clips (repeats < `repeats`), scored per hop and smoothing setting.

    Each fold gives `per_fold` clip sequences, each played plain and with `crossfade_s`
    crossfades, analysed with that fold's window model (never trained on them).

    Returns
    -------
    dict
        ``setting name -> summarise_scores`` pooled over all medleys (``"plain"`` and
        ``"crossfade"`` separately under ``by_fade``).
    """
    from mer.core.progress import progress_bar

    scores: dict[tuple, list[dict]] = {}
    plan = medley_plan(data, folds, repeats=repeats, per_fold=per_fold, crossfade_s=crossfade_s, seed=seed)
    with progress_bar("medleys", total=len(plan), enabled=progress) as advance:
        for i, seq, fade in plan:
            res = fold_results[i]
            wm = res["_models"][0]
            m, by_hop, union = medley_windows(data, model, seq, fade, window=window, hops=hops)
            P_union = dict(zip(union, wm.predict_proba(medley_rows(model, m, union, cache=cache))))
            labels = [data.y[c] for c in seq]
            preds = [res["_clip_pred_window_model"][c] for c in seq]
            for h, spans in by_hop.items():
                P = np.stack([P_union[(round(a, 6), round(b, 6))] for a, b in spans])
                for method, width, p in SMOOTHINGS:
                    sc = score_medley(P, spans, list(wm.classes_), m, labels, preds, method=method,
                                      width=width, switch_prob=p)
                    scores.setdefault((h, method, width, p, fade > 0), []).append(sc)
            advance()
    out = {}
    for h in hops:
        for method, width, p in SMOOTHINGS:
            name = setting_name(h, method, width, p)
            both = scores[(h, method, width, p, False)] + scores[(h, method, width, p, True)]
            out[name] = {**summarise_scores(both), "by_fade": {
                "plain": summarise_scores(scores[(h, method, width, p, False)]),
                "crossfade": summarise_scores(scores[(h, method, width, p, True)])}}
    return out


def medley_table(summary: dict) -> str:
    """One line per setting: agreement with labels / clip predictions, boundary errors, spurious, missed."""
    head = (f"{'setting':<26} {'agree label':>11} {'agree pred':>10} {'min pred':>8} {'bnd med s':>9} "
            f"{'bnd p90 s':>9} {'missed':>6} {'spurious':>8} {'spur/min':>8} | {'det med':>7} {'det p90':>7} "
            f"{'det missed':>10}")
    lines = [head]
    for name, s in summary.items():
        lines.append(f"{name:<26} {s['agree_label_mean']:>11.3f} {s['agree_pred_mean']:>10.3f} "
                     f"{s['agree_pred_min']:>8.3f} {s['boundary_median_s']:>9.2f} {s['boundary_p90_s']:>9.2f} "
                     f"{s['missed_joins']:>3}/{s['joins']:<2} {s['spurious']:>8} {s['spurious_per_min']:>8.2f} | "
                     f"{s['detectable_median_s']:>7.2f} {s['detectable_p90_s']:>7.2f} "
                     f"{s['detectable_missed']:>6}/{s['detectable_joins']:<3}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# The command
# ---------------------------------------------------------------------------


def fit_window_model(data: StudyData, shipped: TrainedModel, *, estimator, cv: dict, medleys: dict | None,
                     window: float, hop: float) -> TrainedModel:
    """The window model on all windows, with the study's figures in its metadata."""
    from mer.models.modelfile import TrainedModel as Model

    est = estimator.fit(data.X_win, data.y[data.win_clip], groups=data.groups[data.win_clip])
    tuned = bool(est.inner_scores_)
    choice = (f"k={est.best_params_['k']}, C={est.best_params_['C']} "
              + ("chosen by inner artist-grouped CV" if tuned else "(the shipped clip model's inner-CV choice, fixed)"))
    meta = {"timeline_defaults": timeline_defaults(medleys),
            "data": f"4Q Audio Emotion Dataset, 4q-dev subset ({len(data.y)} clips, "
                    f"{len(set(data.groups))} artists), {len(data.X_win)} windows",
            "recipe": "emotion descriptors (232) + musicnn MSD & MTT embeddings (2 x 500) -> standardise -> "
                      f"ANOVA-F top-k -> L2 logistic regression, {choice}; trained on {window:g}-s windows every "
                      f"{hop:g} s cut from the clips (a window inherits its clip's label)",
            "window_s": window, "cv": cv, "medleys": medleys,
            "data_licence": shipped.metadata.get("data_licence", ""),
            "reproduce": "python -m mer.study.windows --jobs 2 --save-model src/mer/resources/window.mer"}
    return Model(est, f"{shipped.name}-windows", shipped.feature_config, meta, inputs=list(shipped.inputs))


def timeline_defaults(medleys: dict | None) -> dict:
    """The defaults of :func:`mer.workflows.timeline.timeline` and their held-out medley figures."""
    from mer.workflows import timeline as tl

    out = {"window_s": tl.DEFAULT_WINDOW, "hop_s": tl.DEFAULT_HOP, "smoothing": tl.DEFAULT_SMOOTH,
           "median_width": tl.DEFAULT_WIDTH, "switch_prob": tl.DEFAULT_SWITCH_PROB}
    name = setting_name(tl.DEFAULT_HOP, tl.DEFAULT_SMOOTH, tl.DEFAULT_WIDTH if tl.DEFAULT_SMOOTH == "median" else 1,
                        tl.DEFAULT_SWITCH_PROB if tl.DEFAULT_SMOOTH == "hmm" else 0.0)
    if medleys and name in medleys:
        out["medleys"] = {k: v for k, v in medleys[name].items() if k != "by_fade"}
    return out


def _cv_summary(results: list[dict], folds: int, repeats: int) -> dict:
    def ms(key):
        v = np.array([r[key] for r in results])
        return f"{v.mean():.3f} ± {v.std():.3f}"

    return {"protocol": f"{folds}-fold artist-grouped CV x {repeats} repeats on clips; windows follow their clip",
            "window_macro_f1": ms("window_f1"), "clip_macro_f1": ms("clip_f1_window_model"),
            "clip_model_clip_macro_f1": ms("clip_f1_clip_model")}


def main(argv=None) -> int:
    import argparse

    from mer.eval.splits import grouped_folds
    from mer.models.modelfile import save
    from mer.models.recipe import EmotionClassifier
    from mer.workflows.predict import load_model

    ap = argparse.ArgumentParser(prog="python -m mer.study.windows", description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="../shared/data/4q-dev")
    ap.add_argument("--window", type=float, default=10.0)
    ap.add_argument("--hop", type=float, default=5.0, help="hop of the training windows (s)")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--medley-repeats", type=int, default=1, help="repeats whose folds get medleys (0: none)")
    ap.add_argument("--medleys-per-fold", type=int, default=2, help="clip sequences per fold (each plain + crossfaded)")
    # one fit per fold: the shipped clip model's chosen k and C (its inner grid, 3 x 3 x 4 inner folds,
    # took ~4 CPU-min per fold on 2,160 windows); several values restore the inner tuning
    ap.add_argument("--k", type=int, nargs="+", default=[600], help="ANOVA-F columns kept (several: tuned inside)")
    ap.add_argument("--C", type=float, nargs="+", default=[0.01], help="inverse L2 strength (several: tuned inside)")
    ap.add_argument("--per-quadrant", type=int, default=None, help="only the first N clips of each quadrant")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--cache-dir", default=None)
    ap.add_argument("--save-model", default=None, help="write the window model trained on all windows here")
    ap.add_argument("--json", default=None, help="write every figure here")
    args = ap.parse_args(argv)

    shipped = load_model(None)
    data = load_study_data(args.data, window=args.window, hop=args.hop, cache_root=args.cache_dir, jobs=args.jobs,
                           per_label=args.per_quadrant)
    for path, err in data.failures.items():
        print(f"skipped {path}: {err}")
    folds = grouped_folds(data.y, data.groups, args.folds, args.repeats, args.seed)
    estimator = EmotionClassifier(k=args.k if len(args.k) > 1 else args.k[0],
                                  C=args.C if len(args.C) > 1 else args.C[0])
    results = cross_validate_windows(data, folds, estimator=estimator, jobs=args.jobs)
    print(f"{len(data.y)} clips, {len(data.X_win)} windows ({args.window:g} s every {args.hop:g} s), "
          f"{len(set(data.groups))} artists")
    print(cv_table(results))
    cv = _cv_summary(results, args.folds, args.repeats)
    medleys = None
    if args.medley_repeats > 0:
        cache = FeatureCache(args.cache_dir, rows_key(shipped, window=args.window, hop=args.hop))
        medleys = medley_study(data, folds, results, shipped, window=args.window, per_fold=args.medleys_per_fold,
                               repeats=args.medley_repeats, cache=cache, seed=args.seed)
        print(medley_table(medleys))
    if args.json:
        from mer.core.io import write_json

        write_json(args.json, {"cv": cv, "folds": [{k: v for k, v in r.items() if not k.startswith("_")}
                                                   for r in results], "medleys": medleys})
    if args.save_model:
        save(fit_window_model(data, shipped, estimator=estimator, cv=cv, medleys=medleys,
                              window=args.window, hop=args.hop), args.save_model)
        print(f"wrote {args.save_model}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
