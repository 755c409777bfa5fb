"""Every exercise's check is proven against its worked solution, the notebook's untouched stub and a wrong answer.

A check that cannot fail, or that fails the solution, or that calls a stub a failure, is caught here.
"""
from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType
from typing import Any, Callable

import numpy as np
import pytest
import torch

from hpe_utils.exercises import EXERCISES, Checker, Exercise
from hpe_utils.exercises.core import LEVELS
from hpe_utils.notebook import NOTEBOOK_EXTRAS

REPO = Path(__file__).resolve().parent.parent
NAMES = sorted(EXERCISES)


def _load(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader, path
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _cells(notebook: str) -> list[str]:
    """The code and markdown cells of a notebook's paired script, as text."""
    text = (REPO / "notebooks" / f"{notebook}.py").read_text()
    return [c.strip() for c in re.split(r"^# %%.*$", text, flags=re.M)[1:]]


def _stub(ex: Exercise) -> Callable[..., Any]:
    """The stub exactly as the notebook ships it: its cell run on its own."""
    cells = [c for c in _cells(ex.notebook) if re.search(rf"^def {ex.function}\(", c, flags=re.M)]
    assert len(cells) == 1, f"{ex.notebook} must define {ex.function}() in exactly one cell"
    namespace: dict[str, Any] = {"np": np, "torch": torch, "nn": torch.nn}
    exec(compile(cells[0], f"<{ex.notebook} stub>", "exec"), namespace)
    return namespace[ex.function]


def _solution(ex: Exercise) -> Callable[..., Any]:
    module = _load(REPO / ex.solution_path, f"solution_{ex.notebook}")
    return getattr(module, ex.function)


def _mistakes() -> list[tuple[str, Callable[..., Any], str]]:
    out = []
    for path in sorted((REPO / "tests" / "exercise_mistakes").glob("nb*.py")):
        out += _load(path, f"mistakes_{path.stem}").MISTAKES
    return out


MISTAKES = _mistakes()


@pytest.mark.parametrize("name", NAMES)
def test_the_worked_solution_passes(name):
    feedback = Checker().run(name, _solution(EXERCISES[name]))
    assert feedback.status == "correct", str(feedback)


@pytest.mark.parametrize("name", NAMES)
def test_the_untouched_stub_is_not_attempted_rather_than_wrong(name):
    feedback = Checker().run(name, _stub(EXERCISES[name]))
    assert feedback.status == "not attempted", str(feedback)
    assert "not attempted yet" in str(feedback)


@pytest.mark.parametrize("name, answer, expected", MISTAKES, ids=[f"{m[0]}-{m[1].__name__}" for m in MISTAKES])
def test_a_plausible_wrong_answer_fails_with_the_message_that_leads_to_the_fix(name, answer, expected):
    feedback = Checker().run(name, answer)
    assert feedback.status == "wrong", str(feedback)
    assert expected in feedback.message, str(feedback)
    assert "Traceback" not in feedback.message


def test_every_exercise_has_at_least_one_wrong_answer_tested():
    assert set(NAMES) - {m[0] for m in MISTAKES} == set()


def test_every_notebook_ends_with_two_to_four_exercises_from_warm_up_to_stretch():
    for notebook in NOTEBOOK_EXTRAS:
        own = [ex for ex in EXERCISES.values() if ex.notebook == notebook]
        assert 2 <= len(own) <= 4, f"{notebook} has {len(own)} exercises"
        assert all(ex.level in LEVELS and ex.title and ex.hints for ex in own)
        cells = _cells(notebook)
        start = next((i for i, c in enumerate(cells) if c.startswith("# ## Exercises")), None)
        assert start is not None, f"{notebook} has no '## Exercises' section"
        tail = "\n".join(cells[start:])
        assert not any(c.startswith("# ## ") for c in cells[start + 1:]), f"{notebook}: the exercises must come last"
        for ex in own:
            assert f"check.{ex.name}({ex.function})" in tail, f"{notebook} never checks {ex.name}"
            assert f"check.hint({ex.name!r})" in tail or 'check.hint("' in tail, f"{notebook} never shows check.hint"


def test_every_check_cell_compares_its_output_under_nbval():
    for ex in EXERCISES.values():
        cell = next(c for c in _cells(ex.notebook) if f"check.{ex.name}(" in c)
        assert cell.startswith("# NBVAL_CHECK_OUTPUT"), f"{ex.name}: mark its check cell NBVAL_CHECK_OUTPUT"


def test_an_unknown_exercise_name_lists_the_real_ones():
    with pytest.raises(AttributeError, match="ex02_encode"):
        Checker().ex02_encod(lambda: None)


def test_hints_come_one_at_a_time_then_point_to_the_solution():
    check = Checker()
    ex = EXERCISES["ex02_encode"]
    seen = [check.hint("ex02_encode") for _ in range(len(ex.hints) + 1)]
    assert [f"hint {i + 1}/{len(ex.hints)}" in s for i, s in enumerate(seen[:-1])] == [True] * len(ex.hints)
    assert ex.solution_path in seen[-1] and "no more hints" in seen[-1]
    assert repr(seen[0]) == str(seen[0])  # shown as text in a notebook, not as a quoted string
    assert "hint 1/" in Checker().hint("ex02_encode")  # each Checker counts on its own


def test_passing_the_result_instead_of_the_function_says_so():
    feedback = Checker().ex02_encode(np.zeros((64, 48)))
    assert feedback.status == "wrong" and "pass the function itself" in feedback.message


def test_a_crash_in_the_learners_code_names_the_case_and_line_instead_of_a_traceback():
    def encode_joint(x, y, visible, heatmap_size=(48, 64), sigma=2.0, stride=4):
        return undefined_name  # noqa: F821

    feedback = Checker().ex02_encode(encode_joint)
    assert feedback.status == "wrong"
    assert "NameError" in feedback.message and "undefined_name" in feedback.message


def test_every_solution_script_holds_only_its_notebooks_answers():
    for notebook in NOTEBOOK_EXTRAS:
        module = _load(REPO / "notebooks" / "solutions" / f"{notebook}.py", f"solution_check_{notebook}")
        wanted = {ex.function for ex in EXERCISES.values() if ex.notebook == notebook}
        assert wanted <= set(vars(module)), f"{notebook}: solutions missing {wanted - set(vars(module))}"


def test_the_checker_imports_where_a_notebook_installed_no_extras():
    """On Colab notebook 01 installs no extras: importing the exercises must not need the server, ONNX or widgets."""
    import subprocess
    import sys

    blocked = ["fastapi", "uvicorn", "httpx", "onnx", "onnxruntime", "onnxscript", "ipywidgets"]
    code = ("import sys\n" + "".join(f"sys.modules[{m!r}] = None\n" for m in blocked)
            + "from hpe_utils.exercises import EXERCISES, Checker\nprint(len(EXERCISES))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_the_learning_path_page_lists_every_exercise_from_the_registry():
    from hpe_utils.exercises import exercises_table

    page = (REPO / "docs" / "learning-path.md").read_text()
    assert exercises_table() in page  # regenerate with python -m hpe_utils.exercises


def test_the_stated_number_of_exercises_per_notebook_is_the_registrys():
    from collections import Counter

    import hpe_utils.exercises
    from hpe_utils.exercises import EXERCISES

    per_notebook = Counter(ex.notebook for ex in EXERCISES.values())
    stated = f"{min(per_notebook.values())}–{max(per_notebook.values())} exercises"
    for page in (REPO / "README.md", REPO / "docs" / "learning-path.md", REPO / "docs" / "notebooks.md"):
        assert stated in page.read_text(), (page.name, stated)
    assert stated in (hpe_utils.exercises.__doc__ or "")


@pytest.mark.slow
def test_a_teacher_checks_every_worked_solution_from_the_command_line():
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "hpe_utils.exercises", "--solutions"], capture_output=True, text=True,
                          timeout=600, cwd=REPO)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("✅") == len(EXERCISES)
