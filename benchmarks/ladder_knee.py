"""Where is the knee? The val-loss learning curves that size notebook 05's ladder (issue 23: "each trained to
the knee of its val curve"). Per host, masking level and rung: one training (seed 0) to `--times` x the host's
tiny recipe, the val split's loss at 20 points (w2s decoder train --val-every), read with the ladder's rule
(w2s.evaluation.ladder.curve_rows): where the curve's minimum is and how much of its fall comes late.

    .venv/bin/python benchmarks/ladder_knee.py [--hosts voca faceformer] [--levels clean full] [--times 2]
    .venv/bin/python benchmarks/ladder_knee.py --table

Reads val only (never test). The ladder's STEP_SCALE is chosen from this table.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import w2s  # noqa: F401  (first: pins threads and kernels before torch loads)
from w2s.corpus.build import load_or_build
from w2s.decoders.training import DecoderRecipe, train_config, train_decoder
from w2s.evaluation.ladder import curve_rows, level_preset
from w2s.evaluation.report import markdown_table
from w2s.utils.parallel import default_workers, in_processes
from w2s.utils.paths import data_dir
from w2s.utils.runtime import configure_threads

RESULTS = Path(__file__).parent / "results" / "ladder_knee.json"
POINTS = 20


def cell(host: str, level: str, rung: str, times: float) -> dict:
    configure_threads()
    root = load_or_build(level_preset("default", level), 0)
    base = train_config(DecoderRecipe(host), 1_000_000).max_steps
    steps = max(POINTS, round(base * times))
    over = {} if rung == "none" else {"plug_scale": "standardize"}
    folder = data_dir() / "models" / "ladder-knee" / f"{host}-{rung}-{level}-x{times:g}"
    t0 = time.perf_counter()
    rec = train_decoder(DecoderRecipe(host, semantic=rung, max_steps=steps, overrides=over, val_every=steps // POINTS),
                        root, folder)  # fmt: skip
    val = [{"step": e["step"], "loss": e["val_loss"]} for e in rec["history"]["evals"]]
    return {"host": host, "level": level, "rung": rung, "times": times, "recipe_steps": base, "steps": steps,
            "seconds": round(time.perf_counter() - t0, 1), "val": val}  # fmt: skip


def table(rows: list[dict]) -> str:
    out = []
    for r in rows:
        c = curve_rows({r["level"]: [{"host": r["host"], "semantic": r["rung"], "seed": 0, "history": {"val": r["val"]}}]})[0]
        best = c["best_step"] / r["recipe_steps"]
        at = {x: min(c["val_loss"][i] for i, s in enumerate(c["steps"]) if s <= x * r["recipe_steps"]) for x in (0.8, 1.0)}
        fall = c["val_loss"][0] - min(c["val_loss"])
        out.append({"host": r["host"], "masking": r["level"], "F_s": r["rung"], "steps (x recipe)": f"{r['steps']} ({r['times']:g})",
                    "best step (x recipe)": f"{c['best_step']} ({best:.2f})",
                    "fall left after 0.8x": (at[0.8] - min(c["val_loss"])) / fall if fall else 0.0,
                    "fall left after 1x": (at[1.0] - min(c["val_loss"])) / fall if fall else 0.0,
                    "curve": c["state"], "min": f"{r['seconds'] / 60:.1f}"})  # fmt: skip
    return markdown_table(out, floatfmt=".2f")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hosts", nargs="*", default=["voca", "faceformer"])
    ap.add_argument("--levels", nargs="*", default=["clean", "full"])
    ap.add_argument("--rungs", nargs="*", default=["none", "oracle_viseme"])
    ap.add_argument("--times", type=float, default=2.0, help="training length, in multiples of the tiny recipe's steps")
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--table", action="store_true", help="print the saved results and stop")
    args = ap.parse_args()
    if not args.table:
        for lv in args.levels:
            load_or_build(level_preset("default", lv), 0)  # built once, before the workers
        jobs = [(h, lv, r, args.times) for h in args.hosts for lv in args.levels for r in args.rungs]
        new = [None] * len(jobs)
        for i, res in in_processes(cell, jobs, default_workers(len(jobs), args.workers)):
            new[i] = res
            print(json.dumps({k: v for k, v in res.items() if k != "val"}), flush=True)
        old = json.loads(RESULTS.read_text()) if RESULTS.is_file() else []
        key = lambda r: (r["host"], r["level"], r["rung"], r["times"])  # noqa: E731
        keep = {key(r) for r in new}
        RESULTS.parent.mkdir(exist_ok=True)
        RESULTS.write_text(json.dumps([r for r in old if key(r) not in keep] + new, indent=1) + "\n")
    print(table(json.loads(RESULTS.read_text())))


if __name__ == "__main__":
    main()
