"""The grid of notebooks 03–04: every host × {none, wav2sem, oracle_text} × seeds, trained and evaluated.

    plan = GridPlan(corpus_root, wav2sem=folder, seeds=(0, 1, 2))
    results = run_grid(plan, workers=2)            # one dict per cell, cached: a rerun loads them
    table = summary_rows(results)                  # mean ± std over seeds per host and condition
    tests = paired_rows(results)                   # wav2sem vs none, oracle_text vs none, per host

A cell is one ``w2s decoder train`` into ``MODELS/{host}-{semantic}-seed{N}`` (the layout ``w2s
animate`` looks in) and one evaluation on the test split, saved beside it. Cells run in worker
processes, one torch thread each: these models are small, and two single-threaded trainings on two
cores finish sooner than one two-threaded training after another. The shared inputs (F_p of each
encoder, F_s of each source) are computed once, in this process, before the workers start.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from w2s.decoders import get
from w2s.decoders.inputs import load_clips
from w2s.decoders.training import RUN_FILE, DecoderRecipe, semantic_source, train_config, train_decoder
from w2s.encoders import load_encoder
from w2s.evaluation.decoders import evaluate_decoder
from w2s.evaluation.paper import oracle_relative_change, relative_change
from w2s.evaluation.stats import mean_std, paired_test
from w2s.utils.hashing import key_of
from w2s.utils.io import read_json, write_json
from w2s.utils.parallel import default_workers, in_processes
from w2s.utils.paths import data_dir
from w2s.utils.runtime import configure_threads

HOSTS = ("voca", "faceformer", "codetalker", "unitalker", "facediffuser", "lgldm")  # the paper's Table 1
SEMANTICS = ("none", "wav2sem", "oracle_text")
METRICS = ("lve", "lve_mm", "mve", "fdd", "homophone_lve", "minimal_pair_accuracy")
# notebooks 03-04's settings in smoke and quick mode (full mode: their parameters' defaults); wav2sem_steps and
# n_speech are notebook 02's LITE_STEPS and N_SPEECH in that mode, so its lite model is found, not retrained
MODES = {
    "smoke": dict(corpus="smoke", seeds=2, step_scale=0.02, conditions="0", samples=2, wav2sem_steps=20, n_speech=64),
    "quick": dict(corpus="default", seeds=1, step_scale=0.2, conditions="0", samples=1, wav2sem_steps=300, n_speech=2000),
}


@dataclass(frozen=True)
class GridPlan:
    corpus_root: str
    wav2sem: str | tuple[str, ...]  # the trained Wav2Sem whose F_s the wav2sem cells read (notebook 02's lite): one
    #   folder for every seed, or one per seed in `seeds` (that seed's lite: the seeds vary everything trained)
    hosts: tuple[str, ...] = HOSTS
    semantics: tuple[str, ...] = SEMANTICS
    seeds: tuple[int, ...] = (0, 1, 2)
    preset: str = "tiny"
    step_scale: float = 1.0  # < 1: fewer training steps than the host's recipe (quick mode)
    split: str = "test"  # unseen speakers
    conditions: str = "all"  # "all": every training identity (unseen speakers), or one identity "k"
    num_samples: int = 3  # samples per clip and condition for a host that samples (diffusion)
    models_dir: str = ""  # empty: data/models/decoders (step_scale < 1: data/models/decoders-x{scale})
    overrides: dict = field(default_factory=dict)  # {host: {config field: value}} over the preset's

    def __post_init__(self):
        if not isinstance(self.wav2sem, str):
            object.__setattr__(self, "wav2sem", tuple(str(w) for w in self.wav2sem))  # a list read back from JSON
            if len(self.wav2sem) != len(self.seeds):
                raise ValueError(f"GridPlan: {len(self.wav2sem)} Wav2Sem folders for {len(self.seeds)} seeds; give one "
                                 "folder, or one per seed")  # fmt: skip
        for h in self.hosts:
            get(h)  # DecoderError naming the registered hosts
        bad = set(self.semantics) - set(SEMANTICS)
        if bad:
            raise ValueError(f"GridPlan: semantics must be among {SEMANTICS}, got {sorted(bad)}")
        if not 0 < self.step_scale <= 1:
            raise ValueError(f"GridPlan: step_scale must be in (0, 1], got {self.step_scale}")
        if self.num_samples < 1 or not self.seeds:
            raise ValueError("GridPlan: num_samples >= 1 and at least one seed")

    @property
    def root(self) -> Path:
        if self.models_dir:
            return Path(self.models_dir)
        tail = "" if self.step_scale == 1 else f"-x{self.step_scale:g}"
        return data_dir() / "models" / f"decoders{tail}"

    def cells(self) -> list[tuple[str, str, int]]:
        return [(h, s, k) for h in self.hosts for s in self.semantics for k in self.seeds]

    def wav2sem_for(self, seed: int) -> str:
        """The Wav2Sem folder the wav2sem cell of `seed` reads."""
        return self.wav2sem if isinstance(self.wav2sem, str) else self.wav2sem[self.seeds.index(seed)]

    def folder(self, host: str, semantic: str, seed: int) -> Path:
        return self.root / f"{host}-{semantic}-seed{seed}"

    def recipe(self, host: str, semantic: str, seed: int) -> DecoderRecipe:
        r = DecoderRecipe(host, preset=self.preset, semantic=semantic, seed=seed,
                          wav2sem=self.wav2sem_for(seed) if semantic == "wav2sem" else None,
                          overrides=dict(self.overrides.get(host, {})))  # fmt: skip
        if self.step_scale < 1:
            r = replace(r, max_steps=max(1, round(train_config(r, 1_000_000).max_steps * self.step_scale)))
            over = dict(r.overrides)
            if "stage1_steps" in get(host).config_class.__dataclass_fields__:  # CodeTalker, LG-LDM's stage 1
                base = get(host).config_class.preset(self.preset, **over).stage1_steps
                over["stage1_steps"] = max(1, round(base * self.step_scale))
            r = replace(r, overrides=over)
        return r

    def eval_options(self, host: str) -> dict:
        samples = self.num_samples if getattr(get(host), "stochastic", False) else 1
        return {"split": self.split, "conditions": self.conditions, "num_samples": samples}


def _eval_file(folder: Path, options: dict) -> Path:
    return folder / f"grid-eval-{key_of(options, n=10)}.json"


def cached_result(plan: GridPlan, host: str, semantic: str, seed: int) -> dict | None:
    """The cell's result if it was trained and evaluated with these options after its last training."""
    folder = plan.folder(host, semantic, seed)
    path = _eval_file(folder, plan.eval_options(host))
    run = folder / RUN_FILE
    if not path.is_file() or not run.is_file() or path.stat().st_mtime < run.stat().st_mtime:
        return None
    return read_json(path, "grid result")


