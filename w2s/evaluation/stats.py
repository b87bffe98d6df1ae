"""Paired comparisons of two conditions of the same model: does the plug change a metric?

    crossed_interval(lve_wav2sem, lve_none)   # each: (n_seeds, n_clips), or a list of per-seed 1-D arrays
    minimum_detectable_effect(lve_none)       # what a grid of this size could detect at all
    paired_test(lve_wav2sem, lve_none)        # legacy: one value per (seed, clip), flattened, same order

**The unit of inference.** The grid trains each host with S seeds (typically 3) per condition and
evaluates every trained model on the same N test clips, so a metric comes as two (S, N) arrays, paired
by seed (same initial weights except W_s) and by clip. Seeds are independent trainings and clips are
shared by every seed: the S·N pairs are *not* S·N independent observations. A test over all pairs
(:func:`paired_test`, Wilcoxon) counts each clip once per seed and each seed N times, so a seed-level
shift (one of 3 seeds trained a bit better) looks like an effect with p < 0.001. :func:`crossed_interval`
instead treats seed and clip as crossed random effects of the difference D = treated − control:

    D[s, c] = δ + u_s + v_c + w_sc,   u ~ (0, σ²_seed), v ~ (0, σ²_clip), w ~ (0, σ²_resid)

(v_c: clip-to-clip variation of the effect; clip main effects of the metric cancel in the pairing).
The two-way ANOVA without replication gives the mean squares MS_seed (df S−1), MS_clip (df N−1) and
MS_resid (df (S−1)(N−1)) with E[MS_seed] = σ²_resid + N σ²_seed, E[MS_clip] = σ²_resid + S σ²_clip,
E[MS_resid] = σ²_resid, hence the method-of-moments variance of the grand mean

    Var(mean D) = σ²_seed/S + σ²_clip/N + σ²_resid/(S N) = (MS_seed + MS_clip − MS_resid) / (S N).

Floor: each component is truncated at 0 (σ²_seed = max(0, (MS_seed − MS_resid)/N), σ²_clip =
max(0, (MS_clip − MS_resid)/S)), so the estimate is MS_seed + MS_clip − MS_resid when both are positive,
MS_seed (or MS_clip) when only one is, MS_resid when neither — always ≥ MS_resid/(S N) > 0 unless the
differences are constant. The interval is mean D ± t_{1−α/2, df}·SE with Satterthwaite's df for the
linear combination of mean squares actually used (≈ S−1 when seeds dominate: 3 seeds give t ≈ 4.3).
With S = 1 no seed variance is estimable: the interval is over clips only (SE² = var(D_c)/N, df N−1),
i.e. conditional on that one trained model, and the result says ``seed_variance_estimable: False``;
with N = 1 symmetrically over seeds only. Clips with a NaN in any seed of either array (a clip with no
pair word has NaN homophone-LVE for every seed) are dropped first; a seed that is NaN everywhere in
either array (a missing run) is dropped from both before that. Nothing assumes continuous data: the
same functions apply to minimal-pair scores (0, 0.5, 1 per (seed, word), words in place of clips), ties
and all-equal differences included (SE 0: the interval is the point itself). ``verdict`` says whether
the *treated* value is lower or higher than the control's (whether that is better depends on the metric);
it says "lower"/"higher" only when the interval excludes 0. ``relative_ci_low/high`` are the difference's
interval divided by the control mean: an approximation that ignores the control mean's own uncertainty.

**Power.** :func:`minimum_detectable_effect` asks, from the control runs alone, what paired difference a
grid of S' seeds × N' clips could detect; :func:`seeds_needed` inverts it. If the treated model behaves
like one more seed of the control model, D[s, c] has seed variance 2σ²_seed and residual variance
2σ²_resid (the clip main effects cancel), estimated from the control's own two-way ANOVA
(σ²_resid = MS_resid, σ²_seed = max(0, (MS_seed − MS_resid)/N)); then SE² = 2σ²_seed/S' + 2σ²_resid/(S' N')
and MDE = (t_{1−α/2, df} + t_{power, df})·SE. df: Satterthwaite's for the interval's MS_seed + MS_clip −
MS_resid of D with each mean square at its expectation: S'−1 when seeds dominate, and still small (≈ 2
for 3 seeds) when they do not, because the interval keeps MS_seed's S'−1 df whenever it exceeds MS_resid
— so the MDE describes *this* interval, not an oracle that knows σ²_seed = 0. S' < 2 is refused (no seed
variance, no normal-quantile fallback). The t + t rule is the usual approximation of the noncentral t:
at df = 2 its power is about 0.77 rather than 0.80, at df ≥ 5 within 0.01. Relative MDE = MDE / |control
mean|. In simulation (3 seeds × 40 clips) the interval is close to nominal when seeds dominate and
conservative (false-positive rate ≈ 0.025 at alpha 0.05) when the residual dominates.

Effect sizes of :func:`paired_test`: d_z (mean difference / its standard deviation) and the
matched-pairs rank-biserial correlation r (−1: every pair lower, +1: every pair higher); its
``seeds_lower`` says how many seeds' means moved the same way.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats


def paired_test(treated, control, groups=None) -> dict:
    """`treated` vs `control`, paired element by element; `groups` (e.g. the seed of each pair) adds
    ``seeds_lower`` / ``n_seeds``. Pairs where either value is NaN (a clip with no pair word) are dropped."""
    a, b = np.asarray(treated, dtype=np.float64), np.asarray(control, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"paired_test: treated and control must be 1-D of one length, got {a.shape} and {b.shape}")
    keep = np.isfinite(a) & np.isfinite(b)
    a, b = a[keep], b[keep]
    d = a - b
    out = {"n": int(d.size), "control_mean": _mean(b), "treated_mean": _mean(a), "mean_difference": _mean(d),
           "relative_change": _mean(a) / _mean(b) - 1 if d.size and _mean(b) != 0 else math.nan,
           "share_lower": float((d < 0).mean()) if d.size else math.nan}  # fmt: skip
    nonzero = d[d != 0]
    if nonzero.size == 0:
        out.update(p_value=1.0, effect_dz=0.0, rank_biserial=0.0)
    else:
        out["p_value"] = float(stats.wilcoxon(nonzero).pvalue)
        sd = d.std(ddof=1) if d.size > 1 else 0.0
        out["effect_dz"] = float(d.mean() / sd) if sd > 0 else math.copysign(math.inf, d.mean())
        ranks = stats.rankdata(np.abs(nonzero))
        out["rank_biserial"] = float((ranks[nonzero > 0].sum() - ranks[nonzero < 0].sum()) / ranks.sum())
    if groups is not None:
        g = np.asarray(groups)[keep]
        means = [(a[g == k].mean(), b[g == k].mean()) for k in dict.fromkeys(g.tolist())]
        out["n_seeds"] = len(means)
        out["seeds_lower"] = int(sum(x < y for x, y in means))
    return out


def _mean(x: np.ndarray) -> float:
    return float(x.mean()) if x.size else math.nan


def mean_std(values) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for one value) of a list of numbers, NaNs ignored."""
    v = np.asarray([x for x in values if x is not None and math.isfinite(x)], dtype=np.float64)
    if v.size == 0:
        return math.nan, math.nan
    return float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else 0.0


