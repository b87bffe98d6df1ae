"""Plotly figures of the notebooks: meshes, spectrograms, lips, word tokens, matrices, bars, losses.

Each function builds and returns a `go.Figure`; `w2s.viz.display.show` puts it on screen or into an
HTML file. The computations behind the figures live in the stage they belong to (`w2s.corpus.demo`,
`w2s.evaluation.analysis`); here is only the drawing.

`animate_mesh` keeps the payload small: faces go once into the base traces and every frame carries
only float32 x/y/z, so a 5k-vertex, 100-frame clip stays near 10 MB.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

from w2s.corpus.demo import PairDemo
from w2s.evaluation.analysis import project_tokens
from w2s.evaluation.coupling import Token
from w2s.viz.checks import check_faces, check_sequence, subsample

_COLORS = ["#d9bfa7", "#a7bfd9", "#b9d9a7", "#d9a7c6", "#d9d3a7"]
GROUP_COLORS = {"near": "#d62728", "same_viseme": "#7f7f7f", "far": "#1f77b4"}
_MARKERS = ["circle", "square", "diamond", "triangle-up", "cross", "x"]
_LIGHTING = dict(ambient=0.45, diffuse=0.8, specular=0.15, roughness=0.6, fresnel=0.1)
_STILL = dict(transition=dict(duration=0), mode="immediate")

# ---------------------------------------------------------------------------------------------
# meshes


def _named_sequences(sequences) -> list[tuple[str, np.ndarray]]:
    items = list(sequences.items()) if isinstance(sequences, Mapping) else [("mesh", sequences)]
    if not items:
        raise ValueError("animate_mesh: no sequences given")
    seqs = [(str(name), check_sequence(s, f"animate_mesh[{name!r}]")) for name, s in items]
    n_vertices = {s.shape[1] for _, s in seqs}
    if len(n_vertices) != 1:
        raise ValueError(f"animate_mesh: sequences have different vertex counts {sorted(n_vertices)}")
    return seqs


def _side_by_side(seqs, idx) -> tuple[list[tuple[str, np.ndarray]], float]:
    """The frames `idx` of each sequence as float32, centred in x and shifted by a common stride."""
    widths = [float(np.ptp(s[..., 0])) if s.shape[1] > 1 else 1.0 for _, s in seqs]
    stride = max(max(widths), 1e-6) * 1.15
    shifted = []
    for k, (name, s) in enumerate(seqs):
        sub = s[idx].astype(np.float32)
        sub[..., 0] += np.float32(k * stride - 0.5 * (float(s[..., 0].min()) + float(s[..., 0].max())))
        shifted.append((name, sub))
    return shifted, stride


def _player(idx: np.ndarray, fps: float) -> tuple[dict, dict]:
    """Play/pause buttons and a time slider; frames are referenced by name, played in real time."""
    step = (idx[-1] - idx[0]) / (len(idx) - 1) if len(idx) > 1 else 1.0  # each shown frame stands for `step`
    play = dict(frame=dict(duration=max(1.0, 1000.0 * step / fps), redraw=True), fromcurrent=True, **_STILL)
    pause = dict(frame=dict(duration=0, redraw=False), **_STILL)
    buttons = dict(type="buttons", direction="left", x=0.0, y=0.0, xanchor="left", yanchor="top",
                   pad=dict(t=30, r=10), showactive=False,
                   buttons=[dict(label="▶ play", method="animate", args=[None, play]),
                            dict(label="❚❚ pause", method="animate", args=[[None], pause])])  # fmt: skip
    jump = dict(frame=dict(duration=0, redraw=True), **_STILL)
    steps = [dict(method="animate", label=f"{t / fps:.2f}", args=[[str(int(t))], jump]) for t in idx]
    slider = dict(active=0, steps=steps, x=0.15, len=0.85, y=0.0, yanchor="top", pad=dict(t=20),
                  currentvalue=dict(prefix="t = ", suffix=" s"), transition=dict(duration=0))  # fmt: skip
    return buttons, slider


def animate_mesh(sequences: Mapping[str, np.ndarray] | np.ndarray, faces, fps: float = 30, max_frames: int = 100,
                 title: str | None = None) -> go.Figure:  # fmt: skip
    """A plotly animation of one or more vertex sequences (T, V, 3), side by side along x.

    `sequences` is a dict such as {"ground truth": gt, "prediction": pred} or a single array.
    Sequences of different lengths are cut to the shortest. At most `max_frames` frames are kept
    (evenly spaced, first and last included).
    """
    seqs = _named_sequences(sequences)
    faces = check_faces(faces, seqs[0][1].shape[1], "animate_mesh").astype(np.int32)
    if fps <= 0:
        raise ValueError(f"animate_mesh: fps must be positive, got {fps}")
    idx = subsample(min(s.shape[0] for _, s in seqs), max_frames)
    shifted, stride = _side_by_side(seqs, idx)
    lo = np.min([s.min(axis=(0, 1)) for _, s in shifted], axis=0)
    hi = np.max([s.max(axis=(0, 1)) for _, s in shifted], axis=0)
    pad = 0.05 * max(float((hi - lo).max()), 1e-6)
    ranges = [[float(a) - pad, float(b) + pad] for a, b in zip(lo, hi, strict=True)]

    data = [go.Mesh3d(x=s[0, :, 0], y=s[0, :, 1], z=s[0, :, 2], i=faces[:, 0], j=faces[:, 1], k=faces[:, 2],
                      name=name, color=_COLORS[k % len(_COLORS)], flatshading=False, lighting=_LIGHTING,
                      lightposition=dict(x=1000, y=2000, z=10000), hoverinfo="skip", showscale=False)
            for k, (name, s) in enumerate(shifted)]  # fmt: skip
    frames = [go.Frame(name=str(int(t)), traces=list(range(len(shifted))),
                       data=[go.Mesh3d(x=s[f, :, 0], y=s[f, :, 1], z=s[f, :, 2]) for _, s in shifted])
              for f, t in enumerate(idx)]  # fmt: skip
    labels = [dict(x=float(k * stride), y=ranges[1][1], z=float(hi[2]), text=name, showarrow=False,
                   yanchor="bottom", font=dict(size=14)) for k, (name, _) in enumerate(shifted)]  # fmt: skip
    camera = dict(eye=dict(x=0, y=0, z=2.0), up=dict(x=0, y=1, z=0), center=dict(x=0, y=0, z=0),
                  projection=dict(type="orthographic"))  # fmt: skip
    scene = dict(aspectmode="data", camera=camera, dragmode="orbit", annotations=labels, uirevision="w2s-mesh",
                 **{f"{a}axis": dict(range=r, visible=False) for a, r in zip("xyz", ranges, strict=True)})  # fmt: skip
    buttons, slider = _player(idx, fps)
    fig = go.Figure(data=data, frames=frames)
    fig.update_layout(title=title, height=480, margin=dict(l=0, r=0, t=40 if title else 10, b=0), uirevision="w2s-mesh",
                      showlegend=False, scene=scene, updatemenus=[buttons], sliders=[slider])  # fmt: skip
    return fig


def image_figure(image: np.ndarray, title: str | None = None, width: int | None = None, height: int | None = None) -> go.Figure:
    """An RGB image (H, W, 3) without axes, e.g. `w2s.viz.render.render_strip`'s."""
    fig = go.Figure(go.Image(z=image)).update_layout(title=title, height=height, width=width,
                                                     margin=dict(l=0, r=0, t=40, b=0))  # fmt: skip
    return fig.update_xaxes(visible=False).update_yaxes(visible=False)


