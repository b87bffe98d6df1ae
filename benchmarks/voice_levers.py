"""Issue 26's levers: which way of pretraining the tiny HuBERT makes it hear a synthesizer it never heard?

    .venv/bin/python benchmarks/voice_levers.py                      # every lever not measured yet (see below)
    .venv/bin/python benchmarks/voice_levers.py --levers voice       # one
    .venv/bin/python benchmarks/voice_levers.py --wav2sem LEVER      # + notebook 02's lite Wav2Sem on that encoder
    .venv/bin/python benchmarks/voice_levers.py --table              # print the saved rows

Each lever pretrains the tiny HuBERT with notebook 01's recipe (900 steps, seed 0) and one change:

* ``baseline``: none (the recipe `make run` uses, retrained here for a like-for-like row);
* ``channel``: each crop perturbed in its channel (spectral tilt, band-pass, room, noise; w2s.data.augment),
  its targets the clean crop's clusters;
* ``voice``: the same plus speed perturbation (formants and pitch move by a factor 0.85-1.15: the
  vocal-tract-length lever), targets following the timing;
* ``more-voices``: the training speakers' audio plus notebook 02's speech set (2,000 utterances, 16
  espeak-ng variants including the Klatt synthesizer, random rate and pitch; sentences disjoint from
  every face-corpus sentence);
* ``more-voices+voice``: both;
* ``festival``, ``festival+voice``: ``more-voices`` (+ ``voice``) and the same 2,000 sentences spoken by Festival's
  diphone voices (w2s.corpus.festival; Debian's festival, festvox-kallpc16k and festvox-kdlpc16k: optional);
* ``...+cmvn``: the k-means targets from per-utterance normalised MFCCs (TinyHubertConfig.kmeans_cmvn);
* ``phones+voice``, ``phones+festival+voice``: supervised, each frame's phone as the target instead of a k-means
  cluster (espeak-ng's timings, Festival's segments; both folded onto one label set: :func:`phone_data`).

Measured: notebook 01's phonetic probe (w2s.evaluation.probe, trained on espeak-ng's training speakers)
tested on flite's rendering of the default corpus's **val** sentences (what the choice reads) and of its
test sentences (reported, never chosen on), beside espeak-ng's own val and test, and a probe trained on
flite's val speakers and tested on its test speakers (does flite have a linear read-out at all).
``--wav2sem LEVER`` trains notebook 02's `lite` (its default levers, 1,500 steps, seed 0) on that encoder
and gives its held-out R@1 on both voices (benchmarks/voices.py's measurement); ``--wav2sem-augment P``
trains it also on two perturbed copies of each utterance (w2s.data.augment preset P); ``--wav2sem-speech
espeak-ng+festival`` on its 2,000 sentences in both synthesizers. flite is never trained on.

Rows go to benchmarks/results/voice_levers.jsonl (one per lever and measurement, with the split it read).
Cost: a lever is a 900-step pretraining (8-9 min on a free core, see w2s.encoders.tiny_hubert) and two
minutes of probes; the committed rows took 28-43 min each beside a make run. A Wav2Sem row is about 10 min
(its speech set re-encoded, 1,500 steps; with --wav2sem-augment, two more encodings of it first).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import w2s  # noqa: F401  (first: pins threads and kernels before numpy and torch load)

# isort: off
import numpy as np
# isort: on

sys.path.insert(0, str(Path(__file__).parent))
import voices as V  # noqa: E402  (benchmarks/voices.py: the probe and Wav2Sem rows on both voices)

from w2s.corpus import voices  # noqa: E402
from w2s.data.corpus import Corpus  # noqa: E402
from w2s.data.faces import FaceDataset  # noqa: E402
from w2s.utils.paths import data_dir  # noqa: E402

RESULTS = Path(__file__).parent / "results" / "voice_levers.jsonl"
LEVERS = {  # lever: (augment preset, espeak-ng and Festival speech-set utterances added to the training
    # speakers' audio, k-means targets on per-utterance normalised MFCCs)
    "baseline": ("none", 0, 0, False),
    "channel": ("channel", 0, 0, False),
    "voice": ("voice", 0, 0, False),
    "more-voices": ("none", 2000, 0, False),
    "more-voices+voice": ("voice", 2000, 0, False),
    "festival": ("none", 2000, 2000, False),
    "festival+voice": ("voice", 2000, 2000, False),
    "more-voices+voice+cmvn": ("voice", 2000, 0, True),
    "festival+voice+cmvn": ("voice", 2000, 2000, True),
    "phones+voice": ("voice", 2000, 0, False),
    "phones+festival+voice": ("voice", 2000, 2000, False),
}
PHONES = ("phones+voice", "phones+festival+voice")  # supervised: each frame's phone is the target, not a k-means cluster
SELECT_ON = "flite val"  # the choice reads this, never a test split
WAV2SEM_COPIES = 2  # --wav2sem-augment: perturbed copies of each training utterance beside the clean one


def encoder_folder(lever: str, seed: int = 0) -> Path:
    return data_dir() / "models" / "voice-levers" / (f"tiny-hubert-{lever}" + (f"-seed{seed}" if seed else ""))


def pretrain(lever: str, espeak: Corpus, seed: int = 0) -> Path:
    """The lever's tiny HuBERT (cached under data/models/voice-levers/)."""
    from w2s.corpus.speech_set import load_or_build_speech_set
    from w2s.data.audio import load_audio
    from w2s.data.librispeech import load_speech_set
    from w2s.encoders.tiny_hubert import TinyHubertConfig, _is_complete_model, pretrain_tiny_hubert
    from w2s.semantic.training_data import corpus_texts

    out = encoder_folder(lever, seed)
    if _is_complete_model(out):
        return out
    augment, n_speech, n_festival, cmvn = LEVERS[lever]
    config = replace(TinyHubertConfig(), augment=augment, kmeans_cmvn=cmvn)
    if lever in PHONES:
        wavs, targets, classes = phone_data(espeak, n_speech, n_festival)
        pretrain_tiny_hubert(wavs, out, replace(config, n_clusters=len(classes)), seed=seed, overwrite=True,
                             checkpoint_dir=out.with_name(f".{out.name}.train"), force=True, targets=targets)  # fmt: skip
        return out
    ds = FaceDataset(espeak.root, split="train")
    wavs = [ds.load_audio(i) for i in range(len(ds))]
    for n, synthesizer in ((n_speech, "espeak-ng"), (n_festival, "festival")):
        if n:
            root = load_or_build_speech_set(n, 0, exclude_texts=corpus_texts(espeak.root), synthesizer=synthesizer)
            wavs += [load_audio(u.path) for u, _ in load_speech_set(root)]
    pretrain_tiny_hubert(wavs, out, config, seed=seed, overwrite=True, checkpoint_dir=out.with_name(f".{out.name}.train"),
                         force=True)  # fmt: skip
    return out


