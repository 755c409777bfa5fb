"""Issue 28, phase 2: teacher-cleaned and distilled LSP labels (teachers.py clean) and training on them.

Synthetic teachers on made-up poses test the rules; the override file is tested on the LSP fixture. The test on the
real teacher stores skips without runs/teachers/ or ../shared/data.
"""
from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from hpe_utils.datasets import (LspLabels, dataset_samples, load_lsp_joints, load_lsp_labels, lsp_samples,
                                save_lsp_labels)
from hpe_utils.download import sha256_file
from hpe_utils.errors import DatasetError
from hpe_utils.skeletons import LSP14
from hpe_utils.train import TrainConfig, build_datasets, train

REPO = Path(__file__).resolve().parent.parent
FIX = Path(__file__).resolve().parent / "fixtures"
SHARED = REPO.parent / "shared" / "data"
RUNS = REPO / "runs" / "teachers"


def _load_teachers() -> ModuleType:
    """teachers.py imported by path (a training-side script, not part of the package)."""
    spec = importlib.util.spec_from_file_location("teachers_tool_distil", REPO / "tools" / "teachers" / "teachers.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


T = _load_teachers()


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # conftest.py: tiny trainings on a shared CPU


def _pose() -> tuple[np.ndarray, np.ndarray]:
    """One upright LSP-14 person, torso (left shoulder 9 to right hip 2) about 100 px, every joint labelled."""
    kp = np.array([[90, 300], [90, 240], [90, 180], [130, 180], [130, 240], [130, 300],  # r/l leg: ankle knee hip
                   [70, 160], [75, 120], [85, 90], [135, 90], [145, 120], [150, 160],  # r/l arm: wrist elbow shoulder
                   [110, 80], [110, 50]], np.float32)  # neck, head top
    return kp[None], np.ones((1, 14), np.float32)


def _teachers(kp: np.ndarray, score: float = 0.9, jitter: float = 1.0) -> tuple[np.ndarray, ...]:
    """Two teachers that agree on ``kp`` within ``jitter`` px, both scoring ``score``."""
    sc = np.full(kp.shape[:-1], score, np.float32)
    return kp.copy(), sc, kp + jitter, sc.copy()


def test_swap_is_detected_and_the_sides_exchanged():
    gt, lab = _pose()
    perm = LSP14.flip_permutation()
    ka, sa, kb, sb = _teachers(gt[:, perm])  # the teachers see the person facing the other way
    kp, w, counts = T.clean_labels(gt, lab, ka, sa, kb, sb, T.CleanOptions())
    assert counts["swapped_images"] == 1 and counts["replaced_joints"] == 0
    np.testing.assert_array_equal(kp[0], gt[0, perm])  # the label's own points, sides exchanged, none replaced
    np.testing.assert_array_equal(w, lab)
    kp, _, counts = T.clean_labels(gt, lab, *_teachers(gt))  # teachers that agree with the label: nothing changes
    assert counts["swapped_images"] == counts["far_joints"] == 0
    np.testing.assert_array_equal(kp, gt)


def test_a_far_label_is_replaced_only_where_the_teachers_agree():
    gt, lab = _pose()
    ka, sa, kb, sb = _teachers(gt)
    bad = gt.copy()
    bad[0, 0] += (0, 60)  # right ankle 0.6 torso off: both teachers agree elsewhere -> replaced
    bad[0, 5] += (0, 60)  # left ankle off too, but the second teacher disagrees (30 px = 0.3 torso away)
    kb[0, 5] += (30, 0)
    bad[0, 6] += (0, 60)  # right wrist off, but the first teacher is unsure
    sa[0, 6] = 0.2
    kp, w, counts = T.clean_labels(bad, lab, ka, sa, kb, sb, T.CleanOptions())
    assert counts["far_joints"] == counts["replaced_joints"] == 1 and counts["swapped_images"] == 0
    np.testing.assert_array_equal(kp[0, 0], ka[0, 0])  # the first (Thunder) teacher's keypoint
    np.testing.assert_array_equal(kp[0, [5, 6]], bad[0, [5, 6]])
    np.testing.assert_array_equal(w, lab)
    kp, w, counts = T.clean_labels(bad, lab, ka, sa, kb, sb, T.CleanOptions(fix="drop"))
    assert counts["dropped_joints"] == 1 and w[0, 0] == 0 and w[0, 1:].all()
    _, _, counts = T.clean_labels(bad, lab, ka, sa, kb, sb, T.CleanOptions(fix="keep"))
    assert counts["far_joints"] == 1 and counts["replaced_joints"] == counts["dropped_joints"] == 0
    lab_no_torso = lab.copy()
    lab_no_torso[0, 9] = 0  # no left shoulder: no torso length, so no judgement about this image
    _, _, counts = T.clean_labels(bad, lab_no_torso, ka, sa, kb, sb, T.CleanOptions())
    assert counts["far_joints"] == 0 and counts["images_with_torso"] == 0


def test_fill_in_only_for_unlabelled_limb_joints_above_the_threshold():
    gt, lab = _pose()
    lab[0, [0, 6, 7, 13]] = 0  # r_ankle and r_wrist out of frame, r_elbow too, head top unlabelled
    gt[0, [0, 6, 7, 13]] = 0
    ka, sa, kb, sb = _teachers(_pose()[0])
    sa[0, 0], sa[0, 6], sa[0, 7] = 0.8, 0.4, 0.5  # the first teacher's confidence
    kp, w, counts = T.clean_labels(gt, lab, ka, sa, kb, sb, T.CleanOptions(fill=True, fill_min=0.5))
    assert counts["filled_joints"] == 2
    assert w[0, 0] == pytest.approx(0.8) and w[0, 7] == pytest.approx(0.5)  # soft: the teacher's score
    assert w[0, 6] == 0 and w[0, 13] == 0  # below the threshold; head top is never the teachers'
    np.testing.assert_array_equal(kp[0, [0, 7]], ka[0, [0, 7]])
    np.testing.assert_array_equal(kp[0, [1, 2, 3, 12]], gt[0, [1, 2, 3, 12]])  # labelled joints untouched
    _, w1, _ = T.clean_labels(gt, lab, ka, sa, kb, sb, T.CleanOptions(fill=True, fill_weight="one"))
    assert w1[0, 0] == 1.0
    assert T.lever_options("clean").fill is False and T.lever_options("fill").fix == "keep"
    assert not T.lever_options("fill").swap and T.lever_options("all").fill and T.lever_options("all").swap


def _fixture_labels(tmp_path: Path) -> tuple[Path, np.ndarray, np.ndarray]:
    """An override for fixture images 0 and 2: image 0's right ankle moved and softened, image 2's sides swapped."""
    kp, lab = load_lsp_joints(FIX / "lsp" / "joints.mat")
    new_kp, new_w = kp[[0, 2]].copy(), lab[[0, 2]].copy()
    new_kp[0, 0] += 5.0
    new_w[0, 0] = 0.6
    new_kp[1] = new_kp[1][LSP14.flip_permutation()]
    new_w[1] = new_w[1][LSP14.flip_permutation()]
    path = save_lsp_labels(tmp_path / "lsp_test.npz", LspLabels(np.array([0, 2]), new_kp, new_w,
                                                                 sha256_file(FIX / "lsp" / "joints.mat"), {"why": "t"}))
    return path, new_kp, new_w


def test_the_override_file_round_trips_and_keeps_the_crops(tmp_path):
    path, new_kp, new_w = _fixture_labels(tmp_path)
    back = load_lsp_labels(path)
    assert back.meta["why"] == "t" and list(back.indices) == [0, 2]
    np.testing.assert_array_equal(back.keypoints, new_kp)
    np.testing.assert_array_equal(back.weights, new_w)
    plain = lsp_samples(FIX / "lsp", range(6), "lsp14")
    over = lsp_samples(FIX / "lsp", range(6), "lsp14", labels=path)
    for a, b in zip(plain, over):
        np.testing.assert_array_equal(a.center, b.center)  # the box is joints.mat's: crops do not move
        np.testing.assert_array_equal(a.scale, b.scale)
    np.testing.assert_array_equal(over[0].keypoints, new_kp[0])
    assert over[0].visible[0] == pytest.approx(0.6)
    np.testing.assert_array_equal(over[1].keypoints, plain[1].keypoints)  # not in the file: LSP's own
    mp = dataset_samples("lsp", FIX / "lsp", "mpii16", 1.0, indices=range(6), labels=path)
    pelvis = (new_kp[0, 2] + new_kp[0, 3]) / 2  # MPII's pelvis/thorax: derived from the (new) LSP label as always
    np.testing.assert_allclose(mp[0].keypoints[6], pelvis)
    assert mp[0].visible[0] == pytest.approx(0.6)  # MPII r_ankle is LSP's joint 0
    with pytest.raises(DatasetError, match="lsp only"):
        dataset_samples("mpii", FIX / "mpii" / "test_mpii.json", "mpii16", 1.0, labels=path)
    other = save_lsp_labels(tmp_path / "other.npz", LspLabels(np.array([0]), new_kp[:1], new_w[:1], "0" * 64))
    with pytest.raises(ValueError, match="another joints.mat"):
        lsp_samples(FIX / "lsp", range(6), labels=other)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        save_lsp_labels(tmp_path / "bad.npz", LspLabels(np.array([0]), new_kp[:1], new_w[:1] * 2, "0" * 64))


def test_training_with_a_labels_override_takes_a_step_and_resumes(tmp_path):
    path, _, _ = _fixture_labels(tmp_path)
    kw = dict(dataset="lsp", data=str(FIX / "lsp"), labels_override=str(path), train_range=(0, 6), val_range=(4, 6),
              depth=18, input_size=(64, 64), deconv_filters=(32, 32, 32), epochs=1, batch_size=4, lr_steps=(10,),
              precision="fp32", out_dir=str(tmp_path / "run"), progress=False, max_steps_per_epoch=1, threads=1,
              rotation_prob=0.0, flip_prob=0.0, scale_range=(1.0, 1.0))
    cfg = TrainConfig(**kw)
    assert TrainConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    train_ds, val_ds = build_datasets(cfg)
    assert train_ds[0]["target_weight"][0] == pytest.approx(0.6)  # soft weight reaches the loss (MPII r_ankle)
    assert val_ds.samples[0].visible.max() == 1.0 and val_ds[0]["target_weight"].max() == 1.0  # val: LSP's own
    np.testing.assert_array_equal(val_ds.samples[0].keypoints, lsp_samples(FIX / "lsp", [4])[0].keypoints)
    row = train(cfg, log=lambda *_: None)
    assert row["epoch"] == 1 and (tmp_path / "run" / "last.pt").is_file()
    logs: list[str] = []
    train(TrainConfig(**{**kw, "epochs": 2}), log=logs.append)
    assert any("resumed" in str(x) for x in logs)
    with pytest.raises(ValueError, match="labels_override applies to lsp"):
        TrainConfig(dataset="coco", labels_override=str(path))


@pytest.mark.parametrize("name", ["distil_clean", "distil_fill", "distil_paste", "distil_all", "distil_none"])
def test_the_ablation_configs_share_start_and_budget(name):
    cfg = TrainConfig.from_dict(json.loads((REPO / "configs" / f"{name}.json").read_text()))
    ref = TrainConfig.from_dict(json.loads((REPO / "configs" / "distil_none.json").read_text()))
    assert cfg.init_weights == "weights/hpe_default.pt" and (REPO / cfg.init_weights).is_file()
    diff = {k for k, v in cfg.to_dict().items() if ref.to_dict()[k] != v}
    assert diff <= {"labels_override", "paste_prob", "out_dir"}, diff  # the levers, nothing else
    lever = name.split("_", 1)[1]
    assert cfg.labels_override == (None if lever in ("none", "paste") else f"runs/teachers/lsp_{lever}.npz")
    assert cfg.paste_prob == (0.5 if lever in ("paste", "all") else 0.0)


def test_the_ablation_table_counts_the_crops_each_config_trains_on():
    cfg = json.loads((REPO / "configs" / "distil_none.json").read_text())
    assert T.crops_per_epoch(cfg) == 133 * 32  # the budget: capped at 133 steps of 32
    assert T.crops_per_epoch({**cfg, "max_steps_per_epoch": None}) == 266 * 32  # 8,500 images, last batch partial
    assert T.crops_per_epoch({**cfg, "train_range": [0, 40], "batch_size": 8, "repeat": 4, "max_steps_per_epoch": 0}) == 160


def test_the_ablation_table_counts_epochs_up_to_the_checkpoint_it_scores():
    hist = [{"val_pck@0.2": 0.649}, {"val_pck@0.2": 0.648}, {"val_pck@0.2": 0.649}, {"val_pck@0.2": 0.646}]
    assert T.epochs_to_best(hist) == 1  # best.pt is rewritten only on a strictly better score
    assert T.epochs_to_best(hist + [{"val_pck@0.2": 0.7}]) == 5
    assert T.epochs_to_best([{"val_pck@0.2": None}] * 3) == 3  # no validation: best.pt follows every epoch


def test_the_model_card_quotes_the_measured_ablation_table():
    table = [line for line in (REPO / "bench" / "results_distil.md").read_text().splitlines() if line.startswith("|")]
    card = (REPO / "weights" / "README.md").read_text()
    assert len(table) == 2 + 6 and all(line in card for line in table)  # header, rule, the default and five levers


@pytest.mark.skipif(not (RUNS / "thunder_lsp_train.npz").is_file() or not (RUNS / "lightning_lsp_train.npz").is_file()
                    or not (SHARED / "lspet" / "joints.mat").is_file(),
                    reason="needs runs/teachers/*_lsp_train.npz (teachers.py label) and ../shared/data/lspet")
def test_cleaning_the_real_labels_matches_the_phase_1_agreement_counts():
    stores = {n: T.LabelStore(T.store_path(n, "lsp_train"), {}) for n in ("thunder", "lightning")}
    labels, counts = T.clean_set(stores, T.lever_options("clean"))
    assert counts["images_with_torso"] == 6071  # bench/results_teachers.md: 6071 images, 8.7 % better swapped
    assert counts["swapped_images"] / counts["images_with_torso"] == pytest.approx(0.087, abs=0.001)
    assert 0 < counts["replaced_joints"] < 0.101 * 68335
    assert labels.weights.max() == 1.0 and len(labels.indices) == counts["images"]


def test_the_budget_table_reports_measured_core_hours_and_the_curve():
    cfg = {**json.loads((REPO / "configs" / "budget_r50_256.json").read_text()), "threads": 2}
    hist = [{"val_pck@0.2": 0.1, "seconds": 900.0}, {"val_pck@0.2": 0.2, "seconds": 900.0},
            {"val_pck@0.2": None, "seconds": 1800.0}]
    assert T.train_core_hours(cfg, hist) == pytest.approx(2.0)  # 3,600 s of training on 2 threads
    row = T.Row("budget_r50_256", 0.3, 100, {"AP": 0.05, "AP50": 0.1}, None)
    line = T.budget_markdown([(cfg, hist, row)], "a CPU").splitlines()[-1]
    assert line == "| ResNet-50 | 256x256 | 141 | 0.53 | 2.00 | 0.100 → 0.200 | 0.300 | 0.050 | 0.100 |"


@pytest.mark.parametrize("name", ["budget_r18_128", "budget_r18_192", "budget_r18_256", "budget_r34_192", "budget_r50_192",
                                  "budget_r50_256"])
def test_the_budget_configs_differ_only_in_depth_size_and_steps(name):
    ref = TrainConfig.from_dict(json.loads((REPO / "configs" / "budget_r18_192.json").read_text()))
    cfg = TrainConfig.from_dict(json.loads((REPO / "configs" / f"{name}.json").read_text()))
    diff = {k for k, v in cfg.to_dict().items() if ref.to_dict()[k] != v}
    assert diff <= {"depth", "input_size", "epochs", "max_steps_per_epoch", "out_dir"}, diff
    assert cfg.init_weights is None and cfg.backbone_weights is None  # from scratch: depths cannot share a start
    w, h = cfg.input_size
    row = next(line for line in (REPO / "bench" / "results_train_cost.md").read_text().splitlines()
               if line.startswith(f"| ResNet-{cfg.depth} | {w}x{h} |"))
    cost = float(row.split("|")[5].strip().removesuffix("x"))  # per crop, against R18 at 192 (bench/train_cost.py)
    steps = cfg.epochs * T.crops_per_epoch(cfg.to_dict()) // cfg.batch_size  # capped at 266 batches of 32 an epoch
    assert steps * cost == pytest.approx(560, rel=0.01)  # the same budget: 560 steps' worth of R18 at 192


def test_the_model_card_quotes_the_measured_budget_table():
    table = [line for line in (REPO / "bench" / "results_train_budget.md").read_text().splitlines()
             if line.startswith("|")]
    card = (REPO / "weights" / "README.md").read_text()
    assert len(table) == 2 + 6 and all(line in card for line in table)  # header, rule, six depth/size runs
