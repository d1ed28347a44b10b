"""Peak memory of building and training from a memory-mapped feature store.

    python benchmarks/store.py [--n 10000] [--frames 1295] [--dir /tmp] [--keep] [--sequence-classifier]

Builds a store of N synthetic (204, T) float32 matrices (T between 90 % and 100 % of
``--frames``; synthetic numbers, not rendered audio: this measures I/O and memory, not
accuracy), then trains one epoch of the paper's RNN (``mer.models.sequence.build_network("rnn")``,
128 units) reading the store clip by clip through a torch DataLoader, with the
``SequencePreprocessor`` that ``SequenceClassifier`` uses (mel dB, 8-frame pooling,
standardisation fitted on 500 clips). Each step runs in a fresh process and reports its
own peak RSS (``resource.getrusage``), printed beside the store's size on disk.
Target: training peak RSS < 2 GiB for 10,000 clips.

``--sequence-classifier`` also fits ``mer.models.sequence.SequenceClassifier`` (one epoch) on the
store, which materialises its preprocessed tensors, for comparison.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GIB = 1024**3


def _peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: kB


def _synthetic_clips(n: int, frames: int, seed: int = 0):
    import numpy as np

    rng = np.random.default_rng(seed)
    bases = rng.random((8, 204, frames), dtype=np.float32)  # a few bases, varied per clip: cheap to make
    for i in range(n):
        T = int(rng.integers(int(0.9 * frames), frames + 1))
        X = bases[i % 8, :, :T] * np.float32(0.5 + (i % 13) / 13)
        yield f"clip{i:05d}", X, f"Q{i % 4 + 1}", f"group{i // 10}"


def step_build(args) -> dict:
    from mer.extraction.store import write_store

    t0 = time.perf_counter()
    store = write_store(args.root, _synthetic_clips(args.n, args.frames))
    return {"wall_s": time.perf_counter() - t0, "n": len(store), "bytes": store.nbytes, "peak_rss": _peak_rss()}


def step_train(args) -> dict:
    import numpy as np
    import torch
    from torch import nn

    from mer.models.sequence import build_network
    from mer.features.transforms import SequencePreprocessor
    from mer.extraction.store import FeatureStore

    torch.set_num_threads(1)
    torch.manual_seed(0)
    store = FeatureStore(args.root)
    rss_open = _peak_rss()
    rng = np.random.default_rng(0)
    sample = rng.choice(len(store), min(500, len(store)), replace=False)
    prep = SequencePreprocessor(mel_db=True, pool=8).fit(store[i] for i in sample)  # streamed, one clip at a time
    classes = {q: i for i, q in enumerate(sorted(set(store.labels)))}

    class Clips(torch.utils.data.Dataset):
        def __len__(self):
            return len(store)

        def __getitem__(self, i):
            return torch.from_numpy(np.ascontiguousarray(prep.transform_one(store[i]).T)), classes[store.labels[i]]

    def collate(batch):
        seqs, y = zip(*batch)
        lengths = torch.tensor([len(s) for s in seqs])
        return nn.utils.rnn.pad_sequence(list(seqs), batch_first=True), lengths, torch.tensor(y)

    loader = torch.utils.data.DataLoader(Clips(), batch_size=32, shuffle=True, collate_fn=collate,
                                         generator=torch.Generator().manual_seed(0))
    net = build_network("rnn", store.n_rows, len(classes))
    opt = torch.optim.AdamW(net.parameters(), lr=1e-4)
    loss_fn = nn.CrossEntropyLoss()
    t0 = time.perf_counter()
    net.train()
    total = 0.0
    for x, lengths, y in loader:
        opt.zero_grad()
        loss = loss_fn(net(x, lengths), y)
        loss.backward()
        nn.utils.clip_grad_norm_(net.parameters(), 20.0)
        opt.step()
        total += loss.item() * len(y)
    return {"wall_s": time.perf_counter() - t0, "n": len(store), "loss": total / len(store),
            "peak_rss": _peak_rss(), "rss_after_open": rss_open}


def step_sequence_classifier(args) -> dict:
    from mer.models.sequence import SequenceClassifier
    from mer.extraction.store import FeatureStore

    store = FeatureStore(args.root)
    t0 = time.perf_counter()
    SequenceClassifier(arch="rnn", epochs=1, pool=8, val_fraction=0, progress=False).fit(store, store.labels)
    return {"wall_s": time.perf_counter() - t0, "n": len(store), "peak_rss": _peak_rss()}


STEPS = {"build": step_build, "train": step_train, "sequence-classifier": step_sequence_classifier}


def _run_step(name: str, args) -> dict:
    cmd = [sys.executable, __file__, "--step", name, "--root", str(args.root), "--n", str(args.n),
           "--frames", str(args.frames)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(next(line for line in out.splitlines() if line.startswith("{")))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=10_000, help="clips in the store (default 10,000)")
    ap.add_argument("--frames", type=int, default=1295, help="frames of the longest clip (default 1295, 30 s)")
    ap.add_argument("--dir", type=Path, default=None, help="where to put the store (default: a temp folder)")
    ap.add_argument("--keep", action="store_true", help="keep the store afterwards")
    ap.add_argument("--sequence-classifier", action="store_true", help="also fit SequenceClassifier on it")
    ap.add_argument("--step", choices=list(STEPS), help=argparse.SUPPRESS)
    ap.add_argument("--root", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.step:  # a child process: one step, its result as one JSON line
        print(json.dumps(STEPS[args.step](args)))
        return 0

    base = Path(tempfile.mkdtemp(prefix="mer-store-bench-", dir=args.dir))
    args.root = base / "store"
    try:
        b = _run_step("build", args)
        print(f"store: {b['n']} clips of 204 x <= {args.frames} frames, {b['bytes'] / GIB:.2f} GiB on disk; "
              f"built in {b['wall_s']:.1f} s wall, peak RSS {b['peak_rss'] / GIB:.2f} GiB")
        t = _run_step("train", args)
        print(f"one RNN epoch from the store (DataLoader, batch 32, pool 8): {t['wall_s']:.1f} s wall, "
              f"{t['n'] / t['wall_s']:.0f} clips/s, loss {t['loss']:.3f}")
        print(f"peak RSS while training {t['peak_rss'] / GIB:.2f} GiB (after opening the store: "
              f"{t['rss_after_open'] / GIB:.2f} GiB) vs store size {b['bytes'] / GIB:.2f} GiB  (target < 2 GiB)")
        if args.sequence_classifier:
            s = _run_step("sequence-classifier", args)
            print(f"SequenceClassifier(rnn, pool 8).fit on the store, one epoch: {s['wall_s']:.1f} s wall, "
                  f"peak RSS {s['peak_rss'] / GIB:.2f} GiB (it keeps every preprocessed clip in memory)")
    finally:
        if args.keep:
            print(f"kept {args.root}")
        else:
            shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
