"""The encoder interface: 16 kHz mono float32 in (an array or a file's path), (T_audio, dim) float32 frames out, and the
arithmetic of the wav2vec2-style convolutional front end that every encoder here shares."""

from __future__ import annotations

import numpy as np

from w2s.data.audio import AudioError, validate_audio


class EncoderError(ValueError):
    """An encoder that cannot be loaded or an input it cannot encode; the message says which."""


def check_audio(audio) -> np.ndarray:
    """(N,) float32 mono, finite, non-empty, from an array or an audio file's path: the one validator,
    :func:`w2s.data.audio.validate_audio`, with its errors raised as EncoderError."""
    try:
        return validate_audio(audio)
    except AudioError as e:
        raise EncoderError(str(e)) from None


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
