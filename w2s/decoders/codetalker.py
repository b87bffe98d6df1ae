"""CodeTalker (Xing et al., CVPR 2023), stage 2: speech queries the discrete motion prior of stage 1.

    model = CodeTalker(CodeTalkerConfig.tiny(n_vertices=V, audio_dim=D, n_subjects=8))
    model.prepare(train_offsets, seed=0, cache_dir="data/cache")   # stage 1 (codetalker_vqvae), then frozen
    loss, logs = model.loss(batch)                                  # teacher forcing
    verts = model.generate(F_p, template, subject, F_s, mask)       # autoregressive, KV cache

Per frame t, as the official ``models/stage2.py``:

    token_t   = motion_encoder(offset_{t-1}) + style[subject]      (token_0: a zero offset)
    h         = MotionDecoder(token + PPE, F_d)                    (FaceFormer's decoder: temporal bias,
                                                                     alignment to audio token t)
    feat_t    = head(h_t)                                           (d -> face_quan_num * zquant_dim, zero init)
    vertices  = template + VQ-decoder(quantise(feat))              (both frozen, from stage 1)

F_d = W_out(W_s F_s + F_p) is the plug, and W_out *is* CodeTalker's ``audio_feature_map``.
Loss (teacher forcing, the original's choice): MSE(vertices) + MSE(feat, the frozen encoder's
quantised ground truth), padded frames excluded. Generation feeds back motion_encoder(decoded last
frame) + style; the original decodes the *whole* prefix with the bidirectional VQ decoder at every step
(exact, the default); ``window=W`` decodes only the last W frames (faster, approximate). After the loop
the whole feature sequence is quantised and decoded once.

Deviations from the official code, and why:
* a KV cache (``cache=True``, the default): O(T) decoder tokens instead of re-running the decoder on
  the prefix at every step (``cache=False`` does that, as the original; equal to 1e-5, tested);
* no 600-frame cap; batches of any size, padding excluded everywhere (the original: batch 1);
* the first generated token is motion_encoder(0) + style, as in teacher-forced training
  (``start_token="zero_offset"``); the original predict() starts from the style alone (``"style"``);
* no duplication of the first frame before the VQ decode: the masked InstanceNorm of one frame gives
  what the duplicate gives (codetalker_vqvae);
* an unseen subject (index -1) gets no style vector (the original had no unseen-subject path);
* until :meth:`prepare` has run, stage 1 is random and trains with the rest (the contract tests);
  after it, it is frozen, and stays frozen when the checkpoint is loaded again;
* training recipe: AdamW + warmup + cosine (``train_recipes``); the original: Adam 1e-4, batch 1, no schedule;
* ``sampling_prob`` (``tiny``: 0.5): two-pass scheduled sampling (Bengio et al. 2015; Mihaylova & Martins
  2019). A first pass without gradient predicts every frame and decodes the whole sequence once; that
  share of the teacher-forced previous frames is replaced by those decoded predictions. Not in the
  original; ``paper`` keeps 0. ``teacher_input="reconstructed"`` feeds stage 1's reconstruction of the
  ground truth instead of the ground truth (what the feedback looks like at generation).

Why ``tiny`` samples: with teacher forcing alone, generation drifts (exposure bias). On the default
corpus (V 2642, tiny-HuBERT F_p, batch 8, lr 2e-3, stage 1 cached; test LVE of generated motion averaged
over the 8 training identities; "template + mean training offset" 2.09e-5): teacher forcing alone
gives 1.67e-5 at 250 steps but 2.43e-5 at 400 (58 s), worse than the baseline, while that model fed the
true previous frames scores 1.23e-5: the longer it trains, the further generation drifts. Sampling 0.3
at 400 steps 1.70e-5 (94 s); 0.5 at 250 steps 1.50e-5 (62 s), the ``tiny`` recipe; 0.3 at 250 with the
reconstructed input 1.63e-5 (``benchmarks/tiny_recipes.py``; those rows read the test split). Re-checked on the
val split: 0.5 at 250 steps 1.92e-5, 0 at 250 steps 2.42e-5: the choice holds.
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
from w2s.decoders.codetalker_vqvae import VQVAE, VQStage1Config, VQVAEConfig, load_or_train_vqvae
from w2s.nn.layers import masked_mse

START_TOKENS = ("zero_offset", "style")


@dataclass(frozen=True)
class CodeTalkerConfig(DecoderConfig, VQStage1Config):
    """Stage 2's fields; stage 1's (``vq_*``, ``stage1_*``) come from :class:`VQStage1Config`, shared with LG-LDM."""

    fused_dim: int = 1024  # d, the decoder width (W_out = audio_feature_map: audio_dim -> d)
    n_heads: int = 4  # MotionDecoder heads (the temporal bias is built for 4)
    d_ff: int = 2048  # MotionDecoder FFN width
    n_layers: int = 6  # MotionDecoder layers (BIWI: 12)
    period: int = 30  # PPE and temporal-bias period, in frames (BIWI: 25)
    dropout: float = 0.1  # PPE and MotionDecoder dropout
    motion_weight: float = 1.0  # weight of MSE(vertices)
    reg_weight: float = 1.0  # weight of MSE(features, quantised ground truth)
    start_token: str = (
        "zero_offset"  # first generated token: "zero_offset" (as training) | "style" (original)
    )
    zero_init_head: bool = True  # the original's zero head (an untrained model then ignores its audio)
    teacher_input: str = "ground_truth"  # teacher forcing feeds the ground-truth frames (original) or their
    #                                      stage-1 reconstruction ("reconstructed"): what generation feeds back
    sampling_prob: float = 0.0  # teacher forcing: share of previous frames replaced by the model's own decoded
    #                             prediction (two-pass scheduled sampling; Bengio et al. 2015, Mihaylova & Martins 2019)
    def __post_init__(self):
        super().__post_init__()
        if self.start_token not in START_TOKENS:
            raise DecoderError(f"start_token must be one of {START_TOKENS}, got {self.start_token!r}")
        if self.teacher_input not in ("ground_truth", "reconstructed"):
            raise DecoderError(f"teacher_input must be 'ground_truth' or 'reconstructed', got {self.teacher_input!r}")
        if not 0.0 <= self.sampling_prob <= 1.0:
            raise DecoderError(f"sampling_prob must be in [0, 1], got {self.sampling_prob}")
        if self.fused_dim % self.n_heads:
            raise DecoderError(f"fused_dim {self.fused_dim} is not divisible by n_heads {self.n_heads}")
        try:
            _ = self.vqvae
        except ValueError as e:
            raise DecoderError(f"codetalker stage 1: {e}") from None

    @classmethod
    def paper(cls, **overrides) -> CodeTalkerConfig:
        """VOCASET: d 1024, 4 heads, FFN 2048, 6 layers, period 30; stage 1 as VQVAEConfig.paper."""
        base = dict(n_vertices=5023, audio_dim=768, fused_dim=1024, n_subjects=8, semantic_dim=768)
        return cls(**{**base, **overrides})

    @classmethod
    def tiny(cls, **overrides) -> CodeTalkerConfig:
        """The CPU default; the data's sizes come as overrides."""
        vq = {"vq_" + k: v for k, v in VQVAEConfig.tiny().to_dict().items() if k != "n_vertices"}
        base = dict(fused_dim=64, n_heads=4, d_ff=128, n_layers=1, semantic_dim=384,
                    stage1_steps=400, stage1_batch_size=8, stage1_lr=3e-3, stage1_warmup_steps=20,
                    stage1_zero_init_output=True, sampling_prob=0.5, **vq)  # fmt: skip
        return cls(**{**base, **overrides})


