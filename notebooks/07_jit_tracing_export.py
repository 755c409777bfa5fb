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
# # 07 · Tracing and exporting the model
#
# The original course traced the model with `torch.jit.trace` for a CPU deployment. TorchScript still works
# but is **deprecated** in favour of `torch.export` (PyTorch >= 2.11); we show both, then ONNX (run by ONNX
# Runtime) and an int8 ONNX model. Every export is checked against PyTorch on real images before it is used.

# %% [markdown]
# *Setup.* On Colab this clones the repository (for its data and embedded weights), installs the package and
# turns on the widget manager; locally it checks that `hpe_utils` is importable (`pip install -e .`).

# %%
import importlib, os, subprocess, sys  # On Colab (or with HPE_COLAB=1, as a test does) clone the course and
if "google.colab" in sys.modules or os.environ.get("HPE_COLAB"):  # install it; locally `pip install -e .` did that
    clone = os.environ.get("HPE_CLONE_DIR", "/content/hpe-workbook")
    subprocess.run(f'[ -d "{clone}" ] || git clone -q --depth 1 {os.environ.get("HPE_REPO_URL", "https://github.com/hpe-workbook/hpe-workbook")} '
                   f'"{clone}" && "{sys.executable}" -m pip install -q "{clone}[export]"', shell=True, check=True)
    importlib.invalidate_caches()
from hpe_utils.notebook import setup
DATA, DEVICE = setup()  # the course's data/ folder, and "cuda" on a GPU runtime ("cpu" elsewhere)

# %%
import tempfile
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import torch

from hpe_utils import Predictor
from hpe_utils.export import export
from hpe_utils.engines import TorchScriptBackend
from hpe_utils.files import shipped_images
from hpe_utils.formats import export_program, trace_torchscript
from hpe_utils.parity import compare_heatmaps, real_crops
from hpe_utils.timing import side_by_side_ms

warnings.filterwarnings("ignore", category=FutureWarning, module="torch.jit")  # "deprecated": we know, see above
torch.set_num_threads(2)
predictor = Predictor("default", flip=False, backend="torch")  # eager fp32: the reference for every export
model = predictor.model.eval()
images = shipped_images()
x = real_crops(predictor.input_size, predictor.color_order, images)  # the demo image, the samples and their mirrors
with torch.no_grad():
    reference = model(torch.from_numpy(x)).numpy()
print(f"{len(images)} real images -> {x.shape[0]} crops {x.shape[1:]}; reference heatmaps {reference.shape}")
tmp = Path(tempfile.mkdtemp())

# %% [markdown]
# ## 1. TorchScript: trace + freeze (the course's path)
# Tracing records the operations run on an example input; freezing folds parameters in as constants so the
# file is self-contained and a little faster.

# %%
# NBVAL_CHECK_OUTPUT
traced = trace_torchscript(model, torch.from_numpy(x[:1]))
traced.save(str(tmp / "model.torchscript"))
loaded = torch.jit.load(str(tmp / "model.torchscript"), map_location="cpu")
with torch.no_grad():
    report = compare_heatmaps(reference, loaded(torch.from_numpy(x)).numpy(), predictor.input_size, "torchscript", 1e-4, 0.0)
print(report.ok, "| joints moved > 1 heatmap px:", report.moved_share)

# %% [markdown]
# ## 2. `torch.export`: the current path
# `torch.export` captures a full graph ahead of time (with a dynamic batch dimension here); the
# `ExportedProgram` can be saved with `torch.export.save` and compiled or lowered later.

# %%
# NBVAL_CHECK_OUTPUT
program = export_program(model, torch.from_numpy(x[:2]))
with torch.no_grad():
    got = program.module()(torch.from_numpy(x)).numpy()
report = compare_heatmaps(reference, got, predictor.input_size, "torch.export", 1e-4, 0.0)
print(report.ok, "| joints moved > 1 heatmap px:", report.moved_share)

# %% [markdown]
# ## 3. ONNX and int8
# ONNX (opset 17, dynamic batch) runs in ONNX Runtime. The int8 model is quantized *statically*: weights
# per channel, activations with ranges calibrated on the same real crops. `hpe export` does all this and
# refuses to write a file that fails its check.

