"""Wav2Sem: raw audio -> one semantic vector per utterance (Li et al., CVPR 2025, arXiv 2505.23290).

    cfg = Wav2SemConfig.tiny(target_dim=384)             # or .paper(768), .lite(input_dim, 384)
    model = Wav2Sem(cfg)
    audio, mask = pad([wav_a, wav_b])                    # (B, N) float, (B, N) bool (w2s.data.batch)
    F_s = model(audio, mask)                             # (B, target_dim)
    loss = (F_s - text_embedding).abs().mean()           # the paper's L1 to the sentence embedding
    F_s = model.predict([wav_a, wav_b])                  # numpy (2, target_dim), eval mode, batched
    model.save_pretrained("runs/wav2sem");  Wav2Sem.from_pretrained("runs/wav2sem")   # w2s.nn.checkpoint

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
dropout and LayerDrop made F_s random during the decoder's training (``reference/wav2sem-paper.md``
§4.3 and §8).
"""

from __future__ import annotations

import logging
import math
import warnings

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from w2s.data.audio import validate_audio
from w2s.data.batch import as_mask, frame_mask, pad, prefix_lengths
from w2s.encoders import conv_frames, receptive_field
from w2s.nn.checkpoint import CheckpointMixin
from w2s.nn.layers import Block, masked_mean
from w2s.semantic.wav2sem_config import Wav2SemConfig, Wav2SemError, backbone_config

log = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------------------
# the lite head: nanoGPT-style pre-LN blocks on the host's features, padding-masked, no causal mask


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
        dropouts = dict(
            dropout=cfg.hidden_dropout, attn_dropout=cfg.attention_dropout, mlp_dropout=cfg.activation_dropout
        )
        self.blocks = nn.ModuleList(
            Block(cfg.hidden_size, cfg.num_attention_heads, cfg.intermediate_size, **dropouts)
            for _ in range(cfg.num_hidden_layers)
        )
        self.ln_f = nn.LayerNorm(cfg.hidden_size)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        h = self.drop(self.proj_in(self.ln_in(x)))  # (B, T, C)
        for block in self.blocks:
            h = block(h, mask)
        return self.ln_f(h)  # (B, T, C)


class AttentionPool(nn.Module):
    """Attentive pooling (our option; SAMU-XLSR, Khurana et al. 2022, pools speech for a sentence
    embedding this way): each of `heads` scores every frame, a softmax over the valid frames turns
    the scores into weights, and each head averages its slice of the channels with its weights.
    Zero-initialised scores start it as the paper's mean."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.score = nn.Linear(dim, heads)
        nn.init.zeros_(self.score.weight)
        nn.init.zeros_(self.score.bias)

    def forward(self, h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        B, T, C = h.shape
        s = self.score(h).masked_fill(~mask[..., None], float("-inf"))  # (B, T, H)
        w = torch.softmax(s, dim=1).nan_to_num(0.0)  # (B, T, H); an all-padding item gets zeros
        v = h.view(B, T, self.heads, C // self.heads)  # (B, T, H, C/H)
        return torch.einsum("bth,bthc->bhc", w, v).reshape(B, C)  # (B, C)


# ---------------------------------------------------------------------------------------------
# the model


class Wav2Sem(nn.Module, CheckpointMixin):
    config_class = Wav2SemConfig
    checkpoint_name = "Wav2Sem"  # config.json's "w2s_class"
    error_class = Wav2SemError
    foreign_hint = ": use it as init_from"

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
        self.pool = (
            AttentionPool(config.hidden_size, config.pooling_heads) if config.pooling == "attention" else None
        )
        linear = config.projection == "linear" or config.hidden_size != config.target_dim
        self.proj = nn.Linear(config.hidden_size, config.target_dim) if linear else nn.Identity()
        self.ctc = nn.Linear(config.hidden_size, config.ctc_vocab_size) if config.ctc_vocab_size else None
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
        return self.head(*self.frames(x, mask))

    def frames(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """The contextual frames Z before pooling, and their validity: (B, T, hidden_size), (B, T) bool."""
        if self.config.kind == "audio":
            return self._frames_audio(x, mask)
        return self._frames_lite(x, mask)

    def head(self, h: torch.Tensor, frame_mask: torch.Tensor) -> torch.Tensor:
        """Pool the valid frames (mean, or attention) and project: (B, T, C), (B, T) -> (B, target_dim)."""
        pooled = masked_mean(h, frame_mask) if self.pool is None else self.pool(h, frame_mask)  # (B, C)
        return self.proj(pooled)

    def ctc_logits(self, h: torch.Tensor) -> torch.Tensor:
        """Training only: per-frame phoneme logits of the auxiliary CTC head, (B, T, ctc_vocab_size)."""
        if self.ctc is None:
            raise Wav2SemError("this Wav2Sem has no CTC head (config.ctc_vocab_size = 0)")
        return self.ctc(h)

    def _frames_lite(self, x: torch.Tensor, mask: torch.Tensor | None):
        mask = frame_mask(x, mask, self.config.input_dim, Wav2SemError)
        return self.backbone(x, mask), mask  # (B, T, C), (B, T)

    def _frames_audio(self, audio: torch.Tensor, mask: torch.Tensor | None):
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
            mask = as_mask(mask, (B, N), "attention_mask", Wav2SemError).to(audio.device)
            lengths = prefix_lengths(mask, "attention_mask", Wav2SemError)
        padded = bool((lengths < N).any())
        if padded and self.config.feat_extract_norm == "group":
            # group norm normalises each channel over time: padding would leak in. One at a time.
            items = [
                self._encode(audio[i : i + 1, : int(n)], lengths[i : i + 1]) for i, n in enumerate(lengths)
            ]
            T = max(h.shape[1] for h, _ in items)
            h = torch.cat([F.pad(h, (0, 0, 0, T - h.shape[1])) for h, _ in items])  # (B, T, C)
            return h, torch.cat([F.pad(m, (0, T - m.shape[1])) for _, m in items])
        return self._encode(audio, lengths)

    def _encode(self, audio: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """audio (B, N) with left-aligned valid lengths (B,) -> frames (B, T, C), frame mask (B, T)."""
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
        return h, frame_mask

    @torch.no_grad()
    def predict(self, inputs, batch_size: int = 8, device=None) -> np.ndarray:
        """F_s of 1-D waveforms (kind="audio") or host feature arrays (T_i, input_dim) (kind="lite"),
        `batch_size` at a time, in eval mode: a (len(inputs), target_dim) float32 array. The module's
        train/eval mode is restored."""
        was_training = self.training
        self.eval()
        dev = device or next(self.parameters()).device
        flat = self.config.kind == "audio"
        out = []
        try:
            for s in range(0, len(inputs), batch_size):
                chunk = [validate_audio(x, f"inputs[{s + i}]") if flat else np.asarray(x, dtype=np.float32)
                         for i, x in enumerate(inputs[s : s + batch_size])]  # fmt: skip
                x, m = pad(chunk)  # (B, N) | (B, T, D)
                out.append(self(x.to(dev), m.to(dev)).float().cpu().numpy())
        finally:
            self.train(was_training)
        return np.concatenate(out) if out else np.zeros((0, self.config.target_dim), np.float32)

    @classmethod
    def from_config(cls, config: Wav2SemConfig) -> Wav2Sem:
        """For from_pretrained: the saved weights are the weights, ``init_from`` is not re-applied."""
        return cls(config, load_init_from=False)

    # frozen use inside a host ---------------------------------------------------------------

    def freeze(self) -> Wav2Sem:
        """No gradients, eval mode, and eval mode kept when a host calls ``.train()``.

        The official code froze the weights but left dropout and LayerDrop on, so F_s changed from
        one pass to the next while the decoder trained (``reference/wav2sem-paper.md`` §4.3).
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
        src = _load_speech_encoder(source)
        scfg, theirs, ours = src.config, src.state_dict(), self.backbone.state_dict()
        copied, skipped = [], {}
        for name, t in ours.items():
            why = _skip_reason(name, t, theirs, scfg, self.config)
            if why:
                skipped[name] = why
            else:
                t.copy_(theirs[name])
                copied.append(name)
        if not copied:
            raise Wav2SemError(
                f"init_from {source!r}: no tensor matches by name and shape; first of ours: {list(ours)[:3]}, "
                f"first of the source's: {list(theirs)[:3]}"
            )
        differences = _differences(scfg, self.config)  # same names and shapes, another computation
        for d in differences:
            warnings.warn(
                f"init_from {source!r}: {d}; the copied weights were trained for the other", stacklevel=2
            )
        unused = sorted(set(theirs) - set(ours))
        n_copied = sum(ours[k].numel() for k in copied)
        log.info("init_from %s: copied %d tensors (%.2f M values), skipped %d, %d source tensors unused",
                 source, len(copied), n_copied / 1e6, len(skipped), len(unused))  # fmt: skip
        return {
            "source": str(source), "source_type": scfg.model_type, "copied": copied, "skipped": skipped,
            "unused_source": unused, "n_copied_values": n_copied, "differences": differences,
        }  # fmt: skip


