"""What every course notebook does after its Colab bootstrap: report versions, set figure defaults, find data/."""
from __future__ import annotations

import platform
from pathlib import Path

import matplotlib
import numpy as np
import torch

from . import __version__
from .files import repo_root


def setup(dpi: int = 72) -> Path:
    """Print the versions this run uses and return the project's ``data/`` folder.

    ``dpi`` keeps stored outputs (and the repository) small; figures stay readable on screen.
    """
    _inline_figures()
    matplotlib.rcParams["figure.dpi"] = dpi
    device = "CUDA " + torch.cuda.get_device_name(0) if torch.cuda.is_available() else "CPU"
    print(f"hpe_utils {__version__}, torch {torch.__version__}, numpy {np.__version__}, "
          f"python {platform.python_version()}, running on {device}")
    return repo_root() / "data"


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


__all__ = ["setup"]
