"""Near-homophone pairs, mined from a vocabulary.

A pair is two common words whose pronunciations (espeak-ng's own letter-to-sound rules, en-us, the
phonology every corpus voice speaks) differ by exactly one phoneme substitution, where

* the two phonemes fall in **different viseme classes** (the lips must move differently), and
* the two phonemes are **acoustically close**: normalised distance d ≤ `max_distance` in the table
  measured on our own synthesized speech (`phone_distance.py`).

The same miner gives the two control groups the coupling analysis needs: one-phoneme pairs within
the *same* viseme class (`group="same_viseme"`), and one-phoneme pairs across viseme classes whose
phonemes are acoustically *far* apart (`group="far"`, d ≥ `far_distance`).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass
from functools import lru_cache

from w2s.corpus import speech
from w2s.corpus.lexicon import LEXICON
from w2s.corpus.phone_distance import PhonemeDistances, load_or_measure
from w2s.corpus.visemes import viseme_of

GROUPS = ("near", "same_viseme", "far")


@dataclass(frozen=True)
class MiningConfig:
    min_zipf: float = 3.0  # "common": at least ~1 per million words (wordfreq's Zipf scale)
    max_distance: float = 1.0  # near: centroids closer than a typical token is to its own centroid
    far_distance: float = 2.0  # far control: centroids two spreads apart or more


@dataclass(frozen=True)
class Pair:
    word_a: str
    word_b: str
    phonemes_a: tuple[str, ...]
    phonemes_b: tuple[str, ...]
    position: int  # index of the differing phoneme
    phoneme_a: str
    phoneme_b: str
    viseme_a: str
    viseme_b: str
    distance: float  # acoustic distance d(phoneme_a, phoneme_b)
    zipf_a: float
    zipf_b: float
    group: str = "near"

    def to_json(self) -> dict:
        d = asdict(self)
        d["phonemes_a"], d["phonemes_b"] = list(self.phonemes_a), list(self.phonemes_b)
        d["distance"] = round(self.distance, 4)
        return d

    @property
    def words(self) -> tuple[str, str]:
        return self.word_a, self.word_b


def default_vocabulary() -> list[str]:
    """The tagged lexicon: every word in it can be put into sentences by the sentence generator."""

    return sorted(LEXICON)


@lru_cache(maxsize=8)
def _pronunciations(words: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    phones = speech.text_to_phonemes(" ".join(words))
    return {w: tuple(p) for w, p in zip(words, phones) if p}


def mine_pairs(
    group: str = "near",
    words: list[str] | None = None,
    config: MiningConfig = MiningConfig(),
    distances: PhonemeDistances | None = None,
) -> list[Pair]:
    """All pairs of `group` in the vocabulary, sorted by acoustic distance then spelling."""
    from wordfreq import zipf_frequency

    if group not in GROUPS:
        raise ValueError(f"unknown pair group {group!r}; choose one of {GROUPS}")
    words = sorted(set(default_vocabulary() if words is None else words))
    distances = distances or load_or_measure()
    zipf = {w: zipf_frequency(w, "en") for w in words}
    common = tuple(w for w in words if zipf[w] >= config.min_zipf)
    pron = _pronunciations(common)

    # words one substitution apart share a pattern with the differing position blanked out
    buckets: dict[tuple, list[str]] = defaultdict(list)
    for w, ph in pron.items():
        for i in range(len(ph)):
            buckets[(i, ph[:i], ph[i + 1 :])].append(w)

    pairs = []
    for (i, _, _), members in sorted(buckets.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2])):
        for x in range(len(members)):
            for y in range(x + 1, len(members)):
                a, b = sorted((members[x], members[y]))
                pa, pb = pron[a][i], pron[b][i]
                if pa == pb or not (distances.has(pa) and distances.has(pb)):
                    continue
                va, vb = viseme_of(pa), viseme_of(pb)
                d = distances(pa, pb)
                keep = {
                    "near": va != vb and d <= config.max_distance,
                    "same_viseme": va == vb,
                    "far": va != vb and d >= config.far_distance,
                }[group]
                if keep:
                    pairs.append(Pair(a, b, pron[a], pron[b], i, pa, pb, va, vb, d, zipf[a], zipf[b], group))
    unique = {(p.word_a, p.word_b): p for p in pairs}
    return sorted(unique.values(), key=lambda p: (p.distance, p.word_a, p.word_b))


def pair_words(pairs: list[Pair]) -> list[str]:
    return sorted({w for p in pairs for w in p.words})
