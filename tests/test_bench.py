"""The benchmark scripts run and print their tables (numbers are for bench/, never asserted as timings)."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_backend_benchmark_prints_a_table_with_ratios_peaks_agreement_and_auto(tmp_path):
    pytest.importorskip("onnxruntime")
    out = tmp_path / "table.md"
    r = subprocess.run([sys.executable, str(REPO / "bench" / "backends.py"), "--depths", "18", "--sizes", "64x64",
                        "--batches", "1", "--rounds", "2", "--engines", "torch", "onnx", "torchscript",
                        "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    table = out.read_text()
    assert "Matmul peaks measured in this run" in table
    rows = [l.split("|") for l in table.splitlines() if l.startswith("| R18 (default weights) | 64x64 | 1 |")]
    assert [c[4].strip() for c in rows] == ["torch", "onnx", "torchscript"]  # the registry's names
    assert rows[0][6].strip() == "1.00x"
    assert all(c[10].strip().endswith("%") for c in rows)  # agreement with fp32 on real images
    auto = [l for l in table.splitlines() if l.startswith("| R18 (default weights) | 64x64 | ") and "x |" in l
            and l.count("|") == 7]
    assert len(auto) == 1


@pytest.mark.slow
def test_end_to_end_benchmark_splits_the_stages_and_times_processes(tmp_path):
    out = tmp_path / "e2e.md"
    r = subprocess.run([sys.executable, str(REPO / "bench" / "end_to_end.py"), "--calls", "2", "--quick", "--out", str(out)],
                       capture_output=True, text=True, timeout=600, env={**os.environ, "HPE_BACKEND": "torch"})
    assert r.returncode == 0, r.stderr[-2000:]
    text = out.read_text()
    assert "| torch |" in text and "| auto -> " in text and "model share" in text
    assert "1 image, fresh install (empty engine cache)" in text and "3 images, --backend torch" in text


@pytest.mark.slow
def test_detector_pipeline_benchmark_times_a_photo_and_hpe_track_per_stage(tmp_path):
    pytest.importorskip("onnxruntime")
    out = tmp_path / "pipeline.md"
    r = subprocess.run([sys.executable, str(REPO / "bench" / "detector_pipeline.py"), "--quick", "--frames", "6",
                        "--calls", "2", "--out", str(out)], capture_output=True, text=True, timeout=300,
                       env={**os.environ, "HPE_BACKEND": "torch"})
    assert r.returncode == 0, r.stderr[-2000:]
    text = out.read_text()
    assert "| read | detect | crops | model | decode | total ms |" in text
    assert "| defaults (auto, flip test) | torch | 3 |" in text  # the synthetic photo's three people, all found
    assert "| decode | propagate | detect | pose | match | draw | write |" in text and "--detector none" in text


@pytest.mark.slow
def test_training_cost_benchmark_prints_each_config_against_the_default_recipe(tmp_path):
    out = tmp_path / "train_cost.md"
    r = subprocess.run([sys.executable, str(REPO / "bench" / "train_cost.py"), "--depths", "18", "--sizes", "64",
                        "--batch", "2", "--rounds", "1", "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    rows = [line.split(" | ") for line in out.read_text().splitlines() if line.startswith("| ResNet-")]
    assert [(c[0], c[1]) for c in rows] == [("| ResNet-18", "192x192"), ("| ResNet-18", "64x64")]  # the reference first
    assert rows[0][4] == "1.00x" and float(rows[1][4].rstrip("x")) < 1  # a smaller crop costs less per crop
