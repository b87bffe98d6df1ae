"""The grid of notebooks 03–04: every host × {none, wav2sem, oracle_text, oracle_word} × seeds, trained and evaluated.

    plan = GridPlan(corpus_root, wav2sem=folder, seeds=(0, 1, 2))
    results = run_grid(plan, workers=2)            # one dict per cell, cached: a rerun loads them
    table = summary_rows(results)                  # mean ± std over seeds per host and condition
    tests = paired_rows(results)                   # each F_s vs none per host: Δ with a 95 % interval
    power = mde_rows(results)                      # the smallest change the grid could detect
    use = use_rows(results, {h: seed_noise(plan, h) for h in plan.hosts})   # does F_s reach the lips?

The tables live in :mod:`w2s.evaluation.grid_tables` (re-exported here).

``oracle_word`` is the positive control (a code of the pair word said, :class:`~w2s.decoders.inputs.OracleWord`).
Intervals treat seeds and clips as crossed random effects (:func:`~w2s.evaluation.stats.crossed_interval`):
seeds are independent trainings, clips are shared by every seed. Every plugged cell is also use-tested
(:mod:`w2s.evaluation.plug_use`: its lips with another clip's F_s and the mean F_s), against ``seed_noise``:
the change between two seeds of ``none``.

A cell is one ``w2s decoder train`` into ``MODELS/{host}-{semantic}-seed{N}`` (the layout ``w2s
animate`` looks in) and one evaluation on the test split, saved beside it. Cells run in worker
processes, one torch thread each: these models are small, and two single-threaded trainings on two
cores finish sooner than one two-threaded training after another. The shared inputs (F_p of each
encoder, F_s of each source) are computed once, in this process, before the workers start.
"""

from __future__ import annotations

import json
import math
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from w2s.decoders import get
from w2s.decoders.inputs import load_clips
from w2s.decoders.training import (
    RUN_FILE,
    DecoderRecipe,
    OtherRunError,
    semantic_source,
    train_config,
    train_decoder,
)
from w2s.encoders import load_encoder
from w2s.evaluation.decoders import evaluate_decoder
from w2s.evaluation.grid_tables import (  # noqa: F401  (re-exported: the notebooks, ladder and benchmarks read them here)
    METRICS,
    PAIRED_METRICS,
    mde_rows,
    paired_rows,
    results_rows,
    summary_rows,
    timing,
    use_rows,
    verdicts,
)
from w2s.evaluation.plug_use import seed_change, use_test
from w2s.fusion import PLUG_SCALES, SOURCES
from w2s.utils.hashing import key_of
from w2s.utils.io import json_safe, read_json, write_json
from w2s.utils.owned import MANIFEST, check_owned
from w2s.utils.parallel import default_workers, in_processes
from w2s.utils.paths import data_dir
from w2s.utils.runtime import configure_threads, progress

HOSTS = ("voca", "faceformer", "codetalker", "unitalker", "facediffuser", "lgldm")  # the paper's Table 1
SEMANTICS = ("none", "wav2sem", "oracle_text", "oracle_word")  # oracle_word: the positive control
EVAL_VERSION = 2  # bump when a cell's evaluation gains a measure: cached cells are evaluated again, not retrained
# notebooks 03-04's settings in smoke and quick mode (full mode: their parameters' defaults); wav2sem_steps and
# n_speech are notebook 02's LITE_STEPS and N_SPEECH in that mode, so its lite model is found, not retrained
MODES = {
    "smoke": dict(corpus="smoke", seeds=2, step_scale=0.02, conditions="0", samples=2, wav2sem_steps=20, n_speech=64,
                  # notebook 05's ladder (w2s.evaluation.ladder): every host and rung, the dial's two ends, one seed
                  ladder=dict(levels="clean,full", hosts="voca,faceformer", seeds=1)),
    # quick (make run QUICK=1, <= 10 min from nothing): the "quick" corpus (the default's files, under a name whose
    # tiny HuBERT gets the quick recipe and keys of its own), a lite Wav2Sem of 150 steps on 500 utterances
    "quick": dict(corpus="quick", seeds=1, step_scale=0.1, min_steps=20, conditions="0", samples=1, wav2sem_steps=150, n_speech=500,
                  # notebook 05: one host, audio only and the positive control, the dial's two ends, 3 curve points
                  ladder=dict(levels="clean,full", hosts="voca", rungs="none,oracle_viseme", seeds=1, curve_points=3)),
}


