"""Do an utterance's phoneme segments say what espeak-ng says the text is?

The corpus's ground truth (alignments, lips) is made from the PHONEME events of synthesis. The
reference is espeak-ng's own text-to-phoneme translation of the same text and voice
(`speech.spoken_phonemes`): both must list the same phonemes in the same order, stress aside. A
phoneme lost from the events (as every syllable-final /l/ was while zero-length events were
skipped) shows up here as a disagreement, and the corpus builder refuses such an utterance.
"""

from __future__ import annotations

from dataclasses import dataclass
from difflib import SequenceMatcher

from w2s.corpus import speech


@dataclass(frozen=True)
class Disagreement:
    kind: str  # "missing" (translated, not in the segments), "extra" (the other way round), "changed"
    expected: tuple[str, ...]  # espeak-ng's translation there
    got: tuple[str, ...]  # the segments there
    before: tuple[str, ...]  # up to three translated phonemes before the place, for the reader

    def __str__(self) -> str:
        where = f"after '{' '.join(self.before)}'" if self.before else "at the start"
        if self.kind == "missing":
            return f"missing '{' '.join(self.expected)}' {where}"
        if self.kind == "extra":
            return f"extra '{' '.join(self.got)}' {where}"
        return f"'{' '.join(self.got)}' instead of '{' '.join(self.expected)}' {where}"


def compare(expected: list[str], got: list[str]) -> list[Disagreement]:
    """Where two phoneme sequences differ (empty list: they agree)."""
    out = []
    ops = SequenceMatcher(a=expected, b=got, autojunk=False).get_opcodes()
    for op, a0, a1, b0, b1 in ops:
        if op != "equal":
            kind = {"delete": "missing", "insert": "extra", "replace": "changed"}[op]
            out.append(Disagreement(kind, tuple(expected[a0:a1]), tuple(got[b0:b1]), tuple(expected[max(0, a0 - 3) : a0])))
    return out


def disagreements(utt: speech.Utterance) -> list[Disagreement]:
    """How `utt`'s phoneme segments differ from espeak-ng's translation of its text with its voice."""
    return compare(speech.spoken_phonemes(utt.text, utt.voice), [p.symbol for p in utt.phonemes])


def describe(utt: speech.Utterance, found: list[Disagreement]) -> str:
    return (
        f"the phonemes of {utt.text!r} (voice {utt.voice}, rate {utt.rate}) disagree with espeak-ng's "
        f"text-to-phoneme translation: {'; '.join(map(str, found))}"
    )
