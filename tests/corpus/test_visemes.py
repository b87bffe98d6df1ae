import pytest

from w2s.corpus import speech, visemes
from w2s.corpus.visemes import UnknownPhonemeError, viseme_of

REQUIRED = {
    "bilabial": "p b m",
    "labiodental": "f v",
    "dental": "θ ð",
    "alveolar": "t d n s z l",
    "postalveolar": "ʃ ʒ tʃ dʒ",
    "velar_glottal": "k ɡ ŋ h",
    "w": "w",
    "r": "ɹ r",
    "spread_vowel": "iː ɪ ɛ eɪ",
    "open_vowel": "æ ɑː aɪ aʊ",
    "rounded_vowel": "uː ʊ oʊ ɔː",
    "neutral_vowel": "ə ʌ",
    "silence": "_",
}


@pytest.mark.parametrize("cls", sorted(REQUIRED))
def test_required_separations(cls):
    assert cls in visemes.VISEME_CLASSES
    for p in REQUIRED[cls].split():
        assert viseme_of(p) == cls, p


def test_stress_marks_ignored_and_unknown_is_an_error():
    assert viseme_of("ˈæ") == viseme_of("æ") == "open_vowel"
    with pytest.raises(UnknownPhonemeError, match="no viseme class"):
        viseme_of("ʘ")  # a click: not English, must not silently default
    with pytest.raises(UnknownPhonemeError):
        viseme_of("")


def test_every_symbol_emitted_on_500_generated_sentences_has_a_class():
    from w2s.corpus.lexicon import LEXICON
    from w2s.corpus.sentences import generate_sentences

    sents = generate_sentences(sorted(LEXICON)[::4], per_word=1, n_filler=120, seed=3)
    assert len(sents) >= 500
    voices = list(speech.VOICES)
    seen = set()
    for i, s in enumerate(sents[:500]):
        u = speech.synthesize(s.text, voices[i % len(voices)])
        seen |= {p.symbol for p in u.phonemes}
    missing = sorted(s for s in seen if s not in visemes.PHONEME_TO_VISEME)
    assert not missing, f"emitted phonemes without a viseme class: {missing}"
    assert len(seen) >= 40  # the inventory really was exercised
