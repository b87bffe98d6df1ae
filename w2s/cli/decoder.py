"""`w2s decoder train` and `w2s decoder eval`: a host decoder (VOCA, FaceFormer, CodeTalker, ...) trained with
or without the plug, and its metrics on a split."""

from __future__ import annotations

import argparse
from pathlib import Path

from w2s import decoders
from w2s.cli.args import COUNT, NONNEGATIVE, UsageError, parse_param, positive
from w2s.cli.training_run import training_run
from w2s.corpus.build import clean_twin
from w2s.data.corpus import Corpus
from w2s.decoders.inputs import DEFAULT_TEXT_MODEL
from w2s.decoders.training import DecoderRecipe, check_datasets, train_decoder
from w2s.evaluation.decoders import evaluate_decoder
from w2s.evaluation.grid import MODES
from w2s.fusion import SOURCES
from w2s.semantic.local_train import default_wav2sem_local
from w2s.semantic.train import default_wav2sem
from w2s.utils.io import check_writable, write_json
from w2s.utils.owned import claim_file


def _condition(text: str) -> str | int:
    """An argparse type for ``decoder eval --condition``: "all", or a training identity's index (>= 0)."""
    if text == "all":
        return text
    try:
        return NONNEGATIVE(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"must be 'all' or a training identity's index (0, 1, ...), got {text!r}") from None


class _KeepLines(argparse.HelpFormatter):
    """Wraps each line of a help text on its own: a list of choices keeps one line per choice."""

    def _split_lines(self, text, width):
        split = super()._split_lines  # (not inside the comprehension: its own scope has no zero-argument super)
        return [x for line in text.splitlines() for x in split(line, width)]


SEMANTIC_HELP = {  # --semantic: one line per source
    "none": "the baseline, no F_s",
    "wav2sem": "a trained Wav2Sem on the audio (the paper)",
    "oracle_text": "the true transcript's sentence vector",
    "oracle_word": "control: a code of the pair word said",
    "oracle_text_local": "per frame: the said word's vector",
    "oracle_viseme": "per frame: its viseme class (control)",
    "wav2sem_local": "per frame: a Wav2SemLocal on the audio",
}


def configure_decoder(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", required=True)
    t = sub.add_parser("train", help="train a host decoder with or without the plug (resumable)", formatter_class=_KeepLines)
    t.add_argument("--host", required=True, choices=decoders.names())
    t.add_argument("--semantic", default="none", choices=list(SOURCES),
                   help="F_s:\n" + "\n".join(f"{k}: {SEMANTIC_HELP[k]}" for k in SOURCES))
    t.add_argument("--wav2sem", default=None, help="--semantic wav2sem: a trained Wav2Sem folder (w2s wav2sem train "
                   "--out); default: notebook 02's lite Wav2Sem for --corpus and --seed, trained first if missing. "
                   "--semantic wav2sem_local: a trained Wav2SemLocal folder (w2s wav2sem train-local --out); default: "
                   "the default one for --corpus and --seed, trained first if missing (about 3 min)")
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
    t.add_argument("--lr", type=positive, default=None)
    t.add_argument("--val-every", type=NONNEGATIVE, default=0, metavar="N",
                   help="also the val split's loss every N steps and at the end (the learning curve, in "
                        "decoder_run.json's history); training is the same with it (default: 0, none)")  # fmt: skip
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


def run_decoder(args) -> int:
    if args.action == "train":
        with training_run(args.out, args.force, "decoder"):
            return _train(args)
    if args.out is not None or Path(args.model).is_dir():  # (a missing model folder: evaluate says so)
        check_writable(args.out or Path(args.model) / f"eval-{args.split}.json")  # before the evaluation, not after
    return _eval(args)


def lite_wav2sem(corpus: Path, seed: int) -> Path:
    """The Wav2Sem `--semantic wav2sem` reads when no --wav2sem is given: notebook 02's lite for `corpus` and the
    decoder's training seed (the one notebooks 03-04 and the grid read, w2s.semantic.train.default_wav2sem, of
    the mode that corpus belongs to), found under data/models/, else trained now with a line saying so."""
    if not Corpus.is_built(corpus):
        raise UsageError(f"--semantic wav2sem: {corpus} is not a corpus built by w2s, so it has no lite Wav2Sem of "
                         "notebook 02; give one with --wav2sem FOLDER (w2s wav2sem train)")  # fmt: skip
    preset = Corpus(clean_twin(corpus)).preset or ""  # the mode as tiny-HuBERT's recipe is chosen for the corpus:
    mode = "smoke" if preset.startswith("smoke") else "quick" if preset == "quick" else None  # else full mode
    size = {"steps": MODES[mode]["wav2sem_steps"], "n_speech": MODES[mode]["n_speech"]} if mode else {}

    def say(folder: Path) -> None:
        print(f"--semantic wav2sem: no lite Wav2Sem of seed {seed} for {corpus} yet; training notebook 02's now "
              f"into {folder}", flush=True)  # fmt: skip

    return default_wav2sem(corpus, seed=seed, on_train=say, **size)


def _say_local(seed: int):
    def say(folder: Path) -> None:
        print(f"--semantic wav2sem_local: no default Wav2SemLocal of seed {seed} yet; training it now into {folder}",
              flush=True)  # fmt: skip

    return say


def _train(args) -> int:
    fields = dict(host=args.host, preset=args.preset, semantic=args.semantic, seed=args.seed, dataset=args.dataset,
                  encoder=args.encoder, finetune_encoder=args.finetune_encoder, wav2sem=args.wav2sem,
                  text_model=args.text_model, max_steps=args.steps, batch_size=args.batch_size, lr=args.lr,
                  val_every=args.val_every, joint=tuple(args.joint), overrides=dict(parse_param(x) for x in args.set))  # fmt: skip
    if args.semantic == "wav2sem" and not args.wav2sem:
        check_datasets(DecoderRecipe(**{**fields, "semantic": "none"}), args.corpus)  # the rest first: before a
        #   Wav2Sem is trained, as the training checks them
        fields["wav2sem"] = str(lite_wav2sem(args.corpus, args.seed))
        print(f"--semantic wav2sem: F_s from {fields['wav2sem']}")
    if args.semantic == "wav2sem_local" and not args.wav2sem:
        check_datasets(DecoderRecipe(**{**fields, "semantic": "none"}), args.corpus)
        if not Corpus.is_built(args.corpus):
            raise UsageError(f"--semantic wav2sem_local: {args.corpus} is not a corpus built by w2s (its word timings "
                             "train the default Wav2SemLocal); give one with --wav2sem FOLDER")  # fmt: skip
        # a masked corpus reads its clean twin's model, as its encoders (and lite's speech) are clean
        fields["wav2sem"] = str(default_wav2sem_local(clean_twin(args.corpus), seed=args.seed, on_train=_say_local(args.seed)))
        print(f"--semantic wav2sem_local: F_s from {fields['wav2sem']}")
    recipe = DecoderRecipe(**fields)
    rec = train_decoder(recipe, args.corpus, args.out)
    sec = rec["seconds"]
    print(f"{args.host} ({args.preset}, semantic={args.semantic}, seed {args.seed}): trained in {sec['train']:.1f} s "
          f"(inputs {sec['inputs']:.1f} s, prepare {sec['prepare']:.1f} s); model: {args.out / 'model'}")
    return 0


def _eval(args) -> int:
    options = dict(parse_param(x) for x in args.generate)
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
