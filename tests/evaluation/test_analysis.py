"""w2s.evaluation.analysis: `w2s coupling` end to end on a smoke corpus (tiny HuBERT with the seconds-long
smoke recipe), and the helpers notebooks 01 and 02 call."""

import json

import numpy as np
import pytest

from w2s.cli import main
from w2s.corpus.pairs import GROUPS
from w2s.data.corpus import Corpus
from w2s.encoders.loading import load_encoder
from w2s.evaluation.analysis import (
    encode_corpus,
    group_summary,
    pair_tokens,
    plug_coupling,
    project_tokens,
    similarity_by_relation,
    summary_rows,
)
from w2s.evaluation.coupling import Token


@pytest.mark.slow
def test_coupling_cli_tiny_hubert(smoke_corpus, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("W2S_DATA_DIR", str(tmp_path / "data"))  # fresh caches: really pretrains
    out = tmp_path / "c.json"
    assert main(["coupling", "--encoder", "tiny-hubert", "--corpus", str(smoke_corpus), "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert set(report["groups"]) == {"near", "same_viseme", "far"}
    for g in report["groups"].values():
        assert g["n_pairs"] >= 1 and g["abx_error"] is not None and 0 <= g["abx_error"] <= 1
        assert g["normalised_distance"] > 0
    assert report["encoder"]["name"] == "tiny-hubert" and report["encoder"]["rate"] == 50
    assert 0 < report["probe"]["accuracy"] <= 1
    assert "ABX error" in capsys.readouterr().out
    # the second run reuses the pretrained model and the feature cache
    cached = list((tmp_path / "data" / "cache" / "features").rglob("*.npy"))
    assert len(cached) >= 48
    assert main(["coupling", "--encoder", "tiny-hubert", "--corpus", str(smoke_corpus), "--out", str(out), "--no-probe"]) == 0
    assert len(list((tmp_path / "data" / "cache" / "features").rglob("*.npy"))) == len(cached)


def test_coupling_cli_bad_input(tmp_path, capsys):
    out = tmp_path / "c.json"
    assert main(["coupling", "--encoder", "mfcc", "--corpus", str(tmp_path / "nope"), "--out", str(out)]) == 2
    assert "missing" in capsys.readouterr().err
    assert main(["coupling", "--encoder", "mfcc", "--corpus", str(tmp_path), "--out", str(tmp_path / "c.txt")]) == 2
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------------------------
# reading reports, similarities, tokens, the untrained plug


def _report(near, same, far):
    return {"groups": {g: {"n_pairs": 2, "abx_error_b_other_speaker": v, "abx_error": v + 0.01,
                           "normalised_distance": 1 - v, "decoupling_distance": 2 * v}
                       for g, v in zip(GROUPS, (near, same, far), strict=True)}}  # fmt: skip


def test_summary_rows_and_group_summary():
    reports = {"mfcc": _report(0.3, 0.2, 0.1), "tiny": _report(0.4, 0.35, 0.05)}
    rows = summary_rows(reports, label="features")
    assert [(r["features"], r["group"]) for r in rows][:3] == [("mfcc", "near"), ("mfcc", "same_viseme"), ("mfcc", "far")]
    assert rows[3]["abx_error"] == 0.4 and rows[3]["abx_error_any_b"] == pytest.approx(0.41)
    s = group_summary(reports)
    assert s["abx_error"] == {"mfcc": {"near": 0.3, "same_viseme": 0.2, "far": 0.1},
                              "tiny": {"near": 0.4, "same_viseme": 0.35, "far": 0.05}}  # fmt: skip
    assert s["decoupling_distance"]["tiny"]["near"] == 0.8 and s["n_pairs"]["mfcc"]["far"] == 2


def test_similarity_by_relation_hand_made():
    # four sentences: two around "bad", one around "bed" (its pair partner), one around "tub"
    words = ["bad", "bad", "bed", "tub"]
    pairs = [{"word_a": "bad", "word_b": "bed"}, {"word_a": "tub", "word_b": "tug"}]
    text = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    audio = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [-1.0, 0.0]])
    mats, rows = similarity_by_relation({"text": text, "audio": audio}, words, pairs)
    np.testing.assert_allclose(np.diag(mats["text"]), 1.0)
    assert mats["audio"][0, 3] == pytest.approx(-1.0)
    text_row, audio_row = rows
    assert text_row["space"] == "text" and audio_row["space"] == "audio"
    assert text_row["same word"] == pytest.approx(1.0)  # the two "bad" sentences: same direction
    assert text_row["the pair's other word"] == pytest.approx(0.0)  # bad vs bed: orthogonal
    assert audio_row["same word"] == pytest.approx(0.0)
    assert audio_row["the pair's other word"] == pytest.approx(0.5)  # (1 + 0) / 2 over (bad0, bed) and (bad1, bed)
    with pytest.raises(ValueError, match="none of the pairs"):
        similarity_by_relation({"text": text}, ["bad", "bad", "bed", "zzz"], pairs)


def test_project_tokens_pca_finds_the_main_axis():
    rng = np.random.default_rng(0)
    X = rng.normal(0, 0.01, (20, 6))
    X[:, 4] += np.linspace(-5, 5, 20)  # almost all variance on one axis
    tokens = [Token(f"w{i}", f"S{i}_sentence01", f"S{i}", x) for i, x in enumerate(X)]
    xy = project_tokens(tokens, "pca")
    assert xy.shape == (20, 2)
    assert abs(np.corrcoef(xy[:, 0], X[:, 4])[0, 1]) > 0.999
    assert project_tokens(tokens, "tsne").shape == (20, 2)
    with pytest.raises(ValueError, match="projection"):
        project_tokens(tokens, "umap")


@pytest.fixture(scope="module")
def mfcc_feats(smoke_corpus):
    corpus = Corpus(smoke_corpus)
    enc = load_encoder("mfcc")
    return corpus, enc, encode_corpus(enc, corpus.root, sorted(corpus.alignments))


def test_pair_tokens_are_the_pair_words_said(mfcc_feats):
    corpus, enc, _ = mfcc_feats
    near = corpus.pairs("near")[:2]
    words = [w for p in near for w in (p["word_a"], p["word_b"])]
    tokens = pair_tokens(enc, corpus, near)
    assert {t.word for t in tokens} == set(words)
    assert len(tokens) == sum(len(corpus.word_spans(s, words)) for s in corpus.stems())
    assert all(t.vector.shape == (enc.dim,) for t in tokens)


def test_plug_coupling_constant_vector_changes_no_distance(mfcc_feats):
    corpus, enc, F_p = mfcc_feats
    rng = np.random.default_rng(0)
    const = rng.normal(size=16)
    sources = {"constant": {s: const for s in F_p}, "random": {s: rng.normal(size=16) for s in F_p}}
    reports = plug_coupling(F_p, enc.rate, corpus.alignments, corpus.pairs(), sources)
    assert list(reports) == ["none (F_p)", "+ constant", "+ random"]
    before, const_r, rand_r = (reports[k]["groups"]["near"] for k in reports)
    # W_out = identity: adding one vector to every frame shifts every word mean alike
    assert const_r["decoupling_distance"] == pytest.approx(before["decoupling_distance"], rel=1e-4)
    # a different vector per sentence pulls tokens of different sentences apart
    assert rand_r["decoupling_distance"] > 1.5 * before["decoupling_distance"]
