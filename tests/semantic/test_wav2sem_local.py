"""Wav2SemLocal (the time-local Wav2Sem, issue 23): the lookahead mask, shapes, save/load, training, the
``wav2sem_local`` source and its errors. Tiny configs, the smoke corpus, the MFCC host (no pretraining)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from w2s.cli import main
from w2s.data.corpus import Corpus
from w2s.decoders.base import DecoderError
from w2s.decoders.inputs import SemanticSource, Wav2SemLocalVectors, load_clips
from w2s.encoders import load_encoder
from w2s.fusion import SOURCES, TIME_LOCAL
from w2s.semantic.local_train import (
    LocalRecipe,
    frame_words,
    local_losses,
    local_train_config,
    split_streams,
    stream_metrics,
    train_wav2sem_local,
)
from w2s.semantic.targets import load_text_model
from w2s.semantic.wav2sem import Wav2Sem, Wav2SemConfig
from w2s.semantic.wav2sem_local import Wav2SemLocal, Wav2SemLocalConfig, Wav2SemLocalError, band_mask

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def tiny(**kw) -> Wav2SemLocal:
    torch.manual_seed(0)
    cfg = Wav2SemLocalConfig.tiny(input_dim=8, target_dim=6, **{"num_hidden_layers": 2, "lookahead_ms": 60.0,
                                                                "lookback_ms": 100.0, "dropout": 0.0, **kw})  # fmt: skip
    return Wav2SemLocal(cfg).eval()


# ---------------------------------------------------------------------------------------------
# the model


def test_band_mask_is_the_lookback_lookahead_band():
    m = band_mask(6, lookback=2, lookahead=1)
    for t in range(6):
        assert m[t].nonzero().flatten().tolist() == list(range(max(0, t - 2), min(6, t + 2)))


@pytest.mark.parametrize("layers", [1, 3])
def test_output_at_t_sees_input_up_to_t_plus_lookahead_and_not_after(layers):
    model = tiny(num_hidden_layers=layers)
    L = model.config.lookahead_frames
    assert L == 3 and model.lookahead_s == pytest.approx(0.06)  # 60 ms at 50 Hz
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, 40, 8, generator=g)
    with torch.no_grad():
        y = model(x)
        for t in (0, 10, 25):
            after = x.clone()
            after[:, t + L + 1 :] = torch.randn(2, 40 - t - L - 1, 8, generator=g)  # every frame after t + L
            torch.testing.assert_close(model(after)[:, : t + 1], y[:, : t + 1], atol=0, rtol=0)
            at = x.clone()
            at[:, t + L] = torch.randn(2, 8, generator=g)  # the last frame it may see: lookaheads do not add up
            assert (model(at)[:, t] - y[:, t]).abs().max() > 1e-4


def test_shapes_padding_and_the_speech_gate():
    model = tiny()
    g = torch.Generator().manual_seed(2)
    a, b = torch.randn(30, 8, generator=g), torch.randn(17, 8, generator=g)
    x = torch.zeros(2, 30, 8)
    x[0], x[1, :17] = a, b
    mask = torch.arange(30)[None] < torch.tensor([30, 17])[:, None]
    with torch.no_grad():
        y = model(x, mask)
        assert y.shape == (2, 30, 6) and not y[1, 17:].any()  # 0 on padding
        torch.testing.assert_close(y[1, :17], model(b[None])[0], atol=1e-5, rtol=1e-5)  # padding changes nothing
        query, logit = model.heads(model.frames(x, mask)[0])
        model.speech.bias.fill_(-30.0)  # the gate shut: a pause is ~0
        assert model(x, mask).abs().max() < 1e-10
    out = model.predict([a.numpy(), b.numpy()])
    assert [o.shape for o in out] == [(30, 6), (17, 6)] and all(o.dtype == np.float32 for o in out)
    with pytest.raises(Wav2SemLocalError, match=r"expected float \(B, T, 8\)"):
        model(torch.randn(2, 5, 7))


def test_the_word_bank_gives_the_posterior_mean():
    model = tiny(n_words=3, temperature=0.05)
    words = torch.eye(6)[:3]
    model.words.copy_(words)
    q = torch.tensor([[5.0, 0, 0, 0, 0, 0], [1.0, 1.0, 0, 0, 0, 0]])
    v = model.word_vector(q)
    torch.testing.assert_close(v[0], words[0], atol=1e-6, rtol=0)  # a clear query: that word's vector
    torch.testing.assert_close(v[1], (words[0] + words[1]) / 2, atol=1e-6, rtol=0)  # a tie: the mean of the two


def test_save_load_round_trip(tmp_path):
    model = tiny(n_words=4, ctc_vocab_size=5)
    with torch.no_grad():
        model.words.copy_(torch.randn(4, 6))
        model.blocks[0].attn.rel_bias.normal_()
    folder = model.save_pretrained(tmp_path / "m")
    back = Wav2SemLocal.from_pretrained(folder)
    assert back.config == model.config
    x = torch.randn(1, 12, 8)
    torch.testing.assert_close(back(x), model(x), atol=0, rtol=0)
    meta = json.loads((folder / "config.json").read_text())
    assert meta["w2s_class"] == "Wav2SemLocal" and (folder / "model.safetensors").is_file()
    lite = Wav2Sem(Wav2SemConfig.lite(input_dim=8, hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
                                      intermediate_size=8)).save_pretrained(tmp_path / "lite")  # fmt: skip
    with pytest.raises(Wav2SemLocalError, match=r"is not a Wav2SemLocal checkpoint.*'Wav2Sem' checkpoint"):
        Wav2SemLocal.from_pretrained(lite)


def test_config_checks():
    with pytest.raises(Wav2SemLocalError, match="lookahead_ms"):
        Wav2SemLocalConfig.lite(lookahead_ms=-1.0)
    with pytest.raises(Wav2SemLocalError, match="divisible"):
        Wav2SemLocalConfig.lite(hidden_size=30, num_attention_heads=4)
    assert Wav2SemLocalConfig.lite().lookahead_ms <= 300 and Wav2SemLocalConfig.lite().lookahead_frames == 10


# ---------------------------------------------------------------------------------------------
# data, training, the source


def test_frame_words_follow_oracle_text_local(smoke_corpus):
    corpus = Corpus.open(smoke_corpus)
    stems = corpus.stems("train")[:6]
    n = [corpus.n_frames(s) for s in stems]
    oracle = SemanticSource.from_name("oracle_text_local", smoke_corpus)
    streams = oracle.vectors(None, None, stems, [corpus.alignments[s] for s in stems], n, corpus.fps)
    vocab = sorted({w for s in stems for w in _words(corpus, s)})
    bank = oracle.model.embed(vocab)
    seen = []
    for s, T, want in zip(stems, n, streams, strict=True):
        ids = frame_words(corpus.alignments[s], T, corpus.fps, {w: i for i, w in enumerate(vocab)})
        got = np.where(ids[:, None] >= 0, bank[ids.clip(0)], 0.0)
        np.testing.assert_allclose(got, want, atol=1e-5)
        seen.append(ids)
    assert (np.concatenate(seen) >= 0).any() and (np.concatenate(seen) < 0).any()  # words and pauses


def _words(corpus, stem):
    from w2s.utils.words import normalise_word

    return {normalise_word(w["word"]) for w in corpus.alignments[stem]["words"]} - {""}


@pytest.fixture(scope="module")
def local_run(smoke_corpus, tmp_path_factory):
    """A tiny Wav2SemLocal trained 40 steps on the smoke corpus's train split, on MFCC frames."""
    recipe = LocalRecipe(config="tiny", host_encoder="mfcc", train=local_train_config(40, lr=3e-3, batch_size=8))
    out = tmp_path_factory.mktemp("local") / "run"
    model, hist, val = train_wav2sem_local(smoke_corpus, recipe, out)
    return out, model, hist, val, recipe


