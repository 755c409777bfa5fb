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
# # 02 · Heatmap targets and decoding
#
# The network is not asked for coordinates. For each joint it must paint a **Gaussian blob** on a
# low-resolution map, and the loss is the pixel-wise MSE to that target. One object,
# `hpe_utils.codec.HeatmapCodec`, both *encodes* targets for training and *decodes* predictions, so the
# two can never drift apart.

# %% [markdown]
# *Setup.* On Colab this clones the repository (for its data and embedded weights), installs the package and
# turns on the widget manager; locally it checks that `hpe_utils` is importable (`pip install -e .`).

# %%
import importlib, os, subprocess, sys  # On Colab (or with HPE_COLAB=1, as a test does) clone the course and
if "google.colab" in sys.modules or os.environ.get("HPE_COLAB"):  # install it; locally `pip install -e .` did that
    clone = os.environ.get("HPE_CLONE_DIR", "/content/hpe-workbook")
    subprocess.run(f'[ -d "{clone}" ] || git clone -q --depth 1 {os.environ.get("HPE_REPO_URL", "https://github.com/hpe-workbook/hpe-workbook")} '
                   f'"{clone}" && "{sys.executable}" -m pip install -q "{clone}[widgets]"', shell=True, check=True)
    importlib.invalidate_caches()
from hpe_utils.notebook import setup
DATA, DEVICE = setup()  # the course's data/ folder, and "cuda" on a GPU runtime ("cpu" elsewhere)

# %% [markdown]
# ## Encoding one joint
# Input 256x192 -> heatmap 64x48 (stride 4). The Gaussian is centred on the joint's position divided by
# 4 and **rounded to the nearest heatmap pixel**, drawn only within 3 sigma of it, with peak 1.
# **sigma = 2** heatmap pixels at 256-pixel inputs (3 at 384): wide enough to give the network a gradient
# from a few pixels away, narrow enough to pin the joint down.

# %%
import matplotlib.pyplot as plt
import numpy as np

from hpe_utils.codec import HeatmapCodec

codec = HeatmapCodec(input_size=(192, 256))
print("heatmap size (w, h):", codec.heatmap_size, "| sigma:", codec.sigma, "| stride:", codec.stride)
keypoint = np.array([[101.0, 130.0]])  # (x, y) in input pixels
target, weight = codec.encode(keypoint)
fig, ax = plt.subplots(figsize=(4, 5))
im = ax.imshow(target[0], cmap="magma")
ax.plot(keypoint[0, 0] / 4, keypoint[0, 1] / 4, "c+", markersize=12, label="true position / 4")
ax.set_title("Target heatmap for one joint")
ax.set_xlabel("x (heatmap pixels)")
ax.set_ylabel("y (heatmap pixels)")
ax.legend(loc="lower left")
fig.colorbar(im, ax=ax, shrink=0.7, label="target value")
plt.show()

# %%
# NBVAL_CHECK_OUTPUT
peak = np.unravel_index(target[0].argmax(), target[0].shape)
print("peak at (x, y) =", (int(peak[1]), int(peak[0])), "| 101/4 = 25.25 and 130/4 = 32.5 round to (25, 33)")
print("non-zero window:", int((target[0] > 0).sum()), "pixels = (2*3*sigma + 1)^2 =", (2 * 3 * 2 + 1) ** 2)

# %% [markdown]
# At the border the window is simply clipped to the map: the Gaussian is neither moved inwards nor
# renormalised, so the peak of 1 stays on the joint's (rounded) position. A joint exactly on the left edge
# keeps 60% of the Gaussian's mass (columns 0 to 6 of -6 to 6). A joint whose window lies wholly off the
# map, even one that ends on column -1, gets weight 0 and an empty heatmap (the original and mmpose keep
# weight 1 there, with an all-zero target).

# %%
# NBVAL_CHECK_OUTPUT
edge, _ = codec.encode(np.array([[0.0, 130.0]]))  # x = 0: on the left edge
print(f"joint on the left edge: peak {edge[0].max():g} at x = {int(edge[0].argmax() % 48)},",
      f"{edge[0].sum() / target[0].sum():.3f} of the full window's mass on the map")
_, w_edge = codec.encode(np.array([[-26.4, 130.0], [-30.4, 130.0]]))  # windows end on columns 0 and -1
print("windows ending on column 0 and on column -1 -> weights", w_edge.tolist())

# %% [markdown]
# ## Sigma
# Larger sigma means softer targets. Simple Baselines uses 2 at 256x192 and 3 at 384x288.

# %%
fig, axes = plt.subplots(1, 3, figsize=(10, 3.6))
for ax, sigma in zip(axes, (1.0, 2.0, 3.0)):
    t, _ = HeatmapCodec((192, 256), sigma=sigma).encode(keypoint)
    ax.imshow(t[0, 20:46, 12:38], cmap="magma", extent=(12, 38, 46, 20))
    ax.set_title(f"sigma = {sigma:g}")
    ax.set_xlabel("x (heatmap pixels)")
    ax.set_ylabel("y (heatmap pixels)")
