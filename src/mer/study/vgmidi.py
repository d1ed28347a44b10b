"""VGMIDI as a listener-rated evaluation of valence / arousal on piano: whole pieces and timelines.

    python -m mer.study.vgmidi --vgmidi ../shared/data/vgmidi [--model M.mer] [--window-model W.mer]
                               [--hop 2] [--smooth-width 3] [--min-measures 8] [--boot 1000]
                               [--limit N] [--jobs 1] [--cache-dir DIR] [--json FILE] [--markdown FILE]

The 200 labelled pieces (:mod:`mer.data.vgmidi`: about 30 listeners' valence and arousal per
measure) are rendered whole as EMOPIA's clips are (TimGM6mb, cached FLAC), and each render
gets the model's input rows through the cached window rows of :mod:`mer.study.windows`
(:func:`~mer.study.windows.dataset_rows`: row 0 = the whole piece, as ``mer predict`` reads a
file; then 10-s windows every ``--hop`` s, each built as ``mer timeline`` builds a window's
row). Rows are cached by file content and the models' input blocks, so a second run, or
another model reading the same inputs, extracts nothing.

* **Clips**: the clip model (default ``default.mer``) on each piece's whole-piece row, against
  the listeners' piece means (mean over measures of the mean curve): Pearson r, CCC and RMSE
  (:func:`mer.eval.metrics.regression_metrics`), with a 95 % percentile bootstrap interval
  over pieces (:func:`mer.eval.stats.bootstrap_ci`).
* **Timelines**: the window model (default ``window.mer``) on each window; probabilities and
  the head's regression get the running median of ``--smooth-width`` windows that ``mer
  timeline`` gives valence / arousal by default (its HMM only picks the quadrant). Each
  window *owns* the time nearer its centre than its neighbours' (the timeline's own
  attribution, :func:`mer.workflows.timeline.owned_spans`); a measure's value is the mean
  of the windows owning part of it, weighted by the overlap. Scored against the mean curve:
  r per piece (pieces of at least ``--min-measures`` measures; median and mean over
  pieces), the pooled r / CCC over all measures, and the within-piece r (each piece's
  curves demeaned, pooled: does the timeline follow changes inside a piece?), the pooled
  figures with a cluster bootstrap over pieces.
* **Listeners' ceiling**: split-half reliability of the listener means (random halves of
  each piece's listeners, Spearman-Brown corrected, averaged over 20 splits), clip-level
  and within-piece: how far any predictor could agree with the mean of ~30 listeners.

A *predictor* maps a :class:`ModelOutputs` (the rows, probabilities and head regression of
one piece, or of its windows in time order) to valence and arousal, shape (n, 2); the
built-in ones (:data:`PREDICTORS`) are the model's head (what ``mer predict`` / ``mer
timeline`` report), the quadrant probability differences (:func:`mer.core.labels.valence_arousal`)
and the head's ridge regression alone. Pass others (a listener-rated head reading
``outputs.rows`` or ``outputs.path``, a combination) to :func:`evaluate_vgmidi` to add rows
to the ablation.

Research use only (fan transcriptions of copyrighted game music). Figures: ``docs/vgmidi.md``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from os import PathLike
from pathlib import Path

import numpy as np

from mer.core.errors import MerError
from mer.eval.metrics import regression_metrics
from mer.eval.stats import bootstrap_ci

AXES = ("valence", "arousal")


@dataclass
class ModelOutputs:
    """What a model gives for some rows of one piece: the whole piece (1 row) or its windows in time order.

    Attributes
    ----------
    path : Path
        The piece's rendered audio (FLAC).
    rows : np.ndarray, shape (n, n_columns)
        The model's input rows (raw, never smoothed).
    probabilities : np.ndarray, shape (n, n_labels)
        Quadrant probabilities (windows: after the timeline's running median).
    regression : np.ndarray, shape (n, 2), or None
        The head's ridge regression of (valence, arousal) (windows: same running median);
        None for a model without a head.
    model : TrainedModel
    """

    path: Path
    rows: np.ndarray
    probabilities: np.ndarray
    regression: np.ndarray | None
    model: object


#: A predictor: ModelOutputs -> valence and arousal, shape (n, 2), in [-1, 1].
Predictor = Callable[[ModelOutputs], np.ndarray]


def head(out: ModelOutputs) -> np.ndarray:
    """The model's own valence / arousal (its head's blend; probability differences without a head)."""
    return out.model.valence_arousal(out.probabilities, out.regression)


def probability_differences(out: ModelOutputs) -> np.ndarray:
    """``P(Q1) + P(Q4) - P(Q2) - P(Q3)`` and ``P(Q1) + P(Q2) - P(Q3) - P(Q4)``."""
    from mer.models.affect import probability_affect

    return probability_affect(out.probabilities, out.model.labels)


def regression(out: ModelOutputs) -> np.ndarray:
    """The head's ridge regression alone, clipped to [-1, 1]."""
    if out.regression is None:
        raise MerError(f"model {out.model.name} has no valence / arousal head")
    return np.clip(out.regression, -1.0, 1.0)


