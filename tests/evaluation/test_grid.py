"""The grid of notebooks 03-04 on the smoke corpus: cells trained and evaluated (in worker processes too),
cached, and summarised with paired tests."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from w2s.decoders.training import DecoderRecipe, OtherRunError, train_config
from w2s.evaluation.grid import (
    GridPlan,
    mde_rows,
    paired_rows,
    results_rows,
    run_grid,
    seed_noise,
    summary_rows,
    timing,
    use_rows,
    verdicts,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_plan_folders_recipes_and_scaled_steps(tmp_path, wav2sem_dir):
    wav2sem_dir = str(wav2sem_dir)
    plan = GridPlan("corpus", wav2sem_dir, models_dir=str(tmp_path))
    assert len(plan.cells()) == 6 * 4 * 3  # none, wav2sem, oracle_text and the control oracle_word
    assert plan.folder("faceformer", "wav2sem", 2) == tmp_path / "faceformer-wav2sem-seed2"  # w2s animate's layout
    assert plan.recipe("voca", "none", 0).wav2sem is None and plan.recipe("voca", "wav2sem", 0).wav2sem == wav2sem_dir
    per_seed = GridPlan("corpus", ("w0", "w1", "w2"))  # seed k's wav2sem cells read folder k
    assert [per_seed.recipe("voca", "wav2sem", k).wav2sem for k in (0, 1, 2)] == ["w0", "w1", "w2"]
    assert GridPlan("corpus", ["w0", "w1", "w2"]).wav2sem == ("w0", "w1", "w2")  # as read back from JSON
    quick = GridPlan("corpus", wav2sem_dir, step_scale=0.1)
    r = quick.recipe("codetalker", "none", 1)
    full = train_config(DecoderRecipe("codetalker"), 100).max_steps
    assert r.max_steps == round(full * 0.1) and r.overrides["stage1_steps"] == 40  # tiny: 400
    assert quick.root.name == "decoders-x0.1" and plan.eval_options("facediffuser")["num_samples"] == 2
    assert plan.eval_options("voca")["num_samples"] == 1
    floored = GridPlan("corpus", wav2sem_dir, step_scale=0.1, min_steps=60)  # quick mode's floor: min_steps=20
    fd_full = train_config(DecoderRecipe("facediffuser"), 100).max_steps
    assert floored.recipe("facediffuser", "none", 0).max_steps == min(fd_full, max(60, round(fd_full * 0.1)))
    assert floored.recipe("codetalker", "none", 1).overrides["stage1_steps"] == 60 and full * 0.1 < 60 < full
    assert floored.scaled(30) == 30  # never more than the recipe
    assert floored.root.name == "decoders-x0.1-min60" != quick.root.name  # other models, another folder
    with pytest.raises(ValueError, match="min_steps"):
        GridPlan("corpus", wav2sem_dir, min_steps=0)
    with pytest.raises(ValueError, match="semantics"):
        GridPlan("corpus", wav2sem_dir, semantics=("none", "bert"))
    std = GridPlan("corpus", wav2sem_dir, models_dir=str(tmp_path), plug_scale="standardize")
    assert std.folder("voca", "oracle_word", 1) == tmp_path / "voca-oracle_word-std-seed1"
    assert std.recipe("voca", "oracle_word", 1).overrides == {"plug_scale": "standardize"}
    assert std.folder("voca", "none", 1) == plan.folder("voca", "none", 1) and std.recipe("voca", "none", 1) == plan.recipe("voca", "none", 1)
    with pytest.raises(ValueError, match="plug_scale"):
        GridPlan("corpus", wav2sem_dir, plug_scale="loud")


@pytest.mark.slow
def test_grid_runs_caches_and_tests(smoke_corpus, wav2sem_dir, tmp_path):
    plan = GridPlan(str(smoke_corpus), str(wav2sem_dir), hosts=("voca", "facediffuser"), seeds=(0, 1), step_scale=0.02,
                    semantics=("none", "wav2sem", "oracle_word"), conditions="0", num_samples=2,
                    models_dir=str(tmp_path / "m"))  # fmt: skip
    seen = []
    results = run_grid(plan, workers=2, on_result=lambda r, done, total: seen.append((done, total)))
    assert [(r["host"], r["semantic"], r["seed"]) for r in results] == plan.cells()
    assert seen[-1] == (12, 12)
    n_clips = len(results[0]["per_clip"]["stem"])
    for r in results:
        assert len(r["per_clip"]["lve"]) == n_clips and np.isfinite(r["metrics"]["lve"])
        assert 0 <= r["metrics"]["minimal_pair_accuracy"] <= 1 and len(r["minimal_pair_scores"]) > 0
        assert r["eval"]["num_samples"] == (2 if r["host"] == "facediffuser" else 1)
    # a rerun loads every cell: nothing is trained or evaluated again
    stamps = {p: p.stat().st_mtime_ns for p in (tmp_path / "m").rglob("*.json")}
    again = run_grid(plan, workers=2)
    np.testing.assert_equal(again, results)  # NaN == NaN (MTM of a clip whose lips never turn)
    assert stamps == {p: p.stat().st_mtime_ns for p in (tmp_path / "m").rglob("*.json")}

    summary = summary_rows(results)
    assert len(summary) == 2 * 3 and all(s["seeds"] == 2 for s in summary)
    voca = [r["metrics"]["lve"] for r in results if r["host"] == "voca" and r["semantic"] == "none"]
    row = next(s for s in summary if s["host"] == "voca" and s["semantic"] == "none")
    assert row["lve"] == pytest.approx(np.mean(voca)) and row["lve_std"] == pytest.approx(np.std(voca, ddof=1))
    paired = paired_rows(results)
    lve = next(p for p in paired if p["host"] == "voca" and p["treated"] == "wav2sem" and p["metric"] == "lve")
    assert lve["n_clips"] == n_clips and lve["n_seeds"] == 2 and lve["ci_low"] <= lve["mean_difference"] <= lve["ci_high"]
    assert lve["paper_relative_change"] == pytest.approx(4.8915 / 4.9245 - 1)
    control = next(p for p in paired if p["host"] == "voca" and p["treated"] == "oracle_word" and p["metric"] == "lve")
    assert control["paper_relative_change"] is None  # the control is ours, not the paper's
    table = results_rows(summary, paired)
    assert len(table) == 6 and table[0]["ΔLVE vs none [95 % CI]"] == "" and "[" in table[1]["ΔLVE vs none [95 % CI]"]
    said = verdicts(paired)
    assert len(said) == 4 and all(("no clear effect" in v) or ("lower" in v) or ("higher" in v) for v in said)
    # the use test ran on every plugged cell, against the seed-to-seed change of none
    assert all(("use" in r) == (r["semantic"] != "none") for r in results)
    noise = {h: seed_noise(plan, h) for h in plan.hosts}
    assert all(n["n_pairs"] == 1 and n["change"] > 0 for n in noise.values())
    use = use_rows(results, noise)
    assert {(u["host"], u["F_s"]) for u in use} == {(h, s) for h in plan.hosts for s in ("wav2sem", "oracle_word")}
    assert all(u["seeds"] == 2 and u["scale_after"] > 0 and u["swap_over_seed"] >= 0 for u in use)
    mde = mde_rows(results)
    assert {m["host"] for m in mde} == {"voca", "facediffuser"} and all(m["mde"] >= 0 for m in mde)
    t = timing(results)
    assert t["cells"] == 12 and set(t["per_host"]) == {"voca", "facediffuser"}
    json.dumps(table)  # the report's results table is plain data
    assert os.listdir(tmp_path / "m") and all(str(tmp_path) in r["folder"] for r in results)


@pytest.mark.slow
def test_one_and_two_workers_give_identical_cells(smoke_corpus, wav2sem_dir, tmp_path):
    """The same plan in this process and in two workers: bit-identical losses, metrics and per-clip numbers.
    CodeTalker's stage 1 is trained by the first cell that needs it and read from the cache by the others, in
    an order that depends on the workers; every seed's wav2sem cell reads its own Wav2Sem folder."""
    kw = dict(hosts=("voca", "codetalker"), semantics=("none", "wav2sem"), seeds=(0, 1), step_scale=0.02,
              conditions="0", num_samples=1)  # fmt: skip
    plans = [GridPlan(str(smoke_corpus), (str(wav2sem_dir),) * 2, models_dir=str(tmp_path / f"w{n}"), **kw) for n in (1, 2)]
    one, two = run_grid(plans[0], workers=1), run_grid(plans[1], workers=2)
    for a, b in zip(one, two):
        assert (a["host"], a["semantic"], a["seed"]) == (b["host"], b["semantic"], b["seed"])
        assert a["history"] == b["history"]
        np.testing.assert_equal([a["metrics"], a["per_clip"]], [b["metrics"], b["per_clip"]])
        assert a["minimal_pair_scores"] == b["minimal_pair_scores"]
    assert one[0]["history"] != one[1]["history"]  # seeds 0 and 1 differ: the comparison can fail
    with pytest.raises(ValueError, match="one per seed"):
        GridPlan(str(smoke_corpus), (str(wav2sem_dir),) * 3, seeds=(0, 1))