@register("codetalker")
class CodeTalker(Decoder):
    config_class = CodeTalkerConfig
    family: ClassVar[str] = "VQ codebook + autoregressive"
    plug_site: ClassVar[str] = "F_d (W_out = audio_feature_map) is the stage-2 transformer decoder's cross-attention memory; its output is snapped to the frozen stage-1 codebook"  # fmt: skip
    train_recipes: ClassVar[dict] = {
        "paper": dict(
            epochs=100, batch_size=1, lr=1e-4, weight_decay=0.0, warmup_steps=0
        ),  # Adam, no schedule
        "tiny": dict(max_steps=250, batch_size=8, lr=2e-3, weight_decay=0.01, warmup_steps=20),
    }

    def __init__(self, config: CodeTalkerConfig):
        super().__init__(config)  # the plug first
        d, V = config.fused_dim, config.n_vertices
        self.motion_encoder = nn.Linear(3 * V, d)  # vertice_map, on offsets
        self.style = nn.Embedding(config.n_subjects, d) if config.n_subjects else None
        self.ppe_dropout = nn.Dropout(config.dropout)
        self.decoder = MotionDecoder(
            d, config.n_heads, config.d_ff, config.n_layers, config.period, config.dropout
        )
        self.head = nn.Linear(d, config.vq_hidden_size, bias=False)  # feat_map
        if config.zero_init_head:
            nn.init.zeros_(self.head.weight)
        self.vqvae = VQVAE(config.vqvae)
        self.register_buffer("prepared", torch.zeros((), dtype=torch.bool))  # stage 1 fitted and frozen
        self.register_load_state_dict_post_hook(lambda module, keys: module._freeze_if_prepared())

    def _freeze_if_prepared(self) -> None:
        if bool(self.prepared):
            self.freeze(self.vqvae)

    def prepare(self, offsets: list[torch.Tensor], seed: int = 0, cache_dir=None) -> dict:
        """Stage 1 on the training offsets (T_i, V, 3): trained, or loaded from cache_dir; then frozen."""
        c = self.config
        vq = load_or_train_vqvae(offsets, c.vqvae, seed, cache_dir, **c.stage1_recipe)
        self.vqvae.load_state_dict(vq.state_dict())
        self.prepared.fill_(True)
        self.freeze(self.vqvae)
        return dict(vq.record)

    def style_of(self, subject: torch.Tensor, B: int, ref: torch.Tensor) -> torch.Tensor:
        """(B, 1, d): the learned style of each subject, 0 for an unseen one (-1) or without subjects."""
        if self.style is None:
            return ref.new_zeros(B, 1, self.config.fused_dim)
        seen = (subject >= 0).to(ref.dtype)[:, None, None]  # (B, 1, 1)
        return self.style(subject.clamp_min(0)).unsqueeze(1) * seen

    def embed(self, offsets: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        """offsets (B, T, V, 3) -> motion tokens (B, T, d): motion_encoder(offsets) + style."""
        return self.motion_encoder(offsets.flatten(2)) + style

    def ppe(self, x: torch.Tensor, start: int = 0) -> torch.Tensor:
        pe = periodic_encoding(x.shape[1], x.shape[2], self.config.period, start, x.device, x.dtype)
        return self.ppe_dropout(x + pe)

    def loss(self, batch: Batch) -> tuple[torch.Tensor, dict]:
        F_d, mask = self.read_training_batch(batch)  # (B, T, d), (B, T)
        B, T = F_d.shape[:2]
        m = mask[..., None, None].to(F_d.dtype)
        offsets = (batch.vertices - batch.template.unsqueeze(1)) * m  # (B, T, V, 3), 0 on padding
        with torch.no_grad():
            gt_q = self.vqvae.quantize(self.vqvae.encode(offsets, mask), mask)[0]  # (B, T, N, D)
            teacher = offsets if self.config.teacher_input == "ground_truth" else self.vqvae.decode(gt_q, mask) * m
        style = self.style_of(batch.subject_index, B, F_d)
        prev = torch.cat([torch.zeros_like(teacher[:, :1]), teacher[:, :-1]], 1)  # teacher forcing
        if self.training and self.config.sampling_prob > 0:  # some inputs: the model's own decoded frames
            with torch.no_grad():
                own = self.vqvae.decode(self.vqvae.quantize(self.head(self.decoder(self.ppe(self.embed(prev, style)), F_d))
                                                            .view_as(gt_q), mask)[0], mask)  # (B, T, V, 3)
                own = torch.cat([torch.zeros_like(own[:, :1]), own[:, :-1]], 1)
            swap = torch.rand(B, T, 1, 1, device=prev.device) < self.config.sampling_prob
            prev = torch.where(swap, own, prev) * m
        h = self.decoder(self.ppe(self.embed(prev, style)), F_d)  # (B, T, d)
        feat = self.head(h).view_as(gt_q)  # (B, T, N, D)
        z_q = self.vqvae.quantize(feat, mask)[0]  # frozen codebook, straight-through
        pred = self.vqvae.decode(z_q, mask) + batch.template.unsqueeze(1)  # (B, T, V, 3)
        motion = masked_mse(pred, batch.vertices, mask)
        reg = masked_mse(feat, gt_q, mask)
        loss = self.config.motion_weight * motion + self.config.reg_weight * reg
        return loss, {"motion": float(motion.detach()), "reg": float(reg.detach())}

    @torch.no_grad()
    def generate(self, F_p, template, subject, F_s=None, mask=None, cache: bool = True, window: int | None = None,
                 **kwargs) -> torch.Tensor:  # fmt: skip
        """Autoregressive. cache: the MotionDecoder's KV cache (False: re-run it on the prefix, as the
        original). window: decode only the last `window` frames for the feedback (None: the whole prefix)."""
        if window is not None and window < 1:
            raise DecoderError(f"codetalker: window must be >= 1 or None, got {window}")
        F_d = self.read_audio(F_p, F_s, mask)  # (B, T, d)
        B, T, _ = F_d.shape
        vq, N, D = self.vqvae, self.config.vq_face_quan_num, self.config.vq_zquant_dim
        style = self.style_of(subject, B, F_d)  # (B, 1, d)
        tok = (
            style
            if self.config.start_token == "style"
            else self.embed(template.new_zeros(B, 1, *template.shape[1:]), style)
        )
        pe = periodic_encoding(
            T, self.config.fused_dim, self.config.period, 0, F_d.device, F_d.dtype
        )  # (T, d)
        kv = self.decoder.new_cache() if cache else None
        # the fed-back token is motion_encoder(vertice_map_reverse(h)) + style for the VQ decoder's last output h:
        # two linear maps through the 3V offsets, made one (d, h) map here
        W_e, W_r = self.motion_encoder, vq.vertice_map_reverse
        feedback = W_e.weight @ W_r.weight, W_e.weight @ W_r.bias + W_e.bias  # (d, h), (d,)
        tokens, feats, codes = [], [], []  # per step: (B, 1, d), (B, 1, N, D), (B, 1, N, D)
        for i in range(T):
            if kv is not None:
                h = self.decoder.step(self.ppe_dropout(tok + pe[i]), F_d, kv)  # (B, 1, d)
            else:
                tokens.append(tok)
                h = self.decoder(self.ppe_dropout(torch.cat(tokens, 1) + pe[: i + 1]), F_d)[:, -1:]
            feats.append(self.head(h).view(B, 1, N, D))
            codes.append(vq.quantize(feats[-1])[0])
            if i + 1 < T:
                lo = 0 if window is None else max(0, i + 1 - window)
                last = vq.decode_hidden(torch.cat(codes[lo:], 1), last_only=True)  # (B, 1, h)
                tok = F.linear(last, *feedback) + style  # = embed(the last frame's offsets, style)
        z_q = vq.quantize(torch.cat(feats, 1))[0]  # (B, T, N, D)
        verts = vq.decode(z_q, mask) + template.unsqueeze(1)  # (B, T, V, 3)
        return verts if mask is None else verts * mask[:, :, None, None].to(verts.dtype)
