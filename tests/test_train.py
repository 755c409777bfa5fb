"""Training: the loss goes down, runs resume where they stopped, DDP runs with two processes."""
import csv
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from hpe_utils.losses import JointsMSELoss
from hpe_utils.model import PoseResNet
from hpe_utils.cli import main
from hpe_utils.train import TrainConfig, _train_step, build_datasets, choose_precision, train

FIX = Path(__file__).resolve().parent / "fixtures"
REPO = Path(__file__).resolve().parent.parent


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # conftest.py: tiny trainings on a shared CPU


def _cfg(tmp_path, **kw) -> TrainConfig:
    base = dict(dataset="lsp", data=str(FIX / "lsp"), train_range=(0, 6), val_range=(4, 6), depth=18,
                input_size=(64, 64), deconv_filters=(64, 64, 64), epochs=2, batch_size=4, lr=1e-3, lr_steps=(10,),
                seed=0, precision="fp32", preload=True, out_dir=str(tmp_path / "run"), progress=False,
                max_steps_per_epoch=2, threads=1)
    base.update(kw)
    return TrainConfig(**base)


def _model() -> PoseResNet:
    torch.manual_seed(0)
    return PoseResNet(depth=18, num_joints=16, deconv_filters=(64, 64, 64))


def test_datasets_built_from_the_config(tmp_path):
    train_ds, val_ds = build_datasets(_cfg(tmp_path))
    assert len(train_ds) == 6 and len(val_ds) == 2
    assert train_ds.augment is not None and val_ds.augment is None  # validation is never augmented
    assert train_ds.codec.input_size == (64, 64) and train_ds.skeleton.name == "mpii16"
    assert train_ds.augment.color_jitter == 0.0 and train_ds.augment.erase_prob == 0.0  # the original recipe
    assert not train_ds.codec.unbiased
    exact, _ = build_datasets(_cfg(tmp_path, unbiased_encoding=True))
    assert exact.codec.unbiased
    jittered, _ = build_datasets(_cfg(tmp_path, color_jitter=0.3, erase_prob=0.5))
    assert jittered.augment is not None and (jittered.augment.color_jitter, jittered.augment.erase_prob) == (0.3, 0.5)
    crowd, _ = build_datasets(_cfg(tmp_path, paste_prob=0.5))
    assert crowd.augment is not None and crowd.augment.paste_prob == 0.5 and train_ds.augment.paste_prob == 0.0
    with pytest.raises(ValueError, match="one of lsp, coco, mpii"):  # the registry's names
        build_datasets(_cfg(tmp_path, dataset="h36m"))
    tight, tight_val = build_datasets(_cfg(tmp_path, box_padding=1.0))  # both splits crop with the same context
    for a, b in ((train_ds, tight), (val_ds, tight_val)):
        np.testing.assert_allclose([s.scale for s in b.samples], [s.scale / 1.25 for s in a.samples], rtol=1e-5)


def test_a_handful_of_chosen_images_repeated_each_epoch_and_validated_on_themselves(tmp_path):
    cfg = _cfg(tmp_path, train_indices=(5, 1), val_indices=(5, 1), repeat=3)
    train_ds, val_ds = build_datasets(cfg)
    names = [Path(s.image).name for s in train_ds.samples]
    assert names == ["im00006.jpg", "im00002.jpg"] * 3 and [Path(s.image).name for s in val_ds.samples] == names[:2]
    first, copy = train_ds[0], train_ds[2]  # the same image, augmented differently
    assert not torch.equal(first["image"], copy["image"])
    assert TrainConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    for bad in (dict(repeat=0), dict(repeat=1.5)):
        with pytest.raises(ValueError, match="repeat"):
            _cfg(tmp_path, **bad)
    with pytest.raises(ValueError, match="number images of lsp"):
        _cfg(tmp_path, dataset="mpii", data=str(FIX / "mpii" / "test_mpii.json"), train_indices=(0,))


