"""backend="auto": the fastest engine that matches eager fp32, measured only when the work repays it, then cached."""
import json
import math
import time

import numpy as np
import pytest
import torch

from hpe_utils import auto
from hpe_utils.cli import main
from hpe_utils.engines import engine_spec
from hpe_utils.predictor import Predictor
from hpe_utils.timing import side_by_side_ms

from conftest import REPO

MESSI = REPO / "data" / "messi_kick.webp"
MANY = auto.MEASURE_MIN_IMAGES  # enough images for auto to measure


@pytest.fixture
def torch_and_onnx(monkeypatch):
    """Measure two quick candidates only: compiling would make every test here a minute long."""
    monkeypatch.setattr(auto, "auto_candidates", lambda device: (["torch", "onnx"], {"compiled": "skipped: test"}))


def _key(loaded, cache):
    return engine_spec(loaded.model, torch.device("cpu"), loaded.input_size, lambda: None, cache).key


def test_auto_keeps_the_fastest_engine_that_matches_fp32_and_caches_the_choice(default, cache, torch_and_onnx):
    logs: list[str] = []
    p = Predictor(default, backend="auto", expected_images=MANY, log=logs.append)
    d = p.decision
    assert d is not None and not d.cached and d.measured and p.backend.name == d.backend
    assert {m.backend for m in d.measurements} == {"torch", "onnx", "compiled"}
    chosen = next(m for m in d.measurements if m.backend == d.backend)
    assert chosen.ok and chosen.ms == min(m.ms for m in d.measurements if m.ok and m.ms)
    assert (cache / f"{_key(default, cache)}-auto.json").exists()
    # a second process start, even for one image, reads the decision and measures nothing
    logs.clear()
    again = Predictor(default, backend="auto", log=logs.append)
    assert again.decision.cached and again.backend.name == d.backend
    assert not any("measuring" in m for m in logs)
    a, b = p(MESSI), again(MESSI)
    np.testing.assert_allclose(a.people[0].keypoints, b.people[0].keypoints, atol=0.5)
    # --remeasure measures again, whatever the amount of work
    assert not Predictor(default, backend="auto", remeasure=True).decision.cached


def test_auto_does_not_measure_for_a_few_images(default, cache, monkeypatch):
    """One picture: measuring and compiling (20-75 s) would cost more than the fastest engine could save."""
    def never(*a, **k):
        raise AssertionError("auto measured for one image")

    monkeypatch.setattr(auto, "measure", never)
    logs: list[str] = []
    p = Predictor(default, backend="auto", expected_images=MANY - 1, log=logs.append)
    assert p.backend.name == "torch" and not p.decision.measured and not p.decision.cached
    assert f"auto measures from {MANY} images" in p.decision.summary()
    assert "nothing measured" in p.decision.table()
    assert not cache.exists() or not list(cache.glob("*-auto.json"))  # nothing cached: a large job will measure


def test_a_cached_choice_that_would_need_compiling_falls_back_to_eager_for_a_small_job(default, cache, monkeypatch):
    spec_key = _key(default, cache)
    cache.mkdir(parents=True, exist_ok=True)
    decision = auto.AutoDecision("compiled", 2, [auto.Measurement("compiled", ms=1.0, moved=0.0)])
    (cache / f"{spec_key}-auto.json").write_text(json.dumps(decision.to_json()))
    monkeypatch.setattr("hpe_utils.engines.compile_package", lambda *a, **k: pytest.fail("compiled for one image"))
    logs: list[str] = []
    p = Predictor(default, backend="auto", log=logs.append)
    assert p.backend.name == "torch" and any("not compiled here any more" in m for m in logs)