def run_cell(plan: GridPlan, host: str, semantic: str, seed: int, threads: int | None = None) -> dict:
    """Train (or load) and evaluate one cell; its result is saved beside the model and returned. `threads`:
    torch's thread count (default: W2S_THREADS, 1), the same whether the cell runs in a worker or here, so
    that its numbers do not depend on the number of workers."""
    configure_threads(threads)
    hit = cached_result(plan, host, semantic, seed)
    if hit is not None:
        return hit
    folder = plan.folder(host, semantic, seed)
    t0 = time.perf_counter()
    record = train_decoder(plan.recipe(host, semantic, seed), plan.corpus_root, folder)
    t1 = time.perf_counter()
    options = plan.eval_options(host)
    conditions = options["conditions"] if options["conditions"] == "all" else int(options["conditions"])
    res = evaluate_decoder(folder, split=options["split"], conditions=conditions, with_baseline=False,
                           num_samples=options["num_samples"])  # fmt: skip
    words = res.get("minimal_pair_words") or []
    out = {"host": host, "semantic": semantic, "seed": seed, "folder": str(folder), "eval": options,
           "metrics": res["metrics"], "sample_std": res["sample_std"], "per_clip": res["per_clip"],
           "minimal_pair_scores": [w["score"] for w in words if w.get("excluded") is None],
           "minimal_pair_words": [{k: w.get(k) for k in ("stem", "word", "partner", "start", "end", "score")}
                                  for w in words if w.get("excluded") is None],
           "history": {"step": record["history"]["step"], "loss": record["history"]["loss"]},
           "train_seconds": (record.get("seconds") or {}).get("total"), "this_call_train_seconds": round(t1 - t0, 2),
           "eval_seconds": round(time.perf_counter() - t1, 2), "n_parameters": record.get("n_parameters"),
           "train_steps": record["train"]["max_steps"]}  # fmt: skip
    write_json(_eval_file(folder, options), out)
    return out


