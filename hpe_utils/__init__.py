"""hpe_utils: Simple Baselines (Xiao, Wu, Wei, ECCV 2018) 2D human pose estimation.

The public API, importable from the package itself::

    from hpe_utils import Predictor, predict, load_weights, PoseResNet, HeatmapCodec, SKELETONS, draw_skeleton

Names load on first use (PEP 562), so ``import hpe_utils`` stays cheap and a name costs only its own module.
Everything else lives in the modules named in docs/layout.md.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> the module that defines it
_PUBLIC: dict[str, str] = {
    # inference
    "Predictor": "predictor", "predict": "predictor", "PoseResult": "predictor", "Person": "predictor",
    "ENGINES": "engines", "AutoDecision": "auto",
    # model, weights, skeletons
    "PoseResNet": "model", "PoseResNetConfig": "model",
    "load_weights": "weights", "save_checkpoint": "weights", "LoadedWeights": "weights", "WEIGHTS": "weights",
    "SKELETONS": "skeletons", "Skeleton": "skeletons", "get_skeleton": "skeletons",
    # the maths
    "HeatmapCodec": "codec", "box_to_center_scale": "transforms", "crop": "transforms",
    "heatmap_to_image": "transforms", "flip_back_numpy": "flip",
    # pictures and images
    "read_image": "images", "draw_skeleton": "viz", "draw_people": "viz", "plot_keypoints": "viz",
    # data, training, evaluation, export (the functions train() and export() share their modules' names, and a
    # submodule shadows a package attribute once imported: call them as hpe_utils.train.train, .export.export)
    "DATASETS": "datasets", "dataset_samples": "datasets", "TrainConfig": "train",
    "predict_dataset": "evaluate", "score_pck": "evaluate", "EXPORT_FORMATS": "export",
    # video and tracking (the pipeline track() shares its module's name: call it as hpe_utils.track.track)
    "PoseTracker": "tracking", "TrackedPose": "tracking", "open_frames": "video", "VideoWriter": "video",
    "load_detector": "detect",
    # the browser site, and the notebooks' exercises
    "export_web": "web", "Checker": "exercises",
    # errors
    "InputError": "errors", "ImageError": "errors", "BoxError": "errors", "WeightsError": "errors",
    "DatasetError": "errors",
}

__all__ = ["__version__", *_PUBLIC]


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'hpe_utils' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_PUBLIC))


if TYPE_CHECKING:  # for type checkers and IDEs: the same names, imported eagerly
    from .auto import AutoDecision
    from .codec import HeatmapCodec
    from .datasets import DATASETS, dataset_samples
    from .detect import load_detector
    from .engines import ENGINES
    from .errors import BoxError, DatasetError, ImageError, InputError, WeightsError
    from .evaluate import predict_dataset, score_pck
    from .exercises import Checker
    from .export import EXPORT_FORMATS
    from .flip import flip_back_numpy
    from .images import read_image
    from .model import PoseResNet, PoseResNetConfig
    from .predictor import Person, PoseResult, Predictor, predict
    from .skeletons import SKELETONS, Skeleton, get_skeleton
    from .train import TrainConfig
    from .tracking import PoseTracker, TrackedPose
    from .transforms import box_to_center_scale, crop, heatmap_to_image
    from .video import VideoWriter, open_frames
    from .viz import draw_people, draw_skeleton, plot_keypoints
    from .web import export_web
    from .weights import WEIGHTS, LoadedWeights, load_weights, save_checkpoint