def test_training_lowers_the_loss_and_records_a_val_curve(local_run, smoke_corpus):
    out, model, hist, val, recipe = local_run
    host = load_encoder("mfcc")
    text = load_text_model("all-MiniLM-L6-v2")
    train = split_streams(smoke_corpus, "train", host, text)
    from w2s.semantic.local_train import FrameTargets, collate

    batch = collate([FrameTargets(train.feats, train.host_ids, [[] for _ in train.feats])[i] for i in range(8)])
    untrained = Wav2SemLocal(model.config)
    untrained.words.copy_(model.words)
    no_ctc = LocalRecipe(ctc_weight=0.0)
    bank = torch.as_tensor(train.bank)
    with torch.no_grad():
        before = local_losses(untrained.eval(), batch, bank, no_ctc)[0]
        after = local_losses(model.eval(), batch, bank, no_ctc)[0]
    assert after < 0.8 * before
    run = json.loads((out / "wav2sem_run.json").read_text())
    assert run["recipe"]["host_encoder"] == "mfcc" and len(run["val_curve"]) >= 4 and run["val"]["n_words"] > 0
    assert 0 <= val["r@1"] <= 1 and val["chance_r@1"] == pytest.approx(1 / val["n_words"])


def test_the_source_gives_one_vector_per_vertex_frame(local_run, smoke_corpus):
    out, model, *_ = local_run
    assert "wav2sem_local" in SOURCES and "wav2sem_local" in TIME_LOCAL
    src = SemanticSource.from_name("wav2sem_local", smoke_corpus, wav2sem=out)  # the run folder (or its model/)
    assert isinstance(src, Wav2SemLocalVectors) and src.per_frame and src.dim == 384 and not src.pause.any()
    clips = load_clips(smoke_corpus, "val", None, src)
    assert all(c.F_s.shape == (c.n_frames, 384) for c in clips)
    corpus = Corpus.open(smoke_corpus)
    host = load_encoder("mfcc")
    from w2s.data.audio import load_audio
    from w2s.encoders import align_to_fps, cached_encode

    c = clips[0]
    want = align_to_fps(model.predict([cached_encode(host, load_audio(corpus.root / "wav" / f"{c.stem}.wav"))])[0],
                        host.rate, corpus.fps, c.n_frames)  # fmt: skip
    np.testing.assert_allclose(c.F_s.numpy(), want, atol=1e-5)
    again = load_clips(smoke_corpus, "val", None, src)  # from the cache
    assert all(torch.equal(a.F_s, b.F_s) for a, b in zip(clips, again, strict=True))


