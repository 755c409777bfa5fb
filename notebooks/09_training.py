# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 09 · Training
#
# A short, real training run on the 48 LSP-extended images shipped in `data/lsp_sample/` — the same code
# (`hpe_utils.train`) that trained the project's default weights — then how those were made.

# %% [markdown]
# *Setup.* On Colab this clones the repository (for its data and embedded weights), installs the package and
# turns on the widget manager; locally it checks that `hpe_utils` is importable (`pip install -e .`).

# %%
import importlib.util
import os
import subprocess
import sys

# On Colab (or where HPE_COLAB=1: a test doing what Colab does) clone the course for its data and weights and
# install the package with what this notebook needs; Colab's own torch is kept. Locally: `pip install -e .`
REPO = os.environ.get("HPE_REPO_URL", "https://github.com/hpe-workbook/hpe-workbook")
CLONE = os.environ.get("HPE_CLONE_DIR", "/content/hpe-workbook")
if "google.colab" in sys.modules or os.environ.get("HPE_COLAB"):
    if not os.path.isdir(CLONE):
        subprocess.run(["git", "clone", "-q", "--depth", "1", REPO, CLONE], check=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", CLONE], check=True)
    os.environ["HPE_ROOT"] = CLONE  # data/ and weights/ live in the clone
    importlib.invalidate_caches()
if "google.colab" in sys.modules:
    from google.colab import output

    output.enable_custom_widget_manager()
import numpy as np
import torch

from hpe_utils.notebook import setup

DATA, DEVICE = setup()  # the course's data/ folder, and "cuda" on a GPU runtime ("cpu" elsewhere)

# %%
import json
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt

from hpe_utils import Predictor, TrainConfig
from hpe_utils.train import train
from hpe_utils.viz import draw_skeleton, plot_loss_curve, plot_side_by_side

run_dir = Path(tempfile.mkdtemp()) / "run"
cfg = TrainConfig(
    dataset="lsp", data=str(DATA / "lsp_sample"), train_range=(0, 40), val_range=(40, 48), skeleton="mpii16",
    depth=18, input_size=(64, 64), epochs=25, batch_size=8, lr=2e-3, lr_steps=(20,), scale_range=(0.8, 1.25),
    precision="auto", seed=0, out_dir=str(run_dir), progress=False, threads=2, device=DEVICE,
)
print(json.dumps({k: v for k, v in cfg.to_dict().items() if k in ("depth", "input_size", "epochs", "batch_size", "lr")}))

# %% [markdown]
# ## What the network sees: augmentation
# Every epoch each image is cropped anew: random scale, a rotation 60% of the time and a mirror half the time
# (left and right joints swap, so the targets follow the body). The heatmap targets are drawn over the crops.

# %%
from hpe_utils.codec import HeatmapCodec
from hpe_utils.datasets import AugmentConfig, TopDownDataset, lsp_samples
from hpe_utils.viz import plot_augmentations

samples = lsp_samples(DATA / "lsp_sample", range(0, 8), "mpii16")
original = TopDownDataset(samples, "mpii16", HeatmapCodec((128, 128)), AugmentConfig((0.7, 1.35), 30.0, 0.6, 0.5))
plot_augmentations(original, 2, draws=4, title="The original recipe: scale, rotation, flip")

# %% [markdown]
# Two pixel-only options fight over-fitting on a small set (`color_jitter`, `erase_prob` in `TrainConfig`):
# lighting and kit colours change, and a noise rectangle hides part of the body — its joints stay labelled, so
# the network learns to place them from context. They move no joint.

# %%
pixel = TopDownDataset(samples, "mpii16", HeatmapCodec((128, 128)),
                       AugmentConfig((0.7, 1.35), 30.0, 0.6, 0.5, color_jitter=0.3, erase_prob=0.5))
plot_augmentations(pixel, 2, draws=4, title="Plus colour jitter and random erasing")

# %% [markdown]
# ## Before training
# A fresh network's heatmaps are flat (head initialised with N(0, 0.001)): its "skeleton" is noise.

# %%
from hpe_utils.model import PoseResNet
from hpe_utils.weights import save_checkpoint

torch.manual_seed(cfg.seed)
untrained = save_checkpoint(PoseResNet(depth=18, num_joints=16), run_dir.parent / "untrained.pt", skeleton="mpii16",
                            input_size=cfg.input_size)
sample = DATA / "lsp_sample" / "images" / "im00003.jpg"
before = Predictor(untrained, device=DEVICE)(sample)

# %% [markdown]
# ## Train
# Adam, lr 2e-3 dropped 10x at epoch 20, the original augmentation (scale, rotation, flip with left/right
# swap), JointsMSE loss with target weights. `precision="auto"` times a few steps in fp32 and bf16 and keeps
# the faster. Every epoch writes `last.pt` (resume), `best.pt` and `metrics.csv`.

# %%
logs = []
row = train(cfg, log=logs.append)
print(logs[0])
print(logs[-1])

# %%
history = json.loads((run_dir / "metrics.json").read_text())
plot_loss_curve(history, title="Training on 40 images (validation: 8 others)")

# %% [markdown]
# ## After training
# After 25 epochs from scratch on 40 images, the network has learned only roughly where a person's joints
# usually sit in a box: its skeleton after training is a small average pose in the middle of the crop, not this
# athlete's pose, even though the image is one of the 40 it trained on (validation PCK@0.2 0.087 above).
# Learning real poses takes far more images and epochs: the default weights below used 8,500 images and 109
# epochs.

# %%
after = Predictor(run_dir / "best.pt", device=DEVICE)(sample)
from hpe_utils.images import read_image

img = read_image(sample)
plot_side_by_side([draw_skeleton(img, before.people[0].keypoints, None, "mpii16"),
                   draw_skeleton(img, after.people[0].keypoints, None, "mpii16")],
                  ["before training", f"after {cfg.epochs} epochs"], "The same image before and after training")

# %%
# NBVAL_CHECK_OUTPUT
print("loss went down:", history[-1]["train_loss"] < history[0]["train_loss"], "| epochs logged:", len(history))

# %% [markdown]
# ## How the default weights were made
# With the same `hpe train`, on LSP-extended images im00001–im08500, validated on im08501–im09000 (PCK@0.2,
# torso-normalised), from scratch on 2-core CPUs, over 109 epochs at input sizes 128, 160 and 192. The model
# card (`weights/README.md`) has the recipe step by step, the time it took and the per-joint table. Its
# validation curve:

# %%
card_metrics = json.loads((DATA.parent / "weights" / "hpe_default_metrics.json").read_text())
plot_loss_curve(card_metrics, title="Default weights: ResNet-18 on LSP-extended (128, then 160, then 192 px input)")

# %% [markdown]
# The curve rises ever more slowly and ends at 0.64. The paper starts the backbone from ImageNet weights, not random ones; none can
# be downloaded on the machines these weights were trained on, probably the main reason they stop there while
# released models score far higher. Where you can download them, `TrainConfig(backbone_weights="resnet18_imagenet.pth")`
# (or `hpe train --backbone-weights …`) starts there; the README says how to write that file.

# %% [markdown]
# ## Exercises
# Three pieces of the training recipe, written by hand. Fill in each function, run its cell, then the check
# under it: it compares your function with what `hpe_utils.train` really uses (PyTorch's `MultiStepLR`, the
# dataset's flip, `JointsMSELoss`) and says what is wrong. `check.hint("ex09_lr_schedule")` gives one hint at a
# time; the worked answers are in `notebooks/solutions/09_training.py` (try first).

# %%
from hpe_utils.exercises import Checker

check = Checker()

# %% [markdown]
# ### 9.1 Warm-up: the step schedule
# `learning_rate(epoch, base_lr, milestones, gamma)` returns the rate epoch `epoch` trains at: `base_lr`,
# multiplied by `gamma` at each milestone. Epochs count from 0, as in `train`'s loop (`metrics.json` numbers its
# rows from 1), and at epoch `m` of a milestone `m` the new rate already applies. The paper: 1e-3, x0.1 at
# epochs 90 and 120, 140 epochs; this notebook's run: 2e-3, x0.1 at 20 — compare with `history[i]["lr"]`.

# %%
def learning_rate(epoch, base_lr=1e-3, milestones=(90, 120), gamma=0.1):
    """The learning rate epoch ``epoch`` (counted from 0) trains at under a step schedule."""
    # your code here
    raise NotImplementedError


# %%
# NBVAL_CHECK_OUTPUT
check.ex09_lr_schedule(learning_rate)

# %% [markdown]
# Stuck? Each call gives the next hint:

# %%
# NBVAL_CHECK_OUTPUT
check.hint("ex09_lr_schedule")

# %% [markdown]
# ### 9.2 Core: horizontal flip with the left/right swap
# `flip_sample(image, keypoints, visible, flip_pairs)` mirrors one training sample left-right: `image` is
# (height, width, 3) uint8, `keypoints` (K, 2) float (x, y) in its pixels, `visible` (K,) 0/1 flags, and
# `flip_pairs` the skeleton's left/right joint pairs, e.g. `get_skeleton("mpii16").flip_pairs`. Return
# `(image, keypoints, visible)`: the image mirrored, each x moved to the mirrored pixel (pixel centres run 0 …
# W - 1), and left and right joints swapped — the person's left knee, seen in a mirror, is a right knee — with
# their flags. Leave the arrays passed in unchanged.

# %%
def flip_sample(image, keypoints, visible, flip_pairs):
    """The sample mirrored left-right: (image, keypoints (K, 2), visible (K,)) with left and right joints swapped."""
    # your code here
    raise NotImplementedError


# %%
# NBVAL_CHECK_OUTPUT
check.ex09_flip_augment(flip_sample)

# %% [markdown]
# ### 9.3 Stretch: the loss with target weights
# `joints_mse(output, target, target_weight)` takes the network's heatmaps and the targets, both tensors
# (N, K, h, w), and the target weights (N, K) (1 = labelled, 0 = not), and returns the training loss as a 0-dim
# tensor: 0.5 x the mean, over batch, joints and pixels, of ((output - target) x weight)², so an unlabelled
# joint adds nothing but still counts in the mean (the original's convention). Training calls `.backward()` on it.

# %%
def joints_mse(output, target, target_weight):
    """0.5 x mean squared error over batch, joints and pixels, each joint's maps weighted by its target weight."""
    # your code here
    raise NotImplementedError


# %%
# NBVAL_CHECK_OUTPUT
check.ex09_joints_mse(joints_mse)
