"""`mer scan` throughput on real 4Q clips, query latency of a 100,000-track library, and the cost of analysis.

    python benchmarks/library.py [--clips 6] [--jobs 1 2] [--rows 100000] [--repeats 30]
                                 [--data ../shared/data/4q-dev] [--skip-scan] [--skip-queries]
    python benchmarks/library.py --cost [--tracks 3] [--minutes 4] [--baseline ../main/src]
                                 [--long-minutes 60] [--silent-hours 2]

Cost (``--cost``, :func:`analysis_cost`): `--tracks` real-length tracks of `--minutes`
each are built in a temporary folder by concatenating real 4Q clips (mono FLAC, never in
the repository) and analysed as ``mer scan`` analyses a file
(:func:`mer.library.scan.analyse_file`: the track's answer, its default timeline, tempo,
loudness, tags), one thread, an empty feature cache, in a fresh process per code base:
this checkout's and, side by side in the same run, `--baseline`'s (another checkout's
``src``, e.g. ``main``). The models are loaded and one 30-s clip analysed first, untimed.
It prints CPU-s per minute of audio, the ratio, and the projection for 10,000 tracks of
`--minutes` on two cores (two ``--jobs``). Then this checkout alone: the peak RSS of a
process analysing one `--long-minutes` track, and the wall / CPU time of ``mer scan``
(:func:`mer.library.scan.scan`) of a silent file of `--silent-hours`.

Scan: `--clips` real 4Q clips (:func:`_common.spread_clips`) are copied to a temporary
folder (never the repository) and scanned into a fresh library with an empty feature
cache, once per ``--jobs`` value (in this process, ``progress=False``; model loading
and, with jobs > 1, worker start included), then once more with nothing changed. It
prints tracks per minute, the ratio to 1 job, and the unchanged rescan's time.

Queries: a library of `--rows` synthetic tracks (uniform valence / arousal, tempo 60-180
BPM, a quadrant each, a flag on some; no audio, the query path is the same) is built
in a temporary folder; typical :meth:`mer.library.db.Library.tracks` filters are each
timed `--repeats` times on a fresh read-only connection per repeat, and the p50 / p95
latency is printed with the number of rows returned.

Measured on 2026-11-30, 2 cores shared with other jobs (``python benchmarks/library.py``,
then ``--skip-queries`` again): scan 9.10 tracks/min with 1 job, 11.87 with 2 (1.30x) at
a load average of 5; 5.34 and 4.50 (0.84x) at 6 to 8; unchanged rescan 0.02-0.03 s.
Queries on 100,000 rows, p50 / p95 in ms: quadrant Q1 first 100 1.68 / 5.92; valence and
arousal box (7,368 rows) 303 / 338; tempo range by -valence, 50: 44.8 / 92.1; Q4 without
``clipped``, 100: 1.90 / 8.18; flag ``clipped`` (2,000 rows) 180 / 238; path glob, 100:
6.71 / 7.27; a (v, a) +-0.05 box (258 rows) 12.1 / 15.9; ``track(id)`` 0.02 / 0.03.
Before the ``(status, column)`` indexes (single-column ones, and ``(status, quadrant)``),
the same run gave 36.1, 451, 116, 48.5, 171, 61.9 and 66.2 ms p50: the planner took the
status index for every query and sorted.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from _common import DEFAULT_DATA, spread_clips  # noqa: E402 (benchmarks/ is on sys.path when run)

#: The filters timed: name -> keyword arguments of Library.tracks.
QUERIES = {
    "quadrant Q1, first 100": {"quadrant": "Q1", "limit": 100},
    "valence 0.3..0.8 and arousal -0.2..0.4": {"valence": (0.3, 0.8), "arousal": (-0.2, 0.4)},
    "tempo 100..120, by -valence, 50": {"tempo": (100, 120), "order": "-valence", "limit": 50},
    "Q4 without flag clipped, 100": {"quadrant": "Q4", "without_flags": "clipped", "limit": 100},
    "flag clipped": {"flags": "clipped"},
    "path glob */jazz/*, 100": {"path_glob": "*/jazz/*", "limit": 100},
    "near a mood (v, a) +-0.05": {"valence": (0.45, 0.55), "arousal": (-0.55, -0.45)},
}


def scan_throughput(clips: list[Path], jobs: list[int]) -> None:
    from mer.library.scan import scan

    print(f"mer scan of {len(clips)} real 4Q clips (30 s each), fresh library and feature cache per run")
    print(f"{'jobs':>5} {'wall s':>8} {'tracks/min':>11} {'vs 1 job':>9} {'rescan s':>9}")
    first = None
    for j in jobs:
        with tempfile.TemporaryDirectory() as tmp:
            music = Path(tmp) / "music"
            music.mkdir()
            for c in clips:
                shutil.copy2(c, music / f"{c.parent.name}-{c.name}")
            t0 = time.perf_counter()
            report = scan([music], db=Path(tmp) / "lib.db", jobs=j, cache_dir=Path(tmp) / "cache", progress=False)
            wall = time.perf_counter() - t0
            again = scan([music], db=Path(tmp) / "lib.db", jobs=j, cache_dir=Path(tmp) / "cache", progress=False)
        assert report.analysed == len(clips) and again.analysed == 0, (report.to_dict(), again.to_dict())
        rate = report.analysed / wall * 60
        first = first or rate
        print(f"{j:>5} {wall:>8.1f} {rate:>11.2f} {rate / first:>9.2f} {again.wall_s:>9.2f}", flush=True)


def synthetic_library(path: Path, rows: int, seed: int = 0) -> None:
    """`rows` synthetic tracks, written 5,000 per transaction."""
    from mer.library.db import open_library

    rng = np.random.default_rng(seed)
    folders = ("jazz", "rock", "classical", "ambient", "pop")
    with open_library(path) as lib:
        for start in range(0, rows, 5000):
            batch = []
            for i in range(start, min(rows, start + 5000)):
                v, a = rng.uniform(-1, 1, 2)
                p = rng.dirichlet(np.ones(4))
                batch.append((f"/music/{folders[i % 5]}/{i // 100:04d}/track{i:06d}.flac", 1000 + i, i, {
                    "status": "ok", "model": "synthetic@0", "content_hash": f"{i:064x}",
                    "quadrant": ("Q1", "Q2", "Q3", "Q4")[int(np.argmax(p))],
                    "p_q1": p[0], "p_q2": p[1], "p_q3": p[2], "p_q4": p[3], "valence": float(v), "arousal": float(a),
                    "tempo_bpm": float(rng.uniform(60, 180)), "loudness_db": float(rng.uniform(-30, -6)),
                    "duration_s": 240.0, "flags": ["clipped"] if i % 50 == 0 else [],
                    "summary": {"opening": {"valence": float(v), "arousal": float(a)}},
                    "analysed_at": "2026-11-30T00:00:00Z"}, None))
            lib.record(batch)


def query_latency(rows: int, repeats: int) -> None:
    from mer.library.db import open_library

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "lib.db"
        t0 = time.perf_counter()
        synthetic_library(path, rows)
        print(f"\nlibrary of {rows} synthetic tracks built in {time.perf_counter() - t0:.1f} s "
              f"({path.stat().st_size / 2**20:.0f} MiB)")
        print(f"{'query':<42} {'rows':>6} {'p50 ms':>8} {'p95 ms':>8} {'p95/p50':>8}")
        for name, kwargs in QUERIES.items():
            times, n = [], 0
            for _ in range(repeats):
                with open_library(path, readonly=True) as lib:
                    t0 = time.perf_counter()
                    n = len(lib.tracks(**kwargs))
                    times.append((time.perf_counter() - t0) * 1000)
            p50, p95 = np.percentile(times, [50, 95])
            print(f"{name:<42} {n:>6} {p50:>8.2f} {p95:>8.2f} {p95 / p50:>8.2f}", flush=True)
        with open_library(path, readonly=True) as lib:
            ids = np.random.default_rng(1).integers(1, rows + 1, repeats)
            times = []
            for i in ids:
                t0 = time.perf_counter()
                lib.track(int(i))
                times.append((time.perf_counter() - t0) * 1000)
        p50, p95 = np.percentile(times, [50, 95])
        print(f"{'track(id), one connection':<42} {1:>6} {p50:>8.2f} {p95:>8.2f} {p95 / p50:>8.2f}")


def _child(argv: list[str]) -> None:
    """In a fresh process whose ``sys.path`` starts at the code base measured: one JSON line of figures."""
    import json
    import resource

    what, *paths = argv
    from mer.library.scan import _model, analyse_file, scan

    if what == "silent":
        t0, c0 = time.perf_counter(), time.process_time()
        report = scan([paths[0]], db=Path(paths[1]), progress=False)
        print(json.dumps({"wall_s": time.perf_counter() - t0, "cpu_s": time.process_time() - c0,
                          "analysed": report.analysed, "failed": report.failed}))
        return
    model = _model(None)
    analyse_file(paths[0], model=model)  # warm-up: lazy imports, compiled kernels, first model calls
    cpu = []
    for p in paths[1:]:
        t0 = time.process_time()
        result, _ = analyse_file(p, model=model)
        assert result["status"] == "ok", result
        cpu.append(time.process_time() - t0)
    print(json.dumps({"cpu_s": cpu, "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def _build_track(clips: list[Path], path: Path, minutes: float, sr: int = 44100) -> float:
    """Concatenate real clips (cycling) into a mono FLAC of about `minutes`; its length in minutes."""
    import soundfile as sf

    from mer.audio.decode import load

    parts, total, i = [], 0, 0
    while total < minutes * 60 * sr:
        y = load(clips[i % len(clips)], sr=sr)
        parts.append(y)
        total += len(y)
        i += 1
    sf.write(str(path), np.concatenate(parts)[: int(minutes * 60 * sr)], sr, subtype="PCM_16")
    return min(total, minutes * 60 * sr) / sr / 60


def _run_child(src: Path, args: list[str], cache: Path, timeout: float | None = None) -> dict | None:
    import json
    import subprocess

    env = {**os.environ, "PYTHONPATH": str(src), "MER_CACHE": str(cache), "OMP_NUM_THREADS": "1",
           "MER_THREADS": "1"}
    try:
        out = subprocess.run([sys.executable, __file__, "--child", *args], env=env, capture_output=True, text=True,
                             timeout=timeout, check=True)
    except subprocess.TimeoutExpired:
        return None
    except subprocess.CalledProcessError as exc:
        raise SystemExit(f"child failed ({src}):\n{exc.stderr[-3000:]}") from None
    return json.loads(out.stdout.strip().splitlines()[-1])


def analysis_cost(args) -> None:
    """See the module docstring (``--cost``)."""
    this = Path(__file__).resolve().parents[1] / "src"
    clips = spread_clips(args.data, 24)
    with tempfile.TemporaryDirectory(prefix="mer-cost-") as tmp:
        tracks = [Path(tmp) / f"track{i}.flac" for i in range(args.tracks)]
        minutes = [_build_track(clips[i * 8:] + clips[: i * 8], t, args.minutes) for i, t in enumerate(tracks)]
        if tracks:
            _side_by_side(args, this, tracks, minutes, clips[0], Path(tmp))
        if args.long_minutes:
            long = Path(tmp) / "long.flac"
            _build_track(clips, long, args.long_minutes)
            res = _run_child(this, ["cost", str(clips[0]), str(long)], Path(tmp) / "cache-long")
            print(f"{args.long_minutes:g}-min track: {res['cpu_s'][0] / args.long_minutes:.2f} CPU-s/min, "
                  f"peak RSS {res['peak_rss_mib']:.0f} MiB", flush=True)
        if args.silent_hours:
            _silent_scan(this, Path(tmp), args.silent_hours)


def _side_by_side(args, this: Path, tracks: list[Path], minutes: list[float], warm: Path, tmp: Path) -> None:
    """CPU-s per minute of audio of this checkout and the baseline, each in a fresh process."""
    print(f"{len(tracks)} tracks of {args.minutes} min (real 4Q clips concatenated), one thread, empty cache")
    print(f"{'code':>10} {'CPU-s/min':>10} {'vs baseline':>12} {'10k tracks, 2 cores (h)':>24}")
    bases = [("this", this)] + ([("baseline", args.baseline.resolve())] if args.baseline else [])
    per_min = {}
    for name, src in bases:
        res = _run_child(src, ["cost", str(warm), *map(str, tracks)], tmp / f"cache-{name}")
        per_min[name] = sum(res["cpu_s"]) / sum(minutes)
    for name, _ in bases:
        ratio = per_min[name] / per_min.get("baseline", per_min[name])
        hours = per_min[name] * args.minutes * 10_000 / 2 / 3600
        print(f"{name:>10} {per_min[name]:>10.2f} {ratio:>12.2f} {hours:>24.1f}", flush=True)


def _silent_scan(src: Path, tmp: Path, hours: float, sr: int = 44100) -> None:
    import soundfile as sf

    folder = tmp / "silent"
    folder.mkdir()
    with sf.SoundFile(str(folder / "silence.flac"), "w", sr, 1, "PCM_16") as f:
        for _ in range(int(hours * 60)):
            f.write(np.zeros(60 * sr, np.int16))
    res = _run_child(src, ["silent", str(folder), str(tmp / "silent.db")], tmp / "cache-silent")
    print(f"mer scan of a {hours:g}-hour silent FLAC: {res['wall_s']:.1f} s wall, {res['cpu_s']:.1f} CPU-s "
          f"(analysed {res['analysed']}, failed {res['failed']})", flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clips", type=int, default=6, help="real clips scanned (default 6)")
    ap.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the 4Q dataset folder")
    ap.add_argument("--skip-scan", action="store_true")
    ap.add_argument("--skip-queries", action="store_true")
    ap.add_argument("--cost", action="store_true", help="the cost of analysis instead (see the docstring)")
    ap.add_argument("--tracks", type=int, default=3)
    ap.add_argument("--minutes", type=float, default=4.0)
    ap.add_argument("--baseline", type=Path, help="another checkout's src folder, measured side by side")
    ap.add_argument("--long-minutes", type=float, default=60.0, help="0: skip the long track")
    ap.add_argument("--silent-hours", type=float, default=2.0, help="0: skip the silent file")
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        _child(argv[1:])
        return 0
    args = ap.parse_args(argv)
    if args.cost:
        analysis_cost(args)
        return 0
    if not args.skip_scan:
        clips = spread_clips(args.data, args.clips)
        if clips:
            scan_throughput(clips, args.jobs)
        else:
            print(f"scan skipped: no 4Q clips found under {args.data} (set --data or MER_DATA)")
    if not args.skip_queries:
        query_latency(args.rows, args.repeats)
    return 0


if __name__ == "__main__":
    sys.exit(main())
