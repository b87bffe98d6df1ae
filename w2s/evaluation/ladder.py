"""Notebook 05's information ladder: on each level of the masking dial (w2s.corpus.masking), each host is
trained with each rung of side information (an F_s source) and seeds, and evaluated; minimal-pair accuracy
against masking level, one line per rung.

    plan = LadderPlan(wav2sem=lite_folders, wav2sem_local=local_folder, seeds=(0, 1, 2))
    results = run_ladder(plan, workers=2)      # {level: [grid result per cell]}, cached like notebook 04's grid
    rows = ladder_rows(results)                # per level, host and rung: means, Δ vs none with a 95 % interval
    curves = curve_rows(results)               # per cell: the val loss's learning curve and where its knee is
    answers = ladder_conclusion(rows)          # the notebook's conclusion, from the numbers

A level is one grid (:class:`~w2s.evaluation.grid.GridPlan`) on that level's corpus, so a cell is one `w2s
decoder train` + evaluation, cached under ``data/models/ladder[-x{scale}]/{level}/``, and the intervals are the
grid's: seeds and clips (words, for minimal-pair accuracy) crossed random effects. The plugged rungs' F_s is
standardised at the plug (a one-hot viseme and a MiniLM vector on one scale). Every level's encoders are the
clean corpus's (:func:`w2s.corpus.build.clean_twin`): the masking is in the data, as in the paper's setting.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from w2s.corpus.build import load_or_build
from w2s.corpus.presets import MASKED_FROM, PRESETS
from w2s.data.corpus import Corpus
from w2s.evaluation.grid import GridPlan, paired_rows, run_grid, scaled_tail, summary_rows
from w2s.evaluation.stats import crossed_interval
from w2s.utils.paths import data_dir

LEVELS = ("clean", "10db", "0db", "full")  # the dial, from clean audio to the deciding phoneme replaced
RUNGS = ("none", "oracle_text", "wav2sem", "oracle_text_local", "wav2sem_local", "oracle_viseme")
SENTENCE, LOCAL = ("oracle_text", "wav2sem"), ("oracle_text_local", "wav2sem_local")  # the rungs by granularity
HOSTS = ("voca", "faceformer")  # one non-autoregressive and one autoregressive host, the cheapest of each
METRICS = ("minimal_pair_accuracy", "homophone_lve", "lve")
RUNG_MEANING = {
    "none": "audio only",
    "oracle_text": "the true sentence's vector (the paper's oracle)",
    "wav2sem": "the sentence vector predicted from the audio (the paper's Wav2Sem, notebook 02's lite)",
    "oracle_text_local": "each frame: the true word's text vector (zero in pauses)",
    "wav2sem_local": "each frame: the word vector predicted from the audio, bounded lookahead",
    "oracle_viseme": "each frame: the true viseme class (the upper bound; a positive control)",
}


def level_preset(base: str, level: str) -> str:
    """The corpus preset of `level` on the dial over the clean preset `base` (default, powered, quick or smoke)."""
    if level == "clean":
        return base
    for name, twin in MASKED_FROM.items():
        if twin == base and PRESETS[name].mask == level:
            return name
    raise ValueError(f"no masked preset of {base!r} at level {level!r}; levels: {', '.join(LEVELS)}; bases: "
                     f"{', '.join(sorted(set(MASKED_FROM.values())))}")  # fmt: skip


@dataclass(frozen=True)
class LadderPlan:
    wav2sem: str | tuple[str, ...] = ""  # the lite Wav2Sem(s) of the wav2sem rung: one folder, or one per seed
    wav2sem_local: str = ""  # the time-local Wav2Sem of the wav2sem_local rung
    base: str = "default"  # the clean corpus the dial masks: default | powered | quick | smoke
    corpus_seed: int = 0
    levels: tuple[str, ...] = ("clean", "0db", "full")
    hosts: tuple[str, ...] = HOSTS
    rungs: tuple[str, ...] = RUNGS
    seeds: tuple[int, ...] = (0,)
    step_scale: float = 0.8  # of each host's tiny recipe, as notebook 04's grid
    min_steps: int = 1  # with step_scale < 1: the fewest steps a host trains (GridPlan.min_steps)
    curve_points: int = 10  # the val loss this many times per training: the learning curve
    split: str = "test"  # what the ladder reports; the knee is read on val (the curves)
    models_dir: str = ""  # empty: data/models/ladder[-x{scale}]

    def __post_init__(self):
        for name in ("levels", "hosts", "rungs", "seeds"):
            object.__setattr__(self, name, tuple(getattr(self, name)))  # lists from a notebook's parameters
        if not isinstance(self.wav2sem, str):
            object.__setattr__(self, "wav2sem", tuple(str(w) for w in self.wav2sem))
        bad = [lv for lv in self.levels if lv not in LEVELS]
        if bad or not self.levels:
            raise ValueError(f"LadderPlan: levels must be among {LEVELS}, got {list(self.levels)}")
        if "none" not in self.rungs:
            raise ValueError("LadderPlan: the rungs need 'none', the audio-only reference every Δ is measured from")
        for lv in self.levels:
            level_preset(self.base, lv)

    @property
    def root(self) -> Path:
        if self.models_dir:
            return Path(self.models_dir)
        return data_dir() / "models" / f"ladder{scaled_tail(self.step_scale, self.min_steps)}"

    def corpus(self, level: str) -> Path:
        """The level's corpus folder, built if missing (seconds: the clean corpus's files, re-masked)."""
        return load_or_build(level_preset(self.base, level), self.corpus_seed)

    def grid(self, level: str) -> GridPlan:
        return GridPlan(str(self.corpus(level)), wav2sem=self.wav2sem, wav2sem_local=self.wav2sem_local,
                        hosts=self.hosts, semantics=self.rungs, seeds=self.seeds, step_scale=self.step_scale,
                        min_steps=self.min_steps, split=self.split, conditions="0", num_samples=1, models_dir=str(self.root / level),
                        plug_scale="standardize", curve_points=self.curve_points, use_test=False)  # fmt: skip

    def n_cells(self) -> int:
        return len(self.levels) * len(self.hosts) * len(self.rungs) * len(self.seeds)


def run_ladder(plan: LadderPlan, workers: int | None = None, on_result=None) -> dict[str, list[dict]]:
    """Every cell of `plan`, level by level (:func:`w2s.evaluation.grid.run_grid`: cached, in worker
    processes); {level: results}. `on_result(result, done, total)` as the grid's, with ``result["level"]``."""
    out = {}
    for level in plan.levels:
        def tagged(r, done, total, level=level):
            if on_result:
                on_result({**r, "level": level}, done, total)

        out[level] = [{**r, "level": level} for r in run_grid(plan.grid(level), workers, tagged)]
    return out


