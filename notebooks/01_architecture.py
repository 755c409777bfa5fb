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
# # 01 · The architecture of Simple Baselines
#
# Xiao, Wu and Wei (ECCV 2018) showed that a plain network does well at 2D pose: take a ResNet, drop its
# classifier, and grow the coarse features back to a fine map with **three stride-2 transposed
# convolutions**, then a **1x1 convolution that outputs one heatmap per joint**. This notebook builds it
# step by step with `hpe_utils.model.PoseResNet` and checks the numbers against the paper.

# %% [markdown]
# *Setup.* On Colab this clones the repository (for its data and embedded weights), installs the package and
# turns on the widget manager; locally it checks that `hpe_utils` is importable (`pip install -e .`).

# %%
import importlib, os, subprocess, sys  # On Colab (or with HPE_COLAB=1, as a test does) clone the course and
if "google.colab" in sys.modules or os.environ.get("HPE_COLAB"):  # install it; locally `pip install -e .` did that
    clone = os.environ.get("HPE_CLONE_DIR", "/content/hpe-workbook")
    subprocess.run(f'[ -d "{clone}" ] || git clone -q --depth 1 {os.environ.get("HPE_REPO_URL", "https://github.com/hpe-workbook/hpe-workbook")} '
                   f'"{clone}" && "{sys.executable}" -m pip install -q "{clone}"', shell=True, check=True)
    importlib.invalidate_caches()
from hpe_utils.notebook import setup
DATA, DEVICE = setup()  # the course's data/ folder, and "cuda" on a GPU runtime ("cpu" elsewhere)

# %% [markdown]
# ## The model these notebooks run
# Offline, the notebooks run **`default`**, this project's own checkpoint (`weights/hpe_default.pt`): the network
# of this notebook with a **ResNet-18** backbone, trained **from scratch** (no ImageNet start) on a 2-core CPU on
# the 8,500 training images of LSP-extended, 192x192 input, 16 MPII joints: far from the paper's recipe (ResNet-50
# started from ImageNet weights, 150,000 COCO people). The first two score columns test `default` and Google's
# MoveNet alike, on crops from the labelled boxes and on the 12 limb joints (`bench/results_teachers.md`); the last
# is the paper's test (COCO val2017, all 17 joints, a person detector's boxes):
#
# | model | trained on | input | LSP-extended PCK@0.2, 500 held-out people | 143 COCO-sample people, OKS AP | COCO val2017 AP |
# |---|---|---|---:|---:|---:|
# | `default`: ResNet-18, from scratch | LSP-extended | 192x192 | 0.624 | 0.116 | — |
# | MoveNet Thunder | COCO train2017 and more | 256x256 | 0.636 | 0.462 (saw these photos) | — |
# | the paper: ResNet-50 (Tables 1–2) | COCO train2017 | 256x192 | — | — | 70.4 |
# | mmpose's ResNet-50, `mmpose_coco_r50_256x192` | COCO train2017 | 256x192 | — | — | 71.8 |
#
# The COCO-sample photos come from COCO train2017, which MoveNet was trained on, so its 0.462 is optimistic;
# `default` has never seen a COCO photo. With internet (on Colab, for example) `course_weights()` loads mmpose's
# ResNet-50 instead: downloaded once, checked by SHA-256, cached; 17 COCO joints, RGB 256x192. Offline
# (`HPE_OFFLINE=1`), or when the download fails, it loads `default` and says why, in one line:

# %%
# NBVAL_CHECK_OUTPUT
from hpe_utils.weights import course_weights

weights = course_weights(device=DEVICE)  # mmpose's ResNet-50 where it can be downloaded, else the embedded default
print(weights.entry.description)

# %% [markdown]
# Either one runs on a photo the same way. Here it is on the demo photo (eager PyTorch; the shipped person
# detector finds the person, as in notebook 05):

# %%
import matplotlib.pyplot as plt

from hpe_utils import Predictor
from hpe_utils.images import read_image
from hpe_utils.viz import plot_people

photo = read_image(DATA / "messi_kick.webp")
result = Predictor(weights, device=DEVICE, backend="torch")(photo)
person = result.people[0]
print(f"{len(result.people)} person, detector score {person.box_score:.2f}: {len(person.scores)} joints, "
      f"{int((person.scores >= 0.3).sum())} of them scored 0.3 or more")
fig, ax = plt.subplots(figsize=(6.5, 4.4))
plot_people(photo, result, title=f"{weights.name} ({weights.skeleton.name}) on data/messi_kick.webp", ax=ax)
plt.show()

# %% [markdown]
# ## The model
# ResNet-50 for COCO (17 joints) at the paper's input of 256x192 (height x width). `PoseResNet` reuses
# torchvision's ResNet stages, so the parameter names are exactly those of the original release
# (`conv1`, `layer1` … `layer4`, `deconv_layers`, `final_layer`).

# %%
import torch

from hpe_utils.model import PoseResNet, count_macs, count_parameters, stage_shapes

model = PoseResNet(depth=50, num_joints=17).eval().to(DEVICE)
print(model.config)

# %% [markdown]
# ## Shapes at every stage
# The backbone halves the resolution five times (stride 32: 256x192 -> 8x6) while widening to 2048
# channels (C5). Each deconvolution (kernel 4, stride 2, padding 1) doubles it again; three of them give
# 64x48, one quarter of the input: the **output stride is 4**. Three is what the paper measured (its Table 1,
# ResNet-50 at 256x192 on COCO val2017): with two deconvolutions (32x24 heatmaps) AP falls from 70.4 to 67.9; the
# deconvolution kernel matters little (70.1, 70.3 and 70.4 for kernels 2, 3 and 4). It did not try four.