def _load_speech_encoder(source: str) -> nn.Module:
    """``AutoModel.from_pretrained(source)``, which must be a wav2vec2-style speech encoder."""
    from transformers import AutoModel

    try:
        src = AutoModel.from_pretrained(str(source))
    except (OSError, ValueError) as e:
        raise Wav2SemError(
            f"init_from {source!r}: cannot load it ({e}). A hub name must be in the local HF cache when "
            "HF_HUB_OFFLINE=1; a folder needs config.json and the weights."
        ) from e
    if not hasattr(src.config, "conv_stride"):
        raise Wav2SemError(
            f"init_from {source!r}: a {type(src).__name__}, not a wav2vec2-style speech encoder"
        )
    return src


def _skip_reason(name: str, t: torch.Tensor, theirs: dict, scfg, cfg: Wav2SemConfig) -> str | None:
    """Why our backbone tensor `name` is not copied from the source's, or None to copy it."""
    if name not in theirs:
        return "not in the source"
    if tuple(theirs[name].shape) != tuple(t.shape):
        return f"shape {tuple(theirs[name].shape)} in the source, {tuple(t.shape)} here"
    norm = getattr(scfg, "feat_extract_norm", None)
    if norm != cfg.feat_extract_norm and name.startswith("feature_extractor.") and ".layer_norm." in name:
        return f"front-end norm is {norm!r} in the source, {cfg.feat_extract_norm!r} here"
    return None


def _differences(scfg, cfg: Wav2SemConfig) -> list[str]:
    """Where the source computes something else with tensors of the same names and shapes."""
    out = []
    if getattr(scfg, "do_stable_layer_norm", False) != cfg.do_stable_layer_norm:
        pre = {True: "pre-LN", False: "post-LN"}
        out.append(
            f"the source's transformer is {pre[bool(scfg.do_stable_layer_norm)]}, ours {pre[cfg.do_stable_layer_norm]}"
        )
    if getattr(scfg, "feat_proj_layer_norm", True) is False:
        out.append("the source's feature projection has no LayerNorm, ours has one")
    if getattr(scfg, "conv_pos_batch_norm", False):
        out.append("the source's positional conv has a BatchNorm, ours has none")
    return out


__all__ = ["Wav2Sem", "Wav2SemConfig", "Wav2SemError", "backbone_config"]
