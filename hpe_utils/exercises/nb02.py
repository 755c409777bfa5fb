"""Exercises of notebook 02_heatmap_targets: write the Gaussian encoder, the quarter-pixel decoder and DARK's step."""
from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from ..codec import HeatmapCodec
from .core import Exercise, Wrong, call, describe

NOTEBOOK = "02_heatmap_targets"


def _reference_encode(x: float, y: float, visible: int, heatmap_size: tuple[int, int], sigma: float,
                      stride: int) -> tuple[np.ndarray, float]:
    """The library's codec for one joint: the truth every answer is compared with."""
    w, h = heatmap_size
    codec = HeatmapCodec((w * stride, h * stride), heatmap_size=(w, h), sigma=sigma)
    maps, weights = codec.encode(np.array([[x, y]]), np.array([visible]))
    return maps[0], float(weights[0])


def _peak(hm: np.ndarray) -> tuple[int, int]:
    """(x, y) of a map's maximum."""
    row, col = np.unravel_index(int(np.argmax(hm)), hm.shape)
    return int(col), int(row)


def _check_encode(answer: Callable[..., Any]) -> str:
    """Compare the learner's one-joint encoder with the codec on centre, rounding, sigma, border and weight cases."""
    cases = [  # (x, y, visible, sigma, words)
        (101.0, 130.0, 1, 2.0, "a joint in the middle, (101, 130)"),
        (102.0, 130.0, 1, 2.0, "a joint at x = 102, which is 25.5 heatmap pixels"),
        (85.0, 201.0, 1, 3.0, "a joint at (85, 201) with sigma = 3"),
        (0.0, 130.0, 1, 2.0, "a joint on the left edge, x = 0"),
        (190.0, 254.0, 1, 2.0, "a joint in the bottom-right corner, (190, 254)"),
        (-40.0, 100.0, 1, 2.0, "a joint far left of the crop, x = -40"),
        (100.0, 120.0, 0, 2.0, "an unlabelled joint (visible = 0)"),
    ]
    size, stride = (48, 64), 4
    for x, y, visible, sigma, words in cases:
        got = call(answer, x, y, visible, heatmap_size=size, sigma=sigma, stride=stride, case=words)
        if not (isinstance(got, tuple) and len(got) == 2):
            raise Wrong(f"return a pair (heatmap, weight); on {words} you returned {describe(got)}")
        hm, weight = np.asarray(got[0], dtype=np.float64), got[1]
        want, want_w = _reference_encode(x, y, visible, size, sigma, stride)
        if hm.shape != want.shape:
            if hm.shape == want.shape[::-1]:
                raise Wrong(f"your heatmap has shape {hm.shape}, it should be {want.shape} = (height, width): rows are "
                            "y, columns are x")
            raise Wrong(f"your heatmap has shape {hm.shape}, it should be {want.shape} = (height, width) = heatmap_size "
                        "reversed")
        try:
            weight = float(weight)
        except (TypeError, ValueError):
            raise Wrong(f"the weight must be a number (0 or 1); on {words} you returned {describe(weight)}") from None
        if want_w == 0:
            if weight != 0:
                why = ("an unlabelled joint teaches nothing" if visible == 0 else
                       "its whole 3-sigma window is off the map")
                raise Wrong(f"on {words} the weight should be 0 ({why}); yours is {weight:g}")
            if np.abs(hm).max() > 0:
                raise Wrong(f"on {words} the heatmap should be all zeros; yours has {int((hm != 0).sum())} non-zero "
                            "pixels")
            continue
        if weight != want_w:
            raise Wrong(f"on {words} the weight should be 1 (labelled, on the map); yours is {weight:g}")
        if not np.isfinite(hm).all():
            raise Wrong(f"on {words} your heatmap contains NaN or infinity")
        _diagnose_map(hm, want, x, y, sigma, stride, words)
    return (f"right on {len(cases)} joints — rounding to the nearest heatmap pixel, sigma 2 and 3, the left edge, a "
            "corner, off the map and unlabelled")


