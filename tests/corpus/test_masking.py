"""The masking dial (issue 23): the deciding phoneme of every near-pair word masked in the audio at a level,
the rest of the sentence and the lips unchanged, recorded in alignments.json, deterministic by seed."""

import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from w2s.corpus import build as B
from w2s.corpus.masking import LEVELS, distinguishing_phoneme, mask_span, speech_shaped_noise


def _speechlike(n=16000, seed=0):
    """Broadband, low-passed noise with a syllable-rate envelope: speech's spectrum tilt, no tone."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / 16000
    lowpassed = np.convolve(rng.standard_normal(n), np.hanning(16), mode="same")
    return (0.1 * lowpassed * (1.2 + np.sin(2 * np.pi * 3 * t))).astype(np.float32)


def test_mask_span_levels_change_only_the_span_at_their_snr():
    x = _speechlike()
    i0, i1 = 4000, 8000  # 0.25-0.5 s
    clean = mask_span(x, 16000, 0.25, 0.5, "clean", np.random.default_rng(1))
    assert np.array_equal(clean, x)
    for level in ("10db", "0db", "full"):
        y = mask_span(x, 16000, 0.25, 0.5, level, np.random.default_rng(1))
        assert y.dtype == x.dtype and y.shape == x.shape
        assert np.array_equal(y[:i0], x[:i0]) and np.array_equal(y[i1:], x[i1:])  # the rest stays clean
        inner = slice(i0 + 80, i1 - 80)  # inside the 5 ms ramps
        noise = y[inner].astype(np.float64) - x[inner]
        if level == "full":  # replaced: no trace of the speech, the span's loudness kept
            assert abs(np.corrcoef(y[inner], x[inner])[0, 1]) < 0.2
            assert np.sqrt(np.mean(y[inner] ** 2)) == pytest.approx(np.sqrt(np.mean(x[i0:i1] ** 2)), rel=0.15)
        else:
            snr = 10 * math.log10(np.mean(x[i0:i1].astype(np.float64) ** 2) / np.mean(noise**2))
            assert snr == pytest.approx(LEVELS[level], abs=1.0)
    a = mask_span(x, 16000, 0.25, 0.5, "full", np.random.default_rng(7))
    assert np.array_equal(a, mask_span(x, 16000, 0.25, 0.5, "full", np.random.default_rng(7)))  # by seed
    with pytest.raises(ValueError, match="unknown masking level"):
        mask_span(x, 16000, 0.25, 0.5, "5db", np.random.default_rng(0))


def test_speech_shaped_noise_has_the_speech_spectrum():
    x = _speechlike(32000)
    n = speech_shaped_noise(x, 32000, np.random.default_rng(0))
    assert np.sqrt(np.mean(n**2)) == pytest.approx(1.0)
    spec_x, spec_n = np.abs(np.fft.rfft(x)) ** 2, np.abs(np.fft.rfft(n)) ** 2  # power, bins of 0.5 Hz
    low = lambda s: s[: 1000 * 2].sum() / s.sum()  # noqa: E731  (share below 1 kHz)
    assert low(spec_n) == pytest.approx(low(spec_x), abs=0.05) and low(spec_x) > 0.6  # the speech's tilt
    white = np.random.default_rng(0).standard_normal(32000)
    assert low(np.abs(np.fft.rfft(white)) ** 2) < 0.2  # which white noise lacks


def test_distinguishing_phoneme_by_position_symbol_or_span():
    ph = [{"symbol": s, "start": i * 0.1, "end": (i + 1) * 0.1, "word_index": 0} for i, s in enumerate("bæd")]
    assert distinguishing_phoneme(ph, 0, ["b", "æ", "d"], 1, (0, 0.3)) == 1
    assert distinguishing_phoneme(ph, 0, ["x", "b", "æ"], 2, (0, 0.3)) == 1  # not at pos: the only æ
    assert distinguishing_phoneme(ph, 0, ["b", "ɛ", "d"], 1, (0, 0.3)) == -1  # not said as the pair has it
    no_index = [{k: v for k, v in p.items() if k != "word_index"} for p in ph]
    assert distinguishing_phoneme(no_index, 0, ["b", "æ", "d"], 1, (0, 0.3)) == 1


def test_presets_of_the_dial_are_the_default_corpus_with_a_mask():
    for level in ("10db", "0db", "full"):
        p = B.PRESETS[f"masked-{level}"]
        assert p.mask == level and p.n_pairs == B.PRESETS["default"].n_pairs and p.stream == 0
        assert p.to_json()["mask"] == level
    assert "mask" not in B.PRESETS["default"].to_json()  # the default corpus's record is unchanged
    with pytest.raises(ValueError, match="unknown mask"):
        B.Preset("x", n_sentences=4, n_pairs=1, mask="loud")


def test_masked_build_masks_only_the_deciding_phonemes(smoke_corpus, tmp_path):
    out = B.build(tmp_path / "masked", "smoke-masked-full", seed=0)
    clean_al = json.loads((smoke_corpus / "alignments.json").read_text())
    al = json.loads((out / "alignments.json").read_text())
    assert set(al) == set(clean_al)
    near = {w for p in json.loads((out / "pairs.json").read_text()) if p["group"] == "near" for w in (p["word_a"], p["word_b"])}
    n_masked = targets = hits = 0
    for stem, a in al.items():
        c = clean_al[stem]
        assert a["phonemes"] == c["phonemes"] and a["words"] == c["words"]  # same speech timeline
        # the lips are the true word's: the same faces as the clean corpus
        assert np.array_equal(np.load(out / "vertices_npy" / f"{stem}.npy"), np.load(smoke_corpus / "vertices_npy" / f"{stem}.npy"))
        x, sr = sf.read(smoke_corpus / "wav" / f"{stem}.wav", dtype="float32")
        y, _ = sf.read(out / "wav" / f"{stem}.wav", dtype="float32")
        keep = np.ones(len(x), bool)
        for m in a.get("masked", []):
            ph = a["phonemes"][m["phoneme_index"]]
            assert (m["start"], m["end"], m["symbol"]) == (ph["start"], ph["end"], ph["symbol"]) and m["level"] == "full"
            keep[round(m["start"] * sr) : round(m["end"] * sr)] = False
            n_masked += 1
        assert np.abs(y[keep] - x[keep]).max() <= 2 / 32768  # outside: the clean audio (16-bit rounding)
        if a.get("masked"):
            assert np.abs(y[~keep] - x[~keep]).max() > 0.01
        if a.get("target_word") in near:
            targets += 1
            hits += any(m["word"] == a["target_word"] for m in a.get("masked", []))
    assert n_masked >= targets >= 8 and hits >= 0.9 * targets  # the pair words said get their phoneme masked
    assert json.loads((out / "corpus.json").read_text())["preset"]["mask"] == "full"


def test_a_masked_corpus_is_heard_by_its_clean_twins_encoders(smoke_corpus, tmp_path, monkeypatch):
    from w2s.encoders import loading

    masked = B.build(tmp_path / "masked", "smoke-masked-0db", seed=0)
    twin = B.clean_twin(masked)
    assert json.loads((twin / "corpus.json").read_text())["preset"]["name"] == "smoke"  # the corpus it masks
    assert B.clean_twin(smoke_corpus) == smoke_corpus and B.clean_twin(tmp_path) == tmp_path  # clean, or not ours
    assert {B.PRESETS[n].mask for n in B.MASKED_FROM} == {"10db", "0db", "full"}
    for name, base in B.MASKED_FROM.items():  # each masked preset is its twin with a mask, nothing else
        assert B.PRESETS[name] == replace(B.PRESETS[base], name=name, mask=B.PRESETS[name].mask)
    seen = []
    monkeypatch.setattr(loading, "load_or_pretrain_tiny_hubert", lambda corpus, **kw: seen.append(Path(corpus)) or 1 / 0)
    with pytest.raises(ZeroDivisionError):
        loading.load_encoder("tiny-hubert", corpus=masked)
    assert seen == [twin]  # pretrained on the clean speech, not on the masked audio
