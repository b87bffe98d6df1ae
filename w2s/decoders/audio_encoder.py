"""A host's own speech encoder, trained with it, as FaceFormer and CodeTalker do with wav2vec 2.0:
the convolutional feature extractor frozen, the projection and transformer fine-tuned.

    enc = TrainableEncoder("facebook/wav2vec2-base-960h")           # or a local folder
    F_p, mask = enc(audio, audio_mask, n_frames, fps=30)             # (B, N) -> (B, T, 768) at the face rate

Input: 16 kHz waveforms, each normalised to zero mean and unit variance over its own samples (the
``Wav2Vec2Processor``'s ``do_normalize``). Items go through the model one at a time when its front end
uses group norm (wav2vec2-base): group norm normalises over time, so padding would change them.
Frames are resampled to exactly ``n_frames`` per item by FaceFormer's rule (as
:func:`w2s.encoders.align_to_fps`, here differentiable): linear interpolation with aligned corners,
or pairs of frames averaged when the encoder rate is twice the face rate (BIWI). In train mode the
model's own SpecAugment and LayerDrop are active, as in the original training.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from w2s.data.audio import SAMPLE_RATE
from w2s.encoders.base import EncoderError
from w2s.utils.runtime import quiet_hf

FREEZE = ("cnn", "all", "none")  # what stays frozen: the CNN front end (the originals), everything, nothing


def resample_frames(h: torch.Tensor, rate: float, fps: float, n_frames: int) -> torch.Tensor:
    """h (S, D) encoder frames at `rate` Hz -> (n_frames, D) at `fps` (FaceFormer's rule, differentiable)."""
    S, D = h.shape
    if math.isclose(rate, 2 * fps) and S > 1:
        h = h[: S // 2 * 2].view(S // 2, 2, D).mean(1)  # (S // 2, D)
    elif not math.isclose(rate, fps):
        if n_frames == 1 or S == 1:
            return h[:1].expand(n_frames, D)
        return F.interpolate(h.T[None], size=n_frames, mode="linear", align_corners=True)[0].T  # (n_frames, D)
    if len(h) >= n_frames:
        return h[:n_frames]
    return torch.cat([h, h[-1:].expand(n_frames - len(h), D)])  # pad by repeating the last frame


class TrainableEncoder(nn.Module):
    def __init__(self, source: str, freeze: str = "cnn", load_weights: bool = True):
        super().__init__()
        from transformers import AutoConfig, AutoModel  # heavy; only hosts that train an encoder need it

        if freeze not in FREEZE:
            raise EncoderError(f"encoder_freeze must be one of {FREEZE}, got {freeze!r}")
        quiet_hf()
        try:
            if load_weights:
                self.model = AutoModel.from_pretrained(str(source))
            else:  # from_pretrained of the decoder: its checkpoint holds the (fine-tuned) weights
                self.model = AutoModel.from_config(AutoConfig.from_pretrained(str(source)))
        except (OSError, ValueError) as e:
            raise EncoderError(f"cannot load the speech encoder {source!r}: {e}") from e
        cfg = self.model.config
        if not hasattr(cfg, "conv_stride"):
            raise EncoderError(f"{source!r} is a {type(self.model).__name__}, not a wav2vec2-style speech encoder")
        self.rate = SAMPLE_RATE / math.prod(cfg.conv_stride)
        self.dim = int(cfg.hidden_size)
        self.batchable = cfg.feat_extract_norm == "layer"
        if freeze == "all":
            self.model.requires_grad_(False)
        elif freeze == "cnn":
            self.model.feature_extractor.requires_grad_(False)  # the originals' freeze_feature_extractor()

    def n_frames(self, n_samples: int) -> int:
        n = int(n_samples)
        for k, s in zip(self.model.config.conv_kernel, self.model.config.conv_stride):
            n = (n - k) // s + 1
        return max(n, 1)

    def forward(self, audio: torch.Tensor, audio_mask: torch.Tensor | None, n_frames: torch.Tensor, fps: float):
        """audio (B, N), audio_mask (B, N) | None, n_frames (B,) -> F_p (B, T_max, D), mask (B, T_max)."""
        B = len(audio)
        lengths = audio_mask.sum(1) if audio_mask is not None else torch.full((B,), audio.shape[1])
        xs = []
        for i in range(B):
            x = audio[i, : int(lengths[i])]
            xs.append((x - x.mean()) / torch.sqrt(x.var(unbiased=False) + 1e-7))  # do_normalize
        if self.batchable and B > 1:
            x = nn.utils.rnn.pad_sequence(xs, batch_first=True)
            m = (torch.arange(x.shape[1], device=x.device)[None] < lengths[:, None].to(x.device)).long()
            h = self.model(x, attention_mask=m).last_hidden_state  # (B, S, D)
            hs = [h[i, : self.n_frames(len(xs[i]))] for i in range(B)]
        else:
            hs = [self.model(x[None]).last_hidden_state[0] for x in xs]  # (S_i, D) each
        T = int(n_frames.max())
        F_p = audio.new_zeros(B, T, self.dim)
        for i, h in enumerate(hs):
            F_p[i, : int(n_frames[i])] = resample_frames(h, self.rate, fps, int(n_frames[i]))
        mask = torch.arange(T, device=audio.device)[None] < n_frames[:, None].to(audio.device)
        return F_p, mask
