"""`w2s corpus build` and `w2s corpus check`: the embedded talking-head corpus, and its phonemes checked
against espeak-ng's."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from w2s.cli.args import NONNEGATIVE
from w2s.corpus import voices
from w2s.corpus.build import PRESETS, build
from w2s.corpus.check import check_preset
from w2s.data.corpus import Corpus


def configure_corpus(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", required=True)
    b = sub.add_parser("build", help="build the synthetic talking-head corpus (FaceFormer/VOCASET layout)")
    b.add_argument("out", type=Path, help="new folder to create")
    b.add_argument("--preset", default="default", choices=sorted(PRESETS),
                   help="smoke: seconds; default: 12 x 40; biwi-like: 6 x 40, 25 fps, another mesh; smoke-biwi-like: seconds")
    b.add_argument("--seed", type=NONNEGATIVE, default=0)
    b.add_argument("--force", action="store_true", help="replace an existing folder")
    b.add_argument("--voice-set", default="espeak", choices=voices.VOICE_SETS,
                   help="espeak: the corpus (default); flite: a test voice, never trained on: the val and test "
                        "utterances of the --preset/--seed corpus (built first if missing) spoken by CMU flite "
                        "(Debian's flite package), lips from flite's timings (w2s.corpus.voices)")  # fmt: skip
    c = sub.add_parser("check", help="check every planned sentence and pair word against espeak-ng's "
                       "text-to-phoneme translation (exit 1 on any disagreement)")  # fmt: skip
    c.add_argument("--preset", default="default", choices=sorted(PRESETS))
    c.add_argument("--seed", type=NONNEGATIVE, default=0)


def _check(args) -> int:
    report = check_preset(args.preset, args.seed)
    for line in report.found:
        print(line)
    print(report.summary())
    return 0 if report.ok else 1


def run_corpus(args) -> int:
    if args.action == "check":
        return _check(args)
    t0 = time.perf_counter()
    if args.voice_set != "espeak":
        out = voices.build(args.out, args.voice_set, preset=args.preset, seed=args.seed, force=args.force)
    else:
        out = build(args.out, preset=args.preset, seed=args.seed, force=args.force)
    meta = Corpus(out).meta
    print(
        f"built {out} in {time.perf_counter() - t0:.1f} s: {meta['n_sequences']} sequences, "
        f"{meta['n_subjects']} subjects, {meta['n_pairs']} near-homophone pairs, {meta['n_vertices']} vertices"
    )
    return 0
