"""Flip test: average the heatmaps of the image and of its mirror image."""
from __future__ import annotations

import numpy as np
import torch


def flip_back(heatmaps: torch.Tensor, flip_perm: np.ndarray | list[int], shift: bool = True) -> torch.Tensor:
    """Heatmaps (N, K, h, w) predicted on mirrored inputs -> heatmaps of the original orientation.

    Mirrors along width, swaps left/right joints and, with ``shift``, moves everything one heatmap
    pixel to the right: mirroring maps pixel x to w-1-x in the input, which after the stride-4
    downsampling lands about one heatmap pixel left of where the unflipped branch puts it.
    """
    out = torch.flip(heatmaps, dims=[3])[:, list(np.asarray(flip_perm))]
    if shift:
        out = torch.cat([out[..., :1], out[..., :-1]], dim=3)
    return out


def flip_test(model: torch.nn.Module, images: torch.Tensor, flip_perm: np.ndarray | list[int], shift: bool = True) -> torch.Tensor:
    """Average of the model's heatmaps for ``images`` and for their mirror images (flipped back)."""
    both = torch.cat([images, torch.flip(images, dims=[3])], dim=0)
    out = model(both).float()
    n = images.shape[0]
    return (out[:n] + flip_back(out[n:], flip_perm, shift)) * 0.5


def flip_back_numpy(heatmaps: np.ndarray, flip_perm: np.ndarray | list[int], shift: bool = True) -> np.ndarray:
    """Numpy twin of :func:`flip_back` for the exported-model backends (same mirror, swap and shift)."""
    out = heatmaps[:, list(np.asarray(flip_perm)), :, ::-1]
    if shift:
        out = np.concatenate([out[..., :1], out[..., :-1]], axis=3)
    return np.ascontiguousarray(out)
