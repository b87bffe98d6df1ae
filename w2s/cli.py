"""The `w2s` command. Each subcommand is a (configure, run) pair registered in COMMANDS.

Errors the user can fix (bad input, missing files, unknown parameters) print one clear line to
stderr and exit with status 2; nothing half-written is left behind.
"""

from __future__ import annotations

import argparse
import ast
import json
import logging
import math
import os
import shutil
import sys
from contextlib import contextmanager
from pathlib import Path

from w2s import decoders
from w2s.animate import CHUNK_S, MAX_SIDE, OVERLAP_S, animate, parse_size
from w2s.corpus.build import PRESETS, BuildError, build
from w2s.corpus.check import check_preset
from w2s.corpus.pairs import GROUPS, mine_pairs
from w2s.corpus.phone_distance import load_or_measure
from w2s.corpus.speech import DEFAULT_VOICE, VOICES, SpeechError, save_wav, synthesize
from w2s.corpus.visemes import viseme_of
from w2s.data.corpus import Corpus
from w2s.data.files import load_templates
from w2s.decoders.inputs import DEFAULT_TEXT_MODEL
from w2s.decoders.training import DecoderRecipe, train_decoder
from w2s.evaluation.analysis import analyse, summary_rows
from w2s.evaluation.decoders import evaluate_decoder
from w2s.evaluation.readme import update_readme
from w2s.fusion import SOURCES
from w2s.runner import NotebookError, run_all
from w2s.semantic.train import (
    Wav2SemRecipe,
    evaluate_on_corpus,
    host_encoder,
    train_config,
    train_wav2sem,
    training_pairs,
)
from w2s.train import check_checkpoint
from w2s.utils.io import OutputError, atomic_path, check_writable, json_text, output_lock, write_json
from w2s.utils.owned import check_owned, claim_file, remove_owned
from w2s.utils.runtime import check_compute_env


class UsageError(Exception):
    """A problem with the user's input, reported without a traceback."""


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``w2s CMD: error: argument --steps: must be >= 1, got 0``."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _at_least(low: int):
    """An argparse type: an integer >= `low` (the message names the option through argparse)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer >= {low}, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be >= {low}, got {value}")
        return value

    return parse


def _positive(text: str) -> float:
    """An argparse type: a finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


COUNT, NONNEGATIVE = _at_least(1), _at_least(0)  # steps, batch sizes, samples | seeds, limits


def _condition(text: str) -> str | int:
    """An argparse type for ``decoder eval --condition``: "all", or a training identity's index (>= 0)."""
    if text == "all":
        return text
    try:
        return NONNEGATIVE(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"must be 'all' or a training identity's index (0, 1, ...), got {text!r}") from None


# --- w2s speak --------------------------------------------------------------------------------


def _speak_args(p: argparse.ArgumentParser) -> None:

    p.add_argument("text", help="what to say")
    p.add_argument("out", type=Path, help="output .wav (the timings go to the same name with .json)")
    p.add_argument("--voice", default=DEFAULT_VOICE, help=f"one of: {', '.join(VOICES)}")
    p.add_argument("--rate", type=int, default=175, help="words per minute, 80-450")
    p.add_argument("--pitch", type=int, default=50, help="base pitch, 0-99")


def _speak(args) -> int:
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
    p.add_argument("--limit", type=NONNEGATIVE, default=None, help="print only the first N pairs")


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
    p.add_argument("--closest", type=NONNEGATIVE, default=30, help="how many closest cross-viseme pairs to list")


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
    b.add_argument("--seed", type=NONNEGATIVE, default=0)
    b.add_argument("--force", action="store_true", help="replace an existing folder")
    c = sub.add_parser("check", help="check every planned sentence and pair word against espeak-ng's "
                       "text-to-phoneme translation (exit 1 on any disagreement)")  # fmt: skip
    c.add_argument("--preset", default="default", choices=sorted(PRESETS))
    c.add_argument("--seed", type=NONNEGATIVE, default=0)


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
        Path(tmp).write_text(json_text(report, indent=1), encoding="utf-8")
    for r in summary_rows({args.encoder: report}):
        print(f"{r['group']:>12}: {r['pairs']:3d} pairs  ABX error {r['abx_error']:.3f}  "
              f"normalised distance {r['normalised_distance']:.3f}")
    if "probe" in report:
        print(f"phonetic probe: accuracy {report['probe']['accuracy']:.3f} (chance {report['probe']['chance']:.3f})")
    print(f"wrote {args.out}")
    return 0


# --- w2s wav2sem train ------------------------------------------------------------------------


