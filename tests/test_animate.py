"""`w2s animate`: a 44.1 kHz stereo wav -> an mp4 with one video and one audio stream of the same length,
the vertices and a mesh sequence on request; bad input -> one line, status 2, nothing written."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import imageio_ffmpeg
import numpy as np
import pytest
import soundfile as sf
import torch

from w2s.animate import blend_weights, find_model, windows
from w2s.cli import main
from w2s.decoders.training import DecoderRecipe, load_run, train_decoder
from w2s.viz.mesh_io import load_mesh

pytestmark = pytest.mark.usefixtures("one_torch_thread")
SECONDS = 1.5


@pytest.fixture(scope="module")
def run_dir(smoke_corpus, tmp_path_factory):
    """A reference decoder trained for 2 steps on the smoke corpus (mfcc F_p), its offsets scaled down so
    its face stays a face (an untrained map throws vertices metres away, slow to rasterise)."""
    out = tmp_path_factory.mktemp("animate") / "reference-none-seed0"
    train_decoder(DecoderRecipe("reference", encoder="mfcc", max_steps=2), smoke_corpus, out)
    model, _ = load_run(out)
    with torch.no_grad():
        model.vertex_map.weight.mul_(1e-5)
    model.save_pretrained(out / "model")
    return out


@pytest.fixture(scope="module")
def stereo_wav(tmp_path_factory):
    sr = 44100
    t = np.arange(int(SECONDS * sr)) / sr
    x = 0.3 * np.sin(2 * np.pi * 220 * t) * (np.sin(2 * np.pi * 3 * t) > 0)  # syllable-like bursts
    path = tmp_path_factory.mktemp("wav") / "speech.wav"
    sf.write(path, np.stack([x, 0.5 * x], axis=1).astype(np.float32), sr)
    return path


def streams(path) -> dict[str, list[str]]:
    """{"video": [...], "audio": [...]}: the stream lines `ffmpeg -i` prints (no ffprobe in imageio-ffmpeg)."""
    err = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", str(path)],
                         capture_output=True, text=True).stderr  # fmt: skip
    lines = [x for x in err.splitlines() if re.match(r"\s*Stream #", x)]
    return {k: [x for x in lines if f": {k.title()}:" in x] for k in ("video", "audio")}


def stream_seconds(path, kind: str) -> float:
    """The end time of a stream, decoding it (ffmpeg's last `time=`)."""
    err = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostats", "-i", str(path), "-map",
                          f"0:{kind}:0", "-f", "null", "-"], capture_output=True, text=True).stderr  # fmt: skip
    h, m, s = re.findall(r"time=(\d+):(\d+):([\d.]+)", err)[-1]
    return 3600 * int(h) + 60 * int(m) + float(s)


def test_a_stereo_44k_wav_becomes_an_mp4_with_its_audio(run_dir, stereo_wav, tmp_path, capsys):
    out = tmp_path / "head.mp4"
    args = ["animate", str(stereo_wav), "--host", "reference", "--model", str(run_dir), "--out", str(out), "--npy",
            "--ply", "--size", "32x32", "--chunk", "0.6", "--overlap", "0.2"]  # fmt: skip
    assert main(args) == 0
    printed = capsys.readouterr()
    n_win = len(windows(round(SECONDS * 30), 18, 6))
    assert "resampled" in printed.err and n_win > 1 and f"{n_win} window(s)" in printed.out
    s = streams(out)
    assert len(s["video"]) == 1 and len(s["audio"]) == 1, s
    assert "44100 Hz" in s["audio"][0] and "stereo" in s["audio"][0]  # the file's own audio, not the model's
    video, audio = stream_seconds(out, "v"), stream_seconds(out, "a")
    assert abs(video - audio) <= 0.1 and abs(video - SECONDS) <= 0.1, (video, audio)

    verts = np.load(out.with_suffix(".npy"))
    assert (
        verts.shape == (round(SECONDS * 30), 2642, 3)
        and verts.dtype == np.float32
        and np.isfinite(verts).all()
    )
    plys = sorted((tmp_path / "head_ply").glob("*.ply"))
    assert len(plys) == len(verts)
    np.testing.assert_allclose(load_mesh(plys[-1])[0], verts[-1], atol=1e-6)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["head.mp4", "head.npy", "head_ply"]  # no temp files


