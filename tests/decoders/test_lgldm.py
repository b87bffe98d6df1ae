"""LG-LDM: the plug runs once per clip whatever the number of denoising steps, seeded sampling, stage 1 is
CodeTalker's (the same module, the same cache, frozen), the vertex loss reaches the denoiser through the
straight-through quantiser, the denoiser's causal and alignment masks, the paper preset's shapes.

The shared contract is tests/decoders/test_contract.py; these are the parts it cannot see.
"""

from __future__ import annotations

from dataclasses import fields

import pytest
import torch

import w2s.decoders.codetalker_vqvae as vqmod
from w2s.data.batch import Batch, pad
from w2s.decoders import DecoderError, train_step
from w2s.decoders.codetalker import CodeTalker, CodeTalkerConfig
from w2s.decoders.lgldm import LGLDM, LGLDMConfig, VQStage1Config
from w2s.train import TrainConfig, fit

pytestmark = pytest.mark.usefixtures("one_torch_thread")

V, D = 6, 5  # vertices, F_p size
SMALL = dict(vq_hidden_size=16, vq_num_hidden_layers=1, vq_num_attention_heads=2, vq_intermediate_size=32,
             vq_n_embed=32, vq_face_quan_num=2, vq_zquant_dim=8, stage1_steps=20, stage1_batch_size=4,
             stage1_lr=3e-3)  # fmt: skip


def small_lgldm(seed: int = 0, perturb: bool = True, **overrides) -> LGLDM:
    torch.manual_seed(seed)
    cfg = LGLDMConfig.tiny(n_vertices=V, audio_dim=D, n_subjects=3, fused_dim=16, d_ff=32, n_layers=2,
                           diffusion_steps=16, sample_steps=4, **{**SMALL, **overrides})  # fmt: skip
    model = LGLDM(cfg)
    if perturb:  # away from the initial values (the zero output layer would ignore everything)
        with torch.no_grad():
            for p in model.parameters():
                p.add_(0.1 * torch.randn_like(p))
    return model.eval()


def toy_offsets(n: int = 6, seed: int = 0) -> list[torch.Tensor]:
    """Sequences (T_i, V, 3) of a few oscillations, different lengths."""
    g = torch.Generator().manual_seed(seed)
    dirs = torch.randn(2, V, 3, generator=g)
    out = []
    for i in range(n):
        t = torch.arange(8 + 2 * i, dtype=torch.float32)[:, None, None]
        out.append(0.5 * torch.sin((0.3 + 0.1 * i) * t) * dirs[i % 2])
    return out


def toy_batch(seed: int = 0) -> Batch:
    g = torch.Generator().manual_seed(seed)
    offsets, mask = pad(toy_offsets(2, seed))
    B, T = mask.shape
    template = torch.randn(B, V, 3, generator=g)
    return Batch(template=template, subject_index=torch.tensor([1, -1]), vertices=offsets + template[:, None],
                 vertex_mask=mask, features=torch.randn(B, T, D, generator=g), feature_mask=mask)  # fmt: skip


def run_generate(model: LGLDM, batch: Batch, **kw) -> torch.Tensor:
    return model.generate(batch.features, batch.template, batch.subject_index, mask=batch.feature_mask, **kw)


@pytest.mark.parametrize("sampler, steps, calls", [("ddim", 3, 3), ("ddim", 11, 11), ("ddpm", None, 16)])
def test_plug_runs_once_per_clip_whatever_the_number_of_steps(sampler, steps, calls):
    model, batch = small_lgldm(audio_mlp=True), toy_batch()
    count = {"fusion": 0, "audio_extract": 0, "denoiser": 0}
    for name in count:
        getattr(model, name).register_forward_hook(
            lambda *a, name=name: count.__setitem__(name, count[name] + 1)
        )
    out = run_generate(model, batch, sampler=sampler, steps=steps, seed=0)
    assert count == {"fusion": 1, "audio_extract": 1, "denoiser": calls}
    assert out.shape == (2, batch.features.shape[1], V, 3) and torch.isfinite(out).all()


def test_same_seed_same_sample_another_seed_another():
    model, batch = small_lgldm(), toy_batch()
    a = run_generate(model, batch, seed=3)
    torch.testing.assert_close(run_generate(model, batch, seed=3), a, atol=0, rtol=0)
    assert not torch.allclose(run_generate(model, batch, seed=4), a, atol=1e-4)
    torch.manual_seed(7)  # seed None: drawn from the global RNG
    b = run_generate(model, batch)
    torch.manual_seed(7)
    torch.testing.assert_close(run_generate(model, batch), b, atol=0, rtol=0)
    # the default sampler is the config's: DDIM with sample_steps
    torch.testing.assert_close(run_generate(model, batch, sampler="ddim", steps=4, seed=3), a, atol=0, rtol=0)