def _diagnose_map(hm: np.ndarray, want: np.ndarray, x: float, y: float, sigma: float, stride: int, words: str) -> None:
    """Say what differs between the learner's map and the codec's: peak position, peak value, width, window, wrap."""
    (px, py), (wx, wy) = _peak(hm), _peak(want)
    h, w = want.shape
    if (px, py) != (wx, wy):
        if (px, py) == (math.floor(x / stride), math.floor(y / stride)):
            axis, v, mu = ("x", x, wx) if px != wx else ("y", y, wy)
            raise Wrong(f"on {words} your peak is at ({px}, {py}), one pixel {'left of' if px < wx else 'above'} "
                        f"({wx}, {wy}): {v:g}/{stride} = {v / stride:g} rounds to {mu} — did you floor (int({axis} / "
                        f"stride)) instead of rounding to the nearest pixel (int({axis} / stride + 0.5))?")
        if (px, py) == (min(int(x), w - 1), min(int(y), h - 1)) or abs(px - x) < 1.5 and abs(py - y) < 1.5:
            raise Wrong(f"on {words} your peak is at ({px}, {py}), the joint's input-pixel position: divide by the stride "
                        f"({stride}) first — the heatmap is {stride}x smaller than the crop")
        if (px, py) == (wy, wx) or (hm.T.shape == hm.shape and _peak(hm.T) == (wx, wy)):
            raise Wrong(f"on {words} your peak is at ({px}, {py}), x and y swapped: heatmap[row, column] is heatmap[y, x]")
        raise Wrong(f"on {words} your peak is at (x, y) = ({px}, {py}), it should be at ({wx}, {wy})")
    peak, want_peak = hm[py, px], want[wy, wx]
    if not math.isclose(peak, want_peak, abs_tol=1e-3):
        if want_peak == 1:
            raise Wrong(f"on {words} your peak value is {peak:.4g}, it should be 1: the target Gaussian is not "
                        "normalised to sum 1, its top is exp(0) = 1")
        raise Wrong(f"on {words} your largest value is {peak:.4g}, it should be {want_peak:.4g}: the rounded position "
                    "is just off the map, so only the Gaussian's flank is on it — clip the window, do not move it")
    nx = wx + 1 if wx + 1 < w else wx - 1
    got_n, want_n = hm[wy, nx], want[wy, nx]
    if not math.isclose(got_n, want_n, rel_tol=1e-3, abs_tol=1e-4):
        if 0 < got_n < 1:
            s = math.sqrt(-1 / (2 * math.log(got_n)))
            hint = (" — exp(-d² / (2 sigma²)): did you forget the 2?" if math.isclose(s, sigma / math.sqrt(2), rel_tol=1e-2)
                    else " — exp(-d² / (2 sigma²)), with d in heatmap pixels")
            raise Wrong(f"on {words} the pixel next to the peak is {got_n:.4f}, it should be {want_n:.4f}: your Gaussian "
                        f"is as wide as sigma = {s:.3g}, not {sigma:g}{hint}")
        raise Wrong(f"on {words} the pixel next to the peak is {got_n:.4f}, it should be {want_n:.4f}")
    outside = (hm != 0) & (want == 0)
    if outside.any():
        rows, cols = np.nonzero(outside)
        dist = np.maximum(np.abs(cols - wx), np.abs(rows - wy))
        far, near = int(dist.max()), int(dist.min())
        r = int(math.floor(3 * sigma))
        if near > 2 * r + 1:  # nothing just outside the window, only on the far side: negative indices wrapped
            raise Wrong(f"on {words} your map has values on the far side of the map ({far} pixels from the peak): the "
                        "window wrapped around — in numpy a negative index counts from the end, so clip the window "
                        "to start at 0")
        raise Wrong(f"on {words} your map is non-zero {far} pixels from the peak: draw the Gaussian only within "
                    f"floor(3 sigma) = {r} pixels of it, a ({2 * r + 1} x {2 * r + 1}) window")
    missing = (hm == 0) & (want != 0)
    if missing.any():
        raise Wrong(f"on {words} {int(missing.sum())} pixels of the window are zero that should not be: fill the "
                    "whole window that lies on the map (clip it at the border; do not drop the joint)")
    err = np.abs(hm - want)
    if err.max() > 1e-3:
        row, col = np.unravel_index(int(err.argmax()), err.shape)
        raise Wrong(f"on {words} your value at (x, y) = ({col}, {row}) is {hm[row, col]:.4f}, it should be "
                    f"{want[row, col]:.4f}")


def _reference_quarter(hm: np.ndarray) -> tuple[float, float, float]:
    """The library's quarter-pixel decoder on one map."""
    coords, scores = HeatmapCodec((hm.shape[1] * 4, hm.shape[0] * 4), refine="quarter").decode(hm[None])
    return float(coords[0, 0]), float(coords[0, 1]), float(scores[0])


