"""Survey 2 (docs/bad-inputs-tried-2.md), rows ENV-*, N-* and R-*: the data and runs folders chosen by
environment variables, the notebook runner's parameters, and the README generator. Each bad input gets
one stderr line naming the variable, option or file and the problem, exit status 2, and nothing written.
Notebooks are never executed here: the runner's checks run before any notebook starts, and the README
generator reads a summary.json written by the test.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from cli_cases import cli, listing, one_line, survey_rows  # tests/cli_cases.py

import w2s.cli.phonemes as cli_module  # `w2s distances`
import w2s.runner as runner
from w2s.evaluation.readme import ReadmeError, update_readme

COVERED, rows = survey_rows()  # the survey rows that have a test here


@pytest.fixture
def afile(tmp_path) -> Path:
    """A user's file where a folder is expected; it must stay as it is."""
    path = tmp_path / "afile"
    path.write_text("precious\n")
    return path


def unwritable(monkeypatch, folder: Path) -> None:
    """`folder` reads as not writable (tests may run as root, where permission bits do not stop writes)."""
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, m, **k: False if Path(p) == folder and m & os.W_OK else real(p, m, **k))


# ---------------------------------------------------------------------------------------------
# ENV: W2S_DATA_DIR, W2S_RUNS_DIR


@pytest.fixture
def uncached_distances(monkeypatch):
    """`w2s distances` looks the table up again (load_or_measure keeps the session's table in memory)."""
    monkeypatch.setattr(cli_module, "load_or_measure", cli_module.load_or_measure.__wrapped__)


@rows("ENV-datadir-file")
def test_data_dir_that_is_a_file_names_the_variable(tmp_path, capsys, monkeypatch, afile, uncached_distances):
    monkeypatch.setenv("W2S_DATA_DIR", str(afile))
    one_line(*cli(["distances"], capsys), "W2S_DATA_DIR", afile, "is a file, not a folder")
    assert afile.read_text() == "precious\n"


@rows("ENV-datadir-file")
def test_a_data_dir_whose_cache_cannot_be_written_names_the_variable(tmp_path, capsys, monkeypatch,
                                                                    uncached_distances):  # fmt: skip
    data = tmp_path / "data"
    (data / "cache").mkdir(parents=True)
    monkeypatch.setenv("W2S_DATA_DIR", str(data))
    unwritable(monkeypatch, data / "cache")
    one_line(*cli(["distances"], capsys), "W2S_DATA_DIR", data / "cache", "not writable")
    assert listing(data) == {"cache"}


@rows("ENV-datadir-file-train")
def test_decoder_train_with_a_data_dir_that_is_a_file(tmp_path, capsys, monkeypatch, afile, smoke_corpus):
    monkeypatch.setenv("W2S_DATA_DIR", str(afile))
    out = tmp_path / "ff"
    rc, err = cli(["decoder", "train", "--host", "faceformer", "--encoder", "mfcc", "--corpus", smoke_corpus,
                   "--out", out, "--steps", "3"], capsys)  # fmt: skip
    one_line(rc, err, "W2S_DATA_DIR", afile, "is a file, not a folder")
    assert not out.exists() and afile.read_text() == "precious\n"
    assert listing(tmp_path) == {"afile"}  # no --out, no lock left


@rows("ENV-datadir-proc")
def test_animate_with_a_data_dir_that_cannot_be_made(tmp_path, capsys, monkeypatch):
    impossible = "/proc/self/nonexistent"  # cannot be created, not even by root
    monkeypatch.setenv("W2S_DATA_DIR", impossible)
    speech = tmp_path / "t.wav"
    sf.write(speech, (0.3 * np.sin(np.arange(16000) / 10)).astype(np.float32), 16000)
    rc, err = cli(["animate", speech, "--host", "faceformer", "--out", tmp_path / "o.mp4"], capsys)  # no --model
    one_line(rc, err, "W2S_DATA_DIR", impossible, "cannot create", "No such file or directory")
    assert listing(tmp_path) == {"t.wav"}


