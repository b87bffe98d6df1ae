"""Tiny HuBERT's pretraining: quick mode's recipe against the full one, in seconds and in what it learns.

    .venv/bin/python benchmarks/tiny_hubert_quick.py                  # the quick recipe (QUICK_STEPS steps), whole
    .venv/bin/python benchmarks/tiny_hubert_quick.py --steps 100 150  # other step counts, to choose QUICK_STEPS
    .venv/bin/python benchmarks/tiny_hubert_quick.py --full           # the full recipe (900 steps) too, whole

`make run` pretrains the full recipe (w2s.encoders.tiny_hubert.TinyHubertConfig, 900 steps) in notebook 01;
`make run QUICK=1` the quick one (quick_config: the same model, QUICK_STEPS steps). Each recipe is pretrained
whole on the default corpus's training speakers, as notebook 01 does (same data, seed 0, the thread count `fit`
sets), into a temporary folder (the features and random-hubert baseline go to a temporary W2S_DATA_DIR too:
nothing is added to data/). For each: k-means, training and whole seconds, seconds per step, the masked loss
(first 10 / last 50 steps) and accuracy, and notebook 01's checks on its features: the phoneme probe's accuracy
against random-hubert's, and the other-speaker ABX error of near-homophones against far pairs.

The full recipe's seconds without --full: k-means + 900 x the measured seconds per step (same model, batch and
crops, so the same cost per step), beside the full model's own history when data/'s cache holds it for this corpus.
Writes benchmarks/results/tiny_hubert_quick.json. Seconds depend on the machine and its load (recorded).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import w2s  # noqa: F401  (first: sets OMP_WAIT_POLICY=PASSIVE before torch loads, so 2 threads do not spin)

# isort: off
import numpy as np
import torch
# isort: on

from w2s.data.corpus import Corpus
from w2s.data.faces import FaceDataset
from w2s.encoders.tiny_hubert import (
    QUICK_STEPS,
    TinyHubertConfig,
    pretrain_tiny_hubert,
    pretrained_folder,
    pretraining_history,
    quick_config,
)
from w2s.utils.io import write_json

RESULTS = Path(__file__).parent / "results" / "tiny_hubert_quick.json"


def recipe(steps: int) -> TinyHubertConfig:
    """The full recipe at 900 steps, quick mode's at QUICK_STEPS, else the full recipe shortened as quick's is."""
    full = TinyHubertConfig()
    if steps == full.steps:
        return full
    return quick_config() if steps == QUICK_STEPS else replace(full, steps=steps, warmup_steps=steps // 10)


def checks(folder: Path, corpus: Path, random_probe: float) -> dict:
    """Notebook 01's claims on this model's features (its asserts outside smoke mode)."""
    from w2s.evaluation.analysis import analyse

    r = analyse(str(folder), corpus)
    abx = {g: r["groups"][g]["abx_error_b_other_speaker"] for g in ("near", "far")}
    return {"probe_accuracy": r["probe"]["accuracy"], "probe_chance": r["probe"]["chance"],
            "random_hubert_probe_accuracy": random_probe, "abx_near": abx["near"], "abx_far": abx["far"],
            "probe_beats_random": r["probe"]["accuracy"] > random_probe, "abx_near_above_far": abx["near"] > abx["far"],
            "encode_s": r["seconds_encode"]}  # fmt: skip


def pretrain(wavs, config: TinyHubertConfig, out: Path) -> dict:
    t0 = time.perf_counter()
    h = pretrain_tiny_hubert(wavs, out, config, seed=0, log_every=0)
    wall = time.perf_counter() - t0
    loss, acc = np.array(h["loss"]), np.array(h["acc"])
    return {"steps": config.steps, "warmup_steps": config.warmup_steps, "kmeans_s": h["kmeans"]["fit_s"],
            "train_s": h["train_s"], "wall_s": round(wall, 1), "s_per_step": round(h["train_s"] / config.steps, 4),
            "threads": torch.get_num_threads(), "loss_first10": float(loss[:10].mean()),
            "loss_last50": float(loss[-50:].mean()), "masked_acc_last50": float(acc[-50:].mean()),
            "loss_falls": bool(loss[-50:].mean() < loss[:10].mean())}  # fmt: skip


def main(argv: list[str]) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, nargs="+", default=[QUICK_STEPS], help="pretraining steps of each run")
    ap.add_argument("--full", action="store_true", help="also pretrain the full recipe (900 steps) whole")
    ap.add_argument("--no-checks", action="store_true", help="seconds only: skip notebook 01's probe and ABX")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    corpus = Corpus.load_or_build("default", 0).root  # data/'s, before W2S_DATA_DIR moves the caches away
    full = TinyHubertConfig()
    cached = pretrained_folder(corpus, full)  # the full model make run made, if any: its own history
    recorded = pretraining_history(cached) if (cached / "history.json").is_file() else None
    load = [os.getloadavg()[0]]
    with tempfile.TemporaryDirectory(prefix="w2s-thq-") as tmp:
        os.environ["W2S_DATA_DIR"] = str(Path(tmp) / "data")
        ds = FaceDataset(corpus, split="train")
        wavs = [ds.load_audio(i) for i in range(len(ds))]
        random_probe = None
        if not args.no_checks:
            from w2s.evaluation.analysis import analyse

            random_probe = analyse("random-hubert", corpus)["probe"]["accuracy"]
        runs = []
        for steps in [*args.steps, *([full.steps] if args.full else [])]:
            folder = Path(tmp) / f"tiny-hubert-{steps}"
            row = {"recipe": "full" if steps == full.steps else "quick" if steps == QUICK_STEPS else "candidate",
                   **pretrain(wavs, recipe(steps), folder)}  # fmt: skip
            if not args.no_checks:
                row.update(checks(folder, corpus, random_probe))
            runs.append(row)
            load.append(os.getloadavg()[0])
            print(json.dumps(row), flush=True)
    per_step = float(np.median([r["s_per_step"] for r in runs]))
    kmeans = float(np.median([r["kmeans_s"] for r in runs]))
    out = {
        "corpus": str(corpus), "n_utterances": len(wavs),
        "audio_seconds": round(sum(map(len, wavs)) / 16000, 1), "quick_steps": QUICK_STEPS, "full_steps": full.steps,
        "runs": runs,
        "full_estimate_s": round(kmeans + full.steps * per_step, 1),  # same model and batch: same cost per step
        "full_recorded": None if recorded is None else {
            "folder": str(cached), "train_s": recorded["train_s"], "wall_s": recorded["wall_s"],
            "s_per_step": round(recorded["train_s"] / recorded["steps_done"], 4)},
        "machine": {"cpus": os.cpu_count(), "loadavg_1min": load, "torch": torch.__version__},
        "date": time.strftime("%Y-%m-%d %H:%M"),
    }  # fmt: skip
    write_json(args.out, out, indent=1)
    return out


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1:]), indent=1))
