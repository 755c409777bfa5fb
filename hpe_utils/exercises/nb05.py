"""Exercises of notebook 05_inference_messi: the affine crop, its inverse for keypoints, and the flip-back."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ..flip import flip_back_numpy
from ..skeletons import SKELETONS
from ..transforms import PIXEL_STD, affine_points, get_affine_transform, heatmap_to_image
from .core import Exercise, Wrong, call, describe

NOTEBOOK = "05_inference_messi"

# (centre, box size (w, h) in image pixels at the network's aspect ratio, output size (w, h), words)
_CROPS = [
    ((320.0, 240.0), (500.0, 500.0), (256, 256), "the Messi-like case: a 500x500 box around (320, 240) into 256x256"),
    ((100.0, 150.0), (150.0, 200.0), (192, 256), "a 150x200 box around (100, 150) into 192x256"),
    ((40.0, 300.0), (600.0, 800.0), (48, 64), "a large box reaching past the image's left edge into a 48x64 map"),
]


def _reference_matrix(center: tuple[float, float], box: tuple[float, float], out: tuple[int, int]) -> np.ndarray:
    """The library's crop matrix (image pixels -> crop pixels) for a box given in pixels."""
    return get_affine_transform(np.array(center), np.array(box) / PIXEL_STD, 0.0, out)


def _as_matrix(got: Any, words: str) -> np.ndarray:
    """The learner's return value as a 2x3 float matrix, or a Wrong saying what shape it should have."""
    try:
        m = np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError):
        raise Wrong(f"return a 2x3 matrix (a numpy array); on {words} you returned {describe(got)}") from None
    if m.shape == (3, 3):
        raise Wrong("return the 2x3 affine matrix that cv2.warpAffine takes: drop the last row [0, 0, 1]")
    if m.shape != (2, 3):
        raise Wrong(f"return a 2x3 matrix [[a, b, tx], [c, d, ty]]; on {words} you returned {describe(got)}")
    return m


def _check_crop_matrix(answer: Callable[..., Any]) -> str:
    """The learner's matrix must send the box's centre and corners where the library's does."""
    for center, box, out, words in _CROPS:
        m = _as_matrix(call(answer, np.array(center), np.array(box), out, case=words), words)
        want = _reference_matrix(center, box, out)
        if np.allclose(m, want, atol=1e-4):
            continue
        c = affine_points(np.array(center), m)
        s_want, s_got = want[0, 0], np.hypot(m[0, 0], m[1, 0])
        if np.allclose(m, get_affine_transform(np.array(center), np.array(box) / PIXEL_STD, 0.0, out, inverse=True),
                       atol=1e-4):
            raise Wrong(f"on {words} your matrix maps crop pixels back to image pixels: that is the inverse. The crop "
                        "matrix takes an image point to the crop (cv2.warpAffine(image, M, size) asks for that one)")
        if np.isclose(s_got, 1 / s_want, rtol=1e-3) and not np.isclose(s_want, 1.0):
            raise Wrong(f"on {words} your scale factor is {s_got:.4g}, it should be output width / box width = "
                        f"{out[0]}/{box[0]:g} = {s_want:.4g} — yours is upside down")
        if not np.isclose(s_got, s_want, rtol=1e-3):
            raise Wrong(f"on {words} your matrix scales by {s_got:.4g}, it should scale by output width / box width = "
                        f"{s_want:.4g}")
        if not np.allclose(c, (out[0] / 2, out[1] / 2), atol=1e-3):
            raise Wrong(f"on {words} your matrix sends the box centre {center} to ({c[0]:.1f}, {c[1]:.1f}); it must land "
                        f"on the crop's centre ({out[0] / 2:g}, {out[1] / 2:g}): tx = out_w / 2 - s * cx, "
                        "ty = out_h / 2 - s * cy")
        raise Wrong(f"on {words} your matrix is {np.round(m, 4).tolist()}, it should be {np.round(want, 4).tolist()}")
    return f"right on {len(_CROPS)} boxes: the centre lands on the crop's centre and the box's width fills the crop"


