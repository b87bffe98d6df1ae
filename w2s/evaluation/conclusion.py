"""Notebook 04's conclusion, written from the run's numbers (and the README's "how to read it" from the same).

    rows = conclusion_rows(paired, use, mde, bounds_result, summary)    # [{"question", "answer"}, ...]

Five questions, in the order a reviewer asks them: can a host read an utterance-constant input at all (the
positive control), does the plug reach the lips (the use test), how far could the lips move (floor and
ceiling), what could this grid detect (the minimum detectable effect), and only then what Wav2Sem and the
text oracle do. Every sentence is built from the numbers passed in; nothing here is typed by hand.
"""

from __future__ import annotations

import math


def _pct(x: float | None) -> str:
    return "n/a" if x is None or not math.isfinite(x) else f"{100 * x:+.1f} %"


def _ci(p: dict) -> str:
    return f"{_pct(p['relative_change'])} [{_pct(p['relative_ci_low'])}, {_pct(p['relative_ci_high'])}]"


def _acc_ci(p: dict) -> str:
    return f"{p['mean_difference']:+.3f} [{p['ci_low']:+.3f}, {p['ci_high']:+.3f}]"


def _hosts(names: list[str]) -> str:
    return ", ".join(names) if names else "no host"


def _clauses(*parts: tuple[str, list[str]]) -> str:
    """"lower for a, b; no clear effect for c": the clauses whose host list is not empty, or "no host"."""
    said = [f"{what} for {_hosts(names)}" for what, names in parts if names]
    return "; ".join(said) if said else "no host"


ONE_SEED = (" With one seed, every interval is over clips only: it describes these trained models, not what another "
            "training would give.")  # fmt: skip


def _one_seed(rows: list[dict]) -> str:
    return ONE_SEED if any(p.get("seed_variance_estimable") is False for p in rows) else ""


def control_answer(paired: list[dict], control: str = "oracle_word") -> str:
    mp = [p for p in paired if p["treated"] == control and p["metric"] == "minimal_pair_accuracy"]
    if not mp:
        return "not run (no oracle_word cells)"
    up = [p["host"] for p in mp if p["verdict"] == "higher"]
    down = [p["host"] for p in mp if p["verdict"] == "lower"]
    rest = [p["host"] for p in mp if p["verdict"] == "no clear effect"]
    each = "; ".join(f"{p['host']} {_acc_ci(p)}" for p in mp)
    said = _clauses(("rose (95 % interval above 0)", up), ("did not clearly change", rest), ("fell", down))
    return (f"Fed a code of the very pair word the clip says, minimal-pair accuracy {said}. Δ accuracy [95 % CI]: {each}. "
            + ("A host that fails this control cannot be helped by any sentence vector in this setup."
               if rest or down else "Every host can read an utterance-constant input.") + _one_seed(mp))  # fmt: skip


def use_answer(use: list[dict]) -> str:
    if not use:
        return "not run"
    parts = []
    for sem in dict.fromkeys(u["F_s"] for u in use):
        us = [u for u in use if u["F_s"] == sem]
        ratio = [u["swap_over_seed"] for u in us if u["swap_over_seed"] is not None]
        scale = [u["scale_after"] for u in us]
        size = f"the semantic term's clip-varying part is {min(scale):.2g}–{max(scale):.2g} × ‖F_p‖ after training"
        if ratio:
            parts.append(f"{sem}: swapping F_s between clips moves the pair words' lips by {min(ratio):.2g}–"
                         f"{max(ratio):.2g} × the change between two seeds of none (over hosts); {size}")  # fmt: skip
        else:
            parts.append(f"{sem}: {size} (one seed: no seed-to-seed change to compare the swap with)")
    return "; ".join(parts) + "."


def bounds_answer(b: dict, summary: list[dict]) -> str:
    rows = b["rows"]
    floor, base = rows["protocol_floor"]["lve"], rows["baseline"]["lve"]
    cf, cf_h = rows["counterfactual"]["lve"], rows["counterfactual"]["homophone_lve"]
    hosts = [s for s in summary if s["semantic"] == "none"]
    where = "; ".join(f"{s['host']} {(s['lve'] - floor) / (base - floor):.0%}" for s in hosts)
    above = [s["host"] for s in hosts if s["lve"] >= base]
    unlearnt = (f" {', '.join(above)}: audio-only models no better than that face on average over seeds, so "
                f"{'its' if len(above) == 1 else 'their'} Δs compare models that have not learnt the lips and say "
                f"nothing about the plug." if above else "")  # fmt: skip
    return (f"Floor (true phonemes in identity {b['condition']}'s style) LVE {floor * 1e5:.3f}, baseline (a face "
            f"that does not listen) {base * 1e5:.3f} ×1e-5. Each host's none LVE sits at this share of the way from "
            f"floor to baseline: {where}.{unlearnt} Saying every pair word wrong costs {cf * 1e5:.3f} ×1e-5 of LVE "
            f"over whole clips ({cf / base:.0%} of the baseline's) and {cf_h * 1e5:.3f} ×1e-5 of homophone-LVE: the "
            f"most a perfect near-homophone decision could change.")  # fmt: skip


