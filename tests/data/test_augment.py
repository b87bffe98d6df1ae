"""Audio augmentation (w2s.data.augment): each perturbation does what it says, seeded and bounded."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from w2s.data.augment import PRESETS, AugmentConfig, augment, draw_speed, source_samples, speed_perturb

SR = 16_000


def tone(hz: float, seconds: float = 1.0) -> np.ndarray:
    return (0.1 * np.sin(2 * np.pi * hz * np.arange(int(seconds * SR)) / SR)).astype(np.float32)


def peak_hz(x: np.ndarray) -> float:
    return float(np.argmax(np.abs(np.fft.rfft(x))) * SR / len(x))


def test_none_is_the_identity():
    x = tone(440)
    rng = np.random.default_rng(0)
    assert draw_speed(PRESETS["none"], rng) == 1.0
    np.testing.assert_array_equal(augment(x, PRESETS["none"], rng), x)


def test_speed_moves_every_frequency_by_the_factor_and_keeps_the_length():
    x = tone(500, 2.0)
    for factor in (0.85, 1.15):
        y = speed_perturb(x[: source_samples(SR, factor)], factor, SR)
        assert len(y) == SR and y.dtype == np.float32
        assert peak_hz(y) == pytest.approx(500 * factor, abs=3)


def test_band_pass_removes_what_is_outside_the_band():
    cfg = AugmentConfig(p_band=1.0, band_low_hz=(300, 300.5), band_high_hz=(3000, 3000.5))
    low = augment(tone(60), cfg, np.random.default_rng(0))
    mid = augment(tone(1000), cfg, np.random.default_rng(0))
    assert np.std(low[SR // 2 :]) < 0.01 * np.std(tone(60)) and np.std(mid[SR // 2 :]) > 0.8 * np.std(tone(1000))


def test_noise_is_added_at_the_drawn_snr():
    cfg = AugmentConfig(p_noise=1.0, snr_db=(20.0, 20.0))
    x = tone(440)
    noise = augment(x, cfg, np.random.default_rng(0)) - x
    assert 10 * np.log10(np.mean(x**2) / np.mean(noise**2)) == pytest.approx(20.0, abs=0.3)


def test_seeded_and_varied():
    x = tone(300) + np.random.default_rng(1).standard_normal(SR).astype(np.float32) * 0.01
    cfg = PRESETS["voice"]

    def once(seed):
        rng = np.random.default_rng(seed)
        a = draw_speed(cfg, rng)
        return augment(np.pad(x, (0, SR)), cfg, rng, factor=a, n=SR)

    np.testing.assert_array_equal(once(3), once(3))
    outs = [once(s) for s in range(6)]
    assert all(o.shape == (SR,) and np.isfinite(o).all() for o in outs)
    assert len({o.tobytes() for o in outs}) == 6


@pytest.mark.parametrize("change, message", [
    (dict(p_noise=1.5), "p_noise must be a probability"),
    (dict(speed=(1.2, 0.9)), "speed must be"),
    (dict(band_low_hz=(100, 4000)), "band edges"),
])  # fmt: skip
def test_bad_configs_are_refused(change, message):
    with pytest.raises(ValueError, match=message):
        replace(AugmentConfig(), **change)
