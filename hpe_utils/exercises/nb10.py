"""Exercises of notebook 10_video_tracking: MOTA from per-frame counts, and the paper's greedy assignment."""
from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from ..tracking import greedy_match
from .core import Exercise, Wrong, call, describe

NOTEBOOK = "10_video_tracking"


def _reference_mota(gt: np.ndarray, misses: np.ndarray, false_positives: np.ndarray, switches: np.ndarray) -> float:
    """CLEAR MOT's MOTA: 1 - (all misses + false positives + identity switches) / all ground-truth people, summed
    over every frame first (NaN when no frame has anyone in it)."""
    total = float(np.sum(gt))
    if total == 0:
        return float("nan")
    return 1.0 - float(np.sum(misses) + np.sum(false_positives) + np.sum(switches)) / total


def _mota_cases() -> list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, str]]:
    """(gt, misses, false positives, id switches per frame, words): uneven frames, empty frames, below zero."""
    return [
        (np.array([3, 3, 3, 3]), np.array([0, 1, 0, 0]), np.array([1, 0, 0, 0]), np.array([0, 0, 1, 0]),
         "4 frames of 3 people: one miss, one false positive, one switch"),
        (np.array([1, 4, 4, 2]), np.array([1, 0, 1, 0]), np.array([0, 0, 0, 2]), np.array([0, 1, 0, 0]),
         "frames with 1, 4, 4 and 2 people and their errors"),
        (np.array([2, 0, 0, 2]), np.array([0, 0, 0, 1]), np.array([0, 1, 0, 0]), np.array([0, 0, 0, 0]),
         "two frames with nobody in them (one with a false positive)"),
        (np.array([2, 2]), np.array([2, 1]), np.array([3, 2]), np.array([0, 0]), "more errors than people: MOTA "
         "below 0"),
        (np.array([0, 0]), np.array([0, 0]), np.array([1, 0]), np.array([0, 0]), "a clip with nobody in it at all"),
    ]


def _check_mota(answer: Callable[..., Any]) -> str:
    """The learner's MOTA must equal the CLEAR MOT formula summed over the clip, naming the usual mistakes."""
    cases = _mota_cases()
    for gt, fn, fp, idsw, words in cases:
        got = call(answer, gt.tolist(), fn.tolist(), fp.tolist(), idsw.tolist(), case=words)
        try:
            got = float(got)
        except (TypeError, ValueError):
            raise Wrong(f"return one number; on {words} you returned {describe(got)}") from None
        want = _reference_mota(gt, fn, fp, idsw)
        if math.isnan(want):
            if not math.isnan(got):
                raise Wrong(f"on {words} you returned {got:g}: with no ground-truth person in any frame MOTA is 0 / 0, "
                            "undefined — return float('nan'), not a score")
            continue
        if math.isclose(got, want, abs_tol=1e-9):
            continue
        head = f"on {words} you returned {got:.4f}, the answer is {want:.4f}"
        if want < 0 and math.isclose(got, max(want, 0.0), abs_tol=1e-9):
            raise Wrong(f"{head}: MOTA is not clipped at 0 — with more errors than people it goes below 0")
        if math.isclose(got, _reference_mota(gt, fn, fp, np.zeros_like(idsw)), abs_tol=1e-9):
            raise Wrong(f"{head}: identity switches count as errors too: 1 - (misses + false positives + switches) / GT")
        with np.errstate(invalid="ignore", divide="ignore"):
            per_frame = 1.0 - (fn + fp + idsw) / gt
        if math.isclose(got, float(np.mean(per_frame[gt > 0])), abs_tol=1e-9) or \
                math.isclose(got, float(np.mean(np.where(gt > 0, per_frame, 1.0))), abs_tol=1e-9):
            raise Wrong(f"{head}: you averaged a MOTA per frame; MOTA sums the errors and the people over the whole clip "
                        "first, then divides once — a crowded frame weighs more than an empty one")
        if math.isclose(got, 1.0 - float(fn.sum() + fp.sum() + idsw.sum()) / float(gt.sum() + fp.sum()), abs_tol=1e-9):
            raise Wrong(f"{head}: divide by the number of ground-truth people only (sum of gt), not by gt + false "
                        "positives")
        raise Wrong(head)
    return (f"right on {len(cases)} clips — uneven frames, frames with nobody in them, a MOTA below 0 and a clip with "
            "no one at all (NaN)")


