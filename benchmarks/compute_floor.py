"""The compute floor of the default model's inputs: multiply-adds per 30-s clip against this machine's rates.

    python benchmarks/compute_floor.py [--data ../shared/data/4q-dev]

Counts, for one 30-s clip (10 non-overlapping 3-s patches):

* the multiply-adds of each musicnn network, layer by layer (forward hooks on
  :meth:`mer.features.musicnn.Musicnn.forward_reference`: a convolution costs
  output elements x input channels x kernel size, a dense layer output elements x
  inputs; batch norm, ReLU and pooling are left out, they are not multiply-adds);
* an estimate of the descriptors' dense arithmetic (the two STFTs as 2.5 N log2 N
  flops per real FFT, the mel projections, the self-similarity matrix), the rest of
  their work being selections and bookkeeping (median filters, peak picking, beat
  tracking) that no multiply-add count describes;

measures this machine's sustained float32 rates on one thread (best of 5: a large
square GEMM, the GEMM shape musicnn's timbral filters reduce to, and a 3 x 3
convolution with 64 channels through oneDNN), and then the musicnn networks' CPU per
clip: the layer-by-layer reference and the shipped forward, side by side, with the
distance of each from its floor (multiply-adds x 2 / the large-GEMM rate).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = "1"  # before numpy is imported: one core

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from _common import clip_arguments, clips_or_skip  # benchmarks/ is on sys.path when run

N_PATCHES = 10  # a 30-s clip: 3-s patches, non-overlapping


def _best_cpu(fn, repeats: int = 5) -> float:
    fn()  # warm-up: kernels chosen, memory touched
    best = float("inf")
    for _ in range(repeats):
        t0 = time.process_time()
        fn()
        best = min(best, time.process_time() - t0)
    return best


def musicnn_macs(weights: str) -> dict[str, int]:
    """Multiply-adds of one musicnn network on a 30-s clip, by layer group."""
    import torch

    from mer.features import embeddings as E

    model = E.load_musicnn(E.DEFAULT_WEIGHTS.parent / f"{weights}.pt")
    counts: dict[str, int] = {}

    def hook(name):
        def count(module, inputs, output):
            if isinstance(module, torch.nn.Linear):
                macs = output.numel() * module.in_features
            else:
                macs = output.numel() * (module.in_channels // module.groups) * int(np.prod(module.kernel_size))
            counts[name] = counts.get(name, 0) + int(macs)
        return count

    groups = {"timbral": model.timbral, "temporal": model.temporal, "mid end": model.mid,
              "back end": [model.dense, model.out]}
    handles = [m.register_forward_hook(hook(g)) for g, mods in groups.items() for m in mods]
    with torch.inference_mode():
        model.forward_reference(torch.zeros(N_PATCHES, E.PATCH_FRAMES, E.MUSICNN_N_MELS))
    for h in handles:
        h.remove()
    counts["total"] = sum(counts.values())
    return counts


def descriptor_flops(seconds: float = 30.0) -> dict[str, float]:
    """Estimated floating-point operations of the descriptors' dense arithmetic (see the module docstring)."""
    from mer.features.descriptors import DescriptorConfig

    c = DescriptorConfig()
    frames = 1 + int(seconds * c.sr) // c.hop_length
    bins = c.n_fft // 2 + 1

    def fft(n: int) -> float:  # flops of a real FFT of n points (split-radix estimate)
        return 2.5 * n * np.log2(n)

    out = {
        "stft 2048": frames * fft(c.n_fft),
        "stft 4096 every 4th hop": frames / 4 * fft(2 * c.n_fft),
        "mel projections (128 + 32 bands)": 2.0 * (128 + c.n_mels) * bins * frames,
        "self-similarity": 2.0 * frames * frames * 12,
    }
    out["total"] = sum(out.values())
    return out


def machine_rates() -> dict[str, float]:
    """Sustained float32 GFLOP/s on one thread."""
    import torch

    torch.set_num_threads(1)
    A = torch.randn(2048, 2048)
    rates = {"gemm 2048^3": 2 * 2048**3 / _best_cpu(lambda: A @ A) / 1e9}
    cols, W = torch.randn(32 * 59, 266), torch.randn(266, 204)  # a timbral block: 32 frames x 59 bins
    rates["gemm timbral block"] = 2 * cols.shape[0] * 266 * 204 / _best_cpu(lambda: [cols @ W for _ in range(20)]) * 20 / 1e9
    conv, x = torch.nn.Conv2d(64, 64, 3, padding=1), torch.randn(8, 64, 56, 56)
    with torch.inference_mode():
        rates["conv 3x3 64ch (oneDNN)"] = 2 * 8 * 64 * 56 * 56 * 64 * 9 / _best_cpu(lambda: conv(x)) / 1e9
    return rates


def musicnn_cpu(path: Path, weights: str) -> dict[str, float]:
    """CPU seconds of one network on one clip's patches: reference and shipped forward, and their agreement."""
    import torch

    from mer.audio import decode as audio
    from mer.features import embeddings as E

    torch.set_num_threads(1)
    model = E.load_musicnn(E.DEFAULT_WEIGHTS.parent / f"{weights}.pt")
    P = torch.from_numpy(E.patches(E.musicnn_input(audio.load(path, sr=E.MUSICNN_SR), E.MUSICNN_SR)))
    with torch.inference_mode():
        fast, ref = model(P), model.forward_reference(P)
        out = {"reference": _best_cpu(lambda: model.forward_reference(P), 3), "shipped": _best_cpu(lambda: model(P), 3)}
    out["max relative difference"] = max(float((a - b).abs().max() / b.abs().max()) for a, b in zip(fast, ref))
    out["patches"] = len(P)
    return out


def floor_report(path: Path) -> dict:
    """Every figure of this script, printed as it is measured, and returned."""
    rates = machine_rates()
    for k, v in rates.items():
        print(f"rate  {k:<28} {v:7.1f} GFLOP/s (float32, one thread)")
    peak = rates["gemm 2048^3"]
    report = {"rates_gflops": rates, "musicnn": {}, "descriptors_flops": descriptor_flops()}
    for weights in ("msd_musicnn", "mtt_musicnn"):
        macs = musicnn_macs(weights)
        cpu = musicnn_cpu(path, weights)
        floor = 2 * macs["total"] / (peak * 1e9) * N_PATCHES / cpu["patches"]
        report["musicnn"][weights] = {"macs": macs, "cpu_s": cpu, "floor_s": floor}
        parts = ", ".join(f"{k} {v / 1e9:.2f}" for k, v in macs.items() if k != "total")
        print(f"{weights}: {macs['total'] / 1e9:.2f} G multiply-adds per 30-s clip ({parts}); floor {floor:.3f} s; "
              f"reference {cpu['reference']:.3f} CPU-s ({cpu['reference'] / floor:.1f} x floor), shipped "
              f"{cpu['shipped']:.3f} CPU-s ({cpu['shipped'] / floor:.1f} x floor, {cpu['reference'] / cpu['shipped']:.1f} x "
              f"faster; outputs within {cpu['max relative difference']:.1e} relative)")
    d = report["descriptors_flops"]
    print(f"descriptors: ~{d['total'] / 1e9:.2f} GFLOP of dense arithmetic per 30-s clip "
          f"({', '.join(f'{k} {v / 1e9:.2f}' for k, v in d.items() if k != 'total')}): "
          f"floor ~{d['total'] / (peak * 1e9) * 1e3:.1f} ms")
    return report


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    clip_arguments(ap, n=1)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    paths = clips_or_skip(args)
    if not paths:
        return 0
    report = floor_report(paths[0])
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
