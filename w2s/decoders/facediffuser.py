"""FaceDiffuser (Stan et al., MIG 2023), the vertex model ``FaceDiff``: a GRU denoiser that predicts
clean vertices x0 from noisy ones, conditioned on the audio, the diffusion step and the speaker.

    model = FaceDiffuser(FaceDiffuserConfig.tiny(n_vertices=V, audio_dim=D, n_subjects=8))
    loss, logs = model.loss(batch)                                            # one random step t per clip
    verts = model.generate(F_p, template, subject, F_s, mask, sampler="ddim", steps=25, seed=0)

Per frame, as the official ``models.FaceDiff`` (parameter names are its names; cond_projection is ``fusion.W_out``):

    cond      = cond_projection(F_p)  = W_out(W_s F_s + F_p)                  the plug: W_out IS cond_projection
    x         = input_projection(x_t)   Linear(3V -> 2L), Conv1d(1, 1, k 9) over the feature axis,
                                        ReLU, MaxPool1d(2), ReLU -> L
    t_tokens  = time_mlp(one_hot(t))    Linear(diffusion_steps -> L), Mish
    h         = GRU(norm_cond([cond, x, t_tokens]))        LayerNorm(3L), 2 layers, unidirectional, dropout 0.3
    x0_hat    = final_layer(h * obj_vector(one_hot(subject))) + template      final_layer starts at 0

Diffusion (``w2s.decoders.diffusion``): cosine schedule over ``diffusion_steps`` (VOCASET 1000, BIWI 500),
x0-prediction, noise added to the absolute vertex positions (the original's ``x_start=vertice``); loss
plain MSE(x0_hat, x0) over the valid frames, t uniform. Sampling: ``"ddpm"`` = ancestral over every step
(the original ``p_sample_loop``), ``"ddim"`` = DDIM with ``sample_steps`` (the default here; the authors
ship a respacing module but neither used nor evaluated it). F_d is computed once per clip before the
sampling loop; the original re-ran HuBERT at every one of its 500-1000 steps.

Padding: the GRU is unidirectional, so a clip's valid frames, which come before its padding, never see
the padded frames; padded x0 is set to 0 in training, the loss counts valid frames only, and the output
is 0 past each clip's length.

Deviations from the official code, and why:
* audio: F_p comes from a frozen encoder at the face frame rate (``w2s.encoders.align_to_fps``: the mean of
  two 50 Hz frames at 25 fps, linear interpolation at 30 fps), one ``audio_dim`` vector per frame; the
  original *concatenated* two 50 Hz HuBERT frames (1536-d) and fine-tuned HuBERT layers 2-11. So
  ``cond_projection`` is Linear(audio_dim -> L), and it is the plug's W_out (``fused_dim`` = L). Wav2Sem's own
  integration put an extra 768 -> 768 FC before the pairing; two Linears in a row are one Linear;
* the speaker scale is Linear(n_subjects -> gru_dim) (the original: -> latent_dim, so it needed
  gru_dim == latent_dim); an unseen speaker (index -1, no one-hot in the original) gets the mean of the
  training speakers' scales (the one-hot replaced by 1/n everywhere): the average style, where the
  original could not run. Without subjects (n_subjects 0) the scale is 1;
* batches of any size with padding (the original: batch 1);
* sampling noise is a function of (seed, step, frame) (``Diffusion.sample``): the same clip gets the same
  sample in any batch, and the same seed the same sample;
* ``target="offsets"`` (not the default, not in the original) noises vertices minus template instead;
  see ``tiny`` for the measurement;
* training (``w2s.train``): AdamW with warmup and cosine decay; ``train_recipes["paper"]`` keeps the
  original's lr 1e-4, batch 1, 50 epochs and no weight decay (the original: Adam, constant lr).

``tiny`` (latent 64, 100 diffusion steps, DDIM 10; 100 training steps of batch 8): test LVE 1.47e-5 on the
default corpus against the 2.09e-5 baseline; see :meth:`FaceDiffuserConfig.tiny` for the measurements.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn as nn
import torch.nn.functional as F

from w2s.data.batch import Batch
from w2s.decoders.base import Decoder, DecoderConfig, DecoderError, register
from w2s.decoders.diffusion import SAMPLERS, SCHEDULES, Diffusion
from w2s.nn.layers import masked_mse

TARGETS = ("vertices", "offsets")


@dataclass(frozen=True)
class FaceDiffuserConfig(DecoderConfig):
    fused_dim: int = 256  # L, the latent width; W_out = cond_projection: audio_dim -> L
    gru_dim: int = 256  # GRU hidden size (gru_latent_dim)
    gru_layers: int = 2
    dropout: float = 0.3  # between the GRU layers
    kernel_size: int = 9  # input_projection's Conv1d over the feature axis
    diffusion_steps: int = 1000  # T_diff (VOCASET 1000, BIWI 500); the one-hot step embedding's size
    schedule: str = "cosine"  # beta schedule: "cosine" (the original) | "linear"
    sampler: str = "ddim"  # generate's default: "ddim" (sample_steps) | "ddpm" (every step, the original)
    sample_steps: int = 50  # DDIM steps
    target: str = "vertices"  # noised: "vertices" (absolute, the original) | "offsets" (minus template)

    def __post_init__(self):
        super().__post_init__()
        if self.gru_dim < 1 or self.gru_layers < 1 or not 0.0 <= self.dropout < 1.0:
            raise DecoderError(f"facediffuser: gru_dim, gru_layers must be >= 1 and dropout in [0, 1), got "
                               f"{self.gru_dim}, {self.gru_layers}, {self.dropout}")  # fmt: skip
        if self.kernel_size < 1 or self.kernel_size % 2 == 0:
            raise DecoderError(f"facediffuser: kernel_size must be odd and >= 1, got {self.kernel_size}")
        if self.diffusion_steps < 1:
            raise DecoderError(f"facediffuser: diffusion_steps must be >= 1, got {self.diffusion_steps}")
        if self.schedule not in SCHEDULES:
            raise DecoderError(
                f"facediffuser: schedule must be one of {sorted(SCHEDULES)}, got {self.schedule!r}"
            )
        if self.sampler not in SAMPLERS:
            raise DecoderError(f"facediffuser: sampler must be one of {SAMPLERS}, got {self.sampler!r}")
        if not 1 <= self.sample_steps <= self.diffusion_steps:
            raise DecoderError(f"facediffuser: sample_steps must be in 1..diffusion_steps ({self.diffusion_steps}), "
                               f"got {self.sample_steps}")  # fmt: skip
        if self.target not in TARGETS:
            raise DecoderError(f"facediffuser: target must be one of {TARGETS}, got {self.target!r}")

    @property
    def latent_dim(self) -> int:
        return self.fused_dim

    @classmethod
    def paper(cls, **overrides) -> FaceDiffuserConfig:
        """VOCASET: latent 256, GRU 256 (the released checkpoint; issue #8), FLAME 5023 vertices, 1000 steps,
        768-d audio features. BIWI: ``paper(n_vertices=23370, fused_dim=512, gru_dim=512, diffusion_steps=500,
        n_subjects=6)``. Generation samples with DDIM 50 unless ``sampler="ddpm"`` (the original: every step)."""
        base = dict(n_vertices=5023, audio_dim=768, fused_dim=256, gru_dim=256, n_subjects=8, semantic_dim=768,
                    diffusion_steps=1000)  # fmt: skip
        return cls(**{**base, **overrides})

    @classmethod
    def tiny(cls, **overrides) -> FaceDiffuserConfig:
        """The CPU default (latent and GRU 64, 100 diffusion steps, DDIM 10); the data's sizes come as overrides.

        Measured on the default corpus (V 2642, tiny-HuBERT F_p, batch 8, AdamW; test LVE of generated motion
        averaged over the 8 training identities; "template + mean training offset" 2.09e-5; 2 threads on
        cores shared with other jobs, load ~7): 150 steps lr 3e-3 1.48e-5 (train CPU 75 s); the same with
        ``target="offsets"`` 1.47e-5 (no gain: the original's absolute vertices are kept); 100 steps lr 5e-3
        1.47e-5 (CPU 50 s, the ``tiny`` recipe); lr 1e-2 1.57e-5; 70 steps 1.60e-5; latent 32 1.54e-5.
        At this data scale (offsets ~1e-3 m against unit noise) the denoiser barely reads x_t: on one model,
        DDIM 20 with seeds 0 and 1, DDIM 5 and DDPM over all 100 steps all gave 1.693e-5 (to 4 digits), so
        ``tiny`` samples with DDIM 10."""
        base = dict(fused_dim=64, gru_dim=64, semantic_dim=384, diffusion_steps=100, sample_steps=10)
        return cls(**{**base, **overrides})


@register("facediffuser")
class FaceDiffuser(Decoder):
    config_class = FaceDiffuserConfig
    family: ClassVar[str] = "diffusion"
    real_encoder: ClassVar[str] = "facebook/hubert-base-ls960"  # the original: HuBERT-base (fine-tuned there)
    plug_site: ClassVar[str] = "F_d (W_out = cond_projection) is the GRU denoiser's audio condition beside x_t and t, computed once per clip, not per denoising step"  # fmt: skip
    stochastic: ClassVar[bool] = True
    train_recipes: ClassVar[dict] = {  # paper: the original's lr, batch, epochs; tiny: measured (see tiny())
        "paper": dict(epochs=50, batch_size=1, lr=1e-4, weight_decay=0.0, warmup_steps=0),
        "tiny": dict(max_steps=100, batch_size=8, lr=5e-3, weight_decay=0.0, warmup_steps=10),
    }

    def __init__(self, config: FaceDiffuserConfig):
        super().__init__(config)  # the plug first: W_out is cond_projection
        L, G, V3 = config.fused_dim, config.gru_dim, 3 * config.n_vertices
        self.input_projection = nn.Sequential(  # per frame, on (B*T, 1, 3V)
            nn.Linear(V3, 2 * L),
            nn.Conv1d(1, 1, kernel_size=config.kernel_size, padding="same"),
            nn.ReLU(),
            nn.MaxPool1d(kernel_size=2, stride=2),
            nn.ReLU(),
        )
        self.time_mlp = nn.Sequential(nn.Linear(config.diffusion_steps, L), nn.Mish())
        self.norm_cond = nn.LayerNorm(3 * L)
        self.gru = nn.GRU(3 * L, G, num_layers=config.gru_layers, batch_first=True,
                          dropout=config.dropout if config.gru_layers > 1 else 0.0)  # fmt: skip
        self.final_layer = nn.Linear(G, V3)
        nn.init.zeros_(self.final_layer.weight)
        nn.init.zeros_(self.final_layer.bias)
        self.obj_vector = nn.Linear(config.n_subjects, G, bias=False) if config.n_subjects else None
        self.diffusion = Diffusion(config.diffusion_steps, config.schedule)

    def identity_scale(self, subject: torch.Tensor, B: int, ref: torch.Tensor) -> torch.Tensor:
        """subject (B,) in [0, n_subjects) or -1 (unseen: the mean of the training scales) -> (B, 1, gru_dim)."""
        n = self.config.n_subjects
        if tuple(subject.shape) != (B,) or ((subject < -1) | (subject >= max(n, 1))).any():
            raise DecoderError(
                f"facediffuser: subject must be ({B},) indices in [0, {n}) or -1, got {subject.tolist()}"
            )
        if self.obj_vector is None:
            return ref.new_ones(B, 1, self.config.gru_dim)
        seen = (subject >= 0).to(ref.dtype)[:, None]  # (B, 1)
        one_hot = F.one_hot(subject.clamp_min(0), n).to(ref.dtype) * seen + (1 - seen) / n  # (B, n)
        return self.obj_vector(one_hot).unsqueeze(1)  # (B, 1, G)

    def denoise(self, x_t: torch.Tensor, t: torch.Tensor, cond: torch.Tensor, scale: torch.Tensor,
                template: torch.Tensor) -> torch.Tensor:  # fmt: skip
        """x_t (B, T, V, 3), t (B,), cond F_d (B, T, L), scale (B, 1, G), template (B, V, 3) -> x0_hat (B, T, V, 3)."""
        B, T = x_t.shape[:2]
        x = self.input_projection(x_t.reshape(B * T, 1, -1)).view(B, T, -1)  # (B, T, L)
        one_hot = F.one_hot(t, self.config.diffusion_steps).to(x.dtype)  # (B, T_diff)
        t_tokens = self.time_mlp(one_hot)[:, None].expand(B, T, -1)  # (B, T, L)
        h, _ = self.gru(self.norm_cond(torch.cat([cond, x, t_tokens], -1)))  # (B, T, G)
        out = self.final_layer(h * scale).view_as(x_t)  # (B, T, V, 3)
        return out + template[:, None] if self.config.target == "vertices" else out

    def loss(self, batch: Batch) -> tuple[torch.Tensor, dict]:
        cond, mask = self.read_training_batch(batch)  # (B, T, L), (B, T)
        B, T = cond.shape[:2]
        x0 = batch.vertices if self.config.target == "vertices" else batch.vertices - batch.template[:, None]
        x0 = x0 * mask[..., None, None].to(x0.dtype)  # (B, T, V, 3), 0 on padding
        t = self.diffusion.timesteps(B, device=x0.device)  # (B,), the global RNG
        x_t = self.diffusion.add_noise(x0, t, torch.randn_like(x0))
        x0_hat = self.denoise(x_t, t, cond, self.identity_scale(batch.subject_index, B, cond), batch.template)
        loss = masked_mse(x0_hat, x0, mask)
        return loss, {"mse": float(loss.detach())}

    @torch.no_grad()
    def generate(self, F_p, template, subject, F_s=None, mask=None, sampler: str | None = None,
                 steps: int | None = None, seed: int | None = None) -> torch.Tensor:  # fmt: skip
        """As the contract. sampler: "ddim" | "ddpm" (default ``config.sampler``); steps: DDIM steps (default
        ``config.sample_steps``; "ddpm" runs every step); seed: the sample's noise (None: from the global RNG)."""
        c = self.config
        sampler = c.sampler if sampler is None else sampler
        if sampler not in SAMPLERS:
            raise DecoderError(f"facediffuser: sampler must be one of {SAMPLERS}, got {sampler!r}")
        if sampler == "ddpm" and steps not in (None, c.diffusion_steps):
            raise DecoderError(
                f"facediffuser: sampler 'ddpm' runs every step ({c.diffusion_steps}); got steps={steps}"
            )
        steps = c.sample_steps if steps is None else int(steps)
        if not 1 <= steps <= c.diffusion_steps:
            raise DecoderError(f"facediffuser: steps must be in 1..{c.diffusion_steps}, got {steps}")
        cond = self.read_audio(F_p, F_s, mask)  # (B, T, L): once per clip, not per step
        B, T = cond.shape[:2]
        scale = self.identity_scale(subject, B, cond)  # (B, 1, G)
        x0 = self.diffusion.sample(lambda x_t, t: self.denoise(x_t, t, cond, scale, template),
                                   (B, T, c.n_vertices, 3), sampler, steps, seed, cond.device, cond.dtype)  # fmt: skip
        verts = x0 if c.target == "vertices" else x0 + template[:, None]  # (B, T, V, 3)
        return verts if mask is None else verts * mask[:, :, None, None].to(verts.dtype)