def _warm_inputs(plan: GridPlan) -> None:
    """F_p and F_s of the train and test clips, computed (and cached on disk) once before the workers start."""
    encoders = dict.fromkeys(plan.recipe(h, "none", 0).encoder_name for h in plan.hosts)
    for name in encoders:
        enc = load_encoder(name, corpus=plan.corpus_root)
        for s in plan.semantics:
            for seed in plan.seeds if s == "wav2sem" else plan.seeds[:1]:  # each seed's Wav2Sem
                sem, _ = semantic_source(plan.recipe(plan.hosts[0], s, seed), plan.corpus_root)
                for split in dict.fromkeys(("train", plan.split)):
                    load_clips(plan.corpus_root, split, enc, sem)


def _cost(host: str) -> float:
    """Rough relative cost, to start the longest cells first."""
    return {"facediffuser": 4, "lgldm": 3, "codetalker": 3, "faceformer": 2, "unitalker": 2}.get(host, 1)


def run_grid(plan: GridPlan, workers: int | None = None, on_result: Callable[[dict, int, int], None] | None = None) -> list[dict]:
    """Every cell of `plan`, in the plan's order; cells not cached run in `workers` processes (default: one
    per CPU, at most 4), each with W2S_THREADS (1) torch threads. `on_result(result, done, total)` after each cell. The workers
    are spawned: a script that calls this must guard its top level with ``if __name__ == "__main__":``. Every cell
    computes with the same thread count (:func:`run_cell`), so 1 and 4 workers give the same numbers."""
    cells = plan.cells()
    results: dict[tuple, dict] = {}
    for c in cells:
        hit = cached_result(plan, *c)
        if hit is not None:
            results[c] = hit
    todo = sorted((c for c in cells if c not in results), key=lambda c: -_cost(c[0]))
    total = len(cells)
    if on_result:
        for i, c in enumerate([c for c in cells if c in results], 1):
            on_result(results[c], i, total)
    if todo:
        _warm_inputs(plan)
        for i, result in in_processes(run_cell, [(plan, *c) for c in todo], default_workers(len(todo), workers)):
            results[todo[i]] = result
            if on_result:
                on_result(result, len(results), total)
    return [results[c] for c in cells]


# ---------------------------------------------------------------------------------------------
# tables


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


def _paired(results: list[dict], host: str, treated: str, control: str, metric: str) -> dict | None:
    by = {(r["semantic"], r["seed"]): r for r in results if r["host"] == host}
    seeds = sorted(k for s, k in by if s == treated and (control, k) in by)
    if not seeds:
        return None
    a, b, g = [], [], []
    for k in seeds:
        t, c = by[(treated, k)], by[(control, k)]
        if metric == "minimal_pair_accuracy":
            x, y = t["minimal_pair_scores"], c["minimal_pair_scores"]
        else:
            x, y = t["per_clip"][metric], c["per_clip"][metric]
        a += list(x)
        b += list(y)
        g += [k] * len(x)
    return paired_test(np.array(a, dtype=float), np.array(b, dtype=float), g)


def paired_rows(results: list[dict], metrics: tuple[str, ...] = ("lve", "homophone_lve", "minimal_pair_accuracy"),
                control: str = "none") -> list[dict]:  # fmt: skip
    """Per host, metric and treated condition: the paired test against `control` (:func:`paired_test`),
    pairs (seed, clip), or (seed, word) for minimal-pair accuracy; with the paper's relative LVE change."""
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
                rows.append({"host": host, "treated": treated, "metric": m, **t, "paper_relative_change": paper})
    return rows


