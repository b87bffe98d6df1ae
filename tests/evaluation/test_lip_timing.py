"""MTM and DTW-aligned LVE (w2s.evaluation.lip_timing) on a synthetic mouth whose timing is known."""

from __future__ import annotations

import math

import numpy as np
import pytest

from w2s.evaluation import lip_timing as lt
from w2s.evaluation import metrics

FPS = 30
N_LIP = 8  # vertices per lip row
LIPS = np.arange(2 * N_LIP)


def _opening(n: int, seed: int = 0) -> np.ndarray:
    """A smooth, speech-like opening curve (a few syllables a second), length n."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    o = np.zeros(n)
    for _ in range(4):
        o += rng.uniform(0.2, 1.0) * np.sin(2 * np.pi * t / rng.uniform(7, 20) + rng.uniform(0, 2 * np.pi))
    return o - o.min()


def _mouth(opening: np.ndarray, protrusion: np.ndarray | None = None) -> np.ndarray:
    """(T, 2*N_LIP + 3, 3): an upper lip row at y = 0.5 + o/2, a lower one at y = -0.5 - o/2 (same x),
    three still non-lip vertices above. The lip aperture is exactly 1 + o."""
    n = len(opening)
    x = np.linspace(-1, 1, N_LIP)
    seq = np.zeros((n, 2 * N_LIP + 3, 3))
    seq[:, :N_LIP, 0] = seq[:, N_LIP : 2 * N_LIP, 0] = x
    seq[:, :N_LIP, 1] = 0.5 + opening[:, None] / 2
    seq[:, N_LIP : 2 * N_LIP, 1] = -0.5 - opening[:, None] / 2
    if protrusion is not None:  # the lips push forward, most at the centre
        seq[:, : 2 * N_LIP, 2] = protrusion[:, None] * np.tile(1 - x**2, 2)
    seq[:, 2 * N_LIP :, 1] = 3.0
    return seq


T = 120
PAD = 12
SIGNAL = _opening(T + 2 * PAD)
PROTRUSION = 0.3 * _opening(T + 2 * PAD, seed=1)


def _clip(shift: int = 0, scale: float = 1.0) -> np.ndarray:
    """Frames PAD - shift .. of the underlying motion: shift > 0 is the ground truth delayed by `shift`
    frames (pred[t] = gt[t - shift]), shift < 0 is early."""
    s = slice(PAD - shift, PAD - shift + T)
    return _mouth(scale * SIGNAL[s], PROTRUSION[s])


GT = _clip()


def test_aperture_follows_the_opening():
    a = lt.lip_aperture(GT, LIPS)
    np.testing.assert_allclose(a, 1 + SIGNAL[PAD : PAD + T], atol=1e-12)
    # the upper/lower split is a rank split: the same from a wide-open reference frame or a template
    wide = int(np.argmax(SIGNAL[PAD : PAD + T]))
    np.testing.assert_allclose(lt.lip_aperture(GT, LIPS, template=GT[wide]), a, atol=1e-12)
    # flat (T, V*3) layout and a boolean lip mask are accepted
    mask = np.zeros(GT.shape[1], dtype=bool)
    mask[LIPS] = True
    np.testing.assert_allclose(lt.lip_aperture(GT.reshape(T, -1), mask), a, atol=1e-12)
    # lips with no vertical extent cannot be split
    flat = GT.copy()
    flat[:, :, 1] = 0.0
    with pytest.raises(ValueError, match="no vertical extent"):
        lt.lip_aperture(flat, LIPS)


def test_median_split_on_our_head_is_its_upper_and_lower_lip():
    # the synthetic head is y up; split at the median y, its lip region falls into the head's own lip masks
    from w2s.corpus.face.head import make_head

    head = make_head()
    lips = head.regions["lips"]
    y = head.vertices[lips, 1]
    assert set(lips[y > np.median(y)]) == set(head.regions["upper_lip"])
    assert set(lips[y <= np.median(y)]) == set(head.regions["lower_lip"])


def test_identical_sequences_score_zero():
    assert lt.mtm([GT], [GT], LIPS, FPS) == 0.0
    assert lt.lve_dtw([GT], [GT], LIPS, FPS) == 0.0


@pytest.mark.parametrize("shift", [2, -2, 1, 4])
def test_a_delay_of_k_frames_is_k_frames_of_mtm(shift):
    pred = _clip(shift)
    want = abs(shift) * 1000 / FPS
    assert lt.mtm([pred], [GT], LIPS, FPS) == pytest.approx(want, abs=0.25 * 1000 / FPS)


def test_keogh_derivative_gives_the_same_delay():
    got = lt.mtm([_clip(2)], [GT], LIPS, FPS, derivative="keogh")
    assert got == pytest.approx(2 * 1000 / FPS, abs=0.25 * 1000 / FPS)
    with pytest.raises(ValueError, match="derivative"):
        lt.mtm([GT], [GT], LIPS, FPS, derivative="central")


def test_lve_dtw_forgives_a_small_delay():
    k = 2
    pred = _clip(k)  # pred[t] = gt[t - 2]: 67 ms late, inside the +-3-frame (100 ms) band
    plain = metrics.lve([pred], [GT], LIPS)
    aligned = lt.lve_dtw([pred], [GT], LIPS, FPS)
    assert plain > 0.05
    assert aligned < 0.1 * plain
    # 0 away from the edges; at the edges the path must still start at frame pair (0, 0) and end at
    # (T-1, T-1), and the late prediction never shows the last k ground-truth frames
    per = lt.lve_dtw_per_frame(pred, GT, LIPS, FPS)
    assert per.shape == (T,)
    np.testing.assert_allclose(per[k : T - k], 0.0, atol=1e-12)
    assert per[T - k :].min() > 0
    assert aligned == pytest.approx(per.mean())


def test_a_delay_beyond_the_band_is_not_forgiven():
    far = _clip(6)  # 200 ms late, twice the 100 ms band
    plain = metrics.lve([far], [GT], LIPS)
    aligned = lt.lve_dtw([far], [GT], LIPS, FPS)
    assert aligned > 0.25 * plain
    assert aligned > 10 * lt.lve_dtw([_clip(2)], [GT], LIPS, FPS)
    # a band wide enough for it (0.25 s = 8 frames) forgives it too
    assert lt.lve_dtw([far], [GT], LIPS, FPS, max_shift_s=0.25) < 0.15 * plain
    # still MTM sees the 6 frames
    assert lt.mtm([far], [GT], LIPS, FPS) == pytest.approx(200.0, abs=0.25 * 1000 / FPS)


def test_lve_dtw_is_lve_without_a_band_and_never_above_it():
    rng = np.random.default_rng(3)
    preds = [GT + rng.normal(scale=0.05, size=GT.shape), _clip(3, scale=0.7), _clip(-5)]
    gts = [GT, GT, GT[:100]]  # the last pair is cut to 100 frames, like LVE
    plain = metrics.lve(preds, gts, LIPS)
    assert lt.lve_dtw(preds, gts, LIPS, FPS, max_shift_s=0) == pytest.approx(plain, rel=1e-12)
    for shift_s in (0.05, 0.1, 0.3):
        assert lt.lve_dtw(preds, gts, LIPS, FPS, max_shift_s=shift_s) <= plain + 1e-12
    with pytest.raises(ValueError, match="max_shift_s"):
        lt.lve_dtw(preds, gts, LIPS, FPS, max_shift_s=-0.1)
    with pytest.raises(ValueError, match="fps"):
        lt.lve_dtw(preds, gts, LIPS, 0)


def test_mtm_measures_timing_not_size():
    half = _clip(0, scale=0.5)  # opens half as wide, at the right moments
    assert metrics.lve([half], [GT], LIPS) > 0.05
    assert lt.mtm([half], [GT], LIPS, FPS) < 0.5 * 1000 / FPS


def test_mtm_is_a_mean_over_sequences_that_have_extrema():
    a, b = _clip(1), _clip(3)[:90]
    per = lt.mtm_per_sequence([a, b], [GT, GT], LIPS, FPS)
    assert per == pytest.approx([1000 / FPS, 3000 / FPS], abs=0.25 * 1000 / FPS)
    assert lt.mtm([a, b], [GT, GT], LIPS, FPS) == pytest.approx(per.mean())  # not frame-weighted
    # a still prediction has no extrema to match: left out, nan alone
    still = np.repeat(GT[:1], T, axis=0)
    assert math.isnan(lt.mtm([still], [GT], LIPS, FPS))
    assert lt.mtm([a, still], [GT, GT], LIPS, FPS) == pytest.approx(per[0])
    # too short to have extrema
    assert math.isnan(lt.mtm([GT[:2]], [GT[:2]], LIPS, FPS))


def test_evaluate_adds_the_timing_metrics_and_keeps_the_others():
    rng = np.random.default_rng(7)
    preds = [_clip(2), _clip(-1, scale=0.8)[:100], GT + rng.normal(scale=0.02, size=GT.shape)]
    gts = [GT, GT, GT]
    tmpl = GT[0]
    upper = [2 * N_LIP, 2 * N_LIP + 1]
    spans = [[(0.5, 1.5)], [], [(0.0, 0.2)]]
    res = metrics.evaluate(preds, gts, tmpl, LIPS, upper, spans=spans, fps=FPS)
    old_keys = {"lve", "lve_mm", "lve_l2", "mve", "fdd", "fdd_abs", "homophone_lve", "homophone_n_frames",
                "n_frames", "n_sequences"}  # fmt: skip
    assert set(res) == old_keys | {"mtm_ms", "lve_dtw"}
    # the old keys hold what they held: the single metrics' values
    assert res["lve"] == pytest.approx(metrics.lve(preds, gts, LIPS), rel=1e-12)
    assert res["lve_mm"] == pytest.approx(metrics.lve_mm(preds, gts, LIPS), rel=1e-12)
    assert res["lve_l2"] == pytest.approx(metrics.lve_l2(preds, gts, LIPS), rel=1e-12)
    assert res["mve"] == pytest.approx(metrics.mve(preds, gts), rel=1e-12)
    assert res["fdd"] == pytest.approx(metrics.fdd(preds, gts, tmpl, upper), rel=1e-12)
    assert res["fdd_abs"] == pytest.approx(metrics.fdd_abs(preds, gts, tmpl, upper), rel=1e-12)
    assert res["homophone_lve"] == pytest.approx(
        metrics.homophone_lve(preds, gts, LIPS, spans, FPS), rel=1e-12
    )
    assert res["n_frames"] == 2 * T + 100 and res["n_sequences"] == 3
    # the new ones are the lip_timing functions' (split from each ground truth's first frame)
    assert res["mtm_ms"] == pytest.approx(lt.mtm(preds, gts, LIPS, FPS), rel=1e-12)
    assert res["lve_dtw"] == pytest.approx(lt.lve_dtw(preds, gts, LIPS, FPS), rel=1e-12)
    assert res["lve_dtw"] < res["lve"]
    assert all(isinstance(v, (int, float)) for v in res.values())


def test_per_clip_metrics_have_the_timing_metrics():
    from w2s.evaluation.decoders import per_clip_metrics

    preds, gts = [_clip(2), _clip(-1)], [GT, GT]
    rows = per_clip_metrics(preds, gts, LIPS, None, FPS)
    assert rows["mtm_ms"] == pytest.approx([2000 / FPS, 1000 / FPS], abs=0.25 * 1000 / FPS)
    assert rows["lve_dtw"] == pytest.approx([lt.lve_dtw([p], [g], LIPS, FPS) for p, g in zip(preds, gts)])
    # the per-clip MTM averages to evaluate's (both sequence-weighted, same upper/lower split)
    res = metrics.evaluate(preds, gts, GT[0], LIPS, [2 * N_LIP], fps=FPS)
    assert np.mean(rows["mtm_ms"]) == pytest.approx(res["mtm_ms"])
