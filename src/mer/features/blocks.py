"""Per-clip input blocks: which clip-level feature families a model reads, and their column names.

A block is ``(name, config)`` with a :class:`~mer.features.descriptors.DescriptorConfig`
or an :class:`~mer.features.embeddings.EmbeddingConfig`; the recipe's inputs are
:data:`DEFAULT_BLOCKS`, computed for files by :func:`mer.extraction.inputs.clip_inputs`.
"""

from __future__ import annotations

from mer.features.descriptors import DescriptorConfig, DescriptorSpec
from mer.features.embeddings import EmbeddingConfig, embedding_names

#: The input blocks of the recipe, in column order: name -> config.
DEFAULT_BLOCKS: tuple[tuple[str, object], ...] = (
    ("descriptors", DescriptorConfig()),
    ("musicnn_msd", EmbeddingConfig(weights="msd_musicnn")),
    ("musicnn_mtt", EmbeddingConfig(weights="mtt_musicnn")),
)


def block_names(name: str, config) -> list[str]:
    """Column names of one input block, prefixed with the block name."""
    if isinstance(config, DescriptorConfig):
        cols = DescriptorSpec.from_config(config).names
    elif isinstance(config, EmbeddingConfig):
        cols = embedding_names(config)
    else:
        raise TypeError(f"unknown input block config {type(config).__name__}")
    return [f"{name}:{c}" for c in cols]


#: Hop between patches of the listener-rated heads' input: 93 frames (1.5 s), Essentia's
#: ``TensorflowPredictMusiCNN`` default, with which its emoMusic and DEAM heads are run.
LISTENER_HOP = 93


#: The listener block's name among a model's inputs.
LISTENER_BLOCK_NAME = "listener_dense"


def listener_block(patch_hop: int = LISTENER_HOP) -> tuple[str, EmbeddingConfig]:
    """The input block of :mod:`mer.models.listener`'s heads: musicnn-MSD's pre-ReLU dense layer, patch mean.

    ``("listener_dense", EmbeddingConfig(parts=("dense",), stats=("mean",), patch_hop=...))``:
    200 columns ``listener_dense:mean:dense:i``, cached under its own key (the default blocks'
    keys are unchanged). Patches start every `patch_hop` frames, a trailing partial patch is
    dropped (Essentia's ``lastPatchMode="discard"``), a clip under 3 s is repeated to fill one.
    """
    return LISTENER_BLOCK_NAME, EmbeddingConfig(parts=("dense",), stats=("mean",), patch_hop=patch_hop)
