"""What the benchmarks share: where the 4Q clips are, a spread of them, CPU time of a call."""

from __future__ import annotations

import os
import time
from pathlib import Path

#: ``$MER_DATA/4q-dev``, else ``../shared/data/4q-dev`` beside the project's root.
DEFAULT_DATA = Path(os.environ.get("MER_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")) / "4q-dev"


def spread_clips(root: Path, n: int) -> list[Path]:
    """`n` MP3s of a 4Q-layout folder taken at even steps through Q1..Q4 (fewer if it has fewer)."""
    paths = sorted(Path(root).glob("Q*/*.mp3"))
    step = max(1, len(paths) // n) if paths else 1
    return paths[::step][:n]


def cpu_seconds(fn, *args, **kwargs):
    """(fn's result, CPU seconds of this process it took)."""
    t0 = time.process_time()
    out = fn(*args, **kwargs)
    return out, time.process_time() - t0


def clip_arguments(ap, *, n: int) -> None:
    """``--n`` (clips, default `n`) and ``--data`` (the 4Q folder) on an argument parser."""
    ap.add_argument("--n", type=int, default=n, help=f"number of clips (default {n})")
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the 4Q dataset folder")


def clips_or_skip(args) -> list[Path]:
    """:func:`spread_clips` of ``args.data``; with none found, says so (the caller then exits 0)."""
    paths = spread_clips(args.data, args.n)
    if not paths:
        print(f"skipped: no 4Q clips found under {args.data} (set --data or MER_DATA)")
    return paths
