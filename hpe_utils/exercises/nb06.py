"""Exercises of notebook 06_skeleton_drawing: which limbs a drawing shows, and per-joint PCK."""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from ..metrics import pck
from ..skeletons import COCO17, MPII16, Skeleton
from ..viz import shown_joints
from .core import Exercise, Wrong, call, describe

NOTEBOOK = "06_skeleton_drawing"


# ------------------------------------------------------------------ 5.1 the limbs a drawing shows

def _reference_limbs(keypoints: np.ndarray, scores: np.ndarray, limbs: Sequence[tuple[int, int]],
                     threshold: float) -> list[tuple[int, int]]:
    """The limbs draw_skeleton draws: both joints pass the library's own visibility rule."""
    ok = shown_joints(keypoints, scores, threshold)
    return [(int(a), int(b)) for a, b in limbs if ok[a] and ok[b]]


def _as_pairs(got: Any, n_limbs: int, n_joints: int, words: str) -> list[tuple[int, int]]:
    """The learner's answer as a list of (a, b) int pairs, or a Wrong that says what came back instead."""
    if not isinstance(got, (list, tuple, np.ndarray)):
        raise Wrong(f"return a list of (a, b) joint-index pairs; on {words} you returned {describe(got)}")
    if len(got) and all(isinstance(v, (bool, np.bool_)) for v in list(got)):
        n = len(got)
        what = "one flag per limb" if n == n_limbs else "one flag per joint" if n == n_joints else f"{n} flags"
        raise Wrong(f"on {words} you returned {what} (True/False): return the limbs themselves, the (a, b) pairs whose "
                    "two joints are drawn, e.g. [(a, b) for a, b in limbs if ...]")
    if len(got) and all(isinstance(v, (int, np.integer)) for v in list(got)):
        raise Wrong(f"on {words} you returned single numbers ({describe(got)}), joint indices perhaps: return the limbs, "
                    "(a, b) pairs taken from `limbs`, whose two joints are both drawn")
    pairs = []
    for item in list(got):
        try:
            a, b = (int(v) for v in item)
        except (TypeError, ValueError):
            raise Wrong(f"return a list of (a, b) joint-index pairs, one per limb drawn; on {words} one item of your "
                        f"answer is {describe(item)}") from None
        pairs.append((a, b))
    return pairs


def _limb_name(limb: tuple[int, int], sk: Skeleton) -> str:
    """A limb as the learner reads it: its indices and joint names."""
    a, b = limb
    return f"({a}, {b}) {sk.joints[a]}–{sk.joints[b]}"


def _limb_cases() -> list[tuple[Skeleton, np.ndarray, np.ndarray, float, str]]:
    """Skeletons with known hidden joints: all shown, low scores, a score exactly at the threshold, NaN, COCO flags."""
    rng = np.random.default_rng(5)
    kp = rng.uniform(20, 230, size=(16, 2))
    high = np.full(16, 0.9)
    low = high.copy()
    low[[0, 15]] = [0.1, 0.05]  # r_ankle and l_wrist: guesses
    at = high.copy()
    at[[4, 11]] = [0.3, 0.29]  # l_knee exactly at the threshold (shown), r_elbow just under it (hidden)
    nan_kp = kp.copy()
    nan_kp[9] = np.nan  # head_top's position is unknown, though its score is high
    coco_kp = rng.uniform(20, 400, size=(17, 2))
    coco_v = np.array([2, 2, 0, 2, 0, 2, 2, 1, 2, 0, 2, 2, 2, 1, 2, 0, 2], dtype=float)  # COCO flags as scores
    coco_kp[coco_v == 0] = 0.0  # unlabelled COCO keypoints sit at (0, 0)
    return [
        (MPII16, kp, high, 0.3, "an MPII skeleton with every score 0.9"),
        (MPII16, kp, low, 0.3, "an MPII skeleton whose right ankle (0.1) and left wrist (0.05) score low"),
        (MPII16, kp, at, 0.3, "an MPII skeleton whose left knee scores exactly the threshold (0.3)"),
        (MPII16, nan_kp, high, 0.3, "an MPII skeleton whose head top has NaN coordinates (score 0.9)"),
        (COCO17, coco_kp, coco_v, 0.5, "a COCO skeleton with visibility flags 0/1/2 as scores, threshold 0.5"),
        (MPII16, kp, np.full(16, 0.1), 0.3, "an MPII skeleton with every score 0.1"),
    ]


