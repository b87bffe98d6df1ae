"""Notebook 05's ladder (w2s.evaluation.ladder): the dial's presets, the plan, the learning-curve reading, and a
conclusion that follows the numbers (on synthetic cells: a planted effect is found, a null is called null)."""

import numpy as np
import pytest

from w2s.evaluation.ladder import (
    LadderPlan,
    between,
    curve_rows,
    ladder_conclusion,
    ladder_rows,
    level_preset,
)


def test_each_level_is_a_masked_preset_of_its_base():
    assert level_preset("default", "clean") == "default" and level_preset("default", "full") == "masked-full"
    assert level_preset("smoke", "0db") == "smoke-masked-0db" and level_preset("quick", "10db") == "quick-masked-10db"
    assert level_preset("powered", "full") == "powered-masked-full"  # make run's corpus
    with pytest.raises(ValueError, match="no masked preset"):
        level_preset("biwi-like", "full")
    with pytest.raises(ValueError, match="levels must be among"):
        LadderPlan(levels=("clean", "loud"))
    with pytest.raises(ValueError, match="'none'"):
        LadderPlan(rungs=("oracle_viseme",))
    plan = LadderPlan(levels=["clean", "full"], seeds=[0, 1], models_dir="/tmp/x")
    assert plan.levels == ("clean", "full") and plan.n_cells() == 2 * 2 * 6 * 2


def _cell(level, host, rung, seed, scores, lve, val=None):
    return {"level": level, "host": host, "semantic": rung, "seed": seed, "train_seconds": 1.0,
            "minimal_pair_scores": list(scores), "per_clip": {"lve": list(lve), "homophone_lve": list(lve)},
            "metrics": {"lve": float(np.mean(lve)), "homophone_lve": float(np.mean(lve)),
                        "minimal_pair_accuracy": float(np.mean(scores))},
            "history": {"val": val or []}}  # fmt: skip


def _ladder(rng, gain_full: dict[str, float], n_words=60, seeds=(0, 1, 2), rungs=("none", "oracle_text", "oracle_viseme")):
    """Cells whose minimal-pair scores are Bernoulli(p): p = 0.8 for every rung on clean audio, 0.5 + gain at full."""
    out = {}
    for level in ("clean", "full"):
        res = []
        for rung in rungs:
            p = 0.8 if level == "clean" else 0.5 + gain_full.get(rung, 0.0)
            for k in seeds:
                res.append(_cell(level, "voca", rung, k, rng.random(n_words) < p, 1e-5 * (1 + 0.1 * rng.random(12))))
        out[level] = res
    return out


def test_the_conclusion_finds_a_planted_gain_and_calls_a_null_null():
    rng = np.random.default_rng(0)
    results = _ladder(rng, {"oracle_viseme": 0.4})
    rows = ladder_rows(results)
    viseme = next(r for r in rows if (r["level"], r["rung"], r["metric"]) == ("full", "oracle_viseme", "minimal_pair_accuracy"))
    assert viseme["delta_low"] > 0 and viseme["verdict"] == "higher" and viseme["low"] <= viseme["mean"] <= viseme["high"]
    text = {a["question"]: a["answer"] for a in ladder_conclusion(rows)}
    control = next(v for q, v in text.items() if q.startswith("Does the positive control work"))
    assert "lifts the accuracy clearly" in control
    start = next(v for q, v in text.items() if "oracle_text (" in q)
    assert "at no level" in start  # no gain was planted for the sentence vector
    d = between(results, "oracle_viseme", "oracle_text")
    assert {x["level"] for x in d} == {"clean", "full"} and next(x for x in d if x["level"] == "full")["ci_low"] > 0


def test_no_gain_anywhere_says_the_control_failed():
    rows = ladder_rows(_ladder(np.random.default_rng(1), {}))
    control = ladder_conclusion(rows)[0]
    assert control["question"].startswith("Does the positive control work") and "no clear lift" in control["answer"]


@pytest.mark.parametrize("loss, state", [([10, 6, 4, 3, 2.5, 2.2, 2.0, 1.8, 1.6, 1.4], "falling"),
                                         ([10, 4, 2, 1.5, 1.2, 1.1, 1.05, 1.02, 1.01, 1.0], "flat"),
                                         ([10, 4, 2, 1.0, 1.2, 1.5, 1.8, 2.0, 2.2, 2.5], "rising")])  # fmt: skip
def test_a_learning_curve_is_read_as_before_at_or_past_its_knee(loss, state):
    val = [{"step": 10 * (i + 1), "loss": x} for i, x in enumerate(loss)]
    (c,) = curve_rows({"full": [_cell("full", "voca", "none", 0, [1], [1e-5], val)]})
    assert c["state"] == state and c["best_step"] == 10 * (int(np.argmin(loss)) + 1)


def test_the_claim_is_answered_from_which_granularity_helped():
    rungs = ("none", "oracle_text", "oracle_text_local", "oracle_viseme")
    rows = ladder_rows(_ladder(np.random.default_rng(2), {"oracle_viseme": 0.4, "oracle_text_local": 0.35}, seeds=range(5), rungs=rungs))
    claim = ladder_conclusion(rows)[-1]
    assert claim["question"] == "What does this mean for the paper's claim?"
    assert "aligned in time" in claim["answer"] and "word by word" in claim["answer"] and "voca at full" in claim["answer"]
    rows = ladder_rows(_ladder(np.random.default_rng(3), {"oracle_text": 0.4, "oracle_text_local": 0.4}, seeds=range(5), rungs=rungs))
    claim = ladder_conclusion(rows)[-1]["answer"]
    assert "aligned in time" not in claim and "helps clearly voca at full" in claim  # the sentence vector helped too
