"""The course notebooks' shared pieces: their first cell (the Colab bootstrap), what each one installs, and setup().

Every notebook starts with the same few lines, rendered from :data:`SETUP_CELL` with the repository's URL and
the extras that notebook needs (:data:`NOTEBOOK_EXTRAS`): on Colab they clone the course (for its data and
weights) and install the package with those extras, keeping Colab's own torch, then call :func:`setup`. The
cell runs before the package is installed, so each notebook carries its own copy; ``python -m hpe_utils.notebook`` (``make sync-notebooks``)
rewrites every copy and the Colab badges of the README and docs/ from this module, and a test checks that nothing drifted.
Moving the repository is a one-line change to :data:`REPO_URL`, then that command.
"""
from __future__ import annotations

import argparse
import os
import platform
import re
import sys
from pathlib import Path
from typing import Any, Callable, Sequence

import matplotlib
import numpy as np
import torch

from . import __version__
from .files import ROOT_ENV, repo_root

REPO_URL = "https://github.com/hpe-workbook/hpe-workbook"  # where the course is published (GitHub)
NO_WIDGETS_ENV = "HPE_NO_WIDGETS"  # set in headless runs: explore() draws its picture without live controls
CLONE_DIR = "/content/hpe-workbook"  # where the first cell clones it on Colab
# notebook -> the pyproject extras its first cell installs on Colab (beyond the package itself): only what
# the notebook imports that Colab's base image lacks. Local JupyterLab users install [notebooks] once instead.
NOTEBOOK_EXTRAS: dict[str, tuple[str, ...]] = {
    "01_architecture": (),
    "02_heatmap_targets": ("widgets",),
    "03_pretrained_weights": (),
    "04_metrics_results": (),  # pycocotools (for one comparison) is in Colab's image; absent, the notebook says so
    "05_inference_messi": (),
    "06_skeleton_drawing": ("widgets",),
    "07_jit_tracing_export": ("export",),
    "08_serving": ("serve", "export"),  # export: the ONNX model of the in-browser site
    "09_training": (),
    "10_video_tracking": (),
}

SETUP_CELL = '''import importlib, os, subprocess, sys  # On Colab (or with HPE_COLAB=1, as a test does) clone the course and
if "google.colab" in sys.modules or os.environ.get("HPE_COLAB"):  # install it; locally `pip install -e .` did that
    clone = os.environ.get("HPE_CLONE_DIR", "{clone_dir}")
    subprocess.run(f'[ -d "{{clone}}" ] || git clone -q --depth 1 {{os.environ.get("HPE_REPO_URL", "{repo_url}")}} '
                   f'"{{clone}}" && "{{sys.executable}}" -m pip install -q "{{clone}}{target}"', shell=True, check=True)
    importlib.invalidate_caches()
from hpe_utils.notebook import setup
DATA, DEVICE = setup()  # the course's data/ folder, and "cuda" on a GPU runtime ("cpu" elsewhere)'''

_BADGE = re.compile(r"https://colab\.research\.google\.com/github/[^/\s)]+/[^/\s)]+/blob/main/notebooks/")


def first_cell(notebook: str, repo_url: str = REPO_URL) -> str:
    """The setup cell of ``notebook`` (e.g. "07_jit_tracing_export"), with its extras and the repository URL."""
    extras = NOTEBOOK_EXTRAS[notebook]
    target = f"[{','.join(extras)}]" if extras else ""
    return SETUP_CELL.format(repo_url=repo_url, clone_dir=CLONE_DIR, target=target)


def colab_url(notebook: str, repo_url: str = REPO_URL) -> str:
    """The "Open in Colab" address of a notebook of the repository at ``repo_url`` (a GitHub URL)."""
    owner_repo = repo_url.rstrip("/").removeprefix("https://github.com/")
    return f"https://colab.research.google.com/github/{owner_repo}/blob/main/notebooks/{notebook}.ipynb"


