"""The benchmark scripts run and print their tables (numbers are for bench/, never asserted as timings)."""
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_backend_benchmark_prints_a_table_with_ratios_and_peaks(tmp_path):
    pytest.importorskip("onnxruntime")
    out = tmp_path / "table.md"
    r = subprocess.run([sys.executable, str(REPO / "bench" / "backends.py"), "--depths", "18", "--sizes", "64x64",
                        "--batches", "1", "--repeat", "2", "--no-compile", "--out", str(out)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    table = out.read_text()
    assert "Matmul peaks measured in this run" in table and "| R18 (random) | 64x64 | 1 | eager fp32 |" in table
    rows = [l for l in table.splitlines() if l.startswith("| R18")]
    assert len(rows) == 4 and rows[0].split("|")[6].strip() == "1.00"
