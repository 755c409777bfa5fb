"""Parity checks: how far another engine's or an exported file's heatmaps are from eager fp32, on real crops.

Every engine ``auto`` may pick and every file ``hpe export`` writes is checked here first, on whole-image crops
(and their mirrors) of the real pictures shipped in ``data/``: random inputs hide the errors that matter.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from .codec import HeatmapCodec
from .files import shipped_images
from .images import read_image
from .transforms import box_to_center_scale, crop, normalize, whole_image_box

MAX_MOVED = 0.01  # auto's bar: at most 1% of joints decoded more than 1 heatmap pixel from eager fp32
PARITY_BATCH = 8  # crops per engine call when checking parity: bounded memory for any number of images


@dataclass
class ParityReport:
    """How far a candidate's heatmaps are from PyTorch's on the same real inputs."""

    backend: str
    max_abs_diff: float
    moved_share: float  # share of joints whose decoded position moved by more than 1 heatmap pixel
    joints: int
    tolerance_abs: float
    tolerance_moved: float

    @property
    def ok(self) -> bool:
        return self.max_abs_diff <= self.tolerance_abs and self.moved_share <= self.tolerance_moved

    def __str__(self) -> str:
        verdict = "PASS" if self.ok else "FAIL"
        return (f"{self.backend}: max |heatmap diff| {self.max_abs_diff:.2e} (limit {self.tolerance_abs:g}), "
                f"joints moved > 1 heatmap px: {self.moved_share:.1%} of {self.joints} (limit "
                f"{self.tolerance_moved:.0%}) -> {verdict}")


def compare_heatmaps(reference: np.ndarray, candidate: np.ndarray, input_size: tuple[int, int], backend: str = "candidate",
                     tolerance_abs: float = float("inf"), tolerance_moved: float = MAX_MOVED) -> ParityReport:
    """Parity of two heatmap batches (N, K, h, w) of a model with ``input_size`` (width, height).

    Joints are decoded by the same codec the predictor uses (its stride comes from the two sizes), so "moved"
    means moved in the answer a user gets. Non-finite candidate heatmaps count as every joint moved.
    """
    if reference.shape != candidate.shape:
        raise ValueError(f"{backend}: heatmap shapes differ: {reference.shape} vs {candidate.shape}")
    if not np.isfinite(candidate).all():
        return ParityReport(backend, float("inf"), 1.0, int(np.prod(reference.shape[:2])), tolerance_abs, tolerance_moved)
    codec = HeatmapCodec(tuple(input_size), heatmap_size=(reference.shape[3], reference.shape[2]))
    a, _ = codec.decode(reference)
    b, _ = codec.decode(candidate.astype(np.float32))
    moved = np.linalg.norm(a - b, axis=-1) > 1.0
    return ParityReport(backend, float(np.abs(reference - candidate).max()), float(moved.mean()), int(moved.size),
                        tolerance_abs, tolerance_moved)


def real_crops(input_size: tuple[int, int], color_order: str, images: Sequence[Any] | None = None) -> np.ndarray:
    """Normalised whole-image crops (and mirrors) of real images (default: those shipped in data/).

    The reference inputs of every parity check and the calibration set of int8 quantization.
    """
    out = []
    for img in images if images is not None else shipped_images():
        rgb = read_image(img)
        c, s = box_to_center_scale(whole_image_box(rgb.shape[1], rgb.shape[0]), input_size[0] / input_size[1])
        x = crop(rgb, c, s, input_size)
        out += [x, np.ascontiguousarray(x[:, ::-1])]
    if not out:
        raise FileNotFoundError("no real images to check parity on (data/ is missing; set HPE_ROOT to a checkout)")
    return normalize(np.stack(out), color_order)


def run_batched(engine: Any, x: np.ndarray, batch: int = PARITY_BATCH) -> np.ndarray:
    """``engine`` over ``x`` in chunks of ``batch`` crops."""
    return np.concatenate([engine(x[i:i + batch]) for i in range(0, len(x), batch)])


__all__ = ["MAX_MOVED", "PARITY_BATCH", "ParityReport", "compare_heatmaps", "real_crops", "run_batched"]
