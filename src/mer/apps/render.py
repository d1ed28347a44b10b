"""Tables and machine-readable output of `mer`'s results: one renderer for the CLI and, later, the service.

Predictions are rendered from :meth:`mer.workflows.predict.Prediction.to_dict`, the one
output schema; ``table`` is for people, ``json`` and ``csv`` for programs.
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

from rich.table import Table

from mer.audio.quality import FACTS, FLAG_MEANINGS
from mer.core.labels import QUADRANT_NAMES

#: Output formats of results: a table for people, JSON and CSV for programs.
FORMATS = ("table", "json", "csv")

def cv_table(cv, title: str) -> Table:
    """Per-fold accuracy / macro-F1 and their mean ± std."""
    table = Table(title=title)
    for col in ("fold", "train", "test", "accuracy", "macro-F1", "time (s)"):
        table.add_column(col, justify="right")
    for f in cv.folds:
        name = f"{f['fold'] + 1}" if cv.repeats == 1 else f"{f['repeat'] + 1}.{f['fold'] + 1}"
        table.add_row(name, str(f["n_train"]), str(f["n_test"]), f"{f['accuracy']:.3f}", f"{f['macro_f1']:.3f}",
                      f"{f['wall_s']:.1f}")
    table.add_row("mean ± std", "", "", f"{cv.mean('accuracy'):.3f} ± {cv.std('accuracy'):.3f}",
                  f"{cv.mean('macro_f1'):.3f} ± {cv.std('macro_f1'):.3f}", f"{cv.wall_s:.1f}", style="bold")
    return table


def metrics_tables(m: dict, title: str | None = None) -> tuple[Table, Table]:
    """Per-class precision / recall / F1 and the confusion matrix of a metrics dict."""
    per_class = Table(title=title or f"accuracy {m['accuracy']:.3f}, macro-F1 {m['macro_f1']:.3f} on {m['n']} clips")
    for col in ("class", "precision", "recall", "F1", "support"):
        per_class.add_column(col, justify="left" if col == "class" else "right")
    for lab, s in m["per_class"].items():
        per_class.add_row(lab, f"{s['precision']:.3f}", f"{s['recall']:.3f}", f"{s['f1']:.3f}", str(s["support"]))
    confusion = Table(title="confusion (rows: true, columns: predicted)")
    confusion.add_column("")
    for lab in m["labels"]:
        confusion.add_column(lab, justify="right")
    for lab, row in zip(m["labels"], m["confusion"]):
        confusion.add_row(lab, *(str(v) for v in row))
    return per_class, confusion


def _num(value, spec: str) -> str:
    # a silent file has no probabilities, valence or arousal
    return "" if value is None else format(value, spec)


def predictions_text(predictions, labels, fmt: str) -> str:
    """JSON (a list of :meth:`~mer.workflows.predict.Prediction.to_dict`) or CSV of predictions.

    CSV columns: path, quadrant, ``p_<label>`` per label, valence, arousal, flags
    (``;``-separated), then the measured facts (:data:`mer.audio.quality.FACTS`); a
    missing value is an empty cell.
    """
    if fmt == "json":
        return json.dumps([p.to_dict() for p in predictions], indent=2) + "\n"
    if fmt != "csv":
        raise ValueError(f"unknown format {fmt!r} (known: json, csv)")
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["path", "quadrant", *(f"p_{q}" for q in labels), "valence", "arousal", "flags", *FACTS])
    for p in predictions:
        probs = p.probabilities or {}
        w.writerow([p.path, p.quadrant or "", *(_num(probs.get(q), ".4f") for q in labels),
                    _num(p.valence, ".4f"), _num(p.arousal, ".4f"), ";".join(p.flags),
                    *(_num((p.quality or {}).get(k), ".4f") for k in FACTS)])
    return buf.getvalue()


def _common_folder(paths) -> Path | None:
    """The deepest folder holding every path (None for one file or none in common)."""
    folders = [str(Path(p).resolve().parent) for p in paths]
    if len(folders) < 2:
        return None
    try:
        common = Path(os.path.commonpath(folders))
    except ValueError:  # different drives
        return None
    return None if common == Path(common.anchor) else common


#: Below this many columns the predictions table shows the four probabilities in one
#: column, as whole percentages, so that file names keep their width on an 80-column terminal.
COMPACT_BELOW_COLUMNS = 110


def quadrant_text(quadrant: str | None) -> str:
    """``Q1 happy``, ``Q2 tense``, ``Q3 sad``, ``Q4 calm`` (the label alone if unknown; '-' for none)."""
    if not quadrant:
        return "-"
    name = QUADRANT_NAMES.get(quadrant)
    return f"{quadrant} {name.split(' / ')[0]}" if name else quadrant


def _percentages(probs: dict, labels) -> str:
    return " ".join("  -" if probs.get(q) is None else f"{100 * probs[q]:3.0f}" for q in labels)


def predictions_table(predictions, labels, *, title: str, width: int | None = None) -> Table:
    """One row per prediction: file, quadrant and its word, the four probabilities, valence, arousal, flags.

    Files in one folder tree are shown relative to it (named in the title); the flags
    column is shown only when a file has a flag; on a terminal narrower than
    :data:`COMPACT_BELOW_COLUMNS` (`width`) the four probabilities share one column as
    whole percentages (``"% Q1  Q2  Q3  Q4"``), else each has its own to 3 decimals.
    JSON and CSV always carry everything at full precision.
    """
    folder = _common_folder([p.path for p in predictions])
    if folder is not None:
        title = f"{title} in {folder}"
    show_flags = any(p.flags for p in predictions)
    compact = width is not None and width < COMPACT_BELOW_COLUMNS
    prob_cols = ("% " + " ".join(f"{q:>3}" for q in labels).lstrip(),) if compact else tuple(labels)
    table = Table(title=title, show_edge=not compact, pad_edge=not compact)  # narrow: no outer frame
    for col in ("file", "quadrant", *prob_cols, "valence", "arousal", *(("flags",) if show_flags else ())):
        # numbers never wrap; a long path folds rather than being cut to "…"; flags wrap
        # between words only, never inside one ("mostly_silent" is the longest)
        table.add_column(col, justify="left" if col in ("file", "quadrant", "flags") else "right",
                         overflow="fold", no_wrap=col not in ("file", "flags"),
                         min_width=len("mostly_silent") if col == "flags" else None)
    for p in predictions:
        probs = p.probabilities or {}
        shown = [_percentages(probs, labels)] if compact else [_num(probs.get(q), ".3f") or "-" for q in labels]
        name = os.path.relpath(Path(p.path).resolve(), folder) if folder is not None else str(p.path)
        table.add_row(name, quadrant_text(p.quadrant), *shown,
                      _num(p.valence, "+.3f") or "-", _num(p.arousal, "+.3f") or "-",
                      *((", ".join(p.flags),) if show_flags else ()))
    return table


def flag_legend(predictions) -> list[str]:
    """One line per reliability flag raised among `predictions`, saying what it means."""
    raised = [f for f in FLAG_MEANINGS if any(f in p.flags for p in predictions)]
    return [f"[bold]{f}[/]: {FLAG_MEANINGS[f]}" for f in raised]


def timeline_csv(tl: dict) -> str:
    """One row per window: times, quadrant, smoothed and raw probabilities, valence, arousal, flags, smoothing."""
    labels = sorted({lab for w in tl["windows"] if w["raw_probabilities"] for lab in w["raw_probabilities"]})
    sm = tl["settings"]["smoothing"]
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\n")
    out.writerow(["start_s", "end_s", "quadrant", *(f"p_{q}" for q in labels), "valence", "arousal",
                  *(f"raw_p_{q}" for q in labels), "flags", "smoothing", "model"])
    for w in tl["windows"]:
        p, raw = w["probabilities"] or {}, w["raw_probabilities"] or {}
        out.writerow([w["start_s"], w["end_s"], w["quadrant"] or "", *(p.get(q, "") for q in labels),
                      "" if w["valence"] is None else w["valence"], "" if w["arousal"] is None else w["arousal"],
                      *(raw.get(q, "") for q in labels), ";".join(w["flags"]),
                      sm["method"] if sm["method"] == "none" else f"{sm['method']}:{sm['width']}", tl["model"]])
    return buf.getvalue()


def _clock(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 60}:{s % 60:02d}"


def timeline_summary(tl: dict, *, max_sections: int = 8) -> str:
    """A ``mer.timeline/1`` dictionary in one line: length, dominant quadrant, shares, sections, mean V / A.

    E.g. ``0:30, mostly Q4 calm (62 %; Q1 happy 38 %); 2 sections: 0:00 Q4, 0:18 Q1;
    valence +0.31, arousal -0.12 (means)``. Quadrants with no share are left out; at most
    `max_sections` sections are named ("..." after them).
    """
    summary = tl["summary"]
    head = _clock(summary["duration_s"])
    dominant = summary["dominant_quadrant"]
    if dominant is None:
        return f"{head}, silent throughout: no quadrant"
    shares = sorted(((v, q) for q, v in summary["quadrant_share"].items() if v > 0), reverse=True)
    others = "; " + ", ".join(f"{quadrant_text(q)} {v:.0%}" for v, q in shares[1:]) if len(shares) > 1 else ""
    secs = tl["sections"]
    named = ", ".join(f"{_clock(s['start_s'])} {s['quadrant']}" for s in secs[:max_sections])
    more = ", ..." if len(secs) > max_sections else ""
    va = ", ".join(f"{k} {summary[k]['mean']:+.2f}" for k in ("valence", "arousal") if summary.get(k))
    return (f"{head}, mostly {quadrant_text(dominant)} ({shares[0][0]:.0%}{others}); {len(secs)} section(s): "
            f"{named}{more}" + (f"; {va} (means)" if va else ""))


def _words(key: str) -> str:
    """A manifest key as words: ``per_quadrant_f1`` -> ``per quadrant F1``, ``4q_only_model`` -> ``4Q only model``."""
    words = {"f1": "F1", "4q": "4Q", "emopia": "EMOPIA", "r": "r", "ccc": "CCC", "cv": "CV"}
    return " ".join(words.get(w, w) for w in key.split("_"))


def _value_text(value) -> str:
    if isinstance(value, dict):
        return "; ".join(f"{_words(str(k))} {_value_text(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return ", ".join(map(_value_text, value))
    return str(value)


def _affect_summary(affect: dict) -> str:
    """A model card's valence / arousal head in one line: blend weights and the CV figures of what ships."""
    weights = affect.get("weights", {})
    parts = [f"head: w * ridge + (1 - w) * probability difference, w = "
             + ", ".join(f"{axis} {w:g}" for axis, w in weights.items())]
    for axis, rule in affect.get("rule", {}).items():
        fig = affect.get("cv_figures", {}).get(axis, {}).get(rule, {})
        if fig:
            parts.append(f"{axis} r {fig.get('r')}, CCC {fig.get('ccc')}")
    return "; ".join(parts)


