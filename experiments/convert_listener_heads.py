"""Rebuild the shipped listener-rated heads (src/mer/resources/listener-*.npz) from Essentia's .pb graphs.

    python experiments/convert_listener_heads.py [--pretrained ../shared/pretrained/essentia-va-heads]
        [--out src/mer/resources] [--graph]

Reads each frozen TensorFlow graph without TensorFlow (:func:`mer.features.musicnn.read_graph_def`),
checks that it computes BatchNorm(200) then Dense(200 -> 2) and finds which constant is which
(:func:`mer.models.listener.head_roles`), and writes the arrays with their manifest (name, source
file, SHA-256, licence CC BY-NC-SA 4.0, attribution) as plain .npz. ``--graph`` prints every node
(op type, name, inputs) and the roles read off it: the check of the ops' semantics by eye.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

DEFAULT_PRETRAINED = Path(os.environ.get("MER_PRETRAINED", Path(__file__).resolve().parents[2] / "shared"
                                         / "pretrained")) / "essentia-va-heads"


def main(argv=None) -> int:
    from mer.features.musicnn import read_graph_def
    from mer.models.listener import RESOURCES, convert_shipped, head_roles, load

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pretrained", type=Path, default=DEFAULT_PRETRAINED)
    ap.add_argument("--out", type=Path, default=RESOURCES)
    ap.add_argument("--graph", action="store_true", help="print the graphs' nodes and the roles of their constants")
    args = ap.parse_args(argv)
    if args.graph:
        for pb in sorted(args.pretrained.glob("*.pb")):
            nodes, constants = read_graph_def(pb)
            print(f"== {pb.name}")
            for n in nodes:
                shape = f" {tuple(constants[n.name].shape)}" if n.name in constants else ""
                print(f"  {n.op:13} {n.name}{shape} <- {', '.join(n.inputs) or '-'}")
            print("  roles:", head_roles(nodes))
    for name, path in convert_shipped(args.pretrained, args.out).items():
        head = load(path)
        print(f"{name}: {path} ({path.stat().st_size} bytes), order {list(head.order)}, "
              f"from {head.source} sha256 {head.sha256[:16]}..., {head.licence}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