def test_stream_metrics_on_the_oracle_itself_are_perfect():
    bank = np.eye(4, dtype=np.float32)
    ids = [np.array([0, 0, -1, 2, 3])]
    pred = [np.where(ids[0][:, None] >= 0, bank[ids[0].clip(0)], 0.0)]
    m = stream_metrics(pred, ids, bank)
    assert m["r@1"] == m["r@1_clip"] == m["cosine"] == m["speech_accuracy"] == 1.0 and m["pause_norm"] == 0.0
    assert m["chance_r@1"] == 0.25 and m["chance_r@1_clip"] == pytest.approx(1 / 3)


def test_a_bad_wav2sem_local_folder_is_one_line_exit_2(smoke_corpus, tmp_path, capsys, wav2sem_dir):
    with pytest.raises(DecoderError, match="needs a trained Wav2SemLocal"):
        SemanticSource.from_name("wav2sem_local", smoke_corpus)
    for folder, msg in ((tmp_path / "nothing", "not a Wav2Sem folder"),
                        (wav2sem_dir, "is not a Wav2SemLocal checkpoint")):  # fmt: skip
        out = tmp_path / "out"
        rc = main(["decoder", "train", "--host", "reference", "--semantic", "wav2sem_local", "--wav2sem", str(folder),
                   "--corpus", str(smoke_corpus), "--encoder", "mfcc", "--steps", "1", "--out", str(out)])  # fmt: skip
        err = capsys.readouterr().err.strip()
        assert rc == 2 and len(err.splitlines()) == 1 and msg in err and str(folder) in err
        assert not out.exists()


def test_cli_train_local_and_help(smoke_corpus, tmp_path, capsys):
    out = tmp_path / "run"
    rc = main(["wav2sem", "train-local", "--corpus", str(smoke_corpus), "--host-encoder", "mfcc", "--steps", "3",
               "--out", str(out)])  # fmt: skip
    text = capsys.readouterr().out
    assert rc == 0 and "val: frame word R@1" in text and "test: frame word R@1" in text
    report = json.loads((out / "eval.json").read_text())
    assert report["test"]["split"] == "test" and (out / "model" / "config.json").is_file()
    with pytest.raises(SystemExit):
        main(["decoder", "train", "--help"])
    assert "wav2sem_local: per frame: a Wav2SemLocal on the audio" in capsys.readouterr().out
    assert main(["wav2sem", "train-local", "--corpus", str(tmp_path / "none"), "--out", str(tmp_path / "o")]) == 2
    assert "missing" in capsys.readouterr().err


def test_a_decoder_trains_and_evaluates_on_the_local_stream(local_run, smoke_corpus, tmp_path, capsys):
    out, *_ = local_run
    dec = tmp_path / "dec"
    assert main(["decoder", "train", "--host", "reference", "--semantic", "wav2sem_local", "--wav2sem", str(out / "model"),
                 "--corpus", str(smoke_corpus), "--encoder", "mfcc", "--steps", "2", "--out", str(dec)]) == 0  # fmt: skip
    record = json.loads((dec / "decoder_run.json").read_text())
    assert record["data"]["semantic"] == Wav2SemLocalVectors(out, smoke_corpus).identity
    assert record["config"]["semantic_source"] == "wav2sem_local" and record["config"]["semantic_dim"] == 384
    assert main(["decoder", "eval", "--model", str(dec), "--split", "val"]) == 0
    assert "semantic=wav2sem_local" in capsys.readouterr().out


def test_decoder_train_without_wav2sem_reads_the_default_local(local_run, smoke_corpus, tmp_path, monkeypatch, capsys):
    """`--semantic wav2sem_local` without `--wav2sem`: the default Wav2SemLocal of the corpus and seed (a stand-in
    here: the default trains for minutes), 20 steps for a smoke corpus."""
    import w2s.cli.decoder as decoder_cli
    from w2s.semantic.local_train import DEFAULT_STEPS, steps_for_corpus

    assert steps_for_corpus(smoke_corpus) == 20 and DEFAULT_STEPS <= 400
    out, *_ = local_run
    calls = []

    def fake(corpus, seed=0, on_train=None):
        calls.append((str(corpus), seed))
        return out / "model"

    monkeypatch.setattr(decoder_cli, "default_wav2sem_local", fake)
    rc = main(["decoder", "train", "--host", "reference", "--semantic", "wav2sem_local", "--corpus", str(smoke_corpus),
               "--encoder", "mfcc", "--steps", "1", "--seed", "2", "--out", str(tmp_path / "dec")])  # fmt: skip
    assert rc == 0 and calls == [(str(smoke_corpus), 2)]
    assert f"--semantic wav2sem_local: F_s from {out / 'model'}" in capsys.readouterr().out
