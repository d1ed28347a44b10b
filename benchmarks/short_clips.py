"""How much the shipped model's answer depends on clip length: the basis of the ``too_short`` flag.

    python benchmarks/short_clips.py [--n 16] [--lengths 0.75,2,3,5,8,10]

Takes `n` real 4Q clips, cuts each to the first L seconds (WAV slices of the decoded
clip in a temporary folder), predicts every cut with the default model and compares
it with the prediction on the whole 30-s clip: the share of cuts that keep the
quadrant, and the mean total-variation distance between the two probability vectors
(0 = same answer, 1 = disjoint). The model was trained on these clips, so this
measures stability, not accuracy. Prints one row per length.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DEFAULT_DATA, spread_clips  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--n", type=int, default=16)
    ap.add_argument("--lengths", default="0.75,2,3,5,8,10")
    args = ap.parse_args(argv)

    import soundfile as sf

    from mer.audio import decode as audio
    from mer.workflows.predict import load_model, predict_files

    clips = spread_clips(args.data, args.n)
    if not clips:
        raise SystemExit(f"no clips under {args.data}")
    lengths = [float(x) for x in args.lengths.split(",")]
    model = load_model()
    sr = 22050
    with tempfile.TemporaryDirectory() as tmp:
        cuts = {L: [] for L in lengths}
        for i, clip in enumerate(clips):
            y = audio.load(clip, sr=sr)
            for L in lengths:
                p = Path(tmp) / f"{i:03d}_{L:g}s.wav"
                sf.write(str(p), y[: int(L * sr)], sr)
                cuts[L].append(p)
        full, fail = predict_files(model, clips, progress=False, cache_dir=Path(tmp) / "cache")
        assert not fail, fail
        print(f"{len(clips)} clips of {args.data}; whole-clip predictions vs the first L seconds")
        print(f"{'L (s)':>6} {'same quadrant':>14} {'mean TV distance':>17} {'flagged too_short':>18}")
        for L in lengths:
            preds, fail = predict_files(model, cuts[L], progress=False, cache_dir=Path(tmp) / "cache")
            assert not fail, fail
            same = np.mean([a.quadrant == b.quadrant for a, b in zip(full, preds)])
            tv = np.mean([0.5 * sum(abs(a.probabilities[q] - b.probabilities[q]) for q in model.labels)
                          for a, b in zip(full, preds)])
            short = np.mean(["too_short" in p.flags for p in preds])
            print(f"{L:>6g} {same:>14.2f} {tv:>17.3f} {short:>18.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