def masked_example(corpus_root, split: str = "test") -> dict:
    """The first clip of `split` (by stem) with a masked pair word, and that word's record from
    alignments.json's ``masked`` list (``word``, ``symbol``, ``start``, ``end``, ``level``) with its ``stem``."""
    corpus = Corpus.open(corpus_root)
    for stem in sorted(corpus.stems(split)):
        masked = corpus.alignments.get(stem, {}).get("masked") or []
        if masked:
            return {"stem": stem, "transcript": corpus.transcripts.get(stem, ""), **masked[0]}
    raise ValueError(f"{corpus.root}: no clip of the {split} split has a masked word (a clean corpus?)")


# ---------------------------------------------------------------------------------------------
# tables


def _level_interval(results: list[dict], host: str, rung: str, metric: str) -> dict | None:
    """A rung's own mean with its 95 % interval (seeds and units crossed), as the Δ against a zero control."""
    runs = sorted((r for r in results if r["host"] == host and r["semantic"] == rung), key=lambda r: r["seed"])
    if not runs:
        return None
    vals = [r["minimal_pair_scores"] if metric == "minimal_pair_accuracy" else r["per_clip"][metric] for r in runs]
    if not all(len(v) for v in vals):
        return None
    t = np.array(vals, dtype=float)
    return crossed_interval(t, np.zeros_like(t))