# ---------------------------------------------------------------------------------------------
# seeds and clips as crossed random effects

Grid = ArrayLike | Sequence[ArrayLike]


def _grid(x: Grid, name: str) -> np.ndarray:
    """`x` as a float (n_seeds, n_items) array; a list of per-seed 1-D arrays must not be ragged."""
    if isinstance(x, list | tuple) and len(x) and all(np.ndim(r) == 1 for r in x):
        lengths = [len(r) for r in x]
        if len(set(lengths)) > 1:
            raise ValueError(f"{name}: ragged input, the seeds have different numbers of clips: {lengths}")
    try:
        a = np.asarray(x, dtype=np.float64)
    except ValueError as e:  # ragged nesting of another kind
        msg = f"{name}: expected (n_seeds, n_clips) values, a 2-D array or equal-length rows ({e})"
        raise ValueError(msg) from e
    if a.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D (n_seeds, n_clips) array, got shape {a.shape} "
                         "(one seed: pass [values] or values.reshape(1, -1))")  # fmt: skip
    return a


def _drop_missing(*grids: np.ndarray) -> tuple[list[np.ndarray], int, int]:
    """Drop seeds that are NaN everywhere in any grid, then clips with a NaN in any seed of any grid."""
    seed_ok = np.logical_and.reduce([np.isfinite(g).any(axis=1) for g in grids])
    grids = tuple(g[seed_ok] for g in grids)
    clip_ok = np.logical_and.reduce([np.isfinite(g).all(axis=0) for g in grids]) & seed_ok.any()
    return [g[:, clip_ok] for g in grids], int((~seed_ok).sum()), int((~clip_ok).sum())