# %%
# NBVAL_CHECK_OUTPUT
for name, shape in stage_shapes(model, (192, 256)):
    print(f"{name:24s} {shape}")

# %% [markdown]
# ## Size and cost
# The paper's table lists ResNet-50 at 256x192 with **34.0 M parameters** and 8.9 GFLOPs. We count
# multiply-accumulates (MACs) of the convolutions; the paper's figure also counts the remaining layers
# and its own conventions, so expect the same order of magnitude, not the same digits.

# %%
# NBVAL_CHECK_OUTPUT
for depth in (18, 50, 101, 152):
    m = PoseResNet(depth=depth, num_joints=17)
    print(f"ResNet-{depth:<3d}  {count_parameters(m) / 1e6:5.1f} M parameters  {count_macs(m, (192, 256)) / 1e9:5.2f} G MACs")

# %% [markdown]
# ## Where the parameters are
# Most of the weights sit in the backbone; the head is three deconvolutions of 256 filters and a tiny
# 1x1 convolution (256 x 17 weights + 17 biases).

# %%
import matplotlib.pyplot as plt

parts = {"backbone": sum(p.numel() for n, p in model.named_parameters() if not n.startswith(("deconv", "final"))),
         "deconv head": sum(p.numel() for p in model.deconv_layers.parameters()),
         "final 1x1 conv": sum(p.numel() for p in model.final_layer.parameters())}
fig, ax = plt.subplots(figsize=(6, 3))
ax.barh(list(parts), [v / 1e6 for v in parts.values()], color=["#3a7bd5", "#ff8000", "#3cdc3c"])
ax.set_title("PoseResNet-50 parameters by part")
ax.set_xlabel("parameters (millions)")
ax.set_ylabel("part")
plt.show()

# %% [markdown]
# ## A forward pass
# A batch of two 256x192 images gives two stacks of 17 heatmaps of 64x48. The head starts from the
# paper's initialisation (weights drawn from a normal distribution with mean 0 and standard deviation 0.001), so
# an untrained network outputs values near zero.

# %%
# NBVAL_CHECK_OUTPUT
with torch.no_grad():
    heatmaps = model(torch.randn(2, 3, 256, 192, device=DEVICE))
print(tuple(heatmaps.shape), "| |values| below 0.05:", bool(heatmaps.abs().max() < 0.05))

# %% [markdown]
# **Take-aways.** The whole method is a backbone, an upsampling head and a per-joint 1x1 classifier of
# heatmap pixels. What makes it work is in the targets and the decoding — the next notebook.

# %% [markdown]
# ## Exercises
# Fill in each function, run its cell, then the check under it: it runs your function against the library on
# several cases and says what is wrong, if anything. `check.hint("ex01_deconv_size")` gives one hint at a time;
# the worked answers are in `notebooks/solutions/01_architecture.py` — try first.

# %%
from torch import nn

from hpe_utils.exercises import Checker

check = Checker()

# %% [markdown]
# ### 1.1 Warm-up: the output size of a transposed convolution
# `deconv_output_size(size, kernel=4, stride=2, padding=1, output_padding=0)` returns the side length (an `int`)
# of the map that one `nn.ConvTranspose2d` with these settings makes from a map `size` pixels wide — worked out,
# not by building a layer. An ordinary convolution gives `(size + 2·padding − kernel) // stride + 1`; a
# transposed one maps sizes the other way, and `output_padding` adds that many pixels at the far end. The check
# compares with real layers, the head's setting (kernel 4, stride 2, padding 1) and others.

# %%
def deconv_output_size(size: int, kernel: int = 4, stride: int = 2, padding: int = 1, output_padding: int = 0) -> int:
    """The side length after one nn.ConvTranspose2d with these settings."""
    # your code here
    raise NotImplementedError

# %%
# NBVAL_CHECK_OUTPUT
check.ex01_deconv_size(deconv_output_size)

# %%
check.hint("ex01_deconv_size")

# %% [markdown]
# ### 1.2 Core: the heatmap size for an input size
# `heatmap_size(input_w, input_h)` returns `(width, height)` (ints) of the heatmaps PoseResNet outputs for an
# input `input_w` pixels wide and `input_h` high. The backbone has five stride-2 layers (`conv1`, the max-pool and
# the first block of `layer2`, `layer3`, `layer4`); each maps a side of n pixels to ceil(n / 2), because its
# padding keeps a last, partial window. The head then follows. The check compares with a real forward pass,
# including sizes that are not multiples of 32.

# %%
def heatmap_size(input_w: int, input_h: int) -> tuple[int, int]:
    """The (width, height) of PoseResNet's heatmaps for an input of that size."""
    # your code here
    raise NotImplementedError

# %%
# NBVAL_CHECK_OUTPUT
check.ex01_heatmap_size(heatmap_size)

# %% [markdown]
# ### 1.3 Stretch: build the head
# `make_head(in_channels, num_joints, deconv_channels=256)` returns an `nn.Module` that turns backbone features
# `(N, in_channels, h, w)` into heatmaps `(N, num_joints, 8h, 8w)`: three times `ConvTranspose2d` (kernel 4,
# stride 2, padding 1, no bias) → `BatchNorm2d` → `ReLU`, each with `deconv_channels` channels, then a 1x1
# `Conv2d` (with bias) to `num_joints` heatmaps. The check compares shapes, the parameter count and — with the
# library head's weights copied into yours — the heatmaps themselves.

# %%
def make_head(in_channels: int, num_joints: int, deconv_channels: int = 256) -> nn.Module:
    """Simple Baselines' deconvolution head for backbone features of in_channels channels."""
    # your code here
    raise NotImplementedError

# %%
# NBVAL_CHECK_OUTPUT
check.ex01_head(make_head)
