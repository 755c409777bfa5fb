"""Plausible wrong answers to notebook 10's exercises, each with the diagnosis its check must give."""
import numpy as np


def mota_per_frame_mean(gt, misses, false_positives, id_switches):
    gt, e = np.asarray(gt, float), np.asarray(misses) + np.asarray(false_positives) + np.asarray(id_switches)
    keep = gt > 0
    return float(np.mean(1 - e[keep] / gt[keep])) if keep.any() else float("nan")


def mota_without_switches(gt, misses, false_positives, id_switches):
    total = float(np.sum(gt))
    return 1 - float(np.sum(misses) + np.sum(false_positives)) / total if total else float("nan")


def mota_clipped_at_zero(gt, misses, false_positives, id_switches):
    total = float(np.sum(gt))
    if not total:
        return float("nan")
    return max(0.0, 1 - float(np.sum(misses) + np.sum(false_positives) + np.sum(id_switches)) / total)


def mota_over_gt_and_false_positives(gt, misses, false_positives, id_switches):
    total = float(np.sum(gt) + np.sum(false_positives))
    return 1 - float(np.sum(misses) + np.sum(false_positives) + np.sum(id_switches)) / total


def mota_zero_without_people(gt, misses, false_positives, id_switches):
    total = float(np.sum(gt))
    if not total:
        return 0.0
    return 1 - float(np.sum(misses) + np.sum(false_positives) + np.sum(id_switches)) / total


def greedy_row_by_row(similarity, threshold):
    sim = np.asarray(similarity)
    pairs, used = [], set()
    for r in range(sim.shape[0]):
        for c in np.argsort(-sim[r], kind="stable"):
            if c not in used and sim[r, c] > threshold:
                pairs.append((r, int(c)))
                used.add(int(c))
                break
    return pairs


def greedy_argmax_per_row(similarity, threshold):
    sim = np.asarray(similarity)
    return [(r, int(sim[r].argmax())) for r in range(sim.shape[0]) if sim.shape[1] and sim[r].max() > threshold]


def greedy_ignoring_the_threshold(similarity, threshold):
    sim = np.asarray(similarity, dtype=float)
    pairs, rows, cols = [], set(), set()
    for flat in np.argsort(-sim, axis=None, kind="stable"):
        r, c = divmod(int(flat), sim.shape[1])
        if r not in rows and c not in cols:
            pairs.append((r, c))
            rows.add(r)
            cols.add(c)
    return pairs


MISTAKES = [
    ("ex10_mota", mota_per_frame_mean, "you averaged a MOTA per frame"),
    ("ex10_mota", mota_without_switches, "identity switches count as errors too"),
    ("ex10_mota", mota_clipped_at_zero, "MOTA is not clipped at 0"),
    ("ex10_mota", mota_over_gt_and_false_positives, "not by gt + false positives"),
    ("ex10_mota", mota_zero_without_people, "return float('nan')"),
    ("ex10_greedy", greedy_row_by_row, "you went row by row"),
    ("ex10_greedy", greedy_argmax_per_row, "is used twice"),
    ("ex10_greedy", greedy_ignoring_the_threshold, "at or below the threshold"),
]
