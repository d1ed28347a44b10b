"""Clips per second of cached, parallel extraction on real 4Q clips (decoding included).

    python benchmarks/extraction.py [--n 100] [--jobs 1 2] [--dask] [--method fused]

Each run extracts the same N clips (spread over the four quadrant folders) into a fresh,
empty temporary cache with ``mer.extraction.batch.extract_files``: ``--jobs`` local worker
processes, and with ``--dask`` a ``distributed.LocalCluster`` of 2 single-threaded worker
processes on loopback (``scheduler=``; the cluster's start-up is not timed). It prints
wall time and clips/s per run, the load average of the machine before each run (other
work on it slows every run; ``--repeat`` alternates the runs), and checks that every run
gave identical features.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from _common import DEFAULT_DATA  # noqa: E402 (benchmarks/ is on sys.path when run)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--dask", action="store_true", help="also run on a local Dask cluster of 2 workers")
    ap.add_argument("--method", default=None, help="extraction method (default: mer's default)")
    ap.add_argument("--repeat", type=int, default=1, help="run the whole sequence of runs this many times, "
                    "alternating, to even out changes in the machine's load")
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = ap.parse_args(argv)

    paths = sorted(args.data.glob("Q*/*.mp3"))
    if not paths:
        print(f"skipped: no 4Q clips found under {args.data} (set --data or MER_DATA)")
        return 0
    paths = paths[:: max(1, len(paths) // args.n)][: args.n]

    import numpy as np

    from mer.extraction.batch import extract_files
    from mer.features.methods import DEFAULT_METHOD

    method = args.method or DEFAULT_METHOD
    runs = [(f"jobs={j}", dict(jobs=j)) for j in args.jobs]
    cluster = None
    if args.dask:
        from distributed import LocalCluster

        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                               dashboard_address=None)
        runs.append(("dask LocalCluster 2x1", dict(scheduler=cluster.scheduler_address)))
    print(f"{len(paths)} real 4Q clips, method '{method}', {os.cpu_count()} CPUs")
    first = None
    try:
        for name, kw in runs * args.repeat:
            with tempfile.TemporaryDirectory(prefix="mer-bench-cache-") as cache:
                load = os.getloadavg()[0]
                t0 = time.perf_counter()
                res = extract_files(paths, cache_dir=cache, method=method, progress=False, **kw)
                wall = time.perf_counter() - t0
            assert res.n_computed == len(paths) and not res.failures, res.failures
            same = "" if first is None else (
                "  identical to the first run" if all(np.array_equal(a, b) for a, b in zip(first, res.features))
                else "  DIFFERENT from the first run")
            first = first or res.features
            print(f"{name:24s} {wall:7.1f} s wall   {len(paths) / wall:5.2f} clips/s   "
                  f"(load average before: {load:.1f})" + same)
    finally:
        if cluster is not None:
            cluster.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
