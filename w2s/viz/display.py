"""Putting figures in front of the reader: live in a notebook, or carried by an executed notebook.

One switch decides: :func:`interactive` reads ``W2S_INTERACTIVE`` (unset: interactive; ``0``,
``false`` or ``no``: not). Interactive, :func:`show` displays the figure as plotly does by default.
Not interactive (the notebook runner sets 0: nobody watches a papermill run), the figure goes into
the notebook's output *self-contained*, so the executed ``.ipynb`` and its HTML show it from any
folder, offline:

- small figures (plotly JSON up to ``W2S_INLINE_MAX_KB``, default 1000 kB) stay interactive: the
  output carries plotly's own mimetype (rendered by JupyterLab and VS Code) and an HTML version
  (classic viewers, nbconvert HTML); plotly.js is embedded once per kernel, in the first such output;
- figures that are one image (``go.Image``) become a PNG, losslessly, whatever their size;
- larger mesh figures (``animate_mesh``) become a static PNG: a few frames rendered with
  :mod:`w2s.viz.render`, with a link to the interactive HTML file; other large figures stay
  interactive (no static exporter is installed: plotly's needs Chrome).

Static images come from the package itself, not from kaleido: kaleido 1.x drives a Chrome that must
be installed or downloaded, which an offline machine cannot do.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio

from w2s.utils.io import atomic_path
from w2s.viz.render import render_image

ENV = "W2S_INTERACTIVE"
INLINE_MAX_ENV = "W2S_INLINE_MAX_KB"
NOTEBOOK_DIR_ENV = (
    "W2S_NOTEBOOK_DIR"  # where the executed notebook lives (the runner sets it): links are relative to it
)
STATIC_FRAMES = 4  # frames of an animation shown in its static image
STATIC_HEIGHT = 240  # pixels per rendered frame

_plotlyjs_sent = False  # plotly.js goes into the first interactive output of a kernel, once


class FigureFile(type(Path())):
    """The path of a figure's HTML file. In a notebook it displays nothing: the figure itself is shown."""

    def _ipython_display_(self) -> None:
        pass


def interactive() -> bool:
    """True when figures should be displayed in the notebook (``W2S_INTERACTIVE`` unset or not 0/false/no)."""
    return os.environ.get(ENV, "1").strip().lower() not in ("0", "false", "no")


