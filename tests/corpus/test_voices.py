"""The test voice (issue 26): flite's timings read from its printed relations, CMU phones mapped to the rig's,
and the val/test utterances of a corpus rendered in flite's voices with lips from flite's timings.

The parser tests read real flite 2.2 output captured into fixtures/flite/outputs.json (by `capture` below)
and run everywhere; the builds need Debian's flite package and skip, saying so, where it is missing."""

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from cli_cases import cli, listing, one_line

from w2s.corpus import flite, voices
from w2s.corpus.build import speakers
from w2s.corpus.presets import PRESETS
from w2s.corpus.visemes import viseme_of
from w2s.evaluation.minimal_pairs import CorpusRig

FIXTURE = Path(__file__).parent / "fixtures" / "flite" / "outputs.json"
NO_FLITE = flite.available()
needs_flite = pytest.mark.skipif(NO_FLITE is not None, reason=NO_FLITE or "")
# the phones of flite's US-English phone set (libflite_usenglish), pause aside
CMU_PHONES = ("aa ae ah ao aw ax axr ay b ch d dh dx eh el em en er ey f g hh hv ih iy jh k l m n ng nx ow oy p r "
              "s sh t th uh uw v w y z zh").split()  # fmt: skip


def capture(cases) -> dict:
    """What fixtures/flite/outputs.json holds: for each (text, voice, duration_stretch), flite -psdur's and t2p's
    output for the text and each prefix of its words, as the programs printed them."""
    out = {"flite": flite.version(), "how": "tests/corpus/test_voices.py: capture()", "cases": []}
    for text, voice, stretch in cases:
        argv = ["flite", "-voice", voice, *flite.features(stretch), "-psdur", "-t", text, "none"]
        words = text.split()
        asks = [text] + [" ".join(words[: k + 1]) for k in range(len(words) - 1)]
        run = lambda a: subprocess.run(a, capture_output=True, text=True, check=True).stdout  # noqa: E731
        out["cases"].append({"text": text, "voice": voice, "argv": argv, "psdur": run(argv),
                             "t2p": {q: run(["t2p", q]) for q in asks}})  # fmt: skip
    return out


@pytest.fixture(scope="module")
def recorded():
    return {c["text"]: c for c in json.loads(FIXTURE.read_text(encoding="utf-8"))["cases"]}


def _front_end(case):
    return flite.front_end(case["text"], case["psdur"], lambda words: case["t2p"][words])


# -- parsers and the phone map (everywhere) ------------------------------------------------------


def test_psdur_segments_are_contiguous_and_end_where_flite_says(recorded):
    case = recorded["Lucy read a story about the owl, didn't she?"]
    segs = flite.parse_segments(case["psdur"])
    assert segs[0] == ("pau", 0.0, 0.222) and segs[1] == ("l", 0.222, 0.289) and segs[-1] == ("pau", 2.891, 3.142)
    assert all(a[2] == b[1] for a, b in zip(segs, segs[1:]))  # each starts where the one before ends
    assert len(segs) == len(case["psdur"].split())


@pytest.mark.parametrize("bad, what", [("pau:0.2 l:0.1", "ends before"), ("pau:0.2 l", "'l'"),
                                       ("pau:0.2 L:0.3", "'L:0.3'"), ("", "no segments")])  # fmt: skip
def test_psdur_parser_refuses_what_it_cannot_read(bad, what):
    with pytest.raises(flite.FliteError, match=what):
        flite.parse_segments(bad)


def test_t2p_parser_reads_stress_and_drops_pauses():
    assert flite.parse_lexicon("pau l uw1 s iy pau r eh2 d pau \n") == [("l", 0), ("uw", 1), ("s", 0), ("iy", 0),
                                                                        ("r", 0), ("eh", 2), ("d", 0)]  # fmt: skip
    with pytest.raises(flite.FliteError, match="'uw7'"):
        flite.parse_lexicon("pau uw7 pau")