fig.suptitle("The same joint with three sigmas")
plt.show()

# %% [markdown]
# ## Target weights
# Every joint also gets a **target weight**: 1 when labelled and on the map, 0 otherwise. The loss
# multiplies predictions and targets by it, so unlabelled joints teach nothing (and do not teach "no joint
# here"). A joint whose whole 3-sigma window is off the map gets weight 0 too.

# %%
# NBVAL_CHECK_OUTPUT
kps = np.array([[100.0, 120.0], [50.0, 60.0], [-40.0, 100.0], [190.0, 250.0]])
visible = np.array([1, 0, 1, 1])
_, w = codec.encode(kps, visible)
for k, v, wt in zip(kps, visible, w):
    print(f"joint at {k.tolist()!s:16s} labelled={v}  ->  weight {wt:g}")

# %% [markdown]
# ## Decoding and the quarter-pixel step
# Decoding takes the **argmax** of each heatmap, then moves **a quarter pixel towards the higher
# neighbour** along x and along y: the original's cheap sub-pixel correction (the true peak lies between
# the maximum and its larger neighbour). The score is the maximum value. Heatmap coordinates times the
# stride (4) give input pixels.

# %%
# NBVAL_CHECK_OUTPUT
quarter = HeatmapCodec(input_size=(192, 256), refine="quarter")
hm = np.zeros((1, 64, 48), np.float32)
hm[0, 30, 20] = 1.0
hm[0, 30, 21] = 0.7  # right neighbour higher than left -> +0.25 in x
hm[0, 29, 20] = 0.6  # upper neighbour higher than lower -> -0.25 in y
coords, scores = quarter.decode(hm)
print("decoded (x, y):", coords[0].tolist(), "score:", float(scores[0]))
print("in input pixels:", quarter.heatmap_to_input(coords)[0].tolist())

# %% [markdown]
# ## Better: DARK, the codec's default
# A quarter step is all or nothing. A trained network's heatmap is a blurred bump, and the logarithm of a
# Gaussian is a parabola, so the codec's default (`refine="dark"`, Zhang et al., CVPR 2020) smooths the
# heatmap with the target's Gaussian, takes its log, and jumps to the top of the parabola fitted at the
# argmax (one Newton step: offset = -H⁻¹·gradient). Below, a bump centred between pixels: the quarter step
# can only land on a quarter-pixel grid; DARK finds the centre. On the default model this is worth about
# one point of PCK@0.2 (0.642 → 0.653 on validation, with the exact flip shift of notebook 05).

# %%
# NBVAL_CHECK_OUTPUT
yy, xx = np.mgrid[0:64, 0:48]
bump = np.exp(-((xx - 20.3) ** 2 + (yy - 30.6) ** 2) / (2 * 2.0**2))[None].astype(np.float32)
for name, c in (("quarter", quarter), ("dark", codec)):
    x_dec, y_dec = c.decode(bump)[0][0]
    print(f"{name:8s} decodes the bump centred at (20.3, 30.6) to ({x_dec:.2f}, {y_dec:.2f})")

# %%
fig, ax = plt.subplots(figsize=(4.2, 3.6))
ax.imshow(bump[0], cmap="magma")
ax.plot(20.3, 30.6, marker="P", ms=13, mfc="white", mec="black", mew=1.5, ls="none", label="true centre")
for name, c, m in (("quarter", quarter, "co"), ("dark", codec, "gx")):
    xy = c.decode(bump)[0][0]
    ax.plot(xy[0], xy[1], m, ms=8, mfc="none", label=name)
ax.set(xlim=(16.5, 24.5), ylim=(34.5, 26.5), title="Decoding a bump between pixels",
       xlabel="heatmap x (pixels)", ylabel="heatmap y (pixels)")
ax.legend(loc="upper right", fontsize=8)
plt.show()

# %% [markdown]
# ## The round trip
# Encode random joints, then decode the targets. The original encoding puts each Gaussian's peak on the nearest
# heatmap pixel, so a decoded joint can be off by up to half a heatmap pixel (2 input pixels here) on each axis.
# DARK's *unbiased* encoding (`unbiased=True`) centres the Gaussian on the exact position instead. Near the
# border the Gaussian is cut off, so the table counts the joints within its window (3 sigma) of the border
# apart.

