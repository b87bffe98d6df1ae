"""benchmarks/powered_grid.py: the README's tables of a run on the powered corpus, recorded and printed."""

import importlib.util
import json
from pathlib import Path

import pytest

from w2s.evaluation.readme import ReadmeError

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "powered_grid.py"


@pytest.fixture(scope="module")
def pg():
    spec = importlib.util.spec_from_file_location("powered_grid", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(tmp_path, preset):
    run = tmp_path / "runs" / "20261206-000000"
    run.mkdir(parents=True)
    nbs = [{"name": "00_corpus", "seconds": 90.0, "metrics": {"corpus_preset": preset}}]
    (run / "summary.json").write_text(json.dumps({"parameters": {}, "notebooks": nbs}))
    return run


def test_a_run_on_another_corpus_is_refused(pg, tmp_path):
    with pytest.raises(ReadmeError, match="'default' corpus, not on 'powered'"):
        pg.record(_run(tmp_path, "default"))


def test_a_powered_run_without_the_grid_cannot_fill_the_tables(pg, tmp_path):
    with pytest.raises(ReadmeError):  # notebooks 01-04 missing: no coupling, grid, ... table
        pg.record(_run(tmp_path, "powered"))


def test_the_tables_print_in_the_readme_order_with_the_run_and_its_minutes(pg):
    result = {"run": "20261206-210724", "cpu": "AMD EPYC", "cores": 2, "minutes": {"00_corpus": 1.5, "04_evaluate": 31.3},
              "tables": {b: f"| {b} |" for b in pg.BLOCKS}}  # fmt: skip
    md = pg.markdown(result)
    assert [md.index(f"| {b} |") for b in pg.BLOCKS] == sorted(md.index(f"| {b} |") for b in pg.BLOCKS)
    assert "run 20261206-210724" in md.splitlines()[0] and "in 32.8 min" in md.splitlines()[0]


def test_only_prints_the_chosen_tables_and_says_so(pg):
    result = {"run": "20261206-210724", "cpu": "AMD EPYC", "cores": 2, "minutes": {"00_corpus": 1.5},
              "tables": {b: f"| {b} |" for b in pg.BLOCKS}}  # fmt: skip
    md = pg.markdown(result, ("timing", "grid"))
    assert "--only grid timing" in md.splitlines()[0]
    assert "| grid |" in md and "| timing |" in md and "| coupling |" not in md
    assert md.index("| grid |") < md.index("| timing |")
    with pytest.raises(ReadmeError, match="no table grids"):
        pg.markdown(result, ("grids",))
