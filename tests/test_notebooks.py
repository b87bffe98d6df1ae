"""Notebook hygiene, the runner's contract, and every notebook in smoke mode."""

import json
from pathlib import Path

import nbformat
import pytest

from w2s import runner as runner

NB_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = runner.discover(NB_DIR)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{path.name} has outputs"
    assert "widgets" not in nb.metadata
    assert nb.metadata["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_parameters_cell_is_plain_literals(path):
    declared = runner.declared_parameters(path)
    assert {"SMOKE", "OUT_DIR"} <= set(declared)
    assert declared["SMOKE"]["default"] == "False"
    for name, p in declared.items():
        assert p["help"], f"{path.name}: parameter {name} has no help comment"
    nb = nbformat.read(path, as_version=4)
    last = [c for c in nb.cells if c.cell_type == "code"][-1].source
    assert "save_metrics" in last and "assert" in last, f"{path.name}: last cell must save metrics and assert"


def test_unknown_parameter_rejected_before_running(tmp_path):
    with pytest.raises(runner.NotebookError, match="unknown parameter"):
        runner.run_all(smoke=True, only=["00"], parameters={"SMOK": True}, runs_root=tmp_path)
    assert not any(tmp_path.iterdir())


def test_unparseable_parameter_line_is_an_error(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("SMOKE = False  # a => b\nOUT_DIR = 'x'  # out\nCFG = dict(a=1)  # bad")
    ]
    nb.cells[0].metadata["tags"] = ["parameters"]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = tmp_path / "99_bad.ipynb"
    nbformat.write(nb, path)
    with pytest.raises(runner.NotebookError, match="CFG"):
        runner.declared_parameters(path)


def test_failing_notebook_fails_loudly(tmp_path):
    nbs = tmp_path / "nbs"
    nbs.mkdir()
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("SMOKE = False  # smoke\nOUT_DIR = '.'  # out")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell("assert 1 + 1 == 3, 'arithmetic broke'")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, nbs / "01_fails.ipynb")
    with pytest.raises(runner.NotebookError, match="arithmetic broke"):
        runner.run_all(smoke=True, runs_root=tmp_path / "runs", notebooks_dir=nbs)
    (executed,) = (tmp_path / "runs").glob(
        "*/01_fails/01_fails.ipynb"
    )  # kept with the traceback, for inspection
    assert "arithmetic broke" in executed.with_suffix(".html").read_text(
        encoding="utf-8"
    )  # and readable as HTML
    report = next((tmp_path / "runs").glob("*/report.md")).read_text(encoding="utf-8")
    assert "The run stopped: 01_fails: 01_fails.ipynb failed at cell" in report


@pytest.mark.slow
@pytest.mark.notebooks
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_smoke(path, tmp_path):
    run, results = runner.run_all(smoke=True, only=[path.name[:2]], runs_root=tmp_path)
    (result,) = results
    assert result.path.is_file() and (result.out_dir / "metrics.json").is_file()
    executed = nbformat.read(result.path, as_version=4)
    assert executed.metadata["papermill"]["parameters"]["SMOKE"] is True
    outputs = [o for c in executed.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in outputs), (
        "progress widgets leaked"
    )
    # every figure the notebook saved is also in the notebook itself (interactive, or a PNG), not a pointer to a file
    shown = [o for o in outputs if {"application/vnd.plotly.v1+json", "image/png"} & set(o.get("data", {}))]
    assert len(shown) >= len([f for f in result.out_dir.glob("*.html") if f.stem != path.stem])
    assert not any("PosixPath(" in o.get("data", {}).get("text/plain", "") for o in outputs)
    assert result.path.stat().st_size < 15e6, "figures over W2S_INLINE_MAX_KB must become images"
    assert result.html.is_file() and result.html.parent == result.out_dir
    summary = json.loads((run / "summary.json").read_text())
    assert summary["notebooks"][0]["name"] == path.stem
    assert (
        (run / "report.md")
        .read_text()
        .rstrip()
        .endswith(f"[{path.stem}.ipynb]({path.stem}/{path.stem}.ipynb) |")
    )
