"""VOCA (Cudeiro et al., CVPR 2019): per-frame, non-autoregressive speech -> vertex offsets.

For each face frame t, a window of 16 frames of speech-recogniser features centred on t (frames t-8 .. t+7,
zero past the clip's ends) goes through

    BatchNorm over the channels -> concat the subject one-hot (tiled over the window) as channels
    -> 4 x [Conv over time (kernel 3, stride 2, 'SAME'), ReLU]  (32, 32, 64, 64 channels; 16 -> 1 step)
    -> flatten, concat the one-hot again -> FC 128, tanh -> FC 50 = the expression code e_t
    -> decoder: v_t = template + reshape(W e_t + b)                 (a linear map 50 -> V*3)

W is initialised by :meth:`VOCA.prepare` from the PCA of the training displacements (vertices - template).
Loss: squared L2 summed over xyz, averaged over vertices and valid frames, plus 10 x the same on the
velocity (differences of consecutive valid frames). An unseen subject (index -1) gets a zero one-hot.

Input. The original reads DeepSpeech v0.1.0's 29 character logits (50 fps, interpolated to the face
rate). Here the frame features are a speech recogniser's logits too: offline a frame phoneme recogniser,
a logistic regression on tiny-HuBERT frames fitted on the training speakers (``offline_encoder``,
:mod:`w2s.encoders.recogniser`); with real models wav2vec2-base-960h's CTC character logits
(``real_encoder``). Any F_p works (raw SSL features too).

Deviations from the official code (TimoBolkart/voca), and why:

* the input goes through the plug, F_d = W_out(W_s F_s + F_p): W_out is a linear input projection VOCA did
  not have (``paper``: 29 -> 29 channels). It is where Wav2Sem's F_s enters, as in every host here;
* the windows are over frames already at the face frame rate (VOCA interpolated to 60 fps itself);
* batches are padded sequences, not 64 random pairs of consecutive frames: every valid frame of a batch is
  one window, BatchNorm's batch statistics come from the valid windows only (zeros inside a window at a
  clip's edges count, as in VOCA), and the velocity term pairs every two consecutive valid frames;
* the decoder's PCA init: bias = the mean training displacement (``decoder_bias="mean"``; VOCA: 0, kept as
  ``"zero"``), so an expression code of 0 starts at the mean offset (the "template + mean offset"
  baseline); the columns are the principal directions scaled by their standard deviation
  (``pca_whiten``, like FLAME's expression basis) so that the code has unit variance, which suits the
  tanh/FC stack's initial output scale. VOCA shipped its basis as a file (``init_expression_basis.npy``);
  it is computed here with sklearn's PCA;
* PyTorch's default initialisations (VOCA: truncated normals, std 0.1 for the FCs, 0.02 for the convs);
  AdamW with warmup and a cosine schedule (``train_recipes``; VOCA: Adam 1e-4, no schedule, 100 epochs).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from w2s.data.batch import Batch
from w2s.decoders.base import Decoder, DecoderConfig, DecoderError, register
from w2s.decoders.pca import fit_offset_pca


@dataclass(frozen=True)
class VOCAConfig(DecoderConfig):
    window: int = 16  # speech frames seen per output frame (t - window//2 .. t + window//2 - 1)
    conv_channels: tuple[int, ...] = (32, 32, 64, 64)  # time convs, kernel 3, stride 2: window -> 1 step
    hidden_dim: int = 128  # FC after the convs (tanh)
    expression_dim: int = 50  # the expression code: the linear vertex decoder's input
    condition_windows: bool = (
        True  # the one-hot also as channels of the windows (VOCA's condition_speech_features)
    )
    bn_eps: float = 1e-5
    bn_momentum: float = 0.1  # torch's convention: TF's decay 0.9
    velocity_weight: float = 10.0  # weight of the velocity term of the loss
    decoder_bias: str = "mean"  # PCA init of the decoder's bias: "mean" training displacement | "zero" (VOCA)
    pca_whiten: bool = True  # decoder columns = principal directions x their std (unit-variance codes)
    pca_max_frames: int = 8000  # prepare(): a seeded random subset of the training frames when there are more

    def __post_init__(self):
        super().__post_init__()
        object.__setattr__(
            self, "conv_channels", tuple(int(c) for c in self.conv_channels)
        )  # JSON lists -> tuples
        if self.window < 1 or any(c < 1 for c in self.conv_channels) or not self.conv_channels:
            raise DecoderError(
                f"voca: window and conv_channels must be >= 1, got {self.window}, {self.conv_channels}"
            )
        if _steps_after_convs(self.window, len(self.conv_channels)) != 1:
            raise DecoderError(f"voca: {len(self.conv_channels)} stride-2 convs leave "
                               f"{_steps_after_convs(self.window, len(self.conv_channels))} steps of a {self.window}-frame "
                               "window, not 1; use window <= 2**len(conv_channels)")  # fmt: skip
        if self.decoder_bias not in ("mean", "zero"):
            raise DecoderError(f"voca: decoder_bias must be 'mean' or 'zero', got {self.decoder_bias!r}")

    @classmethod
    def paper(cls, **overrides) -> VOCAConfig:
        """VOCA on VOCASET: FLAME's 5023 vertices, DeepSpeech's 29 logits (W_out 29 -> 29), 8 subjects."""
        base = dict(n_vertices=5023, audio_dim=29, fused_dim=29, n_subjects=8, semantic_dim=768)
        return cls(**{**base, **overrides})

    @classmethod
    def tiny(cls, **overrides) -> VOCAConfig:
        """The CPU default (the data's sizes come as overrides)."""
        base = dict(
            fused_dim=32, semantic_dim=384, conv_channels=(32, 32, 64, 64), hidden_dim=128, expression_dim=32
        )
        return cls(**{**base, **overrides})


def _steps_after_convs(window: int, n_convs: int) -> int:
    for _ in range(n_convs):
        window = math.ceil(window / 2)  # 'SAME', stride 2
    return window


def conv_same(conv: nn.Conv1d, x: torch.Tensor) -> torch.Tensor:
    """TensorFlow's 'SAME' padding: output length ceil(L / stride), the odd padding frame at the end."""
    (k,), (s,), L = conv.kernel_size, conv.stride, x.shape[-1]
    total = max((math.ceil(L / s) - 1) * s + k - L, 0)
    return conv(F.pad(x, (total // 2, total - total // 2)))


def vertex_losses(
    pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Position and velocity terms: squared L2 over xyz, mean over vertices and valid frames (pairs).

    pred, target (B, T, V, 3); mask (B, T) bool. Velocity pairs frames t, t+1 that are both valid.
    """
    err = ((pred - target) ** 2).sum(-1).mean(-1)  # (B, T)
    pos = torch.where(mask, err, 0.0).sum() / mask.sum().clamp_min(1)
    pair = mask[:, 1:] & mask[:, :-1]  # (B, T-1)
    dv = (pred[:, 1:] - pred[:, :-1]) - (target[:, 1:] - target[:, :-1])  # (B, T-1, V, 3)
    vel = torch.where(pair, (dv**2).sum(-1).mean(-1), 0.0).sum() / pair.sum().clamp_min(1)
    return pos, vel


@register("voca")
class VOCA(Decoder):
    config_class = VOCAConfig
    family: ClassVar[str] = "regression (per-frame temporal convs)"
    plug_site: ClassVar[str] = "F_d replaces the recogniser logits: each frame's 16-frame window of F_d enters BatchNorm and the temporal conv encoder"  # fmt: skip
    offline_encoder: ClassVar[str] = "phonemes:tiny-hubert"  # frame phoneme logits (w2s.encoders.recogniser)
    real_encoder: ClassVar[str] = (
        "ctc:facebook/wav2vec2-base-960h"  # CTC character logits (DeepSpeech's role)
    )
    # what the training pipeline feeds w2s.train.TrainConfig (AdamW, warmup, cosine); VOCA: Adam 1e-4, no schedule
    train_recipes: ClassVar[dict] = {
        "paper": dict(epochs=100, batch_size=4, lr=1e-4, weight_decay=0.0, warmup_steps=0),
        "tiny": dict(max_steps=300, batch_size=8, lr=3e-3, weight_decay=0.01, warmup_steps=30),
    }

    def __init__(self, config: VOCAConfig):
        super().__init__(config)  # the plug first
        C, S, chans = config.fused_dim, config.n_subjects, config.conv_channels
        self.bn = nn.BatchNorm1d(C, eps=config.bn_eps, momentum=config.bn_momentum)
        ins = (C + (S if config.condition_windows else 0),) + tuple(chans[:-1])
        self.convs = nn.ModuleList(nn.Conv1d(i, o, kernel_size=3, stride=2) for i, o in zip(ins, chans))
        self.fc = nn.Linear(chans[-1] + S, config.hidden_dim)
        self.expression = nn.Linear(config.hidden_dim, config.expression_dim)
        self.decoder = nn.Linear(config.expression_dim, 3 * config.n_vertices)

    def one_hot(self, subject: torch.Tensor) -> torch.Tensor:
        """(B,) -> (B, S); an unseen subject (-1) gets zeros."""
        S = self.config.n_subjects
        return F.one_hot(subject.clamp_min(0), max(S, 1))[:, :S].float() * (subject >= 0).float().unsqueeze(
            -1
        )

    def encode(self, F_d: torch.Tensor, subject: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """F_d (B, T, C), subject (B,), mask (B, T) -> expression codes (N, expression_dim) of the N valid frames."""
        cfg, T = self.config, F_d.shape[1]
        w = cfg.window
        h = torch.where(mask.unsqueeze(-1), F_d, 0.0)  # frames past a clip's end are 0, as VOCA's padding
        h = F.pad(h, (0, 0, w // 2, w - w // 2))  # (B, T + w, C)
        windows = h.unfold(1, w, 1)[:, :T]  # (B, T, C, w): frames t - w//2 .. t + w//2 - 1
        b = mask.nonzero()[:, 0]  # (N,) the item of each valid frame: windows never mix items
        x = self.bn(windows[mask])  # (N, C, w): statistics over the valid windows only
        cond = self.one_hot(subject)[b]  # (N, S)
        if cfg.condition_windows and cfg.n_subjects:
            x = torch.cat([x, cond.unsqueeze(-1).expand(-1, -1, w)], 1)  # (N, C + S, w)
        for conv in self.convs:
            x = F.relu(conv_same(conv, x))  # (N, c, ceil(w / 2)) ... (N, 64, 1)
        x = torch.cat([x.flatten(1), cond], 1)  # (N, 64 + S)
        return self.expression(torch.tanh(self.fc(x)))  # (N, E)

    def decode(self, e: torch.Tensor, template: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Codes (N, E) of the valid frames, template (B, V, 3), mask (B, T) -> vertices (B, T, V, 3), 0 padded."""
        B, T = mask.shape
        offsets = e.new_zeros(B, T, 3 * self.config.n_vertices)
        offsets[mask] = self.decoder(e)  # (N, 3V)
        verts = template.unsqueeze(1) + offsets.view(B, T, -1, 3)
        return torch.where(mask[:, :, None, None], verts, 0.0)

    def _mask(self, F_d: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        return torch.ones(F_d.shape[:2], dtype=torch.bool, device=F_d.device) if mask is None else mask.bool()

    def loss(self, batch: Batch) -> tuple[torch.Tensor, dict]:
        F_d, mask = self.read_training_batch(batch)  # (B, T, fused_dim)
        if batch.vertex_mask is not None:
            mask = mask & batch.vertex_mask.bool()
        pred = self.decode(self.encode(F_d, batch.subject_index, mask), batch.template, mask)
        pos, vel = vertex_losses(pred, batch.vertices, mask)
        loss = pos + self.config.velocity_weight * vel
        return loss, {"position": float(pos.detach()), "velocity": float(vel.detach())}

    @torch.no_grad()
    def generate(self, F_p, template, subject, F_s=None, mask=None, **kwargs) -> torch.Tensor:
        F_d = self.read_audio(F_p, F_s, mask)  # (B, T, fused_dim)
        mask = self._mask(F_d, mask)
        return self.decode(self.encode(F_d, subject, mask), template, mask)

    # PCA init of the decoder ------------------------------------------------------------------

    def prepare(self, offsets: list[torch.Tensor], seed: int = 0, cache_dir=None) -> dict:
        """Initialise the decoder from the PCA (sklearn) of the training displacements (T_i, V, 3) each."""
        t0 = time.perf_counter()
        pca = fit_offset_pca(offsets, self.config.expression_dim, seed, self.config.pca_max_frames,
                             self.config.n_vertices, DecoderError)  # fmt: skip
        k, E = len(pca.components), self.config.expression_dim
        cols = pca.components.T  # (3V, k) orthonormal directions
        if self.config.pca_whiten:
            cols = cols * pca.std[None]
        W = np.zeros((3 * self.config.n_vertices, E), np.float32)
        W[:, :k] = cols  # codes beyond the data's rank start with zero columns
        b = pca.mean if self.config.decoder_bias == "mean" else np.zeros(3 * self.config.n_vertices, np.float32)
        with torch.no_grad():
            self.decoder.weight.copy_(torch.from_numpy(W))
            self.decoder.bias.copy_(torch.from_numpy(np.asarray(b, np.float32)))
        ratio = pca.explained_variance_ratio
        return {"pca_components": int(k), "pca_frames": pca.n_fitted, "frames": pca.n_frames, "decoder_bias": self.config.decoder_bias,
                "pca_whiten": self.config.pca_whiten, "explained_variance_ratio": [float(r) for r in ratio],
                "explained_variance_total": float(ratio.sum()), "fit_s": round(time.perf_counter() - t0, 2)}  # fmt: skip

    @torch.no_grad()
    def codes_of(self, offsets: torch.Tensor) -> torch.Tensor:
        """Offsets (..., V, 3) -> the expression codes (..., E) the decoder maps closest to them (least squares)."""
        x = offsets.reshape(*offsets.shape[:-2], -1) - self.decoder.bias  # (..., 3V)
        return x @ torch.linalg.pinv(self.decoder.weight).T  # (..., E)
