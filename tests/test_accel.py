"""Fast inference engines and backend="auto": fastest engine that matches eager fp32, chosen once and cached."""
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from hpe_utils import accel
from hpe_utils.cli import main
from hpe_utils.model import PoseResNet
from hpe_utils.predictor import Predictor
from hpe_utils.weights import load_weights

from conftest import REPO

MESSI = REPO / "data" / "messi_kick.webp"


@pytest.fixture(scope="module")
def default():
    return load_weights("default")


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HPE_CACHE_DIR", str(tmp_path))
    return tmp_path / "engines"


def _spec(loaded, cache):
    return accel.engine_spec(loaded.model, torch.device("cpu"), loaded.input_size,
                             lambda: accel.real_crops(loaded.input_size, loaded.color_order), cache)


def test_folding_every_batchnorm_keeps_the_outputs():
    torch.manual_seed(0)
    m = PoseResNet(depth=18, num_joints=16, deconv_filters=(32, 32, 32)).eval()
    for mod in m.modules():  # non-trivial statistics, or folding would be a no-op
        if isinstance(mod, torch.nn.BatchNorm2d):
            mod.running_mean.uniform_(-0.5, 0.5)
            mod.running_var.uniform_(0.5, 2.0)
            mod.weight.data.uniform_(0.5, 1.5)
    folded = accel.fold_batchnorms(m)
    assert not any(isinstance(x, torch.nn.BatchNorm2d) for x in folded.modules())
    x = torch.randn(2, 3, 64, 48)
    with torch.no_grad():
        torch.testing.assert_close(folded(x), m(x), atol=1e-4, rtol=1e-4)


def test_weights_fingerprint_changes_with_any_weight():
    torch.manual_seed(0)
    m = PoseResNet(depth=18, num_joints=16, deconv_filters=(32, 32, 32))
    before = accel.weights_fingerprint(m)
    assert accel.weights_fingerprint(m) == before
    with torch.no_grad():
        m.final_layer.bias[0] += 1e-3
    assert accel.weights_fingerprint(m) != before


def test_auto_keeps_the_fastest_engine_that_matches_fp32_and_caches_the_choice(default, cache, monkeypatch):
    monkeypatch.setattr(accel, "AUTO_CPU", ("torch", "onnx"))
    logs: list[str] = []
    p = Predictor(default, backend="auto", log=logs.append)
    d = p.decision
    assert d is not None and not d.cached and p.backend.name == d.backend
    assert {m.backend for m in d.measurements} == {"torch", "onnx"}
    chosen = next(m for m in d.measurements if m.backend == d.backend)
    assert chosen.ok and chosen.ms == min(m.ms for m in d.measurements if m.ok)
    assert (cache / f"{_spec(default, cache).key}-auto.json").exists()
    # a second process start reads the decision and measures nothing
    logs.clear()
    again = Predictor(default, backend="auto", log=logs.append)
    assert again.decision.cached and again.backend.name == d.backend
    assert not any("measuring" in m for m in logs)
    a, b = p(MESSI), again(MESSI)
    np.testing.assert_allclose(a.people[0].keypoints, b.people[0].keypoints, atol=0.5)
    # --remeasure measures again
    assert not Predictor(default, backend="auto", remeasure=True).decision.cached


def test_auto_refuses_a_fast_engine_that_moves_joints(default, cache, monkeypatch):
    """A fast but wrong engine (heatmaps shifted 3 px) fails parity and is never chosen."""

    class FastButWrong:
        name = "onnx"

        def __init__(self, model):
            self.model = model

        def __call__(self, x):
            with torch.no_grad():
                return np.roll(self.model(torch.from_numpy(x)).numpy(), 3, axis=3)

    real_build = accel.build_engine
    monkeypatch.setattr(accel, "AUTO_CPU", ("torch", "onnx"))
    monkeypatch.setattr(accel, "build_engine",
                        lambda name, spec, log=None: FastButWrong(spec.model) if name == "onnx" else real_build(name, spec))
    p = Predictor(default, backend="auto")
    wrong = next(m for m in p.decision.measurements if m.backend == "onnx")
    assert p.backend.name == "torch" and not wrong.ok and wrong.moved > 0.5
    assert "fails parity" in p.decision.table()


