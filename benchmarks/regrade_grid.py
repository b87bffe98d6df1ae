"""Re-read a grid's cached cells with today's statistics: the verdicts of an earlier evaluation, regraded.

    .venv/bin/python benchmarks/regrade_grid.py data/models/decoders-x0.8 --version 1     # the grid before issue 22
    .venv/bin/python benchmarks/regrade_grid.py data/models/decoders-x0.8                  # today's evaluation

Reads every ``grid-eval-*.json`` under the folder whose evaluation options have the given ``version`` (1: the
evaluation before the use test, which recorded no version) and split, and prints the LVE and minimal-pair
differences against ``none`` with 95 % intervals in which seeds and clips are both random
(:func:`w2s.evaluation.grid.paired_rows`). Nothing is trained or evaluated.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from w2s.evaluation.grid import EVAL_VERSION, HOSTS, SEMANTICS, paired_rows, verdicts
from w2s.evaluation.report import markdown_table


def cells(folder: Path, version: int, split: str) -> list[dict]:
    out = []
    for f in sorted(folder.glob("*-seed*/grid-eval-*.json")):
        r = json.loads(f.read_text())
        if r["eval"].get("version", 1) == version and r["eval"]["split"] == split:
            out.append(r)
    return sorted(out, key=lambda r: (HOSTS.index(r["host"]) if r["host"] in HOSTS else 99, SEMANTICS.index(r["semantic"]), r["seed"]))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("folder", type=Path, help="a grid's models folder, e.g. data/models/decoders-x0.8")
    ap.add_argument("--version", type=int, default=EVAL_VERSION, help="the evaluation version to read (1: before the use test)")
    ap.add_argument("--split", default="test")
    args = ap.parse_args(argv)
    results = cells(args.folder, args.version, args.split)
    if not results:
        raise SystemExit(f"{args.folder}: no grid cells evaluated on {args.split} with version {args.version}")
    rows = [{"host": p["host"], "F_s": p["treated"], "metric": p["metric"], "Δ": p["mean_difference"],
             "relative [95 % CI]": f"{100 * p['relative_change']:+.1f} % [{100 * p['relative_ci_low']:+.1f}, {100 * p['relative_ci_high']:+.1f}]",
             "verdict": p["verdict"], "seeds lower": f"{p['seeds_lower']}/{p['n_seeds']}"}
            for p in paired_rows(results, ("lve", "minimal_pair_accuracy"))]  # fmt: skip
    print(f"{len(results)} cells\n")
    print(markdown_table(rows, floatfmt=".3g"))
    print("\n" + "\n".join(f"* {v}" for v in verdicts(paired_rows(results, ("lve",)))))


if __name__ == "__main__":
    main()