def _check_greedy(answer: Callable[..., Any]) -> str:
    """The learner's assignment must take the globally most similar pair first, respect the threshold, reuse nothing."""
    cases = [
        (np.array([[0.9, 0.8], [0.85, 0.1]]), 0.3, "a matrix where row 0 would take column 0 and leave row 1 poor"),
        (np.array([[0.2, 0.7, 0.1], [0.6, 0.65, 0.0]]), 0.3, "two poses, three tracks, one shared favourite"),
        (np.array([[0.25, 0.1], [0.1, 0.9]]), 0.3, "one pair below the threshold (0.25 < 0.3)"),
        (np.array([[0.5], [0.8], [0.4]]), 0.3, "three poses and one track: two start new tracks"),
        (np.zeros((0, 2)), 0.3, "no current poses"),
    ]
    for sim, threshold, words in cases:
        got = call(answer, sim.copy(), threshold, case=words)
        try:
            pairs = [(int(r), int(c)) for r, c in got]
        except (TypeError, ValueError):
            raise Wrong(f"return a list of (row, column) pairs; on {words} you returned {describe(got)}") from None
        want = greedy_match(sim, threshold)
        if sorted(pairs) == sorted(want):
            continue
        rows, cols = [r for r, _ in pairs], [c for _, c in pairs]
        if len(set(cols)) < len(cols) or len(set(rows)) < len(rows):
            raise Wrong(f"on {words} you returned {pairs}: a track (column) or a pose (row) is used twice — once a pair "
                        "is taken, remove its row and its column")
        if any(sim[r, c] <= threshold for r, c in pairs):
            raise Wrong(f"on {words} you returned {pairs}, which includes a pair at or below the threshold "
                        f"{threshold}: such a pose starts a new track instead")
        row_first = []
        used: set[int] = set()
        for r in range(sim.shape[0]):
            order = [c for c in np.argsort(-sim[r], kind="stable") if c not in used and sim[r, c] > threshold]
            if order:
                row_first.append((r, int(order[0])))
                used.add(int(order[0]))
        if sorted(pairs) == sorted(row_first):
            raise Wrong(f"on {words} you returned {pairs}, the answer is {want}: you went row by row; the paper takes "
                        "the most similar pair of the whole matrix first, then the next best among what is left")
        raise Wrong(f"on {words} you returned {pairs}, the answer is {want}")
    return f"right on {len(cases)} matrices: best pair first, the threshold, no track used twice, empty input"


EXERCISES: tuple[Exercise, ...] = (
    Exercise(
        name="ex10_mota", notebook=NOTEBOOK, function="mota", level="warm-up",
        title="MOTA from per-frame counts", check=_check_mota,
        hints=(
            "Sum each list over the whole clip first: GT = sum(gt), and the same for misses, false positives and "
            "identity switches.",
            "MOTA = 1 - (misses + false positives + switches) / GT, once, for the clip. It can be below 0; with GT = 0 "
            "it is undefined: return float('nan').",
        ),
    ),
    Exercise(
        name="ex10_greedy", notebook=NOTEBOOK, function="greedy_assign", level="core",
        title="The paper's greedy assignment", check=_check_greedy,
        hints=(
            "Sort all (row, column) cells of the matrix by similarity, highest first (np.argsort(-sim, axis=None) "
            "and divmod by the number of columns).",
            "Walk that list: take a pair when its similarity is above the threshold and neither its row nor its "
            "column has been taken; stop at the first one at or below the threshold.",
        ),
    ),
)

__all__ = ["EXERCISES"]
