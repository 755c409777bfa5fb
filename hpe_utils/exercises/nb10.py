"""Exercises of notebook 10_video_tracking: OKS between two poses, and the paper's greedy assignment."""
from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from ..tracking import OKS_SIGMAS, greedy_match, oks
from .core import Exercise, Wrong, call, describe

NOTEBOOK = "10_video_tracking"


def _oks_cases() -> list[tuple[np.ndarray, np.ndarray, np.ndarray, float, str]]:
    """(pose a, pose b, visible, area, words): identical, shifted, partly hidden, a small and a large person."""
    rng = np.random.default_rng(9)
    base = rng.uniform(50, 250, (16, 2))
    hidden = np.ones(16)
    hidden[[0, 5, 9]] = 0
    far = base.copy()
    far[[0, 5, 9]] += 200  # the hidden joints are far off: they must not count
    return [
        (base, base.copy(), np.ones(16), 9000.0, "two identical poses"),
        (base, base + [6.0, -4.0], np.ones(16), 9000.0, "a pose moved by (6, -4) px, area 9000 px²"),
        (base, far + rng.normal(0, 3, (16, 2)), hidden, 9000.0, "three hidden joints far off, the rest within ~3 px"),
        (base, base + [6.0, -4.0], np.ones(16), 900.0, "the same move on a person 10x smaller in area"),
    ]


def _check_oks(answer: Callable[..., Any]) -> str:
    """The learner's OKS must equal COCO's formula (tracking.oks) on identical, moved, hidden and small poses."""
    sigmas = OKS_SIGMAS["mpii16"]
    cases = _oks_cases()
    for a, b, vis, area, words in cases:
        got = call(answer, a.copy(), b.copy(), vis.copy(), area, sigmas.copy(), case=words)
        try:
            got = float(got)
        except (TypeError, ValueError):
            raise Wrong(f"return one number between 0 and 1; on {words} you returned {describe(got)}") from None
        want = oks(a, vis, b, vis, area, sigmas, joint_threshold=0.5)
        if math.isclose(got, want, abs_tol=1e-6):
            continue
        d2 = ((a - b) ** 2).sum(1)
        keep = vis > 0

        def variant(k: np.ndarray, over_all: bool = False, total: bool = False) -> float:
            e = np.exp(-d2 / k)
            return float(e.sum() if total else (e.mean() if over_all else e[keep].mean()))

        full = 2 * area * (2 * sigmas) ** 2
        if math.isclose(got, variant(full, over_all=True), abs_tol=1e-6) and not keep.all():
            raise Wrong(f"on {words} you returned {got:.4f}, the answer is {want:.4f}: you averaged over every joint — "
                        "hidden joints (visible = 0) must not count: average only over the visible ones")
        if math.isclose(got, variant(2 * area * sigmas**2), abs_tol=1e-6):
            raise Wrong(f"on {words} you returned {got:.4f}, the answer is {want:.4f}: COCO's per-joint constant is "
                        "k = 2σ, so the denominator is 2 · area · (2σ)² — you used σ itself")
        if math.isclose(got, variant(area * (2 * sigmas) ** 2), abs_tol=1e-6):
            raise Wrong(f"on {words} you returned {got:.4f}, the answer is {want:.4f}: the exponent is "
                        "-d² / (2 · area · k²) — the factor 2 is missing")
        if math.isclose(got, variant(2 * math.sqrt(area) * (2 * sigmas) ** 2), abs_tol=1e-6):
            raise Wrong(f"on {words} you returned {got:.4f}, the answer is {want:.4f}: use the area itself (s² in COCO's "
                        "notation), not its square root: distances squared are compared with an area")
        if math.isclose(got, variant(full, total=True), abs_tol=1e-6) and keep.sum() > 1:
            raise Wrong(f"on {words} you returned {got:.4f}: that is the sum over joints; OKS is their mean "
                        f"(here {want:.4f}), so that it lies between 0 and 1")
        raise Wrong(f"on {words} you returned {got:.4f}, the answer is {want:.4f}")
    return f"right on {len(cases)} pairs: identical, moved, three hidden joints, and a person 10x smaller"


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
        name="ex10_oks", notebook=NOTEBOOK, function="pose_similarity", level="warm-up",
        title="OKS between two poses", check=_check_oks,
        hints=(
            "For each joint: d² = squared distance between the two poses' joint, k = 2σ for that joint.",
            "Each joint's similarity is exp(-d² / (2 · area · k²)); OKS is their mean over the visible joints only.",
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
