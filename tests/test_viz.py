"""Drawing and figures: skeletons land on the joints, hidden joints stay hidden, figures are labelled."""
import numpy as np
import pytest

from hpe_utils.metrics import pck
from hpe_utils.skeletons import MPII16
from hpe_utils.viz import (
    draw_people, draw_skeleton, plot_heatmap_grid, plot_heatmap_overlay, plot_keypoints, plot_loss_curve,
    plot_augmentations, plot_people, plot_per_joint, plot_side_by_side,
)


def _pose():
    kp = np.array([[40, 180], [45, 140], [50, 100], [70, 100], [75, 140], [80, 180], [60, 100], [60, 60],
                   [60, 50], [60, 30], [20, 100], [30, 80], [45, 60], [75, 60], [90, 80], [100, 100]], np.float32)
    return kp, np.ones(16, np.float32)


def test_limbs_are_drawn_between_joints_in_their_part_colour():
    img = np.zeros((200, 120, 3), np.uint8)
    kp, sc = _pose()
    out = draw_skeleton(img, kp, sc, "mpii16")
    # midpoint of r_knee -> r_ankle limb is painted with the right-side colour
    mid = ((kp[0] + kp[1]) / 2).round().astype(int)
    assert tuple(out[mid[1], mid[0]]) == MPII16.limb_colours()[0]
    assert img.sum() == 0  # input untouched


def test_joints_below_threshold_and_their_limbs_are_hidden():
    img = np.zeros((200, 120, 3), np.uint8)
    kp, sc = _pose()
    sc[0] = 0.1  # r_ankle hidden
    out = draw_skeleton(img, kp, sc, MPII16, threshold=0.3)
    x, y = kp[0].astype(int)
    assert out[y - 2:y + 3, x - 2:x + 3].sum() == 0
    mid = ((kp[0] + kp[1]) / 2).round().astype(int)
    assert out[mid[1], mid[0]].sum() == 0


def test_non_finite_points_are_skipped_and_wrong_shapes_raise():
    img = np.zeros((50, 50, 3), np.uint8)
    kp, sc = _pose()
    kp[3] = np.nan
    draw_skeleton(img, kp, sc, "mpii16")
    with pytest.raises(ValueError, match="16, 2"):
        draw_skeleton(img, kp[:10], sc[:10], "mpii16")


def test_draw_people_draws_everyone_on_one_copy():
    img = np.zeros((200, 240, 3), np.uint8)
    kp, sc = _pose()
    out = draw_people(img, [(kp, sc), (kp + [120, 0], sc)], "mpii16")
    assert out[:, :120].sum() > 0 and out[:, 120:].sum() > 0 and img.sum() == 0


def _labelled(ax):
    return ax.get_title() and ax.get_xlabel() and ax.get_ylabel()


def test_every_figure_has_titles_and_axis_labels():
    img = np.zeros((200, 120, 3), np.uint8)
    kp, sc = _pose()
    hm = np.random.default_rng(0).random((16, 32, 24)).astype(np.float32)
    figs = [
        plot_keypoints(img, kp, sc, "mpii16", title="t"),
        plot_heatmap_overlay(np.zeros((128, 96, 3), np.uint8), hm),
        plot_side_by_side([img, img], ["a", "b"], "both"),
        plot_per_joint(pck(kp[None], kp[None], sc[None], np.array([10.0]), joints=MPII16.joints)),
        plot_loss_curve([{"epoch": 1, "train_loss": 0.1, "val_pck@0.2": 0.2}, {"epoch": 2, "train_loss": 0.05, "val_pck@0.2": 0.4}]),
        plot_augmentations(_augmented_dataset(), draws=3),
        plot_people(img, _result(), title="people"),
    ]
    for fig in figs:
        data_axes = [ax for ax in fig.axes if ax.get_label() != "<colorbar>" and (ax.get_images() or ax.lines or ax.patches)]
        assert data_axes and all(ax.get_ylabel() for ax in data_axes)  # twin axes share the x label and title
        titled = [ax for ax in data_axes if ax.get_title()]
        assert titled and all(_labelled(ax) for ax in titled)


