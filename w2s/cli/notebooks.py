"""`w2s notebooks` (execute the notebooks in order with papermill) and `w2s readme` (rewrite the README's
results tables from a run's metrics)."""

from __future__ import annotations

import argparse
from pathlib import Path

from w2s.cli.args import parse_param
from w2s.evaluation.readme import update_readme
from w2s.runner import run_all


def configure_notebooks(p: argparse.ArgumentParser) -> None:
    size = p.add_mutually_exclusive_group()
    size.add_argument("--smoke", action="store_true", help="tiny, fast versions of every step (what CI runs)")
    size.add_argument("--quick", action="store_true", help="the whole path with fewer seeds and steps (target "
                      "<= 10 min): QUICK=True for the notebooks that declare QUICK, the others run as usual")
    p.add_argument("--only", action="append", metavar="NN", help="run only this notebook (repeatable), e.g. 00")
    p.add_argument("-p", "--param", action="append", default=[], metavar="NAME=VALUE",
                   help="set a notebook parameter; the value is read as the type its parameters cell declares "
                   "(SMOKE=false, SEED=3, LR=1e-3, NAME=text)")  # fmt: skip
    p.add_argument("--runs", type=Path, default=None, help="where run folders go (default: runs/)")


def run_notebooks(args) -> int:
    params = dict(parse_param(x, literal=False) for x in args.param)
    run, results = run_all(smoke=args.smoke, quick=args.quick, only=args.only, parameters=params, runs_root=args.runs)
    for r in results:
        print(f"{r.name}: {r.seconds / 60:.1f} min -> {r.html or r.path}")
    print(f"report: {run / 'report.md'}")
    return 0


def configure_readme(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", type=Path, help="a run folder of `w2s notebooks` (runs/<timestamp>)")
    p.add_argument("--readme", type=Path, default=Path("README.md"), help="the README whose marked blocks to rewrite")
    p.add_argument("--only", nargs="+", metavar="BLOCK", default=None,
                   help="rewrite only these blocks (e.g. ladder ladder-conclusion from a run of notebook 05 alone)")


def run_readme(args) -> int:
    for name in update_readme(args.readme, args.run, args.only):
        print(f"{args.readme}: results block {name!r} rewritten from {args.run}")
    return 0
