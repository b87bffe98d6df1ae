"""Issue 26's "before": how the embedded default hears a voice it was never trained on (CMU flite, the
`w2s corpus build OUT --voice-set flite` rendering of the default corpus's val and test sentences), side by
side with espeak-ng's rendering of the same sentences, same speakers.

    .venv/bin/python benchmarks/voices.py                     # builds the flite corpus if missing; 1-8 min, 1 core
    .venv/bin/python benchmarks/voices.py --wav2sem DIR/model # another lite Wav2Sem
    .venv/bin/python benchmarks/voices.py --table             # print the saved result

Nothing is trained. It reads models that `make run` made and refuses (one line, exit 2) when they are missing:

(a) Wav2Sem: notebook 02's `lite` (seed 0, the F_s notebooks 03-04 use), found in the newest run's
    02_train_wav2sem/metrics.json ("wav2sem_model", or the folder of that name under data/models/), reading
    the frozen tiny HuBERT pretrained on the default corpus's training speakers. Per split (val, test) and voice: held-out retrieval among the split's
    sentences (R@1, R@5, median rank, chance; w2s.semantic.train.evaluate, as notebook 02) and the cosine
    to the target; and the cosine between the two voices' F_s of the same utterance, beside the cosine
    between F_s of different sentences (espeak-ng's F_s of sentence i against flite's of every j != i).
(b) tiny HuBERT's phonetic probe (notebook 01's: w2s.evaluation.probe.linear_probe, lbfgs on <= 20,000
    frames of the training speakers, seed 0), trained once on espeak-ng's training speakers and tested on
    the held-out speakers' val and test sentences in each voice. The labels are each corpus's own phoneme
    segments; espeak-ng and flite's dictionary do not cut every sound the same way (espeak-ng's one
    segment [ɑːɹ] in *car* is flite's [ɑː] + [ɹ]; espeak-ng's reduced [ɐ], [ᵻ], [i] are flite's [ə], [ɪ],
    [iː]), so the probe is also given with both label sets folded onto one (FOLD, "folded"). Notebook 01's
    own figure (tested on all 40 sentences of the four held-out speakers, espeak-ng) is the reference row.
    Controls: the same probes on MFCCs (notebook 01's "mfcc"); and, per voice, a probe trained on that voice's
    val speakers and tested on its test speakers ("within voice"), which says whether each corpus's labels
    have a linear read-out in the features at all (so that a failure to transfer is the features', not the
    labels').
Results go to benchmarks/results/voices.json with the splits read, the model folders and the corpora.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import w2s  # noqa: F401  (first: pins threads and kernels before numpy and torch load)

# isort: off
import numpy as np
# isort: on

from w2s.corpus import voices
from w2s.data.audio import load_audio
from w2s.data.corpus import Corpus
from w2s.data.phoneme_frames import frame_phoneme_dataset
from w2s.encoders import cached_encode
from w2s.utils.io import write_json
from w2s.utils.paths import data_dir, runs_dir

RESULTS = Path(__file__).parent / "results" / "voices.json"
SPLITS = ("val", "test")
REFERENCE = "notebook 01 protocol (espeak, held-out speakers' 40 sentences)"
VOICE_SETS = ("espeak", "flite")
# both label sets onto one: espeak-ng's symbols flite's dictionary has no segment for, onto the nearest it has
FOLD = {"ɐ": "ə", "ᵻ": "ɪ", "i": "iː", "ɔ": "ɔː", "ɾ": "t", "əl": "l", "n̩": "n", "m̩": "m", "ʔ": "t", "ɜː": "ɚ",
        "ɔːɹ": "ɔː", "ɑːɹ": "ɑː", "ɪɹ": "ɪ", "ɛɹ": "ɛ", "ʊɹ": "ʊ", "aɪɚ": "aɪ", "aɪə": "aɪ", "iə": "iː", "oː": "ɔː"}  # fmt: skip


class Refused(SystemExit):
    def __init__(self, message: str):
        print(f"benchmarks/voices.py: error: {message}", file=sys.stderr)
        super().__init__(2)


def notebook02_lite() -> Path:
    """The lite Wav2Sem (seed 0) the newest full run's notebook 02 recorded for the default corpus."""
    for metrics in sorted(runs_dir().glob("*/02_train_wav2sem/metrics.json"), reverse=True):
        m = json.loads(metrics.read_text())
        if m.get("corpus_preset") != "default":
            continue
        recorded = Path(m["wav2sem_model"])  # or the same folder (its name is its recipe's key) under data/models/
        for folder in (recorded, data_dir() / "models" / recorded.parent.name / "model"):
            if (folder / "config.json").is_file():
                return folder
    raise Refused(f"no notebook 02 run on the default corpus under {runs_dir()} whose lite Wav2Sem is still there; "
                  "run `make run` first, or give --wav2sem FOLDER")  # fmt: skip


