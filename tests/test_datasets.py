"""Dataset loaders and augmentation: joints stay on the body through every transform."""
from pathlib import Path

import numpy as np
import pytest
import scipy.io as sio

from hpe_utils.codec import HeatmapCodec
from hpe_utils.datasets import (
    AugmentConfig, PoseSample, TopDownDataset, coco_samples, load_lsp_joints, lsp_samples, mpii_samples,
    sample_augmentation, warp_sample,
)
from hpe_utils.skeletons import COCO17, LSP14, MPII16
from hpe_utils.transforms import box_to_center_scale

FIX = Path(__file__).resolve().parent / "fixtures"


def test_both_lsp_layouts_give_the_same_zero_based_joints():
    kp_et, lab_et = load_lsp_joints(FIX / "lsp" / "joints.mat")
    kp_or, lab_or = load_lsp_joints(FIX / "lsp_original" / "joints.mat")
    raw = sio.loadmat(FIX / "lsp" / "joints.mat")["joints"]
    assert kp_et.shape == (6, 14, 2) and kp_or.shape == (2, 14, 2)
    labelled = raw[:, 2, 0] > 0
    assert np.allclose(kp_et[0][labelled], raw[labelled, :2, 0] - 1)
    assert np.allclose(kp_or[:, labelled[None].repeat(1, 0)[0]], kp_et[:2, labelled])
    assert (lab_et[0] == labelled).all()
    assert lab_or.all()  # the original LSP labels every joint
    assert (kp_et[0][~labelled] == 0).all()


def test_lsp_joints_with_a_wrong_shape_are_refused(tmp_path):
    sio.savemat(tmp_path / "j.mat", {"joints": np.zeros((5, 3, 2))})
    with pytest.raises(ValueError, match="expected joints of shape"):
        load_lsp_joints(tmp_path / "j.mat")


def test_lsp_samples_convert_to_mpii_with_derived_pelvis_and_thorax():
    s = lsp_samples(FIX / "lsp", range(6), "mpii16")
    lsp = lsp_samples(FIX / "lsp", range(6), "lsp14")
    assert len(s) == 6 and s[0].keypoints.shape == (16, 2) and lsp[0].keypoints.shape == (14, 2)
    for m, l in zip(s, lsp):
        hips_ok = l.visible[2] > 0 and l.visible[3] > 0
        assert m.visible[6] == float(hips_ok)
        if hips_ok:
            assert np.allclose(m.keypoints[6], (l.keypoints[2] + l.keypoints[3]) / 2)
        assert np.allclose(m.keypoints[8], l.keypoints[12])  # neck -> upper_neck
    assert Path(s[0].image).name == "im00001.jpg"


def test_coco_samples_one_per_annotated_person_skipping_empty_ones():
    s = coco_samples(FIX / "coco" / "person_keypoints.json", FIX / "coco" / "images")
    import json

    anns = json.loads((FIX / "coco" / "person_keypoints.json").read_text())["annotations"]
    assert len(s) == sum(a["num_keypoints"] > 0 and not a["iscrowd"] for a in anns)
    for smp in s:
        assert smp.keypoints.shape == (17, 2) and set(np.unique(smp.visible)) <= {0.0, 1.0}
        a = next(a for a in anns if a["id"] == smp.extra["ann_id"])
        assert smp.visible.sum() == a["num_keypoints"]
        assert smp.scale[0] / smp.scale[1] == pytest.approx(0.75, rel=1e-4)


def test_mpii_samples_follow_the_original_loader():
    import json

    recs = json.loads((FIX / "mpii" / "test_mpii.json").read_text())
    s = mpii_samples(FIX / "mpii" / "test_mpii.json", FIX / "mpii" / "images")
    r = recs[0]
    assert np.allclose(s[0].keypoints, np.array(r["joints"]) - 1)
    assert s[0].center[1] == pytest.approx(r["center"][1] - 1 + 15 * r["scale"])
    assert s[0].scale[0] == pytest.approx(r["scale"] * 1.25)


