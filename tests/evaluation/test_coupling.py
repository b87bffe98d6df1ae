import json
import math

import numpy as np
import pytest

from w2s.evaluation.coupling import (
    GROUPS,
    Token,
    abx_error,
    coupling_report,
    decoupling_distance,
    frame_labels,
    pair_distances,
    phoneme_coupling_matrix,
    within_word_spread,
    word_tokens,
)


def tok(word, vec, stem="S1_sentence01", subject=None):
    return Token(word, stem, subject or stem.rsplit("_", 1)[0], np.asarray(vec, dtype=float))


def cluster(word, centre, n, rng, scale=0.01, n_speakers=4):
    """n tokens of `word` around `centre`, spread over speakers S0..S{n_speakers-1}, one utterance each."""
    return [tok(word, centre + scale * rng.standard_normal(len(centre)), f"S{i % n_speakers}_sentence{i:02d}")
            for i in range(n)]  # fmt: skip


# --- word tokens -----------------------------------------------------------------------------


def test_word_tokens_frame_selection_at_span_edges():
    F = np.arange(10, dtype=float)[:, None]  # (T=10, 1): the token value is its mean frame index
    rate = 10.0  # frame centres 0.05, 0.15, ..., 0.95 s
    words = [
        {"word": "Bad,", "start": 0.1, "end": 0.3},  # centres 0.15, 0.25 -> frames 1, 2
        {"word": "bed", "start": 0.05, "end": 0.15},  # start inclusive, end exclusive -> frame 0
        {"word": "tub", "start": 0.31, "end": 0.34},  # no centre inside -> nearest frame (3, at 0.35)
        {"word": "tug", "start": 2.0, "end": 2.5},  # past the end -> last frame
    ]
    ts = word_tokens(F, rate, words, "S1_sentence01", "S1")
    assert [t.word for t in ts] == ["bad", "bed", "tub", "tug"]
    assert [float(t.vector[0]) for t in ts] == [1.5, 0.0, 3.0, 9.0]
    assert all(t.stem == "S1_sentence01" and t.subject == "S1" for t in ts)
    with pytest.raises(ValueError):
        word_tokens(np.zeros(10), rate, words, "S1_sentence01", "S1")


def test_frame_labels_centre_rule_and_gaps():
    phonemes = [{"symbol": "b", "start": 0.0, "end": 0.2}, {"symbol": "ˈæ", "start": 0.2, "end": 0.3},
                {"symbol": "d", "start": 0.5, "end": 0.6}]  # fmt: skip
    lab = frame_labels(8, 10.0, phonemes)  # centres 0.05 ... 0.75
    assert list(lab) == ["b", "b", "æ", "", "", "d", "", ""]


# --- word-level measures ---------------------------------------------------------------------


def test_decoupling_distance_hand_computed():
    tokens = [
        tok("a", [0, 0], "S1_sentence01"), tok("a", [2, 0], "S2_sentence01"),  # μ(a) = (1, 0)
        tok("b", [1, 3], "S1_sentence02"),  # μ(b) = (1, 3): ‖μa − μb‖ = 3
        tok("c", [0, 1], "S1_sentence03"),
        tok("d", [4, 4], "S2_sentence03"),  # ‖(0,1) − (4,4)‖ = 5
    ]  # fmt: skip
    pairs = [{"word_a": "a", "word_b": "b"}, {"word_a": "C", "word_b": "d"}, {"word_a": "a", "word_b": "zzz"}]
    assert decoupling_distance(tokens, pairs) == pytest.approx(4.0)
    pd = pair_distances(tokens, pairs)
    assert pd.distances == pytest.approx([3.0, 5.0])
    assert pd.skipped == [("a", "zzz")]
    assert math.isnan(decoupling_distance(tokens, [("x", "y")]))


def test_within_word_spread_uses_other_utterances_only():
    tokens = [
        tok("a", [0, 0], "S1_sentence01"), tok("a", [2, 0], "S2_sentence01"),
        tok("a", [0, 100], "S1_sentence01"),  # same utterance as the first: only compared with the second
        tok("b", [5, 5], "S1_sentence02"),  # a single token: no spread
    ]  # fmt: skip
    d = np.hypot(2, 100)
    assert within_word_spread(tokens, ["a", "b"]) == pytest.approx((2 + d) / 2)
    assert math.isnan(within_word_spread(tokens, ["b"]))


