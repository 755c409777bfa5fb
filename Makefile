# Two commands on a fresh machine:
#   make demo   set up, then predict the Messi image with the embedded default weights
#   make test   set up, then run every test (unit tests and the notebooks through nbval)
PYTHON ?= python3
PIP := $(PYTHON) -m pip
EXTRAS ?= notebooks,serve,export,eval,dev

.PHONY: setup setup-browser demo test test-fast clean

setup:
	$(PIP) install -q -c constraints.txt -e ".[$(EXTRAS)]"

# Debian's Chromium for the web-page test (Playwright drives it; no browser download of its own)
setup-browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

demo: setup
	$(PYTHON) -m hpe_utils.cli predict data/messi_kick.webp --out out --json out/messi_kick.json --overwrite
	@echo "open out/messi_kick_pose.png"

test: setup setup-browser
	$(PYTHON) -m pytest -q

test-fast: setup
	$(PYTHON) -m pytest -q -m "not slow"

clean:
	rm -rf out build *.egg-info .pytest_cache