def test_a_server_starts_on_eager_pytorch_and_switches_when_the_background_measurement_ends(default, cache,
                                                                                              torch_and_onnx,
                                                                                              monkeypatch):
    real_measure = auto.measure

    def slow_measure(*a, **k):
        time.sleep(0.5)  # long enough to see the server answer on eager PyTorch first
        return real_measure(*a, **k)

    monkeypatch.setattr("hpe_utils.predictor.measure", slow_measure)
    p = Predictor(default, backend="auto", expected_images=math.inf, background=True)
    assert p.backend.name == "torch" and not p.decision.measured
    first = p(MESSI)  # answers while measuring
    assert p.wait_for_backend(timeout=300)
    assert p.decision.measured and p.backend.name == p.decision.backend
    np.testing.assert_allclose(p(MESSI).people[0].keypoints, first.people[0].keypoints, atol=0.5)


def test_auto_refuses_a_fast_engine_that_moves_joints(default, cache, torch_and_onnx, monkeypatch):
    """A fast but wrong engine (heatmaps shifted 3 px) fails parity and is never chosen."""

    class FastButWrong:
        name = "onnx"

        def __init__(self, model):
            self.model = model

        def __call__(self, x):
            with torch.no_grad():
                return np.roll(self.model(torch.from_numpy(x)).numpy(), 3, axis=3)

    monkeypatch.setattr(auto, "build_engine", lambda name, spec, log=None, compile_ok=True: FastButWrong(spec.model))
    p = Predictor(default, backend="auto", expected_images=MANY)
    wrong = next(m for m in p.decision.measurements if m.backend == "onnx")
    assert p.backend.name == "torch" and not wrong.ok and wrong.moved > 0.5
    assert "fails parity" in p.decision.table()


def test_an_engine_that_cannot_be_built_is_skipped_with_its_reason(default, cache, monkeypatch):
    def broken(name, spec, log=None, compile_ok=True):
        raise RuntimeError("no compiler here")

    monkeypatch.setattr(auto, "auto_candidates", lambda device: (["torch", "compiled"], {}))
    monkeypatch.setattr(auto, "build_engine", broken)
    p = Predictor(default, backend="auto", expected_images=MANY)
    assert p.backend.name == "torch"
    assert "no compiler here" in p.decision.table()


def test_candidates_come_from_the_registry_and_say_why_one_is_skipped(monkeypatch):
    monkeypatch.setattr(auto, "bf16_matmul_speedup", lambda: 0.5)
    names, skipped = auto.auto_candidates(torch.device("cpu"))
    assert names[0] == "torch" and "onnx-int8" not in names and "torchscript" not in names
    assert "bf16 matmul runs at 0.50x fp32" in skipped["torch-bf16"] and "compiled-bf16" in skipped
    monkeypatch.setattr(auto, "bf16_matmul_speedup", lambda: 3.0)
    assert "compiled-bf16" in auto.auto_candidates(torch.device("cpu"))[0]


def test_cli_verbose_names_the_engine_and_times_each_stage(cache, capsys):
    assert main(["predict", str(MESSI), "--backend", "torch", "-v", "-q"]) == 0
    err = capsys.readouterr().err
    assert "engine: torch" in err
    for stage in ("decode image", "preprocess", "model", "postprocess", "total"):
        assert stage in err


def test_auto_without_real_images_runs_eager_pytorch(default, cache, monkeypatch):
    monkeypatch.setattr("hpe_utils.parity.shipped_images", lambda: [])
    logs: list[str] = []
    p = Predictor(default, backend="auto", expected_images=MANY, log=logs.append)
    assert p.backend.name == "torch" and any("no real images" in m for m in logs)


def test_side_by_side_timing_does_not_charge_an_engine_for_its_neighbours_lingering_threads():
    """Like ONNX Runtime's spinning workers: 'noisy' leaves the CPU busy for 40 ms after it returns."""
    busy_until = [0.0]

    def noisy() -> None:
        busy_until[0] = time.perf_counter() + 0.040

    def quiet() -> None:  # 2 ms of work, stretched while the neighbour's threads still hold the CPU
        time.sleep(max(0.0, busy_until[0] - time.perf_counter()) + 0.002)

    ms = side_by_side_ms({"noisy": noisy, "quiet": quiet}, rounds=5)
    assert ms["quiet"] < 20  # timed alone it is 2 ms; charged for its neighbour it would be over 40
