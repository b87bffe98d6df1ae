"""Ceilings and floors of the metrics on the smoke corpus (w2s.evaluation.bounds): the rig re-renders the truth
exactly, the counterfactual costs LVE only around the swapped words, and identity k's style is a floor that
sits below the baseline."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from w2s.data.corpus import Corpus
from w2s.evaluation.bounds import MEANINGS, ROWS, bounds, bounds_rows, describe, render

NEAR_S = (
    0.25  # s: "adjacent to a pair word" (co-articulation reaches ~0.2 s; its exp tails go on, negligibly)
)


@pytest.fixture(scope="module")
def rendered(smoke_corpus):
    return render(smoke_corpus, "test", 0)


@pytest.fixture(scope="module")
def result(smoke_corpus):
    return bounds(smoke_corpus, "test", 0)


def _lip_err(p, g, lips) -> np.ndarray:
    """Per frame: max over lip vertices of the squared error (LVE's frame term)."""
    return ((p[:, lips].astype(np.float64) - g[:, lips]) ** 2).sum(-1).max(1)


def test_own_style_re_render_is_the_truth(rendered, result):
    for p, g in zip(rendered.preds["own_style"], rendered.gts, strict=True):
        assert p.dtype == g.dtype and np.array_equal(p, g)  # bit for bit: the builder's rendering path
    own = result["rows"]["own_style"]
    assert own["lve"] == 0.0 and own["homophone_lve"] == 0.0 and own["mve"] == 0.0
    assert own["minimal_pair_accuracy"] == 1.0 and own["minimal_pair_n_words"] > 0


def test_counterfactual_costs_only_around_the_swapped_words(rendered, result):
    cf = result["rows"]["counterfactual"]
    assert (
        cf["minimal_pair_accuracy"] == 0.0
        and cf["minimal_pair_n_words"] == result["rows"]["own_style"]["minimal_pair_n_words"]
    )
    assert cf["homophone_lve"] > 0 and cf["lve"] > 0
    assert cf["homophone_lve"] > cf["lve"]  # the error is concentrated on the pair words' frames
    assert sum(rendered.n_swapped) > 0
    total = near = inside = 0.0
    for p, g, spans, n in zip(rendered.preds["counterfactual"], rendered.gts, rendered.spans, rendered.n_swapped, strict=True):  # fmt: skip
        e = _lip_err(p, g, rendered.lips)
        if n == 0:
            assert not e.any()  # no pair word substituted: the counterfactual is the truth
            continue
        t = np.arange(len(e)) / rendered.fps
        dist = np.min([np.maximum(np.maximum(a - t, t - b), 0) for a, b in spans], axis=0)
        total += e.sum()
        near += e[dist <= NEAR_S].sum()
        inside += e[dist == 0].sum()
    assert total > 0
    assert near / total > 0.99, f"only {near / total:.4f} of the counterfactual's error near the pair words"
    assert inside / total > 0.5, f"the pair words' own frames carry only {inside / total:.3f} of the error"


def test_protocol_floor_in_another_identity_style(rendered, result):
    assert rendered.style_subject == Corpus(rendered.root).spec.train_subjects[0]
    rows = result["rows"]
    floor, base = rows["protocol_floor"], rows["baseline"]
    assert 0 < floor["lve"] <= base["lve"], (floor["lve"], base["lve"])
    assert 0 < floor["homophone_lve"]
    # wrong words under the protocol's style cost more than right words there, on the pair words' frames
    assert rows["protocol_floor_counterfactual"]["homophone_lve"] > floor["homophone_lve"]
    assert rows["protocol_floor_counterfactual"]["minimal_pair_accuracy"] < floor["minimal_pair_accuracy"]


@pytest.mark.parametrize("bad", [8, -1, True, "0", 1.0])
def test_bad_condition_is_a_value_error_naming_the_option(smoke_corpus, bad):
    with pytest.raises(ValueError, match=r"condition must be a training identity index in 0\.\.7"):
        bounds(smoke_corpus, "test", bad)


def test_result_is_json_and_tabulates(rendered, result):
    b = json.loads(json.dumps(result))
    assert b["split"] == "test" and b["condition"] == 0 and list(b["rows"]) == list(ROWS)
    n = b["n_clips"]
    assert n == len(b["stems"]) == len(b["n_swapped"]) > 0
    for name in ROWS[1:]:
        assert len(b["per_clip"][name]["lve"]) == len(b["per_clip"][name]["homophone_lve"]) == n
        assert len(b["minimal_pair_scores"][name]) == b["rows"][name]["minimal_pair_n_words"]
    assert "baseline" not in b["per_clip"]  # decoders.baseline gives totals only
    frames = np.array([len(g) for g in rendered.gts])  # per-clip LVE pools back to the row's (frame-weighted)
    for name in ROWS[1:]:
        pooled = float((np.array(b["per_clip"][name]["lve"]) * frames).sum() / frames.sum())
        assert math.isclose(pooled, b["rows"][name]["lve"], rel_tol=1e-9, abs_tol=1e-15)
    rows = bounds_rows(result)
    assert [r["name"] for r in rows] == list(ROWS)
    for r in rows:
        m = result["rows"][r["name"]]
        assert math.isclose(r["LVE ×1e-5"], m["lve"] * 1e5) and r["meaning"] == MEANINGS[r["name"]]
        assert r["minimal-pair acc."] == m["minimal_pair_accuracy"]
    text = describe()
    assert all(f"{name}:" in text for name in ROWS)