def test_separated_words_abx_zero_and_large_normalised_distance():
    rng = np.random.default_rng(0)
    A, B = np.zeros(8), np.zeros(8)
    A[0], B[1] = 1.0, 1.0  # orthogonal directions: far apart in L2 and in cosine
    tokens = cluster("a", A, 8, rng) + cluster("b", B, 8, rng)
    for metric in ("cosine", "l2"):
        assert abx_error(tokens, {"word_a": "a", "word_b": "b"}, metric=metric) == 0.0
    ratio = decoupling_distance(tokens, [("a", "b")]) / within_word_spread(tokens, ["a", "b"])
    assert ratio > 20


def test_identical_distributions_abx_half():
    rng = np.random.default_rng(1)
    tokens = cluster("a", np.ones(16), 40, rng, scale=1.0) + cluster("b", np.ones(16), 40, rng, scale=1.0)
    assert abx_error(tokens, ("a", "b")) == pytest.approx(0.5, abs=0.05)
    same = [tok(w, [1.0, 2.0], f"S{i}_sentence{i}") for w in "ab" for i in range(3)]
    assert abx_error(same, ("a", "b"), metric="l2") == 0.5  # every comparison a tie: ½ each


def test_abx_needs_two_tokens_per_word():
    tokens = [tok("a", [1, 0], "S1_sentence01"), tok("a", [1, 0], "S2_sentence01"), tok("b", [0, 1])]
    assert math.isnan(abx_error(tokens, ("a", "b")))
    assert math.isnan(abx_error(tokens, ("a", "missing")))
    with pytest.raises(ValueError):
        abx_error(tokens, ("a", "b"), metric="manhattan")


def test_abx_speaker_confound_and_b_other_speaker():
    # the speaker moves a token far more than the word does; both words read by both speakers
    spk = {"S1": np.array([10.0, 0, 0]), "S2": np.array([0, 10.0, 0])}
    word = {"a": np.array([0, 0, 0.5]), "b": np.array([0, 0, -0.5])}
    tokens = [tok(w, spk[s] + word[w], f"{s}_sentence0{i}", s) for i, (w, s) in
              enumerate([("a", "S1"), ("a", "S2"), ("b", "S1"), ("b", "S2")])]  # fmt: skip
    # A' always comes from the other speaker; a B of A's own speaker is closer: half the triples err
    assert abx_error(tokens, ("a", "b"), metric="l2") == 0.5
    assert abx_error(tokens, ("a", "b"), metric="l2", b_speaker="other") == 0.0


# --- phoneme matrix --------------------------------------------------------------------------


def test_phoneme_coupling_matrix_known_values():
    rate = 10.0
    T = 60
    F = np.zeros((T, 2))
    F[:20, 0] = np.where(np.arange(20) % 2, 1.0, -1.0)  # "a": centroid 0, s² = 1
    F[20:40, 0] = 3.0 + np.where(np.arange(20) % 2, 1.0, -1.0)  # "b": centroid 3, s² = 1
    F[40:, 1] = 7.0
    al = {"phonemes": [{"symbol": "a", "start": 0.0, "end": 2.0}, {"symbol": "b", "start": 2.0, "end": 4.0},
                       {"symbol": "c", "start": 4.0, "end": 5.5}]}  # fmt: skip  # "c": 15 frames < 20
    phonemes, M = phoneme_coupling_matrix([F], rate, [al])
    assert phonemes == ["a", "b"]
    np.testing.assert_allclose(M, [[0, 3], [3, 0]], atol=1e-12)
    # two utterances, list of rates: "c" reaches 30 frames and gets a row
    phonemes, M = phoneme_coupling_matrix([F, F], [rate, rate], [al, al])
    assert phonemes == ["a", "b", "c"]


