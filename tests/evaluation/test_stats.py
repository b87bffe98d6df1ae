"""Paired tests of two conditions, and the paper's numbers."""

import math

import numpy as np
import pytest
from scipy import stats

from w2s.evaluation.paper import TABLE1_LVE, oracle_relative_change, relative_change
from w2s.evaluation.stats import mean_std, paired_test


def test_every_pair_lower_is_a_clear_effect():
    rng = np.random.default_rng(0)
    control = rng.uniform(1, 2, 40)
    treated = control - rng.uniform(0.05, 0.1, 40)
    t = paired_test(treated, control, groups=[0] * 20 + [1] * 20)
    assert t["n"] == 40 and t["share_lower"] == 1.0 and t["rank_biserial"] == -1.0
    assert t["p_value"] < 1e-6 and t["effect_dz"] < -1
    assert t["relative_change"] == pytest.approx(treated.mean() / control.mean() - 1)
    assert (t["n_seeds"], t["seeds_lower"]) == (2, 2)
    assert t["p_value"] == pytest.approx(stats.wilcoxon(treated - control).pvalue)


def test_no_difference_and_noise():
    x = np.arange(10.0)
    same = paired_test(x, x)
    assert same["p_value"] == 1.0 and same["effect_dz"] == 0.0 and same["share_lower"] == 0.0
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=200), rng.normal(size=200)
    noise = paired_test(a, b)
    assert noise["p_value"] > 0.01 and abs(noise["rank_biserial"]) < 0.2


def test_nan_pairs_are_dropped_and_shapes_checked():
    t = paired_test([1.0, np.nan, 3.0, 2.0], [2.0, 1.0, np.nan, 3.0], groups=[0, 0, 1, 1])
    assert t["n"] == 2 and t["mean_difference"] == -1.0 and t["seeds_lower"] == 2
    with pytest.raises(ValueError, match="one length"):
        paired_test([1.0, 2.0], [1.0])


def test_mean_std():
    assert mean_std([1.0, 3.0, None, float("nan")]) == (2.0, pytest.approx(math.sqrt(2)))
    assert mean_std([5.0]) == (5.0, 0.0)
    assert all(math.isnan(v) for v in mean_std([]))


def test_paper_relative_changes():
    assert set(TABLE1_LVE) == {"voca", "faceformer", "codetalker", "unitalker", "facediffuser", "lgldm"}
    assert relative_change("unitalker") == pytest.approx(3.1476 / 3.5416 - 1)  # -11.1 %, the largest
    assert all(relative_change(h) < 0 and relative_change(h, "biwi") < 0 for h in TABLE1_LVE)
    assert relative_change("reference") is None and oracle_relative_change("codetalker") is None
    assert oracle_relative_change("faceformer") == pytest.approx(4.0241 / 4.1090 - 1)