def phone_data(espeak: Corpus, n_speech: int, n_festival: int) -> tuple[list, list, list[str]]:
    """The supervised levers' data: wavs, each CNN frame's phone id, and the classes. The training speakers'
    phones come from the corpus's alignments; the speech sets' are spoken again (espeak-ng and Festival are
    deterministic) with their timings. Both label sets are folded onto one (benchmarks/voices.py's FOLD;
    Festival's CMU phones by flite's IPA map); frames outside every phone are "sil"."""
    from w2s.corpus.speech_set import SynthSpeaker, load_or_build_speech_set, read_manifest, speak
    from w2s.data.phoneme_frames import frame_labels
    from w2s.encoders.base import conv_frames
    from w2s.encoders.tiny_hubert import TinyHubertConfig
    from w2s.semantic.training_data import corpus_texts

    cfg = TinyHubertConfig()
    ds = FaceDataset(espeak.root, split="train")
    items = [(ds.load_audio(i), espeak.alignments[stem]["phonemes"]) for i, stem in enumerate(ds.stems)]
    for n, synthesizer in ((n_speech, "espeak-ng"), (n_festival, "festival")):
        if n:
            root = load_or_build_speech_set(n, 0, exclude_texts=corpus_texts(espeak.root), synthesizer=synthesizer)
            texts = json.loads((root / "texts.json").read_text())
            for sp in read_manifest(root)["speakers"]:
                s = SynthSpeaker(sp["id"], sp["voice"], sp["rate"], sp["pitch"])
                items += speak([texts[u] for u in sorted(texts) if u.split("-")[0] == s.id], s, synthesizer, phones=True)
    labels = [frame_labels(conv_frames(len(a), cfg.conv_kernel, cfg.conv_stride), 50.0, ph) for a, ph in items]
    labels = [np.array([V.FOLD.get(x, x) if x else "sil" for x in lab]) for lab in labels]
    classes = sorted(set(np.concatenate(labels)))
    index = {c: i for i, c in enumerate(classes)}
    return [a for a, _ in items], [np.array([index[x] for x in lab], np.int64) for lab in labels], classes


