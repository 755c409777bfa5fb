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
# # 08 · Serving: a REST API and a web page
#
# `hpe serve` runs a FastAPI app: `GET /` is a web page (drop an image, see the skeleton), `POST /predict`
# takes an image and returns the same JSON record as `hpe predict --json` (or a PNG with `?format=png`),
# `/docs` is the OpenAPI documentation. Here we start it inside the notebook on 127.0.0.1 and call it.

# %% [markdown]
# *Setup.* On Colab this clones the repository (for its data and embedded weights), installs the package and
# turns on the widget manager; locally it checks that `hpe_utils` is importable (`pip install -e .`).

# %%
import importlib, os, subprocess, sys  # On Colab (or with HPE_COLAB=1, as a test does) clone the course and
if "google.colab" in sys.modules or os.environ.get("HPE_COLAB"):  # install it; locally `pip install -e .` did that
    clone = os.environ.get("HPE_CLONE_DIR", "/content/hpe-workbook")
    subprocess.run(f'[ -d "{clone}" ] || git clone -q --depth 1 {os.environ.get("HPE_REPO_URL", "https://github.com/hpe-workbook/hpe-workbook")} '
                   f'"{clone}" && "{sys.executable}" -m pip install -q "{clone}[serve,export]"', shell=True, check=True)
    importlib.invalidate_caches()
from hpe_utils.notebook import setup
DATA, DEVICE = setup()  # the course's data/ folder, and "cuda" on a GPU runtime ("cpu" elsewhere)

# %%
import io

import httpx
import matplotlib.pyplot as plt
from PIL import Image

from hpe_utils.serve import BackgroundServer, create_app

server = BackgroundServer(create_app("default", device=DEVICE))  # uvicorn in a thread, on a free port of 127.0.0.1
URL = server.start()
print("serving at", URL, "- open it in a browser when running locally")

# %% [markdown]
# ## Health and the JSON record

# %%
# NBVAL_CHECK_OUTPUT
health = httpx.get(URL + "/health").json()
print({k: health[k] for k in ("status", "skeleton", "input_size")})

# %% [markdown]
# A server sees many images, so with `backend="auto"` it answers at once on eager PyTorch and, if no earlier
# run on this machine has, measures the engines in a background thread, then switches to the fastest that
# keeps fp32's answers (`docs/engines.md` describes the rule). `/health` says which engine runs and whether it
# is still measuring.

# %%
print("engine:", health["backend"], "| still measuring:", health["measuring_engines"])  # varies: not checked

# %%
# NBVAL_CHECK_OUTPUT
image = (DATA / "messi_kick.webp").read_bytes()
r = httpx.post(URL + "/predict", files={"image": ("messi.webp", image)}, timeout=60)
record = r.json()
print(r.status_code, record["skeleton"], record["width"], record["height"], len(record["people"][0]["keypoints"]), "keypoints")

# %% [markdown]
# ## The overlay as a PNG

# %%
png = httpx.post(URL + "/predict?format=png", content=image, timeout=60)
fig, ax = plt.subplots(figsize=(8, 4.8))
ax.imshow(Image.open(io.BytesIO(png.content)))
ax.set_title("POST /predict?format=png")
ax.set_xlabel("x (pixels)")
ax.set_ylabel("y (pixels)")
plt.show()

# %% [markdown]
# ## Bad input gets a clear error, never a crash
# Too large -> 413, not an image -> 415, broken image -> 400, each with `{"error": ...}`.

# %%
# NBVAL_CHECK_OUTPUT
for label, body in [("text file", b"hello"), ("truncated image", image[:3000]), ("empty", b"")]:
    r = httpx.post(URL + "/predict", content=body)
    print(f"{label:16s} -> {r.status_code} {r.json()['error'][:60]}")
print("still serving:", httpx.get(URL + "/health").json()["status"])

# %% [markdown]
# The same code answers AWS Lambda events (`hpe_utils.serve.lambda_handler`); `deploy/` has the template.

# %%
server.stop()

# %% [markdown]
# ## The third deployment: the model in the browser
# `hpe export --format web DIR` writes a static site: the same page, `meta.json` (skeleton, input size, colour
# order, box padding, mean/std: what `Predictor` knows), the model as ONNX (fp32, checked against PyTorch like
# every export; an fp16 copy, which the page loads, at half the download when it keeps 99 % of joints in place) and ONNX Runtime Web's
# WebAssembly runtime. Its JavaScript does what `Predictor` does — crop, normalise, flip test, DARK decoding,
# back to image pixels — and a test in Chromium finds its keypoints within 0.0001 px of `Predictor`'s. Any
# folder host serves it (`deploy/static-site.md`); `hpe serve`'s page has the same files and a switch between
# "on the server" and "in the browser". The runtime is fetched once with npm (`make setup-web` does it).

# %%
import tempfile
from pathlib import Path

