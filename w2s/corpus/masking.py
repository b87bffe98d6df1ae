"""The masking dial: the phoneme that tells a near-homophone from its partner, masked in the audio.

Speech perception's phonemic-restoration experiment: replace (or bury in noise) the one phoneme that
decides *bad* vs *bed*, and listeners restore it from context. Here the builder does the same to every
near-pair word a corpus utterance says, at one of :data:`LEVELS`, and leaves the rest of the sentence,
and the lips (the true word's), untouched. At ``full`` the sound cannot decide; only context can.

The masker is **speech-shaped noise**: random-phase noise with the utterance's own magnitude spectrum
(so it has speech's long-term spectrum but no phonetic structure). Its RMS is the masked span's RMS, so
the level is the span's signal-to-noise ratio: ``10db`` and ``0db`` add it at that SNR; ``full`` replaces
the span's samples by it (the loudness contour stays, the phoneme goes). 5 ms raised-cosine ramps join
the span to its neighbours, so no click marks its edges.

    audio, masked = mask_utterance(audio, sr, phonemes, pairs, "full", rng)   # masked: alignments.json records
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from w2s.utils.words import normalise_word

# the dial's settings: the masked span's SNR in dB (None: clean, -inf: replaced)
LEVELS: dict[str, float | None] = {"clean": None, "10db": 10.0, "0db": 0.0, "full": -math.inf}
RAMP_S = 0.005


def distinguishing_phoneme(phonemes: Sequence[dict], word_index: int, own: Sequence[str], pos: int,
                           span: tuple[float, float]) -> int:  # fmt: skip
    """Index into `phonemes` (alignment records: ``symbol``, ``start``, ``end``, ``word_index``) of the phoneme
    of word `word_index` that differs from its partner: the word's phoneme at the pair's `pos` when it is the
    pair's phoneme ``own[pos]`` (espeak-ng may add a linking /ɹ/ after it), else the word's only phoneme with that
    symbol; -1 when neither (the word was not said as the pair has it). Without ``word_index`` the word's
    phonemes are those inside its time `span`."""
    mine = [j for j, p in enumerate(phonemes) if p.get("word_index", -2) == word_index]
    if not mine:
        start, end = span
        mine = [j for j, p in enumerate(phonemes) if p["start"] >= start - 1e-9 and p["end"] <= end + 1e-9]
    said = [phonemes[j]["symbol"] for j in mine]
    if pos < len(said) and said[pos] == own[pos]:
        return mine[pos]
    if said.count(own[pos]) == 1:
        return mine[said.index(own[pos])]
    return -1


def speech_shaped_noise(audio: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """(n,) float64 noise of unit RMS with `audio`'s magnitude spectrum and random phases."""
    size = max(len(audio), n)
    mag = np.abs(np.fft.rfft(audio.astype(np.float64), size))
    phase = rng.uniform(0.0, 2 * math.pi, len(mag))
    noise = np.fft.irfft(mag * np.exp(1j * phase), size)
    start = int(rng.integers(0, size - n + 1))
    seg = noise[start : start + n]
    rms = float(np.sqrt(np.mean(seg**2))) if n else 0.0
    return seg / rms if rms > 0 else seg


def mask_span(audio: np.ndarray, sr: int, start: float, end: float, level: str, rng: np.random.Generator) -> np.ndarray:
    """A copy of `audio` with [start, end) s masked at `level` (module docstring); `audio` unchanged."""
    if level not in LEVELS:
        raise ValueError(f"unknown masking level {level!r}; choose one of {', '.join(LEVELS)}")
    out = audio.astype(np.float64, copy=True)
    snr = LEVELS[level]
    i0, i1 = max(0, round(start * sr)), min(len(audio), round(end * sr))
    if snr is None or i1 <= i0:
        return out.astype(audio.dtype)
    seg = out[i0:i1]
    noise = speech_shaped_noise(audio, i1 - i0, rng) * float(np.sqrt(np.mean(seg**2)))
    masked = noise if snr == -math.inf else seg + noise * 10 ** (-snr / 20)
    ramp = np.ones(i1 - i0)
    k = min(round(RAMP_S * sr), (i1 - i0) // 2)
    if k:
        up = 0.5 - 0.5 * np.cos(np.linspace(0, math.pi, k))
        ramp[:k], ramp[-k:] = up, up[::-1]
    out[i0:i1] = ramp * masked + (1 - ramp) * seg
    return out.astype(audio.dtype)


def mask_utterance(audio: np.ndarray, sr: int, phonemes: Sequence[dict], words: Sequence[dict],
                   pairs: Sequence, level: str, rng: np.random.Generator) -> tuple[np.ndarray, list[dict]]:  # fmt: skip
    """`audio` with the distinguishing phoneme of every pair word said masked at `level`, and one record per
    masked phoneme for alignments.json (``word_index``, ``word``, ``phoneme_index``, ``symbol``, ``start``,
    ``end``, ``level``). `pairs`: :class:`w2s.corpus.pairs.Pair` objects; `words`: alignment word records."""
    by_word = {}
    for p in pairs:
        by_word[normalise_word(p.word_a)] = (p.phonemes_a, p.position)
        by_word[normalise_word(p.word_b)] = (p.phonemes_b, p.position)
    records = []
    for wi, w in enumerate(words):
        hit = by_word.get(normalise_word(w["word"]))
        if hit is None:
            continue
        j = distinguishing_phoneme(phonemes, wi, hit[0], hit[1], (float(w["start"]), float(w["end"])))
        if j < 0:
            continue
        ph = phonemes[j]
        audio = mask_span(audio, sr, float(ph["start"]), float(ph["end"]), level, rng)
        records.append({"word_index": wi, "word": normalise_word(w["word"]), "phoneme_index": j, "symbol": ph["symbol"],
                        "start": float(ph["start"]), "end": float(ph["end"]), "level": level})  # fmt: skip
    return audio, records
