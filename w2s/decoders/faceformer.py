"""FaceFormer (Fan et al., CVPR 2022): an autoregressive transformer decoder over motion tokens that reads
the audio through a one-token-per-frame alignment.

    F_d = W_out(W_s F_s + F_p)                              the plug; W_out is FaceFormer's audio_feature_map
    x_0 = style(subject);  x_t = motion_encoder(y_{t-1}) + style(subject)           (B, 1, d) tokens
    h = MotionDecoder(dropout(x + PPE), F_d)                temporal bias, alignment mask (autoregressive.py)
    y_t = motion_decoder(h_t);  vertices_t = template + y_t                          (V, 3) offsets

The style is a bias-free Linear on the subject's one-hot, added to every motion token (an unseen
subject, index -1, has a zero one-hot: no style); the motion decoder (``vertice_map_r``) starts at 0
(weight and bias; ``paper``), so an untrained model outputs the template. Loss: MSE on the vertices over the
valid frames. Parameter names are the official code's (``vertice_map``, ``obj_vector``,
``transformer_decoder``, ``vertice_map_r``).

Training (``teacher_forcing``):
* False, the official way: frame by frame, each predicted offset re-encoded and fed back, the
  gradient flowing through the feedback. Here with the KV cache: T one-token ``step`` s, not T
  re-runs of the decoder on the prefix.
* True: one pass over [0, y*_0 .. y*_{T-2}] (ground-truth offsets) through the motion encoder, +
  style, + PPE (the official code's validation path).
* ``sampling_prob`` > 0 (with teacher forcing): a first pass without gradient predicts every frame, and
  that share of the ground-truth previous frames is replaced by those predictions (two-pass scheduled
  sampling, Bengio et al. 2015; Mihaylova & Martins 2019).
Both paths and generation start from the same first token (``start_token``: the style alone, as the
original's autoregressive path; its teacher-forced path started from the embedding of a zero offset).

Presets: ``paper`` trains autoregressively (faithful). ``tiny`` uses teacher forcing, by measurement on
the default corpus (V 2642, tiny-HuBERT F_p, batch 16, lr 3e-3; test LVE of generated motion averaged
over the 8 training identities; "template + mean training offset" 2.09e-5): at 60 steps AR 2.10e-5
(122 s on busy cores), TF 1.93e-5 (24 s); TF 150 steps 1.68e-5 (58 s), with scheduled sampling 0.3
1.71e-5 (88 s), d 64 at 100 steps 1.88e-5. So ``tiny`` = TF, 150 steps, no sampling.

Deviations from the official code, and why:
* audio: F_p come from a frozen encoder at the face frame rate (the official code fine-tuned
  wav2vec2 and interpolated its CNN features to the frame count); W_out replaces audio_feature_map;
* only the VOCASET alignment (frame t reads audio token t); BIWI's 2-tokens-per-frame rule is not
  needed, F_p being at the face frame rate;
* batches of any size with padding (the official code: batch 1); no 600-frame cap (the bias and
  the PPE are computed on the fly);
* ``generate(cache=True)`` (default) decodes with a KV cache, O(T) steps of one token; ``cache=False``
  re-runs the decoder on the whole prefix at every step, as the original ``predict``: same numbers;
* in AR training each token's PPE dropout is drawn once (the original redrew it for the whole prefix
  at every step): the expectation is the same, and it is what makes the cache possible;
* ``tiny`` initialises the motion decoder's weights with std 1e-4 instead of 0 (``head_init_std``; PyTorch's
  default init was much worse: test LVE 0.022);
* training: AdamW with warmup and cosine decay (``w2s.train``); the original used Adam, lr 1e-4,
  no schedule, batch 1, 100 epochs (``train_recipes["paper"]`` keeps lr, batch and epochs, no decay).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn as nn
import torch.nn.functional as F

from w2s.data.batch import Batch
from w2s.decoders.autoregressive import MotionDecoder, periodic_encoding
from w2s.decoders.base import Decoder, DecoderConfig, DecoderError, register
from w2s.nn.layers import masked_mse


@dataclass(frozen=True)
class FaceFormerConfig(DecoderConfig):
    n_heads: int = 4  # decoder attention heads (the ALiBi slopes 1/4 .. 1/256)
    n_layers: int = 1  # decoder layers
    ffn_mult: int = 2  # FFN width = ffn_mult * fused_dim
    period: int = 30  # PPE and temporal-bias period p in frames (VOCASET 30 at 30 fps, BIWI 25 at 25 fps)
    dropout: float = 0.1  # PPE dropout and the decoder's dropout
    teacher_forcing: bool = False  # training: ground-truth previous frames (True) or the model's own (False)
    head_init_std: float = 0.0  # std of the motion decoder's initial weights (bias 0); 0: all zero (official)
    start_token: str = "style"  # first token: "style" alone (the original's AR path) | "zero_offset" (its TF path)
    sampling_prob: float = 0.0  # teacher forcing: share of previous frames replaced by the model's own
    #                             prediction (two-pass scheduled sampling; Bengio et al. 2015, Mihaylova & Martins 2019)

    def __post_init__(self):
        super().__post_init__()
        if self.start_token not in ("style", "zero_offset") or not 0.0 <= self.sampling_prob <= 1.0:
            raise DecoderError(f"faceformer: start_token must be 'style' or 'zero_offset' and sampling_prob in [0, 1], "
                               f"got {self.start_token!r}, {self.sampling_prob}")  # fmt: skip
        if self.fused_dim % self.n_heads or self.period < 1 or self.n_layers < 1 or self.ffn_mult < 1:
            raise DecoderError(f"faceformer: fused_dim {self.fused_dim} must divide by n_heads {self.n_heads}; "
                               f"period, n_layers, ffn_mult >= 1 (got {self.period}, {self.n_layers}, {self.ffn_mult})")  # fmt: skip

    @classmethod
    def paper(cls, **overrides) -> FaceFormerConfig:
        """VOCASET: d 64, period 30, FLAME 5023 vertices, wav2vec2-base 768-d, 8 training subjects.
        BIWI: ``paper(n_vertices=23370, fused_dim=128, period=25, n_subjects=6)``."""
        base = dict(n_vertices=5023, audio_dim=768, fused_dim=64, n_subjects=8, semantic_dim=768, period=30)
        return cls(**{**base, **overrides})

    @classmethod
    def tiny(cls, **overrides) -> FaceFormerConfig:
        """The CPU default: d 32, teacher forcing (measured: see the module docstring); the data's sizes
        come as overrides. The head starts small (std 1e-4), not at 0."""
        base = dict(fused_dim=32, semantic_dim=384, period=30, teacher_forcing=True, head_init_std=1e-4)
        return cls(**{**base, **overrides})


@register("faceformer")
class FaceFormer(Decoder):
    config_class = FaceFormerConfig
    family: ClassVar[str] = "autoregressive transformer"
    plug_site: ClassVar[str] = "F_d (W_out = audio_feature_map) is the transformer decoder's cross-attention memory: frame t attends to F_d[t]"  # fmt: skip
    train_recipes: ClassVar[dict] = {
        "paper": dict(epochs=100, batch_size=1, lr=1e-4, weight_decay=0.0, warmup_steps=0),
        "tiny": dict(max_steps=150, batch_size=16, lr=3e-3, weight_decay=0.0, warmup_steps=5),
    }

    def __init__(self, config: FaceFormerConfig):
        super().__init__(config)  # the plug first
        d, V3 = config.fused_dim, 3 * config.n_vertices
        self.vertice_map = nn.Linear(V3, d)  # motion encoder: offsets -> tokens
        self.obj_vector = nn.Linear(config.n_subjects, d, bias=False) if config.n_subjects else None  # style
        self.ppe_dropout = nn.Dropout(config.dropout)
        self.transformer_decoder = MotionDecoder(
            d, config.n_heads, config.ffn_mult * d, config.n_layers, config.period, config.dropout
        )
        self.vertice_map_r = nn.Linear(d, V3)  # motion decoder: tokens -> offsets, starts at 0
        nn.init.normal_(self.vertice_map_r.weight, std=config.head_init_std)  # std 0: zeros
        nn.init.zeros_(self.vertice_map_r.bias)

    def style(self, subject: torch.Tensor, B: int, ref: torch.Tensor) -> torch.Tensor:
        """subject (B,) in [0, n_subjects) or -1 (unseen) -> (B, 1, d), added to every motion token."""
        n = self.config.n_subjects
        if tuple(subject.shape) != (B,) or ((subject < -1) | (subject >= max(n, 1))).any():
            raise DecoderError(
                f"faceformer: subject must be ({B},) indices in [0, {n}) or -1, got {subject.tolist()}"
            )
        if self.obj_vector is None:
            return ref.new_zeros(B, 1, self.config.fused_dim)
        one_hot = F.one_hot(subject.clamp_min(0), n).to(ref.dtype) * (subject >= 0).to(ref.dtype)[:, None]
        return self.obj_vector(one_hot).unsqueeze(1)  # (B, 1, d)

    def ppe(self, T: int, ref: torch.Tensor) -> torch.Tensor:
        return periodic_encoding(
            T, self.config.fused_dim, self.config.period, device=ref.device, dtype=ref.dtype
        )

    def autoregress(self, memory: torch.Tensor, style: torch.Tensor, cache: bool = True) -> torch.Tensor:
        """memory F_d (B, T, d), style (B, 1, d) -> offsets (B, T, 3V), each frame fed back as the next token.

        cache: one-token steps with the KV cache; False: the decoder re-run on the whole prefix per frame."""
        dec, T = self.transformer_decoder, memory.shape[1]
        pe = self.ppe(T, memory)  # (T, d)
        kv = dec.new_cache()
        # the next token is vertice_map(vertice_map_r(h)) + style: two linear maps through the 3V offsets. At
        # inference they are made one (d, d) map, so a step never leaves d dimensions, and the offsets come in
        # one pass at the end; in training the graph goes through both maps, as the original's
        W_m, W_r = self.vertice_map, self.vertice_map_r
        fast = not torch.is_grad_enabled()
        feedback = W_m.weight @ W_r.weight, W_m.weight @ W_r.bias + W_m.bias  # (d, d), (d,)
        tokens, hs = self.first_token(style), []
        for t in range(T):
            if cache:
                h = dec.step(self.ppe_dropout(tokens[:, -1:] + pe[t]), memory, kv)  # (B, 1, d)
            else:
                h = dec(self.ppe_dropout(tokens + pe[: t + 1]), memory)[:, -1:]  # (B, 1, d)
            hs.append(h if fast else W_r(h))  # (B, 1, d) | (B, 1, 3V)
            if t + 1 < T:
                nxt = (F.linear(h, *feedback) if fast else W_m(hs[-1])) + style  # (B, 1, d)
                tokens = nxt if cache else torch.cat([tokens, nxt], 1)
        return W_r(torch.cat(hs, 1)) if fast else torch.cat(hs, 1)  # (B, T, 3V)

    def first_token(self, style: torch.Tensor) -> torch.Tensor:
        """(B, 1, d): the style alone, or the embedding of a zero offset + style (what teacher forcing feeds)."""
        if self.config.start_token == "style":
            return style
        return self.vertice_map.bias + style

    def teacher_forced(
        self, memory: torch.Tensor, style: torch.Tensor, offsets: torch.Tensor
    ) -> torch.Tensor:
        """memory (B, T, d), style (B, 1, d), ground-truth offsets (B, T, 3V) -> predicted offsets (B, T, 3V)."""
        tokens = torch.cat([self.first_token(style), self.vertice_map(offsets[:, :-1]) + style], 1)  # (B, T, d)
        x = tokens + self.ppe(offsets.shape[1], memory)  # (B, T, d)
        return self.vertice_map_r(self.transformer_decoder(self.ppe_dropout(x), memory))

    def loss(self, batch: Batch) -> tuple[torch.Tensor, dict]:
        F_d, _ = self.read_training_batch(batch)  # (B, T, d)
        B, T, _ = F_d.shape
        template = batch.template.unsqueeze(1)  # (B, 1, V, 3)
        style = self.style(batch.subject_index, B, F_d)
        if self.config.teacher_forcing:
            prev = (batch.vertices - template).flatten(2)  # (B, T, 3V) ground truth
            if self.training and self.config.sampling_prob > 0:  # some inputs: the model's own predictions
                with torch.no_grad():
                    own = self.teacher_forced(F_d, style, prev)
                swap = torch.rand(B, T, 1, device=prev.device) < self.config.sampling_prob
                prev = torch.where(swap, own, prev)
            offsets = self.teacher_forced(F_d, style, prev)
        else:
            offsets = self.autoregress(F_d, style)
        pred = template + offsets.view(B, T, -1, 3)  # (B, T, V, 3)
        loss = masked_mse(pred, batch.vertices, batch.vertex_mask)
        return loss, {"mse": float(loss.detach())}

    @torch.no_grad()
    def generate(
        self, F_p, template, subject, F_s=None, mask=None, cache: bool = True, **kwargs
    ) -> torch.Tensor:
        """As the contract; cache=False decodes the original way (the whole prefix at each step)."""
        F_d = self.read_audio(F_p, F_s, mask)  # (B, T, d)
        B, T, _ = F_d.shape
        offsets = self.autoregress(F_d, self.style(subject, B, F_d), cache=cache)  # (B, T, 3V)
        verts = template.unsqueeze(1) + offsets.view(B, T, -1, 3)  # (B, T, V, 3)
        return verts if mask is None else verts * mask[:, :, None, None].to(verts.dtype)
