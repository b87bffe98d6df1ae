"""w2s.corpus.demo: a corpus pair said by a corpus speaker, animated the way the builder animates."""

from __future__ import annotations

import json

import numpy as np
import pytest

from w2s.corpus import face
from w2s.corpus.demo import compare_pair, say_word, speaker_head


@pytest.fixture(scope="module")
def demo(smoke_corpus):
    meta = json.loads((smoke_corpus / "corpus.json").read_text())
    pair = next(p for p in json.loads((smoke_corpus / "pairs.json").read_text()) if p["group"] == "near")
    return compare_pair(pair, meta["speakers"][-1], fps=meta["fps"]), meta["speakers"][-1]


def test_compare_pair_shapes_and_timing(demo):
    d, _ = demo
    a, b = d.words
    assert (a.word, b.word) == (d.pair["word_a"], d.pair["word_b"])
    for w in d.words:
        T = len(w.vertices)
        assert w.vertices.shape == (T, len(d.mesh.vertices), 3) and w.aperture_mm.shape == (T,)
        assert T == face.n_frames_for(w.utterance.duration, d.fps)
        assert np.allclose(np.diff(d.times(w)), 1 / d.fps)
        assert 0 <= w.phoneme_frame < T
        assert w.word in w.utterance.text
    sides = d.side_by_side()
    assert list(sides) == [a.word, b.word] and len({len(v) for v in sides.values()}) == 1


def test_the_lips_differ_where_the_sound_hardly_does(demo):
    d, _ = demo
    assert d.lip_difference_mm >= 2.0  # near pairs differ in viseme class: the rig moves the lips >= 2 mm
    # the aperture is measured between the lips: it opens during speech
    assert all(w.aperture_mm.max() > w.aperture_mm[0] for w in d.words)


def test_same_inputs_same_motion(demo):
    d, speaker = demo
    head = speaker_head(speaker)
    again = say_word(d.a.word, speaker, head, d.pair["position"], d.fps)
    np.testing.assert_array_equal(again.vertices, d.a.vertices)
    with pytest.raises(ValueError, match="no phoneme 99"):
        say_word(d.a.word, speaker, head, 99, d.fps)
