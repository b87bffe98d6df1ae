"""The analyses of notebooks 01 and 02 as calls, so the CLI and later notebooks make the same ones.

    report = analyse("tiny-hubert", corpus)          # or "mfcc", "random-hubert", a hub name, a folder
    summary_rows(reports), group_summary(reports)    # the table and the {measure: {encoder: {group}}} view
    pair_tokens(encoder, corpus, pairs)              # word tokens of some pairs, for a 2-D projection
    similarity_by_relation({"text": T, "audio": A}, words, pairs)
    plug_coupling(F_p, rate, alignments, pairs, {"oracle_text": F_s, ...})

Features are cached on disk (keyed by encoder identity and audio content), so the notebooks, the CLI
(`w2s coupling`) and later notebooks share them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from w2s.corpus.pairs import GROUPS
from w2s.data.audio import load_audio
from w2s.data.corpus import Corpus
from w2s.encoders import cached_encode
from w2s.encoders.loading import load_encoder
from w2s.evaluation.coupling import Token, corpus_tokens, coupling_report
from w2s.evaluation.probe import frame_phoneme_dataset, linear_probe
from w2s.fusion import FusionConfig, SemanticFusion
from w2s.utils.runtime import progress

log = logging.getLogger(__name__)

MEASURES = {  # group_summary's name: the key in a coupling report's group
    "abx_error": "abx_error_b_other_speaker",
    "normalised_distance": "normalised_distance",
    "decoupling_distance": "decoupling_distance",
    "n_pairs": "n_pairs",
}


def encode_corpus(encoder, corpus_dir, stems: Sequence[str] | None = None) -> dict[str, np.ndarray]:
    """{stem: (T, D) features at encoder.rate} for every utterance (cached)."""
    wav_dir = Path(corpus_dir) / "wav"
    stems = list(stems) if stems else sorted(p.stem for p in wav_dir.glob("*.wav"))
    return {
        s: cached_encode(encoder, load_audio(wav_dir / f"{s}.wav")) for s in progress(stems, desc="encode")
    }


def analyse(name: str, corpus_dir, layer: int | None = None, device=None, probe: bool = True,
            probe_frames: int = 20000) -> dict:
    """Coupling measures for the near-homophone group and both control groups, plus the phonetic probe (trained on
    at most `probe_frames` frames of the training speakers)."""
    corpus = Corpus.open(corpus_dir)
    alignments, pairs = corpus.alignments, corpus.pairs()
    t0 = time.perf_counter()
    enc = load_encoder(name, layer, device, corpus=corpus.root)
    feats = encode_corpus(enc, corpus.root, sorted(alignments))
    t_encode = time.perf_counter() - t0
    report = coupling_report(feats, enc.rate, alignments, pairs)
    report["encoder"] = {
        "name": name,
        "identity": enc.identity,
        "layer": enc.layer,
        "dim": enc.dim,
        "rate": enc.rate,
    }
    report["corpus"] = str(corpus.root)
    report["seconds_encode"] = round(t_encode, 1)
    if probe:
        X, y, subjects = frame_phoneme_dataset(feats, enc.rate, alignments)
        train = np.isin(subjects, corpus.subjects("train"))
        report["probe"] = linear_probe(X, y, train, seed=0, max_train=probe_frames)
    log.info("%s: encoded %d utterances in %.1f s", name, len(feats), t_encode)
    return report


# ---------------------------------------------------------------------------------------------
# reading coupling reports


def summary_rows(reports: Mapping[str, dict], label: str = "encoder") -> list[dict]:
    """One row per (report, group): the numbers notebooks 01 and 02 tabulate. `label` names the first column."""
    rows = []
    for enc, r in reports.items():
        for g in GROUPS:
            x = r["groups"][g]
            rows.append({
                label: enc, "group": g, "pairs": x["n_pairs"],
                "abx_error": x.get("abx_error_b_other_speaker"), "abx_error_any_b": x.get("abx_error"),
                "normalised_distance": x["normalised_distance"], "decoupling_distance": x["decoupling_distance"],
            })  # fmt: skip
    return rows


def group_summary(reports: Mapping[str, dict]) -> dict[str, dict[str, dict[str, float]]]:
    """{measure: {report name: {group: value}}} for the MEASURES (abx_error is the other-speaker ABX)."""
    return {
        m: {n: {g: r["groups"][g][key] for g in GROUPS} for n, r in reports.items()}
        for m, key in MEASURES.items()
    }


# ---------------------------------------------------------------------------------------------
# word tokens and sentence similarities


def pair_tokens(encoder, corpus: Corpus, pairs: Sequence[Mapping]) -> list[Token]:
    """Every spoken token of the words of `pairs`, as `encoder` hears them (mean of the word's frames)."""
    feats = encode_corpus(encoder, corpus.root, sorted(corpus.alignments))
    words = [w for p in pairs for w in (p["word_a"], p["word_b"])]
    return corpus_tokens(feats, encoder.rate, corpus.alignments, words)


def project_tokens(tokens: Sequence[Token], method: str = "pca", seed: int = 0) -> np.ndarray:
    """(N, 2) coordinates of the tokens' vectors: PCA, or t-SNE (perplexity 5 at most) started from PCA."""
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    X = np.stack([t.vector for t in tokens])
    if method == "pca":
        return PCA(n_components=2, random_state=seed).fit_transform(X)
    if method == "tsne":
        return TSNE(
            n_components=2, perplexity=min(5, len(X) - 1), random_state=seed, init="pca"
        ).fit_transform(X)
    raise ValueError(f"unknown projection {method!r}; choose pca or tsne")


def cosine_matrix(X: np.ndarray) -> np.ndarray:
    """(N, N) cosine similarity between the rows of X."""
    X = X / np.linalg.norm(X, axis=1, keepdims=True)
    return X @ X.T


def similarity_by_relation(spaces: Mapping[str, np.ndarray], words: Sequence[str], pairs: Sequence[Mapping]):
    """Sentence similarities in several spaces, averaged by how two sentences relate.

    spaces: {name: (N, D) one vector per sentence}; words[i]: the pair word sentence i was built around.
    Returns ({name: (N, N) cosine matrix}, rows) with one row per space: the mean similarity of two
    different sentences around the same word, and of two sentences around the two words of one pair.
    """
    pair_of = {w: i for i, p in enumerate(pairs) for w in (p["word_a"], p["word_b"])}
    missing = sorted(set(words) - set(pair_of))
    if missing:
        raise ValueError(f"similarity_by_relation: words {missing} belong to none of the pairs")
    same = np.array([[a == b for b in words] for a in words]) & ~np.eye(len(words), dtype=bool)
    partner = np.array([[pair_of[a] == pair_of[b] and a != b for b in words] for a in words])
    matrices = {name: cosine_matrix(np.asarray(X)) for name, X in spaces.items()}
    rows = [{"space": n, "same word": float(M[same].mean()), "the pair's other word": float(M[partner].mean())}
            for n, M in matrices.items()]  # fmt: skip
    return matrices, rows


# ---------------------------------------------------------------------------------------------
# the untrained plug


def untrained_plug(
    audio_dim: int,
    semantic_dim: int,
    feats: dict[str, np.ndarray],
    semantics: dict[str, np.ndarray],
    seed: int = 0,
):
    """A SemanticFusion with W_out = identity and W_s = a fixed random orthogonal map, scaled so that
    ‖W_s·F_s‖ equals the mean per-frame norm of F_p.

    Notebook 02 uses it to see what adding a sentence vector does to the coupling measures before any
    host is trained (notebook 03 trains W_s and W_out with each host). It is a probe of the mechanism,
    not a trained model: the same λ-scaled offset would separate any two sentences.
    """
    import torch

    plug = SemanticFusion(FusionConfig(audio_dim, semantic_dim, audio_dim, "wav2sem")).eval()
    g = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(
        torch.randn(max(audio_dim, semantic_dim), min(audio_dim, semantic_dim), generator=g)
    )
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


def plug_coupling(F_p: dict[str, np.ndarray], rate_hz: float, alignments: dict[str, dict], pairs: list[dict],
                  sources: Mapping[str, dict[str, np.ndarray]], seed: int = 0) -> dict[str, dict]:  # fmt: skip
    """Coupling reports of the host frames F_p alone ("none (F_p)") and after an untrained plug adds
    each source's sentence vectors ("+ name"); sources: {name: {stem: F_s (D,)}}."""
    audio_dim = next(iter(F_p.values())).shape[1]
    reports = {"none (F_p)": coupling_report(F_p, rate_hz, alignments, pairs)}
    for name, F_s in sources.items():
        plug = untrained_plug(audio_dim, len(next(iter(F_s.values()))), F_p, F_s, seed=seed)
        reports[f"+ {name}"] = coupling_report(fuse(plug, F_p, F_s), rate_hz, alignments, pairs)
    return reports


def probe_with_semantics(F_p: dict[str, np.ndarray], F_s: dict[str, np.ndarray], rate_hz: float,
                         alignments: dict[str, dict], train_subjects, seed: int = 0, max_train: int = 20000,
                         without: dict | None = None) -> dict:  # fmt: skip
    """The paper's phoneme-recognition check, on our probe: the phonetic probe on the host frames alone
    ("without") and with each utterance's sentence vector fused ("with").

    A plug F_d = W_out (W_s F_s + F_p) read by a linear probe is linear in the concatenation [F_p, F_s],
    so the probe trained on [F_p, F_s] *is* the plug trained jointly with the probe (up to the probe's
    standardisation and regularisation). Same frames, speakers and split both ways; the frame error rate
    is 1 - accuracy. `without`: the "without" result of an earlier call on the same F_p (not recomputed).
    """
    fused = {s: np.hstack([F, np.broadcast_to(np.asarray(F_s[s], np.float32), (len(F), len(F_s[s])))])
             for s, F in F_p.items()}  # fmt: skip
    out = {} if without is None else {"without": without}
    for name, feats in (("without", F_p), ("with", fused)):
        if name in out:
            continue
        X, y, subjects = frame_phoneme_dataset(feats, rate_hz, alignments)
        r = linear_probe(X, y, np.isin(subjects, list(train_subjects)), seed=seed, max_train=max_train)
        out[name] = {**r, "frame_error_rate": 1.0 - r["accuracy"]}
    return out
