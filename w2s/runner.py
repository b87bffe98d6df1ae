"""Execute the numbered notebooks in order with papermill.

Each notebook runs with kernel `python3`, working directory `notebooks/`, and the parameters
`SMOKE` and `OUT_DIR` injected (plus any the caller gives). Its executed copy, a standalone HTML of
it (nbconvert; figures included, they work offline) and everything it writes (at least
`metrics.json`) land in `runs/<timestamp>/<notebook>/`, and a `report.md` plus `summary.json` for
the whole run in `runs/<timestamp>/`: the report ends with the run's results tables (the ones the
README's blocks are made from, `w2s.evaluation.readme`) and links to every figure and HTML notebook.

What papermill does not do and we add:

- parameters are checked before anything runs: an unknown name is an error (papermill only warns),
  and each value must fit the type of its literal in the notebook's `parameters` cell: a string
  from the command line is converted (`SMOKE=false` is False, `SEED=abc` is an error naming SEED and
  int), ints are accepted for floats, strings stay strings; a parameter that the notebook's own
  `if SMOKE:` (or `if SMOKE or QUICK:`) block would overwrite in that mode is an error, since it would
  be ignored while the run's summary recorded it (`--smoke -p CORPUS_PRESET=default`);
- `quick=True` (``w2s notebooks --quick``) gives `QUICK = True` to the notebooks that declare a QUICK
  parameter (the whole path with fewer seeds and steps, ≤ 10 min) and leaves the others as they are;
- a notebook that fails stops the run with the failing cell named; one that writes no metrics.json
  fails;
- the kernel is quiet: no progress bars or widgets in executed notebooks (W2S_PROGRESS=0,
  TQDM_DISABLE=1), figures embedded self-contained (W2S_INTERACTIVE=0, see `w2s.viz.display`), no
  transport warning from ipykernel and no papermill INFO lines;
- progress a newcomer can read (:class:`Progress`): which notebook of how many, which code cell of
  how many and under which heading, time so far; under W2S_PROGRESS=0 one line per notebook.
"""

from __future__ import annotations

import ast
import json
import logging
import os
import re
import shutil
import sys
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

from w2s.evaluation.readme import ReadmeError, run_tables
from w2s.evaluation.report import markdown_table
from w2s.utils import paths
from w2s.utils.io import atomic_path, write_json
from w2s.utils.runtime import progress_enabled, reproducible_env

log = logging.getLogger(__name__)

KERNEL = "python3"
QUICK = "QUICK"
_NAME = re.compile(r"^(\d\d)_[\w-]+\.ipynb$")
_FIGURES = (".html", ".png", ".svg", ".jpg", ".gif", ".mp4", ".webm")  # what a notebook's folder shows


class NotebookError(RuntimeError):
    pass


class ParameterError(NotebookError):
    """A notebook parameter whose value does not fit the type declared in the `parameters` cell."""


@dataclass
class NotebookResult:
    name: str
    path: Path  # executed copy
    out_dir: Path
    seconds: float
    metrics: dict = field(default_factory=dict)
    html: Path | None = None  # standalone HTML of the executed copy
    parameters: dict = field(default_factory=dict)


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
        raise NotebookError(
            f"{notebook.name}: kernelspec must be {KERNEL!r} (save it with the Python 3 kernel)"
        )
    cells = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    if not cells:
        raise NotebookError(f"{notebook.name} has no cell tagged 'parameters'")
    with _quiet_papermill():
        declared = pm.inspect_notebook(str(notebook))
    # papermill's parser drops lines it cannot parse; every assignment must be a plain literal
    assigned = re.findall(r"^([A-Za-z_]\w*)\s*(?::[^=]*)?=", cells[0].source, flags=re.M)
    unparsed = sorted(set(assigned) - set(declared))
    if unparsed:
        raise NotebookError(
            f"{notebook.name}: parameters {unparsed} are not plain `NAME = literal  # help` lines"
        )
    for name, spec in declared.items():
        try:
            ast.literal_eval(spec["default"])
        except (ValueError, SyntaxError):
            raise NotebookError(
                f"{notebook.name}: parameter {name} = {spec['default']} is not a plain literal"
            ) from None
    return declared


