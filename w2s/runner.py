"""Execute the numbered notebooks in order with papermill.

Each notebook runs with kernel `python3`, working directory `notebooks/`, and the parameters
`SMOKE` and `OUT_DIR` injected (plus any the caller gives). Its executed copy and everything it
writes (at least `metrics.json`) land in `runs/<timestamp>/<notebook>/`, and a `report.md` plus
`summary.json` for the whole run in `runs/<timestamp>/`.

What papermill does not do and we add: an unknown parameter is an error (papermill only warns and
runs with defaults); a notebook that fails stops the run with the failing cell named; a notebook that
does not write metrics.json fails; progress bars are switched off in the kernel (W2S_PROGRESS=0,
TQDM_DISABLE=1) so executed notebooks carry no widget output.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from w2s.utils import paths
from w2s.utils.io import write_json

log = logging.getLogger(__name__)

KERNEL = "python3"
_NAME = re.compile(r"^(\d\d)_[\w-]+\.ipynb$")


class NotebookError(RuntimeError):
    pass


@dataclass
class NotebookResult:
    name: str
    path: Path  # executed copy
    out_dir: Path
    seconds: float
    metrics: dict = field(default_factory=dict)


def discover(notebooks_dir: Path | None = None) -> list[Path]:
    """The numbered notebooks (NN_name.ipynb), in order."""
    root = Path(notebooks_dir or paths.NOTEBOOKS_DIR or "notebooks")
    if not root.is_dir():
        raise NotebookError(f"notebook folder {root} does not exist (run from a clone of the repository)")
    found = sorted(p for p in root.iterdir() if _NAME.match(p.name))
    if not found:
        raise NotebookError(f"no numbered notebooks (NN_name.ipynb) in {root}")
    return found


def select(notebooks: list[Path], only: list[str] | None) -> list[Path]:
    if not only:
        return notebooks
    chosen = [nb for nb in notebooks if any(nb.name.startswith(o.zfill(2)) or nb.stem == o for o in only)]
    missing = [o for o in only if not any(nb.name.startswith(o.zfill(2)) or nb.stem == o for nb in notebooks)]
    if missing:
        names = ", ".join(nb.stem for nb in notebooks)
        raise NotebookError(f"no notebook matches {missing}; available: {names}")
    return chosen


def declared_parameters(notebook: Path) -> dict:
    """Parameters of the notebook's `parameters` cell: {name: {"default", "help", ...}}."""
    import nbformat
    import papermill as pm

    nb = nbformat.read(notebook, as_version=4)
    if nb.metadata.get("kernelspec", {}).get("name") != KERNEL:
        raise NotebookError(f"{notebook.name}: kernelspec must be {KERNEL!r} (save it with the Python 3 kernel)")
    cells = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    if not cells:
        raise NotebookError(f"{notebook.name} has no cell tagged 'parameters'")
    declared = pm.inspect_notebook(str(notebook))
    # papermill's parser drops lines it cannot parse; every assignment must be a plain literal
    assigned = re.findall(r"^([A-Za-z_]\w*)\s*=", cells[0].source, flags=re.M)
    unparsed = sorted(set(assigned) - set(declared))
    if unparsed:
        raise NotebookError(f"{notebook.name}: parameters {unparsed} are not plain `NAME = literal  # help` lines")
    return declared


def check_parameters(notebook: Path, parameters: dict) -> None:
    declared = declared_parameters(notebook)
    unknown = sorted(set(parameters) - set(declared))
    if unknown:
        raise NotebookError(
            f"{notebook.name}: unknown parameter(s) {unknown}; it declares {sorted(declared)}"
        )


def new_run_dir(root: Path | None = None) -> Path:
    root = Path(root or paths.runs_dir())
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    run = root / stamp
    n = 1
    while run.exists():
        n += 1
        run = root / f"{stamp}-{n}"
    run.mkdir(parents=True)
    return run


