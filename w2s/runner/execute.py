"""Running the notebooks: find them, run each with papermill into `runs/<timestamp>/<notebook>/`, stop at the
first failure (its cell named), require a metrics.json, save the HTML copy, rewrite the report."""

from __future__ import annotations

import json
import re
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from w2s.runner.engine import ENGINE, KERNEL, environment, kernel_env, quiet_papermill, register_engine
from w2s.runner.errors import NotebookError
from w2s.runner.export import check_html_exporter, export_html, try_export
from w2s.runner.params import (
    QUICK,
    check_not_overridden,
    check_parameters,
    declared_parameters,
    notebook_parameters,
)
from w2s.runner.progress import Progress
from w2s.runner.report import NotebookResult, write_report
from w2s.utils import paths

_NAME = re.compile(r"^(\d\d)_[\w-]+\.ipynb$")


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


def run_notebook(notebook: Path, out_dir: Path, parameters: dict, timeout: int | None = 3600,
                 progress: Progress | None = None) -> NotebookResult:  # fmt: skip
    """Execute one notebook into out_dir (parameters checked and typed first); raise NotebookError naming the
    failing cell. The executed copy and its HTML land in out_dir. While it runs, `progress` shows the cell
    and the bars its kernel (and the kernel's worker processes) write into a folder of their own."""
    import papermill as pm

    parameters = check_parameters(notebook, parameters)  # typed values pass unchanged
    if "OUT_DIR" not in declared_parameters(notebook):
        raise NotebookError(f"{notebook.name}: its parameters cell must declare OUT_DIR (where it writes)")
    out_dir.mkdir(parents=True, exist_ok=True)
    executed = out_dir / notebook.name
    params = {"OUT_DIR": str(out_dir.resolve()), **parameters}
    register_engine()
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="w2s-progress-") as bars:
        if progress is not None:
            progress.watch(Path(bars))
        try:
            with environment(kernel_env(out_dir, Path(bars))), quiet_papermill():
                pm.execute_notebook(
                    str(notebook),
                    str(executed),
                    parameters=params,
                    engine_name=ENGINE,
                    kernel_name=KERNEL,
                    cwd=str(notebook.parent),
                    progress_bar=False,
                    execution_timeout=timeout,
                    log_output=False,
                    extra_arguments=["--IPKernelApp.log_level=ERROR"],  # no "running over TCP without encryption"
                    on_cell=progress.cell if progress is not None else None,
                )
        except pm.PapermillExecutionError as e:
            html = try_export(executed)
            raise NotebookError(
                f"{notebook.name} failed at cell {e.exec_count}: {e.ename}: {e.evalue}\n"
                f"executed copy with the traceback: {html or executed}"
            ) from None
        finally:
            if progress is not None:
                progress.watch(None)
    seconds = time.perf_counter() - t0
    metrics_path = out_dir / "metrics.json"
    if not metrics_path.is_file():
        raise NotebookError(f"{notebook.name} ran but wrote no metrics.json into {out_dir}")
    try:
        metrics = json.loads(metrics_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise NotebookError(f"{metrics_path}: not readable JSON ({e})") from None
    if progress is not None:
        progress.status("writing the HTML copy")
    html = export_html(executed)
    return NotebookResult(notebook.stem, executed, out_dir, seconds, metrics, html, dict(parameters))


def run_all(
    smoke: bool = False,
    only: list[str] | None = None,
    parameters: dict | None = None,
    runs_root: Path | None = None,
    notebooks_dir: Path | None = None,
    quick: bool = False,
    progress: Progress | None = None,
) -> tuple[Path, list[NotebookResult]]:
    """Run the selected notebooks in order; stop at the first failure. Returns (run dir, results).

    Every parameter is checked against every selected notebook before anything runs.
    """
    notebooks = select(discover(notebooks_dir), only)
    given = {"SMOKE": bool(smoke), **(parameters or {})}
    planned = {nb: notebook_parameters(nb, given, quick) for nb in notebooks}
    for nb, checked in planned.items():
        check_not_overridden(nb, checked, set(parameters or {}))
    typed = {k: v for p in planned.values() for k, v in p.items() if k != QUICK}  # as the notebooks read them
    check_html_exporter()
    run = new_run_dir(runs_root)
    progress = progress or Progress(len(notebooks))
    mode = "smoke" if smoke else "quick" if quick else "full"
    if progress.detail:
        progress.message(f"w2s notebooks: {len(notebooks)} notebook(s), {mode} mode, into {run}")
    if quick:
        takers = [nb.stem for nb, p in planned.items() if QUICK in p]
        progress.message(
            f"quick: QUICK=True for {', '.join(takers) or 'none of them'}; the others run as usual"
        )
    results: list[NotebookResult] = []
    failure = None
    for k, nb in enumerate(notebooks, start=1):
        progress.start(k, nb.stem)
        try:
            results.append(run_notebook(nb, run / nb.stem, planned[nb], progress=progress))
        except BaseException as e:
            failure = f"{nb.stem}: {str(e).splitlines()[0] if str(e) else type(e).__name__}"
            progress.end(ok=False)
            raise
        finally:
            write_report(run, results, typed, mode=mode, failure=failure)
        progress.end()
    return run, results
