"""Exercises of notebook 09_training: the step schedule, flip augmentation with the left/right swap, the loss."""
from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import numpy as np
import torch

from ..datasets import lsp_samples
from ..files import repo_root
from ..images import read_image
from ..losses import JointsMSELoss
from ..skeletons import COCO17, LSP14, MPII16, Skeleton
from ..transforms import flip_keypoints
from .core import Exercise, Wrong, call, describe

NOTEBOOK = "09_training"


# ------------------------------------------------------------------ the learning-rate schedule

def _reference_rates(base_lr: float, milestones: Sequence[int], gamma: float, epochs: int) -> list[float]:
    """The rate each epoch trains at, from torch's MultiStepLR stepped once per epoch as hpe_utils.train does."""
    param = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([param], lr=base_lr)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=list(milestones), gamma=gamma)
    rates = []
    for _ in range(epochs):
        rates.append(opt.param_groups[0]["lr"])  # what this epoch trains at (train() logs it before stepping)
        opt.step()
        sched.step()
    return rates


def _check_schedule(answer: Callable[..., Any]) -> str:
    """Every epoch of four schedules against MultiStepLR; off-by-one, non-cumulative and gamma*n named."""
    cases = [  # (base lr, milestones, gamma, epochs, words)
        (1e-3, (90, 120), 0.1, 140, "the paper's schedule (1e-3, x0.1 at epochs 90 and 120, 140 epochs)"),
        (2e-3, (20,), 0.1, 25, "this notebook's run (2e-3, x0.1 at epoch 20, 25 epochs)"),
        (0.01, (3, 5, 8), 0.5, 10, "a schedule halving at epochs 3, 5 and 8"),
        (1e-3, (), 0.1, 5, "no milestones (a constant rate)"),
    ]
    for base, milestones, gamma, epochs, words in cases:
        want = _reference_rates(base, milestones, gamma, epochs)
        got = []
        for epoch in range(epochs):
            value = call(answer, epoch, base, milestones, gamma, case=f"epoch {epoch} of {words}")
            try:
                got.append(float(value))
            except (TypeError, ValueError):
                raise Wrong(f"return the rate as a number; at epoch {epoch} of {words} you returned "
                            f"{describe(value)}") from None
        if np.allclose(got, want, rtol=1e-6, atol=0):
            continue
        _diagnose_schedule(np.array(got), np.array(want), base, milestones, gamma, words)
    return ("right on every epoch of 4 schedules — at and around each milestone, several drops in a row, and none "
            "at all")


def _diagnose_schedule(got: np.ndarray, want: np.ndarray, base: float, milestones: Sequence[int], gamma: float,
                       words: str) -> None:
    """Match the learner's whole schedule against the classic wrong ones, then name the first wrong epoch."""
    e = np.arange(len(want))
    passed = {"late": sum((e > m).astype(int) for m in milestones) + 0 * e,  # strict: the drop one epoch late
              "early": sum((e + 1 >= m).astype(int) for m in milestones) + 0 * e}  # epochs counted from 1
    n = sum((e >= m).astype(int) for m in milestones) + 0 * e
    first = int(np.argmax(~np.isclose(got, want, rtol=1e-6, atol=0)))
    at = f"at epoch {first} you return {got[first]:.3g}, it should be {want[first]:.3g}"

    def same(rates: np.ndarray) -> bool:
        return bool(np.allclose(got, rates, rtol=1e-6, atol=0))

    if same(base * gamma ** passed["late"]):
        m = next(m for m in milestones if m < len(want))
        raise Wrong(f"on {words} the drop comes one epoch late: epoch {m} is a milestone, so epoch {m} already trains "
                    f"at {want[m]:.3g} (you return {got[m]:.3g}) — count the milestones with epoch >= m, not epoch > m")
    if same(base * gamma ** passed["early"]):
        m = next(m for m in milestones if m < len(want))
        raise Wrong(f"on {words} the drop comes one epoch early: at epoch {m - 1} you already return "
                    f"{got[m - 1]:.3g} — epochs count from 0 here (as in train's loop), so epoch {m - 1} still trains "
                    f"at {want[m - 1]:.3g}; compare epoch >= m, without adding 1")
    if same(np.where(n > 0, base * gamma, base)):
        last = max(milestones)
        raise Wrong(f"on {words} after epoch {last} you return {got[last]:.3g}, it should be {want[last]:.3g}: the "
                    f"rate is multiplied by gamma at every milestone passed, so after {len(milestones)} of them it is "
                    f"base_lr * gamma ** {len(milestones)}")
    if same(np.where(n > 0, base * gamma * n, base)):
        raise Wrong(f"on {words} {at}: after n milestones the rate is base_lr * gamma ** n (gamma to the power n), "
                    "not base_lr * gamma * n")
    if not milestones and same(base * gamma + 0 * want):
        raise Wrong(f"on {words} {at}: with no milestones the rate never drops — it stays base_lr")
    if math.isclose(got[0], base * gamma, rel_tol=1e-6) and milestones and min(milestones) > 0:
        raise Wrong(f"on {words} {at}: before the first milestone the rate is base_lr itself")
    raise Wrong(f"on {words} {at}")