def test_stage_1_is_codetalkers_vqvae_and_stays_frozen(tmp_path):
    model = small_lgldm(perturb=False)
    assert isinstance(model.vqvae, vqmod.VQVAE)
    logs = model.prepare(toy_offsets(), seed=0, cache_dir=tmp_path)
    assert not logs["cached"] and bool(model.prepared)
    assert not any(p.requires_grad for p in model.vqvae.parameters())
    assert all(p.requires_grad for n, p in model.named_parameters() if not n.startswith("vqvae."))
    before = {k: v.clone() for k, v in model.vqvae.state_dict().items()}
    cfg = TrainConfig(max_steps=5, batch_size=2, lr=1e-2, warmup_steps=0, weight_decay=0.01, eval_every=0,
                      checkpoint_every=10**6, seed=0)  # fmt: skip
    head = model.latent_map_r.weight.detach().clone()
    fit(model, [toy_batch(0), toy_batch(1)], lambda items: items[0], train_step, cfg, device="cpu")
    assert not torch.equal(model.latent_map_r.weight, head)  # stage 2 trained
    assert all(torch.equal(v, before[k]) for k, v in model.vqvae.state_dict().items())  # stage 1 did not
    model.train()
    assert not any(m.training for m in model.vqvae.modules())
    loaded = LGLDM.from_pretrained(model.save_pretrained(tmp_path / "lgldm"))
    assert isinstance(loaded.vqvae, vqmod.VQVAE) and bool(loaded.prepared)
    assert not any(p.requires_grad for p in loaded.vqvae.parameters()) and not loaded.train().vqvae.training
    assert all(torch.equal(v, before[k]) for k, v in loaded.vqvae.state_dict().items())


def test_stage_1_cache_is_shared_with_codetalker(tmp_path, monkeypatch):
    torch.manual_seed(0)
    ct = CodeTalker(
        CodeTalkerConfig.tiny(n_vertices=V, audio_dim=D, n_subjects=3, fused_dim=16, d_ff=32, **SMALL)
    )
    first = ct.prepare(toy_offsets(), seed=0, cache_dir=tmp_path)
    assert not first["cached"]
    monkeypatch.setattr(vqmod, "fit", lambda *a, **k: pytest.fail("stage 1 trained again instead of shared"))
    model = small_lgldm(perturb=False)
    again = model.prepare(toy_offsets(), seed=0, cache_dir=tmp_path)
    assert again["cached"] and again["vqvae"] == first["vqvae"]
    for k, v in ct.vqvae.state_dict().items():
        assert torch.equal(model.vqvae.state_dict()[k], v), k


def test_stage_1_fields_and_presets_equal_codetalkers():
    ours = {f.name: f.default for f in fields(VQStage1Config)}
    theirs = {f.name: f.default for f in fields(CodeTalkerConfig) if f.name.startswith(("vq_", "stage1_"))}
    assert ours == theirs  # every stage-1 field, the same defaults
    for preset in ("tiny", "paper"):
        lg, ct = LGLDMConfig.preset(preset, n_vertices=V), CodeTalkerConfig.preset(preset, n_vertices=V)
        assert lg.vqvae == ct.vqvae  # the cache key's config
        assert lg.stage1_recipe == dict(
            steps=ct.stage1_steps, batch_size=ct.stage1_batch_size, lr=ct.stage1_lr,
            weight_decay=ct.stage1_weight_decay, warmup_steps=ct.stage1_warmup_steps,
            zero_init_output=ct.stage1_zero_init_output,
        )  # fmt: skip
    assert LGLDMConfig.tiny(n_vertices=V, vq_n_embed=7).vqvae.n_embed == 7


def test_vertex_loss_reaches_the_denoiser_through_the_straight_through_quantiser(tmp_path):
    model = small_lgldm(latent_weight=0.0)  # the vertex term alone
    model.prepare(toy_offsets(), seed=0, cache_dir=tmp_path)
    loss, logs = model.train().loss(toy_batch())
    assert logs["latent"] > 0 and loss.item() == pytest.approx(model.config.vertex_weight * logs["vertex"])
    loss.backward()
    for p in (model.latent_map_r.weight, model.denoiser.layers[0].linear1.weight, model.latent_map.weight,
              model.fusion.W_out.weight, model.time_map.weight):  # fmt: skip
        assert p.grad is not None and p.grad.abs().sum() > 0
    assert all(p.grad is None for p in model.vqvae.parameters())


