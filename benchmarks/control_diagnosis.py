"""Why does no host pass the positive control? Training length, the plug's scale and the corpus, on train and val.

    .venv/bin/python benchmarks/control_diagnosis.py                        # voca, 4x its grid steps (≈ 25 min)
    .venv/bin/python benchmarks/control_diagnosis.py --host unitalker --times 4
    .venv/bin/python benchmarks/control_diagnosis.py --host voca --times 1 --preset powered --splits val  # ≈ 20 min
    .venv/bin/python benchmarks/control_diagnosis.py --table

In notebook 04's grid (and benchmarks/plug_scale.py) the ``oracle_word`` control, a code of the pair word the
clip says, raises no host's minimal-pair accuracy. Three explanations make different predictions:

* **the plug is too quiet** (raw F_s is ~3 % of ||F_p||): standardised F_s would fix it;
* **too little training** (each pair word is in 2 training sentences, seen 4-12 times in a run): more steps
  would raise accuracy on the *training* clips first, with the code (own code better than another clip's);
* **no generalisation from 2 sentences per word**: accuracy on the training clips rises with the code, but not
  on val. The ``powered`` corpus preset (each pair word in 12 training sentences, 200 val and 200 test
  pair-word tokens: :mod:`w2s.corpus.power`) tests this one: ``--preset powered``.

This trains one host (``--seed``, default 0) without the plug and with the control at both scales for ``--times``
× the grid's steps (STEP_SCALE 0.8 of the tiny recipe), and runs the use test on the ``--splits`` (the **train**
and **val** split by default): minimal-pair accuracy with the clip's own code and with another clip's, and their
difference with a 95 % interval over clips. Never the test split. Results: benchmarks/results/control_diagnosis.json
(one entry per host, length, corpus and seed).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import w2s  # noqa: F401  (first: pins threads and kernels before torch loads)
from w2s.corpus.build import PRESETS
from w2s.data.corpus import Corpus
from w2s.decoders.training import DecoderRecipe, train_config, train_decoder
from w2s.evaluation.decoders import evaluate_decoder
from w2s.evaluation.plug_use import use_test
from w2s.evaluation.report import markdown_table
from w2s.utils.paths import data_dir
from w2s.utils.runtime import configure_threads

RESULTS = Path(__file__).parent / "results" / "control_diagnosis.json"
ARMS = (("none", {}), ("oracle_word", {}), ("oracle_word", {"plug_scale": "standardize"}))


def run(host: str, times: float, preset: str = "default", splits: tuple[str, ...] = ("train", "val"),
        seed: int = 0) -> dict:
    configure_threads()
    corpus = Corpus.load_or_build(preset, 0)
    steps = max(1, round(train_config(DecoderRecipe(host), 1_000_000).max_steps * 0.8 * times))
    out = {"host": host, "times": times, "preset": preset, "seed": seed, "steps": steps, "arms": []}
    tag = "" if preset == "default" else f"-{preset}"
    for semantic, over in ARMS:
        name = f"{host}-{semantic}{'-std' if over else ''}-x{times:g}{tag}{f'-seed{seed}' if seed else ''}"
        folder = data_dir() / "models" / "control-diagnosis" / name
        t0 = time.perf_counter()
        train_decoder(DecoderRecipe(host, semantic=semantic, seed=seed, max_steps=steps, overrides=over), corpus.root,
                      folder)  # fmt: skip
        arm = {"semantic": semantic, "plug_scale": over.get("plug_scale", "raw"), "train_minutes": (time.perf_counter() - t0) / 60}
        for split in splits:  # training speakers in their own style, unseen ones in identity 0's
            cond = None if split == "train" else 0
            r = evaluate_decoder(folder, split=split, conditions="all" if cond is None else cond, with_baseline=False,
                                 num_samples=1)  # fmt: skip
            if semantic == "none":
                arm[split] = {"own": r["metrics"]["minimal_pair_accuracy"], "lve": r["metrics"]["lve"],
                              "n_words": r["metrics"].get("minimal_pair_n_words")}  # fmt: skip
            else:
                u = use_test(folder, split, cond)
                arm[split] = {**u["minimal_pair_accuracy"], "lve": r["metrics"]["lve"], "gain": u.get("minimal_pair_gain"),
                              "n_words": r["metrics"].get("minimal_pair_n_words"),
                              "swap_change": u["swap"]["homophone_change"], "scale": u["scale"]["after"]["ratio"]}  # fmt: skip
        out["arms"].append(arm)
        print(json.dumps(arm), flush=True)
    return out


def _key(e: dict) -> tuple:
    return e["host"], e["times"], e.get("preset", "default"), e.get("seed", 0)


def table(entries: list[dict]) -> str:
    rows = []
    for e in entries:
        for a in e["arms"]:
            for split in ("train", "val"):
                if split not in a:
                    continue
                r, g = a[split], a[split].get("gain")
                rows.append({"corpus": e.get("preset", "default"), "host": e["host"], "seed": e.get("seed", 0), "steps": e["steps"],
                             "F_s": a["semantic"], "scale": a["plug_scale"], "split": split,
                             "words": r.get("n_words", "–"), "own code": r["own"], "another's": r.get("swap"),
                             "own − another's [95 % CI]": "–" if not g else
                             f"{g['mean']:+.3f} [{g['ci_low']:+.3f}, {g['ci_high']:+.3f}]",
                             "LVE ×1e-5": r["lve"] * 1e5})  # fmt: skip
    return markdown_table(rows, floatfmt=".3f")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--host", default="voca")
    ap.add_argument("--times", type=float, default=4.0, help="training length, in multiples of the grid's steps")
    ap.add_argument("--preset", default="default", help="the corpus preset (w2s.corpus.build.PRESETS)")
    ap.add_argument("--splits", default="train,val", help="comma-separated: train and/or val (never test)")
    ap.add_argument("--seed", type=int, default=0, help="the training seed")
    ap.add_argument("--table", action="store_true", help="print the saved results and stop")
    args = ap.parse_args(argv)
    splits = tuple(x.strip() for x in args.splits.split(","))
    if not splits or set(splits) - {"train", "val"}:
        ap.error(f"--splits: {args.splits!r}: choose from train, val (the test split is never read here)")
    if args.preset not in PRESETS:
        ap.error(f"--preset: unknown preset {args.preset!r}; choose one of {sorted(PRESETS)}")
    entries = json.loads(RESULTS.read_text()) if RESULTS.is_file() else []
    if not args.table:
        new = run(args.host, args.times, args.preset, splits, args.seed)
        entries = [e for e in entries if _key(e) != _key(new)] + [new]
        RESULTS.parent.mkdir(exist_ok=True)
        RESULTS.write_text(json.dumps(entries, indent=1) + "\n")
    print(table(entries))


if __name__ == "__main__":
    main()
