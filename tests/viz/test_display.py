"""w2s.viz.display: one interactive switch; figures to small offline HTML files and self-contained notebook
outputs (interactive when small, a PNG when one image or a large mesh); audio widgets; live loss."""

from __future__ import annotations

import base64
import io
import os

import numpy as np
import plotly.graph_objects as go
import pytest
from PIL import Image

from w2s.train import History
from w2s.viz import display
from w2s.viz.figures import animate_mesh, image_figure


@pytest.mark.parametrize(
    "value, live", [(None, True), ("1", True), ("0", False), ("false", False), (" No ", False)]
)
def test_interactive_switch(monkeypatch, value, live):
    if value is None:
        monkeypatch.delenv("W2S_INTERACTIVE", raising=False)
    else:
        monkeypatch.setenv("W2S_INTERACTIVE", value)
    assert display.interactive() is live


@pytest.fixture
def shown(monkeypatch):
    """Not interactive, a fresh kernel (plotly.js not sent yet); collects what show() displays."""
    monkeypatch.setenv("W2S_INTERACTIVE", "0")
    monkeypatch.setattr(display, "_plotlyjs_sent", False)
    monkeypatch.setattr(display, "_in_notebook", lambda: True)
    outputs = []
    monkeypatch.setattr(
        "IPython.display.display", lambda obj, raw=False, **kw: outputs.append(obj if raw else {"obj": obj})
    )
    return outputs


def test_show_writes_small_html_and_embeds_the_figure_when_not_interactive(tmp_path, shown, sphere, talking):
    v, f = sphere(1)
    fig = animate_mesh(talking(v, 3), f, title="Jaw test")
    path = display.show(fig, out_dir=tmp_path)
    assert path == tmp_path / "jaw-test.html" and path.is_file()
    html = path.read_text(encoding="utf-8")
    # offline: plotly.js sits beside the page, not on a CDN
    assert 'src="plotly.min.js"' in html and (tmp_path / "plotly.min.js").is_file()
    assert path.stat().st_size < 500_000
    # the notebook output carries the figure itself: plotly's mimetype (JupyterLab, VS Code) and HTML
    # (classic viewers, nbconvert) after one output with plotly.js, so it shows from any folder
    js, figure = shown
    assert "window.Plotly" in js["text/html"] and len(js["text/html"]) > 1_000_000
    assert figure["application/vnd.plotly.v1+json"]["layout"]["title"]["text"] == "Jaw test"
    assert "Plotly.newPlot" in figure["text/html"] and "plotly.min.js" not in figure["text/html"]
    assert "cdn" not in figure["text/html"].lower()  # no MathJax or plotly.js from the network
    assert display.show(fig, out_dir=tmp_path, name="named") == tmp_path / "named.html"
    assert len(shown) == 3, "plotly.js is embedded once per kernel"


def test_returned_path_displays_nothing_in_a_notebook(tmp_path, shown):
    path = display.show(go.Figure(go.Bar(x=[1], y=[2])), out_dir=tmp_path, name="b")
    from IPython.core.formatters import DisplayFormatter

    assert isinstance(path, os.PathLike) and "<html>" in path.read_text(encoding="utf-8")
    assert DisplayFormatter().format(path) == ({}, {})  # no "PosixPath('/abs/...')" line under the figure
    assert DisplayFormatter().format(tmp_path)[0]  # a plain path still shows


def test_image_figures_become_a_lossless_png(tmp_path, shown):
    pixels = np.random.default_rng(0).integers(0, 256, (20, 30, 3)).astype(np.uint8)
    display.show(image_figure(pixels, "silence · bilabial"), out_dir=tmp_path)
    out, caption = shown  # no plotly.js needed for it; the title says what the image shows
    png = Image.open(io.BytesIO(base64.b64decode(out["image/png"])))
    assert np.array_equal(np.asarray(png.convert("RGB")), pixels)
    assert caption["text/markdown"] == "*silence · bilabial*"


