"""Speech recognisers as encoders (VOCA's input): the frame phoneme read-out and CTC models' logits.

The read-out is fitted on MFCC frames of the smoke corpus (seconds); the CTC model is a tiny random
Wav2Vec2ForCTC saved in the HF format to a temp folder, loaded by the path hub names take.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from w2s.data.corpus import Corpus
from w2s.encoders import (
    CTCEncoder,
    EncoderError,
    MFCCEncoder,
    PhonemeRecogniser,
    cached_encode,
    frame_accuracy,
    load_encoder,
)
from w2s.encoders import recogniser as recogniser_module

SR = 16_000


def _audio(seconds: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    return (0.2 * np.sin(2 * np.pi * 150 * t) + 0.01 * rng.standard_normal(len(t))).astype(np.float32)


def _random_readout(base, K: int = 4, seed: int = 0) -> PhonemeRecogniser:
    rng = np.random.default_rng(seed)
    return PhonemeRecogniser(base, [f"p{k}" for k in range(K)], rng.standard_normal((K, base.dim)),
                             rng.standard_normal(K), rng.standard_normal(base.dim), rng.random(base.dim) + 0.5)  # fmt: skip


def test_logits_are_the_standardised_linear_readout_of_the_base_frames():
    base = MFCCEncoder()
    rec = _random_readout(base)
    x = _audio(0.5)
    F = base.encode(x)  # (T, 39)
    out = rec.encode(x)
    assert out.shape == (len(F), 4) == (rec.n_frames(len(x)), rec.dim) and out.dtype == np.float32
    np.testing.assert_allclose(out, ((F - rec.mean) / rec.scale) @ rec.coef.T + rec.intercept, rtol=1e-4, atol=1e-4)
    assert rec.rate == base.rate and list(rec.predict(F)) == list(rec.classes[out.argmax(1)])


def test_identity_follows_the_weights_and_saving_needs_no_pickle(tmp_path):
    base = MFCCEncoder()
    rec = _random_readout(base)
    assert rec.identity.startswith(f"phonemes:{base.identity}:readout=")
    assert _random_readout(base).identity == rec.identity  # same content, same identity
    changed = _random_readout(base)
    changed.coef[0, 0] += 1e-3
    assert PhonemeRecogniser(base, **changed.arrays()).identity != rec.identity
    folder = rec.save(tmp_path / "rec", {"note": 1})
    with np.load(folder / "readout.npz", allow_pickle=False) as z:  # no object arrays: loads without pickle
        assert z["classes"].dtype.kind == "U" and set(z.files) == {"classes", "coef", "intercept", "mean", "scale"}
    loaded = PhonemeRecogniser.load(folder, base)
    assert loaded.identity == rec.identity
    np.testing.assert_array_equal(loaded.encode(_audio(0.3)), rec.encode(_audio(0.3)))
    other = _random_readout(MFCCEncoder(), K=4)
    other.base.identity = "mfcc:another"
    with pytest.raises(EncoderError, match="fitted on encoder"):
        PhonemeRecogniser.load(folder, other.base)


def test_fitted_on_the_training_speakers_and_cached(smoke_corpus, tmp_path, monkeypatch):
    corpus = Corpus(smoke_corpus)
    rec = load_encoder("phonemes:mfcc", corpus=smoke_corpus)
    assert isinstance(rec, PhonemeRecogniser) and rec.name == "phonemes:mfcc" and rec.rate == 50
    assert "sil" in rec.classes and rec.dim == len(rec.classes) > 10
    train = frame_accuracy(rec, corpus, "train")
    assert train["accuracy"] > 2 * train["chance"]
    ds = corpus.dataset("test")
    assert rec.encode(ds.load_audio(0)).shape == (len(cached_encode(MFCCEncoder(), ds.load_audio(0))), rec.dim)

    def no_refit(*args, **kwargs):
        raise AssertionError("refitted although cached")

    monkeypatch.setattr(recogniser_module, "fit_phoneme_recogniser", no_refit)
    assert load_encoder("phonemes:mfcc", corpus=smoke_corpus).identity == rec.identity  # read from the cache


def _tiny_ctc(folder, seed: int = 0):
    from transformers import Wav2Vec2Config, Wav2Vec2FeatureExtractor, Wav2Vec2ForCTC

    torch.manual_seed(seed)
    model = Wav2Vec2ForCTC(Wav2Vec2Config(
        conv_dim=(16,) * 7, conv_kernel=(10, 3, 3, 3, 3, 2, 2), conv_stride=(5, 2, 2, 2, 2, 2, 2), hidden_size=32,
        num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=2, vocab_size=12))  # fmt: skip
    model.save_pretrained(folder)
    Wav2Vec2FeatureExtractor(sampling_rate=SR, do_normalize=True, return_attention_mask=False).save_pretrained(folder)
    return model.eval()


def test_ctc_logits_from_a_tiny_hf_checkpoint(tmp_path):
    model = _tiny_ctc(tmp_path / "ctc")
    enc = load_encoder(f"ctc:{tmp_path / 'ctc'}", device="cpu")
    assert isinstance(enc, CTCEncoder) and enc.dim == 12 and enc.rate == 50 and enc.layer is None
    x = _audio(0.7)
    norm = (x - x.mean()) / np.sqrt(x.var() + 1e-7)
    with torch.no_grad():
        ref = model(torch.from_numpy(norm)[None]).logits[0].numpy()  # (T, 12)
    out = enc.encode(x)
    assert out.shape == (enc.n_frames(len(x)), 12)
    np.testing.assert_allclose(out, ref, atol=1e-5)
    with torch.no_grad():
        model.lm_head.weight[0, 0] += 1e-3  # the CTC head is part of the identity
    model.save_pretrained(tmp_path / "ctc2")
    from transformers import Wav2Vec2FeatureExtractor

    Wav2Vec2FeatureExtractor(sampling_rate=SR, do_normalize=True, return_attention_mask=False).save_pretrained(
        tmp_path / "ctc2"
    )
    assert load_encoder(f"ctc:{tmp_path / 'ctc2'}", device="cpu").identity != enc.identity
    with pytest.raises(EncoderError, match="no layers"):
        load_encoder(f"ctc:{tmp_path / 'ctc'}", layer=1)
    with pytest.raises(EncoderError, match="cannot load CTC model"):
        load_encoder(f"ctc:{tmp_path / 'missing'}")