def test_an_engine_that_cannot_be_built_is_skipped_with_its_reason(default, cache, monkeypatch):
    def broken(name, spec, log=None):
        raise RuntimeError("no compiler here")

    monkeypatch.setattr(accel, "AUTO_CPU", ("torch", "compiled"))
    monkeypatch.setattr(accel, "build_engine", broken)
    p = Predictor(default, backend="auto")
    assert p.backend.name == "torch"
    assert "no compiler here" in p.decision.table()


def test_compiled_engine_matches_eager_and_loads_from_the_cache(default, cache):
    spec = _spec(default, cache)
    engine = accel.build_engine("compiled", spec)
    x = accel.real_crops(default.input_size, default.color_order)[:3]
    with torch.no_grad():
        ref = default.model(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(engine(x), ref, atol=1e-4)  # 3 = a batch of 2 and a batch of 1
    pkgs = sorted(cache.glob("*-compiled-b*.pt2"))
    assert [p.name[-7:] for p in pkgs] == ["-b1.pt2", "-b2.pt2"]
    stamp = pkgs[1].stat().st_mtime_ns
    again = accel.build_engine("compiled", _spec(default, cache))
    assert pkgs[1].stat().st_mtime_ns == stamp  # loaded, not compiled again
    np.testing.assert_allclose(again(x), ref, atol=1e-4)


def test_loading_a_compiled_package_in_a_fresh_process_prints_nothing(default, cache):
    """torch warns "No CUDA runtime is found" when a package is loaded on a CPU-only machine: nbval and every
    warm `hpe predict` on a CPU where auto picks a compiled engine saw it on stderr."""
    accel.build_engine("compiled", _spec(default, cache))  # compiles once (or loads from this test's cache)
    package = sorted(cache.glob("*-compiled-b2.pt2"))[0]
    code = ("import sys, numpy as np; from hpe_utils.accel import CompiledBackend; import torch;"
            f"e = CompiledBackend(lambda b: sys.exit('asked to compile') if b != 2 else {str(package)!r}, torch.float32);"
            "print(e(np.zeros((2, 3, 192, 192), np.float32)).shape)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "(2, 16, 48, 48)"
    assert done.stderr == ""


def test_a_checkpoint_runs_on_onnx_runtime_without_a_manual_export(default, cache):
    onnx = Predictor(default, backend="onnx")
    torch_ = Predictor(default, backend="torch")
    assert onnx.backend.name == "onnx"
    np.testing.assert_allclose(onnx(MESSI).people[0].keypoints, torch_(MESSI).people[0].keypoints, atol=0.5)


def test_backend_env_sets_the_default_and_an_argument_wins(default, cache, monkeypatch):
    monkeypatch.setenv("HPE_BACKEND", "torchscript")
    assert Predictor(default).backend.name == "torchscript"
    assert Predictor(default, backend="torch").backend.name == "torch"


def test_unknown_or_wrong_device_backend_is_a_clear_error(default, cache):
    with pytest.raises(ValueError, match="does not run on cpu"):
        Predictor(default, backend="torch-fp16")


def test_cli_verbose_names_the_engine_and_times_each_stage(cache, capsys):
    assert main(["predict", str(MESSI), "--backend", "torch", "-v", "-q"]) == 0
    err = capsys.readouterr().err
    assert "engine: torch" in err
    for stage in ("decode image", "preprocess", "model", "postprocess", "total"):
        assert stage in err


def test_auto_without_real_images_runs_eager_pytorch(default, cache, monkeypatch):
    monkeypatch.setattr("hpe_utils.images.shipped_images", lambda: [])
    logs: list[str] = []
    p = Predictor(default, backend="auto", log=logs.append)
    assert p.backend.name == "torch" and any("no real images" in m for m in logs)


def test_side_by_side_timing_does_not_charge_an_engine_for_its_neighbours_lingering_threads():
    """Like ONNX Runtime's spinning workers: 'noisy' leaves the CPU busy for 40 ms after it returns."""
    busy_until = [0.0]

    def noisy() -> None:
        busy_until[0] = time.perf_counter() + 0.040

    def quiet() -> None:  # 2 ms of work, stretched while the neighbour's threads still hold the CPU
        time.sleep(max(0.0, busy_until[0] - time.perf_counter()) + 0.002)

    ms = accel.side_by_side_ms({"noisy": noisy, "quiet": quiet}, rounds=5)
    assert ms["quiet"] < 20  # timed alone it is 2 ms; charged for its neighbour it would be over 40
