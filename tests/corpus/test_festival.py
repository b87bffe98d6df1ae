"""Festival, a second training synthesizer (issue 26): the Scheme it is given, its errors, and speech sets
spoken by it. The script and error tests run everywhere; the ones that speak need Debian's festival with the
kal and ked diphone voices and skip, saying so, where they are missing."""

import json

import librosa
import numpy as np
import pytest
import soundfile as sf

from w2s.corpus import festival
from w2s.corpus.speech_set import (
    FESTIVAL_F0_HZ,
    SpeechSetError,
    SynthSpeaker,
    build_speech_set,
    load_or_build_speech_set,
    read_manifest,
    speak,
)
from w2s.data.librispeech import load_speech_set

NO_FESTIVAL = festival.available()
needs_festival = pytest.mark.skipif(NO_FESTIVAL is not None, reason=NO_FESTIVAL or "")


def test_script_quotes_text_and_sets_rate_and_pitch(tmp_path):
    s = festival.script(['say "hi"', "back\\slash"], [tmp_path / "a.wav", tmp_path / "b.wav"], "ked_diphone", 1.25, 180.0)
    lines = s.splitlines()
    assert lines[0] == "(voice_ked_diphone)"
    assert "Duration_Stretch 1.2500" in lines[1]
    assert "(target_f0_mean 180.0)" in lines[2] and f"(target_f0_std {0.15 * 180:.1f})" in lines[2]
    assert '(Utterance Text "say \\"hi\\"")' in lines[3] and str(tmp_path / "a.wav") in lines[4]
    assert '"back\\\\slash"' in lines[5]
    assert len(lines) == 7 and "segs" not in s  # per text: synthesize, save the wave
    with_segs = festival.script(["hi"], [tmp_path / "a.wav"], "kal_diphone", 1.0, 105.0, segments=True)
    assert with_segs.splitlines()[-1] == f'(utt.save.segs u "{tmp_path / "a.segs"}")'


def test_errors_name_the_problem(monkeypatch):
    with pytest.raises(festival.FestivalError, match="unknown Festival voice 'slt'"):
        festival.synthesize_many(["hello"], "slt")
    with pytest.raises(festival.FestivalError, match="nothing speakable"):
        festival.synthesize_many(["hello", " ?! "], "kal_diphone")
    monkeypatch.setattr(festival.shutil, "which", lambda name: None)
    assert "apt-get install festival" in festival.available()
    with pytest.raises(festival.FestivalError, match="festival not found on PATH"):
        festival.synthesize_many(["hello"], "kal_diphone")
    monkeypatch.setattr(festival.shutil, "which", lambda name: "/usr/bin/festival")
    monkeypatch.setattr(festival, "_voice_dir", lambda voice: False)
    assert "festvox-kdlpc16k" in festival.available(["ked_diphone"])


def test_speech_set_refuses_unknown_synthesizer_and_voices(tmp_path):
    with pytest.raises(SpeechSetError, match="unknown synthesizer 'mbrola'"):
        build_speech_set(tmp_path / "s", 2, synthesizer="mbrola")
    with pytest.raises(SpeechSetError, match="kal_diphone, ked_diphone"):
        build_speech_set(tmp_path / "s", 2, voices=["en-us"], synthesizer="festival")
    assert not (tmp_path / "s").exists()


@needs_festival
def test_rate_and_pitch_move_the_speech():
    text = "the thin fin swam near the map, said Lucy."
    slow, fast = (festival.synthesize_many([text], "kal_diphone", stretch, 105.0)[0] for stretch in (1.3, 0.8))
    assert len(slow) / len(fast) == pytest.approx(1.3 / 0.8, rel=0.1)
    f0 = {}
    for mean in (100.0, 190.0):
        audio = festival.synthesize_many([text], "kal_diphone", 1.0, mean)[0]
        track, voiced, _ = librosa.pyin(audio, fmin=60, fmax=400, sr=festival.SAMPLE_RATE)
        f0[mean] = float(np.nanmedian(track[voiced]))
    assert f0[100.0] == pytest.approx(100.0, rel=0.15) and f0[190.0] == pytest.approx(190.0, rel=0.15)