@pytest.fixture
def no_notebook_runs(monkeypatch):
    """The runner's checks run for real; a notebook starting fails the test."""
    monkeypatch.setattr(runner.execute, "run_notebook", lambda *a, **k: pytest.fail("ran a notebook"))


@rows("ENV-runsdir-file")
@pytest.mark.parametrize("case", ["file", "impossible", "read-only"])
def test_a_runs_dir_that_cannot_hold_a_run_names_the_variable(tmp_path, capsys, monkeypatch, afile, no_notebook_runs,
                                                              case):  # fmt: skip
    runs = {"file": afile, "impossible": Path("/proc/self/nonexistent"), "read-only": tmp_path / "ro"}[case]
    if case == "read-only":
        runs.mkdir()
        unwritable(monkeypatch, runs)
    monkeypatch.setenv("W2S_RUNS_DIR", str(runs))
    why = {"file": "is a file, not a folder", "impossible": "cannot create", "read-only": "not writable"}[case]
    one_line(*cli(["notebooks", "--smoke", "--only", "00"], capsys), "W2S_RUNS_DIR", runs, why)
    assert afile.read_text() == "precious\n" and listing(tmp_path / "ro") == set()


# ---------------------------------------------------------------------------------------------
# N: w2s notebooks parameters (checked before anything runs)


@rows("N-only-traversal", "N-p-list", "N-p-bool2", "N-p-empty")
@pytest.mark.parametrize(
    "argv, names",
    [(["--only", "../README"], ["no notebook matches", "../README", "available: 00_corpus"]),
     (["--only", "99"], ["no notebook matches", "99"]),
     (["-p", "SEED=[1,2]"], ["SEED", "is not an integer", "declares SEED as int"]),
     (["-p", "SMOKE=2"], ["SMOKE", "is not true or false"]),
     (["-p", "SEED="], ["SEED", "is not an integer"])],
)  # fmt: skip
def test_notebook_selection_and_parameter_values(tmp_path, capsys, no_notebook_runs, argv, names):
    runs = tmp_path / "runs"
    runs.mkdir()
    one_line(*cli(["notebooks", "--only", "00", *argv, "--runs", runs], capsys), *names)
    assert listing(runs) == set()


@rows("N-p-badpreset")
@pytest.mark.parametrize(
    "argv",
    [["--smoke", "-p", "CORPUS_PRESET=bogus"], ["--smoke", "-p", "CORPUS_PRESET=default"],
     ["-p", "SMOKE=true", "-p", "N_PAIRS_SHOWN=3"]],
)  # fmt: skip
def test_a_parameter_the_mode_would_overwrite_is_refused(tmp_path, capsys, no_notebook_runs, argv):
    """Judgement call: refused, not recorded. Under --smoke, notebook 00's `if SMOKE:` cell sets
    CORPUS_PRESET (and N_PAIRS_SHOWN, ...) itself, so a value given with -p would be silently ignored
    while summary.json recorded it as used. A user who asks for a value expects it to be used or to be
    told: the run stops before it starts, naming the parameter and the block that would overwrite it."""
    runs = tmp_path / "runs"
    runs.mkdir()
    name = argv[-1].split("=")[0]
    line = one_line(*cli(["notebooks", "--only", "00", *argv, "--runs", runs], capsys), name, "would be ignored",
                    "00_corpus", "if SMOKE:", "SMOKE=True")  # fmt: skip
    assert f"leave -p {name} out" in line
    assert listing(runs) == set()  # no summary.json recording a value that was not used


def _mode_notebook(folder: Path) -> Path:
    import nbformat

    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell(
        'SMOKE = False  # s\nQUICK = False  # q\nOUT_DIR = "."  # o\nSIZE = 10  # n\nSEED = 0  # s\nLR = 1.0  # r\n'
    )
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell("%matplotlib inline"),
                nbformat.v4.new_code_cell("if SMOKE or QUICK:\n    SIZE, other = 2, 3\nelse:\n    pass\n"),
                nbformat.v4.new_code_cell("if not QUICK:\n    pass\nelse:\n    LR = 0.5\nif SIZE > 2:\n    SEED = 9\n")]  # fmt: skip
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = folder / "01_modes.ipynb"
    nbformat.write(nb, path)
    return path


