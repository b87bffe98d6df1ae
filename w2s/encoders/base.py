"""The encoder interface: 16 kHz mono float32 in, (T_audio, dim) float32 frames out, and the
arithmetic of the wav2vec2-style convolutional front end that every encoder here shares."""

from __future__ import annotations

import numpy as np


class EncoderError(ValueError):
    """An encoder that cannot be loaded or an input it cannot encode; the message says which."""


def check_audio(audio) -> np.ndarray:
    """(N,) float32, finite, non-empty; else EncoderError."""
    x = np.asarray(audio)
    if x.ndim == 2 and 1 in x.shape:
        x = x.reshape(-1)
    if x.ndim != 1:
        raise EncoderError(f"audio must be 1-D mono (N,), got shape {x.shape}")
    if x.size == 0:
        raise EncoderError("audio is empty (0 samples)")
    if not np.issubdtype(x.dtype, np.floating):
        raise EncoderError(f"audio must be float (16 kHz, in [-1, 1]), got dtype {x.dtype}")
    x = np.ascontiguousarray(x, dtype=np.float32)
    if not np.isfinite(x).all():
        raise EncoderError("audio contains NaN or inf samples")
    return x


def conv_frames(n_samples: int, kernels, strides) -> int:
    """Output length of a stack of unpadded 1-D convolutions (the wav2vec2 CNN)."""
    n = int(n_samples)
    for k, s in zip(kernels, strides):
        n = (n - k) // s + 1
    return max(n, 0)


def receptive_field(kernels, strides) -> int:
    """Samples seen by one output frame of the conv stack (400 for wav2vec2)."""
    field, jump = 1, 1
    for k, s in zip(kernels, strides):
        field += (k - 1) * jump
        jump *= s
    return field


def pad_to(x: np.ndarray, n: int) -> np.ndarray:
    return x if len(x) >= n else np.pad(x, (0, n - len(x)))



class Encoder:
    """A frozen audio encoder: 16 kHz mono float32 -> (T_audio, dim) float32 at `rate` Hz."""

    name: str
    rate: float  # frames per second of the output
    dim: int
    layer: int | None  # which hidden state (None for encoders without layers)
    identity: str
    min_samples: int = 1  # shorter input is zero-padded to this length

    def n_frames(self, n_samples: int) -> int:
        """Frames `encode` returns for `n_samples` of audio."""
        raise NotImplementedError

    def encode(self, audio: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def encode_batch(self, audios: list[np.ndarray]) -> list[np.ndarray]:
        return [self.encode(a) for a in audios]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, layer={self.layer}, dim={self.dim}, rate={self.rate:g} Hz)"
