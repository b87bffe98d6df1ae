"""Timing-tolerant lip metrics beside LVE: MTM (mean temporal misalignment) and DTW-aligned LVE.

LVE compares frame t of the prediction with frame t of the ground truth, so a lip shape that is right
but one frame late counts as wrong. The two metrics here separate *when* the lips move from *how*.

**Lip aperture** (:func:`lip_aperture`). MTM's authors measure the 3-D distance between one central
upper-lip and one central lower-lip vertex of FLAME (vertices 3531 and 3504). Our datasets give only
the LVE lip region (``regions/lips.txt``), with no upper/lower split, so the split is derived: the lip
vertices are ranked by their vertical coordinate in a reference frame (the template when given, else
the sequence's first frame); those strictly above the median height form the upper set, the rest the
lower set, and the aperture of a frame is the 3-D distance between the two sets' centroids. *y is
vertical*: our synthetic head is built "y up, face toward +z, like VOCASET"
(:mod:`w2s.corpus.face.head`), and on its default mesh this median split reproduces the head's own
``upper_lip`` / ``lower_lip`` masks exactly (66 / 85 of 151 lip vertices). A rank split does not move
when the mouth opens (the lower lip only gets further below the upper one), so the reference frame
need not be at rest. The 3-D centroid distance, like the authors' 3-D vertex distance, also follows
a lip that tucks or protrudes (labiodentals), not only the vertical gap.

**MTM** (:func:`mtm`), as the CVPR 2025 paper "Perceptually Accurate 3D Talking Head Generation: New
Definitions, Speech-Mesh Representation, and Evaluation Metrics" (Chae-Yeon et al.,
arXiv 2503.20308) computes it in its released ``evaluation/evaluate_MTM.py``
(github.com/kaist-ami/Perceptual-3D-Talking-Head); restated here, not copied. Per sequence:

1. aperture of the ground truth and of the prediction, each smoothed by a Gaussian (sigma = 2 frames,
   ``scipy.ndimage.gaussian_filter1d``, its default reflecting edges);
2. derivative DTW: both smoothed apertures are differenced (``x_t - x_{t-1}``, 0 at t = 0, as the
   authors' code does; Keogh & Pazzani's smoother estimate is available as ``derivative="keogh"``),
   and the two derivative sequences are aligned by unconstrained DTW with cost ``|dg_i - dp_j|``
   (``librosa.sequence.dtw``, steps (1,1), (0,1), (1,0), equal weights);
3. the extrema (local maxima and minima, ``scipy.signal.find_peaks``) of both smoothed apertures;
   every warping-path pair (i, j) where i is a ground-truth extremum and j a predicted extremum *of
   the same kind* (max with max, min with min), and j lies between the ground-truth extrema just
   before and after i (inclusive; the sequence ends where there is none), contributes ``|i - j|``
   frames;
4. the sequence's misalignment is the mean of those contributions; a sequence with none (e.g. a
   still prediction, which has no extrema) has none (``nan``) and is left out.

MTM is the mean over sequences (sequence-weighted, as the authors average per-sequence values), in
milliseconds: ``frames * 1000 / fps``. It measures timing only: a prediction that opens half as wide
at the right moments has an MTM of a fraction of a frame (about 9 ms at 30 fps in the tests).
Deviations from the authors' script, all forced by our data: no FLAME vertex pair (the aperture above
instead); the ground truth is not subsampled (the authors take every second frame of 60 fps VOCASET
to meet 30 fps predictions; here both share one rate); the sequences are first cut to the shorter
length, like every metric in :mod:`w2s.evaluation.metrics`.

**DTW-aligned LVE** (:func:`lve_dtw`, this repository's). LVE after each ground-truth frame is
matched to a prediction frame at most ``max_shift_s`` away (a Sakoe-Chiba band of
``round(max_shift_s * fps)`` frames, 3 at 30 fps for the default 0.1 s), by DTW on the lip vertices
themselves: the cost of matching ground-truth frame i with prediction frame j is LVE's own frame term,
``max_{v in lips} ||G_i(v) - P_j(v)||^2``. The step pattern is asymmetric, (1,1), (1,0), (1,2): each
ground-truth frame is matched exactly once (a prediction frame may be repeated or skipped), so the
result is a mean over the same pooled ground-truth frames as LVE, and since the identity alignment is
one of the allowed paths, ``lve_dtw <= lve`` always, with equality at ``max_shift_s = 0``. A
prediction delayed by k <= band frames scores 0 except at the edges (the path starts at frame pair
(0, 0) and ends at (T-1, T-1), and the last k ground-truth frames never appear in the prediction); a
larger delay is only partly forgiven. Costs are computed on the band only (``(2k+1) * T`` frame
pairs), and cells outside it are infinite; the band is set in frames here rather than with
librosa's ``band_rad``, which is a fraction of the length rounded down.

Cost: per clip one ``T x T`` DTW for MTM and one banded DTW for ``lve_dtw`` (librosa's numba kernel,
under a millisecond at T = 150) plus ``2k+1`` LVE-sized frame comparisons: 4 to 6 ms a clip of
150 frames x 150 lip vertices, so :func:`~w2s.evaluation.metrics.evaluate` on 40 such clips (500
vertices) takes about 1.6 times as long as without them (0.25 s -> 0.40 s on a 2-core machine); the
first DTW in a process pays numba's start-up (1 to 2 s).

Inputs are as in :mod:`w2s.evaluation.metrics`: sequences ``(T, V, 3)`` or ``(T, V*3)``, numpy or
torch, lists of them or one; float64 inside.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np

from w2s.evaluation.sequences import _indices, _pairs, _sequence, _templates

VERTICAL_AXIS = 1  # y up on our synthetic head and on VOCASET / FLAME
SMOOTH_SIGMA = 2.0  # frames, the authors' Gaussian smoothing of the aperture
_ASYMMETRIC_STEPS = np.array([[1, 1], [1, 0], [1, 2]])  # every ground-truth frame matched once


def _split(ref: np.ndarray, lip: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray] | None:
    """(upper, lower) lip vertex indices: above the median height of `ref` (V, 3), and the rest."""
    h = ref[lip, axis]
    upper = h > np.median(h)
    if not upper.any() or upper.all():
        return None
    return lip[upper], lip[~upper]


def _aperture(seq: np.ndarray, upper: np.ndarray, lower: np.ndarray) -> np.ndarray:
    # centroid(upper) - centroid(lower) as one weighted sum over the vertices: 5x faster than indexing
    w = np.zeros(seq.shape[1])
    w[upper], w[lower] = 1.0 / len(upper), -1.0 / len(lower)
    return np.sqrt(((w @ seq) ** 2).sum(-1))


def lip_aperture(seq, lips, template=None, axis: int = VERTICAL_AXIS) -> np.ndarray:
    """Per-frame lip aperture (T,): distance between the centroids of the upper and lower lip vertices.

    The lip vertices are split at their median height (coordinate `axis`, y) in `template` (V, 3) when
    given, else in the sequence's first frame; see the module docstring. Raises ``ValueError`` when the
    lip vertices have no vertical extent there (no split possible).
    """
    s = _sequence(seq, "seq")
    lip = _indices(lips, s.shape[1], "lips")
    ref = s[0] if template is None else _templates(template, 1, s.shape[1])[0]
    parts = _split(ref, lip, axis)
    if parts is None:
        raise ValueError(
            "lips: the lip vertices have no vertical extent in the reference frame; no upper/lower split"
        )
    return _aperture(s, *parts)


def _derivative(x: np.ndarray, kind: str) -> np.ndarray:
    if kind == "diff":  # the authors' code: backward difference, 0 at the first frame
        return np.diff(x, prepend=x[:1])
    if kind == "keogh":  # Keogh & Pazzani (2001): mean of the backward and the central difference
        if len(x) < 3:
            return np.zeros_like(x)
        d = np.empty_like(x)
        d[1:-1] = ((x[1:-1] - x[:-2]) + (x[2:] - x[:-2]) / 2) / 2
        d[0], d[-1] = d[1], d[-2]
        return d
    raise ValueError(f"derivative must be 'diff' or 'keogh', got {kind!r}")


def _extrema(x: np.ndarray) -> dict[int, bool]:
    """{frame: True for a local maximum, False for a minimum}."""
    from scipy.signal import find_peaks

    out = {int(i): False for i in find_peaks(-x)[0]}
    out.update({int(i): True for i in find_peaks(x)[0]})
    return out


def _misalignment(a_gt: np.ndarray, a_pred: np.ndarray, sigma: float, derivative: str) -> list[int]:
    """Frame offsets |i - j| of the matched extrema of one sequence pair (see the module docstring)."""
    if len(a_gt) < 3:
        return []
    import librosa
    from scipy.ndimage import gaussian_filter1d

    if sigma > 0:
        a_gt, a_pred = gaussian_filter1d(a_gt, sigma), gaussian_filter1d(a_pred, sigma)
    dg, dp = _derivative(a_gt, derivative), _derivative(a_pred, derivative)
    _, path = librosa.sequence.dtw(C=np.abs(dg[:, None] - dp[None, :]))
    ext_g, ext_p = _extrema(a_gt), _extrema(a_pred)
    if not ext_g or not ext_p:
        return []
    order = sorted(ext_g)
    pos = {i: k for k, i in enumerate(order)}
    out = []
    for i, j in path[::-1].tolist():
        if i in ext_g and j in ext_p and ext_g[i] == ext_p[j]:
            k = pos[i]
            left = order[k - 1] if k > 0 else 0
            right = order[k + 1] if k + 1 < len(order) else len(a_gt) - 1
            if left <= j <= right:
                out.append(abs(i - j))
    return out


def _mtm_per_sequence(pairs, lip, refs, sigma, derivative, axis) -> np.ndarray:
    """Per sequence, mean matched-extremum offset in frames (``nan`` where nothing matched)."""
    out = []
    for (p, g), ref in zip(pairs, refs, strict=True):
        parts = _split(g[0] if ref is None else ref, lip, axis)
        if parts is None:
            out.append(float("nan"))
            continue
        d = _misalignment(_aperture(g, *parts), _aperture(p, *parts), sigma, derivative)
        out.append(float(np.mean(d)) if d else float("nan"))
    return np.asarray(out)


def _mtm_ms(pairs, lip, fps: float, refs=None) -> float:
    """MTM in ms of validated pairs with the default recipe (what :func:`mtm` and ``evaluate`` report)."""
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    per = _mtm_per_sequence(pairs, lip, refs or [None] * len(pairs), SMOOTH_SIGMA, "diff", VERTICAL_AXIS)
    per = per[np.isfinite(per)]
    return float(per.mean() * 1000.0 / fps) if per.size else float("nan")


def mtm_per_sequence(
    preds,
    gts,
    lips,
    fps: float,
    templates=None,
    sigma: float = SMOOTH_SIGMA,
    derivative: Literal["diff", "keogh"] = "diff",
    axis: int = VERTICAL_AXIS,
) -> np.ndarray:
    """Each sequence's mean temporal misalignment in ms (``nan`` where no extrema matched)."""
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    pairs = _pairs(preds, gts)
    lip = _indices(lips, pairs[0][0].shape[1], "lips")
    v = pairs[0][0].shape[1]
    refs = [None] * len(pairs) if templates is None else _templates(templates, len(pairs), v)
    return _mtm_per_sequence(pairs, lip, refs, sigma, derivative, axis) * (1000.0 / fps)


