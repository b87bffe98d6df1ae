"""Putting figures in front of the reader: into the notebook, or into HTML files when nobody is watching.

One switch decides: :func:`interactive` reads ``W2S_INTERACTIVE`` (unset: interactive; ``0``,
``false`` or ``no``: not). The notebook runner sets it to 0 in smoke mode, so executed notebooks
carry a one-line pointer to each figure's HTML file instead of the figure itself.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import plotly.graph_objects as go

from w2s.utils.io import atomic_path

ENV = "W2S_INTERACTIVE"


def interactive() -> bool:
    """True when figures should be displayed in the notebook (``W2S_INTERACTIVE`` unset or not 0/false/no)."""
    return os.environ.get(ENV, "1").strip().lower() not in ("0", "false", "no")


def _file_name(fig: go.Figure, folder: Path, name: str | None) -> Path:
    if name is None:
        title = fig.layout.title.text or ""
        name = re.sub(r"[^A-Za-z0-9_.-]+", "-", title).strip("-.").lower()
    if not name:  # untitled and unnamed: the first free figure-NN
        n = 1
        while (folder / f"figure-{n:02d}.html").exists():
            n += 1
        name = f"figure-{n:02d}"
    return folder / (name if name.endswith(".html") else f"{name}.html")


def show(fig: go.Figure, out_dir=None, name: str | None = None) -> Path | None:
    """Display `fig`; with `out_dir` (or when not :func:`interactive`) also save it as `out_dir/name.html`.

    The HTML loads plotly.min.js written once beside it, so it stays small and works offline. When
    not interactive the figure is NOT embedded in the notebook; a one-line pointer to the HTML file
    is printed instead. Without `out_dir` the folder is ``$W2S_OUT_DIR`` or ``./figures``; without
    `name` the file is named after the title. Returns the written path, or None.
    """
    live = interactive()
    path = None
    if out_dir is not None or not live:
        folder = Path(out_dir if out_dir is not None else os.environ.get("W2S_OUT_DIR", "figures"))
        folder.mkdir(parents=True, exist_ok=True)
        path = _file_name(fig, folder, name)
        with atomic_path(path) as tmp:
            fig.write_html(tmp, include_plotlyjs="directory", full_html=True)  # plotly.min.js beside it: works offline
    if live:
        from IPython.display import display

        display(fig)
    else:
        print(f"[w2s.viz] figure saved to {path}")
    return path


def audio_widget(audio, sr: int = 16000):
    """An `IPython.display.Audio` player for a mono (N,) or multi-channel (N, C) float array in [-1, 1]."""
    from IPython.display import Audio

    a = np.asarray(audio, dtype=np.float32)
    if a.ndim == 2:
        a = a.T  # IPython wants (channels, samples)
    elif a.ndim != 1:
        raise ValueError(f"audio_widget: expected (N,) or (N, C) audio, got shape {a.shape}")
    if a.size == 0:
        raise ValueError("audio_widget: empty audio")
    return Audio(data=np.clip(a, -1.0, 1.0), rate=int(sr), normalize=False)


def live_loss(title: str, yaxis_title: str = "loss", every: int = 50) -> Callable:
    """An ``on_log(step, history, logs)`` callback for `w2s.train.fit` that redraws the training loss in a
    live notebook every `every` steps. When not :func:`interactive` it shows and does nothing."""
    if not interactive():
        return lambda step, hist, logs: None
    from IPython.display import display

    fig = go.Figure(go.Scatter(x=[], y=[], name="train loss"))
    fig.update_layout(title=title, xaxis_title="step", yaxis_title=yaxis_title, height=330)
    handle = display(fig, display_id=True)

    def on_log(step, hist, logs):
        if step % every == 0:
            fig.data[0].x, fig.data[0].y = hist.step, hist.loss
            handle.update(fig)

    return on_log
