"""Boxes, centre/scale and the affine crop and its inverse."""
import math

import cv2
import numpy as np
import pytest

from hpe_utils.codec import HeatmapCodec
from hpe_utils.transforms import (
    affine_points, box_to_center_scale, center_scale_to_box, check_scales, crop, get_affine_transform,
    heatmap_to_image, normalize, zoom_heatmaps,
)


def test_box_is_widened_to_aspect_ratio_and_padded_by_1_25():
    c, s = box_to_center_scale([10, 20, 100, 100], aspect_ratio=0.75)
    assert c.tolist() == [60.0, 70.0]
    # width 100 > 0.75 * 100 -> height becomes 100 / 0.75
    assert s == pytest.approx(np.array([100, 100 / 0.75]) / 200 * 1.25)
    c, s = box_to_center_scale([0, 0, 30, 120], aspect_ratio=0.75)
    assert s == pytest.approx(np.array([90, 120]) / 200 * 1.25)
    assert center_scale_to_box(c, s) == pytest.approx([-30, 0, 90, 120])


@pytest.mark.parametrize("box", [[0, 0, 0, 10], [0, 0, 10, -1], [0, float("nan"), 1, 1]])
def test_degenerate_boxes_raise(box):
    with pytest.raises(ValueError):
        box_to_center_scale(box, 1.0)


@pytest.mark.parametrize("rotation", [0.0, 30.0, -45.0])
def test_closed_form_matches_three_point_construction(rotation):
    center, scale, out = np.array([120.0, 80.0]), np.array([1.2, 1.6]), (192, 256)
    m = get_affine_transform(center, scale, rotation, out)
    # the original: the centre and a point half a width above it, rotated, plus a third point at 90 degrees
    r = math.radians(rotation)
    src_w = scale[0] * 200
    up = np.array([-(-src_w / 2) * math.sin(r), (-src_w / 2) * math.cos(r)])
    src = np.float32([center, center + up, center + up + np.array([up[1], -up[0]])])
    dc = np.array([out[0] / 2, out[1] / 2])
    dup = np.array([0, -out[0] / 2])
    dst = np.float32([dc, dc + dup, dc + dup + np.array([dup[1], -dup[0]])])
    ref = cv2.getAffineTransform(src, dst)
    assert m == pytest.approx(ref, abs=1e-4)


@pytest.mark.parametrize("rotation", [0.0, 25.0, -70.0])
def test_inverse_after_forward_is_identity(rotation):
    center, scale = np.array([300.0, 200.0]), np.array([1.5, 2.0])
    fwd = get_affine_transform(center, scale, rotation, (192, 256))
    inv = get_affine_transform(center, scale, rotation, (192, 256), inverse=True)
    pts = np.random.default_rng(0).uniform(0, 600, (50, 2))
    assert affine_points(affine_points(pts, fwd), inv) == pytest.approx(pts, abs=1e-3)


def test_crop_puts_the_box_centre_at_the_crop_centre_and_keeps_content():
    img = np.zeros((400, 600, 3), np.uint8)
    img[195:206, 295:306] = 255  # a white square at (300, 200)
    c, s = box_to_center_scale([250, 100, 100, 200], 0.75)
    patch = crop(img, c, s, (192, 256))
    ys, xs = np.nonzero(patch[..., 0] > 128)
    assert abs(xs.mean() - 96) < 1.5 and abs(ys.mean() - 128) < 1.5


def test_heatmap_to_image_inverts_the_crop_at_stride_4():
    c, s = np.array([300.0, 200.0]), np.array([1.0, 4 / 3])
    fwd = get_affine_transform(c, s, 0, (192, 256))
    pts = np.array([[310.0, 150.0], [250.0, 260.0]])
    in_crop = affine_points(pts, fwd)
    back = heatmap_to_image(in_crop / 4, c, s, (48, 64))
    assert back == pytest.approx(pts, abs=1e-3)


@pytest.mark.parametrize("factor", [0.8, 1.2, 1.5])
def test_zoom_heatmaps_brings_a_wider_crops_heatmaps_into_the_unit_crops_frame(factor):
    c, s = np.array([300.0, 200.0]), np.array([1.0, 4 / 3])
    codec = HeatmapCodec((192, 256), unbiased=True)
    pts = np.array([[310.0, 150.0], [250.0, 260.0], [330.0, 230.0]])
    wide = affine_points(pts, get_affine_transform(c, s * factor, 0, (192, 256)))  # the joints in the zoomed crop
    hm, _ = codec.encode(wide)
    coords, _ = codec.decode(zoom_heatmaps(hm[None], factor))
    back = heatmap_to_image(coords[0], c, s, codec.heatmap_size)
    assert back == pytest.approx(pts, abs=0.15 * 200 / 48)  # within 0.15 heatmap pixels of the joints
    np.testing.assert_array_equal(zoom_heatmaps(hm, 1.0), hm)


def test_bad_zoom_factors_and_test_scales_are_refused():
    for bad in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="positive"):
            zoom_heatmaps(np.zeros((2, 8, 8)), bad)
    assert check_scales([1, 1.2]) == (1.0, 1.2)
    for bad in ([], [1.0, 0.0], [float("inf")]):
        with pytest.raises(ValueError, match="test scales"):
            check_scales(bad)


def test_normalize_bgr_reverses_channels_before_rgb_statistics():
    crops = np.zeros((1, 2, 2, 3), np.uint8)
    crops[..., 0] = 255  # pure red
    rgb = normalize(crops, "rgb")
    bgr = normalize(crops, "bgr")
    assert rgb.shape == (1, 3, 2, 2)
    assert rgb[0, 0, 0, 0] == pytest.approx((1 - 0.485) / 0.229)
    assert bgr[0, 2, 0, 0] == pytest.approx((1 - 0.406) / 0.225)  # red lands in channel 2, normalised with B stats
    assert bgr[0, 0, 0, 0] == pytest.approx((0 - 0.485) / 0.229)
    with pytest.raises(ValueError):
        normalize(crops, "hsv")


@pytest.mark.parametrize("order", ["rgb", "bgr"])
def test_denormalize_gives_back_the_crops_normalize_was_given(order):
    from hpe_utils.transforms import denormalize, normalize

    crops = np.random.default_rng(0).integers(0, 256, size=(2, 8, 6, 3), dtype=np.uint8)
    x = normalize(crops, order)
    assert np.array_equal(denormalize(x, order), crops)
    assert np.array_equal(denormalize(x[1], order), crops[1])
    with pytest.raises(ValueError):
        denormalize(x[..., 0])
