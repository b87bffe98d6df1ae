"""Wav2Sem: raw audio -> one semantic vector per utterance (Li et al., CVPR 2025, arXiv 2505.23290).

    cfg = Wav2SemConfig.tiny(target_dim=384)             # or .paper(768), .lite(input_dim, 384)
    model = Wav2Sem(cfg)
    audio, mask = pad_audio([wav_a, wav_b])              # (B, N) float, (B, N) bool
    F_s = model(audio, mask)                             # (B, target_dim)
    loss = (F_s - text_embedding).abs().mean()           # the paper's L1 to the sentence embedding
    model.save_pretrained("runs/wav2sem");  Wav2Sem.from_pretrained("runs/wav2sem")

The model (paper §2, "as implemented" in the official code)
1. per-utterance input normalisation: zero mean, unit variance over the valid samples
   (what ``Wav2Vec2FeatureExtractor(do_normalize=True)`` does);
2. the "TCN": wav2vec2's convolutional feature encoder, 7 conv layers, total stride 320 samples
   (20 ms at 16 kHz, ~50 Hz), receptive field 400 samples;
3. feature projection + convolutional positional embedding + a post-LN transformer (wav2vec2-base);
4. mean pooling over the valid frames: ``F_s = 1/N sum_i Z_i``;
5. a projection to the target space (a Linear; the identity when the sizes match, as the paper's
   768 -> 768, where the transformer output *is* F_s).

Steps 2-3 are ``transformers.Wav2Vec2Model`` built from our config (random init, as the official
code), so ``init_from="facebook/wav2vec2-base"`` (or a HuBERT, or a folder) can copy a pretrained
encoder's weights by name: the follow-up the paper's code leaves open.

kind="lite" (our extension, not in the paper): a 2-layer pre-LN transformer on the *host* encoder's
frozen frame features (B, T, D) + masked mean pooling + projection. It reuses the features the host
computes anyway, so it costs almost nothing at inference; what it loses is the paper's separate
audio branch.

Batches with padding give the same F_s as one utterance at a time (up to float rounding):
* the pooling and the attention are masked, and the conv front end's valid output lengths are
  computed from the sample lengths (an output frame never sees a padded sample);
* the layer-norm front end (``feat_extract_norm="layer"``) normalises each frame on its own. The
  group-norm front end (wav2vec2-base, the official code) normalises every channel *over time*, so
  padding would change it: for such configs a padded batch is run one utterance at a time (exact,
  slower). Batches without padding (equal lengths, e.g. cropped) run batched either way.

A frozen Wav2Sem inside a host model: call :meth:`Wav2Sem.freeze` (no gradients, eval mode, and it
stays in eval mode when the host calls ``.train()``). The official code left it in train mode, so
dropout and LayerDrop made F_s random during the decoder's training (paper digest §8, bug 16).
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import tempfile
import warnings
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from w2s import __version__
from w2s.encoders import conv_frames, receptive_field

log = logging.getLogger(__name__)

FORMAT_VERSION = 1  # of the saved folder (config.json + model.safetensors)
CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
MARKER = "Wav2Sem"  # config.json's "w2s_class"

WAV2VEC2_KERNELS = (10, 3, 3, 3, 3, 2, 2)
WAV2VEC2_STRIDES = (5, 2, 2, 2, 2, 2, 2)


class Wav2SemError(ValueError):
    """A Wav2Sem config, checkpoint or input that cannot be used; the message says which and why."""


# ---------------------------------------------------------------------------------------------
# config


@dataclass(frozen=True)
class Wav2SemConfig:
    kind: str = "audio"  # "audio": raw waveform model (the paper); "lite": head on host features
    target_dim: int = 768  # the text embedding's size: 384 all-MiniLM-L6-v2, 768 BERT-base
    # backbone, in transformers.Wav2Vec2Config's names (defaults: wav2vec2-base, the official code)
    conv_dim: tuple[int, ...] = (512,) * 7
    conv_kernel: tuple[int, ...] = WAV2VEC2_KERNELS
    conv_stride: tuple[int, ...] = WAV2VEC2_STRIDES
    conv_bias: bool = False
    feat_extract_norm: str = "group"  # "group": wav2vec2-base (batch 1 exact); "layer": batchable
    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12  # the code's 12 (the paper's text says 8; 768 / 8 also works)
    intermediate_size: int = 3072
    num_conv_pos_embeddings: int = 128  # positional conv kernel
    num_conv_pos_embedding_groups: int = 16
    do_stable_layer_norm: bool = False  # False: post-LN (the code); True: pre-LN (the paper's text)
    hidden_dropout: float = 0.1
    attention_dropout: float = 0.1
    activation_dropout: float = 0.1
    feat_proj_dropout: float = 0.1
    layerdrop: float = 0.1  # a whole transformer layer skipped with this probability in train mode
    normalize_input: bool = True  # per-utterance zero mean / unit variance of the waveform
    # lite: the host encoder's feature size (the transformer fields above give its width/depth)
    input_dim: int | None = None
    # head
    projection: str = "auto"  # "auto": identity when hidden_size == target_dim, else Linear; "linear"
    init_from: str | None = None  # a wav2vec2/HuBERT hub name or folder: initial backbone weights

    def __post_init__(self):
        for name in ("conv_dim", "conv_kernel", "conv_stride"):
            object.__setattr__(self, name, tuple(int(v) for v in getattr(self, name)))  # JSON lists -> tuples
        if self.init_from is not None:
            object.__setattr__(self, "init_from", str(self.init_from))  # a Path -> JSON-able
        if self.kind not in ("audio", "lite"):
            raise Wav2SemError(f"kind must be 'audio' or 'lite', got {self.kind!r}")
        if self.target_dim < 1 or self.hidden_size < 1 or self.num_hidden_layers < 1:
            raise Wav2SemError("target_dim, hidden_size and num_hidden_layers must be >= 1")
        if self.hidden_size % self.num_attention_heads:
            raise Wav2SemError(
                f"hidden_size {self.hidden_size} is not divisible by num_attention_heads {self.num_attention_heads}"
            )
        if self.projection not in ("auto", "linear"):
            raise Wav2SemError(f"projection must be 'auto' or 'linear', got {self.projection!r}")
        for name in ("hidden_dropout", "attention_dropout", "activation_dropout", "feat_proj_dropout"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise Wav2SemError(f"{name} must be in [0, 1), got {getattr(self, name)}")
        if not 0.0 <= self.layerdrop < 1.0:
            raise Wav2SemError(f"layerdrop must be in [0, 1), got {self.layerdrop}")
        if self.kind == "audio":
            if not (len(self.conv_dim) == len(self.conv_kernel) == len(self.conv_stride) >= 1):
                raise Wav2SemError("conv_dim, conv_kernel and conv_stride need the same (non-zero) length")
            if self.feat_extract_norm not in ("group", "layer"):
                raise Wav2SemError(
                    f"feat_extract_norm must be 'group' or 'layer', got {self.feat_extract_norm!r}"
                )
            if self.hidden_size % self.num_conv_pos_embedding_groups:
                raise Wav2SemError("hidden_size must be divisible by num_conv_pos_embedding_groups")
        else:
            if self.input_dim is None or self.input_dim < 1:
                raise Wav2SemError("kind='lite' needs input_dim: the host encoder's feature size")
            if self.init_from is not None:
                raise Wav2SemError("init_from loads a wav2vec2/HuBERT backbone; kind='lite' has none")

    # presets --------------------------------------------------------------------------------

    @classmethod
    def paper(cls, target_dim: int = 768, **overrides) -> Wav2SemConfig:
        """The official code's model: wav2vec2-base shape, random init, ~94.4 M parameters."""
        return cls(target_dim=target_dim, **overrides)

    @classmethod
    def tiny(cls, target_dim: int = 384, **overrides) -> Wav2SemConfig:
        """The offline default: wav2vec2's CNN geometry (50 Hz) with 32-128 channels, 4 x 256 transformer.

        ~3.7 M parameters with target_dim 384. The transformer has the tiny HuBERT's shape
        (:mod:`w2s.encoders.tiny_hubert`), so ``init_from`` its folder copies the transformer and the
        positional conv (the CNN's channels differ; use :meth:`like` for an exact copy). The
        front end is layer-norm, so padded batches are exact. Its first conv layers are narrow
        because on a CPU they dominate the cost (9,600 frames per 3 s).
        """
        base = dict(
            conv_dim=(32, 64, 64, 128, 128, 128, 128), feat_extract_norm="layer", hidden_size=256,
            num_hidden_layers=4, num_attention_heads=4, intermediate_size=1024, num_conv_pos_embeddings=32,
            num_conv_pos_embedding_groups=8, hidden_dropout=0.1, attention_dropout=0.1,
            activation_dropout=0.0, feat_proj_dropout=0.0, layerdrop=0.0,
        )  # fmt: skip
        return cls(target_dim=target_dim, **{**base, **overrides})

    @classmethod
    def lite(cls, input_dim: int, target_dim: int = 384, **overrides) -> Wav2SemConfig:
        """Our extension: 2 pre-LN transformer layers of width 256 on the host's frozen features."""
        base = dict(
            kind="lite", input_dim=input_dim, hidden_size=256, num_hidden_layers=2, num_attention_heads=4,
            intermediate_size=1024, hidden_dropout=0.1, attention_dropout=0.1, activation_dropout=0.0,
            feat_proj_dropout=0.0, layerdrop=0.0, projection="linear",
        )  # fmt: skip
        return cls(target_dim=target_dim, **{**base, **overrides})

    @classmethod
    def like(cls, source: str, target_dim: int = 768, **overrides) -> Wav2SemConfig:
        """A config with the backbone shape of a wav2vec2/HuBERT checkpoint, initialised from it.

        Reads only the source's ``config.json`` (and its feature extractor's ``do_normalize``), so
        ``init_from`` then copies every tensor. The dropouts stay ours (override them if needed).
        """
        from transformers import AutoConfig, AutoFeatureExtractor

        try:
            src = AutoConfig.from_pretrained(str(source))
        except (OSError, ValueError) as e:
            raise Wav2SemError(f"cannot read the config of {source!r}: {e}") from e
        if not hasattr(src, "conv_stride") or not hasattr(src, "num_conv_pos_embeddings"):
            raise Wav2SemError(
                f"{source!r} is a {src.model_type!r} model, not a wav2vec2-style speech encoder"
            )
        shape = {f.name: getattr(src, f.name) for f in fields(cls) if f.name in _BACKBONE_FIELDS}
        try:
            shape["normalize_input"] = bool(AutoFeatureExtractor.from_pretrained(str(source)).do_normalize)
        except (OSError, ValueError, AttributeError):
            pass  # no preprocessor_config.json: keep ours
        return cls(target_dim=target_dim, init_from=str(source), **{**shape, **overrides})

    # serialisation --------------------------------------------------------------------------

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict, where: str = "config") -> Wav2SemConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise Wav2SemError(
                f"{where}: unknown Wav2Sem config fields {unknown} (written by another w2s version?); "
                f"known fields: {sorted(known)}"
            )
        return cls(**d)


