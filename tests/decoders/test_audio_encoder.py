"""A host that runs and trains its own speech encoder (FaceFormer/CodeTalker with wav2vec 2.0): the CNN
stays frozen, the transformer learns, batches equal items, checkpoints hold the fine-tuned weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import Wav2Vec2Config, Wav2Vec2FeatureExtractor, Wav2Vec2Model

import w2s.decoders as decoders
from w2s.data.batch import Batch, pad
from w2s.decoders.audio_encoder import TrainableEncoder, resample_frames
from w2s.decoders.reference import ReferenceConfig, ReferenceDecoder
from w2s.decoders.training import DecoderRecipe, train_decoder
from w2s.encoders import align_to_fps
from w2s.evaluation.decoders import evaluate_decoder
from w2s.train import TrainConfig, fit

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def tiny_hf(folder, norm: str = "group"):
    torch.manual_seed(0)
    cfg = Wav2Vec2Config(hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32,
                         conv_dim=(8,) * 7, num_conv_pos_embeddings=8, num_conv_pos_embedding_groups=2,
                         feat_extract_norm=norm, mask_time_prob=0.0, layerdrop=0.0)  # fmt: skip
    Wav2Vec2Model(cfg).save_pretrained(folder)
    Wav2Vec2FeatureExtractor(do_normalize=True).save_pretrained(folder)  # the real layout: preprocessor_config.json
    return str(folder)


@pytest.mark.parametrize("rate, fps, n", [(50, 30, 37), (50, 25, 20), (50, 25, 31), (30, 30, 12), (50, 30, 1)])
def test_resampling_matches_the_numpy_rule(rate, fps, n):
    h = np.random.default_rng(0).standard_normal((26, 5)).astype(np.float32)
    np.testing.assert_allclose(resample_frames(torch.from_numpy(h), rate, fps, n).numpy(),
                               align_to_fps(h, rate, fps, n), atol=1e-5)  # fmt: skip


def batch_of(lengths, V=4, with_vertices=True):
    g = torch.Generator().manual_seed(0)
    audio, mask = pad([torch.randn(int(s * 16000), generator=g) for s in lengths])
    verts = [torch.randn(int(s * 30), V, 3, generator=g) for s in lengths] if with_vertices else None
    vertices, vmask = pad(verts) if verts else (None, None)
    return Batch(template=torch.zeros(len(lengths), V, 3), subject_index=torch.zeros(len(lengths), dtype=torch.long),
                 vertices=vertices, vertex_mask=vmask, audio=audio, audio_mask=mask, fps=30.0)  # fmt: skip


def model_with_encoder(folder, freeze="cnn"):
    torch.manual_seed(0)
    return ReferenceDecoder(ReferenceConfig.tiny(n_vertices=4, audio_dim=16, n_subjects=2, encoder=folder,
                                                 encoder_freeze=freeze, semantic_source="none"))  # fmt: skip


@pytest.mark.parametrize("norm", ["group", "layer"])
def test_padded_batch_equals_items(tmp_path, norm):
    enc = TrainableEncoder(tiny_hf(tmp_path / "hf", norm)).eval()
    b = batch_of([0.7, 0.4, 0.55])
    with torch.no_grad():
        F_p, mask = enc(b.audio, b.audio_mask, b.vertex_lengths, 30.0)
        assert F_p.shape == (3, 21, 16) and mask.sum(1).tolist() == [21, 12, 16]
        for i in range(3):
            one = b.item(i)
            F_i, _ = enc(one.audio, one.audio_mask, one.vertex_lengths, 30.0)
            torch.testing.assert_close(F_p[i, : F_i.shape[1]], F_i[0], atol=1e-5, rtol=1e-5)
        assert not F_p[1, 12:].any()


def test_cnn_frozen_transformer_trained_and_saved(tmp_path):
    model = model_with_encoder(tiny_hf(tmp_path / "hf"))
    hf = model.audio_encoder.model
    cnn = {k: v.clone() for k, v in hf.feature_extractor.state_dict().items()}
    rest = {k: v.clone() for k, v in hf.encoder.state_dict().items()}
    b = batch_of([0.6, 0.5])
    cfg = TrainConfig(max_steps=3, batch_size=1, lr=1e-2, warmup_steps=0, eval_every=0, checkpoint_every=10**6)
    fit(model, [b], lambda items: items[0], decoders.train_step, cfg, device="cpu")
    assert all(torch.equal(v, hf.feature_extractor.state_dict()[k]) for k, v in cnn.items())
    assert any(not torch.equal(v, hf.encoder.state_dict()[k]) for k, v in rest.items())
    loaded = decoders.load(model.save_pretrained(tmp_path / "dec"))
    model.eval()
    nb = batch_of([0.6, 0.5], with_vertices=False)
    with torch.no_grad():
        out = model.generate_batch(nb)
        assert out.shape[:2] == (2, 18)  # duration x fps frames without vertices
        torch.testing.assert_close(loaded.generate_batch(nb), out, atol=0, rtol=0)


def test_pipeline_finetunes_the_encoder(smoke_corpus, tmp_path):
    folder = tiny_hf(tmp_path / "hf")
    rec = train_decoder(DecoderRecipe("reference", encoder=folder, finetune_encoder=True, max_steps=2, batch_size=2),
                        smoke_corpus, tmp_path / "run")  # fmt: skip
    assert rec["config"]["encoder"] == folder and rec["n_trainable"] < rec["n_parameters"]
    res = evaluate_decoder(tmp_path / "run", conditions=0, with_baseline=False)
    assert np.isfinite(res["metrics"]["lve"])
