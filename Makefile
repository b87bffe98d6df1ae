# The two commands of the README:  `make run`  and  `make test`  (and `make lab` to study the notebooks).
# Both create (or reuse) the virtual environment .venv, install w2s into it, then do their job.
#
#   PYTHON=python3.11   interpreter for a new .venv (>= 3.11)
#   TORCH=torch==2.13.0 torch requirement installed first when .venv has no torch yet; a GPU user
#                       installs their own CUDA torch into .venv before `make run` and it is kept
#   PIP_ARGS=...        extra pip arguments, e.g. --index-url for a CPU-only torch wheel
#   QUICK=1             make run: the whole path with fewer seeds and steps (target <= 10 min)
#   LAB_ARGS=...        make lab: extra JupyterLab arguments, e.g. --no-browser --port 8890

PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch==2.13.0
PIP_ARGS ?=
QUICK ?=
LAB_ARGS ?=
BIN := $(VENV)/bin
STAMP := $(VENV)/.w2s-installed
LAB_STAMP := $(VENV)/.w2s-lab-installed
AS_ROOT = $(if $(filter 0,$(shell id -u 2>/dev/null)),--allow-root)  # JupyterLab refuses root without it (containers)

.PHONY: run smoke test lab lint clean-runs

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/python -m pip install -q $(PIP_ARGS) "$(TORCH)"
	$(BIN)/python -m pip install -q $(PIP_ARGS) -e ".[notebooks,dev]"
	@touch $(STAMP)

$(LAB_STAMP): $(STAMP)
	$(BIN)/python -m pip install -q $(PIP_ARGS) -e ".[lab]"
	@touch $(LAB_STAMP)

run: $(STAMP)  ## all notebooks, in order, on the embedded default; ends with runs/<timestamp>/report.md
	HF_HUB_OFFLINE=1 $(BIN)/w2s notebooks $(if $(filter 1 yes true,$(QUICK)),--quick)

smoke: $(STAMP)  ## the same in smoke mode (minutes)
	HF_HUB_OFFLINE=1 $(BIN)/w2s notebooks --smoke

test: $(STAMP)  ## the test suite, including every notebook in smoke mode
	HF_HUB_OFFLINE=1 W2S_PROGRESS=0 $(BIN)/python -m pytest -q

# The notebooks name the kernel `python3` (the runner requires it): pin that name, in .venv's own kernel folder
# (which Jupyter inside a venv reads first), to .venv's interpreter; then JupyterLab in notebooks/, where
# `make run` executes them.
lab: $(LAB_STAMP)  ## the notebooks in JupyterLab, run by .venv's Python
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (w2s .venv)"
	HF_HUB_OFFLINE=1 JUPYTER_PREFER_ENV_PATH=1 $(BIN)/jupyter lab --ServerApp.root_dir=notebooks $(AS_ROOT) $(LAB_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check w2s tests notebooks

clean-runs:
	rm -rf runs