# --- parameters: names and types ---------------------------------------------------------------

_TYPES = {"bool": bool, "int": int, "float": float, "str": str, "list": list, "dict": dict, "tuple": tuple}
_TRUE, _FALSE = {"true", "yes", "on", "1"}, {"false", "no", "off", "0"}
_EXAMPLE = {bool: "true or false", int: "an integer, e.g. 3", float: "a number, e.g. 0.5", list: "a list, e.g. [1, 2]",
            dict: "a dict, e.g. {'a': 1}", tuple: "a tuple, e.g. (1, 2)", str: "a string"}  # fmt: skip


def declared_type(spec: dict) -> type | None:
    """The type a parameter's value must have: its annotation if a plain type, else its literal's (None: any)."""
    annotated = _TYPES.get(str(spec.get("inferred_type_name")))
    if annotated is not None:
        return annotated
    default = ast.literal_eval(spec["default"])
    return None if default is None else type(default)


def coerce_parameter(name: str, value, expected: type | None, where: str = "") -> object:
    """`value` as the declared type `expected`; a string (from the command line) is parsed. ParameterError if
    it does not fit: the message names the parameter, the expected type and an example."""

    def bad() -> ParameterError:
        origin = f" ({where} declares {name} as {expected.__name__})" if where else ""
        return ParameterError(f"parameter {name}={value!r} is not {_EXAMPLE[expected]}{origin}")

    if expected is None:  # declared as None: anything; a string is read as a literal if it is one
        return _literal_or_text(value) if isinstance(value, str) else value
    if expected is str:
        if not isinstance(value, str):
            raise bad()
        parsed = _literal_or_text(value)
        return parsed if isinstance(parsed, str) else value  # '"x y"' -> x y; anything else verbatim
    given = value
    if isinstance(value, str):
        text = value.strip()
        if expected is bool:
            if text.lower() in _TRUE | _FALSE:
                return text.lower() in _TRUE
            raise bad()
        given = _literal_or_text(text)
    if expected is bool and isinstance(given, bool):
        return given
    if expected is int and isinstance(given, int) and not isinstance(given, bool):
        return given
    if expected is float and isinstance(given, (int, float)) and not isinstance(given, bool):
        return float(given)
    if expected in (list, tuple) and isinstance(given, (list, tuple)):
        return expected(given)
    if expected is dict and isinstance(given, dict):
        return given
    raise bad()


def _literal_or_text(text: str):
    try:
        return ast.literal_eval(text.strip())
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return text


def check_parameters(notebook: Path, parameters: dict) -> dict:
    """The parameters as the notebook declares them (names known, values coerced to the declared types)."""
    declared = declared_parameters(notebook)
    unknown = sorted(set(parameters) - set(declared))
    if unknown:
        raise NotebookError(
            f"{notebook.name}: unknown parameter(s) {unknown}; it declares {sorted(declared)}"
        )
    return {
        name: coerce_parameter(name, value, declared_type(declared[name]), notebook.name)
        for name, value in parameters.items()
    }


def notebook_parameters(notebook: Path, parameters: dict, quick: bool = False) -> dict:
    """What `notebook` receives: `parameters` checked and typed, plus QUICK=True if `quick` and it declares QUICK."""
    checked = check_parameters(notebook, parameters)
    if "OUT_DIR" not in declared_parameters(notebook):
        raise NotebookError(f"{notebook.name}: its parameters cell must declare OUT_DIR (where it writes)")
    if quick and QUICK in declared_parameters(notebook):
        checked[QUICK] = True
    return checked


# --- parameters a notebook sets itself (`if SMOKE:` blocks) -------------------------------------

