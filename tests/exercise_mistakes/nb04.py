"""Plausible wrong answers to notebook 04's exercises, each with the diagnosis its check must give."""
import numpy as np


def _oks(kps_a, kps_b, visible, area, sigmas, *, k_factor=2.0, two=2.0, use_area=True, all_joints=False, total=False,
         only_visible=False):
    d2 = ((np.asarray(kps_a) - np.asarray(kps_b)) ** 2).sum(axis=1)
    k = k_factor * np.asarray(sigmas)
    e = np.exp(-d2 / (two * (area if use_area else np.sqrt(area)) * k**2))
    keep = np.ones(len(e), bool) if all_joints else np.asarray(visible) > (1 if only_visible else 0)
    return float(e[keep].sum() if total else e[keep].mean())


def oks_over_all_joints(kps_a, kps_b, visible, area, sigmas):
    return _oks(kps_a, kps_b, visible, area, sigmas, all_joints=True)


def oks_with_sigma_not_2sigma(kps_a, kps_b, visible, area, sigmas):
    return _oks(kps_a, kps_b, visible, area, sigmas, k_factor=1.0)


def oks_without_the_two(kps_a, kps_b, visible, area, sigmas):
    return _oks(kps_a, kps_b, visible, area, sigmas, two=1.0)


def oks_with_sqrt_area(kps_a, kps_b, visible, area, sigmas):
    return _oks(kps_a, kps_b, visible, area, sigmas, use_area=False)


def oks_summed(kps_a, kps_b, visible, area, sigmas):
    return _oks(kps_a, kps_b, visible, area, sigmas, total=True)


def oks_with_only_v2(kps_a, kps_b, visible, area, sigmas):
    return _oks(kps_a, kps_b, visible, area, sigmas, only_visible=True)


def _ap(scores, oks, num_gt, threshold, *, envelope=True, points=101, strict=False, ascending=False, skip=False,
        recall_over_detections=False, percent=False):
    scores, oks = np.asarray(scores, float), np.asarray(oks, float)
    if len(scores) == 0:
        return 0.0
    order = np.argsort(scores if ascending else -scores, kind="stable")
    hit = (oks[order] > threshold) if strict else (oks[order] >= threshold)
    tp = np.cumsum(hit)
    recall = tp / (len(hit) if recall_over_detections else num_gt)
    precision = tp / np.arange(1, len(hit) + 1)
    if envelope:
        precision = np.maximum.accumulate(precision[::-1])[::-1]
    readings = []
    for r in np.linspace(0, 1, points):
        i = np.searchsorted(recall, r, side="left")
        if i < len(precision):
            readings.append(precision[i])
        elif not skip:
            readings.append(0.0)
    ap = float(np.mean(readings)) if readings else 0.0
    return 100 * ap if percent else ap


def ap_without_the_envelope(scores, oks, num_gt, threshold=0.5):
    return _ap(scores, oks, num_gt, threshold, envelope=False)


def ap_eleven_points(scores, oks, num_gt, threshold=0.5):
    return _ap(scores, oks, num_gt, threshold, points=11)


def ap_strictly_above(scores, oks, num_gt, threshold=0.5):
    return _ap(scores, oks, num_gt, threshold, strict=True)


def ap_lowest_score_first(scores, oks, num_gt, threshold=0.5):
    return _ap(scores, oks, num_gt, threshold, ascending=True)


def ap_over_reached_points(scores, oks, num_gt, threshold=0.5):
    return _ap(scores, oks, num_gt, threshold, skip=True)


def ap_recall_over_detections(scores, oks, num_gt, threshold=0.5):
    return _ap(scores, oks, num_gt, threshold, recall_over_detections=True)


def ap_in_percent(scores, oks, num_gt, threshold=0.5):
    return _ap(scores, oks, num_gt, threshold, percent=True)


def ap_ties_by_oks(scores, oks, num_gt, threshold=0.5):
    ranked = sorted(zip(scores, oks), reverse=True)  # tuples: a tie in score is broken by OKS
    return _ap([s for s, _ in ranked], [o for _, o in ranked], num_gt, threshold)


def ap_mean_precision_at_hits(scores, oks, num_gt, threshold=0.5):
    scores, oks = np.asarray(scores, float), np.asarray(oks, float)
    hit = oks[np.argsort(-scores, kind="stable")] >= threshold
    precision = np.cumsum(hit) / np.arange(1, len(hit) + 1)
    return float(precision[hit].sum() / num_gt)


def ap_crashing_without_detections(scores, oks, num_gt, threshold=0.5):
    order = np.argsort(-np.asarray(scores, float), kind="stable")
    tp = np.cumsum(np.asarray(oks, float)[order] >= threshold)
    recall, precision = tp / num_gt, tp / np.arange(1, len(tp) + 1)
    precision = np.maximum.accumulate(precision[::-1])[::-1]
    return float(np.mean([precision[np.searchsorted(recall, r)] if recall[-1] >= r else 0.0  # recall[-1]: no detection?
                          for r in np.linspace(0, 1, 101)]))


