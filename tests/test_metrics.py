"""PCK, PCKh and COCO OKS AP on hand-computed cases."""
import json
from pathlib import Path

import numpy as np
import pytest

from hpe_utils.metrics import COCO_RECALL_THRESHOLDS, average_precision, head_size, pck, torso_diameter

FIX = Path(__file__).resolve().parent / "fixtures"


def test_pck_counts_hits_within_alpha_times_norm_including_the_boundary():
    gt = np.zeros((2, 3, 2))
    pred = np.array([[[2, 0], [2.01, 0], [0, 0]], [[0, 5], [0, 0], [9, 9]]], dtype=float)
    vis = np.array([[1, 1, 1], [1, 1, 0]])
    r = pck(pred, gt, vis, np.array([10.0, 25.0]), alpha=0.2, joints=["a", "b", "c"])
    # sample 0: limit 2 -> hit (boundary), miss, hit; sample 1: limit 5 -> hit (boundary), hit, unlabelled
    assert r.per_joint.tolist() == [1.0, 0.5, 1.0]
    assert r.counts.tolist() == [2, 2, 1]
    assert r.mean == pytest.approx(4 / 5)
    assert r.joints == ["a", "b", "c"] and r.alpha == 0.2
    assert "| **mean** | **0.800** | 5 |" in r.table()


def test_pck_boundary_on_a_3_4_5_triangle():
    gt = np.array([[[10.0, 20.0]]])
    norm = np.array([10.0])
    assert pck(gt + [3, 4], gt, np.ones((1, 1)), norm, alpha=0.5).mean == 1.0  # exactly 5 px = 0.5 * 10
    assert pck(gt + [3, 4.001], gt, np.ones((1, 1)), norm, alpha=0.5).mean == 0.0
    assert pck(gt + [3, 4], gt, np.ones((1, 1)), norm, alpha=0.499).mean == 0.0


def test_unlabelled_joints_are_ignored_however_far_off():
    gt = np.zeros((1, 2, 2))
    pred = np.array([[[0.0, 0.0], [1e6, 1e6]]])
    r = pck(pred, gt, np.array([[1, 0]]), np.array([1.0]))
    assert r.mean == 1.0 and r.counts.tolist() == [1, 0]
    assert np.isnan(r.per_joint[1])
    assert r.to_dict()["per_joint"] == {"0": 1.0, "1": None} and r.to_dict()["counts"] == {"0": 1, "1": 0}
    assert "| 1 | — | 0 |" in r.table()


@pytest.mark.parametrize("bad", [np.nan, 0.0, -3.0, np.inf])
def test_samples_without_a_valid_norm_are_skipped(bad):
    gt = np.zeros((2, 1, 2))
    pred = gt.copy()
    pred[0] += 1000  # far off, but in the sample whose norm is unusable
    pred[1] += 1  # within 0.2 * 100
    r = pck(pred, gt, np.ones((2, 1)), np.array([bad, 100.0]))
    assert r.counts.tolist() == [1] and r.mean == 1.0


def test_no_labelled_joint_at_all_gives_nan_and_shape_mismatches_are_refused():
    gt = np.zeros((2, 1, 2))
    r = pck(gt, gt, np.zeros((2, 1)), np.array([1.0, 1.0]))
    assert np.isnan(r.per_joint[0]) and np.isnan(r.mean)
    with pytest.raises(ValueError, match="shapes"):
        pck(gt, gt[:1], np.ones((2, 1)), np.ones(2))
    with pytest.raises(ValueError, match="shapes"):
        pck(gt, gt, np.ones((2, 1)), np.ones(3))


def test_torso_diameter():
    gt = np.zeros((2, 4, 2))
    gt[:, 1] = [3, 4]
    d = torso_diameter(gt, np.array([[1, 1, 0, 0], [1, 0, 1, 1]]), 0, 1)
    assert d[0] == 5.0 and np.isnan(d[1])  # NaN when either end is unlabelled


def test_head_size_is_0_6_times_the_head_box_diagonal():
    assert head_size(np.array([[0, 0, 30, 40]])).tolist() == [pytest.approx(30.0)]
    corners = np.array([[[10, 10], [13, 14]], [[0, 0], [60, 80]]])  # (N, 2, 2) corner form
    np.testing.assert_allclose(head_size(corners), [3.0, 60.0])
    # PCKh@0.5 with that reference: 1.5 px is the limit for the first head
    gt = np.zeros((1, 1, 2))
    assert pck(gt + [1.5, 0], gt, np.ones((1, 1)), head_size(corners[:1]), 0.5).mean == 1.0
    assert pck(gt + [1.51, 0], gt, np.ones((1, 1)), head_size(corners[:1]), 0.5).mean == 0.0


