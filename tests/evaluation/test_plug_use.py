"""The positive control (oracle_word), the plug's standardisation, and the use test."""

import numpy as np
import pytest
import torch

from w2s.data.corpus import Corpus
from w2s.decoders.base import DecoderError
from w2s.decoders.inputs import OracleWord, SemanticSource, load_clips
from w2s.decoders.training import DecoderRecipe, load_run, train_decoder
from w2s.evaluation.decoders import evaluate_decoder
from w2s.evaluation.plug_use import code_gain, seed_change, use_test
from w2s.fusion import FusionConfig, FusionError, SemanticFusion


def test_oracle_word_codes_the_pair_word_said(smoke_corpus):
    corpus = Corpus.open(smoke_corpus)
    src = SemanticSource.from_name("oracle_word", smoke_corpus)
    assert isinstance(src, OracleWord) and src.dim == 384
    clips = load_clips(smoke_corpus, "train", None, src)
    words = set(src.words)
    for c in clips:
        said = {w["word"].lower().strip(".,!?") for w in c.alignment["words"]} & words
        norm = float(c.F_s.norm())
        if said:  # a unit vector, the word's code when it says one
            assert norm == pytest.approx(1.0, abs=1e-5)
            if len(said) == 1:
                np.testing.assert_allclose(c.F_s.numpy(), src.code(said.pop()), atol=1e-6)
        else:
            assert norm == 0.0
    assert any(float(c.F_s.norm()) > 0 for c in clips)
    # the same word gets the same code in another process's source; two words are nearly orthogonal
    again = OracleWord(smoke_corpus, 384)
    a, b = corpus.pair_words("near")[:2]
    np.testing.assert_array_equal(again.code(a.lower()), src.code(a.lower()))
    assert abs(float(src.code(a.lower()) @ src.code(b.lower()))) < 0.3
    with pytest.raises(DecoderError, match="alignments"):
        src.vectors([np.zeros(16000)], ["x"], ["s"], [None])


def test_oracle_word_needs_a_w2s_corpus(tmp_path):
    with pytest.raises(DecoderError, match="pairs.json"):
        SemanticSource.from_name("oracle_word", tmp_path)


def test_standardized_plug_matches_its_formula_and_refuses_misuse():
    torch.manual_seed(0)
    fuse = SemanticFusion(FusionConfig(8, 6, 5, "oracle_word", standardize=True))
    F_s_train = torch.randn(20, 6) * 0.1 + 3.0
    stats = fuse.fit_standardization(F_s_train, F_p_rms=2.0)
    centred = F_s_train - F_s_train.mean(0)
    assert stats["gain"] == pytest.approx(2.0 / float(centred.pow(2).mean().sqrt()), rel=1e-5)
    # the standardised training F_s has F_p's RMS and mean 0
    z = (F_s_train - fuse.F_s_mean) * fuse.F_s_gain
    assert float(z.pow(2).mean().sqrt()) == pytest.approx(2.0, rel=1e-4)
    F_p, F_s = torch.randn(3, 4, 8), F_s_train[:3]
    want = fuse.W_out(F_p + fuse.W_s((F_s - F_s_train.mean(0)) * stats["gain"]).unsqueeze(1))
    torch.testing.assert_close(fuse(F_p, F_s), want, rtol=1e-5, atol=1e-5)
    assert {"F_s_mean", "F_s_gain"} <= set(fuse.state_dict())  # saved with the model
    raw = SemanticFusion(FusionConfig(8, 6, 5, "oracle_word"))
    assert "F_s_gain" not in raw.state_dict()
    with pytest.raises(FusionError, match="standardize"):
        raw.fit_standardization(F_s_train, 2.0)
    with pytest.raises(FusionError, match="does not vary"):
        fuse.fit_standardization(torch.ones(5, 6), 2.0)


@pytest.fixture(scope="module")
def trained(smoke_corpus, tmp_path_factory, one_torch_thread):
    root = tmp_path_factory.mktemp("use")
    out = {}
    for name, sem, over, seed in (("std", "oracle_word", {"plug_scale": "standardize"}, 0),
                                  ("raw", "oracle_word", {}, 0), ("none0", "none", {}, 0), ("none1", "none", {}, 1)):  # fmt: skip
        r = DecoderRecipe("reference", semantic=sem, encoder="mfcc", max_steps=30, batch_size=4, seed=seed, overrides=over)
        out[name] = (root / name, train_decoder(r, smoke_corpus, root / name))
    return out


