"""Dataset loaders and augmentation: joints stay on the body through every transform."""
import json
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import scipy.io as sio
import torch
from PIL import Image

from hpe_utils.codec import HeatmapCodec
from hpe_utils.datasets import (
    AugmentConfig, DatasetError, PoseSample, TopDownDataset, coco_samples, dataset_samples, load_lsp_joints,
    lsp_samples, mpii_samples, sample_augmentation, warp_sample,
)
from hpe_utils.skeletons import COCO17, LSP14, MPII16
from hpe_utils.transforms import IMAGENET_MEAN, IMAGENET_STD, box_to_center_scale

FIX = Path(__file__).resolve().parent / "fixtures"
COCO_JSON = FIX / "coco" / "person_keypoints.json"


# ------------------------------------------------------------------ LSP / LSPet

def test_lspet_layout_is_zero_based_and_keeps_the_labelled_flags():
    raw = sio.loadmat(FIX / "lsp" / "joints.mat")["joints"]
    assert raw.shape == (14, 3, 6)
    kp, lab = load_lsp_joints(FIX / "lsp" / "joints.mat")
    assert kp.shape == (6, 14, 2) and lab.shape == (6, 14)
    assert kp.dtype == np.float32 and lab.dtype == np.float32
    flags = raw[:, 2, :].T > 0
    assert not flags.all()  # the fixture has unlabelled joints (flag 0 = outside the image)
    assert (lab == flags).all()
    xy = raw[:, :2, :].transpose(2, 0, 1)
    np.testing.assert_allclose(kp[flags], xy[flags] - 1, atol=1e-4)
    assert (kp[~flags] == 0).all()  # unlabelled joints carry no (bogus) coordinates


def test_original_lsp_layout_gives_the_same_joints_and_labels_every_joint():
    raw = sio.loadmat(FIX / "lsp_original" / "joints.mat")["joints"]
    assert raw.shape == (3, 14, 2)
    kp_et, lab_et = load_lsp_joints(FIX / "lsp" / "joints.mat")
    kp_or, lab_or = load_lsp_joints(FIX / "lsp_original" / "joints.mat")
    assert kp_or.shape == (2, 14, 2) and lab_or.shape == (2, 14)
    assert (lab_or == 1).all()  # the original LSP annotates every joint; its flag means "visible", not "labelled"
    np.testing.assert_allclose(kp_or, raw[:2].transpose(2, 1, 0) - 1, atol=1e-4)
    both = lab_et[:2] > 0
    np.testing.assert_array_equal(kp_or[both], kp_et[:2][both])


def test_coordinates_only_layout_and_non_finite_joints(tmp_path):
    j = np.ones((14, 2, 3)) * 11
    j[4, 0, 1] = np.nan
    sio.savemat(tmp_path / "j.mat", {"joints": j})
    kp, lab = load_lsp_joints(tmp_path / "j.mat")
    assert kp.shape == (3, 14, 2)
    assert lab.sum() == 3 * 14 - 1 and lab[1, 4] == 0 and (kp[1, 4] == 0).all()
    assert (kp[lab > 0] == 10).all()


@pytest.mark.parametrize("shape", [(5, 3, 2), (14, 4, 2), (3, 13, 2), (2, 14, 3), (14, 3), (28, 3)])
def test_lsp_joints_with_a_wrong_shape_are_refused(tmp_path, shape):
    sio.savemat(tmp_path / "j.mat", {"joints": np.zeros(shape)})
    with pytest.raises(ValueError, match="joints"):
        load_lsp_joints(tmp_path / "j.mat")