def _quarter_cases() -> list[tuple[np.ndarray, str]]:
    """Maps with a known answer: each neighbour direction, a tie, the border, and an empty map."""
    def map_with(points: dict[tuple[int, int], float]) -> np.ndarray:
        hm = np.zeros((64, 48), np.float32)
        for (x, y), v in points.items():
            hm[y, x] = v
        return hm

    return [
        (map_with({(20, 30): 1.0, (21, 30): 0.7, (20, 29): 0.6}), "the notebook's map (right and upper neighbours higher)"),
        (map_with({(12, 40): 0.9, (11, 40): 0.5, (12, 41): 0.4}), "a map whose left and lower neighbours are higher"),
        (map_with({(30, 10): 0.8, (29, 10): 0.3, (31, 10): 0.3, (30, 9): 0.2}), "a map whose x neighbours tie"),
        (map_with({(0, 20): 0.9, (1, 20): 0.5, (0, 21): 0.3}), "a peak on the left border (x = 0)"),
        (map_with({(47, 63): 0.7, (46, 63): 0.6}), "a peak in the bottom-right corner"),
    ]


def _check_quarter(answer: Callable[..., Any]) -> str:
    """Compare the learner's argmax + quarter step with the codec's, diagnosing axis order, direction and border."""
    cases = _quarter_cases()
    for hm, words in cases:
        got = call(answer, hm.copy(), case=words)
        if not (isinstance(got, tuple) and len(got) == 3):
            raise Wrong(f"return (x, y, score); on {words} you returned {describe(got)}")
        try:
            x, y, score = (float(v) for v in got)
        except (TypeError, ValueError):
            raise Wrong(f"return three numbers (x, y, score); on {words} you returned {describe(got)}") from None
        wx, wy, ws = _reference_quarter(hm)
        ax, ay = round(wx), round(wy)
        if not math.isclose(score, ws, abs_tol=1e-5):
            raise Wrong(f"on {words} your score is {score:.3g}, it should be the heatmap's maximum, {ws:.3g}")
        if (round(x), round(y)) == (ay, ax) and ax != ay:
            raise Wrong(f"on {words} you returned x = {x:g}, y = {y:g}: x and y are swapped — for a (height, width) map, "
                        "np.unravel_index(argmax, shape) gives (row, column) = (y, x)")
        if math.isclose(x, wx, abs_tol=1e-4) and math.isclose(y, wy, abs_tol=1e-4):
            continue
        dx, dy = x - ax, y - ay
        wdx, wdy = wx - ax, wy - ay
        if abs(dx - wdx) > 0.6 or abs(dy - wdy) > 0.6:
            raise Wrong(f"on {words} you returned ({x:g}, {y:g}); the maximum is at ({ax}, {ay}) and the answer is "
                        f"({wx:g}, {wy:g})")
        if (wdx, wdy) == (0, 0) and (dx, dy) != (0, 0):
            raise Wrong(f"on {words} you moved to ({x:g}, {y:g}), the answer is ({wx:g}, {wy:g}): at the border a peak has "
                        "no neighbour on one side, and where both neighbours tie there is nothing to move towards — "
                        "skip the step there")
        if (wdx == 0 and dx != 0 or wdy == 0 and dy != 0) and (ax, ay) not in ((0, 0), (hm.shape[1] - 1, hm.shape[0] - 1)):
            raise Wrong(f"on {words} you moved to ({x:g}, {y:g}), the answer is ({wx:g}, {wy:g}): where both neighbours "
                        "on an axis are equal there is no higher one — np.sign(0) = 0, no step on that axis")
        if (dx, dy) == (0, 0):
            raise Wrong(f"on {words} you returned the argmax ({x:g}, {y:g}) without the quarter-pixel step: move 0.25 "
                        f"towards the higher neighbour along x and along y, giving ({wx:g}, {wy:g})")
        if np.sign(dx) == -np.sign(wdx) and wdx != 0 or np.sign(dy) == -np.sign(wdy) and wdy != 0:
            raise Wrong(f"on {words} you moved to ({x:g}, {y:g}), away from the higher neighbour: the answer is "
                        f"({wx:g}, {wy:g}) — the step is +0.25 when the next pixel is higher than the previous one")
        if {abs(dx), abs(dy)} - {0.0, 0.25}:
            raise Wrong(f"on {words} your step is ({dx:g}, {dy:g}) pixels; the original moves exactly a quarter pixel "
                        f"(0.25) on each axis, giving ({wx:g}, {wy:g})")
        raise Wrong(f"on {words} you returned ({x:g}, {y:g}), the answer is ({wx:g}, {wy:g})")
    return f"right on {len(cases)} maps — both directions, a tie, the border and a corner"


