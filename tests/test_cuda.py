"""The GPU path (Colab's GPU runtimes): each test runs where CUDA exists and skips with the reason elsewhere."""
import numpy as np
import pytest
import torch

from hpe_utils import auto
from hpe_utils.notebook import setup
from hpe_utils.predictor import Predictor

from conftest import REPO

MESSI = REPO / "data" / "messi_kick.webp"
cuda = pytest.mark.skipif(not torch.cuda.is_available(),
                          reason="no CUDA device on this machine (these run on a GPU runtime, e.g. Colab's)")


def test_the_notebooks_run_on_the_gpu_when_there_is_one(monkeypatch, capsys):
    """Their first cell's `DATA, DEVICE = setup()`: "cuda" on a GPU runtime, "cpu" elsewhere."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert setup()[1] == "cpu" and "running on CPU" in capsys.readouterr().out
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda *_: "Tesla T4")
    data, device = setup()
    assert device == "cuda" and "running on CUDA Tesla T4" in capsys.readouterr().out and (data / "messi_kick.webp").exists()


def test_auto_on_cuda_tries_the_cuda_engines_of_the_registry():
    names, skipped = auto.auto_candidates(torch.device("cuda"))
    assert names == ["torch", "torch-fp16"] and not skipped  # no compiled or ONNX Runtime engine on CUDA


@cuda
def test_the_predictor_on_cuda_puts_the_joints_where_the_cpu_does(default, cache):
    cpu = Predictor(default, backend="torch")(MESSI).people[0].keypoints
    for backend in ("torch", "torch-fp16", "auto"):
        gpu = Predictor(default, device="cuda", backend=backend, expected_images=auto.MEASURE_MIN_IMAGES)
        assert np.abs(gpu(MESSI).people[0].keypoints - cpu).max() < 1.0, gpu.backend.name


@cuda
def test_eval_and_training_validation_run_on_cuda(tmp_path):
    from hpe_utils.cli import main

    lsp = REPO / "data" / "lsp_sample"
    assert main(["eval", "--weights", "default", "--dataset", "lsp", "--data", str(lsp), "--range", "0", "8",
                 "--device", "cuda", "-q"]) == 0
    from hpe_utils.train import TrainConfig, train

    row = train(TrainConfig(dataset="lsp", data=str(lsp), train_range=(0, 8), val_range=(8, 12), input_size=(64, 64),
                            epochs=1, batch_size=4, device="cuda", out_dir=str(tmp_path / "run"), progress=False),
                log=lambda *_: None)
    assert row["epoch"] == 1 and row["val_pck@0.2"] is not None
