"""w2s.viz.figures: the plotly animation payload, spectrograms, and the notebooks' measure figures."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from w2s.evaluation.coupling import Token
from w2s.viz import figures
from w2s.viz.checks import subsample

# --------------------------------------------------------------------------------------------
# mesh animation


def test_subsample_keeps_ends_and_bound():
    for n, m in [(1, 100), (5, 100), (100, 100), (101, 100), (1000, 37), (7, 2), (7, 1)]:
        idx = subsample(n, m)
        assert len(idx) <= m and len(idx) == min(n, m)
        assert idx[0] == 0 and (m == 1 or idx[-1] == n - 1)
        assert np.all(np.diff(idx) > 0)


def test_animate_mesh_two_sequences_payload(sphere, talking):
    v, f = sphere(1)
    gt, pred = talking(v, 250), talking(v, 253, seed=1)  # different lengths: cut to the shorter
    fig = figures.animate_mesh({"ground truth": gt, "prediction": pred}, f, fps=30, max_frames=40, title="t")

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
    # real-time playback: 250 frames shown as 40 at 30 fps -> each shown frame lasts ~6.4 frames
    assert play.args[1]["frame"]["duration"] == pytest.approx(1000 * 249 / (len(names) - 1) / 30, rel=0.01)

    scene = fig.layout.scene
    assert scene.aspectmode == "data"
    assert scene.xaxis.range is not None and scene.yaxis.range is not None and scene.zaxis.range is not None
    assert scene.camera.up.y == 1 and scene.camera.eye.z > 0 and scene.camera.eye.x == 0


def test_animate_mesh_single_array_short_clip(sphere, talking):
    v, f = sphere(0)
    fig = figures.animate_mesh(talking(v, 5).astype(np.float64), f, max_frames=100)
    assert len(fig.data) == 1 and len(fig.frames) == 5
    assert fig.frames[0].data[0].x.dtype == np.float32


def test_animate_mesh_rejects_bad_input(sphere, talking):
    v, f = sphere(1)
    with pytest.raises(ValueError, match="vertices"):
        figures.animate_mesh(talking(v[:20], 3), f)
    with pytest.raises(ValueError, match="vertex counts"):
        figures.animate_mesh({"a": talking(v, 3), "b": talking(v[:20], 3)}, f)
    with pytest.raises(ValueError, match="fps"):
        figures.animate_mesh(talking(v, 3), f, fps=0)


# --------------------------------------------------------------------------------------------
# spectrogram


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
    fig = figures.spectrogram_figure(audio, sr, segments=segs)
    heat = fig.data[0]
    assert heat.type == "heatmap" and heat.z.dtype == np.float32 and heat.z.shape[0] == 80
    assert [a.text for a in fig.layout.annotations] == ["h", "ə", "l"]
    assert len(fig.layout.shapes) == 2 * len(segs)
    stft = figures.spectrogram_figure(audio, sr, kind="stft")
    assert stft.data[0].z.shape[0] == 512 // 2 + 1 and not stft.layout.annotations
    loudest_hz = stft.data[0].y[int(np.argmax(stft.data[0].z.mean(1)))]  # the 440 Hz tone
    assert abs(loudest_hz - 440) < 16000 / 512
    with pytest.raises(ValueError):
        figures.spectrogram_figure(audio, sr, kind="cqt")


# --------------------------------------------------------------------------------------------
# measures


def _tokens(words_per_pair: list[tuple[str, str]], per_word: int = 3, dim: int = 5) -> list[Token]:
    rng = np.random.default_rng(0)
    out = []
    for a, b in words_per_pair:
        for w in (a, b):
            out += [Token(w, f"S{k}_sentence01", f"S{k}", rng.normal(size=dim)) for k in range(per_word)]
    return out


@pytest.mark.parametrize("method", ["pca", "tsne"])
def test_token_scatter_one_point_per_token(method):
    pairs = [{"word_a": "bad", "word_b": "bed"}, {"word_a": "tub", "word_b": "tug"}]
    tokens = _tokens([("bad", "bed"), ("tub", "tug")]) + _tokens([("other", "word")])  # not in the pairs: not drawn
    fig = figures.token_scatter(tokens[:12], pairs, method)
    assert [tr.name for tr in fig.data] == ["bad", "bed", "tub", "tug"]
    assert sum(len(tr.x) for tr in fig.data) == 12
    assert all(list(tr.text) == [tr.name] * len(tr.x) for tr in fig.data)
    # the two words of a pair share a marker, the pairs do not
    symbols = [tr.marker.symbol for tr in fig.data]
    assert symbols[0] == symbols[1] != symbols[2] == symbols[3]
    assert ("PCA" if method == "pca" else "t-SNE") in fig.layout.title.text


def test_group_bars_and_heatmap():
    values = {"mfcc": {"near": 0.3, "same_viseme": 0.2, "far": 0.1}, "tiny": {"near": 0.4, "same_viseme": 0.3, "far": 0.05}}
    fig = figures.group_bars(values, "ABX")
    assert [tr.name for tr in fig.data] == ["near", "same_viseme", "far"]
    assert list(fig.data[0].x) == ["mfcc", "tiny"] and list(fig.data[2].y) == [0.1, 0.05]
    assert fig.data[0].marker.color != fig.data[2].marker.color
    m = np.eye(3)
    hm = figures.heatmap(m, ["a", "b", "c"], "m", colorscale="RdBu", zmid=0)
    assert hm.data[0].z.shape == (3, 3) and list(hm.data[0].x) == ["a", "b", "c"] and hm.data[0].zmid == 0


def test_loss_figure_moving_average():
    steps, loss = list(range(10, 110, 10)), [float(x) for x in range(10)]
    fig = figures.loss_figure({"run": (steps, loss)}, "loss", smooth=4)
    (tr,) = fig.data
    assert len(tr.x) == len(tr.y) == 7 and tr.x[0] == 40
    np.testing.assert_allclose(tr.y, np.arange(7) + 1.5)
    assert len(figures.loss_figure({"short": ([1, 2], [3.0, 1.0])}, "t", smooth=50).data[0].y) == 1


def test_image_figure_hides_axes():
    fig = figures.image_figure(np.zeros((4, 6, 3), np.uint8), "strip")
    assert fig.data[0].type == "image" and fig.layout.xaxis.visible is False


def test_bars_keep_order():
    fig = figures.bars({"b": 2, "a": 5}, "counts")
    assert list(fig.data[0].x) == ["b", "a"] and list(fig.data[0].y) == [2, 5]
