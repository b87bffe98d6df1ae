"""The reference decoder: the smallest host that keeps the contract, so the contract is exercised now.

Per frame, no context: F_d = W_out(W_s F_s + F_p) (the plug, from the base), plus a learned vector
of the speaker's style (FaceFormer's one-hot style embedding), then one Linear to the vertex offsets
added to the template:

    v_t = template + reshape(W_v (F_d,t + style[subject]) + b_v)        (V, 3)

An unseen subject (index -1) gets no style vector. Loss: MSE over the valid frames.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn

from w2s.data.batch import Batch
from w2s.decoders.base import Decoder, DecoderConfig, register
from w2s.nn.layers import masked_mse


@dataclass(frozen=True)
class ReferenceConfig(DecoderConfig):
    style: bool = True  # a learned vector per training subject, added to every frame

    @classmethod
    def paper(cls, **overrides) -> ReferenceConfig:
        """VOCASET-sized (FLAME 5023 vertices, wav2vec2-base 768-d F_p, 8 training subjects)."""
        base = dict(n_vertices=5023, audio_dim=768, fused_dim=128, n_subjects=8, semantic_dim=768)
        return cls(**{**base, **overrides})

    @classmethod
    def tiny(cls, **overrides) -> ReferenceConfig:
        """The CPU default: a 32-d fused feature; the data's sizes come as overrides."""
        return cls(**{**dict(fused_dim=32, semantic_dim=384), **overrides})


@register("reference")
class ReferenceDecoder(Decoder):
    config_class = ReferenceConfig
    train_recipes = {"paper": dict(epochs=100, batch_size=1, lr=1e-4), "tiny": dict(epochs=20, batch_size=8, lr=1e-3)}

    def __init__(self, config: ReferenceConfig):
        super().__init__(config)  # the plug first
        self.style = (
            nn.Embedding(config.n_subjects, config.fused_dim) if config.style and config.n_subjects else None
        )
        self.vertex_map = nn.Linear(config.fused_dim, 3 * config.n_vertices)

    def decode(self, F_d: torch.Tensor, template: torch.Tensor, subject: torch.Tensor) -> torch.Tensor:
        """F_d (B, T, fused_dim), template (B, V, 3), subject (B,) -> vertices (B, T, V, 3)."""
        B, T, _ = F_d.shape
        h = F_d
        if self.style is not None:
            seen = (subject >= 0).unsqueeze(-1).to(h.dtype)  # (B, 1): -1 = unseen, no style
            h = h + (self.style(subject.clamp_min(0)) * seen).unsqueeze(1)  # (B, 1, C) on every frame
        offsets = self.vertex_map(h).view(B, T, -1, 3)  # (B, T, V, 3)
        return template.unsqueeze(1) + offsets

    def loss(self, batch: Batch) -> tuple[torch.Tensor, dict]:
        F_d, _ = self.read_training_batch(batch)  # (B, T, fused_dim)
        pred = self.decode(F_d, batch.template, batch.subject_index)
        loss = masked_mse(pred, batch.vertices, batch.vertex_mask)
        return loss, {"mse": float(loss.detach())}

    @torch.no_grad()
    def generate(self, F_p, template, subject, F_s=None, mask=None, **kwargs) -> torch.Tensor:
        F_d = self.read_audio(F_p, F_s, mask)  # (B, T, fused_dim)
        verts = self.decode(F_d, template, subject)  # (B, T, V, 3)
        return verts if mask is None else verts * mask[:, :, None, None].to(verts.dtype)