from hpe_utils.files import shipped_images
from hpe_utils.web import WebExportError, export_web, ort_cached

SITE = Path(tempfile.mkdtemp()) / "site"
site = None
if os.environ.get("HPE_OFFLINE") and ort_cached() is None:
    print("offline run without ONNX Runtime Web in the cache (make setup-web): export skipped")
else:
    try:
        site = export_web("default", SITE, shipped_images()[:3], log=lambda _m: None)
        print(site)
    except WebExportError as e:  # e.g. no npm to fetch the runtime with: the message says what to do
        print("no site:", e)

# %% [markdown]
# Serve the folder and open the page (on Colab through its proxy, in a new tab; locally at the printed link).
# The model runs in *your* browser: this notebook only hands out files. Pick a photo or start the webcam.

# %%
import contextlib
from urllib.parse import urlparse

from hpe_utils.web import serve_site

static = contextlib.ExitStack()  # keeps the server running until the cell after the table closes it
if site is not None:
    url = static.enter_context(serve_site(SITE, isolate=True))  # with the headers that give the page threads
    port = urlparse(url).port
    if "google.colab" in sys.modules:
        from google.colab import output

        output.serve_kernel_port_as_window(port, anchor_text="open the pose page (runs in your browser)")
    else:
        print(f"open {url} in a browser")

# %% [markdown]
# ### Lambda or the browser?
# Measured on this project's 2-core machine (`bench/web_page.py`, `bench/end_to_end.py`; Lambda's own latency
# adds the network and, on a cold start, loading torch):
#
# | | REST service (`hpe serve`, Lambda) | in the browser (ONNX Runtime Web) |
# |---|---|---|
# | who pays for compute | you, per request (Lambda bills GB-seconds) | the visitor's device; you pay only for static hosting |
# | a photo of 3 people, flip test on | 0.14–0.26 s of server CPU (`docs/detector.md`, "Speed: detector and poses") + the upload | 0.43 s (2 wasm threads) – 0.75 s (1 thread), detector included |
# | first use | a cold Lambda start loads torch (seconds) | downloads 53 MB once (31 MB fp16 model, 14 MB runtime, 8 MB person detector; the browser caches it), first pose 1.2–2.8 s after opening the page on localhost |
# | webcam | a round trip per frame: impractical | 3.6–9 frames/s with threads, 2–4 without (flip test off; the slower figures on the slower of two machines) |
# | privacy | images travel to your server | images never leave the device |
# | works offline | no | yes, once loaded |
#
# The browser wins on cost, privacy and live video; the server wins on weak devices (a phone runs the wasm
# model several times slower), on the first visit's download, and when you must log or control what is run.

# %%
static.close()  # stop the file server

# %% [markdown]
# ## Exercises
# Be the API's client. Fill in each function, run its cell, then the check under it: the checks run your
# function against the real app (a FastAPI test client, no port needed) and compare with what the server itself
# answers. `check.hint("ex08_parse_record")` gives one hint at a time; the worked answers are in
# `notebooks/solutions/08_serving.py` (try first).

# %%
from hpe_utils.exercises import Checker

check = Checker()

# %% [markdown]
# ### 8.1 Warm-up: keypoints out of the JSON record
# `keypoints_from_record(record)` takes the record `POST /predict` returns (a dict like `record` above) and
# returns a float array of shape (people, joints, 2): each person's (x, y) in image pixels, joints in the order
# of `record["joints"]`, without the scores. A record with no people gives shape (0, joints, 2).

# %%
def keypoints_from_record(record):
    """Keypoints (people, joints, 2) in image pixels from the API's JSON record."""
    # your code here
    raise NotImplementedError


# %%
# NBVAL_CHECK_OUTPUT
check.ex08_parse_record(keypoints_from_record)

# %% [markdown]
# Stuck? Each call gives the next hint:

# %%
# NBVAL_CHECK_OUTPUT
check.hint("ex08_parse_record")

# %% [markdown]
# ### 8.2 Core: call the API and handle its errors
# `pose_or_error(client, image_bytes)` posts the bytes to `/predict` with `client` (an httpx-style client whose
# base URL is the server: `client.post("/predict", ...)`) and returns either the keypoints, an array (people,
# joints, 2) as in 8.1, when the server answers 200, or the server's own error message (the `"error"` of its
# JSON body, a `str`) when it refuses the upload with a 4xx. It never raises for a refused upload. To try it
# yourself on a fresh server (the one above is stopped):
#
#     with BackgroundServer(create_app("default", backend="torch")) as url:
#         print(pose_or_error(httpx.Client(base_url=url), b"hello"))

# %%
def pose_or_error(client, image_bytes):
    """Keypoints (people, joints, 2) for an accepted upload, or the server's error message (str) for a refused one."""
    # your code here
    raise NotImplementedError


# %%
# NBVAL_CHECK_OUTPUT
check.ex08_call_api(pose_or_error)