def test_side_by_side_can_name_the_part_colours_and_the_loss_curve_its_pck_images():
    img = np.zeros((200, 120, 3), np.uint8)
    plain, keyed = plot_side_by_side([img, img], ["a", "b"], "t"), plot_side_by_side([img, img], ["a", "b"], "t",
                                                                                     parts_legend=True)
    assert all(ax.get_legend() is None for ax in plain.axes)
    legend = keyed.axes[-1].get_legend()
    assert legend is not None and [t.get_text() for t in legend.get_texts()] == ["right", "left", "centre", "head"]
    history = [{"epoch": 1, "train_loss": 0.1, "val_pck@0.2": 0.2}, {"epoch": 2, "train_loss": 0.05, "val_pck@0.2": 0.4}]
    default, named = plot_loss_curve(history), plot_loss_curve(history, pck_label="PCK@0.2 on the training images")
    assert default.axes[1].get_ylabel() == "validation PCK@0.2"
    assert named.axes[1].get_ylabel() == "PCK@0.2 on the training images"
    assert [t.get_text() for t in named.axes[1].get_legend().get_texts()] == ["PCK@0.2 on the training images"]
    one = plot_loss_curve(history, pck_label="PCK@0.2 on the training images", legend_loc="lower left")
    assert one.axes[0].get_legend() is None
    assert [t.get_text() for t in one.axes[1].get_legend().get_texts()] == ["train loss", "PCK@0.2 on the training images"]


def _augmented_dataset(**aug):
    from pathlib import Path

    from hpe_utils.codec import HeatmapCodec
    from hpe_utils.datasets import AugmentConfig, TopDownDataset, lsp_samples

    fix = Path(__file__).resolve().parent / "fixtures" / "lsp"
    return TopDownDataset(lsp_samples(fix, range(2), "mpii16"), "mpii16", HeatmapCodec((64, 64)),
                          AugmentConfig(**aug), seed=0)


def test_augmentation_figure_shows_different_draws_and_leaves_the_dataset_epoch_alone():
    ds = _augmented_dataset(color_jitter=0.3, erase_prob=1.0)
    ds.set_epoch(5)
    fig = plot_augmentations(ds, 1, draws=4)
    panels = [ax for ax in fig.axes if ax.get_images()]
    assert [ax.get_title() for ax in panels] == ["epoch 5", "epoch 6", "epoch 7", "epoch 8"]
    crops = [ax.get_images()[0].get_array() for ax in panels]
    assert crops[0].shape == (64, 64, 3) and not np.array_equal(crops[0], crops[1])
    assert ds.epoch == 5 and fig.get_suptitle()
    ds.augment = None
    with pytest.raises(ValueError, match="no augmentation"):
        plot_augmentations(ds)


def test_heatmap_grid_has_one_named_panel_per_joint():
    hm = np.random.default_rng(0).random((16, 32, 24)).astype(np.float32)
    fig = plot_heatmap_grid(hm, "mpii16")
    titles = [ax.get_title() for ax in fig.axes if ax.get_visible() and ax.get_images()]
    assert titles == list(MPII16.joints)
    assert fig.get_suptitle()
    with pytest.raises(ValueError):
        plot_heatmap_grid(hm[:3], "mpii16")


def _result():
    from hpe_utils.predictor import Person, PoseResult

    kp, sc = _pose()
    people = [Person(box=np.array([10.0, 20.0, 100.0, 170.0]), keypoints=kp, scores=sc, box_score=0.87),
              Person(box=np.array([0.0, 0.0, 120.0, 200.0]), keypoints=kp + 5, scores=sc, box_score=None)]
    return PoseResult(width=120, height=200, skeleton=MPII16, people=people, detector="centernet", detected=1)


def test_people_figure_draws_each_box_and_skeleton_and_names_the_box_in_its_legend():
    from hpe_utils.viz import BOX_COLOUR

    img = np.zeros((200, 120, 3), np.uint8)
    fig = plot_people(img, _result(), title="two people")
    ax = fig.axes[0]
    drawn = ax.get_images()[0].get_array()
    def box_at(x: int) -> bool:
        near = np.abs(drawn[100, max(0, x - 2):x + 3].astype(int) - BOX_COLOUR).max(axis=1)
        return bool((near < 40).any())

    assert box_at(10) and box_at(0)  # the detector box's left edge halfway down, and the given whole-image box's
    assert not box_at(60)  # nothing of the box colour in between
    assert drawn.reshape(-1, 3).any(axis=1).mean() > 0.02  # limbs drawn
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "person box (detector score)" in labels and ax.get_title() == "two people"
    assert img.sum() == 0  # the caller's image untouched
