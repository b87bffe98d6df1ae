"""The grid's tables (notebook 04, the ladder of notebook 05, the benchmarks): from a list of cell results
(:func:`w2s.evaluation.grid.run_grid`) to means over seeds, paired differences against ``none`` with 95 %
intervals (seeds and clips both random, :func:`w2s.evaluation.stats.crossed_interval`), the minimum
detectable effects, the headline rows, verdicts, the use test's rows and timings.

    table = summary_rows(results)                  # mean ± std over seeds per host and condition
    tests = paired_rows(results)                   # each F_s vs none per host: Δ with a 95 % interval
    power = mde_rows(results)                      # the smallest change the grid could detect
"""

from __future__ import annotations

import math

import numpy as np

from w2s.evaluation.paper import oracle_relative_change, relative_change
from w2s.evaluation.stats import (
    crossed_interval,
    detectable,
    mean_std,
    minimum_detectable_effect,
    seeds_needed,
)

METRICS = ("lve", "lve_mm", "mve", "fdd", "homophone_lve", "minimal_pair_accuracy", "mtm_ms", "lve_dtw")
PAIRED_METRICS = ("lve", "homophone_lve", "minimal_pair_accuracy", "lve_dtw")


def summary_rows(results: list[dict], metrics: tuple[str, ...] = METRICS) -> list[dict]:
    """Per host and condition: each metric's mean and standard deviation over seeds (``{m}`` and ``{m}_std``)."""
    rows = []
    for host in dict.fromkeys(r["host"] for r in results):
        for sem in dict.fromkeys(r["semantic"] for r in results):
            runs = [r for r in results if r["host"] == host and r["semantic"] == sem]
            if not runs:
                continue
            row = {"host": host, "semantic": sem, "seeds": len(runs)}
            for m in metrics:
                row[m], row[f"{m}_std"] = mean_std([r["metrics"].get(m) for r in runs])
            row["train_minutes"] = float(np.mean([r["train_seconds"] or 0 for r in runs]) / 60)
            rows.append(row)
    return rows


def _values(result: dict, metric: str) -> list[float]:
    """A cell's per-unit values of `metric`: per clip, or per pair word for minimal-pair accuracy."""
    if metric == "minimal_pair_accuracy":
        return result["minimal_pair_scores"]
    return result["per_clip"][metric]


def _paired(results: list[dict], host: str, treated: str, control: str, metric: str) -> dict | None:
    """:func:`crossed_interval` of `treated` − `control` over the seeds both have, (seed, clip) arrays."""
    by = {(r["semantic"], r["seed"]): r for r in results if r["host"] == host}
    seeds = sorted(k for s, k in by if s == treated and (control, k) in by)
    if not seeds or any(metric != "minimal_pair_accuracy" and metric not in by[(s, k)]["per_clip"]
                        for s in (treated, control) for k in seeds):  # fmt: skip
        return None
    t = [_values(by[(treated, k)], metric) for k in seeds]
    c = [_values(by[(control, k)], metric) for k in seeds]
    return crossed_interval(np.array(t, dtype=float), np.array(c, dtype=float))


def paired_rows(results: list[dict], metrics: tuple[str, ...] = PAIRED_METRICS, control: str = "none") -> list[dict]:
    """Per host, metric and treated condition: the difference against `control` with its 95 % interval, seeds
    and clips (words, for minimal-pair accuracy) both random (:func:`w2s.evaluation.stats.crossed_interval`);
    with the paper's relative LVE change."""
    rows = []
    for host in dict.fromkeys(r["host"] for r in results):
        for treated in [s for s in dict.fromkeys(r["semantic"] for r in results) if s != control]:
            for m in metrics:
                t = _paired(results, host, treated, control, m)
                if t is None:
                    continue
                paper = None
                if m == "lve":
                    paper = relative_change(host) if treated == "wav2sem" else oracle_relative_change(host)
                    paper = paper if treated in ("wav2sem", "oracle_text") else None
                rows.append({"host": host, "treated": treated, "metric": m, **t, **_paired_mde(t),
                             "paper_relative_change": paper})  # fmt: skip
    return rows