def test_large_mesh_animation_becomes_a_still_with_a_link(tmp_path, shown, sphere, talking, monkeypatch):
    v, f = sphere(2)
    fig = animate_mesh(
        {"ground truth": talking(v, 12), "prediction": talking(v, 12, seed=1)}, f, title="pair"
    )
    notebook_dir = tmp_path / "run" / "00_x"
    notebook_dir.mkdir(parents=True)
    monkeypatch.setenv("W2S_NOTEBOOK_DIR", str(notebook_dir))
    monkeypatch.setenv("W2S_INLINE_MAX_KB", "10")  # this 12-frame sphere is ~100 kB: over the limit
    path = display.show(fig, out_dir=notebook_dir / "figs", name="pair")
    still, caption = shown
    png = np.asarray(Image.open(io.BytesIO(base64.b64decode(still["image/png"]))).convert("RGB"))
    rows, cols = 2, 4  # a row per sequence, a column per chosen frame
    assert png.shape[0] == rows * display.STATIC_HEIGHT and png.shape[1] >= cols * 2
    assert (png < 250).any(axis=2).mean() > 0.1, "the meshes are drawn, not a blank image"
    assert "ground truth, prediction (rows)" in caption["text/markdown"]
    assert "4 of 12 frames" in caption["text/markdown"]
    assert (
        "[pair.html](figs/pair.html)" in caption["text/markdown"]
        and path == notebook_dir / "figs" / "pair.html"
    )


def test_small_mesh_stays_interactive_and_bad_limit_is_named(tmp_path, shown, sphere, talking, monkeypatch):
    v, f = sphere(1)
    display.show(animate_mesh(talking(v, 3), f), out_dir=tmp_path, name="m")
    assert "application/vnd.plotly.v1+json" in shown[-1]
    monkeypatch.setenv("W2S_INLINE_MAX_KB", "lots")
    with pytest.raises(ValueError, match="W2S_INLINE_MAX_KB"):
        display.show(animate_mesh(talking(v, 3), f), out_dir=tmp_path, name="m")


def test_show_names_untitled_figures_without_overwriting(tmp_path, shown):
    first = display.show(go.Figure(), out_dir=tmp_path)
    second = display.show(go.Figure(), out_dir=tmp_path)
    assert (first.name, second.name) == ("figure-01.html", "figure-02.html")


def test_in_a_script_show_saves_and_says_where(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("W2S_INTERACTIVE", "0")
    path = display.show(go.Figure(go.Bar(x=[1], y=[2])), out_dir=tmp_path, name="b")
    assert capsys.readouterr().out == f"[w2s.viz] figure saved to {path}\n" and path.is_file()


def test_audio_widget():
    from IPython.display import Audio

    widget = display.audio_widget(np.linspace(-1.5, 1.5, 1600), sr=16000)
    assert isinstance(widget, Audio) and widget.data[:4] == b"RIFF"
    with pytest.raises(ValueError, match="empty"):
        display.audio_widget(np.zeros(0))


def test_live_loss_is_silent_when_not_interactive(monkeypatch, capsys):
    monkeypatch.setenv("W2S_INTERACTIVE", "0")
    on_log = display.live_loss("tiny")
    on_log(50, History(step=[50], loss=[1.0]), {})
    assert capsys.readouterr().out == ""


def test_live_loss_redraws_every_n_steps(monkeypatch):
    monkeypatch.setenv("W2S_INTERACTIVE", "1")
    updates = []

    class Handle:
        def update(self, fig):
            updates.append(list(fig.data[0].y))

    monkeypatch.setattr("IPython.display.display", lambda fig, display_id=None: Handle())
    on_log = display.live_loss("tiny", every=2)
    for step in (1, 2, 3, 4):
        on_log(step, History(step=list(range(1, step + 1)), loss=[1.0 / s for s in range(1, step + 1)]), {})
    assert [len(u) for u in updates] == [2, 4]