def _nonnegative_float(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not v >= 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return v


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
    t.add_argument("--steps", type=COUNT, default=800)
    t.add_argument("--batch-size", type=COUNT, default=8)
    t.add_argument("--lr", type=_positive, default=1e-3)
    t.add_argument("--n-speech", type=COUNT, default=2000, help="--corpus: utterances in the synthesized speech set")
    t.add_argument("--init-from", default="", help="tiny/paper: wav2vec2/HuBERT name or folder for the backbone")
    t.add_argument("--host-encoder", default="tiny-hubert", help="lite: the frozen encoder it reads")
    t.add_argument("--infonce-weight", type=_nonnegative_float, default=0.0,
                   help="+ this x InfoNCE against the text vectors (0: the paper's loss alone)")
    t.add_argument("--negatives", default="batch", choices=["batch", "all"], help="InfoNCE's negatives")
    t.add_argument("--ctc-weight", type=_nonnegative_float, default=0.0,
                   help="+ this x an auxiliary phoneme CTC loss on the frames (0: off)")
    t.add_argument("--pooling", default="mean", choices=["mean", "attention"], help="mean: the paper's")
    t.add_argument("--center-targets", action="store_true", help="InfoNCE/cosine on mean-centred targets")
    t.add_argument("--seed", type=NONNEGATIVE, default=0)
    t.add_argument("--out", type=Path, required=True, help="output folder (resumes from its checkpoint if present)")
    t.add_argument("--force", action="store_true", help="start over: replace the run in --out (its checkpoint, model "
                   "and records), e.g. one of another recipe")  # fmt: skip


@contextmanager
def _training_run(out: Path, force: bool, kind: str, cfg=None):
    """A training command's --out, claimed before any work: writable, not in use by another run (its
    lock, held to the end: a second run into it is refused), holding nothing of the user's under the
    names a run writes (w2s.utils.owned), with --force the previous run removed (only what w2s wrote),
    else its checkpoint checked (readable without running code; of the same TrainConfig `cfg`, when
    given); and removed again if this run created it and failed before writing anything resumable."""
    check_writable(out, folder=True)
    created = not out.exists()
    with output_lock(out, wait=False, what="trained"):
        check_owned(out, kind)
        if force:
            remove_owned(out, kind)
        check_checkpoint(out / "train" / "checkpoint.pt", cfg)
        try:
            yield
        except BaseException:
            if created and out.is_dir() and not any(out.rglob("checkpoint.pt")):
                shutil.rmtree(out, ignore_errors=True)
            raise


def _wav2sem(args) -> int:
    cfg = train_config(args.steps, args.lr, args.batch_size, args.seed)
    with _training_run(args.out, args.force, "wav2sem", cfg):
        return _wav2sem_train(args, cfg)


def _check_eval_corpus(folder: Path) -> None:
    """What the held-out evaluation at the end reads, read now: the test split's stems, texts and wavs."""
    corpus = Corpus.open(folder)
    if (corpus.root / "templates.pkl").is_file():
        load_templates(corpus.root / "templates.pkl")  # a crafted or broken file is refused now, not after training
    stems = corpus.stems("test")
    missing = [s for s in stems if s not in corpus.transcripts or not (corpus.root / "wav" / f"{s}.wav").is_file()]
    if not stems or missing:
        raise UsageError(f"--corpus {folder}: the test split has {len(stems)} utterances"
                         + (f"; {missing[0]} has no transcript or wav file" if missing else ""))  # fmt: skip


def _wav2sem_train(args, cfg) -> int:
    recipe = Wav2SemRecipe(
        config=args.config, text_model=args.target, text_kind=args.target_kind, loss=args.loss,
        host_encoder=args.host_encoder, init_from=args.init_from, train=cfg, infonce_weight=args.infonce_weight,
        negatives=args.negatives, ctc_weight=args.ctc_weight, pooling=args.pooling, center_targets=args.center_targets,
    )  # fmt: skip
    if args.corpus or args.eval_corpus:
        _check_eval_corpus(args.corpus or args.eval_corpus)  # before training, not after it
    paths, texts, _ = training_pairs(args.corpus, args.n_speech, args.seed, librispeech_dir=args.librispeech)
    host = None
    if args.config == "lite":
        host = host_encoder(recipe, args.corpus or args.eval_corpus)
    model, hist, val = train_wav2sem(paths, texts, recipe, args.out, host=host)
    report = {"val": val, "train_seconds": hist.seconds, "final_loss": hist.loss[-1] if hist.loss else None}
    eval_corpus = args.corpus or args.eval_corpus
    if eval_corpus:
        report["heldout"] = evaluate_on_corpus(model, recipe, eval_corpus)
    write_json(args.out / "eval.json", report, indent=1)
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
    t.add_argument("--semantic", default="none", choices=list(SOURCES),
                   help="F_s: none (the baseline), a trained Wav2Sem on the audio, the transcript's text vector, or "
                        "oracle_word (a positive control: a code of the pair word the clip says)")
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
    t.add_argument("--seed", type=NONNEGATIVE, default=0)
    t.add_argument("--steps", type=COUNT, default=None, help="training steps (default: the host's recipe)")
    t.add_argument("--batch-size", type=COUNT, default=None)
    t.add_argument("--lr", type=_positive, default=None)
    t.add_argument("--force", action="store_true", help="start over: replace the run in --out (its checkpoint, model "
                   "and records), e.g. one of another recipe")  # fmt: skip
    t.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                   help="a config field over the preset's (repeatable), e.g. --set stage1_steps=100 --set sampling_prob=0.3")
    e = sub.add_parser("eval", help="metrics of a trained decoder on a split, as JSON")
    e.add_argument("--model", type=Path, required=True, help="the --out folder of `w2s decoder train`")
    e.add_argument("--corpus", type=Path, default=None, help="dataset folder (default: the one it was trained on)")
    e.add_argument("--split", default="test")
    e.add_argument("--condition", type=_condition, default="all", help="'all': average over every training "
                   "identity (unseen speakers); or one training identity's index")
    e.add_argument("--samples", type=COUNT, default=None, help="samples per clip for a host that samples "
                   "(FaceDiffuser, LG-LDM; default 5): metrics are their mean, with their std and diversity")
    e.add_argument("--generate", action="append", default=[], metavar="NAME=VALUE",
                   help="an option of the host's generate (repeatable), e.g. window=16 (CodeTalker), cache=False")
    e.add_argument("--out", type=Path, default=None, help="write the JSON here (default: MODEL/eval-SPLIT.json)")


