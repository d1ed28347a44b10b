"""Where the CPU time of `mer predict` goes: user vs system time and page faults, allocator tuned or not.

    python benchmarks/cpu_use.py [--n 20] [--threads T]

Predicts N real 4Q clips (spread over the quadrant folders) with the default model
(descriptors and two musicnn embeddings per clip) into a fresh, empty feature cache, in a
child process (in-process extraction: worker processes of a fork server would not be
counted by ``getrusage``), twice: with glibc's default allocator settings and with
``mer.core.parallel.tune_malloc`` (what every `mer` command and worker does). Both runs use the
same thread budget (``mer.core.parallel.limit_threads``; default: the cores this process may
use). It prints user and system CPU seconds and minor page faults of each run (from
``getrusage(RUSAGE_CHILDREN)``), the child's peak RSS, and the ratios.

Measured on 2 shared cores with 10 clips (load average 7.5): default 25.3 s user, 8.1 s
system, 4.95 M minor faults, 879 MB peak RSS; tuned 26.1 s user, 0.6 s system, 0.11 M
minor faults, 847 MB (same quadrants): the default allocator gives back every large freed buffer and faults it
in again (about 0.5 million minor faults per clip), which is where the system time went.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import DEFAULT_DATA, spread_clips  # noqa: E402 (benchmarks/ is on sys.path when run)

_RUN = """
import json, sys
from mer.core import parallel
from mer.workflows.predict import load_model, predict_files
tuned, threads, cache, paths = sys.argv[1] == "1", int(sys.argv[2]), sys.argv[3], sys.argv[4:]
if tuned:
    parallel.tune_malloc()
parallel.set_thread_budget(threads)
with parallel.limit_threads(threads):
    preds, failures = predict_files(load_model(), paths, cache_dir=cache, progress=False)
import resource
print(json.dumps({"quadrants": [p.quadrant for p in preds],
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def _run(tuned: bool, threads: int, paths: list[Path]) -> dict:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with tempfile.TemporaryDirectory() as cache:
        out = subprocess.run([sys.executable, "-c", _RUN, "1" if tuned else "0", str(threads), cache,
                              *map(str, paths)], capture_output=True, text=True, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"user_s": after.ru_utime - before.ru_utime, "sys_s": after.ru_stime - before.ru_stime,
            "minor_faults": after.ru_minflt - before.ru_minflt, **json.loads(out.stdout.strip().splitlines()[-1])}


def main(argv: list[str] | None = None) -> int:
    from mer.core.parallel import available_cores

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--threads", type=int, default=available_cores())
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = ap.parse_args(argv)
    paths = spread_clips(args.data, args.n)
    if not paths:
        print(f"skipped: no 4Q clips found under {args.data} (set --data or MER_DATA)")
        return 0
    print(f"{len(paths)} clips, {args.threads} threads, load average {os.getloadavg()[0]:.1f}")
    runs = {}
    for name, tuned in (("glibc default", False), ("tune_malloc", True)):
        runs[name] = r = _run(tuned, args.threads, paths)
        print(f"{name:>14}: user {r['user_s']:6.1f} s  sys {r['sys_s']:5.1f} s  "
              f"minor faults {r['minor_faults'] / 1e6:6.2f} M  peak RSS {r['peak_rss_mb']:6.0f} MB")
    a, b = runs["glibc default"], runs["tune_malloc"]
    print(f"ratios (default / tuned): sys {a['sys_s'] / max(b['sys_s'], 1e-3):.1f}x, "
          f"minor faults {a['minor_faults'] / max(b['minor_faults'], 1):.1f}x, user {a['user_s'] / b['user_s']:.2f}x")
    print("same quadrants:", a["quadrants"] == b["quadrants"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