def _pose_sample():
    """A made-up LSP pose on a 200x200 canvas, joints on distinct cells of a 5x5 grid."""
    cells = np.random.default_rng(3).permutation(25)[:14]
    kp = np.stack([40 + 30 * (cells % 5), 40 + 30 * (cells // 5)], axis=1).astype(np.float32)
    c, s = box_to_center_scale([20, 20, 160, 160], 1.0)
    return PoseSample("mem", kp, np.ones(14, np.float32), c, s)


def _blob(x: float, y: float, size: int = 200) -> np.ndarray:
    img = np.zeros((size, size, 3), np.uint8)
    img[int(y) - 3:int(y) + 4, int(x) - 3:int(x) + 4] = 255
    return img


@pytest.mark.parametrize("scale,rot,flip", [(1.0, 0.0, False), (1.3, 25.0, False), (0.8, -40.0, True), (1.0, 0.0, True)])
def test_augmented_joints_land_on_their_blobs(scale, rot, flip):
    smp = _pose_sample()
    perm = LSP14.flip_permutation()
    for j in range(14):
        # an image with a white square at joint j only; after a flip that square is joint perm[j]'s
        src = perm[j] if flip else j
        patch, kp, _ = warp_sample(_blob(*smp.keypoints[src]), smp, (128, 128), scale, rot, flip, perm)
        w = patch[..., 0].astype(float)
        if not ((kp[j] > 5) & (kp[j] < 122)).all():
            continue  # the square is (partly) outside the crop
        ys, xs = np.mgrid[: w.shape[0], : w.shape[1]]
        centre = np.array([(xs * w).sum() / w.sum(), (ys * w).sum() / w.sum()])
        assert np.abs(centre - kp[j]).max() < 1.0, (j, centre, kp[j])


def test_flip_swaps_left_and_right():
    smp = _pose_sample()
    img = _blob(100, 100)
    perm = LSP14.flip_permutation()
    _, kp, _ = warp_sample(img, smp, (128, 128), 1.0, 0.0, False, perm)
    _, kpf, _ = warp_sample(img, smp, (128, 128), 1.0, 0.0, True, perm)
    r_ankle, l_ankle = LSP14.index("r_ankle"), LSP14.index("l_ankle")
    assert np.allclose(kpf[r_ankle], [127 - kp[l_ankle][0], kp[l_ankle][1]], atol=1e-3)


def test_augmentation_draws_are_deterministic_per_seed_and_in_range():
    cfg = AugmentConfig((0.7, 1.8), 30.0, 0.6, 0.5)
    a = [sample_augmentation(np.random.default_rng(7), cfg) for _ in range(2)]
    assert a[0] == a[1]
    draws = [sample_augmentation(np.random.default_rng(i), cfg) for i in range(300)]
    s, r, f = map(np.array, zip(*draws))
    assert s.min() >= 0.7 and s.max() <= 1.8 and np.abs(r).max() <= 60
    assert 0.3 < (r != 0).mean() < 0.9 and 0.35 < f.mean() < 0.65


def test_dataset_items_have_shapes_and_targets_at_the_joints():
    samples = lsp_samples(FIX / "lsp", range(6), "mpii16")
    codec = HeatmapCodec((64, 64))
    ds = TopDownDataset(samples, MPII16, codec, AugmentConfig(), seed=1)
    item = ds[0]
    assert item["image"].shape == (3, 64, 64) and item["target"].shape == (16, 16, 16)
    assert item["target_weight"].shape == (16,)
    assert ds[0]["image"].equal(item["image"])  # same epoch, same augmentation
    ds.set_epoch(1)
    assert not ds[0]["image"].equal(item["image"])
    plain = TopDownDataset(samples, MPII16, codec, None)
    it = plain[2]
    smp = samples[2]
    _, kp, vis = warp_sample(plain.load_image(smp.image), smp, (64, 64))
    coords, _ = codec.decode(it["target"].numpy())
    w = it["target_weight"].numpy()
    assert (w[vis == 0] == 0).all()
    ok = w > 0
    assert np.abs(coords[ok] - kp[ok] / 4).max() <= 0.75


def test_coco_dataset_uses_the_coco_skeleton():
    samples = coco_samples(FIX / "coco" / "person_keypoints.json", FIX / "coco" / "images")
    ds = TopDownDataset(samples, COCO17, HeatmapCodec((48, 64)), None)
    assert ds[0]["target"].shape == (17, 16, 12)