def test_phoneme_coupling_matrix_symmetric_zero_diagonal_and_subsampling():
    rng = np.random.default_rng(0)
    syms = list("pbmtdk")
    al = {"phonemes": [{"symbol": syms[i % 6], "start": 0.1 * i, "end": 0.1 * (i + 1)} for i in range(300)]}
    F = rng.standard_normal((1500, 5)) + np.repeat(np.arange(300) % 6, 5)[:, None]  # (T, D) at 50 Hz
    phonemes, M = phoneme_coupling_matrix([F], 50.0, [al])
    assert phonemes == sorted(syms)
    assert M.shape == (6, 6)
    np.testing.assert_array_equal(M, M.T)
    assert np.all(np.diag(M) == 0) and np.all(M[~np.eye(6, dtype=bool)] > 0)
    _, M2 = phoneme_coupling_matrix([F], 50.0, [al], max_frames=100, seed=3)  # 250 frames each -> 100
    _, M3 = phoneme_coupling_matrix([F], 50.0, [al], max_frames=100, seed=3)
    np.testing.assert_array_equal(M2, M3)
    np.testing.assert_allclose(M2, M, rtol=0.5)


# --- report ----------------------------------------------------------------------------------


def test_coupling_report_synthetic_groups():
    # near pair: words almost identical; far pair: words well apart. One frame per word, 10 Hz.
    rng = np.random.default_rng(0)
    centre = {"bad": [0, 0, 1.0], "bed": [0, 0.05, 1.0], "beach": [1.0, 0, 0], "birch": [0, 1.0, 0]}
    feats, al = {}, {}
    for i in range(8):
        stem = f"S{i % 4}_sentence{i:02d}"
        ws = list(centre)
        feats[stem] = np.stack([np.array(centre[w]) + 0.1 * rng.standard_normal(3) for w in ws])  # (4, 3)
        al[stem] = {"words": [{"word": w, "start": 0.1 * k, "end": 0.1 * (k + 1)} for k, w in enumerate(ws)],
                    "phonemes": [{"symbol": "x", "start": 0.0, "end": 0.4}]}  # fmt: skip
    pairs = [{"word_a": "bad", "word_b": "bed", "phoneme_a": "æ", "phoneme_b": "ɛ", "group": "near"},
             {"word_a": "beach", "word_b": "birch", "phoneme_a": "iː", "phoneme_b": "ɜː", "group": "far"}]  # fmt: skip
    rep = coupling_report(feats, 10.0, al, pairs)
    json.dumps(rep, allow_nan=False)
    near, far, sv = rep["groups"]["near"], rep["groups"]["far"], rep["groups"]["same_viseme"]
    assert near["n_pairs"] == far["n_pairs"] == 1 and sv["n_pairs"] == 0 and sv["decoupling_distance"] is None
    assert far["normalised_distance"] > 3 * near["normalised_distance"]
    assert far["abx_error"] < 0.05 < near["abx_error"]
    assert near["pairs"][0]["n_a"] == 8
    with pytest.raises(KeyError):
        coupling_report({"S9_sentence01": np.zeros((3, 3))}, 10.0, al, pairs)


def test_coupling_report_on_smoke_corpus_with_mfcc(smoke_corpus):
    import librosa
    import soundfile as sf

    al = json.loads((smoke_corpus / "alignments.json").read_text(encoding="utf-8"))
    pairs = json.loads((smoke_corpus / "pairs.json").read_text(encoding="utf-8"))
    feats = {}
    for stem in sorted(al):
        y, sr = sf.read(smoke_corpus / "wav" / f"{stem}.wav", dtype="float32")
        assert sr == 16000
        feats[stem] = librosa.feature.mfcc(
            y=y, sr=16000, n_mfcc=13, hop_length=320, n_fft=512
        ).T  # (T, 13), 50 Hz
    rep = coupling_report(feats, 50.0, al, pairs)
    json.dumps(rep, allow_nan=False)
    assert set(rep["groups"]) == set(GROUPS)
    for g in GROUPS:
        r = rep["groups"][g]
        assert r["n_pairs"] >= 1, g
        for k in ("decoupling_distance", "within_word_spread", "normalised_distance"):
            assert r[k] is not None and math.isfinite(r[k]) and r[k] > 0, (g, k)
        for p in r["pairs"]:
            if p["n_a"] >= 2 and p["n_b"] >= 2:
                assert 0 <= p["abx"] <= 1 and 0 <= p["abx_b_other_speaker"] <= 1, p
    pm = rep["phoneme_matrix"]
    M = np.array(pm["matrix"])
    assert M.shape == (len(pm["phonemes"]),) * 2 and len(pm["phonemes"]) >= 10
    np.testing.assert_array_equal(M, M.T)
    assert pm["pair_means"]["rest"]["mean"] > 0
