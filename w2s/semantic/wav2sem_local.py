"""Wav2SemLocal: host encoder frames -> one semantic vector per frame, causal with a bounded lookahead.

Beyond the paper (issue 23, item 3). Wav2Sem predicts one sentence vector per utterance, so it needs the
whole utterance before its first frame. Wav2SemLocal predicts the *word-level* stream that the
``oracle_text_local`` source reads from the alignments (frame t: the text embedding of the word spoken at
t, zero in pauses), from the host encoder's frames, seeing at most ``lookahead_ms`` of the future.

    cfg = Wav2SemLocalConfig.lite(input_dim=256)          # 2 x 256 pre-LN blocks, 200 ms lookahead
    model = Wav2SemLocal(cfg)
    F_s = model(F_p, mask)                                # (B, T, 256), (B, T) bool -> (B, T, 384)
    F_s = model.predict([feats_a, feats_b])               # list of numpy (T_i, 384), eval mode
    model.save_pretrained("runs/local");  Wav2SemLocal.from_pretrained("runs/local")   # w2s.nn.checkpoint

The model
1. LayerNorm + Linear of the host's frames (B, T, C_p) -> (B, T, C);
2. pre-LN transformer blocks whose attention is banded: frame t attends to frames t - lookback .. t +
   lookahead of its layer's input. Lookaheads add up over layers, so only the first layer looks ahead
   (``lookahead_ms`` of frames); the others are causal. The model's output at t therefore depends on input
   frames <= t + lookahead and on nothing later (tested). Positions enter as a learned bias per head and
   relative offset (T5-style, within the band): the host frames are contextual, but order inside the band
   is what tells a word's onset from its end;
3. two heads per frame: ``proj`` (C -> C_s) gives a query in the text space, ``speech`` a logit of
   "a word is being spoken here". With a word bank (``n_words`` > 0: the training vocabulary's text vectors,
   a buffer saved with the weights) the query's cosines to the words / ``temperature`` are InfoNCE's logits,
   and the word vector is their softmax's expectation over the bank (the posterior mean, which keeps the
   part every MiniLM word vector shares and hedges between the candidates when unsure); without a bank, or
   with ``readout="query"`` (the same weights), it is ``normalize(query)``: open-vocabulary, better word
   retrieval, but without the shared part (benchmarks/wav2sem_local.py measures both). The output is
   ``sigmoid(speech) * word vector``.
   Why a gate: the oracle is a unit vector in words and exactly zero in pauses; InfoNCE trains only the
   direction, so the norm comes from a separate speech/pause classifier, which makes silence ~0 without
   pulling word vectors towards zero, and softens word edges where the model is unsure.

An optional training-only CTC head (``ctc_vocab_size`` > 0) reads the same frames (the phoneme lever of
``lite``). The host frame rate (``frame_rate``, 50 Hz for tiny HuBERT) turns milliseconds into frames.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from w2s.data.batch import frame_mask, pad
from w2s.nn.checkpoint import CheckpointMixin, Config


class Wav2SemLocalError(ValueError):
    """A Wav2SemLocal config, checkpoint or input that cannot be used; the message says which and why."""


@dataclass(frozen=True)
class Wav2SemLocalConfig(Config):
    input_dim: int = 256  # C_p: the host encoder's frame size (tiny HuBERT 256, hubert-base 768)
    target_dim: int = 384  # C_s: the text model's size (all-MiniLM-L6-v2 384)
    hidden_size: int = 256
    num_hidden_layers: int = 2
    num_attention_heads: int = 4
    intermediate_size: int = 1024
    dropout: float = 0.1
    attention_dropout: float = 0.1
    frame_rate: float = 50.0  # host frames per second
    lookahead_ms: float = 200.0  # the whole model's lookahead (the first layer's band reaches this far ahead)
    lookback_ms: float = 1000.0  # each layer's band reaches this far back
    ctc_vocab_size: int = 0  # > 0: a training-only CTC head over the frames (phonemes + blank at 0)
    n_words: int = 0  # > 0: a bank of this many word vectors (the training vocabulary); the output is its posterior mean
    temperature: float = 0.05  # of the softmax over the bank (InfoNCE's)
    readout: str = "posterior"  # with a bank: "posterior" (its posterior mean) | "query" (the unit query, open vocabulary)

    error_class: ClassVar[type[Exception]] = Wav2SemLocalError
    presets: ClassVar[tuple[str, ...]] = ("lite", "tiny")
    required: ClassVar[tuple[str, ...]] = ("input_dim", "target_dim", "frame_rate")

    def __post_init__(self):
        for name in ("input_dim", "target_dim", "hidden_size", "num_hidden_layers", "num_attention_heads"):
            if int(getattr(self, name)) < 1:
                raise Wav2SemLocalError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.hidden_size % self.num_attention_heads:
            raise Wav2SemLocalError(f"hidden_size {self.hidden_size} is not divisible by num_attention_heads "
                                    f"{self.num_attention_heads}")  # fmt: skip
        if not (self.frame_rate > 0 and math.isfinite(self.frame_rate)):
            raise Wav2SemLocalError(f"frame_rate must be a positive number, got {self.frame_rate}")
        if not (0 <= self.lookahead_ms < math.inf and 0 <= self.lookback_ms < math.inf):
            raise Wav2SemLocalError(f"lookahead_ms and lookback_ms must be finite and >= 0, got "
                                    f"{self.lookahead_ms}, {self.lookback_ms}")  # fmt: skip
        for name in ("dropout", "attention_dropout"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise Wav2SemLocalError(f"{name} must be in [0, 1), got {getattr(self, name)}")
        if self.n_words < 0 or not self.temperature > 0:
            raise Wav2SemLocalError(f"n_words must be >= 0 and temperature > 0, got {self.n_words}, {self.temperature}")
        if self.readout not in ("posterior", "query"):
            raise Wav2SemLocalError(f"readout must be 'posterior' or 'query', got {self.readout!r}")
        if self.ctc_vocab_size < 0 or self.ctc_vocab_size == 1:
            raise Wav2SemLocalError(f"ctc_vocab_size must be 0 (no CTC head) or >= 2, got {self.ctc_vocab_size}")

    @property
    def lookahead_frames(self) -> int:
        return int(round(self.lookahead_ms * self.frame_rate / 1000))

    @property
    def lookback_frames(self) -> int:
        return int(round(self.lookback_ms * self.frame_rate / 1000))

    # presets --------------------------------------------------------------------------------

    @classmethod
    def lite(cls, input_dim: int = 256, target_dim: int = 384, **overrides) -> Wav2SemLocalConfig:
        """The default: `lite`'s size (2 pre-LN layers of width 256) on the host's frames, 200 ms lookahead."""
        return cls(input_dim=input_dim, target_dim=target_dim, **overrides)

    @classmethod
    def tiny(cls, input_dim: int = 256, target_dim: int = 384, **overrides) -> Wav2SemLocalConfig:
        """For tests: 1 layer of width 32."""
        base = dict(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64)
        return cls(input_dim=input_dim, target_dim=target_dim, **{**base, **overrides})


def band_mask(T: int, lookback: int, lookahead: int, device=None) -> torch.Tensor:
    """(T, T) bool: query t may attend to key s iff t - lookback <= s <= t + lookahead."""
    offset = torch.arange(T, device=device)[None, :] - torch.arange(T, device=device)[:, None]  # (T, T): s - t
    return (offset >= -lookback) & (offset <= lookahead)


class BandAttention(nn.Module):
    """Multi-head self-attention inside a band of offsets [-lookback, lookahead], with a learned bias per
    head and offset, and the padded keys masked."""

    def __init__(self, cfg: Wav2SemLocalConfig, lookahead: int):
        super().__init__()
        C, self.n_head = cfg.hidden_size, cfg.num_attention_heads
        self.lookback, self.lookahead = cfg.lookback_frames, lookahead
        self.qkv = nn.Linear(C, 3 * C)
        self.proj = nn.Linear(C, C)
        self.rel_bias = nn.Parameter(torch.zeros(self.n_head, self.lookback + self.lookahead + 1))  # (H, offsets)
        self.attn_dropout = cfg.attention_dropout
        self.resid_dropout = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)  # (B, T, C) each
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))  # (B, H, T, hd)
        band = band_mask(T, self.lookback, self.lookahead, x.device)  # (T, T)
        offset = torch.arange(T, device=x.device)[None, :] - torch.arange(T, device=x.device)[:, None]  # (T, T)
        bias = self.rel_bias[:, (offset + self.lookback).clamp(0, self.lookback + self.lookahead)]  # (H, T, T)
        keep = band[None, None] & mask[:, None, None, :]  # (B, 1, T, T)
        keep = keep | ~mask[:, None, :, None]  # a padded query sees everything (no empty row); its output is dropped
        attn = bias[None].masked_fill(~keep, float("-inf"))  # (B, H, T, T)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=attn.to(q.dtype),
                                           dropout_p=self.attn_dropout if self.training else 0.0)  # fmt: skip
        return self.resid_dropout(self.proj(y.transpose(1, 2).reshape(B, T, C)))  # (B, T, C)


class BandBlock(nn.Module):
    """Pre-LN transformer block with :class:`BandAttention`."""

    def __init__(self, cfg: Wav2SemLocalConfig, lookahead: int):
        super().__init__()
        C = cfg.hidden_size
        self.ln_1 = nn.LayerNorm(C)
        self.attn = BandAttention(cfg, lookahead)
        self.ln_2 = nn.LayerNorm(C)
        self.mlp = nn.Sequential(nn.Linear(C, cfg.intermediate_size), nn.GELU(),
                                 nn.Linear(cfg.intermediate_size, C), nn.Dropout(cfg.dropout))  # fmt: skip

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x), mask)  # (B, T, C)
        return x + self.mlp(self.ln_2(x))


class Wav2SemLocal(nn.Module, CheckpointMixin):
    config_class = Wav2SemLocalConfig
    checkpoint_name = "Wav2SemLocal"  # config.json's "w2s_class"
    error_class = Wav2SemLocalError

    def __init__(self, config: Wav2SemLocalConfig):
        super().__init__()
        self.config = config
        C = config.hidden_size
        self.ln_in = nn.LayerNorm(config.input_dim)  # host features have large, uneven scales
        self.proj_in = nn.Linear(config.input_dim, C)
        self.drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(
            BandBlock(config, config.lookahead_frames if i == 0 else 0) for i in range(config.num_hidden_layers)
        )
        self.ln_f = nn.LayerNorm(C)
        self.proj = nn.Linear(C, config.target_dim)  # the query in the text space
        if config.n_words:  # the training words' text vectors, set before training (w2s.semantic.local_train)
            self.register_buffer("words", torch.zeros(config.n_words, config.target_dim))
        self.speech = nn.Linear(C, 1)  # logit: a word is spoken at this frame
        self.ctc = nn.Linear(C, config.ctc_vocab_size) if config.ctc_vocab_size else None

    @property
    def lookahead_s(self) -> float:
        """How much future audio (host frames) an output frame depends on, in seconds."""
        return self.config.lookahead_frames / self.config.frame_rate

    def frames(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Host frames (B, T, C_p), validity (B, T) bool | None -> contextual frames (B, T, C), the mask."""
        mask = frame_mask(x, mask, self.config.input_dim, Wav2SemLocalError)
        h = self.drop(self.proj_in(self.ln_in(x)))  # (B, T, C)
        for block in self.blocks:
            h = block(h, mask)
        return self.ln_f(h), mask  # (B, T, C), (B, T)

    def heads(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, T, C) -> the query (B, T, C_s) (unnormalised) and the speech logit (B, T)."""
        return self.proj(h), self.speech(h).squeeze(-1)

    def word_logits(self, query: torch.Tensor) -> torch.Tensor:
        """(..., C_s) -> (..., n_words): cosine to each bank word / temperature (InfoNCE's logits)."""
        if not self.config.n_words:
            raise Wav2SemLocalError("this Wav2SemLocal has no word bank (config.n_words = 0)")
        return F.normalize(query, dim=-1) @ F.normalize(self.words, dim=-1).T / self.config.temperature

    def word_vector(self, query: torch.Tensor) -> torch.Tensor:
        """(..., C_s) -> (..., C_s): the posterior mean over the bank, or the unit query (no bank, or
        readout="query": the same weights, retrieval by cosine instead of the bank's expectation)."""
        if not self.config.n_words or self.config.readout == "query":
            return F.normalize(query, dim=-1)
        return torch.softmax(self.word_logits(query), dim=-1) @ self.words

    def ctc_logits(self, h: torch.Tensor) -> torch.Tensor:
        """Training only: per-frame phoneme logits of the auxiliary CTC head, (B, T, ctc_vocab_size)."""
        if self.ctc is None:
            raise Wav2SemLocalError("this Wav2SemLocal has no CTC head (config.ctc_vocab_size = 0)")
        return self.ctc(h)

    def combine(self, query: torch.Tensor, speech_logit: torch.Tensor) -> torch.Tensor:
        """F_s = P(speech) * the word vector: (B, T, C_s), (B, T) -> (B, T, C_s)."""
        return torch.sigmoid(speech_logit)[..., None] * self.word_vector(query)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """x (B, T, input_dim) host frames, mask (B, T) bool | None -> F_s (B, T, target_dim), 0 on padding."""
        h, mask = self.frames(x, mask)
        out = self.combine(*self.heads(h))  # (B, T, C_s)
        return out * mask[..., None].to(out.dtype)

    @torch.no_grad()
    def predict(self, inputs, batch_size: int = 16, device=None) -> list[np.ndarray]:
        """F_s streams of host feature arrays (T_i, input_dim), `batch_size` at a time, in eval mode: a list of
        (T_i, target_dim) float32 arrays. The module's train/eval mode is restored."""
        was_training = self.training
        self.eval()
        dev = device or next(self.parameters()).device
        out = []
        try:
            for s in range(0, len(inputs), batch_size):
                chunk = [np.asarray(x, dtype=np.float32) for x in inputs[s : s + batch_size]]
                x, m = pad(chunk)  # (B, T, D), (B, T)
                y = self(x.to(dev), m.to(dev)).float().cpu().numpy()  # (B, T, C_s)
                out += [y[i, : len(c)] for i, c in enumerate(chunk)]
        finally:
            self.train(was_training)
        return out


__all__ = ["Wav2SemLocal", "Wav2SemLocalConfig", "Wav2SemLocalError", "band_mask"]