def test_words_get_their_phones_in_context(recorded):
    phonemes, words = _front_end(recorded["Lucy read a story about the owl, didn't she?"])
    names = [w.word for w in words]
    assert names == ["Lucy", "read", "a", "story", "about", "the", "owl", "didn't", "she"]  # the text's, unpunctuated
    said = {w.word: [p.symbol for p in phonemes if p.word_index == i] for i, w in enumerate(words)}
    assert said["read"] == ["ɹ", "ɛ", "d"]  # past tense, as flite said it in this sentence
    assert said["a"] == ["ə"] and said["the"] == ["ð", "iː"]  # post-lexical: reduced; [iy] before a vowel
    assert said["didn't"] == ["d", "ɪ", "d", "n", "t"]
    story = [p for p in phonemes if p.word_index == 3]
    assert [p.stress for p in story] == [0, 0, 1, 0, 0]  # t2p's digits: st'ory
    for i, w in enumerate(words):  # a word spans its phonemes, words follow each other
        mine = [p for p in phonemes if p.word_index == i]
        assert (w.start, w.end) == (mine[0].start, mine[-1].end)
    assert all(a.end <= b.start for a, b in zip(words, words[1:]))
    assert phonemes[0].start == 0.222 and phonemes[-1].end == 2.891  # flite's times, pauses left as gaps
    assert [round(p.start, 3) for p in phonemes[6:9]] == [0.826, 0.859, 0.894]  # "read"'s d, then "a"


def test_a_written_word_flite_says_as_several_keeps_all_their_phones(recorded):
    phonemes, words = _front_end(recorded["He paid 42 dollars for the apple's skin."])
    said = {w.word: [p.symbol for p in phonemes if p.word_index == i] for i, w in enumerate(words)}
    assert said["42"] == ["f", "ɔː", "ɹ", "t", "iː", "t", "uː"]  # forty two
    assert said["apple's"] == ["æ", "p", "ə", "l", "z"]  # apple + 's
    assert said["dollars"][-2:] == ["ɚ", "z"]  # unstressed er


def test_every_phone_flite_says_has_the_rig_s_viseme(recorded):
    assert set(CMU_PHONES) <= set(flite.CMU_TO_IPA)
    for phone in flite.CMU_TO_IPA:
        for stress in (0, 1):
            viseme_of(flite.to_ipa(phone, stress))  # raises for a symbol the rig does not know
    assert flite.to_ipa("er", 1) == "ɜː" and flite.to_ipa("er", 0) == "ɚ"  # as espeak-ng: bird, butter
    assert viseme_of(flite.to_ipa("p")) == "bilabial" and viseme_of(flite.to_ipa("uw")) == "rounded_vowel"
    assert viseme_of(flite.to_ipa("dh")) == "dental" and viseme_of(flite.to_ipa("ch")) == "postalveolar"
    with pytest.raises(flite.FliteError, match="'q'"):
        flite.to_ipa("q")
    for case in recorded.values():
        for p in _front_end(case)[0]:
            viseme_of(p.symbol)


def test_disagreeing_front_end_output_is_an_error_naming_the_text(recorded):
    case = dict(recorded["Lucy read a story about the owl, didn't she?"])
    swapped = dict(case, psdur=case["psdur"].replace("l:0.289", "r:0.289"))
    with pytest.raises(flite.FliteError, match="Lucy read a story"):
        _front_end(swapped)  # flite said another phone than its front end
    t2p = dict(case["t2p"])
    t2p["Lucy read"] = "pau l uw1 s iy pau \n"  # a prefix whose phones fall short of the one before it
    t2p["Lucy read a"] = "pau l uw1 s pau \n"
    with pytest.raises(flite.FliteError, match="first 3 words"):
        flite.front_end(case["text"], case["psdur"], lambda w: t2p[w])


def test_speakers_keep_their_rate_and_each_held_out_split_gets_both_voices():
    spk = speakers(PRESETS["default"], 0)
    got = {s.subject: voices.flite_voice({"voice": s.voice, "rate": s.rate, "pitch": s.pitch}) for s in spk}
    for s in spk:
        v = got[s.subject]
        assert v["voice"] == ("slt" if s.voice in voices.FEMALE_ESPEAK else "rms")
        assert v["duration_stretch"] == pytest.approx(175 / s.rate, abs=1e-4)  # faster speaker, shorter phones
    table = PRESETS["default"].split_table([s.subject for s in spk])
    for split in ("val", "test"):
        assert sorted(got[s]["voice"] for s in table[split][0]) == ["rms", "slt"]


# -- the command's refusals (everywhere) ----------------------------------------------------------