# %%
# NBVAL_CHECK_OUTPUT
reports = {}
for fmt, name in (("onnx", "model.onnx"), ("onnx-int8", "model_int8.onnx")):
    reports[fmt] = export("default", fmt, tmp / name, images, log=lambda _m: None)
    print(fmt, "passes:", reports[fmt].ok)

# %%
for r in reports.values():
    print(r)

# %% [markdown]
# ## 4. Latency, measured here
# One crop at the default weights' input size (batch 1) and a batch of 8, median of interleaved rounds on this machine's CPU (each
# round times every backend once, so a busy moment slows them all alike). Timings vary from machine to
# machine (and run to run): read the ratios, not the digits.

# %%
backends = {"PyTorch eager": predictor.backend,
            "TorchScript": TorchScriptBackend(tmp / "model.torchscript", torch.device("cpu")),
            "ONNX Runtime": Predictor(tmp / "model.onnx").backend,
            "ONNX Runtime int8": Predictor(tmp / "model_int8.onnx").backend}
b1 = side_by_side_ms({n: (lambda b=b: b(x[:1])) for n, b in backends.items()}, rounds=15)
b8 = side_by_side_ms({n: (lambda b=b: b(x[:8])) for n, b in backends.items()}, rounds=7)
for name in backends:
    print(f"{name:18s} batch 1: {b1[name]:6.1f} ms ({b1['PyTorch eager'] / b1[name]:4.1f}x)   batch 8: {b8[name]:6.1f} ms")

# %%
fig, ax = plt.subplots(figsize=(7, 3.2))
ax.barh(list(b1), list(b1.values()), color="#3a7bd5")
ax.set_title(f"Latency of one {x.shape[3]}x{x.shape[2]} crop (median, this machine)")
ax.set_xlabel("milliseconds (lower is better)")
ax.set_ylabel("backend")
plt.show()

# %% [markdown]
# ## 5. Let the library choose: `backend="auto"`
# Above, every engine was picked by hand. With `backend="auto"`, the default, `Predictor` picks one itself: for a
# large job it measures this machine's engines once, keeps those whose joints match eager fp32 and caches the
# fastest, and for a few images it runs eager PyTorch at once, since measuring would cost more than it saves. How
# it chooses, the engine registry, bf16 on CPUs with AMX and what measuring costs: [`docs/engines.md`](../docs/engines.md).

# %% [markdown]
# ## Exercises
# Fill in each function, run its cell, then the check under it: it runs your function on several cases against
# the library's own code (`hpe_utils.timing.median_ms`, `hpe_utils.formats.export_program`) and says what is
# wrong. `check.hint("ex07_latency")` gives one hint at a time; the worked answers are in
# `notebooks/solutions/07_jit_tracing_export.py` — try first.

# %%
from hpe_utils.exercises import Checker

check = Checker()

# %% [markdown]
# ### 7.1 Core: measure a latency honestly
# `median_latency_ms(fn, warmup=3, repeats=20)` calls `fn()` (no arguments) `warmup` times without timing it
# (first calls allocate memory and pick kernels), then `repeats` times timing each call with
# `time.perf_counter()`, and returns the median of those times in milliseconds, as a float. The check times a
# function with slow first calls and one slow outlier, so it takes about a second.

# %%
def median_latency_ms(fn, warmup=3, repeats=20):
    """Median wall time of fn() in milliseconds, after untimed warm-up calls."""
    # your code here
    raise NotImplementedError


# %%
# NBVAL_CHECK_OUTPUT
check.ex07_latency(median_latency_ms)

# %% [markdown]
# Stuck? Each call gives the next hint:

# %%
# NBVAL_CHECK_OUTPUT
check.hint("ex07_latency")

# %% [markdown]
# ### 7.2 Stretch: `torch.export` with a dynamic batch dimension
# `export_model(model, example)` takes a module (it may still be in training mode: export it for inference)
# and an example input (B, 3, H, W), and returns a `torch.export.ExportedProgram` whose `.module()` gives the
# model's eval-mode output for any batch size, not only B (the check also passes an example of batch 1).

# %%
def export_model(model, example):
    """model as a torch.export.ExportedProgram whose batch dimension may vary."""
    # your code here
    raise NotImplementedError


# %%
# NBVAL_CHECK_OUTPUT
check.ex07_export(export_model)
