"""The notebooks' checked outputs and their clean stderr do not depend on which engine runs.

On a CPU with AMX, auto picks compiled-bf16, whose loading once printed a warning that failed nbval; a CPU
elsewhere picks onnx or torch. Forcing each engine auto may pick in turn ($HPE_BACKEND is the default of every Predictor
that names none) proves the notebooks pass whatever auto picks: the cells that print keypoints pin
backend="torch", and no engine writes to stderr.
"""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hpe_utils.engines import ENGINES, engines_for

REPO = Path(__file__).resolve().parent.parent
# the notebooks that predict with the default weights and print rounded keypoints in checked cells
NOTEBOOKS = ["notebooks/03_pretrained_weights.ipynb", "notebooks/05_inference_messi.ipynb"]
# every engine auto may pick on a CPU (int8 and TorchScript it never picks), where it can be built here
CPU_ENGINES = [n for n in engines_for("cpu") if "cpu" in ENGINES[n].auto_on and ENGINES[n].missing() is None]


@pytest.fixture(scope="module")
def engine_cache(tmp_path_factory):
    """One cache for every run, so each compiled engine is compiled once, not once per notebook."""
    return tmp_path_factory.mktemp("engines")


@pytest.mark.slow
@pytest.mark.parametrize("engine", CPU_ENGINES)
def test_checked_notebook_outputs_are_the_same_whatever_engine_runs(engine, engine_cache):
    env = {**os.environ, "HPE_BACKEND": engine, "HPE_OFFLINE": "1", "HPE_NO_WIDGETS": "1",
           "HPE_CACHE_DIR": str(engine_cache)}
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval-lax", *NOTEBOOKS],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stdout[-3000:]
