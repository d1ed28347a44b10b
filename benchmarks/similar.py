"""`mer similar`'s search: query latency of the exact NumPy search at 10,000 and 100,000 tracks, one core.

    python benchmarks/similar.py [--sizes 10000 100000] [--queries 200] [--end-to-end 10000]

Synthetic vectors (standard normal, :data:`mer.workflows.similarity.VECTOR_SIZE` columns;
the search cost depends on the count and the weighted columns, not on the values) are
indexed with the shipped weights and metric (:class:`mer.workflows.similarity.VectorIndex`);
`--queries` random rows are each searched for their 10 nearest (all rows allowed but the
query), and the p50 / p95 latency is printed beside the target (p95 < 50 ms at 100,000)
with the index build time. One BLAS thread (set before NumPy loads).

``--end-to-end N``: a temporary SQLite library of N synthetic tracks with vectors, and
:func:`mer.library.similar.similar_tracks` timed from an open library: the first query
reads every vector and builds the index (what each ``mer similar`` process pays), later
ones reuse it while the library file is unchanged (what ``GET /v1/tracks/{id}/similar``
pays in a running service).

Measured 2026-12-08 (``--end-to-end 10000``, 2 shared cores at load 21, the shipped weights:
404 columns): 10,000 tracks p95 2.2 ms wall, 2.0 ms CPU; 100,000 tracks p50 / p95 192 /
248 ms wall, 12.0 / 12.7 ms CPU (target p95 < 50 ms: met in CPU time, not in wall time on
that loaded machine); index build 5.7 s and 91 s; end to end on SQLite (10,000): first
query 7.2 s, later ones 30.5 / 79.5 ms.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

#: The issue's target: p95 below this at 100,000 tracks (ms).
TARGET_P95_MS = 50.0


def _percentiles(times: list[float]) -> tuple[float, float]:
    ms = np.array(times) * 1000
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 95))


def search_latency(n: int, queries: int, rng: np.random.Generator) -> dict:
    from mer.workflows.similarity import VECTOR_SIZE, VectorIndex

    X = rng.standard_normal((n, VECTOR_SIZE)).astype(np.float32)
    t0 = time.perf_counter()
    index = VectorIndex(X)
    build = time.perf_counter() - t0
    times, cpu = [], []
    for i in rng.integers(0, n, queries):
        allowed = np.ones(n, dtype=bool)
        allowed[i] = False
        t0, c0 = time.perf_counter(), time.process_time()
        index.nearest(X[i], 10, allowed)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    p50, p95 = _percentiles(times)
    c50, c95 = _percentiles(cpu)
    return {"n": n, "build_s": build, "p50_ms": p50, "p95_ms": p95, "cpu_p50_ms": c50, "cpu_p95_ms": c95,
            "columns": int(index.Z.shape[1])}


def end_to_end(n: int, queries: int, rng: np.random.Generator) -> dict:
    from mer.library.db import open_library
    from mer.library.similar import similar_tracks
    from mer.workflows.similarity import VECTOR_SIZE

    with tempfile.TemporaryDirectory(prefix="mer-similar-bench-") as tmp:
        db = Path(tmp) / "lib.db"
        with open_library(db) as lib:
            items = []
            for i in range(n):
                v, a = rng.uniform(-1, 1, 2)
                items.append((f"/music/a{i % 500}/t{i}.mp3", 1, 1, {
                    "status": "ok", "model": "m", "quadrant": "Q1", "valence": float(v), "arousal": float(a),
                    "artist": f"artist {i % 500}", "flags": [], "content_hash": f"h{i}",
                    "vector": rng.standard_normal(VECTOR_SIZE).astype(np.float32)}, None))
            for k in range(0, n, 5000):
                lib.record(items[k:k + 5000])
        times = []
        with open_library(db, readonly=True) as lib:
            for i in rng.integers(1, n + 1, queries + 1):
                t0 = time.perf_counter()
                similar_tracks(lib, int(i), n=10)
                times.append(time.perf_counter() - t0)
    p50, p95 = _percentiles(times[1:])
    return {"n": n, "first_ms": times[0] * 1000, "p50_ms": p50, "p95_ms": p95}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--end-to-end", type=int, default=10_000, help="tracks of the SQLite library (0: skip)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    print(f"exact search, 10 nearest, {args.queries} queries, 1 thread; target p95 < {TARGET_P95_MS:g} ms at 100k")
    print(f"(wall: elapsed time, what a caller waits on this machine now, load {os.getloadavg()[0]:.1f}; "
          "cpu: this process's CPU time, what the query costs without other processes)")
    print(f"{'tracks':>8} {'columns':>8} {'build s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p95/target':>11} "
          f"{'cpu p50':>8} {'cpu p95':>8}")
    for n in args.sizes:
        r = search_latency(n, args.queries, rng)
        print(f"{n:>8} {r['columns']:>8} {r['build_s']:>8.2f} {r['p50_ms']:>8.2f} {r['p95_ms']:>8.2f} "
              f"{r['p95_ms'] / TARGET_P95_MS:>11.2f} {r['cpu_p50_ms']:>8.2f} {r['cpu_p95_ms']:>8.2f}")
    if args.end_to_end:
        r = end_to_end(args.end_to_end, max(3, args.queries // 20), rng)
        print(f"end to end, similar_tracks on an open SQLite library of {r['n']} tracks: first query (reads the "
              f"vectors, builds the index) {r['first_ms']:.0f} ms; later queries p50 {r['p50_ms']:.1f} ms, "
              f"p95 {r['p95_ms']:.1f} ms")


if __name__ == "__main__":
    main()
