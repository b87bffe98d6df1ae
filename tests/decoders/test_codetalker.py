"""CodeTalker: the stage-1 VQ-VAE (codebook, straight-through, commitment loss, padding, size, cache) and
stage 2 (prepare freezes stage 1, cached == uncached generation, long input with a windowed decode).

The shared contract is tests/decoders/test_contract.py; these are the parts it cannot see.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

import w2s.decoders.codetalker_vqvae as vqmod
from w2s.data.batch import Batch, pad
from w2s.decoders.codetalker import CodeTalker, CodeTalkerConfig
from w2s.decoders.codetalker_vqvae import VQVAE, VQVAEConfig, load_or_train_vqvae
from w2s.nn.layers import n_parameters

pytestmark = pytest.mark.usefixtures("one_torch_thread")

V = 6
SMALL = dict(hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32, n_embed=32,
             face_quan_num=2, zquant_dim=8)  # fmt: skip
RECIPE = dict(steps=60, batch_size=4, lr=3e-3, warmup_steps=5)


def toy_offsets(n: int = 8, seed: int = 0) -> list[torch.Tensor]:
    """Sequences (T_i, V, 3): a few mouth-like oscillations along random directions, different lengths."""
    g = torch.Generator().manual_seed(seed)
    dirs = torch.randn(3, V, 3, generator=g)
    out = []
    for i in range(n):
        T = 12 + 3 * (i % 4)
        t = torch.arange(T, dtype=torch.float32)[:, None, None]
        f = 0.2 + 0.15 * (i % 3)
        out.append(0.5 * torch.sin(f * t) * dirs[i % 3] + 0.2 * torch.cos(0.5 * f * t) * dirs[(i + 1) % 3])
    return out


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    cache = tmp_path_factory.mktemp("vq-cache")
    torch.set_num_threads(1)
    model = load_or_train_vqvae(toy_offsets(), VQVAEConfig.tiny(n_vertices=V, **SMALL), 0, cache, **RECIPE)
    return model, cache


def test_codebook_is_used_after_a_short_fit(trained):
    model, _ = trained
    assert not model.record["cached"]
    x, mask = pad(toy_offsets())
    torch.manual_seed(0)
    with torch.no_grad():
        _, indices, _ = model(x, mask)
        fresh = VQVAE(model.config).eval().loss(x, mask)[1]["l1"]  # the same seed, untrained
        assert model.loss(x, mask)[1]["l1"] < min(0.5 * fresh, x[mask].abs().mean())  # learned something
    used = indices[mask]  # (n_valid, N)
    assert indices.dtype == torch.long and used.min() >= 0 and used.max() < model.config.n_embed
    assert used.unique().numel() > 1


def test_second_call_loads_the_cache_without_training(trained, monkeypatch):
    model, cache = trained
    monkeypatch.setattr(
        vqmod, "fit", lambda *a, **k: pytest.fail("trained again instead of loading the cache")
    )
    again = load_or_train_vqvae(toy_offsets(), VQVAEConfig.tiny(n_vertices=V, **SMALL), 0, cache, **RECIPE)
    assert again.record["cached"] and again.record["vqvae"] == model.record["vqvae"]
    for k, v in model.state_dict().items():
        assert torch.equal(again.state_dict()[k], v), k
    changed = [o + 0.01 for o in toy_offsets()]  # other data: another key, so it trains (fit is mocked)
    with pytest.raises(pytest.fail.Exception):
        load_or_train_vqvae(changed, VQVAEConfig.tiny(n_vertices=V, **SMALL), 0, cache, **RECIPE)


def test_straight_through_gradient_and_forward_value():
    torch.manual_seed(0)
    model = VQVAE(VQVAEConfig.tiny(n_vertices=V, **SMALL)).eval()
    x = toy_offsets(1)[0][None]  # (1, T, V, 3)
    z_q, indices, _ = model.quantize(model.encode(x))
    torch.testing.assert_close(z_q, model.codebook.weight[indices], atol=1e-6, rtol=0)  # the chosen rows
    model.decode(z_q).pow(2).sum().backward()  # the reconstruction alone (no vq_loss): only straight-through
    for p in (model.vertice_mapping.weight, model.encoder.blocks[0].to_qkv.weight):
        assert p.grad is not None and p.grad.abs().sum() > 0
    assert (
        model.codebook.weight.grad is None or not model.codebook.weight.grad.any()
    )  # codes: from vq_loss only


def test_commitment_loss_on_a_hand_case():
    model = VQVAE(VQVAEConfig.tiny(n_vertices=V, hidden_size=4, num_attention_heads=1, face_quan_num=2,
                                   zquant_dim=2, n_embed=2))  # fmt: skip
    with torch.no_grad():
        model.codebook.weight.copy_(torch.tensor([[0.0, 0.0], [1.0, 1.0]]))
    z = torch.tensor([[0.2, 0.1], [0.9, 1.2]]).view(1, 1, 2, 2)
    z = torch.cat([z, torch.full_like(z, 50.0)], 1).requires_grad_()  # frame 1 is padding
    mask = torch.tensor([[True, False]])
    z_q, indices, loss = model.quantize(z, mask)
    assert indices[0, 0].tolist() == [0, 1]
    e = torch.tensor([[0.0, 0.0], [1.0, 1.0]])
    sq = (e - z[0, 0].detach()).pow(2).mean()  # (0.05 + 0.05) / 4 = 0.025
    torch.testing.assert_close(loss, torch.tensor(0.25 * 0.025 + 0.025))
    torch.testing.assert_close(loss, 1.25 * sq)
    loss.backward()  # d/dz: beta * 2 (z - e) / n;  d/de: 2 (e - z) / n, n = 4 valid elements
    torch.testing.assert_close(z.grad[0, 0], 0.25 * 2 * (z[0, 0].detach() - e) / 4)
    assert not z.grad[0, 1].any()
    torch.testing.assert_close(model.codebook.weight.grad, 2 * (e - z[0, 0].detach()) / 4)


def test_padded_batch_equals_item_by_item():
    torch.manual_seed(0)
    model = VQVAE(VQVAEConfig.tiny(n_vertices=V, **SMALL)).eval()
    items = toy_offsets(3)
    x, mask = pad(items)
    x[~mask] = 100.0  # junk in the padding
    with torch.no_grad():
        recon, indices, _ = model(x, mask)
        assert not recon[~mask].any()
        for i, item in enumerate(items):
            r, idx, _ = model(item[None])
            n = len(item)
            torch.testing.assert_close(recon[i, :n], r[0], atol=1e-5, rtol=1e-5)
            assert torch.equal(indices[i, :n], idx[0])
        # vq_loss and L1 count valid frames only: a batch of one item with padding = the item alone
        one, one_mask = x[2:3, :], mask[2:3]
        torch.testing.assert_close(model.loss(one, one_mask)[0], model.loss(items[2][None])[0])


def test_conv_block_equals_torch_replicate_conv_and_instance_norm():
    """Unpadded, the masked conv + norm is nn.Conv1d(padding_mode='replicate') + LeakyReLU + InstanceNorm1d."""
    torch.manual_seed(0)
    block = vqmod.ConvBlock(8, 5, 0.2)
    ref = torch.nn.Conv1d(8, 8, 5, padding=2, padding_mode="replicate")
    ref.load_state_dict(block.conv.state_dict())
    x = torch.randn(2, 9, 8)
    want = torch.nn.InstanceNorm1d(8)(F.leaky_relu(ref(x.transpose(1, 2)), 0.2)).transpose(1, 2)
    torch.testing.assert_close(block(x, torch.ones(2, 9, dtype=torch.bool)), want, atol=1e-5, rtol=1e-5)


def test_one_frame_decode_equals_the_originals_duplicate_trick():
    torch.manual_seed(0)
    model = VQVAE(VQVAEConfig.tiny(n_vertices=V, **SMALL)).eval()
    z_q = model.quantize(torch.randn(1, 1, 2, 8))[0]
    with torch.no_grad():
        torch.testing.assert_close(model.decode(z_q), model.decode(torch.cat([z_q, z_q], 1))[:, :1])


def test_paper_preset_has_the_references_parameter_count():
    cfg = VQVAEConfig.paper()
    with torch.device("meta"):
        model = VQVAE(cfg)
    h, f, L, io = cfg.hidden_size, cfg.intermediate_size, cfg.num_hidden_layers, 3 * cfg.n_vertices
    block = 2 * 2 * h + 3 * h * h + (h * h + h) + (h * f + f) + (f * h + h)  # 2 LN, qkv (no bias), out, MLP
    stack = (5 * h * h + h) + (h * h + h) + L * block  # conv k5, linear, transformer
    expected = (io * h + h) + stack + cfg.n_embed * cfg.zquant_dim + stack + (h * io + io)
    assert n_parameters(model) == expected == 131_653_341
    assert 125e6 <= expected <= 135e6  # the reference: about 130 M


def small_codetalker(seed: int = 0, n_layers: int = 2) -> CodeTalker:
    torch.manual_seed(seed)
    vq = {f"vq_{k}": v for k, v in SMALL.items()}
    cfg = CodeTalkerConfig.tiny(n_vertices=V, audio_dim=5, n_subjects=3, fused_dim=16, d_ff=32, n_layers=n_layers,
                                stage1_steps=20, stage1_batch_size=4, stage1_lr=3e-3, **vq)  # fmt: skip
    model = CodeTalker(cfg)
    with torch.no_grad():  # away from the initial values (the head starts small)
        for p in model.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return model.eval()


def test_cached_generation_equals_uncached_and_a_full_window_is_exact():
    model = small_codetalker()
    g = torch.Generator().manual_seed(1)
    F_p, mask = pad([torch.randn(t, 5, generator=g) for t in (9, 4)])
    template, subject = torch.randn(2, V, 3, generator=g), torch.tensor([1, -1])
    cached = model.generate(F_p, template, subject, mask=mask)
    torch.testing.assert_close(
        model.generate(F_p, template, subject, mask=mask, cache=False), cached, atol=1e-5, rtol=1e-5
    )
    torch.testing.assert_close(
        model.generate(F_p, template, subject, mask=mask, window=9), cached, atol=1e-5, rtol=1e-5
    )
    assert not torch.allclose(model.generate(F_p, template, subject, mask=mask, window=2), cached, atol=1e-4)


def original_generate(model: CodeTalker, F_p, template, subject, mask):
    """The official loop, written out: the motion decoder re-run on the whole prefix, the whole code prefix
    decoded by stage 1 at every frame and its last frame's offsets embedded as the next token."""
    vq, N, D = model.vqvae, model.config.vq_face_quan_num, model.config.vq_zquant_dim
    F_d = model.read_audio(F_p, None, mask)  # (B, T, d)
    B, T, _ = F_d.shape
    style = model.style_of(subject, B, F_d)
    first = style if model.config.start_token == "style" else model.embed(template.new_zeros(B, 1, V, 3), style)
    tokens, feats = [first], []
    for _ in range(T):
        h = model.decoder(model.ppe(torch.cat(tokens, 1)), F_d)[:, -1:]
        feats.append(model.head(h).view(B, 1, N, D))
        codes = vq.quantize(torch.cat(feats, 1))[0]  # (B, i + 1, N, D)
        tokens.append(model.embed(vq.decode(codes)[:, -1:], style))
    verts = vq.decode(vq.quantize(torch.cat(feats, 1))[0], mask) + template.unsqueeze(1)
    return verts * mask[:, :, None, None]