def _check_limbs(answer: Callable[..., Any]) -> str:
    """Compare the learner's limb list with what draw_skeleton's visibility rule draws, naming the limb that differs."""
    cases = _limb_cases()
    for sk, kp, scores, thr, words in cases:
        got = call(answer, kp.copy(), scores.copy(), list(sk.limbs), thr, case=words)
        got = _as_pairs(got, len(sk.limbs), sk.num_joints, words)
        want = _reference_limbs(kp, scores, sk.limbs, thr)
        if got == want:
            continue
        extra = [limb for limb in got if limb not in want]
        missing = [limb for limb in want if limb not in got]
        ok = shown_joints(kp, scores, thr)
        if not extra and not missing:
            raise Wrong(f"on {words} you returned the right limbs but in another order (or some twice): keep the order "
                        "of `limbs` — walk through it once and keep each limb whose two joints are drawn")
        if missing and got == _reference_limbs(kp, scores, sk.limbs, float(np.nextafter(thr, np.inf))):
            j = next(j for j in range(sk.num_joints) if scores[j] == thr)
            raise Wrong(f"on {words} you hid {sk.joints[j]}, whose score equals the threshold ({thr:g}), and so missed "
                        f"{_limb_name(missing[0], sk)}: a joint is drawn when score >= threshold (the notebook's "
                        "figure title says so) — use >=, not >")
        if extra and not np.isfinite(kp).all() and got == [(a, b) for a, b in sk.limbs
                                                           if scores[a] >= thr and scores[b] >= thr]:
            bad = next(j for j in range(sk.num_joints) if not np.isfinite(kp[j]).all())
            raise Wrong(f"on {words} you kept {_limb_name(extra[0], sk)} although {sk.joints[bad]}'s coordinates are "
                        "NaN (its position is unknown, whatever its score): a joint is drawn only when its x and y "
                        "are finite (np.isfinite) and its score >= threshold")
        if extra and got == [(a, b) for a, b in sk.limbs if ok[a] or ok[b]]:
            a, b = extra[0]
            hidden = b if ok[a] else a
            raise Wrong(f"on {words} you kept {_limb_name(extra[0], sk)} although {sk.joints[hidden]} is hidden (score "
                        f"{scores[hidden]:g}{', NaN position' if not np.isfinite(kp[hidden]).all() else ''}): a limb "
                        "is drawn only when BOTH its joints are — `and`, not `or`")
        if extra and not missing and all(scores[a] < thr or scores[b] < thr for a, b in extra):
            raise Wrong(f"on {words} you kept {_limb_name(extra[0], sk)} although one of its joints scores under the "
                        f"threshold {thr:g}: hide every limb that touches a hidden joint")
        parts = []
        if missing:
            parts.append("missing " + ", ".join(_limb_name(m, sk) for m in missing[:3]))
        if extra:
            parts.append("not to be drawn " + ", ".join(_limb_name(e, sk) for e in extra[:3]))
        raise Wrong(f"on {words} you returned {len(got)} limbs, {len(want)} expected: " + "; ".join(parts))
    return (f"right on {len(cases)} skeletons — low scores, a score exactly at the threshold, a NaN position, COCO's "
            "visibility flags and nothing to draw")


# ------------------------------------------------------------------ 5.2 per-joint PCK