# ---------------------------------------------------------------------------------------------
# sound and lips


def _segment_field(seg, key):
    return seg[key] if isinstance(seg, Mapping) else getattr(seg, key)


def _spectrogram_db(y: np.ndarray, sr: int, kind: str, n_mels: int):
    """(dB (F, T) float32, frame times, row values, y-axis layout); 25 ms windows, 10 ms hop."""
    import librosa

    hop = max(1, round(0.010 * sr))
    n_fft = int(2 ** np.ceil(np.log2(0.025 * sr)))
    if kind == "mel":
        power = librosa.feature.melspectrogram(y=y, sr=sr, n_fft=n_fft, hop_length=hop, n_mels=n_mels)
        freqs = librosa.mel_frequencies(n_mels=n_mels + 2, fmin=0.0, fmax=sr / 2)[1:-1]
        rows = np.arange(n_mels)  # plot mel bins evenly, label them in Hz
        ticks = np.linspace(0, n_mels - 1, 6).round().astype(int)
        yaxis = dict(title="Hz (mel scale)", tickvals=ticks.tolist(), ticktext=[f"{freqs[r]:.0f}" for r in ticks])
    elif kind == "stft":
        power = np.abs(librosa.stft(y, n_fft=n_fft, hop_length=hop)) ** 2
        rows, yaxis = librosa.fft_frequencies(sr=sr, n_fft=n_fft), dict(title="Hz")
    else:
        raise ValueError(f"spectrogram_figure: kind must be 'mel' or 'stft', got {kind!r}")
    db = librosa.power_to_db(power, ref=np.max, top_db=80.0).astype(np.float32)
    times = librosa.frames_to_time(np.arange(db.shape[1]), sr=sr, hop_length=hop).astype(np.float32)
    return db, times, rows, yaxis


def _segment_marks(segments) -> tuple[list[dict], list[dict]]:
    """Boundary lines and symbols above the plot for segments with .symbol/.start/.end (or dict keys)."""
    shapes, notes = [], []
    line = dict(color="rgba(255,255,255,0.6)", width=1)
    for seg in segments or []:
        start, end = float(_segment_field(seg, "start")), float(_segment_field(seg, "end"))
        shapes += [dict(type="line", x0=t, x1=t, y0=0, y1=1, xref="x", yref="paper", line=line) for t in (start, end)]
        notes.append(dict(x=0.5 * (start + end), y=1.0, xref="x", yref="paper", yanchor="bottom",
                          text=str(_segment_field(seg, "symbol")), showarrow=False, font=dict(size=11)))  # fmt: skip
    return shapes, notes


