"""Notebook 01's analysis as one call: encode a corpus with a frozen encoder, then measure coupling.

    report = analyse("tiny-hubert", corpus_dir)   # or "mfcc", "random-hubert", a hub name, a folder

Features are cached on disk (keyed by encoder identity and audio content), so the notebook, the CLI
(`w2s coupling`) and later notebooks share them.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import numpy as np

from w2s.data.audio import load_audio
from w2s.encoders import cached_encode
from w2s.encoders.loading import load_encoder
from w2s.evaluation.coupling import coupling_report
from w2s.evaluation.probe import frame_phoneme_dataset, linear_probe
from w2s.fusion import FusionConfig, SemanticFusion
from w2s.utils.runtime import progress

log = logging.getLogger(__name__)


def encode_corpus(encoder, corpus_dir, stems: list[str] | None = None) -> dict[str, np.ndarray]:
    """{stem: (T, D) features at encoder.rate} for every utterance (cached)."""

    wav_dir = Path(corpus_dir) / "wav"
    stems = stems or sorted(p.stem for p in wav_dir.glob("*.wav"))
    return {s: cached_encode(encoder, load_audio(wav_dir / f"{s}.wav")) for s in progress(stems, desc="encode")}


def analyse(name: str, corpus_dir, layer: int | None = None, device=None, probe: bool = True) -> dict:
    """Coupling measures for the near-homophone group and both control groups, plus the phonetic probe."""

    corpus_dir = Path(corpus_dir)
    for f in ("alignments.json", "pairs.json", "splits.json"):
        if not (corpus_dir / f).is_file():
            raise FileNotFoundError(f"{corpus_dir / f} is missing: is {corpus_dir} a corpus built by `w2s corpus build`?")
    alignments = json.loads((corpus_dir / "alignments.json").read_text(encoding="utf-8"))
    pairs = json.loads((corpus_dir / "pairs.json").read_text(encoding="utf-8"))
    splits = json.loads((corpus_dir / "splits.json").read_text(encoding="utf-8"))

    t0 = time.perf_counter()
    enc = load_encoder(name, layer, device, corpus=corpus_dir)
    feats = encode_corpus(enc, corpus_dir, sorted(alignments))
    t_encode = time.perf_counter() - t0
    report = coupling_report(feats, enc.rate, alignments, pairs)
    report["encoder"] = {"name": name, "identity": enc.identity, "layer": enc.layer, "dim": enc.dim, "rate": enc.rate}
    report["corpus"] = str(corpus_dir)
    report["seconds_encode"] = round(t_encode, 1)
    if probe:
        X, y, subjects = frame_phoneme_dataset(feats, enc.rate, alignments)
        train = np.isin(subjects, splits["train"]["subjects"])
        report["probe"] = linear_probe(X, y, train, seed=0)
    log.info("%s: encoded %d utterances in %.1f s", name, len(feats), t_encode)
    return report


def summary_rows(reports: dict[str, dict]) -> list[dict]:
    """One row per (encoder, group): the numbers notebook 01 tabulates."""
    rows = []
    for enc, r in reports.items():
        for g in ("near", "same_viseme", "far"):
            x = r["groups"][g]
            rows.append({
                "encoder": enc, "group": g, "pairs": x["n_pairs"],
                "abx_error": x.get("abx_error_b_other_speaker"), "abx_error_any_b": x.get("abx_error"),
                "normalised_distance": x["normalised_distance"], "decoupling_distance": x["decoupling_distance"],
            })  # fmt: skip
    return rows


def untrained_plug(audio_dim: int, semantic_dim: int, feats: dict[str, np.ndarray], semantics: dict[str, np.ndarray],
                   seed: int = 0):
    """A SemanticFusion with W_out = identity and W_s = a fixed random orthogonal map, scaled so that
    ‖W_s·F_s‖ equals the mean per-frame norm of F_p.

    Notebook 02 uses it to see what adding a sentence vector does to the coupling measures before any
    host is trained (notebook 03 trains W_s and W_out with each host). It is a probe of the mechanism,
    not a trained model: the same λ-scaled offset would separate any two sentences.
    """
    import torch

    plug = SemanticFusion(FusionConfig(audio_dim, semantic_dim, audio_dim, "wav2sem")).eval()
    g = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(max(audio_dim, semantic_dim), min(audio_dim, semantic_dim), generator=g))
    P = q if audio_dim >= semantic_dim else q.T  # (audio_dim, semantic_dim), orthonormal columns or rows
    frame_norm = float(np.mean([np.linalg.norm(f, axis=1).mean() for f in feats.values()]))
    sem_norm = float(np.mean([np.linalg.norm(s) for s in semantics.values()]))
    with torch.no_grad():
        plug.W_out.weight.copy_(torch.eye(audio_dim))
        plug.W_out.bias.zero_()
        plug.W_s.weight.copy_(P * (frame_norm / max(sem_norm, 1e-8)))
        plug.W_s.bias.zero_()
    return plug


def fuse(plug, feats: dict[str, np.ndarray], semantics: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """F_d = plug(F_p, F_s) for every utterance."""
    import torch

    out = {}
    with torch.no_grad():
        for stem, F_p in feats.items():
            F_s = torch.as_tensor(semantics[stem], dtype=torch.float32)[None]
            out[stem] = plug(torch.as_tensor(F_p, dtype=torch.float32)[None], F_s)[0].numpy()
    return out