def probe_row(lever: str, folder: Path, corpora: dict, seed: int = 0) -> dict:
    from w2s.encoders.hf import HFEncoder
    from w2s.encoders.tiny_hubert import pretraining_history

    r = V.probe_rows(HFEncoder(folder, None, None, display_name=f"tiny-hubert-{lever}"), corpora, reference=False)
    h = pretraining_history(folder)
    acc = lambda v, k: round(r[v][k]["accuracy"], 4)  # noqa: E731
    return {"lever": lever, "seed": seed, "measure": "phonetic probe", "split_read_for_choice": "val",
            "flite val": acc("flite", "val"), "flite test": acc("flite", "test"),
            "espeak val": acc("espeak", "val"), "espeak test": acc("espeak", "test"),
            "flite val+test": acc("flite", "val+test"), "espeak val+test": acc("espeak", "val+test"),
            "flite within voice (val -> test)": acc("flite", "within voice: val -> test"),
            "chance flite val+test": round(r["flite"]["val+test"]["chance"], 4),
            "pretraining": {"n_utterances": h["n_utterances"], "audio_seconds": h["audio_seconds"],
                            "final_masked_loss": h["loss"][-1], "train_s": h["train_s"], "augment": h["config"].get("augment", "none")},
            "encoder": str(folder)}  # fmt: skip


def wav2sem_row(lever: str, folder: Path, corpora: dict, augment: str = "none", speech: str = "espeak-ng") -> dict:
    from w2s.encoders.hf import HFEncoder
    from w2s.semantic.train import LITE_DEFAULTS, Wav2SemRecipe, train_config, train_wav2sem, training_pairs

    host = HFEncoder(folder, None, None, display_name=f"tiny-hubert-{lever}")
    out = folder.with_name(f"wav2sem-lite-{lever}" + ("" if augment == "none" else f"-augment-{augment}")
                           + ("" if speech == "espeak-ng" else f"-speech-{speech}"))  # fmt: skip
    if not (out / "model" / "config.json").is_file():
        recipe = Wav2SemRecipe(config="lite", **LITE_DEFAULTS, train=train_config(1500, lr=1e-3, seed=0), augment=augment,
                               augment_copies=0 if augment == "none" else WAV2SEM_COPIES)  # fmt: skip
        paths, texts, _ = training_pairs(corpora["espeak"].root, 2000, 0, synthesizers=tuple(speech.split("+")))
        train_wav2sem(paths, texts, recipe, out, host=host)
    r = V.wav2sem_rows(out / "model", host, corpora)
    return {"lever": lever, "measure": "wav2sem lite R@1", "wav2sem_augment": augment, "wav2sem_speech": speech,
            "split_read_for_choice": "val",
            **{f"{v} {s}": round(r[s][v]["r@1"], 4) for s in V.SPLITS for v in V.VOICE_SETS},
            **{f"cosine same utterance {s}": round(r[s]["fs_cosine_same_utterance"], 4) for s in V.SPLITS},
            "chance": r["test"]["espeak"]["chance_r@1"], "model": str(out / "model")}  # fmt: skip


def rows() -> list[dict]:
    return [json.loads(line) for line in RESULTS.read_text().splitlines()] if RESULTS.is_file() else []


