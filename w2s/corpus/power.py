"""What a corpus plan gives the minimal-pair measurements to stand on: tokens, coverage and exposures.

Issue 22's power protocol asks that each model's minimal-pair accuracy rest on at least ``MIN_TEST_TOKENS``
test pair-word tokens, that the test split say both words of every pair, and that each pair word be in at
least ``MIN_TRAIN_SENTENCES`` training sentences (the default preset's 2 are too few for any host to learn
even the positive control, ``benchmarks/control_diagnosis.py``).

    counts = protocol_counts(PRESETS["powered"], pairs, plan)   # plan_corpus's pairs and plan
    shortfalls(counts)                                           # [] when the protocol is met
"""

from __future__ import annotations

from collections import Counter

from w2s.corpus.pairs import Pair

MIN_TEST_TOKENS = 200
MIN_TRAIN_SENTENCES = 6


def protocol_counts(preset, subjects: list[str], pairs: list[Pair], plan: dict[tuple[str, int], dict]) -> dict:
    """Per split, the target pair-word tokens and their distinct sentences; the pairs the test split misses;
    the fewest training sentences any pair word has. `subjects` in build order (``plan_corpus``'s speakers).
    Counts target words (one per sentence): the corpus's alignments can only add tokens (a pair word said by
    chance in another sentence)."""
    words = {w for p in pairs for w in p.words}
    out: dict = {"n_pairs": len(pairs), "splits": {}}
    said: dict[str, Counter] = {}
    texts: dict[str, set[str]] = {}
    for split, (members, (lo, hi)) in preset.split_table(subjects).items():
        slots = [plan[(s, k)] for s in members for k in range(lo, hi + 1)]
        texts[split] = {v["text"] for v in slots}
        targets = [v for v in slots if v["word"] in words]
        said[split] = Counter(v["word"] for v in targets)
        out["splits"][split] = {"n_clips": len(slots), "pair_word_tokens": len(targets),
                                "distinct_sentences": len({v["text"] for v in targets})}  # fmt: skip
    train_sentences = {w: len({v["text"] for v in plan.values() if v["word"] == w} & texts["train"]) for w in words}
    out["min_train_sentences"] = min(train_sentences.values(), default=0)
    out["test_pairs_missing_a_word"] = sorted(
        "/".join(p.words) for p in pairs if not all(said.get("test", Counter())[w] for w in p.words)
    )
    return out


def shortfalls(counts: dict) -> list[str]:
    """Where a plan falls short of the power protocol, one line each ([] when it is met)."""
    out = []
    test = counts["splits"].get("test", {}).get("pair_word_tokens", 0)
    if test < MIN_TEST_TOKENS:
        out.append(f"test split: {test} pair-word tokens, fewer than {MIN_TEST_TOKENS}")
    if counts["test_pairs_missing_a_word"]:
        miss = counts["test_pairs_missing_a_word"]
        out.append(f"test split: {len(miss)} of {counts['n_pairs']} pairs lack a word (e.g. {miss[0]})")
    if counts["min_train_sentences"] < MIN_TRAIN_SENTENCES:
        out.append(f"a pair word is in only {counts['min_train_sentences']} training sentences, fewer than "
                   f"{MIN_TRAIN_SENTENCES}")  # fmt: skip
    return out