def _anova2(x: np.ndarray) -> tuple[float, float, float]:
    """Mean squares (seed, clip, residual) of the two-way ANOVA without replication of `x` (S ≥ 2, N ≥ 2)."""
    s, n = x.shape
    m, rows, cols = x.mean(), x.mean(axis=1), x.mean(axis=0)
    resid = x - rows[:, None] - cols[None, :] + m
    ms_seed = n * float(((rows - m) ** 2).sum()) / (s - 1)
    ms_clip = s * float(((cols - m) ** 2).sum()) / (n - 1)
    ms_resid = float((resid**2).sum()) / ((s - 1) * (n - 1))
    return ms_seed, ms_clip, ms_resid


def _satterthwaite(terms: list[tuple[float, float]]) -> float:
    """Degrees of freedom of Σ c·MS for terms (c·MS, df); NaN when the sum is 0."""
    num = sum(v for v, _ in terms)
    den = sum(v * v / df for v, df in terms if v != 0)
    return num * num / den if den > 0 else math.nan


def crossed_interval(treated: Grid, control: Grid, alpha: float = 0.05) -> dict[str, Any]:
    """Mean paired difference treated − control over (seed, clip) with a (1−alpha) interval that treats
    seeds and clips as crossed random effects (see the module docstring). Inputs: (n_seeds, n_clips)
    arrays, or lists of per-seed 1-D arrays, paired by row (seed) and column (clip or word)."""
    if not 0 < alpha < 1:
        raise ValueError(f"crossed_interval: alpha must be in (0, 1), got {alpha}")
    a, b = _grid(treated, "treated"), _grid(control, "control")
    if a.shape != b.shape:
        raise ValueError(f"crossed_interval: treated and control must have one shape, "
                         f"got {a.shape} and {b.shape}")  # fmt: skip
    (a, b), seeds_dropped, clips_dropped = _drop_missing(a, b)
    s, n = a.shape
    d = a - b
    out: dict[str, Any] = {"n_seeds": s, "n_clips": n, "n_seeds_dropped": seeds_dropped,
                           "n_clips_dropped": clips_dropped, "seed_variance_estimable": s >= 2,
                           "clip_variance_estimable": n >= 2}  # fmt: skip
    nan = math.nan
    if d.size == 0:
        out.update(mean_difference=nan, ci_low=nan, ci_high=nan, se=nan, df=nan, p_value=nan, control_mean=nan,
                   treated_mean=nan, relative_change=nan, relative_ci_low=nan, relative_ci_high=nan,
                   seeds_lower=0, var_seed=nan, var_clip=nan, var_residual=nan, verdict="no clear effect")  # fmt: skip
        return out
    mean = float(d.mean())
    var_seed = var_clip = var_resid = nan
    if s >= 2 and n >= 2:
        ms_s, ms_c, ms_r = _anova2(d)
        use_s, use_c = ms_s > ms_r, ms_c > ms_r  # truncate negative components at 0
        var_seed, var_clip, var_resid = max(0.0, (ms_s - ms_r) / n), max(0.0, (ms_c - ms_r) / s), ms_r
        terms = [(float(use_s) * ms_s, s - 1), (float(use_c) * ms_c, n - 1),
                 ((1.0 - use_s - use_c) * ms_r, (s - 1) * (n - 1))]  # fmt: skip
        var_mean = sum(v for v, _ in terms) / (s * n)
        df = _satterthwaite(terms)
    elif s * n >= 2:  # one seed (clips only, conditional on that model) or one clip (seeds only)
        flat = d.ravel()
        total = float(flat.var(ddof=1))
        if s == 1:
            var_clip = total  # clip and residual variance, not separable
        else:
            var_seed = total  # seed and residual variance, not separable
        var_mean, df = total / flat.size, float(flat.size - 1)
    else:
        var_mean, df = nan, nan
    se = math.sqrt(var_mean) if var_mean == var_mean else nan
    if se == 0:
        lo = hi = mean
        p = 1.0 if mean == 0 else 0.0
    else:
        half = float(stats.t.ppf(1 - alpha / 2, df)) * se
        lo, hi = mean - half, mean + half
        p = float(2 * stats.t.sf(abs(mean) / se, df)) if se == se else nan
    cm, tm = float(b.mean()), float(a.mean())
    rel_lo, rel_hi = sorted((lo / cm, hi / cm)) if cm != 0 else (nan, nan)
    out.update(mean_difference=mean, ci_low=lo, ci_high=hi, se=se, df=df, p_value=p, control_mean=cm,
               treated_mean=tm, relative_change=tm / cm - 1 if cm != 0 else nan,
               relative_ci_low=rel_lo, relative_ci_high=rel_hi,  # approximation: ignores cm's own uncertainty
               seeds_lower=int((d.mean(axis=1) < 0).sum()), var_seed=var_seed, var_clip=var_clip,
               var_residual=var_resid,
               verdict="lower" if hi < 0 else "higher" if lo > 0 else "no clear effect")  # fmt: skip
    return out