def _paired_mde(t: dict, alpha: float = 0.05, power: float = 0.8) -> dict:
    """The smallest difference this comparison, as run, detects: (t_{1−α/2} + t_power) × its interval's SE, with
    its degrees of freedom. Unlike :func:`mde_rows` it credits the pairing (a plugged model and its none twin
    share their seed: initial weights, data order), so it is the power of the grid's own verdicts."""
    if not (math.isfinite(t.get("se", math.nan)) and math.isfinite(t.get("df", math.nan)) and t["df"] > 0):
        return {"mde_paired": math.nan, "mde_paired_relative": math.nan}
    mde = detectable(t["se"], t["df"], alpha, power)
    cm = t.get("control_mean", math.nan)
    return {"mde_paired": float(mde), "mde_paired_relative": float(mde / abs(cm)) if cm else math.nan}


def mde_rows(results: list[dict], metrics: tuple[str, ...] = PAIRED_METRICS, control: str = "none",
             targets: tuple[float, ...] = (0.01, 0.03)) -> list[dict]:  # fmt: skip
    """Per host and metric: the smallest change this grid could detect (α 0.05, power 0.8) if a treated model
    differed from its none twin like an independent training does, from the `control` cells' spread over seeds
    and clips (:func:`w2s.evaluation.stats.minimum_detectable_effect`), and the seeds a relative change of each
    of `targets` would need. The pairing usually does better (``mde_paired`` of :func:`paired_rows`)."""
    rows = []
    for host in dict.fromkeys(r["host"] for r in results):
        runs = sorted((r for r in results if r["host"] == host and r["semantic"] == control), key=lambda r: r["seed"])
        if len(runs) < 2:
            continue
        for m in metrics:
            if m != "minimal_pair_accuracy" and m not in runs[0]["per_clip"]:
                continue
            values = np.array([_values(r, m) for r in runs], dtype=float)
            e = minimum_detectable_effect(values)
            row = {"host": host, "metric": m, "n_seeds": e["n_seeds"], "n_units": e["n_clips"], "mde": e["mde"],
                   "mde_relative": e["mde_relative"], "control_mean": e["control_mean"]}  # fmt: skip
            for target in targets:
                row[f"seeds_for_{target:g}"] = seeds_needed(values, target)
            rows.append(row)
    return rows


def results_rows(summary: list[dict], paired: list[dict]) -> list[dict]:
    """The headline table: per host and condition, LVE and the homophone measures (mean ± std over seeds), the
    change against none with its 95 % interval (seeds and clips random) and verdict, and the paper's change."""
    test = {(p["host"], p["treated"], p["metric"]): p for p in paired}
    rows = []
    for s in summary:
        t = test.get((s["host"], s["semantic"], "lve"))
        h = test.get((s["host"], s["semantic"], "homophone_lve"))
        mp = test.get((s["host"], s["semantic"], "minimal_pair_accuracy"))
        rows.append({
            "host": s["host"], "F_s": s["semantic"], "seeds": s["seeds"],
            "LVE ×1e-5": _pm(s["lve"] * 1e5, s["lve_std"] * 1e5, ".3f"),
            "homophone-LVE ×1e-5": _pm(s["homophone_lve"] * 1e5, s["homophone_lve_std"] * 1e5, ".3f"),
            "minimal-pair acc.": _pm(s["minimal_pair_accuracy"], s["minimal_pair_accuracy_std"], ".3f"),
            "ΔLVE vs none [95 % CI]": _rel_ci(t),
            "Δhomophone-LVE [95 % CI]": _rel_ci(h),
            "Δ minimal-pair [95 % CI]": _abs_ci(mp),
            "seeds lower": f"{t['seeds_lower']}/{t['n_seeds']}" if t else "",
            "paper ΔLVE": _pct(t["paper_relative_change"]) if t and t["paper_relative_change"] is not None else "",
        })  # fmt: skip
    return rows


def _rel_ci(t: dict | None) -> str:
    if not t:
        return ""
    return f"{_pct(t['relative_change'])} [{_pct(t['relative_ci_low'])}, {_pct(t['relative_ci_high'])}]"


