"""The agreement check over a whole preset: every sentence the builder would speak, and every pair word
spoken alone, against espeak-ng's text-to-phoneme translation (:mod:`w2s.corpus.agreement`).

    report = check_preset("default", seed=0)    # what `w2s corpus check --preset default` prints
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from w2s.corpus import agreement
from w2s.corpus.build import PRESETS, plan_corpus
from w2s.corpus.speech import synthesize


@dataclass
class AgreementReport:
    preset: str
    seed: int
    n_sentences: int = 0
    bad_sentences: int = 0
    n_words: int = 0
    bad_words: int = 0
    found: list[str] = field(default_factory=list)  # "<utterance>: <disagreement>", one per disagreement
    kinds: Counter = field(default_factory=Counter)  # (kind, espeak-ng's phonemes, the segments') -> count

    @property
    def ok(self) -> bool:
        return not (self.bad_sentences or self.bad_words)

    def _add(self, name: str, utt) -> bool:
        wrong = agreement.disagreements(utt)
        for d in wrong:
            self.found.append(f"{name}: {d}")
            self.kinds[(d.kind, " ".join(d.expected), " ".join(d.got))] += 1
        return bool(wrong)

    def summary(self) -> str:
        lines = [f"{self.bad_sentences} of {self.n_sentences} sentences ({self.preset}, seed {self.seed}) and "
                 f"{self.bad_words} of {self.n_words} pair words (alone, default voice) disagree with espeak-ng's "
                 "text-to-phoneme translation"]  # fmt: skip
        lines += [f"  {n:4d}  {kind}: espeak-ng '{exp}', segments '{got}'" for (kind, exp, got), n in self.kinds.most_common()]
        return "\n".join(lines)


def check_preset(preset: str, seed: int = 0) -> AgreementReport:
    """Synthesize what the builder would (same speakers, sentences, voices) and compare each utterance."""
    spk, pairs, controls, plan = plan_corpus(PRESETS[preset], seed)
    by_subject = {s.subject: s for s in spk}
    report = AgreementReport(preset, seed)
    for (subject, k), v in sorted(plan.items()):
        s = by_subject[subject]
        report.n_sentences += 1
        report.bad_sentences += report._add(f"{subject}_sentence{k:02d}", synthesize(v["text"], s.voice, s.rate, s.pitch))
    for w in sorted({w for p in pairs + controls for w in p.words}):
        report.n_words += 1
        report.bad_words += report._add(f"pair word {w!r}", synthesize(w))
    return report
