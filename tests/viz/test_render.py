"""w2s.viz.render: the CPU rasteriser (camera, depth order) and H.264 video with audio, failing cleanly."""

from __future__ import annotations

import re
import subprocess

import imageio_ffmpeg
import numpy as np
import pytest

from w2s.viz import render


def test_render_image_frontal_camera_y_up(sphere):
    v, f = sphere(2)
    box = np.array([[-1.0, -1.0, -1.0], [1.0, 1.0, 1.0]])
    img = render.render_image(v + [0.0, 0.5, 0.0], f, size=(64, 64), fit_to=box)
    assert img.shape == (64, 64, 3) and img.dtype == np.uint8
    covered = (img != 255).any(axis=2)
    rows = np.flatnonzero(covered.any(axis=1))
    assert rows.max() < 32  # moved up in y -> upper half of the image


def test_render_image_depth_order():
    """A tilted triangle in front (+z) of a flat quad hides it; behind the quad it is hidden."""
    quad = np.array([[-1, -1, 0], [1, -1, 0], [1, 1, 0], [-1, 1, 0]], dtype=float)
    tilted = np.array([[-0.5, -0.5, 0.0], [0.5, -0.5, 0.0], [0.0, 0.5, 0.8]])
    faces = np.array([[0, 1, 2], [0, 2, 3], [4, 5, 6]])

    def centre_pixel(dz):
        verts = np.vstack([quad, tilted + [0, 0, dz]])
        return render.render_image(verts, faces, size=(32, 32))[16, 16].astype(int)

    flat_only = render.render_image(quad, faces[:2], size=(32, 32))[16, 16].astype(int)
    assert np.array_equal(centre_pixel(-2.0), flat_only)
    assert not np.array_equal(centre_pixel(+0.5), flat_only)


def test_render_strip_puts_meshes_side_by_side(sphere):
    v, f = sphere(1)
    strip = render.render_strip([v, v * [1.0, 0.5, 1.0], v], f, size=(32, 32), rows=slice(4, 28))
    assert strip.shape == (24, 96, 3)
    np.testing.assert_array_equal(strip[:, :32], strip[:, 64:])  # the same mesh renders the same
    assert not np.array_equal(strip[:, :32], strip[:, 32:64])  # a squashed one does not


def _probe(path):
    proc = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True, text=True
    )
    return [line for line in proc.stderr.splitlines() if re.search(r"Stream #\d+:\d+", line)]


def test_render_video_with_audio(tmp_path, sphere, talking):
    v, f = sphere(2)  # 162 vertices
    seq = talking(v, 10)
    sr = 16000
    audio = 0.3 * np.sin(2 * np.pi * 220 * np.arange(int(0.33 * sr)) / sr).astype(np.float32)
    out = render.render_video(tmp_path / "clip.mp4", seq, f, fps=30, audio=audio, sr=sr, size=(96, 96))
    assert out == tmp_path / "clip.mp4" and out.stat().st_size > 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4"]

    n_frames, _secs = imageio_ffmpeg.count_frames_and_secs(str(out))
    assert n_frames == 10
    streams = _probe(out)
    video = [s for s in streams if "Video:" in s]
    sound = [s for s in streams if "Audio:" in s]
    assert len(video) == 1 and "h264" in video[0] and "yuv420p" in video[0] and "96x96" in video[0]
    assert len(sound) == 1 and "aac" in sound[0]


def test_render_video_without_audio(tmp_path, sphere, talking):
    v, f = sphere(1)
    out = render.render_video(tmp_path / "silent.mp4", talking(v, 4), f, size=(32, 32))
    assert imageio_ffmpeg.count_frames_and_secs(str(out))[0] == 4
    assert not [s for s in _probe(out) if "Audio:" in s]


def test_render_video_integer_and_float_fps_give_the_same_file(tmp_path, sphere, talking):
    v, f = sphere(1)
    seq = talking(v, 4)
    a = render.render_video(tmp_path / "a.mp4", seq, f, fps=30, size=(32, 32))
    b = render.render_video(tmp_path / "b.mp4", seq, f, fps=30.0, size=(32, 32))
    assert a.read_bytes() == b.read_bytes()


def test_fit_audio_cuts_and_pads():
    sr = 1000
    long = render._fit_audio(np.ones(5000), sr, 1.0, "t")
    short = render._fit_audio(np.ones((100, 2)), sr, 1.0, "t")
    assert len(long) == len(short) == round((1.0 + render._AUDIO_SLACK_S) * sr)
    assert short.shape[1] == 2 and short[:100].all() and not short[100:].any()


@pytest.mark.parametrize(
    "case, match",
    [("nan", "NaN"), ("empty", "empty"), ("template", "faces index"), ("size", "even"), ("audio", "audio")],
)
def test_render_video_bad_input_leaves_nothing(tmp_path, sphere, talking, case, match):
    v, f = sphere(1)
    seq, size, audio = talking(v, 5), (32, 32), None
    if case == "nan":
        seq[3, 7, 1] = np.nan
    elif case == "empty":
        seq = seq[:0]
    elif case == "template":
        seq = seq[:, :10]
    elif case == "size":
        size = (33, 32)
    elif case == "audio":
        audio = np.full(100, np.inf)
    path = tmp_path / "bad.mp4"
    with pytest.raises(ValueError, match=match) as err:
        render.render_video(path, seq, f, size=size, audio=audio)
    assert str(path) in str(err.value)
    assert list(tmp_path.iterdir()) == []


def test_render_video_failure_mid_stream_cleans_up(tmp_path, monkeypatch, sphere, talking):
    v, f = sphere(1)
    real = render._render_frame
    calls = []

    def flaky(*args):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("boom")
        return real(*args)

    monkeypatch.setattr(render, "_render_frame", flaky)
    with pytest.raises(RuntimeError, match="boom"):
        render.render_video(tmp_path / "x.mp4", talking(v, 6), f, audio=np.zeros(3200), size=(32, 32))
    assert list(tmp_path.iterdir()) == []