def test_a_cell_of_another_recipe_is_retrained_not_reused(smoke_corpus, wav2sem_dir, tmp_path):
    """A cell trained with another recipe (here other overrides; in practice a retrained Wav2Sem) is neither
    read from the cache nor refused: the grid replaces it, unless the folder holds files it did not write."""
    kw = dict(hosts=("voca",), semantics=("none",), seeds=(0,), step_scale=0.02, conditions="0",
              models_dir=str(tmp_path / "m"))  # fmt: skip
    first = run_grid(GridPlan(str(smoke_corpus), str(wav2sem_dir), **kw))[0]
    other = GridPlan(str(smoke_corpus), str(wav2sem_dir), overrides={"voca": {"hidden_dim": 64}}, **kw)
    second = run_grid(other)[0]
    assert second["history"] != first["history"]
    run = json.loads((tmp_path / "m" / "voca-none-seed0" / "decoder_run.json").read_text())
    assert run["recipe"]["overrides"] == {"hidden_dim": 64}
    (tmp_path / "m" / "voca-none-seed0" / "notes.txt").write_text("mine")
    with pytest.raises(OtherRunError, match="notes.txt"):
        run_grid(GridPlan(str(smoke_corpus), str(wav2sem_dir), **kw))
    assert (tmp_path / "m" / "voca-none-seed0" / "notes.txt").read_text() == "mine"