def _pck_cases() -> list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float, str]]:
    """(pred, gt, visible, norm, alpha, words): exact thresholds, unlabelled joints, a joint never labelled, bad norms."""
    rng = np.random.default_rng(55)
    n, k = 6, 5
    gt = rng.uniform(50, 250, size=(n, k, 2))
    norm = np.array([50.0, 100.0, 25.0, 40.0, 80.0, 60.0])
    pred = gt + rng.normal(0, 1, size=gt.shape) * norm[:, None, None] * np.array([0.02, 0.05, 0.1, 0.15, 0.3])[None, :, None]
    visible = np.ones((n, k))
    base = (pred, gt, visible, norm, 0.2, "6 people, 5 joints, all labelled, torso sizes 25 to 100 px")
    # exactly at the threshold: 0.2 x norm pixels away (a 3-4-5 triangle), so only `<=` counts them
    exact = pred.copy()
    exact[:, 2] = gt[:, 2] + np.array([0.6, 0.8]) * 0.2 * norm[:, None]
    exact[:3, 3] = gt[:3, 3] + np.array([0.6, 0.8]) * 0.2 * norm[:3, None]
    at = (exact, gt, visible, norm, 0.2, "predictions exactly 0.2 x torso away from the truth for joints 2 and 3")
    # unlabelled joints with wild predictions, and joint 4 labelled in no image
    vis = visible.copy()
    vis[[0, 2, 5], 1] = 0
    vis[:, 4] = 0
    wild = pred.copy()
    wild[[0, 2], 1] = 0.0  # a model predicts something for unlabelled joints: far off for two of them,
    wild[5, 1] = gt[5, 1]  # right on the (unlabelled) truth for one,
    wild[:, 4] = gt[:, 4] + 1.0  # and close for the joint labelled nowhere
    unl = (wild, gt, vis, norm, 0.2, "5 joints: joint 1 unlabelled in 3 of 6 images, joint 4 in all 6")
    # a sample whose torso is unknown (NaN) and one of zero size: both skipped
    bad_norm = norm.copy()
    bad_norm[1], bad_norm[4] = np.nan, 0.0
    skip = (pred, gt, visible, bad_norm, 0.2, "two people whose torso size is unknown (NaN) or 0")
    loose = (pred, gt, visible, norm, 0.5, "the same people at alpha = 0.5")
    return [base, at, unl, skip, loose]


def _check_pck(answer: Callable[..., Any]) -> str:
    """Compare per-joint PCK with hpe_utils.metrics.pck, diagnosing threshold, denominator, scale and NaN mistakes."""
    cases = _pck_cases()
    for pred, gt, vis, norm, alpha, words in cases:
        n, k = vis.shape
        got = call(answer, pred.copy(), gt.copy(), vis.copy(), norm.copy(), alpha, case=words)
        if hasattr(got, "per_joint"):
            got = got.per_joint
        if hasattr(got, "detach"):
            got = got.detach().cpu().numpy()
        try:
            got = np.asarray(got, dtype=np.float64)
        except (TypeError, ValueError):
            raise Wrong(f"return an array of shape ({k},), one accuracy per joint; on {words} you returned "
                        f"{describe(got)}") from None
        if got.shape != (k,):
            if got.ndim == 0:
                raise Wrong(f"on {words} you returned one number ({float(got):.3f}): PCK here is per joint — for each "
                            f"joint, the share of its labelled samples that are correct: an array of shape ({k},)")
            if got.shape == (n,):
                raise Wrong(f"on {words} you returned shape {got.shape}, one value per sample: average over the samples "
                            f"(axis 0) to get one value per joint, shape ({k},)")
            raise Wrong(f"return one accuracy per joint, shape ({k},); on {words} you returned shape {got.shape}")
        want = pck(pred, gt, vis, norm, alpha).per_joint
        if np.allclose(got, want, atol=1e-9, equal_nan=True):
            continue
        _diagnose_pck(got, want, pred, gt, vis, norm, alpha, words)
    return (f"right on {len(cases)} cases — a prediction exactly at alpha x norm, unlabelled joints, a joint never "
            "labelled (NaN), unknown torso sizes and two alphas")