_SWITCHES = ("SMOKE", QUICK)  # the mode parameters (--smoke, --quick): `if SMOKE:` blocks reset others


def _switched(test: ast.expr, modes: dict) -> bool | None:
    """The value of an `if` test made only of SMOKE/QUICK, not, and, or; None for any other test."""
    if isinstance(test, ast.Name):
        return bool(modes[test.id]) if test.id in modes else None
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        value = _switched(test.operand, modes)
        return None if value is None else not value
    if isinstance(test, ast.BoolOp):
        values = [_switched(v, modes) for v in test.values]
        if None in values:
            return None
        return all(values) if isinstance(test.op, ast.And) else any(values)
    return None


def mode_overrides(notebook: Path, modes: dict) -> dict[str, str]:
    """{name: "if SMOKE:"}: what the notebook assigns in the top-level `if` blocks on its mode parameters
    that run with `modes` ({"SMOKE": True, ...}), in code cells after its parameters cell."""
    import nbformat

    found: dict[str, str] = {}
    for cell in nbformat.read(notebook, as_version=4).cells:
        if cell.cell_type != "code" or "parameters" in cell.get("metadata", {}).get("tags", []):
            continue  # (the parameters cell runs before papermill's injected values: they win over it)
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:  # IPython magics: not a mode block
            continue
        for node in tree.body:
            runs = _switched(node.test, modes) if isinstance(node, ast.If) else None
            if runs is not None:
                names = _assigned(node.body if runs else node.orelse) - set(found)
                found.update((name, f"if {ast.unparse(node.test)}:") for name in names)
    return found


def _assigned(body: list[ast.stmt]) -> set[str]:
    return {n.id for stmt in body for n in ast.walk(stmt) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}


def check_not_overridden(notebook: Path, checked: dict, given) -> None:
    """ParameterError if a parameter in `given` (names the user set) would be reset by the notebook's
    own mode block (`-p CORPUS_PRESET=default --smoke`: the smoke block sets it to "smoke")."""
    declared = declared_parameters(notebook)
    modes = {k: checked.get(k, ast.literal_eval(declared[k]["default"])) for k in _SWITCHES if k in declared}
    for name, block in mode_overrides(notebook, modes).items():
        if name in given and name not in modes:
            state = ", ".join(f"{k}={v}" for k, v in modes.items())
            raise ParameterError(
                f"parameter {name}={checked[name]!r} would be ignored: {notebook.name} sets {name} itself "
                f"under `{block}` ({state}); leave -p {name} out, or run in a mode that keeps it"
            )


# --- progress ----------------------------------------------------------------------------------