def test_lsp_samples_convert_to_mpii16_with_derived_pelvis_and_thorax():
    kp14, lab14 = load_lsp_joints(FIX / "lsp" / "joints.mat")
    samples = lsp_samples(FIX / "lsp", None, "mpii16")
    assert len(samples) == 6
    derived = {"pelvis": ("r_hip", "l_hip"), "thorax": ("r_shoulder", "l_shoulder")}
    unlabelled_parents = Counter()
    for i, s in enumerate(samples):
        assert s.extra["index"] == i and Path(s.image).name == f"im{i + 1:05d}.jpg" and Path(s.image).exists()
        assert s.keypoints.shape == (16, 2) and s.visible.shape == (16,)
        k, lab = kp14[i], lab14[i]
        for m, name in enumerate(MPII16.joints):
            if name in derived:
                a, b = (LSP14.index(p) for p in derived[name])
                if lab[a] > 0 and lab[b] > 0:
                    assert s.visible[m] == 1
                    np.testing.assert_allclose(s.keypoints[m], (k[a] + k[b]) / 2, atol=1e-5)
                else:  # a parent is unlabelled: the derived joint is unlabelled too
                    unlabelled_parents[name] += 1
                    assert s.visible[m] == 0 and (s.keypoints[m] == 0).all()
                continue
            src = LSP14.index("neck" if name == "upper_neck" else name)
            assert s.visible[m] == lab[src]
            if lab[src] > 0:
                np.testing.assert_array_equal(s.keypoints[m], k[src])
        # the crop frames every labelled joint
        _, kp, vis = warp_sample(np.zeros((500, 500, 3), np.uint8), s, (64, 64))
        assert ((kp[vis > 0] >= 0) & (kp[vis > 0] <= 63)).all()
    # the fixture exercises both branches for both derived joints
    assert unlabelled_parents["pelvis"] >= 1 and unlabelled_parents["thorax"] >= 1


def test_lsp_samples_index_subset_and_lsp14():
    s = lsp_samples(FIX / "lsp", range(2, 4), "lsp14", aspect_ratio=0.75)
    assert [x.extra["index"] for x in s] == [2, 3]
    assert [Path(x.image).name for x in s] == ["im00003.jpg", "im00004.jpg"]
    assert s[0].keypoints.shape == (14, 2)
    assert s[0].scale[0] / s[0].scale[1] == pytest.approx(0.75, rel=1e-5)
    with pytest.raises(ValueError, match="lsp14 or mpii16"):
        lsp_samples(FIX / "lsp", None, "coco17")


# ------------------------------------------------------------------ COCO

def test_coco_samples_one_per_annotated_person_skipping_empty_and_crowd():
    data = json.loads(COCO_JSON.read_text())
    anns = data["annotations"]
    assert any(a["num_keypoints"] == 0 for a in anns) and any(a["iscrowd"] for a in anns)  # fixture covers both
    samples = coco_samples(COCO_JSON, FIX / "coco" / "images")
    expected = [a["id"] for a in anns if a["num_keypoints"] > 0 and not a["iscrowd"]]
    assert [s.extra["ann_id"] for s in samples] == expected
    assert 2 in Counter(s.extra["image_id"] for s in samples).values()  # the image with two people
    by_id = {a["id"]: a for a in anns}
    for s in samples:
        kps = np.asarray(by_id[s.extra["ann_id"]]["keypoints"], dtype=np.float32).reshape(17, 3)
        assert s.keypoints.shape == (17, 2) and s.keypoints.dtype == np.float32
        np.testing.assert_array_equal(s.keypoints, kps[:, :2])
        np.testing.assert_array_equal(s.visible, (kps[:, 2] > 0).astype(np.float32))  # v=1 and v=2 both count
        assert s.visible.sum() == by_id[s.extra["ann_id"]]["num_keypoints"]
        assert s.scale[0] / s.scale[1] == pytest.approx(0.75, rel=1e-4)
        assert Path(s.image).exists()


def _coco_json(tmp_path, anns):
    d = {"images": [{"id": 1, "file_name": "a.jpg", "width": 100, "height": 80}], "categories": [{"id": 1}],
         "annotations": anns}
    p = tmp_path / "ann.json"
    p.write_text(json.dumps(d))
    return p


def test_coco_visibility_comes_from_v_greater_than_zero(tmp_path):
    kps = [0.0] * 51
    kps[0:3] = [10, 20, 2]  # visible
    kps[3:6] = [30, 40, 1]  # labelled but occluded
    kps[6:9] = [50, 60, 0]  # not labelled
    anns = [{"id": 7, "image_id": 1, "keypoints": kps, "num_keypoints": 2, "bbox": [5, 5, 50, 60], "iscrowd": 0},
            {"id": 8, "image_id": 1, "keypoints": kps, "num_keypoints": 2, "bbox": [5, 5, 50, 60], "iscrowd": 1},
            {"id": 9, "image_id": 1, "keypoints": [0.0] * 51, "num_keypoints": 0, "bbox": [5, 5, 50, 60], "iscrowd": 0}]
    s = coco_samples(_coco_json(tmp_path, anns), tmp_path)
    assert [x.extra["ann_id"] for x in s] == [7]
    assert s[0].visible[:4].tolist() == [1, 1, 0, 0]
    assert coco_samples(_coco_json(tmp_path, anns), tmp_path, min_keypoints=3) == []


