"""Load on a real `mer serve` over loopback: uploads of real 4Q clips and library reads from concurrent clients.

    python benchmarks/service.py [--uploads 200] [--reads 2000] [--clients 8] [--workers 2]
                                 [--library-clips 8] [--data ../shared/data/4q-dev] [--json FILE]

It scans ``--library-clips`` real clips into a temporary library (``mer.library.scan``),
starts ``mer serve --db LIB --workers N`` on a free loopback port with ``TMPDIR`` pointing
at an empty folder, and sends ``--uploads`` analyses of real clips (``POST /v1/analyze``)
mixed at random with ``--reads`` reads (``/health``, ``/v1/tracks``, ``/v1/tracks/{id}``,
``/v1/audio-features``) from ``--clients`` threads, each with its own connection. A 503
(the queue is full: deliberate back-pressure) is counted, then the upload is sent again
after the server's ``Retry-After``. It prints the throughput, p50 / p95 / p99 latency per
kind, status counts, the peak RSS of the server's process tree (sum of the processes'
RSS, sampled every 0.2 s: an upper bound, the fork server's pages are shared) and the
temporary files left. Then it starts more requests, kills the server with SIGKILL while
they run, and checks the library with ``PRAGMA integrity_check`` (the server opens it
read-only: nothing it does can damage it, and this shows it) and which temporary files
and processes a SIGKILL leaves behind. Without the data it skips.

Measured on 2026-11-30 (2 cores shared with other jobs; ``--uploads 20 --reads 200``, 8
clients, 2 workers, a library of 8 clips): wall 70.3 s; uploads p50 / p95 / p99 16.7 /
24.7 / 24.7 s, 20 x 200 and 10 x 503 (retried); reads p50 3.5 (health) to 8.0 ms (tracks),
p99 43 to 92 ms, all 200; no other 5xx; peak RSS of the server tree 1909 MiB; no temporary
file left. After SIGKILL: integrity_check ok, 8 of 8 tracks, 2 upload folders left and
removed by the next start, no worker alive 10 s later. ``--cost-clips 4``: predict_files
2.25 CPU-s, timeline 1.91, the 5 decodes ~0.19 (4.6 %).

Full size: ``python benchmarks/service.py`` (200 uploads, 2,000 reads, 8 clients).
``--cost-clips N`` instead measures, in-process and without a server, what one analysis
costs and how much of it the repeated decoding is.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import sqlite3  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from collections import Counter, defaultdict  # noqa: E402
from pathlib import Path  # noqa: E402

import httpx  # noqa: E402
import numpy as np  # noqa: E402
import psutil  # noqa: E402
from _common import DEFAULT_DATA, spread_clips  # noqa: E402 (benchmarks/ is on sys.path when run)

MIB = 1024**2
READ_KINDS = ("health", "tracks", "track", "audio-features")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(db: Path, tmp: Path, workers: int) -> tuple[subprocess.Popen, str]:
    """`mer serve` on a free loopback port, uploads under `tmp`; returns it once /health answers."""
    port = free_port()
    mer = Path(sys.executable).with_name("mer")
    proc = subprocess.Popen([str(mer), "serve", "--db", str(db), "--port", str(port), "--workers", str(workers),
                             "--quiet"], env={**os.environ, "TMPDIR": str(tmp)}, stdout=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"mer serve exited with {proc.returncode}")
        try:
            if httpx.get(f"{base}/health", timeout=5).status_code == 200:
                return proc, base
        except httpx.TransportError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("mer serve did not answer /health within 600 s")


class RssSampler(threading.Thread):
    """Peak of the summed RSS of a process and its descendants, sampled every 0.2 s."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.root, self.peak, self.stop = psutil.Process(pid), 0, threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            total = 0
            try:
                for p in [self.root, *self.root.children(recursive=True)]:
                    total += p.memory_info().rss
            except psutil.Error:
                pass
            self.peak = max(self.peak, total)
            self.stop.wait(0.2)


