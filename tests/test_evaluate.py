"""Evaluation: predictions come back in image pixels and perfect predictions score 1."""
from pathlib import Path

import numpy as np
import torch

from hpe_utils.codec import HeatmapCodec
from hpe_utils.datasets import TopDownDataset, lsp_samples
from hpe_utils.evaluate import DatasetPredictions, predict_dataset, score_pck
from hpe_utils.model import PoseResNet
from hpe_utils.skeletons import MPII16

FIX = Path(__file__).resolve().parent / "fixtures"


def _ds():
    return TopDownDataset(lsp_samples(FIX / "lsp", range(6), "mpii16"), MPII16, HeatmapCodec((64, 64)), None)


def test_predict_dataset_shapes_and_pck_range():
    torch.manual_seed(0)
    ds = _ds()
    preds = predict_dataset(PoseResNet(depth=18, num_joints=16, deconv_filters=(32, 32, 32)), ds, batch_size=4)
    assert preds.keypoints.shape == (6, 16, 2) and preds.scores.shape == (6, 16) and preds.gt.shape == (6, 16, 2)
    r = score_pck(preds, MPII16)
    assert 0.0 <= r.mean <= 1.0 and len(r.joints) == 14 and "pelvis" not in r.joints


def test_ground_truth_as_prediction_scores_one():
    ds = _ds()
    gt = np.stack([s.keypoints for s in ds.samples])
    vis = np.stack([s.visible for s in ds.samples])
    r = score_pck(DatasetPredictions(gt.copy(), np.ones(vis.shape), gt, vis), MPII16)
    assert r.mean == 1.0
