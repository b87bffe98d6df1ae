"""The tagged lexicon and the deterministic sentence generator."""

from __future__ import annotations

import re

import pytest

from w2s.corpus import sentences as S
from w2s.corpus.lexicon import CATEGORIES, LEXICON, POS, category_pos, category_words, words_with_pos

WORD_RE = re.compile(r"[A-Za-z]+")


def _tokens(text: str) -> list[str]:
    return WORD_RE.findall(text)


def _check_surface(text: str) -> None:
    assert text[0].isupper(), text
    assert text[-1] in ".!?", text
    assert not re.search(r"\d", text), text
    assert '"' not in text and "  " not in text and " ," not in text and "{" not in text, text
    assert 5 <= len(text.split()) <= 14, text


# ------------------------------------------------------------------------------------------- lexicon
def test_lexicon_size_categories_and_word_form():
    assert 1500 <= len(LEXICON) <= 2500
    assert 25 <= len(CATEGORIES) <= 45
    listed = [w for c in CATEGORIES for w in category_words(c)]
    assert len(listed) == len(set(listed)) == len(LEXICON)  # each word in exactly one category
    for word, entry in LEXICON.items():
        assert entry.word == word
        assert word.isascii() and word.isalpha() and word.islower(), word
        assert entry.category in CATEGORIES and entry.pos == category_pos(entry.category) in POS
    assert all(words_with_pos(p) for p in POS) and sum(len(words_with_pos(p)) for p in POS) == len(LEXICON)
    assert all(len(category_words(c)) >= 15 for c in CATEGORIES)


def test_lexicon_is_dense_in_short_words_across_sounds():
    short = [w for w in LEXICON if len(w) <= 4]
    assert len(short) >= 500
    # word starts and ends spelling every English consonant (th, sh, ch, j, y, w, ng ...)
    for start in ("p", "b", "m", "f", "v", "th", "t", "d", "n", "s", "z", "l", "sh", "ch", "j", "k", "g",
                  "h", "w", "r", "y"):
        assert sum(w.startswith(start) for w in LEXICON) >= 5, start
    for end in ("p", "b", "m", "f", "ve", "th", "t", "d", "n", "ss", "ze", "l", "sh", "ch", "dge", "k", "g",
                "ng"):
        assert sum(w.endswith(end) for w in LEXICON) >= 3, end
    for word in ("fin", "thin", "shin", "pin", "tin", "bin", "map", "nap", "cap", "tap", "bat", "mat", "pat",
                 "rat", "mail", "nail", "sail", "tail", "rice", "dice", "nice"):
        assert word in LEXICON, word


def test_unknown_word_raises_key_error():
    with pytest.raises(KeyError, match="not in the lexicon"):
        S.sentences_for_word("qwzx", 3, seed=0)
    with pytest.raises(KeyError, match="not in the lexicon"):
        S.generate_sentences(["cat", "Cat"], 1, 0, seed=0)
    with pytest.raises(KeyError, match="not in the lexicon"):
        S.max_distinct_sentences(["cats"])  # no inflections either
    with pytest.raises(KeyError):
        category_words("not_a_category")


# ----------------------------------------------------------------------------------------- templates
def test_every_category_has_templates_that_format():
    assert set(S.TEMPLATES) == set(CATEGORIES)
    all_templates = [t for ts in S.TEMPLATES.values() for t in ts]
    assert len(all_templates) == len(set(all_templates))  # no template shared between categories
    for category, templates in S.TEMPLATES.items():
        assert 6 <= len(templates) <= 12, category
        for t in templates:
            assert t.count("{w}") == 1 and not t.startswith("{w}"), t
            assert "{w}'" not in t, t  # the target is never possessive
            assert all(n in S.SLOTS for n in S.template_slots(t)), t
            assert all(m.end() < len(t) and t[m.end()] == " " for m in re.finditer(r"\{a\}", t)), t
            assert S.template_slots(t), f"template without a list slot gives one sentence per word: {t}"
    for t in S.FILLER_TEMPLATES:
        assert "{w}" not in t and all(n in S.SLOTS for n in S.template_slots(t)), t


def test_every_possible_sentence_is_well_formed():
    # exhaustive: every filling of every template, with the longest and the shortest word of the category
    for category, templates in [*S.TEMPLATES.items(), ("filler", S.FILLER_TEMPLATES)]:
        words = sorted(category_words(category), key=len) if category != "filler" else [None]
        for group in S._skeletons(tuple(templates)):
            assert group, category
            for skeleton in group:
                for word in {words[0], words[-1]}:
                    _check_surface(S._finish(skeleton, word))


def test_at_least_20_distinct_sentences_per_word_and_max_is_exact():
    per_category = {c: S.max_distinct_sentences([category_words(c)[0]]) for c in CATEGORIES}
    assert min(per_category.values()) >= 20, per_category
    smallest = min(per_category, key=per_category.get)
    word = category_words(smallest)[-1]
    everything = S.sentences_for_word(word, 10**6, seed=1)
    texts = [s.text for s in everything]
    assert len(texts) == len(set(texts)) == S.max_distinct_sentences([word]) == per_category[smallest]
    assert S.max_distinct_sentences([word, word, "cat"]) == per_category[smallest] + per_category["animal"]
    assert S.max_filler_sentences() >= 300


