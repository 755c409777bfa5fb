"""Each notebook is paired with a py:percent script: the two must hold the same cells (review the .py)."""
from pathlib import Path

import pytest

jupytext = pytest.importorskip("jupytext")
NB = Path(__file__).resolve().parent.parent / "notebooks"
PAIRS = sorted(NB.glob("[0-9][0-9]_*.py"))


def test_every_notebook_has_a_script_and_the_numbering_is_complete():
    names = [p.stem for p in PAIRS]
    assert [n[:2] for n in names] == [f"{i:02d}" for i in range(1, len(names) + 1)]
    assert {p.stem for p in NB.glob("[0-9][0-9]_*.ipynb")} == set(names)


@pytest.mark.parametrize("script", PAIRS, ids=[p.stem for p in PAIRS])
def test_notebook_cells_match_the_paired_script(script):
    py = jupytext.read(script)
    nb = jupytext.read(script.with_suffix(".ipynb"))
    assert [(c.cell_type, c.source.strip()) for c in nb.cells] == [(c.cell_type, c.source.strip()) for c in py.cells]


@pytest.mark.parametrize("script", PAIRS, ids=[p.stem for p in PAIRS])
def test_stored_outputs_come_from_a_full_run(script):
    nb = jupytext.read(script.with_suffix(".ipynb"))
    code = [c for c in nb.cells if c.cell_type == "code"]
    counts = [c.get("execution_count") for c in code]
    assert all(counts), f"{script.stem}: some cells were never run"
    assert counts == sorted(counts), f"{script.stem}: cells were run out of order"
    errors = [o for c in code for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, f"{script.stem}: stored outputs contain an error"


@pytest.mark.parametrize("script", PAIRS, ids=[p.stem for p in PAIRS])
def test_every_figure_a_cell_returns_is_stored_as_an_image(script):
    """A figure shown as '<Figure size ...>' text means Jupyter could not draw it (no inline backend)."""
    nb = jupytext.read(script.with_suffix(".ipynb"))
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
               if o.get("output_type") in ("execute_result", "display_data")]
    as_text = [o for o in outputs if "image/png" not in o["data"]
               and str(o["data"].get("text/plain", "")).startswith("<Figure")]
    assert not as_text, f"{script.stem}: {len(as_text)} figure(s) stored as text, not drawn"


def test_every_notebook_starts_with_the_setup_cell_rendered_for_its_own_extras():
    from hpe_utils.notebook import NOTEBOOK_EXTRAS, first_cell, setup_cell_of

    assert list(NOTEBOOK_EXTRAS) == [p.stem for p in PAIRS]  # every notebook has its line in the table
    for script in PAIRS:
        assert setup_cell_of(script.read_text()) == first_cell(script.stem), f"{script.stem}: run make sync-notebooks"
        stored = jupytext.read(script.with_suffix(".ipynb"))
        assert next(c for c in stored.cells if c.cell_type == "code").source.strip() == first_cell(script.stem)



def test_the_first_cell_is_a_few_lines_that_install_on_colab_and_call_setup():
    from hpe_utils.notebook import NOTEBOOK_EXTRAS, first_cell

    for name in NOTEBOOK_EXTRAS:
        cell = first_cell(name)
        assert len(cell.splitlines()) <= 8, name
        assert cell.splitlines()[-1].startswith("DATA, DEVICE = setup()"), name
        compile(cell, name, "exec")  # valid Python as rendered


def test_setup_points_the_data_at_the_colab_clone_and_reports_the_device(monkeypatch, tmp_path, capsys):
    from hpe_utils.files import repo_root
    from hpe_utils.notebook import setup

    monkeypatch.setenv("HPE_ROOT", "unset-below")  # recorded, so setup()'s own setting is undone after the test
    monkeypatch.delenv("HPE_ROOT")
    monkeypatch.setenv("HPE_COLAB", "1")
    monkeypatch.setenv("HPE_CLONE_DIR", str(tmp_path))
    data, device = setup()
    assert data == tmp_path.resolve() / "data" and repo_root() == tmp_path.resolve()
    assert device in ("cpu", "cuda") and "running on" in capsys.readouterr().out

def test_each_first_cell_installs_extras_that_exist_and_heavy_ones_only_where_used():
    import tomllib

    from hpe_utils.notebook import NOTEBOOK_EXTRAS

    extras = tomllib.loads((NB.parent / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    for name, wanted in NOTEBOOK_EXTRAS.items():
        assert set(wanted) <= set(extras), name
        code = (NB / f"{name}.py").read_text()
        exports = "hpe_utils.export" in code or "hpe_utils.web" in code  # the web site holds an ONNX model too
        assert ("export" in wanted) == ("onnx" in code.lower() and exports), name
        assert ("serve" in wanted) == ("hpe_utils.serve" in code), name
        assert ("widgets" in wanted) == ("import ipywidgets" in code), name


def test_moving_the_repository_is_one_line_every_first_cell_and_badge_follows(tmp_path):
    """Change REPO_URL (here: pass another) and sync: each first cell and each badge (README, docs) changes with it."""
    import shutil

    from hpe_utils.notebook import NOTEBOOK_EXTRAS, colab_url, first_cell, setup_cell_of, sync

    (tmp_path / "notebooks").mkdir()
    for script in PAIRS:
        shutil.copy(script, tmp_path / "notebooks" / script.name)
    (tmp_path / "docs").mkdir()
    pages = ["README.md", "docs/notebooks.md"]  # the course map and the full notebook table both carry badges
    for page in pages:
        shutil.copy(NB.parent / page, tmp_path / page)
        text = (NB.parent / page).read_text()
        for name in NOTEBOOK_EXTRAS:  # each page as it is follows the current URL
            assert colab_url(name) in text, (page, name)
    fork = "https://github.com/someone/pose-course"
    changed = sync(tmp_path, fork)
    assert len(changed) == len(PAIRS) + len(pages)
    for name in NOTEBOOK_EXTRAS:
        assert setup_cell_of((tmp_path / "notebooks" / f"{name}.py").read_text()) == first_cell(name, fork)
    for page in pages:
        moved = (tmp_path / page).read_text()
        for name in NOTEBOOK_EXTRAS:
            assert colab_url(name, fork) in moved and colab_url(name) not in moved, (page, name)
    assert sync(tmp_path, fork) == []  # idempotent


def test_stored_notebooks_are_small_enough_for_githubs_viewer():
    for script in PAIRS:
        size = script.with_suffix(".ipynb").stat().st_size
        assert size < 2_000_000, f"{script.stem}: {size / 1e6:.1f} MB"


def test_explore_draws_the_starting_picture_and_adds_sliders_only_in_a_live_run(monkeypatch):
    """GitHub's viewer draws no widgets, so the plain picture comes first; headless runs skip the sliders."""
    ipywidgets = pytest.importorskip("ipywidgets")
    from hpe_utils import notebook

    drawn, sliders = [], []
    monkeypatch.setattr(ipywidgets, "interact", lambda show, **controls: sliders.append(sorted(controls)))
    monkeypatch.delenv("HPE_NO_WIDGETS", raising=False)
    notebook.explore(lambda x, n: drawn.append((x, n)), x=ipywidgets.FloatSlider(1.5), n=ipywidgets.IntSlider(3))
    assert drawn == [(1.5, 3)] and sliders == [["n", "x"]]
    monkeypatch.setenv("HPE_NO_WIDGETS", "1")
    notebook.explore(lambda x, n: drawn.append((x, n)), x=ipywidgets.FloatSlider(2.0), n=ipywidgets.IntSlider(4))
    assert drawn[-1] == (2.0, 4) and len(sliders) == 1
