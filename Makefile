# The two commands of the README:  `make run`  and  `make test`.
# Both create (or reuse) the virtual environment .venv, install w2s into it, then do their job.
#
#   PYTHON=python3.11   interpreter for a new .venv (>= 3.11)
#   TORCH=torch==2.13.0 torch requirement installed first when .venv has no torch yet; a GPU user
#                       installs their own CUDA torch into .venv before `make run` and it is kept
#   PIP_ARGS=...        extra pip arguments, e.g. --index-url for a CPU-only torch wheel
#   QUICK=1             make run: the whole path with fewer seeds and steps (target <= 10 min)

PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch==2.13.0
PIP_ARGS ?=
QUICK ?=
BIN := $(VENV)/bin
STAMP := $(VENV)/.w2s-installed

.PHONY: run smoke test lint clean-runs

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/python -m pip install -q $(PIP_ARGS) "$(TORCH)"
	$(BIN)/python -m pip install -q $(PIP_ARGS) -e ".[notebooks,dev]"
	@touch $(STAMP)

run: $(STAMP)  ## all notebooks, in order, on the embedded default; ends with runs/<timestamp>/report.md
	HF_HUB_OFFLINE=1 $(BIN)/w2s notebooks $(if $(filter 1 yes true,$(QUICK)),--quick)

smoke: $(STAMP)  ## the same in smoke mode (minutes)
	HF_HUB_OFFLINE=1 $(BIN)/w2s notebooks --smoke

test: $(STAMP)  ## the test suite, including every notebook in smoke mode
	HF_HUB_OFFLINE=1 W2S_PROGRESS=0 $(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check w2s tests notebooks

clean-runs:
	rm -rf runs
