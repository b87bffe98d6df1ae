import json
import os
import subprocess
import sys

import numpy as np
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
    import w2s.cli.speak as speak

    def broken(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(speak, "save_wav", broken)
    assert main(["speak", "hello", str(tmp_path / "a.wav")]) == 2  # one line, not a traceback
    assert capsys.readouterr().err == "w2s speak: error: disk full\n"
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


@pytest.mark.slow
def test_killed_wav2sem_train_resumes_to_the_uninterrupted_weights(tmp_path, capsys, smoke_corpus):
    """A real `w2s wav2sem train` process is SIGKILLed after its first checkpoint; the same command run
    again resumes it, and the model equals an uninterrupted run's."""
    import signal
    import time

    import torch
    from safetensors.torch import load_file

    def argv(out):
        return ["wav2sem", "train", "--corpus", str(smoke_corpus), "--n-speech", "16", "--steps", "12",
                "--batch-size", "2", "--out", str(out)]  # fmt: skip

    assert main(argv(tmp_path / "whole")) == 0  # uninterrupted (and builds the cached speech set)
    killed = tmp_path / "killed"
    w2s = os.path.join(os.path.dirname(sys.executable), "w2s")
    proc = subprocess.Popen([w2s, *argv(killed)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    ckpt, deadline = killed / "train" / "checkpoint.pt", time.monotonic() + 300
    while not ckpt.is_file() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()[-2000:]
    step = torch.load(ckpt, weights_only=True)["step"]
    assert 0 < step < 12 and not (killed / "model").exists()  # killed midway, before the end
    capsys.readouterr()
    assert main(argv(killed)) == 0  # the same command again: resumes from the checkpoint
    a, b = load_file(tmp_path / "whole" / "model" / "model.safetensors"), load_file(killed / "model" / "model.safetensors")
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(b[k], a[k], rtol=1e-5, atol=1e-6, msg=k)
    hist_a = json.loads((tmp_path / "whole" / "wav2sem_run.json").read_text())["history"]
    hist_b = json.loads((killed / "wav2sem_run.json").read_text())["history"]
    assert hist_b["step"] == hist_a["step"] and np.allclose(hist_b["loss"], hist_a["loss"], rtol=1e-5)


@pytest.mark.slow
def test_decoder_train_finds_its_wav2sem(tmp_path, monkeypatch, capsys, smoke_corpus):
    """`--semantic wav2sem` without `--wav2sem`: notebook 02's lite Wav2Sem for the corpus and seed (the smoke one
    for a smoke corpus) is trained, with a line saying so, then found by the next run; decoder_run.json names it."""
    from w2s.evaluation.grid import MODES
    from w2s.semantic.train import default_wav2sem

    monkeypatch.setenv("W2S_DATA_DIR", str(tmp_path / "data"))

    def train(out):
        argv = ["decoder", "train", "--host", "reference", "--semantic", "wav2sem", "--corpus", str(smoke_corpus),
                "--encoder", "mfcc", "--steps", "2", "--batch-size", "2", "--seed", "1", "--out", str(out)]  # fmt: skip
        assert main(argv) == 0
        return capsys.readouterr().out, json.loads((out / "decoder_run.json").read_text())

    said, rec = train(tmp_path / "a")
    assert said.count("no lite Wav2Sem of seed 1") == 1 and "training notebook 02's now" in said
    smoke = MODES["smoke"]
    lite = default_wav2sem(smoke_corpus, smoke["wav2sem_steps"], smoke["n_speech"], seed=1,
                           on_train=lambda folder: pytest.fail(f"trained again into {folder}"))  # fmt: skip
    assert lite.is_relative_to(tmp_path / "data" / "models") and (lite / "config.json").is_file()
    assert rec["finished"] and rec["recipe"]["semantic"] == "wav2sem" and rec["recipe"]["wav2sem"] == str(lite)
    assert rec["data"]["semantic"].startswith("wav2sem:")  # F_s came from it

    said, rec = train(tmp_path / "b")  # the next run finds it: no training line
    assert "training" not in said and f"F_s from {lite}" in said and rec["recipe"]["wav2sem"] == str(lite)


def test_decoder_trains_on_notebook_02s_full_mode_lite_by_default():
    """On a corpus of neither smoke nor quick mode, `--semantic wav2sem` reads default_wav2sem's defaults: they must
    be notebook 02's own (LITE_STEPS, N_SPEECH, SEED), or the command would train a lite notebook 02 never did."""
    import ast
    import inspect
    from pathlib import Path

    from w2s import runner
    from w2s.semantic.train import default_wav2sem

    nb02 = Path(__file__).resolve().parents[1] / "notebooks" / "02_train_wav2sem.ipynb"
    p = {k: ast.literal_eval(v["default"]) for k, v in runner.declared_parameters(nb02).items()}
    d = {k: v.default for k, v in inspect.signature(default_wav2sem).parameters.items()}
    assert (d["steps"], d["n_speech"], d["data_seed"]) == (p["LITE_STEPS"], p["N_SPEECH"], p["SEED"])
