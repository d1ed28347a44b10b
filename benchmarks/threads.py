"""CPU cost of `mer predict`'s thread settings on a loaded machine (one busy process per core).

    python benchmarks/threads.py [--n 4] [--data ../shared/data/4q-dev] [--baseline ../main/src]

Starts one busy-looping process per core (what a shared machine looks like), then runs
``mer predict`` on `--n` real 4Q clips in a child process with an empty feature cache,
once per setting, and prints the child's CPU seconds (user + system, ``getrusage`` of
children) and wall time, side by side:

* ``default``: no ``--threads`` (this checkout: one thread per process, OpenMP passive);
* ``--threads 1``;
* ``--threads <cores>`` with ``OMP_WAIT_POLICY`` unset and then ``PASSIVE``;
* with `--baseline` (another checkout's ``src``): that code's default.

The target: the default within 10 % of ``--threads 1``.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import DEFAULT_DATA, spread_clips  # noqa: E402 (benchmarks/ is on sys.path when run)


def _busy(stop) -> None:
    while not stop.is_set():
        sum(range(10_000))


def _predict(src: Path, clips: list[Path], extra: list[str], env_extra: dict[str, str | None]) -> tuple[float, float]:
    """(CPU s of the child and its children, wall s) of one `mer predict` run."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MER_THREADS", "OMP_WAIT_POLICY"):
        env.pop(var, None)
    for k, v in env_extra.items():
        if v is not None:
            env[k] = v
    with tempfile.TemporaryDirectory(prefix="mer-threads-") as cache:
        env["MER_CACHE"] = cache
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "from mer.apps.cli import main; main()", "predict", *map(str, clips),
                        "--quiet", *extra], env=env, check=True, capture_output=True)
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), wall


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=4)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--baseline", type=Path, help="another checkout's src folder")
    args = ap.parse_args(argv)
    clips = spread_clips(args.data, args.n)
    if not clips:
        print(f"skipped: no 4Q clips under {args.data}")
        return 0
    this = Path(__file__).resolve().parents[1] / "src"
    cores = len(os.sched_getaffinity(0))
    runs = [("--threads 1", this, ["--threads", "1"], {}), ("default", this, [], {}),
            (f"--threads {cores}", this, ["--threads", str(cores)], {"OMP_WAIT_POLICY": "ACTIVE"}),
            (f"--threads {cores}, passive", this, ["--threads", str(cores)], {"OMP_WAIT_POLICY": "PASSIVE"})]
    if args.baseline:
        runs.append(("baseline default", args.baseline.resolve(), [], {}))
    stop = multiprocessing.Event()
    busy = [multiprocessing.Process(target=_busy, args=(stop,), daemon=True) for _ in range(cores)]
    for p in busy:
        p.start()
    try:
        print(f"mer predict of {len(clips)} real 4Q clips, {cores} cores each running a busy process")
        print(f"{'setting':>26} {'CPU s':>8} {'wall s':>8} {'CPU vs --threads 1':>19}")
        base = None
        for name, src, extra, env in runs:
            cpu, wall = _predict(src, clips, extra, env)
            base = cpu if name == "--threads 1" else base
            ratio = f"{cpu / base:>19.2f}" if base else f"{'':>19}"
            print(f"{name:>26} {cpu:>8.1f} {wall:>8.1f} {ratio}", flush=True)
    finally:
        stop.set()
        for p in busy:
            p.join(5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