def _abs_ci(t: dict | None) -> str:
    return f"{t['mean_difference']:+.3f} [{t['ci_low']:+.3f}, {t['ci_high']:+.3f}]" if t else ""


def _pm(m: float, s: float, fmt: str) -> str:
    return "" if m is None or not math.isfinite(m) else f"{m:{fmt}} ± {s:{fmt}}"


def _pct(x: float | None) -> str:
    return "" if x is None or not math.isfinite(x) else f"{100 * x:+.1f} %"


def verdicts(paired: list[dict], metric: str = "lve") -> list[str]:
    """One plain sentence per host and treated condition on `metric`: lower or higher only when the 95 %
    interval (seeds and clips random) excludes zero; otherwise no clear effect, and how large a change the
    interval rules out."""
    out = []
    for p in (p for p in paired if p["metric"] == metric):
        rel = metric != "minimal_pair_accuracy"
        size = _rel_ci(p) if rel else _abs_ci(p)
        name = {"lve": "LVE", "homophone_lve": "homophone-LVE", "minimal_pair_accuracy": "minimal-pair accuracy"}[metric]
        if p["verdict"] == "no clear effect":
            bound = max(abs(p["relative_ci_low" if rel else "ci_low"]), abs(p["relative_ci_high" if rel else "ci_high"]))
            what = f"**no clear effect** on {name} ({size}; changes beyond ±{f'{100 * bound:.1f} %' if rel else f'{bound:.3f}'} ruled out)"
        else:
            what = f"**{p['verdict']}** {name} ({size})"
        one = " (one seed: over clips only, for this trained model)" if p.get("seed_variance_estimable") is False else ""
        out.append(f"{p['host']} + {p['treated']}: {what}; {p['seeds_lower']} of {p['n_seeds']} seeds lower{one}")
    return out


def use_rows(results: list[dict], noise: dict[str, dict | None]) -> list[dict]:
    """Per host and plugged condition, means over seeds of the use test (:mod:`w2s.evaluation.plug_use`): the
    lips' change over the pair words with another clip's F_s and with the mean F_s, against `noise` ({host:
    :func:`seed_noise`}, the change between two seeds of none), minimal-pair accuracy with its own and with
    another clip's F_s, and the plug's scale before and after training."""
    rows = []
    for host in dict.fromkeys(r["host"] for r in results):
        for sem in dict.fromkeys(r["semantic"] for r in results if r["host"] == host and "use" in r):
            us = [r["use"] for r in results if r["host"] == host and r["semantic"] == sem and "use" in r]
            mean = lambda f, us=us: float(np.mean(np.array([f(u) for u in us], dtype=float)))  # noqa: E731  (null read back: nan)
            n = (noise.get(host) or {}).get("homophone_change")
            swap = mean(lambda u: u["swap"]["homophone_change"])
            row = {"host": host, "F_s": sem, "seeds": len(us), "swap_change": swap,
                   "mean_change": mean(lambda u: u["mean"]["homophone_change"]), "seed_change": n,
                   "swap_over_seed": swap / n if n else None,
                   "scale_before": mean(lambda u: u["scale"]["before"]["ratio"]),
                   "scale_after": mean(lambda u: u["scale"]["after"]["ratio"])}  # fmt: skip
            if "minimal_pair_accuracy" in us[0]:
                row["mp_own"] = mean(lambda u: u["minimal_pair_accuracy"]["own"])
                row["mp_swap"] = mean(lambda u: u["minimal_pair_accuracy"]["swap"])
            rows.append(row)
    return rows


def timing(results: list[dict]) -> dict:
    """Training and evaluation seconds of the grid's cells: per host (mean per cell) and in all."""
    out = {"cells": len(results), "train_seconds": sum(r["train_seconds"] or 0 for r in results),
           "eval_seconds": sum(r["eval_seconds"] for r in results), "per_host": {}}  # fmt: skip
    for host in dict.fromkeys(r["host"] for r in results):
        rs = [r for r in results if r["host"] == host]
        out["per_host"][host] = {"train_s": float(np.mean([r["train_seconds"] or 0 for r in rs])),
                                 "eval_s": float(np.mean([r["eval_seconds"] for r in rs]))}  # fmt: skip
    return out
