"""Quick mode (make run QUICK=1) runs on a corpus of its own name, so that its shorter recipes (tiny HuBERT's
first) get cache keys of their own: quick numbers never mix with the full run's, and the full run is unchanged."""

import ast
import json
from dataclasses import replace
from pathlib import Path

import pytest

from w2s import runner
from w2s.corpus.build import PRESETS
from w2s.evaluation import grid
from w2s.evaluation.grid import MODES, GridPlan

NB_DIR = Path(__file__).resolve().parents[1] / "notebooks"
RUN = [nb for nb in runner.discover(NB_DIR) if "CORPUS_PRESET" in runner.declared_parameters(nb)]


def _after_mode_blocks(notebook: Path, **modes) -> dict:
    """The notebook's parameters (their defaults) after the top-level `if SMOKE/QUICK` blocks of its setup cell
    (the code cell after the parameters) ran in `modes`."""
    ns = {k: ast.literal_eval(v["default"]) for k, v in runner.declared_parameters(notebook).items()}
    ns.update({"SMOKE": False, "QUICK": False, **modes, "MODES": MODES})
    code = [c for c in json.loads(notebook.read_text())["cells"] if c["cell_type"] == "code"]
    first = next(i for i, c in enumerate(code) if "parameters" in c["metadata"].get("tags", []))
    tree = ast.parse("".join(code[first + 1]["source"]))
    blocks = [n for n in tree.body if isinstance(n, ast.If)
              and {x.id for x in ast.walk(n.test) if isinstance(x, ast.Name)} <= {"SMOKE", "QUICK"}]  # fmt: skip
    exec(compile(ast.Module(body=blocks, type_ignores=[]), notebook.name, "exec"), ns)
    return ns


@pytest.mark.parametrize("notebook", RUN, ids=lambda p: p.stem)
def test_quick_mode_reads_the_quick_corpus_and_the_full_run_the_powered_one(notebook):
    assert "QUICK" in runner.declared_parameters(notebook), f"{notebook.name}: quick mode would read the default corpus"
    assert _after_mode_blocks(notebook, QUICK=True)["CORPUS_PRESET"] == MODES["quick"]["corpus"] == "quick"
    assert _after_mode_blocks(notebook)["CORPUS_PRESET"] == "powered"
    assert _after_mode_blocks(notebook, SMOKE=True)["CORPUS_PRESET"] == "smoke"


def test_the_quick_corpus_is_the_default_under_another_name():
    assert PRESETS["quick"] is not PRESETS["default"] and replace(PRESETS["quick"], name="default") == PRESETS["default"]
    assert PRESETS["quick"].to_json() == {**PRESETS["default"].to_json(), "name": "quick"}


def test_a_grid_cell_trained_on_another_corpus_is_not_a_cached_result(tmp_path):
    """Both modes' corpora may train into one models folder (e.g. a quick run before quick mode had a corpus of its
    own): a cell's cached result counts only for the corpus it was trained on."""
    plans = {c: GridPlan(str(tmp_path / c), "w2s-folder", hosts=("voca",), seeds=(0,), step_scale=0.2,
                         models_dir=str(tmp_path / "models")) for c in ("default", "quick")}  # fmt: skip
    plan = plans["default"]
    folder = plan.folder("voca", "none", 0)
    folder.mkdir(parents=True)
    record = {"recipe": plan.recipe("voca", "none", 0).to_json(), "data": {"root": str((tmp_path / "default").resolve())}}
    (folder / grid.RUN_FILE).write_text(json.dumps(record))
    grid._eval_file(folder, plan.eval_options("voca")).write_text(json.dumps({"metrics": {"lve": 1.0}}))
    assert plans["quick"].recipe("voca", "none", 0) == plan.recipe("voca", "none", 0)  # the recipe alone cannot tell
    assert grid.cached_result(plan, "voca", "none", 0) == {"metrics": {"lve": 1.0}}
    assert grid.cached_result(plans["quick"], "voca", "none", 0) is None
