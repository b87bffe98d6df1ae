"""`w2s coupling`: how an encoder couples near-homophones (and the control groups), as JSON."""

from __future__ import annotations

import argparse
from pathlib import Path

from w2s.cli.args import UsageError
from w2s.evaluation.analysis import analyse, summary_rows
from w2s.utils.io import atomic_path, json_text


def configure_coupling(p: argparse.ArgumentParser) -> None:
    p.add_argument("--encoder", required=True, help="mfcc | tiny-hubert | random-hubert | a hub name | a model folder")
    p.add_argument("--corpus", required=True, type=Path, help="a corpus built by `w2s corpus build`")
    p.add_argument("--out", required=True, type=Path, help="JSON file to write")
    p.add_argument("--layer", type=int, default=None, help="hidden state of an SSL model (default: last)")
    p.add_argument("--no-probe", action="store_true", help="skip the phonetic probe")


def run_coupling(args) -> int:
    if args.out.suffix.lower() != ".json":
        raise UsageError(f"output {args.out} must end in .json")
    with atomic_path(args.out) as tmp:  # checks the folder before the (long) analysis runs
        report = analyse(args.encoder, args.corpus, layer=args.layer, probe=not args.no_probe)
        Path(tmp).write_text(json_text(report, indent=1), encoding="utf-8")
    for r in summary_rows({args.encoder: report}):
        print(f"{r['group']:>12}: {r['pairs']:3d} pairs  ABX error {r['abx_error']:.3f}  "
              f"normalised distance {r['normalised_distance']:.3f}")
    if "probe" in report:
        print(f"phonetic probe: accuracy {report['probe']['accuracy']:.3f} (chance {report['probe']['chance']:.3f})")
    print(f"wrote {args.out}")
    return 0