def _decoder(args) -> int:
    if args.action == "train":
        with _training_run(args.out, args.force, "decoder"):
            return _decoder_train(args)
    if args.out is not None or Path(args.model).is_dir():  # (a missing model folder: evaluate says so)
        check_writable(args.out or Path(args.model) / f"eval-{args.split}.json")  # before the evaluation, not after
    return _decoder_eval(args)


def _decoder_train(args) -> int:
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


def _decoder_eval(args) -> int:
    options = dict(_parse_param(x) for x in args.generate)
    result = evaluate_decoder(args.model, args.corpus, args.split, args.condition, num_samples=args.samples, **options)
    out = args.out or Path(args.model) / f"eval-{args.split}.json"
    write_json(out, result)
    claim_file(out)  # in a run folder: w2s's (a later --force may remove it)
    m, b = result["metrics"], result["baseline"]
    print(f"{result['host']} semantic={result['semantic']} seed {result['seed']} on {args.split}: LVE {m['lve']:.3e} "
          f"({m['lve_mm']:.2f} mm)  MVE {m['mve'] * 1000:.2f} mm  FDD {m['fdd']:.2e}  homophone-LVE "
          f"{m.get('homophone_lve', float('nan')):.3e} | template+mean offset: LVE {b['lve']:.3e} ({b['lve_mm']:.2f} mm)")
    if "minimal_pair_accuracy" in m:
        print(f"minimal-pair lip accuracy {m['minimal_pair_accuracy']:.3f} over {m['minimal_pair_n_words']} pair "
              f"words (chance 0.5, ground truth 1.0) | template+mean offset: {b['minimal_pair_accuracy']:.3f}")
    if result["num_samples"] > 1:
        print(f"{result['num_samples']} samples per clip: LVE std over samples {result['sample_std']['lve']:.2e}, "
              f"diversity {result['diversity'] * 1000:.3f} mm")
    print(f"wrote {out}")
    return 0


# --- w2s animate -----------------------------------------------------------------------------


def _animate_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("wav", type=Path, help="the speech to animate: any sample rate, mono or stereo, any length")
    p.add_argument("--host", required=True, help=f"the host decoder: {', '.join(decoders.names())}")
    p.add_argument("--semantic", default=None, help="none | wav2sem | oracle_text: which trained decoder to look for "
                   "(default: wav2sem, then none); with --model, checked against the model's")
    p.add_argument("--model", type=Path, default=None, help="a --out folder of `w2s decoder train` (default: the "
                   "newest matching run under data/models/)")
    p.add_argument("--subject", default=None, help="speaking style and face: a training subject's name or index "
                   "(default: the first)")
    p.add_argument("--out", type=Path, required=True, help="the video to write (.mp4, audio muxed in)")
    p.add_argument("--npy", action="store_true", help="also write the vertices (T, V, 3) float32 to OUT.npy")
    meshes = p.add_mutually_exclusive_group()
    for fmt in ("obj", "ply"):
        meshes.add_argument(f"--{fmt}", dest="meshes", action="store_const", const=fmt,
                            help=f"also write OUT_{fmt}/, one .{fmt} per frame")  # fmt: skip
    p.add_argument("--text", default=None, help="the transcript, for an oracle_text decoder")
    p.add_argument("--chunk", type=float, default=CHUNK_S, help="seconds per generation window (0: one pass)")
    p.add_argument("--overlap", type=float, default=OVERLAP_S, help="seconds two windows share, blended")
    p.add_argument("--size", default="384x384", help="the video's WIDTHxHEIGHT in pixels (even numbers, "
                   f"16 to {MAX_SIDE})")


