"""Each notebook is paired with a py:percent script: the two must hold the same cells (review the .py)."""
from pathlib import Path

import pytest

jupytext = pytest.importorskip("jupytext")
NB = Path(__file__).resolve().parent.parent / "notebooks"
PAIRS = sorted(NB.glob("0*.py"))


def test_every_notebook_has_a_script_and_the_numbering_is_complete():
    names = [p.stem for p in PAIRS]
    assert [n[:2] for n in names] == [f"{i:02d}" for i in range(1, len(names) + 1)]
    assert {p.stem for p in NB.glob("0*.ipynb")} == set(names)


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