def test_bad_voice_set_options_are_one_line_and_write_nothing(tmp_path, capsys, monkeypatch):
    out = tmp_path / "flite"
    one_line(*cli(["corpus", "build", out, "--voice-set", "festival"], capsys), "--voice-set", "festival")
    if NO_FLITE is None:
        one_line(*cli(["corpus", "build", out, "--voice-set", "flite", "--preset", "masked-full"], capsys),
                 "masked-full", "masks")  # fmt: skip
        (tmp_path / "taken").mkdir()
        one_line(*cli(["corpus", "build", tmp_path / "taken", "--voice-set", "flite"], capsys), "already exists")
        one_line(*cli(["corpus", "build", tmp_path / "no" / "x", "--voice-set", "flite"], capsys), "does not exist")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # no flite here
    line = one_line(*cli(["corpus", "build", out, "--voice-set", "flite", "--preset", "smoke"], capsys), "flite")
    assert "apt-get install flite" in line
    assert listing(tmp_path) <= {"taken", "flite"} and not out.exists()


# -- builds (need flite) --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def flite_smoke(smoke_corpus, tmp_path_factory):
    if NO_FLITE:
        pytest.skip(NO_FLITE)
    return voices.build(tmp_path_factory.mktemp("voices") / "flite", "flite", preset="smoke", source=smoke_corpus)


@needs_flite
def test_flite_corpus_holds_the_held_out_utterances_with_lips_on_flite_s_timings(flite_smoke, smoke_corpus):
    from w2s.data.corpus import Corpus

    src, got = Corpus(smoke_corpus), Corpus(flite_smoke)
    held = src.stems("val") + src.stems("test")
    assert got.stems() == sorted(held) and got.stems("val") == src.stems("val") and got.stems("test") == src.stems("test")
    assert got.stems("train") == [] and got.spec.train_subjects == src.spec.train_subjects  # conditioning order kept
    for name in ("templates.pkl", "faces.npy", "pairs.json", "splits.json", "regions/lips.txt"):
        assert (flite_smoke / name).read_bytes() == (smoke_corpus / name).read_bytes()
    meta = got.meta
    assert meta["voice_set"] == "flite" and meta["source"]["content_sha256"] == src.meta["content_sha256"]
    assert meta["n_sequences"] == len(held) and meta["content_sha256"] == got.content_sha256
    rendered = {s["subject"]: s["flite"]["voice"] for s in meta["speakers"]}
    rig = CorpusRig(got)  # the evaluation's renderer of any timeline for an utterance of this corpus
    for stem in held:
        assert got.transcripts[stem] == src.transcripts[stem]
        assert got.alignments[stem]["target_word"] == src.alignments[stem].get("target_word")
        audio, sr = sf.read(flite_smoke / "wav" / f"{stem}.wav")
        assert sr == 16000 and rendered[stem.rsplit("_", 1)[0]] in ("slt", "rms")
        phonemes = got.alignments[stem]["phonemes"]
        assert phonemes[-1]["end"] <= len(audio) / sr + 1e-9
        verts = np.load(flite_smoke / "vertices_npy" / f"{stem}.npy")
        n = got.n_frames(stem)
        assert verts.shape == (n, got.n_vertices * 3) and abs(n - len(audio) / sr * got.fps) <= 1  # covers the audio
        verts = verts.reshape(n, -1, 3)
        np.testing.assert_allclose(verts, rig(stem, phonemes, n), atol=1e-6)  # the speaker's face, flite's timings
        espeak = rig(stem, src.alignments[stem]["phonemes"], n)  # the same face on espeak-ng's timings
        assert np.abs(verts - espeak)[:, got.lips].max() > 1e-3
    item = got.dataset("test")[0]
    assert item["vertices"].shape[1:] == (got.n_vertices, 3) and item["audio"].ndim == 1


@needs_flite
def test_flite_build_is_deterministic_and_the_command_builds_it(flite_smoke, smoke_corpus, tmp_path, capsys,
                                                                 monkeypatch):  # fmt: skip
    monkeypatch.setattr(voices, "source_corpus", lambda preset, seed: smoke_corpus)
    out = tmp_path / "again"
    rc, err = cli(["corpus", "build", out, "--voice-set", "flite", "--preset", "smoke"], capsys)
    assert rc == 0, err
    a = json.loads((flite_smoke / "corpus.json").read_text())
    b = json.loads((out / "corpus.json").read_text())
    assert a["content_sha256"] == b["content_sha256"]  # same files, byte for byte
    one_line(*cli(["corpus", "build", out, "--voice-set", "flite", "--preset", "smoke"], capsys), "already exists")