def test_coco_annotation_with_the_wrong_number_of_keypoints_is_refused(tmp_path):
    anns = [{"id": 7, "image_id": 1, "keypoints": [1.0, 1.0, 2] * 14, "num_keypoints": 14, "bbox": [5, 5, 50, 60]}]
    with pytest.raises(ValueError, match="expected 17"):
        coco_samples(_coco_json(tmp_path, anns), tmp_path)


# ------------------------------------------------------------------ MPII

def test_mpii_samples_follow_the_original_loader():
    recs = json.loads((FIX / "mpii" / "test_mpii.json").read_text())
    samples = mpii_samples(FIX / "mpii" / "test_mpii.json", FIX / "mpii" / "images")
    assert len(samples) == len(recs) == 2
    for r, s in zip(recs, samples):
        assert Path(s.image).exists()
        np.testing.assert_allclose(s.keypoints, np.asarray(r["joints"]) - 1, atol=1e-4)  # 1-based -> 0-based
        np.testing.assert_array_equal(s.visible, np.asarray(r["joints_vis"], dtype=np.float32))
        assert s.center[0] == pytest.approx(r["center"][0] - 1, abs=1e-4)
        assert s.center[1] == pytest.approx(r["center"][1] - 1 + 15 * r["scale"], abs=1e-4)  # moved down
        np.testing.assert_allclose(s.scale, [1.25 * r["scale"]] * 2, rtol=1e-6)
        # centre/scale frame the person: every labelled joint falls inside the crop
        _, kp, vis = warp_sample(np.zeros((10, 10, 3), np.uint8), s, (64, 64))
        assert ((kp[vis > 0] >= 0) & (kp[vis > 0] <= 63)).all()


def test_mpii_missing_centre_sentinel_is_left_alone(tmp_path):
    # the original loader: `if c[0] != -1: c[1] += 15 * s; s *= 1.25` on the raw value, *then* c -= 1
    p = tmp_path / "m.json"
    p.write_text(json.dumps([{"image": "x.jpg", "center": [-1, -1], "scale": 2.0,
                              "joints": [[0, 0]] * 16, "joints_vis": [0] * 16}]))
    s = mpii_samples(p, tmp_path)[0]
    assert s.center.tolist() == [-2, -2] and s.scale.tolist() == [2.0, 2.0]


def _unpack(root: Path, ann_src: Path, ann_rel: str, img_src: Path, img_rel: str) -> Path:
    """Copy an annotation file and its images into ``root`` in a given layout; returns the json path."""
    ann = root / ann_rel
    ann.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(ann_src, ann)
    shutil.copytree(img_src, root / img_rel, dirs_exist_ok=True)
    return ann


def test_mpii_images_are_found_in_the_layouts_people_unpack(tmp_path):
    src_json, src_img = FIX / "mpii" / "test_mpii.json", FIX / "mpii" / "images"
    # beside the json (the shared sample), images/ beside it, and the original mpii/annot + mpii/images
    for case, (ann_rel, img_rel) in enumerate((("m.json", "."), ("m.json", "images"), ("annot/m.json", "images"))):
        root = tmp_path / str(case)
        samples = mpii_samples(_unpack(root, src_json, ann_rel, src_img, img_rel))
        assert len(samples) == 2 and all(Path(s.image).parent == root / img_rel for s in samples)
        assert all(Path(s.image).is_file() for s in samples)
    lone = tmp_path / "lone" / "m.json"
    lone.parent.mkdir()
    shutil.copy(src_json, lone)
    with pytest.raises(FileNotFoundError, match=r"--images"):
        mpii_samples(lone)


def test_coco_images_are_found_in_the_split_folder(tmp_path):
    # the COCO download: annotations/person_keypoints_val2017.json with the pictures in val2017/
    ann = _unpack(tmp_path, COCO_JSON, "annotations/person_keypoints_val2017.json", FIX / "coco" / "images", "val2017")
    samples = coco_samples(ann)
    assert samples and all(Path(s.image).parent == tmp_path / "val2017" and Path(s.image).is_file() for s in samples)
    assert [s.image for s in coco_samples(COCO_JSON)] == [s.image for s in coco_samples(COCO_JSON, FIX / "coco" / "images")]