def power_answer(mde: list[dict], paired: list[dict]) -> str:
    lve = [m for m in mde if m["metric"] == "lve"]
    ours = [p for p in paired if p["metric"] == "lve" and math.isfinite(p.get("mde_paired_relative", math.nan))]
    if not lve and not ours:
        return "not computed (fewer than 2 seeds)"
    out = []
    if ours:
        rel = [p["mde_paired_relative"] for p in ours]
        out.append(f"As run (a plugged model paired with its none twin of the same seed), the smallest LVE change "
                   f"each comparison detects (α 0.05, power 0.8) is {100 * min(rel):.1f}–{100 * max(rel):.1f} %")  # fmt: skip
    if lve:
        rel = [m["mde_relative"] for m in lve]
        part = (f"if a plug changed training as much as another seed does, {lve[0]['n_seeds']} seeds × "
                f"{lve[0]['n_units']} clips detect {100 * min(rel):.1f}–{100 * max(rel):.1f} %")  # fmt: skip
        known = [(m["seeds_for_0.01"], m["host"]) for m in lve if m.get("seeds_for_0.01") is not None]
        if known:
            part += f"; a 1 % change would need {known[0][0]} seeds for {known[0][1]}" + "".join(f", {n} for {h}" for n, h in known[1:])
            part += " (more than 100 for the others)" if len(known) < len(lve) else ""
        else:
            part += "; no host's 1 % change is detectable with ≤ 100 seeds"
        acc = [m for m in mde if m["metric"] == "minimal_pair_accuracy"]
        if acc:
            part += (f"; minimal-pair accuracy over {acc[0]['n_units']} words: "
                     f"{min(m['mde'] for m in acc):.2f}–{max(m['mde'] for m in acc):.2f}")  # fmt: skip
        out.append(part)
    return "; ".join(out) + ". The paper's Table 1 changes are −0.2 % to −11 %."


def effect_answer(paired: list[dict], treated: str) -> str:
    lve = [p for p in paired if p["treated"] == treated and p["metric"] == "lve"]
    if not lve:
        return "not run"
    lower = [p["host"] for p in lve if p["verdict"] == "lower"]
    higher = [p["host"] for p in lve if p["verdict"] == "higher"]
    null = [p for p in lve if p["verdict"] == "no clear effect"]
    out = "LVE " + _clauses(("lower", lower), ("higher", higher), ("no clear effect", [p["host"] for p in null]))
    if null:
        bound = max(max(abs(p["relative_ci_low"]), abs(p["relative_ci_high"])) for p in null)
        out += f" (for those, changes beyond ±{100 * bound:.1f} % are ruled out)"
    return out + ". ΔLVE [95 % CI]: " + "; ".join(f"{p['host']} {_ci(p)}" for p in lve) + "." + _one_seed(lve)


def conclusion_rows(paired: list[dict], use: list[dict], mde: list[dict], bounds_result: dict | None,
                    summary: list[dict]) -> list[dict]:  # fmt: skip
    """[{"question", "answer"}]: the five questions of the module docstring, answered from the numbers."""
    rows = [{"question": "Can a host read an utterance-constant input at all? (positive control)",
             "answer": control_answer(paired)},
            {"question": "Does F_s reach the lips? (use test)", "answer": use_answer(use)}]  # fmt: skip
    if bounds_result is not None:
        rows.append({"question": "How far could the lips move? (floor and ceiling)",
                     "answer": bounds_answer(bounds_result, summary)})  # fmt: skip
    rows.append({"question": "What could this grid detect? (power)", "answer": power_answer(mde, paired)})
    for treated in ("wav2sem", "oracle_text"):
        rows.append({"question": f"What does {treated} do?", "answer": effect_answer(paired, treated)})
    return rows
