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


def bootstrap_ci(statistic, n_units: int, *, n_boot: int = 1000, alpha: float = 0.05, seed: int = 0) -> dict:
    """Percentile bootstrap interval of a statistic computed over resampled units (clips, pieces).

    Parameters
    ----------
    statistic : callable
        ``statistic(indices) -> float`` for an array of unit indices (with repeats); a
        cluster bootstrap when a unit stands for several observations (a piece's measures).
    n_units : int >= 2
    n_boot : int
        Resamples (NaN results, e.g. a constant resample, are dropped).

    Returns
    -------
    dict
        ``low``, ``high`` (the ``alpha / 2`` and ``1 - alpha / 2`` quantiles), ``n_boot``
        (resamples that gave a number), ``level`` (``1 - alpha``).
    """
    rng = np.random.default_rng(seed)
    values = np.array([statistic(rng.integers(0, n_units, n_units)) for _ in range(n_boot)], dtype=float)
    values = values[np.isfinite(values)]
    if not len(values):
        return {"low": float("nan"), "high": float("nan"), "n_boot": 0, "level": 1 - alpha}
    low, high = np.quantile(values, [alpha / 2, 1 - alpha / 2])
    return {"low": float(low), "high": float(high), "n_boot": int(len(values)), "level": 1 - alpha}
