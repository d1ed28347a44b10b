"""Figures a person would rather look at than read. Matplotlib, Agg backend, atomic writes."""

from __future__ import annotations

import io
from os import PathLike
from typing import Sequence

import numpy as np

from mer.core.io import write_bytes
from mer.features.paper import FeatureConfig, FeatureSpec
from mer.features.transforms import mel_to_db


def _figure(*args, **kwargs):
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt, plt.figure(*args, **kwargs)


def save_figure(fig, path: str | PathLike, dpi: int = 120) -> None:
    """Write a matplotlib figure atomically (PNG, SVG or PDF by extension) and close it."""
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fmt = str(path).rsplit(".", 1)[-1].lower() if "." in str(path) else "png"
    fig.savefig(buf, format=fmt, dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    write_bytes(path, buf.getvalue())


def plot_feature_matrices(
    matrices: Sequence[np.ndarray],
    titles: Sequence[str],
    path: str | PathLike,
    config: FeatureConfig | None = None,
) -> None:
    """Side-by-side heat maps of (204, T) matrices, rows standardised per clip, groups labelled.

    Mel rows are shown in dB so that they are readable; every other row as extracted.
    """
    config = config or FeatureConfig()
    spec = FeatureSpec.from_config(config)
    plt, fig = _figure(figsize=(3.2 * len(matrices) + 1.5, 7))
    axes = fig.subplots(1, len(matrices), sharey=True, squeeze=False)[0]
    bounds = np.cumsum([0] + [n for _, n in spec.groups])
    for ax, X, title in zip(axes, matrices, titles):
        Z = mel_to_db(X, spec)
        Z = (Z - Z.mean(axis=1, keepdims=True)) / (Z.std(axis=1, keepdims=True) + 1e-6)
        seconds = X.shape[1] * config.frame_seconds
        ax.imshow(Z, aspect="auto", origin="upper", cmap="magma", vmin=-2.5, vmax=2.5,
                  extent=(0, seconds, spec.n_rows, 0), interpolation="nearest")
        for b in bounds[1:-1]:
            ax.axhline(b, color="white", lw=0.4, alpha=0.7)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("time (s)")
    centres = (bounds[:-1] + bounds[1:]) / 2
    axes[0].set_yticks(centres)
    axes[0].set_yticklabels(spec.group_names, fontsize=7)
    fig.suptitle("The paper's 204 feature rows (each row standardised per clip; mel in dB)", fontsize=11)
    save_figure(fig, path)


def plot_confusion(confusion, labels: Sequence[str], path: str | PathLike, title: str = "") -> None:
    """A confusion matrix as a picture: counts in the cells, rows shaded by recall.

    Parameters
    ----------
    confusion : array-like, shape (n_labels, n_labels)
        ``confusion[i][j]`` = clips of true class ``i`` predicted as ``j``.
    labels : sequence of str
    path : path
        PNG, SVG or PDF, by extension.
    """
    C = np.asarray(confusion, dtype=float)
    rates = C / np.maximum(C.sum(axis=1, keepdims=True), 1)
    plt, fig = _figure(figsize=(1.1 * len(labels) + 2.2, 1.0 * len(labels) + 1.6))
    ax = fig.subplots()
    ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    for i in range(C.shape[0]):
        for j in range(C.shape[1]):
            ax.text(j, i, f"{int(C[i, j])}", ha="center", va="center",
                    color="white" if rates[i, j] > 0.6 else "black", fontsize=11)
    ax.set_xticks(range(len(labels)), labels)
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title or f"confusion ({int(C.sum())} clips)", fontsize=10)
    save_figure(fig, path)