# ------------------------------------------------------------------ flip augmentation

def _lsp_case() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A real photo of data/lsp_sample with its labelled joints (lsp14), some of them unlabelled."""
    samples = lsp_samples(repo_root() / "data" / "lsp_sample", range(0, 48), "lsp14")
    sample = next(s for s in samples if 0 < s.visible.sum() < len(s.visible))  # one with an unlabelled joint
    return read_image(sample.image), sample.keypoints.astype(np.float32), sample.visible.astype(np.float32)


def _synthetic_case(rng: np.random.Generator, sk: Skeleton, height: int, width: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A small random image; joints on both borders, not round numbers; left joints hidden more often than right."""
    image = rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8)
    kp = np.stack([rng.uniform(0, width - 1, sk.num_joints), rng.uniform(0, height - 1, sk.num_joints)], axis=1)
    kp[0, 0], kp[1, 0] = 0.0, width - 1.0  # a joint on each border column
    visible = (rng.random(sk.num_joints) < 0.6).astype(np.float32)
    for i, (a, b) in enumerate(sk.flip_pairs):  # every other pair differs in visibility, so a missed swap shows
        visible[a], visible[b] = 1.0, float(i % 2)
    return image, kp.astype(np.float32), visible


def _check_flip(answer: Callable[..., Any]) -> str:
    """Mirror three samples (a real LSP photo, mpii16 and coco17 with odd widths) and compare with the library's flip."""
    rng = np.random.default_rng(8)
    photo = _lsp_case()
    cases = [(photo, LSP14, f"the LSP photo ({photo[0].shape[1]} pixels wide, lsp14)"),
             (_synthetic_case(rng, MPII16, 6, 8), MPII16, "an 8-pixel-wide image with mpii16 joints"),
             (_synthetic_case(rng, COCO17, 5, 7), COCO17, "a 7-pixel-wide image with coco17 joints (the nose has no pair)")]
    for (image, kp, visible), sk, words in cases:
        inputs = (image.copy(), kp.copy(), visible.copy())
        got = call(answer, inputs[0], inputs[1], inputs[2], sk.flip_pairs, case=words)
        for name, before, after in zip(("image", "keypoints", "visible"), (image, kp, visible), inputs):
            if not np.array_equal(before, after):
                raise Wrong(f"on {words} your function changed the {name} passed in: work on a copy "
                            f"({name}.copy()) — the dataset keeps its annotations, and the next epoch would "
                            "start from a mirrored one")
        if not (isinstance(got, tuple) and len(got) == 3):
            raise Wrong(f"return a tuple (image, keypoints, visible); on {words} you returned {describe(got)}")
        width = image.shape[1]
        want_kp, want_vis = flip_keypoints(kp, visible, width, sk.flip_permutation())
        _diagnose_image(np.asarray(got[0]), image, words)
        _diagnose_keypoints(got[1], kp, want_kp, width, image.shape[0], sk, words)
        _diagnose_visible(got[2], visible, want_vis, sk, words)
    return ("right on 3 samples — the image mirrored, x -> W - 1 - x (border joints included), left and right "
            "joints swapped with their visibility, inputs left untouched")


def _xy(point: np.ndarray) -> str:
    """A point as "(x, y)" to 0.01 pixel."""
    return f"({point[0]:.2f}, {point[1]:.2f})"