def test_standardize_is_recorded_and_reloaded(trained, smoke_corpus):
    folder, record = trained["std"]
    assert record["config"]["plug_scale"] == "standardize" and record["plug"]["gain"] > 1
    model, _ = load_run(folder)
    assert float(model.fusion.F_s_gain) == pytest.approx(record["plug"]["gain"], rel=1e-5)
    assert "plug" not in trained["raw"][1]
    with pytest.raises(DecoderError, match="plug_scale"):
        train_decoder(DecoderRecipe("reference", semantic="oracle_word", encoder="mfcc", max_steps=1,
                                    overrides={"plug_scale": "loud"}), smoke_corpus, folder.parent / "x")  # fmt: skip


def test_use_test_sees_a_model_that_reads_F_s(trained, smoke_corpus):
    """A standardised plug's model changes its lips when another clip's F_s comes in; the raw plug's F_s is
    ~3 % of F_p, and its lips barely move: the use test tells the two apart, against the seed-to-seed noise."""
    std = use_test(trained["std"][0], split="test")
    raw = use_test(trained["raw"][0], split="test")
    noise = seed_change([trained["none0"][0], trained["none1"][0]], split="test")
    assert std["n_swapped"] > 0 and std["swap"]["change"] > 0 and std["mean"]["change"] > 0
    assert std["swap"]["change"] > 50 * raw["swap"]["change"]
    assert std["scale"]["after"]["ratio"] > 10 * raw["scale"]["after"]["ratio"]
    assert raw["scale"]["before"]["ratio"] < 0.1  # the paper's scale: a few percent of ||F_p|| at most
    assert noise["n_pairs"] == 1 and noise["change"] > 0
    assert set(std["minimal_pair_accuracy"]) == {"own", "swap", "mean"}
    with pytest.raises(ValueError, match="none decoder"):
        use_test(trained["none0"][0])


def test_use_test_reuses_the_evaluations_own_generation(trained):
    """The grid hands use_test the evaluation's predictions (condition 0, sample 0): the same result as
    generating them again; predictions of other clips are refused."""
    folder = trained["std"][0]
    res = evaluate_decoder(folder, split="test", conditions=0, with_baseline=False, keep=(0, 0))
    own = res.pop("predictions")
    assert len(own) == res["metrics"]["n_sequences"]
    assert evaluate_decoder(folder, split="test", conditions=0, with_baseline=False, keep=(1, 0)).get("predictions") is None
    again, reused = use_test(folder, split="test"), use_test(folder, split="test", own=own)
    assert reused["swap"] == pytest.approx(again["swap"]) and reused["minimal_pair_accuracy"] == again["minimal_pair_accuracy"]
    with pytest.raises(ValueError, match="one per clip"):
        use_test(folder, split="test", own=own[:-1])


def test_code_gain_is_own_minus_another_per_clip_with_an_interval():
    rng = np.random.default_rng(0)
    own, swap = [], []
    for c in range(60):  # 60 clips, 1-3 words each; a host that reads the code scores 0.3 higher with its own
        for _w in range(1 + c % 3):
            s = float(rng.uniform(0.2, 0.7))
            own.append({"stem": f"clip{c}", "score": min(1.0, s + 0.3), "excluded": None})
            swap.append({"stem": f"clip{c}", "score": s, "excluded": None})
    own.append({"stem": "x", "score": None, "excluded": "no frame"})  # excluded words are left out
    swap.append({"stem": "x", "score": None, "excluded": "no frame"})
    g = code_gain(own, swap)
    assert g["n_clips"] == 60 and g["n_words"] == 120
    assert 0.25 < g["mean"] < 0.31 and g["ci_low"] > 0
    same = code_gain(swap[:-1], swap[:-1])  # a host that ignores F_s
    assert same["mean"] == 0 and same["ci_low"] <= 0 <= same["ci_high"]
