"""One evaluator for every model: LVE, MVE, FDD and homophone-LVE, as the community computes them.

Definitions (see ``reference/decoders-voca-faceformer-codetalker.md`` §5; restated, not copied):

* **LVE** (lip vertex error, CodeTalker's ``cal_metric.py``, the number in the tables): pool the frames
  of *all* sequences; for each frame take the maximum over lip vertices of the **squared** L2 error
  ``sum_xyz (G - P)^2``; average over the pooled frames (frame-weighted, so long sequences count
  more). It is *not* square-rooted, although papers label it "mm".
* **lve_mm**: ``sqrt(LVE) * 1000``, the *root of LVE in mm* when coordinates are metres (VOCASET).
  It is a readable size of the typical worst lip error, not a value from any table.
* **lve_l2**: the same pooled max with the un-squared L2 norm (MeshTalk's wording; some third-party
  code computes this). Reported for comparison only.
* **MVE** (FaceDiffuser's): mean over pooled frames and all vertices of the un-squared L2 error.
* **FDD** (upper-face dynamics deviation, CodeTalker's): per sequence,
  ``sigma = mean_{v in U} std_t ||x_t(v) - template(v)||^2`` (numpy std, ddof = 0) for ground truth
  and prediction; ``FDD_seq = sigma_gt - sigma_pred`` is **signed**: an over-animated upper face gives
  a negative value. FDD is the mean over sequences (sequence-weighted). ``fdd_abs`` averages
  ``|sigma_gt - sigma_pred|`` instead (FaceDiffuser's "ABS FDD").
* **homophone-LVE** (this repository's): LVE restricted to frames inside the time spans of
  near-homophone pair words, pooled over all sequences like LVE.

Length rule: a prediction and its ground truth are both cut to ``min(len(pred), len(gt))`` frames.
CodeTalker cuts only the prediction (to ``len(gt)``); the Wav2Sem copy cuts both, which is what we do
(the two agree whenever the prediction is at least as long as the ground truth, the usual case).

Inputs: a sequence is ``(T, V, 3)`` or ``(T, V*3)``, numpy or torch. ``preds`` / ``gts`` are a list
(or tuple) of sequences, or a single sequence, or a 4-D ``(B, T, V, 3)`` batch of equal-length
sequences. Templates are ``(V, 3)`` (or ``(V*3,)``): one shared, or a list with one per sequence.
Region indices are integer index arrays (or boolean masks of length V). Computation is in float64.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from w2s.evaluation.lip_timing import _lve_dtw_frames, _mtm_ms
from w2s.evaluation.sequences import _indices, _pairs, _templates


def _per_frame_lip_sq(pairs, lips) -> list[np.ndarray]:
    """Per sequence, per frame: max over lip vertices of the squared L2 error, shape (T,)."""
    lip = _indices(lips, pairs[0][0].shape[1], "lips")
    return [((p[:, lip] - g[:, lip]) ** 2).sum(-1).max(axis=1) for p, g in pairs]


# ---------------------------------------------------------------------------------------------
# metrics


def lve(preds, gts, lips) -> float:
    """Lip vertex error, CodeTalker's: pooled mean over frames of max_{v in lips} ||G - P||^2 (squared)."""
    return float(np.concatenate(_per_frame_lip_sq(_pairs(preds, gts), lips)).mean())


def lve_mm(preds, gts, lips, scale: float = 1000.0) -> float:
    """Root of LVE in mm: ``sqrt(lve) * scale``; ``scale=1000`` converts metres (VOCASET) to mm.

    This is the square root of the pooled mean (not a mean of roots). BIWI coordinates are
    dimensionless, so there the "mm" is nominal.
    """
    return math.sqrt(lve(preds, gts, lips)) * scale


def lve_l2(preds, gts, lips) -> float:
    """LVE with the un-squared L2 norm: pooled mean over frames of max_{v in lips} ||G - P||."""
    return float(np.sqrt(np.concatenate(_per_frame_lip_sq(_pairs(preds, gts), lips))).mean())


def mve(preds, gts) -> float:
    """Mean vertex error: mean over pooled frames and all vertices of the un-squared ||G - P||."""
    pairs = _pairs(preds, gts)
    per_frame = [np.sqrt(((p - g) ** 2).sum(-1)).mean(axis=1) for p, g in pairs]
    return float(np.concatenate(per_frame).mean())


def _fdd_terms(preds, gts, templates, upper_face) -> np.ndarray:
    """Per sequence sigma_gt - sigma_pred (signed)."""
    pairs = _pairs(preds, gts)
    v = pairs[0][0].shape[1]
    tmpl = _templates(templates, len(pairs), v)
    up = _indices(upper_face, v, "upper_face")
    out = []
    for (p, g), x in zip(pairs, tmpl, strict=True):
        s_g = (((g[:, up] - x[up]) ** 2).sum(-1)).std(axis=0, ddof=0).mean()
        s_p = (((p[:, up] - x[up]) ** 2).sum(-1)).std(axis=0, ddof=0).mean()
        out.append(s_g - s_p)
    return np.asarray(out)