def test_generation_equals_the_official_loop():
    """minGPT-style: the KV cache, stage 1's last block run for the last frame alone, and the feedback made
    one (d, h) map give what the original loop gives."""
    model = small_codetalker()
    g = torch.Generator().manual_seed(2)
    F_p, mask = pad([torch.randn(t, 5, generator=g) for t in (9, 6)])
    template, subject = torch.randn(2, V, 3, generator=g), torch.tensor([0, 2])
    with torch.no_grad():
        expected = original_generate(model, F_p, template, subject, mask)
    assert expected.abs().max() > 0.1
    torch.testing.assert_close(model.generate(F_p, template, subject, mask=mask), expected, atol=1e-5, rtol=1e-5)


def test_last_only_decode_is_the_last_frame_of_the_full_decode():
    torch.manual_seed(0)
    vq = VQVAE(VQVAEConfig.tiny(n_vertices=V, **{**SMALL, "num_hidden_layers": 2})).eval()  # a block before the last
    z = vq.quantize(torch.randn(3, 7, SMALL["face_quan_num"], SMALL["zquant_dim"]))[0]
    with torch.no_grad():
        torch.testing.assert_close(vq.decode(z, last_only=True), vq.decode(z)[:, -1:], atol=1e-6, rtol=1e-5)


