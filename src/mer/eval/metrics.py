"""Classification metrics of quadrant predictions: accuracy, macro-F1 over the labels present, per-class scores, confusion.

Transparent as mir_eval's: every figure is a plain function of ``y_true`` and ``y_pred``,
returned with the labels it was computed over.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def classification_metrics(y_true, y_pred, labels: Sequence[str]) -> dict:
    """Accuracy, macro-F1, per-class scores and the confusion matrix.

    Parameters
    ----------
    y_true, y_pred : array-like, shape (n,)
        Label names (or any values listed in `labels`).
    labels : sequence
        The classes in the order rows / columns of the confusion matrix use.

    Returns
    -------
    dict
        ``n``; ``labels``; ``accuracy``; ``macro_f1`` (unweighted mean of the per-class
        F1 over ``macro_f1_labels``); ``macro_f1_labels``: the labels of `labels` present
        in `y_true` (a class absent from the data has no F1 to speak of: counting it as
        0 made perfect predictions on 3 of 4 quadrants score 0.75);
        ``per_class``: label -> ``precision``, ``recall``, ``f1``, ``support``, for every
        label of `labels`;
        ``confusion``: list of rows, ``confusion[i][j]`` = clips of true class ``i``
        predicted as ``j``.
    """
    from sklearn.metrics import (
        accuracy_score,
        confusion_matrix,
        precision_recall_fscore_support,
    )

    labels = [str(x) for x in labels]
    y_true = np.asarray(y_true).astype(str)
    y_pred = np.asarray(y_pred).astype(str)
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    present = [i for i, n in enumerate(s) if n > 0]
    return {
        "n": int(len(y_true)),
        "labels": labels,
        "accuracy": float(accuracy_score(y_true, y_pred)) if len(y_true) else float("nan"),
        "macro_f1": float(np.mean(f[present])) if present else float("nan"),
        "macro_f1_labels": [labels[i] for i in present],
        "per_class": {
            lab: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(s[i])}
            for i, lab in enumerate(labels)
        },
        "confusion": confusion_matrix(y_true, y_pred, labels=labels).tolist(),
    }


def regression_metrics(y_true, y_pred) -> dict:
    """Agreement of continuous predictions (valence or arousal) with their targets.

    Parameters
    ----------
    y_true, y_pred : array-like of float, shape (n,), n >= 2

    Returns
    -------
    dict
        ``n``; ``r``: Pearson correlation (scale- and offset-free); ``ccc``: Lin's
        concordance correlation ``2 cov / (var_t + var_p + (mean_t - mean_p)^2)``, which
        also penalises a wrong scale or offset (the MediaEval emotion-in-music measure);
        ``rmse``; ``nan`` where a side is constant.
    """
    t = np.asarray(y_true, dtype=float)
    p = np.asarray(y_pred, dtype=float)
    if t.shape != p.shape or t.ndim != 1 or len(t) < 2:
        raise ValueError(f"need two 1-D arrays of one length >= 2, got shapes {t.shape} and {p.shape}")
    cov = np.mean((t - t.mean()) * (p - p.mean()))
    vt, vp = t.var(), p.var()
    r = cov / np.sqrt(vt * vp) if vt > 0 and vp > 0 else float("nan")
    ccc = 2 * cov / (vt + vp + (t.mean() - p.mean()) ** 2) if vt + vp > 0 else float("nan")
    return {"n": int(len(t)), "r": float(r), "ccc": float(ccc), "rmse": float(np.sqrt(np.mean((t - p) ** 2)))}
