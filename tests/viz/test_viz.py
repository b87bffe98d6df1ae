"""w2s.viz.figures: plotly animation payloads, vertex-order-preserving mesh I/O, CPU video rendering."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass

import imageio_ffmpeg
import numpy as np
import pytest
import trimesh

from w2s.viz import figures as viz


def _sphere(subdivisions: int = 1):
    m = trimesh.creation.icosphere(subdivisions=subdivisions, radius=0.1)
    return np.asarray(m.vertices, dtype=np.float64), np.asarray(m.faces, dtype=np.int64)


def _talking(vertices: np.ndarray, n_frames: int, seed: int = 0) -> np.ndarray:
    """A (T, V, 3) sequence: the lower half opens and closes like a jaw."""
    t = np.arange(n_frames)[:, None]
    amount = 0.02 * np.sin(2 * np.pi * t / 15.0)
    seq = np.repeat(vertices[None], n_frames, axis=0)
    seq[..., 1] -= amount * (vertices[None, :, 1] < 0)
    return seq + np.random.default_rng(seed).normal(0, 1e-4, seq.shape)


# --------------------------------------------------------------------------------------------
# plotly animation


def test_subsample_keeps_ends_and_bound():
    for n, m in [(1, 100), (5, 100), (100, 100), (101, 100), (1000, 37), (7, 2), (7, 1)]:
        idx = viz._subsample(n, m)
        assert len(idx) <= m and len(idx) == min(n, m)
        assert idx[0] == 0 and (m == 1 or idx[-1] == n - 1)
        assert np.all(np.diff(idx) > 0)


def test_animate_mesh_two_sequences_payload():
    v, f = _sphere(1)
    gt, pred = _talking(v, 250), _talking(v, 253, seed=1)  # different lengths: cut to the shorter
    fig = viz.animate_mesh({"ground truth": gt, "prediction": pred}, f, fps=30, max_frames=40, title="t")

    assert len(fig.data) == 2
    assert [tr.name for tr in fig.data] == ["ground truth", "prediction"]
    for tr in fig.data:
        assert tr.type == "mesh3d"
        assert len(tr.i) == len(tr.j) == len(tr.k) == len(f)
        assert np.asarray(tr.x).dtype == np.float32
    # side by side along x, not overlapping
    assert np.max(fig.data[0].x) < np.min(fig.data[1].x)

    assert 2 <= len(fig.frames) <= 40
    names = [fr.name for fr in fig.frames]
    assert names[0] == "0" and names[-1] == "249"
    for fr in fig.frames:
        assert len(fr.data) == 2
        for tr in fr.data:
            keys = set(tr.to_plotly_json()) - {"type"}
            assert keys == {"x", "y", "z"}, keys
            for axis in (tr.x, tr.y, tr.z):
                assert isinstance(axis, np.ndarray) and axis.dtype == np.float32
                assert axis.shape == (len(v),)
    # what actually goes over the wire: base64 float32, no i/j/k in frames
    frame_json = fig.to_dict()["frames"][3]["data"][1]
    assert frame_json["x"]["dtype"] == "f4"
    assert not {"i", "j", "k"} & set(frame_json)

    # controls reference frames by name; no data smuggled into the controls
    steps = fig.layout.sliders[0].steps
    assert [s.args[0][0] for s in steps] == names
    for s in steps:
        assert s.method == "animate"
        assert s.args[1]["transition"]["duration"] == 0 and s.args[1]["frame"]["redraw"] is True
    play, pause = fig.layout.updatemenus[0].buttons
    assert play.args[0] is None and play.args[1]["frame"]["redraw"] is True
    assert play.args[1]["transition"]["duration"] == 0
    assert list(pause.args[0]) == [None]

    scene = fig.layout.scene
    assert scene.aspectmode == "data"
    assert scene.xaxis.range is not None and scene.yaxis.range is not None and scene.zaxis.range is not None
    assert scene.camera.up.y == 1 and scene.camera.eye.z > 0 and scene.camera.eye.x == 0


def test_animate_mesh_single_array_short_clip():
    v, f = _sphere(0)
    fig = viz.animate_mesh(_talking(v, 5).astype(np.float64), f, max_frames=100)
    assert len(fig.data) == 1 and len(fig.frames) == 5
    assert fig.frames[0].data[0].x.dtype == np.float32


def test_animate_mesh_rejects_wrong_template():
    v, f = _sphere(1)
    with pytest.raises(ValueError, match="vertices"):
        viz.animate_mesh(_talking(v[:20], 3), f)


# --------------------------------------------------------------------------------------------
# mesh files


def _trap_mesh():
    """Duplicate vertex positions (a seam: 0 and 4 coincide) and unreferenced vertices (5, 7)."""
    v = np.array(
        [
            [0.0, 0.0, 0.0],
            [1.0, 0.0, 0.0],
            [0.0, 1.0, 0.0],
            [1.0, 1.0, 0.1],
            [0.0, 0.0, 0.0],  # same position as 0
            [5.0, 5.0, 5.0],  # unreferenced, in the middle
            [0.123456789, -0.987654321, 0.5],
            [-2.0, 3.0, 1.0],  # unreferenced, last
        ]
    )
    f = np.array([[0, 1, 2], [4, 3, 2], [1, 3, 6]])
    return v, f


@pytest.mark.parametrize("suffix", [".obj", ".ply"])
def test_mesh_round_trip_keeps_vertex_order(tmp_path, suffix):
    v, f = _trap_mesh()
    path = viz.export_mesh(tmp_path / f"trap{suffix}", v, f)
    assert path.is_file()
    v2, f2 = viz.load_mesh(path)
    assert v2.shape == v.shape and f2.shape == f.shape
    np.testing.assert_allclose(v2, v, rtol=0, atol=1e-8)
    np.testing.assert_array_equal(f2, f)
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"trap{suffix}"]


@pytest.mark.parametrize("suffix", [".obj", ".ply"])
def test_mesh_round_trip_icosphere(tmp_path, suffix):
    v, f = _sphere(2)
    v = v.astype(np.float32)
    v2, f2 = viz.load_mesh(viz.export_mesh(tmp_path / f"s{suffix}", v, f))
    np.testing.assert_allclose(v2, v, rtol=0, atol=1e-7)
    np.testing.assert_array_equal(f2, f)


def test_mesh_io_errors(tmp_path):
    v, f = _trap_mesh()
    with pytest.raises(ValueError, match="suffix"):
        viz.export_mesh(tmp_path / "x.stl", v, f)
    with pytest.raises(ValueError, match="faces index"):
        viz.export_mesh(tmp_path / "x.obj", v[:4], f)
    with pytest.raises(FileNotFoundError):
        viz.load_mesh(tmp_path / "missing.ply")
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------------------------
# rendering


def test_render_image_frontal_camera_y_up():
    v, f = _sphere(2)
    box = np.array([[-1.0, -1.0, -1.0], [1.0, 1.0, 1.0]])
    img = viz.render_image(v + [0.0, 0.5, 0.0], f, size=(64, 64), fit_to=box)
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
        return viz.render_image(verts, faces, size=(32, 32))[16, 16].astype(int)

    flat_only = viz.render_image(quad, faces[:2], size=(32, 32))[16, 16].astype(int)
    assert np.array_equal(centre_pixel(-2.0), flat_only)
    assert not np.array_equal(centre_pixel(+0.5), flat_only)


def _probe(path):
    proc = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True, text=True
    )
    return [line for line in proc.stderr.splitlines() if re.search(r"Stream #\d+:\d+", line)]


def test_render_video_with_audio(tmp_path):
    v, f = _sphere(2)  # 162 vertices
    seq = _talking(v, 10)
    sr = 16000
    audio = 0.3 * np.sin(2 * np.pi * 220 * np.arange(int(0.33 * sr)) / sr).astype(np.float32)
    out = viz.render_video(tmp_path / "clip.mp4", seq, f, fps=30, audio=audio, sr=sr, size=(96, 96))
    assert out == tmp_path / "clip.mp4" and out.stat().st_size > 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4"]

    n_frames, _secs = imageio_ffmpeg.count_frames_and_secs(str(out))
    assert n_frames == 10
    streams = _probe(out)
    video = [s for s in streams if "Video:" in s]
    sound = [s for s in streams if "Audio:" in s]
    assert len(video) == 1 and "h264" in video[0] and "yuv420p" in video[0] and "96x96" in video[0]
    assert len(sound) == 1 and "aac" in sound[0]


def test_render_video_without_audio(tmp_path):
    v, f = _sphere(1)
    out = viz.render_video(tmp_path / "silent.mp4", _talking(v, 4), f, size=(32, 32))
    assert imageio_ffmpeg.count_frames_and_secs(str(out))[0] == 4
    assert not [s for s in _probe(out) if "Audio:" in s]


@pytest.mark.parametrize(
    "case, match",
    [("nan", "NaN"), ("empty", "empty"), ("template", "faces index"), ("size", "even")],
)
def test_render_video_bad_input_leaves_nothing(tmp_path, case, match):
    v, f = _sphere(1)
    seq, size = _talking(v, 5), (32, 32)
    if case == "nan":
        seq[3, 7, 1] = np.nan
    elif case == "empty":
        seq = seq[:0]
    elif case == "template":
        seq = seq[:, :10]
    elif case == "size":
        size = (33, 32)
    path = tmp_path / "bad.mp4"
    with pytest.raises(ValueError, match=match) as err:
        viz.render_video(path, seq, f, size=size)
    assert str(path) in str(err.value)
    assert list(tmp_path.iterdir()) == []


def test_render_video_failure_mid_stream_cleans_up(tmp_path, monkeypatch):
    v, f = _sphere(1)
    real = viz._render_frame
    calls = []

    def flaky(*args):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("boom")
        return real(*args)

    monkeypatch.setattr(viz, "_render_frame", flaky)
    with pytest.raises(RuntimeError, match="boom"):
        viz.render_video(tmp_path / "x.mp4", _talking(v, 6), f, audio=np.zeros(3200), size=(32, 32))
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------------------------
# audio, spectrogram, show


@dataclass(frozen=True)
class _Seg:
    symbol: str
    start: float
    end: float


def test_spectrogram_figure_with_segments():
    sr = 16000
    t = np.arange(int(0.5 * sr)) / sr
    audio = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    segs = [_Seg("h", 0.0, 0.1), {"symbol": "ə", "start": 0.1, "end": 0.25}, _Seg("l", 0.25, 0.5)]
    fig = viz.spectrogram_figure(audio, sr, segments=segs)
    heat = fig.data[0]
    assert heat.type == "heatmap" and heat.z.dtype == np.float32 and heat.z.shape[0] == 80
    assert [a.text for a in fig.layout.annotations] == ["h", "ə", "l"]
    assert len(fig.layout.shapes) == 2 * len(segs)
    stft = viz.spectrogram_figure(audio, sr, kind="stft")
    assert stft.data[0].z.shape[0] == 512 // 2 + 1 and not stft.layout.annotations
    with pytest.raises(ValueError):
        viz.spectrogram_figure(audio, sr, kind="cqt")


def test_audio_widget():
    from IPython.display import Audio

    widget = viz.audio_widget(np.linspace(-1.5, 1.5, 1600), sr=16000)
    assert isinstance(widget, Audio) and widget.data[:4] == b"RIFF"


def test_show_writes_small_html_when_not_interactive(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("W2S_INTERACTIVE", "0")
    v, f = _sphere(1)
    fig = viz.animate_mesh(_talking(v, 3), f, title="Jaw test")
    path = viz.show(fig, out_dir=tmp_path)
    assert path == tmp_path / "jaw-test.html" and path.is_file()
    html = path.read_text(encoding="utf-8")
    # offline: plotly.js sits beside the page, not on a CDN
    assert 'src="plotly.min.js"' in html and (tmp_path / "plotly.min.js").is_file()
    assert path.stat().st_size < 500_000
    assert str(path) in capsys.readouterr().out
    assert viz.show(fig, out_dir=tmp_path, name="named") == tmp_path / "named.html"
