# Two commands on a fresh machine:
#   make demo   set up, then predict the Messi image with the embedded default weights
#   make test   set up, then run every test (unit tests and the notebooks through nbval)
PYTHON ?= python3
PIP := $(PYTHON) -m pip
EXTRAS ?= notebooks,serve,export,eval,dev

.PHONY: setup demo test test-fast clean

setup:
	$(PIP) install -q -c constraints.txt -e ".[$(EXTRAS)]"

demo: setup
	$(PYTHON) -m hpe_utils.cli predict data/messi_kick.webp --out out --json out/messi_kick.json --overwrite
	@echo "open out/messi_kick_pose.png"

test: setup
	$(PYTHON) -m pytest -q

test-fast: setup
	$(PYTHON) -m pytest -q -m "not slow"

clean:
	rm -rf out build *.egg-info .pytest_cache
