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


@pytest.mark.parametrize("unbiased", [False, True])
@pytest.mark.parametrize("sigma", [1.75, 2.75])
def test_encode_draws_a_whole_window_for_sigmas_whose_3_sigma_is_not_whole(sigma, unbiased):
    # used to raise "could not broadcast (11,11) into (12,12)": the patch and the window had different sizes
    hm, w = HeatmapCodec((192, 256), sigma=sigma, unbiased=unbiased).encode(np.array([[100.0, 120.0]]))
    r = int(3 * sigma)  # the pixels within 3 sigma of the rounded position (25, 30)
    assert w.tolist() == [1.0]
    assert np.unravel_index(hm[0].argmax(), hm[0].shape) == (30, 25)
    ys, xs = np.nonzero(hm[0])
    assert (xs.min(), xs.max(), ys.min(), ys.max()) == (25 - r, 25 + r, 30 - r, 30 + r)
    assert xs.size == (2 * r + 1) ** 2


@pytest.mark.parametrize("sigma", [1.5, 2.5])
def test_unbiased_peak_stays_on_the_joint_near_the_left_and_top_edges(sigma):
    # int(mu - 3 sigma) truncated towards zero there: the window started a pixel late, the peak landed in column 2
    codec = HeatmapCodec((192, 256), sigma=sigma, unbiased=True)
    hm, w = codec.encode(np.array([[4.0, 80.0], [80.0, 4.0]]))  # heatmap (1, 20) and (20, 1)
    assert w.tolist() == [1.0, 1.0]
    assert np.unravel_index(hm[0].argmax(), hm[0].shape) == (20, 1)
    assert np.unravel_index(hm[1].argmax(), hm[1].shape) == (1, 20)
    coords, _ = codec.decode(hm)
    np.testing.assert_allclose(coords, [[1.0, 20.0], [20.0, 1.0]], atol=0.05)


def test_a_window_ending_just_before_the_map_gets_weight_zero():
    codec = HeatmapCodec((192, 256))  # sigma 2: window of 6 pixels each side
    # -30.4 / 4 = -7.6 -> int(-7.1) = -7, window -13..-1: no pixel on the map (was weight 1, empty heatmap)
    # -26.4 / 4 = -6.6 -> -6, window -12..0: column 0 still holds the Gaussian's tail
    kp = np.array([[-30.4, 100.0], [100.0, -30.4], [-26.4, 100.0], [100.0, -26.4]])
    hm, w = codec.encode(kp)
    assert w.tolist() == [0.0, 0.0, 1.0, 1.0]
    assert hm[0].max() == hm[1].max() == 0
    assert hm[2, 25, 0] == hm[3, 0, 25] == pytest.approx(np.exp(-36 / 8), rel=1e-6)


def test_every_sigma_encodes_and_decodes_anywhere_on_the_map():
    """Sigmas 1 to 3.5 in quarter steps, joints anywhere on the map (border band included), both encodings."""
    w, h = 48, 64
    rng = np.random.default_rng(0)
    corners = np.array([[0, 0], [w - 1, h - 1], [-0.49, h - 0.51], [w - 0.51, -0.49], [0.4, 30.0], [30.0, 62.6]])
    for sigma in np.arange(1.0, 3.51, 0.25):
        pos = np.concatenate([corners, np.stack([rng.uniform(-0.49, w - 0.51, 400), rng.uniform(-0.49, h - 0.51, 400)], 1)])
        margin = 3 * sigma + 1
        interior = ((pos >= margin) & (pos <= np.array([w - 1, h - 1]) - margin)).all(axis=1)
        assert 50 < interior.sum() < len(pos) - 50  # both bands well sampled
        for unbiased in (False, True):
            codec = HeatmapCodec((192, 256), sigma=float(sigma), unbiased=unbiased)
            hm, weights = codec.encode(pos * 4)
            assert (weights == 1).all()
            coords, _ = codec.decode(hm)
            err = np.abs(coords - pos).max(axis=1)
            flat = hm.reshape(len(pos), -1).argmax(axis=1)
            peak = np.stack([flat % w, flat // w], axis=1)
            assert np.array_equal(peak[~interior], np.floor(pos[~interior] + 0.5)), (sigma, unbiased)
            assert err[interior].max() <= (0.05 if unbiased else 0.5 + 1e-4), (sigma, unbiased)


def old_encode(codec: HeatmapCodec, kp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The encoder before the border fixes (correct for integer 3 sigma): the reference existing targets came from."""
    w, h = codec.heatmap_size
    s, radius = codec.sigma, 3 * codec.sigma
    size = int(2 * radius + 1)
    g1, c = np.arange(size, dtype=np.float64), size // 2
    gaussian = np.exp(-((g1[None, :] - c) ** 2 + (g1[:, None] - c) ** 2) / (2 * s**2)).astype(np.float32)
    hm, wt = np.zeros((len(kp), h, w), np.float32), np.ones(len(kp), np.float32)
    for j, (x, y) in enumerate(kp / 4):
        mu_x, mu_y = int(x + 0.5), int(y + 0.5)
        x0, y0, x1, y1 = int(mu_x - radius), int(mu_y - radius), int(mu_x + radius + 1), int(mu_y + radius + 1)
        if x0 >= w or y0 >= h or x1 < 0 or y1 < 0:
            wt[j] = 0
            continue
        gx, gy = slice(max(0, -x0), min(x1, w) - x0), slice(max(0, -y0), min(y1, h) - y0)
        if codec.unbiased:
            ex = np.exp(-((g1 - c - (x - mu_x)) ** 2) / (2 * s**2))
            ey = np.exp(-((g1 - c - (y - mu_y)) ** 2) / (2 * s**2))
            patch = np.outer(ey[gy], ex[gx])
        else:
            patch = gaussian[gy, gx]
        hm[j, max(0, y0):min(y1, h), max(0, x0):min(x1, w)] = patch
    return hm, wt


@pytest.mark.parametrize("unbiased", [False, True])
@pytest.mark.parametrize("input_size", [(192, 256), (288, 384)])  # the default sigmas, 2 and 3
def test_default_sigma_targets_are_bit_for_bit_those_of_the_old_encoder(input_size, unbiased):
    codec = HeatmapCodec(input_size, unbiased=unbiased)
    rng = np.random.default_rng(1)
    iw, ih = input_size
    lo = -4 * (3 * codec.sigma + 3)  # from a few pixels beyond the window's reach left of / above the map ...
    edge = np.stack(np.meshgrid(np.arange(lo, 24, 0.8), [-2.0, 0.0, 100.0]), -1).reshape(-1, 2)  # dense at the edge
    kp = np.concatenate([
        np.stack([rng.uniform(lo, iw - lo, 1500), rng.uniform(lo, ih - lo, 1500)], 1),  # ... to as far right / below
        np.stack([rng.integers(-40, iw + 40, 500), rng.integers(-40, ih + 40, 500)], 1) + 0.0,  # also ties at .5
        edge, edge[:, ::-1],
    ])
    hm, w = codec.encode(kp)
    ref_hm, ref_w = old_encode(codec, kp)
    newly_zero = (ref_w == 1) & (ref_hm.reshape(len(kp), -1).max(axis=1) == 0)  # windows ending on column/row -1
    assert newly_zero.sum() > 10 and (w[newly_zero] == 0).all() and (hm[newly_zero] == 0).all()
    keep = ~newly_zero
    assert np.array_equal(w[keep], ref_w[keep])
    assert np.array_equal(hm[keep], ref_hm[keep])
    assert (w[keep] == 1).sum() > 1500 and (w[keep] == 0).sum() > 100
