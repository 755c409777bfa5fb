"""Evaluation: predictions come back in image pixels and perfect predictions score 1."""
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from hpe_utils.codec import HeatmapCodec
from hpe_utils.datasets import AugmentConfig, TopDownDataset, lsp_samples
from hpe_utils.evaluate import DatasetPredictions, predict_dataset, score_pck
from hpe_utils.model import PoseResNet
from hpe_utils.predictor import Predictor
from hpe_utils.skeletons import LSP14, MPII16

FIX = Path(__file__).resolve().parent / "fixtures"
REPO = FIX.parent.parent


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # conftest.py: tiny trainings on a shared CPU


def _ds(skeleton=MPII16, size=(64, 64)):
    return TopDownDataset(lsp_samples(FIX / "lsp", range(6), skeleton), skeleton, HeatmapCodec(size), None)


def _predictor(model, ds, **kw):
    """The predictor that ``hpe eval`` builds, around a model in memory (64x64 input, the dataset's skeleton)."""
    kw.setdefault("batch_size", 4)
    return Predictor.from_model(model, skeleton=ds.skeleton.name, input_size=ds.codec.input_size, **kw)


def _gt_predictions(ds):
    gt = np.stack([s.keypoints for s in ds.samples])
    vis = np.stack([s.visible for s in ds.samples])
    return DatasetPredictions(gt.copy(), np.ones(vis.shape, np.float32), gt, vis)


@pytest.mark.parametrize("flip", [False, True])
def test_untrained_model_predictions_have_the_right_shapes_and_pck_range(flip):
    torch.manual_seed(0)
    ds = _ds()
    model = PoseResNet(depth=18, num_joints=16, deconv_filters=(32, 32, 32))
    preds = predict_dataset(_predictor(model, ds, flip=flip), ds)
    assert preds.backend == "torch" and (preds.flip_shift == 0.75) is flip
    assert preds.keypoints.shape == (6, 16, 2) and preds.scores.shape == (6, 16)
    assert preds.gt.shape == (6, 16, 2) and preds.visible.shape == (6, 16)
    assert np.isfinite(preds.keypoints).all() and np.isfinite(preds.scores).all()
    r = score_pck(preds, MPII16)
    assert 0.0 <= r.mean <= 1.0 and ((r.per_joint >= 0) & (r.per_joint <= 1) | np.isnan(r.per_joint)).all()
    assert len(r.joints) == 14 and "pelvis" not in r.joints and "thorax" not in r.joints  # derived for LSP data


def test_ground_truth_as_prediction_scores_one():
    ds = _ds()
    r = score_pck(_gt_predictions(ds), MPII16)
    assert r.mean == 1.0 and r.counts.sum() > 0
    lsp = _ds(LSP14)
    assert score_pck(_gt_predictions(lsp), LSP14).mean == 1.0
    far = _gt_predictions(ds)
    far.keypoints += 1000
    assert score_pck(far, MPII16).mean == 0.0


class _TargetsAsHeatmaps(torch.nn.Module):
    """A stand-in 'model' that outputs the dataset's own target heatmaps, batch after batch."""

    def __init__(self, ds):
        super().__init__()
        self.targets = torch.stack([ds[i]["target"] for i in range(len(ds))])
        self.seen = 0

    def forward(self, x):
        out = self.targets[self.seen:self.seen + x.shape[0]]
        self.seen += x.shape[0]
        return out


class _TargetsPerScale(torch.nn.Module):
    """Each scale's own targets: predict_dataset asks for batch i of every scale in turn."""

    def __init__(self, views, batch_size):
        super().__init__()
        self.views = [_TargetsAsHeatmaps(v) for v in views]
        self.batch_size, self.calls = batch_size, 0

    def forward(self, x):
        view = self.views[self.calls % len(self.views)]
        self.calls += 1
        return view(x)