def results_rows(summary: list[dict], paired: list[dict]) -> list[dict]:
    """The headline table: per host and condition, LVE and the homophone measures (mean ± std over seeds),
    the LVE change against none with its p-value and d_z, and the paper's change (Table 1, VOCASET)."""
    test = {(p["host"], p["treated"], p["metric"]): p for p in paired}
    rows = []
    for s in summary:
        t = test.get((s["host"], s["semantic"], "lve"))
        mp = test.get((s["host"], s["semantic"], "minimal_pair_accuracy"))
        rows.append({
            "host": s["host"], "F_s": s["semantic"], "seeds": s["seeds"],
            "LVE ×1e-5": _pm(s["lve"] * 1e5, s["lve_std"] * 1e5, ".3f"),
            "homophone-LVE ×1e-5": _pm(s["homophone_lve"] * 1e5, s["homophone_lve_std"] * 1e5, ".3f"),
            "minimal-pair acc.": _pm(s["minimal_pair_accuracy"], s["minimal_pair_accuracy_std"], ".3f"),
            "ΔLVE vs none": _pct(t["relative_change"]) if t else "",
            "p (Wilcoxon)": _p(t["p_value"]) if t else "",
            "d_z": f"{t['effect_dz']:+.2f}" if t else "",
            "seeds lower": f"{t['seeds_lower']}/{t['n_seeds']}" if t else "",
            "Δ minimal-pair (p)": f"{mp['mean_difference']:+.3f} ({_p(mp['p_value'])})" if mp else "",
            "paper ΔLVE": _pct(t["paper_relative_change"]) if t and t["paper_relative_change"] is not None else "",
        })  # fmt: skip
    return rows


def _pm(m: float, s: float, fmt: str) -> str:
    return "" if m is None or not math.isfinite(m) else f"{m:{fmt}} ± {s:{fmt}}"


def _pct(x: float | None) -> str:
    return "" if x is None or not math.isfinite(x) else f"{100 * x:+.1f} %"


def _p(p: float) -> str:
    return "<0.001" if p < 1e-3 else f"{p:.3f}"


def print_progress(result: dict, done: int, total: int) -> None:
    """``run_grid``'s ``on_result`` for a notebook: one line per finished cell."""
    m = result["metrics"]
    print(f"[{done}/{total}] {result['host']:<12} {result['semantic']:<11} seed {result['seed']}: "
          f"LVE {m['lve']:.3e}, minimal-pair {m.get('minimal_pair_accuracy', float('nan')):.3f} "
          f"(train {(result['train_seconds'] or 0) / 60:.1f} min, eval {result['eval_seconds'] / 60:.1f} min)", flush=True)


def verdicts(paired: list[dict], alpha: float = 0.05) -> list[str]:
    """One plain sentence per host and treated condition on LVE: lower, higher, or no effect at `alpha`."""
    out = []
    for p in (p for p in paired if p["metric"] == "lve"):
        if p["p_value"] >= alpha:
            what = f"**no effect** on LVE ({_pct(p['relative_change'])}, p = {_p(p['p_value'])})"
        else:
            what = (f"**{'lower' if p['mean_difference'] < 0 else 'higher'}** LVE ({_pct(p['relative_change'])}, "
                    f"p = {_p(p['p_value'])}, d_z = {p['effect_dz']:+.2f})")  # fmt: skip
        seeds = f"; {p['seeds_lower']} of {p['n_seeds']} seeds lower" if "n_seeds" in p else ""
        out.append(f"{p['host']} + {p['treated']}: {what}{seeds}")
    return out


def timing(results: list[dict]) -> dict:
    """Training and evaluation seconds of the grid's cells: per host (mean per cell) and in all."""
    out = {"cells": len(results), "train_seconds": sum(r["train_seconds"] or 0 for r in results),
           "eval_seconds": sum(r["eval_seconds"] for r in results), "per_host": {}}  # fmt: skip
    for host in dict.fromkeys(r["host"] for r in results):
        rs = [r for r in results if r["host"] == host]
        out["per_host"][host] = {"train_s": float(np.mean([r["train_seconds"] or 0 for r in rs])),
                                 "eval_s": float(np.mean([r["eval_seconds"] for r in rs]))}  # fmt: skip
    return out


def to_json(plan: GridPlan) -> dict:
    return json.loads(json.dumps(asdict(plan)))
