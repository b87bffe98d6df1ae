"""Encoder frames (50 Hz) to face frames (30 or 25 fps), FaceFormer's rule."""

from __future__ import annotations

import math

import numpy as np


def align_to_fps(features: np.ndarray, rate: float, fps: float, n_frames: int) -> np.ndarray:
    """Resample encoder frames (T_a, D) at `rate` Hz to exactly `n_frames` face frames at `fps`.

    The rule (FaceFormer's):
    * ``rate == 2 * fps`` (50 Hz -> 25 fps, BIWI): frame pairing. Face frame t is the mean of audio
      frames 2t and 2t+1; an odd last audio frame is dropped. The result is trimmed to `n_frames`,
      or padded by repeating its last frame.
    * ``rate == fps``: the frames as they are, trimmed / padded the same way.
    * otherwise (50 Hz -> 30 fps, VOCASET): linear interpolation with aligned corners, i.e. the
      whole sequence is stretched so that the first and last audio frames land on the first and
      last face frames (``F.interpolate(..., mode="linear", align_corners=True)``).
    """
    f = np.asarray(features, dtype=np.float32)
    if f.ndim != 2 or f.shape[0] == 0:
        raise ValueError(f"features must be (T_audio >= 1, D), got shape {f.shape}")
    n_frames = int(n_frames)
    if n_frames < 0:
        raise ValueError(f"n_frames must be >= 0, got {n_frames}")
    t_a, d = f.shape

    def fit(g: np.ndarray) -> np.ndarray:  # trim, or pad by repeating the last frame
        if len(g) >= n_frames:
            return np.ascontiguousarray(g[:n_frames])
        return np.concatenate([g, np.repeat(g[-1:], n_frames - len(g), axis=0)])

    if math.isclose(rate, 2 * fps):
        if t_a == 1:
            return fit(f)
        pairs = f[: t_a // 2 * 2].reshape(t_a // 2, 2, d).mean(axis=1)  # (T_a // 2, D)
        return fit(pairs)
    if math.isclose(rate, fps):
        return fit(f)
    if n_frames == 0:
        return np.zeros((0, d), np.float32)
    if t_a == 1 or n_frames == 1:
        return np.repeat(f[:1], n_frames, axis=0)
    pos = np.linspace(0.0, t_a - 1, n_frames)  # fractional audio-frame index of each face frame
    lo = np.minimum(np.floor(pos).astype(np.int64), t_a - 2)
    w = (pos - lo)[:, None].astype(np.float32)
    return np.ascontiguousarray((1 - w) * f[lo] + w * f[lo + 1])  # (n_frames, D)
