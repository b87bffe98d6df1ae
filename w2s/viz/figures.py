"""Looking at faces and sounds: plotly mesh animations, spectrograms, mesh I/O and CPU video rendering.

Everything here works without OpenGL or a GPU:

* `animate_mesh` builds a self-contained plotly animation (float32 frames carrying only x/y/z).
* `render_video` rasterises each frame with a small numpy z-buffer renderer (Gouraud-shaded
  Lambert lighting, fixed orthographic frontal camera) and pipes the frames to the ffmpeg binary
  shipped by `imageio-ffmpeg`, muxing in the audio.
* `export_mesh` / `load_mesh` wrap trimesh with `process=False` (and `maintain_order=True`) so that
  vertex order and count survive a round-trip: for FLAME/BIWI topologies vertex index = meaning.

Coordinates follow the usual face-model convention: the face looks toward +z, y is up, x is the
subject's left. The camera sits on the +z axis looking toward -z.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import plotly.graph_objects as go

from w2s.utils.io import atomic_path

__all__ = [
    "animate_mesh",
    "audio_widget",
    "spectrogram_figure",
    "export_mesh",
    "load_mesh",
    "render_image",
    "render_video",
    "show",
]

_COLORS = ["#d9bfa7", "#a7bfd9", "#b9d9a7", "#d9a7c6", "#d9d3a7"]
_MESH_FORMATS = {".obj": "obj", ".ply": "ply"}


# --------------------------------------------------------------------------------------------
# input checks


def _check_faces(faces, n_vertices: int, where: str) -> np.ndarray:
    faces = np.asarray(faces)
    if faces.ndim != 2 or faces.shape[1] != 3 or len(faces) == 0:
        raise ValueError(f"{where}: faces must be a non-empty (F, 3) array, got shape {faces.shape}")
    if not np.issubdtype(faces.dtype, np.integer):
        if not np.all(np.equal(np.mod(faces, 1), 0)):
            raise ValueError(f"{where}: faces must hold integer vertex indices")
    faces = faces.astype(np.int64)
    lo, hi = int(faces.min()), int(faces.max())
    if lo < 0 or hi >= n_vertices:
        raise ValueError(
            f"{where}: faces index vertices {lo}..{hi} but there are {n_vertices} vertices "
            "(wrong template for this vertex sequence?)"
        )
    return faces


def _check_sequence(seq, where: str) -> np.ndarray:
    seq = np.asarray(seq)
    if seq.ndim == 2:
        seq = seq[None]
    if seq.ndim != 3 or seq.shape[-1] != 3:
        raise ValueError(f"{where}: expected vertices of shape (T, V, 3) or (V, 3), got {seq.shape}")
    if seq.shape[0] == 0 or seq.shape[1] == 0:
        raise ValueError(f"{where}: empty vertex sequence {seq.shape}")
    if not np.issubdtype(seq.dtype, np.number):
        raise ValueError(f"{where}: vertices must be numeric, got dtype {seq.dtype}")
    bad = ~np.isfinite(seq).all(axis=(1, 2))
    if bad.any():
        frames = np.flatnonzero(bad)
        raise ValueError(
            f"{where}: vertices contain NaN or inf in {len(frames)} frame(s), first at frame {frames[0]}"
        )
    return seq


def _subsample(n: int, max_frames: int) -> np.ndarray:
    """At most `max_frames` evenly spaced indices into range(n), always keeping the first and last."""
    if max_frames < 1:
        raise ValueError(f"max_frames must be >= 1, got {max_frames}")
    if n <= max_frames:
        return np.arange(n)
    if max_frames == 1:
        return np.array([0])
    return np.unique(np.round(np.linspace(0, n - 1, max_frames)).astype(np.int64))


# --------------------------------------------------------------------------------------------
# plotly


def animate_mesh(
    sequences: Mapping[str, np.ndarray] | np.ndarray,
    faces,
    fps: float = 30,
    max_frames: int = 100,
    title: str | None = None,
) -> go.Figure:
    """A plotly animation of one or more vertex sequences (T, V, 3), side by side along x.

    `sequences` is a dict such as {"ground truth": gt, "prediction": pred} or a single array.
    Sequences of different lengths are cut to the shortest. At most `max_frames` frames are kept
    (evenly spaced, first and last included). Faces go once into the base traces; frames carry
    only float32 x/y/z, which keeps a 5k-vertex, 100-frame clip near 10 MB.
    """
    if isinstance(sequences, Mapping):
        items = list(sequences.items())
    else:
        items = [("mesh", sequences)]
    if not items:
        raise ValueError("animate_mesh: no sequences given")
    seqs = [(str(name), _check_sequence(s, f"animate_mesh[{name!r}]")) for name, s in items]
    n_vertices = {s.shape[1] for _, s in seqs}
    if len(n_vertices) != 1:
        raise ValueError(f"animate_mesh: sequences have different vertex counts {sorted(n_vertices)}")
    faces = _check_faces(faces, n_vertices.pop(), "animate_mesh").astype(np.int32)
    if fps <= 0:
        raise ValueError(f"animate_mesh: fps must be positive, got {fps}")

    n_total = min(s.shape[0] for _, s in seqs)
    idx = _subsample(n_total, max_frames)

    # Lay the meshes out side by side: centre each in x, then shift by a common stride.
    widths = [float(np.ptp(s[..., 0])) if s.shape[1] > 1 else 1.0 for _, s in seqs]
    stride = max(max(widths), 1e-6) * 1.15
    shifted = []
    for k, (name, s) in enumerate(seqs):
        sub = s[idx].astype(np.float32)
        centre_x = 0.5 * (float(s[..., 0].min()) + float(s[..., 0].max()))
        sub[..., 0] += np.float32(k * stride - centre_x)
        shifted.append((name, sub))

    lo = np.min([s.min(axis=(0, 1)) for _, s in shifted], axis=0)
    hi = np.max([s.max(axis=(0, 1)) for _, s in shifted], axis=0)
    pad = 0.05 * max(float((hi - lo).max()), 1e-6)
    ranges = [[float(a) - pad, float(b) + pad] for a, b in zip(lo, hi, strict=True)]

    lighting = dict(ambient=0.45, diffuse=0.8, specular=0.15, roughness=0.6, fresnel=0.1)
    data = []
    for k, (name, s) in enumerate(shifted):
        data.append(
            go.Mesh3d(
                x=s[0, :, 0],
                y=s[0, :, 1],
                z=s[0, :, 2],
                i=faces[:, 0],
                j=faces[:, 1],
                k=faces[:, 2],
                name=name,
                color=_COLORS[k % len(_COLORS)],
                flatshading=False,
                lighting=lighting,
                lightposition=dict(x=1000, y=2000, z=10000),
                hoverinfo="skip",
                showscale=False,
            )
        )
    traces = list(range(len(shifted)))
    frames = [
        go.Frame(
            name=str(int(t)),
            data=[go.Mesh3d(x=s[f, :, 0], y=s[f, :, 1], z=s[f, :, 2]) for _, s in shifted],
            traces=traces,
        )
        for f, t in enumerate(idx)
    ]

    # Real-time playback (as far as the browser keeps up): each shown frame stands for `step` frames.
    step = (idx[-1] - idx[0]) / (len(idx) - 1) if len(idx) > 1 else 1.0
    frame_ms = max(1.0, 1000.0 * step / fps)
    play = dict(
        frame=dict(duration=frame_ms, redraw=True),
        transition=dict(duration=0),
        fromcurrent=True,
        mode="immediate",
    )
    pause = dict(frame=dict(duration=0, redraw=False), transition=dict(duration=0), mode="immediate")
    steps = [
        dict(
            method="animate",
            label=f"{t / fps:.2f}",
            args=[
                [str(int(t))],
                dict(frame=dict(duration=0, redraw=True), transition=dict(duration=0), mode="immediate"),
            ],
        )
        for t in idx
    ]
    labels = [
        dict(
            x=float(k * stride),
            y=ranges[1][1],
            z=float(hi[2]),
            text=name,
            showarrow=False,
            yanchor="bottom",
            font=dict(size=14),
        )
        for k, (name, _) in enumerate(shifted)
    ]
    fig = go.Figure(data=data, frames=frames)
    fig.update_layout(
        title=title,
        height=480,
        margin=dict(l=0, r=0, t=40 if title else 10, b=0),
        uirevision="w2s-mesh",
        showlegend=False,
        scene=dict(
            aspectmode="data",
            xaxis=dict(range=ranges[0], visible=False),
            yaxis=dict(range=ranges[1], visible=False),
            zaxis=dict(range=ranges[2], visible=False),
            camera=dict(
                eye=dict(x=0, y=0, z=2.0),
                up=dict(x=0, y=1, z=0),
                center=dict(x=0, y=0, z=0),
                projection=dict(type="orthographic"),
            ),
            dragmode="orbit",
            annotations=labels,
            uirevision="w2s-mesh",
        ),
        updatemenus=[
            dict(
                type="buttons",
                direction="left",
                x=0.0,
                y=0.0,
                xanchor="left",
                yanchor="top",
                pad=dict(t=30, r=10),
                showactive=False,
                buttons=[
                    dict(label="▶ play", method="animate", args=[None, play]),
                    dict(label="❚❚ pause", method="animate", args=[[None], pause]),
                ],
            )
        ],
        sliders=[
            dict(
                active=0,
                steps=steps,
                x=0.15,
                len=0.85,
                y=0.0,
                yanchor="top",
                pad=dict(t=20),
                currentvalue=dict(prefix="t = ", suffix=" s"),
                transition=dict(duration=0),
            )
        ],
    )
    return fig


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


def _segment_field(seg, key):
    return seg[key] if isinstance(seg, Mapping) else getattr(seg, key)


def spectrogram_figure(
    audio,
    sr: int,
    segments: Sequence | None = None,
    kind: str = "mel",
    n_mels: int = 80,
    title: str | None = None,
) -> go.Figure:
    """A plotly heat map of a log-mel (`kind="mel"`) or linear STFT (`kind="stft"`) spectrogram in dB.

    25 ms windows, 10 ms hop. `segments` (objects with .symbol/.start/.end, or dicts with those keys,
    times in seconds) are drawn as boundary lines with their symbols above the plot.
    """
    import librosa

    y = np.asarray(audio, dtype=np.float32)
    if y.ndim == 2:
        y = y.mean(axis=1)
    if y.ndim != 1 or y.size == 0:
        raise ValueError(f"spectrogram_figure: expected non-empty (N,) audio, got shape {y.shape}")
    hop = max(1, round(0.010 * sr))
    n_fft = int(2 ** np.ceil(np.log2(0.025 * sr)))
    if kind == "mel":
        power = librosa.feature.melspectrogram(y=y, sr=sr, n_fft=n_fft, hop_length=hop, n_mels=n_mels)
        freqs = librosa.mel_frequencies(n_mels=n_mels + 2, fmin=0.0, fmax=sr / 2)[1:-1]
        rows = np.arange(n_mels)  # plot mel bins evenly, label them in Hz
        tick_rows = np.linspace(0, n_mels - 1, 6).round().astype(int)
        yaxis = dict(
            title="Hz (mel scale)",
            tickvals=tick_rows.tolist(),
            ticktext=[f"{freqs[r]:.0f}" for r in tick_rows],
        )
    elif kind == "stft":
        power = np.abs(librosa.stft(y, n_fft=n_fft, hop_length=hop)) ** 2
        rows = librosa.fft_frequencies(sr=sr, n_fft=n_fft)
        yaxis = dict(title="Hz")
    else:
        raise ValueError(f"spectrogram_figure: kind must be 'mel' or 'stft', got {kind!r}")
    db = librosa.power_to_db(power, ref=np.max, top_db=80.0).astype(np.float32)
    times = librosa.frames_to_time(np.arange(db.shape[1]), sr=sr, hop_length=hop).astype(np.float32)

    fig = go.Figure(
        go.Heatmap(
            z=db,
            x=times,
            y=rows,
            colorscale="Magma",
            colorbar=dict(title="dB", thickness=12),
            hovertemplate="t=%{x:.3f}s<br>%{z:.0f} dB<extra></extra>",
        )
    )
    shapes, notes = [], []
    for seg in segments or []:
        start, end = float(_segment_field(seg, "start")), float(_segment_field(seg, "end"))
        for t in (start, end):
            shapes.append(
                dict(
                    type="line",
                    x0=t,
                    x1=t,
                    y0=0,
                    y1=1,
                    xref="x",
                    yref="paper",
                    line=dict(color="rgba(255,255,255,0.6)", width=1),
                )
            )
        notes.append(
            dict(
                x=0.5 * (start + end),
                y=1.0,
                xref="x",
                yref="paper",
                yanchor="bottom",
                text=str(_segment_field(seg, "symbol")),
                showarrow=False,
                font=dict(size=11),
            )
        )
    fig.update_layout(
        title=title,
        height=300,
        margin=dict(l=60, r=10, t=50 if (title or notes) else 10, b=40),
        xaxis=dict(title="time (s)", range=[0.0, len(y) / sr]),
        yaxis=yaxis,
        shapes=shapes,
        annotations=notes,
    )
    return fig


_shown = 0


def show(fig: go.Figure, out_dir=None, name: str | None = None) -> Path | None:
    """Display `fig`; with `out_dir` (or env `W2S_INTERACTIVE=0`) also save it as `out_dir/name.html`.

    The HTML loads plotly.min.js written once beside it, so it stays small and works offline. With `W2S_INTERACTIVE=0` (papermill/CI)
    the figure is NOT embedded in the notebook; a one-line pointer to the HTML file is printed
    instead, which keeps executed notebooks small. Without `out_dir` that folder is `$W2S_OUT_DIR`
    or `./figures`. Returns the written path, or None.
    """
    global _shown
    _shown += 1
    interactive = os.environ.get("W2S_INTERACTIVE", "1").strip().lower() not in ("0", "false", "no")
    path = None
    if out_dir is not None or not interactive:
        folder = Path(out_dir if out_dir is not None else os.environ.get("W2S_OUT_DIR", "figures"))
        folder.mkdir(parents=True, exist_ok=True)
        if name is None:
            text = fig.layout.title.text if fig.layout.title.text else ""
            name = re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-.").lower() or f"figure-{_shown:02d}"
        path = folder / (name if name.endswith(".html") else f"{name}.html")
        with atomic_path(path) as tmp:
            fig.write_html(tmp, include_plotlyjs="directory", full_html=True)  # plotly.min.js beside it: works offline
    if interactive:
        from IPython.display import display

        display(fig)
    else:
        print(f"[w2s.viz.figures] figure saved to {path}")
    return path


# --------------------------------------------------------------------------------------------
# mesh files


def export_mesh(path, vertices, faces) -> Path:
    """Write one mesh as .obj or .ply (by suffix) without trimesh reordering or merging vertices."""
    import trimesh

    path = Path(path)
    file_type = _MESH_FORMATS.get(path.suffix.lower())
    if file_type is None:
        raise ValueError(f"export_mesh({path}): suffix must be one of {sorted(_MESH_FORMATS)}")
    v = _check_sequence(vertices, f"export_mesh({path})")
    if v.shape[0] != 1:
        raise ValueError(f"export_mesh({path}): expected one mesh (V, 3), got {np.shape(vertices)}")
    f = _check_faces(faces, v.shape[1], f"export_mesh({path})")
    mesh = trimesh.Trimesh(vertices=v[0].astype(np.float64), faces=f, process=False)
    with atomic_path(path) as tmp:
        if file_type == "obj":
            # 9 decimals is exact for float32 coordinates of face-sized meshes (metres)
            text = trimesh.exchange.obj.export_obj(
                mesh, include_normals=False, include_color=False, include_texture=False, digits=9
            )
            Path(tmp).write_text(text)
        else:
            mesh.export(tmp, file_type="ply", encoding="binary", vertex_normal=False)
    return path


def load_mesh(path) -> tuple[np.ndarray, np.ndarray]:
    """Read an .obj or .ply as (vertices (V, 3) float64, faces (F, 3) int64), keeping vertex order and count.

    Unreferenced and duplicate vertices are kept (trimesh would otherwise merge or drop them).
    """
    import trimesh

    path = Path(path)
    file_type = _MESH_FORMATS.get(path.suffix.lower())
    if file_type is None:
        raise ValueError(f"load_mesh({path}): suffix must be one of {sorted(_MESH_FORMATS)}")
    if not path.is_file():
        raise FileNotFoundError(f"load_mesh: no such file {path}")
    mesh = trimesh.load(path, file_type=file_type, process=False, maintain_order=True, force="mesh")
    return np.asarray(mesh.vertices, dtype=np.float64), np.asarray(mesh.faces, dtype=np.int64)


# --------------------------------------------------------------------------------------------
# CPU rendering

_LIGHT = np.array([0.25, 0.35, 1.0]) / np.linalg.norm([0.25, 0.35, 1.0])
_BASE_RGB = np.array([0.86, 0.74, 0.66])  # light skin tone
_BACKGROUND = 255
_AUDIO_SLACK_S = 0.25


class _Camera:
    """Orthographic frontal camera fitted once to the whole sequence, so nothing jitters."""

    def __init__(self, seq: np.ndarray, size: tuple[int, int], margin: float = 0.9):
        self.width, self.height = size
        lo = seq.min(axis=(0, 1)).astype(np.float64)
        hi = seq.max(axis=(0, 1)).astype(np.float64)
        self.centre = 0.5 * (lo + hi)
        ext_x, ext_y = max(hi[0] - lo[0], 1e-9), max(hi[1] - lo[1], 1e-9)
        self.scale = margin * min(self.width / ext_x, self.height / ext_y)

    def project(self, v: np.ndarray):
        px = (v[:, 0] - self.centre[0]) * self.scale + 0.5 * self.width
        py = 0.5 * self.height - (v[:, 1] - self.centre[1]) * self.scale  # image rows grow downward
        return px, py, v[:, 2] - self.centre[2]  # larger depth = nearer the camera


def _vertex_intensity(v: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Per-vertex Lambert intensity from area-weighted vertex normals, lit from the front (two-sided)."""
    fn = np.cross(v[faces[:, 1]] - v[faces[:, 0]], v[faces[:, 2]] - v[faces[:, 0]])
    n = np.zeros_like(v)
    flat = faces.ravel()
    for c in range(3):
        n[:, c] = np.bincount(flat, weights=np.repeat(fn[:, c], 3), minlength=len(v))
    n /= np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)
    n *= np.where(n[:, 2:3] < 0, -1.0, 1.0)  # face the viewer whatever the winding
    return 0.25 + 0.75 * np.clip(n @ _LIGHT, 0.0, 1.0)


