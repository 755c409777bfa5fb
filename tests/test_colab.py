"""What Colab does, offline: a fresh environment with Colab's base packages, then each notebook top to bottom.

Colab gives a runtime with torch, torchvision, numpy, matplotlib, OpenCV, Pillow, SciPy, tqdm and a Jupyter
kernel; the learner opens a notebook from GitHub and runs it. Its first cell (hpe_utils.notebook.SETUP_CELL)
then clones the course and pip-installs the package with that notebook's extras. Here:

- the base packages are this machine's own, reached through a .pth file from a fresh virtual environment
  (symlinks: no copy of torch's gigabytes), so pip sees them installed and must keep them, as on Colab;
- ``HPE_COLAB=1`` takes the first cell's Colab branch, ``HPE_REPO_URL`` points its ``git clone`` at this
  repository through a file:// URL, and pip installs offline from ``build/colab-wheels`` (``make
  colab-wheels``: everything beyond the base, never torch), with no index;
- each notebook runs from a working directory outside the clone, in an environment holding the base and
  exactly the extras its own first cell installs (notebooks with the same extras share one).
"""
import json
import os
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
from packaging.requirements import Requirement  # noqa: E402  (after the skips: a bare install may lack them)

from hpe_utils.notebook import NOTEBOOK_EXTRAS  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
WHEELS = REPO / "build" / "colab-wheels"
# Colab's base image, as the issue lists it (OpenCV is the headless build on this machine)
COLAB_BASE = ["torch", "torchvision", "numpy", "matplotlib", "opencv-python-headless", "pillow", "scipy", "tqdm",
              "ipykernel"]


def _closure(names: list[str]) -> list[metadata.Distribution]:
    """The installed distributions ``names`` need at run time, theirs included, with the extras asked for."""
    seen: dict[str, metadata.Distribution] = {}
    extras_of: dict[str, set[str]] = {}
    todo: list[tuple[str, frozenset[str]]] = [(n, frozenset()) for n in names]
    while todo:
        raw, extras = todo.pop()
        name = raw.lower().replace("_", "-")
        if name in seen and extras <= extras_of[name]:
            continue
        try:
            dist = seen.get(name) or metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue  # not for this platform (a marker evaluated as false elsewhere)
        seen[name] = dist
        extras_of[name] = extras_of.get(name, set()) | set(extras)
        for spec in dist.requires or []:
            req = Requirement(spec)
            if req.marker is None or any(req.marker.evaluate({"extra": e}) for e in {"", *extras}):
                todo.append((req.name, frozenset(req.extras)))
    return list(seen.values())


def _base_dir(tmp: Path) -> Path:
    """A folder of symlinks to the base distributions' top-level files (packages, modules, .dist-info)."""
    base = tmp / "colab-base"
    base.mkdir()
    for dist in _closure(COLAB_BASE):
        root = Path(dist.locate_file(""))
        for f in dist.files or []:
            top = f.parts[0]
            if top == ".." or (base / top).exists() or (base / top).is_symlink():
                continue
            if (root / top).exists():
                (base / top).symlink_to(root / top)
    return base


def _environment(tmp: Path, base: Path, name: str) -> Path:
    """A fresh virtual environment that sees the base packages and nothing else; its python."""
    venv = tmp / f"venv-{name}"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = venv / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    (Path(site) / "colab_base.pth").write_text(str(base) + "\n")
    return python


def _kernel(jupyter: Path, name: str, python: Path) -> str:
    spec = jupyter / "kernels" / f"colab-{name}"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": f"Colab-like ({name})", "language": "python"}))
    return f"colab-{name}"


@pytest.mark.slow
def test_every_notebook_runs_top_to_bottom_as_on_colab_with_only_what_its_first_cell_installs(tmp_path, monkeypatch):
    if not (WHEELS / ".done").exists():
        pytest.skip(f"needs the offline wheels in {WHEELS}: run `make colab-wheels` (make test does)")
    if subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True).returncode != 0:
        pytest.skip("needs a git checkout to clone from")
    base = _base_dir(tmp_path)
    jupyter = tmp_path / "jupyter"
    work = tmp_path / "work"  # the notebooks' working directory: not the clone, not the repository
    work.mkdir()
    for var in ("HPE_BACKEND", "HPE_ROOT", "HPE_CACHE_DIR", "PYTHONPATH", "PIP_CONSTRAINT"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HPE_COLAB", "1")
    monkeypatch.setenv("HPE_REPO_URL", REPO.as_uri())  # git clone file://…: the code path of a GitHub clone
    monkeypatch.setenv("HPE_CLONE_DIR", str(tmp_path / "content" / "hpe-workbook"))
    monkeypatch.setenv("HPE_OFFLINE", "1")
    monkeypatch.setenv("HPE_NO_WIDGETS", "1")  # nbclient, not Colab, can deadlock on interact (jupyter/nbclient#312)
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(WHEELS))
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)  # this machine's pip settings are not Colab's
    monkeypatch.setenv("PIP_DISABLE_PIP_VERSION_CHECK", "1")
    monkeypatch.setenv("JUPYTER_PATH", str(jupyter))
    monkeypatch.setenv("MPLBACKEND", "agg")

    kernels: dict[tuple[str, ...], tuple[str, Path]] = {}
    times: dict[str, float] = {}
    for name, extras in NOTEBOOK_EXTRAS.items():
        if extras not in kernels:
            label = "-".join(extras) or "plain"
            python = _environment(tmp_path, base, label)
            kernels[extras] = (_kernel(jupyter, label, python), python)
        kernel, python = kernels[extras]
        nb = nbformat.read(REPO / "notebooks" / f"{name}.ipynb", as_version=4)
        t0 = time.perf_counter()
        try:
            nbclient.NotebookClient(nb, kernel_name=kernel, timeout=900,
                                    resources={"metadata": {"path": str(work)}}).execute()
        except nbclient.exceptions.CellExecutionError as e:
            pytest.fail(f"{name} failed as on Colab (extras {list(extras)}):\n{str(e)[-3000:]}")
        times[name] = time.perf_counter() - t0
        # Colab's torch is kept: the environment has no torch of its own, the base one is imported
        where = subprocess.run([str(python), "-c", "import torch; print(torch.__file__)"], capture_output=True,
                               text=True, check=True).stdout.strip()
        assert where.startswith(str(base)), f"{name}: pip replaced the base torch ({where})"
    print("\nColab-like run-all seconds: " + ", ".join(f"{n[:2]} {s:.0f}" for n, s in times.items()))
    # nothing beyond the first cells: the plain environment got neither ipywidgets nor onnx nor fastapi
    plain = kernels[()][1]
    for module in ("ipywidgets", "onnx", "fastapi"):
        found = subprocess.run([str(plain), "-c", f"import importlib.util as u; print(u.find_spec({module!r}) is not None)"],
                               capture_output=True, text=True, check=True).stdout.strip()
        assert found == "False", f"{module} is in the environment of notebooks that never install it"