def host_of(espeak: Corpus):
    """The tiny HuBERT pretrained on the default corpus's training speakers, if it is there (never trained here)."""
    from w2s.encoders import load_encoder
    from w2s.encoders.tiny_hubert import config_for_corpus, pretrained_folder

    folder = pretrained_folder(espeak.root, config_for_corpus(espeak.root))
    if not folder.is_dir():
        raise Refused(f"the tiny HuBERT of {espeak.root} is not pretrained yet ({folder}); run notebook 01 first")
    return load_encoder("tiny-hubert", corpus=espeak.root)


def features(host, corpus: Corpus, stems) -> dict[str, np.ndarray]:
    return {s: cached_encode(host, load_audio(corpus.root / "wav" / f"{s}.wav")) for s in stems}


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, N) cosine of every row of `a` with every row of `b`."""
    a = a / np.linalg.norm(a, axis=1, keepdims=True).clip(1e-8)
    b = b / np.linalg.norm(b, axis=1, keepdims=True).clip(1e-8)
    return a @ b.T


def wav2sem_rows(model_dir: Path, host, corpora: dict[str, Corpus]) -> dict:
    from w2s.semantic.targets import cached_embed, load_text_model
    from w2s.semantic.train import evaluate
    from w2s.semantic.wav2sem import Wav2Sem

    run = json.loads((model_dir.parent / "wav2sem_run.json").read_text())
    recipe = run["recipe"]
    if recipe["config"] != "lite" or recipe["host_encoder"] != "tiny-hubert":
        raise Refused(f"{model_dir} is a {recipe['config']} Wav2Sem reading {recipe['host_encoder']}, not notebook 02's lite")
    model = Wav2Sem.from_pretrained(model_dir)
    text_model = load_text_model(recipe["text_model"], recipe["text_kind"])
    out = {}
    for split in SPLITS:
        stems = corpora["espeak"].stems(split)
        if corpora["flite"].stems(split) != stems:
            raise Refused(f"{corpora['flite'].root}: its {split} utterances are not the espeak-ng corpus's")
        texts = [corpora["espeak"].transcripts[s] for s in stems]
        targets = cached_embed(text_model, texts)
        fs = {v: model.predict([f for f in features(host, c, stems).values()]) for v, c in corpora.items()}
        row = {v: evaluate(fs[v], targets, texts) for v in corpora}
        cross = cosines(fs["espeak"], fs["flite"])  # (N, N): espeak-ng's F_s of i against flite's of j
        same = np.diag(cross)
        other = cross[~np.eye(len(stems), dtype=bool)]
        row["fs_cosine_same_utterance"] = float(same.mean())
        row["fs_cosine_other_sentences"] = float(other.mean())
        row["fs_cosine_same_utterance_min_max"] = [float(same.min()), float(same.max())]
        row["n_utterances"] = len(stems)
        out[split] = row
    return out


def probe_rows(encoder, corpora: dict[str, Corpus], reference: bool = True) -> dict:
    """The probe trained on espeak-ng's training speakers, tested per voice on val, on test (their frame-weighted
    mean: "val+test", the same classifier) and on val+test with folded labels."""
    from w2s.evaluation.probe import linear_probe

    espeak = corpora["espeak"]
    X_tr, y_tr, _ = frame_phoneme_dataset(features(encoder, espeak, espeak.stems("train")), encoder.rate,
                                          espeak.alignments)  # fmt: skip

    def probe(test_feats, alignments, fold=False):
        X_te, y_te, _ = frame_phoneme_dataset(test_feats, encoder.rate, alignments)
        y = np.concatenate([y_tr, y_te])
        if fold:
            y = np.array([FOLD.get(s, s) for s in y])
        mask = np.r_[np.ones(len(y_tr), bool), np.zeros(len(y_te), bool)]
        return {**linear_probe(np.concatenate([X_tr, X_te]), y, mask, seed=0), "labels": y[~mask]}

    out: dict = {}
    for voice, c in corpora.items():
        feats = {split: features(encoder, c, c.stems(split)) for split in SPLITS}
        row = {split: probe(feats[split], c.alignments) for split in SPLITS}
        n = sum(row[split]["n_test"] for split in SPLITS)
        _, counts = np.unique(np.concatenate([row[k].pop("labels") for k in SPLITS]), return_counts=True)
        row["val+test"] = {"accuracy": sum(row[k]["accuracy"] * row[k]["n_test"] for k in SPLITS) / n, "n_test": n,
                           "chance": float(counts.max() / counts.sum())}  # chance over every labelled frame  # fmt: skip
        row["val+test folded"] = probe({**feats["val"], **feats["test"]}, c.alignments, fold=True)
        row["val+test folded"].pop("labels")
        # control: do the voice's own labels have a linear read-out in these features? trained on its val
        # speakers, tested on its test speakers (both voices alike), nothing of espeak-ng's training speakers
        (X_v, y_v, _), (X_t, y_t, _) = (frame_phoneme_dataset(feats[k], encoder.rate, c.alignments) for k in SPLITS)
        mask = np.r_[np.ones(len(y_v), bool), np.zeros(len(y_t), bool)]
        row["within voice: val -> test"] = linear_probe(np.concatenate([X_v, X_t]), np.concatenate([y_v, y_t]), mask, seed=0)
        out[voice] = row
    if reference:  # notebook 01's own test set: every sentence of the held-out speakers, espeak-ng
        held = [s for split in SPLITS for s in espeak.subjects(split)]
        every = [s for s in espeak.stems() if s.rsplit("_", 1)[0] in held]
        out[REFERENCE] = probe(features(encoder, espeak, every), espeak.alignments)
        out[REFERENCE].pop("labels")
    return out


def measure(wav2sem: Path | None) -> dict:
    t0 = time.perf_counter()
    espeak = Corpus.load_or_build("default", 0)
    model_dir = wav2sem or notebook02_lite()
    host = host_of(espeak)
    where = voices.location("flite", "default", 0)
    built = not (where / "corpus.json").is_file()
    t_build = time.perf_counter()
    corpora = {"espeak": espeak, "flite": Corpus(voices.load_or_build("flite", "default", 0))}
    t_build = time.perf_counter() - t_build
    size = subprocess.run(["du", "-sb", str(where)], capture_output=True, text=True).stdout.split()[0]
    result = {
        "issue": 26, "splits_read": list(SPLITS), "note": "before: no model trained on any voice but espeak-ng",
        "corpora": {v: {"root": str(c.root), "content_sha256": c.content_sha256, "n_sequences": c.meta["n_sequences"]}
                    for v, c in corpora.items()},
        "flite_corpus": {"built_now": built, "build_seconds": round(t_build, 1) if built else None,
                         "bytes_on_disk": int(size), "voices": {s["subject"]: s["flite"] for s in corpora["flite"].meta["speakers"]
                                                                if s["subject"] in corpora["flite"].subjects("val") + corpora["flite"].subjects("test")}},
        "wav2sem_model": str(model_dir), "host": {"name": "tiny-hubert", "identity": host.identity},
    }  # fmt: skip
    result["wav2sem"] = wav2sem_rows(model_dir, host, corpora)
    result["probe"] = probe_rows(host, corpora)
    from w2s.encoders import load_encoder

    result["probe_control_mfcc"] = probe_rows(load_encoder("mfcc"), corpora, reference=False)  # can it see transfer?
    result["minutes"] = round((time.perf_counter() - t0) / 60, 2)
    return result


def table(r: dict) -> str:
    lines = [f"Wav2Sem lite ({r['wav2sem_model']}): held-out retrieval per split, espeak-ng vs flite",
             "split  voice   R@1    chance  R@5    med.rank  cos→target",]  # fmt: skip
    for split in r["splits_read"]:
        w = r["wav2sem"][split]
        for v in VOICE_SETS:
            x = w[v]
            lines.append(f"{split:5}  {v:6}  {x['r@1']:.3f}  {x['chance_r@1']:.3f}   {x['r@5']:.3f}  {x['median_rank']:8.1f}  {x['cosine_to_target']:.3f}")
        lines.append(f"{split:5}  F_s cosine, same utterance in both voices {w['fs_cosine_same_utterance']:.3f} "
                     f"(different sentences {w['fs_cosine_other_sentences']:.3f})")  # fmt: skip
    for key, what in (("probe", "tiny-HuBERT"), ("probe_control_mfcc", "control: MFCC")):
        lines.append(f"{what} phonetic probe (trained on espeak-ng's training speakers): accuracy (chance)")
        for v in VOICE_SETS:
            p = r[key][v]
            lines.append(f"{v:6}  " + "  ".join(f"{k}: {p[k]['accuracy']:.3f} ({p[k]['chance']:.3f})" for k in p))
    lines.append(f"{REFERENCE}: {r['probe'][REFERENCE]['accuracy']:.3f} ({r['probe'][REFERENCE]['chance']:.3f})")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--wav2sem", type=Path, default=None, help="a lite Wav2Sem's model folder (default: notebook 02's)")
    ap.add_argument("--out", type=Path, default=RESULTS, help=f"where the JSON goes (default {RESULTS})")
    ap.add_argument("--table", action="store_true", help="print the saved result and stop")
    args = ap.parse_args(argv)
    if args.table:
        print(table(json.loads(args.out.read_text())))
        return
    if args.wav2sem is not None and not (args.wav2sem / "config.json").is_file():
        raise Refused(f"--wav2sem {args.wav2sem}: not a saved Wav2Sem (no config.json)")
    from w2s.corpus.build import BuildError

    try:
        result = measure(args.wav2sem)
    except (BuildError, ValueError, OSError) as e:  # flite missing, a corpus that cannot be read: one line
        raise Refused(" ".join(str(e).split())) from None
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_json(args.out, result, indent=1)
    print(table(result))


if __name__ == "__main__":
    main()