def _rasterize(px, py, depth, shade, faces, width: int, height: int) -> np.ndarray:
    """Z-buffered scan conversion of all triangles at once (pixel centres), Gouraud-shaded."""
    fx, fy = px[faces], py[faces]  # (F, 3)
    x0 = np.clip(np.ceil(fx.min(axis=1) - 0.5), 0, width).astype(np.int64)
    x1 = np.clip(np.floor(fx.max(axis=1) - 0.5), -1, width - 1).astype(np.int64)
    y0 = np.clip(np.ceil(fy.min(axis=1) - 0.5), 0, height).astype(np.int64)
    y1 = np.clip(np.floor(fy.max(axis=1) - 0.5), -1, height - 1).astype(np.int64)
    ax, ay = fx[:, 0], fy[:, 0]
    ex1, ey1 = fx[:, 1] - ax, fy[:, 1] - ay
    ex2, ey2 = fx[:, 2] - ax, fy[:, 2] - ay
    det = ex1 * ey2 - ex2 * ey1
    w = np.maximum(x1 - x0 + 1, 0)
    h = np.maximum(y1 - y0 + 1, 0)
    counts = np.where(np.abs(det) > 1e-12, w * h, 0)
    keep = np.flatnonzero(counts)
    image = np.full((height * width, 3), _BACKGROUND, dtype=np.uint8)
    if len(keep) == 0:
        return image.reshape(height, width, 3)
    counts = counts[keep]
    inv = 1.0 / det[keep]
    # barycentric weights l1, l2 of vertices 1, 2 as affine functions of the offset from vertex 0
    ex1, ey1, ex2, ey2 = ex1[keep], ey1[keep], ex2[keep], ey2[keep]
    coef = np.stack([ey2 * inv, -ex2 * inv, -ey1 * inv, ex1 * inv, ax[keep], ay[keep]], axis=1)
    fd, fs = depth[faces][keep], shade[faces][keep]
    attrs = np.stack(
        [
            fd[:, 0],
            fd[:, 1] - fd[:, 0],
            fd[:, 2] - fd[:, 0],
            fs[:, 0],
            fs[:, 1] - fs[:, 0],
            fs[:, 2] - fs[:, 0],
        ],
        axis=1,
    )

    fid = np.repeat(np.arange(len(keep)), counts)
    local = np.arange(len(fid)) - np.repeat(np.cumsum(counts) - counts, counts)
    wk = w[keep][fid]
    cx = x0[keep][fid] + local % wk
    cy = y0[keep][fid] + local // wk
    c = coef[fid]
    dx, dy = cx + 0.5 - c[:, 4], cy + 0.5 - c[:, 5]
    l1 = c[:, 0] * dx + c[:, 1] * dy
    l2 = c[:, 2] * dx + c[:, 3] * dy
    eps = 1e-7
    inside = (l1 >= -eps) & (l2 >= -eps) & (l1 + l2 <= 1 + eps)
    fid, l1, l2 = fid[inside], l1[inside], l2[inside]
    pix = cy[inside] * width + cx[inside]
    a = attrs[fid]
    z = a[:, 0] + l1 * a[:, 1] + l2 * a[:, 2]
    zbuf = np.full(height * width, -np.inf)
    np.maximum.at(zbuf, pix, z)
    front = z >= zbuf[pix]
    s = a[front, 3] + l1[front] * a[front, 4] + l2[front] * a[front, 5]
    image[pix[front]] = np.clip(s[:, None] * _BASE_RGB * 255.0, 0, 255).astype(np.uint8)
    return image.reshape(height, width, 3)


