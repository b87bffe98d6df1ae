"""Nothing is chosen on the test split: the benchmarks that choose recipes, levers and the plug's scale read
val, and record the split of every row they write."""

import importlib.util
import json
from pathlib import Path

import pytest

BENCH = Path(__file__).parent.parent / "benchmarks"


def _module(name: str):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("name", ["tiny_recipes", "wav2sem_levers"])
def test_selection_benchmarks_read_val_and_record_it(name):
    assert _module(name).SPLIT == "val"
    rows = [json.loads(line) for line in (BENCH / "results" / f"{name}.jsonl").read_text().splitlines()]
    assert rows and all(r["split"] in ("val", "test") for r in rows)  # every row says what it read


def test_plug_scale_is_chosen_on_val(tmp_path):
    mod = _module("plug_scale")
    plan = mod.plan_for(str(tmp_path), "standardize", ("voca",), 2)
    assert plan.split == "val" and plan.semantics == ("none", "oracle_word")
    fake = {"per_scale": {s: {"paired": [{"metric": "minimal_pair_accuracy", "verdict": v, "mean_difference": d}]}
                          for s, v, d in (("raw", "no clear effect", 0.01), ("standardize", "higher", 0.1))}}
    assert mod.choose(fake)["scale"] == "standardize"
    saved = BENCH / "results" / "plug_scale.json"
    if saved.is_file():  # the committed result read val
        assert json.loads(saved.read_text())["split"] == "val"
