"""Audio augmentation for training that should hear more than one synthesizer (issue 26).

Everything here learns from espeak-ng; another synthesizer's (or a person's) speech differs in its vocal
tract, its spectral tilt, its channel and its room. :func:`augment` perturbs one crop along each of those,
drawing from a ``numpy.random.Generator`` (so a seeded run draws the same perturbations):

* **speed** (Kaldi's speed perturbation, ``sox speed``): the crop is resampled by a factor a, which moves
  every formant and the pitch by a and the timing by 1/a: the vocal-tract-length lever. The caller gets the
  source span it needs (:func:`source_samples`) and the factor, so frame labels can follow the timing;
* **tilt**: a first-order filter ``y[n] = x[n] - b x[n-1]`` with b drawn in ``tilt``: bright or dull voices;
* **band**: a band-pass (4th-order Butterworth) with a random low and high edge: telephone to wide band;
* **reverb**: convolution with a synthetic room response (exponentially decaying noise, RT60 drawn);
* **noise**: white noise at a drawn SNR.

The filters are scipy's and the resampler is soxr (both dependencies already). audiomentations, the
obvious library, pins ``soxr<1``: installing it would change the resampler that builds the corpus.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from w2s.corpus.speech import SAMPLE_RATE


@dataclass(frozen=True)
class AugmentConfig:
    p_speed: float = 0.0
    speed: tuple[float, float] = (0.85, 1.15)  # factor a: > 1 is faster and higher
    p_tilt: float = 0.0
    tilt: tuple[float, float] = (-0.7, 0.9)  # b of x[n] - b x[n-1]: > 0 brightens, < 0 dulls
    p_band: float = 0.0
    band_low_hz: tuple[float, float] = (50.0, 400.0)
    band_high_hz: tuple[float, float] = (3000.0, 7800.0)
    p_reverb: float = 0.0
    rt60_s: tuple[float, float] = (0.1, 0.5)
    p_noise: float = 0.0
    snr_db: tuple[float, float] = (10.0, 40.0)

    def __post_init__(self):
        for name in ("p_speed", "p_tilt", "p_band", "p_reverb", "p_noise"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"AugmentConfig.{name} must be a probability in [0, 1], got {getattr(self, name)}")
        for name in ("speed", "tilt", "band_low_hz", "band_high_hz", "rt60_s", "snr_db"):
            lo, hi = getattr(self, name)
            if not lo <= hi:
                raise ValueError(f"AugmentConfig.{name} must be (low, high) with low <= high, got {(lo, hi)}")
        if self.speed[0] <= 0:
            raise ValueError(f"AugmentConfig.speed must be positive, got {self.speed}")
        if self.band_low_hz[1] >= self.band_high_hz[0] or self.band_high_hz[1] >= SAMPLE_RATE / 2:
            raise ValueError("AugmentConfig: band edges must satisfy low < high < Nyquist")

    @property
    def active(self) -> bool:
        return any(getattr(self, p) > 0 for p in ("p_speed", "p_tilt", "p_band", "p_reverb", "p_noise"))


# named presets (the lever table's rows): a channel-only one, and the vocal-tract lever on top
PRESETS: dict[str, AugmentConfig] = {
    "none": AugmentConfig(),
    "channel": AugmentConfig(p_tilt=0.8, p_band=0.5, p_reverb=0.3, p_noise=0.5),
    "voice": AugmentConfig(p_speed=0.8, p_tilt=0.8, p_band=0.5, p_reverb=0.3, p_noise=0.5),
}


def draw_speed(config: AugmentConfig, rng: np.random.Generator) -> float:
    """The speed factor of one crop (1.0 when not perturbed): drawn first, because it sets the source span."""
    return float(rng.uniform(*config.speed)) if rng.random() < config.p_speed else 1.0


def source_samples(n: int, factor: float) -> int:
    """Samples of clean audio that give `n` samples after speed perturbation by `factor`."""
    return int(np.ceil(n * factor)) + 1


def speed_perturb(x: np.ndarray, factor: float, n: int) -> np.ndarray:
    """`x` played `factor` times faster (resampled), cut or zero-padded to exactly `n` samples."""
    import soxr

    y = x if factor == 1.0 else soxr.resample(x, SAMPLE_RATE * factor, SAMPLE_RATE, quality="HQ")
    y = np.asarray(y, np.float32)[:n]
    return np.pad(y, (0, n - len(y))) if len(y) < n else y


def _room_response(rt60: float, rng: np.random.Generator) -> np.ndarray:
    """A synthetic impulse response: a direct path, then exponentially decaying noise (-60 dB at rt60)."""
    n = int(rt60 * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    h = rng.standard_normal(n) * np.exp(-6.9078 * t / rt60) * 0.3  # ln(1000) = 6.9078: -60 dB
    h[0] = 1.0
    return (h / np.linalg.norm(h)).astype(np.float32)


def augment(x: np.ndarray, config: AugmentConfig, rng: np.random.Generator, factor: float = 1.0,
            n: int | None = None) -> np.ndarray:
    """One perturbed copy of the 16 kHz crop `x` (float32): speed by `factor` (from :func:`draw_speed`)
    to `n` samples (default ``len(x)``), then tilt, band, reverb and noise, each with its probability."""
    from scipy import signal

    n = len(x) if n is None else n
    y = speed_perturb(np.asarray(x, np.float32), factor, n)
    if rng.random() < config.p_tilt:
        y = signal.lfilter([1.0, -rng.uniform(*config.tilt)], [1.0], y)
    if rng.random() < config.p_band:
        low, high = rng.uniform(*config.band_low_hz), rng.uniform(*config.band_high_hz)
        y = signal.sosfilt(signal.butter(4, [low, high], btype="bandpass", fs=SAMPLE_RATE, output="sos"), y)
    if rng.random() < config.p_reverb:
        y = signal.fftconvolve(y, _room_response(rng.uniform(*config.rt60_s), rng))[:n]
    if rng.random() < config.p_noise:
        power = float(np.mean(np.square(y))) + 1e-12
        y = y + rng.standard_normal(n) * np.sqrt(power / 10 ** (rng.uniform(*config.snr_db) / 10))
    return np.asarray(y, np.float32)