def mtm(
    preds,
    gts,
    lips,
    fps: float,
    templates=None,
    sigma: float = SMOOTH_SIGMA,
    derivative: Literal["diff", "keogh"] = "diff",
    axis: int = VERTICAL_AXIS,
) -> float:
    """Mean temporal misalignment of the lip aperture, in ms: mean over sequences (sequence-weighted).

    Sequences with no matched extrema (or whose lips cannot be split into upper and lower, see
    :func:`lip_aperture`) are left out; ``nan`` when none is left. The split uses `templates` (one
    ``(V, 3)`` or one per sequence) when given, else each ground truth's first frame, for both the
    ground truth and the prediction.
    """
    per = mtm_per_sequence(preds, gts, lips, fps, templates, sigma, derivative, axis)
    per = per[np.isfinite(per)]
    return float(per.mean()) if per.size else float("nan")


def _band(fps: float, max_shift_s: float) -> int:
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    if not (math.isfinite(max_shift_s) and max_shift_s >= 0):
        raise ValueError(f"max_shift_s must be a finite number >= 0, got {max_shift_s}")
    return int(math.floor(max_shift_s * fps + 0.5 + 1e-9))


def _aligned_lip_sq(p: np.ndarray, g: np.ndarray, lip: np.ndarray, k: int) -> np.ndarray:
    """(T,): for each ground-truth frame, LVE's frame term against the prediction frame DTW matches it to."""
    n = len(g)
    k = min(k, n - 1)
    if k <= 0:
        return ((p[:, lip] - g[:, lip]) ** 2).sum(-1).max(1)
    import librosa

    # (T, 3, L) so that the xyz sum adds three contiguous planes: 4x faster than .sum(-1) on (T, L, 3)
    P = np.ascontiguousarray(p[:, lip].transpose(0, 2, 1))
    G = np.ascontiguousarray(g[:, lip].transpose(0, 2, 1))
    C = np.full((n, n), np.inf)
    for d in range(-k, k + 1):  # only the band: prediction frame j = i + d
        a, b = max(0, -d), min(n, n - d)
        e = G[a:b] - P[a + d : b + d]
        np.square(e, out=e)
        i = np.arange(a, b)
        C[i, i + d] = (e[:, 0] + e[:, 1] + e[:, 2]).max(1)
    _, path = librosa.sequence.dtw(C=C, step_sizes_sigma=_ASYMMETRIC_STEPS)
    out = np.empty(n)
    out[path[:, 0]] = C[path[:, 0], path[:, 1]]
    return out