def _diagnose_pck(got: np.ndarray, want: np.ndarray, pred: np.ndarray, gt: np.ndarray, vis: np.ndarray,
                  norm: np.ndarray, alpha: float, words: str) -> None:
    """Name the mistake: each variant is the library's pck run on inputs changed the way that mistake changes them."""
    def same(variant: np.ndarray) -> bool:
        return bool(np.allclose(got, variant, atol=1e-9, equal_nan=True))

    never = np.isnan(want)
    if (vis == 0).any():
        everyone = pck(pred, gt, np.ones_like(vis), norm, alpha).per_joint  # every sample counted, labelled or not
        if same(everyone) or same(np.where(never, np.nan, everyone)):
            raise Wrong(f"on {words} you counted unlabelled joints (visible = 0) too: a joint's accuracy is over the "
                        "samples where it is labelled — count hits only among those and divide by their number")
        counts = (vis > 0).sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            mixed = np.where(counts > 0, everyone * vis.shape[0] / np.maximum(counts, 1), np.nan)
        if same(mixed) or same(np.nan_to_num(mixed)):
            raise Wrong(f"on {words} you counted hits of unlabelled joints: only labelled joints can be hits (you "
                        "divided by the labelled count, so mask the hits with visible > 0 as well)")
    if never.any() and not np.isnan(got[never]).all():
        j = int(np.flatnonzero(never & ~np.isnan(got))[0])
        raise Wrong(f"on {words}, joint {j} is labelled in no sample, so its accuracy is undefined: return NaN for it "
                    f"(you returned {got[j]:g}; 0 would claim it is always wrong, and would drag a later mean down)")
    if np.isnan(got[~never]).any():
        j = int(np.flatnonzero(~never & np.isnan(got))[0])
        if not (np.isfinite(norm) & (norm > 0)).all():
            raise Wrong(f"on {words} your joint {j} is NaN although it is labelled: a sample whose norm is NaN or <= 0 "
                        "(torso unknown) must be skipped — leave it out of both the hits and the count")
        raise Wrong(f"on {words} your joint {j} is NaN although it is labelled in {int((vis[:, j] > 0).sum())} samples")
    bad = ~(np.isfinite(norm) & (norm > 0))
    if bad.any():
        tiny = np.where(bad, 1e-9, norm)  # a sample kept with its hopeless norm: every joint of it a miss
        if same(pck(pred, gt, vis, tiny, alpha).per_joint):
            raise Wrong(f"on {words} you counted the people with an unknown (NaN) or zero torso size as misses: skip "
                        "those samples — they cannot be scored, so they count neither as hits nor in the denominator")
    if same(pck(pred, gt, vis, norm, float(np.nextafter(alpha, 0))).per_joint):
        raise Wrong(f"on {words}, a prediction exactly alpha x norm = {alpha:g} x norm away counts as correct in PCK: "
                    "use distance <= alpha * norm, not <")
    if same(pck(pred, gt, vis, np.ones_like(norm), alpha).per_joint):
        raise Wrong(f"on {words} you compared the distance in pixels with alpha = {alpha:g} itself: the threshold is "
                    f"alpha x norm pixels ({alpha:g} x the person's torso size) — scale by each sample's norm")
    if same(pck(pred, gt, vis, np.full_like(norm, np.nanmean(np.where(norm > 0, norm, np.nan))), alpha).per_joint):
        raise Wrong(f"on {words} you used one norm for everybody: each person has their own size, so compare each "
                    "sample's distance with alpha x norm[i] of that sample (norm[:, None] broadcasts over joints)")
    j = int(np.nanargmax(np.abs(np.nan_to_num(got - want, nan=1.0))))
    raise Wrong(f"on {words} your PCK of joint {j} is {got[j]:.3f}, it should be {want[j]:.3f} (all joints: yours "
                f"{np.round(got, 3).tolist()}, expected {np.round(want, 3).tolist()})")


EXERCISES: tuple[Exercise, ...] = (
    Exercise(
        name="ex06_limbs", notebook=NOTEBOOK, function="limbs_to_draw", level="warm-up",
        title="Which limbs does the drawing show?", check=_check_limbs,
        hints=(
            "First decide per joint: shown = np.isfinite(keypoints).all(axis=1) & (scores >= threshold), "
            "a boolean array of shape (K,).",
            "Then walk through `limbs` in order and keep (a, b) when shown[a] and shown[b] are both True.",
        ),
    ),
    Exercise(
        name="ex06_pck", notebook=NOTEBOOK, function="pck_per_joint", level="core",
        title="PCK per joint, from scratch", check=_check_pck,
        hints=(
            "Distances: np.linalg.norm(pred - gt, axis=2), shape (N, K). A hit is distance <= alpha * norm[:, None] "
            "(<=: exactly at the threshold counts).",
            "Which samples count: labelled = (visible > 0) & (np.isfinite(norm) & (norm > 0))[:, None]; hits only "
            "among them. Per joint: hits.sum(axis=0) / labelled.sum(axis=0).",
            "A joint labelled nowhere has 0 / 0: return NaN there (np.where(count > 0, …, np.nan)), not 0.",
        ),
    ),
)

__all__ = ["EXERCISES"]
