"""Where a syllable-final /l/ sits inside the vowel before it: the measurement behind speech.ENDING_SHARE.

espeak-ng speaks a dark /l/ after a vowel and before a consonant or pause (its phoneme ``l/2``) as an
*ending* of that vowel: the vowel's formant sequence gets the ending ``l/L2_*L`` appended, and ``l/2``
itself has no frames, so its PHONEME event has zero length and the /l/ sound is the last part of the
vowel's span (phsource/phonemes and ph_english in espeak-ng). This module finds that part in the
audio: inside the vowel+/l/ span it compares every 5 ms frame's log-mel spectrum with an /l/
reference (the mean of the span's last 15 %, the steady dark /l/) and a vowel reference (the mean of
the fifth of the other frames least like it), and puts the boundary after the last frame that is
still closer to the vowel, i.e. at the middle of the formant transition, the usual place for a
vowel–liquid boundary.

    python -m w2s.corpus.ending_share     # every lexicon word with a vowel + /l/ before no vowel

prints the /l/'s share of the span, overall and per vowel (see speech.ENDING_SHARE for the numbers).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np

from w2s.corpus import speech
from w2s.corpus.lexicon import LEXICON
from w2s.corpus.visemes import is_vowel

HOP = 80  # samples, 5 ms at 16 kHz
L_TAIL = 0.15  # the span's last 15 % is the steady /l/
QUIET_DB = 25.0  # frames this far below the span's loudest are the silence or closure after the /l/


@dataclass(frozen=True)
class Token:
    word: str
    context: str  # the spoken text
    voice: str
    rate: int
    vowel: str
    start: float  # vowel+/l/ span, seconds
    end: float
    share: float  # measured /l/ share of the span


def _logmel(audio: np.ndarray) -> np.ndarray:
    import librosa

    mel = librosa.feature.melspectrogram(
        y=audio, sr=speech.SAMPLE_RATE, n_fft=512, win_length=400, hop_length=HOP, n_mels=40, center=True
    )
    return np.log(mel + 1e-8).T  # (frames, 40), frame k centred at k * HOP


def l_share(audio: np.ndarray, start: float, end: float) -> float:
    """Measured share of the span [start, end] (a vowel followed by its /l/ ending) that is the /l/."""
    f = _logmel(audio)
    a, b = int(round(start * speech.SAMPLE_RATE / HOP)), int(round(end * speech.SAMPLE_RATE / HOP))
    span = f[a : min(b, len(f))]
    db = 10 / np.log(10) * np.log(np.exp(span).sum(1))
    n = int(np.flatnonzero(db > db.max() - QUIET_DB)[-1]) + 1  # the sound, not the silence or closure after it
    if n < 8:
        raise ValueError(f"span {start:.3f}-{end:.3f} s is too short to measure")
    span, tail = span[:n], max(2, round(L_TAIL * n))
    l_ref = span[-tail:].mean(0)
    d_l = np.linalg.norm(span - l_ref, axis=1)
    head = d_l[: n - tail]
    v_ref = span[: n - tail][head >= np.quantile(head, 0.8)].mean(0)  # the fifth of the rest most unlike /l/
    closer_to_vowel = np.flatnonzero(np.linalg.norm(span - v_ref, axis=1) < d_l)
    boundary = closer_to_vowel[-1] + 1 if len(closer_to_vowel) else 0
    return (b - a - boundary) / (b - a)


def dark_l_words() -> list[str]:
    """Lexicon words with a vowel + /l/ not followed by a vowel ("coal", "film", "always")."""
    words = sorted(LEXICON)
    pron = dict(zip(words, speech.text_to_phonemes(" ".join(words))))
    return [
        w for w, ph in pron.items()
        if any(ph[i] == "l" and is_vowel(ph[i - 1]) and not (i + 1 < len(ph) and is_vowel(ph[i + 1])) for i in range(1, len(ph)))
    ]  # fmt: skip


def measure(
    words: list[str] | None = None,
    voices: tuple[str, ...] = ("us-m1", "us-f3", "us-m4", "us-klatt"),
    rates: tuple[int, ...] = (150, 175, 195),
) -> list[Token]:
    """Speak each word alone ("coal.") and at the end of a phrase ("the coal"); wherever espeak-ng
    made an /l/ the ending of the vowel before it (a zero-length event, now `estimated`), measure the
    /l/'s share of the vowel+/l/ span."""
    out = []
    for i, w in enumerate(dark_l_words() if words is None else words):
        rate = rates[i % len(rates)]
        for voice in voices:
            for text, wi in ((f"{w}.", 0), (f"the {w}", 1)):
                u = speech.synthesize(text, voice, rate)
                ph = [p for p in u.phonemes if p.word_index == wi]
                for v, l_ in zip(ph, ph[1:]):
                    if l_.symbol == "l" and l_.estimated and is_vowel(v.symbol):
                        share = l_share(u.audio, v.start, l_.end)
                        out.append(Token(w, text, voice, rate, v.symbol, v.start, l_.end, share))
    return out


def summary(tokens: list[Token]) -> str:
    def line(name, x):
        q1, med, q3 = np.percentile(x, [25, 50, 75])
        return f"{name:8s} n={len(x):4d}  median {med:.3f}  IQR [{q1:.3f}, {q3:.3f}]  mean {np.mean(x):.3f}"

    shares = np.array([t.share for t in tokens])
    lines = [line("all", shares)]
    for v in sorted({t.vowel for t in tokens}, key=lambda v: -sum(t.vowel == v for t in tokens)):
        lines.append(line(v, np.array([t.share for t in tokens if t.vowel == v])))
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover - a measurement, run by hand
    print(summary(measure(sys.argv[1:] or None)))