@rows("N-p-badpreset")
def test_mode_blocks_are_read_from_the_notebooks_code(tmp_path):
    nb = _mode_notebook(tmp_path)
    assert runner.mode_overrides(nb, {"SMOKE": False, "QUICK": False}) == {}
    assert runner.mode_overrides(nb, {"SMOKE": True, "QUICK": False}) == {"SIZE": "if SMOKE or QUICK:",
                                                                          "other": "if SMOKE or QUICK:"}  # fmt: skip
    assert runner.mode_overrides(nb, {"SMOKE": False, "QUICK": True}) == {
        "SIZE": "if SMOKE or QUICK:", "other": "if SMOKE or QUICK:", "LR": "if not QUICK:"}  # the else branch
    # what the mode does not overwrite is accepted: SEED (only a test on another name, SIZE > 2, sets it)
    runner.check_not_overridden(nb, {"SMOKE": True, "SEED": 3, "LR": 2.0}, {"SEED", "LR"})
    runner.check_not_overridden(nb, {"SMOKE": False, "SIZE": 4}, {"SIZE"})  # no mode: the value is used
    with pytest.raises(runner.ParameterError, match=r"LR=2\.0 would be ignored: 01_modes\.ipynb .*QUICK=True"):
        runner.check_not_overridden(nb, {"SMOKE": False, "QUICK": True, "LR": 2.0}, {"LR"})
    # the real notebooks: a parameter the smoke mode keeps passes
    real = runner.discover(None)[0]
    runner.check_not_overridden(real, runner.notebook_parameters(real, {"SMOKE": True, "SEED": "3"}), {"SEED"})


# ---------------------------------------------------------------------------------------------
# R: w2s readme

README = """# results
prose typed by hand
<!-- w2s:coupling -->
| old | table |
<!-- /w2s:coupling -->
more prose
<!-- w2s:timing -->
<!-- /w2s:timing -->
"""
ENCODERS = ["mfcc", "tiny-hubert"]


def coupling_metrics() -> dict:
    return {"encoders": ENCODERS, "probe_chance": 0.055, "probe_accuracy": {e: 0.5 for e in ENCODERS},
            "abx_error": {e: {"near": 0.3, "same_viseme": 0.25, "far": 0.125} for e in ENCODERS},
            "normalised_distance": {e: {"near": 1.0, "same_viseme": 0.5, "far": 0.75} for e in ENCODERS}}  # fmt: skip


def write_run(folder: Path, notebooks: dict[str, dict]) -> Path:
    """A run folder whose summary.json holds these notebooks' metrics (NaN written as Python's json does)."""
    folder.mkdir(parents=True)
    nbs = [{"name": name, "seconds": 60.0, "metrics": m} for name, m in notebooks.items()]
    (folder / "summary.json").write_text(json.dumps({"parameters": {}, "notebooks": nbs}))
    return folder


@pytest.fixture
def readme(tmp_path) -> Path:
    path = tmp_path / "README.md"
    path.write_text(README)
    return path


@rows("R-missing")
def test_readme_of_a_missing_run(tmp_path, capsys, readme):
    one_line(*cli(["readme", tmp_path / "no_such_run", "--readme", readme], capsys), "summary.json",
             "not a run summary")  # fmt: skip
    assert readme.read_text() == README


@rows("R-partial-run", "R-broken-metrics")
@pytest.mark.parametrize("broken_01", [False, True])
def test_readme_of_a_run_without_notebook_01(tmp_path, capsys, readme, broken_01):
    run = write_run(tmp_path / "run", {"00_corpus": {"n": 1}})
    if broken_01:  # a corrupt 01 metrics.json that summary.json does not list is not read
        (run / "01_homophone_coupling").mkdir()
        (run / "01_homophone_coupling" / "metrics.json").write_text("{not json")
    one_line(*cli(["readme", run, "--readme", readme], capsys), readme, "block 'coupling'",
             "the run has no 01_homophone_coupling notebook")  # fmt: skip
    assert readme.read_text() == README


