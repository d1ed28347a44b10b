"""What a prediction costs: start-up of the CLI, and CPU per clip of the default model beside the paper's features.

    python benchmarks/predict.py [--n 20] [--data ../shared/data/4q-dev] [--repeats 3] [--skip-clips]

Start-up (wall seconds, median of ``--repeats`` runs of the installed ``mer`` in fresh
processes, Python allowed to write bytecode): ``mer --help``; ``mer model-info``; a cached
single-file ``mer predict`` (its features already in the cache); and a first ``mer predict``
on a fresh install (empty feature cache *and* empty compiled-code caches: numba's
per-process cache folders under a new ``NUMBA_CACHE_DIR``). Targets of the speed issue:
0.5, 1, 1.5 and 5 s.

Per clip (CPU seconds of one process with one BLAS / torch / numba thread, on N real 4Q
clips spread over the quadrants, alternating clip by clip so both see the same load):

* the default model's inputs by part: decoding at 22,050 and 16,000 Hz, the 232
  descriptors, the two musicnn embeddings (each on its own log-mel), the prediction;
* the paper's 204 rows with one librosa call per feature (``extract_reference``, the
  reference the issue compares against) and with the fused extractor;

then the ratio of the default model's total to the reference (target <= 1) and the
system share of the CPU time of a batch ``mer predict`` run (target < 5 %).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = "1"  # before numpy is imported: CPU time of one core

import argparse
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

from _common import clip_arguments, clips_or_skip, cpu_seconds  # noqa: E402 (benchmarks/ is on sys.path when run)

MER = shutil.which("mer", path=str(Path(sys.executable).parent)) or "mer"


def _wall(argv: list[str], env: dict, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run(argv, env=env, capture_output=True, check=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def startup(clip: Path, repeats: int) -> dict:
    """Wall seconds of the four start-up cases (see the module docstring)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    with tempfile.TemporaryDirectory() as tmp:
        env_cached = {**env, "MER_CACHE": f"{tmp}/cache"}
        subprocess.run([MER, "predict", str(clip), "-q"], env=env_cached, capture_output=True, check=True)
        out = {"help": _wall([MER, "--help"], env, repeats),
               "model_info": _wall([MER, "model-info"], env, repeats),
               "cached_predict": _wall([MER, "predict", str(clip), "-q"], env_cached, repeats)}
        firsts = []
        for k in range(repeats):
            fresh = {**env, "MER_CACHE": f"{tmp}/fresh{k}", "NUMBA_CACHE_DIR": f"{tmp}/numba{k}"}
            firsts.append(_wall([MER, "predict", str(clip), "-q"], fresh, 1))
        out["first_predict"] = statistics.median(firsts)
    return out


def per_clip(paths: list[Path]) -> dict[str, float]:
    """Mean CPU seconds per clip of each part (see the module docstring)."""
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
    for p in paths:
        y, dt = cpu_seconds(audio.load, p, sr=22050)
        cost.setdefault("decode 22.05 kHz", []).append(dt)
        y16, dt = cpu_seconds(audio.load, p, sr=MUSICNN_SR)
        cost.setdefault("decode 16 kHz", []).append(dt)
        row = []
        for name, cfg in model.inputs:
            fn = describe if isinstance(cfg, DescriptorConfig) else embed_signal
            v, dt = cpu_seconds(fn, y if isinstance(cfg, DescriptorConfig) else y16, cfg)
            cost.setdefault(name, []).append(dt)
            row.append(v)
        cost.setdefault("prediction", []).append(cpu_seconds(model.predict_proba, np.concatenate(row)[None])[1])
        cost.setdefault("paper 204 rows, librosa per feature", []).append(cpu_seconds(extract_reference, y)[1])
        cost.setdefault("paper 204 rows, fused", []).append(cpu_seconds(extract_fused, y)[1])
        print(f"  {p.name}: " + ", ".join(f"{k} {v[-1]:.2f}" for k, v in cost.items()), flush=True)
    return {k: float(np.mean(v)) for k, v in cost.items()}


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
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    paths = clips_or_skip(args)
    if not paths:
        return 0
    out = {"startup_s": startup(paths[0], args.repeats)}
    targets = {"help": 0.5, "model_info": 1.0, "cached_predict": 1.5, "first_predict": 5.0}
    for k, v in out["startup_s"].items():
        print(f"start-up {k:<15} {v:6.2f} s wall   (target {targets[k]:.1f} s: ratio {v / targets[k]:.2f})")
    if not args.skip_clips:
        out["per_clip_cpu_s"] = cost = per_clip(paths)
        model_total = sum(v for k, v in cost.items() if not k.startswith("paper"))
        reference = cost["paper 204 rows, librosa per feature"]
        for k, v in cost.items():
            print(f"{k:<40} {v:6.3f} CPU-s/clip")
        print(f"default model, all inputs + prediction   {model_total:6.3f} CPU-s/clip; "
              f"ratio to the librosa reference {model_total / reference:.2f} (target <= 1)")
        out["batch"] = b = batch_system_share(paths)
        print(f"batch `mer predict`: {b['per_clip_s']:.3f} CPU-s/clip, system share {100 * b['system_share']:.1f} % "
              "(target < 5 %)")
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
