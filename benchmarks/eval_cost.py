"""What the grid's evaluation would cost on the `powered` corpus (issue 22: the power protocol's 200 pair-word
tokens per model), per host, and the grid's evaluation time projected from it.

    .venv/bin/python benchmarks/eval_cost.py             # trains what is missing (oracle_word, 0.8 x grid steps)
    .venv/bin/python benchmarks/eval_cost.py --table     # the saved result

For each host: an `oracle_word` model trained for the grid's steps (0.8 x the tiny recipe, seed 0) on the
`powered` corpus (data/models/eval-cost/), then, in one process as a grid worker would run its cells, the
cell's evaluation (`evaluate_decoder` on the **val** split, identity 0, the grid's samples for a diffusion
host, keeping the own-F_s generation) and its use test (reusing it). The projection: 3 seeds x (one `none`
cell, evaluation only, + three plugged cells, evaluation + use test), over the grid's two workers. Seconds
depend on the machine and its load (recorded as the load average); nothing here is a result of the science.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import w2s  # noqa: F401  (first: pins threads and kernels before torch loads)
from w2s.data.corpus import Corpus
from w2s.decoders import get
from w2s.decoders.training import DecoderRecipe, train_config, train_decoder
from w2s.evaluation.decoders import evaluate_decoder
from w2s.evaluation.grid import HOSTS, GridPlan
from w2s.evaluation.plug_use import use_test
from w2s.evaluation.report import markdown_table
from w2s.utils.paths import data_dir
from w2s.utils.runtime import configure_threads

RESULTS = Path(__file__).parent / "results" / "eval_cost.json"
SPLIT, CONDITION, SEEDS, WORKERS, SCALE = "val", 0, 3, 2, 0.8


def run(hosts: tuple[str, ...], preset: str) -> dict:
    configure_threads()
    corpus = Corpus.load_or_build(preset, 0)
    samples = GridPlan(str(corpus.root), "unused").num_samples
    out = {"preset": preset, "split": SPLIT, "hosts": {}, "load_average_start": os.getloadavg()[0]}
    for host in hosts:
        steps = max(1, round(train_config(DecoderRecipe(host), 1_000_000).max_steps * SCALE))
        folder = data_dir() / "models" / "eval-cost" / f"{host}-oracle_word-x{SCALE:g}-{preset}"
        t0 = time.perf_counter()
        train_decoder(DecoderRecipe(host, semantic="oracle_word", max_steps=steps), corpus.root, folder)
        t1 = time.perf_counter()
        n = samples if getattr(get(host), "stochastic", False) else 1
        r = evaluate_decoder(folder, split=SPLIT, conditions=CONDITION, with_baseline=False, num_samples=n,
                             keep=(CONDITION, 0))  # fmt: skip
        t2 = time.perf_counter()
        use_test(folder, SPLIT, CONDITION, own=r.pop("predictions"))
        t3 = time.perf_counter()
        row = {"steps": steps, "samples": n, "train_seconds_this_call": t1 - t0, "eval_seconds": t2 - t1,
               "generate_seconds": r["generate_seconds"], "use_seconds": t3 - t2,
               "n_clips": r["metrics"]["n_sequences"], "n_words": r["metrics"].get("minimal_pair_n_words")}  # fmt: skip
        row["grid_seconds"] = SEEDS * (row["eval_seconds"] + 3 * (row["eval_seconds"] + row["use_seconds"]))
        out["hosts"][host] = row
        print(host, json.dumps(row), flush=True)
    out["load_average_end"] = os.getloadavg()[0]
    out["grid_eval_minutes_projected"] = sum(r["grid_seconds"] for r in out["hosts"].values()) / WORKERS / 60
    return out


def table(res: dict) -> str:
    rows = [{"host": h, "samples": r["samples"], "clips": r["n_clips"], "pair words": r["n_words"],
             "evaluation s": r["eval_seconds"], "of which generation s": r["generate_seconds"],
             "use test s": r["use_seconds"], "12 cells, worker min": r["grid_seconds"] / 60}
            for h, r in res["hosts"].items()]  # fmt: skip
    return (markdown_table(rows, floatfmt=".1f") + f"\n\nThe grid's evaluation on `{res['preset']}`, projected: "
            f"{res['grid_eval_minutes_projected']:.1f} min on {WORKERS} workers (load average "
            f"{res['load_average_start']:.1f} at the start).")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hosts", nargs="*", default=list(HOSTS))
    ap.add_argument("--preset", default="powered")
    ap.add_argument("--table", action="store_true", help="print the saved result and stop")
    args = ap.parse_args()
    if not args.table:
        res = run(tuple(args.hosts), args.preset)
        RESULTS.parent.mkdir(exist_ok=True)
        RESULTS.write_text(json.dumps(res, indent=1) + "\n")
    print(table(json.loads(RESULTS.read_text())))


if __name__ == "__main__":
    main()