@pytest.mark.slow  # 9000 sequential steps: ~10 s on an idle core
def test_five_minutes_of_input_with_a_window():
    model = small_codetalker(n_layers=1)
    T = 5 * 60 * 30  # 5 min at 30 fps: no 600-frame cap
    out = model.generate(torch.randn(1, T, 5), torch.zeros(1, V, 3), torch.tensor([0]), window=8)
    assert out.shape == (1, T, V, 3) and torch.isfinite(out).all()


def test_prepare_freezes_stage_1(tmp_path):
    model = small_codetalker()
    logs = model.prepare(toy_offsets(), seed=0, cache_dir=tmp_path)
    assert not logs["cached"] and (tmp_path / logs["vqvae"].split("/")[-1]).is_dir()
    assert not any(p.requires_grad for p in model.vqvae.parameters())
    assert all(p.requires_grad for n, p in model.named_parameters() if not n.startswith("vqvae."))
    before = {k: v.clone() for k, v in model.vqvae.state_dict().items()}
    model.train()
    assert model.training and not model.vqvae.training and not any(m.training for m in model.vqvae.modules())
    x, mask = pad(toy_offsets(2))
    batch = toy_batch(x, mask)
    loss, _ = model.loss(batch)
    loss.backward()
    assert all(p.grad is None for p in model.vqvae.parameters()) and model.head.weight.grad.abs().sum() > 0
    assert all(torch.equal(v, before[k]) for k, v in model.vqvae.state_dict().items())
    loaded = CodeTalker.from_pretrained(model.save_pretrained(tmp_path / "ct"))  # stays frozen when loaded
    assert not any(p.requires_grad for p in loaded.vqvae.parameters()) and not loaded.train().vqvae.training
    assert model.prepare(toy_offsets(), seed=0, cache_dir=tmp_path)["cached"]  # stage 1 found again


def toy_batch(offsets: torch.Tensor, mask: torch.Tensor):
    B, T = mask.shape
    template = torch.randn(B, V, 3)
    return Batch(template=template, subject_index=torch.tensor([0, -1][:B]), vertices=offsets + template[:, None],
                 vertex_mask=mask, features=torch.randn(B, T, 5), feature_mask=mask)  # fmt: skip


def test_config_mirrors_every_stage_1_field():
    cfg = CodeTalkerConfig.tiny(n_vertices=V, vq_n_embed=7)
    assert cfg.vqvae == VQVAEConfig.tiny(n_vertices=V, n_embed=7)
    assert CodeTalkerConfig.paper().vqvae == VQVAEConfig.paper()
    assert math.isclose(cfg.vq_beta, 0.25)