@pytest.mark.parametrize(
    "word, article",
    [
        ("apple", "an"), ("egg", "an"), ("onion", "an"), ("umbrella", "an"), ("uncle", "an"), ("urn", "an"),
        ("ugly", "an"), ("hour", "an"), ("honest", "an"), ("heir", "an"), ("unkind", "an"), ("Elephant", "an"),
        ("cat", "a"), ("unicorn", "a"), ("unicycle", "a"), ("uniform", "a"), ("user", "a"), ("usual", "a"),
        ("one-way", "a"), ("once", "a"), ("ewe", "a"), ("euro", "a"), ("yellow", "a"), ("house", "a"),
        ("hotel", "a"), ("young", "a"),
    ],
)
def test_indefinite_article(word, article):
    assert S.indefinite_article(word) == article


def test_articles_in_sentences_agree_with_the_next_word():
    texts = [s.text for w in ("umbrella", "unicycle", "urn", "ewe", "actor", "honest", "elderly")
             for s in S.sentences_for_word(w, 60, seed=2)]
    pairs = re.findall(r"\b([Aa]n?) ([a-z]+)", " ".join(texts))
    assert pairs
    for art, nxt in pairs:
        assert art.lower() == S.indefinite_article(nxt), (art, nxt)
    assert any("an umbrella" in t for t in texts) and any("a unicycle" in t for t in texts)
    assert any("an honest person" in t for t in texts) and any("a ewe" in t for t in texts)
    with pytest.raises(ValueError):
        S.indefinite_article("")


# ---------------------------------------------------------------------------------------- generation
def test_sentences_for_word_distinct_and_in_context():
    for word in ("fin", "thin", "map", "nap", "run", "fry", "mail", "nail"):
        sents = S.sentences_for_word(word, 20, seed=0)
        assert len(sents) == 20 == len({s.text for s in sents})
        for s in sents:
            assert s.word == word and s.kind == "word" and s.category == LEXICON[word].category
            assert word in _tokens(s.text), s.text  # as written, its own token, not capitalised
            _check_surface(s.text)
        # spread over the templates, not 20 fillings of one
        assert len({_template_of(s.text, word) for s in sents}) == len(S.TEMPLATES[LEXICON[word].category])
    fin = {re.sub(r"\bfin\b", "#", s.text) for s in S.sentences_for_word("fin", 40, seed=0)}
    thin = {re.sub(r"\bthin\b", "#", s.text) for s in S.sentences_for_word("thin", 40, seed=0)}
    assert not fin & thin  # near-homophones of different categories: different contexts


def _template_of(text: str, word: str) -> str:
    for t in S.TEMPLATES[LEXICON[word].category]:
        pattern = re.escape(t).replace(r"\{w\}", re.escape(word))
        pattern = re.sub(r"\\\{\w+\\\}", ".+?", pattern)
        if re.fullmatch(pattern, text[0].lower() + text[1:]) or re.fullmatch(pattern, text):
            return t
    raise AssertionError(f"no template made {text!r}")


def test_determinism_and_seed_dependence():
    assert S.sentences_for_word("cap", 15, seed=7) == S.sentences_for_word("cap", 15, seed=7)
    assert S.sentences_for_word("cap", 15, seed=7) != S.sentences_for_word("cap", 15, seed=8)
    assert S.filler_sentences(50, seed=7) == S.filler_sentences(50, seed=7)
    assert S.filler_sentences(50, seed=7) != S.filler_sentences(50, seed=8)
    words = ["tap", "cap", "sail", "tail", "thin", "fin", "rice", "nice"]
    a = S.generate_sentences(words, 5, 20, seed=3)
    assert a == S.generate_sentences(reversed(words), 5, 20, seed=3) == S.generate_sentences(set(words), 5, 20, 3)
    assert a != S.generate_sentences(words, 5, 20, seed=4)
    # a word's sentences do not depend on which other words are asked for
    assert [s for s in a if s.word == "fin"] == S.sentences_for_word("fin", 5, seed=3)


def test_generate_over_all_words():
    sents = S.generate_sentences(LEXICON, per_word=2, n_filler=300, seed=0)
    texts = [s.text for s in sents]
    assert len(texts) == len(set(texts)) >= 500
    fillers = [s for s in sents if s.kind == "filler"]
    assert len(fillers) == 300 and all(s.word is None and s.category is None for s in fillers)
    assert [s.kind for s in sents] == ["word"] * (len(sents) - 300) + ["filler"] * 300
    per_word: dict[str, int] = {}
    for s in sents:
        _check_surface(s.text)
        if s.kind == "word":
            assert s.word in _tokens(s.text), s.text
            assert s.category == LEXICON[s.word].category
            per_word[s.word] = per_word.get(s.word, 0) + 1
    assert per_word == dict.fromkeys(LEXICON, 2)


def test_fillers_are_distinct_and_plentiful():
    fillers = S.filler_sentences(300, seed=5)
    assert len({s.text for s in fillers}) == 300
    assert len({_filler_template(s.text) for s in fillers}) == len(S.FILLER_TEMPLATES)
    assert S.filler_sentences(0, seed=5) == [] and S.sentences_for_word("cat", 0, seed=5) == []


def _filler_template(text: str) -> str:
    for t in S.FILLER_TEMPLATES:
        pattern = re.sub(r"\\\{\w+\\\}", ".+?", re.escape(t))
        if re.fullmatch(pattern, text) or re.fullmatch(pattern, text[0].lower() + text[1:]):
            return t
    raise AssertionError(f"no filler template made {text!r}")
