"""Issue 22: mer's valence / arousal head, Essentia's listener-rated heads and their z-score blend, on 4Q and VGMIDI.

    MER_CACHE=... python experiments/issue22_listener.py [--data ../shared/data/4q-dev]
        [--vgmidi ../shared/data/vgmidi] [--json issue22-listener.json]

Nothing here is fitted to a target: the listener heads were trained elsewhere (emoMusic,
DEAM), and the blend (:class:`mer.models.affect.ListenerBlend`) only centres and scales each
component by its own mean and standard deviation over the 540 4q-dev clips.

* **4Q** (540 clips, tag-derived Warriner targets of :mod:`mer.data.targets`): mer's head
  out of fold (5-fold artist-grouped; the 4Q-only recipe with k 600, C 0.01, the shipped
  ridges' k / alpha and blend weights), each listener head as it is, and the blends.
* **VGMIDI** (listeners' piece means, :mod:`mer.study.vgmidi`): the shipped default model's
  own head on the rendered pieces (never trained on VGMIDI), the listener heads and the
  same blends (centre and spread still from 4Q).

Reported: Pearson r and CCC per axis, with a bootstrap 95 % interval of r.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("MER_DATA", ROOT.parent / "shared" / "data"))

#: The blends compared: which listener heads join mer's own head.
BLENDS = {"mer + emomusic": ("emomusic",), "mer + emomusic + deam": ("emomusic", "deam"), "mer + deam": ("deam",)}


def fourq_rows(data_root, jobs):
    """Paths, labels, groups, targets, recipe rows and listener blocks of the 4q-dev clips."""
    from mer.data.datasets import load_4q
    from mer.data.targets import find_norms, mood_targets
    from mer.extraction.inputs import clip_inputs
    from mer.workflows.listener import listener_inputs
    from mer.workflows.predict import load_model

    root = Path(data_root)
    ds = load_4q(root)
    targets = mood_targets(root / "panda_dataset_taffc_metadata.csv", find_norms(root))
    clips = [c for c in ds.clips if c.id in targets]
    paths = [c.path for c in clips]
    model = load_model(None)
    X = clip_inputs(paths, blocks=model.without_listener().inputs, jobs=jobs, progress=False)
    D = listener_inputs(paths, jobs=jobs)
    if not (X.ok.all() and D.ok.all()):
        raise SystemExit(f"failures: {X.failures[:3]} {D.failures[:3]}")
    t = np.array([[targets[c.id].valence, targets[c.id].arousal] for c in clips])
    return (model, np.array([c.label for c in clips]), np.array([c.group for c in clips]), t,
            np.asarray(X.X, dtype=np.float64), np.asarray(D.X, dtype=np.float64))


def own_head(model, X):
    """mer's own valence / arousal (the head without listener heads) of classifier rows X."""
    head = model.affect.with_listener(None)
    return head.combine(head.regress(X), model.predict_proba(X), model.labels)


def own_out_of_fold(model, X, y, groups, t):
    """mer's head out of fold on the 4Q rows: (n, 2)."""
    from mer.models.affect_fit import out_of_fold_affect
    from mer.models.recipe import EmotionClassifier

    card = model.metadata["affect"]
    reg, prob = out_of_fold_affect(X, y, groups, {"valence": t[:, 0], "arousal": t[:, 1]},
                                   classifier=EmotionClassifier(k=600, C=0.01),
                                   regressor_params=card["regressors"], n_splits=5)
    w = np.array([card["weights"]["valence"], card["weights"]["arousal"]])
    return np.clip(w * reg + (1 - w) * prob, -1, 1)


def scores(target, predictors: dict) -> dict:
    from mer.eval.metrics import regression_metrics
    from mer.eval.stats import bootstrap_ci

    out = {}
    for name, v in predictors.items():
        row = {}
        for j, axis in enumerate(("valence", "arousal")):
            m = regression_metrics(target[:, j], v[:, j])
            ci = bootstrap_ci(lambda idx, j=j, v=v: np.corrcoef(target[idx, j], v[idx, j])[0, 1], len(v))
            row[axis] = {"r": round(m["r"], 3), "ccc": round(m["ccc"], 3),
                         "r_ci": [round(ci["low"], 3), round(ci["high"], 3)]}
        out[name] = row
    return out


def predictors(own, dense, blends: dict) -> dict:
    from mer.models.listener import load_head

    out = {"mer head": own}
    heads = {n: load_head(n) for n in ("emomusic", "deam")}
    for n, h in heads.items():
        out[f"{n} head"] = h.predict(dense).astype(np.float64)
    for name, blend in blends.items():
        out[name] = np.clip(blend.blend(own, blend.heads(dense)), -1, 1)
    return out


def make_blends(own_ref, dense_ref) -> dict:
    from mer.models.affect import ListenerBlend
    from mer.models.listener import load_head

    return {name: ListenerBlend.from_heads([load_head(h) for h in heads], own_ref, dense_ref)
            for name, heads in BLENDS.items()}


def main(argv=None) -> int:
    import json

    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(DATA / "4q-dev"))
    ap.add_argument("--vgmidi", default=str(DATA / "vgmidi"))
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--vgmidi-limit", type=int, default=None, help="only the N shortest pieces (as mer.study.vgmidi --limit)")
    ap.add_argument("--json")
    args = ap.parse_args(argv)
    model, y, groups, t, X, D = fourq_rows(args.data, args.jobs)
    own_in = own_head(model, X)
    blends = make_blends(own_in, D)  # centre / spread of the shipped model's own outputs on 4Q
    own_oof = own_out_of_fold(model, X, y, groups, t)
    report = {"4q": scores(t, predictors(own_oof, D, blends)),
              "blend_reference": {n: {"centre": b.centre.round(4).tolist(), "spread": b.spread.round(4).tolist()}
                                  for n, b in blends.items()}}
    if Path(args.vgmidi).is_dir():
        report["vgmidi"] = vgmidi_scores(model, args.vgmidi, blends, args.jobs, args.vgmidi_limit)
    print(json.dumps(report, indent=1))
    if args.json:
        from mer.core.io import write_json

        write_json(args.json, report)
    return 0


def vgmidi_scores(model, root, blends, jobs, limit=None) -> dict:
    """The same predictors on the rendered VGMIDI pieces against the listeners' piece means."""
    from mer.data.vgmidi import load_vgmidi, render_pieces
    from mer.extraction.inputs import clip_inputs
    from mer.workflows.listener import listener_inputs

    data = load_vgmidi(root)
    if limit:
        data = data.subset(p.id for p in sorted(data.pieces, key=lambda p: p.duration)[:limit])
    data, paths = render_pieces(data, jobs=jobs, progress=False)
    X = clip_inputs(paths, blocks=model.without_listener().inputs, jobs=jobs, progress=False)
    D = listener_inputs(paths, jobs=jobs)
    if not (X.ok.all() and D.ok.all()):
        raise SystemExit(f"failures: {X.failures[:3]} {D.failures[:3]}")
    Xo, Do = np.asarray(X.X, float), np.asarray(D.X, float)
    own = own_head(model, Xo)
    t = np.array([p.clip_target for p in data.pieces])
    return {"n": len(t), **scores(t, predictors(own, Do, blends))}


if __name__ == "__main__":
    sys.exit(main())