def table(rs: list[dict]) -> str:
    probes = [r for r in rs if r["measure"] == "phonetic probe"]
    lines = ["tiny-HuBERT's phonetic probe (trained on espeak-ng's training speakers), accuracy:", "",
             "| tiny-HuBERT lever | pretraining seed | flite val | flite test | espeak val | espeak test | flite within voice (val → test) |",
             "|---|---|---|---|---|---|---|"]  # fmt: skip
    for p in sorted(probes, key=lambda r: (list(LEVERS).index(r["lever"]), r.get("seed", 0))):
        lines.append(f"| {p['lever']} | {p.get('seed', 0)} | {p['flite val']:.3f} | {p['flite test']:.3f} | "
                     f"{p['espeak val']:.3f} | {p['espeak test']:.3f} | {p['flite within voice (val -> test)']:.3f} |")  # fmt: skip
    if probes:  # a lever's mean over the seeds it has
        mean = {k: np.mean([r[SELECT_ON] for r in probes if r["lever"] == k]) for k in {r["lever"] for r in probes}}
        best = next(r for r in probes if r["lever"] == max(mean, key=mean.get))
        lines.append(f"\nChosen on {SELECT_ON} (mean over its seeds): **{best['lever']}**. Chance (flite, val+test): "
                     f"{best['chance flite val+test']:.3f}.")  # fmt: skip
    sem = [r for r in rs if r["measure"] == "wav2sem lite R@1"]
    if sem:
        lines += ["", f"lite Wav2Sem's held-out R@1 (chance {sem[0]['chance']:.3f}):", "",
                  "| tiny-HuBERT lever | Wav2Sem augment | Wav2Sem's speech | flite val | flite test | espeak val | espeak test |",
                  "|---|---|---|---|---|---|---|"]  # fmt: skip
        for r in sem:
            lines.append(f"| {r['lever']} | {r.get('wav2sem_augment', 'none')} | {r.get('wav2sem_speech', 'espeak-ng')} | {r['flite val']:.3f} | "
                         f"{r['flite test']:.3f} | {r['espeak val']:.3f} | {r['espeak test']:.3f} |")  # fmt: skip
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--levers", nargs="*", choices=list(LEVERS), default=None, help="levers to measure (default: every one not measured yet)")
    ap.add_argument("--wav2sem", nargs="*", choices=list(LEVERS), default=[], help="also train and measure lite Wav2Sem on these levers' encoders")
    ap.add_argument("--seed", type=int, default=0, help="the tiny HuBERT's pretraining seed (the lever rows' spread)")
    ap.add_argument("--wav2sem-augment", choices=["none", "channel", "voice"], default="none",
                    help=f"Wav2Sem's own lever: {WAV2SEM_COPIES} perturbed copies of each training utterance")
    ap.add_argument("--wav2sem-speech", choices=["espeak-ng", "espeak-ng+festival"], default="espeak-ng",
                    help="Wav2Sem's training speech: the speech set's 2,000 sentences in espeak-ng, or also in Festival")
    ap.add_argument("--table", action="store_true", help="print the saved rows and stop")
    args = ap.parse_args(argv)
    if args.table:
        print(table(rows()))
        return
    done = {(r["lever"], r.get("seed", 0), r["measure"]) for r in rows()}
    levers = args.levers if args.levers is not None else [k for k in LEVERS if (k, args.seed, "phonetic probe") not in done]
    espeak = Corpus.load_or_build("default", 0)
    corpora = {"espeak": espeak, "flite": Corpus(voices.load_or_build("flite", "default", 0))}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    for lever in levers:
        t0 = time.perf_counter()
        row = {**probe_row(lever, pretrain(lever, espeak, args.seed), corpora, args.seed), "minutes": round((time.perf_counter() - t0) / 60, 1)}
        with RESULTS.open("a") as f:
            f.write(json.dumps(row) + "\n")
        print(json.dumps(row), flush=True)
    for lever in args.wav2sem:
        t0 = time.perf_counter()
        row = {**wav2sem_row(lever, pretrain(lever, espeak), corpora, args.wav2sem_augment, args.wav2sem_speech),
               "minutes": round((time.perf_counter() - t0) / 60, 1)}  # fmt: skip
        with RESULTS.open("a") as f:
            f.write(json.dumps(row) + "\n")
        print(json.dumps(row), flush=True)
    print(table(rows()))


if __name__ == "__main__":
    main()
