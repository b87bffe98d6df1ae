"""The `w2s` command. Each subcommand is a (configure, run) pair registered in COMMANDS.

Errors the user can fix (bad input, missing files, unknown parameters) print one clear line to
stderr and exit with status 2; nothing half-written is left behind.
"""

from __future__ import annotations

import argparse
import ast
import json
import logging
import sys
from pathlib import Path

from w2s import decoders
from w2s.corpus.build import PRESETS, BuildError, build
from w2s.corpus.check import check_preset
from w2s.corpus.pairs import GROUPS, mine_pairs
from w2s.corpus.phone_distance import load_or_measure
from w2s.corpus.speech import DEFAULT_VOICE, VOICES, SpeechError, save_wav, synthesize
from w2s.corpus.visemes import viseme_of
from w2s.data.corpus import Corpus
from w2s.decoders.inputs import DEFAULT_TEXT_MODEL
from w2s.decoders.training import DecoderRecipe, train_decoder
from w2s.evaluation.analysis import analyse, summary_rows
from w2s.evaluation.decoders import evaluate_decoder
from w2s.evaluation.readme import update_readme
from w2s.runner import NotebookError, run_all
from w2s.semantic.train import (
    Wav2SemRecipe,
    evaluate_on_corpus,
    host_encoder,
    train_config,
    train_wav2sem,
    training_pairs,
)
from w2s.utils.io import OutputError, atomic_path, write_json


class UsageError(Exception):
    """A problem with the user's input, reported without a traceback."""


# --- w2s speak --------------------------------------------------------------------------------


def _speak_args(p: argparse.ArgumentParser) -> None:

    p.add_argument("text", help="what to say")
    p.add_argument("out", type=Path, help="output .wav (the timings go to the same name with .json)")
    p.add_argument("--voice", default=DEFAULT_VOICE, help=f"one of: {', '.join(VOICES)}")
    p.add_argument("--rate", type=int, default=175, help="words per minute, 80-450")
    p.add_argument("--pitch", type=int, default=50, help="base pitch, 0-99")


