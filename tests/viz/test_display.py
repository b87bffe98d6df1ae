"""w2s.viz.display: one interactive switch; figures to small offline HTML files; audio widgets; live loss."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import pytest

from w2s.train import History
from w2s.viz import display
from w2s.viz.figures import animate_mesh


@pytest.mark.parametrize("value, live", [(None, True), ("1", True), ("0", False), ("false", False), (" No ", False)])
def test_interactive_switch(monkeypatch, value, live):
    if value is None:
        monkeypatch.delenv("W2S_INTERACTIVE", raising=False)
    else:
        monkeypatch.setenv("W2S_INTERACTIVE", value)
    assert display.interactive() is live


def test_show_writes_small_html_when_not_interactive(tmp_path, monkeypatch, capsys, sphere, talking):
    monkeypatch.setenv("W2S_INTERACTIVE", "0")
    v, f = sphere(1)
    fig = animate_mesh(talking(v, 3), f, title="Jaw test")
    path = display.show(fig, out_dir=tmp_path)
    assert path == tmp_path / "jaw-test.html" and path.is_file()
    html = path.read_text(encoding="utf-8")
    # offline: plotly.js sits beside the page, not on a CDN
    assert 'src="plotly.min.js"' in html and (tmp_path / "plotly.min.js").is_file()
    assert path.stat().st_size < 500_000
    assert str(path) in capsys.readouterr().out
    assert display.show(fig, out_dir=tmp_path, name="named") == tmp_path / "named.html"


def test_show_names_untitled_figures_without_overwriting(tmp_path, monkeypatch):
    monkeypatch.setenv("W2S_INTERACTIVE", "0")
    first = display.show(go.Figure(), out_dir=tmp_path)
    second = display.show(go.Figure(), out_dir=tmp_path)
    assert (first.name, second.name) == ("figure-01.html", "figure-02.html")


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
