"""Hugging Face speech models (wav2vec2, HuBERT, WavLM, data2vec-audio: anything with the wav2vec2
convolutional front end) by hub name or folder, frozen."""

from __future__ import annotations

import hashlib
import math
import warnings

import numpy as np

from w2s.data.audio import SAMPLE_RATE
from w2s.data.batch import pad
from w2s.encoders.base import Encoder, EncoderError, check_audio, conv_frames, pad_to, receptive_field
from w2s.utils.hashing import sha256_tensors, stable_json
from w2s.utils.runtime import device as pick_device
from w2s.utils.runtime import quiet_hf

PREPROCESS_VERSION = 1  # bump when how audio is prepared for the models changes (keys the cache)


def load_pretrained(auto_class, name, what: str):
    """``auto_class.from_pretrained(name)`` with one-line :class:`EncoderError` s naming `name`.

    transformers reads ``model.safetensors``, or a ``pytorch_model.bin`` with
    ``torch.load(weights_only=True)``: a .bin that holds more than tensors is refused, never run."""
    import pickle

    try:
        return auto_class.from_pretrained(str(name))
    except pickle.UnpicklingError:
        raise EncoderError(f"cannot load {what} {name!r}: its weights file holds more than tensors (a pickle that "
                           "could run code), so it is refused; use a model.safetensors file") from None  # fmt: skip
    except (OSError, ValueError, RuntimeError, KeyError) as e:
        text = " ".join(str(e).split())[:300] or type(e).__name__
        raise EncoderError(f"cannot load {what} {name!r}: {text} (hub names need the files in the local HF cache "
                           "when HF_HUB_OFFLINE=1; a folder needs config.json and the weights)") from None  # fmt: skip


class HFEncoder(Encoder):
    """A wav2vec2-family model from the hub or a folder, frozen (eval mode, no grad).

    Input: the feature extractor's preprocessing when the checkpoint has one
    (``preprocessor_config.json``; e.g. per-utterance zero mean / unit variance when
    ``do_normalize``), else the raw waveform, with a warning. Audio shorter than the CNN's
    receptive field (400 samples) is zero-padded to it.
    """

    def __init__(self, name: str, layer: int | None = None, device=None, display_name: str | None = None):
        import torch
        from transformers import AutoFeatureExtractor, AutoModel

        quiet_hf()
        self.name = display_name or str(name)
        self.source = str(name)  # the hub name or folder it was loaded from
        model = load_pretrained(AutoModel, name, "encoder")  # CTC checkpoints: the base model's weights
        cfg = model.config
        if not hasattr(cfg, "conv_stride") or not hasattr(cfg, "num_hidden_layers"):
            raise EncoderError(
                f"{name!r} is a {type(model).__name__}, not a wav2vec2-style speech encoder (no conv front end)"
            )
        try:
            self.feature_extractor = AutoFeatureExtractor.from_pretrained(str(name))
        except (OSError, ValueError):
            self.feature_extractor = None
            warnings.warn(
                f"{name}: no feature extractor (preprocessor_config.json); feeding the raw waveform",
                UserWarning,
                stacklevel=2,
            )
        fe = self.feature_extractor
        if fe is not None and getattr(fe, "sampling_rate", SAMPLE_RATE) != SAMPLE_RATE:
            raise EncoderError(f"{name}: the model expects {fe.sampling_rate} Hz audio; w2s feeds {SAMPLE_RATE} Hz")

        weights = sha256_tensors(model.state_dict())  # before moving to an accelerator
        self.device = torch.device(pick_device(device))
        self.model = model.to(self.device).eval().requires_grad_(False)
        self.kernels, self.strides = list(cfg.conv_kernel), list(cfg.conv_stride)
        self.rate = SAMPLE_RATE / math.prod(self.strides)
        self.dim = int(cfg.hidden_size)
        self.min_samples = receptive_field(self.kernels, self.strides)
        n_states = int(cfg.num_hidden_layers) + 1  # hidden_states: the input + one per block
        if layer is None:
            layer = n_states - 1
        if not -n_states <= int(layer) < n_states:
            raise EncoderError(f"{name}: layer {layer} out of range; the model has hidden states 0..{n_states - 1}")
        self.layer = int(layer) % n_states
        # batches need an attention mask the CNN respects: layer-norm front ends only (group norm
        # normalises over time, so padding would change the features)
        self.batchable = cfg.feat_extract_norm == "layer"

        prep = {"v": PREPROCESS_VERSION, "fe": fe.to_dict() if fe is not None else None}
        meta = hashlib.sha256((stable_json(cfg.to_dict()) + stable_json(prep)).encode()).hexdigest()
        self.identity = f"hf:{cfg.model_type}:layer={self.layer}:weights={weights[:24]}:config={meta[:16]}"

    def n_frames(self, n_samples: int) -> int:
        return conv_frames(max(n_samples, self.min_samples), self.kernels, self.strides)

    def _prepare(self, audios: list[np.ndarray]):
        """Validated, padded, normalised input: (B, N) tensor and an attention mask or None."""
        import torch

        xs = [pad_to(check_audio(a), self.min_samples) for a in audios]
        fe = self.feature_extractor
        if fe is not None:
            batch = fe(xs, sampling_rate=SAMPLE_RATE, padding=True, return_tensors="pt",
                       return_attention_mask=len(xs) > 1)  # fmt: skip
            x, mask = batch["input_values"], batch.get("attention_mask")
        else:
            x, m = pad(xs)  # (B, N)
            mask = m.long() if len(xs) > 1 else None
        return x.to(self.device, torch.float32), None if mask is None else mask.to(self.device), [len(a) for a in xs]

    def _forward(self, audios: list[np.ndarray]) -> list[np.ndarray]:
        import torch

        x, mask, lengths = self._prepare(audios)  # (B, N)
        with torch.inference_mode():
            out = self.model(x, attention_mask=mask, output_hidden_states=True)
        h = out.hidden_states[self.layer].float().cpu().numpy()  # (B, T, D)
        return [np.ascontiguousarray(h[i, : self.n_frames(n)]) for i, n in enumerate(lengths)]

    def encode(self, audio: np.ndarray) -> np.ndarray:
        return self._forward([audio])[0]  # (T, D)

    def encode_batch(self, audios: list[np.ndarray], batch_size: int = 8) -> list[np.ndarray]:
        """Same results as `encode` one by one; padded batches only where the model allows it."""
        audios = [check_audio(a) for a in audios]  # arrays or paths, validated once
        if not self.batchable:
            return [self.encode(a) for a in audios]
        order = sorted(range(len(audios)), key=lambda i: len(audios[i]))  # little padding per batch
        out: list[np.ndarray | None] = [None] * len(audios)
        for s in range(0, len(order), batch_size):
            idx = order[s : s + batch_size]
            for i, f in zip(idx, self._forward([audios[i] for i in idx])):
                out[i] = f
        return out