_BACKBONE_FIELDS = (
    "conv_dim", "conv_kernel", "conv_stride", "conv_bias", "feat_extract_norm", "hidden_size",
    "num_hidden_layers", "num_attention_heads", "intermediate_size", "num_conv_pos_embeddings",
    "num_conv_pos_embedding_groups", "do_stable_layer_norm",
)  # fmt: skip


def backbone_config(cfg: Wav2SemConfig):
    """The ``transformers.Wav2Vec2Config`` of an audio Wav2Sem's backbone."""
    from transformers import Wav2Vec2Config

    return Wav2Vec2Config(
        **{
            k: list(v) if isinstance(v, tuple) else v for k, v in asdict(cfg).items() if k in _BACKBONE_FIELDS
        },
        num_feat_extract_layers=len(cfg.conv_dim),
        hidden_dropout=cfg.hidden_dropout,
        attention_dropout=cfg.attention_dropout,
        activation_dropout=cfg.activation_dropout,
        feat_proj_dropout=cfg.feat_proj_dropout,
        layerdrop=cfg.layerdrop,
        mask_time_prob=0.0,  # no SpecAugment (the official code has none) -> no masked_spec_embed
        mask_feature_prob=0.0,
        apply_spec_augment=False,
    )


# ---------------------------------------------------------------------------------------------
# the lite head's transformer (nanoGPT-style pre-LN blocks, padding-masked, no causal mask)