def _kernel_env(smoke: bool) -> dict:
    return {
        "W2S_PROGRESS": "0",
        "TQDM_DISABLE": "1",
        "HF_HUB_OFFLINE": os.environ.get("HF_HUB_OFFLINE", "1"),
        "TRANSFORMERS_OFFLINE": os.environ.get("TRANSFORMERS_OFFLINE", "1"),
        "HF_HUB_DISABLE_PROGRESS_BARS": "1",
        "W2S_INTERACTIVE": "0" if smoke else "1",  # smoke: figures to HTML files, not into the notebook
        "PYDEVD_DISABLE_FILE_VALIDATION": "1",
        "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE"),  # see w2s.utils.runtime.passive_openmp
    }


def run_notebook(notebook: Path, out_dir: Path, parameters: dict, timeout: int | None = 3600) -> NotebookResult:
    """Execute one notebook into out_dir; raise NotebookError naming the failing cell."""
    import papermill as pm

    check_parameters(notebook, parameters)
    out_dir.mkdir(parents=True, exist_ok=True)
    executed = out_dir / notebook.name
    params = {"OUT_DIR": str(out_dir.resolve()), **parameters}
    check_parameters(notebook, {"OUT_DIR": None})
    env = _kernel_env(bool(parameters.get("SMOKE", False)))
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)  # the kernel inherits our environment
    t0 = time.perf_counter()
    try:
        pm.execute_notebook(
            str(notebook),
            str(executed),
            parameters=params,
            kernel_name=KERNEL,
            cwd=str(notebook.parent),
            progress_bar=False,
            execution_timeout=timeout,
            log_output=False,
        )
    except pm.PapermillExecutionError as e:
        raise NotebookError(
            f"{notebook.name} failed at cell {e.exec_count}: {e.ename}: {e.evalue}\n"
            f"executed copy with the traceback: {executed}"
        ) from None
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    seconds = time.perf_counter() - t0
    metrics_path = out_dir / "metrics.json"
    if not metrics_path.is_file():
        raise NotebookError(f"{notebook.name} ran but wrote no metrics.json into {out_dir}")
    metrics = json.loads(metrics_path.read_text(encoding="utf-8"))
    return NotebookResult(notebook.stem, executed, out_dir, seconds, metrics)


def run_all(
    smoke: bool = False,
    only: list[str] | None = None,
    parameters: dict | None = None,
    runs_root: Path | None = None,
    notebooks_dir: Path | None = None,
) -> tuple[Path, list[NotebookResult]]:
    """Run the selected notebooks in order; stop at the first failure. Returns (run dir, results)."""
    notebooks = select(discover(notebooks_dir), only)
    params = {"SMOKE": bool(smoke), **(parameters or {})}
    for nb in notebooks:  # fail before running anything if a parameter is wrong anywhere
        check_parameters(nb, params)
    run = new_run_dir(runs_root)
    results: list[NotebookResult] = []
    log.info("run folder: %s", run)
    for nb in notebooks:
        log.info("executing %s (smoke=%s)", nb.name, smoke)
        try:
            results.append(run_notebook(nb, run / nb.stem, params))
        finally:
            write_report(run, results, params)
        log.info("%s done in %.1f s", nb.name, results[-1].seconds)
    return run, results


def write_report(run: Path, results: list[NotebookResult], params: dict) -> Path:
    summary = {
        "parameters": params,
        "notebooks": [
            {"name": r.name, "seconds": round(r.seconds, 1), "executed": str(r.path.relative_to(run)), "metrics": r.metrics}
            for r in results
        ],
    }
    write_json(run / "summary.json", summary)
    lines = [f"# w2s results — {run.name}", "", f"Parameters: `{json.dumps(params)}`", ""]
    for r in results:
        lines += [f"## {r.name} ({r.seconds:.0f} s)", "", f"Executed notebook: `{r.path.relative_to(run)}`", ""]
        lines += ["| metric | value |", "|---|---|"]
        lines += [f"| {k} | {_fmt(v)} |" for k, v in _flatten(r.metrics).items()]
        lines.append("")
    report = run / "report.md"
    report.write_text("\n".join(lines), encoding="utf-8")
    return report


def _flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, list) and len(v) > 8:
        return f"[{len(v)} values]"
    return str(v)
