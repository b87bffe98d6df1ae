"""Deterministic English sentences that put each lexicon word into a context fitting its meaning.

Every category of `lexicon.py` has 6-9 templates. A template holds the target slot ``{w}`` once,
other slots (``{name}``, ``{place}``, ``{time}``, ...) filled from the small lists in `SLOTS`, and
``{a}``, which becomes "a" or "an" for the word that follows it (`indefinite_article`). The context
carries the category's meaning -- animals hide and eat, food is bought and smelled, tools are
borrowed, motion verbs are done somewhere -- so two near-homophones of different categories land
in semantically different sentences ("Look closely at the fin in this photo, Tom." vs "The thin man
waited by the door last night.").

The target word appears exactly as in the lexicon, as its own token (nouns singular, verbs in the
base form, never at the start of a sentence, never inflected or possessive).

Determinism: all choices come from `random.Random` seeded with a string built from the seed and the
word (string seeds are hashed with SHA-512 by `random`, not with the salted `hash()`); nothing depends
on set order. The same arguments give the same list in any process; a different seed gives a
different selection and order.
"""

from __future__ import annotations

import itertools
import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache

from w2s.corpus.lexicon import LEXICON
from w2s.corpus.sentence_slots import SLOTS
from w2s.corpus.sentence_templates import FILLER_TEMPLATES, TEMPLATES

_SLOT_RE = re.compile(r"\{(\w+)\}")
_ARTICLE_RE = re.compile(r"\{a\} ([A-Za-z][\w'-]*)")
_AN_PREFIXES = ("hour", "honest", "honor", "honour", "heir")  # silent h: an hour, an honest
_A_PREFIXES = ("eu", "ewe", "uni", "ubiq", "uku")  # vowel letter, "y"/"w" sound: a euro, a ewe, a unit
_NOT_A_PREFIXES = ("unid", "unim", "unin")  # un- + i...: an unidentified, an unimportant, an uninvited
_VOWELS = "aeiou"


def indefinite_article(word: str) -> str:
    """The indefinite article for `word`, chosen by its sound: an apple, an hour, an honest, a unicorn,
    a user, a ewe, a one-way, an umbrella, an uncle, a yellow."""
    w = word.strip().lower()
    if not w or not w[0].isalpha():
        raise ValueError(f"need a word that starts with a letter, got {word!r}")
    head = re.split(r"[^a-z]", w)[0]  # one-way -> one
    if head.startswith(_AN_PREFIXES):
        return "an"
    if head in ("one", "once") or (head.startswith(_A_PREFIXES) and not head.startswith(_NOT_A_PREFIXES)):
        return "a"
    if head[0] == "u" and not head.startswith("un"):
        # u + one consonant + vowel is usually a "you" sound: user, usual, utensil, urine, unit;
        # otherwise a plain vowel: umbrella, ugly, urn, usher, udder
        return "a" if len(head) >= 3 and head[1] not in _VOWELS and head[2] in _VOWELS else "an"
    return "an" if head[0] in _VOWELS else "a"


@dataclass(frozen=True)
class Sentence:
    text: str
    word: str | None  # the target word placed in it (None for fillers)
    category: str | None
    kind: str  # "word" or "filler"


def template_slots(template: str) -> list[str]:
    """Names of the list slots in a template, in order (not the target ``w`` nor the article ``a``)."""
    names = []
    for name in _SLOT_RE.findall(template):
        if name not in ("w", "a") and name not in names:
            names.append(name)
    return names


@cache
def _skeletons(templates: tuple[str, ...]) -> tuple[tuple[str, ...], ...]:
    """Per template, every distinct filling of its list slots; ``{w}`` and ``{a}`` are left in place.

    Skeletons are deduplicated across the templates of a group (first occurrence kept), so the
    groups together hold distinct strings.
    """
    seen: set[str] = set()
    groups = []
    for template in templates:
        names = template_slots(template)
        group = []
        for combo in itertools.product(*(SLOTS[n] for n in names)):
            values = dict(zip(names, combo, strict=True))
            text = _SLOT_RE.sub(lambda m, v=values: v.get(m.group(1), m.group(0)), template)
            if text not in seen:
                seen.add(text)
                group.append(text)
        groups.append(tuple(group))
    return tuple(groups)


def _finish(skeleton: str, word: str | None) -> str:
    text = skeleton if word is None else skeleton.replace("{w}", word)
    text = _ARTICLE_RE.sub(lambda m: f"{indefinite_article(m.group(1))} {m.group(1)}", text)
    return text[0].upper() + text[1:]


def _pick(groups: Sequence[Sequence[str]], n: int, rng: random.Random) -> list[str]:
    """Up to `n` skeletons, spread over the templates: round-robin over a shuffled template order,
    each template contributing its own random sample."""
    order = list(range(len(groups)))
    rng.shuffle(order)
    pools = [rng.sample(groups[i], min(n, len(groups[i]))) for i in order]
    out: list[str] = []
    for k in range(max((len(p) for p in pools), default=0)):
        for pool in pools:
            if k < len(pool):
                out.append(pool[k])
                if len(out) == n:
                    return out
    return out


def _entry(word: str):
    try:
        return LEXICON[word]
    except KeyError:
        raise KeyError(
            f"{word!r} is not in the lexicon (w2s.corpus.lexicon.LEXICON, {len(LEXICON)} words); "
            "only lexicon words have sentence templates"
        ) from None


def sentences_for_word(word: str, n: int, seed: int) -> list[Sentence]:
    """`n` distinct sentences containing `word` in a context that fits its category.

    Fewer than `n` only when the word's templates cannot make that many (`max_distinct_sentences`).
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    entry = _entry(word)
    rng = random.Random(f"w2s.sentences|{seed}|{word}")
    out, seen = [], set()
    for skeleton in _pick(_skeletons(TEMPLATES[entry.category]), n, rng):
        text = _finish(skeleton, word)
        if text not in seen:
            seen.add(text)
            out.append(Sentence(text, word, entry.category, "word"))
    return out


def filler_sentences(n: int, seed: int) -> list[Sentence]:
    """`n` distinct filler sentences (fewer only if the filler templates cannot make that many)."""
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    rng = random.Random(f"w2s.fillers|{seed}")
    return [Sentence(_finish(s, None), None, None, "filler") for s in _pick(_skeletons(FILLER_TEMPLATES), n, rng)]


def generate_sentences(words: Iterable[str], per_word: int, n_filler: int, seed: int) -> list[Sentence]:
    """Sentences for every word (`per_word` each) followed by `n_filler` fillers, without duplicates.

    Words are taken in sorted order (so a set gives the same result in every process), each word's
    sentences in the order `sentences_for_word` returns them, then the fillers.
    """
    out: list[Sentence] = []
    seen: set[str] = set()
    batches = [sentences_for_word(w, per_word, seed) for w in sorted(set(words))]
    batches.append(filler_sentences(n_filler, seed))
    for batch in batches:
        for s in batch:
            if s.text not in seen:
                seen.add(s.text)
                out.append(s)
    return out


def max_distinct_sentences(words: Iterable[str]) -> int:
    """How many distinct sentences the templates can make for these words, all together."""
    return sum(sum(len(g) for g in _skeletons(TEMPLATES[_entry(w).category])) for w in set(words))


def max_filler_sentences() -> int:
    return sum(len(g) for g in _skeletons(FILLER_TEMPLATES))

