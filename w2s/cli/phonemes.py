"""`w2s pairs` and `w2s distances`: the mined near-homophone pairs and the phoneme distance table they
come from."""

from __future__ import annotations

import argparse
import json

from w2s.cli.args import NONNEGATIVE
from w2s.corpus.pairs import GROUPS, mine_pairs
from w2s.corpus.phone_distance import load_or_measure
from w2s.corpus.visemes import viseme_of


def configure_pairs(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print the pairs as a JSON list")
    p.add_argument("--group", default="near", choices=GROUPS, help="near-homophones or a control group")
    p.add_argument("--limit", type=NONNEGATIVE, default=None, help="print only the first N pairs")


def run_pairs(args) -> int:
    pairs = mine_pairs(args.group)[: args.limit]
    if args.json:
        print(json.dumps([p.to_json() for p in pairs], ensure_ascii=False, indent=1))
        return 0
    print(f"{len(pairs)} {args.group} pairs (word_a word_b | differing phonemes | viseme classes | distance)")
    for p in pairs:
        print(
            f"{p.word_a:>12} {p.word_b:<12} {p.phoneme_a:>4} / {p.phoneme_b:<4} "
            f"{p.viseme_a:>14} / {p.viseme_b:<14} {p.distance:.3f}"
        )
    return 0


def configure_distances(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print the whole table as JSON")
    p.add_argument("--closest", type=NONNEGATIVE, default=30, help="how many closest cross-viseme pairs to list")


def run_distances(args) -> int:
    table = load_or_measure()
    if args.json:
        print(json.dumps(table.to_json(), ensure_ascii=False))
        return 0
    print(f"{len(table.phonemes)} phonemes measured; closest pairs across viseme classes:")
    for a, b, d in table.closest(args.closest):
        print(f"{a:>4} {b:<4} {d:.3f}   {viseme_of(a)} / {viseme_of(b)}")
    return 0