def scaled_tail(step_scale: float, min_steps: int = 1) -> str:
    """The models folder's suffix of a plan with fewer steps than the recipes: "" at scale 1, else "-x0.1"
    (and "-min20" where a floor applies), so that differently scaled models never share a folder."""
    if step_scale == 1:
        return ""
    return f"-x{step_scale:g}" + (f"-min{min_steps}" if min_steps > 1 else "")


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
    min_steps: int = 1  # with step_scale < 1: the fewest steps a scaled recipe trains (quick: 20; a diffusion loss
    #   over 10 steps is noise)
    split: str = "test"  # unseen speakers
    conditions: str = "all"  # "all": every training identity (unseen speakers), or one identity "k"
    num_samples: int = 2  # samples per clip and condition for a host that samples (diffusion); on `powered` their
    #   spread moved a cell's LVE by 0.01-0.1 %, its seeds by 1-3 % (run 20261206-210724): a third sample bought nothing
    models_dir: str = ""  # empty: data/models/decoders (step_scale < 1: data/models/decoders-x{scale})
    overrides: dict = field(default_factory=dict)  # {host: {config field: value}} over the preset's
    plug_scale: str = "raw"  # the plugged cells' F_s scale (DecoderConfig.plug_scale); none cells have no plug
    wav2sem_local: str = ""  # the time-local Wav2Sem the wav2sem_local cells read (notebook 05's ladder)
    curve_points: int = 0  # > 0: each cell's val loss at about this many points of its training (the learning curve)
    use_test: bool = True  # each plugged cell's use test (notebook 04); the ladder reads Δ vs none instead

    def __post_init__(self):
        if not isinstance(self.wav2sem, str):
            object.__setattr__(self, "wav2sem", tuple(str(w) for w in self.wav2sem))  # a list read back from JSON
            if len(self.wav2sem) != len(self.seeds):
                raise ValueError(f"GridPlan: {len(self.wav2sem)} Wav2Sem folders for {len(self.seeds)} seeds; give one "
                                 "folder, or one per seed")  # fmt: skip
        for h in self.hosts:
            get(h)  # DecoderError naming the registered hosts
        bad = set(self.semantics) - set(SOURCES)
        if bad:
            raise ValueError(f"GridPlan: semantics must be among {SOURCES}, got {sorted(bad)}")
        if "wav2sem_local" in self.semantics and not self.wav2sem_local:
            raise ValueError("GridPlan: the wav2sem_local cells need a time-local Wav2Sem folder (wav2sem_local=)")
        if not 0 < self.step_scale <= 1:
            raise ValueError(f"GridPlan: step_scale must be in (0, 1], got {self.step_scale}")
        if self.min_steps < 1:
            raise ValueError(f"GridPlan: min_steps must be >= 1, got {self.min_steps}")
        if self.plug_scale not in PLUG_SCALES:
            raise ValueError(f"GridPlan: plug_scale must be one of {PLUG_SCALES}, got {self.plug_scale!r}")
        if self.num_samples < 1 or not self.seeds:
            raise ValueError("GridPlan: num_samples >= 1 and at least one seed")

    @property
    def root(self) -> Path:
        if self.models_dir:
            return Path(self.models_dir)
        return data_dir() / "models" / f"decoders{scaled_tail(self.step_scale, self.min_steps)}"

    def cells(self) -> list[tuple[str, str, int]]:
        return [(h, s, k) for h in self.hosts for s in self.semantics for k in self.seeds]

    def wav2sem_for(self, seed: int) -> str:
        """The Wav2Sem folder the wav2sem cell of `seed` reads."""
        return self.wav2sem if isinstance(self.wav2sem, str) else self.wav2sem[self.seeds.index(seed)]

    def folder(self, host: str, semantic: str, seed: int) -> Path:
        tail = "-std" if semantic != "none" and self.plug_scale == "standardize" else ""
        return self.root / f"{host}-{semantic}{tail}-seed{seed}"

    def recipe(self, host: str, semantic: str, seed: int) -> DecoderRecipe:
        over = dict(self.overrides.get(host, {}))
        if semantic != "none" and self.plug_scale != "raw":
            over["plug_scale"] = self.plug_scale
        folder = {"wav2sem": lambda: self.wav2sem_for(seed), "wav2sem_local": lambda: self.wav2sem_local}.get(semantic)
        r = DecoderRecipe(host, preset=self.preset, semantic=semantic, seed=seed, wav2sem=folder() if folder else None,
                          overrides=over)  # fmt: skip
        if self.step_scale < 1:
            r = replace(r, max_steps=self.scaled(train_config(r, 1_000_000).max_steps))
            over = dict(r.overrides)
            if "stage1_steps" in get(host).config_class.__dataclass_fields__:  # CodeTalker, LG-LDM's stage 1
                over["stage1_steps"] = self.scaled(get(host).config_class.preset(self.preset, **over).stage1_steps)
            r = replace(r, overrides=over)
        if self.curve_points:
            r = replace(r, val_every=max(1, train_config(r, 1_000_000).max_steps // self.curve_points))
        return r

    def scaled(self, steps: int) -> int:
        """A recipe's `steps` at step_scale: at least min_steps, at most `steps`."""
        return min(steps, max(self.min_steps, round(steps * self.step_scale)))

    def eval_options(self, host: str) -> dict:
        samples = self.num_samples if getattr(get(host), "stochastic", False) else 1
        # version 2: the use test, the plug's scale, and the timing-tolerant lip metrics
        out = {"split": self.split, "conditions": self.conditions, "num_samples": samples, "version": EVAL_VERSION}
        return out if self.use_test else {**out, "use_test": False}  # (the grid's files keep their names)

    @property
    def use_condition(self) -> int:
        """The training identity the use test generates in: the plan's one identity, or identity 0 with "all"."""
        return 0 if self.conditions == "all" else int(self.conditions)


def _eval_file(folder: Path, options: dict) -> Path:
    return folder / f"grid-eval-{key_of(options, n=10)}.json"


def cached_result(plan: GridPlan, host: str, semantic: str, seed: int) -> dict | None:
    """The cell's result if it was trained and evaluated with these options after its last training."""
    folder = plan.folder(host, semantic, seed)
    path = _eval_file(folder, plan.eval_options(host))
    run = folder / RUN_FILE
    if not path.is_file() or not run.is_file() or path.stat().st_mtime < run.stat().st_mtime:
        return None
    record = read_json(run, "decoder run record")
    if record.get("recipe") != plan.recipe(host, semantic, seed).to_json():
        return None  # trained with another recipe (e.g. another Wav2Sem folder): run_cell trains it again
    if (record.get("data") or {}).get("root") != str(Path(plan.corpus_root).resolve()):
        return None  # trained on another corpus (e.g. quick mode's): run_cell replaces it
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
    try:
        record = train_decoder(plan.recipe(host, semantic, seed), plan.corpus_root, folder)
    except OtherRunError:  # an earlier grid's cell (e.g. its Wav2Sem was retrained since): replaced, if only the grid wrote it
        _remove_stale_cell(folder)
        record = train_decoder(plan.recipe(host, semantic, seed), plan.corpus_root, folder)
    t1 = time.perf_counter()
    options = plan.eval_options(host)
    conditions = options["conditions"] if options["conditions"] == "all" else int(options["conditions"])
    use = semantic != "none" and plan.use_test
    keep = (plan.use_condition, 0) if use else None  # the use test's own-F_s generation
    res = evaluate_decoder(folder, split=options["split"], conditions=conditions, with_baseline=False,
                           num_samples=options["num_samples"], keep=keep)  # fmt: skip
    own = res.pop("predictions", None)
    words = res.get("minimal_pair_words") or []
    out = {"host": host, "semantic": semantic, "seed": seed, "folder": str(folder), "eval": options,
           "metrics": res["metrics"], "sample_std": res["sample_std"], "per_clip": res["per_clip"],
           "minimal_pair_scores": [w["score"] for w in words if w.get("excluded") is None],
           "minimal_pair_words": [{k: w.get(k) for k in ("stem", "word", "partner", "start", "end", "score")}
                                  for w in words if w.get("excluded") is None],
           "history": {"step": record["history"]["step"], "loss": record["history"]["loss"],
                       "val": [{"step": e["step"], "loss": e["val_loss"]} for e in record["history"].get("evals", [])
                               if "val_loss" in e]},  # the learning curve, with curve_points
           "train_seconds": (record.get("seconds") or {}).get("total"), "this_call_train_seconds": round(t1 - t0, 2),
           "eval_seconds": round(time.perf_counter() - t1, 2), "n_parameters": record.get("n_parameters"),
           "train_steps": record["train"]["max_steps"]}  # fmt: skip
    if use:
        t2 = time.perf_counter()
        out["use"] = use_test(folder, options["split"], plan.use_condition, own=own)
        out["use_seconds"] = round(time.perf_counter() - t2, 2)
    write_json(_eval_file(folder, options), out)
    return json_safe(out)  # as a later cache hit reads it: NaN as None


CELL_FILES = ("model", "train", RUN_FILE, MANIFEST)  # what a grid cell holds, besides its grid-eval-*.json files


def _remove_stale_cell(folder: Path) -> None:
    """Delete a grid cell trained with another recipe or data, only when it holds nothing but what the grid
    writes into a cell; anything else in it is the user's, and the error stands."""
    foreign = [p.name for p in folder.iterdir() if p.name not in CELL_FILES and not p.name.startswith("grid-eval-")]
    if foreign:
        raise OtherRunError(f"{folder}: a grid cell trained with another recipe or data, and it holds files the grid "
                            f"did not write ({', '.join(sorted(foreign)[:3])}); move them away or delete the folder")  # fmt: skip
    check_owned(folder, "decoder")  # and in its train/ and model/, only what w2s writes there
    shutil.rmtree(folder)


def seed_noise(plan: GridPlan, host: str) -> dict | None:
    """The use test's noise scale for `host`: :func:`w2s.evaluation.plug_use.seed_change` between its ``none``
    cells (which differ only by the training seed), cached in the plan's folder; None with fewer than 2 seeds."""
    folders = [plan.folder(host, "none", k) for k in plan.seeds]
    if len(folders) < 2 or not all((f / RUN_FILE).is_file() for f in folders):
        return None
    options = {"split": plan.split, "condition": plan.use_condition, "seeds": list(plan.seeds), "version": EVAL_VERSION}
    path = plan.root / f"{host}-none-seed-change-{key_of(options, n=10)}.json"
    if path.is_file() and all(path.stat().st_mtime >= (f / RUN_FILE).stat().st_mtime for f in folders):
        return read_json(path, "seed-to-seed change")
    out = seed_change(folders, plan.split, plan.use_condition)
    write_json(path, out)
    return json_safe(out)  # as a later cache hit reads it: NaN as None


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
        # grid cell k/N and the time left (the average over the cells run here), in Jupyter and on the runner's line
        with progress(total=total, initial=total - len(todo), desc="grid", unit="cell", smoothing=0, mininterval=0) as bar:
            for i, result in in_processes(run_cell, [(plan, *c) for c in todo], default_workers(len(todo), workers)):
                results[todo[i]] = result
                bar.update(1)
                if on_result:
                    on_result(result, len(results), total)
    return [results[c] for c in cells]


# ---------------------------------------------------------------------------------------------
# progress and records


def print_progress(result: dict, done: int, total: int) -> None:
    """``run_grid``'s ``on_result`` for a notebook: one line per finished cell."""
    m = result["metrics"]
    mp = m.get("minimal_pair_accuracy")  # None: no pair word (null in a cached result)
    print(f"[{done}/{total}] {result['host']:<12} {result['semantic']:<11} seed {result['seed']}: "
          f"LVE {m['lve']:.3e}, minimal-pair {math.nan if mp is None else mp:.3f} "
          f"(train {(result['train_seconds'] or 0) / 60:.1f} min, eval {result['eval_seconds'] / 60:.1f} min)", flush=True)


def to_json(plan: GridPlan) -> dict:
    return json.loads(json.dumps(asdict(plan)))
