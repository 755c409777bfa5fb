"""Plausible wrong answers to notebook 10's exercises, each with the diagnosis its check must give."""
import numpy as np


def _oks(kps_a, kps_b, visible, area, sigmas, *, k_factor=2.0, two=2.0, use_area=True, all_joints=False, total=False):
    d2 = ((np.asarray(kps_a) - np.asarray(kps_b)) ** 2).sum(axis=1)
    k = k_factor * np.asarray(sigmas)
    e = np.exp(-d2 / (two * (area if use_area else np.sqrt(area)) * k**2))
    keep = np.ones(len(e), bool) if all_joints else np.asarray(visible) > 0
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
    ("ex10_oks", oks_over_all_joints, "hidden joints (visible = 0) must not count"),
    ("ex10_oks", oks_with_sigma_not_2sigma, "k = 2σ"),
    ("ex10_oks", oks_without_the_two, "the factor 2 is missing"),
    ("ex10_oks", oks_with_sqrt_area, "not its square root"),
    ("ex10_oks", oks_summed, "that is the sum over joints"),
    ("ex10_greedy", greedy_row_by_row, "you went row by row"),
    ("ex10_greedy", greedy_argmax_per_row, "is used twice"),
    ("ex10_greedy", greedy_ignoring_the_threshold, "at or below the threshold"),
]
