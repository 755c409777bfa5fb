"""Exercises of notebook 06_skeleton_drawing: which limbs a drawing shows, and the flip pairs a skeleton's names give."""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from ..skeletons import COCO17, LSP14, MPII16, Skeleton
from ..viz import shown_joints
from .core import Exercise, Wrong, call, describe

NOTEBOOK = "06_skeleton_drawing"


# ------------------------------------------------------------------ 6.1 the limbs a drawing shows

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


# ------------------------------------------------------------------ 6.2 flip pairs from the joint names

_SIDES = (("l_", "r_"), ("left_", "right_"))  # the two spellings of a side in the skeletons here: MPII/LSP, COCO


def _reference_flip_pairs(joints: Sequence[str]) -> list[tuple[int, int]]:
    """Every (left, right) pair of joints whose names differ only in the side prefix, as (smaller, larger) indices."""
    index = {name: i for i, name in enumerate(joints)}
    pairs = []
    for i, name in enumerate(joints):
        for left, right in _SIDES:
            if name.startswith(left) and right + name[len(left):] in index:
                pairs.append(tuple(sorted((i, index[right + name[len(left):]]))))
    return sorted(pairs)  # type: ignore[arg-type]


def _flip_cases() -> list[tuple[tuple[str, ...], str]]:
    """(joint names, words): the three skeletons of the library, and made-up ones that catch shortcuts."""
    return [
        (MPII16.joints, "MPII-16's joint names (r_ankle, …, l_wrist)"),
        (COCO17.joints, "COCO-17's joint names (nose, left_eye, right_eye, …)"),
        (LSP14.joints, "LSP-14's joint names"),
        (("r_hand", "neck", "l_foot", "r_foot", "l_hand"), "a made-up skeleton whose sides come in another order: "
         "r_hand, neck, l_foot, r_foot, l_hand"),
        (("left_wing", "right_wing", "l_claw", "beak", "left_eye"), "a made-up bird: left_wing, right_wing, l_claw "
         "(no r_claw), beak, left_eye (no right_eye)"),
        (("head", "tail"), "a skeleton with no sides at all: head, tail"),
    ]


def _check_flip_pairs(answer: Callable[..., Any]) -> str:
    """The learner's pairs, taken unordered, must be exactly the name-derived ones: the library's flip_pairs."""
    cases = _flip_cases()
    for joints, words in cases:
        got = call(answer, list(joints), case=words)
        if not isinstance(got, (list, tuple, np.ndarray)):
            raise Wrong(f"return a list of (a, b) joint-index pairs; on {words} you returned {describe(got)}")
        pairs = []
        for item in list(got):
            try:
                a, b = item
            except (TypeError, ValueError):
                raise Wrong(f"return (a, b) pairs of joint indices; on {words} one item of your answer is "
                            f"{describe(item)}") from None
            if isinstance(a, str) or isinstance(b, str):
                raise Wrong(f"on {words} you returned names ({a!r}, {b!r}): return their indices in the joint list, "
                            "e.g. joints.index(name), as Skeleton.flip_pairs holds them")
            pairs.append((int(a), int(b)))
        want = _reference_flip_pairs(joints)
        unordered = sorted(tuple(sorted(p)) for p in pairs)
        if unordered == want:
            continue
        if any(a == b for a, b in pairs):
            a = next(a for a, b in pairs if a == b)
            raise Wrong(f"on {words} you paired {joints[a]} with itself: a joint with no side (a centre joint) is in "
                        "no pair — it stays where it is when the image is mirrored")
        if len(set(unordered)) < len(unordered):
            raise Wrong(f"on {words} some pairs come twice (e.g. both (a, b) and (b, a)): list each left/right pair "
                        "once")
        names = {tuple(sorted((joints[a], joints[b]))) for a, b in unordered}
        wrong = [p for p in names if not any(p == tuple(sorted((joints[a], joints[b]))) for a, b in want)]
        missing = [tuple(joints[i] for i in p) for p in want if p not in unordered]
        if missing and all(joints[a].startswith("left_") or joints[a].startswith("right_") for a, _ in
                           (p for p in want if p not in unordered)):
            raise Wrong(f"on {words} you missed {missing[0][0]}–{missing[0][1]}: COCO spells the sides left_ and "
                        "right_, MPII and LSP l_ and r_ — handle both prefixes")
        if wrong:
            a, b = wrong[0]
            raise Wrong(f"on {words} you paired {a} with {b}, whose names do not match once the side is removed: "
                        "pair each left joint with the right joint of the same name (r_ + the rest of the name), "
                        "not by position in the list")
        raise Wrong(f"on {words} you returned {sorted(pairs)}; the pairs are {want} "
                    f"({', '.join(f'{joints[a]}–{joints[b]}' for a, b in want) or 'none'})")
    return (f"right on {len(cases)} skeletons — MPII-16, COCO-17 and LSP-14 (their flip_pairs exactly), sides in another "
            "order, a joint without its other side, and no sides at all")


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
        name="ex06_flip_pairs", notebook=NOTEBOOK, function="flip_pairs", level="core",
        title="Flip pairs from the joint names", check=_check_flip_pairs,
        hints=(
            "A joint's side is in its name: MPII and LSP write l_ and r_ (l_ankle), COCO left_ and right_ "
            "(left_ankle). Everything after the prefix names the body part.",
            "Make a dict name -> index; for every joint whose name starts with a left prefix, look up the right prefix "
            "+ the rest of the name, and keep (index, its partner's index) when the partner exists.",
        ),
    ),
)

__all__ = ["EXERCISES"]