class SelfAttention(nn.Module):
    def __init__(self, cfg: Wav2SemConfig):
        super().__init__()
        self.n_head = cfg.num_attention_heads
        self.qkv = nn.Linear(cfg.hidden_size, 3 * cfg.hidden_size)
        self.proj = nn.Linear(cfg.hidden_size, cfg.hidden_size)
        self.attn_dropout = cfg.attention_dropout
        self.resid_dropout = nn.Dropout(cfg.hidden_dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)  # (B, T, C) each
        q, k, v = (
            t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v)
        )  # (B, H, T, hd)
        keep = mask[:, None, None, :]  # (B, 1, 1, T): every query sees the valid keys only
        y = F.scaled_dot_product_attention(
            q, k, v, attn_mask=keep, dropout_p=self.attn_dropout if self.training else 0.0
        )
        y = y.transpose(1, 2).reshape(B, T, C)  # (B, T, C)
        return self.resid_dropout(self.proj(y))


class Block(nn.Module):
    def __init__(self, cfg: Wav2SemConfig):
        super().__init__()
        self.ln_1 = nn.LayerNorm(cfg.hidden_size)
        self.attn = SelfAttention(cfg)
        self.ln_2 = nn.LayerNorm(cfg.hidden_size)
        self.mlp = nn.Sequential(
            nn.Linear(cfg.hidden_size, cfg.intermediate_size),
            nn.GELU(),
            nn.Dropout(cfg.activation_dropout),
            nn.Linear(cfg.intermediate_size, cfg.hidden_size),
            nn.Dropout(cfg.hidden_dropout),
        )

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x), mask)  # (B, T, C)
        return x + self.mlp(self.ln_2(x))