def test_dataset_samples_dispatch_and_refuse_mismatched_skeletons_and_ranges():
    lsp = dataset_samples("lsp", FIX / "lsp", "mpii16", 1.0, 1.25, range(0, 3))
    assert [s.image for s in lsp] == [s.image for s in lsp_samples(FIX / "lsp", range(0, 3), "mpii16", 1.0)]
    assert len(dataset_samples("mpii", FIX / "mpii" / "test_mpii.json", "mpii16", 1.0)) == 2
    assert len(dataset_samples("coco", COCO_JSON, "coco17", 0.75)) == len(coco_samples(COCO_JSON))
    with pytest.raises(ValueError, match="coco annotations give coco17 joints, but the skeleton is mpii16"):
        dataset_samples("coco", COCO_JSON, "mpii16", 0.75)
    with pytest.raises(ValueError, match="lsp only"):
        dataset_samples("mpii", FIX / "mpii" / "test_mpii.json", "mpii16", 1.0, indices=range(1))
    with pytest.raises(ValueError, match="one of lsp, coco, mpii"):  # the registry's names
        dataset_samples("h36m", FIX, "mpii16", 1.0)


def test_a_json_without_the_expected_fields_names_the_missing_one(tmp_path):
    p = tmp_path / "m.json"
    p.write_text(json.dumps([{"image": "x.jpg", "scale": 1.0}]))
    with pytest.raises(DatasetError, match=r"cannot read mpii data from .*m\.json: a record has no 'center' field"):
        dataset_samples("mpii", p, "mpii16", 1.0, images=tmp_path)


# ------------------------------------------------------------------ augmentation

# distinct colour directions, so a blob keeps its identity when bilinear sampling dims it
COLOURS = np.array([
    [255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 0], [255, 0, 255], [0, 255, 255], [255, 255, 255],
    [255, 128, 0], [128, 0, 255], [0, 255, 128], [255, 0, 128], [128, 255, 0], [0, 128, 255], [255, 128, 255],
], dtype=np.uint8)
UNLABELLED = LSP14.index("l_wrist")


