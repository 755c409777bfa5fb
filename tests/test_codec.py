"""The heatmap codec: encoding follows the original rules and decoding inverts it."""
import numpy as np
import pytest

from hpe_utils.codec import HeatmapCodec, default_sigma


def test_default_sigma_is_2_at_256_and_3_at_384():
    assert default_sigma((192, 256)) == 2.0
    assert default_sigma((288, 384)) == 3.0
    assert HeatmapCodec((192, 256)).heatmap_size == (48, 64)


def test_encode_centres_gaussian_on_rounded_heatmap_pixel_with_peak_one():
    codec = HeatmapCodec((192, 256))
    hm, w = codec.encode(np.array([[41.0, 83.0]]))  # /4 -> (10.25, 20.75) -> rounds to (10, 21)
    assert w.tolist() == [1.0]
    y, x = np.unravel_index(hm[0].argmax(), hm[0].shape)
    assert (x, y) == (10, 21)
    assert hm[0, 21, 10] == pytest.approx(1.0)
    # 3-sigma window: 6 pixels from the centre is inside, 7 is outside
    assert hm[0, 21, 16] > 0 and hm[0, 21, 17] == 0
    assert hm[0, 21, 11] == pytest.approx(np.exp(-1 / 8), rel=1e-6)


def test_unbiased_encoding_centres_the_gaussian_on_the_exact_position_and_dark_decodes_it():
    kp = np.array([[41.0, 83.0], [101.8, 30.6]])  # /4 -> (10.25, 20.75), (25.45, 7.65)
    rounded, w0 = HeatmapCodec((192, 256)).encode(kp)
    exact, w1 = HeatmapCodec((192, 256), unbiased=True).encode(kp)
    assert w0.tolist() == w1.tolist() == [1.0, 1.0]
    assert exact[0, 21, 10] == pytest.approx(np.exp(-(0.25**2 + 0.25**2) / 8), rel=1e-5)  # sigma 2
    assert (exact > 0).sum() == (rounded > 0).sum()  # the same 3-sigma windows
    coords, _ = HeatmapCodec((192, 256), refine="dark").decode(exact)
    np.testing.assert_allclose(coords, kp / 4, atol=0.02)
    coords, _ = HeatmapCodec((192, 256), refine="dark").decode(rounded)
    assert np.abs(coords - kp / 4).max() > 0.2  # rounding moved the target itself


def test_unlabelled_and_off_map_joints_get_weight_zero_and_empty_heatmap():
    codec = HeatmapCodec((192, 256))
    kp = np.array([[50.0, 50.0], [50.0, 50.0], [-60.0, 10.0], [10.0, 400.0], [-20.0, 10.0]])
    hm, w = codec.encode(kp, np.array([1, 0, 1, 1, 1]))
    assert w.tolist() == [1, 0, 0, 0, 1]  # a joint just off the map still has part of its Gaussian on it
    assert hm[1].max() == 0 and hm[2].max() == 0 and hm[3].max() == 0
    assert 0 < hm[4].max() < 1


def test_round_trip_recovers_keypoints_within_a_quarter_heatmap_pixel():
    codec = HeatmapCodec((192, 256))
    rng = np.random.default_rng(0)
    kp = np.stack([rng.uniform(12, 180, 17), rng.uniform(12, 244, 17)], axis=1)
    hm, _ = codec.encode(kp)
    coords, scores = codec.decode(hm)
    # encoding rounds to the nearest heatmap pixel (error <= 0.5 px), and a symmetric peak gets no shift
    err = np.abs(coords - kp / 4)
    assert err.max() <= 0.5 + 1e-6
    assert np.allclose(scores, 1.0)


def test_quarter_pixel_refinement_moves_towards_higher_neighbour():
    codec = HeatmapCodec((64, 64), refine="quarter")
    hm = np.zeros((1, 16, 16), np.float32)
    hm[0, 8, 8] = 1.0
    hm[0, 8, 9] = 0.6  # right neighbour higher than left
    hm[0, 7, 8] = 0.5  # upper neighbour higher than lower
    coords, scores = codec.decode(hm)
    assert coords[0].tolist() == [8.25, 7.75]
    assert scores[0] == pytest.approx(1.0)


def gaussian_map(x: float, y: float, sigma: float = 2.0, size: int = 48) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size]
    return np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * sigma**2))[None].astype(np.float32)


def test_dark_recovers_the_sub_pixel_centre_of_a_smooth_peak_where_the_quarter_step_cannot():
    for x, y in [(20.3, 30.7), (11.55, 9.1), (33.0, 24.45)]:
        hm = gaussian_map(x, y)
        dark, _ = HeatmapCodec((192, 192)).decode(hm)
        quarter, _ = HeatmapCodec((192, 192), refine="quarter").decode(hm)
        assert np.abs(dark[0] - [x, y]).max() < 0.02
        assert np.abs(quarter[0] - [x, y]).max() > 0.04
    # a noisy peak (a network's heatmap) still lands near the centre
    rng = np.random.default_rng(0)
    noisy = gaussian_map(20.3, 30.7) + rng.normal(0, 0.02, (1, 48, 48)).astype(np.float32)
    assert np.abs(HeatmapCodec((192, 192)).decode(noisy)[0][0] - [20.3, 30.7]).max() < 0.15


def test_dark_falls_back_to_the_quarter_step_where_it_cannot_apply():
    hm = np.zeros((2, 48, 48), np.float32)
    hm[0, 20, 46], hm[0, 20, 45], hm[0, 21, 46] = 1.0, 0.6, 0.5  # one pixel from the right: no 5x5 neighbourhood
    hm[1, 20, 20], hm[1, 20, 21], hm[1, 19, 20] = 1.0, 0.6, 0.5  # a spike: quarter rule as the original
    dark, _ = HeatmapCodec((192, 192)).decode(hm)
    quarter, _ = HeatmapCodec((192, 192), refine="quarter").decode(hm)
    assert dark[0].tolist() == quarter[0].tolist() == [45.75, 20.25]
    assert np.abs(dark[1] - [20.0, 20.0]).max() < 1.0  # DARK applies to the spike, within a pixel


def test_refine_none_returns_the_argmax_and_unknown_refinements_are_refused():
    hm = gaussian_map(20.3, 30.7)
    assert HeatmapCodec((192, 192), refine="none").decode(hm)[0][0].tolist() == [20.0, 31.0]
    with pytest.raises(ValueError, match="refine must be one of"):
        HeatmapCodec((192, 192), refine="dark2")


def test_decode_leaves_border_peaks_unrefined_and_zero_heatmaps_at_origin():
    codec = HeatmapCodec((64, 64))
    hm = np.zeros((2, 16, 16), np.float32)
    hm[0, 0, 5] = 1.0
    hm[0, 0, 6] = 0.9
    coords, scores = codec.decode(hm)
    assert coords[0].tolist() == [5.0, 0.0]
    assert coords[1].tolist() == [0.0, 0.0] and scores[1] == 0


def test_decode_batches_match_single_images():
    codec = HeatmapCodec((64, 64))
    rng = np.random.default_rng(1)
    hm = rng.random((3, 5, 16, 16)).astype(np.float32)
    c, s = codec.decode(hm)
    for i in range(3):
        ci, si = codec.decode(hm[i])
        assert np.array_equal(ci, c[i]) and np.array_equal(si, s[i])


def test_bad_shapes_raise():
    codec = HeatmapCodec((64, 64))
    with pytest.raises(ValueError):
        codec.encode(np.zeros((3, 3)))
    with pytest.raises(ValueError):
        codec.decode(np.zeros((16, 16)))
