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


def corrected_paired_test(a: np.ndarray, b: np.ndarray, *, test_fraction: float, confidence: float = 0.95) -> dict:
    """Paired comparison over repeated k-fold CV with the Nadeau-Bengio corrected variance.

    The folds of repeated k-fold CV share training rows, so their differences are
    correlated and :func:`paired_test`'s t-test treats 15 folds as 15 independent
    trials: too narrow an interval and p-values far too small. Nadeau & Bengio (2003,
    "Inference for the generalization error"; Bouckaert & Frank 2004) correct the
    variance of the mean difference from ``var / J`` to ``var * (1 / J + n_test / n_train)``.
    With 5 folds (``n_test / n_train = 1/4``) and 15 fold pairs the standard error grows
    2.2-fold: a paired difference that the plain test calls p = 0.98 "no loss" may still
    hide a loss the size of the interval, which is why a "no loss" claim is read from the
    interval's lower end (a non-inferiority check), never from a large p.

    Parameters
    ----------
    a, b : np.ndarray, shape (n_folds,)
        One score per fold of each model, the same folds in the same order.
    test_fraction : float in (0, 1)
        The share of rows each fold tests on (0.2 for 5-fold CV).
    confidence : float
        Of the two-sided interval of the mean difference.

    Returns
    -------
    dict
        ``n``, ``mean_diff`` (mean of a - b), ``se`` (corrected standard error), ``t``,
        ``p`` (two-sided, n - 1 degrees of freedom) and ``ci`` ``[low, high]``.
    """
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    d = np.asarray(a, float) - np.asarray(b, float)
    n = len(d)
    out = {"n": int(n), "mean_diff": float(d.mean()) if n else float("nan")}
    if n < 2:
        return {**out, "se": float("nan"), "t": float("nan"), "p": float("nan"), "ci": [float("nan")] * 2}
    se = float(np.sqrt(d.var(ddof=1) * (1.0 / n + test_fraction / (1.0 - test_fraction))))
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1)) * se
    t = out["mean_diff"] / se if se > 0 else float("nan")
    p = float(2 * stats.t.sf(abs(t), n - 1)) if se > 0 else (1.0 if out["mean_diff"] == 0 else 0.0)
    return {**out, "se": se, "t": float(t), "p": p, "ci": [out["mean_diff"] - half, out["mean_diff"] + half]}


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