def _check_size(size, where: str) -> tuple[int, int]:
    width, height = (int(s) for s in size)
    if width < 2 or height < 2 or width % 2 or height % 2:
        raise ValueError(f"{where}: size must be two even integers >= 2 (H.264 yuv420p), got {size}")
    return width, height


def render_image(vertices, faces, size: tuple[int, int] = (384, 384), fit_to=None) -> np.ndarray:
    """Render one mesh (V, 3) to an RGB uint8 image (H, W, 3) from the fixed frontal camera.

    `fit_to` (an array of vertices, e.g. the whole sequence) sets the camera framing; default: this mesh.
    """
    v = _check_sequence(vertices, "render_image")
    if v.shape[0] != 1:
        raise ValueError(f"render_image: expected one mesh (V, 3), got {np.shape(vertices)}")
    f = _check_faces(faces, v.shape[1], "render_image")
    width, height = (int(s) for s in size)
    cam = _Camera(_check_sequence(fit_to, "render_image") if fit_to is not None else v, (width, height))
    return _render_frame(v[0].astype(np.float64), f, cam)


def _render_frame(v: np.ndarray, faces: np.ndarray, cam: _Camera) -> np.ndarray:
    px, py, depth = cam.project(v)
    return _rasterize(px, py, depth, _vertex_intensity(v, faces), faces, cam.width, cam.height)


