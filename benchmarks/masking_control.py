"""A pilot of notebook 05's positive controls (issue 23): on the default corpus (clean) and with every pair
word's deciding phoneme masked (`masked-full`, w2s.corpus.masking), does a host trained with side information
that carries the answer tell the pair words apart, where the audio alone cannot?

    .venv/bin/python benchmarks/masking_control.py [--hosts voca] [--levels clean full] [--sources none oracle_viseme oracle_word]
    .venv/bin/python benchmarks/masking_control.py --table

Per host, level and source: one training (seed 0, the grid's steps x --times, plug standardised for the
plugged sources), evaluated on the **val** split in identity 0's style (never test). Minimal-pair accuracy
over the pair words (at `full`, every one of them masked), and its difference from `none` on the same words
with a 95 % interval over clips (w2s.evaluation.plug_use.code_gain: own minus the other arm, per clip).
One seed: a pilot that says whether the controls can be read at all, not the ladder's verdict.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import w2s  # noqa: F401  (first: pins threads and kernels before torch loads)
from w2s.data.corpus import Corpus
from w2s.decoders.training import DecoderRecipe, train_config, train_decoder
from w2s.evaluation.decoders import evaluate_decoder
from w2s.evaluation.plug_use import code_gain
from w2s.evaluation.report import markdown_table
from w2s.utils.paths import data_dir
from w2s.utils.runtime import configure_threads

RESULTS = Path(__file__).parent / "results" / "masking_control.json"
SPLIT, CONDITION, SCALE = "val", 0, 0.8


def preset_of(level: str) -> str:
    return "default" if level == "clean" else f"masked-{level}"


def cell(host: str, level: str, source: str, times: float) -> dict:
    corpus = Corpus.load_or_build(preset_of(level), 0)
    steps = max(1, round(train_config(DecoderRecipe(host), 1_000_000).max_steps * SCALE * times))
    over = {} if source == "none" else {"plug_scale": "standardize"}
    folder = data_dir() / "models" / "masking-control" / f"{host}-{source}-{level}-x{times:g}"
    t0 = time.perf_counter()
    train_decoder(DecoderRecipe(host, semantic=source, max_steps=steps, overrides=over), corpus.root, folder)
    r = evaluate_decoder(folder, split=SPLIT, conditions=CONDITION, with_baseline=False, num_samples=1)
    return {"host": host, "level": level, "source": source, "steps": steps, "times": times, "folder": str(folder),
            "minimal_pair_accuracy": r["metrics"].get("minimal_pair_accuracy"),
            "n_words": r["metrics"].get("minimal_pair_n_words"), "lve": r["metrics"]["lve"],
            "homophone_lve": r["metrics"].get("homophone_lve"), "words": r.get("minimal_pair_words", []),
            "seconds": round(time.perf_counter() - t0, 1)}  # fmt: skip


def run(hosts, levels, sources, times) -> list[dict]:
    configure_threads()
    rows = []
    for host in hosts:
        for level in levels:
            arms = {s: cell(host, level, s, times) for s in sources}
            for s, a in arms.items():
                if s != "none" and "none" in arms:
                    a["gain_over_none"] = code_gain(a["words"], arms["none"]["words"])
                print(json.dumps({k: v for k, v in a.items() if k != "words"}), flush=True)
                rows.append(a)
    return rows


def table(rows: list[dict]) -> str:
    out = []
    for r in rows:
        g = r.get("gain_over_none")
        out.append({"host": r["host"], "masking": r["level"], "F_s": r["source"], "steps": r["steps"],
                    "val pair words": r["n_words"], "minimal-pair accuracy": r["minimal_pair_accuracy"],
                    "− none [95 % CI over clips]": "–" if not g else f"{g['mean']:+.3f} [{g['ci_low']:+.3f}, {g['ci_high']:+.3f}]",
                    "LVE ×1e-5": r["lve"] * 1e5})  # fmt: skip
    return markdown_table(out, floatfmt=".3f")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hosts", nargs="*", default=["voca"])
    ap.add_argument("--levels", nargs="*", default=["clean", "full"])
    ap.add_argument("--sources", nargs="*", default=["none", "oracle_viseme", "oracle_word"])
    ap.add_argument("--times", type=float, default=1.0, help="training length, in multiples of the grid's steps")
    ap.add_argument("--table", action="store_true", help="print the saved results and stop")
    args = ap.parse_args()
    if not args.table:
        new = run(args.hosts, args.levels, args.sources, args.times)
        old = json.loads(RESULTS.read_text()) if RESULTS.is_file() else []
        key = lambda r: (r["host"], r["level"], r["source"], r["times"])  # noqa: E731
        keep = {key(r) for r in new}
        RESULTS.parent.mkdir(exist_ok=True)
        RESULTS.write_text(json.dumps([r for r in old if key(r) not in keep] + new, indent=1) + "\n")
    print(table(json.loads(RESULTS.read_text())))


if __name__ == "__main__":
    main()