def read_request(client: httpx.Client, base: str, ids: list[int], rng: random.Random) -> tuple[str, int]:
    kind = rng.choice(READ_KINDS)
    if kind == "health":
        url = f"{base}/health"
    elif kind == "tracks":
        url = f"{base}/v1/tracks?limit=50" + rng.choice(["", "&quadrant=Q1,Q2", "&valence=0:", "&arousal=:0"])
    elif kind == "track":
        url = f"{base}/v1/tracks/{rng.choice(ids)}"
    else:
        url = f"{base}/v1/audio-features?ids={','.join(str(i) for i in rng.sample(ids, min(3, len(ids))))}"
    return kind, client.get(url, timeout=120).status_code


def upload(client: httpx.Client, base: str, clip: tuple[str, bytes], record) -> int:
    """One analysis; a 503 is recorded and the upload sent again after Retry-After."""
    while True:
        t0 = time.perf_counter()
        r = client.post(f"{base}/v1/analyze", files={"file": (clip[0], clip[1], "audio/mpeg")}, timeout=900)
        record("upload", r.status_code, time.perf_counter() - t0)
        if r.status_code != 503:
            return r.status_code
        time.sleep(min(30.0, float(r.headers.get("retry-after", "1"))))


def run_load(base: str, jobs: list, clips: list, ids: list[int], clients: int) -> tuple[list, float]:
    """Run `jobs` (``"upload"`` / ``"read"``) from `clients` threads; returns (kind, status, seconds) rows and wall s."""
    rows, lock, it = [], threading.Lock(), iter(enumerate(jobs))

    def record(kind, status, seconds):
        with lock:
            rows.append((kind, status, seconds))

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        with httpx.Client() as client:
            while True:
                with lock:
                    item = next(it, None)
                if item is None:
                    return
                i, job = item
                if job == "upload":
                    upload(client, base, clips[i % len(clips)], record)
                else:
                    t0 = time.perf_counter()
                    kind, status = read_request(client, base, ids, rng)
                    record(kind, status, time.perf_counter() - t0)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return rows, time.perf_counter() - t0


def summarise(rows: list, wall: float) -> dict:
    by_kind = defaultdict(list)
    for kind, status, seconds in rows:
        by_kind[kind].append((status, seconds))
    out = {"wall_s": wall, "kinds": {}}
    for kind, items in sorted(by_kind.items()):
        ok = np.array([s for st, s in items if st == 200]) * 1000
        out["kinds"][kind] = {"requests": len(items), "ok": int(ok.size), "per_s": len(items) / wall,
                              "statuses": dict(Counter(st for st, _ in items)),
                              **{f"p{q}_ms": float(np.percentile(ok, q)) if ok.size else None for q in (50, 95, 99)}}
    return out


def kill_mid_request(proc: subprocess.Popen, base: str, clip: tuple[str, bytes], ids: list[int]) -> dict:
    """SIGKILL the server while uploads and reads run; which of its processes outlive it."""
    tree = psutil.Process(proc.pid).children(recursive=True)
    threads = [threading.Thread(target=lambda: _quiet(lambda: httpx.post(
        f"{base}/v1/analyze", files={"file": (clip[0], clip[1], "audio/mpeg")}, timeout=120))) for _ in range(2)]
    threads += [threading.Thread(target=lambda: _quiet(lambda: [httpx.get(f"{base}/v1/tracks/{i}", timeout=30)
                                                               for i in ids * 20]))]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and httpx.get(f"{base}/health", timeout=30).json()["queue"]["running"] < 1:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    for t in threads:
        t.join(180)
    _, alive = psutil.wait_procs(tree, timeout=10)
    for p in alive:  # ours: a worker that outlived the server
        p.kill()
    return {"orphans_after_10s": len(alive)}


def _uploads_left(tmp: Path) -> int:
    return len([p for p in tmp.iterdir() if p.name.startswith("mer-upload-")])