def _control_components(control: Grid) -> tuple[float, float, float, int, int]:
    """(σ²_seed, σ²_resid, mean, S, N) of the control runs, from their two-way ANOVA."""
    (c,), _, _ = _drop_missing(_grid(control, "control"))
    s, n = c.shape
    if s < 2 or n < 2:
        raise ValueError(f"minimum_detectable_effect: the control needs ≥ 2 seeds and ≥ 2 clips with values "
                         f"to estimate seed and residual variance, got {s} × {n}")  # fmt: skip
    ms_s, _, ms_r = _anova2(c)
    return max(0.0, (ms_s - ms_r) / n), ms_r, float(c.mean()), s, n


def detectable(se: float, df: float, alpha: float = 0.05, power: float = 0.8) -> float:
    """The difference an interval with this SE and df detects with probability `power`: (t_{1−α/2} + t_power)·SE."""
    return float(stats.t.ppf(1 - alpha / 2, df) + stats.t.ppf(power, df)) * se


def _mde(var_seed: float, var_resid: float, s: int, n: int, alpha: float, power: float) -> tuple[float, ...]:
    """(mde, se, df) of the crossed interval for S' = s seeds and N' = n clips."""
    vs, vr = 2 * var_seed, 2 * var_resid  # variances of the paired difference's seed and residual parts
    se = math.sqrt(vs / s + vr / (s * n))
    # df: Satterthwaite's for MS_seed + MS_clip − MS_resid of D, the mean squares at their expectations
    ms_s, ms_c, ms_r = vr + n * vs, vr, vr
    df = float(s - 1)  # one clip, or all variances 0
    if n >= 2 and ms_s > 0:
        df = _satterthwaite([(ms_s, s - 1), (ms_c, n - 1), (-ms_r, (s - 1) * (n - 1))])
    return (detectable(se, df, alpha, power), se, df)


def minimum_detectable_effect(control: Grid, n_seeds: int | None = None, n_clips: int | None = None,
                              alpha: float = 0.05, power: float = 0.8) -> dict[str, Any]:  # fmt: skip
    """The paired difference that :func:`crossed_interval` would detect with probability `power` in a grid of
    `n_seeds` × `n_clips` (defaults: the control's own S × N), from the control runs (S × N) alone:
    MDE = (t_{1−α/2, df} + t_{power, df})·SE, SE² = 2σ²_seed/S' + 2σ²_resid/(S'·N') (module docstring).
    ``var_seed`` / ``var_residual`` are the control's σ², not the difference's (twice these)."""
    var_seed, var_resid, mean, s, n = _control_components(control)
    s2, n2 = s if n_seeds is None else n_seeds, n if n_clips is None else n_clips
    if s2 < 2:
        raise ValueError(f"minimum_detectable_effect: n_seeds must be ≥ 2 (seed variance needs 2), got {s2}")
    if n2 < 1 or not 0 < alpha < 1 or not 0 < power < 1:
        raise ValueError(f"minimum_detectable_effect: need n_clips ≥ 1 and alpha, power in (0, 1), "
                         f"got {n2}, {alpha}, {power}")  # fmt: skip
    mde, se, df = _mde(var_seed, var_resid, s2, n2, alpha, power)
    return {"mde": mde, "mde_relative": mde / abs(mean) if mean != 0 else math.nan, "se": se, "df": df,
            "n_seeds": s2, "n_clips": n2, "control_mean": mean, "var_seed": var_seed,
            "var_residual": var_resid}  # fmt: skip


def seeds_needed(control: Grid, target_relative: float, n_clips: int | None = None, alpha: float = 0.05,
                 power: float = 0.8, max_seeds: int = 100) -> int | None:  # fmt: skip
    """Smallest number of seeds (≥ 2) whose relative MDE (:func:`minimum_detectable_effect`) is at most
    `target_relative` (e.g. 0.03 for a 3 % change, sign ignored); None if more than `max_seeds` are needed."""
    var_seed, var_resid, mean, _, n = _control_components(control)
    n = n if n_clips is None else n_clips
    if mean == 0 or n < 1:
        return None
    for s in range(2, max_seeds + 1):
        if _mde(var_seed, var_resid, s, n, alpha, power)[0] / abs(mean) <= abs(target_relative):
            return s
    return None
