"""Peak memory and CPU time of long tracks: `mer predict` and every model input.

    python benchmarks/long_track.py [--minutes 1 10 60] [--steps predict descriptors ...]
                                    [--data ../shared/data/4q-dev] [--synthetic]
                                    [--compare-fused] [--no-reference] [--json FILE]

For each length it writes a long track to a temporary WAV (44.1 kHz stereo, 16 bit; in a
temporary folder, never in the repository): the 25 real 4Q clips of that format one after
another, cycled; without the data it skips, or with ``--synthetic`` uses the seeded
generator (``mer.audio.synth.generate_clip``). Then, each in a fresh process (``os.wait4``
gives that process's own peak RSS and CPU time), it runs

* ``predict``: ``mer predict TRACK`` with the default model (descriptors + musicnn MSD +
  musicnn MTT) and an empty feature cache;
* ``descriptors``, ``musicnn_msd``, ``musicnn_mtt``: ``mer.extraction.batch.extract_file`` with
  ``describe`` / ``embed_signal`` and the default model's configs;
* ``features``: ``extract_file`` of the paper's 204 rows (fused method);

and prints peak RSS, CPU seconds and CPU seconds per minute of audio. Tracks longer than
``mer.features.fused.LONG_TRACK_SECONDS`` (2 min) take the windowed paths; shorter ones load
the whole file.

``--compare-fused`` adds the paper features' full-load paths, ``extract_fused(audio.load)``
and ``extract_reference(audio.load)`` (``--no-reference`` skips the slow reference), and
the largest difference between the windowed and the full-load fused matrices per group.

Measured on 2026-11-30 (2 shared cores; OMP_NUM_THREADS=1 for the steps, `mer predict`
with the in-process thread budget of 2), peak RSS in MiB / CPU-s per minute of audio
(process start included, which weighs on the short tracks):

============  =====================  ==========  ==========  ==========  ==========
step          before: 10 min         1 min       1.95 min    10 min      60 min
============  =====================  ==========  ==========  ==========  ==========
predict       3780 / 5.3             1005 / 9.6  1347 / 6.2  865 / 4.3   883 / 4.0
descriptors   3491 / 1.9             622 / 3.7   -           531 / 0.9   531 / 0.7
musicnn_msd   1305 / 1.8             764 / 4.1   -           729 / 1.3   719 / 1.2
musicnn_mtt   1265 / 1.8             764 / 4.0   -           719 / 1.3   729 / 1.2
features      (windowed already)     368 / 1.8   -           443 / 0.5   894 / 0.4
============  =====================  ==========  ==========  ==========  ==========

"before" is commit cb2a3ac, which loaded the whole file for descriptors and embeddings.
Tracks up to 2 minutes are still analysed whole (so the cached results of short clips
stay valid), so the largest peak is just under that threshold: `mer predict` on 1.95
minutes, where describing the whole clip takes about 5 MiB per second of audio. The
paper features' peak grows with the length because their result, a (204, T) matrix,
does (127 MB of float32 for 60 minutes).
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

#: The measured steps, in the default order.
STEPS = ("predict", "descriptors", "musicnn_msd", "musicnn_mtt", "features")


def _peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def real_clips(data: Path, sr: int = 44100) -> list[Path]:
    """The 4Q clips that are `sr` Hz stereo (none if the data is not there)."""
    import soundfile as sf

    return [p for p in sorted(data.glob("Q*/*.mp3")) if (sf.info(str(p)).samplerate, sf.info(str(p)).channels)
            == (sr, 2)] if data.is_dir() else []


def write_long_track(path: Path, minutes: float, data: Path) -> str:
    """A long 44.1 kHz stereo WAV; returns what it is made of."""
    import numpy as np
    import soundfile as sf

    sr, need = 44100, int(minutes * 60 * 44100)
    clips = real_clips(data, sr)
    with sf.SoundFile(str(path), "w", samplerate=sr, channels=2, subtype="PCM_16") as out:
        written, i = 0, 0
        while written < need:
            if clips:
                block, _ = sf.read(str(clips[i % len(clips)]), dtype="float32", always_2d=True)
            else:
                from mer.audio.synth import generate_clip

                mono = generate_clip(f"Q{i % 4 + 1}", seed=i, duration=30.0, sr=sr)
                block = np.stack([mono, mono], axis=1)
            block = block[: need - written]
            out.write(block)
            written += len(block)
            i += 1
    return f"{i} real 4Q clips ({len(clips)} distinct)" if clips else f"{i} synthetic clips"


def step(name: str, path: str, out: str) -> dict:
    """One measured computation in this (fresh) process; saves its result to `out`."""
    import numpy as np

    from mer.audio import decode as audio
    from mer.extraction.batch import extract_file

    t0 = time.process_time()
    if name == "descriptors":
        from mer.features.descriptors import DescriptorConfig, describe

        X = extract_file(path, DescriptorConfig(), describe)
    elif name.startswith("musicnn_"):
        from mer.features.embeddings import EmbeddingConfig, embed_signal

        X = extract_file(path, EmbeddingConfig(weights=name[len("musicnn_"):] + "_musicnn"), embed_signal)
    elif name == "features":
        X = extract_file(path)
    elif name == "full-fused":
        from mer.features.fused import extract_fused

        X = extract_fused(audio.load(path))
    elif name == "full-reference":
        from mer.features.paper import extract_reference

        X = extract_reference(audio.load(path))
    else:
        raise ValueError(f"unknown step {name}")
    cpu = time.process_time() - t0
    np.save(out, X)
    return {"work_cpu_s": cpu, "shape": list(X.shape), "finite": bool(np.isfinite(X).all())}


def _measure(cmd: list[str], env: dict | None = None) -> tuple[dict, str]:
    """Run `cmd` to completion; (its own peak RSS and CPU time, its stdout)."""
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.PIPE, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        err = proc.stderr.read().decode(errors="replace")
        out.seek(0)
        stdout = out.read().decode(errors="replace")
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{err[-2000:]}")
    # ru_maxrss is in KiB on Linux
    return {"peak_rss": usage.ru_maxrss * 1024, "cpu_s": usage.ru_utime + usage.ru_stime}, stdout


def run_step(name: str, track: Path, tmp: Path) -> dict:
    """Measure one step on `track` in a fresh process."""
    if name == "predict":
        cache = tmp / "cache"  # empty, and thrown away with the track: a cold prediction
        mer = Path(sys.executable).with_name("mer")
        cmd = [str(mer), "predict", str(track), "--format", "json", "--cache-dir", str(cache)]
        res, stdout = _measure(cmd)
        pred = json.loads(stdout)
        res["result"] = pred[0]["quadrant"] if pred else "failed"
        import shutil

        shutil.rmtree(cache, ignore_errors=True)
        return res
    out = tmp / f"{name}.npy"
    res, stdout = _measure([sys.executable, __file__, "--step", name, "--track", str(track), "--out", str(out)])
    info = json.loads(next(line for line in stdout.splitlines() if line.startswith("{")))
    res.update(info)
    res["result"] = f"shape {tuple(info['shape'])}" + ("" if info["finite"] else " NOT FINITE")
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, nargs="+", default=[1.0, 10.0, 60.0])
    ap.add_argument("--steps", nargs="+", default=list(STEPS), choices=STEPS)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--compare-fused", action="store_true",
                    help="also the paper features' full-load paths, and their difference from the windowed one")
    ap.add_argument("--no-reference", action="store_true", help="with --compare-fused: skip the reference extractor")
    ap.add_argument("--synthetic", action="store_true",
                    help="without the 4Q data, build the tracks from generated clips instead of skipping")
    ap.add_argument("--json", type=Path, help="also write every figure to this JSON file")
    ap.add_argument("--step", help=argparse.SUPPRESS)
    ap.add_argument("--track", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.step:
        print(json.dumps(step(args.step, args.track, args.out)))
        return 0

    import numpy as np

    if not args.synthetic and not real_clips(args.data):
        print(f"skipped: no 44.1 kHz stereo 4Q clips under {args.data} (--data, or --synthetic for generated clips)")
        return 0
    steps = list(args.steps)
    if args.compare_fused:
        steps += [s for s in ["features", "full-fused"] + ([] if args.no_reference else ["full-reference"])
                  if s not in steps]
    figures = []
    for minutes in args.minutes:
        with tempfile.TemporaryDirectory(prefix="mer-long-") as tmp:
            tmp = Path(tmp)
            track = tmp / "long.wav"
            made_of = write_long_track(track, minutes, args.data)
            print(f"\ntrack: {minutes:g} min, 44.1 kHz stereo 16-bit WAV of {made_of} "
                  f"({track.stat().st_size / MIB:.0f} MiB on disk)")
            for name in steps:
                r = run_step(name, track, tmp)
                figures.append({"minutes": minutes, "step": name, **r})
                print(f"  {name:14s} peak RSS {r['peak_rss'] / MIB:6.0f} MiB   CPU {r['cpu_s']:7.1f} s "
                      f"({r['cpu_s'] / minutes:5.1f} s per audio minute, process start included)   {r['result']}",
                      flush=True)
            if args.compare_fused:
                from mer.features.paper import FeatureSpec

                W, F = np.load(tmp / "features.npy"), np.load(tmp / "full-fused.npy")
                spec = FeatureSpec.from_config()
                diffs = {g: float(np.max(np.abs(W[spec.rows(g)].astype(np.float64) - F[spec.rows(g)])))
                         for g in spec.group_names}
                print("  windowed vs full-load fused, largest |difference| per group: "
                      + ", ".join(f"{g} {d:.2g}" for g, d in diffs.items()))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