def ladder_rows(results: dict[str, list[dict]], metrics: tuple[str, ...] = METRICS) -> list[dict]:
    """Per level, host, rung and metric: the mean over seeds (and its own 95 % interval), and the difference
    from ``none`` on the same level with the grid's 95 % interval and verdict."""
    rows = []
    for level, res in results.items():
        summary = {(s["host"], s["semantic"]): s for s in summary_rows(res, metrics)}
        paired = {(p["host"], p["treated"], p["metric"]): p for p in paired_rows(res, metrics)}
        for (host, rung), s in summary.items():
            for m in metrics:
                own = _level_interval(res, host, rung, m) or {}
                p = paired.get((host, rung, m))
                rows.append({"level": level, "host": host, "rung": rung, "metric": m, "seeds": s["seeds"],
                             "mean": s[m], "std": s[f"{m}_std"], "low": own.get("ci_low", math.nan),
                             "high": own.get("ci_high", math.nan),
                             "n_units": own.get("n_clips"),
                             "delta": p["mean_difference"] if p else None, "delta_low": p["ci_low"] if p else None,
                             "delta_high": p["ci_high"] if p else None, "verdict": p["verdict"] if p else None})  # fmt: skip
    return rows


def between(results: dict[str, list[dict]], treated: str, control: str, metric: str = "minimal_pair_accuracy") -> list[dict]:
    """Per level and host: `treated` − `control` (two rungs) with the grid's interval, e.g. a time-local rung
    against its sentence-level counterpart."""
    out = []
    for level, res in results.items():
        for p in paired_rows(res, (metric,), control=control):
            if p["treated"] == treated:
                out.append({"level": level, **p})
    return out


def curve_rows(results: dict[str, list[dict]]) -> list[dict]:
    """Per cell: its val-loss curve, and where the knee is. ``late_share``: of what the curve still gained
    after its midpoint (the best loss up to half the steps, down to its minimum), the share gained in the
    last 20 % of steps: about 0.4 on a straight decline, 0 on a plateau. ``state``: "rising" (the last point is
    above the minimum by more than 5 % of the whole fall: past the knee), "falling" (late_share > 0.25: before
    the knee, more steps would help), else "flat" (at the knee)."""
    rows = []
    for level, res in results.items():
        for r in res:
            val = r.get("history", {}).get("val") or []
            if len(val) < 3:
                continue
            steps = np.array([v["step"] for v in val], float)
            loss = np.array([v["loss"] for v in val], float)
            best = loss.min()
            mid, late = (loss[steps <= f * steps[-1]].min() for f in (0.5, 0.8))
            late_share = float((late - best) / (mid - best)) if mid > best else 0.0
            rising = loss[-1] - best > 0.05 * (loss[0] - best) and loss[0] > best
            state = "rising" if rising else "falling" if late_share > 0.25 else "flat"
            rows.append({"level": level, "host": r["host"], "rung": r["semantic"], "seed": r["seed"],
                         "steps": [int(s) for s in steps], "val_loss": [float(x) for x in loss],
                         "late_share": late_share, "state": state, "best_step": int(steps[loss.argmin()])})  # fmt: skip
    return rows


# ---------------------------------------------------------------------------------------------
# the conclusion


def _row(rows, level, host, rung, metric="minimal_pair_accuracy") -> dict | None:
    return next((r for r in rows if (r["level"], r["host"], r["rung"], r["metric"]) == (level, host, rung, metric)), None)


def _d(r: dict | None) -> str:
    if not r or r["delta"] is None:
        return "not run"
    return f"{r['delta']:+.3f} [{r['delta_low']:+.3f}, {r['delta_high']:+.3f}]"


def _helps(r: dict | None) -> bool:
    return bool(r and r["delta_low"] is not None and r["delta_low"] > 0)


