"""Paired statistics of two models over the same folds: mean difference, paired t-test, Wilcoxon signed-rank."""

from __future__ import annotations

import numpy as np
from scipy import stats


def paired_test(a: np.ndarray, b: np.ndarray) -> dict:
    """Paired comparison of ``a`` and ``b`` over the same folds.

    Returns
    -------
    dict
        ``n`` pairs, ``mean_diff`` (mean of a - b), ``t`` and ``p_t`` (two-sided paired
        t-test), ``p_wilcoxon`` (two-sided Wilcoxon signed-rank; NaN when every
        difference is 0). With 5 folds the smallest two-sided Wilcoxon p is 0.0625,
        so the t-test is the one that can reach 0.05.
    """
    a, b = np.asarray(a, float), np.asarray(b, float)
    d = a - b
    out = {"n": int(len(d)), "mean_diff": float(d.mean()) if len(d) else float("nan")}
    if len(d) < 2 or np.allclose(d, d[0]):
        p = 1.0 if len(d) and np.allclose(d, 0) else float("nan")
        out.update(t=float("nan"), p_t=p, p_wilcoxon=p)
        return out
    t = stats.ttest_rel(a, b)
    out.update(t=float(t.statistic), p_t=float(t.pvalue))
    try:
        out["p_wilcoxon"] = float(stats.wilcoxon(a, b).pvalue)
    except ValueError:
        out["p_wilcoxon"] = float("nan")
    return out
