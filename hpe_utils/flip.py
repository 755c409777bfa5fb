"""Flip test: average the heatmaps of the image and of its mirror image."""
from __future__ import annotations

import numpy as np
import torch

from .errors import InputError


def mirror_shift(input_width: int, heatmap_width: int) -> float:
    """Heatmap pixels to move flipped-back maps right: exactly 1 - w/W (0.75 at stride 4).

    Mirroring maps input pixel x to W-1-x, i.e. heatmap x/s to (W-1)/s - x/s, while flipping the
    heatmap maps j to w-1-j; the two differ by 1 - 1/s heatmap pixels. The original code rounds this
    to one whole pixel.
    """
    if input_width <= 0 or heatmap_width <= 0:
        raise ValueError(f"widths must be positive, got {input_width} and {heatmap_width}")
    return 1.0 - heatmap_width / input_width


def check_flip_shift(shift: float) -> float:
    """The shift as a float, or an InputError: flipped-back maps move right by 0 to under 8 heatmap pixels."""
    s = float(shift)
    if not 0 <= s < 8:
        raise InputError(f"flip shift must be in [0, 8) heatmap pixels, got {shift}")
    return s


def _shift_weights(shift: float) -> tuple[int, float]:
    """Whole pixels and the fraction of a pixel to shift by (linear interpolation between the two)."""
    s = check_flip_shift(shift)
    whole = int(np.floor(s))
    return whole, s - whole


def flip_back(heatmaps: torch.Tensor, flip_perm: np.ndarray | list[int], shift: float = 1.0) -> torch.Tensor:
    """Heatmaps (N, K, h, w) predicted on mirrored inputs -> heatmaps of the original orientation.

    Mirrors along width, swaps left/right joints and moves everything ``shift`` heatmap pixels to the right
    (fractions by linear interpolation, edge pixels repeated): :func:`mirror_shift` gives the exact value,
    1.0 is the original's (``True``/``False`` still mean 1 and 0).
    """
    whole, frac = _shift_weights(shift)
    out = torch.flip(heatmaps, dims=[3])[:, list(np.asarray(flip_perm))]

    def right(t: torch.Tensor, k: int) -> torch.Tensor:
        return t if k == 0 else torch.cat([t[..., :1].expand(*t.shape[:-1], k), t[..., :-k]], dim=3)

    a = right(out, whole)
    return a if frac == 0 else (1 - frac) * a + frac * right(out, whole + 1)


def flip_test(model: torch.nn.Module, images: torch.Tensor, flip_perm: np.ndarray | list[int],
              shift: float | None = None) -> torch.Tensor:
    """Average of the model's heatmaps for ``images`` and for their mirror images (flipped back).

    ``shift=None`` uses the exact :func:`mirror_shift` for the input and heatmap widths.
    """
    both = torch.cat([images, torch.flip(images, dims=[3])], dim=0)
    out = model(both).float()
    n = images.shape[0]
    if shift is None:
        shift = mirror_shift(images.shape[3], out.shape[3])
    return (out[:n] + flip_back(out[n:], flip_perm, shift)) * 0.5


def flip_back_numpy(heatmaps: np.ndarray, flip_perm: np.ndarray | list[int], shift: float = 1.0) -> np.ndarray:
    """Numpy twin of :func:`flip_back` for the exported-model backends (same mirror, swap and shift)."""
    whole, frac = _shift_weights(shift)
    out = heatmaps[:, list(np.asarray(flip_perm)), :, ::-1]

    def right(t: np.ndarray, k: int) -> np.ndarray:
        return t if k == 0 else np.concatenate([np.repeat(t[..., :1], k, axis=3), t[..., :-k]], axis=3)

    a = right(out, whole)
    return np.ascontiguousarray(a if frac == 0 else (1 - frac) * a + frac * right(out, whole + 1))


__all__ = ["check_flip_shift", "flip_back", "flip_back_numpy", "flip_test", "mirror_shift"]