def test_datasets_from_an_mpii_json_find_their_images_and_keep_the_last_share_for_validation(tmp_path):
    train_ds, val_ds = build_datasets(_cfg(tmp_path, dataset="mpii", data=str(FIX / "mpii" / "test_mpii.json"),
                                           val_fraction=0.5))
    assert len(train_ds) == len(val_ds) == 1
    assert all(Path(s.image).is_file() for s in train_ds.samples + val_ds.samples)
    with pytest.raises(ValueError, match="coco17 joints"):
        build_datasets(_cfg(tmp_path, dataset="coco", data=str(FIX / "coco" / "person_keypoints.json")))


def test_a_few_steps_on_one_batch_decrease_the_loss(tmp_path):
    train_ds, _ = build_datasets(_cfg(tmp_path))
    model = _model()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    batch = next(iter(torch.utils.data.DataLoader(train_ds, batch_size=4)))
    loss_fn = JointsMSELoss(use_target_weight=True)
    losses = [_train_step(model, opt, loss_fn, batch, torch.device("cpu"), None, False) for _ in range(6)]
    assert all(isinstance(v, float) and v > 0 for v in losses)
    assert losses[-1] < losses[0], losses


def test_train_writes_checkpoints_and_metrics_then_resumes(tmp_path):
    from hpe_utils.predictor import Predictor
    from hpe_utils.weights import load_weights

    cfg = _cfg(tmp_path)
    row = train(cfg, log=lambda *_: None)
    run = Path(cfg.out_dir)
    for name in ("last.pt", "best.pt", "config.json", "metrics.json", "metrics.csv"):
        assert (run / name).exists(), name
    assert TrainConfig.from_dict(json.loads((run / "config.json").read_text())) == cfg
    hist = json.loads((run / "metrics.json").read_text())
    assert [h["epoch"] for h in hist] == [1, 2] and row["epoch"] == 2
    assert all(h["precision"] == "fp32" and 0 <= h["val_pck@0.2"] <= 1 for h in hist)
    with open(run / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["epoch"] for r in rows] == ["1", "2"] and "train_loss" in rows[0] and "val_pck@0.2" in rows[0]

    # resume: epoch 3 is trained on top, epochs 1-2 are not trained again
    logs = []
    row3 = train(_cfg(tmp_path, epochs=3), log=logs.append)
    assert any("resumed" in str(line) and "epoch 2" in str(line) for line in logs)  # 0-based: the third epoch
    assert not any(str(line).startswith(("epoch 1:", "epoch 2:")) for line in logs)
    hist3 = json.loads((run / "metrics.json").read_text())
    assert [h["epoch"] for h in hist3] == [1, 2, 3] and row3["epoch"] == 3
    assert hist3[:2] == hist
    assert torch.load(run / "last.pt", map_location="cpu", weights_only=True)["epoch"] == 2

    # best.pt is in the project's weights format and predicts
    lw = load_weights(run / "best.pt")
    assert lw.skeleton.name == "mpii16" and lw.input_size == (64, 64) and lw.color_order == "rgb"
    assert lw.box_padding == cfg.box_padding == 1.25  # predictions crop as training did
    assert lw.sigma == 2.0 and Predictor(lw).codec.sigma == 2.0  # and DARK-decode with the training Gaussian
    wide = _cfg(tmp_path, sigma=2.75, out_dir=str(tmp_path / "wide"), epochs=1)  # 2.75 crashed encode once
    train(wide, log=lambda *_: None)
    assert load_weights(tmp_path / "wide" / "best.pt").sigma == 2.75
    assert Predictor(tmp_path / "wide" / "best.pt").codec.sigma == 2.75
    res = Predictor(lw)(str(FIX / "lsp" / "images" / "im00001.jpg"))
    assert res.people[0].keypoints.shape == (16, 2)


def test_precision_is_only_measured_when_auto(tmp_path):
    def no_log(*_):
        raise AssertionError("fixed precision must not time anything")

    # a fixed precision returns at once: no model, batch or timing needed
    assert choose_precision(_cfg(tmp_path), None, None, torch.device("cpu"), no_log) == "fp32"
    assert choose_precision(_cfg(tmp_path, precision="bf16"), None, None, torch.device("cpu"), no_log) == "bf16"

    train_ds, _ = build_datasets(_cfg(tmp_path))
    model = _model()
    batch = next(iter(torch.utils.data.DataLoader(train_ds, batch_size=2)))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    logs = []
    got = choose_precision(_cfg(tmp_path, precision="auto", channels_last=False), model, batch, torch.device("cpu"), logs.append)
    assert got in ("fp32", "bf16") and "ms/step" in logs[-1]
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # timing used a copy


