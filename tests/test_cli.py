import json
import os
import subprocess
import sys

import pytest
import soundfile as sf

from w2s.cli import main


def test_speak_writes_wav_and_timings(tmp_path, capsys):
    out = tmp_path / "x.wav"
    assert main(["speak", "the thin fin", str(out), "--voice", "us-f2", "--rate", "160", "--pitch", "60"]) == 0
    info = sf.info(out)
    assert info.samplerate == 16000 and info.channels == 1
    timings = json.loads(out.with_suffix(".json").read_text())
    assert [w["word"] for w in timings["words"]] == ["the", "thin", "fin"]
    assert timings["voice"] == "us-f2" and timings["rate"] == 160 and timings["pitch"] == 60
    assert abs(timings["duration"] - info.frames / 16000) < 1e-6
    assert timings["phonemes"][-1]["end"] <= timings["duration"]
    assert oct(out.stat().st_mode & 0o777) != oct(0o600)  # not mkstemp's private mode


@pytest.mark.parametrize(
    "argv, message",
    [
        (["speak", "", "{d}/a.wav"], "empty"),
        (["speak", "?!", "{d}/a.wav"], "nothing speakable"),
        (["speak", "hi", "{d}/a.wav", "--voice", "robot"], "unknown voice"),
        (["speak", "hi", "{d}/a.wav", "--rate", "5000"], "rate"),
        (["speak", "hi", "{d}/a.wav", "--pitch", "300"], "pitch"),
        (["speak", "hi", "{d}/missing/a.wav"], "does not exist"),
        (["speak", "hi", "{d}/file.txt/a.wav"], "not a folder"),
        (["speak", "hi", "{d}/a.mp3"], "must end in .wav"),
    ],
)
def test_speak_bad_input_leaves_nothing(tmp_path, capsys, argv, message):
    (tmp_path / "file.txt").write_text("x")
    before = set(os.listdir(tmp_path))
    assert main([a.format(d=tmp_path) for a in argv]) == 2
    assert message in capsys.readouterr().err
    assert set(os.listdir(tmp_path)) == before  # no partial or temp files


def test_speak_failure_during_write_leaves_nothing(tmp_path, monkeypatch, capsys):
    import w2s.cli as cli

    def broken(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(cli, "save_wav", broken)
    with pytest.raises(OSError):
        main(["speak", "hello", str(tmp_path / "a.wav")])
    assert os.listdir(tmp_path) == []


def test_console_script_exit_code(tmp_path):
    bindir = os.path.dirname(sys.executable)
    r = subprocess.run([os.path.join(bindir, "w2s"), "speak", "", str(tmp_path / "a.wav")], capture_output=True, text=True)
    assert r.returncode == 2 and "error" in r.stderr


def test_pairs_json(capsys, near_pairs):
    assert main(["pairs", "--json"]) == 0
    pairs = json.loads(capsys.readouterr().out)
    assert len(pairs) >= 60
    keys = {"word_a", "word_b", "phonemes_a", "phonemes_b", "phoneme_a", "phoneme_b", "viseme_a", "viseme_b", "distance"}
    assert all(keys <= set(p) for p in pairs)
    assert all(p["viseme_a"] != p["viseme_b"] for p in pairs)


def test_notebooks_unknown_parameter_is_an_error(tmp_path, capsys):
    assert main(["notebooks", "--only", "00", "-p", "SMOK=True", "--runs", str(tmp_path)]) == 2
    assert "unknown parameter" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []  # nothing ran, no run folder


def test_notebooks_unknown_notebook(tmp_path, capsys):
    assert main(["notebooks", "--only", "77", "--runs", str(tmp_path)]) == 2
    assert "no notebook matches" in capsys.readouterr().err


def test_corpus_build_bad_input(tmp_path, capsys):
    (tmp_path / "exists").mkdir()
    assert main(["corpus", "build", str(tmp_path / "exists"), "--preset", "smoke"]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["corpus", "build", str(tmp_path / "no" / "such" / "dir"), "--preset", "smoke"]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exists"]


@pytest.mark.slow
def test_corpus_check_smoke(capsys, monkeypatch, distances):
    import re

    import w2s.corpus.check as check

    assert main(["corpus", "check", "--preset", "smoke"]) == 0
    assert re.search(r"^0 of 48 sentences \(smoke, seed 0\) and 0 of \d+ pair words", capsys.readouterr().out, re.M)
    real = check.synthesize

    def lossy(*a, **k):  # loses every utterance's last phoneme
        u = real(*a, **k)
        u.phonemes = u.phonemes[:-1]
        return u

    monkeypatch.setattr(check, "synthesize", lossy)
    assert main(["corpus", "check", "--preset", "smoke"]) == 1
    out = capsys.readouterr().out
    assert re.search(r"^SynthTalk_S01_sentence01: missing '\S+' after", out, re.M)
    assert re.search(r"^48 of 48 sentences \(smoke, seed 0\) and (\d+) of \1 pair words", out, re.M)