def _pck(pred, gt, visible, norm, alpha, *, strict=False, use_visible=True, scale=True, nan=True, skip_bad=True):
    pred, gt, norm = np.asarray(pred, float), np.asarray(gt, float), np.asarray(norm, float)
    vis = np.asarray(visible) > 0 if use_visible else np.ones(pred.shape[:2], bool)
    if skip_bad:
        vis = vis & (np.isfinite(norm) & (norm > 0))[:, None]
    dist = np.linalg.norm(pred - gt, axis=2)
    limit = alpha * norm[:, None] if scale else alpha
    with np.errstate(invalid="ignore"):
        hit = ((dist < limit) if strict else (dist <= limit)) & vis
    count = vis.sum(axis=0)
    if nan:
        return np.where(count > 0, hit.sum(axis=0) / np.maximum(count, 1), np.nan)
    return hit.sum(axis=0) / np.maximum(count, 1)


def pck_strict(pred, gt, visible, norm, alpha=0.2):
    return _pck(pred, gt, visible, norm, alpha, strict=True)


def pck_counting_unlabelled(pred, gt, visible, norm, alpha=0.2):
    return _pck(pred, gt, visible, norm, alpha, use_visible=False)


def pck_in_pixels(pred, gt, visible, norm, alpha=0.2):
    return _pck(pred, gt, visible, norm, alpha, scale=False)


def pck_zero_for_never_labelled(pred, gt, visible, norm, alpha=0.2):
    return _pck(pred, gt, visible, norm, alpha, nan=False)


def pck_keeping_unknown_torsos(pred, gt, visible, norm, alpha=0.2):
    return _pck(pred, gt, visible, norm, alpha, skip_bad=False)


def pck_one_number(pred, gt, visible, norm, alpha=0.2):
    dist = np.linalg.norm(np.asarray(pred) - np.asarray(gt), axis=2) / np.asarray(norm)[:, None]
    vis = np.asarray(visible) > 0
    return float(((dist <= alpha) & vis).sum() / vis.sum())



def pck_hits_among_unlabelled(pred, gt, visible, norm, alpha=0.2):
    dist = np.linalg.norm(np.asarray(pred) - np.asarray(gt), axis=2)
    hit = dist <= alpha * np.asarray(norm)[:, None]  # every sample's hits, labelled or not
    labelled = np.asarray(visible) > 0
    count = labelled.sum(axis=0)
    return np.where(count > 0, hit.sum(axis=0) / np.maximum(count, 1), np.nan)


def pck_one_norm_for_all(pred, gt, visible, norm, alpha=0.2):
    good = np.isfinite(norm) & (np.asarray(norm) > 0)
    return _pck(pred, gt, visible, np.where(good, np.mean(np.asarray(norm)[good]), norm), alpha)


MISTAKES = [
    ("ex04_oks", oks_over_all_joints, "unlabelled joints (v = 0) must not count"),
    ("ex04_oks", oks_with_only_v2, "v = 1 (labelled, hidden) counts too"),
    ("ex04_oks", oks_with_sigma_not_2sigma, "k = 2σ"),
    ("ex04_oks", oks_without_the_two, "the factor 2 is missing"),
    ("ex04_oks", oks_with_sqrt_area, "not its square root"),
    ("ex04_oks", oks_summed, "that is the sum over joints"),
    ("ex04_ap", ap_without_the_envelope, "make it non-increasing from the right"),
    ("ex04_ap", ap_eleven_points, "11-point AP of PASCAL VOC 2007"),
    ("ex04_ap", ap_strictly_above, "use oks >= threshold, not >"),
    ("ex04_ap", ap_lowest_score_first, "highest first"),
    ("ex04_ap", ap_over_reached_points, "a recall point never reached counts as precision 0"),
    ("ex04_ap", ap_recall_over_detections, "true positives / num_gt"),
    ("ex04_ap", ap_in_percent, "you returned a percentage"),
    ("ex04_ap", ap_ties_by_oks, "a stable sort"),
    ("ex04_ap", ap_mean_precision_at_hits, "the mean precision at each hit"),
    ("ex04_ap", ap_crashing_without_detections, "on no detections at all, 3 people your function raised IndexError"),
    ("ex04_pck", pck_strict, "use distance <= alpha * norm, not <"),
    ("ex04_pck", pck_counting_unlabelled, "you counted unlabelled joints (visible = 0) too"),
    ("ex04_pck", pck_in_pixels, "scale by each sample's norm"),
    ("ex04_pck", pck_zero_for_never_labelled, "return NaN for it"),
    ("ex04_pck", pck_keeping_unknown_torsos, "skip those samples"),
    ("ex04_pck", pck_one_number, "PCK here is per joint"),
    ("ex04_pck", pck_hits_among_unlabelled, "you counted hits of unlabelled joints"),
    ("ex04_pck", pck_one_norm_for_all, "you used one norm for everybody"),
]