def _lve_dtw_frames(pairs, lip, fps: float, max_shift_s: float = 0.1) -> np.ndarray:
    """Aligned lip errors of validated pairs, pooled over their ground-truth frames."""
    k = _band(fps, max_shift_s)
    return np.concatenate([_aligned_lip_sq(p, g, lip, k) for p, g in pairs])


def lve_dtw_per_frame(pred, gt, lips, fps: float, max_shift_s: float = 0.1) -> np.ndarray:
    """One sequence: (T,) aligned lip errors, one per ground-truth frame (their mean is its ``lve_dtw``)."""
    k = _band(fps, max_shift_s)
    p, g = _pairs([pred], [gt])[0]
    return _aligned_lip_sq(p, g, _indices(lips, p.shape[1], "lips"), k)


def lve_dtw(preds, gts, lips, fps: float, max_shift_s: float = 0.1) -> float:
    """LVE after DTW alignment within +-`max_shift_s` (pooled over ground-truth frames, like LVE).

    Equals :func:`w2s.evaluation.metrics.lve` at ``max_shift_s = 0`` and never exceeds it.
    """
    pairs = _pairs(preds, gts)
    lip = _indices(lips, pairs[0][0].shape[1], "lips")
    return float(_lve_dtw_frames(pairs, lip, fps, max_shift_s).mean())


__all__ = ["lip_aperture", "lve_dtw", "lve_dtw_per_frame", "mtm", "mtm_per_sequence"]