def _animate(args) -> int:
    note = lambda m: print(f"w2s animate: note: {m}", file=sys.stderr)  # noqa: E731
    r = animate(args.wav, args.host, args.out, args.semantic, args.model, args.subject, args.npy, args.meshes,
                args.text, args.chunk, args.overlap, parse_size(args.size), on_note=note)  # fmt: skip
    sec, paths = r["seconds"], r["paths"]
    print(f"wrote {paths['video']}: {r['audio_seconds']:.2f} s, {r['n_frames']} frames at {r['fps']:g} fps, "
          f"{r['host']} semantic={r['semantic']}, subject {r['subject']}, {r['windows']} window(s); "
          f"model {r['model']}; generate {sec['generate']:.1f} s, render {sec['render']:.1f} s, total {sec['total']:.1f} s")
    if "npy" in paths:
        print(f"wrote {paths['npy']}: vertices ({r['n_frames']}, {r['n_vertices']}, 3) float32")
    if "meshes" in paths:
        print(f"wrote {paths['meshes']}/: {r['n_frames']} .{args.meshes} files")
    return 0


# --- w2s notebooks ----------------------------------------------------------------------------


def _parse_param(item: str, literal: bool = True) -> tuple[str, object]:
    """NAME=VALUE -> (NAME, VALUE): a Python literal if it reads as one, else the text; with
    literal=False always the text (notebook parameters: the runner types them as their notebook declares)."""
    name, eq, raw = item.partition("=")
    if not eq or not name.strip():
        raise UsageError(f"parameter {item!r} must look like NAME=VALUE")
    if not literal:
        return name.strip(), raw
    try:
        value = ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        value = raw  # a bare string
    return name.strip(), value


def _notebooks_args(p: argparse.ArgumentParser) -> None:
    size = p.add_mutually_exclusive_group()
    size.add_argument("--smoke", action="store_true", help="tiny, fast versions of every step (what CI runs)")
    size.add_argument("--quick", action="store_true", help="the whole path with fewer seeds and steps (target "
                      "<= 10 min): QUICK=True for the notebooks that declare QUICK, the others run as usual")
    p.add_argument("--only", action="append", metavar="NN", help="run only this notebook (repeatable), e.g. 00")
    p.add_argument("-p", "--param", action="append", default=[], metavar="NAME=VALUE",
                   help="set a notebook parameter; the value is read as the type its parameters cell declares "
                   "(SMOKE=false, SEED=3, LR=1e-3, NAME=text)")  # fmt: skip
    p.add_argument("--runs", type=Path, default=None, help="where run folders go (default: runs/)")


def _notebooks(args) -> int:
    params = dict(_parse_param(x, literal=False) for x in args.param)
    run, results = run_all(smoke=args.smoke, quick=args.quick, only=args.only, parameters=params, runs_root=args.runs)
    for r in results:
        print(f"{r.name}: {r.seconds / 60:.1f} min -> {r.html or r.path}")
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
    "animate": (_animate_args, _animate, "turn any wav into a talking-head video with a trained decoder"),
    "notebooks": (_notebooks_args, _notebooks, "execute the notebooks in order with papermill"),
    "readme": (_readme_args, _readme, "rewrite the README's results tables from a run's metrics"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="w2s", description="Wav2Sem tutorial and reproduction toolkit")
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
    where = " ".join(["w2s", args.command] + ([args.action] if getattr(args, "action", None) else []))
    try:
        check_compute_env()  # W2S_THREADS, W2S_CPU_ISA
        return COMMANDS[args.command][1](args)
    except BrokenPipeError:  # e.g. `w2s pairs | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:  # Ctrl-C: partial output was removed on the way out (atomic writes, builds)
        print(f"{where}: interrupted", file=sys.stderr)
        return 130
    except (UsageError, SpeechError, BuildError, NotebookError, ValueError, OSError) as e:
        print(f"{where}: error: {_one_line(e)}", file=sys.stderr)
        return 2


def _one_line(e: BaseException) -> str:
    """An error as one line: OSErrors as "problem: file" (read-only, disk full), any message's lines joined."""
    if isinstance(e, OSError) and not isinstance(e, OutputError) and e.strerror:
        text = f"{e.strerror}: {e.filename}" if e.filename else e.strerror
    else:
        text = str(e) or type(e).__name__
    return " ".join(text.split())


if __name__ == "__main__":
    sys.exit(main())
