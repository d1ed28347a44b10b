"""CPU cost per clip of the per-feature reference and the fused extractor, side by side.

    python benchmarks/features.py [--n 20] [--data ../shared/data/4q-dev]

On N real 4Q clips (spread over the four quadrant folders), in one process with one
BLAS / numba thread, it measures with ``time.process_time``:

* decoding (``mer.audio.decode.load``: MP3 -> mono float32 at 22,050 Hz), separately;
* ``mer.features.paper.extract_reference`` (one librosa call per feature) and
  ``mer.features.fused.extract_fused``, alternating clip by clip so that both see the same load;
* the irreducible parts: one STFT (``librosa.stft``), one 36-bin-per-octave CQT
  (``librosa.cqt``, the analysis behind chroma_cqt and tonnetz) and one ji5 VQT
  (``librosa.vqt``, chroma_vqt's own filter bank), each as librosa computes it once.

It prints CPU-seconds per clip, the ratio reference / fused (target >= 4), how far the
fused path is above the sum of its irreducible parts, and the largest difference between
the two matrices. Both extractors start cold: the fused extractor builds chroma_cqt's
filter bank for each tuning value the first time it meets it, inside the timing.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = "1"  # before numpy is imported: CPU time of one core

import argparse
import sys
import warnings

import numpy as np

from _common import clip_arguments, clips_or_skip, cpu_seconds  # noqa: E402 (benchmarks/ is on sys.path when run)




def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    clip_arguments(ap, n=20)
    args = ap.parse_args(argv)
    paths = clips_or_skip(args)
    if not paths:
        return 0

    import librosa

    from mer.audio import decode as audio
    from mer.features.paper import FeatureSpec, extract_reference
    from mer.features import fused
    from mer.features.fused import extract_fused

    warnings.filterwarnings("ignore", message="Trying to estimate tuning from empty frequency set")
    # warm-up on a synthetic tone (imports, numba compilation), not on a benchmark clip
    t = np.arange(22050 * 3) / 22050
    tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    extract_reference(tone)
    extract_fused(tone)

    spec = FeatureSpec.from_config()
    cost = {k: [] for k in ("decode", "reference", "fused", "stft", "cqt", "vqt",
                            "own_stft", "own_pyramid", "own_cqt", "own_vqt")}
    worst = {}
    seconds = 0.0
    for i, p in enumerate(paths):
        y, dt = cpu_seconds(audio.load, p)
        cost["decode"].append(dt)
        seconds += len(y) / 22050
        R, dt = cpu_seconds(extract_reference, y)
        cost["reference"].append(dt)
        F, dt = cpu_seconds(extract_fused, y)
        cost["fused"].append(dt)
        for g in spec.group_names:
            d = float(np.max(np.abs(R[spec.rows(g)].astype(np.float64) - F[spec.rows(g)])))
            worst[g] = max(worst.get(g, 0.0), d)
        cost["stft"].append(cpu_seconds(librosa.stft, y)[1])
        cost["cqt"].append(cpu_seconds(lambda v: librosa.cqt(v, sr=22050, hop_length=512, n_bins=252,
                                                      bins_per_octave=36, tuning=0.0), y)[1])
        cost["vqt"].append(cpu_seconds(lambda v: librosa.vqt(v, sr=22050, hop_length=512, n_bins=84,
                                                      bins_per_octave=12, intervals="ji5", gamma=0), y)[1])
        # the same passes inside the fused extractor (filter banks built by the run above)
        own_stft = cpu_seconds(fused.stft_magnitude, y, 2048, 512)[1]
        levels, dt = cpu_seconds(fused._pyramid, y, 0, 512)
        tuning = fused.tuning_from_peaks(*fused.pitch_peaks(np.abs(librosa.stft(y)), 22050, 2048), 36)
        cqt_bank = fused._q_bank(22050, 512, 36, "equal", tuning)
        vqt_bank = fused._q_bank(22050, 512, 12, "ji5", 0.0)
        cost["own_stft"].append(own_stft)
        cost["own_pyramid"].append(dt)
        cost["own_cqt"].append(cpu_seconds(fused._q_magnitude, levels, cqt_bank)[1])
        cost["own_vqt"].append(cpu_seconds(fused._q_magnitude, levels, vqt_bank)[1])
        print(f"  [{i + 1:2d}/{len(paths)}] {p.name}: reference {cost['reference'][-1]:.3f} s, "
              f"fused {cost['fused'][-1]:.3f} s", file=sys.stderr)

    m = {k: float(np.mean(v)) for k, v in cost.items()}
    floor = m["stft"] + m["cqt"] + m["vqt"]
    print(f"clips: {len(paths)} real 4Q clips, {seconds / len(paths):.1f} s of audio each on average "
          f"(CPU time, 1 thread)")
    print(f"decode (mp3 -> 22.05 kHz mono)   {m['decode']:.3f} CPU-s/clip")
    print(f"reference (librosa per feature)  {m['reference']:.3f} CPU-s/clip")
    print(f"fused                            {m['fused']:.3f} CPU-s/clip")
    print(f"ratio reference / fused          {m['reference'] / m['fused']:.2f}x   (target >= 4)")
    print(f"with decoding: reference {m['decode'] + m['reference']:.3f}, fused {m['decode'] + m['fused']:.3f} "
          f"CPU-s/clip, ratio {(m['decode'] + m['reference']) / (m['decode'] + m['fused']):.2f}x")
    print(f"irreducible parts, as librosa computes each once: STFT {m['stft']:.3f} + CQT {m['cqt']:.3f} "
          f"+ VQT {m['vqt']:.3f} = {floor:.3f} CPU-s/clip")
    print(f"fused / irreducible parts        {m['fused'] / floor:.2f}")
    own = m["own_stft"] + m["own_pyramid"] + m["own_cqt"] + m["own_vqt"]
    print(f"the same passes inside fused (filter banks cached): STFT {m['own_stft']:.3f} + decimation pyramid "
          f"{m['own_pyramid']:.3f} + CQT {m['own_cqt']:.3f} + VQT {m['own_vqt']:.3f} = {own:.3f} CPU-s/clip, "
          f"{own / m['fused']:.0%} of fused; everything else (2 tuning estimates, 11 feature groups, tempogram, "
          f"filter banks for new tunings) {m['fused'] - own:.3f}")
    print("largest |reference - fused| per group: "
          + ", ".join(f"{g} {worst[g]:.2g}" for g in spec.group_names))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
