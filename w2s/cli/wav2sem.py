"""`w2s wav2sem train`: train Wav2Sem, the audio-to-semantic adapter, and evaluate it on held-out speech;
`w2s wav2sem train-local`: train Wav2SemLocal (the word stream, bounded lookahead; w2s.semantic.local_train)."""

from __future__ import annotations

import argparse
from pathlib import Path

from w2s.cli.args import COUNT, NONNEGATIVE, UsageError, nonnegative_float, positive
from w2s.cli.training_run import training_run
from w2s.data.corpus import Corpus
from w2s.data.files import load_templates
from w2s.encoders.loading import load_encoder
from w2s.semantic.local_train import (
    LocalRecipe,
    evaluate_split,
    local_train_config,
    steps_for_corpus,
    train_wav2sem_local,
)
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
    configure_train_local(sub)


def configure_train_local(sub) -> None:
    t = sub.add_parser("train-local", help="train Wav2SemLocal (host frames -> the word stream, bounded lookahead)",
                       description="Train Wav2SemLocal (beyond the paper): the host encoder's frames -> one text vector "
                       "per frame, oracle_text_local's stream (the spoken word's all-MiniLM-L6-v2 vector, 0 in pauses), "
                       "causal with a bounded lookahead. Trains on the face corpus's train split (its word timings), "
                       "records a val curve (val split), and reports val and test frame-level word retrieval. Use the "
                       "model with `w2s decoder train --semantic wav2sem_local --wav2sem OUT`.")  # fmt: skip
    t.add_argument("--corpus", type=Path, required=True, help="a face corpus built by w2s (alignments.json)")
    t.add_argument("--steps", type=COUNT, default=None, help="training steps (default: the val curve's knee for the "
                   "default corpus, fewer for smoke/quick corpora)")  # fmt: skip
    t.add_argument("--lookahead-ms", type=nonnegative_float, default=200.0, help="how far ahead an output frame may "
                   "see (ms; the default 200)")  # fmt: skip
    t.add_argument("--ctc-weight", type=nonnegative_float, default=0.5, help="the phoneme CTC lever (0: off)")
    t.add_argument("--host-encoder", default="tiny-hubert", help="the frozen encoder whose frames it reads (tiny-hubert: "
                   "the one pretrained on --corpus; mfcc; a hub name or folder)")  # fmt: skip
    t.add_argument("--lr", type=positive, default=1e-3)
    t.add_argument("--batch-size", type=COUNT, default=16)
    t.add_argument("--seed", type=NONNEGATIVE, default=0)
    t.add_argument("--out", type=Path, required=True, help="output folder (resumes from its checkpoint if present)")
    t.add_argument("--force", action="store_true", help="start over: replace the run in --out")


def run_train_local(args) -> int:
    corpus = Corpus.open(args.corpus)  # a folder that is not a built corpus: one line naming the missing file
    for split in ("train", "val", "test"):
        if not corpus.stems(split):
            raise UsageError(f"--corpus {args.corpus}: its {split} split is empty")
    cfg = local_train_config(args.steps or steps_for_corpus(corpus), args.lr, args.batch_size, args.seed)
    recipe = LocalRecipe(lookahead_ms=args.lookahead_ms, ctc_weight=args.ctc_weight, host_encoder=args.host_encoder,
                         train=cfg)  # fmt: skip
    with training_run(args.out, args.force, "wav2sem", cfg):
        host = load_encoder(recipe.host_encoder, corpus=corpus.root)
        model, hist, val = train_wav2sem_local(corpus, recipe, args.out, host=host)
        report = {"val": val, "test": evaluate_split(model, corpus, "test", host), "train_seconds": hist.seconds}
        write_json(args.out / "eval.json", report, indent=1)
    for name in ("val", "test"):
        r = report[name]
        print(f"{name}: frame word R@1 {r['r@1']:.3f} (chance {r['chance_r@1']:.3f}, {r['n_words']} words)  "
              f"within the clip {r['r@1_clip']:.3f} (chance {r['chance_r@1_clip']:.3f})  cosine {r['cosine']:.3f} "
              f"(mean word {r['cosine_mean_word']:.3f})  speech/pause accuracy {r['speech_accuracy']:.3f}")
    print(f"model: {args.out / 'model'}  ({hist.seconds:.0f} s of training)")
    return 0


def run_wav2sem(args) -> int:
    if args.action == "train-local":
        return run_train_local(args)
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
