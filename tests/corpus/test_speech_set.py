"""The offline LibriSpeech stand-in: synthesized, in the real layout, read back by the real reader."""

import json

import pytest
import soundfile as sf

from w2s.corpus.speech_set import (
    SpeechSetError,
    build_speech_set,
    choose_texts,
    librispeech_transcript,
    load_or_build_speech_set,
)
from w2s.data.librispeech import load_speech_set, read_librispeech


def test_transcript_style():
    assert librispeech_transcript("Look closely at the fin, Tom!") == "LOOK CLOSELY AT THE FIN TOM"
    assert librispeech_transcript("The shark's one-way trip 'ended'.") == "THE SHARK'S ONE WAY TRIP ENDED"


@pytest.fixture(scope="module")
def speech_set(tmp_path_factory):
    # stands in for the face corpus's test sentences: half of what would be chosen without exclusions,
    # some only differing in case and punctuation
    would = choose_texts(24, seed=3)
    exclude = would[:8] + [t.lower().rstrip(".?!") for t in would[8:12]]
    out = tmp_path_factory.mktemp("speech") / "set"
    kw = dict(seed=3, exclude_texts=exclude, utts_per_chapter=3, chapters_per_speaker=2)
    return build_speech_set(out, 24, **kw), exclude, kw


def test_speech_set_layout_and_exclusion(speech_set):
    out, exclude, _ = speech_set
    pairs = load_speech_set(out)
    assert len(pairs) == 24 and len({u.id for u, _ in pairs}) == 24
    utts = read_librispeech(out)  # the real-layout reader, unchanged
    assert [u.id for u in utts] == [u.id for u, _ in pairs]
    assert all(u.subset == "train-synth" for u in utts)
    chapters = {(u.speaker, u.chapter) for u in utts}
    assert len(chapters) == 8 and len({u.speaker for u in utts}) == 4  # 3 per chapter, 2 chapters per speaker
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["n"] == 24 and manifest["seed"] == 3 and manifest["n_excluded"] == 12
    assert len({(s["voice"], s["rate"], s["pitch"]) for s in manifest["speakers"]}) == 4
    banned = {librispeech_transcript(t) for t in exclude}
    for u, original in pairs:
        assert u.text == librispeech_transcript(original) and u.text not in banned
        assert original[-1] in ".?!" and original != original.upper()  # case and punctuation kept
        audio, sr = sf.read(u.path, dtype="float32")
        assert sr == 16000 and audio.ndim == 1 and len(audio) > 8000


def test_speech_set_deterministic(speech_set, tmp_path):
    out, exclude, kw = speech_set
    again = build_speech_set(tmp_path / "again", 24, **kw)
    files = sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file())
    for f in files:  # libsndfile's FLAC encoder is deterministic: byte-identical files
        assert (out / f).read_bytes() == (again / f).read_bytes(), f
    other = build_speech_set(tmp_path / "other", 24, **{**kw, "seed": 4})
    assert json.loads((other / "texts.json").read_text()) != json.loads((out / "texts.json").read_text())


def test_speech_set_errors_and_reuse(tmp_path):
    with pytest.raises(SpeechSetError, match="unknown-voice|voices must be"):
        build_speech_set(tmp_path / "x", 4, voices=["unknown-voice"])
    with pytest.raises(SpeechSetError, match="positive integer"):
        build_speech_set(tmp_path / "x", 0)
    with pytest.raises(SpeechSetError, match="not a built speech set"):
        load_speech_set(tmp_path)
    out = load_or_build_speech_set(4, seed=1, voices=["us-f1", "us-m2"], root=tmp_path)
    stamp = (out / "manifest.json").stat().st_mtime_ns
    assert load_or_build_speech_set(4, seed=1, voices=["us-f1", "us-m2"], root=tmp_path) == out
    assert (out / "manifest.json").stat().st_mtime_ns == stamp  # reused, not rebuilt
    with pytest.raises(SpeechSetError, match="already exists"):
        build_speech_set(out, 4)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp folders left
