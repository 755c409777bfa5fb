"""Boxes, centre/scale and the affine crop that maps a person into the network input (numpy + OpenCV).

Conventions of the original code: a person is described by a centre (x, y) and a scale (w, h) in units
of ``PIXEL_STD`` = 200 pixels; the box is widened to the model's aspect ratio and padded (by 1.25 there; our
checkpoints store their own ``box_padding``) so that limbs just outside a tight box are still in view.
"""
from __future__ import annotations

import math
from typing import Sequence

import cv2
import numpy as np

from .errors import BoxError, InputError

PIXEL_STD = 200.0  # the original code measures scale in units of 200 pixels (an MPII convention)
BOX_PADDING = 1.25  # context added around a detection box before cropping (a checkpoint may store its own)
PADDING_RANGE = (1.0, 4.0)  # below 1 the crop cuts into the box; above 4 the person is a speck


def check_box_padding(padding: float) -> float:
    """A box padding as a float, or InputError: it sets how much of the picture the network sees around a person."""
    try:
        p = float(padding)
    except (TypeError, ValueError):
        p = math.nan
    if not (math.isfinite(p) and PADDING_RANGE[0] <= p <= PADDING_RANGE[1]):
        raise InputError(f"box padding must be between {PADDING_RANGE[0]} and {PADDING_RANGE[1]}, got {padding}")
    return p


def box_to_center_scale(box: np.ndarray | list[float], aspect_ratio: float, padding: float = BOX_PADDING) -> tuple[np.ndarray, np.ndarray]:
    """Box (x, y, w, h) -> centre (2,) and scale (2,) widened to ``aspect_ratio`` = width / height."""
    x, y, w, h = (float(v) for v in box)
    if not all(math.isfinite(v) for v in (x, y, w, h)) or w <= 0 or h <= 0:
        raise BoxError(f"a box must be finite (x, y, w, h) with w, h > 0, got {list(box)}")
    center = np.array([x + w * 0.5, y + h * 0.5], dtype=np.float32)
    if w > aspect_ratio * h:
        h = w / aspect_ratio
    elif w < aspect_ratio * h:
        w = h * aspect_ratio
    scale = np.array([w / PIXEL_STD, h / PIXEL_STD], dtype=np.float32) * padding
    return center, scale


def center_scale_to_box(center: np.ndarray, scale: np.ndarray, padding: float = BOX_PADDING) -> np.ndarray:
    """Inverse of :func:`box_to_center_scale` (up to the aspect-ratio widening): (x, y, w, h)."""
    w, h = np.asarray(scale, dtype=np.float64) * PIXEL_STD / padding
    return np.array([center[0] - w / 2, center[1] - h / 2, w, h], dtype=np.float32)


def whole_image_box(width: int, height: int) -> np.ndarray:
    """The box used when no person box is given: the whole image."""
    return np.array([0.0, 0.0, float(width), float(height)], dtype=np.float32)


def get_affine_transform(center: np.ndarray, scale: np.ndarray, rotation: float, output_size: tuple[int, int], inverse: bool = False) -> np.ndarray:
    """2x3 matrix taking image pixels to output pixels (or back with ``inverse``).

    The region of width ``scale[0] * 200`` around ``center``, rotated by ``rotation`` degrees
    (counter-clockwise as seen on screen), fills an output of (width, height) = ``output_size``.
    Same mapping as the original's three-point construction, written in closed form: a similarity
    with factor s = out_w / src_w.
    """
    src_w = float(scale[0]) * PIXEL_STD
    if not src_w > 0:
        raise ValueError(f"scale must be positive, got {scale}")
    out_w, out_h = output_size
    s = out_w / src_w
    theta = math.radians(rotation)
    cos, sin = math.cos(theta), math.sin(theta)
    # dst = s * R(-theta) (p - c) + dst_centre, with R(t) = [[cos t, -sin t], [sin t, cos t]]
    a = np.array([[cos, sin], [-sin, cos]], dtype=np.float64) * s
    dst_c = np.array([out_w * 0.5, out_h * 0.5])
    t = dst_c - a @ np.asarray(center, dtype=np.float64)
    m = np.hstack([a, t[:, None]])
    if inverse:
        m = cv2.invertAffineTransform(m)
    return m.astype(np.float64)