class LiteEncoder(nn.Module):
    """Host frame features (B, T, input_dim) -> contextual frames (B, T, hidden_size).

    No positional encoding: the host's SSL features are already contextual, and the result is
    mean-pooled anyway.
    """

    def __init__(self, cfg: Wav2SemConfig):
        super().__init__()
        self.ln_in = nn.LayerNorm(cfg.input_dim)  # host features have large, uneven scales
        self.proj_in = nn.Linear(cfg.input_dim, cfg.hidden_size)
        self.drop = nn.Dropout(cfg.hidden_dropout)
        self.blocks = nn.ModuleList([Block(cfg) for _ in range(cfg.num_hidden_layers)])
        self.ln_f = nn.LayerNorm(cfg.hidden_size)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        h = self.drop(self.proj_in(self.ln_in(x)))  # (B, T, C)
        for block in self.blocks:
            h = block(h, mask)
        return self.ln_f(h)  # (B, T, C)


# ---------------------------------------------------------------------------------------------
# the model


def masked_mean(h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over the valid frames: h (B, T, C), mask (B, T) bool -> (B, C)."""
    m = mask.to(h.dtype).unsqueeze(-1)  # (B, T, 1)
    return (h * m).sum(1) / m.sum(1).clamp_min(1.0)  # (B, C)


def _as_mask(mask, shape, what: str) -> torch.Tensor:
    if not isinstance(mask, torch.Tensor):
        mask = torch.as_tensor(mask)
    if tuple(mask.shape) != tuple(shape):
        raise Wav2SemError(f"{what}: expected shape {tuple(shape)}, got {tuple(mask.shape)}")
    if mask.dtype != torch.bool:
        if mask.dtype.is_floating_point or not ((mask == 0) | (mask == 1)).all():
            raise Wav2SemError(f"{what}: expected a bool (or 0/1 integer) mask, got {mask.dtype}")
        mask = mask.bool()
    return mask


def _prefix_lengths(mask: torch.Tensor, what: str) -> torch.Tensor:
    """Lengths (B,) of a left-aligned mask (valid first, then padding); error otherwise."""
    lengths = mask.sum(1)  # (B,)
    prefix = torch.arange(mask.shape[1], device=mask.device)[None, :] < lengths[:, None]  # (B, N)
    if not torch.equal(prefix, mask):
        bad = int((prefix != mask).any(1).nonzero()[0])
        raise Wav2SemError(f"{what}: item {bad} is not left-aligned (valid entries first, then padding)")
    if (lengths == 0).any():
        raise Wav2SemError(f"{what}: item {int((lengths == 0).nonzero()[0])} has no valid entries")
    return lengths


class Wav2Sem(nn.Module):
    def __init__(self, config: Wav2SemConfig, load_init_from: bool = True):
        """Random init; then, for kind="audio" with ``config.init_from`` set (and load_init_from),
        the backbone's weights are copied from that checkpoint (see :meth:`init_backbone_from`)."""
        super().__init__()
        self.config = config
        self.frozen = False
        self.init_report: dict | None = None
        if config.kind == "audio":
            from transformers import Wav2Vec2Model

            self.backbone = Wav2Vec2Model(backbone_config(config))  # "TCN" + transformer
            self.min_samples = receptive_field(config.conv_kernel, config.conv_stride)  # 400 for wav2vec2
        else:
            self.backbone = LiteEncoder(config)
        linear = config.projection == "linear" or config.hidden_size != config.target_dim
        self.proj = nn.Linear(config.hidden_size, config.target_dim) if linear else nn.Identity()
        if config.kind == "audio" and config.init_from and load_init_from:
            self.init_report = self.init_backbone_from(config.init_from)

    # shapes ---------------------------------------------------------------------------------

    def n_frames(self, n_samples) -> int:
        """Backbone frames for an utterance of `n_samples` (shorter than 400 -> zero-padded to it)."""
        return conv_frames(
            max(int(n_samples), self.min_samples), self.config.conv_kernel, self.config.conv_stride
        )

    @property
    def frame_rate(self) -> float:
        return 16_000 / math.prod(self.config.conv_stride)

    # forward --------------------------------------------------------------------------------

    def forward(
        self, x: torch.Tensor, mask: torch.Tensor | None = None, *, attention_mask=None
    ) -> torch.Tensor:
        """audio: x (B, N) float 16 kHz, mask (B, N) bool | None  -> F_s (B, target_dim)
        lite:  x (B, T, input_dim) host features, mask (B, T) bool | None -> (B, target_dim)

        mask: True on valid entries, left-aligned (``attention_mask`` is an alias).
        """
        if attention_mask is not None:
            if mask is not None:
                raise Wav2SemError("pass mask or attention_mask, not both")
            mask = attention_mask
        if self.config.kind == "audio":
            return self._forward_audio(x, mask)
        return self._forward_lite(x, mask)

    def _forward_lite(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        D = self.config.input_dim
        if x.ndim != 3 or x.shape[-1] != D or not x.is_floating_point():
            raise Wav2SemError(f"features: expected float (B, T, {D}), got {x.dtype} {tuple(x.shape)}")
        B, T, _ = x.shape
        if T == 0:
            raise Wav2SemError("features: T = 0 frames")
        mask = (
            torch.ones(B, T, dtype=torch.bool, device=x.device)
            if mask is None
            else _as_mask(mask, (B, T), "mask")
        )
        _prefix_lengths(mask, "mask")
        h = self.backbone(x, mask)  # (B, T, C)
        return self.proj(masked_mean(h, mask))  # (B, target_dim)

    def _forward_audio(self, audio: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        if audio.ndim != 2 or not audio.is_floating_point():
            raise Wav2SemError(
                f"audio: expected float (B, N) at 16 kHz, got {audio.dtype} {tuple(audio.shape)}"
            )
        B, N = audio.shape
        if N == 0:
            raise Wav2SemError("audio: N = 0 samples")
        if mask is None:
            lengths = torch.full((B,), N, dtype=torch.long, device=audio.device)
        else:
            lengths = _prefix_lengths(
                _as_mask(mask, (B, N), "attention_mask").to(audio.device), "attention_mask"
            )
        padded = bool((lengths < N).any())
        if padded and self.config.feat_extract_norm == "group":
            # group norm normalises each channel over time: padding would leak in. One at a time.
            return torch.cat(
                [self._embed(audio[i : i + 1, : int(n)], lengths[i : i + 1]) for i, n in enumerate(lengths)]
            )
        return self._embed(audio, lengths)

    def _embed(self, audio: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """audio (B, N) with left-aligned valid lengths (B,) -> (B, target_dim)."""
        B, N = audio.shape
        valid = torch.arange(N, device=audio.device)[None, :] < lengths[:, None]  # (B, N)
        x = audio.float() * valid
        if self.config.normalize_input:
            n = lengths[:, None].to(x.dtype)  # (B, 1)
            mean = x.sum(1, keepdim=True) / n
            var = (((x - mean) * valid) ** 2).sum(1, keepdim=True) / n
            x = (x - mean) / torch.sqrt(var + 1e-7) * valid  # (B, N), padding stays 0
        if N < self.min_samples:  # shorter than one frame's field: zero-pad (as HFEncoder does)
            x = F.pad(x, (0, self.min_samples - N))
        eff = lengths.clamp_min(self.min_samples)  # (B,)
        n_frames = torch.tensor([self.n_frames(int(n)) for n in eff], device=x.device)  # (B,)
        sample_mask = torch.arange(x.shape[1], device=x.device)[None, :] < eff[:, None]  # (B, N')
        all_valid = bool(sample_mask.all())
        x = x.to(self.proj.weight.dtype if isinstance(self.proj, nn.Linear) else self.backbone.dtype)
        out = self.backbone(x, attention_mask=None if all_valid else sample_mask.long())
        h = out.last_hidden_state  # (B, T, C)
        frame_mask = torch.arange(h.shape[1], device=x.device)[None, :] < n_frames[:, None]  # (B, T)
        return self.proj(masked_mean(h, frame_mask))  # (B, target_dim)

    @torch.no_grad()
    def embed(self, wavs, batch_size: int = 8, device=None):
        """F_s of a list of 1-D waveforms (or host feature arrays for kind="lite"), in eval mode:
        a (len(wavs), target_dim) float32 numpy array. The module's train/eval mode is restored."""
        import numpy as np

        was_training = self.training
        self.eval()
        dev = device or next(self.parameters()).device
        out = []
        try:
            for s in range(0, len(wavs), batch_size):
                chunk = wavs[s : s + batch_size]
                x, m = pad_audio(chunk) if self.config.kind == "audio" else pad_features(chunk)
                out.append(self(x.to(dev), m.to(dev)).float().cpu().numpy())
        finally:
            self.train(was_training)
        return np.concatenate(out) if out else np.zeros((0, self.config.target_dim), np.float32)

    # frozen use inside a host ---------------------------------------------------------------

    def freeze(self) -> Wav2Sem:
        """No gradients, eval mode, and eval mode kept when a host calls ``.train()``.

        The official code froze the weights but left dropout and LayerDrop on, so F_s changed from
        one pass to the next while the decoder trained (digest §8, bug 16).
        """
        self.requires_grad_(False)
        self.frozen = True
        return self.eval()

    def unfreeze(self) -> Wav2Sem:
        self.frozen = False
        return self.requires_grad_(True)

    def train(self, mode: bool = True) -> Wav2Sem:
        return super().train(False if getattr(self, "frozen", False) else mode)

    # init from a wav2vec2 / HuBERT checkpoint -----------------------------------------------

    @torch.no_grad()
    def init_backbone_from(self, source: str) -> dict:
        """Copy every backbone tensor whose name and shape match a wav2vec2/HuBERT checkpoint's.

        source: a hub name (it must be in the local HF cache when offline) or a folder. Loaded with
        ``AutoModel.from_pretrained``, so CTC checkpoints give their base model. Tensors whose
        meaning differs though the shape matches are skipped: the front end's norm when the source
        uses another ``feat_extract_norm`` (group norm over time vs layer norm per frame).
        Returns (and logs) a report: copied, skipped (name: reason), unused source tensors.
        """
        if self.config.kind != "audio":
            raise Wav2SemError("init_backbone_from: kind='lite' has no wav2vec2 backbone")
        from transformers import AutoModel

        try:
            src = AutoModel.from_pretrained(str(source))
        except (OSError, ValueError) as e:
            raise Wav2SemError(
                f"init_from {source!r}: cannot load it ({e}). A hub name must be in the local HF cache when "
                "HF_HUB_OFFLINE=1; a folder needs config.json and the weights."
            ) from e
        scfg = src.config
        if not hasattr(scfg, "conv_stride"):
            raise Wav2SemError(
                f"init_from {source!r}: a {type(src).__name__}, not a wav2vec2-style speech encoder"
            )
        theirs = src.state_dict()
        ours = self.backbone.state_dict()
        norm_differs = getattr(scfg, "feat_extract_norm", None) != self.config.feat_extract_norm
        copied, skipped = [], {}
        for name, t in ours.items():
            if name not in theirs:
                skipped[name] = "not in the source"
            elif tuple(theirs[name].shape) != tuple(t.shape):
                skipped[name] = f"shape {tuple(theirs[name].shape)} in the source, {tuple(t.shape)} here"
            elif norm_differs and name.startswith("feature_extractor.") and ".layer_norm." in name:
                skipped[name] = (
                    f"front-end norm is {scfg.feat_extract_norm!r} in the source, {self.config.feat_extract_norm!r} here"
                )
            else:
                t.copy_(theirs[name])
                copied.append(name)
        unused = sorted(set(theirs) - set(ours))
        if not copied:
            raise Wav2SemError(
                f"init_from {source!r}: no tensor matches by name and shape; first of ours: {list(ours)[:3]}, "
                f"first of the source's: {list(theirs)[:3]}"
            )
        differences = []  # same names and shapes, another computation: copied, but worth knowing
        if getattr(scfg, "do_stable_layer_norm", False) != self.config.do_stable_layer_norm:
            pre = {True: "pre-LN", False: "post-LN"}
            differences.append(
                f"the source's transformer is {pre[bool(scfg.do_stable_layer_norm)]}, "
                f"ours {pre[self.config.do_stable_layer_norm]}"
            )
        if getattr(scfg, "feat_proj_layer_norm", True) is False:
            differences.append("the source's feature projection has no LayerNorm, ours has one")
        if getattr(scfg, "conv_pos_batch_norm", False):
            differences.append("the source's positional conv has a BatchNorm, ours has none")
        for d in differences:
            warnings.warn(
                f"init_from {source!r}: {d}; the copied weights were trained for the other", stacklevel=2
            )
        n_copied = sum(ours[k].numel() for k in copied)
        log.info("init_from %s: copied %d tensors (%.2f M values), skipped %d, %d source tensors unused",
                 source, len(copied), n_copied / 1e6, len(skipped), len(unused))  # fmt: skip
        return {
            "source": str(source), "source_type": scfg.model_type, "copied": copied, "skipped": skipped,
            "unused_source": unused, "n_copied_values": n_copied, "differences": differences,
        }  # fmt: skip

    # save / load ----------------------------------------------------------------------------

    def save_pretrained(self, folder) -> Path:
        """``folder/config.json`` + ``folder/model.safetensors``, written into a temp folder and
        renamed: the folder is complete or untouched. An existing Wav2Sem folder is replaced."""
        from safetensors.torch import save_file

        folder = Path(folder)
        if folder.exists() and not _is_checkpoint(folder) and (not folder.is_dir() or any(folder.iterdir())):
            raise Wav2SemError(
                f"save_pretrained: {folder} exists and is not a Wav2Sem checkpoint; not overwriting it"
            )
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
        try:
            state = {k: v.detach().cpu().contiguous() for k, v in self.state_dict().items()}
            save_file(state, str(tmp / WEIGHTS_NAME), metadata={"format": "pt", "w2s_class": MARKER})
            meta = {"w2s_class": MARKER, "format_version": FORMAT_VERSION, "w2s_version": __version__,
                    "config": self.config.to_dict()}  # fmt: skip
            (tmp / CONFIG_NAME).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
            os.chmod(tmp, 0o755)
            if folder.exists():
                old = folder.with_name(f".{folder.name}.old")
                shutil.rmtree(old, ignore_errors=True)
                os.replace(folder, old)
                os.replace(tmp, folder)
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.replace(tmp, folder)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return folder

    @classmethod
    def from_pretrained(cls, name_or_folder, map_location=None) -> Wav2Sem:
        """A Wav2Sem saved by :meth:`save_pretrained`: a folder, or a hub name (downloaded with
        ``huggingface_hub.snapshot_download``; offline, the files must be in the local HF cache).

        Returned in eval mode. ``init_from`` is not re-applied: the saved weights are the weights.
        """
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        folder = _resolve(name_or_folder)
        cfg_path, w_path = folder / CONFIG_NAME, folder / WEIGHTS_NAME
        if not cfg_path.is_file():
            raise Wav2SemError(f"{folder} is not a Wav2Sem checkpoint: no {CONFIG_NAME}")
        try:
            meta = json.loads(cfg_path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise Wav2SemError(f"{cfg_path}: unreadable JSON ({e})") from e
        if not isinstance(meta, dict) or meta.get("w2s_class") != MARKER:
            hint = ""
            if isinstance(meta, dict) and "model_type" in meta:
                hint = f" (it is a transformers {meta['model_type']!r} model: use it as init_from)"
            raise Wav2SemError(
                f'{folder} is not a Wav2Sem checkpoint: {CONFIG_NAME} has no "w2s_class": "{MARKER}"{hint}'
            )
        if meta.get("format_version") != FORMAT_VERSION:
            raise Wav2SemError(
                f"{cfg_path}: format_version {meta.get('format_version')!r}, this w2s reads {FORMAT_VERSION}"
            )
        if not isinstance(meta.get("config"), dict):
            raise Wav2SemError(f'{cfg_path}: no "config" object')
        try:
            config = Wav2SemConfig.from_dict(meta["config"], where=str(cfg_path))
        except TypeError as e:
            raise Wav2SemError(f"{cfg_path}: bad config ({e})") from e
        if not w_path.is_file():
            raise Wav2SemError(f"{folder} is not a complete Wav2Sem checkpoint: no {WEIGHTS_NAME}")
        try:
            state = load_file(str(w_path), device="cpu")
        except (SafetensorError, OSError) as e:
            raise Wav2SemError(f"{w_path}: unreadable safetensors file ({e})") from e

        model = cls(config, load_init_from=False)
        expected = model.state_dict()
        missing = [k for k in expected if k not in state]
        unexpected = [k for k in state if k not in expected]
        if missing or unexpected:
            raise Wav2SemError(
                f"{w_path} does not fit its config: missing tensors {missing[:5]}{' ...' if len(missing) > 5 else ''}, "
                f"unexpected tensors {unexpected[:5]}{' ...' if len(unexpected) > 5 else ''}"
            )
        for k, t in expected.items():
            if tuple(state[k].shape) != tuple(t.shape):
                raise Wav2SemError(
                    f"{w_path}: tensor {k!r} has shape {tuple(state[k].shape)} in the checkpoint, "
                    f"but the config gives {tuple(t.shape)}"
                )
        model.load_state_dict(state, strict=True)
        if map_location is not None:
            model.to(map_location)
        return model.eval()


def _is_checkpoint(folder: Path) -> bool:
    try:
        return json.loads((folder / CONFIG_NAME).read_text(encoding="utf-8")).get("w2s_class") == MARKER
    except (OSError, ValueError, AttributeError):
        return False


def _resolve(name_or_folder) -> Path:
    """A local folder as is; otherwise a hub repo id through snapshot_download."""
    p = Path(name_or_folder).expanduser()
    if p.is_dir():
        return p
    if p.exists():
        raise Wav2SemError(f"{p} is a file; a Wav2Sem checkpoint is a folder (config.json + {WEIGHTS_NAME})")
    name = str(name_or_folder)
    if name.startswith((".", "/", "~")) or "\\" in name or name.count("/") > 1:
        raise Wav2SemError(f"no such folder: {name}")
    from huggingface_hub import constants, snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        return Path(snapshot_download(repo_id=name, allow_patterns=[CONFIG_NAME, WEIGHTS_NAME]))
    except LocalEntryNotFoundError as e:
        why = (
            "offline (HF_HUB_OFFLINE=1): nothing is downloaded"
            if constants.HF_HUB_OFFLINE
            else "the hub cannot be reached"
        )
        raise Wav2SemError(
            f"{name!r} is not a local folder, and its files are not in the local Hugging Face cache; {why}. "
            "Download it once while online, or pass the folder written by save_pretrained."
        ) from e
    except Exception as e:  # no such repo, invalid name, HTTP errors: one clear message
        raise Wav2SemError(
            f"{name!r} is not a local folder, and getting it from the Hugging Face hub failed: {type(e).__name__}: {e}"
        ) from e


# ---------------------------------------------------------------------------------------------
# batching helpers


def pad_audio(wavs) -> tuple[torch.Tensor, torch.Tensor]:
    """1-D waveforms -> audio (B, N_max) float32 zero-padded, mask (B, N_max) bool."""
    xs = [torch.as_tensor(w, dtype=torch.float32).reshape(-1) for w in wavs]
    if not xs:
        raise Wav2SemError("pad_audio: no waveforms")
    n = max(len(x) for x in xs)
    audio = torch.zeros(len(xs), n)
    mask = torch.zeros(len(xs), n, dtype=torch.bool)
    for i, x in enumerate(xs):
        audio[i, : len(x)] = x
        mask[i, : len(x)] = True
    return audio, mask


def pad_features(feats) -> tuple[torch.Tensor, torch.Tensor]:
    """(T_i, D) arrays -> features (B, T_max, D) float32 zero-padded, mask (B, T_max) bool."""
    xs = [torch.as_tensor(f, dtype=torch.float32) for f in feats]
    if not xs:
        raise Wav2SemError("pad_features: no feature arrays")
    if any(x.ndim != 2 or x.shape[1] != xs[0].shape[1] for x in xs):
        raise Wav2SemError(
            f"pad_features: expected (T_i, D) arrays with one D, got {[tuple(x.shape) for x in xs]}"
        )
    t = max(len(x) for x in xs)
    out = torch.zeros(len(xs), t, xs[0].shape[1])
    mask = torch.zeros(len(xs), t, dtype=torch.bool)
    for i, x in enumerate(xs):
        out[i, : len(x)] = x
        mask[i, : len(x)] = True
    return out, mask


def n_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters (each shared tensor once)."""
    seen, n = set(), 0
    for p in model.parameters():
        if id(p) in seen or (trainable_only and not p.requires_grad):
            continue
        seen.add(id(p))
        n += p.numel()
    return n


__all__ = [
    "Wav2Sem", "Wav2SemConfig", "Wav2SemError", "backbone_config", "masked_mean", "n_parameters",
    "pad_audio", "pad_features",
]  # fmt: skip