def test_predictions_are_mapped_back_to_image_pixels():
    # the original's quarter step leaves a target's symmetric peak where it is, so the only error is the
    # encoder's rounding; DARK moves peaks that the small 16x16 map cuts off at its border (see codec)
    samples = lsp_samples(FIX / "lsp", range(6), MPII16)
    ds = TopDownDataset(samples, MPII16, HeatmapCodec((64, 64)), None)
    preds = predict_dataset(_predictor(_TargetsAsHeatmaps(ds), ds, flip=False, refine="quarter"), ds)
    # decoding a target heatmap lands within half a heatmap pixel of the joint (Gaussian centred on the
    # rounded position); one heatmap pixel spans scale * 200 / heatmap width image pixels
    hm_px = np.array([s.scale[0] * 200 / ds.codec.heatmap_size[0] for s in ds.samples])
    err = np.abs(preds.keypoints - preds.gt).max(axis=2)
    ok = preds.visible > 0
    assert (err[ok] <= (0.5 * hm_px[:, None] + 1e-3).repeat(16, axis=1)[ok]).all()


def test_multi_scale_averages_the_zoomed_back_heatmaps_of_each_scale():
    # targets drawn in each zoomed crop, zoomed back and averaged, still decode onto the joints
    samples = lsp_samples(FIX / "lsp", range(6), MPII16)
    ds = TopDownDataset(samples, MPII16, HeatmapCodec((64, 64), unbiased=True), None)
    single = predict_dataset(_predictor(_TargetsAsHeatmaps(ds), ds, flip=False), ds)
    wide = TopDownDataset([replace(s, scale=s.scale * 1.25) for s in samples], MPII16, ds.codec, None)
    multi = predict_dataset(_predictor(_TargetsPerScale([ds, wide], 4), ds, flip=False, scales=(1.0, 1.25)), ds)
    assert single.scales == (1.0,) and multi.scales == (1.0, 1.25)
    hm_px = np.array([s.scale[0] * 200 / ds.codec.heatmap_size[0] for s in ds.samples])[:, None]
    ok = multi.visible > 0
    err = np.linalg.norm(multi.keypoints - multi.gt, axis=2) / hm_px
    assert np.median(err[ok]) < 0.15 and not np.allclose(multi.keypoints, single.keypoints)
    # an untrained network: scales=(1,) is the plain prediction, and the order of scales does not matter
    torch.manual_seed(0)
    model = PoseResNet(depth=18, num_joints=16, deconv_filters=(32, 32, 32)).eval()
    ds = _ds()
    plain = predict_dataset(_predictor(model, ds), ds)
    np.testing.assert_array_equal(predict_dataset(_predictor(model, ds, scales=(1.0,)), ds).keypoints, plain.keypoints)
    a = predict_dataset(_predictor(model, ds, scales=(1.0, 1.2)), ds).keypoints
    b = predict_dataset(_predictor(model, ds, scales=(1.2, 1.0)), ds).keypoints
    np.testing.assert_allclose(a, b, atol=1e-3)


def test_augmented_datasets_are_refused():
    ds = TopDownDataset(lsp_samples(FIX / "lsp", range(2), MPII16), MPII16, HeatmapCodec((64, 64)), AugmentConfig())
    with pytest.raises(ValueError, match="without augmentation"):
        predict_dataset(_predictor(PoseResNet(depth=18, num_joints=16, deconv_filters=(32, 32, 32)), ds), ds)


def test_hpe_eval_runs_the_predictors_pipeline_and_gives_identical_keypoints(tmp_path):
    """`hpe eval` measures what users run: its keypoints are those of Predictor(image, boxes=[the sample's box])."""
    import json

    from hpe_utils.cli import main

    lsp = REPO / "data" / "lsp_sample"
    out = tmp_path / "preds.json"
    assert main(["eval", "--weights", "default", "--dataset", "lsp", "--data", str(lsp), "--range", "0", "12",
                 "--predictions", str(out), "-q"]) == 0
    records = json.loads(out.read_text())
    p = Predictor("default", backend="torch")
    samples = lsp_samples(lsp, range(12), MPII16, 1.0, padding=p.box_padding)
    assert [r["image"] for r in records] == [s.image for s in samples]
    for record, sample in zip(records, samples):
        person = p(sample.image, boxes=[sample.extra["box"]]).people[0]
        assert record["keypoints"] == person.to_json()["keypoints"], sample.image