def fdd(preds, gts, templates, upper_face) -> float:
    """Upper-face dynamics deviation, signed, CodeTalker's; mean over sequences of sigma_gt - sigma_pred.

    sigma = mean over upper-face vertices of the std over time (ddof=0) of ||x_t(v) - template(v)||^2.
    Negative when the prediction moves the upper face more than the ground truth does.
    """
    return float(_fdd_terms(preds, gts, templates, upper_face).mean())


def fdd_abs(preds, gts, templates, upper_face) -> float:
    """Mean over sequences of |sigma_gt - sigma_pred| (FaceDiffuser's "ABS FDD")."""
    return float(np.abs(_fdd_terms(preds, gts, templates, upper_face)).mean())


def frames_in_spans(n_frames: int, spans, fps: float) -> np.ndarray:
    """Boolean mask (n_frames,): frame t is selected when its time ``t / fps`` lies in [start, end).

    The time of frame t is its start time t/fps (frame 0 at 0 s). A span end is exclusive, so two
    adjacent spans never share a frame, and a span shorter than one frame may select none.
    """
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    t = np.arange(n_frames) / float(fps)
    mask = np.zeros(n_frames, dtype=bool)
    for j, span in enumerate(spans):
        try:
            start, end = (float(span[0]), float(span[1]))
        except (TypeError, ValueError, IndexError) as e:
            raise ValueError(f"span {j}: expected (start_s, end_s), got {span!r}") from e
        if not (math.isfinite(start) and math.isfinite(end)) or end < start:
            raise ValueError(f"span {j}: invalid time span ({start}, {end})")
        mask |= (t >= start) & (t < end)
    return mask


def _homophone_frames(pairs, lips, spans, fps) -> np.ndarray:
    if len(spans) != len(pairs):
        raise ValueError(f"{len(spans)} span lists for {len(pairs)} sequences (one list per sequence)")
    per_frame = _per_frame_lip_sq(pairs, lips)
    sel = [e[frames_in_spans(len(e), s, fps)] for e, s in zip(per_frame, spans, strict=True)]
    return np.concatenate(sel)


def homophone_lve(preds, gts, lips, spans, fps: float = 30) -> float:
    """LVE restricted to the frames inside near-homophone word spans, pooled over all sequences.

    `spans` is one list per sequence of ``(start_s, end_s)`` time spans (see
    :func:`w2s.data.faces.pair_word_spans`); a frame t is inside when ``t / fps`` lies in ``[start, end)``
    (:func:`frames_in_spans`). Frames are pooled like :func:`lve` (frame-weighted).
    Returns ``nan`` when no frame of any sequence falls inside a span (there is nothing to measure).
    """
    sel = _homophone_frames(_pairs(preds, gts), lips, list(spans), fps)
    return float(sel.mean()) if sel.size else float("nan")


def evaluate(
    preds,
    gts,
    templates,
    lips,
    upper_face,
    spans: Sequence | None = None,
    fps: float = 30,
    mm_scale: float = 1000.0,
) -> dict:
    """All metrics in one pass, as plain Python numbers (ready for ``metrics.json``).

    Keys: ``lve`` (squared, CodeTalker's, the table number), ``lve_mm`` (root of LVE × `mm_scale`),
    ``lve_l2``, ``mve``, ``fdd`` (signed), ``fdd_abs``, ``n_frames`` (pooled, after the min-length
    cut), ``n_sequences``; with `spans`: ``homophone_lve`` (``nan`` if no frame falls in a span) and
    ``homophone_n_frames``. Timing-tolerant lip metrics at `fps` (:mod:`w2s.evaluation.lip_timing`):
    ``mtm_ms`` (mean temporal misalignment of the lip aperture in ms, sequence-weighted; ``nan`` when
    no sequence has matching extrema; the upper/lower lip split comes from each ground truth's first
    frame, as in the per-clip values) and ``lve_dtw`` (LVE after DTW alignment within +-0.1 s, pooled
    over frames like LVE, never above it).
    """
    pairs = _pairs(preds, gts)
    per_frame = np.concatenate(_per_frame_lip_sq(pairs, lips))
    out = {
        "lve": float(per_frame.mean()),
        "lve_mm": float(math.sqrt(per_frame.mean()) * mm_scale),
        "lve_l2": float(np.sqrt(per_frame).mean()),
        "mve": float(np.concatenate([np.sqrt(((p - g) ** 2).sum(-1)).mean(1) for p, g in pairs]).mean()),
    }
    p_list = [p for p, _ in pairs]
    g_list = [g for _, g in pairs]
    terms = _fdd_terms(p_list, g_list, templates, upper_face)
    out["fdd"] = float(terms.mean())
    out["fdd_abs"] = float(np.abs(terms).mean())
    if spans is not None:
        sel = _homophone_frames(pairs, lips, list(spans), fps)
        out["homophone_lve"] = float(sel.mean()) if sel.size else float("nan")
        out["homophone_n_frames"] = int(sel.size)
    lip = _indices(lips, pairs[0][0].shape[1], "lips")
    out["mtm_ms"] = _mtm_ms(pairs, lip, fps)
    out["lve_dtw"] = float(_lve_dtw_frames(pairs, lip, fps).mean())
    out["n_frames"] = int(per_frame.size)
    out["n_sequences"] = len(pairs)
    return out
