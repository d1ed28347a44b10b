"""Grouped cross-validation of named models on one dataset, one line of results per model.

Prints, and appends to a JSON-lines file and a Markdown table as each model finishes
(so an interrupted run loses nothing): mean +- std macro-F1 and accuracy over the
folds, and the wall time of the whole CV. Features come from the cache (set
MER_CACHE), extracted once and shared by all models.

    MER_CACHE=/work/cache python benchmarks/cv_models.py --data ../shared/data/4q-dev \
        --models logreg logreg-flat lstm --folds 5 --jsonl /tmp/cv.jsonl --md /tmp/cv.md

``--set KEY=VALUE`` overrides an estimator parameter of the sequence models (e.g.
``--set epochs=20``); ``--threads`` sets torch's intra-op threads.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path


def _value(text: str):
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return {"none": None, "true": True, "false": False}.get(text.lower(), text)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--models", nargs="+", required=True)
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--jsonl", type=Path, default=None)
    ap.add_argument("--md", type=Path, default=None)
    ap.add_argument("--label", default="", help="A note for the table's 'config' column.")
    args = ap.parse_args(argv)

    import torch

    from mer.data import datasets
    from mer.eval.cv import cross_validate
    from mer.workflows.train import is_sequence_model, load_features, make_estimator

    if args.threads:
        torch.set_num_threads(args.threads)
    overrides = {k: _value(v) for k, v in (s.split("=", 1) for s in args.set)}
    ds = datasets.load(args.data)
    t0 = time.perf_counter()
    feats = load_features(ds, progress=False)
    print(f"{ds.name}: {len(feats.X)} clips, {len(set(feats.groups))} groups, features in "
          f"{time.perf_counter() - t0:.1f} s, {len(feats.failures)} failed", flush=True)
    if args.md and not args.md.exists():
        args.md.write_text("| model | config | macro-F1 (mean ± std) | accuracy (mean ± std) | CV wall time |\n"
                           "|---|---|---|---|---|\n")
    for name in args.models:
        params = dict(overrides, progress=False, random_state=args.seed) if is_sequence_model(name) else {
            "random_state": args.seed}
        est = make_estimator(name, **params)
        cv = cross_validate(est, feats.X, feats.y, feats.groups, n_splits=args.folds, repeats=args.repeats,
                            seed=args.seed, progress=False, return_estimators=True)
        s = cv.summary()
        # Recurrent models: the epoch whose weights were kept and how many ran, per fold.
        epochs = [(getattr(e, "best_epoch_", None), len(getattr(e, "history_", []))) for e in cv.estimators]
        row = {"model": name, "data": ds.name, "config": args.label, "params": est.get_params(),
               "threads": torch.get_num_threads(), "host": platform.node(), "best_and_run_epochs": epochs, **s}
        line = (f"| {name} | {args.label} | {s['macro_f1_mean']:.3f} ± {s['macro_f1_std']:.3f} | "
                f"{s['accuracy_mean']:.3f} ± {s['accuracy_std']:.3f} | {s['wall_s']:.0f} s |")
        print(line, flush=True)
        if args.jsonl:
            with open(args.jsonl, "a") as f:
                f.write(json.dumps(row, default=str) + "\n")
        if args.md:
            with open(args.md, "a") as f:
                f.write(line + "\n")


if __name__ == "__main__":
    main()
