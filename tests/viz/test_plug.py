"""w2s.viz.plug: plug-site table and diagrams, lip aperture of several predictions, side-by-side video."""

from __future__ import annotations

import re
import subprocess

import imageio_ffmpeg
import numpy as np
import pytest

from w2s.viz import plug

SIX = {"voca", "faceformer", "codetalker", "unitalker", "facediffuser", "lgldm"}


def test_plug_sites_one_row_per_host():
    rows = plug.plug_sites()
    assert [r["host"] for r in rows] == list(plug.HOSTS) and set(plug.HOSTS) == SIX  # not "reference"
    for r in rows:
        assert set(r) == {"host", "family", "offline encoder", "paper encoder", "plug site"}
        assert r["plug site"] and r["family"] and r["offline encoder"] and r["paper encoder"], r


@pytest.mark.parametrize("host", sorted(SIX))
def test_plug_diagram_names_the_three_features(host):
    fig = plug.plug_diagram(host)
    texts = [a.text for a in fig.layout.annotations]
    assert len(texts) >= 5 and fig.layout.height == 220
    for name in ("F_s", "F_p", "F_d"):
        assert any(name in t for t in texts), (host, name)
    assert not fig.layout.xaxis.visible and not fig.layout.yaxis.visible


def test_plug_diagram_unknown_host():
    with pytest.raises(ValueError, match="'nope'"):
        plug.plug_diagram("nope")


def _lips(T: int, gap_mm: float) -> np.ndarray:
    """(T, 4, 3): vertices 0, 1 upper lip, 2, 3 lower lip, `gap_mm` apart in y."""
    seq = np.zeros((T, 4, 3))
    seq[:, :2, 1] = gap_mm / 1000 + np.linspace(0, 0.001, T)[:, None]
    return seq


UP, LO = np.array([0, 1]), np.array([2, 3])


def test_aperture_mm():
    a = plug.aperture_mm(_lips(5, 3.0), UP, LO)
    assert a.shape == (5,)
    np.testing.assert_allclose(a, 3.0 + np.linspace(0, 1, 5))
    with pytest.raises(ValueError, match="non-empty"):
        plug.aperture_mm(_lips(5, 3.0), [], LO)


def test_aperture_figure_curves_and_span():
    seqs = {"ground truth": _lips(10, 3.0), "none": _lips(7, 1.0), "wav2sem": _lips(12, 2.0)}  # T differs
    fig = plug.aperture_figure(seqs, UP, LO, fps=25, span=(0.1, 0.2), word="bat")
    assert [t.name for t in fig.data] == list(seqs)
    for t, s in zip(fig.data, seqs.values(), strict=True):
        np.testing.assert_allclose(t.y, plug.aperture_mm(s, UP, LO))
        np.testing.assert_allclose(t.x, np.arange(len(s)) / 25)
    assert fig.data[0].line.color == "black" and fig.data[0].line.width > fig.data[1].line.width
    assert len(fig.layout.shapes) == 1 and any(a.text == "bat" for a in fig.layout.annotations)
    assert len(plug.aperture_figure(seqs, UP, LO, fps=25).layout.shapes) == 0


def test_lip_rows_of_a_built_corpus(smoke_corpus):
    from w2s.data.corpus import Corpus

    upper, lower = plug.lip_rows(smoke_corpus)
    corpus = Corpus(smoke_corpus)
    assert len(upper) and len(lower) and not set(upper) & set(lower)
    assert set(upper) | set(lower) <= set(corpus.lips)
    template = next(iter(corpus.templates.values()))  # (V, 3)
    assert plug.aperture_mm(template, upper, lower)[0] > 0  # the upper lip is above the lower one
    np.testing.assert_array_equal(plug.lip_rows(corpus)[0], upper)  # a Corpus handle works too


def _video_streams(path) -> list[str]:
    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", str(path)]
    lines = subprocess.run(cmd, capture_output=True, text=True).stderr.splitlines()
    return [s for s in lines if re.search(r"Stream #\d+:\d+", s) and "Video:" in s]


def test_render_side_by_side(tmp_path, sphere, talking):
    v, f = sphere(1)  # 42 vertices
    seqs = {"ground truth": talking(v, 6), "none": talking(v, 7, seed=1), "wav2sem": talking(v, 8, seed=2)}
    sr = 16000
    audio = 0.3 * np.sin(2 * np.pi * 220 * np.arange(sr // 4) / sr).astype(np.float32)
    out = plug.render_side_by_side(tmp_path / "three.mp4", seqs, f, fps=30, audio=audio, sr=sr, size=(64, 64))
    assert out == tmp_path / "three.mp4" and out.stat().st_size > 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["three.mp4"]  # no temporary file left
    assert imageio_ffmpeg.count_frames_and_secs(str(out))[0] == 6  # cut to the shortest
    video = _video_streams(out)
    assert len(video) == 1 and re.search(r"\b192x\d+\b", video[0]), video  # 3 panels of 64


def test_render_side_by_side_mismatched_vertices(tmp_path, sphere, talking):
    v, f = sphere(1)
    seqs = {"ground truth": talking(v, 6), "wav2sem": talking(v, 6)[:, :-1]}
    with pytest.raises(ValueError, match="'wav2sem'"):
        plug.render_side_by_side(tmp_path / "bad.mp4", seqs, f, size=(64, 64))
    assert list(tmp_path.iterdir()) == []