def ladder_conclusion(rows: list[dict], local_vs_sentence: list[dict] | None = None) -> list[dict]:
    """The notebook's conclusion, one {question, answer} per question, from :func:`ladder_rows` (and
    :func:`between` of ``oracle_text_local`` against ``oracle_text``): every number is the run's."""
    levels = list(dict.fromkeys(r["level"] for r in rows))
    hosts = list(dict.fromkeys(r["host"] for r in rows))
    rungs = set(r["rung"] for r in rows)
    top = levels[-1]
    out = []

    def ask(q, parts):
        out.append({"question": q, "answer": " ".join(parts)})

    if "oracle_viseme" in rungs:
        parts = []
        for h in hosts:
            r, n = _row(rows, top, h, "oracle_viseme"), _row(rows, top, h, "none")
            parts.append(f"{h}: none {n['mean']:.3f}, oracle_viseme {r['mean']:.3f}, Δ {_d(r)} — "
                         f"{'it lifts the accuracy clearly' if _helps(r) else 'no clear lift: this host cannot read side information here'}.")  # fmt: skip
        ask(f"Does the positive control work (the true viseme of each frame, at masking {top})?", parts)
    none_rows = {h: [_row(rows, lv, h, "none") for lv in levels] for h in hosts}
    ask("Does the dial remove the audio's answer?",
        [f"{h}: audio-only minimal-pair accuracy " + ", ".join(f"{lv} {r['mean']:.3f} [{r['low']:.3f}, {r['high']:.3f}]"
                                                              for lv, r in zip(levels, rs) if r) + " (chance 0.5)."
         for h, rs in none_rows.items()])  # fmt: skip
    for rung in [r for r in SENTENCE + LOCAL if r in rungs]:
        parts = []
        for h in hosts:
            first = next((lv for lv in levels if _helps(_row(rows, lv, h, rung))), None)
            cells = ", ".join(f"{lv} {_d(_row(rows, lv, h, rung))}" for lv in levels)
            parts.append(f"{h}: {'first at ' + first if first else 'at no level'} (Δ minimal-pair vs none: {cells}).")
        ask(f"At which masking level does {rung} ({RUNG_MEANING[rung]}) start to help?", parts)
    if local_vs_sentence:
        parts = [f"{p['host']} at {p['level']}: {p['mean_difference']:+.3f} [{p['ci_low']:+.3f}, {p['ci_high']:+.3f}] "
                 f"({p['verdict']})" for p in local_vs_sentence]  # fmt: skip
        ask("Does the time-local text oracle help more than the sentence vector (oracle_text_local − oracle_text, "
            "minimal-pair accuracy)?", ["; ".join(parts) + "."])  # fmt: skip
    pairs = [(a, o) for a, o in (("wav2sem", "oracle_text"), ("wav2sem_local", "oracle_text_local")) if {a, o} <= rungs]
    if pairs:
        parts = []
        for a, o in pairs:
            for h in hosts:
                clear = [lv for lv in levels if _helps(_row(rows, lv, h, o))]
                if not clear:
                    parts.append(f"{h}, {a}: {o} gives no clear gain at any level, so there is nothing to recover.")
                for lv in clear:
                    ra, ro = _row(rows, lv, h, a), _row(rows, lv, h, o)
                    parts.append(f"{h}, {a} at {lv}: {ra['delta'] / ro['delta']:.0%} of {o}'s gain "
                                 f"({_d(ra)} of {_d(ro)}).")  # fmt: skip
        ask("How much of the oracle's gain does the audio-predicted version recover?", parts)
    if {"oracle_text", "oracle_text_local"} <= rungs:
        first = levels[0]

        def where(rung):
            helped = [(h, lv) for h in hosts for lv in levels if _helps(_row(rows, lv, h, rung))]
            return ", ".join(f"{h} at {lv}" for h, lv in helped) or "nowhere"

        clean = [f"{h} {_d(_row(rows, first, h, 'oracle_text'))}" for h in hosts]
        ask("What does this mean for the paper's claim?", [
            f"The paper adds one sentence vector to every frame. Even the true sentence's vector changes minimal-pair "
            f"accuracy at {first} by {'; '.join(clean)}, and helps clearly {where('oracle_text')}. The same text given "
            f"word by word, at the frames where each word is spoken, helps clearly {where('oracle_text_local')}; the "
            f"viseme stream {where('oracle_viseme')}. Here only information aligned in time with the lips moved them; "
            "a summary of the sentence did not."
            if (_helps_anywhere(rows, "oracle_text_local", hosts, levels) or _helps_anywhere(rows, "oracle_viseme", hosts, levels))
            and not _helps_anywhere(rows, "oracle_text", hosts, levels)
            else f"The paper adds one sentence vector to every frame. The true sentence's vector changes minimal-pair "
                 f"accuracy at {first} by {'; '.join(clean)} and helps clearly {where('oracle_text')}; the word-by-word "
                 f"text helps clearly {where('oracle_text_local')}; the viseme stream {where('oracle_viseme')}."])  # fmt: skip
    return out


def _helps_anywhere(rows, rung, hosts, levels) -> bool:
    return any(_helps(_row(rows, lv, h, rung)) for h in hosts for lv in levels)
