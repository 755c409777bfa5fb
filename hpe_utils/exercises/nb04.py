"""Exercises of notebook 04_metrics_results: OKS of one pair, COCO's interpolated AP, and per-joint PCK."""
from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from ..metrics import COCO_RECALL_THRESHOLDS, average_precision, pck
from ..tracking import OKS_SIGMAS, oks
from .core import Exercise, Wrong, call, describe

NOTEBOOK = "04_metrics_results"


# ------------------------------------------------------------------ 4.1 OKS of one pair

def _oks_cases() -> list[tuple[np.ndarray, np.ndarray, np.ndarray, float, str]]:
    """(truth, prediction, COCO flags v, area, words): identical, moved, partly unlabelled, a small person."""
    rng = np.random.default_rng(9)
    base = rng.uniform(50, 250, (17, 2))
    flags = np.full(17, 2.0)
    flags[[3, 8, 13]] = 1  # labelled but hidden (v = 1): they count like visible ones
    unlabelled = flags.copy()
    unlabelled[[0, 5, 9]] = 0
    far = base.copy()
    far[[0, 5, 9]] += 200  # the unlabelled joints are far off: they must not count
    return [
        (base, base.copy(), flags, 9000.0, "two identical poses"),
        (base, base + [6.0, -4.0], flags, 9000.0, "a pose moved by (6, -4) px, area 9000 px²"),
        (base, far + rng.normal(0, 3, (17, 2)), unlabelled, 9000.0, "three unlabelled joints (v = 0) far off, the "
         "rest within ~3 px"),
        (base, base + [6.0, -4.0], flags, 900.0, "the same move on a person 10x smaller in area"),
    ]


def _check_oks(answer: Callable[..., Any]) -> str:
    """The learner's OKS must equal COCO's formula (tracking.oks) on identical, moved, unlabelled and small poses."""
    sigmas = OKS_SIGMAS["coco17"]
    cases = _oks_cases()
    for a, b, flags, area, words in cases:
        got = call(answer, a.copy(), b.copy(), flags.copy(), area, sigmas.copy(), case=words)
        try:
            got = float(got)
        except (TypeError, ValueError):
            raise Wrong(f"return one number between 0 and 1; on {words} you returned {describe(got)}") from None
        labelled = (flags > 0).astype(float)
        want = oks(a, labelled, b, labelled, area, sigmas, joint_threshold=0.5)
        if math.isclose(got, want, abs_tol=1e-6):
            continue
        d2 = ((a - b) ** 2).sum(1)
        keep = flags > 0

        def variant(k: np.ndarray, over: np.ndarray = keep, total: bool = False) -> float:
            e = np.exp(-d2 / k)[over]
            return float(e.sum() if total else e.mean())

        full = 2 * area * (2 * sigmas) ** 2
        if math.isclose(got, variant(full, over=np.ones(17, bool)), abs_tol=1e-6) and not keep.all():
            raise Wrong(f"on {words} you returned {got:.4f}, the answer is {want:.4f}: you averaged over every joint — "
                        "unlabelled joints (v = 0) must not count: average only over the labelled ones")
        if math.isclose(got, variant(full, over=flags == 2), abs_tol=1e-6):
            raise Wrong(f"on {words} you returned {got:.4f}, the answer is {want:.4f}: you kept only v = 2; COCO's "
                        "v = 1 (labelled, hidden) counts too — keep every joint with v > 0")
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
    return (f"right on {len(cases)} pairs: identical, moved, three unlabelled joints (and v = 1 counted), and a person "
            "10x smaller")


# ------------------------------------------------------------------ 4.2 AP, COCO's way

def _ap_variant(scores: np.ndarray, oks_values: np.ndarray, num_gt: int, threshold: float, *, envelope: bool = True,
                points: int = 101, strict: bool = False, ascending: bool = False, ties_by_oks: bool = False,
                recall_over: str = "gt", unreached: str = "zero") -> float:
    """AP computed with one of the usual mistakes switched on (all off: COCO's own AP)."""
    if len(scores) == 0:
        return 0.0
    if ties_by_oks:
        order = np.lexsort((-oks_values, -scores))
    else:
        order = np.argsort(scores if ascending else -scores, kind="mergesort")
    hits = (oks_values > threshold) if strict else (oks_values >= threshold)
    tp = np.cumsum(hits[order]).astype(float)
    n = np.arange(1, len(order) + 1, dtype=float)
    recall = tp / {"gt": num_gt, "detections": len(order)}[recall_over]
    precision = tp / n
    if envelope:
        precision = np.maximum.accumulate(precision[::-1])[::-1]
    thresholds = COCO_RECALL_THRESHOLDS if points == 101 else np.linspace(0, 1, points)
    at = np.searchsorted(recall, thresholds, side="left")
    reached = at < len(precision)
    readings = precision[at[reached]]
    if unreached == "skip":
        return float(readings.mean()) if len(readings) else 0.0
    return float(np.concatenate([readings, np.zeros((~reached).sum())]).mean())


