"""Diffusion for the hosts that sample (FaceDiffuser, LG-LDM): schedules and samplers from ``diffusers``.

    diff = Diffusion(n_steps=1000)                            # cosine schedule, x0-prediction
    x_t = diff.add_noise(x0, t, noise)                       # training: t = diff.timesteps(B)
    x0 = diff.sample(lambda x_t, t: net(x_t, t), (B, T, V, 3), sampler="ddim", steps=50, seed=0)

Both hosts predict x0 (``prediction_type="sample"``) under the cosine schedule of Nichol & Dhariwal
(``squaredcos_cap_v2``), as the official FaceDiffuser and LG-LDM code. Samplers:

* ``"ddim"``: :class:`diffusers.DDIMScheduler` with eta 0, any number of steps (LG-LDM's test scripts: 50-100);
* ``"ddpm"``: ancestral sampling over every training step (FaceDiffuser's): the same DDIM step with eta 1,
  whose posterior is DDPM's (Song et al. 2021, eq. 16); equal to :class:`diffusers.DDPMScheduler`'s step
  with the same noise (tested). It goes through DDIM's step because that step takes its noise as an
  argument: the noise here is a function of (seed, step, frame) only, so a clip gets the same sample
  whatever batch and padding it is generated in (the contract), and the same seed the same sample.
  Clips of one batch share that noise pattern; they differ by their conditioning.

The denoiser is called once per sampling step on conditioning computed before the loop: the audio
features and F_s are encoded once per clip, not once per step (the official code re-ran HuBERT at
every step).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from diffusers import DDIMScheduler, DDPMScheduler

SAMPLERS = ("ddim", "ddpm")
SCHEDULES = {"cosine": "squaredcos_cap_v2", "linear": "linear"}


class Diffusion:
    """The forward process (training) and the samplers of one noise schedule."""

    def __init__(self, n_steps: int = 1000, schedule: str = "cosine"):
        if n_steps < 1:
            raise ValueError(f"diffusion steps must be >= 1, got {n_steps}")
        if schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {sorted(SCHEDULES)}, got {schedule!r}")
        self.n_steps, self.schedule = n_steps, schedule
        kw = dict(num_train_timesteps=n_steps, beta_schedule=SCHEDULES[schedule], prediction_type="sample",
                  clip_sample=False)  # fmt: skip
        self.train_scheduler = DDPMScheduler(**kw)  # q(x_t | x0); variance "fixed_small"
        self._kw = kw

    def timesteps(self, B: int, device=None) -> torch.Tensor:
        """(B,) training steps, uniform over 0..n_steps-1 (the global torch RNG)."""
        return torch.randint(0, self.n_steps, (B,), device=device)

    def add_noise(self, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) noise; t (B,)."""
        return self.train_scheduler.add_noise(x0, noise, t.to(x0.device))

    def sampler(self, sampler: str = "ddim", steps: int | None = None) -> tuple[DDIMScheduler, float]:
        """The scheduler with its timesteps set, and eta: ("ddim", steps) or ("ddpm", every step)."""
        if sampler not in SAMPLERS:
            raise ValueError(f"sampler must be one of {SAMPLERS}, got {sampler!r}")
        n = self.n_steps if sampler == "ddpm" or steps is None else int(steps)
        if not 1 <= n <= self.n_steps:
            raise ValueError(f"sampling steps must be in 1..{self.n_steps}, got {n}")
        sched = DDIMScheduler(**self._kw, set_alpha_to_one=True)
        sched.set_timesteps(n)
        return sched, (1.0 if sampler == "ddpm" else 0.0)

    @torch.no_grad()
    def sample(self, denoise: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], shape: tuple[int, ...],
               sampler: str = "ddim", steps: int | None = None, seed: int | None = None,
               device=None, dtype=torch.float32) -> torch.Tensor:  # fmt: skip
        """x0 of shape (B, T, ...) from noise: ``denoise(x_t, t)`` -> x0_hat at each step, t (B,) long.

        seed: None draws one from the global torch RNG (``torch.manual_seed`` makes it repeatable)."""
        sched, eta = self.sampler(sampler, steps)
        if seed is None:
            seed = int(torch.randint(0, 2**62, ()))
        x = frame_noise(shape, seed, 0).to(device=device, dtype=dtype)
        for k, t in enumerate(sched.timesteps.tolist()):
            x0 = denoise(x, torch.full((shape[0],), t, dtype=torch.long, device=device))
            noise = frame_noise(shape, seed, k + 1).to(device=device, dtype=dtype) if eta > 0 else None
            x = sched.step(x0, t, x, eta=eta, variance_noise=noise).prev_sample
        return x


def frame_noise(shape: tuple[int, ...], seed: int, step: int) -> torch.Tensor:
    """Standard normal noise (B, T, ...) that depends on (seed, step, frame) only: frame t's values are the
    same for any T and B (every item of the batch gets the same pattern)."""
    B, T, rest = shape[0], shape[1], shape[2:]
    n = math.prod(rest)
    row = -(-n // 16) * 16  # torch's CPU normal sampler works in blocks of 16: whole blocks keep a prefix exact
    g = torch.Generator().manual_seed((seed * 1_000_003 + step) % 2**63)
    z = torch.randn(T * row, generator=g).view(T, row)[:, :n].reshape(1, T, *rest)
    return z.expand(B, *z.shape[1:]).contiguous()
