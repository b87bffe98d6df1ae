import hashlib
import json
import subprocess
import sys
import threading

import numpy as np
import pytest

from w2s.corpus import agreement, speech
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


# --- every phoneme espeak-ng produced is kept (issue 14) ---------------------------------------

ISSUE_TEXTS = ["the mill", "We always go to the mill.", "the film was on the shelf", "all of it",
               "coal", "kale", "owl", "doll", "mail"]  # fmt: skip


def test_final_l_of_the_mill_is_kept_inside_the_audio():
    u = synthesize("the mill")
    check_timings(u)
    v, lat = u.phonemes[-2:]
    assert [p.symbol for p in u.phonemes] == ["ð", "ə", "m", "ɪ", "l"]
    assert lat.estimated and not v.estimated and lat.word_index == v.word_index == 1
    assert v.end == lat.start and 0 < lat.start < lat.end <= u.duration
    assert lat.end - lat.start == pytest.approx(speech.ENDING_SHARE * (lat.end - v.start))
    rms = lambda p: float(np.sqrt(np.mean(u.audio[int(p.start * 16000) : int(p.end * 16000)] ** 2)))  # noqa: E731
    assert rms(lat) > 0.2 * rms(v)  # the /l/ span holds sound, not the silence after it


def test_zero_length_l_keeps_its_place_in_words():
    u = synthesize("We always go to the mill.")
    assert [p.symbol for p in u.phonemes if p.word_index == 1] == ["ɔː", "l", "w", "eɪ", "z"]
    u = synthesize("the film was on the shelf")
    assert [p.symbol for p in u.phonemes if u.words[p.word_index].word == "film"] == ["f", "ɪ", "l", "m"]
    assert [p.symbol for p in u.phonemes if u.words[p.word_index].word == "shelf"] == ["ʃ", "ɛ", "l", "f"]
    check_timings(u)
    u = synthesize("all of it")  # an /l/ before a vowel has its own event span: left as it is
    assert [p.symbol for p in u.phonemes][:2] == ["ɔː", "l"] and not any(p.estimated for p in u.phonemes)


def _events(*marks, end):
    """espeak events: one WORD, then PHONEME (sample, name) marks, then END at `end`."""
    return [(1, 1, 4, 0, b"")] + [(7, 1, 0, s, n.encode()) for s, n in marks] + [(5, 1, 0, end, b"")]


def test_a_run_of_zero_length_phonemes_shares_the_host_ending():
    ph, words = speech._segments(_events((0, "ˈɪ"), (100, "l"), (100, "m"), (100, ""), end=100), "ilm", 100, 100)
    assert [(p.symbol, p.start, p.end, p.estimated) for p in ph] == [
        ("ɪ", 0.0, pytest.approx(1 - speech.ENDING_SHARE), False),
        ("l", pytest.approx(1 - speech.ENDING_SHARE), pytest.approx(1 - speech.ENDING_SHARE / 2), True),
        ("m", pytest.approx(1 - speech.ENDING_SHARE / 2), 1.0, True),
    ]
    assert ph[0].stress == 1 and words[0].start == 0.0 and words[0].end == 1.0


def test_zero_length_phoneme_without_a_sounding_host_is_an_error():
    with pytest.raises(SpeechError, match="'l'.*no duration"):
        speech._segments(_events((0, ""), (100, "l"), (100, "ɪ"), end=200), "li", 100, 200)


def test_spoken_phonemes_translate_the_whole_text():
    assert speech.spoken_phonemes("the mill") == ["ð", "ə", "m", "ɪ", "l"]
    # connected speech: "to" is reduced in a sentence, not alone
    assert speech.spoken_phonemes("go to the mill.")[2:4] == ["t", "ə"] and speech.text_to_phonemes("to") == [["t", "uː"]]
    assert speech.spoken_phonemes("Fin. Map, mat!") == ["f", "ɪ", "n", "m", "æ", "p", "m", "æ", "t"]  # every clause


@pytest.mark.parametrize("voice", ["us-m1", "us-f3", "us-klatt"])
def test_segments_agree_with_espeak_translation(voice):
    for text in ISSUE_TEXTS:
        u = synthesize(text, voice, rate=160 if voice == "us-f3" else 175)
        assert agreement.disagreements(u) == [], text


def test_agreement_names_what_is_lost():
    u = synthesize("the mill")
    assert agreement.disagreements(u) == []
    u.phonemes = u.phonemes[:-1]  # the old event reading: the /l/ skipped
    found = agreement.disagreements(u)
    assert [str(d) for d in found] == ["missing 'l' after 'ə m ɪ'"]
    assert "'the mill'" in agreement.describe(u, found) and "missing 'l'" in agreement.describe(u, found)
    assert [d.kind for d in agreement.compare(["a", "b"], ["a", "c", "b"])] == ["extra"]
    assert [str(d) for d in agreement.compare(["p", "ɪ", "n"], ["t", "ɪ", "n"])] == ["'t' instead of 'p' at the start"]
