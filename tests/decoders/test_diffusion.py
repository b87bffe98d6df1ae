"""The shared diffusion sampler (w2s.decoders.diffusion): DDPM equals diffusers' DDPMScheduler step for
step, DDIM with every step matches DDPM's distribution on a toy case, noise is batch-invariant."""

from __future__ import annotations

import pytest
import torch
from diffusers import DDPMScheduler

from w2s.decoders.diffusion import Diffusion, frame_noise


def test_frame_noise_depends_on_seed_step_and_frame_only():
    long, short = frame_noise((3, 9, 10, 3), seed=4, step=2), frame_noise((1, 4, 10, 3), seed=4, step=2)
    torch.testing.assert_close(long[1, :4], short[0], atol=0, rtol=0)  # any length, any position in a batch
    assert not torch.equal(frame_noise((1, 4, 10, 3), 4, 3), short)  # another step
    assert not torch.equal(frame_noise((1, 4, 10, 3), 5, 2), short)  # another seed
    z = frame_noise((1, 400, 50, 3), 0, 0)
    assert abs(float(z.mean())) < 0.02 and abs(float(z.std()) - 1) < 0.02


def test_ddpm_sampler_equals_diffusers_ddpm_scheduler_step_for_step():
    """Our "ddpm" (DDIM's step with eta 1 over every step) against DDPMScheduler.step with the same noise."""
    diff = Diffusion(n_steps=50)
    ref = DDPMScheduler(num_train_timesteps=50, beta_schedule="squaredcos_cap_v2", prediction_type="sample",
                        clip_sample=False)  # fmt: skip
    ref.set_timesteps(50)
    sched, eta = diff.sampler("ddpm")
    assert eta == 1.0 and sched.timesteps.tolist() == ref.timesteps.tolist()
    g = torch.Generator().manual_seed(0)
    x = torch.randn(1, 6, 4, generator=g)
    ours = theirs = x
    for t in ref.timesteps.tolist():
        x0 = torch.tanh(theirs) * 0.5  # some denoiser
        noise = torch.randn(theirs.shape, generator=torch.Generator().manual_seed(t))
        theirs = ref.step(x0, t, theirs, generator=torch.Generator().manual_seed(t)).prev_sample
        ours = sched.step(x0, t, ours, eta=eta, variance_noise=noise).prev_sample
        torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("sampler, steps", [("ddpm", None), ("ddim", 100), ("ddim", 20)])
def test_samplers_reach_the_data_distribution_on_a_toy_case(sampler, steps):
    """Data N(mu, s^2) in 1-D with its exact x0 predictor E[x0 | x_t]: DDPM and DDIM with every step give
    mean mu and std s; fewer DDIM steps keep the mean."""
    mu, s = 2.0, 0.5
    diff = Diffusion(n_steps=100)
    abar = diff.train_scheduler.alphas_cumprod

    def denoise(x, t):
        a = abar[t].view(-1, *[1] * (x.ndim - 1))
        return mu + s**2 * a.sqrt() / (a * s**2 + 1 - a) * (x - a.sqrt() * mu)

    x = diff.sample(denoise, (1, 4000, 1), sampler, steps, seed=3)  # 4000 frames: independent draws
    assert abs(float(x.mean()) - mu) < 0.05
    if steps != 20:
        assert abs(float(x.std()) - s) < 0.05, float(x.std())


def test_same_seed_same_sample_and_seed_from_the_global_rng():
    diff = Diffusion(n_steps=30)
    den = lambda x, t: 0.3 * x  # noqa: E731
    a = diff.sample(den, (2, 5, 3), "ddpm", seed=7)
    torch.testing.assert_close(diff.sample(den, (2, 5, 3), "ddpm", seed=7), a, atol=0, rtol=0)
    assert not torch.equal(diff.sample(den, (2, 5, 3), "ddpm", seed=8), a)
    torch.manual_seed(0)
    b = diff.sample(den, (2, 5, 3), "ddim", 10)
    torch.manual_seed(0)
    torch.testing.assert_close(diff.sample(den, (2, 5, 3), "ddim", 10), b, atol=0, rtol=0)


def test_bad_options_are_refused():
    with pytest.raises(ValueError, match="sampler must be one of"):
        Diffusion(10).sampler("euler")
    with pytest.raises(ValueError, match="sampling steps must be in 1..10"):
        Diffusion(10).sampler("ddim", 11)
    with pytest.raises(ValueError, match="schedule must be one of"):
        Diffusion(10, "sigmoid")
