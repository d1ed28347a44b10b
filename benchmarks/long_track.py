"""Peak memory of a 10-minute track: windowed extraction vs. loading the whole track.

    python benchmarks/long_track.py [--minutes 10] [--data ../shared/data/4q-dev] [--no-reference]

Writes a long track to a temporary WAV (44.1 kHz stereo, 16 bit): real 4Q clips of that
format one after another when the data is there, else the seeded synthetic generator
(``mer.synthetic.generate_clip``). Then, each in a fresh process, it measures peak RSS
(``resource.getrusage``) and CPU time of

* ``mer.extraction.extract_file``: longer than 2 minutes, so it streams the decoding and
  analyses 60-s windows (``mer.fused.extract_long_file``);
* the full-load fused path: ``extract_fused(audio.load(path))``;
* the full-load reference: ``extract_reference(audio.load(path))`` (``--no-reference``
  skips it; it is the slow one);

and the largest difference between the windowed and the full-load fused matrices per row
group, and the RSS of each process before the track, after its imports and a 3-s warm-up.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MIB = 1024**2
from _common import DEFAULT_DATA  # noqa: E402 (benchmarks/ is on sys.path when run)


def _peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def write_long_track(path: Path, minutes: float, data: Path) -> str:
    """A long 44.1 kHz stereo WAV; returns what it is made of."""
    import numpy as np
    import soundfile as sf

    sr, need = 44100, int(minutes * 60 * 44100)
    clips = [p for p in sorted(data.glob("Q*/*.mp3")) if (sf.info(str(p)).samplerate, sf.info(str(p)).channels)
             == (sr, 2)] if data.is_dir() else []
    with sf.SoundFile(str(path), "w", samplerate=sr, channels=2, subtype="PCM_16") as out:
        written, i = 0, 0
        while written < need:
            if clips:
                block, _ = sf.read(str(clips[i % len(clips)]), dtype="float32", always_2d=True)
            else:
                from mer.synthetic import generate_clip

                mono = generate_clip(f"Q{i % 4 + 1}", seed=i, duration=30.0, sr=sr)
                block = np.stack([mono, mono], axis=1)
            block = block[: need - written]
            out.write(block)
            written += len(block)
            i += 1
    return f"{i} real 4Q clips" if clips else f"{i} synthetic clips"


def step(name: str, path: str, out: str) -> dict:
    import numpy as np

    from mer import audio
    from mer.extraction import extract_file
    from mer.features import extract_reference
    from mer.fused import extract_fused

    extract_fused(np.sin(np.arange(3 * 22050, dtype=np.float32) * 0.1))  # imports, numba compilation
    baseline = _peak_rss()
    t0 = time.process_time()
    if name == "windowed":
        X = extract_file(path)
    elif name == "full-fused":
        X = extract_fused(audio.load(path))
    else:
        X = extract_reference(audio.load(path))
    cpu = time.process_time() - t0
    np.save(out, X)
    return {"cpu_s": cpu, "peak_rss": _peak_rss(), "baseline_rss": baseline, "shape": list(X.shape)}


def _run(name: str, path: Path, out: Path) -> dict:
    cmd = [sys.executable, __file__, "--step", name, "--track", str(path), "--out", str(out)]
    res = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(next(line for line in res.splitlines() if line.startswith("{")))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--no-reference", action="store_true", help="skip the full-load reference extractor")
    ap.add_argument("--step", help=argparse.SUPPRESS)
    ap.add_argument("--track", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.step:
        print(json.dumps(step(args.step, args.track, args.out)))
        return 0

    import numpy as np

    from mer.features import FeatureSpec

    with tempfile.TemporaryDirectory(prefix="mer-long-") as tmp:
        tmp = Path(tmp)
        track = tmp / "long.wav"
        made_of = write_long_track(track, args.minutes, args.data)
        print(f"track: {args.minutes:g} min, 44.1 kHz stereo 16-bit WAV of {made_of} "
              f"({track.stat().st_size / MIB:.0f} MiB on disk)")
        names = ["windowed", "full-fused"] + ([] if args.no_reference else ["full-reference"])
        res = {}
        for name in names:
            res[name] = _run(name, track, tmp / f"{name}.npy")
            r = res[name]
            print(f"{name:15s} peak RSS {r['peak_rss'] / MIB:6.0f} MiB   CPU {r['cpu_s']:6.1f} s   features "
                  f"{tuple(r['shape'])}   (RSS after imports and a 3-s warm-up: {r['baseline_rss'] / MIB:.0f} MiB)")
        W, F = np.load(tmp / "windowed.npy"), np.load(tmp / "full-fused.npy")
        spec = FeatureSpec.from_config()
        diffs = {g: float(np.max(np.abs(W[spec.rows(g)].astype(np.float64) - F[spec.rows(g)])))
                 for g in spec.group_names}
        print("windowed vs full-load fused, largest |difference| per group: "
              + ", ".join(f"{g} {d:.2g}" for g, d in diffs.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