def _pose_sample() -> PoseSample:
    """A made-up LSP-14 pose on a 200x200 canvas, joints on distinct cells of a 5x5 grid, l_wrist unlabelled."""
    cells = np.random.default_rng(3).permutation(25)[:14]
    kp = np.stack([40 + 30 * (cells % 5), 40 + 30 * (cells // 5)], axis=1).astype(np.float32)
    vis = np.ones(14, np.float32)
    vis[UNLABELLED] = 0
    c, s = box_to_center_scale([20, 20, 160, 160], 1.0)
    return PoseSample("painted.png", kp, vis, c, s)


def _painted(sample: PoseSample, half: int = 2) -> np.ndarray:
    """Black 200x200 image with a (2*half+1)-pixel square of joint j's colour at each labelled joint j."""
    img = np.zeros((200, 200, 3), np.uint8)
    for j, (x, y) in enumerate(sample.keypoints.astype(int)):
        if sample.visible[j] > 0:
            img[y - half:y + half + 1, x - half:x + half + 1] = COLOURS[j]
    return img


def _blob_centre(patch: np.ndarray, colour_index: int) -> np.ndarray | None:
    """Intensity-weighted centroid of the pixels whose colour direction is nearest to COLOURS[colour_index]."""
    p = patch.astype(np.float64)
    bright = p.sum(axis=2)
    unit = COLOURS / np.linalg.norm(COLOURS.astype(np.float64), axis=1, keepdims=True)
    nearest = (p @ unit.T).argmax(axis=2)
    w = np.where((bright > 60) & (nearest == colour_index), bright, 0.0)
    if w.sum() == 0:
        return None
    ys, xs = np.mgrid[: w.shape[0], : w.shape[1]]
    return np.array([(xs * w).sum() / w.sum(), (ys * w).sum() / w.sum()])


@pytest.mark.parametrize("scale,rot,flip", [(1.0, 0.0, False), (1.3, 25.0, False), (0.8, -40.0, True),
                                            (1.0, 0.0, True), (1.2, 60.0, True)])
def test_augmented_joints_land_on_their_blobs(scale, rot, flip):
    smp = _pose_sample()
    perm = LSP14.flip_permutation()
    patch, kp, vis = warp_sample(_painted(smp), smp, (128, 128), scale, rot, flip, perm)
    assert patch.shape == (128, 128, 3) and patch.dtype == np.uint8 and kp.shape == (14, 2)
    # after a flip, keypoint j is the mirrored joint perm[j], so it must sit on perm[j]'s colour
    src = perm if flip else np.arange(14)
    np.testing.assert_array_equal(vis, smp.visible[src])
    assert vis[LSP14.flip_permutation()[UNLABELLED] if flip else UNLABELLED] == 0
    checked = 0
    for j in range(14):
        if vis[j] == 0 or not ((kp[j] > 4) & (kp[j] < 123)).all():
            continue  # unlabelled, or the blob is (partly) outside the crop
        centre = _blob_centre(patch, src[j])
        assert centre is not None, j
        assert np.abs(centre - kp[j]).max() < 1.5, (j, centre, kp[j])
        checked += 1
    assert checked >= 10


def test_flip_puts_the_right_ankle_on_the_mirrored_left_ankle_blob():
    smp = _pose_sample()
    perm = LSP14.flip_permutation()
    img = _painted(smp)
    r_ankle, l_ankle = LSP14.index("r_ankle"), LSP14.index("l_ankle")
    plain, kp, _ = warp_sample(img, smp, (128, 128), 1.0, 0.0, False, perm)
    flipped, kpf, _ = warp_sample(img, smp, (128, 128), 1.0, 0.0, True, perm)
    np.testing.assert_array_equal(flipped, plain[:, ::-1])
    l_blob = _blob_centre(flipped, l_ankle)
    assert np.abs(kpf[r_ankle] - l_blob).max() < 1.0
    assert np.allclose(kpf[r_ankle], [127 - kp[l_ankle][0], kp[l_ankle][1]], atol=1e-4)
    with pytest.raises(ValueError, match="flip"):
        warp_sample(img, smp, (128, 128), flip=True)


def test_augmentation_draws_are_deterministic_per_seed_and_in_range():
    cfg = AugmentConfig((0.7, 1.8), 30.0, 0.6, 0.5)
    a = [sample_augmentation(np.random.default_rng(7), cfg) for _ in range(2)]
    assert a[0] == a[1]
    assert sample_augmentation(np.random.default_rng(8), cfg) != a[0]
    draws = [sample_augmentation(np.random.default_rng(i), cfg) for i in range(300)]
    s, r, f = map(np.array, zip(*draws))
    assert s.min() >= 0.7 and s.max() <= 1.8 and np.abs(r).max() <= 60
    assert 0.3 < (r != 0).mean() < 0.9 and 0.35 < f.mean() < 0.65
    assert sample_augmentation(np.random.default_rng(0), AugmentConfig(rotation_prob=0.0, flip_prob=0.0))[1:] == (0.0, False)


# ------------------------------------------------------------------ TopDownDataset

def test_dataset_items_have_shapes_dtypes_and_targets_at_the_joints():
    samples = lsp_samples(FIX / "lsp", range(6), "mpii16")
    codec = HeatmapCodec((64, 64))
    plain = TopDownDataset(samples, MPII16, codec, None)
    assert len(plain) == 6
    for i, smp in enumerate(samples):
        it = plain[i]
        assert it["image"].shape == (3, 64, 64) and it["image"].dtype == torch.float32
        assert it["target"].shape == (16, 16, 16) and it["target"].dtype == torch.float32
        assert it["target_weight"].shape == (16,) and it["target_weight"].dtype == torch.float32
        assert it["center"].dtype == torch.float32 and it["scale"].dtype == torch.float32 and it["index"] == i
        _, kp, vis = warp_sample(plain.load_image(smp.image), smp, (64, 64))
        coords, _ = codec.decode(it["target"].numpy())
        w = it["target_weight"].numpy()
        assert (w[vis == 0] == 0).all() and (it["target"].numpy()[w == 0] == 0).all()
        ok = w > 0
        assert ok.sum() >= 10
        assert np.abs(coords[ok] - kp[ok] / 4).max() <= 1.0  # within one heatmap pixel
    # fixture image 1 has no label for its right ankle, image 3 none for the right arm (so no thorax)
    assert plain[0]["target_weight"][MPII16.index("r_ankle")] == 0
    assert plain[2]["target_weight"][MPII16.index("thorax")] == 0

    aug = TopDownDataset(samples, MPII16, codec, AugmentConfig(), seed=1)
    first = aug[0]
    assert aug[0]["image"].equal(first["image"])  # same epoch, same augmentation
    aug.set_epoch(1)
    assert not aug[0]["image"].equal(first["image"])


def _orientation(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> float:
    """Sign of the triangle a, b, c's area: +1 or -1, reversed by a mirror image."""
    u, v = b - a, c - a
    return float(np.sign(u[0] * v[1] - u[1] * v[0]))


def test_augmented_items_keep_targets_on_the_painted_joints(tmp_path):
    """End to end: random scale/rotation/flip in the dataset, then each target's peak sits on its joint's blob."""
    smp = _pose_sample()
    Image.fromarray(_painted(smp)).save(tmp_path / "painted.png")
    samples = [PoseSample(str(tmp_path / "painted.png"), smp.keypoints, smp.visible, smp.center, smp.scale)] * 12
    codec = HeatmapCodec((128, 128))
    ds = TopDownDataset(samples, LSP14, codec, AugmentConfig(), seed=5)
    perm = LSP14.flip_permutation()
    ref = [LSP14.index(n) for n in ("neck", "head_top", "r_hip")]
    ref_sign = _orientation(*smp.keypoints[ref])
    flips, checked = [], 0
    for i in range(len(ds)):
        it = ds[i]
        x = it["image"].numpy().transpose(1, 2, 0)
        patch = np.clip(np.rint((x * IMAGENET_STD + IMAGENET_MEAN) * 255), 0, 255).astype(np.uint8)
        c = [_blob_centre(patch, j) for j in ref]
        if any(v is None for v in c):
            continue
        # a mirror image reverses the orientation of any triangle of joints
        flipped = _orientation(*c) != ref_sign
        flips.append(bool(flipped))
        coords, _ = codec.decode(it["target"].numpy())
        w = it["target_weight"].numpy()
        assert w[perm[UNLABELLED] if flipped else UNLABELLED] == 0
        for j in np.flatnonzero(w > 0):
            blob = _blob_centre(patch, perm[j] if flipped else j)
            if blob is None or not ((blob > 4) & (blob < 123)).all():
                continue
            assert np.abs(coords[j] * 4 - blob).max() <= 4.0, (i, j, coords[j] * 4, blob)  # one heatmap pixel
            checked += 1
    assert True in flips and False in flips and checked >= 80


def test_coco_dataset_uses_the_coco_skeleton():
    samples = coco_samples(COCO_JSON, FIX / "coco" / "images")
    ds = TopDownDataset(samples, COCO17, HeatmapCodec((48, 64)), None)
    for i, smp in enumerate(samples):
        it = ds[i]
        assert it["image"].shape == (3, 64, 48) and it["target"].shape == (17, 16, 12)
        assert (it["target_weight"].numpy()[smp.visible == 0] == 0).all()


# ------------------------------------------------------------------ pixel-only augmentations

def test_colour_jitter_is_off_at_zero_deterministic_and_keeps_grey_pixels_grey():
    from hpe_utils.transforms import photometric_jitter

    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, size=(32, 24, 3), dtype=np.uint8)
    assert photometric_jitter(img, np.random.default_rng(1), 0.0) is img
    a = photometric_jitter(img, np.random.default_rng(1), 0.4)
    assert a.shape == img.shape and a.dtype == np.uint8 and not np.array_equal(a, img)
    assert np.array_equal(a, photometric_jitter(img, np.random.default_rng(1), 0.4))
    grey = np.repeat(np.linspace(0, 255, 32 * 24).reshape(32, 24, 1), 3, axis=2).astype(np.uint8)
    for seed in range(5):  # brightness, contrast and saturation never tint a grey pixel
        g = photometric_jitter(grey, np.random.default_rng(seed), 0.5).astype(int)
        assert np.abs(g[..., 0] - g[..., 1]).max() <= 1 and np.abs(g[..., 1] - g[..., 2]).max() <= 1


def test_random_erase_paints_exactly_one_rectangle_of_the_requested_size():
    from hpe_utils.transforms import random_erase

    img = np.full((64, 48, 3), 7, dtype=np.uint8)
    for seed in range(20):
        out = random_erase(img, np.random.default_rng(seed), area=(0.05, 0.1))
        assert (img == 7).all()  # the input is never modified
        ys, xs = np.nonzero((out != 7).any(axis=2))
        box = (ys.max() - ys.min() + 1) * (xs.max() - xs.min() + 1)
        assert 0.04 * 64 * 48 <= box <= 0.11 * 64 * 48  # rounding of the sides
        assert len(ys) >= 0.97 * box  # filled (noise may hit the background value now and then), nothing outside


def test_pixel_augmentations_leave_crops_geometry_and_targets_untouched():
    samples = lsp_samples(FIX / "lsp", range(6), "mpii16")
    codec = HeatmapCodec((64, 64))
    base = TopDownDataset(samples, MPII16, codec, AugmentConfig(), seed=3)
    pix = TopDownDataset(samples, MPII16, codec, AugmentConfig(color_jitter=0.4, erase_prob=1.0), seed=3)
    for i in range(len(samples)):
        a, b = base[i], pix[i]
        assert torch.equal(a["target"], b["target"]) and torch.equal(a["target_weight"], b["target_weight"])
        assert torch.equal(a["scale"], b["scale"])
        assert not torch.equal(a["image"], b["image"])



def test_a_pasted_neighbour_lands_beside_the_centre_and_leaves_the_input_alone():
    from hpe_utils.transforms import paste_person

    img = np.full((64, 48, 3), 7, dtype=np.uint8)
    other = np.full((64, 48, 3), 200, dtype=np.uint8)
    outs = []
    for seed in range(10):
        out = paste_person(img, other, np.random.default_rng(seed), size=(0.6, 0.6), shift=(0.5, 0.5))
        assert (img == 7).all() and (other == 200).all()  # neither input is modified
        changed = (out != 7).any(axis=2)
        assert changed.any() and not changed[:, 24].any()  # a half-width shift keeps the middle column clear
        assert out.max() == 200  # the other person's pixels, blended through the feathered ellipse
        outs.append(out)
    assert any(not np.array_equal(outs[0], o) for o in outs[1:])  # the side and placement vary with the seed
    np.testing.assert_array_equal(paste_person(img, other, np.random.default_rng(3)),
                                  paste_person(img, other, np.random.default_rng(3)))
    with pytest.raises(ValueError, match="shape"):
        paste_person(img, other[:32], np.random.default_rng(0))


def test_pasting_neighbours_changes_crops_but_never_the_centred_persons_targets():
    samples = lsp_samples(FIX / "lsp", range(6), "mpii16")
    codec = HeatmapCodec((64, 64))
    base = TopDownDataset(samples, MPII16, codec, AugmentConfig(), seed=3)
    crowd = TopDownDataset(samples, MPII16, codec, AugmentConfig(paste_prob=1.0), seed=3)
    for i in range(len(samples)):
        a, b = base[i], crowd[i]
        assert torch.equal(a["target"], b["target"]) and torch.equal(a["target_weight"], b["target_weight"])
        assert not torch.equal(a["image"], b["image"])
    assert torch.equal(crowd[2]["image"], crowd[2]["image"])  # deterministic per (seed, epoch, index)
    single = TopDownDataset(samples[:1], MPII16, codec, AugmentConfig(paste_prob=1.0), seed=3)
    assert torch.equal(single[0]["image"], TopDownDataset(samples[:1], MPII16, codec, AugmentConfig(), seed=3)[0]["image"])

def test_box_padding_scales_every_loaders_crop_and_bad_values_are_refused():
    mpii = (FIX / "mpii" / "test_mpii.json", FIX / "mpii" / "images")
    loaders = {"lsp": lambda **kw: lsp_samples(FIX / "lsp", range(0, 3), "mpii16", **kw),
               "coco": lambda **kw: coco_samples(COCO_JSON, FIX / "coco" / "images", **kw),
               "mpii": lambda **kw: mpii_samples(*mpii, **kw)}
    for name, load in loaders.items():
        base, tight = load(), load(padding=1.0)
        assert len(base) == len(tight) > 0, name
        for a, b in zip(base, tight):
            np.testing.assert_allclose(b.scale, a.scale / 1.25, rtol=1e-5, err_msg=name)  # 1.25 is the default
            np.testing.assert_allclose(b.center, a.center, err_msg=name)
        with pytest.raises(ValueError, match="box padding must be between"):
            load(padding=0.9)
