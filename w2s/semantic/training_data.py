"""What Wav2Sem trains on: (audio paths, sentences, data key), from LibriSpeech or from the offline speech set,
kept disjoint from the face corpus's sentences; and, for lite's voice lever, features of perturbed copies.

    paths, texts, key = training_pairs(corpus_dir, n_speech=2000)           # the offline stand-in
    paths, texts, key = training_pairs(librispeech_dir="data/LibriSpeech")   # the real corpus
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from w2s.corpus.speech_set import load_or_build_speech_set, read_manifest
from w2s.data.audio import load_audio
from w2s.data.augment import PRESETS as AUGMENT_PRESETS
from w2s.data.augment import augment, draw_speed, source_samples
from w2s.data.corpus import Corpus
from w2s.data.files import parse_stem
from w2s.data.librispeech import load_speech_set, read_librispeech


def heldout_texts(corpus_dir) -> list[str]:
    """Transcripts of the face corpus's validation and test speakers: never used for training."""
    corpus = Corpus.open(corpus_dir)
    held = set(corpus.subjects("val")) | set(corpus.subjects("test"))
    return sorted({t for stem, t in corpus.transcripts.items() if parse_stem(stem)[0] in held})


def corpus_texts(corpus_dir) -> list[str]:
    """Every transcript of the face corpus, training speakers' included. Wav2Sem's speech set excludes them all:
    a training sentence of the face corpus in Wav2Sem's own training texts would make F_s better on the
    decoders' training clips than on their test clips (whose sentences it never saw). A corpus whose splits.json
    lacks its held-out speakers (val, test: what Wav2Sem is evaluated on) is refused here, naming the file."""
    corpus = Corpus.open(corpus_dir)
    for split in ("val", "test"):
        corpus.subjects(split)
    return sorted(set(corpus.transcripts.values()))


def speech_set_pairs(n: int, corpus_dir, seed: int = 0, synthesizers=("espeak-ng",)) -> tuple[list[Path], list[str], str]:
    """(audio paths, sentences, data key) of the offline LibriSpeech stand-in, disjoint from every sentence of
    the face corpus (:func:`corpus_texts`), not only its held-out ones. With several `synthesizers` (issue 26:
    ``("espeak-ng", "festival")``), the same `n` sentences spoken by each, one after the other."""
    paths, texts, keys = [], [], []
    exclude = corpus_texts(corpus_dir)
    for synthesizer in synthesizers:
        root = load_or_build_speech_set(n, seed, exclude_texts=exclude, synthesizer=synthesizer)
        items = load_speech_set(root)
        paths += [u.path for u, _ in items]
        texts += [t for _, t in items]
        keys.append(read_manifest(root)["content_sha256"])
    key = keys[0] if len(keys) == 1 else hashlib.sha256("+".join(keys).encode()).hexdigest()  # espeak-ng alone: as before
    return paths, texts, key


def librispeech_pairs(root, subsets=None) -> tuple[list[Path], list[str], str]:
    """(audio paths, transcripts, data key) of every LibriSpeech utterance under root."""
    utts = read_librispeech(root, subsets)
    key = hashlib.sha256("\n".join(f"{u.id}\t{u.text}" for u in utts).encode()).hexdigest()
    return [u.path for u in utts], [u.text for u in utts], key


def training_pairs(corpus_dir=None, n_speech: int = 2000, seed: int = 0, librispeech_dir=None,
                   synthesizers=("espeak-ng",)):  # fmt: skip
    """(audio paths, sentences, data key) to train on: every LibriSpeech utterance under `librispeech_dir`
    when one is given, else `n_speech` synthesized sentences disjoint from every sentence of `corpus_dir`,
    spoken by each of `synthesizers`."""
    if librispeech_dir:
        return librispeech_pairs(librispeech_dir)
    if corpus_dir is None:
        raise ValueError(
            "training data: give a face corpus (for the synthesized speech set) or a LibriSpeech folder"
        )
    return speech_set_pairs(n_speech, corpus_dir, seed, tuple(synthesizers))


def augmented_features(host, path, recipe, index: int) -> list[np.ndarray]:
    """The host's features of `recipe.augment_copies` perturbed copies of one utterance (a Wav2SemRecipe's
    `augment` preset; copy k of utterance `index` drawn from a generator seeded by (training seed, index, k):
    the same copies on every run). Lite's voice lever: what it trains on besides the clean features."""
    config = AUGMENT_PRESETS[recipe.augment]
    audio = load_audio(path)
    out = []
    for k in range(recipe.augment_copies):
        rng = np.random.default_rng([recipe.train.seed, index, k])
        a = draw_speed(config, rng)
        n = max(1, int(len(audio) / a))
        src = np.pad(audio, (0, max(0, source_samples(n, a) - len(audio))))
        out.append(host.encode(augment(src, config, rng, factor=a, n=n)))
    return out
