"""What a prediction costs: start-up of the CLI, CPU per clip beside the paper's features, the compute floor, timelines.

    python benchmarks/predict.py [--n 20] [--data ../shared/data/4q-dev] [--repeats 3] [--skip-clips]
                                 [--timeline-minutes 3] [--json FILE]

Start-up (wall seconds, median of ``--repeats`` runs of the installed ``mer`` in fresh
processes, Python allowed to write bytecode): ``mer --help``; ``mer model-info``; a cached
single-file ``mer predict`` (its features already in the cache); and a first ``mer predict``
on a fresh install (empty feature cache *and* empty compiled-code caches: numba's
per-process cache folders under a new ``NUMBA_CACHE_DIR``), with the numba cache files
that first run wrote (librosa's kernels compile on first use, ``mer.core.jit``; the
default model's path calls none since ``mer.features.rhythm``). Targets of the speed
issue: 0.5, 1, 1.5 and 5 s.

Per clip (CPU seconds of one process with one BLAS / torch / numba thread, on N real 4Q
clips spread over the quadrants, one clip after another so all parts see the same load):

* the default model's inputs by part: decoding at 22,050 and 16,000 Hz, the 232
  descriptors, the two musicnn embeddings (each on its own log-mel), the prediction;
  beside each embedding, marked ``[before]``, the same network run layer by layer
  (``Musicnn.forward_reference``, what ``mer`` ran before the speed issue), and the
  default model's probabilities from both (tolerance 1e-3, the same quadrant);
* the paper's 204 rows with one librosa call per feature (``extract_reference``, the
  reference the issue compares against) and with the fused extractor;

then the ratio of the default model's total to the reference (target <= 1); the compute
floor (``benchmarks/compute_floor.py``: multiply-adds of each network and this machine's
float32 GEMM / convolution rates); the timeline's CPU per minute of audio with its default
windows, in this process after a warm-up (target 1.5); and the system share of the CPU
time of a batch ``mer predict`` run (target < 5 %).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = "1"  # before numpy is imported: CPU time of one core

import argparse
import contextlib
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import (  # benchmarks/ is on sys.path when run
    clip_arguments,
    clips_or_skip,
    cpu_seconds,
)
from compute_floor import floor_report

MER = shutil.which("mer", path=str(Path(sys.executable).parent)) or "mer"


def _wall(argv: list[str], env: dict, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run(argv, env=env, capture_output=True, check=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def startup(clip: Path, repeats: int) -> tuple[dict, list[str]]:
    """Wall seconds of the four start-up cases (see the module docstring); the numba files of the last first run."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    with tempfile.TemporaryDirectory() as tmp:
        env_cached = {**env, "MER_CACHE": f"{tmp}/cache"}
        subprocess.run([MER, "predict", str(clip), "-q"], env=env_cached, capture_output=True, check=True)
        out = {"help": _wall([MER, "--help"], env, repeats),
               "model_info": _wall([MER, "model-info"], env, repeats),
               "cached_predict": _wall([MER, "predict", str(clip), "-q"], env_cached, repeats)}
        firsts, compiled = [], []
        for k in range(repeats):
            fresh = {**env, "MER_CACHE": f"{tmp}/fresh{k}", "NUMBA_CACHE_DIR": f"{tmp}/numba{k}"}
            firsts.append(_wall([MER, "predict", str(clip), "-q"], fresh, 1))
            # numba writes one .nbc file per compiled function (a gufunc loop: its kernel and its
            # wrapper): what the first run compiled, cached librosa kernels only
            compiled.append(sorted(p.name for p in Path(f"{tmp}/numba{k}").rglob("*.nbc")))
        out["first_predict"] = statistics.median(firsts)
    return out, compiled[-1]


@contextlib.contextmanager
def reference_network():
    """musicnn run layer by layer (``Musicnn.forward_reference``, the network before the speed issue) inside the block."""
    from mer.features.musicnn import Musicnn

    shipped = Musicnn.forward
    Musicnn.forward = Musicnn.forward_reference
    try:
        yield
    finally:
        Musicnn.forward = shipped


