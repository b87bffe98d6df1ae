"""The notebook runner around papermill: typed parameters, quick mode, progress a person can read, the
standalone HTML of each executed notebook, and a report that ends with the results and the links.

Executing tests use a tiny notebook written here (its kernel imports only w2s's progress bar), never the real ones."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from w2s import runner
from w2s.cli import main

ROOT = Path(__file__).resolve().parents[1]
NB_DIR = ROOT / "notebooks"

PARAMS = """SMOKE = False  # smoke
OUT_DIR = "."  # out
SEED = 0  # seed
RATE = 0.5  # a float
NAME = "x"  # a string
ITEMS = [1]  # a list
OPT = None  # anything
LR: float = 1  # annotated: a float although its literal is an int
"""


def _notebook(folder: Path, name: str, params: str, *cells) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    nb = nbformat.v4.new_notebook()
    p = nbformat.v4.new_code_cell(params)
    p.metadata["tags"] = ["parameters"]
    nb.cells = [p, *cells]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = folder / name
    nbformat.write(nb, path)
    return path


@pytest.fixture
def declared(tmp_path):
    return _notebook(tmp_path, "01_p.ipynb", PARAMS)


def test_parameters_from_the_command_line_take_the_declared_types(declared):
    given = {
        "SMOKE": "false",
        "SEED": "3",
        "RATE": "1",
        "NAME": "5",
        "ITEMS": "[2, 3]",
        "OPT": "abc",
        "LR": "2",
    }
    assert runner.check_parameters(declared, given) == {
        "SMOKE": False, "SEED": 3, "RATE": 1.0, "NAME": "5", "ITEMS": [2, 3], "OPT": "abc", "LR": 2.0,
    }  # fmt: skip
    assert all(
        runner.check_parameters(declared, {"SMOKE": v})["SMOKE"] is True for v in ("true", "True", "yes", "1")
    )
    assert (
        runner.check_parameters(declared, {"NAME": "'a b'"})["NAME"] == "a b"
    )  # a quoted string is unquoted
    assert (
        runner.check_parameters(declared, {"NAME": "text with = and spaces"})["NAME"]
        == "text with = and spaces"
    )
    # Python values (run_all's API) are checked too; an int is a float
    assert runner.check_parameters(declared, {"SMOKE": True, "RATE": 2, "SEED": -4}) == {
        "SMOKE": True,
        "RATE": 2.0,
        "SEED": -4,
    }
    assert isinstance(runner.check_parameters(declared, {"RATE": 2})["RATE"], float)


@pytest.mark.parametrize(
    "name, value, message",
    [("SEED", "abc", r"SEED='abc' is not an integer, e\.g\. 3 \(01_p\.ipynb declares SEED as int\)"),
     ("SEED", "1.5", "SEED='1.5' is not an integer"),
     ("SEED", True, "SEED=True is not an integer"),
     ("SMOKE", "maybe", "SMOKE='maybe' is not true or false"),
     ("SMOKE", 1, "SMOKE=1 is not true or false"),
     ("RATE", "fast", "RATE='fast' is not a number"),
     ("NAME", 5, "NAME=5 is not a string"),
     ("ITEMS", "3", "ITEMS='3' is not a list")],
)  # fmt: skip
def test_a_value_of_the_wrong_type_is_an_error_naming_the_parameter_and_type(declared, name, value, message):
    with pytest.raises(runner.ParameterError, match=message) as e:
        runner.check_parameters(declared, {name: value})
    assert "\n" not in str(e.value)


def test_cli_bad_parameter_one_line_status_2_nothing_run(tmp_path, capsys):
    assert main(["notebooks", "--only", "00", "-p", "SEED=abc", "--runs", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "SEED='abc'" in err and "int" in err
    assert not any(tmp_path.iterdir()), "nothing ran, no run folder"
    assert main(["notebooks", "--only", "00", "-p", "=3", "--runs", str(tmp_path)]) == 2
    assert "NAME=VALUE" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main(["notebooks", "--smoke", "--quick"])
    assert e.value.code == 2 and "not allowed with" in capsys.readouterr().err


def test_smoke_false_from_the_command_line_is_false_for_the_real_notebooks():
    for nb in runner.discover(NB_DIR):
        assert runner.notebook_parameters(nb, {"SMOKE": "false"})["SMOKE"] is False


def test_quick_goes_only_to_notebooks_that_declare_it(tmp_path, declared):
    quick = _notebook(tmp_path, "02_q.ipynb", PARAMS + "QUICK = False  # fewer seeds and steps\n")
    assert runner.notebook_parameters(quick, {"SMOKE": False}, quick=True) == {"SMOKE": False, "QUICK": True}
    assert runner.notebook_parameters(quick, {"SMOKE": False}) == {"SMOKE": False}
    assert runner.notebook_parameters(declared, {"SMOKE": False}, quick=True) == {"SMOKE": False}
    with pytest.raises(runner.NotebookError, match="unknown parameter"):  # asking for it by hand stays strict
        runner.notebook_parameters(declared, {"QUICK": "true"})


class Clock:
    def __init__(self):
        self.t = 100.0

    def __call__(self):
        return self.t


def _cells(*kinds_and_sources):
    make = {"md": nbformat.v4.new_markdown_cell, "code": nbformat.v4.new_code_cell}
    return [make[k](s) for k, s in kinds_and_sources]


CELLS = _cells(
    ("md", "# Title\nintro"), ("code", "a = 1"), ("md", "## Training the model"), ("code", "b"), ("code", "c")
)


def test_progress_a_line_per_code_cell_off_a_terminal():
    out, clock = io.StringIO(), Clock()
    p = runner.Progress(2, stream=out, detail=True, live=False, clock=clock, tick=3600)
    p.start(1, "00_corpus")
    for i in range(len(CELLS)):
        clock.t += 65
        p.cell(i, CELLS)
    clock.t += 10
    p.end()
    lines = out.getvalue().splitlines()
    assert lines[0] == "[1/2] 00_corpus started"
    assert lines[1] == "[1/2] 00_corpus · cell 1/3 · 2:10 (run 2:10) · Title"
    assert lines[3] == "[1/2] 00_corpus · cell 3/3 · 5:25 (run 5:25) · Training the model"
    assert lines[-1] == "[1/2] 00_corpus done in 5:35 (run so far 5:35)" and len(lines) == 5


def test_progress_quiet_mode_is_a_line_per_notebook():
    out, clock = io.StringIO(), Clock()
    p = runner.Progress(2, stream=out, detail=False, clock=clock)
    for k in (1, 2):
        p.start(k, f"0{k}_x")
        for i in range(len(CELLS)):
            p.cell(i, CELLS)
        clock.t += 3725
        p.end(ok=k == 1)
    assert out.getvalue().splitlines() == ["[1/2] 01_x done in 1:02:05 (run so far 1:02:05)",
                                           "[2/2] 02_x FAILED after 1:02:05 (run so far 2:04:10)"]  # fmt: skip


def test_progress_on_a_terminal_redraws_one_line():
    import time

    out = io.StringIO()
    p = runner.Progress(1, stream=out, detail=True, live=True, tick=0.01)
    p.start(1, "01_x")
    p.cell(1, CELLS)
    time.sleep(0.1)  # the ticker redraws the time while a long cell runs
    p.end()
    text = out.getvalue()
    assert text.count("\r\x1b[K[1/1] 01_x · cell 1/3") >= 3 and text.count("\n") == 1
    assert text.endswith("\r\x1b[K[1/1] 01_x done in 0:00 (run so far 0:00)\n")


def test_a_bar_on_the_line_says_k_of_n_and_the_time_left():
    from w2s.runner.progress import bar_text, bars_text

    train = {"desc": "train", "unit": "step", "n": 120, "total": 300, "rate": 3.0, "at": 1000.0}
    assert bar_text(train, now=1000.0) == "train step 120/300 ~1:00 left"
    assert bar_text(train, now=1030.0) == "train step 120/300 ~0:30 left"  # counts down between writes
    assert bar_text(train, now=1100.0) == "train step 120/300 ~0:00 left"
    assert bar_text({**train, "rate": None}, now=1000.0) == "train step 120/300"  # no estimate before a step
    assert bar_text({"desc": "test: encode", "unit": "it", "n": 5, "total": 40, "rate": 0.5, "at": 0}, 0) == (
        "test: encode 5/40 ~1:10 left")  # fmt: skip
    assert bar_text({"desc": "corpus", "unit": "utt", "n": 7, "total": None, "rate": 1.0, "at": 0}, 0) == "corpus utt 7"
    grid = {"desc": "grid", "unit": "cell", "n": 13, "total": 72, "rate": 1 / 60, "at": 1000.0}
    assert bars_text([grid, train, train, train], now=1000.0) == (
        "grid cell 13/72 ~59:00 left · train step 120/300 ~1:00 left · train step 120/300 ~1:00 left · +1 more")


def test_the_line_shows_the_bars_the_kernel_writes(tmp_path, monkeypatch):
    import w2s.utils.progress as uprogress

    monkeypatch.setenv(uprogress.ENV, str(tmp_path))
    monkeypatch.setattr(uprogress, "EVERY", 0.0)
    out, clock = io.StringIO(), Clock()
    p = runner.Progress(1, stream=out, detail=True, live=False, clock=clock, tick=3600)
    p.start(1, "02_train")
    p.watch(tmp_path)
    bar = uprogress.progress(total=300, desc="train", unit="step", mininterval=0)  # as fit() in the kernel
    bar.update(120)
    p.cell(2, CELLS)  # the heading
    p.cell(3, CELLS)
    bar.close()
    p.cell(4, CELLS)
    p.end()
    lines = out.getvalue().splitlines()
    assert lines[1].startswith("[1/1] 02_train · cell 2/3 · 0:00 (run 0:00) · train step 120/300 ~")
    assert lines[1].endswith(" left · Training the model")
    assert lines[2] == "[1/1] 02_train · cell 3/3 · 0:00 (run 0:00) · Training the model"  # closed: gone


def test_off_a_terminal_a_line_at_least_every_heartbeat_while_a_cell_runs():
    out, clock = io.StringIO(), Clock()
    p = runner.Progress(1, stream=out, detail=True, live=False, clock=clock, tick=3600, heartbeat=20)
    p.start(1, "04_evaluate")
    p.cell(1, CELLS)
    for dt in (10, 9, 1, 19, 1, 5):  # the ticker calls tick() every second; a fake clock here
        clock.t += dt
        p.tick()
    p.end()
    assert out.getvalue().splitlines()[1:-1] == [
        "[1/1] 04_evaluate · cell 1/3 · 0:00 (run 0:00)",
        "[1/1] 04_evaluate · cell 1/3 · 0:20 (run 0:20)",
        "[1/1] 04_evaluate · cell 1/3 · 0:40 (run 0:40)",
    ]
    quiet, clock = io.StringIO(), Clock()
    p = runner.Progress(1, stream=quiet, detail=False, clock=clock, tick=3600)
    p.start(1, "04_evaluate")
    clock.t += 60
    p.tick()
    p.end()
    assert quiet.getvalue().count("\n") == 1  # W2S_PROGRESS=0: a line per notebook, still


def test_the_kernel_is_told_where_its_bars_go(tmp_path):
    from w2s.runner.engine import kernel_env
    from w2s.utils.progress import ENV

    env = kernel_env(tmp_path / "out", tmp_path / "bars")
    assert env[ENV] == str((tmp_path / "bars").resolve()) and env["W2S_PROGRESS"] == "0"
    assert ENV not in kernel_env(tmp_path / "out")


def test_html_export_carries_the_figures_offline(tmp_path, monkeypatch):
    import numpy as np
    import plotly.graph_objects as go

    from w2s.viz import display

    monkeypatch.setattr(display, "_plotlyjs_sent", False)
    outputs = display.embedded(go.Figure(go.Bar(x=[1, 2], y=[3, 4]), layout=dict(title="bars")))
    outputs += display.embedded(go.Figure(go.Image(z=np.zeros((4, 5, 3), dtype=np.uint8))))
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("distance *d*(a, b) = ‖μ<sub>a</sub> − μ<sub>b</sub>‖, near when *d* ≤ 1"),
        nbformat.v4.new_code_cell(
            "show(...)", outputs=[nbformat.v4.new_output("display_data", data=o) for o in outputs]
        ),
    ]
    path = tmp_path / "00_x.ipynb"
    nbformat.write(nb, path)
    html = runner.export_html(path).read_text(encoding="utf-8")
    assert path.with_suffix(".html").is_file()
    assert html.count("window.Plotly = Plotly") == 1 and "Plotly.newPlot" in html  # plotly.js inline, once
    assert "data:image/png;base64," in html and "require.min.js" not in html
    # nothing from the network: no MathJax (the formula is text, rendered as is), no mermaid, no CDN at all
    assert "<em>d</em>(a, b) = ‖μ<sub>a</sub> − μ<sub>b</sub>‖, near when <em>d</em> ≤ 1" in html
    assert "cdnjs" not in html and "MathJax.js" not in html and "mathjax@" not in html.lower()
    loads = r"""<script[^>]*\bsrc=["']?https?:|<link[^>]*\bhref=["']?https?:|import\(\s*["']https?:"""
    assert not re.search(loads, html)  # (plotly.js's own text has links to its site: links, not loads)


def test_the_notebooks_write_formulas_that_render_offline():
    """The exported HTML loads no MathJax: a `$...$` formula in a notebook's text would show raw, so there is none
    (Unicode and <sub>, as in notebook 00's d(a, b) = ‖μ<sub>a</sub> − μ<sub>b</sub>‖ / ...)."""
    tex = re.compile(r"\$\$|\$[^$\n]+\$")
    found = {(nb.name, m) for nb in runner.discover(NB_DIR) for c in nbformat.read(nb, as_version=4).cells
             if c.cell_type == "markdown" for m in tex.findall(c.source)}  # fmt: skip
    assert not found, f"TeX in notebook text (write it in Unicode): {sorted(found)}"
    text = nbformat.read(NB_DIR / "00_corpus.ipynb", as_version=4)
    assert any("‖μ<sub>a</sub> − μ<sub>b</sub>‖" in c.source for c in text.cells)


def _make_n_lab(tmp_path) -> list[str]:
    """What `make lab` would run with a .venv still to create (make -n: printed, nothing run)."""
    venv = tmp_path / "venv"
    r = subprocess.run(["make", "--no-print-directory", "-n", "lab", f"VENV={venv}"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return [line.replace(str(venv), "VENV") for line in r.stdout.splitlines()]


def test_make_lab_installs_jupyterlab_pins_the_kernel_to_the_venv_and_opens_the_notebooks(tmp_path):
    lines = _make_n_lab(tmp_path)
    expected = [
        'VENV/bin/python -m pip install -q  -e ".[notebooks,dev]"',
        'VENV/bin/python -m pip install -q  -e ".[lab]"',
        'VENV/bin/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (w2s .venv)"',
        "HF_HUB_OFFLINE=1 JUPYTER_PREFER_ENV_PATH=1 VENV/bin/jupyter lab --ServerApp.root_dir=notebooks"
        + (" --allow-root" if os.geteuid() == 0 else ""),  # as root (a container) JupyterLab wants it said
    ]
    assert [line.strip() for line in lines if line.strip() in expected] == expected, lines
    assert lines[-1].strip() == expected[-1]
    assert 'jupyterlab>=' in (ROOT / "pyproject.toml").read_text() and "lab = [" in (ROOT / "pyproject.toml").read_text()


def test_the_lab_kernel_spec_is_this_environment_under_the_notebooks_kernel_name(tmp_path):
    (install,) = [line for line in _make_n_lab(tmp_path) if "ipykernel install" in line]
    argv = shlex.split(install.replace("VENV/bin/python", sys.executable).replace("--sys-prefix", f"--prefix {tmp_path}"))
    subprocess.run(argv, check=True, capture_output=True, timeout=120)
    spec = json.loads((tmp_path / "share/jupyter/kernels/python3/kernel.json").read_text())
    assert spec["argv"][0] == sys.executable and spec["argv"][-4:] == ["-m", "ipykernel_launcher", "-f", "{connection_file}"]
    assert spec["display_name"] == "Python 3 (w2s .venv)" and spec["language"] == "python"
    for nb in runner.discover(NB_DIR):  # the name every notebook asks for, so they all open with it
        assert nbformat.read(nb, as_version=4).metadata["kernelspec"]["name"] == runner.KERNEL == "python3"


def test_a_tiny_notebook_runs_into_typed_parameters_html_and_a_linked_report(tmp_path, capfd, caplog):
    table = {"title": "the grid", "headers": ["host", "LVE"], "rows": [["voca", 0.5]]}
    code = (
        "import json, pathlib\n"
        "out = pathlib.Path(OUT_DIR)\n"
        "(out / 'lips.png').write_bytes(b'png')\n"
        "(out / 'loss.html').write_text('<html></html>')\n"
        "print('seed is', repr(SEED), 'quick is', QUICK)\n"
        f"(out / 'metrics.json').write_text(json.dumps({{'seed': SEED, 'results_tables': {{'grid': {table!r}}}}}))"
    )
    work = "import time\nfrom w2s.utils.runtime import progress\nfor _ in progress(range(3), desc='work', unit='step'):\n    time.sleep(0.5)"
    _notebook(tmp_path / "nbs", "01_tiny.ipynb", "SMOKE = False  # s\nOUT_DIR = '.'  # o\nSEED = 0  # s\nQUICK = False  # q\n",
              nbformat.v4.new_code_cell(work), nbformat.v4.new_markdown_cell("## Writing the figures"),
              nbformat.v4.new_code_cell(code))  # fmt: skip
    stream = io.StringIO()
    progress = runner.Progress(1, stream=stream, detail=True, live=False, tick=0.05, heartbeat=0.25)
    with caplog.at_level(logging.INFO):
        run, (result,) = runner.run_all(quick=True, parameters={"SEED": "7"}, runs_root=tmp_path / "runs",
                                        notebooks_dir=tmp_path / "nbs", progress=progress)  # fmt: skip
    executed = nbformat.read(result.path, as_version=4)
    assert executed.metadata["papermill"]["parameters"] == {"OUT_DIR": str(result.out_dir.resolve()), "SMOKE": False,
                                                           "SEED": 7, "QUICK": True}  # fmt: skip
    assert (
        result.html == result.out_dir / "01_tiny.html"
        and "seed is 7 quick is True" in result.html.read_text()
    )
    # the terminal: progress lines, no papermill INFO lines, no kernel transport warning
    assert "[1/1] 01_tiny · cell 4/4" in stream.getvalue() and "· Writing the figures" in stream.getvalue()
    # the kernel's bar on the runner's line, by the heartbeat while the cell ran (a log never stands still)
    assert re.search(r"01_tiny · cell 3/4 · 0:0\d \(run 0:0\d\) · work step [0-3]/3", stream.getvalue())
    assert "(run 0:0" in stream.getvalue() and "· writing the HTML copy" in stream.getvalue()
    assert "[1/1] 01_tiny done in" in stream.getvalue()
    assert not [r for r in caplog.records if r.name.startswith("papermill") and r.levelno < logging.WARNING]
    assert "without encryption" not in capfd.readouterr().err
    # summary.json and the report: results table, then the figures and the HTML notebooks, linked
    summary = json.loads((run / "summary.json").read_text())
    (nb,) = summary["notebooks"]
    assert (
        nb["html"] == "01_tiny/01_tiny.html" and nb["parameters"]["SEED"] == 7 and summary["mode"] == "quick"
    )
    assert nb["figures"] == ["01_tiny/lips.png", "01_tiny/loss.html"]
    report = (run / "report.md").read_text()
    results, figures, notebooks = (
        report.index("## Results"),
        report.index("## Figures"),
        report.index("## Notebooks"),
    )
    assert results < figures < notebooks
    assert "### the grid\n\n| host | LVE |\n|---|---|\n| voca | 0.500 |" in report
    assert "- **01_tiny**: [lips.png](01_tiny/lips.png) · [loss](01_tiny/loss.html)" in report
    assert "[01_tiny.html](01_tiny/01_tiny.html)" in report[notebooks:]
    assert '"SEED": 7' in report  # the parameters as the notebook read them