def _ap_cases() -> list[tuple[np.ndarray, np.ndarray, int, float, str]]:
    """(scores, OKS, num_gt, threshold, words): a ranked list, an OKS exactly at the threshold, edge cases, ties."""
    rng = np.random.default_rng(4)
    scores = rng.uniform(0.2, 0.95, 9).round(3)
    oks_values = np.array([0.91, 0.32, 0.77, 0.55, 0.05, 0.75, 0.62, 0.48, 0.83])
    return [
        (scores, oks_values, 12, 0.5, "9 detections of 12 people at OKS 0.5, scores in no particular order"),
        (scores, oks_values, 12, 0.75, "the same detections at OKS 0.75 (one has OKS exactly 0.75)"),
        (np.zeros(0), np.zeros(0), 3, 0.5, "no detections at all, 3 people"),
        (np.array([0.9, 0.6, 0.3]), np.array([0.2, 0.1, 0.4]), 2, 0.5, "three detections, none of them right"),
        (np.array([0.7, 0.7, 0.4]), np.array([0.1, 0.9, 0.2]), 2, 0.5, "a tie: two detections scored 0.7, the "
         "wrong one given first"),
        (np.array([0.8, 0.6, 0.5]), np.array([0.9, 0.8, 0.7]), 3, 0.5, "three right detections of 3 people"),
        (np.array([0.8, 0.6]), np.array([0.9, 0.8]), 4, 0.5, "two right detections of 4 people"),
    ]


def _check_ap(answer: Callable[..., Any]) -> str:
    """The learner's AP must equal metrics.average_precision on each case; common mistakes are named."""
    cases = _ap_cases()
    for scores, oks_values, num_gt, t, words in cases:
        got = call(answer, scores.copy(), oks_values.copy(), num_gt, t, case=words)
        try:
            got = float(got)
        except (TypeError, ValueError):
            raise Wrong(f"return one number, the AP; on {words} you returned {describe(got)}") from None
        want = average_precision(scores, oks_values >= t, num_gt)
        if math.isclose(got, want, abs_tol=1e-9):
            continue
        _diagnose_ap(got, want, scores, oks_values, num_gt, t, words)
    return (f"right on {len(cases)} cases — the 101-point envelope, an OKS exactly at the threshold, no detections, all "
            "wrong, a tie in score and recall that never reaches 1")


def _diagnose_ap(got: float, want: float, scores: np.ndarray, oks_values: np.ndarray, num_gt: int, t: float,
                 words: str) -> None:
    """Name the mistake: each variant is COCO's AP with that one mistake made."""
    def same(**mistake: Any) -> bool:
        return math.isclose(got, _ap_variant(scores, oks_values, num_gt, t, **mistake), abs_tol=1e-9)

    head = f"on {words} you returned {got:.4f}, the answer is {want:.4f}"
    if math.isclose(got, 100 * want, abs_tol=1e-6) and want:
        raise Wrong(f"{head}: you returned a percentage — return AP as a fraction between 0 and 1")
    if same(ascending=True):
        raise Wrong(f"{head}: rank the detections by score, highest first (np.argsort(-scores)), not lowest first")
    if same(strict=True):
        raise Wrong(f"{head}: a detection whose OKS equals the threshold is a match — use oks >= threshold, not >")
    if same(ties_by_oks=True):
        raise Wrong(f"{head}: you broke the tie in score by OKS, which the evaluation cannot see; pycocotools keeps "
                    "tied detections in their given order — a stable sort (np.argsort(-scores, kind='stable'))")
    if same(envelope=False):
        raise Wrong(f"{head}: before reading precision at the recall points, make it non-increasing from the right "
                    "(the envelope: each point takes the best precision at that recall or higher)")
    if same(points=11):
        raise Wrong(f"{head}: that is the 11-point AP of PASCAL VOC 2007; COCO reads the envelope at 101 recall points "
                    "0, 0.01, …, 1 (np.linspace(0, 1, 101))")
    if same(unreached="skip"):
        raise Wrong(f"{head}: a recall point never reached counts as precision 0 — divide by all 101 points, not only "
                    "by those your detections reach")
    if same(recall_over="detections"):
        raise Wrong(f"{head}: recall is the share of the ground truths found — true positives / num_gt, not / the "
                    "number of detections")
    hits = oks_values >= t
    order = np.argsort(-scores, kind="mergesort")
    voc = float((np.cumsum(hits[order]) / np.arange(1, len(order) + 1))[hits[order]].sum() / num_gt) if len(order) else 0.0
    if math.isclose(got, voc, abs_tol=1e-9):
        raise Wrong(f"{head}: that is the mean precision at each hit (the uninterpolated AP); COCO samples the envelope "
                    "of precision at 101 recall points instead")
    raise Wrong(head)


# ------------------------------------------------------------------ 4.3 per-joint PCK

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
        name="ex04_oks", notebook=NOTEBOOK, function="pose_similarity", level="warm-up",
        title="OKS between a prediction and the truth", check=_check_oks,
        hints=(
            "For each joint: d² = squared distance between the two poses' joint, k = 2σ for that joint.",
            "Each joint's similarity is exp(-d² / (2 · area · k²)); OKS is their mean over the labelled joints "
            "(COCO's v > 0) only.",
        ),
    ),
    Exercise(
        name="ex04_ap", notebook=NOTEBOOK, function="interpolated_ap", level="core",
        title="AP from ranked detections, COCO's way", check=_check_ap,
        hints=(
            "Rank by score, highest first, with a stable sort: order = np.argsort(-scores, kind='stable'). A "
            "detection is a true positive when its OKS >= threshold.",
            "Cumulative sums along that order: tp = np.cumsum(hit), recall = tp / num_gt, precision = tp / (1, 2, 3, "
            "…). Then make precision non-increasing from the right: np.maximum.accumulate(precision[::-1])[::-1].",
            "For each r in np.linspace(0, 1, 101), read the precision of the first detection whose recall >= r "
            "(np.searchsorted(recall, r, side='left')), 0 if none reaches r; AP is the mean of the 101 readings.",
        ),
    ),
    Exercise(
        name="ex04_pck", notebook=NOTEBOOK, function="pck_per_joint", level="core",
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
