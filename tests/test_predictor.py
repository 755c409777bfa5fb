"""Predictor: any image in, keypoints in image pixels out; boxes, batching, flip test, colour order."""
import numpy as np
import pytest
import torch

from hpe_utils.engines import TorchBackend
from hpe_utils.model import PoseResNet
from hpe_utils.predictor import Predictor
from hpe_utils.weights import save_checkpoint


class PeakAt(torch.nn.Module):
    """A fake network that puts each joint's peak where a bright pixel is in the input crop."""

    def __init__(self, joints: int) -> None:
        super().__init__()
        self.joints = joints

    def forward(self, x):
        n, _, h, w = x.shape
        bright = x.mean(dim=1, keepdim=True)  # (N, 1, H, W)
        hm = torch.nn.functional.avg_pool2d(bright, 4)  # stride 4 like the real head
        hm = (hm - hm.amin(dim=(2, 3), keepdim=True))
        return hm.repeat(1, self.joints, 1, 1)


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    torch.manual_seed(0)
    m = PoseResNet(depth=18, num_joints=16, deconv_filters=(32, 32, 32))
    return save_checkpoint(m, tmp_path_factory.mktemp("w") / "tiny.pt", skeleton="mpii16", input_size=(64, 64))


def test_whole_image_is_the_box_without_a_detector(ckpt):
    p = Predictor(ckpt, detector=None)
    img = np.zeros((90, 160, 3), np.uint8)
    res = p(img)
    assert len(res.people) == 1 and res.people[0].box.tolist() == [0, 0, 160, 90]
    assert res.people[0].keypoints.shape == (16, 2) and res.people[0].scores.shape == (16,)
    assert (res.width, res.height) == (160, 90)


def test_keypoints_are_mapped_back_to_image_pixels(ckpt):
    p = Predictor(ckpt, flip=False)
    p.backend = TorchBackend(PeakAt(16), p.device)
    img = np.zeros((300, 400, 3), np.uint8)
    img[118:126, 250:258] = 255  # bright 8x8 patch centred near (253.5, 121.5)
    res = p(img, boxes=[[200, 50, 120, 150]])
    kp = res.people[0].keypoints
    # one crop pixel is ~3.3 image pixels here; a heatmap pixel ~13
    assert np.abs(kp[0] - [253.5, 121.5]).max() < 14


def test_several_boxes_are_batched_and_bad_boxes_raise(ckpt):
    p = Predictor(ckpt, batch_size=2)
    img = np.random.default_rng(0).integers(0, 255, (120, 200, 3), dtype=np.uint8)
    boxes = [[0, 0, 50, 100], [60, 10, 40, 80], [100, 0, 100, 120]]
    res = p(img, boxes)
    assert len(res.people) == 3
    single = p(img, [boxes[1]])
    assert np.allclose(single.people[0].keypoints, res.people[1].keypoints, atol=1e-3)
    for bad in ([[0, 0, 0, 10]], [[1, 2, 3]], [[0, float("inf"), 5, 5]]):
        with pytest.raises(ValueError):
            p(img, bad)


def test_flip_test_averages_with_the_mirror_image(ckpt):
    img = np.random.default_rng(1).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    with_flip = Predictor(ckpt, flip=True, detector=None)(img, return_heatmaps=True).heatmaps
    no_flip = Predictor(ckpt, flip=False, detector=None)(img, return_heatmaps=True).heatmaps
    assert with_flip.shape == no_flip.shape and not np.allclose(with_flip, no_flip)