def _check_to_image(answer: Callable[..., Any]) -> str:
    """The learner's heatmap -> image mapping must agree with heatmap_to_image on every joint."""
    rng = np.random.default_rng(4)
    for center, box, out, words in _CROPS:
        heatmap_size = (out[0] // 4, out[1] // 4) if out[0] >= 96 else out
        coords = np.vstack([rng.uniform(0, heatmap_size[0], 5), rng.uniform(0, heatmap_size[1], 5)]).T
        coords[0] = (heatmap_size[0] / 2, heatmap_size[1] / 2)  # the heatmap's centre: must land on the box's
        case = f"{words} (heatmap {heatmap_size[0]}x{heatmap_size[1]})"
        got = call(answer, coords.copy(), np.array(center), np.array(box), heatmap_size, case=case)
        try:
            pts = np.asarray(got, dtype=np.float64)
        except (TypeError, ValueError):
            raise Wrong(f"return the points as a (K, 2) array; on {case} you returned {describe(got)}") from None
        if pts.shape != coords.shape:
            raise Wrong(f"return one (x, y) per joint, shape {coords.shape}; on {case} you returned {describe(got)}")
        want = heatmap_to_image(coords, np.array(center), np.array(box) / PIXEL_STD, heatmap_size).astype(np.float64)
        if np.allclose(pts, want, atol=1e-2):
            continue
        forward = affine_points(coords, _reference_matrix(center, box, heatmap_size))
        if np.allclose(pts, forward, atol=1e-2):
            raise Wrong(f"on {case} you applied the crop matrix itself: heatmap points go back to the image with its "
                        "inverse (cv2.invertAffineTransform)")
        for factor in (4, 0.25):
            size = (heatmap_size[0] * factor, heatmap_size[1] * factor)
            if np.allclose(pts, heatmap_to_image(coords, np.array(center), np.array(box) / PIXEL_STD, size), atol=1e-2):
                raise Wrong(f"on {case} your matrix was built for a {size[0]:g}x{size[1]:g} output: the matrix must be "
                            f"built for the heatmap's size, {heatmap_size[0]}x{heatmap_size[1]}, since the points are "
                            "heatmap pixels")
        if not np.allclose(pts[0], center, atol=1e-2):
            raise Wrong(f"on {case} the heatmap's centre ({coords[0, 0]:g}, {coords[0, 1]:g}) should land on the box "
                        f"centre {center}; yours lands on ({pts[0, 0]:.1f}, {pts[0, 1]:.1f})")
        raise Wrong(f"on {case} joint 1 lands at ({pts[1, 0]:.1f}, {pts[1, 1]:.1f}), it should be at "
                    f"({want[1, 0]:.1f}, {want[1, 1]:.1f})")
    return f"right on {len(_CROPS)} boxes x 5 joints: heatmap pixels go back to image pixels"


def _check_flip_back(answer: Callable[..., Any]) -> str:
    """The learner's flip-back must mirror the width and swap every left/right pair, for two skeletons."""
    rng = np.random.default_rng(5)
    for name in ("mpii16", "coco17"):
        skeleton = SKELETONS[name]
        k = len(skeleton.joints)
        heatmaps = rng.random((k, 8, 6)).astype(np.float32)
        words = f"{k} random {name[:-2].upper()} heatmaps"
        got = call(answer, heatmaps.copy(), list(skeleton.flip_pairs), case=words)
        try:
            out = np.asarray(got, dtype=np.float32)
        except (TypeError, ValueError):
            raise Wrong(f"return the heatmaps as an array of shape {heatmaps.shape}; you returned {describe(got)}") from None
        if out.shape != heatmaps.shape:
            raise Wrong(f"on {words} return the same shape as the input, {heatmaps.shape}; you returned {out.shape}")
        want = flip_back_numpy(heatmaps[None], skeleton.flip_permutation(), shift=0.0)[0]
        if np.allclose(out, want):
            continue
        left, right = skeleton.flip_pairs[0]
        names = skeleton.joints[left], skeleton.joints[right]
        if np.allclose(out, heatmaps[..., ::-1]):
            raise Wrong(f"on {words} you mirrored the maps but did not swap left and right: after mirroring, the map in "
                        f"channel {left} ({names[0]}) shows the {names[1]} — swap every pair in flip_pairs")
        if np.allclose(out, heatmaps[skeleton.flip_permutation()]):
            raise Wrong(f"on {words} you swapped left and right but did not mirror the maps: flip the width axis too "
                        "(heatmaps[..., ::-1])")
        if np.allclose(out, want[:, ::-1]):
            raise Wrong(f"on {words} you also flipped the maps upside down: mirror only the width, the last axis")
        if np.allclose(out, heatmaps[skeleton.flip_permutation()][:, ::-1]):
            raise Wrong(f"on {words} you flipped the height (axis 1), not the width: mirror the last axis")
        wrong = [j for j in range(k) if not np.allclose(out[j], want[j])]
        same = [j for j in wrong if any(np.allclose(out[j], out[i]) for i in range(k) if i != j)]
        if same:
            raise Wrong(f"on {words} two channels hold the same map (e.g. {skeleton.joints[same[0]]}): swapping in "
                        "place overwrote one side of a pair — swap with a copy or an index permutation")
        raise Wrong(f"on {words} the maps of {', '.join(skeleton.joints[j] for j in wrong[:4])} are not where they "
                    "belong")
    return "right on the MPII (16 joints) and COCO (17 joints) skeletons: mirrored and every left/right pair swapped"


EXERCISES: tuple[Exercise, ...] = (
    Exercise(
        name="ex05_crop_matrix", notebook=NOTEBOOK, function="crop_matrix", level="warm-up",
        title="The affine crop as one 2x3 matrix", check=_check_crop_matrix,
        hints=(
            "Without rotation the matrix is [[s, 0, tx], [0, s, ty]]: scale by s, then move.",
            "s = out_w / box_w: the box's width must fill the output's width.",
            "The box centre must land on the output's centre: s * cx + tx = out_w / 2, so tx = out_w / 2 - s * cx.",
        ),
    ),
    Exercise(
        name="ex05_to_image", notebook=NOTEBOOK, function="heatmap_to_image_points", level="core",
        title="Back from heatmap pixels to image pixels", check=_check_to_image,
        hints=(
            "Build the crop matrix for the heatmap's size (not the input's): the heatmap is the crop, 4x smaller.",
            "Invert it with cv2.invertAffineTransform(M), or solve it by hand: x = cx + (u - w / 2) / s.",
            "Apply a 2x3 matrix M to points P (K, 2) as P @ M[:, :2].T + M[:, 2].",
        ),
    ),
    Exercise(
        name="ex05_flip_back", notebook=NOTEBOOK, function="flip_back", level="core",
        title="Flip back with the left/right swap", check=_check_flip_back,
        hints=(
            "Two things happen to a mirrored image's heatmaps: each map is mirrored, and a left joint's map now "
            "holds the right joint.",
            "Mirror with heatmaps[:, :, ::-1] (the width is the last axis).",
            "Build a permutation perm = list(range(K)); for each (a, b) in flip_pairs set perm[a], perm[b] = b, a; "
            "then take flipped[perm]. Swapping channels in place overwrites one side.",
        ),
    ),
)

__all__ = ["EXERCISES"]