# %%
# NBVAL_CHECK_OUTPUT
rng = np.random.default_rng(0)
true = np.stack([rng.uniform(10, 182, 500), rng.uniform(10, 246, 500)], axis=1)
margin = 3 * codec.sigma * codec.stride[0]  # the Gaussian's window, in input pixels
inner = ((true > margin) & (true < np.array([192, 256]) - margin)).all(axis=1)
print(f"{inner.sum()} joints away from the border, {(~inner).sum()} near it")
for name, c in (("rounded (original)", codec), ("unbiased (DARK)", HeatmapCodec(input_size=(192, 256), unbiased=True))):
    targets, _ = c.encode(true)
    decoded, _ = c.decode(targets)
    err = np.abs(c.heatmap_to_input(decoded) - true)
    print(f"{name:18s} max error {err[inner].max():.2f} input px away from the border, {err[~inner].max():.2f} near it;"
          f" mean {err.mean():.2f}")

# %% [markdown]
# Away from the border the rounded targets cost at most half a heatmap pixel (2.00 input pixels) and the unbiased
# ones almost nothing; near the border the cut-off Gaussian moves the decoded centre of both, by up to 2.73 and
# 1.43 input pixels.

# %% [markdown]
# ## Explore
# Move a joint and change sigma; the target is redrawn. The first picture is the starting point (what
# GitHub shows); the sliders under it need a live kernel (JupyterLab, Colab).

# %%
import ipywidgets as widgets

from hpe_utils.notebook import explore


def show(x: float = 101.0, y: float = 130.0, sigma: float = 2.0) -> None:
    t, w = HeatmapCodec((192, 256), sigma=sigma).encode(np.array([[x, y]]))
    fig, ax = plt.subplots(figsize=(3.6, 4.4))
    ax.imshow(t[0], cmap="magma", vmin=0, vmax=1)
    ax.set_title(f"x={x:.0f}, y={y:.0f}, sigma={sigma:g}, weight={w[0]:g}")
    ax.set_xlabel("x (heatmap pixels)")
    ax.set_ylabel("y (heatmap pixels)")
    plt.show()


explore(show, x=widgets.FloatSlider(101, min=-30, max=220, step=1),
        y=widgets.FloatSlider(130, min=-30, max=290, step=1),
        sigma=widgets.FloatSlider(2, min=0.5, max=5, step=0.5))

# %% [markdown]
# ## Exercises
# Write the codec's two halves yourself. Fill in each function, run its cell, then the check under it: it
# runs your function on several cases against `HeatmapCodec` and says what is wrong. `check.hint("ex02_encode")`
# gives one hint at a time; the worked answers are in `notebooks/solutions/02_heatmap_targets.py` (try first).

# %%
from hpe_utils.exercises import Checker

check = Checker()

# %% [markdown]
# ### 2.1 Core: the Gaussian target of one joint
# `encode_joint(x, y, visible, heatmap_size, sigma, stride)` takes a joint at (x, y) in input pixels and returns
# `(heatmap, weight)`: a float array of shape (height, width) = `heatmap_size[::-1]` and 0 or 1. Follow the
# rules above: round x / stride and y / stride to the nearest pixel, draw exp(-d² / (2 sigma²)) (peak 1) only in
# the window within floor(3 sigma) pixels of it, clip the window at the border, and return zeros with weight 0
# for an unlabelled joint or one whose window is wholly off the map.

# %%
def encode_joint(x, y, visible, heatmap_size=(48, 64), sigma=2.0, stride=4):
    """(heatmap (h, w), weight) for one joint at (x, y) input pixels."""
    # your code here
    raise NotImplementedError


# %%
# NBVAL_CHECK_OUTPUT
check.ex02_encode(encode_joint)

# %% [markdown]
# Stuck? Each call gives the next hint:

# %%
# NBVAL_CHECK_OUTPUT
check.hint("ex02_encode")

# %% [markdown]
# ### 2.2 Core: argmax and the quarter-pixel step
# `decode_quarter(heatmap)` takes one heatmap of shape (height, width) and returns `(x, y, score)`: the argmax,
# moved a quarter pixel towards the higher neighbour along x and along y (only where both neighbours exist,
# 1 < x < width - 1 and 1 < y < height - 1, as in the original), and the maximum value.

# %%
def decode_quarter(heatmap):
    """(x, y, score) of one heatmap: argmax plus the original's quarter-pixel step."""
    # your code here
    raise NotImplementedError


# %%
# NBVAL_CHECK_OUTPUT
check.ex02_decode(decode_quarter)

# %% [markdown]
# ### 2.3 Stretch: DARK's idea in one dimension
# Sample a Gaussian at the pixel of its maximum and at its two neighbours: `left`, `centre`, `right`.
# `parabola_offset(left, centre, right)` returns where its true centre lies, in pixels from the maximum
# (between -0.5 and 0.5; positive to the right). Hint: the logarithm of a Gaussian is a parabola.

# %%
def parabola_offset(left, centre, right):
    """Sub-pixel offset of a sampled Gaussian's centre from its maximum sample."""
    # your code here
    raise NotImplementedError


# %%
# NBVAL_CHECK_OUTPUT
check.ex02_parabola(parabola_offset)
