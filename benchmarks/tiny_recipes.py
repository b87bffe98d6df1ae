"""How a host's `tiny` preset trains on the default corpus under other settings: the measurements behind
the `tiny` recipes (their docstrings cite them).

    .venv/bin/python benchmarks/tiny_recipes.py faceformer 150                       # the tiny recipe as it is
    .venv/bin/python benchmarks/tiny_recipes.py codetalker 250 sampling_prob=0.3 tr_lr=0.001
    .venv/bin/python benchmarks/tiny_recipes.py facediffuser 300 gen_sampler='"ddpm"' gen_seed=1
    # FIELD=VALUE: a config field over the tiny preset's; tr_FIELD=VALUE: a training field (lr, batch_size, ...);
    # gen_FIELD=VALUE: a generate option (a diffusion host's sampler, steps, seed). VALUEs are JSON: quote strings

Trains without the plug (semantic "none", seed 0) on the train split with the host's default encoder,
then generates the **val split** (unseen speakers, never the test split: a recipe chosen on test would
flatter every number the grid reports there) under each of the 8 training identities and reports the
val LVE of generated motion (mean, min, max over identities), the training seconds, and the "template +
mean training offset" baseline. One JSON line is appended to benchmarks/results/tiny_recipes.jsonl, with
the split it read ("split"). Rows before 2026-12-06 read the test split and say so; the recipes were
re-checked on val (their docstrings cite the val rows). Seconds depend on the machine and its load.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import w2s  # noqa: F401  (first: sets OMP_WAIT_POLICY=PASSIVE before torch loads, so 2 threads do not spin)

# isort: off
import numpy as np
import torch
# isort: on

from w2s.data.corpus import Corpus
from w2s.decoders import get, train_step
from w2s.decoders.inputs import SemanticSource, collate, load_clips
from w2s.encoders import load_encoder
from w2s.evaluation.decoders import baseline, generate_clips
from w2s.evaluation.metrics import lve
from w2s.train import TrainConfig, fit
from w2s.utils.paths import cache_dir
from w2s.utils.runtime import configure_threads

RESULTS = Path(__file__).parent / "results" / "tiny_recipes.jsonl"
SPLIT = "val"  # what a recipe is chosen on; never "test"
CORPUS = "data/corpus/synthtalk-default-seed0"


def value(text: str):
    return json.loads(text) if text not in ("True", "False") else text == "True"


def main(argv: list[str]) -> dict:
    host, steps = argv[0], int(argv[1])
    settings = {k: value(v) for k, v in (a.split("=", 1) for a in argv[2:])}
    train_kw = {k[3:]: v for k, v in settings.items() if k.startswith("tr_")}
    gen_kw = {k[4:]: v for k, v in settings.items() if k.startswith("gen_")}
    config_kw = {k: v for k, v in settings.items() if not k.startswith(("tr_", "gen_"))}
    configure_threads()
    corpus = Corpus.load_or_build("default", 0)
    cls = get(host)
    enc = load_encoder(cls.offline_encoder, corpus=corpus.root)
    train = load_clips(corpus.root, "train", enc, SemanticSource())
    held = load_clips(corpus.root, SPLIT, enc, SemanticSource())
    torch.manual_seed(0)
    model = cls(cls.config_class.tiny(n_vertices=corpus.n_vertices, audio_dim=enc.dim, n_subjects=8,
                                      semantic_source="none", semantic_dim=384, **config_kw))  # fmt: skip
    t0 = time.perf_counter()
    model.prepare([c.vertices - c.template for c in train], 0, cache_dir("decoders"))
    t_prepare = time.perf_counter() - t0
    recipe = {k: v for k, v in cls.train_recipes["tiny"].items() if k != "epochs"} | train_kw | {"max_steps": steps}
    hist = fit(model, train, collate, train_step, TrainConfig(log_every=50, eval_every=0, checkpoint_every=10**9,
                                                              seed=0, **recipe), device="cpu")  # fmt: skip
    gts = [c.vertices.numpy() for c in held]
    t0 = time.perf_counter()
    lves = [lve(generate_clips(model, held, k, **gen_kw), gts, corpus.lips) for k in range(8)]
    t_generate = time.perf_counter() - t0
    row = {"host": host, "steps": steps, **settings, "split": SPLIT, "threads": torch.get_num_threads(),
           "prepare_s": round(t_prepare, 1), "train_s": round(hist.seconds, 1), "loss_end": hist.loss[-1],
           "generate_s": round(t_generate, 1),
           "lve_generated_mean8": float(np.mean(lves)), "lve_min": float(min(lves)), "lve_max": float(max(lves)),
           "baseline_lve": baseline(corpus.root, SPLIT)["lve"]}  # fmt: skip
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    with open(RESULTS, "a") as f:
        f.write(json.dumps(row) + "\n")
    print(json.dumps(row))
    return row


if __name__ == "__main__":
    main(sys.argv[1:])
