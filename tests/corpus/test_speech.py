import hashlib
import json
import subprocess
import sys
import threading

import numpy as np
import pytest

from w2s.corpus import speech
from w2s.corpus.speech import SpeechError, synthesize

TEXTS = [
    "The thin fin cut the water.",
    "She sells sea shells, by the shore! Do you hear them?",
    "Map, nap; mat, gnat.",
]


def check_timings(u: speech.Utterance) -> None:
    eps = 1e-9
    assert u.phonemes and u.words
    for p in u.phonemes:
        assert 0 <= p.start < p.end <= u.duration + eps, p
    for a, b in zip(u.phonemes, u.phonemes[1:]):
        assert a.end <= b.start + eps, (a, b)  # ordered, non-overlapping
    for i, w in enumerate(u.words):
        mine = [p for p in u.phonemes if p.word_index == i]
        assert mine, f"word {w.word!r} has no phonemes"
        assert w.start <= mine[0].start and mine[-1].end <= w.end + eps
        assert 0 <= w.start < w.end <= u.duration + eps
    for a, b in zip(u.words, u.words[1:]):
        assert a.end <= b.start + eps
    assert all(0 <= p.word_index < len(u.words) for p in u.phonemes)


@pytest.mark.parametrize("text", TEXTS)
@pytest.mark.parametrize("voice", ["us-m1", "us-f3", "us-klatt"])
def test_timing_invariants(text, voice):
    u = synthesize(text, voice)
    assert u.sample_rate == 16000 and u.audio.dtype == np.float32 and u.audio.ndim == 1
    assert np.abs(u.audio).max() <= 1.0 and np.abs(u.audio).max() > 0.05
    check_timings(u)


def test_words_and_phonemes_match_text():
    u = synthesize("the thin fin")
    assert [w.word for w in u.words] == ["the", "thin", "fin"]
    by_word = [[p.symbol for p in u.phonemes if p.word_index == i] for i in range(3)]
    assert by_word[1] == ["θ", "ɪ", "n"] and by_word[2] == ["f", "ɪ", "n"]
    assert [p.stress for p in u.phonemes if p.symbol == "ɪ"] == [1, 1]


def test_segments_sit_on_the_sound():
    # speech energy inside the word spans, near-silence in the pause between sentences
    u = synthesize("Fin. Map.")
    rms = lambda a, b: float(np.sqrt(np.mean(u.audio[int(a * 16000) : int(b * 16000)] ** 2)))  # noqa: E731
    gap = (u.words[0].end, u.words[1].start)
    assert gap[1] - gap[0] > 0.1
    assert rms(*gap) < 0.2 * min(rms(w.start, w.end) for w in u.words)


def test_deterministic_in_process_and_order_independent():
    a = synthesize(TEXTS[1], "us-f3").audio
    synthesize("Something else entirely, to disturb any state.", "us-m5")
    b = synthesize(TEXTS[1], "us-f3").audio
    assert np.array_equal(a, b)


def test_deterministic_across_processes():
    code = (
        "import hashlib; from w2s.corpus.speech import synthesize; "
        f"print(hashlib.sha256(synthesize({TEXTS[0]!r}, 'us-m2').audio.tobytes()).hexdigest())"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == hashlib.sha256(synthesize(TEXTS[0], "us-m2").audio.tobytes()).hexdigest()


def test_threads_take_turns_and_agree():
    texts = [f"Thread number {i} speaks a short line." for i in range(6)]
    serial = [synthesize(t, "us-m3").audio for t in texts]
    results = [None] * len(texts)

    def work(i):
        results[i] = synthesize(texts[i], "us-m3").audio

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(texts))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(np.array_equal(a, b) for a, b in zip(serial, results))


def test_at_least_twelve_distinct_usable_voices():
    assert len(speech.VOICES) >= 12
    text = "Seven brown cats sat on the warm mat."
    ref = synthesize(text, "us-m1")
    spectra, hashes = [], set()
    for v in speech.VOICES:
        u = synthesize(text, v)
        check_timings(u)
        assert [p.symbol for p in u.phonemes] == [p.symbol for p in ref.phonemes], v  # same phonology
        assert 0.6 < u.duration / ref.duration < 1.6, v
        hashes.add(hashlib.sha256(u.audio.tobytes()).hexdigest())
        spec = np.abs(np.fft.rfft(u.audio[: 16000 * 1], n=4096))
        spectra.append(spec / spec.sum())
    assert len(hashes) == len(speech.VOICES)
    # timbre: every two voices differ clearly in their long-term spectrum
    spectra = np.stack(spectra)
    dist = np.abs(spectra[:, None] - spectra[None]).sum(-1)
    off = dist[~np.eye(len(spectra), dtype=bool)]
    assert off.min() > 0.05


def test_rate_and_pitch_take_effect():
    slow = synthesize(TEXTS[0], rate=120)
    fast = synthesize(TEXTS[0], rate=300)
    assert fast.duration < 0.7 * slow.duration
    lo, hi = synthesize(TEXTS[0], pitch=10), synthesize(TEXTS[0], pitch=90)
    assert not np.array_equal(lo.audio, hi.audio)


@pytest.mark.parametrize(
    "kw, match",
    [
        (dict(text=""), "empty"),
        (dict(text="   \n"), "empty"),
        (dict(text="... !!! ?"), "nothing speakable"),
        (dict(voice="en-martian"), "unknown voice"),
        (dict(rate=20), "rate"),
        (dict(rate=900), "rate"),
        (dict(pitch=-1), "pitch"),
        (dict(pitch=100), "pitch"),
        (dict(rate=1.5), "rate"),
    ],
)
def test_bad_input(kw, match):
    args = dict(text="hello there", voice="us-m1", rate=175, pitch=50) | kw
    with pytest.raises(SpeechError, match=match):
        synthesize(**args)


def test_text_to_phonemes_uses_espeak_rules():
    assert speech.text_to_phonemes("thin fin map") == [["θ", "ɪ", "n"], ["f", "ɪ", "n"], ["m", "æ", "p"]]


def test_timings_json_roundtrip():
    u = synthesize(TEXTS[0])
    d = json.loads(json.dumps(u.timings()))
    assert d["sample_rate"] == 16000 and len(d["phonemes"]) == len(u.phonemes)
    assert {"symbol", "start", "end", "stress", "word_index"} <= set(d["phonemes"][0])