#: The built-in predictors (``regression`` only for a model with a head).
PREDICTORS: dict[str, Predictor] = {"head": head, "probability differences": probability_differences,
                                    "regression": regression}


def default_predictors(model) -> dict[str, Predictor]:
    """:data:`PREDICTORS` that `model` supports."""
    return {k: f for k, f in PREDICTORS.items() if k != "regression" or model.affect is not None}


# ---------------------------------------------------------------------------
# Windows -> measures
# ---------------------------------------------------------------------------


def measure_values(spans, values: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Each measure's value: windows' values weighted by how much of the measure each window owns.

    Parameters
    ----------
    spans : sequence of (float, float)
        Windows' (start, end) in s, in time order.
    values : np.ndarray, shape (n_windows, d)
    starts, ends : np.ndarray, shape (n_measures,)
        The measures, in s.

    Returns
    -------
    np.ndarray, shape (n_measures, d)
        A window owns the time nearer its centre than its neighbours'
        (:func:`mer.workflows.timeline.owned_spans`); the first window's span reaches back
        and the last one's on without end, so a measure beyond the audio takes the last
        window's value.
    """
    from mer.workflows.timeline import Window, owned_spans

    values = np.asarray(values, dtype=float).reshape(len(spans), -1)
    owned = np.array(owned_spans([Window(a, b, None, None, None, None, None) for a, b in spans], 0.0))
    owned[0, 0], owned[-1, 1] = -np.inf, np.inf
    lo = np.maximum(owned[None, :, 0], np.asarray(starts)[:, None])
    hi = np.minimum(owned[None, :, 1], np.asarray(ends)[:, None])
    w = np.clip(hi - lo, 0.0, None)  # (n_measures, n_windows)
    return (w @ values) / w.sum(axis=1, keepdims=True)


def smoothed(P: np.ndarray, reg: np.ndarray | None, width: int) -> tuple[np.ndarray, np.ndarray | None]:
    """Probabilities and head regression of consecutive windows after the timeline's running median."""
    from mer.workflows.timeline import _running_median, smooth_probabilities

    method = "median" if width > 1 else "none"
    S = smooth_probabilities(P, method=method, width=width)
    return S, None if reg is None else _running_median(np.asarray(reg, dtype=float), method, width)


# ---------------------------------------------------------------------------
# Scoring
# ---------------------------------------------------------------------------


def score_clips(target: np.ndarray, pred: np.ndarray, *, n_boot: int = 1000, seed: int = 0) -> dict:
    """Per axis: r, CCC, RMSE of piece-level predictions (n, 2) against targets (n, 2), bootstrap CIs over pieces."""
    out = {}
    for j, axis in enumerate(AXES):
        t, p = target[:, j], pred[:, j]
        m = regression_metrics(t, p)
        for key in ("r", "ccc"):
            m[f"{key}_ci"] = bootstrap_ci(lambda i, k=key: regression_metrics(t[i], p[i])[k], len(t),
                                          n_boot=n_boot, seed=seed) if n_boot else None
        out[axis] = m
    return out


def _pooled(curves: list[tuple[np.ndarray, np.ndarray]], demean: bool) -> tuple[np.ndarray, np.ndarray]:
    t = np.concatenate([c[0] - (c[0].mean() if demean else 0) for c in curves])
    p = np.concatenate([c[1] - (c[1].mean() if demean else 0) for c in curves])
    return t, p


def score_timelines(curves: list[tuple[np.ndarray, np.ndarray]], *, min_measures: int = 8, n_boot: int = 1000,
                    seed: int = 0) -> dict:
    """Timeline agreement of one axis over pieces: ``curves`` = [(target per measure, prediction per measure)].

    Returns
    -------
    dict
        ``per_piece``: ``n`` (pieces with >= `min_measures` measures and neither side
        constant), ``median`` and ``mean`` r; ``pooled``: r, CCC, RMSE over all measures;
        ``within``: r, CCC of the curves demeaned per piece, pooled; both with cluster
        bootstrap intervals over pieces (``r_ci``).
    """
    rs = []
    for t, p in curves:
        if len(t) >= min_measures and np.ptp(t) > 0 and np.ptp(p) > 0:
            rs.append(regression_metrics(t, p)["r"])
    out = {"per_piece": {"n": len(rs), "min_measures": min_measures,
                         "median": float(np.median(rs)) if rs else float("nan"),
                         "mean": float(np.mean(rs)) if rs else float("nan")}}
    for name, demean in (("pooled", False), ("within", True)):
        m = regression_metrics(*_pooled(curves, demean))

        def stat(i, demean=demean):
            return regression_metrics(*_pooled([curves[k] for k in i], demean))["r"]

        m["r_ci"] = bootstrap_ci(stat, len(curves), n_boot=n_boot, seed=seed) if n_boot else None
        out[name] = m
    return out


def listener_ceiling(traces: list[np.ndarray], *, splits: int = 20, seed: int = 0) -> dict:
    """Split-half reliability (Spearman-Brown) of listener means, per axis, clip-level and within-piece.

    `traces`: per piece, shape (2, n_listeners, n_measures). Each split halves every piece's
    listeners at random; reported: the mean over `splits` of the corrected r between the
    halves' piece means (``clip``) and between their demeaned per-measure curves, pooled
    (``within``).
    """
    rng = np.random.default_rng(seed)
    out = {axis: {"clip": [], "within": []} for axis in AXES}
    for _ in range(splits):
        halves = []
        for tr in traces:
            order = rng.permutation(tr.shape[1])
            a, b = order[: len(order) // 2], order[len(order) // 2:]
            halves.append((tr[:, a].mean(axis=1), tr[:, b].mean(axis=1)))  # each (2, n_measures)
        for j, axis in enumerate(AXES):
            clip = regression_metrics([h[0][j].mean() for h in halves], [h[1][j].mean() for h in halves])["r"]
            within = regression_metrics(*_pooled([(h[0][j], h[1][j]) for h in halves], True))["r"]
            for key, r in (("clip", clip), ("within", within)):
                out[axis][key].append(2 * r / (1 + r) if r > -1 else float("nan"))
    return {axis: {k: float(np.nanmean(v)) if np.isfinite(v).any() else float("nan") for k, v in d.items()}
            | {"splits": splits} for axis, d in out.items()}


# ---------------------------------------------------------------------------
# Rows and predictions
# ---------------------------------------------------------------------------


def _model(path):
    from mer.workflows.predict import load_model

    model = load_model(path).without_listener()  # the rows of mer.study.windows: the classifier's inputs
    if model.kind != "recipe" or not model.inputs:
        raise MerError(f"the VGMIDI study needs a recipe model (per-clip inputs); {model.name} is a {model.kind} model",
                       path)
    return model


def piece_rows(renders, *, model_path, window: float, hop: float, cache_dir=None, jobs: int = 1,
               progress: bool = True) -> tuple[list, dict[int, str]]:
    """Per render: (whole-piece row (1, c), window rows (n, c), window spans), cached; failures by index."""
    import soundfile as sf

    from mer.study.windows import clip_spans, dataset_rows

    found, failures = dataset_rows([str(r) for r in renders], model_path=None if model_path is None else
                                   str(model_path), window=window, hop=hop, cache_root=cache_dir, jobs=jobs,
                                   progress=progress)
    out = []
    for i, (render, rows) in enumerate(zip(renders, found)):
        if rows is None:
            out.append(None)
            continue
        info = sf.info(str(render))
        spans = clip_spans(info.frames / info.samplerate, window=window, hop=hop)
        if len(rows) != 1 + len(spans):
            failures[i] = f"{render}: {len(rows) - 1} cached window rows for {len(spans)} windows"
            out.append(None)
            continue
        out.append((rows[:1], rows[1:], spans))
    return out, failures


def _outputs(model, path, X, *, width: int = 1) -> ModelOutputs:
    P, reg = model.predict_proba(X), model.affect_regression(X)
    if width > 1:
        P, reg = smoothed(P, reg, width)
    return ModelOutputs(Path(path), X, P, reg, model)


def _predict(predictor: Predictor, out: ModelOutputs, name: str) -> np.ndarray:
    va = np.asarray(predictor(out), dtype=float)
    if va.shape != (len(out.rows), 2):
        raise ValueError(f"predictor '{name}' returned shape {va.shape} for {len(out.rows)} rows (need (n, 2))")
    return va


# ---------------------------------------------------------------------------
# The evaluation
# ---------------------------------------------------------------------------


@dataclass
class _Setup:
    model: object
    window_model: object
    model_path: str | None
    window_path: str | None


def _setup(model, window_model) -> _Setup:
    from mer.workflows.predict import default_model_path
    from mer.workflows.timeline import timeline_model_path

    mp = str(model) if model is not None else str(default_model_path())
    wp = str(window_model) if window_model is not None else (
        str(timeline_model_path()) if timeline_model_path().is_file() else mp)
    return _Setup(_model(mp), _model(wp), mp, wp)


def evaluate_vgmidi(root: str | PathLike, *, model: str | PathLike | None = None,
                    window_model: str | PathLike | None = None, predictors: dict[str, Predictor] | None = None,
                    timeline_predictors: dict[str, Predictor] | None = None, window: float = 10.0,
                    hop: float = 2.0, smooth_width: int = 3, min_measures: int = 8, n_boot: int = 1000,
                    seed: int = 0, limit: int | None = None, cache_dir: str | PathLike | None = None,
                    jobs: int = 1, progress: bool = True) -> dict:
    """Score a clip model and a window model against VGMIDI's listeners (see the module docstring).

    Parameters
    ----------
    root : path
        The VGMIDI folder (``annotations/``, ``midi/``).
    model, window_model : path, optional
        ``.mer`` files; default the shipped ``default.mer`` and ``window.mer``.
    predictors, timeline_predictors : dict of name -> Predictor, optional
        Rows of the clip and timeline tables (default :func:`default_predictors` of each model).
    window, hop : float
        Window length and hop in s (the window model was trained on 10-s windows; ``mer
        timeline``'s default hop is 2 s).
    smooth_width : int
        Running median over windows (1: none).
    min_measures : int
        Pieces with fewer measures get no per-piece r.
    n_boot : int
        Bootstrap resamples (0: no intervals).
    limit : int, optional
        Only the `limit` shortest pieces (quick checks).

    Returns
    -------
    dict
        ``settings``, ``data`` (pieces, listeners, timing, problems), ``ceiling``, ``clip``
        and ``timeline`` (per predictor, per axis), ``pieces`` (per piece: targets and
        predictions).
    """
    from mer.data.vgmidi import load_vgmidi, render_pieces, timing_summary

    s = _setup(model, window_model)
    data = load_vgmidi(root)
    if limit is not None:
        data = data.subset([p.id for p in sorted(data.pieces, key=lambda p: p.duration)[:limit]])
    data, renders = render_pieces(data, cache_dir=cache_dir, sr=s.model.feature_config.sr, jobs=jobs,
                                  progress=progress)
    rows, failures = piece_rows(renders, model_path=s.model_path, window=window, hop=hop, cache_dir=cache_dir,
                                jobs=jobs, progress=progress)
    if s.window_model.inputs != s.model.inputs:  # the window model reads other columns: its own rows
        wrows, wfail = piece_rows(renders, model_path=s.window_path, window=window, hop=hop, cache_dir=cache_dir,
                                  jobs=jobs, progress=progress)
        rows = [None if a is None or b is None else (a[0], b[1], b[2]) for a, b in zip(rows, wrows)]
        failures |= wfail
    keep = [i for i, r in enumerate(rows) if r is not None]
    problems = list(data.problems) + [f"{failures[i]}; left out" for i in sorted(failures)]
    pieces, renders, rows = [data.pieces[i] for i in keep], [renders[i] for i in keep], [rows[i] for i in keep]
    if len(pieces) < 2:
        raise MerError(f"fewer than 2 VGMIDI pieces could be analysed ({len(pieces)})", root)
    predictors = predictors or default_predictors(s.model)
    timeline_predictors = timeline_predictors or default_predictors(s.window_model)
    per_piece = _per_piece(pieces, renders, rows, s, predictors, timeline_predictors, smooth_width)
    return _report(pieces, per_piece, problems, s, predictors, timeline_predictors, timing_summary(pieces),
                   dict(window=window, hop=hop, smooth_width=smooth_width, min_measures=min_measures,
                        n_boot=n_boot, seed=seed, limit=limit), n_boot=n_boot, seed=seed, min_measures=min_measures)


def _per_piece(pieces, renders, rows, s: _Setup, predictors, timeline_predictors, smooth_width) -> list[dict]:
    """Each piece's targets, clip predictions and per-measure timeline curves, per predictor."""
    out = []
    for piece, render, (clip_row, win_rows, spans) in zip(pieces, renders, rows):
        clip_out = _outputs(s.model, render, clip_row)
        win_out = _outputs(s.window_model, render, win_rows, width=smooth_width)
        curves = {}
        for name, f in timeline_predictors.items():
            curves[name] = measure_values(spans, _predict(f, win_out, name), piece.measure_starts, piece.measure_ends)
        out.append({"id": piece.id, "name": piece.name, "game": piece.game, "group": piece.group,
                    "render": str(render), "n_measures": piece.n_measures, "n_listeners": piece.n_listeners,
                    "timing": piece.timing, "n_windows": len(spans),
                    "target": list(piece.clip_target),
                    "clip": {name: _predict(f, clip_out, name)[0].tolist() for name, f in predictors.items()},
                    "curves": {name: c.tolist() for name, c in curves.items()},
                    "target_curves": [piece.valence.tolist(), piece.arousal.tolist()]})
    return out


def _report(pieces, per_piece, problems, s: _Setup, predictors, timeline_predictors, timing, settings, *,
            n_boot: int, seed: int, min_measures: int) -> dict:
    target = np.array([p["target"] for p in per_piece])
    clip = {name: score_clips(target, np.array([p["clip"][name] for p in per_piece]), n_boot=n_boot, seed=seed)
            for name in predictors}
    timeline = {}
    for name in timeline_predictors:
        timeline[name] = {}
        for j, axis in enumerate(AXES):
            curves = [(np.array(p["target_curves"][j]), np.array(p["curves"][name])[:, j]) for p in per_piece]
            timeline[name][axis] = score_timelines(curves, min_measures=min_measures, n_boot=n_boot, seed=seed)
            for p, (t, c) in zip(per_piece, curves):
                p.setdefault("timeline_r", {}).setdefault(name, {})[axis] = (
                    regression_metrics(t, c)["r"] if len(t) >= 2 else float("nan"))
    listeners = [p.n_listeners for p in pieces]
    return {"settings": settings | {"model": s.model_path, "window_model": s.window_path},
            "models": {"clip": s.model.name, "window": s.window_model.name},
            "data": {"n_pieces": len(pieces), "n_groups": len(set(p.group for p in pieces)),
                     "listeners": {"min": min(listeners), "median": float(np.median(listeners)),
                                   "max": max(listeners)},
                     "measures": int(sum(p.n_measures for p in pieces)), "timing": timing, "problems": problems},
            "ceiling": listener_ceiling([p.traces for p in pieces], seed=seed),
            "clip": clip, "timeline": timeline, "pieces": per_piece}


# ---------------------------------------------------------------------------
# Tables and the command line
# ---------------------------------------------------------------------------


def _ci(m: dict, key: str = "r") -> str:
    ci = m.get(f"{key}_ci")
    return f"{m[key]:.3f} [{ci['low']:.3f}, {ci['high']:.3f}]" if ci else f"{m[key]:.3f}"


def markdown(report: dict) -> str:
    """The figures of :func:`evaluate_vgmidi` as Markdown tables (clip level, timelines, listeners' ceiling)."""
    d, c = report["data"], report["ceiling"]
    lines = [f"VGMIDI: {d['n_pieces']} pieces ({d['n_groups']} songs), {d['measures']} measures, "
             f"{d['listeners']['min']}-{d['listeners']['max']} listeners per piece; clip model "
             f"`{Path(report['settings']['model']).name}`, window model `{Path(report['settings']['window_model']).name}`"
             " (95 % bootstrap intervals over pieces)", "",
             "| clip level | valence r | valence CCC | arousal r | arousal CCC |", "|---|---|---|---|---|"]
    for name, m in report["clip"].items():
        v, a = m["valence"], m["arousal"]
        lines.append(f"| {name} | {_ci(v)} | {_ci(v, 'ccc')} | {_ci(a)} | {_ci(a, 'ccc')} |")
    lines.append(f"| listeners' split-half ceiling | {c['valence']['clip']:.3f} | | {c['arousal']['clip']:.3f} | |")
    lines += ["", "| timeline | axis | per-piece r median / mean (n) | pooled r | pooled CCC | within-piece r |",
              "|---|---|---|---|---|---|"]
    for name, axes in report["timeline"].items():
        for axis, m in axes.items():
            pp = m["per_piece"]
            lines.append(f"| {name} | {axis} | {pp['median']:.3f} / {pp['mean']:.3f} ({pp['n']}) | "
                         f"{_ci(m['pooled'])} | {m['pooled']['ccc']:.3f} | {_ci(m['within'])} |")
    for axis in AXES:
        lines.append(f"| listeners' split-half ceiling | {axis} | | | | {c[axis]['within']:.3f} |")
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m mer.study.vgmidi", description=__doc__.split("\n\n")[0])
    ap.add_argument("--vgmidi", required=True, help="the VGMIDI folder (annotations/, midi/)")
    ap.add_argument("--model", default=None, help="clip model (default: the shipped default.mer)")
    ap.add_argument("--window-model", default=None, help="timeline model (default: the shipped window.mer)")
    ap.add_argument("--window", type=float, default=10.0)
    ap.add_argument("--hop", type=float, default=2.0)
    ap.add_argument("--smooth-width", type=int, default=3)
    ap.add_argument("--min-measures", type=int, default=8)
    ap.add_argument("--boot", type=int, default=1000, help="bootstrap resamples (0: no intervals)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--limit", type=int, default=None, help="only the N shortest pieces")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--cache-dir", default=None)
    ap.add_argument("--json", default=None, help="write every figure here")
    ap.add_argument("--markdown", default=None, help="write the tables here")
    return ap


def main(argv=None) -> int:
    """The study from the command line; bad data or a bad model ends it with one line on stderr (exit 2)."""
    import sys

    from mer.core.io import write_json, write_text

    argv = sys.argv[1:] if argv is None else list(argv)
    args = _parser().parse_args(argv)
    try:
        report = evaluate_vgmidi(args.vgmidi, model=args.model, window_model=args.window_model, window=args.window,
                                 hop=args.hop, smooth_width=args.smooth_width, min_measures=args.min_measures,
                                 n_boot=args.boot, seed=args.seed, limit=args.limit, cache_dir=args.cache_dir,
                                 jobs=args.jobs)
    except MerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for p in report["data"]["problems"]:
        print(f"note: {p}")
    table = markdown(report)
    print(table)
    if args.json:
        write_json(args.json, report | {"command": "python -m mer.study.vgmidi " + " ".join(argv)})
    if args.markdown:
        write_text(args.markdown, table + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