def model_card(manifest: dict) -> list[tuple[str, str]]:
    """A model file's manifest (:func:`mer.models.modelfile.read_manifest`) as (field, text) rows.

    The rows of ``mer model-info`` and of the documentation's model card: labels, data,
    recipe, each cross-validation figure on its own row (``CV macro F1``,
    ``CV per quadrant F1``: ``Q1 0.788; Q2 0.886; ...``), licence, the valence / arousal
    head, training clips, versions. No Python reprs: nested values become words.
    """
    from mer.models.modelfile import TRAINING_HASHES

    meta = manifest.get("metadata", {})
    rows = [("labels", ", ".join(map(str, manifest.get("labels", []))))]
    for key in ("data", "n_clips", "recipe", "cv", "data_licence", "saved"):
        value = meta.get(key)
        if isinstance(value, dict):
            rows += [(f"{_words(key)} {_words(str(k))}", _value_text(v)) for k, v in value.items()]
        elif value is not None:
            rows.append((_words(key).replace("n clips", "clips"), _value_text(value)))
    if isinstance(meta.get("affect"), dict):
        rows.append(("valence / arousal", _affect_summary(meta["affect"])))
    if meta.get(TRAINING_HASHES):
        rows.append(("training clips", f"{len(meta[TRAINING_HASHES])} content hashes (mer evaluate warns on overlap)"))
    rows.append(("versions", ", ".join(f"{k} {v}" for k, v in meta.get("versions", {}).items())))
    return rows
