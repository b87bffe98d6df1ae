"""Metrics against values worked out by hand on tiny arrays."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from w2s.data.files import pair_word_spans
from w2s.evaluation import metrics

# Two frames, three vertices; ground truth at the origin, so the error is the prediction itself.
#   frame 0: v0 = (1,0,0) -> |e|^2 = 1    v1 = (0,2,0) -> 4    v2 = (0,0,5) -> 25
#   frame 1: v0 = (1,1,0) -> |e|^2 = 2    v1 = (0,0,1) -> 1    v2 = (3,0,0) -> 9
PRED = np.array(
    [
        [[1, 0, 0], [0, 2, 0], [0, 0, 5]],
        [[1, 1, 0], [0, 0, 1], [3, 0, 0]],
    ],
    dtype=np.float64,
)
GT = np.zeros_like(PRED)
LIPS = [0, 1]


def test_lve_squared_max_over_lips():
    # per frame, max over lips {v0, v1} of |e|^2: frame 0 max(1, 4) = 4, frame 1 max(2, 1) = 2
    # LVE = (4 + 2) / 2 = 3      (v2's 25 and 9 are not lip vertices and must be ignored)
    assert metrics.lve([PRED], [GT], LIPS) == pytest.approx(3.0)
    # root of LVE in mm: sqrt(3) * 1000
    assert metrics.lve_mm([PRED], [GT], LIPS) == pytest.approx(math.sqrt(3) * 1000)
    # un-squared variant: (sqrt(4) + sqrt(2)) / 2 = (2 + 1.41421) / 2
    assert metrics.lve_l2([PRED], [GT], LIPS) == pytest.approx((2 + math.sqrt(2)) / 2)


def test_mve_unsquared_mean_over_all_vertices_and_frames():
    # norms: frame 0 -> 1, 2, 5; frame 1 -> sqrt(2), 1, 3; mean = (12 + sqrt 2) / 6 = 2.23570
    assert metrics.mve([PRED], [GT]) == pytest.approx((12 + math.sqrt(2)) / 6)


def test_flat_layout_and_torch_inputs_and_boolean_mask():
    flat = PRED.reshape(2, 9)
    assert metrics.lve([flat], [GT.reshape(2, 9)], LIPS) == pytest.approx(3.0)
    assert metrics.lve(torch.tensor(PRED), torch.tensor(GT), torch.tensor(LIPS)) == pytest.approx(3.0)
    assert metrics.lve(PRED, GT, np.array([True, True, False])) == pytest.approx(3.0)
    # a 4-D batch is a list of equal-length sequences
    assert metrics.mve(np.stack([PRED, PRED]), np.stack([GT, GT])) == pytest.approx((12 + math.sqrt(2)) / 6)


def test_lve_pools_frames_not_sequences():
    # sequence A: 1 frame with lip error 10 (v0 = (1, 3, 0): 1 + 9 = 10)
    # sequence B: 3 frames with lip error 2 each (v0 = (1, 1, 0))
    # pooled: (10 + 2 + 2 + 2) / 4 = 4   (a mean of per-sequence means would give (10 + 2) / 2 = 6)
    a = np.zeros((1, 2, 3))
    a[0, 0] = [1, 3, 0]
    b = np.zeros((3, 2, 3))
    b[:, 0] = [1, 1, 0]
    assert metrics.lve([a, b], [np.zeros_like(a), np.zeros_like(b)], [0, 1]) == pytest.approx(4.0)


def test_truncation_to_the_shorter_sequence():
    # prediction longer than ground truth: the extra frame (error 100) is dropped
    long_pred = np.concatenate([PRED, np.full((1, 3, 3), 10.0)])
    assert metrics.lve([long_pred], [GT], LIPS) == pytest.approx(3.0)
    # prediction shorter than ground truth: both cut to 1 frame -> frame 0 only, LVE = 4
    long_gt = np.concatenate([GT, np.zeros((5, 3, 3))])
    assert metrics.lve([PRED[:1]], [long_gt], LIPS) == pytest.approx(4.0)
    res = metrics.evaluate([PRED[:1]], [long_gt], np.zeros((3, 3)), LIPS, [2])
    assert res["n_frames"] == 1


def _fdd_case():
    # template at the origin, upper face = {v0, v1}, d_t(v) = |x_t(v)|^2, two frames
    #   gt   v0: (1,0,0), (1,1,1) -> d = 1, 3 -> std (ddof 0) = 1
    #   gt   v1: (0,0,0), (2,0,0) -> d = 0, 4 -> std = 2          sigma_gt   = (1 + 2) / 2 = 1.5
    #   pred v0: (1,0,0), (1,0,0) -> d = 1, 1 -> std = 0
    #   pred v1: (0,0,0), (0,3,0) -> d = 0, 9 -> std = 4.5        sigma_pred = (0 + 4.5) / 2 = 2.25
    #   v2 moves a lot in the prediction but is not upper face.
    # FDD = 1.5 - 2.25 = -0.75: the prediction over-animates, the sign says so.
    # (with ddof = 1 the stds would be sqrt(2) times larger: -0.75 * sqrt(2))
    gt = np.array([[[1, 0, 0], [0, 0, 0], [0, 0, 0]], [[1, 1, 1], [2, 0, 0], [0, 0, 0]]], dtype=float)
    pred = np.array([[[1, 0, 0], [0, 0, 0], [0, 0, 0]], [[1, 0, 0], [0, 3, 0], [50, 0, 0]]], dtype=float)
    return pred, gt, np.zeros((3, 3)), [0, 1]


def test_fdd_signed_over_animation_is_negative():
    pred, gt, tmpl, upper = _fdd_case()
    assert metrics.fdd([pred], [gt], tmpl, upper) == pytest.approx(-0.75)
    # swap roles: under-animation is positive
    assert metrics.fdd([gt], [pred], tmpl, upper) == pytest.approx(0.75)
    assert metrics.fdd_abs([pred], [gt], tmpl, upper) == pytest.approx(0.75)


def test_fdd_is_sequence_weighted_and_uses_the_template():
    pred, gt, tmpl, upper = _fdd_case()
    # a second, still sequence (identical to gt) has FDD 0: mean over sequences (-0.75 + 0) / 2
    still = np.zeros((5, 3, 3))
    assert metrics.fdd([pred, still], [gt, still], [tmpl, tmpl], upper) == pytest.approx(-0.375)
    # shifting template and both sequences together changes nothing
    shift = np.array([0.3, -2.0, 1.0])
    assert metrics.fdd([pred + shift], [gt + shift], tmpl + shift, upper) == pytest.approx(-0.75)


def test_homophone_lve_selects_frames_in_spans():
    # five frames at 10 fps: t = 0.0, 0.1, 0.2, 0.3, 0.4 s; lip error of frame t is t + 1 (v0 = (sqrt(t+1), 0, 0))
    errs = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    pred = np.zeros((5, 2, 3))
    pred[:, 0, 0] = np.sqrt(errs)
    gt = np.zeros_like(pred)
    # span [0.1, 0.3): frames 1 and 2 (0.3 is excluded) -> (2 + 3) / 2 = 2.5
    assert metrics.homophone_lve([pred], [gt], [0], [[(0.1, 0.3)]], fps=10) == pytest.approx(2.5)
    # two spans, [0.0, 0.05) -> frame 0 and [0.4, 1.0) -> frame 4: (1 + 5) / 2 = 3
    assert metrics.homophone_lve([pred], [gt], [0], [[(0.0, 0.05), (0.4, 1.0)]], fps=10) == pytest.approx(3.0)
    # pooled over sequences: seq 1 contributes frame 1 (2), seq 2 frames 3, 4 (4, 5): 11 / 3
    got = metrics.homophone_lve([pred, pred], [gt, gt], [0], [[(0.1, 0.2)], [(0.3, 0.5)]], fps=10)
    assert got == pytest.approx(11 / 3)
    # no frame inside any span: nan, not an error
    assert math.isnan(metrics.homophone_lve([pred], [gt], [0], [[(0.12, 0.18)]], fps=10))
    assert math.isnan(metrics.homophone_lve([pred], [gt], [0], [[]], fps=10))
    assert metrics.frames_in_spans(5, [(0.1, 0.3)], 10).tolist() == [False, True, True, False, False]


def test_homophone_spans_from_alignment():
    alignment = {
        "words": [
            {"word": "The", "start": 0.0, "end": 0.1},
            {"word": "Thin,", "start": 0.1, "end": 0.3},
            {"word": "fin", "start": 0.3, "end": 0.45},
            {"word": "ship.", "start": 0.5, "end": 0.7},
        ]
    }
    spans = pair_word_spans(alignment, {"thin", "FIN"})
    assert spans == [(0.1, 0.3), (0.3, 0.45)]
    assert pair_word_spans(alignment["words"], {"sheep"}) == []


def test_evaluate_returns_every_metric():
    pred, gt, tmpl, upper = _fdd_case()
    spans = [[(0.0, 1 / 30)]]  # frame 0 only at 30 fps
    res = metrics.evaluate([pred], [gt], tmpl, [0, 1], upper, spans=spans, fps=30)
    # lip errors {v0, v1}: frame 0 -> max(0, 0) = 0; frame 1 -> max(|(0,-1,-1)|^2 = 2, |(-2,3,0)|^2 = 13) = 13
    assert res["lve"] == pytest.approx(6.5)
    assert res["lve_mm"] == pytest.approx(math.sqrt(6.5) * 1000)
    assert res["fdd"] == pytest.approx(-0.75)
    assert res["homophone_lve"] == pytest.approx(0.0)
    assert res["homophone_n_frames"] == 1
    assert res["n_frames"] == 2 and res["n_sequences"] == 1
    assert {"mve", "lve_l2", "fdd_abs"} <= set(res)
    assert "homophone_lve" not in metrics.evaluate([pred], [gt], tmpl, [0, 1], upper)
    assert all(isinstance(v, (int, float)) for v in res.values())


def test_errors():
    with pytest.raises(ValueError, match="empty list"):
        metrics.lve([], [], LIPS)
    with pytest.raises(ValueError, match="3 vertices but ground truth has 4"):
        metrics.mve([PRED], [np.zeros((2, 4, 3))])
    bad = PRED.copy()
    bad[1, 2, 0] = np.nan
    with pytest.raises(ValueError, match=r"preds\[0\].*NaN.*frame 1"):
        metrics.mve([bad], [GT])
    with pytest.raises(ValueError, match=r"gts\[0\].*NaN"):
        metrics.mve([GT], [bad])
    with pytest.raises(ValueError, match="2 predicted sequences but 1"):
        metrics.mve([PRED, PRED], [GT])
    with pytest.raises(ValueError, match="lips"):
        metrics.lve([PRED], [GT], [0, 7])
    with pytest.raises(ValueError, match="0 frames"):
        metrics.mve([PRED[:0]], [GT[:0]])
    with pytest.raises(ValueError, match="not divisible by 3"):
        metrics.mve([np.zeros((2, 4))], [np.zeros((2, 4))])
    with pytest.raises(ValueError, match="templates"):
        metrics.fdd([PRED], [GT], np.zeros((4, 3)), [0])
    with pytest.raises(ValueError, match="span lists"):
        metrics.homophone_lve([PRED], [GT], LIPS, [], fps=30)
    with pytest.raises(ValueError, match="invalid time span"):
        metrics.homophone_lve([PRED], [GT], LIPS, [[(0.5, 0.1)]], fps=30)


def test_lip_metrics_of_lips_only_equal_those_of_whole_meshes():
    """The evaluation converts the lips once (lips_only) and scores them with indices 0..L-1: the same numbers
    as on the whole meshes, to the last bit; a mesh of the wrong shape is named."""
    from w2s.evaluation.lip_timing import lve_dtw, mtm
    from w2s.evaluation.metrics import homophone_lve, lve
    from w2s.evaluation.sequences import lips_only

    rng = np.random.default_rng(0)
    gts = [rng.normal(size=(t, 12, 3)).astype(np.float32) for t in (20, 31)]
    preds = [g[:-2] + 0.1 * rng.normal(size=g[:-2].shape).astype(np.float32) for g in gts]  # shorter: the min-length rule
    lips, spans = np.array([7, 2, 9, 4]), [[(0.1, 0.4)], [(0.2, 0.5)]]
    (lp, idx), lg = lips_only(preds, lips), lips_only([g.reshape(len(g), -1) for g in gts], lips)[0]  # (T, V*3) too
    assert idx.tolist() == [0, 1, 2, 3] and lp[0].shape == (18, 4, 3) and lp[0].dtype == np.float64
    assert lve(lp, lg, idx) == lve(preds, gts, lips)
    assert homophone_lve(lp, lg, idx, spans, 30) == homophone_lve(preds, gts, lips, spans, 30)
    assert lve_dtw(lp, lg, idx, 30) == lve_dtw(preds, gts, lips, 30)
    np.testing.assert_equal(mtm(lp, lg, idx, 30), mtm(preds, gts, lips, 30))
    with pytest.raises(ValueError, match="sequence 0"):
        lips_only([np.zeros((5, 4))], lips)
    with pytest.raises(ValueError, match="lips"):
        lips_only(preds, [99])
