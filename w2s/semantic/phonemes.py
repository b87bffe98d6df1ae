"""Phoneme sequences of training sentences: the targets of Wav2Sem's optional auxiliary CTC loss.

    seqs = phoneme_sequences(texts)            # [["ð", "ə", "ʃ", "ɑːɹ", "k", ...], ...], cached on disk
    vocab = PhonemeVocab.from_sequences(seqs)  # blank = 0, phonemes 1..K in sorted order
    ids = vocab.encode(seqs[0])                # [int, ...]

The sequence is what espeak-ng's text-to-phoneme translation says a text is spoken as
(:func:`w2s.corpus.speech.spoken_phonemes`, stress removed): exactly what the offline speech set's
synthesizer said (every stand-in voice is en-us), and a grapheme-to-phoneme transcription for real
speech such as LibriSpeech, the usual way CTC phoneme targets are made when no lexicon is at hand.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from w2s.corpus.speech import spoken_phonemes
from w2s.utils.io import write_json
from w2s.utils.paths import cache_dir

PHONEMES_VERSION = 1  # bump when how a text becomes phonemes changes (keys the cache)
BLANK = 0


def phoneme_sequences(texts: list[str], cache_folder=None) -> list[list[str]]:
    """One IPA phoneme list per text (espeak-ng, en-us), read from a JSON cache keyed by the texts."""
    key = hashlib.sha256(json.dumps([PHONEMES_VERSION, list(texts)]).encode()).hexdigest()[:16]
    path = Path(cache_folder or cache_dir("semantic")) / f"phonemes-{key}.json"
    if path.is_file():
        try:
            seqs = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(seqs, list) and len(seqs) == len(texts):
                return seqs
        except json.JSONDecodeError:
            pass  # a broken cache file is recomputed and replaced
    seqs = [spoken_phonemes(t) for t in texts]
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json(path, seqs, indent=None)
    return seqs


@dataclass(frozen=True)
class PhonemeVocab:
    symbols: tuple[str, ...]  # index i + 1 is symbols[i]; 0 is CTC's blank

    @classmethod
    def from_sequences(cls, seqs) -> PhonemeVocab:
        return cls(tuple(sorted({p for s in seqs for p in s})))

    @property
    def size(self) -> int:
        """Classes of the CTC head: the phonemes and the blank."""
        return len(self.symbols) + 1

    def encode(self, seq: list[str]) -> list[int]:
        index = {p: i + 1 for i, p in enumerate(self.symbols)}
        unknown = sorted({p for p in seq if p not in index})
        if unknown:
            raise ValueError(f"phonemes not in the vocabulary: {unknown}")
        return [index[p] for p in seq]
