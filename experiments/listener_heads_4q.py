"""Issue 22: Essentia's listener-rated heads (emoMusic, DEAM) on the 4Q clips, against the tag-derived targets.

    nice -n 10 python experiments/listener_heads_4q.py [--data ../shared/data/4q-dev] [--hops 93 187]
        [--json experiments/results/listener_heads_4q.json]

For each patch hop (93 frames: Essentia's cut; 187: non-overlapping patches) the clips'
mean pre-ReLU dense vectors come through the feature cache
(:func:`mer.workflows.listener.listener_inputs`, one process, one torch thread), and each
head's [valence, arousal] (:mod:`mer.models.listener`, mer's ``(rating - 5) / 4`` scale)
is compared with the clips' Warriner tag targets (:func:`mer.data.targets.mood_targets`)
by Pearson r (and each raw graph output against each target, which checks the heads' output
order). Also printed: r between the two hops' outputs (whether patches shared at
another hop would do), and the CPU-s per clip of the cache misses (4Q clips are 30 s;
0 when everything was cached).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

DEFAULT_DATA = Path(os.environ.get("MER_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")) / "4q-dev"


def _clips(root: Path):
    from mer.data.datasets import load_4q
    from mer.data.targets import find_norms, mood_targets

    targets = mood_targets(root / "panda_dataset_taffc_metadata.csv", find_norms(root))
    clips = [c for c in load_4q(root).clips if c.id in targets]
    va = np.array([[targets[c.id].valence, targets[c.id].arousal] for c in clips])
    return [c.path for c in clips], va


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--hops", type=int, nargs="+", default=[93, 187])
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)

    import torch

    from mer.models.listener import SHIPPED, load_head
    from mer.workflows.listener import listener_inputs

    torch.set_num_threads(1)
    paths, target = _clips(args.data)
    print(f"{len(paths)} clips with tag targets")
    out, rows = {}, []
    for hop in args.hops:
        t0 = time.process_time()
        inputs = listener_inputs(paths, patch_hop=hop, progress=True)
        cpu = time.process_time() - t0
        ok = inputs.ok
        for name in SHIPPED:
            head = load_head(name)
            va, raw = head.predict(inputs.X), head.ratings(inputs.X)
            out[(hop, name)] = (ok, va)
            r = [float(np.corrcoef(va[:, j], target[ok, j])[0, 1]) for j in range(2)]
            # each raw graph output against each target: checks the head's output order
            by_output = [[float(np.corrcoef(raw[:, k], target[ok, j])[0, 1]) for j in range(2)] for k in range(2)]
            rows.append({"hop": hop, "head": name, "n": int(ok.sum()), "valence_r": r[0], "arousal_r": r[1],
                         "mean": va.mean(0).tolist(), "std": va.std(0).tolist(), "cpu_s_per_clip": cpu / len(paths),
                         "graph_output_r_with_valence_arousal": by_output})
    print(f"{'hop':>4} {'head':9} {'n':>4} {'val r':>7} {'aro r':>7}  mean (v, a)     std (v, a)    CPU-s/clip")
    for r in rows:
        print(f"{r['hop']:>4} {r['head']:9} {r['n']:>4} {r['valence_r']:7.3f} {r['arousal_r']:7.3f}  "
              f"{r['mean'][0]:+.3f} {r['mean'][1]:+.3f}  {r['std'][0]:.3f} {r['std'][1]:.3f}  {r['cpu_s_per_clip']:.3f}")
        print("       graph outputs 0, 1: r with (valence, arousal) targets",
              " ".join(f"({v:+.3f}, {a:+.3f})" for v, a in r["graph_output_r_with_valence_arousal"]))
    between = []
    if len(args.hops) == 2:
        for name in SHIPPED:
            (ok_a, a), (ok_b, b) = out[(args.hops[0], name)], out[(args.hops[1], name)]
            both = ok_a & ok_b
            a, b = a[both[ok_a]], b[both[ok_b]]
            r = [float(np.corrcoef(a[:, j], b[:, j])[0, 1]) for j in range(2)]
            between.append({"head": name, "valence_r": r[0], "arousal_r": r[1]})
            print(f"r between hops {args.hops[0]} and {args.hops[1]}, {name}: valence {r[0]:.4f}, arousal {r[1]:.4f}")
    if args.json:
        from mer.core.io import write_json

        write_json(args.json, {"rows": rows, "between_hops": between})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