def _speak(args) -> int:
    import os

    out: Path = args.out
    if out.suffix.lower() != ".wav":
        raise UsageError(f"output {out} must end in .wav")
    timings_path = out.with_suffix(".json")
    utt = synthesize(args.text, args.voice, args.rate, args.pitch)  # validates before touching disk
    with atomic_path(timings_path) as tmp_json:
        Path(tmp_json).write_text(json.dumps(utt.timings(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        try:
            save_wav(out, utt.audio)
        except BaseException:
            if out.exists():
                os.unlink(out)
            raise
    print(f"wrote {out} ({utt.duration:.2f} s, {len(utt.phonemes)} phonemes, {len(utt.words)} words) and {timings_path}")
    return 0


# --- w2s pairs --------------------------------------------------------------------------------


def _pairs_args(p: argparse.ArgumentParser) -> None:

    p.add_argument("--json", action="store_true", help="print the pairs as a JSON list")
    p.add_argument("--group", default="near", choices=GROUPS, help="near-homophones or a control group")
    p.add_argument("--limit", type=int, default=None, help="print only the first N pairs")


def _pairs(args) -> int:

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


# --- w2s distances ----------------------------------------------------------------------------


def _distances_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print the whole table as JSON")
    p.add_argument("--closest", type=int, default=30, help="how many closest cross-viseme pairs to list")


def _distances(args) -> int:

    table = load_or_measure()
    if args.json:
        print(json.dumps(table.to_json(), ensure_ascii=False))
        return 0
    print(f"{len(table.phonemes)} phonemes measured; closest pairs across viseme classes:")
    for a, b, d in table.closest(args.closest):
        print(f"{a:>4} {b:<4} {d:.3f}   {viseme_of(a)} / {viseme_of(b)}")
    return 0


# --- w2s corpus build ------------------------------------------------------------------------


def _corpus_args(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", required=True)
    b = sub.add_parser("build", help="build the synthetic talking-head corpus (FaceFormer/VOCASET layout)")
    b.add_argument("out", type=Path, help="new folder to create")
    b.add_argument("--preset", default="default", choices=sorted(PRESETS),
                   help="smoke: seconds; default: 12 x 40; biwi-like: 6 x 40, 25 fps, another mesh; smoke-biwi-like: seconds")
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--force", action="store_true", help="replace an existing folder")
    c = sub.add_parser("check", help="check every planned sentence and pair word against espeak-ng's "
                       "text-to-phoneme translation (exit 1 on any disagreement)")  # fmt: skip
    c.add_argument("--preset", default="default", choices=sorted(PRESETS))
    c.add_argument("--seed", type=int, default=0)


def _corpus_check(args) -> int:
    report = check_preset(args.preset, args.seed)
    for line in report.found:
        print(line)
    print(report.summary())
    return 0 if report.ok else 1


def _corpus(args) -> int:
    import time

    if args.action == "check":
        return _corpus_check(args)
    t0 = time.perf_counter()
    out = build(args.out, preset=args.preset, seed=args.seed, force=args.force)
    meta = Corpus(out).meta
    print(
        f"built {out} in {time.perf_counter() - t0:.1f} s: {meta['n_sequences']} sequences, "
        f"{meta['n_subjects']} subjects, {meta['n_pairs']} near-homophone pairs, {meta['n_vertices']} vertices"
    )
    return 0


# --- w2s coupling -----------------------------------------------------------------------------


def _coupling_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--encoder", required=True, help="mfcc | tiny-hubert | random-hubert | a hub name | a model folder")
    p.add_argument("--corpus", required=True, type=Path, help="a corpus built by `w2s corpus build`")
    p.add_argument("--out", required=True, type=Path, help="JSON file to write")
    p.add_argument("--layer", type=int, default=None, help="hidden state of an SSL model (default: last)")
    p.add_argument("--no-probe", action="store_true", help="skip the phonetic probe")


def _coupling(args) -> int:

    if args.out.suffix.lower() != ".json":
        raise UsageError(f"output {args.out} must end in .json")
    with atomic_path(args.out) as tmp:  # checks the folder before the (long) analysis runs
        report = analyse(args.encoder, args.corpus, layer=args.layer, probe=not args.no_probe)
        Path(tmp).write_text(json.dumps(report, indent=1, allow_nan=False) + "\n", encoding="utf-8")
    for r in summary_rows({args.encoder: report}):
        print(f"{r['group']:>12}: {r['pairs']:3d} pairs  ABX error {r['abx_error']:.3f}  "
              f"normalised distance {r['normalised_distance']:.3f}")
    if "probe" in report:
        print(f"phonetic probe: accuracy {report['probe']['accuracy']:.3f} (chance {report['probe']['chance']:.3f})")
    print(f"wrote {args.out}")
    return 0


# --- w2s wav2sem train ------------------------------------------------------------------------


def _wav2sem_args(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", required=True)
    t = sub.add_parser("train", help="train Wav2Sem (audio -> sentence embedding)")
    src = t.add_mutually_exclusive_group(required=True)
    src.add_argument("--corpus", type=Path, help="the face corpus: train on a synthesized speech set disjoint from its "
                     "held-out sentences, evaluate on its test split")
    src.add_argument("--librispeech", type=Path, help="a LibriSpeech folder (every utterance is used)")
    t.add_argument("--eval-corpus", type=Path, default=None, help="with --librispeech: a face corpus to evaluate on")
    t.add_argument("--target", default="all-MiniLM-L6-v2", help="text model: sentence-transformers or BERT name/folder")
    t.add_argument("--target-kind", default="auto", choices=["auto", "sentence-transformers", "bert-cls", "bert-mean"])
    t.add_argument("--config", default="tiny", choices=["tiny", "paper", "lite"])
    t.add_argument("--loss", default="l1", choices=["l1", "cosine"])
    t.add_argument("--steps", type=int, default=800)
    t.add_argument("--batch-size", type=int, default=8)
    t.add_argument("--lr", type=float, default=1e-3)
    t.add_argument("--n-speech", type=int, default=2000, help="--corpus: utterances in the synthesized speech set")
    t.add_argument("--init-from", default="", help="tiny/paper: wav2vec2/HuBERT name or folder for the backbone")
    t.add_argument("--host-encoder", default="tiny-hubert", help="lite: the frozen encoder it reads")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--out", type=Path, required=True, help="output folder (resumes from its checkpoint if present)")


def _wav2sem(args) -> int:

    if not args.out.parent.is_dir():
        raise UsageError(f"cannot write {args.out}: folder {args.out.parent} does not exist")
    recipe = Wav2SemRecipe(
        config=args.config, text_model=args.target, text_kind=args.target_kind, loss=args.loss,
        host_encoder=args.host_encoder, init_from=args.init_from,
        train=train_config(args.steps, args.lr, args.batch_size, args.seed),
    )  # fmt: skip
    paths, texts, _ = training_pairs(args.corpus, args.n_speech, args.seed, librispeech_dir=args.librispeech)
    host = None
    if args.config == "lite":
        host = host_encoder(recipe, args.corpus or args.eval_corpus)
    model, hist, val = train_wav2sem(paths, texts, recipe, args.out, host=host)
    report = {"val": val, "train_seconds": hist.seconds, "final_loss": hist.loss[-1] if hist.loss else None}
    eval_corpus = args.corpus or args.eval_corpus
    if eval_corpus:
        report["heldout"] = evaluate_on_corpus(model, recipe, eval_corpus)
    (args.out / "eval.json").write_text(json.dumps(report, indent=1) + "\n")
    for name in ("val", "heldout"):
        if report.get(name):
            r = report[name]
            print(f"{name}: R@1 {r['r@1']:.3f} (chance {r['chance_r@1']:.3f})  R@5 {r['r@5']:.3f}  "
                  f"median rank {r['median_rank']:.0f} of {r['n_candidates']}  cosine {r['cosine_to_target']:.3f}")
    print(f"model: {args.out / 'model'}  ({hist.seconds:.0f} s of training)")
    return 0


# --- w2s decoder train / eval -----------------------------------------------------------------


def _decoder_args(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", required=True)
    t = sub.add_parser("train", help="train a host decoder with or without the plug (resumable)")
    t.add_argument("--host", required=True, choices=decoders.names())
    t.add_argument("--semantic", default="none", choices=["none", "wav2sem", "oracle_text"],
                   help="F_s: none (the baseline), a trained Wav2Sem on the audio, or the transcript's text vector")
    t.add_argument("--wav2sem", default=None, help="--semantic wav2sem: a trained Wav2Sem folder (w2s wav2sem train --out)")
    t.add_argument("--text-model", default=DEFAULT_TEXT_MODEL, help="oracle_text's sentence model (name or folder)")
    t.add_argument("--corpus", type=Path, required=True, help="dataset folder (our corpus, VOCASET or BIWI layout)")
    t.add_argument("--dataset", default="auto", choices=["auto", "vocaset", "biwi"],
                   help="the folder's splits: auto (a corpus built by w2s), or VOCASET's / BIWI's official ones")
    t.add_argument("--joint", action="append", default=[], metavar="FOLDER[:vocaset|biwi]",
                   help="train jointly on a further dataset too (repeatable; UniTalker: one output head per dataset)")
    t.add_argument("--out", type=Path, required=True, help="output folder (resumes from its checkpoint if present)")
    t.add_argument("--preset", default="tiny", choices=["tiny", "paper"])
    t.add_argument("--encoder", default=None, help="F_p's encoder (default: the host's: tiny-hubert, or the phoneme "
                   "recogniser for VOCA); a hub name or folder for real models")
    t.add_argument("--finetune-encoder", action="store_true", help="the host runs --encoder itself and trains it "
                   "(CNN frozen, transformer trained), as FaceFormer and CodeTalker do with wav2vec 2.0")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--steps", type=int, default=None, help="training steps (default: the host's recipe)")
    t.add_argument("--batch-size", type=int, default=None)
    t.add_argument("--lr", type=float, default=None)
    t.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                   help="a config field over the preset's (repeatable), e.g. --set stage1_steps=100 --set sampling_prob=0.3")
    e = sub.add_parser("eval", help="metrics of a trained decoder on a split, as JSON")
    e.add_argument("--model", type=Path, required=True, help="the --out folder of `w2s decoder train`")
    e.add_argument("--corpus", type=Path, default=None, help="dataset folder (default: the one it was trained on)")
    e.add_argument("--split", default="test")
    e.add_argument("--condition", default="all", help="'all': average over every training identity (unseen "
                   "speakers); or one training identity's index")
    e.add_argument("--samples", type=int, default=None, help="samples per clip for a host that samples "
                   "(FaceDiffuser, LG-LDM; default 5): metrics are their mean, with their std and diversity")
    e.add_argument("--generate", action="append", default=[], metavar="NAME=VALUE",
                   help="an option of the host's generate (repeatable), e.g. window=16 (CodeTalker), cache=False")
    e.add_argument("--out", type=Path, default=None, help="write the JSON here (default: MODEL/eval-SPLIT.json)")


def _decoder(args) -> int:
    if args.action == "train":
        if not args.out.parent.is_dir():
            raise UsageError(f"cannot write {args.out}: folder {args.out.parent} does not exist")
        recipe = DecoderRecipe(host=args.host, preset=args.preset, semantic=args.semantic, seed=args.seed,
                               dataset=args.dataset,
                               encoder=args.encoder, finetune_encoder=args.finetune_encoder, wav2sem=args.wav2sem, text_model=args.text_model,
                               max_steps=args.steps, batch_size=args.batch_size, lr=args.lr, joint=tuple(args.joint),
                               overrides=dict(_parse_param(x) for x in args.set))  # fmt: skip
        rec = train_decoder(recipe, args.corpus, args.out)
        sec = rec["seconds"]
        print(f"{args.host} ({args.preset}, semantic={args.semantic}, seed {args.seed}): trained in {sec['train']:.1f} s "
              f"(inputs {sec['inputs']:.1f} s, prepare {sec['prepare']:.1f} s); model: {args.out / 'model'}")
        return 0
    options = dict(_parse_param(x) for x in args.generate)
    result = evaluate_decoder(args.model, args.corpus, args.split, args.condition, num_samples=args.samples, **options)
    out = args.out or Path(args.model) / f"eval-{args.split}.json"
    write_json(out, result)
    m, b = result["metrics"], result["baseline"]
    print(f"{result['host']} semantic={result['semantic']} seed {result['seed']} on {args.split}: LVE {m['lve']:.3e} "
          f"({m['lve_mm']:.2f} mm)  MVE {m['mve'] * 1000:.2f} mm  FDD {m['fdd']:.2e}  homophone-LVE "
          f"{m.get('homophone_lve', float('nan')):.3e} | template+mean offset: LVE {b['lve']:.3e} ({b['lve_mm']:.2f} mm)")
    if result["num_samples"] > 1:
        print(f"{result['num_samples']} samples per clip: LVE std over samples {result['sample_std']['lve']:.2e}, "
              f"diversity {result['diversity'] * 1000:.3f} mm")
    print(f"wrote {out}")
    return 0


# --- w2s notebooks ----------------------------------------------------------------------------


def _parse_param(item: str) -> tuple[str, object]:
    if "=" not in item:
        raise UsageError(f"parameter {item!r} must look like NAME=VALUE")
    name, raw = item.split("=", 1)
    try:
        value = ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        value = raw  # a bare string
    return name.strip(), value


def _notebooks_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--smoke", action="store_true", help="tiny, fast versions of every step (what CI runs)")
    p.add_argument("--only", action="append", metavar="NN", help="run only this notebook (repeatable), e.g. 00")
    p.add_argument("-p", "--param", action="append", default=[], metavar="NAME=VALUE", help="set a notebook parameter")
    p.add_argument("--runs", type=Path, default=None, help="where run folders go (default: runs/)")


def _notebooks(args) -> int:

    params = dict(_parse_param(x) for x in args.param)
    run, results = run_all(smoke=args.smoke, only=args.only, parameters=params, runs_root=args.runs)
    for r in results:
        print(f"{r.name}: {r.seconds:.1f} s -> {r.path}")
    print(f"report: {run / 'report.md'}")
    return 0


def _readme_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", type=Path, help="a run folder of `w2s notebooks` (runs/<timestamp>)")
    p.add_argument("--readme", type=Path, default=Path("README.md"), help="the README whose marked blocks to rewrite")


def _readme(args) -> int:
    for name in update_readme(args.readme, args.run):
        print(f"{args.readme}: results block {name!r} rewritten from {args.run}")
    return 0


COMMANDS = {
    "speak": (_speak_args, _speak, "synthesize speech with phoneme and word timings"),
    "pairs": (_pairs_args, _pairs, "list the mined near-homophone pairs (or a control group)"),
    "distances": (_distances_args, _distances, "the measured phoneme acoustic-distance table"),
    "corpus": (_corpus_args, _corpus, "build the embedded talking-head corpus, or check its phonemes"),
    "coupling": (_coupling_args, _coupling, "measure how an encoder couples near-homophones (and the controls)"),
    "wav2sem": (_wav2sem_args, _wav2sem, "train Wav2Sem, the audio-to-semantic adapter"),
    "decoder": (_decoder_args, _decoder, "train and evaluate a host decoder (VOCA, FaceFormer, CodeTalker, ...)"),
    "notebooks": (_notebooks_args, _notebooks, "execute the notebooks in order with papermill"),
    "readme": (_readme_args, _readme, "rewrite the README's results tables from a run's metrics"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="w2s", description="Wav2Sem tutorial and reproduction toolkit")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (configure, _, help_text) in COMMANDS.items():
        configure(sub.add_parser(name, help=help_text, description=help_text))
    return parser


def main(argv: list[str] | None = None) -> int:

    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose or args.command == "notebooks" else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return COMMANDS[args.command][1](args)
    except BrokenPipeError:  # e.g. `w2s pairs | head`
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (UsageError, SpeechError, BuildError, OutputError, NotebookError, FileNotFoundError, ValueError) as e:
        print(f"w2s {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