@needs_festival
def test_batch_is_in_order_and_deterministic():
    texts = ["one short line.", "and a much longer second line, spoken after the first one."]
    a = festival.synthesize_many(texts, "ked_diphone")
    b = festival.synthesize_many(texts, "ked_diphone")
    assert len(a) == 2 and len(a[1]) > 2 * len(a[0])
    assert all(x.dtype == np.float32 and np.array_equal(x, y) for x, y in zip(a, b))


@needs_festival
def test_speech_set_in_festival_speaks_the_same_sentences(tmp_path):
    espeak = build_speech_set(tmp_path / "espeak", 5, seed=3, utts_per_chapter=2, chapters_per_speaker=1)
    fest = build_speech_set(tmp_path / "festival", 5, seed=3, utts_per_chapter=2, chapters_per_speaker=1,
                            synthesizer="festival")  # fmt: skip
    m = read_manifest(fest)
    assert m["synthesizer"] == "festival" and m["synthesizer_version"].startswith("festival: Festival Speech")
    assert "synthesizer" not in read_manifest(espeak)
    assert {s["voice"] for s in m["speakers"]} == set(festival.VOICES)
    texts = lambda root: sorted(json.loads((root / "texts.json").read_text()).values())  # noqa: E731
    assert texts(fest) == texts(espeak)
    items = load_speech_set(fest)  # LibriSpeech's layout, read by the real reader
    assert len(items) == 5
    audio, rate = sf.read(items[0][0].path)
    assert rate == 16000 and len(audio) > 8000
    # the cache keys the synthesizer: its own folder, reused when asked again
    root = tmp_path / "cache"
    a = load_or_build_speech_set(3, 1, root=root, synthesizer="festival")
    assert a.name == "synth-festival-n3-seed1"
    assert load_or_build_speech_set(3, 1, root=root, synthesizer="festival") == a
    e = load_or_build_speech_set(3, 1, root=root)  # espeak-ng's, beside it
    assert e.name == "synth-n3-seed1" and read_manifest(e)["content_sha256"] != read_manifest(a)["content_sha256"]


@needs_festival
def test_a_speakers_pitch_maps_onto_festivals_f0():
    low, high = (SynthSpeaker("1", "kal_diphone", 165, p) for p in (25, 75))
    text = ["the thin fin swam near the map, said Lucy."]
    f0 = []
    for s in (low, high):
        track, voiced, _ = librosa.pyin(speak(text, s, "festival")[0], fmin=60, fmax=400, sr=16000)
        f0.append(float(np.nanmedian(track[voiced])))
    assert f0[0] == pytest.approx(FESTIVAL_F0_HZ[0], rel=0.15) and f0[1] == pytest.approx(FESTIVAL_F0_HZ[1], rel=0.15)


def test_segs_files_are_read_as_phone_spans():
    segs = festival.parse_segs("#\n0.2200 100 pau\n0.2569 100 dh\n0.3079 100 ax\n")
    assert segs == [("pau", 0.0, 0.22), ("dh", 0.22, 0.2569), ("ax", 0.2569, 0.3079)]
    assert festival.parse_segs("#\n") == []


@needs_festival
def test_speaking_with_phones_gives_the_same_audio_and_ipa_spans():
    text = ["the thin fin swam near the map."]
    for synthesizer, s in (("festival", SynthSpeaker("1", "kal_diphone", 180, 40)), ("espeak-ng", SynthSpeaker("2", "us-m1", 180, 40))):
        (audio, phones), = speak(text, s, synthesizer, phones=True)
        assert np.array_equal(audio, speak(text, s, synthesizer)[0])
        symbols = [p["symbol"] for p in phones]
        assert "θ" in symbols and "f" in symbols and "æ" in symbols, (synthesizer, symbols)
        assert all(0 <= p["start"] < p["end"] <= len(audio) / 16000 + 0.05 for p in phones)


@needs_festival
def test_wav2sem_training_pairs_in_two_synthesizers(smoke_corpus):
    from w2s.semantic.training_data import training_pairs

    paths, texts, key = training_pairs(smoke_corpus, 4, 0)
    both_paths, both_texts, both_key = training_pairs(smoke_corpus, 4, 0, synthesizers=("espeak-ng", "festival"))
    assert both_paths[:4] == paths and sorted(both_texts[4:]) == sorted(texts)  # the same sentences, spoken again
    assert all("synth-festival-n4-seed0" in str(p) for p in both_paths[4:])
    assert both_key != key and len(key) == len(both_key) == 64
