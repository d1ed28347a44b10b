"""Add the training clips' content hashes to the card of the shipped model (one-off, no refit).

    python experiments/card_training_hashes.py [--data ../shared/data/4q-dev]

``default.mer`` was fitted on every clip of 4q-dev (experiments/train_default.py stops
if any clip fails); this checks that the data matches its card (clip and artist
counts), then rewrites only ``manifest.json`` inside the zip, atomically
(:func:`mer.models.modelfile.update_metadata`), so that ``mer evaluate`` can warn when the
files it scores are ones the model was trained on. The estimator's bytes, and so its
predictions, are unchanged; the script checks that too.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = Path(os.environ.get("MER_DATA", ROOT.parent / "shared" / "data")) / "4q-dev"


def _members(path: Path) -> dict[str, str]:
    with zipfile.ZipFile(path) as z:
        return {n: hashlib.sha256(z.read(n)).hexdigest() for n in z.namelist() if n != "manifest.json"}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--model", type=Path, default=ROOT / "src" / "mer" / "resources" / "default.mer")
    args = ap.parse_args(argv)

    from mer.data import datasets
    from mer.models import modelfile
    from mer.workflows.train import training_hashes

    card = modelfile.read_manifest(args.model)["metadata"]
    ds = datasets.load(args.data)
    expected = f"({len(ds)} clips, {ds.n_groups()} artists)"
    if card.get("n_clips") != len(ds) or expected not in card.get("data", ""):
        raise SystemExit(f"{args.data} {expected} does not match the card: {card.get('data')!r}")
    hashes = training_hashes(ds, ds.ids)
    if len(hashes) != len(ds):
        raise SystemExit(f"{len(ds) - len(hashes)} clip(s) share their bytes with another or are missing")
    before = _members(args.model)
    modelfile.update_metadata(args.model, {modelfile.TRAINING_HASHES: hashes})
    if _members(args.model) != before:
        raise SystemExit("a member other than manifest.json changed")  # cannot happen; checked anyway
    print(f"{args.model}: card now lists {len(hashes)} training clip hashes; other members byte-identical")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
