"""Listener-rated heads in a shipped model: attach (or strip) Essentia's heads in a model's valence / arousal head.

    python -m mer.study.listener --model src/mer/resources/default.mer --data ../shared/data/4q-dev
                                 [--heads emomusic] [--out FILE] [--jobs 2]
    python -m mer.study.listener --model default.mer --heads --out default-without-heads.mer

:func:`attach_listener` gives a recipe model's head a :class:`mer.models.affect.ListenerBlend`:
the listener-rated heads of :mod:`mer.models.listener` read the model's added input block
(:func:`mer.features.blocks.listener_block`: musicnn-MSD's pre-ReLU dense layer, patch mean,
at :data:`MODEL_HOP`) and are averaged with the model's own valence / arousal as z-scores,
each component centred and scaled by its mean and standard deviation over the reference
clips (the 540 4q-dev clips; no target is read). The quadrant probabilities are untouched.

The card records which parts the model holds and under which licence (``parts``): the heads
are CC BY-NC-SA 4.0 (MTG-UPF), so a model that carries them is non-commercial and
share-alike; ``--heads`` with no name writes the model without them (mer's own head only),
for users who need other terms. The figures behind the choice of heads are in
``docs/valence.md`` (``experiments/issue22_listener.py``).
"""

from __future__ import annotations

import argparse
from os import PathLike
from pathlib import Path

import numpy as np

from mer.core.errors import MerError
from mer.features.blocks import listener_block
from mer.features.embeddings import PATCH_FRAMES

#: The patch hop of the listener block in the shipped models: musicnn's own non-overlapping 3-s
#: patches (187 frames), the grid the MSD embedding and the timeline's shared patches use, not
#: Essentia's 93. Measured on the 540 4q-dev clips (``experiments/listener_heads_4q.py``): the
#: heads' outputs at the two hops correlate at r >= 0.9993 on both axes (emoMusic valence /
#: arousal 0.9993 / 0.9996, DEAM 0.9995 / 0.9996) and score the same against the tag targets,
#: while hop 93 costs 0.62 instead of 0.41 CPU-s per 30-s clip.
MODEL_HOP = PATCH_FRAMES

def reference_rows(model, paths, *, jobs: int = 1, cache_dir=None):
    """The classifier rows, own valence / arousal and listener blocks of reference clips (cached).

    Returns
    -------
    X : np.ndarray, shape (n, n_columns)
    own : np.ndarray, shape (n, 2)
        The model's own head (without listener heads) on `X`.
    D : np.ndarray, shape (n, 200)
    """
    from mer.extraction.inputs import clip_inputs
    from mer.workflows.listener import listener_inputs

    own_model = model.without_listener()
    X = clip_inputs(paths, blocks=own_model.inputs, cache_dir=cache_dir, jobs=jobs, progress=False)
    D = listener_inputs(paths, patch_hop=MODEL_HOP, cache_dir=cache_dir, jobs=jobs)
    if not (X.ok.all() and D.ok.all()):
        raise MerError(f"reference clips failed: {[*X.failures, *D.failures][:3]}")
    X, D = np.asarray(X.X, dtype=np.float64), np.asarray(D.X, dtype=np.float64)
    return X, own_model.valence_arousal(own_model.predict_proba(X), own_model.affect_regression(X)), D