def render_video(
    path, sequence, faces, fps: float = 30, audio=None, sr: int = 16000, size: tuple[int, int] = (384, 384)
) -> Path:
    """Render a vertex sequence (T, V, 3) to an H.264 (yuv420p) mp4, with the audio muxed in as AAC.

    CPU only (numpy rasteriser, no OpenGL); ffmpeg comes from `imageio_ffmpeg`. The output lasts exactly
    T / fps seconds with all T frames: longer audio is cut, shorter audio is padded with silence.
    `size` is (width, height), both even. The file appears only when the encode succeeded; on any
    failure no output or temporary file is left behind.
    """
    import imageio_ffmpeg

    path = Path(path)
    where = f"render_video({path})"
    seq = _check_sequence(sequence, where)
    faces = _check_faces(faces, seq.shape[1], where)
    width, height = _check_size(size, where)
    if not fps > 0:
        raise ValueError(f"{where}: fps must be positive, got {fps}")
    n_frames = seq.shape[0]
    if audio is not None:
        audio = np.asarray(audio, dtype=np.float32)
        if audio.ndim not in (1, 2) or audio.shape[0] == 0:
            raise ValueError(f"{where}: audio must be non-empty (N,) or (N, C), got shape {audio.shape}")
        if not np.isfinite(audio).all():
            raise ValueError(f"{where}: audio contains NaN or inf")
        if sr <= 0:
            raise ValueError(f"{where}: sr must be positive, got {sr}")
        # `-shortest` drops trailing video frames when the audio ends exactly with the video
        # (encoder buffering), so give it a little slack; it still cuts the output at the video's end.
        n_samples = round((n_frames / fps + _AUDIO_SLACK_S) * sr)
        audio = audio[:n_samples]
        if len(audio) < n_samples:
            audio = np.concatenate([audio, np.zeros((n_samples - len(audio),) + audio.shape[1:], np.float32)])

    cam = _Camera(seq, (width, height))
    ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    with tempfile.TemporaryDirectory(prefix="w2s-render-") as scratch, atomic_path(path) as tmp:
        video_in = f"-f rawvideo -pix_fmt rgb24 -s {width}x{height} -r {fps} -i -".split()
        cmd = [ffmpeg, "-y", "-hide_banner", "-nostats", "-loglevel", "error", *video_in]
        if audio is not None:
            import soundfile

            wav = os.path.join(scratch, "audio.wav")
            soundfile.write(wav, np.clip(audio, -1.0, 1.0), int(sr), subtype="PCM_16")
            cmd += ["-i", wav, *"-map 0:v:0 -map 1:a:0 -c:a aac -b:a 96k -shortest".split()]
        cmd += "-c:v libx264 -preset veryfast -crf 18 -pix_fmt yuv420p -movflags +faststart -f mp4".split()
        cmd.append(tmp)
        log_path = os.path.join(scratch, "ffmpeg.log")
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=log)
        try:
            try:
                for t in range(n_frames):
                    proc.stdin.write(_render_frame(seq[t].astype(np.float64), faces, cam).tobytes())
                proc.stdin.close()
            except BrokenPipeError:
                pass  # ffmpeg died early; its log says why
            code = proc.wait()
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        finally:
            if not proc.stdin.closed:
                try:
                    proc.stdin.close()
                except BrokenPipeError:
                    pass
        if code != 0:
            with open(log_path, encoding="utf-8", errors="replace") as log:
                tail = log.read()[-2000:]
            raise RuntimeError(f"{where}: ffmpeg exited with status {code}:\n{tail}")
    return path
