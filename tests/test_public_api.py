"""`from hpe_utils import …` gives the documented names, each the real object, whatever was imported before."""
import importlib
import pkgutil
import subprocess
import sys
import types

import hpe_utils

README_NAMES = ["Predictor", "predict", "load_weights", "PoseResNet", "HeatmapCodec", "SKELETONS", "draw_skeleton"]


def test_the_readme_example_import_works_in_a_fresh_process():
    code = f"from hpe_utils import {', '.join(README_NAMES)}; print(Predictor.__name__, SKELETONS['mpii16'].num_joints)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["Predictor", "16"]


def test_every_public_name_is_an_object_of_its_module_not_a_submodule():
    for info in pkgutil.iter_modules(hpe_utils.__path__):  # a submodule, once imported, shadows a package attribute
        importlib.import_module(f"hpe_utils.{info.name}")
    for name in hpe_utils.__all__:
        value = getattr(hpe_utils, name)
        assert not isinstance(value, types.ModuleType), name
    assert set(README_NAMES) <= set(hpe_utils.__all__) and set(hpe_utils.__all__) <= set(dir(hpe_utils))


def test_every_module_declares_all_and_its_names_exist():
    for info in pkgutil.iter_modules(hpe_utils.__path__):
        module = importlib.import_module(f"hpe_utils.{info.name}")
        assert isinstance(getattr(module, "__all__", None), list), f"hpe_utils.{info.name} has no __all__"
        missing = [n for n in module.__all__ if not hasattr(module, n)]
        assert not missing, (info.name, missing)
