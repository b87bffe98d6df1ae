"""Wav2Sem: parameter count of the paper's model, batching == one by one, save/load, init_from.

HF source checkpoints are tiny random wav2vec2/HuBERT models saved with ``save_pretrained`` in
tmp_path: the code path a hub name goes through, with nothing downloaded.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch
import torch.nn as nn

from w2s.data.batch import pad
from w2s.nn import n_parameters
from w2s.semantic.wav2sem import Wav2Sem, Wav2SemConfig, Wav2SemError

SR = 16_000
SMALL = dict(
    conv_dim=(16,) * 7, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
    num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2,
)  # fmt: skip
NO_DROPOUT = dict(
    hidden_dropout=0.0, attention_dropout=0.0, activation_dropout=0.0, feat_proj_dropout=0.0, layerdrop=0.0
)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def small(**kw) -> Wav2SemConfig:
    return Wav2SemConfig(**{**SMALL, "feat_extract_norm": "layer", "target_dim": 24, **NO_DROPOUT, **kw})


def _wav(n: int, seed: int = 0) -> torch.Tensor:
    """A vowel-ish signal (harmonics, wobbling pitch) plus noise, with a DC offset and an odd gain."""
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(n) / SR
    f0 = 110 + 15 * seed + 20 * torch.sin(2 * torch.pi * 3 * t)
    phase = 2 * torch.pi * torch.cumsum(f0, 0) / SR
    x = sum(torch.sin(k * phase) / k for k in range(1, 6)) * 0.2 + 0.01 * torch.randn(n, generator=g)
    return (0.3 + seed) * x + 0.05


# ---------------------------------------------------------------------------------------------
# configs and sizes


def test_paper_config_is_wav2vec2_base_with_94m_parameters():
    cfg = Wav2SemConfig.paper(target_dim=768)
    with torch.device("meta"):  # shapes only: no 94 M random numbers drawn
        model = Wav2Sem(cfg)
    assert isinstance(model.proj, nn.Identity)  # 768 -> 768: the transformer output is F_s
    n = n_parameters(model)
    assert abs(n - 94.37e6) < 1.5e6, n

    # the same count by hand from the architecture (the digest's 4.20 + 0.40 + 4.72 + 12 x 7.09 M)
    C, H, Ffn, K = 512, 768, 3072, cfg.conv_kernel
    conv = C * 1 * K[0] + sum(C * C * k for k in K[1:]) + 2 * C  # no bias; GroupNorm(512) affine on layer 0
    proj = 2 * C + C * H + H  # LayerNorm(512) + Linear(512 -> 768)
    pos = (
        H * (H // 16) * 128 + 128 + H + 2 * H
    )  # weight-normed grouped conv (v, g per kernel tap), bias; then LN
    layer = 4 * (H * H + H) + 2 * H + (H * Ffn + Ffn) + (Ffn * H + H) + 2 * H
    assert n == conv + proj + pos + 12 * layer
    assert (
        model.backbone.config.feat_extract_norm == "group" and not model.backbone.config.do_stable_layer_norm
    )
    assert len(model.backbone.encoder.layers) == 12 and model.backbone.config.num_attention_heads == 12
    assert not hasattr(model.backbone, "masked_spec_embed")  # no SpecAugment, as the official code


def test_tiny_forward_shapes_and_size():
    torch.manual_seed(0)
    model = Wav2Sem(Wav2SemConfig.tiny(target_dim=384)).eval()
    assert 2e6 <= n_parameters(model) <= 4e6
    assert model.frame_rate == 50.0 and model.n_frames(3 * SR) == 149 and model.n_frames(100) == 1
    audio, mask = pad([_wav(SR, 0), _wav(SR // 2, 1)])
    with torch.no_grad():
        out = model(audio, mask)
    assert out.shape == (2, 384) and out.dtype == torch.float32 and torch.isfinite(out).all()
    assert model.backbone.config.feat_extract_norm == "layer"  # batchable


def test_lite_config_is_small_and_projects():
    cfg = Wav2SemConfig.lite(input_dim=768, target_dim=384)
    model = Wav2Sem(cfg)
    assert cfg.hidden_size <= 256 and cfg.num_hidden_layers == 2
    assert n_parameters(model) < 2.5e6
    assert isinstance(model.proj, nn.Linear) and model.proj.out_features == 384


def test_config_errors():
    with pytest.raises(Wav2SemError, match="kind"):
        Wav2SemConfig(kind="video")
    with pytest.raises(Wav2SemError, match="input_dim"):
        Wav2SemConfig(kind="lite")
    with pytest.raises(Wav2SemError, match="divisible"):
        small(hidden_size=30, num_attention_heads=4)
    with pytest.raises(Wav2SemError, match="same"):
        small(conv_kernel=(10, 3))
    with pytest.raises(Wav2SemError, match=r"unknown Wav2Sem config fields \['n_layers'\]"):
        Wav2SemConfig.from_dict({**small().to_dict(), "n_layers": 3})
    cfg = small()
    assert Wav2SemConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg  # lists -> tuples


# ---------------------------------------------------------------------------------------------
# forward: batching, normalisation, masks


@pytest.mark.parametrize("norm", ["layer", "group"])
def test_padded_batch_equals_one_by_one(norm):
    """Masked pooling + valid conv lengths (layer norm), or one at a time (group norm): no leaks."""
    torch.manual_seed(0)
    model = Wav2Sem(small(feat_extract_norm=norm)).eval()
    wavs = [_wav(n, i) for i, n in enumerate((6_000, 9_000, 3_301))]
    audio, mask = pad(wavs)
    with torch.no_grad():
        batch = model(audio, mask)  # (3, 24)
        items = torch.cat([model(w[None]) for w in wavs])  # (3, 24)
        garbage = model(audio + 5.0 * (~mask), mask)  # whatever sits in the padding is ignored
    torch.testing.assert_close(batch, items, atol=1e-5, rtol=0)
    torch.testing.assert_close(garbage, items, atol=1e-5, rtol=0)
    assert not torch.allclose(batch[0], batch[1], atol=1e-3)


def test_group_norm_front_end_would_leak_padding():
    """Why the group-norm front end runs padded batches one at a time: its features see the padding."""
    torch.manual_seed(0)
    model = Wav2Sem(small(feat_extract_norm="group")).eval()
    w = _wav(8_000)
    with torch.no_grad():
        fe = model.backbone.feature_extractor
        alone = fe(w[None])[..., :24]  # (1, C, 24)
        padded = fe(torch.cat([w, torch.zeros(8_000)])[None])[..., :24]
    assert not torch.allclose(alone, padded, atol=1e-3)


def test_short_and_scaled_input():
    torch.manual_seed(0)
    model = Wav2Sem(small()).eval()
    w = _wav(10_000)
    with torch.no_grad():
        ref = model(w[None])
        # per-utterance normalisation: gain and DC offset do not matter
        torch.testing.assert_close(model((7.0 * w - 0.3)[None]), ref, atol=1e-5, rtol=0)
        # shorter than the 400-sample receptive field: zero-padded to one frame, also in a batch
        short = _wav(250, 3)
        a, m = pad([short, w])
        torch.testing.assert_close(model(a, m)[0], model(short[None])[0], atol=1e-5, rtol=0)
        torch.testing.assert_close(model(a, attention_mask=m), model(a, m))


def test_audio_input_errors():
    model = Wav2Sem(small())
    x = torch.zeros(2, 4_000)
    with pytest.raises(Wav2SemError, match=r"expected float \(B, N\)"):
        model(torch.zeros(4_000))
    with pytest.raises(Wav2SemError, match=r"expected shape \(2, 4000\), got \(2, 3999\)"):
        model(x, torch.ones(2, 3_999, dtype=torch.bool))
    holes = torch.ones(2, 4_000, dtype=torch.bool)
    holes[1, 100] = False
    with pytest.raises(Wav2SemError, match="item 1 is not left-aligned"):
        model(x, holes)
    empty = torch.ones(2, 4_000, dtype=torch.bool)
    empty[0] = False
    with pytest.raises(Wav2SemError, match="item 0 has no valid entries"):
        model(x, empty)
    with pytest.raises(Wav2SemError, match="not both"):
        model(x, holes, attention_mask=holes)


def test_lite_forward_and_padding():
    torch.manual_seed(0)
    model = Wav2Sem(Wav2SemConfig.lite(input_dim=40, target_dim=16, **NO_DROPOUT)).eval()
    feats = [torch.randn(t, 40) for t in (30, 12, 21)]
    x, mask = pad(feats)
    assert x.shape == (3, 30, 40)
    with torch.no_grad():
        batch = model(x, mask)
        items = torch.cat([model(f[None]) for f in feats])
        garbage = model(x + 100.0 * (~mask)[..., None], mask)
    assert batch.shape == (3, 16)
    torch.testing.assert_close(batch, items, atol=1e-5, rtol=0)
    torch.testing.assert_close(garbage, items, atol=1e-5, rtol=0)
    with pytest.raises(Wav2SemError, match=r"expected float \(B, T, 40\)"):
        model(torch.randn(2, 10, 39))
    np.testing.assert_allclose(
        model.predict([f.numpy() for f in feats], batch_size=2), items.numpy(), atol=1e-5
    )


def test_predict_matches_forward_and_restores_mode():
    torch.manual_seed(0)
    model = Wav2Sem(small(hidden_dropout=0.1)).train()
    wavs = [_wav(n, i) for i, n in enumerate((6_000, 9_000, 4_000))]
    out = model.predict([w.numpy() for w in wavs], batch_size=2)
    assert model.training  # restored
    model.eval()
    with torch.no_grad():
        ref = torch.cat([model(w[None]) for w in wavs]).numpy()
    assert out.shape == (3, 24) and out.dtype == np.float32
    np.testing.assert_allclose(out, ref, atol=1e-5)


# ---------------------------------------------------------------------------------------------
# train vs eval: why a frozen Wav2Sem must stay in eval mode


def test_eval_is_deterministic_train_is_not_and_freeze_keeps_eval():
    torch.manual_seed(0)
    model = Wav2Sem(Wav2SemConfig.tiny(target_dim=32, layerdrop=0.1))
    audio = _wav(SR // 2)[None]
    model.eval()
    with torch.no_grad():
        a, b = model(audio), model(audio)
    torch.testing.assert_close(a, b, atol=0, rtol=0)
    model.train()
    with torch.no_grad():
        c, d = model(audio), model(audio)
    assert not torch.allclose(c, d)  # dropout/LayerDrop: the official code's F_s changed every step

    host = nn.ModuleDict({"wav2sem": model.freeze(), "decoder": nn.Linear(32, 4)})
    host.train()  # what a host's training loop does: the official bug put Wav2Sem in train mode here
    assert host["decoder"].training and not model.training
    assert not any(p.requires_grad for p in model.parameters())
    with torch.no_grad():
        torch.testing.assert_close(model(audio), a, atol=0, rtol=0)
    model.unfreeze().train()
    assert model.training and all(p.requires_grad for p in model.parameters())


# ---------------------------------------------------------------------------------------------
# save / load


def test_save_load_roundtrip(tmp_path):
    torch.manual_seed(0)
    model = Wav2Sem(small(hidden_dropout=0.1))
    with torch.no_grad():  # non-trivial values everywhere, LayerNorm affines included
        for p in model.parameters():
            p.add_(0.01 * torch.randn_like(p))
    folder = model.save_pretrained(tmp_path / "w2s")
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.safetensors"]
    meta = json.loads((folder / "config.json").read_text())
    assert (
        meta["w2s_class"] == "Wav2Sem" and meta["format_version"] == 1 and meta["config"]["hidden_size"] == 32
    )

    loaded = Wav2Sem.from_pretrained(folder)
    assert not loaded.training and loaded.config == model.config
    sd, sd2 = model.state_dict(), loaded.state_dict()
    assert sd.keys() == sd2.keys()
    for k in sd:
        assert torch.equal(sd[k], sd2[k]), k
    audio, mask = pad([_wav(9_000), _wav(5_000, 1)])
    model.eval()
    with torch.no_grad():
        torch.testing.assert_close(loaded(audio, mask), model(audio, mask), atol=0, rtol=0)

    model.save_pretrained(folder)  # overwriting a checkpoint is fine; no temp folders left behind
    assert [p.name for p in tmp_path.iterdir()] == ["w2s"]
    Wav2Sem.from_pretrained(str(folder), map_location="cpu")


def test_save_does_not_overwrite_other_folders(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(Wav2SemError, match="not a Wav2Sem checkpoint; not overwriting"):
        Wav2Sem(small()).save_pretrained(tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_checkpoint_of_another_shape_names_the_tensor(tmp_path):
    from safetensors.torch import load_file, save_file

    folder = Wav2Sem(small()).save_pretrained(tmp_path / "w2s")
    state = load_file(folder / "model.safetensors")
    name = "backbone.encoder.layers.1.feed_forward.intermediate_dense.weight"
    assert state[name].shape == (64, 32)
    state[name] = torch.zeros(48, 32)
    save_file(state, folder / "model.safetensors")
    with pytest.raises(Wav2SemError, match=rf"{name}.*\(48, 32\).*\(64, 32\)"):
        Wav2Sem.from_pretrained(folder)

    del state[name]
    save_file(state, folder / "model.safetensors")
    with pytest.raises(Wav2SemError, match="missing tensors.*intermediate_dense"):
        Wav2Sem.from_pretrained(folder)


def test_not_a_checkpoint_errors(tmp_path):
    from transformers import Wav2Vec2Config, Wav2Vec2Model

    with pytest.raises(Wav2SemError, match="no config.json"):
        Wav2Sem.from_pretrained(tmp_path)
    hf = tmp_path / "hf"
    Wav2Vec2Model(Wav2Vec2Config(**SMALL)).save_pretrained(hf)
    with pytest.raises(Wav2SemError, match="not a Wav2Sem checkpoint.*'wav2vec2'.*init_from"):
        Wav2Sem.from_pretrained(hf)

    folder = Wav2Sem(small()).save_pretrained(tmp_path / "w2s")
    meta = json.loads((folder / "config.json").read_text())
    meta["config"]["n_experts"] = 4
    (folder / "config.json").write_text(json.dumps(meta))
    with pytest.raises(Wav2SemError, match="unknown Wav2Sem config fields \\['n_experts'\\]"):
        Wav2Sem.from_pretrained(folder)
    (folder / "config.json").write_text("{not json")
    with pytest.raises(Wav2SemError, match="unreadable JSON"):
        Wav2Sem.from_pretrained(folder)
    with pytest.raises(Wav2SemError, match="is a file"):
        Wav2Sem.from_pretrained(folder / "config.json")
    with pytest.raises(Wav2SemError, match="does not exist"):
        Wav2Sem.from_pretrained(tmp_path / "missing" / "w2s")


def test_hub_name_offline_says_not_in_local_cache(monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(Wav2SemError, match="not in the local Hugging Face cache"):
        Wav2Sem.from_pretrained("w2s-tests/not-a-cached-wav2sem")


# ---------------------------------------------------------------------------------------------
# init_from a wav2vec2 / HuBERT checkpoint


def _assert_copied(model: Wav2Sem, src_state: dict, report: dict):
    ours = model.backbone.state_dict()
    for name in report["copied"]:
        assert torch.equal(ours[name], src_state[name]), name


def test_init_from_wav2vec2_copies_every_tensor(tmp_path):
    from transformers import Wav2Vec2Config, Wav2Vec2Model

    torch.manual_seed(1)
    src = Wav2Vec2Model(Wav2Vec2Config(**SMALL, feat_extract_norm="layer"))
    src.save_pretrained(tmp_path / "w2v")
    theirs = src.state_dict()

    torch.manual_seed(2)
    model = Wav2Sem(small(init_from=str(tmp_path / "w2v")))
    report = model.init_report
    assert report["source_type"] == "wav2vec2" and report["skipped"] == {}
    assert report["unused_source"] == ["masked_spec_embed"]  # SpecAugment's vector: we have none
    assert set(report["copied"]) == set(model.backbone.state_dict())
    ours = model.backbone.state_dict()
    for name in ("feature_extractor.conv_layers.0.conv.weight", "feature_extractor.conv_layers.6.layer_norm.bias",
                 "encoder.pos_conv_embed.conv.parametrizations.weight.original1",
                 "encoder.layers.1.attention.q_proj.weight", "encoder.layers.1.final_layer_norm.weight"):  # fmt: skip
        assert torch.equal(ours[name], theirs[name]), name
    _assert_copied(model, theirs, report)
    # ... and the backbone computes what the source computes
    x = _wav(8_000)[None]
    x = (x - x.mean()) / torch.sqrt(x.var(unbiased=False) + 1e-7)
    src.eval(), model.eval()
    with torch.no_grad():
        torch.testing.assert_close(model.backbone(x).last_hidden_state, src(x).last_hidden_state)

    # the saved model does not go back to the source
    folder = model.save_pretrained(tmp_path / "w2s")
    (tmp_path / "w2v" / "model.safetensors").unlink()
    loaded = Wav2Sem.from_pretrained(folder)
    assert loaded.init_report is None and loaded.config.init_from == str(tmp_path / "w2v")
    assert torch.equal(loaded.backbone.state_dict()["encoder.layers.0.attention.k_proj.weight"],
                       theirs["encoder.layers.0.attention.k_proj.weight"])  # fmt: skip


def test_init_from_hubert_partial_match(tmp_path):
    """A group-norm HuBERT into a deeper, layer-norm Wav2Sem: what matches is copied, the rest reported."""
    from transformers import HubertConfig, HubertModel

    torch.manual_seed(1)
    src = HubertModel(HubertConfig(**SMALL))  # feat_extract_norm="group", like hubert-base
    src.save_pretrained(tmp_path / "hubert")
    theirs = src.state_dict()

    torch.manual_seed(2)
    model = Wav2Sem(small(num_hidden_layers=3, init_from=str(tmp_path / "hubert")))
    report = model.init_report
    assert report["source_type"] == "hubert"
    ours = model.backbone.state_dict()
    for name in ("feature_extractor.conv_layers.0.conv.weight", "feature_extractor.conv_layers.3.conv.weight",
                 "feature_projection.projection.weight", "encoder.layers.1.attention.out_proj.weight",
                 "encoder.layers.0.feed_forward.output_dense.bias"):  # fmt: skip
        assert name in report["copied"] and torch.equal(ours[name], theirs[name]), name
    _assert_copied(model, theirs, report)
    # GroupNorm(over time) affine != LayerNorm(per frame) affine, though the shapes match
    assert (
        "front-end norm is 'group'" in report["skipped"]["feature_extractor.conv_layers.0.layer_norm.weight"]
    )
    assert report["skipped"]["feature_extractor.conv_layers.1.layer_norm.weight"] == "not in the source"
    assert report["skipped"]["encoder.layers.2.attention.q_proj.weight"] == "not in the source"
    assert not torch.equal(
        ours["encoder.layers.2.attention.q_proj.weight"], theirs["encoder.layers.1.attention.q_proj.weight"]
    )


def test_like_and_init_from_errors(tmp_path):
    from transformers import BertConfig, BertModel, HubertConfig, HubertModel

    HubertModel(HubertConfig(**SMALL)).save_pretrained(tmp_path / "hubert")
    cfg = Wav2SemConfig.like(tmp_path / "hubert", target_dim=24)
    assert cfg.feat_extract_norm == "group" and cfg.conv_dim == (16,) * 7 and cfg.hidden_size == 32
    model = Wav2Sem(cfg)
    assert model.init_report["skipped"] == {}  # same shape: every tensor copied

    with pytest.raises(Wav2SemError, match="no tensor matches"):  # every size differs
        Wav2Sem(Wav2SemConfig(**{**SMALL, "conv_dim": (8,) * 7, "hidden_size": 24, "intermediate_size": 48, "num_conv_pos_embeddings": 12},
                              target_dim=8, init_from=str(tmp_path / "hubert")))  # fmt: skip
    with pytest.raises(Wav2SemError, match="cannot load it"):
        Wav2Sem(small(init_from=str(tmp_path / "nowhere")))
    BertModel(BertConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64,
                         vocab_size=50)).save_pretrained(tmp_path / "bert")  # fmt: skip
    with pytest.raises(Wav2SemError, match="not a wav2vec2-style speech encoder"):
        Wav2Sem(small(init_from=str(tmp_path / "bert")))
    with pytest.raises(Wav2SemError, match="not a wav2vec2-style speech encoder"):
        Wav2SemConfig.like(tmp_path / "bert")


def test_init_from_warns_on_pre_vs_post_ln(tmp_path):
    from transformers import Wav2Vec2Config, Wav2Vec2Model

    Wav2Vec2Model(
        Wav2Vec2Config(**SMALL, feat_extract_norm="layer", do_stable_layer_norm=True)
    ).save_pretrained(tmp_path / "w2v")
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        Wav2Sem(small(init_from=str(tmp_path / "w2v")))
    assert any("pre-LN" in str(x.message) for x in w)