def restart(db: Path, tmp: Path, ids: list[int]) -> dict:
    """After the SIGKILL: upload folders left, then a new server (which removes them) answering, stopped by SIGTERM."""
    out = {"temp_left": _uploads_left(tmp)}
    proc, base = start_server(db, tmp, 1)
    try:
        out["temp_left_after_restart"] = _uploads_left(tmp)
        out["restart_track_status"] = httpx.get(f"{base}/v1/tracks/{ids[0]}", timeout=30).status_code
        tree = psutil.Process(proc.pid).children(recursive=True)
    finally:
        proc.terminate()
        proc.wait(120)
    _, alive = psutil.wait_procs(tree, timeout=30)
    out["left_after_sigterm"] = len(alive)
    return out


def _quiet(fn) -> None:
    try:
        fn()
    except httpx.HTTPError:
        pass


def analysis_cost(clips: list[Path]) -> dict:
    """CPU-s of what one upload costs, in this process: ``predict_files``, ``timeline``, and one decode per rate.

    The service decodes each upload several times (once per feature family in the
    prediction, once per sample rate in the timeline); this says what that costs.
    """
    from mer.audio import decode
    from mer.workflows.predict import load_model, predict_files
    from mer.workflows.timeline import timeline

    model = load_model()
    rates = sorted({model.feature_config.sr} | {config.sr for _, config in model.inputs})
    predict_files(model, clips[:1], cache_dir=tempfile.mkdtemp(), progress=False)  # warm-up: numba, torch
    rows = []
    for clip in clips:
        with tempfile.TemporaryDirectory() as cache:
            t0 = time.process_time()
            predict_files(model, [clip], cache_dir=cache, progress=False)
            t1 = time.process_time()
            timeline(clip, model=model)
            t2 = time.process_time()
            for r in rates:
                decode.load(clip, sr=r)
            rows.append((t1 - t0, t2 - t1, time.process_time() - t2))
    predict_s, timeline_s, decode_s = np.mean(rows, axis=0)
    return {"clips": len(clips), "rates": rates, "predict_cpu_s": predict_s, "timeline_cpu_s": timeline_s,
            "decode_all_rates_cpu_s": decode_s}


def build_library(clips: list[Path], db: Path) -> list[int]:
    from mer.library.db import open_library
    from mer.library.scan import scan

    scan(clips, db=db, progress=False)
    with open_library(db, readonly=True) as lib:
        return [t.id for t in lib.tracks()]