def _diagnose_image(got: np.ndarray, image: np.ndarray, words: str) -> None:
    """The mirrored image must be the columns reversed, nothing else."""
    want = image[:, ::-1]
    if got.shape != want.shape:
        raise Wrong(f"on {words} your image has shape {got.shape}, it should keep the input's {want.shape} "
                    "(height, width, 3)")
    if np.array_equal(got, want):
        return
    if np.array_equal(got, image):
        raise Wrong(f"on {words} your image is not mirrored: reverse its columns, image[:, ::-1] (or cv2.flip(image, "
                    "1)) — the keypoints are mirrored to match a mirrored picture")
    if np.array_equal(got, image[::-1]):
        raise Wrong(f"on {words} you flipped the image upside down: a mirror reverses the columns, axis 1 of a "
                    "(height, width, 3) image — image[:, ::-1], not image[::-1]")
    if np.array_equal(got, image[::-1, ::-1]):
        raise Wrong(f"on {words} you turned the image by 180 degrees: reverse the columns only, image[:, ::-1]")
    if np.array_equal(got, image[..., ::-1]) or np.array_equal(got, want[..., ::-1]):
        raise Wrong(f"on {words} you reversed the colour channels (axis 2, RGB -> BGR): a mirror reverses the "
                    "columns, axis 1")
    raise Wrong(f"on {words} {int((got != want).any(axis=-1).sum())} pixels of your image differ from the mirrored "
                "one, image[:, ::-1]")


def _diagnose_keypoints(got: Any, kp: np.ndarray, want: np.ndarray, width: int, height: int, sk: Skeleton,
                        words: str) -> None:
    """Explain the keypoints as (an x mapping) x (swapped or not), naming what differs from W - 1 - x with the swap."""
    try:
        arr = np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError):
        raise Wrong(f"return the keypoints as an array (K, 2); on {words} you returned {describe(got)}") from None
    if arr.shape != want.shape:
        raise Wrong(f"on {words} your keypoints have shape {arr.shape}, they should keep the input's {want.shape}")
    if np.allclose(arr, want, atol=1e-4):
        return
    perm = sk.flip_permutation()
    for a, b in sk.flip_pairs:
        if np.allclose(arr[a], arr[b], atol=1e-4) and not np.allclose(want[a], want[b], atol=1e-4):
            raise Wrong(f"on {words} {sk.joints[a]} and {sk.joints[b]} ended up at the same place, "
                        f"{_xy(arr[a])}: swapping numpy rows with kp[a], kp[b] = kp[b], kp[a] copies one "
                        "over the other (the right-hand side are views of the same array) — use kp[[a, b]] = "
                        "kp[[b, a]], or index all joints at once with a permutation: kp[perm]")
    mappings = {"right": width - 1 - kp[:, 0], "one pixel off": width - kp[:, 0], "not mirrored": kp[:, 0]}
    for mapping, x in mappings.items():
        for swapped, order in (("swapped", perm), ("not swapped", np.arange(len(perm)))):
            for y_name, y in (("y kept", kp[:, 1]), ("y mirrored", height - 1 - kp[:, 1])):
                if np.allclose(arr, np.stack([x, y], axis=1)[order], atol=1e-4):
                    _name_keypoint_mistake(mapping, swapped, y_name, kp, want, width, sk, words)
    err = np.abs(arr - want).max(axis=1)
    i = int(err.argmax())
    raise Wrong(f"on {words} your {sk.joints[i]} (joint {i}) is at {_xy(arr[i])}, it should be at {_xy(want[i])}")


def _name_keypoint_mistake(mapping: str, swapped: str, y_name: str, kp: np.ndarray, want: np.ndarray, width: int,
                           sk: Skeleton, words: str) -> None:
    """Say, in order of importance, which of the three parts of the flip went wrong."""
    if mapping == "not mirrored" and swapped == "not swapped" and y_name == "y kept":
        raise Wrong(f"on {words} your keypoints are the input's: you mirrored the image but not the keypoints — "
                    "x -> W - 1 - x, then swap left and right joints")
    if y_name == "y mirrored":
        raise Wrong(f"on {words} you changed y too: a horizontal mirror moves points left-right only, y stays")
    if mapping == "one pixel off":
        edge = int(np.argmin(kp[:, 0]))
        raise Wrong(f"on {words} your x is one pixel off: a joint on column {kp[edge, 0]:g} must land on column "
                    f"{width - 1 - kp[edge, 0]:g} — pixel centres run 0 … W - 1, so x -> W - 1 - x, not W - x")
    if mapping == "not mirrored":
        raise Wrong(f"on {words} you swapped the joints but did not mirror x: x -> W - 1 - x")
    a, b = next((a, b) for a, b in sk.flip_pairs if not np.allclose(want[a], want[b]))
    raise Wrong(f"on {words} left and right were not swapped: in the mirror image the person's {sk.joints[b]} is on "
                f"the side where the {sk.joints[a]} was, so it must be labelled {sk.joints[a]} — your {sk.joints[a]} "
                f"is where the {sk.joints[b]} should be. Swap every flip pair: kp[perm] with perm from flip_pairs")


