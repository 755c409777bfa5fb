"""hpe_utils: Simple Baselines (Xiao, Wu, Wei, ECCV 2018) 2D human pose estimation."""
from __future__ import annotations

__version__ = "0.1.0"