def _gt_as_predictions(data):
    return [{"image_id": a["image_id"], "category_id": 1, "keypoints": a["keypoints"], "score": 1.0}
            for a in data["annotations"] if a["num_keypoints"] > 0 and not a["iscrowd"]]


def test_coco_ap_is_one_when_predictions_equal_ground_truth():
    pytest.importorskip("pycocotools", reason="COCO OKS AP needs pycocotools (pip install 'hpe-workbook[eval]')")
    from hpe_utils.metrics import coco_oks_ap

    ann = FIX / "coco" / "person_keypoints.json"
    preds = _gt_as_predictions(json.loads(ann.read_text()))
    assert len(preds) == 4
    ap = coco_oks_ap(preds, str(ann))
    assert set(ap) == {"AP", "AP50", "AP75", "AP_M", "AP_L", "AR", "AR50", "AR75", "AR_M", "AR_L"}
    assert ap["AP"] == pytest.approx(1.0) and ap["AR"] == pytest.approx(1.0)
    shifted = [{**p, "keypoints": [v + (40 if i % 3 != 2 else 0) for i, v in enumerate(p["keypoints"])]} for p in preds]
    assert coco_oks_ap(shifted, str(ann))["AP"] < 0.5
    with pytest.raises(ValueError, match="no predictions"):
        coco_oks_ap([], str(ann))


def test_average_precision_reads_the_precision_envelope_at_cocos_101_recall_points():
    assert len(COCO_RECALL_THRESHOLDS) == 101 and COCO_RECALL_THRESHOLDS[[0, -1]].tolist() == [0.0, 1.0]
    # ranked hit, miss, hit of 4 ground truths: precision 1, 1/2, 2/3 -> envelope 1, 2/3, 2/3 at recall 1/4, 1/4, 1/2;
    # recall points 0..0.25 (26 of them) read 1, 0.26..0.50 (25) read 2/3, the other 50 are never reached: 0
    assert average_precision([0.9, 0.8, 0.7], [True, False, True], 4) == pytest.approx((26 + 25 * 2 / 3) / 101)
    assert average_precision([0.7, 0.9, 0.8], [True, True, False], 4) == pytest.approx((26 + 25 * 2 / 3) / 101)
    assert average_precision([0.9, 0.8], [True, True], 2) == pytest.approx(1.0)


def test_average_precision_edge_cases_no_detections_all_wrong_and_ties_in_their_given_order():
    assert average_precision([], [], 3) == 0.0
    assert average_precision([0.9, 0.5], [False, False], 2) == 0.0
    assert average_precision([0.5, 0.5], [False, True], 1) == pytest.approx(0.5)  # stable: the miss stays first
    assert average_precision([0.5, 0.5], [True, False], 1) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="ground truth"):
        average_precision([0.5], [True], 0)
    with pytest.raises(ValueError, match="one hit flag per score"):
        average_precision([0.5, 0.4], [True], 1)


def test_average_precision_equals_pycocotools_accumulate_on_its_own_matches():
    """Fed the detections' matches pycocotools made, average_precision gives pycocotools' own AP at each threshold."""
    pytest.importorskip("pycocotools", reason="COCO OKS AP needs pycocotools (pip install 'hpe-workbook[eval]')")
    import contextlib
    import io

    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    ann = FIX / "coco" / "person_keypoints.json"
    rng = np.random.default_rng(3)
    preds = []
    for p in _gt_as_predictions(json.loads(ann.read_text())):
        for k in range(2):  # each person twice, moved by a random amount, with a random score
            kp = np.asarray(p["keypoints"], float).reshape(-1, 3)
            kp[:, :2] += rng.normal(0, 4 + 8 * k, (len(kp), 2))
            preds.append({**p, "keypoints": kp.reshape(-1).tolist(), "score": float(rng.uniform())})
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(ann))
        ev = COCOeval(gt, gt.loadRes(preds), "keypoints")
        ev.evaluate()
        ev.accumulate()
    area_all = [e for e in ev.evalImgs if e is not None and e["aRng"] == ev.params.areaRng[0]]
    num_gt = sum(int((e["gtIgnore"] == 0).sum()) for e in area_all)
    for t in range(len(ev.params.iouThrs)):
        scores = np.concatenate([e["dtScores"] for e in area_all])
        hits = np.concatenate([e["dtMatches"][t] > 0 for e in area_all])
        ignored = np.concatenate([e["dtIgnore"][t] for e in area_all]).astype(bool)
        want = ev.eval["precision"][t, :, 0, 0, -1].mean()
        assert average_precision(scores[~ignored], hits[~ignored], num_gt) == pytest.approx(want, abs=1e-12)
