"""Execute the numbered notebooks in order with papermill.

Each notebook runs with kernel `python3`, working directory `notebooks/`, and the parameters
`SMOKE` and `OUT_DIR` injected (plus any the caller gives). Its executed copy, a standalone HTML of
it (nbconvert; figures included, they work offline) and everything it writes (at least
`metrics.json`) land in `runs/<timestamp>/<notebook>/`, and a `report.md` plus `summary.json` for
the whole run in `runs/<timestamp>/`: the report ends with the run's results tables (the ones the
README's blocks are made from, `w2s.evaluation.readme`) and links to every figure and HTML notebook.

What papermill does not do and we add, one module each:

- ``params``: parameters are checked before anything runs: an unknown name is an error (papermill only
  warns), each value must fit the type of its literal in the notebook's `parameters` cell, and a parameter
  the notebook's own `if SMOKE:` block would overwrite is an error; `quick=True` (``w2s notebooks --quick``)
  gives `QUICK = True` to the notebooks that declare it and leaves the others as they are;
- ``execute``: a notebook that fails stops the run with the failing cell named; one that writes no
  metrics.json fails;
- ``engine``: the kernel is quiet: no progress bars or widgets in executed notebooks (W2S_PROGRESS=0,
  TQDM_DISABLE=1; its bars report to the runner instead, W2S_PROGRESS_DIR), figures embedded self-contained
  (W2S_INTERACTIVE=0, see `w2s.viz.display`), no transport warning from ipykernel, no papermill INFO lines;
- ``progress``: a line a newcomer can read (:class:`Progress`): which notebook of how many, which code cell
  of how many and under which heading, time so far, and the long work inside the cell (step k/N, grid cell
  k/N, time left); under W2S_PROGRESS=0 one line per notebook;
- ``export``: the standalone HTML of each executed notebook, which loads nothing from the network;
- ``report``: `summary.json` and `report.md` of the run, rewritten after every notebook.
"""

from w2s.runner.engine import KERNEL
from w2s.runner.errors import NotebookError, ParameterError
from w2s.runner.execute import discover, new_run_dir, run_all, run_notebook, select
from w2s.runner.export import export_html
from w2s.runner.params import (
    QUICK,
    check_not_overridden,
    check_parameters,
    coerce_parameter,
    declared_parameters,
    declared_type,
    mode_overrides,
    notebook_parameters,
)
from w2s.runner.progress import Progress
from w2s.runner.report import NotebookResult, figures_of, write_report

__all__ = [
    "KERNEL", "QUICK", "NotebookError", "NotebookResult", "ParameterError", "Progress", "check_not_overridden",
    "check_parameters", "coerce_parameter", "declared_parameters", "declared_type", "discover", "export_html",
    "figures_of", "mode_overrides", "new_run_dir", "notebook_parameters", "run_all", "run_notebook", "select",
    "write_report",
]  # fmt: skip