@rows("R-readme-missing")
def test_readme_file_missing(tmp_path, capsys):
    run = write_run(tmp_path / "run", {"01_homophone_coupling": coupling_metrics()})
    one_line(*cli(["readme", run, "--readme", tmp_path / "nope.md"], capsys), "cannot read", tmp_path / "nope.md")
    assert not (tmp_path / "nope.md").exists()


@rows("R-readme-nomarkers")
def test_readme_without_blocks(tmp_path, capsys):
    plain = tmp_path / "plain.md"
    plain.write_text("no markers here\n")
    run = write_run(tmp_path / "run", {"01_homophone_coupling": coupling_metrics()})
    one_line(*cli(["readme", run, "--readme", plain], capsys), plain, "has no <!-- w2s:NAME --> blocks")
    assert plain.read_text() == "no markers here\n"


def test_readme_from_good_metrics_is_written(tmp_path, capsys, readme):
    """The control for the R-metrics rows: the same run with numbers rewrites both blocks."""
    run = write_run(tmp_path / "run", {"01_homophone_coupling": coupling_metrics()})
    rc, err = cli(["readme", run, "--readme", readme], capsys)
    assert rc == 0 and err == []
    assert "| mfcc | 0.500 | 0.300 | 0.250 | 0.125 | 1.00 / 0.50 / 0.75 |" in readme.read_text()


def _set(metrics: dict, path: str, value) -> dict:
    *keys, last = path.split(".")
    target = metrics
    for k in keys:
        target = target[k]
    target[last] = value
    return metrics


@rows("R-metrics-str")
@pytest.mark.parametrize("field", ["normalised_distance.mfcc.near", "abx_error.mfcc.near", "probe_chance"])
def test_a_metric_given_as_text_is_named(tmp_path, capsys, readme, field):
    run = write_run(tmp_path / "run", {"01_homophone_coupling": _set(coupling_metrics(), field, "1.0")})
    one_line(*cli(["readme", run, "--readme", readme], capsys), readme, "block 'coupling'", run / "summary.json",
             "01_homophone_coupling", field, '"1.0"', "not a finite number")  # fmt: skip
    assert readme.read_text() == README


@rows("R-metrics-nan")
@pytest.mark.parametrize(
    "field, value, shown",
    [("abx_error.tiny-hubert.far", math.nan, "NaN"), ("normalised_distance.mfcc.same_viseme", math.inf, "Infinity"),
     ("probe_accuracy.mfcc", -math.inf, "-Infinity")],
)  # fmt: skip
def test_nan_or_inf_in_the_metrics_is_refused(tmp_path, capsys, readme, field, value, shown):
    """Judgement call: refused (not written as `nan` with a warning). A README table is a published
    result; a NaN there hides a failed measurement. w2s writes a missing value as null, which a plain cell
    shows empty; NaN or inf can only come from a summary.json not written by w2s (strict JSON has neither)."""
    run = write_run(tmp_path / "run", {"01_homophone_coupling": _set(coupling_metrics(), field, value)})
    one_line(*cli(["readme", run, "--readme", readme], capsys), readme, "01_homophone_coupling", field, shown,
             "not a finite number")  # fmt: skip
    assert readme.read_text() == README


@rows("R-metrics-nan")
def test_null_is_an_empty_cell_and_nan_in_a_notebooks_own_table_is_refused(tmp_path, readme):
    run = write_run(tmp_path / "ok", {"01_homophone_coupling": _set(coupling_metrics(), "abx_error.mfcc.near", None)})
    update_readme(readme, run)
    assert "| mfcc | 0.500 |  | 0.250 | 0.125 |" in readme.read_text()
    readme.write_text(README + "<!-- w2s:grid -->\n<!-- /w2s:grid -->\n")
    before = readme.read_text()
    grid = {"title": "the grid", "headers": ["host", "LVE"], "rows": [["voca", math.nan]]}
    run = write_run(tmp_path / "nan", {"01_homophone_coupling": coupling_metrics(),
                                        "04_evaluate": {"results_tables": {"grid": grid}}})  # fmt: skip
    with pytest.raises(ReadmeError, match=r"results_tables\.grid: row 0 has a NaN or infinite cell"):
        update_readme(readme, run)
    assert readme.read_text() == before
