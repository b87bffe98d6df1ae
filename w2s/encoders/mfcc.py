"""The engineered baseline: 39-d MFCC at 50 Hz, framed exactly as the wav2vec2 CNN frames the waveform."""

from __future__ import annotations

import numpy as np

from w2s.data.audio import SAMPLE_RATE
from w2s.encoders.base import Encoder, check_audio, conv_frames, pad_to

MFCC_N = 13
MFCC_WIN = 400  # 25 ms at 16 kHz
MFCC_HOP = 320  # 20 ms -> 50 Hz, the wav2vec2 frame rate
MFCC_MELS = 40
MFCC_DELTA_WIDTH = 9


def mfcc_features(audio: np.ndarray) -> np.ndarray:
    """13 MFCC + delta + delta-delta, (T, 39) float32, T = floor((N - 400) / 320) + 1.

    No centring: frame i covers samples [320 i, 320 i + 400), the same span as wav2vec2/HuBERT
    CNN frame i, so MFCC frames and SSL frames line up one to one. Audio shorter than 400 samples
    is zero-padded to one frame.
    """
    import librosa

    x = pad_to(check_audio(audio), MFCC_WIN)
    m = librosa.feature.mfcc(
        y=x, sr=SAMPLE_RATE, n_mfcc=MFCC_N, n_fft=MFCC_WIN, win_length=MFCC_WIN, hop_length=MFCC_HOP,
        n_mels=MFCC_MELS, fmin=20.0, fmax=SAMPLE_RATE / 2, center=False,
    )  # (13, T)  # fmt: skip
    d1 = librosa.feature.delta(m, width=MFCC_DELTA_WIDTH, order=1, mode="nearest")
    d2 = librosa.feature.delta(m, width=MFCC_DELTA_WIDTH, order=2, mode="nearest")
    return np.ascontiguousarray(np.concatenate([m, d1, d2]).T, dtype=np.float32)  # (T, 39)


class MFCCEncoder(Encoder):
    """The engineered baseline: 39-d MFCC at 50 Hz (see :func:`mfcc_features`)."""

    def __init__(self):
        self.name = "mfcc"
        self.rate = SAMPLE_RATE / MFCC_HOP
        self.dim = 3 * MFCC_N
        self.layer = None
        self.min_samples = MFCC_WIN
        params = f"n={MFCC_N},win={MFCC_WIN},hop={MFCC_HOP},mels={MFCC_MELS},delta={MFCC_DELTA_WIDTH},center=0"
        self.identity = f"mfcc:v1:{params}"

    def n_frames(self, n_samples: int) -> int:
        return conv_frames(max(n_samples, MFCC_WIN), [MFCC_WIN], [MFCC_HOP])

    def encode(self, audio: np.ndarray) -> np.ndarray:
        return mfcc_features(audio)
