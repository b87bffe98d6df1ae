"""Minimal-pair lip accuracy on the smoke corpus: the ground truth scores 1, the counterfactual 0, their
average 0.5 (a tie counts half); the counterfactual is the rig's face with the partner's phoneme."""

from __future__ import annotations

import json

import numpy as np
import pytest

from w2s.data.corpus import Corpus
from w2s.data.spec import DatasetError
from w2s.evaluation.minimal_pairs import (
    CorpusRig,
    corpus_counterfactuals,
    counterfactuals,
    evaluate_minimal_pairs,
    find_swaps,
    minimal_pair_accuracy,
    substitute,
)


@pytest.fixture(scope="module")
def test_split(smoke_corpus):
    corpus = Corpus(smoke_corpus)
    ds = corpus.dataset("test")
    gts = [ds.load_vertices(i) for i in range(len(ds))]
    return corpus, ds.stems, gts, corpus_counterfactuals(corpus, ds.stems, "test")


def _counterfactual_sequences(gts, cfs, lips) -> list[np.ndarray]:
    """The ground truth with each word's lips replaced by its counterfactual's."""
    out = []
    for g, items in zip(gts, cfs):
        s = g.astype(np.float64).copy()
        for cf in items:
            s[np.ix_(cf.frames, lips)] = cf.lips
        out.append(s)
    return out


def test_truth_scores_one_the_average_half_the_counterfactual_zero(test_split):
    corpus, stems, gts, cfs = test_split
    n_said = sum(len(find_swaps(corpus.alignments[s], corpus.pairs("near"))) for s in stems)
    truth = minimal_pair_accuracy(gts, gts, cfs, corpus.lips)
    assert n_said > 0 and truth["n_words"] == n_said and truth["n_excluded"] == 0
    assert truth["accuracy"] == 1.0

    other = _counterfactual_sequences(gts, cfs, corpus.lips)
    assert minimal_pair_accuracy(other, gts, cfs, corpus.lips)["accuracy"] == 0.0
    for dtype in (np.float64, np.float32):  # a float32 prediction of the midpoint still ties
        mid = [((g + o) / 2).astype(dtype) for g, o in zip(gts, other)]
        r = minimal_pair_accuracy(mid, gts, cfs, corpus.lips)
        assert r["accuracy"] == 0.5 and r["n_ties"] == r["n_words"] == n_said
    # a step from the midpoint toward either word decides it
    near_truth = [(0.45 * g + 0.55 * o.astype(np.float64)) for g, o in zip(gts, other)]
    assert minimal_pair_accuracy(near_truth, gts, cfs, corpus.lips)["accuracy"] == 0.0
    assert evaluate_minimal_pairs(corpus, gts, "test")["accuracy"] == 1.0


def test_the_counterfactual_is_the_rig_with_the_partner_phoneme(test_split):
    corpus, stems, gts, cfs = test_split
    rig = CorpusRig(corpus)
    partners = {p["word_a"]: p["word_b"] for p in corpus.pairs("near")}
    partners.update({b: a for a, b in partners.items()})
    for stem, g, items in zip(stems, gts, cfs):
        al = corpus.alignments[stem]
        np.testing.assert_array_equal(rig(stem, al["phonemes"], len(g)), g)  # the builder's own face
        for cf in items:
            sw = cf.swap
            assert (
                sw.partner == partners[sw.word] and al["phonemes"][sw.phoneme_index]["symbol"] == sw.phoneme
            )
            swapped = substitute(al, sw)
            assert [p["symbol"] for p in swapped].count(sw.partner_phoneme) >= 1
            assert [p["start"] for p in swapped] == [p["start"] for p in al["phonemes"]]  # same timings
            face = rig(stem, swapped, len(g))[np.ix_(cf.frames, corpus.lips)]
            np.testing.assert_allclose(cf.lips, face, atol=1e-7)
            assert np.linalg.norm(cf.lips - g[np.ix_(cf.frames, corpus.lips)], axis=-1).max() > 1e-3  # > 1 mm
            t = cf.frames / corpus.fps
            assert len(cf.frames) and (t >= sw.start).all() and (t < sw.end).all()


def test_words_not_said_as_the_pair_are_recorded_not_scored(test_split):
    corpus, stems, gts, _ = test_split
    al = json.loads(json.dumps(corpus.alignments[stems[0]]))
    sw = find_swaps(al, corpus.pairs("near"))[0]
    al["phonemes"][sw.phoneme_index]["symbol"] = "ʒ"  # no longer the pair's pronunciation
    cfs = counterfactuals(
        stems[:1], [al], gts[:1], corpus.pairs("near"), corpus.lips, corpus.fps, CorpusRig(corpus)
    )
    r = minimal_pair_accuracy(gts[:1], gts[:1], cfs, corpus.lips)
    assert r["n_words"] == 0 and r["n_excluded"] == 1 and np.isnan(r["accuracy"])
    assert "pronunciation" in r["words"][0]["excluded"] and r["words"][0]["word"] == sw.word


def test_bad_input_names_the_problem(test_split, tmp_path):
    corpus, stems, gts, cfs = test_split
    with pytest.raises(ValueError, match="one of each per clip"):
        minimal_pair_accuracy(gts[:-1], gts, cfs, corpus.lips)
    nan = [g.copy() for g in gts]
    nan[0][0, 0, 0] = np.nan
    with pytest.raises(ValueError, match=r"preds\[0\].*NaN"):
        minimal_pair_accuracy(nan, gts, cfs, corpus.lips)
    with pytest.raises(ValueError, match="vertices"):
        minimal_pair_accuracy([g[:, :-1] for g in gts], gts, cfs, corpus.lips)
    with pytest.raises(ValueError, match="predicted sequences for the"):
        evaluate_minimal_pairs(corpus, gts[:1], "test")
    with pytest.raises(DatasetError, match="corpus.json"):
        corpus_counterfactuals(tmp_path)


def test_decoder_eval_reports_it(smoke_corpus, tmp_path, capsys, one_torch_thread):
    from w2s.cli import main
    from w2s.decoders.training import DecoderRecipe, train_decoder

    train_decoder(DecoderRecipe("reference", encoder="mfcc", max_steps=2), smoke_corpus, tmp_path / "m")
    assert main(["decoder", "eval", "--model", str(tmp_path / "m"), "--condition", "0"]) == 0
    line = [x for x in capsys.readouterr().out.splitlines() if x.startswith("minimal-pair lip accuracy")]
    res = json.loads((tmp_path / "m" / "eval-test.json").read_text())
    m, words = res["metrics"], res["minimal_pair_words"]
    assert m["minimal_pair_n_words"] == len(words) > 0 and 0.0 <= m["minimal_pair_accuracy"] <= 1.0
    assert m["minimal_pair_accuracy"] == pytest.approx(np.mean([w["score"] for w in words]))
    assert 0.0 <= res["baseline"]["minimal_pair_accuracy"] <= 1.0
    assert len(line) == 1 and f"{m['minimal_pair_accuracy']:.3f}" in line[0]
