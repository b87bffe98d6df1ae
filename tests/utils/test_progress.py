"""Progress bars: tqdm.auto on their own; under the notebook runner (W2S_PROGRESS_DIR) each process keeps its open
bars in one JSON file that the runner reads for its line."""

import json
import os

import pytest
from tqdm.auto import tqdm as auto_tqdm

import w2s.utils.progress as uprogress
from w2s.utils.progress import ENV, Reporter, ReportingBar, read_bars
from w2s.utils.runtime import progress


def _bars(folder):
    return json.loads((folder / f"{os.getpid()}.json").read_text())["bars"]


@pytest.fixture
def runner_folder(tmp_path, monkeypatch):
    """As in a kernel the runner started: the folder named, tqdm's own display switched off."""
    monkeypatch.setenv(ENV, str(tmp_path))
    monkeypatch.setenv("TQDM_DISABLE", "1")
    monkeypatch.setenv("W2S_PROGRESS", "0")
    monkeypatch.setattr(uprogress, "EVERY", 0.0)  # every display is written (the throttle: below)
    monkeypatch.setattr(uprogress, "_reporters", {})
    return tmp_path


def test_without_the_runner_progress_is_tqdm_auto_with_the_switch(monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    monkeypatch.setenv("W2S_PROGRESS", "0")
    bar = progress(range(3), desc="x")
    assert isinstance(bar, auto_tqdm) and not isinstance(bar, ReportingBar) and bar.disable
    assert list(bar) == [0, 1, 2]
    monkeypatch.setenv("W2S_PROGRESS", "1")
    shown = progress(total=2, desc="y", file=open(os.devnull, "w"))
    assert not shown.disable and shown.total == 2
    shown.close()


def test_a_manual_bar_writes_step_k_of_n_and_leaves_the_file_when_closed(runner_folder):
    bar = progress(total=10, desc="train", unit="step", mininterval=0)
    assert isinstance(bar, ReportingBar) and not bar.disable  # TQDM_DISABLE does not silence the runner's copy
    (opened,) = _bars(runner_folder)
    assert (opened["desc"], opened["unit"], opened["n"], opened["total"], opened["rate"]) == ("train", "step", 0, 10, None)
    bar.update(3)
    (state,) = _bars(runner_folder)
    assert state["n"] == 3 and state["total"] == 10 and state["rate"] > 0 and state["at"] >= opened["at"]
    bar.close()
    bar.close()  # twice (tqdm's __del__ closes again): harmless
    assert _bars(runner_folder) == []


def test_a_loop_reports_while_it_runs_and_nested_bars_stay_in_order(runner_folder):
    seen = []
    for _ in progress(range(2), desc="grid", unit="cell", mininterval=0):
        for _ in progress(range(3), desc="train", unit="step", mininterval=0):
            seen.append([(b["desc"], b["n"]) for b in read_bars(runner_folder)])
    assert seen[0] == [("grid", 0), ("train", 0)]
    assert seen[-1] == [("grid", 1), ("train", 2)]  # the outer loop first, each at its own count
    assert read_bars(runner_folder) == []


def test_writes_are_throttled_but_opening_and_closing_are_written_at_once(tmp_path):
    t = [0.0]
    rep = Reporter(tmp_path, every=2.0, clock=lambda: t[0])
    rep.update(1, {"n": 1})
    rep.update(1, {"n": 2})  # same instant: kept, not written
    assert _bars(tmp_path) == [{"n": 1}]
    rep.update(2, {"n": 0})  # a new bar: at once
    assert _bars(tmp_path) == [{"n": 2}, {"n": 0}]
    t[0] = 1.9
    rep.update(1, {"n": 5})
    assert _bars(tmp_path)[0] == {"n": 2}
    t[0] = 2.0
    rep.update(1, {"n": 6})
    assert _bars(tmp_path) == [{"n": 6}, {"n": 0}]
    rep.remove(2)
    assert _bars(tmp_path) == [{"n": 6}]
    assert not list(tmp_path.glob(".*.tmp"))  # replaced whole, no leftovers


def test_a_folder_that_went_away_never_fails_the_work(tmp_path):
    rep = Reporter(tmp_path / "gone")
    rep.update(1, {"n": 1})
    rep.remove(1)


def test_read_bars_merges_the_processes_oldest_first_and_skips_bad_files(tmp_path):
    (tmp_path / "11.json").write_text(json.dumps({"bars": [{"desc": "train", "at": 100.0, "elapsed": 5.0}]}))
    (tmp_path / "12.json").write_text(json.dumps({"bars": [{"desc": "grid", "at": 101.0, "elapsed": 60.0}]}))
    (tmp_path / "13.json").write_text('{"bars": [')  # half a file (never written so, but read defensively)
    (tmp_path / "14.json").write_text("[]")
    assert [b["desc"] for b in read_bars(tmp_path)] == ["grid", "train"]
    assert read_bars(tmp_path / "none") == []


def test_the_grid_reports_cell_k_of_n_with_its_cached_cells_counted(runner_folder, monkeypatch):
    from w2s.evaluation import grid

    class Plan:
        def cells(self):
            return [("voca", s, seed) for s in ("none", "wav2sem") for seed in (0, 1)]

    seen = []

    def run_cell(plan, host, semantic, seed):  # stands in for a training + evaluation
        seen.append([(b["desc"], b["unit"], b["n"], b["total"]) for b in read_bars(runner_folder)])
        return {"host": host, "semantic": semantic, "seed": seed}

    monkeypatch.setattr(grid, "cached_result", lambda plan, h, s, k: {"cached": True} if s == "none" else None)
    monkeypatch.setattr(grid, "_warm_inputs", lambda plan: None)
    monkeypatch.setattr(grid, "run_cell", run_cell)
    results = grid.run_grid(Plan(), workers=1)
    assert len(results) == 4 and results[0] == {"cached": True}
    assert seen == [[("grid", "cell", 2, 4)], [("grid", "cell", 3, 4)]]  # the 2 cached cells count as done
    assert read_bars(runner_folder) == []