def _diagnose_visible(got: Any, visible: np.ndarray, want: np.ndarray, sk: Skeleton, words: str) -> None:
    """The visibility flags must travel with their joints."""
    try:
        arr = np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError):
        raise Wrong(f"return the visibility as an array (K,); on {words} you returned {describe(got)}") from None
    if arr.shape != want.shape:
        raise Wrong(f"on {words} your visibility has shape {arr.shape}, it should keep the input's {want.shape}")
    if np.array_equal(arr, want):
        return
    if np.array_equal(arr, visible):
        a, b = next((a, b) for a, b in sk.flip_pairs if visible[a] != visible[b])
        raise Wrong(f"on {words} the visibility flags did not follow their joints: {sk.joints[a]} and {sk.joints[b]} "
                    f"swapped places, so their flags ({visible[a]:g} and {visible[b]:g}) swap too — index visible with "
                    "the same permutation as the keypoints")
    i = int(np.argmax(arr != want))
    raise Wrong(f"on {words} the visibility of {sk.joints[i]} (joint {i}) is {arr[i]:g}, it should be {want[i]:g}")


# ------------------------------------------------------------------ the loss

def _loss_cases() -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor, str]]:
    """(output, target, target_weight) batches: all labelled, a third unlabelled, none labelled."""
    g = torch.Generator().manual_seed(3)
    out = []
    for n, k, h, w, kind in [(2, 3, 4, 5, "all"), (3, 5, 6, 5, "some"), (2, 2, 3, 3, "none")]:
        output = torch.rand(n, k, h, w, generator=g)
        target = torch.rand(n, k, h, w, generator=g)
        weight = torch.zeros(n, k) if kind == "none" else torch.ones(n, k)
        if kind == "some":  # 5 of 15 unlabelled: a third, so "mean over labelled joints only" is 1.5x, not 2x
            weight.view(-1)[[0, 4, 7, 8, 13]] = 0.0
        words = {"all": f"a batch of {n} x {k} joints (all labelled)",
                 "some": f"a batch of {n} x {k} joints ({int((weight == 0).sum())} of them unlabelled, weight 0)",
                 "none": "a batch with no labelled joint"}[kind]
        out.append((output, target, weight, words))
    return out


def _check_loss(answer: Callable[..., Any]) -> str:
    """Value and gradient against JointsMSELoss on three batches; the classic mistakes named by their values."""
    reference = JointsMSELoss(use_target_weight=True)
    cases = _loss_cases()
    for output, target, weight, words in cases:
        want_out = output.clone().requires_grad_(True)
        want = reference(want_out, target, weight)
        want.backward()
        mine = output.clone().requires_grad_(True)
        got = call(answer, mine, target.clone(), weight.clone(), case=words)
        if not isinstance(got, torch.Tensor):
            raise Wrong(f"on {words} you returned {describe(got)}: return a torch tensor — training calls "
                        "loss.backward() on it, so no .item(), float() or numpy")
        if got.numel() != 1:
            raise Wrong(f"on {words} your loss has shape {tuple(got.shape)}: return one number, the mean over the "
                        "batch, the joints and the pixels")
        value, expected = float(got.detach()), float(want.detach())
        if not math.isclose(value, expected, rel_tol=1e-5, abs_tol=1e-8):
            _diagnose_loss(value, expected, output, target, weight, words)
        if not got.requires_grad:
            raise Wrong(f"on {words} your loss has the right value but no gradient: keep every step in torch (no "
                        ".detach(), .numpy() or torch.tensor(…) of a result) so that loss.backward() reaches the network")
        got.reshape(()).backward()
        if mine.grad is None or not torch.allclose(mine.grad, want_out.grad, rtol=1e-4, atol=1e-9):
            raise Wrong(f"on {words} your loss has the right value but its gradient differs from the library's: "
                        "compute it from the output tensor itself, in torch")
    return ("right on 3 batches, value and gradient — all joints labelled, some unlabelled (they add nothing), none "
            "labelled (loss 0)")