def test_test_scales_run_once_each_and_average_zoomed_back_heatmaps(ckpt):
    img = np.zeros((300, 400, 3), np.uint8)
    img[118:126, 250:258] = 255
    box = [[200, 50, 120, 150]]
    plain = Predictor(ckpt, flip=False)
    plain.backend = TorchBackend(PeakAt(16), plain.device)
    multi = Predictor(ckpt, flip=False, scales=(1.0, 1.3))
    multi.backend = TorchBackend(PeakAt(16), multi.device)
    calls = []
    inner = multi.run_model
    multi.run_model = lambda x: calls.append(x.shape) or inner(x)
    a, b = plain(img, box, return_heatmaps=True), multi(img, box, return_heatmaps=True)
    assert len(calls) == 2 and multi.scales == (1.0, 1.3)
    assert np.abs(b.people[0].keypoints[0] - [253.5, 121.5]).max() < 14  # both scales see the patch in one place
    assert a.heatmaps.shape == b.heatmaps.shape and not np.allclose(a.heatmaps, b.heatmaps)
    with pytest.raises(ValueError, match="test scales"):
        Predictor("no-such-weights.pt", scales=(0,))  # refused before any loading


def test_bgr_weights_see_reversed_channels(ckpt):
    p_rgb = Predictor(ckpt, color_order="rgb")
    p_bgr = Predictor(ckpt, color_order="bgr")
    img = np.zeros((32, 32, 3), np.uint8)
    img[..., 0] = 255
    x_rgb, _, _ = p_rgb.preprocess(img, np.array([[0, 0, 32, 32]], np.float32))
    x_bgr, _, _ = p_bgr.preprocess(img, np.array([[0, 0, 32, 32]], np.float32))
    c = x_rgb.shape[2] // 2  # centre of the crop (the 1.25 padding around the box is black)
    assert x_rgb[0, 0, c, c] > 2 and x_bgr[0, 2, c, c] > 2 and x_bgr[0, 0, c, c] < 0


def test_json_record_has_the_documented_fields(ckpt):
    res = Predictor(ckpt, detector=None)(np.zeros((40, 30, 3), np.uint8))
    rec = res.to_json()
    assert set(rec) == {"image", "width", "height", "skeleton", "joints", "detector", "detected", "people"}
    assert rec["skeleton"] == "mpii16" and len(rec["joints"]) == 16
    assert rec["detector"] is None and rec["detected"] is None
    assert set(rec["people"][0]) == {"box", "box_score", "weak", "keypoints"} and rec["people"][0]["box_score"] is None
    assert len(rec["people"][0]["keypoints"]) == 16 and len(rec["people"][0]["keypoints"][0]) == 3


def test_predict_one_call(ckpt):
    from hpe_utils.predictor import predict

    assert predict(np.zeros((40, 30, 3), np.uint8), weights=str(ckpt), detector=None).people[0].keypoints.shape == (16, 2)
    assert predict(np.zeros((40, 30, 3), np.uint8), weights=str(ckpt)).people == []  # nobody for the detector


def test_box_padding_comes_from_the_weights_and_sets_the_crop_around_each_box(ckpt, tmp_path):
    m = PoseResNet(depth=18, num_joints=16, deconv_filters=(32, 32, 32))
    tight = save_checkpoint(m, tmp_path / "tight.pt", skeleton="mpii16", input_size=(64, 64), box_padding=1.1)
    assert Predictor(ckpt).box_padding == 1.25 and Predictor(tight).box_padding == 1.1
    img = np.zeros((300, 400, 3), np.uint8)
    img[118:126, 250:258] = 255
    box = [200, 50, 120, 150]
    for padding in (1.0, 1.25, 2.0):
        p = Predictor(ckpt, flip=False, box_padding=padding)
        p.backend = TorchBackend(PeakAt(16), p.device)
        _, _, scales = p.preprocess(img, np.array([box], np.float32))
        np.testing.assert_allclose(scales[0] * 200, [150 * padding] * 2, rtol=1e-5)  # square crop of the taller side
        kp = p(img, boxes=[box]).people[0].keypoints  # the joint maps back whatever the context
        assert np.abs(kp[0] - [253.5, 121.5]).max() < 14 * padding
    with pytest.raises(ValueError, match="box padding"):
        Predictor(ckpt, box_padding=0)