def setup(dpi: int = 72) -> tuple[Path, str]:
    """Print the versions this run uses; return the project's ``data/`` folder and the device to run models on.

    ``dpi`` keeps stored outputs (and the repository) small; figures stay readable on screen. On Colab (or with
    ``$HPE_COLAB``) the data and weights are those of the clone the first cell made, and Colab's widget manager
    is turned on so the explorers' sliders work there.
    """
    if "google.colab" in sys.modules or os.environ.get("HPE_COLAB"):
        os.environ.setdefault(ROOT_ENV, os.environ.get("HPE_CLONE_DIR", CLONE_DIR))  # data/ and weights/ live there
    if "google.colab" in sys.modules:
        from google.colab import output  # type: ignore[import-not-found]

        output.enable_custom_widget_manager()
    _inline_figures()
    matplotlib.rcParams["figure.dpi"] = dpi
    device = "cuda" if torch.cuda.is_available() else "cpu"
    where = "CUDA " + torch.cuda.get_device_name(0) if device == "cuda" else "CPU"
    print(f"hpe_utils {__version__}, torch {torch.__version__}, numpy {np.__version__}, "
          f"python {platform.python_version()}, running on {where}")
    return repo_root() / "data", device


def _inline_figures() -> None:
    """In a Jupyter kernel, show the library's figures as images even if the notebook never touches pyplot.

    ``hpe_utils.viz`` builds ``matplotlib.figure.Figure`` objects directly (no global pyplot state); Jupyter
    only learns to draw those once the inline backend is active, which otherwise happens on a first pyplot call.
    """
    try:  # IPython comes with Jupyter, not with the library
        from IPython import get_ipython
    except ImportError:
        return
    ip = get_ipython()
    if ip is not None and getattr(ip, "kernel", None) is not None:
        ip.run_line_magic("matplotlib", "inline")


def explore(show: Callable[..., None], **controls: Any) -> None:
    """``show`` at the controls' starting values as a plain picture, then behind live controls (ipywidgets).

    A widget's output lives in the widget's state, which GitHub's notebook view and other readers without a
    widget manager do not draw: the plain picture first means everyone sees the figure, and a live kernel
    (JupyterLab, Colab) adds the sliders below it. Headless runs (``$HPE_NO_WIDGETS``: ``make notebooks``,
    the tests) draw the picture only: nobody can move a slider there, and a figure displayed from an
    ``interact`` callback now and then deadlocks nbclient (jupyter/nbclient#312; seen here with notebook 06).
    """
    import ipywidgets  # the [widgets] extra: notebooks that explore install it in their first cell

    show(**{name: control.value for name, control in controls.items()})
    if not os.environ.get(NO_WIDGETS_ENV):
        ipywidgets.interact(show, **controls)


def setup_cell_of(script: str) -> str:
    """The first code cell of a notebook's py:percent script (its setup cell), as text."""
    cells = re.split(r"^# %%.*$", script, flags=re.M)
    code = [c for c, head in zip(cells[1:], re.findall(r"^# %%.*$", script, flags=re.M)) if "[markdown]" not in head]
    return code[0].strip("\n")


def sync(root: Path, repo_url: str = REPO_URL) -> list[Path]:
    """Rewrite each notebook script's setup cell and the Colab badges of the README and ``docs/*.md``; the changed files."""
    changed = []
    for name in NOTEBOOK_EXTRAS:
        script = root / "notebooks" / f"{name}.py"
        text = script.read_text()
        new = text.replace(setup_cell_of(text), first_cell(name, repo_url), 1)
        if new != text:
            script.write_text(new)
            changed.append(script)
    for page in [root / "README.md", *sorted((root / "docs").glob("*.md"))]:  # docs/notebooks.md has the full table
        if not page.is_file():
            continue
        text = page.read_text()
        new = _BADGE.sub(colab_url("NAME", repo_url).replace("NAME.ipynb", ""), text)
        if new != text:
            page.write_text(new)
            changed.append(page)
    return changed


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m hpe_utils.notebook``: bring every first cell and Colab badge in line with this module."""
    ap = argparse.ArgumentParser(prog="python -m hpe_utils.notebook", description=main.__doc__)
    ap.add_argument("--root", type=Path, default=repo_root(), help="the checkout (default: %(default)s)")
    args = ap.parse_args(argv)
    for path in sync(args.root):
        print(f"updated {path}")
    print("now re-create the notebooks from their scripts: make notebooks")
    return 0


__all__ = ["CLONE_DIR", "NOTEBOOK_EXTRAS", "NO_WIDGETS_ENV", "REPO_URL", "SETUP_CELL", "colab_url", "explore", "first_cell", "main", "setup",
           "setup_cell_of", "sync"]

if __name__ == "__main__":
    sys.exit(main())
