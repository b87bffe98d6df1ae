import numpy as np
import pytest

from w2s.corpus import ending_share, speech


def test_ending_share_matches_the_audio():
    # the measurement behind speech.ENDING_SHARE, on a few words: the /l/ found in the audio takes
    # about that share of the vowel+/l/ span (the full measurement: python -m w2s.corpus.ending_share)
    tokens = ending_share.measure(["mill", "kale", "doll", "bell", "feel", "ball"], voices=("us-m1",))
    assert len(tokens) == 12 and {t.vowel for t in tokens} == {"ɪ", "eɪ", "ɑː", "ɛ", "iː", "ɔː"}
    shares = np.array([t.share for t in tokens])
    assert ((shares > 0.15) & (shares < 0.7)).all()
    assert abs(np.median(shares) - speech.ENDING_SHARE) < 0.08


def test_l_share_finds_a_synthetic_boundary():
    # 0.3 s of a "vowel" (harmonics up to 2.5 kHz) that turns into an "/l/" (harmonics below 1 kHz)
    # 70 % of the way in, inside silence, over a faint noise floor
    rng = np.random.default_rng(0)
    t = np.arange(int(0.5 * 16000)) / 16000
    f0 = 120 * np.arange(1, 21)
    vowel = np.sin(2 * np.pi * f0[:, None] * t).T @ np.where(f0 < 2500, 1.0, 0.05)
    lateral = np.sin(2 * np.pi * f0[:, None] * t).T @ np.where(f0 < 1000, 1.0, 0.05)
    sound = np.where(t < 0.31, vowel, lateral) * ((t >= 0.1) & (t < 0.4))
    audio = (0.02 * sound + 1e-4 * rng.normal(size=len(t))).astype(np.float32)
    res = 0.0125 / 0.3  # resolution: half a 25 ms analysis window
    assert ending_share.l_share(audio, 0.1, 0.4) == pytest.approx(0.3, abs=res)
    assert ending_share.l_share(audio, 0.1, 0.45) == pytest.approx(0.14 / 0.35, abs=res)  # silence after: /l/ too
    assert ending_share.l_share(audio, 0.1, 0.37) == pytest.approx(0.06 / 0.27, abs=res)
    with pytest.raises(ValueError, match="too short"):
        ending_share.l_share(audio, 0.1, 0.12)
