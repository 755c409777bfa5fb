"""PCK, PCKh and COCO OKS AP on hand-computed cases."""
from pathlib import Path

import numpy as np
import pytest

from hpe_utils.metrics import head_size, pck, torso_diameter

FIX = Path(__file__).resolve().parent / "fixtures"


def test_pck_counts_hits_within_alpha_times_norm_including_the_boundary():
    gt = np.zeros((2, 3, 2))
    pred = np.array([[[2, 0], [2.01, 0], [0, 0]], [[0, 5], [0, 0], [9, 9]]], dtype=float)
    vis = np.array([[1, 1, 1], [1, 1, 0]])
    r = pck(pred, gt, vis, np.array([10.0, 25.0]), alpha=0.2, joints=["a", "b", "c"])
    # sample 0: limit 2 -> hit, miss, hit; sample 1: limit 5 -> hit (boundary), hit, unlabelled
    assert r.per_joint.tolist() == [1.0, 0.5, 1.0]
    assert r.counts.tolist() == [2, 2, 1]
    assert r.mean == pytest.approx(4 / 5)
    assert "| **mean** | **0.800** | 5 |" in r.table()


def test_samples_without_a_valid_norm_are_skipped():
    gt = np.zeros((2, 1, 2))
    r = pck(gt + 1, gt, np.ones((2, 1)), np.array([np.nan, 100.0]))
    assert r.counts.tolist() == [1] and r.mean == 1.0
    r = pck(gt, gt, np.zeros((2, 1)), np.array([1.0, 1.0]))
    assert np.isnan(r.per_joint[0]) and np.isnan(r.mean)
    with pytest.raises(ValueError):
        pck(gt, gt[:1], np.ones((2, 1)), np.ones(2))


def test_torso_diameter_and_head_size():
    gt = np.zeros((1, 4, 2))
    gt[0, 1] = [3, 4]
    assert torso_diameter(gt, np.ones((1, 4)), 0, 1).tolist() == [5.0]
    assert np.isnan(torso_diameter(gt, np.array([[1, 0, 1, 1]]), 0, 1)[0])
    assert head_size(np.array([[0, 0, 30, 40]])).tolist() == [pytest.approx(30.0)]


def test_coco_ap_is_one_when_predictions_equal_ground_truth():
    pytest.importorskip("pycocotools")
    import json

    from hpe_utils.metrics import coco_oks_ap

    ann = FIX / "coco" / "person_keypoints.json"
    data = json.loads(ann.read_text())
    preds = [{"image_id": a["image_id"], "category_id": 1, "keypoints": a["keypoints"], "score": 1.0}
             for a in data["annotations"] if a["num_keypoints"] > 0]
    ap = coco_oks_ap(preds, str(ann))
    assert ap["AP"] == pytest.approx(1.0)
    shifted = [{**p, "keypoints": [v + (40 if i % 3 != 2 else 0) for i, v in enumerate(p["keypoints"])]} for p in preds]
    assert coco_oks_ap(shifted, str(ann))["AP"] < 0.5
