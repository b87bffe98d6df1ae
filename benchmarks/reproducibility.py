"""Where do two trainings of the same component with the same seed part? (issue 21)

Trains short versions of the shared, trained components twice or more, each in a fresh process, under
conditions that differ between two real runs, and reports the first step whose loss differs and whether
the final weights are bit-identical:

    python benchmarks/reproducibility.py [--steps 60] [--components wav2sem,recogniser,stage1,codetalker]
    python benchmarks/reproducibility.py --spread data/ [--hosts voca,codetalker,lgldm]   # after a make run
    python benchmarks/reproducibility.py --table      # the README's before / after table

components (all on the smoke corpus, built into a temporary data folder):
  wav2sem     notebook 02's lite recipe (attention pooling, InfoNCE against all sentences, phoneme CTC), on MFCC
  recogniser  VOCA's input: the frame phoneme read-out (sklearn lbfgs) on MFCC frames
  stage1      CodeTalker's / LG-LDM's stage-1 VQ-VAE
  codetalker  a CodeTalker host (stage 2) whose stage 1 is trained in this process ("cold") or read from the
              cache another process wrote ("warm"): what happens in the grid, where workers race for it
conditions:
  same        as the first run, again
  busy        beside a CPU-bound process
  threads=N   another torch / BLAS thread count (W2S_THREADS=N)
  kernels of another CPU type
              the other of {AVX-512, AVX2} kernels: with W2S_CPU_ISA=native (the libraries choose, as before
              the fix) AVX2 as on a CPU without AVX-512; with w2s's AVX2 pin, this CPU's own AVX-512
  warm        (codetalker) stage 1 read from the cache the first run wrote

Writes benchmarks/results/reproducibility.json (reproducibility-before.json: the same at df0efc3, before
the fix, where the default thread count was the CPU count, the kernels the CPU's own, and a training's
dropout drew from whatever state its process had). The child mode (--child) is what each run executes.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
COMPONENTS = ("wav2sem", "recogniser", "stage1", "codetalker")
AVX2 = {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_CBWR": "AVX2", "MKL_ENABLE_INSTRUCTIONS": "AVX2",
        "OPENBLAS_CORETYPE": "Haswell"}  # fmt: skip
PINNED = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", *AVX2)  # what `import w2s` sets in the environment


# ---------------------------------------------------------------------------------------------
# child: one training, its per-step losses and a digest of what it produced


def _child(component: str, steps: int, out: str) -> None:
    import numpy as np
    import torch

    import w2s  # noqa: F401  (first: the thread and kernel settings before torch loads)
    from w2s.data.corpus import Corpus
    from w2s.utils.hashing import sha256_tensors
    from w2s.utils.runtime import configure_threads

    corpus = Corpus.load_or_build("smoke", 0)
    res: dict = {"component": component, "threads": configure_threads(), "isa": torch.backends.cpu.get_cpu_capability()}
    t0 = time.perf_counter()
    if component == "wav2sem":
        from dataclasses import replace

        from w2s.semantic.train import LITE_DEFAULTS, Wav2SemRecipe, train_config, train_wav2sem

        stems = corpus.stems("train")
        paths = [corpus.root / "wav" / f"{s}.wav" for s in stems]
        texts = [corpus.transcripts[s] for s in stems]
        recipe = Wav2SemRecipe(config="lite", **{**LITE_DEFAULTS, "host_encoder": "mfcc"}, val_size=4,
                               train=replace(train_config(steps, seed=0), log_every=1, eval_every=0))  # fmt: skip
        with tempfile.TemporaryDirectory() as tmp:
            model, hist, _ = train_wav2sem(paths, texts, recipe, tmp)
        res.update(loss=hist.loss, digest=sha256_tensors(model.state_dict()))
    elif component == "recogniser":
        from w2s.encoders import load_encoder
        from w2s.encoders.recogniser import fit_phoneme_recogniser

        rec, info = fit_phoneme_recogniser(load_encoder("mfcc"), corpus)
        res.update(digest=sha256_tensors({k: torch.as_tensor(np.asarray(v, np.float32)) for k, v in rec.arrays().items()
                                          if k != "classes"}), train_accuracy=info["train_accuracy"])  # fmt: skip
    elif component == "stage1":
        from w2s.decoders.codetalker_vqvae import VQVAE, VQVAEConfig, pad, train_step
        from w2s.train import TrainConfig, fit

        ds = corpus.dataset("train")
        offsets = [torch.as_tensor(ds[i]["vertices"] - ds[i]["template"], dtype=torch.float32)
                   .reshape(-1, corpus.n_vertices, 3) for i in range(len(ds))]  # fmt: skip
        torch.manual_seed(0)
        model = VQVAE(VQVAEConfig.tiny(n_vertices=corpus.n_vertices))
        torch.nn.init.zeros_(model.vertice_map_reverse.weight)
        torch.nn.init.zeros_(model.vertice_map_reverse.bias)
        cfg = TrainConfig(max_steps=steps, batch_size=4, lr=1e-3, warmup_steps=5, eval_every=0, checkpoint_every=10**9,
                          log_every=1, seed=0)  # fmt: skip
        hist = fit(model, offsets, pad, train_step, cfg, resume=False)
        res.update(loss=hist.loss, digest=sha256_tensors(model.state_dict()))
    elif component == "codetalker":
        from safetensors.torch import load_file

        from w2s.decoders.training import DecoderRecipe, train_decoder

        recipe = DecoderRecipe("codetalker", encoder="mfcc", max_steps=steps, overrides={"stage1_steps": steps})
        with tempfile.TemporaryDirectory() as tmp:
            rec = train_decoder(recipe, corpus.root, Path(tmp) / "m")
            state = load_file(Path(tmp) / "m" / "model" / "model.safetensors")
        res.update(loss=rec["history"]["loss"], digest=sha256_tensors(state), stage1=rec["prepare"].get("cached"))
    res["seconds"] = round(time.perf_counter() - t0, 1)
    Path(out).write_text(json.dumps(res))


# ---------------------------------------------------------------------------------------------
# parent: the conditions, side by side


def _run(component: str, steps: int, env: dict, busy: bool = False) -> dict:
    burner = None
    if busy:  # a CPU-bound neighbour: one core's worth of pure Python
        burner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        with tempfile.NamedTemporaryFile(suffix=".json") as f:
            subprocess.run([sys.executable, __file__, "--child", component, "--steps", str(steps), "--out", f.name],
                           env={**os.environ, **env}, check=True)  # fmt: skip
            return json.loads(Path(f.name).read_text())
    finally:
        if burner is not None:
            burner.kill()


def first_difference(a: list[float] | None, b: list[float] | None) -> int | None:
    """The first training step (1-based) whose loss differs, bit for bit; None when none does."""
    if a is None or b is None:
        return None
    for i, (x, y) in enumerate(zip(a, b), 1):
        if x != y:
            return i
    return None if len(a) == len(b) else min(len(a), len(b)) + 1


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--components", default=",".join(COMPONENTS))
    ap.add_argument("--child")
    ap.add_argument("--out")
    ap.add_argument("--results", default=str(HERE / "results" / "reproducibility.json"))
    ap.add_argument("--table", action="store_true", help="print the README's table from the results (before and after)")
    ap.add_argument("--spread", metavar="DATA_DIR", help="a finished make run's data/: retrain some of its grid cells "
                    "with another thread count and the CPU's own kernels, and compare (results/reproducibility-spread.json)")
    ap.add_argument("--hosts", default="voca,codetalker,lgldm")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--step-scale", type=float, default=0.8)
    ap.add_argument("--settings", default="", help="with --spread: only these of W2S_THREADS,W2S_CPU_ISA (and pinned)")
    ap.add_argument("--spread-child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return _child(args.child, args.steps, args.out)
    if args.spread_child:
        return _spread_child(args.spread_child, args.out)
    if args.spread:
        rows = spread(Path(args.spread).resolve(), args.hosts.split(","), args.seed, args.step_scale,
                      [x for x in args.settings.split(",") if x])  # fmt: skip
        out = Path(args.results).with_name("reproducibility-spread.json")
        old = json.loads(out.read_text())["rows"] if out.is_file() and args.settings else []
        keep = [r for r in old if (r["host"], r["setting"]) not in {(x["host"], x["setting"]) for x in rows}]
        from w2s.utils.runtime import cpu_model

        out.write_text(json.dumps({"machine": {"cpu": cpu_model(), "cores": os.cpu_count()}, "rows": keep + rows}, indent=1) + "\n")
        return print("wrote", out)
    if args.table:
        return print(table(Path(args.results).with_name("reproducibility-before.json"), Path(args.results)))

    import torch

    import w2s  # noqa: F401
    from w2s.utils.runtime import cpu_isa, cpu_model, default_threads

    data = tempfile.mkdtemp(prefix="w2s-repro-")
    base = {"W2S_DATA_DIR": data, "W2S_PROGRESS": "0", "HF_HUB_OFFLINE": "1", "PYTHONWARNINGS": "ignore"}
    for k in PINNED:  # the children decide
        os.environ.pop(k, None)
    other = 1 if default_threads() > 1 else 2
    # what another machine would run: AVX2 kernels on this AVX-512 CPU when w2s lets the libraries choose
    # (W2S_CPU_ISA=native, as before the fix), the CPU's own when w2s pins AVX2
    other_isa = AVX2 if cpu_isa() == "native" else {"W2S_CPU_ISA": "native"}
    rows = []
    for comp in args.components.split(","):
        first = _run(comp, args.steps, base)  # codetalker: trains stage 1 and writes its cache ("cold")
        conds = {"same": dict(env=base), "busy": dict(env=base, busy=True),
                 f"threads={other}": dict(env={**base, "W2S_THREADS": str(other)}),
                 "kernels of another CPU type": dict(env={**base, **other_isa})}  # fmt: skip
        if comp == "codetalker":  # the first run left stage 1 in the cache: the next ones read it ("warm")
            cold = dict(env={**base, "W2S_DATA_DIR": tempfile.mkdtemp(prefix="w2s-repro-")})
            conds = {"warm (stage 1 read from the cache)": dict(env=base), "cold again": cold}
        for name, kw in conds.items():
            r = _run(comp, args.steps, **kw)
            row = {"component": comp, "condition": name, "steps": args.steps,
                   "first_differing_step": first_difference(first.get("loss"), r.get("loss")),
                   "weights_identical": r["digest"] == first["digest"], "threads": [first["threads"], r["threads"]],
                   "isa": [first["isa"], r["isa"]], "seconds": [first["seconds"], r["seconds"]]}  # fmt: skip
            rows.append(row)
            print(json.dumps(row), flush=True)
    out = {"machine": {"cpu": cpu_model(), "cores": os.cpu_count(), "torch": torch.__version__,
                       "W2S_CPU_ISA": os.environ.get("W2S_CPU_ISA", "(default)")},
           "rows": rows}  # fmt: skip
    Path(args.results).parent.mkdir(parents=True, exist_ok=True)
    Path(args.results).write_text(json.dumps(out, indent=1) + "\n")
    print("wrote", args.results)


def _spread_child(plan_json: str, out: str) -> None:
    """One grid cell under this process's W2S_THREADS / W2S_CPU_ISA (the --spread mode's worker)."""
    import w2s  # noqa: F401
    from w2s.evaluation.grid import GridPlan, run_cell

    spec = json.loads(plan_json)
    cell = spec.pop("cell")
    plan = GridPlan(**{k: tuple(v) if isinstance(v, list) else v for k, v in spec.items()})
    r = run_cell(plan, *cell)
    Path(out).write_text(json.dumps({"metrics": r["metrics"], "loss_last": r["history"]["loss"][-1]}))


def spread(data: Path, hosts: list[str], seed: int, step_scale: float, settings: list[str] | None = None) -> list[dict]:
    """How far a finished run's grid cells move when retrained with another thread count or with the CPU's own
    kernels (what an unpinned machine of another type would do): each cell retrained in a fresh process into a
    temporary folder, reading the run's cached corpus, features and stage 1, against the run's own cell."""
    from w2s.evaluation.grid import GridPlan

    corpus = next((data / "corpus").glob("*-default-seed0"))
    ref = GridPlan(str(corpus), "", hosts=tuple(hosts), semantics=("none",), seeds=(seed,), step_scale=step_scale,
                   conditions="0", models_dir=str(data / "models" / f"decoders-x{step_scale:g}"))  # fmt: skip
    rows = []
    for host in hosts:
        mine = json.loads(next(ref.folder(host, "none", seed).glob("grid-eval-*.json")).read_text())["metrics"]
        for name, env in {"pinned (the run's settings)": {}, "W2S_THREADS=2": {"W2S_THREADS": "2"},
                          "W2S_CPU_ISA=native": {"W2S_CPU_ISA": "native"}}.items():  # fmt: skip
            if settings and name.split("=")[0] not in settings:
                continue
            with tempfile.TemporaryDirectory() as tmp:
                spec = {"corpus_root": str(corpus), "wav2sem": "", "hosts": [host], "semantics": ["none"], "seeds": [seed],
                        "step_scale": step_scale, "conditions": "0", "models_dir": tmp, "cell": [host, "none", seed]}  # fmt: skip
                out = Path(tmp) / "r.json"
                child = {k: v for k, v in os.environ.items() if k not in PINNED}  # the child's w2s decides
                subprocess.run([sys.executable, __file__, "--spread-child", json.dumps(spec), "--out", str(out)],
                               env={**child, "W2S_DATA_DIR": str(data), "W2S_PROGRESS": "0", **env}, check=True)  # fmt: skip
                m = json.loads(out.read_text())["metrics"]
            row = {"host": host, "seed": seed, "setting": name, "lve": m["lve"], "run_lve": mine["lve"],
                   "lve_relative_change": m["lve"] / mine["lve"] - 1, "identical": m == mine,
                   "minimal_pair_accuracy": [mine.get("minimal_pair_accuracy"), m.get("minimal_pair_accuracy")]}  # fmt: skip
            rows.append(row)
            print(json.dumps(row), flush=True)
    return rows


def table(before: Path, after: Path) -> str:
    """Markdown: per component and condition, the first differing step and whether the weights are identical,
    before the fix and after it."""

    def cell(r: dict | None) -> str:
        if r is None:
            return "–"
        if r["weights_identical"]:
            return "identical"
        step = r["first_differing_step"]
        return f"differ (step {step})" if step else "differ"

    def key(r: dict) -> tuple[str, str]:
        cond = r["condition"]
        if cond.startswith("threads="):
            cond = "another thread count"
        if cond in ("isa=avx2", "kernels of another CPU type"):
            cond = "kernels of another CPU type (AVX2 / AVX-512)"
        return r["component"], cond

    rows_before = {key(r): r for r in json.loads(before.read_text())["rows"]}
    rows_after = {key(r): r for r in json.loads(after.read_text())["rows"]}
    lines = ["| component | the second run | before the fix (df0efc3) | after it |", "|---|---|---|---|"]
    for k in dict.fromkeys([*rows_before, *rows_after]):
        lines.append(f"| {k[0]} | {k[1]} | {cell(rows_before.get(k))} | {cell(rows_after.get(k))} |")
    return "\n".join(lines)



if __name__ == "__main__":
    main()