def per_clip(paths: list[Path]) -> tuple[dict[str, float], dict]:
    """Mean CPU seconds per clip of each part (see the module docstring), and the outputs' agreement.

    The agreement compares the default model's probabilities with the embeddings of the
    shipped musicnn forward and of the layer-by-layer reference: max |difference| and
    the clips whose quadrant differs (tolerance of the speed issue: 1e-3, none).
    """
    import torch

    torch.set_num_threads(1)
    from mer.audio import decode as audio
    from mer.features.descriptors import DescriptorConfig, describe
    from mer.features.embeddings import MUSICNN_SR, embed_signal
    from mer.features.fused import extract_fused
    from mer.features.paper import extract_reference
    from mer.workflows.predict import load_model

    model = load_model()
    cost: dict[str, list[float]] = {}
    shipped_rows, reference_rows = [], []
    for p in paths:
        y, dt = cpu_seconds(audio.load, p, sr=22050)
        cost.setdefault("decode 22.05 kHz", []).append(dt)
        y16, dt = cpu_seconds(audio.load, p, sr=MUSICNN_SR)
        cost.setdefault("decode 16 kHz", []).append(dt)
        row, ref_row = [], []
        for name, cfg in model.inputs:
            is_descriptors = isinstance(cfg, DescriptorConfig)
            fn = describe if is_descriptors else embed_signal
            v, dt = cpu_seconds(fn, y if is_descriptors else y16, cfg)
            cost.setdefault(name, []).append(dt)
            row.append(v)
            if is_descriptors:
                ref_row.append(v)
                continue
            with reference_network():
                v, dt = cpu_seconds(fn, y16, cfg)
            cost.setdefault(f"[before] {name}, reference network", []).append(dt)
            ref_row.append(v)
        cost.setdefault("prediction", []).append(cpu_seconds(model.predict_proba, np.concatenate(row)[None])[1])
        cost.setdefault("paper 204 rows, librosa per feature", []).append(cpu_seconds(extract_reference, y)[1])
        cost.setdefault("paper 204 rows, fused", []).append(cpu_seconds(extract_fused, y)[1])
        shipped_rows.append(np.concatenate(row))
        reference_rows.append(np.concatenate(ref_row))
        print(f"  {p.name}: " + ", ".join(f"{k} {v[-1]:.2f}" for k, v in cost.items()), flush=True)
    P, R = model.predict_proba(np.array(shipped_rows)), model.predict_proba(np.array(reference_rows))
    agreement = {"max_abs_prob_diff": float(np.abs(P - R).max()),
                 "quadrant_differs": int((P.argmax(1) != R.argmax(1)).sum()), "clips": len(paths)}
    return {k: float(np.mean(v)) for k, v in cost.items()}, agreement


def timeline_cost(data: Path, minutes: float) -> dict:
    """CPU seconds per minute of audio of :func:`mer.timeline` with its defaults, one thread, in this process.

    A `minutes`-long WAV of real 4Q clips (``benchmarks/long_track.py``, in a temporary
    folder); the models are loaded and every kernel warmed by a first timeline of one
    30-s piece, so the figure is the steady cost per minute, not process start.
    """
    import torch

    torch.set_num_threads(1)
    from long_track import write_long_track

    import mer

    with tempfile.TemporaryDirectory() as tmp:
        track = Path(tmp) / "track.wav"
        made_of = write_long_track(track, minutes, data)
        warm = Path(tmp) / "warm.wav"
        write_long_track(warm, 0.5, data)
        mer.timeline(warm)
        timeline, cpu = cpu_seconds(mer.timeline, track)
    return {"minutes": minutes, "cpu_s": cpu, "cpu_s_per_min": cpu / minutes, "windows": len(timeline.windows),
            "made_of": made_of}


def batch_system_share(paths: list[Path]) -> dict:
    """User and system CPU of ``mer predict`` on the clips (a child, empty feature cache), as a user runs it."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with tempfile.TemporaryDirectory() as cache:
        subprocess.run([MER, "predict", *map(str, paths), "-q", "--jobs", "1"], capture_output=True, check=True,
                       env={**os.environ, "MER_CACHE": cache})
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    user, system = after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime
    return {"user_s": user, "sys_s": system, "per_clip_s": (user + system) / len(paths),
            "system_share": system / (user + system)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    clip_arguments(ap, n=20)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--skip-clips", action="store_true", help="start-up figures only")
    ap.add_argument("--timeline-minutes", type=float, default=3.0, help="length of the timeline's test track")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    paths = clips_or_skip(args)
    if not paths:
        return 0
    out: dict = {}
    out["startup_s"], out["first_predict_numba_files"] = startup(paths[0], args.repeats)
    targets = {"help": 0.5, "model_info": 1.0, "cached_predict": 1.5, "first_predict": 5.0}
    for k, v in out["startup_s"].items():
        print(f"start-up {k:<15} {v:6.2f} s wall   (target {targets[k]:.1f} s: ratio {v / targets[k]:.2f})")
    kernels = out["first_predict_numba_files"]
    print(f"numba cache files (.nbc) a first `mer predict` wrote: {len(kernels)}" + "".join(f"\n  {n}" for n in kernels))
    if not args.skip_clips:
        cost, agreement = per_clip(paths)
        out["per_clip_cpu_s"], out["agreement_with_reference_network"] = cost, agreement
        model_total = sum(v for k, v in cost.items() if not k.startswith(("paper", "[before]")))
        reference = cost["paper 204 rows, librosa per feature"]
        for k, v in cost.items():
            print(f"{k:<40} {v:6.3f} CPU-s/clip")
        print(f"default model, all inputs + prediction   {model_total:6.3f} CPU-s/clip; "
              f"ratio to the librosa reference {model_total / reference:.2f} (target <= 1)")
        print(f"probabilities with the shipped vs the reference musicnn forward: max |diff| "
              f"{agreement['max_abs_prob_diff']:.1e} (tolerance 1e-3), quadrant differs on "
              f"{agreement['quadrant_differs']} of {agreement['clips']} clips")
        out["compute_floor"] = floor_report(paths[0])
        out["timeline"] = t = timeline_cost(args.data, args.timeline_minutes)
        print(f"timeline, default windows: {t['cpu_s_per_min']:.2f} CPU-s per minute of audio "
              f"({t['minutes']:g} min, {t['windows']} windows; target 1.5: ratio {t['cpu_s_per_min'] / 1.5:.2f})")
        out["batch"] = b = batch_system_share(paths)
        print(f"batch `mer predict`: {b['per_clip_s']:.3f} CPU-s/clip, system share {100 * b['system_share']:.1f} % "
              "(target < 5 %)")
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