def inline_max_bytes() -> int:
    """The largest plotly JSON embedded interactively (``W2S_INLINE_MAX_KB``, default 1000 kB)."""
    raw = os.environ.get(INLINE_MAX_ENV, "1000")
    try:
        return int(float(raw) * 1000)
    except ValueError:
        raise ValueError(f"{INLINE_MAX_ENV} must be a number of kB, got {raw!r}") from None


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

    The HTML file loads plotly.min.js written once beside it, so it stays small and works offline.
    When not interactive the notebook output is self-contained (see the module docstring). Without
    `out_dir` the folder is ``$W2S_OUT_DIR`` or ``./figures``; without `name` the file is named after
    the title. Returns the written path (which displays as nothing in a notebook), or None.
    """
    from IPython.display import display

    live = interactive()
    path = None
    if out_dir is not None or not live:
        folder = Path(out_dir if out_dir is not None else os.environ.get("W2S_OUT_DIR", "figures"))
        folder.mkdir(parents=True, exist_ok=True)
        path = FigureFile(_file_name(fig, folder, name))
        with atomic_path(path) as tmp:
            fig.write_html(
                tmp, include_plotlyjs="directory", full_html=True
            )  # plotly.min.js beside it: offline
    if live:
        display(fig)
    elif _in_notebook():
        for output in embedded(fig, path):
            display(output, raw=True)
    else:  # a script: nothing to embed into
        print(f"[w2s.viz] figure saved to {path}")
    return path


def _in_notebook() -> bool:
    from IPython import get_ipython

    return get_ipython() is not None


def embedded(fig: go.Figure, html_file: Path | None = None) -> list[dict]:
    """The self-contained notebook outputs (mime bundles) that show `fig` in an executed notebook.

    `html_file` (the figure's interactive HTML, if saved) is linked under a static image.
    """
    global _plotlyjs_sent
    fig_json = pio.to_json(fig, validate=False)
    title = fig.layout.title.text or "figure"
    png = _image_png(fig)
    if png is not None:
        return [_png_bundle(png, title)] + ([_caption(title, "", None)] if fig.layout.title.text else [])
    if len(fig_json) > inline_max_bytes():
        still = _mesh_png(fig)
        if still is not None:
            what, png = still
            note = f"static image of {what}; the interactive figure is {len(fig_json) / 1e6:.1f} MB"
            return [_png_bundle(png, title), _caption(title, note, html_file)]
    outputs = []
    if not _plotlyjs_sent:
        from plotly.offline import get_plotlyjs

        outputs.append({"text/html": f'<script type="text/javascript">{get_plotlyjs()}</script>',
                        "text/plain": "(plotly.js, embedded once so that the figures below work offline)"})  # fmt: skip
        _plotlyjs_sent = True
    html = pio.to_html(fig, include_plotlyjs=False, include_mathjax=False, full_html=False, default_width="100%",
                       validate=False)  # fmt: skip
    outputs.append({"application/vnd.plotly.v1+json": json.loads(fig_json), "text/html": html,
                    "text/plain": f"<plotly figure: {title}>"})  # fmt: skip
    return outputs


def _png(rgb: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb, dtype=np.uint8)).save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def _png_bundle(png: bytes, title: str) -> dict:
    return {"image/png": base64.b64encode(png).decode("ascii"), "text/plain": f"<figure: {title}>"}


def _caption(title: str, note: str, html_file: Path | None) -> dict:
    text = f"*{title}*" + (f" — {note}" if note else "")
    if html_file is not None:
        base = os.environ.get(NOTEBOOK_DIR_ENV) or os.getcwd()
        link = Path(os.path.relpath(Path(html_file).resolve(), Path(base).resolve())).as_posix()
        text += f": [{Path(html_file).name}]({link.replace(' ', '%20')})"
    return {"text/markdown": text, "text/plain": text}


def _image_png(fig: go.Figure) -> bytes | None:
    """A figure that is one RGB(A) `go.Image` given as pixels: its PNG (lossless), else None."""
    if len(fig.data) != 1 or fig.data[0].type != "image" or fig.data[0].z is None:
        return None
    if fig.data[0].colormodel not in (None, "rgb", "rgba", "rgba256"):
        return None
    z = np.asarray(fig.data[0].z)
    if z.ndim != 3 or z.shape[2] not in (3, 4) or z.size == 0:
        return None
    return _png(np.clip(z, 0, 255).astype(np.uint8))


def _mesh_png(fig: go.Figure) -> tuple[str, bytes] | None:
    """A figure made of `go.Mesh3d` traces (an `animate_mesh`) as (what it shows, PNG): a few frames
    rendered from the front by the package's own renderer, a row per trace, a column per frame.
    None for any other figure."""
    base = list(fig.data)
    if not base or any(t.type != "mesh3d" or t.i is None or t.x is None for t in base):
        return None
    chosen = (
        np.unique(np.linspace(0, len(fig.frames) - 1, STATIC_FRAMES).round().astype(int))
        if fig.frames
        else []
    )
    try:
        faces = [
            np.stack([np.asarray(t.i), np.asarray(t.j), np.asarray(t.k)], axis=1).astype(np.int64)
            for t in base
        ]
        states = [_trace_vertices(base, fig.frames[k]) for k in chosen] or [_trace_vertices(base, None)]
    except (
        TypeError,
        ValueError,
        IndexError,
    ):  # data not given as arrays (e.g. a figure read back from JSON)
        return None
    rows = []
    for j, f in enumerate(faces):
        seq = np.stack([state[j] for state in states])  # (frames, V, 3): one camera for the whole row
        lo, hi = seq.min(axis=(0, 1)), seq.max(axis=(0, 1))
        aspect = float(hi[0] - lo[0]) / max(float(hi[1] - lo[1]), 1e-9)
        width = int(np.clip(round(STATIC_HEIGHT * aspect / 2) * 2, 2, 4 * STATIC_HEIGHT))
        rows.append(
            np.concatenate([render_image(v, f, size=(width, STATIC_HEIGHT), fit_to=seq) for v in seq], axis=1)
        )
    widest = max(r.shape[1] for r in rows)
    grid = np.full((sum(r.shape[0] for r in rows), widest, 3), 255, dtype=np.uint8)
    top = 0
    for r in rows:
        grid[top : top + r.shape[0], : r.shape[1]] = r
        top += r.shape[0]
    names = [t.name or f"mesh {j + 1}" for j, t in enumerate(base)]
    what = f"{', '.join(names)} ({'rows' if len(names) > 1 else 'one row'})"
    if fig.frames:
        what += f" at {', '.join(_frame_labels(fig, chosen))} (columns; {len(chosen)} of {len(fig.frames)} frames)"
    return what, _png(grid)


def _trace_vertices(base: list, frame) -> list[np.ndarray]:
    """Each trace's vertices (V, 3) at one animation frame (None: the figure's first state)."""
    xyz = [
        np.stack([np.asarray(t.x), np.asarray(t.y), np.asarray(t.z)], axis=1).astype(np.float64) for t in base
    ]
    if frame is not None:
        targets = list(frame.traces) if frame.traces is not None else list(range(len(frame.data)))
        for trace, data in zip(targets, frame.data, strict=False):
            if data.x is not None and len(np.asarray(data.x)) == len(xyz[trace]):
                xyz[trace] = np.stack(
                    [np.asarray(data.x), np.asarray(data.y), np.asarray(data.z)], axis=1
                ).astype(np.float64)
    return xyz


def _frame_labels(fig: go.Figure, chosen) -> list[str]:
    """The slider's labels of the chosen frames (times, for `animate_mesh`), else the frames' names."""
    sliders = fig.layout.sliders
    steps = sliders[0].steps if sliders else ()
    if len(steps) == len(fig.frames):
        suffix = (sliders[0].currentvalue.suffix or "").strip()
        return [f"{steps[k].label}{' ' + suffix if suffix else ''}" for k in chosen]
    return [str(fig.frames[k].name) for k in chosen]


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