def spectrogram_figure(audio, sr: int, segments: Sequence | None = None, kind: str = "mel", n_mels: int = 80,
                       title: str | None = None) -> go.Figure:  # fmt: skip
    """A plotly heat map of a log-mel (`kind="mel"`) or linear STFT (`kind="stft"`) spectrogram in dB.

    25 ms windows, 10 ms hop. `segments` (objects with .symbol/.start/.end, or dicts with those keys,
    times in seconds) are drawn as boundary lines with their symbols above the plot.
    """
    y = np.asarray(audio, dtype=np.float32)
    if y.ndim == 2:
        y = y.mean(axis=1)
    if y.ndim != 1 or y.size == 0:
        raise ValueError(f"spectrogram_figure: expected non-empty (N,) audio, got shape {y.shape}")
    db, times, rows, yaxis = _spectrogram_db(y, sr, kind, n_mels)
    fig = go.Figure(go.Heatmap(z=db, x=times, y=rows, colorscale="Magma", colorbar=dict(title="dB", thickness=12),
                               hovertemplate="t=%{x:.3f}s<br>%{z:.0f} dB<extra></extra>"))  # fmt: skip
    shapes, notes = _segment_marks(segments)
    fig.update_layout(title=title, height=300, margin=dict(l=60, r=10, t=50 if (title or notes) else 10, b=40),
                      xaxis=dict(title="time (s)", range=[0.0, len(y) / sr]), yaxis=yaxis, shapes=shapes,
                      annotations=notes)  # fmt: skip
    return fig


def lip_aperture(demo: PairDemo) -> go.Figure:
    """The upper-to-lower lip gap (mm) over time for both words of a `w2s.corpus.demo.compare_pair` result."""
    fig = go.Figure([go.Scatter(x=demo.times(w), y=w.aperture_mm, name=w.word) for w in demo.words])
    p = demo.pair
    return fig.update_layout(title=f"lip aperture: {p['word_a']} vs {p['word_b']} ({p['phoneme_a']} / {p['phoneme_b']})",
                             xaxis_title="s", yaxis_title="mm", height=350)  # fmt: skip


# ---------------------------------------------------------------------------------------------
# measures


def heatmap(matrix, labels: Sequence[str], title: str, colorscale: str = "Viridis_r", size: int = 700,
            **trace) -> go.Figure:  # fmt: skip
    """A square labelled matrix (similarities, distances), `size` pixels high."""
    fig = go.Figure(go.Heatmap(z=matrix, x=list(labels), y=list(labels), colorscale=colorscale, **trace))
    return fig.update_layout(title=title, height=size, width=size + 60)


def bars(values: Mapping[str, float], title: str, height: int = 350) -> go.Figure:
    """One bar per key of `values`, in its order."""
    return go.Figure(go.Bar(x=list(values), y=list(values.values()))).update_layout(title=title, height=height)


def group_bars(values: Mapping[str, Mapping[str, float]], title: str, yaxis_title: str | None = None) -> go.Figure:
    """Grouped bars: one bar group per name of `values` ({name: {pair group: value}}), a colour per pair group."""
    groups = list(dict.fromkeys(g for v in values.values() for g in v))
    fig = go.Figure([go.Bar(name=g, x=list(values), y=[values[n].get(g) for n in values], marker_color=GROUP_COLORS.get(g))
                     for g in groups])  # fmt: skip
    return fig.update_layout(barmode="group", title=title, yaxis_title=yaxis_title, height=380)


def token_scatter(tokens: Sequence[Token], pairs: Sequence[Mapping], method: str = "pca",
                  title: str | None = None) -> go.Figure:  # fmt: skip
    """Word tokens in 2-D (`project_tokens`: PCA or t-SNE): a colour per word, a marker shape per pair."""
    xy = project_tokens(tokens, method)
    fig = go.Figure()
    for i, p in enumerate(pairs):
        for w in (p["word_a"], p["word_b"]):
            idx = [j for j, t in enumerate(tokens) if t.word == w]
            fig.add_trace(go.Scatter(x=xy[idx, 0], y=xy[idx, 1], mode="markers+text", name=w, text=[w] * len(idx),
                                     textposition="top center",
                                     marker=dict(size=10, symbol=_MARKERS[i % len(_MARKERS)])))  # fmt: skip
    return fig.update_layout(title=title or f"word tokens, {dict(pca='PCA', tsne='t-SNE')[method]}", height=450)


def loss_figure(curves: Mapping[str, tuple[Sequence, Sequence]], title: str, yaxis_title: str = "loss",
                smooth: int = 1) -> go.Figure:  # fmt: skip
    """Loss curves ({name: (steps, losses)}), each a moving average over `smooth` points."""
    fig = go.Figure()
    for name, (steps, loss) in curves.items():
        k = max(1, min(int(smooth), len(loss)))
        y = np.convolve(np.asarray(loss, dtype=float), np.ones(k) / k, mode="valid")
        fig.add_trace(go.Scatter(x=list(steps)[k - 1 :], y=y, name=name))
    return fig.update_layout(title=title, xaxis_title="step", yaxis_title=yaxis_title, height=350)
