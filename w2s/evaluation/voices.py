"""Two voices side by side (issue 26): what the models made from espeak-ng hear in a synthesizer they never
heard, on the same held-out sentences, speakers and heads (the voice set of w2s.corpus.voices).

    voiced = {"espeak": corpus, "flite": Corpus(voices.load_or_build("flite", preset, seed))}
    report = compare_voices(host, lite, text_model, voiced)      # probe, retrieval, coupling per voice
    markdown_table(voice_rows(report))                            # notebook 02's table
    markdown_table(voice_lever_rows("benchmarks/results/voice_levers.jsonl"))   # the levers tried since

Per voice, on the held-out speakers' utterances (val and test, the only ones a voice set renders):

* **probe**: the phonetic probe (w2s.evaluation.probe) trained on espeak-ng's *training* speakers and tested
  on the voice's val+test frames, each corpus with its own labels; and, as a control, a probe trained on the
  voice's own val speakers and tested on its test speakers ("within voice": does the voice have a linear
  read-out at all, so that a failure to transfer is the features', not the labels');
* **retrieval**: lite Wav2Sem's held-out R@1 among each split's sentences and its cosine to the target;
  and the cosine between the two voices' F_s of the same utterance;
* **coupling**: the near-homophones' ABX error on the host's frames, alone and after the plug adds lite's F_s.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from w2s.data.corpus import Corpus
from w2s.data.phoneme_frames import frame_phoneme_dataset
from w2s.evaluation.analysis import encode_corpus, group_summary, plug_coupling
from w2s.evaluation.probe import linear_probe
from w2s.evaluation.report import results_table
from w2s.semantic.targets import cached_embed
from w2s.semantic.train import evaluate

SPLITS = ("val", "test")


def heldout_stems(corpus: Corpus) -> list[str]:
    return [s for split in SPLITS for s in corpus.stems(split)]


def _probe(train: dict, test: dict, rate: float, train_align: dict, test_align: dict, seed: int, max_train: int) -> dict:
    X_tr, y_tr, _ = frame_phoneme_dataset(train, rate, train_align)
    X_te, y_te, _ = frame_phoneme_dataset(test, rate, test_align)
    mask = np.r_[np.ones(len(y_tr), bool), np.zeros(len(y_te), bool)]
    return linear_probe(np.concatenate([X_tr, X_te]), np.concatenate([y_tr, y_te]), mask, seed=seed, max_train=max_train)


def compare_voices(host, lite, text_model, voiced: dict[str, Corpus], seed: int = 0, max_train: int = 20000) -> dict:
    """{voice: measures} for each corpus of `voiced` (the first is the one the models were trained on), plus
    "same_utterance_fs_cosine" per split: the mean cosine of two voices' F_s of one utterance (first two voices)."""
    names = list(voiced)
    base = voiced[names[0]]
    for name, c in voiced.items():
        for split in SPLITS:
            if c.stems(split) != base.stems(split):
                raise ValueError(f"voice {name!r} ({c.root}): its {split} utterances are not {names[0]!r}'s")
    train = encode_corpus(host, base.root, base.stems("train"))
    out: dict = {"voices": names, "n_utterances": {s: len(base.stems(s)) for s in SPLITS}}
    fs = {}
    for name, c in voiced.items():
        F = encode_corpus(host, c.root, heldout_stems(c))
        split_feats = {s: {k: F[k] for k in c.stems(s)} for s in SPLITS}
        row = {"probe": _probe(train, F, host.rate, base.alignments, c.alignments, seed, max_train),
               "probe_within_voice": _probe(split_feats["val"], split_feats["test"], host.rate, c.alignments,
                                            c.alignments, seed, max_train)}  # fmt: skip
        fs[name] = {k: v for k, v in zip(F, lite.predict(list(F.values())))}
        for split in SPLITS:
            texts = [c.transcripts[s] for s in c.stems(split)]
            pred = np.stack([fs[name][s] for s in c.stems(split)])
            row[f"retrieval_{split}"] = evaluate(pred, cached_embed(text_model, texts), texts)
        coupling = plug_coupling(F, host.rate, c.alignments, c.pairs(), {"lite": fs[name]}, seed=seed)
        row["abx_near"] = {k: v["near"] for k, v in group_summary(coupling)["abx_error"].items()}
        out[name] = row
    if len(names) > 1:
        a, b = fs[names[0]], fs[names[1]]
        cos = lambda u, v: float(u @ v / max(np.linalg.norm(u) * np.linalg.norm(v), 1e-8))  # noqa: E731
        out["same_utterance_fs_cosine"] = {s: float(np.mean([cos(a[k], b[k]) for k in base.stems(s)])) for s in SPLITS}
    return out


def voice_rows(report: dict) -> list[dict]:
    """One row per voice of :func:`compare_voices`'s report: notebook 02's side-by-side table."""
    rows = []
    for name in report["voices"]:
        r = report[name]
        abx = r["abx_near"]
        rows.append({"voice": name, "probe (espeak-trained)": r["probe"]["accuracy"],
                     "probe within voice": r["probe_within_voice"]["accuracy"], "probe chance": r["probe"]["chance"],
                     "lite R@1 val": r["retrieval_val"]["r@1"], "lite R@1 test": r["retrieval_test"]["r@1"],
                     "R@1 chance (test)": r["retrieval_test"]["chance_r@1"],
                     "cosine to target (test)": r["retrieval_test"]["cosine_to_target"],
                     "ABX near, F_p": abx["none (F_p)"], "ABX near, + lite": abx["+ lite"]})  # fmt: skip
    return rows


def voices_table(report: dict | None, skipped: str | None, preset: str) -> dict:
    """Notebook 02's `voices` results table (a README block): :func:`voice_rows`, or, where the section was
    skipped, one row saying why, so that `w2s readme RUN` fills the block either way."""
    if report is None:
        return results_table([{"second voice": f"not measured: {skipped}"}], ["second voice"], "Two voices")
    rows = voice_rows(report)
    return results_table(rows, list(rows[0]), f"Two voices, the {preset} corpus's held-out speakers (val and test; "
                         "probe: val+test frames)")  # fmt: skip


def voice_lever_rows(path) -> list[dict]:
    """benchmarks/voice_levers.py's rows (the levers tried for issue 26, read on flite's val split), one per
    tiny-HuBERT lever and seed with its probe and, where measured, lite Wav2Sem's R@1 on that encoder."""
    path = Path(path)
    if not path.is_file():
        return []
    rs = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    sem = {}
    for r in rs:
        if r["measure"] == "wav2sem lite R@1" and r.get("wav2sem_augment", "none") == "none":
            sem.setdefault(r["lever"], r)
    rows = []
    for r in rs:
        if r["measure"] != "phonetic probe":
            continue
        s = sem.get(r["lever"]) if r.get("seed", 0) == 0 else None
        rows.append({"tiny-HuBERT lever": r["lever"], "seed": r.get("seed", 0), "probe flite val": r["flite val"],
                     "probe flite test": r["flite test"], "probe espeak val": r["espeak val"],
                     "probe espeak test": r["espeak test"],
                     "lite R@1 flite val": s["flite val"] if s else None, "lite R@1 espeak val": s["espeak val"] if s else None})  # fmt: skip
    return rows