def affine_points(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Apply a 2x3 affine matrix to points (..., 2)."""
    pts = np.asarray(points, dtype=np.float64)
    return (pts @ matrix[:, :2].T + matrix[:, 2]).astype(np.float32)


def zoom_heatmaps(heatmaps: np.ndarray, factor: float) -> np.ndarray:
    """Heatmaps (..., h, w) of a crop ``factor`` times wider around the same centre -> the unit crop's frame.

    Multi-scale testing averages heatmaps, not keypoints: modes that agree reinforce each other, while the
    mean of two disagreeing keypoints lies on neither. The crop centre sits at (w/2, h/2) in heatmap pixels
    (see :func:`get_affine_transform`), so the map is a zoom by ``factor`` about it; bilinear, zero outside.
    """
    if not (np.isfinite(factor) and factor > 0):
        raise ValueError(f"zoom factor must be positive, got {factor}")
    hm = np.asarray(heatmaps, dtype=np.float32)
    if hm.ndim < 2:
        raise ValueError(f"heatmaps must be (..., h, w), got shape {hm.shape}")
    if factor == 1:
        return hm.copy()
    h, w = hm.shape[-2:]
    return _zoom_matrix(h, factor) @ hm @ _zoom_matrix(w, factor).T


def check_scales(scales: Sequence[float]) -> tuple[float, ...]:
    """Test scales (crop size relative to the padded box) as a tuple, refusing empty or non-positive ones."""
    out = tuple(float(v) for v in scales)
    if not out or not all(np.isfinite(v) and v > 0 for v in out):
        raise InputError(f"test scales must be one or more positive numbers, got {list(scales)}")
    return out


def _zoom_matrix(n: int, factor: float) -> np.ndarray:
    """(n, n) linear-interpolation matrix: output pixel i reads source n/2 + (i - n/2) / factor."""
    src = n * 0.5 + (np.arange(n) - n * 0.5) / factor
    i0 = np.floor(src).astype(int)
    frac = (src - i0).astype(np.float32)
    m = np.zeros((n, n), dtype=np.float32)
    for lo, wgt in ((i0, 1 - frac), (i0 + 1, frac)):
        ok = (lo >= 0) & (lo < n)
        np.add.at(m, (np.nonzero(ok)[0], lo[ok]), wgt[ok])
    return m


def crop(image: np.ndarray, center: np.ndarray, scale: np.ndarray, output_size: tuple[int, int], rotation: float = 0.0) -> np.ndarray:
    """Warp the person region into an (out_h, out_w) image; pixels outside the image are black."""
    m = get_affine_transform(center, scale, rotation, output_size)
    return cv2.warpAffine(image, m, (int(output_size[0]), int(output_size[1])), flags=cv2.INTER_LINEAR)


def heatmap_to_image(coords: np.ndarray, center: np.ndarray, scale: np.ndarray, heatmap_size: tuple[int, int]) -> np.ndarray:
    """Heatmap coordinates (..., K, 2) -> image pixels, by the inverse of the crop's affine map."""
    m = get_affine_transform(center, scale, 0.0, heatmap_size, inverse=True)
    return affine_points(coords, m)


def flip_keypoints(keypoints: np.ndarray, visible: np.ndarray, width: int, flip_perm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mirror keypoints of an image ``width`` pixels wide and swap left/right joints."""
    kp = np.asarray(keypoints, dtype=np.float32).copy()
    kp[:, 0] = width - 1 - kp[:, 0]
    return kp[flip_perm], np.asarray(visible)[flip_perm].copy()


# ImageNet statistics in RGB order; the original MSRA release applied them to BGR images.
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


def normalize(crops: np.ndarray, color_order: str = "rgb") -> np.ndarray:
    """uint8 RGB crops (N, H, W, 3) -> float32 (N, 3, H, W) as the network expects.

    ``color_order="bgr"`` reproduces the original MSRA training: channels reversed to BGR, then the
    RGB-ordered ImageNet mean/std applied anyway. Get this wrong and accuracy silently drops.
    """
    x = np.asarray(crops)
    if x.ndim != 4 or x.shape[-1] != 3:
        raise ValueError(f"crops must be (N, H, W, 3), got {x.shape}")
    if color_order == "bgr":
        x = x[..., ::-1]
    elif color_order != "rgb":
        raise InputError(f"color_order must be 'rgb' or 'bgr', got {color_order!r}")
    x = (x.astype(np.float32) / 255.0 - IMAGENET_MEAN) / IMAGENET_STD
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))


def denormalize(x: np.ndarray, color_order: str = "rgb") -> np.ndarray:
    """Network input (N, 3, H, W) or (3, H, W) float -> uint8 RGB (…, H, W, 3): :func:`normalize` undone, to look at."""
    a = np.asarray(x, dtype=np.float32)
    if a.ndim not in (3, 4) or a.shape[-3] != 3:
        raise ValueError(f"expected (N, 3, H, W) or (3, H, W), got {a.shape}")
    img = np.moveaxis(a, -3, -1) * IMAGENET_STD + IMAGENET_MEAN
    if color_order == "bgr":
        img = img[..., ::-1]
    return np.clip(np.rint(img * 255), 0, 255).astype(np.uint8)


LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R BT.601 grey weights for RGB


def photometric_jitter(patch: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    """Random brightness, contrast and saturation (each factor in [1-strength, 1+strength], random order).

    Colour changes move no joint, so targets are untouched; they stop a small training set's lighting and
    kit colours from becoming cues.
    """
    if strength <= 0:
        return patch
    x = patch.astype(np.float32)
    for op in rng.permutation(3):
        f = float(rng.uniform(1.0 - strength, 1.0 + strength))
        if op == 0:  # brightness
            x = x * f
        elif op == 1:  # contrast around the mean grey level
            grey = float((x @ LUMA).mean())
            x = (x - grey) * f + grey
        else:  # saturation around each pixel's grey value
            grey_px = (x @ LUMA)[..., None]
            x = (x - grey_px) * f + grey_px
    return np.clip(x, 0, 255).astype(np.uint8)


def random_erase(patch: np.ndarray, rng: np.random.Generator, area: tuple[float, float] = (0.02, 0.15),
                 aspect: tuple[float, float] = (0.3, 3.3)) -> np.ndarray:
    """Paint one random rectangle (area share and aspect drawn from the ranges) with uniform noise.

    The joints under it keep their labels, so the network learns to place occluded joints from context
    (Zhong et al. 2020, "Random Erasing Data Augmentation").
    """
    h, w = patch.shape[:2]
    for _ in range(10):
        a = float(rng.uniform(*area)) * h * w
        r = float(math.exp(rng.uniform(math.log(aspect[0]), math.log(aspect[1]))))
        eh, ew = int(round(math.sqrt(a * r))), int(round(math.sqrt(a / r)))
        if 0 < eh < h and 0 < ew < w:
            y, x = int(rng.integers(0, h - eh + 1)), int(rng.integers(0, w - ew + 1))
            out = patch.copy()
            out[y:y + eh, x:x + ew] = rng.integers(0, 256, size=(eh, ew, patch.shape[2]), dtype=np.uint8)
            return out
    return patch


def paste_person(patch: np.ndarray, other: np.ndarray, rng: np.random.Generator, size: tuple[float, float] = (0.6, 1.0),
                 shift: tuple[float, float] = (0.25, 0.6), feather: float = 0.15) -> np.ndarray:
    """Blend ``other`` (another person's crop, same size) in beside or over the centred person, as in a crowd.

    The other crop is shrunk by a factor drawn from ``size`` and moved sideways by a share of the width drawn
    from ``shift`` (left or right), then blended through a feathered ellipse, so no hard rectangle edge becomes a
    cue. The centred person's labels stay as they are: the network must pose the person in the middle, also where
    a neighbour covers part of them (the crowding that top-down crops from COCO photos are full of).
    """
    if patch.shape != other.shape:
        raise ValueError(f"the pasted crop must have the patch's shape {patch.shape}, got {other.shape}")
    h, w = patch.shape[:2]
    f = float(rng.uniform(*size))
    sw, sh = max(int(round(w * f)), 2), max(int(round(h * f)), 2)
    small = cv2.resize(other, (sw, sh), interpolation=cv2.INTER_AREA)
    cx = w / 2 + (1 if rng.random() < 0.5 else -1) * float(rng.uniform(*shift)) * w
    cy = h / 2 + float(rng.uniform(-0.1, 0.1)) * h
    x0, y0 = int(round(cx - sw / 2)), int(round(cy - sh / 2))
    yy, xx = np.mgrid[0:sh, 0:sw].astype(np.float32)
    r = np.sqrt(((xx + 0.5) / sw * 2 - 1) ** 2 + ((yy + 0.5) / sh * 2 - 1) ** 2)  # 0 at the centre, 1 on the ellipse
    alpha = np.clip((1.0 - r) / max(feather, 1e-6), 0.0, 1.0)
    px0, py0, px1, py1 = max(x0, 0), max(y0, 0), min(x0 + sw, w), min(y0 + sh, h)
    if px1 <= px0 or py1 <= py0:
        return patch
    a = alpha[py0 - y0:py1 - y0, px0 - x0:px1 - x0, None]
    out = patch.astype(np.float32)
    out[py0:py1, px0:px1] = out[py0:py1, px0:px1] * (1 - a) + small[py0 - y0:py1 - y0, px0 - x0:px1 - x0] * a
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


__all__ = ["BOX_PADDING", "IMAGENET_MEAN", "IMAGENET_STD", "LUMA", "PADDING_RANGE", "PIXEL_STD", "affine_points",
           "box_to_center_scale", "center_scale_to_box", "check_box_padding", "check_scales", "crop", "denormalize",
           "flip_keypoints", "get_affine_transform", "heatmap_to_image", "normalize", "paste_person", "photometric_jitter", "random_erase",
           "whole_image_box", "zoom_heatmaps"]