def _clock(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


class Progress:
    """Where `w2s notebooks` is, for a person watching: notebook k of n, code cell i of m, the heading it
    runs under, time in this notebook and in the whole run.

    On a terminal one line is redrawn (every second); elsewhere (CI logs, pipes) a line per code cell.
    `detail=False` (W2S_PROGRESS=0) leaves a line per notebook only.
    """

    def __init__(self, total: int, stream=None, detail: bool | None = None, live: bool | None = None,
                 tick: float = 1.0, clock: Callable[[], float] = time.monotonic):  # fmt: skip
        self.total, self.stream, self.tick, self.clock = total, stream or sys.stderr, tick, clock
        self.detail = progress_enabled() if detail is None else detail
        isatty = getattr(self.stream, "isatty", lambda: False)
        self.live = (self.detail and isatty()) if live is None else live
        self.t_run = clock()
        self.t_nb = self.t_run
        self.index, self.name = 0, ""
        self.code: dict[int, int] = {}  # cell index -> position among code cells
        self.step, self.heading = 0, ""
        self._lock = threading.Lock()
        self._stop: threading.Event | None = None
        self._ticking: threading.Thread | None = None

    def message(self, text: str) -> None:
        """A line of its own (the live line is redrawn after it)."""
        with self._lock:
            self._write(("\r\x1b[K" if self.live else "") + text + "\n")

    def start(self, index: int, name: str) -> None:
        self.index, self.name, self.t_nb = index, name, self.clock()
        self.code, self.step, self.heading = {}, 0, ""
        if self.live:
            self._draw()
            self._stop = threading.Event()
            self._ticking = threading.Thread(target=self._ticker, args=(self._stop,), daemon=True)
            self._ticking.start()
        elif self.detail:
            self.message(f"{self._prefix()} started")

    def cell(self, index: int, cells) -> None:
        """Papermill is about to execute cell `index` of `cells` (the parameterized notebook's)."""
        if not self.code:
            self.code = {i: k for k, i in enumerate(i for i, c in enumerate(cells) if c.cell_type == "code")}
        cell = cells[index]
        if cell.cell_type == "markdown":
            heading = next(
                (ln.lstrip("#").strip() for ln in cell.source.splitlines() if ln.startswith("#")), ""
            )
            self.heading = heading or self.heading
            return
        if index not in self.code or not self.detail:
            return
        self.step = self.code[index] + 1
        if self.live:
            self._draw()
        else:
            self.message(self._line())

    def status(self, text: str) -> None:
        """What happens after the last cell (e.g. writing the HTML copy)."""
        self.step, self.heading = 0, text
        if self.live:
            self._draw()
        elif self.detail:
            self.message(self._line())

    def end(self, ok: bool = True) -> None:
        if self._stop is not None:
            self._stop.set()
            self._ticking.join(timeout=5)  # no stale redraw after the notebook's last line
            self._stop = None
        took = self.clock() - self.t_nb
        verb = "done in" if ok else "FAILED after"
        self.message(
            f"{self._prefix()} {verb} {_clock(took)} (run so far {_clock(self.clock() - self.t_run)})"
        )

    def _prefix(self) -> str:
        return f"[{self.index}/{self.total}] {self.name}"

    def _line(self) -> str:
        parts = [self._prefix()]
        if self.step:
            parts.append(f"cell {self.step}/{len(self.code)}")
        parts.append(f"{_clock(self.clock() - self.t_nb)} (run {_clock(self.clock() - self.t_run)})")
        if self.heading:
            parts.append(self.heading)
        return " · ".join(parts)

    def _draw(self) -> None:
        width = shutil.get_terminal_size((100, 20)).columns - 1
        with self._lock:
            self._write("\r\x1b[K" + self._line()[:width])

    def _ticker(self, stop: threading.Event) -> None:
        while not stop.wait(self.tick):
            self._draw()

    def _write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()


_ENGINE = "w2s-progress"


def _register_engine() -> None:
    """A papermill engine (nbclient's) that tells a callback which cell starts: `on_cell(index, cells)`."""
    from papermill.engines import NBClientEngine, papermill_engines

    class ProgressEngine(NBClientEngine):
        @classmethod
        def execute_managed_notebook(cls, nb_man, kernel_name, on_cell=None, **kwargs):
            if on_cell is not None:
                start = nb_man.cell_start

                def cell_start(cell, cell_index=None, **kw):
                    on_cell(cell_index, nb_man.nb.cells)
                    return start(cell, cell_index, **kw)

                nb_man.cell_start = cell_start
            return super().execute_managed_notebook(nb_man, kernel_name, **kwargs)

    papermill_engines.register(_ENGINE, ProgressEngine)


@contextmanager
def _quiet_papermill():
    """No papermill INFO lines ("Input Notebook: ...") on the terminal."""
    logger = logging.getLogger("papermill")
    level = logger.level
    logger.setLevel(max(logging.WARNING, level))
    try:
        yield
    finally:
        logger.setLevel(level)


# --- running -----------------------------------------------------------------------------------


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


def _kernel_env(out_dir: Path) -> dict:
    return {
        "W2S_PROGRESS": "0",
        "TQDM_DISABLE": "1",
        "HF_HUB_OFFLINE": os.environ.get("HF_HUB_OFFLINE", "1"),
        "TRANSFORMERS_OFFLINE": os.environ.get("TRANSFORMERS_OFFLINE", "1"),
        "HF_HUB_DISABLE_PROGRESS_BARS": "1",
        "W2S_INTERACTIVE": "0",  # nobody watches: figures go into the notebook self-contained (w2s.viz.display)
        "W2S_NOTEBOOK_DIR": str(out_dir.resolve()),  # where the executed copy lives: links relative to it
        "PYDEVD_DISABLE_FILE_VALIDATION": "1",
        **reproducible_env(),  # the fixed thread count and kernels: see w2s.utils.runtime
    }


def _check_html_exporter() -> None:
    try:
        import nbconvert  # noqa: F401
    except ImportError:
        raise NotebookError(
            "nbconvert is not installed, so executed notebooks cannot be saved as HTML "
            "(pip install -e '.[notebooks]')"
        ) from None


_HTML_TEMPLATE = """{%- extends 'index.html.j2' -%}
{#- plotly.js and the figures are in the outputs: no require.js from a CDN -#}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
"""


def export_html(notebook: Path) -> Path:
    """A standalone HTML copy of an executed notebook beside it (nbconvert's lab template): images, audio
    and plotly figures are embedded, so it works from any folder, offline."""
    import jinja2
    import nbformat
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(template_name="lab", template_file="w2s.html.j2",
                            extra_loaders=[jinja2.DictLoader({"w2s.html.j2": _HTML_TEMPLATE})])  # fmt: skip
    nb = nbformat.read(notebook, as_version=4)
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": notebook.stem}})
    out = notebook.with_suffix(".html")
    with atomic_path(out) as tmp:
        Path(tmp).write_text(body, encoding="utf-8")
    return out


def run_notebook(notebook: Path, out_dir: Path, parameters: dict, timeout: int | None = 3600,
                 progress: Progress | None = None) -> NotebookResult:  # fmt: skip
    """Execute one notebook into out_dir (parameters checked and typed first); raise NotebookError naming the
    failing cell. The executed copy and its HTML land in out_dir."""
    import papermill as pm

    parameters = check_parameters(notebook, parameters)  # typed values pass unchanged
    if "OUT_DIR" not in declared_parameters(notebook):
        raise NotebookError(f"{notebook.name}: its parameters cell must declare OUT_DIR (where it writes)")
    out_dir.mkdir(parents=True, exist_ok=True)
    executed = out_dir / notebook.name
    params = {"OUT_DIR": str(out_dir.resolve()), **parameters}
    env = _kernel_env(out_dir)
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)  # the kernel inherits our environment
    _register_engine()
    t0 = time.perf_counter()
    try:
        with _quiet_papermill():
            pm.execute_notebook(
                str(notebook),
                str(executed),
                parameters=params,
                engine_name=_ENGINE,
                kernel_name=KERNEL,
                cwd=str(notebook.parent),
                progress_bar=False,
                execution_timeout=timeout,
                log_output=False,
                extra_arguments=["--IPKernelApp.log_level=ERROR"],  # no "running over TCP without encryption"
                on_cell=progress.cell if progress is not None else None,
            )
    except pm.PapermillExecutionError as e:
        html = _try_export(executed)
        raise NotebookError(
            f"{notebook.name} failed at cell {e.exec_count}: {e.ename}: {e.evalue}\n"
            f"executed copy with the traceback: {html or executed}"
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
    try:
        metrics = json.loads(metrics_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise NotebookError(f"{metrics_path}: not readable JSON ({e})") from None
    if progress is not None:
        progress.status("writing the HTML copy")
    html = export_html(executed)
    return NotebookResult(notebook.stem, executed, out_dir, seconds, metrics, html, dict(parameters))


def _try_export(executed: Path) -> Path | None:
    try:
        return export_html(executed) if executed.is_file() else None
    except Exception as e:  # the notebook's own failure is what the user needs to read
        log.debug("no HTML copy of %s: %s", executed, e)
        return None


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
    _check_html_exporter()
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


# --- the run's report --------------------------------------------------------------------------


def figures_of(out_dir: Path, notebook: str) -> list[Path]:
    """What a notebook wrote to look at (figure HTML, images, videos), in the order written."""
    if not out_dir.is_dir():
        return []
    found = [
        p for p in out_dir.iterdir() if p.suffix.lower() in _FIGURES and p.is_file() and p.stem != notebook
    ]
    return sorted(found, key=lambda p: (p.stat().st_mtime, p.name))


def _link(text: str, path: Path, run: Path) -> str:
    return f"[{text}]({quote(path.relative_to(run).as_posix())})"


def write_report(run: Path, results: list[NotebookResult], params: dict, mode: str = "full",
                 failure: str | None = None) -> Path:  # fmt: skip
    """summary.json and report.md of the run so far (called after every notebook)."""
    figures = {r.name: figures_of(r.out_dir, r.name) for r in results}
    summary = {
        "parameters": params,
        "mode": mode,
        "notebooks": [
            {"name": r.name, "seconds": round(r.seconds, 1), "executed": r.path.relative_to(run).as_posix(),
             "html": r.html.relative_to(run).as_posix() if r.html else None, "parameters": r.parameters,
             "figures": [p.relative_to(run).as_posix() for p in figures[r.name]], "metrics": r.metrics}
            for r in results
        ],
    }  # fmt: skip
    if failure:
        summary["failed"] = failure
    write_json(run / "summary.json", summary)

    total = sum(r.seconds for r in results)
    lines = [f"# w2s results — {run.name}", "",
             f"Mode: {mode} · parameters: `{json.dumps(params)}` · {len(results)} notebook(s), {total / 60:.1f} min", ""]  # fmt: skip
    if failure:
        lines += [f"**The run stopped: {failure}**", ""]
    for r in results:
        lines += [f"## {r.name} ({r.seconds:.0f} s)", ""]
        lines += ["| metric | value |", "|---|---|"]
        lines += [
            f"| {k} | {_fmt(v)} |"
            for k, v in _flatten(r.metrics).items()
            if not k.startswith("results_tables")
        ]
        lines.append("")
    lines += _results_section({r.name: {"metrics": r.metrics, "seconds": r.seconds} for r in results})
    lines += ["## Figures", ""]
    for r in results:
        shown = " · ".join(_link(p.stem if p.suffix == ".html" else p.name, p, run) for p in figures[r.name])
        lines += [f"- **{r.name}**: {shown or 'none'}"]
    lines += [
        "",
        "## Notebooks",
        "",
        "Standalone HTML (figures included, work offline) and the executed notebooks:",
        "",
    ]
    rows = [[r.name, f"{r.seconds / 60:.1f}", _link(f"{r.name}.html", r.html, run) if r.html else "",
             _link(r.path.name, r.path, run)] for r in results]  # fmt: skip
    lines += [markdown_table(rows, ["notebook", "minutes", "HTML", "executed notebook"]), ""]
    report = run / "report.md"
    with atomic_path(report) as tmp:
        Path(tmp).write_text("\n".join(lines), encoding="utf-8")
    return report


def _results_section(run: dict) -> list[str]:
    try:
        tables, missing = run_tables(run)
    except ReadmeError as e:  # a notebook's results_tables is malformed: say so, keep the rest of the report
        return ["## Results", "", f"(results tables not made: {e})", ""]
    lines = ["## Results", ""]
    for _, title, table in tables:
        lines += [f"### {title}", "", table, ""]
    absent = [m for m in missing if "run it first" not in m]  # notebooks not in this run are not news
    if absent:
        lines += ["Not made: " + "; ".join(absent), ""]
    return lines


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
