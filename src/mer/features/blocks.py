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
