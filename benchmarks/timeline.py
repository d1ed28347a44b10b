"""CPU time and peak memory of `mer timeline` on long tracks built from real 4Q clips.

    python benchmarks/timeline.py [--minutes 1 10] [--window 10] [--hop 5] [--threads 1]
                                  [--data ../shared/data/4q-dev] [--json FILE]

For each length it writes a temporary WAV (44.1 kHz stereo, 16 bit, in a temporary folder,
never in the repository) of the real 4Q clips of that format one after another
(``benchmarks/long_track.py``'s :func:`write_long_track`), then runs ``mer timeline TRACK
--quiet --threads N`` in a fresh process, whose own peak RSS and CPU time ``os.wait4``
gives (model loading and process start included). It prints peak RSS, CPU seconds, CPU
seconds per minute of audio and windows analysed; without the data it skips.

Measured on 2026-11-30 (2 shared cores, another job running; ``--threads 1``, 10-s windows
every 5 s, median smoothing; ``python benchmarks/timeline.py --minutes 1 10``, then
``--minutes 60``):

=========  ============  ========  ===========  =========
minutes    peak RSS MiB  CPU-s     CPU-s / min  windows
=========  ============  ========  ===========  =========
1          767           13.0      13.0         11
10         779           44.9      4.5          119
60         780           218.5     3.6          719
=========  ============  ========  ===========  =========

The peak does not grow with the length (10 min / 1 min: 1.01; 60 min: 780 MiB): the
track is streamed, one window plus a decoded block per sample rate in memory. Per minute
of audio, a long track costs about what ``mer predict`` does on it (4.3 CPU-s / min on 10
minutes with a thread budget of 2, ``benchmarks/long_track.py``), although every second
is analysed twice (windows overlap by half); the 1-minute figure is mostly process start
and loading the models.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

from _common import DEFAULT_DATA  # noqa: E402 (benchmarks/ is on sys.path when run)
from long_track import _measure, real_clips, write_long_track  # noqa: E402

MIB = 1024**2


def run(track: Path, out: Path, *, window: float, hop: float, threads: int) -> dict:
    """`mer timeline` on `track` in a fresh process: peak RSS (bytes), CPU-s and the windows it wrote."""
    mer = Path(sys.executable).with_name("mer")
    cmd = [str(mer), "timeline", str(track), "--out", str(out), "--quiet", "--window", str(window),
           "--hop", str(hop), "--threads", str(threads)]
    res, _ = _measure(cmd)
    tl = json.loads((out / f"{track.stem}.timeline.json").read_text())
    res["windows"] = len(tl["windows"])
    res["duration_s"] = tl["duration_s"]
    res["dominant"] = tl["summary"]["dominant_quadrant"]
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, nargs="+", default=[1.0, 10.0])
    ap.add_argument("--window", type=float, default=10.0)
    ap.add_argument("--hop", type=float, default=5.0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--json", type=Path, help="also write every figure to this JSON file")
    args = ap.parse_args(argv)
    if not real_clips(args.data):
        print(f"skipped: no 44.1 kHz stereo 4Q clips under {args.data} (--data)")
        return 0
    rows = []
    print(f"mer timeline, {args.window:g}-s windows every {args.hop:g} s, --threads {args.threads}")
    print(f"{'minutes':>8} {'peak RSS MiB':>13} {'CPU-s':>8} {'CPU-s/min':>10} {'windows':>8}  made of")
    for minutes in args.minutes:
        with tempfile.TemporaryDirectory() as tmp:
            track = Path(tmp) / f"track_{minutes:g}min.wav"
            made_of = write_long_track(track, minutes, args.data)
            res = run(track, Path(tmp), window=args.window, hop=args.hop, threads=args.threads)
        res.update(minutes=minutes, cpu_s_per_min=res["cpu_s"] / minutes, made_of=made_of)
        rows.append(res)
        print(f"{minutes:>8g} {res['peak_rss'] / MIB:>13.0f} {res['cpu_s']:>8.1f} {res['cpu_s_per_min']:>10.2f} "
              f"{res['windows']:>8}  {made_of}", flush=True)
    if len(rows) > 1:
        a, b = rows[0], rows[-1]
        print(f"peak RSS {b['minutes']:g} min / {a['minutes']:g} min: {b['peak_rss'] / a['peak_rss']:.2f}; "
              f"CPU-s per minute: {b['cpu_s_per_min'] / a['cpu_s_per_min']:.2f}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