def test_denoiser_is_causal_and_reads_its_own_audio_frame():
    model, T, k = small_lgldm(), 9, 4
    g = torch.Generator().manual_seed(0)
    x, audio = torch.randn(1, T, 16, generator=g), torch.randn(1, T, 16, generator=g)
    t, identity = torch.tensor([5]), model.identity(torch.tensor([0]), 1, audio)
    with torch.no_grad():
        ref = model.denoise(x, t, audio, identity)
        x2, audio2 = x.clone(), audio.clone()
        x2[:, k] += 1.0
        audio2[:, k] += 1.0
        for out in (model.denoise(x2, t, audio, identity), model.denoise(x, t, audio2, identity)):
            torch.testing.assert_close(
                out[:, :k], ref[:, :k], atol=0, rtol=0
            )  # the past does not see frame k
            assert not torch.allclose(out[:, k], ref[:, k], atol=1e-4)
        assert not torch.allclose(
            model.denoise(x, torch.tensor([6]), audio, identity), ref, atol=1e-4
        )  # t is read


def test_unseen_subject_has_no_identity_and_bad_subjects_are_errors():
    model = small_lgldm()
    ref = torch.zeros(2, 1, 16)
    ident = model.identity(torch.tensor([-1, 2]), 2, ref)
    assert not ident[0].any() and ident[1].any()
    with pytest.raises(DecoderError, match="subject must be"):
        model.identity(torch.tensor([3, 0]), 2, ref)


def test_bad_options_are_errors():
    with pytest.raises(DecoderError, match="sampler must be one of"):
        LGLDMConfig.tiny(n_vertices=V, sampler="euler")
    with pytest.raises(DecoderError, match="sample_steps must be in 1..diffusion_steps=100"):
        LGLDMConfig.tiny(n_vertices=V, sample_steps=101)
    with pytest.raises(DecoderError, match="schedule must be one of"):
        LGLDMConfig.tiny(n_vertices=V, schedule="sigmoid")
    with pytest.raises(DecoderError, match="lgldm stage 1: face_quan_num"):
        LGLDMConfig.tiny(n_vertices=V, vq_face_quan_num=3)
    model, batch = small_lgldm(), toy_batch()
    with pytest.raises(DecoderError, match="sampling steps must be in 1..16, got 17"):
        run_generate(model, batch, steps=17)
    with pytest.raises(DecoderError, match="sampler must be one of"):
        run_generate(model, batch, sampler="euler")
    with pytest.raises(DecoderError, match=r"unknown options \['cache'\]"):
        run_generate(model, batch, cache=True)


def test_paper_preset_has_the_digests_shapes():
    cfg = LGLDMConfig.paper(semantic_source="wav2sem")
    with torch.device("meta"):
        model = LGLDM(cfg)
    d = 1024
    assert (cfg.fused_dim, cfg.n_layers, cfg.n_heads, cfg.d_ff) == (d, 8, 8, 2048)
    assert (cfg.vq_face_quan_num, cfg.vq_zquant_dim, cfg.vq_n_embed) == (
        16,
        64,
        256,
    ) and cfg.vqvae == CodeTalkerConfig.paper().vqvae
    assert (cfg.diffusion_steps, cfg.schedule, cfg.sampler, cfg.sample_steps) == (1000, "cosine", "ddim", 100)
    assert len(model.denoiser.layers) == 8 and model.denoiser.n_heads == 8
    assert model.denoiser.layers[0].linear1.weight.shape == (2048, d)
    assert model.fusion.W_out.weight.shape == (d, 1024)  # HuBERT-large-ft -> d
    assert model.audio_extract[1].weight.shape == (d, d)  # the MLP's Mish-Linear
    assert model.time_map.weight.shape == (d, 1000)  # one-hot(1000) -> d
    assert model.latent_map.weight.shape == (d, 16 * 64) and model.latent_map_r.weight.shape == (16 * 64, d)
    assert model.obj_vector.weight.shape == (d, 8)
    assert LGLDM.train_recipes["paper"] == dict(
        epochs=100, batch_size=1, lr=1e-4, weight_decay=0.01, warmup_steps=0
    )