def print_report(res: dict) -> None:
    print(f"{res['uploads']} uploads + {res['reads']} reads from {res['clients']} clients, {res['workers']} "
          f"worker(s), library of {res['library_tracks']} tracks; wall {res['load']['wall_s']:.1f} s")
    print(f"{'kind':16s}{'requests':>9s}{'per s':>9s}{'p50 ms':>10s}{'p95 ms':>10s}{'p99 ms':>10s}  statuses")
    for kind, k in res["load"]["kinds"].items():
        fmt = lambda x: f"{x:10.1f}" if x is not None else f"{'-':>10s}"  # noqa: E731
        print(f"{kind:16s}{k['requests']:9d}{k['per_s']:9.2f}{fmt(k['p50_ms'])}{fmt(k['p95_ms'])}{fmt(k['p99_ms'])}"
              f"  {k['statuses']}")
    up = res["load"]["kinds"].get("upload", {})
    if up.get("p50_ms"):
        print(f"ratios: upload p99 / p50 {up['p99_ms'] / up['p50_ms']:.2f}; analyses per s per worker "
              f"{up['ok'] / res['load']['wall_s'] / res['workers']:.3f}")
    print(f"5xx other than 503: {res['unexpected_5xx']}; peak RSS of the server tree {res['peak_rss_mib']:.0f} MiB "
          f"({res['peak_rss_mib'] / res['workers']:.0f} MiB per worker, upper bound)")
    print(f"temporary files left after the load: {res['temp_left']}")
    k = res["kill"]
    print(f"after SIGKILL mid-request: integrity_check {k['integrity']!r}, tracks {k['tracks_after']} of "
          f"{res['library_tracks']}, upload folders left {k['temp_left']}, worker processes alive 10 s later "
          f"{k['orphans_after_10s']}")
    print(f"restart: upload folders left {k['temp_left_after_restart']}, GET /v1/tracks/ID {k['restart_track_status']};"
          f" processes left 30 s after SIGTERM {k['left_after_sigterm']}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--uploads", type=int, default=200)
    ap.add_argument("--reads", type=int, default=2000)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--workers", type=int, default=2, help="mer serve --workers")
    ap.add_argument("--library-clips", type=int, default=8, help="real clips scanned into the library")
    ap.add_argument("--upload-clips", type=int, default=20, help="distinct real clips the uploads cycle through")
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--json", type=Path, help="also write the figures here")
    ap.add_argument("--cost-clips", type=int, default=0,
                    help="only measure the CPU time of one analysis's parts on this many clips, no server")
    args = ap.parse_args()
    if args.cost_clips:
        cost = analysis_cost(spread_clips(args.data, args.cost_clips))
        decodes = 3 + len(cost["rates"])  # signal check, descriptors, musicnn; the timeline's streams
        total = cost["predict_cpu_s"] + cost["timeline_cpu_s"]
        print(f"per clip ({cost['clips']} clips): predict_files {cost['predict_cpu_s']:.2f} CPU-s, timeline "
              f"{cost['timeline_cpu_s']:.2f}, one decode at each of {cost['rates']} Hz "
              f"{cost['decode_all_rates_cpu_s']:.3f}; the {decodes} decodes of an upload ~"
              f"{decodes / len(cost['rates']) * cost['decode_all_rates_cpu_s']:.2f} CPU-s = "
              f"{decodes / len(cost['rates']) * cost['decode_all_rates_cpu_s'] / total:.1%} of {total:.2f}")
        return
    paths = spread_clips(args.data, args.upload_clips + args.library_clips)
    if len(paths) < 2:
        print(f"skipped: no 4Q clips found under {args.data} (set --data or MER_DATA)")
        return
    lib_clips, up_clips = paths[: args.library_clips], paths[args.library_clips:] or paths
    clips = [(p.name, p.read_bytes()) for p in up_clips]
    with tempfile.TemporaryDirectory(prefix="mer-bench-service-") as work:
        work = Path(work)
        (work / "tmp").mkdir()
        db = work / "library.db"
        ids = build_library(lib_clips, db)
        proc, base = start_server(db, work / "tmp", args.workers)
        sampler = RssSampler(proc.pid)
        sampler.start()
        try:
            jobs = ["upload"] * args.uploads + ["read"] * args.reads
            random.Random(0).shuffle(jobs)
            rows, wall = run_load(base, jobs, clips, ids, args.clients)
            sampler.stop.set()
            sampler.join()
            temp_left = sorted(p.name for p in (work / "tmp").iterdir() if p.name.startswith("mer-upload-"))
            kill = kill_mid_request(proc, base, clips[0], ids)
        finally:
            if proc.poll() is None:
                proc.kill()
        with sqlite3.connect(db) as conn:
            kill["integrity"] = conn.execute("PRAGMA integrity_check").fetchone()[0]
            kill["tracks_after"] = conn.execute("SELECT count(*) FROM tracks").fetchone()[0]
        kill.update(restart(db, work / "tmp", ids))
    res = {"uploads": args.uploads, "reads": args.reads, "clients": args.clients, "workers": args.workers,
           "library_tracks": len(ids), "load": summarise(rows, wall), "peak_rss_mib": sampler.peak / MIB,
           "temp_left": temp_left, "kill": kill,
           "unexpected_5xx": sum(1 for _, st, _ in rows if st >= 500 and st != 503)}
    print_report(res)
    if args.json:
        args.json.write_text(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
