"""The engine registry: every engine maps crops to heatmaps like eager fp32, and one list names them all."""
import re
import subprocess
import sys

import numpy as np
import pytest
import torch

from hpe_utils import engines
from hpe_utils.cli import build_parser
from hpe_utils.model import PoseResNet
from hpe_utils.parity import real_crops
from hpe_utils.predictor import Predictor

from conftest import REPO

MESSI = REPO / "data" / "messi_kick.webp"


def _spec(loaded, cache):
    return engines.engine_spec(loaded.model, torch.device("cpu"), loaded.input_size,
                               lambda: real_crops(loaded.input_size, loaded.color_order), cache)


def test_folding_every_batchnorm_keeps_the_outputs():
    torch.manual_seed(0)
    m = PoseResNet(depth=18, num_joints=16, deconv_filters=(32, 32, 32)).eval()
    for mod in m.modules():  # non-trivial statistics, or folding would be a no-op
        if isinstance(mod, torch.nn.BatchNorm2d):
            mod.running_mean.uniform_(-0.5, 0.5)
            mod.running_var.uniform_(0.5, 2.0)
            mod.weight.data.uniform_(0.5, 1.5)
    folded = engines.fold_batchnorms(m)
    assert not any(isinstance(x, torch.nn.BatchNorm2d) for x in folded.modules())
    x = torch.randn(2, 3, 64, 48)
    with torch.no_grad():
        torch.testing.assert_close(folded(x), m(x), atol=1e-4, rtol=1e-4)


def test_tracers_wait_for_one_another_across_threads(tmp_path):
    """A server measuring engines (fx-traced BatchNorm fusion) in a thread must not trace while the notebook
    exports: torch's tracers patch nn.Module.__call__ process-wide. Each tracer waits while the lock is held."""
    import threading

    from hpe_utils import formats

    m = PoseResNet(depth=18, num_joints=16, deconv_filters=(32, 32, 32)).eval()
    x = torch.randn(1, 3, 64, 48)
    tracers = {"fuse": lambda: engines.fold_batchnorms(m),
               "jit.trace": lambda: formats.trace_torchscript(m, x),
               "onnx.export": lambda: formats.export_onnx_model(m, x, tmp_path / "m.onnx", {})}
    for name, run in tracers.items():
        done = threading.Event()
        worker = threading.Thread(target=lambda: (run(), done.set()), daemon=True)
        with formats.TRACE_LOCK:  # another thread is tracing
            worker.start()
            assert not done.wait(0.5), f"{name} traced while another trace held the lock"
        worker.join(120)
        assert done.is_set(), f"{name} never ran after the lock was released"


def test_weights_fingerprint_changes_with_any_weight():
    torch.manual_seed(0)
    m = PoseResNet(depth=18, num_joints=16, deconv_filters=(32, 32, 32))
    before = engines.weights_fingerprint(m)
    assert engines.weights_fingerprint(m) == before
    with torch.no_grad():
        m.final_layer.bias[0] += 1e-3
    assert engines.weights_fingerprint(m) != before


def test_compiled_engine_matches_eager_and_loads_from_the_cache(default, cache):
    spec = _spec(default, cache)
    with pytest.raises(engines.EngineNotReady):  # small jobs never pay for a compile they did not ask for
        engines.build_engine("compiled", spec, compile_ok=False)
    engine = engines.build_engine("compiled", spec)
    x = real_crops(default.input_size, default.color_order)[:3]
    with torch.no_grad():
        ref = default.model(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(engine(x), ref, atol=1e-4)  # 3 = a batch of 2 and a batch of 1
    pkgs = sorted(cache.glob("*-compiled-b*.pt2"))
    assert [p.name[-7:] for p in pkgs] == ["-b1.pt2", "-b2.pt2"]
    stamp = pkgs[1].stat().st_mtime_ns
    again = engines.build_engine("compiled", _spec(default, cache), compile_ok=False)
    assert pkgs[1].stat().st_mtime_ns == stamp  # loaded, not compiled again
    np.testing.assert_allclose(again(x), ref, atol=1e-4)


def test_loading_a_compiled_package_in_a_fresh_process_prints_nothing(default, cache):
    """torch warns "No CUDA runtime is found" when a package is loaded on a CPU-only machine: nbval and every
    warm `hpe predict` on a CPU where auto picks a compiled engine saw it on stderr."""
    engines.build_engine("compiled", _spec(default, cache))  # compiles once (or loads from this test's cache)
    package = sorted(cache.glob("*-compiled-b2.pt2"))[0]
    code = ("import sys, numpy as np; from hpe_utils.engines import CompiledBackend; import torch;"
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
    with pytest.raises(ValueError, match="does not run on cpu; choose one of torch, torch-bf16, compiled"):
        Predictor(default, backend="torch-fp16")
    with pytest.raises(ValueError, match="unknown backend 'tensorrt'"):
        Predictor(default, backend="tensorrt")


def test_every_engine_name_is_defined_once_and_read_by_the_cli_and_the_docs():
    assert engines.BACKEND_CHOICES == ("auto", *engines.ENGINES)
    parser = build_parser()
    for command in ("predict", "serve", "eval"):
        sub = parser._subparsers._group_actions[0].choices[command]  # type: ignore[union-attr]
        backend = next(a for a in sub._actions if a.dest == "backend")
        assert tuple(backend.choices) == engines.BACKEND_CHOICES
    page = (REPO / "docs" / "engines.md").read_text()
    assert engines.describe_engines_table() in page  # the docs' table is the registry's, regenerated
    for name, info in engines.ENGINES.items():
        assert set(info.devices) <= {"cpu", "cuda"} and set(info.auto_on) <= set(info.devices), name
    # no other module spells out the list of engines
    for path in (REPO / "hpe_utils").glob("*.py"):
        if path.name != "engines.py":
            assert not re.search(r'"compiled-bf16",\s*"onnx"', path.read_text()), path


@pytest.mark.slow
def test_every_cpu_engine_predicts_the_messi_keypoints_of_eager_fp32(default, cache):
    """auto may pick any engine but int8: each must put the Messi joints where eager fp32 does (within 1 px)."""
    ref = Predictor(default, backend="torch")(MESSI).people[0].keypoints
    for name in engines.engines_for("cpu"):
        if engines.ENGINES[name].missing() or name == "onnx-int8":
            continue
        got = Predictor(default, backend=name)(MESSI).people[0].keypoints
        assert np.abs(got - ref).max() < 1.0, (name, np.abs(got - ref).max())