def _diagnose_loss(value: float, expected: float, output: torch.Tensor, target: torch.Tensor, weight: torch.Tensor,
                   words: str) -> None:
    """Compare with the usual wrong losses: no 0.5, no weights, mean over labelled joints only, a sum."""
    w = weight[:, :, None, None]
    sq = (output - target) ** 2
    wsq = (output * w - target * w) ** 2
    alternatives = [
        (wsq.mean(), "your loss is twice the library's: the original halves the mean squared error (0.5 * mean)"),
        (0.5 * sq.mean(), "your loss counts the unlabelled joints (weight 0): multiply output and target by the "
                          "weight before squaring, so those joints add nothing"),
        (sq.mean(), "your loss counts the unlabelled joints (weight 0) and lacks the factor 0.5: multiply output "
                    "and target by the weight, and take 0.5 * the mean"),
        (0.5 * wsq.sum() / (weight.sum().clamp(min=1) * sq.shape[2] * sq.shape[3]),
         "you averaged over the labelled joints only; the original averages over all N x K joints, the unlabelled "
         "ones counting as zero error (0.5 * the mean of the whole weighted tensor)"),
        (0.5 * wsq.sum(), "you summed the squared errors: take their mean (over batch, joints and pixels)"),
        (wsq.sum(), "you summed the squared errors and left out 0.5: take 0.5 * their mean"),
        (0.5 * wsq.sum() / (sq.shape[0] * sq.shape[1]), "you averaged over batch and joints but summed over the "
                                                        "pixels: take the mean over the pixels too"),
    ]
    for alt, message in alternatives:
        if float(alt) != 0 and math.isclose(value, float(alt), rel_tol=1e-5):
            raise Wrong(f"on {words} {message} (yours {value:.6g}, expected {expected:.6g})")
    if expected == 0 and value != 0:
        raise Wrong(f"on {words} your loss is {value:.6g}, it should be 0: no joint is labelled, so nothing counts")
    raise Wrong(f"on {words} your loss is {value:.6g}, it should be {expected:.6g}")


EXERCISES: tuple[Exercise, ...] = (
    Exercise(
        name="ex09_lr_schedule", notebook=NOTEBOOK, function="learning_rate", level="warm-up",
        title="The step schedule", check=_check_schedule,
        hints=(
            "Count the milestones already reached: n = number of m in milestones with epoch >= m.",
            "The rate is base_lr * gamma ** n: each milestone multiplies it by gamma once more.",
            "Epochs count from 0, so at epoch m itself the rate has already dropped (train's loop steps the "
            "scheduler after each epoch: after epoch m - 1, before epoch m).",
        ),
    ),
    Exercise(
        name="ex09_flip_augment", notebook=NOTEBOOK, function="flip_sample", level="core",
        title="Horizontal flip with the left/right swap", check=_check_flip,
        hints=(
            "The image: reverse its columns, image[:, ::-1] (axis 1 of (height, width, 3)). Work on copies: the "
            "caller's arrays must not change.",
            "The keypoints: x -> W - 1 - x with W = image.shape[1] (the first column 0 and the last W - 1 trade "
            "places); y stays.",
            "Then swap left and right: build perm = np.arange(K) and for each (a, b) in flip_pairs set perm[a], "
            "perm[b] = b, a; return keypoints[perm] and visible[perm].",
        ),
    ),
    Exercise(
        name="ex09_joints_mse", notebook=NOTEBOOK, function="joints_mse", level="stretch",
        title="The training loss with target weights", check=_check_loss,
        hints=(
            "Broadcast the weights over the pixels: w = target_weight[:, :, None, None], shape (N, K, 1, 1).",
            "Multiply both output and target by w, then square the difference: an unlabelled joint (w = 0) "
            "contributes exactly 0.",
            "Return 0.5 * that squared difference's .mean() over everything, a 0-dim tensor (no .item()).",
        ),
    ),
)

__all__ = ["EXERCISES"]
