"""Issue 26, item 4's "before": notebook 04's host models, trained on espeak-ng only, on the test sentences
spoken by espeak-ng and by CMU flite (`w2s corpus build OUT --voice-set flite`: the same sentences, speakers
and styles, lips from flite's own timings).

    .venv/bin/python benchmarks/voices_hosts.py [--models DIR] [--semantics none wav2sem] [--seeds 0 1 2]
    .venv/bin/python benchmarks/voices_hosts.py --preset powered --models DIR   # make run's corpus (400 clips)
    .venv/bin/python benchmarks/voices_hosts.py [--preset P] --table

--models: the grid's folder of a full `make run` (default data/models/decoders-x0.8), one model per
{host}-{F_s}-seed{N}; missing cells are skipped and listed. Each model is evaluated as the grid does (test
split, identity 0's style) with one sample per clip for the diffusion hosts, on both voices; the baseline
(template + the espeak-ng corpus's mean training offset) is scored against each voice's ground truth. The
issue's goal: √LVE on flite within 15 % of √LVE on espeak-ng. Nothing is trained here.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import w2s  # noqa: F401  (first: pins threads and kernels before numpy and torch load)

# isort: off
import numpy as np
# isort: on

from w2s.corpus import voices
from w2s.data.corpus import Corpus
from w2s.evaluation.decoders import baseline, evaluate_decoder
from w2s.evaluation.grid import HOSTS
from w2s.evaluation.report import markdown_table
from w2s.utils.paths import data_dir
from w2s.utils.runtime import configure_threads

RESULTS = Path(__file__).parent / "results" / "voices_hosts.json"  # the default corpus's; other presets: -PRESET


def results_file(preset: str) -> Path:
    return RESULTS if preset == "default" else RESULTS.with_name(f"{RESULTS.stem}-{preset}.json")
SPLIT, CONDITION, GOAL = "test", 0, 0.15
KEYS = ("lve", "lve_mm", "homophone_lve", "minimal_pair_accuracy", "minimal_pair_n_words", "n_sequences")


def measure(models: Path, semantics: list[str], seeds: list[int], preset: str = "default") -> dict:
    configure_threads()
    espeak = Corpus.load_or_build(preset, 0)
    flite = voices.load_or_build("flite", preset, 0)
    roots = {"espeak": espeak.root, "flite": Path(flite)}
    out = {"models": str(models), "preset": preset, "split": SPLIT, "condition": CONDITION, "samples": 1, "cells": [], "missing": [],
           "baseline": {v: {k: baseline(r, SPLIT, train_root=espeak.root).get(k) for k in KEYS} for v, r in roots.items()}}  # fmt: skip
    for host in HOSTS:
        for sem in semantics:
            for seed in seeds:
                folder = models / f"{host}-{sem}-seed{seed}"
                if not (folder / "decoder_run.json").is_file():
                    out["missing"].append(folder.name)
                    continue
                t0, row = time.perf_counter(), {"host": host, "semantic": sem, "seed": seed}
                for v, root in roots.items():
                    r = evaluate_decoder(folder, root=root, split=SPLIT, conditions=CONDITION, with_baseline=False,
                                         num_samples=1)  # fmt: skip
                    row[v] = {k: r["metrics"].get(k) for k in KEYS}
                row["seconds"] = round(time.perf_counter() - t0, 1)
                out["cells"].append(row)
                print(json.dumps(row), flush=True)
    return out


def table(res: dict) -> str:
    rows = []
    groups: dict[tuple, list] = {}
    for c in res["cells"]:
        groups.setdefault((c["host"], c["semantic"]), []).append(c)
    b = res["baseline"]
    rows.append({"host": "baseline (template + mean offset)", "F_s": "–", "seeds": "–", "√LVE espeak mm": b["espeak"]["lve_mm"],
                 "√LVE flite mm": b["flite"]["lve_mm"], "flite / espeak": b["flite"]["lve_mm"] / b["espeak"]["lve_mm"],
                 "minimal-pair espeak": b["espeak"]["minimal_pair_accuracy"], "minimal-pair flite": b["flite"]["minimal_pair_accuracy"],
                 f"within {GOAL:.0%}": "–"})  # fmt: skip
    for (host, sem), cells in groups.items():
        e = np.array([c["espeak"]["lve_mm"] for c in cells])
        f = np.array([c["flite"]["lve_mm"] for c in cells])
        ratio = float(np.mean(f / e))
        rows.append({"host": host, "F_s": sem, "seeds": len(cells), "√LVE espeak mm": float(e.mean()), "√LVE flite mm": float(f.mean()),
                     "flite / espeak": ratio,
                     "minimal-pair espeak": float(np.mean([c["espeak"]["minimal_pair_accuracy"] for c in cells])),
                     "minimal-pair flite": float(np.mean([c["flite"]["minimal_pair_accuracy"] for c in cells])),
                     f"within {GOAL:.0%}": "yes" if ratio <= 1 + GOAL else "no"})  # fmt: skip
    words = {v: res["cells"][0][v]["minimal_pair_n_words"] for v in ("espeak", "flite")} if res["cells"] else {}
    return (markdown_table(rows, floatfmt=".3f") + f"\n\nTest split, identity 0's style, one sample per clip; minimal-pair "
            f"words per model: espeak {words.get('espeak')}, flite {words.get('flite')}; models: {res['models']}"
            + (f"; missing: {', '.join(res['missing'])}" if res["missing"] else ""))  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", type=Path, default=None, help="the grid's models folder (default data/models/decoders-x0.8)")
    ap.add_argument("--semantics", nargs="*", default=["none", "wav2sem"])
    ap.add_argument("--seeds", nargs="*", type=int, default=[0, 1, 2])
    ap.add_argument("--preset", default="default", help="the corpus the models were trained on (default, powered)")
    ap.add_argument("--table", action="store_true", help="print the saved result and stop")
    args = ap.parse_args()
    path = results_file(args.preset)
    if not args.table:
        models = args.models or data_dir() / "models" / "decoders-x0.8"
        if not models.is_dir():
            ap.error(f"--models {models}: no such folder; run `make run` first (notebook 04 trains the grid)")
        res = measure(models, args.semantics, args.seeds, args.preset)
        path.parent.mkdir(exist_ok=True)
        path.write_text(json.dumps(res, indent=1) + "\n")
    print(table(json.loads(path.read_text())))


if __name__ == "__main__":
    main()
