"""Training speed of the recurrent models: the two CPU choices of ``mer.models.sequence``, undone one at a time.

``mer.models.sequence`` (1) flushes subnormal floats to zero while fitting and (2) reads a
one-way network's final state from its padded output instead of packing the batch.
Each architecture is fitted for a few epochs on the same clips, side by side in one
process: as shipped, without (1), and without (2). Prints CPU seconds per epoch, the
ratios to shipped, and how far the variants' probabilities lie from shipped.

    MER_CACHE=/work/cache python benchmarks/training.py --data ../shared/data/4q-dev --n 96 --epochs 2

``--paper`` also runs the paper's configuration (no pooling, 1,295 frames, power mel).
"""

from __future__ import annotations

import argparse
import contextlib
import time

from _common import DEFAULT_DATA


def _packed_final_state(rnn, x, lengths):
    """``mer.models.sequence._final_state`` as it was: every batch of unequal lengths packed."""
    from torch import nn

    if lengths is not None and bool((lengths != x.shape[1]).any()):
        x = nn.utils.rnn.pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
    _, h = rnn(x)
    h = h[0] if isinstance(h, tuple) else h
    return h.transpose(0, 1).reshape(h.shape[1], -1)


def _fit_seconds(name: str, X, y, groups, epochs: int, variant: str = "shipped"):
    import mer.models.sequence
    from mer.workflows.train import make_estimator

    est = make_estimator(name, epochs=epochs, patience=epochs, progress=False, random_state=0)
    saved = mer.models.sequence._flush_denormals, mer.models.sequence._final_state
    if variant == "subnormal":
        mer.models.sequence._flush_denormals = contextlib.nullcontext
    elif variant == "packed":
        mer.models.sequence._final_state = _packed_final_state
    try:
        t0 = time.process_time()
        est.fit(X, y, groups)
        seconds = (time.process_time() - t0) / len(est.history_)
        return seconds, est.predict_proba(X)
    finally:
        mer.models.sequence._flush_denormals, mer.models.sequence._final_state = saved


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=str(DEFAULT_DATA), help="the 4Q dataset folder")
    ap.add_argument("--n", type=int, default=96, help="clips (the first N of the dataset)")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--models", nargs="+", default=["rnn", "brnn", "lstm", "gru"])
    ap.add_argument("--paper", action="store_true", help="also the paper-* configurations")
    args = ap.parse_args(argv)

    import numpy as np

    from mer.data import datasets
    from mer.features.paper import single_threaded_blas
    from mer.workflows.train import load_features

    ds = datasets.load(args.data)
    ds = ds.subset(np.random.default_rng(0).permutation(len(ds.clips))[: args.n].tolist())
    feats = load_features(ds, progress=False)
    names = [*args.models, *([f"paper-{m}" for m in args.models] if args.paper else [])]
    print(f"{ds.name}: {len(feats.X)} clips, {args.epochs} epochs per fit, torch on 1 thread; CPU s per epoch")
    print(f"{'model':<12} {'shipped':>8} {'subnormal':>10} {'ratio':>6} {'max|dP|':>8} {'packed':>8} {'ratio':>6} "
          f"{'max|dP|':>8}")
    with single_threaded_blas():
        _fit_seconds("rnn", feats.X[:16], feats.y[:16], feats.groups[:16], 1)  # warm-up: lazy imports, allocators
        for name in names:
            t, p = _fit_seconds(name, feats.X, feats.y, feats.groups, args.epochs)
            cols = [f"{name:<12} {t:8.2f}"]
            for variant in ("subnormal", "packed"):
                tv, pv = _fit_seconds(name, feats.X, feats.y, feats.groups, args.epochs, variant)
                cols.append(f"{tv:10.2f} {tv / t:5.1f}x {np.abs(pv - p).max():8.1e}")
            print(" ".join(cols), flush=True)


if __name__ == "__main__":
    main()
