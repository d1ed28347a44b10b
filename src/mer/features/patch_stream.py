"""musicnn patch outputs of a whole stream, computed once and pooled per window.

Overlapping analysis windows (:mod:`mer.workflows.timeline`) share their musicnn work:
the 16-kHz stream is cut into the non-overlapping 3-s patches of the whole track (the
grid of :func:`mer.features.embeddings.patches`, patch ``p`` covering frames
``[p * 187, p * 187 + 187)``), the log-mel input of each chunk of patches is computed
once and run through every model that asks for it (the MSD and MTT models read the
same input), and each patch's outputs are kept (``tags`` + ``penultimate``: 250 float32
per patch and model, 2.4 MB for an hour with two models). A window's embedding is then
the statistics (:func:`pool_window`, :func:`mer.features.embeddings.pool_embedding`'s
order) of the patches whose centre lies inside the window.

A window covering a whole clip pools all its patches, so its embedding equals
:func:`mer.features.embeddings.clip_embedding` of that clip within float rounding.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from mer.core.errors import MerError
from mer.features.embeddings import (
    EMBEDDING_PARTS,
    MUSICNN_HOP,
    MUSICNN_N_FFT,
    MUSICNN_N_MELS,
    MUSICNN_SR,
    PATCH_FRAMES,
    EmbeddingConfig,
    _FIELD_OF,
    _cached_model,
    _input_frames,
    held_samples,
    musicnn_input,
    patches,
    weights_path,
)

#: Patches run through each model together (4 = 12 s of audio). A model call's activations take
#: ~18 MB per patch (:func:`mer.features.embeddings.embed`), so 4 keeps the peak ~70 MB above the
#: loaded models, as :data:`mer.features.embeddings.STREAM_PATCHES` does and for its reasons.
CHUNK_PATCHES = 4


@dataclass
class PatchOutputs:
    """Per-patch musicnn outputs of one stream.

    Attributes
    ----------
    centres_s : np.ndarray, shape (n_patches,)
        Centre of each patch in s from the start of the stream.
    outputs : dict of EmbeddingConfig -> np.ndarray, shape (n_patches, width), float32
        The config's ``parts`` side by side (widths :data:`EMBEDDING_PARTS`).
    """

    centres_s: np.ndarray
    outputs: dict

    def window_indices(self, t0: float, t1: float) -> np.ndarray:
        """Patches whose centre lies in [t0, t1); the nearest one when none does (windows under 3 s)."""
        idx = np.flatnonzero((self.centres_s >= t0) & (self.centres_s < t1))
        if idx.size == 0:
            idx = np.array([int(np.argmin(np.abs(self.centres_s - (t0 + t1) / 2)))])
        return idx

    def embedding(self, config: EmbeddingConfig, t0: float, t1: float) -> np.ndarray:
        """The window's embedding for `config` (:func:`pool_window` of its patches)."""
        return pool_window(self.outputs[config][self.window_indices(t0, t1)], config)


def pool_window(A: np.ndarray, config: EmbeddingConfig) -> np.ndarray:
    """Statistics over patches of per-patch outputs, in :func:`pool_embedding`'s order.

    Parameters
    ----------
    A : np.ndarray, shape (n_patches, width)
        Rows of :attr:`PatchOutputs.outputs` (n_patches >= 1).

    Returns
    -------
    np.ndarray, shape (len(embedding_names(config)),), float32
    """
    A = np.asarray(A, dtype=np.float64)
    bounds = np.cumsum([0] + [EMBEDDING_PARTS[p] for p in config.parts])
    stat = {"mean": lambda B: B.mean(0), "std": lambda B: B.std(0), "max": lambda B: B.max(0)}
    return np.concatenate([stat[s](A[:, bounds[i]: bounds[i + 1]])
                           for s in config.stats for i in range(len(config.parts))]).astype(np.float32)


def _check_configs(configs: Sequence[EmbeddingConfig]) -> None:
    for c in configs:
        if c.sr != MUSICNN_SR or c.patch_hop != PATCH_FRAMES:
            raise MerError(f"shared patches need 16-kHz, non-overlapping patches; got sr {c.sr}, "
                           f"patch_hop {c.patch_hop}")
        unknown = [p for p in c.parts if p not in _FIELD_OF]
        if unknown:
            raise MerError(f"unknown embedding part '{unknown[0]}' (known: {', '.join(_FIELD_OF)})")