def test_config_round_trip_and_unknown_options():
    cfg = TrainConfig(input_size=(96, 128), lr_steps=(3, 4))
    assert TrainConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg  # lists come back as tuples
    with pytest.raises(ValueError, match="unknown training options"):
        TrainConfig.from_dict({"epoch": 3})


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
@pytest.mark.parametrize("batch_size", [
    2,
    # 6 samples over 2 ranks = 3 per rank, fewer than a batch of 4: train() sets drop_last from the *global*
    # dataset size (6 > 4), so each rank's loader is empty and next(iter(loader)) raises StopIteration
    4,  # 3 samples per process: fewer than one batch, so the last (only) batch must be kept
])
def test_two_process_ddp_training_step(tmp_path, batch_size):
    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
           "--master_port", str(_free_port()), "-m", "hpe_utils.cli", "train", "--dataset", "lsp", "--data",
           str(FIX / "lsp"), "--train-range", "0", "6", "--val-range", "4", "6", "--depth", "18", "--input-size", "64",
           "64", "--deconv-filters", "32", "32", "32", "--epochs", "1", "--batch-size", str(batch_size),
           "--max-steps-per-epoch", "1", "--precision", "fp32", "--out-dir", str(out), "--no-progress", "--threads", "1"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env, cwd=REPO)
    assert r.returncode == 0, r.stderr[-3000:]
    hist = json.loads((out / "metrics.json").read_text())
    assert len(hist) == 1 and hist[0]["epoch"] == 1 and hist[0]["img_per_s"] > 0
    assert (out / "best.pt").exists() and (out / "last.pt").exists()


def test_metrics_record_the_rate_each_epoch_trained_at_and_stay_strict_json(tmp_path):
    cfg = _cfg(tmp_path, lr_steps=(1,), val_range=None, epochs=2)
    train(cfg, log=lambda *_: None)

    def no_nan(token):
        raise AssertionError(f"metrics.json contains {token}")

    hist = json.loads((Path(cfg.out_dir) / "metrics.json").read_text(), parse_constant=no_nan)
    assert [h["lr"] for h in hist] == pytest.approx([1e-3, 1e-4])
    assert all(h["val_pck@0.2"] is None for h in hist)  # no validation set: null, not NaN


def test_training_can_start_from_an_imagenet_backbone_file(tmp_path, capsys):
    import torchvision

    torch.manual_seed(1)
    classifier = torchvision.models.resnet18(weights=None).state_dict()
    path = tmp_path / "resnet18_imagenet.pth"
    torch.save(classifier, path)
    logs = []
    train(_cfg(tmp_path, backbone_weights=str(path), epochs=1, lr=0.0, max_steps_per_epoch=1), log=logs.append)
    assert any(str(line).startswith("backbone: 120 tensors") for line in logs)
    trained = torch.load(tmp_path / "run" / "last.pt", map_location="cpu", weights_only=True)["model"]
    for k in ("conv1.weight", "layer2.0.downsample.0.weight", "layer4.1.conv2.weight"):
        assert torch.equal(trained[k], classifier[k]), k  # lr 0: what was loaded is what trained
    path.unlink()  # resuming needs last.pt, not the starting file
    logs.clear()
    train(_cfg(tmp_path, backbone_weights=str(path), epochs=2, lr=0.0, max_steps_per_epoch=1), log=logs.append)
    assert any("resumed" in str(line) for line in logs) and not any("backbone:" in str(line) for line in logs)
    with pytest.raises(ValueError, match="both set"):
        _cfg(tmp_path, backbone_weights=str(path), init_weights=str(path))
    torch.save({"x": torch.zeros(1)}, tmp_path / "junk.pth")
    assert main(["train", "--data", str(FIX / "lsp"), "--train-range", "0", "6", "--val-range", "4", "6",
                 "--out-dir", str(tmp_path / "r2"), "--backbone-weights", str(tmp_path / "junk.pth")]) == 2
    assert "no ResNet backbone keys" in capsys.readouterr().err and not (tmp_path / "r2").exists()
