"""Pictures: skeletons drawn on images (OpenCV) and matplotlib figures for heatmaps and results.

Figure helpers return a ``matplotlib.figure.Figure`` with a title and labelled axes and never call
``plt.show()``; no global matplotlib state is touched on import.
"""
from __future__ import annotations

from typing import Any, Sequence

import cv2
import numpy as np

from .skeletons import PART_COLOURS, Skeleton, get_skeleton

SCORE_THRESHOLD = 0.3  # joints scoring below this are hidden when drawing: their positions are unreliable


def shown_joints(keypoints: np.ndarray, scores: np.ndarray | None, threshold: float) -> np.ndarray:
    """Which joints a drawing shows: a known (finite) position and a score at or above the threshold."""
    ok = np.isfinite(keypoints).all(axis=1)
    if scores is not None:
        ok &= np.asarray(scores, dtype=np.float64) >= threshold
    return ok


def draw_skeleton(image_rgb: np.ndarray, keypoints: np.ndarray, scores: np.ndarray | None, skeleton: Skeleton | str,
                  threshold: float = SCORE_THRESHOLD, *, thickness: int | None = None, radius: int | None = None,
                  copy: bool = True, colour: tuple[int, int, int] | None = None) -> np.ndarray:
    """Limbs coloured by body part (or all in one ``colour``, e.g. a track's), joints as dots; joints under
    ``threshold`` and their limbs are hidden."""
    sk = get_skeleton(skeleton)
    img = image_rgb.copy() if copy else image_rgb
    kp = np.asarray(keypoints, dtype=np.float64)
    if kp.shape != (sk.num_joints, 2):
        raise ValueError(f"keypoints must be ({sk.num_joints}, 2) for {sk.name}, got {kp.shape}")
    ok = shown_joints(kp, scores, threshold)
    h, w = img.shape[:2]
    t = thickness or max(2, round(min(h, w) / 150))
    r = radius or max(3, round(t * 1.5))
    pts = [(int(round(x)), int(round(y))) if v else None for (x, y), v in zip(kp, ok)]
    limb_colours = sk.limb_colours() if colour is None else [colour] * len(sk.limbs)
    joint_colours = sk.joint_colours() if colour is None else [colour] * sk.num_joints
    for (a, b), c in zip(sk.limbs, limb_colours):
        if pts[a] is not None and pts[b] is not None:
            cv2.line(img, pts[a], pts[b], c, t, cv2.LINE_AA)
    for p, c in zip(pts, joint_colours):
        if p is not None:
            cv2.circle(img, p, r, c, -1, cv2.LINE_AA)
            cv2.circle(img, p, r, (255, 255, 255), max(1, t // 2), cv2.LINE_AA)
    return img


def draw_people(image_rgb: np.ndarray, people: Sequence[tuple[np.ndarray, np.ndarray | None]], skeleton: Skeleton | str,
                threshold: float = SCORE_THRESHOLD) -> np.ndarray:
    """Every person's skeleton on one copy of the image."""
    img = image_rgb.copy()
    for kp, sc in people:
        draw_skeleton(img, kp, sc, skeleton, threshold, copy=False)
    return img


BOX_COLOUR = (255, 215, 0)  # person boxes, drawn in one colour apart from the limbs' (RGB)


def draw_boxes(image_rgb: np.ndarray, boxes: Sequence[Sequence[float]] | np.ndarray,
               scores: Sequence[float | None] | None = None, *, colour: tuple[int, int, int] = BOX_COLOUR,
               copy: bool = True) -> np.ndarray:
    """Person boxes [x, y, w, h], each with its detector score above it (none for a given box): what was cropped."""
    import cv2

    img = image_rgb.copy() if copy else image_rgb
    h, w = img.shape[:2]
    t = max(1, round(min(h, w) / 300))
    font = max(0.4, min(h, w) / 900)
    labels = list(scores) if scores is not None else [None] * len(boxes)
    for (x, y, bw, bh), s in zip(np.asarray(boxes, dtype=np.float64).reshape(-1, 4), labels):
        p1, p2 = (int(round(x)), int(round(y))), (int(round(x + bw)), int(round(y + bh)))
        cv2.rectangle(img, p1, p2, (0, 0, 0), t + 2, cv2.LINE_AA)
        cv2.rectangle(img, p1, p2, colour, t, cv2.LINE_AA)
        if s is not None:
            text = f"{float(s):.2f}"
            (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, font, t)
            org = (int(np.clip(p1[0], 0, max(0, w - tw))), int(np.clip(p1[1] - base - 2, th, h - base)))
            cv2.putText(img, text, org, cv2.FONT_HERSHEY_SIMPLEX, font, (0, 0, 0), t + 2, cv2.LINE_AA)
            cv2.putText(img, text, org, cv2.FONT_HERSHEY_SIMPLEX, font, colour, t, cv2.LINE_AA)
    return img


def _figure(nrows: int = 1, ncols: int = 1, figsize: tuple[float, float] = (6, 4)) -> tuple[Any, Any]:
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, axes


def _legend(ax: Any) -> None:
    from matplotlib.patches import Patch

    handles = [Patch(color=np.array(c) / 255.0, label=name) for name, c in PART_COLOURS.items()]
    ax.legend(handles=handles, loc="lower right", fontsize="small", framealpha=0.8)


def plot_keypoints(image_rgb: np.ndarray, keypoints: np.ndarray, scores: np.ndarray | None, skeleton: Skeleton | str,
                   threshold: float = SCORE_THRESHOLD, *, title: str = "Predicted skeleton", ax: Any = None) -> Any:
    """The skeleton drawn on the image, with pixel axes and a body-part legend."""
    if ax is None:
        fig, axes = _figure(figsize=(7, 7 * image_rgb.shape[0] / max(image_rgb.shape[1], 1) + 0.6))
        ax = axes[0, 0]
    else:
        fig = ax.figure
    ax.imshow(draw_skeleton(image_rgb, keypoints, scores, skeleton, threshold))
    ax.set_title(title)
    ax.set_xlabel("x (pixels)")
    ax.set_ylabel("y (pixels)")
    _legend(ax)
    return fig


def plot_people(image_rgb: np.ndarray, result: Any, threshold: float = SCORE_THRESHOLD, *,
                title: str = "People found", ax: Any = None) -> Any:
    """Every person of a :class:`~hpe_utils.predictor.PoseResult`: the box that was cropped (its detector score
    above it) and the skeleton, so a reader sees which boxes the poses came from."""
    from matplotlib.patches import Patch

    people = [(p.keypoints, p.scores) for p in result.people]
    drawn = draw_boxes(draw_people(image_rgb, people, result.skeleton, threshold),
                       [p.box for p in result.people], [p.box_score for p in result.people], copy=False)
    if ax is None:
        fig, axes = _figure(figsize=(8, 8 * image_rgb.shape[0] / max(image_rgb.shape[1], 1) + 0.6))
        ax = axes[0, 0]
    else:
        fig = ax.figure
    ax.imshow(drawn)
    ax.set_title(title)
    ax.set_xlabel("x (pixels)")
    ax.set_ylabel("y (pixels)")
    handles = [Patch(color=np.array(c) / 255.0, label=name) for name, c in PART_COLOURS.items()]
    handles.append(Patch(facecolor="none", edgecolor=np.array(BOX_COLOUR) / 255.0, linewidth=2,
                         label="person box (detector score)"))
    ax.legend(handles=handles, loc="lower right", fontsize="small", framealpha=0.8)
    return fig


def plot_heatmap_grid(heatmaps: np.ndarray, skeleton: Skeleton | str, *, ncols: int = 4,
                      title: str = "One heatmap per joint") -> Any:
    """A panel per joint titled with its name, on one shared colour scale."""
    sk = get_skeleton(skeleton)
    hm = np.asarray(heatmaps, dtype=np.float32)
    if hm.ndim != 3 or hm.shape[0] != sk.num_joints:
        raise ValueError(f"heatmaps must be ({sk.num_joints}, h, w), got {hm.shape}")
    nrows = -(-sk.num_joints // ncols)
    fig, axes = _figure(nrows, ncols, figsize=(2.3 * ncols, 2.3 * nrows + 0.6))
    vmin, vmax = float(min(hm.min(), 0.0)), float(max(hm.max(), 1e-6))
    im = None
    for j, ax in enumerate(axes.flat):
        if j >= sk.num_joints:
            ax.set_visible(False)
            continue
        im = ax.imshow(hm[j], cmap="magma", vmin=vmin, vmax=vmax)
        ax.set_title(sk.joints[j], fontsize="small")
        ax.set_xlabel("x (heatmap px)", fontsize="x-small")
        ax.set_ylabel("y (heatmap px)", fontsize="x-small")
        ax.tick_params(labelsize="xx-small")
    fig.suptitle(title)
    if im is not None:
        fig.colorbar(im, ax=axes.ravel().tolist(), shrink=0.6, label="heatmap value")
    return fig


def plot_heatmap_overlay(crop_rgb: np.ndarray, heatmaps: np.ndarray, *, alpha: float = 0.5,
                         title: str = "Heatmaps (max over joints) on the network input") -> Any:
    """The maximum over joints, upsampled to the crop, drawn over it."""
    hm = np.asarray(heatmaps, dtype=np.float32).max(axis=0)
    up = cv2.resize(hm, (crop_rgb.shape[1], crop_rgb.shape[0]), interpolation=cv2.INTER_LINEAR)
    fig, axes = _figure(figsize=(5, 5 * crop_rgb.shape[0] / crop_rgb.shape[1] + 0.5))
    ax = axes[0, 0]
    ax.imshow(crop_rgb)
    im = ax.imshow(up, cmap="jet", alpha=alpha, vmin=0, vmax=max(float(up.max()), 1e-6))
    ax.set_title(title)
    ax.set_xlabel("x (input pixels)")
    ax.set_ylabel("y (input pixels)")
    fig.colorbar(im, ax=ax, shrink=0.7, label="max heatmap value")
    return fig


def plot_side_by_side(images: Sequence[np.ndarray], titles: Sequence[str], suptitle: str, *,
                      width: float = 4.5, parts_legend: bool = False) -> Any:
    """Images in a row, each titled, for before/after and model-vs-model comparisons (``width`` inches each);
    ``parts_legend`` adds the skeleton's body-part colours as a legend on the last image."""
    if len(images) != len(titles):
        raise ValueError("one title per image")
    aspect = max(im.shape[0] / max(im.shape[1], 1) for im in images)
    fig, axes = _figure(1, len(images), figsize=(width * len(images), width * aspect + 0.9))
    for ax, img, t in zip(axes[0], images, titles):
        ax.imshow(img)
        ax.set_title(t)
        ax.set_xlabel("x (pixels)")
        ax.set_ylabel("y (pixels)")
    if parts_legend:
        _legend(axes[0, -1])
    fig.suptitle(suptitle)
    return fig


def plot_per_joint(result: Any, *, title: str | None = None) -> Any:
    """Bar chart of a :class:`~hpe_utils.metrics.PCKResult`, one bar per joint, mean as a line."""
    fig, axes = _figure(figsize=(max(6, 0.45 * len(result.joints) + 2), 4))
    ax = axes[0, 0]
    vals = np.nan_to_num(np.asarray(result.per_joint, dtype=np.float64))
    ax.bar(range(len(vals)), vals, color="#3a7bd5")
    ax.axhline(result.mean, color="#d5533a", linestyle="--", label=f"mean {result.mean:.3f}")
    ax.set_xticks(range(len(vals)), result.joints, rotation=60, ha="right", fontsize="small")
    ax.set_ylim(0, 1)
    ax.set_xlabel("joint")
    ax.set_ylabel(f"{result.name}@{result.alpha:g}")
    ax.set_title(title or f"{result.name}@{result.alpha:g} per joint")
    ax.legend(loc="lower right")
    return fig


def plot_loss_curve(history: Sequence[dict[str, Any]], *, title: str = "Training", pck_label: str | None = None,
                    legend_loc: str | None = None) -> Any:
    """Training loss and validation PCK per epoch from a ``metrics.json`` history; ``pck_label`` names the PCK
    curve (legend and axis) where the validation images are not the usual held-out ones, and ``legend_loc``
    puts both curves in one legend there (e.g. "lower left" where they cross on the right)."""
    fig, axes = _figure(figsize=(7, 3.8))
    ax = axes[0, 0]
    ep = [h["epoch"] for h in history]
    ax.plot(ep, [np.nan if h["train_loss"] is None else h["train_loss"] for h in history], "o-", color="#3a7bd5",
            label="train loss")
    ax.set_xlabel("epoch")
    ax.set_ylabel("train loss (JointsMSE)")
    ax.set_title(title)
    pcks = [np.nan if h.get("val_pck@0.2") is None else h["val_pck@0.2"] for h in history]
    if np.isfinite(pcks).any():
        ax2 = ax.twinx()
        ax2.plot(ep, pcks, "s-", color="#d5533a", label=pck_label or "val PCK@0.2")
        ax2.set_ylabel(pck_label or "validation PCK@0.2")
        ax2.set_ylim(0, 1)
        if legend_loc is not None:  # one legend, drawn on the twin axes so the PCK line does not cover it
            ax2.legend(handles=ax.get_lines() + ax2.get_lines(), loc=legend_loc)
            return fig
        ax2.legend(loc="center right")
    ax.legend(loc=legend_loc or "upper right")
    return fig


def plot_augmentations(dataset: Any, index: int = 0, *, draws: int = 6,
                       title: str = "One training sample, augmented (targets drawn over the crop)") -> Any:
    """The same sample as the network sees it in ``draws`` different epochs, with its target heatmaps on top."""
    from .transforms import denormalize

    if dataset.augment is None:
        raise ValueError("the dataset has no augmentation to show")
    fig, axes = _figure(1, draws, figsize=(2.6 * draws, 3.2))
    first_epoch = dataset.epoch
    try:
        for d, ax in enumerate(axes[0]):
            dataset.set_epoch(first_epoch + d)
            item = dataset[index]
            crop = denormalize(item["image"].numpy(), dataset.color_order)
            hm = item["target"].numpy().max(axis=0)
            up = cv2.resize(hm, (crop.shape[1], crop.shape[0]), interpolation=cv2.INTER_LINEAR)
            ax.imshow(crop)
            ax.imshow(up, cmap="jet", alpha=0.35 * (up > 0.05), vmin=0, vmax=1)
            ax.set_title(f"epoch {first_epoch + d}", fontsize="small")
            ax.set_xlabel("x (input pixels)")
            ax.set_ylabel("y (input pixels)")
    finally:
        dataset.set_epoch(first_epoch)
    fig.suptitle(title)
    return fig


__all__ = ["BOX_COLOUR", "SCORE_THRESHOLD", "draw_boxes", "draw_people", "draw_skeleton", "plot_augmentations", "plot_people", "plot_heatmap_grid",
           "plot_heatmap_overlay", "plot_keypoints", "plot_loss_curve", "plot_per_joint", "plot_side_by_side",
           "shown_joints"]