def test_without_model_it_finds_the_trained_run_or_names_the_command(run_dir, stereo_wav, tmp_path, monkeypatch,
                                                                    capsys):  # fmt: skip
    monkeypatch.setenv("W2S_DATA_DIR", str(tmp_path / "data"))
    out = tmp_path / "out" / "head.mp4"
    out.parent.mkdir()
    args = [
        "animate",
        str(stereo_wav),
        "--host",
        "reference",
        "--out",
        str(out),
        "--size",
        "16x16",
        "--chunk",
        "0",
    ]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no trained reference decoder" in err[0]
    assert "w2s decoder train --host reference --semantic wav2sem" in err[0] and not any(out.parent.iterdir())

    shutil.copytree(run_dir, tmp_path / "data" / "models" / "decoders" / run_dir.name)
    assert find_model("reference", "none") == tmp_path / "data" / "models" / "decoders" / run_dir.name
    assert find_model("reference", "wav2sem") is None
    quick = tmp_path / "data" / "models" / "decoders-x0.2" / run_dir.name  # a newer run with fewer steps
    shutil.copytree(run_dir, quick)
    rec = json.loads((quick / "decoder_run.json").read_text())
    rec["train"]["max_steps"] -= 1
    (quick / "decoder_run.json").write_text(json.dumps(rec))
    assert find_model("reference", "none") == tmp_path / "data" / "models" / "decoders" / run_dir.name
    assert main(args) == 0  # no wav2sem run: the semantic=none one
    assert "semantic=none" in capsys.readouterr().out and streams(out)["audio"]


@pytest.mark.parametrize(
    "change, message",
    [
        ({"wav": "missing.wav"}, "missing.wav does not exist"),
        ({"wav": "text.wav"}, "cannot read audio file"),
        ({"--host": "vocaa"}, "--host: unknown host 'vocaa'"),
        ({"--host": "voca"}, "holds a reference decoder, not --host voca"),
        ({"--semantic": "wav2sem"}, "was trained with --semantic none, not wav2sem"),
        ({"--model": "nowhere"}, "no decoder_run.json"),
        ({"--subject": "Nobody"}, "--subject: unknown subject 'Nobody'"),
        ({"--out": "head.avi"}, "must end in .mp4"),
        ({"--size": "33x32"}, "--size"),
        ({"--overlap": "9"}, "--overlap (9.0 s) must be shorter than --chunk"),
    ],
)
def test_bad_input_one_line_status_2_nothing_written(change, message, run_dir, stereo_wav, tmp_path, capsys):
    (tmp_path / "text.wav").write_text("not audio\n")
    opts = {"wav": stereo_wav, "--host": "reference", "--model": run_dir, "--out": "head.mp4",
            "--subject": "SynthTalk_S02", "--size": "16x16", "--overlap": "0.5", **change}  # fmt: skip
    for path in ("wav", "--model", "--out"):  # in tmp_path (the fixtures' paths are absolute already)
        opts[path] = str(tmp_path / opts[path])
    before = set(tmp_path.iterdir())
    argv = ["animate", opts.pop("wav"), "--npy", "--ply"] + [x for kv in opts.items() for x in kv]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert set(tmp_path.iterdir()) == before


def test_windows_cover_the_input_and_blend_to_one():
    assert windows(40, 0, 0) == [(0, 40)] and windows(40, 60, 10) == [(0, 40)]
    win = windows(100, 30, 10)
    assert win[0][0] == 0 and win[-1][1] == 100 and all(b[0] < a[1] - 9 for a, b in zip(win, win[1:]))
    total = np.zeros(100)
    for (s, e), w in zip(win, blend_weights(win, 100)):
        total[s:e] += w
        assert (w > 0).all() and (np.diff(w[:10]) >= 0).all()
    np.testing.assert_allclose(total, 1.0)


def test_a_positive_control_decoder_is_not_animated(run_dir, stereo_wav, tmp_path, capsys):
    """An oracle_word model reads the corpus's pair word, not the audio: animate refuses it in one line."""
    control = tmp_path / "control"
    shutil.copytree(run_dir, control)
    rec = json.loads((control / "decoder_run.json").read_text())
    rec["recipe"]["semantic"] = "oracle_word"
    (control / "decoder_run.json").write_text(json.dumps(rec))
    out = tmp_path / "head.mp4"
    assert main(["animate", str(stereo_wav), "--host", "reference", "--model", str(control), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "positive control" in err[0] and not out.exists()
