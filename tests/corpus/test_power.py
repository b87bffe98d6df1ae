"""The power protocol (issue 22): what a corpus plan gives minimal-pair accuracy to stand on."""

import pytest

from w2s.corpus import build as B
from w2s.corpus.pairs import mine_pairs
from w2s.corpus.power import MIN_TEST_TOKENS, MIN_TRAIN_SENTENCES, protocol_counts, shortfalls


@pytest.fixture(scope="module")
def mined(distances):
    return {g: mine_pairs(g, distances=distances) for g in ("near", "same_viseme", "far")}


def _plan(name, mined):
    spk, pairs, _, plan = B.plan_corpus(B.PRESETS[name], 0, mined)
    return B.PRESETS[name], [s.subject for s in spk], pairs, plan


def test_powered_preset_meets_the_protocol(mined):
    cfg, subjects, pairs, plan = _plan("powered", mined)
    c = protocol_counts(cfg, subjects, pairs, plan)
    assert shortfalls(c) == []
    assert c["splits"]["test"]["pair_word_tokens"] >= MIN_TEST_TOKENS
    assert c["min_train_sentences"] >= MIN_TRAIN_SENTENCES
    # every held-out sentence is new: none of the val/test texts is a training text
    tables = cfg.split_table(subjects)
    texts = {sp: {plan[(s, k)]["text"] for s in subj for k in range(lo, hi + 1)} for sp, (subj, (lo, hi)) in tables.items()}
    assert not texts["train"] & (texts["val"] | texts["test"])
    # both words of every pair in test, and no pair word hogs it
    said = [plan[(s, k)]["word"] for s in tables["test"][0] for k in range(tables["test"][1][0], tables["test"][1][1] + 1)]
    words = [w for p in pairs for w in p.words]
    assert min(said.count(w) for w in words) >= 1


def test_default_preset_falls_short_and_says_where(mined):
    c = protocol_counts(*_plan("default", mined))
    lines = shortfalls(c)
    assert len(lines) == 3
    assert c["splits"]["test"]["pair_word_tokens"] == 40 and c["min_train_sentences"] == 2
    assert any("lack a word" in x for x in lines)
