"""FaceDiffuser: the plug runs once per clip whatever the number of sampling steps, seeds, both samplers,
the causal GRU (padding after a clip cannot reach it), the unseen speaker's scale, the paper's shapes.

The shared contract is tests/decoders/test_contract.py; the samplers' distributions on a toy case are in
tests/decoders/test_diffusion.py.
"""

from __future__ import annotations

import pytest
import torch

from w2s.data.batch import pad
from w2s.decoders import DecoderError
from w2s.decoders.facediffuser import FaceDiffuser, FaceDiffuserConfig

pytestmark = pytest.mark.usefixtures("one_torch_thread")

V, D, N_SUBJECTS = 7, 5, 3


def small(seed: int = 0, **overrides) -> FaceDiffuser:
    """A tiny model moved off its initial values: the zero final layer would make every sample the template."""
    torch.manual_seed(seed)
    cfg = FaceDiffuserConfig.tiny(n_vertices=V, audio_dim=D, n_subjects=N_SUBJECTS, fused_dim=8, gru_dim=8,
                                  diffusion_steps=30, sample_steps=5, **overrides)  # fmt: skip
    model = FaceDiffuser(cfg)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return model.eval()


def inputs(lengths=(6, 4), seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    F_p, mask = pad([torch.randn(t, D, generator=g) for t in lengths])
    template = torch.randn(len(lengths), V, 3, generator=g)
    subject = torch.tensor([0, 2, -1][: len(lengths)])
    return (
        F_p,
        template,
        subject,
        None,
        mask,
    )  # generate's positional order: F_p, template, subject, F_s, mask


@pytest.mark.parametrize("sampler, steps, n_calls", [("ddpm", None, 30), ("ddim", 5, 5), ("ddim", 17, 17)])
def test_the_plug_runs_once_per_clip_whatever_the_number_of_steps(sampler, steps, n_calls):
    model = small()
    fused, denoised = [], []
    h1 = model.fusion.register_forward_hook(lambda *a: fused.append(1))
    h2 = model.gru.register_forward_hook(lambda *a: denoised.append(1))
    model.generate(*inputs(), sampler=sampler, steps=steps, seed=0)
    h1.remove(), h2.remove()
    assert len(fused) == 1 and len(denoised) == n_calls


def test_same_seed_same_sample_another_seed_another():
    model, args = small(), inputs()
    a = model.generate(*args, seed=3)
    torch.testing.assert_close(model.generate(*args, seed=3), a, atol=0, rtol=0)
    assert not torch.allclose(model.generate(*args, seed=4), a, atol=1e-4)
    torch.manual_seed(7)  # seed None: drawn from the global RNG
    b = model.generate(*args)
    torch.manual_seed(7)
    torch.testing.assert_close(model.generate(*args), b, atol=0, rtol=0)


def test_ddpm_and_ddim_both_give_finite_samples_zero_past_each_length():
    model, args = small(), inputs()
    ddpm = model.generate(*args, sampler="ddpm", seed=0)
    ddim = model.generate(*args, sampler="ddim", steps=10, seed=0)
    for out in (ddpm, ddim):
        assert out.shape == (2, 6, V, 3) and torch.isfinite(out).all()
        assert not out[1, 4:].any() and out[1, :4].abs().sum() > 0
    assert not torch.allclose(ddpm, ddim, atol=1e-4)  # other paths: other samples


def test_bad_sampler_options_name_the_option():
    model, args = small(), inputs()
    with pytest.raises(DecoderError, match="sampler must be one of"):
        model.generate(*args, sampler="euler")
    with pytest.raises(DecoderError, match="steps must be in 1..30"):
        model.generate(*args, steps=31)
    with pytest.raises(DecoderError, match="'ddpm' runs every step"):
        model.generate(*args, sampler="ddpm", steps=5)
    with pytest.raises(DecoderError, match="sample_steps must be in 1..diffusion_steps"):
        FaceDiffuserConfig.tiny(diffusion_steps=10, sample_steps=20)


def test_the_gru_is_causal_so_padding_cannot_reach_the_valid_frames():
    """Frame k and later (what padding is, after a clip's valid frames) change, frames before k do not."""
    model = small()
    g = torch.Generator().manual_seed(2)
    B, T, k = 2, 9, 5
    x_t, cond = torch.randn(B, T, V, 3, generator=g), torch.randn(B, T, 8, generator=g)
    t, template = torch.tensor([3, 17]), torch.randn(B, V, 3, generator=g)
    scale = model.identity_scale(torch.tensor([0, 1]), B, cond)
    with torch.no_grad():
        out = model.denoise(x_t, t, cond, scale, template)
        x_t[:, k:] = 100.0
        cond[:, k:] = -50.0
        junk = model.denoise(x_t, t, cond, scale, template)
    torch.testing.assert_close(junk[:, :k], out[:, :k], atol=1e-6, rtol=0)
    assert not torch.allclose(junk[:, k:], out[:, k:], atol=1e-3)


def test_an_unseen_speaker_gets_the_mean_training_scale():
    model = small()
    ref = torch.zeros(1)
    seen = model.identity_scale(torch.arange(N_SUBJECTS), N_SUBJECTS, ref)  # (n, 1, G)
    unseen = model.identity_scale(torch.tensor([-1]), 1, ref)
    torch.testing.assert_close(unseen[0], seen.mean(0), atol=1e-6, rtol=0)
    with pytest.raises(DecoderError, match=r"subject must be \(1,\) indices in \[0, 3\) or -1"):
        model.identity_scale(torch.tensor([3]), 1, ref)


@pytest.mark.parametrize("target", ["vertices", "offsets"])
def test_an_untrained_model_outputs_the_template(target):
    """The zero final layer: x0_hat = template (noise on the vertices) or 0 + template (on the offsets)."""
    torch.manual_seed(0)
    model = FaceDiffuser(FaceDiffuserConfig.tiny(n_vertices=V, audio_dim=D, n_subjects=N_SUBJECTS, target=target,
                                                 diffusion_steps=20, sample_steps=4)).eval()  # fmt: skip
    args = inputs()
    out, template = model.generate(*args, seed=0), args[1]
    torch.testing.assert_close(out[0], template[0].expand(6, V, 3), atol=1e-6, rtol=0)
    torch.testing.assert_close(out[1, :4], template[1].expand(4, V, 3), atol=1e-6, rtol=0)


def test_paper_preset_has_the_originals_shapes():
    with torch.device("meta"):
        model = FaceDiffuser(FaceDiffuserConfig.paper(semantic_source="wav2sem"))
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert shapes["fusion.W_out.weight"] == (256, 768)  # cond_projection
    assert shapes["input_projection.0.weight"] == (512, 15069)  # Linear(3V -> 2L)
    assert shapes["input_projection.1.weight"] == (1, 1, 9)  # Conv1d(1, 1, k 9)
    assert shapes["time_mlp.0.weight"] == (256, 1000)  # one-hot over 1000 steps -> L
    assert shapes["norm_cond.weight"] == (768,)
    assert shapes["gru.weight_ih_l0"] == (3 * 256, 768) and shapes["gru.weight_hh_l1"] == (3 * 256, 256)
    assert "gru.weight_ih_l2" not in shapes and model.gru.dropout == 0.3
    assert shapes["final_layer.weight"] == (15069, 256) and shapes["obj_vector.weight"] == (256, 8)
    assert model.diffusion.n_steps == 1000 and model.diffusion.schedule == "cosine"
    assert FaceDiffuser.train_recipes["paper"] == dict(epochs=50, batch_size=1, lr=1e-4, weight_decay=0.0,
                                                       warmup_steps=0)  # fmt: skip
