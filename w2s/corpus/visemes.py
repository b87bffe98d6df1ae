"""Phoneme → viseme class: which lip/jaw shape a phoneme asks for.

Covers every IPA symbol espeak-ng's en-us voices emit (checked on the sentence generator's output in
tests/test_visemes.py) plus the usual English IPA spellings of them. An unknown symbol is an error,
never a silent default: a new symbol must be classified here on purpose.

Classes follow the usual articulatory grouping (place of articulation for consonants, lip shape for
vowels). Multi-part symbols (diphthongs, r-coloured vowels) take the class of their nucleus, the part
that holds longest.
"""

from __future__ import annotations

VISEME_CLASSES: tuple[str, ...] = (
    "silence",
    "bilabial",  # p b m: lips closed
    "labiodental",  # f v: lower lip under upper teeth
    "dental",  # θ ð: tongue between slightly parted lips
    "alveolar",  # t d n s z l: jaw nearly closed, lips neutral
    "postalveolar",  # ʃ ʒ tʃ dʒ: lips pushed out, slightly rounded
    "velar_glottal",  # k g ŋ h ʔ: lips follow neighbours, jaw mid
    "w",  # w: tight rounding and protrusion
    "r",  # ɹ and r-coloured vowels: slight rounding
    "spread_vowel",  # i ɪ e ɛ j: lips spread
    "open_vowel",  # æ ɑ a and diphthongs starting open: jaw wide open
    "rounded_vowel",  # u ʊ o ɔ: rounded, protruded
    "neutral_vowel",  # ə ʌ ɐ: relaxed, mid-open
)

SILENCE = "_"  # the symbol we use for pauses between words

_TABLE: dict[str, tuple[str, ...]] = {
    "silence": (SILENCE,),
    "bilabial": ("p", "b", "m", "m̩"),
    "labiodental": ("f", "v"),
    "dental": ("θ", "ð"),
    "alveolar": ("t", "d", "n", "s", "z", "l", "ɾ", "n̩", "l̩", "əl", "ɫ", "ɬ"),
    "postalveolar": ("ʃ", "ʒ", "tʃ", "dʒ", "t͡ʃ", "d͡ʒ"),
    "velar_glottal": ("k", "ɡ", "g", "ŋ", "h", "ʔ", "x", "ç"),
    "w": ("w", "ʍ"),
    "r": ("ɹ", "r", "ɚ", "ɜː", "ɜ", "ɝ", "ɜːɹ"),
    "spread_vowel": ("iː", "i", "ɪ", "ᵻ", "eɪ", "e", "ɛ", "j", "iə", "ɪɹ", "ɪə", "ɛɹ", "eə", "ɛə"),
    "open_vowel": ("æ", "ɑː", "ɑ", "a", "aɪ", "aʊ", "ɑːɹ", "aɪɚ", "aɪə", "aɪʊɹ", "aʊɚ", "aʊə", "ɒ", "ɑɹ"),
    "rounded_vowel": ("uː", "u", "ʊ", "oʊ", "o", "oː", "əʊ", "ɔː", "ɔ", "ɔɪ", "ɔːɹ", "ʊɹ", "ʊə", "ɔɹ", "oːɹ", "ɵ"),
    "neutral_vowel": ("ə", "ʌ", "ɐ"),
}

PHONEME_TO_VISEME: dict[str, str] = {p: cls for cls, phones in _TABLE.items() for p in phones}
assert len(PHONEME_TO_VISEME) == sum(len(v) for v in _TABLE.values()), "a phoneme is listed twice"

CONSONANT_CLASSES = frozenset(
    {"bilabial", "labiodental", "dental", "alveolar", "postalveolar", "velar_glottal", "w", "r"}
)


class UnknownPhonemeError(KeyError):
    def __str__(self) -> str:  # KeyError quotes its message; say it plainly
        return self.args[0]


def viseme_of(symbol: str) -> str:
    """Viseme class of a phoneme symbol (stress marks allowed). Raises UnknownPhonemeError."""
    s = symbol.lstrip("ˈˌ")
    try:
        return PHONEME_TO_VISEME[s]
    except KeyError:
        raise UnknownPhonemeError(
            f"phoneme {symbol!r} has no viseme class; add it to w2s/corpus/visemes.py"
        ) from None



def is_vowel(symbol: str) -> bool:
    return viseme_of(symbol).endswith("_vowel") and symbol.lstrip("ˈˌ") != "j"