def attach_listener(model_path, reference_paths, *, heads=("emomusic",), out=None, jobs: int = 1, cache_dir=None,
                    reference: str = "4q-dev") -> Path:
    """Write `model_path`'s model with `heads` blended into its valence / arousal head (none: stripped).

    Parameters
    ----------
    model_path : path
        A recipe model with a valence / arousal head.
    reference_paths : sequence of paths
        Clips whose outputs set each component's centre and spread.
    heads : sequence of str
        Shipped listener heads (``emomusic``, ``deam``); empty for a model without them.
    out : path, optional
        Where to write (default: over `model_path`, atomically).
    """
    from mer.models.affect import ListenerBlend
    from mer.models.listener import load_head
    from mer.models.modelfile import TrainedModel, load, save

    model = load(model_path)
    if model.kind != "recipe" or model.affect is None:
        raise MerError("listener heads join a recipe model's valence / arousal head; this model has none", model_path)
    inputs, card = list(model.without_listener().inputs), dict(model.metadata)
    blend = None
    if heads:
        X, own, D = reference_rows(model, list(reference_paths), jobs=jobs, cache_dir=cache_dir)
        loaded = [load_head(h) for h in heads]
        blend = ListenerBlend.from_heads(loaded, own, D)
        inputs = inputs + [listener_block(MODEL_HOP)]
        card["affect"] = {**card.get("affect", {}), "listener": _listener_card(loaded, blend, len(X), reference)}
    else:
        card["affect"] = {k: v for k, v in card.get("affect", {}).items() if k != "listener"}
    card["parts"] = model_parts(bool(heads))
    for key in ("saved", "versions"):
        card.pop(key, None)
    result = TrainedModel(model.estimator, model.name, model.feature_config, card, inputs=inputs,
                          affect=model.affect.with_listener(blend))
    return save(result, out or model_path)


def _listener_card(heads, blend, n_reference: int, reference: str) -> dict:
    return {
        "method": ("per axis: value = centre_0 + spread_0 * mean_i((value_i - centre_i) / spread_i) / z_spread over "
                   "mer's own head (i = 0) and each listener-rated head, centre / spread = each component's mean and "
                   f"standard deviation over the {n_reference} {reference} clips, z_spread = the standard deviation of "
                   "the mean z-score there (the blend keeps mer's own centre and spread); nothing fitted to a target"),
        "heads": [{**h.manifest(), "centre": blend.centre[i + 1].round(4).tolist(),
                   "spread": blend.spread[i + 1].round(4).tolist()} for i, h in enumerate(heads)],
        "own": {"centre": blend.centre[0].round(4).tolist(), "spread": blend.spread[0].round(4).tolist()},
        "z_spread": blend.z_spread.round(4).tolist(),
        "input": f"musicnn-MSD pre-ReLU dense layer (model/dense/BiasAdd), mean over 3-s patches every {MODEL_HOP} "
                 "frames",
    }


def model_parts(with_listener: bool) -> list[dict]:
    """The card's list of what a shipped recipe model holds, with each part's licence."""
    parts = [{"part": "recipe classifier and mer's valence / arousal head", "licence": "MIT (mer); trained on "
              "research-only data (4Q, EMOPIA)"},
             {"part": "musicnn MSD / MTT weights (inputs)", "licence": "ISC (Pons & Serra, MTG-UPF)"}]
    if with_listener:
        parts.append({"part": "listener-rated valence / arousal heads (Essentia emoMusic / DEAM, converted)",
                      "licence": "CC BY-NC-SA 4.0 (MTG-UPF): non-commercial, share-alike, attribution"})
    return parts


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m mer.study.listener", description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True, help="the recipe model file to change")
    ap.add_argument("--data", default=None, help="the 4Q folder whose clips set the blend's centres and spreads")
    ap.add_argument("--heads", nargs="*", default=["emomusic"], help="listener heads to blend in (none: strip them)")
    ap.add_argument("--out", default=None, help="write here instead of over --model")
    ap.add_argument("--jobs", type=int, default=1)
    return ap


def main(argv=None) -> int:
    """Attach or strip the heads from the command line; a bad file ends it with one line (exit 2)."""
    import sys

    args = _parser().parse_args(argv)
    try:
        paths = []
        if args.heads:
            if args.data is None:
                raise MerError("--data (the 4Q folder) is needed to centre and scale the heads")
            from mer.data.datasets import load_4q

            paths = [c.path for c in load_4q(args.data).clips]
        path = attach_listener(args.model, paths, heads=tuple(args.heads), out=args.out, jobs=args.jobs)
    except MerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