def _run_models(P: np.ndarray, configs: Sequence[EmbeddingConfig]) -> list[np.ndarray]:
    """Each config's (n, width) outputs for a batch of (n, 187, 96) patches."""
    import torch  # here, not at import: importing the timeline workflow does not load PyTorch

    out = []
    with torch.inference_mode():
        x = torch.from_numpy(P)
        for c in configs:
            o = _cached_model(str(weights_path(c)))(x)
            out.append(np.concatenate([getattr(o, _FIELD_OF[p]).numpy() for p in c.parts], axis=1))
    return out


@functools.lru_cache(maxsize=8)
def _silent_outputs(configs: tuple[EmbeddingConfig, ...]) -> list[np.ndarray]:
    """Each config's (1, width) outputs for a patch of digital silence (its log-mel input is all 0).

    A chunk whose samples are all zero has exactly this input, so its patches get these
    outputs without a mel or a model call: a 2-hour silent file costs its decoding.
    """
    return _run_models(np.zeros((1, PATCH_FRAMES, MUSICNN_N_MELS), np.float32), configs)


def patch_centres(n_patches: int) -> np.ndarray:
    """Centres in s of the first `n_patches` patches (frame ``t`` is centred on sample ``t * 256``)."""
    return (np.arange(n_patches) * PATCH_FRAMES + (PATCH_FRAMES - 1) / 2) * MUSICNN_HOP / MUSICNN_SR


def stream_patch_outputs(blocks: Iterable[np.ndarray], configs: Sequence[EmbeddingConfig], *,
                         chunk_patches: int = CHUNK_PATCHES) -> PatchOutputs:
    """Every patch's outputs for each config, from a 16-kHz signal arriving block by block.

    The patches are those of the whole signal (trailing partial patch dropped; a signal
    under 3 s is repeated to fill one, as musicnn does); at most a chunk's audio plus a
    decoded block is held besides the outputs.

    Parameters
    ----------
    blocks : iterable of np.ndarray, shape (n,), float32
        Consecutive pieces of the mono signal at 16 kHz.
    configs : sequence of EmbeddingConfig
        16-kHz, non-overlapping patches (the recipe's MSD and MTT inputs).
    chunk_patches : int >= 1

    Returns
    -------
    PatchOutputs
    """
    configs = list(dict.fromkeys(configs))
    _check_configs(configs)
    width, chunk, half = PATCH_FRAMES, max(1, int(chunk_patches)), MUSICNN_N_FFT // 2
    held, start, n_seen, p = np.zeros(0, np.float32), 0, 0, 0
    rows: list[list[np.ndarray]] = [[] for _ in configs]

    def read(a: int, b: int) -> np.ndarray:
        return held_samples(held, start, a, b)

    def run(p0: int, p1: int) -> None:
        if not read(p0 * width * MUSICNN_HOP - half, (p1 * width - 1) * MUSICNN_HOP + half).any():
            for r, o in zip(rows, _silent_outputs(tuple(configs))):  # digital silence: known outputs
                r.append(np.repeat(o, p1 - p0, axis=0))
            return
        L = _input_frames(read, p0 * width, p1 * width)  # one mel for every model
        for r, o in zip(rows, _run_models(L.reshape(p1 - p0, width, -1), configs)):
            r.append(o)

    for block in blocks:
        held = np.concatenate([held, np.asarray(block, dtype=np.float32)])
        n_seen += len(block)
        while (p + chunk) * width * MUSICNN_HOP - MUSICNN_HOP + half <= n_seen:
            run(p, p + chunk)
            p += chunk
            drop = max(0, p * width * MUSICNN_HOP - half) - start  # no later patch needs these
            held, start = held[drop:], start + drop
    n_frames = 1 + n_seen // MUSICNN_HOP
    if n_seen == 0:
        raise MerError("no audio to embed (empty signal)")
    if n_frames < width:  # under 3 s: nothing was dropped; musicnn's repeat-padding
        P = patches(musicnn_input(held, MUSICNN_SR))
        return PatchOutputs(patch_centres(1), {c: o for c, o in zip(configs, _run_models(P, configs))})
    n_patches = (n_frames - width) // width + 1
    while p < n_patches:
        run(p, min(p + chunk, n_patches))
        p += chunk
    return PatchOutputs(patch_centres(n_patches), {c: np.concatenate(r)[:n_patches] for c, r in zip(configs, rows)})
