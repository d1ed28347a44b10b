"""Decoding cost: real 4Q MP3s through libsndfile vs the same audio as M4A (AAC) through PyAV.

    python benchmarks/decode.py [--n 10] [--data ../shared/data/4q-dev]

For N real 30-s 4Q clips (spread over the quadrant folders) it re-encodes each clip to
AAC in M4A at 192 kbit/s with PyAV's bundled FFmpeg (in a temporary folder, outside the
timing), then measures with ``time.process_time`` (one thread, one process):

* ``mer.audio.decode.load(path, sr=native)``: decoding alone (libsndfile for the MP3, FFmpeg for the M4A);
* ``mer.audio.decode.load(path)``: decoding + soxr resampling to 22,050 Hz, what the pipeline calls;

and prints CPU-seconds per clip for each, the ratio M4A / MP3, and how closely the two
decodes agree (correlation after alignment) as a check that like is compared with like.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = "1"  # before numpy is imported: CPU time of one core

import argparse
import tempfile
from pathlib import Path

import numpy as np

from _common import clip_arguments, clips_or_skip, cpu_seconds  # noqa: E402 (benchmarks/ is on sys.path when run)


def encode_m4a(src: Path, dst: Path, bit_rate: int = 192_000) -> None:
    """`src` decoded by libsndfile, re-encoded to AAC in M4A by PyAV (all channels, native rate)."""
    import av
    import soundfile as sf

    data, sr = sf.read(str(src), dtype="float32", always_2d=True)
    planar = np.ascontiguousarray(data.T)
    layout = {1: "mono", 2: "stereo"}[planar.shape[0]]
    with av.open(str(dst), "w") as out:
        s = out.add_stream("aac", rate=sr, layout=layout)
        s.bit_rate = bit_rate
        for i in range(0, planar.shape[1], 4096):
            chunk = np.ascontiguousarray(planar[:, i:i + 4096])
            frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout=layout)
            frame.sample_rate, frame.pts = sr, i
            for packet in s.encode(frame):
                out.mux(packet)
        for packet in s.encode(None):
            out.mux(packet)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    clip_arguments(ap, n=10)
    args = ap.parse_args(argv)
    paths = clips_or_skip(args)
    if not paths:
        return 0

    import soundfile as sf

    from mer.audio import decode as audio

    with tempfile.TemporaryDirectory() as tmp:
        m4as = []
        for p in paths:
            m4as.append(Path(tmp) / f"{p.stem}.m4a")
            encode_m4a(p, m4as[-1])
        audio.load(m4as[0]), audio.load(paths[0])  # warm-up: imports (librosa, av), not timed
        t = {"mp3 native": [], "m4a native": [], "mp3 22050": [], "m4a 22050": []}
        corr = []
        for p, q in zip(paths, m4as):
            sr = sf.info(str(p)).samplerate
            _, dt = cpu_seconds(audio.load, p, sr=sr)
            t["mp3 native"].append(dt)
            _, dt = cpu_seconds(audio.load, q, sr=sr)
            t["m4a native"].append(dt)
            a, dt = cpu_seconds(audio.load, p)
            t["mp3 22050"].append(dt)
            b, dt = cpu_seconds(audio.load, q)
            t["m4a 22050"].append(dt)
            m = min(len(a), len(b))
            corr.append(np.corrcoef(a[:m], b[:m])[0, 1])
        seconds = sum(audio.duration(p) for p in paths) / len(paths)

    print(f"{len(paths)} real 4Q clips, {seconds:.1f} s of audio each on average; CPU seconds per clip (mean, max)")
    for k, v in t.items():
        print(f"  {k:<11} {np.mean(v):.4f}  {np.max(v):.4f}   ({seconds / np.mean(v):.0f}x real time)")
    print(f"ratio m4a/mp3: decoding alone {np.mean(t['m4a native']) / np.mean(t['mp3 native']):.2f}, "
          f"with resampling to 22,050 Hz {np.mean(t['m4a 22050']) / np.mean(t['mp3 22050']):.2f}")
    print(f"MP3 vs M4A decode correlation (unaligned, 22,050 Hz): min {min(corr):.4f}, median {np.median(corr):.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