def _check_parabola(answer: Callable[..., Any]) -> str:
    """The learner's log-parabola offset must recover the exact sub-pixel centre of sampled Gaussians."""
    cases = [(0.3, 2.0), (-0.45, 2.0), (0.0, 2.0), (0.2, 3.0), (-0.1, 1.5)]
    for offset, sigma in cases:
        left, centre, right = (math.exp(-((d - offset) ** 2) / (2 * sigma**2)) for d in (-1, 0, 1))
        words = f"a Gaussian of sigma {sigma:g} centred {offset:+g} pixels from the sampled maximum"
        got = call(answer, left, centre, right, case=words)
        try:
            got = float(got)
        except (TypeError, ValueError):
            raise Wrong(f"return one number, the offset in pixels; on {words} you returned {describe(got)}") from None
        if math.isclose(got, offset, abs_tol=1e-6):
            continue
        plain = 0.5 * (left - right) / (left - 2 * centre + right)
        if math.isclose(got, -offset, abs_tol=1e-6) and offset != 0:
            raise Wrong(f"on {words} you returned {got:+.4f}: the sign is flipped — the offset points towards the higher "
                        "neighbour (positive when right > left)")
        if math.isclose(got, plain, abs_tol=1e-6) or math.isclose(got, -plain, abs_tol=1e-6):
            raise Wrong(f"on {words} you returned {got:+.4f}, the answer is {offset:+.4f}: you fitted the parabola to the "
                        "values themselves; a Gaussian is not a parabola, its logarithm is — take np.log of the three "
                        "values first")
        raise Wrong(f"on {words} you returned {got:+.4f}, the answer is {offset:+.4f}")
    return f"exact on {len(cases)} Gaussians: the log of a Gaussian is a parabola, so its vertex is the true centre"


EXERCISES: tuple[Exercise, ...] = (
    Exercise(
        name="ex02_encode", notebook=NOTEBOOK, function="encode_joint", level="core",
        title="The Gaussian target of one joint", check=_check_encode,
        hints=(
            "Work in heatmap pixels: mu_x = int(x / stride + 0.5) rounds to the nearest pixel (floor would be one "
            "pixel off half the time); the same for y.",
            "r = int(3 * sigma); the window is columns mu_x - r … mu_x + r and rows mu_y - r … mu_y + r. Evaluate "
            "exp(-(dx² + dy²) / (2 sigma²)) for dx, dy in -r … r, so the peak is exactly 1.",
            "Clip the window to the map (max(0, …), min(…, w)) and cut the same part out of the Gaussian patch; if "
            "nothing of the window is on the map, or visible is 0, return zeros and weight 0.",
        ),
    ),
    Exercise(
        name="ex02_decode", notebook=NOTEBOOK, function="decode_quarter", level="core",
        title="Argmax and the quarter-pixel step", check=_check_quarter,
        hints=(
            "y, x = np.unravel_index(heatmap.argmax(), heatmap.shape): rows first. The score is heatmap[y, x].",
            "Along x compare heatmap[y, x + 1] with heatmap[y, x - 1]: move +0.25 if the right one is higher, -0.25 if "
            "the left one is (np.sign of the difference times 0.25); the same along y with the rows.",
            "Only where both neighbours exist: the original tests 1 < x < width - 1 and 1 < y < height - 1.",
        ),
    ),
    Exercise(
        name="ex02_parabola", notebook=NOTEBOOK, function="parabola_offset", level="stretch",
        title="DARK's idea in one dimension: the vertex of the log-parabola", check=_check_parabola,
        hints=(
            "Take a, b, c = log(left), log(centre), log(right): for a Gaussian these lie exactly on a parabola.",
            "A parabola through (-1, a), (0, b), (1, c) has its vertex at 0.5 * (a - c) / (a - 2b + c).",
        ),
    ),
)

__all__ = ["EXERCISES"]
