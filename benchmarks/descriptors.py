"""CPU cost per clip of the emotion descriptors and the musicnn embedding, beside the paper's features.

    python benchmarks/descriptors.py [--n 10] [--data ../shared/data/4q-dev]

On N real 4Q clips (spread over the four quadrant folders), in one process with one
BLAS / numba / torch thread, it measures with ``time.process_time``, clip by clip so
that all see the same load:

* decoding at 22,050 Hz and at 16 kHz (``mer.audio.decode.load``);
* ``mer.features.descriptors.describe`` (the emotion descriptors);
* ``mer.features.embeddings.clip_embedding`` (musicnn input + the MSD network on every 3-s patch);
* ``mer.features.methods.extract`` (the paper's 204 rows, default extractor), for scale.

The first clip is a warm-up (numba compilation, filter banks, weights) and is left out.
It prints CPU-seconds per clip and the ratio of each to the paper's features.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = "1"  # before numpy is imported: CPU time of one core

import argparse
import sys
from pathlib import Path

import numpy as np

from _common import DEFAULT_DATA, cpu_seconds, spread_clips  # noqa: E402 (benchmarks/ is on sys.path when run)




def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=10, help="number of clips (default 10, plus one warm-up)")
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the 4Q dataset folder")
    args = ap.parse_args(argv)
    paths = spread_clips(args.data, args.n + 1)
    if not paths:
        print(f"no 4Q clips under {args.data}; nothing measured")
        return 0

    import torch

    torch.set_num_threads(1)
    from mer.audio import decode as audio
    from mer.features import descriptors
    from mer.features import embeddings
    from mer.features import methods as features

    model = embeddings.load_musicnn()
    cost: dict[str, list[float]] = {k: [] for k in ("decode 22.05k", "decode 16k", "descriptors", "musicnn", "paper")}
    seconds = []
    for i, p in enumerate(paths):
        y, t_dec = cpu_seconds(audio.load, p, sr=22050)
        y16, t_dec16 = cpu_seconds(audio.load, p, sr=16000)
        _, t_desc = cpu_seconds(descriptors.describe, y)
        _, t_emb = cpu_seconds(embeddings.clip_embedding, y16, 16000, model=model)
        _, t_feat = cpu_seconds(features.extract, y)
        if i == 0:
            continue  # warm-up
        seconds.append(len(y) / 22050)
        for k, t in zip(cost, (t_dec, t_dec16, t_desc, t_emb, t_feat)):
            cost[k].append(t)
    n = len(seconds)
    print(f"{n} clips, {np.mean(seconds):.1f} s of audio each on average (first clip was a warm-up)")
    paper = float(np.mean(cost["paper"]))
    for k, v in cost.items():
        print(f"  {k:14s} {np.mean(v):6.3f} CPU-s/clip  (x{np.mean(v) / paper:.2f} of the paper's features)")
    print(f"  musicnn weights: {embeddings.DEFAULT_WEIGHTS.stat().st_size / 1e6:.2f} MB on disk")
    return 0


if __name__ == "__main__":
    sys.exit(main())
