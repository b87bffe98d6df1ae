"""`w2s wav2sem train`: train Wav2Sem, the audio-to-semantic adapter, and evaluate it on held-out speech."""

from __future__ import annotations

import argparse
from pathlib import Path

from w2s.cli.args import COUNT, NONNEGATIVE, UsageError, nonnegative_float, positive
from w2s.cli.training_run import training_run
from w2s.data.corpus import Corpus
from w2s.data.files import load_templates
from w2s.semantic.train import (
    Wav2SemRecipe,
    evaluate_on_corpus,
    host_encoder,
    train_config,
    train_wav2sem,
    training_pairs,
)
from w2s.utils.io import write_json


def configure_wav2sem(p: argparse.ArgumentParser) -> None:
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
    t.add_argument("--lr", type=positive, default=1e-3)
    t.add_argument("--n-speech", type=COUNT, default=2000, help="--corpus: utterances in the synthesized speech set")
    t.add_argument("--init-from", default="", help="tiny/paper: wav2vec2/HuBERT name or folder for the backbone")
    t.add_argument("--host-encoder", default="tiny-hubert", help="lite: the frozen encoder it reads")
    t.add_argument("--infonce-weight", type=nonnegative_float, default=0.0,
                   help="+ this x InfoNCE against the text vectors (0: the paper's loss alone)")
    t.add_argument("--negatives", default="batch", choices=["batch", "all"], help="InfoNCE's negatives")
    t.add_argument("--ctc-weight", type=nonnegative_float, default=0.0,
                   help="+ this x an auxiliary phoneme CTC loss on the frames (0: off)")
    t.add_argument("--pooling", default="mean", choices=["mean", "attention"], help="mean: the paper's")
    t.add_argument("--center-targets", action="store_true", help="InfoNCE/cosine on mean-centred targets")
    t.add_argument("--seed", type=NONNEGATIVE, default=0)
    t.add_argument("--out", type=Path, required=True, help="output folder (resumes from its checkpoint if present)")
    t.add_argument("--force", action="store_true", help="start over: replace the run in --out (its checkpoint, model "
                   "and records), e.g. one of another recipe")  # fmt: skip


def run_wav2sem(args) -> int:
    cfg = train_config(args.steps, args.lr, args.batch_size, args.seed)
    with training_run(args.out, args.force, "wav2sem", cfg):
        return _train(args, cfg)


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


def _train(args, cfg) -> int:
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
