"""The heatmap codec: one object encodes training targets and decodes predictions, so they never drift apart.

Numpy only, so the PyTorch, TorchScript and ONNX paths share it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def default_sigma(input_size: tuple[int, int]) -> float:
    """The original recipe's Gaussian sigma: 2 heatmap pixels at 256-pixel inputs, 3 at 384 (scaled between)."""
    return 3.0 if max(input_size) >= 384 else 2.0


@dataclass(frozen=True)
class HeatmapCodec:
    """Gaussian-heatmap encoding and argmax + quarter-pixel decoding (Simple Baselines rules).

    ``input_size`` and ``heatmap_size`` are (width, height); keypoints passed to :meth:`encode` are in
    input-image (crop) pixels, and :meth:`decode` returns heatmap pixels.
    """

    input_size: tuple[int, int] = (192, 256)
    heatmap_size: tuple[int, int] | None = None
    sigma: float | None = None

    def __post_init__(self) -> None:
        if self.heatmap_size is None:
            object.__setattr__(self, "heatmap_size", (self.input_size[0] // 4, self.input_size[1] // 4))
        if self.sigma is None:
            object.__setattr__(self, "sigma", default_sigma(self.input_size))
        if self.sigma <= 0:
            raise ValueError(f"sigma must be positive, got {self.sigma}")

    @property
    def stride(self) -> tuple[float, float]:
        """Input pixels per heatmap pixel along x and y (4 for Simple Baselines)."""
        assert self.heatmap_size is not None
        return self.input_size[0] / self.heatmap_size[0], self.input_size[1] / self.heatmap_size[1]

    def encode(self, keypoints: np.ndarray, visible: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Keypoints (K, 2) in input pixels -> (heatmaps (K, h, w) float32, target weights (K,) float32).

        As in the original: the Gaussian is centred on the integer-rounded heatmap position, drawn in a
        window of 3 sigma around it, and a joint that is unlabelled or whose window lies wholly off the
        map gets weight 0 (and an all-zero heatmap).
        """
        assert self.heatmap_size is not None and self.sigma is not None
        keypoints = np.asarray(keypoints, dtype=np.float64)
        if keypoints.ndim != 2 or keypoints.shape[1] != 2:
            raise ValueError(f"keypoints must be (K, 2), got {keypoints.shape}")
        k = keypoints.shape[0]
        visible = np.ones(k) if visible is None else np.asarray(visible, dtype=np.float64).reshape(k)
        w, h = self.heatmap_size
        heatmaps = np.zeros((k, h, w), dtype=np.float32)
        weights = (visible > 0).astype(np.float32)
        radius = self.sigma * 3
        size = int(2 * radius + 1)
        g1 = np.arange(size, dtype=np.float64)
        c = size // 2
        gaussian = np.exp(-((g1[None, :] - c) ** 2 + (g1[:, None] - c) ** 2) / (2 * self.sigma**2)).astype(np.float32)
        sx, sy = self.stride
        for j in range(k):
            if weights[j] == 0:
                continue
            mu_x = int(keypoints[j, 0] / sx + 0.5)
            mu_y = int(keypoints[j, 1] / sy + 0.5)
            x0, y0 = int(mu_x - radius), int(mu_y - radius)
            x1, y1 = int(mu_x + radius + 1), int(mu_y + radius + 1)
            if x0 >= w or y0 >= h or x1 < 0 or y1 < 0 or not np.isfinite(keypoints[j]).all():
                weights[j] = 0
                continue
            gx0, gx1 = max(0, -x0), min(x1, w) - x0
            gy0, gy1 = max(0, -y0), min(y1, h) - y0
            hx0, hx1 = max(0, x0), min(x1, w)
            hy0, hy1 = max(0, y0), min(y1, h)
            heatmaps[j, hy0:hy1, hx0:hx1] = gaussian[gy0:gy1, gx0:gx1]
        return heatmaps, weights

    def decode(self, heatmaps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Heatmaps (N, K, h, w) or (K, h, w) -> (coords in heatmap pixels (..., K, 2), scores (..., K)).

        Argmax, then a quarter-pixel step towards the higher neighbour on each axis (the original's
        cheap sub-pixel refinement); the score is the heatmap's maximum. Joints with a non-positive
        maximum get coordinates (0, 0).
        """
        hm = np.asarray(heatmaps, dtype=np.float32)
        squeeze = hm.ndim == 3
        if squeeze:
            hm = hm[None]
        if hm.ndim != 4:
            raise ValueError(f"heatmaps must be (N, K, H, W) or (K, H, W), got {heatmaps.shape}")
        n, k, h, w = hm.shape
        flat = hm.reshape(n, k, h * w)
        idx = flat.argmax(axis=2)
        scores = np.take_along_axis(flat, idx[..., None], axis=2)[..., 0]
        coords = np.stack([idx % w, idx // w], axis=-1).astype(np.float32)
        coords *= (scores > 0)[..., None]

        px = np.floor(coords[..., 0] + 0.5).astype(np.int64)
        py = np.floor(coords[..., 1] + 0.5).astype(np.int64)
        inside = (px > 1) & (px < w - 1) & (py > 1) & (py < h - 1)
        pxc, pyc = np.clip(px, 1, w - 2), np.clip(py, 1, h - 2)
        ni, ki = np.meshgrid(np.arange(n), np.arange(k), indexing="ij")
        dx = hm[ni, ki, pyc, pxc + 1] - hm[ni, ki, pyc, pxc - 1]
        dy = hm[ni, ki, pyc + 1, pxc] - hm[ni, ki, pyc - 1, pxc]
        coords[..., 0] += np.where(inside, np.sign(dx) * 0.25, 0.0)
        coords[..., 1] += np.where(inside, np.sign(dy) * 0.25, 0.0)
        if squeeze:
            return coords[0], scores[0]
        return coords, scores

    def heatmap_to_input(self, coords: np.ndarray) -> np.ndarray:
        """Heatmap pixels -> input (crop) pixels, using the same stride the encoder used."""
        sx, sy = self.stride
        return np.asarray(coords, dtype=np.float32) * np.array([sx, sy], dtype=np.float32)
