"""Training: the loss goes down, runs resume where they stopped, DDP runs with two processes."""
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from hpe_utils.losses import JointsMSELoss
from hpe_utils.train import TrainConfig, _train_step, build_datasets, choose_precision, train
from hpe_utils.weights import load_weights

FIX = Path(__file__).resolve().parent / "fixtures"
REPO = Path(__file__).resolve().parent.parent


def _cfg(tmp_path, **kw) -> TrainConfig:
    base = dict(dataset="lsp", data=str(FIX / "lsp"), train_range=(0, 6), val_range=(4, 6), depth=18,
                input_size=(64, 64), deconv_filters=(64, 64, 64), epochs=2, batch_size=4, lr=1e-3, lr_steps=(10,),
                precision="fp32", out_dir=str(tmp_path / "run"), progress=False, max_steps_per_epoch=2, threads=2)
    base.update(kw)
    return TrainConfig(**base)


def test_a_few_steps_decrease_the_loss(tmp_path):
    torch.manual_seed(0)
    cfg = _cfg(tmp_path)
    train_ds, _ = build_datasets(cfg)
    from hpe_utils.model import PoseResNet

    model = PoseResNet(depth=18, num_joints=16, deconv_filters=(64, 64, 64))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    batch = next(iter(torch.utils.data.DataLoader(train_ds, batch_size=4)))
    losses = [_train_step(model, opt, JointsMSELoss(), batch, torch.device("cpu"), None, False) for _ in range(6)]
    assert losses[-1] < losses[0]


def test_train_writes_checkpoints_and_metrics_and_resumes(tmp_path):
    cfg = _cfg(tmp_path)
    row = train(cfg, log=lambda *_: None)
    run = Path(cfg.out_dir)
    assert (run / "last.pt").exists() and (run / "best.pt").exists() and (run / "config.json").exists()
    hist = json.loads((run / "metrics.json").read_text())
    assert [h["epoch"] for h in hist] == [1, 2] and row["epoch"] == 2
    assert (run / "metrics.csv").read_text().splitlines()[0].startswith("epoch,train_loss,val_pck@0.2")
    logs = []
    train(_cfg(tmp_path, epochs=3), log=logs.append)
    assert any("resumed" in line and "epoch 2" in line for line in logs)
    assert [h["epoch"] for h in json.loads((run / "metrics.json").read_text())] == [1, 2, 3]
    lw = load_weights(run / "best.pt")
    assert lw.skeleton.name == "mpii16" and lw.input_size == (64, 64)
    from hpe_utils.predictor import Predictor

    res = Predictor(lw)(str(FIX / "lsp" / "images" / "im00001.jpg"))
    assert res.people[0].keypoints.shape == (16, 2)


def test_precision_is_measured_only_when_auto(tmp_path):
    cfg = _cfg(tmp_path)
    train_ds, _ = build_datasets(cfg)
    from hpe_utils.model import PoseResNet

    model = PoseResNet(depth=18, num_joints=16, deconv_filters=(64, 64, 64))
    batch = next(iter(torch.utils.data.DataLoader(train_ds, batch_size=2)))
    assert choose_precision(cfg, model, batch, torch.device("cpu")) == "fp32"
    before = {k: v.clone() for k, v in model.state_dict().items()}
    logs = []
    got = choose_precision(_cfg(tmp_path, precision="auto", channels_last=False), model, batch, torch.device("cpu"), logs.append)
    assert got in ("fp32", "bf16") and "ms/step" in logs[-1]
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # timing used a copy


def test_unknown_options_are_refused():
    with pytest.raises(ValueError, match="unknown training options"):
        TrainConfig.from_dict({"epoch": 3})


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_process_ddp_training_step(tmp_path):
    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MASTER_ADDR": "127.0.0.1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
           "--master_port", str(_free_port()), "-m", "hpe_utils.cli", "train", "--dataset", "lsp", "--data",
           str(FIX / "lsp"), "--train-range", "0", "6", "--val-range", "4", "6", "--depth", "18", "--input-size", "64",
           "64", "--deconv-filters", "32", "32", "32", "--epochs", "1", "--batch-size", "2", "--max-steps-per-epoch",
           "2", "--precision", "fp32", "--out-dir", str(out), "--no-progress", "--threads", "1"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env, cwd=REPO)
    assert r.returncode == 0, r.stderr[-3000:]
    hist = json.loads((out / "metrics.json").read_text())
    assert len(hist) == 1 and hist[0]["img_per_s"] > 0
