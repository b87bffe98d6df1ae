"""Notebook 03's pieces: where Wav2Sem plugs into each host, lip aperture of several predictions, one video.

    plug_sites()                                # one row per host: family, encoders, where it reads F_d
    plug_diagram("faceformer")                  # a block diagram: F_p, F_s -> W_s, +, W_out -> F_d -> host
    up, lo = lip_rows(corpus)                   # upper / lower lip vertex indices of a built corpus
    aperture_figure({"ground truth": gt, "wav2sem": pred}, up, lo, fps=30, span=(0.4, 0.7), word="bat")
    render_side_by_side("clip.mp4", {"none": a, "wav2sem": b}, corpus.faces, fps=30, audio=wav)

Arrays in, plotly figures or an mp4 out; the models and their predictions are the notebook's.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import plotly.graph_objects as go

from w2s import decoders
from w2s.corpus import face
from w2s.corpus.build import speakers_from_meta
from w2s.data.corpus import Corpus
from w2s.utils.runtime import progress
from w2s.viz.checks import check_faces, check_sequence
from w2s.viz.render import _Camera, _check_size, _fit_audio, _render_frame, _write_video

# the paper's six hosts, in its order
HOSTS = ("voca", "faceformer", "codetalker", "unitalker", "facediffuser", "lgldm")

# ---------------------------------------------------------------------------------------------
# where the plug sits


def _hosts() -> list[str]:
    """The registered decoders that declare a plug site (the six hosts, not test-only ones), paper order."""
    found = [n for n in decoders.names() if decoders.get(n).plug_site]
    return sorted(found, key=lambda n: (HOSTS.index(n) if n in HOSTS else len(HOSTS), n))


def plug_sites() -> list[dict]:
    """One row per host: host, family, offline encoder, paper encoder, plug site (notebook 03's table)."""
    rows = []
    for name in _hosts():
        cls = decoders.get(name)
        rows.append({"host": name, "family": cls.family, "offline encoder": cls.offline_encoder,
                     "paper encoder": cls.real_encoder, "plug site": cls.plug_site})  # fmt: skip
    return rows


# what each host does with F_d, box by box (<br>: a line break; lines of at most ~18 characters)
_DECODER_BOXES = {
    "voca": ("16-frame windows<br>→ temporal convs", "FC → code e_t<br>→ PCA decoder"),
    "faceformer": ("previous frames<br>→ motion tokens", "transformer dec.<br>cross-attends F_d",
                   "motion decoder<br>+ template"),
    "codetalker": ("previous frames<br>→ transformer dec.<br>cross-attends F_d", "codebook indices<br>(quantise)",
                   "VQ-VAE decoder<br>(stage 1, frozen)"),
    "unitalker": ("[F_d, identity]<br>→ residual convs", "dataset's head<br>→ PCA layer"),
    "facediffuser": ("noisy motion, t<br>→ GRU denoiser<br>→ x_0", "DDPM / DDIM loop<br>(same F_d)"),
    "lgldm": ("noisy latent, t<br>→ denoiser<br>(memory F_d)", "latent diffusion<br>on stage-1 latents<br>→ quantise",
              "VQ-VAE decoder<br>(stage 1, frozen)"),
}  # fmt: skip

_BOX_W, _BOX_H, _STEP = 1.7, 0.8, 2.1  # in axis units


def plug_diagram(host: str) -> go.Figure:
    """A block diagram of `host` with the plug: audio -> encoder -> F_p and wav -> Wav2Sem -> F_s -> W_s,
    summed, W_out -> F_d, then the host's own blocks -> vertices (T, V, 3)."""
    if host not in _DECODER_BOXES:
        raise ValueError(f"plug_diagram: unknown host {host!r}; hosts: {list(_DECODER_BOXES)}")
    family = decoders.get(host).family
    # (x centre, y centre, text, fill) of each box; the plug's boxes in blue, the host's in grey
    plug, host_fill = "#dbe8f6", "#eeeeee"
    boxes = [(0.0, 1.0, "audio → encoder<br>(frozen) → <b>F_p</b>", plug),
             (0.0, 0.0, "wav → Wav2Sem<br>(frozen) → <b>F_s</b>", plug),
             (_STEP, 0.0, "<b>W_s</b>", plug)]  # fmt: skip
    plus_x = 2 * _STEP - 0.4
    x = plus_x + 0.4 + 0.5 * _STEP
    chain = [(x, 1.0, "<b>W_out</b> → <b>F_d</b>", plug)]
    for text in (*_DECODER_BOXES[host], "vertices<br>(T, V, 3)"):
        x += _STEP
        chain.append((x, 1.0, text, host_fill))
    boxes += chain

    shapes, notes = [], []
    for cx, cy, text, fill in boxes:
        shapes.append(dict(type="rect", x0=cx - _BOX_W / 2, x1=cx + _BOX_W / 2, y0=cy - _BOX_H / 2,
                           y1=cy + _BOX_H / 2, fillcolor=fill, line=dict(color="#555", width=1)))  # fmt: skip
        notes.append(dict(x=cx, y=cy, text=text, showarrow=False, font=dict(size=10)))
    r = 0.2  # the "+" node's radius
    edge = dict(color="#555")
    shapes.append(dict(type="circle", x0=plus_x - r, x1=plus_x + r, y0=1 - r, y1=1 + r, line=edge))
    notes.append(dict(x=plus_x, y=1.0, text="<b>+</b>", showarrow=False, font=dict(size=14)))

    def arrow(x0, y0, x1, y1):
        notes.append(dict(x=x1, y=y1, ax=x0, ay=y0, xref="x", yref="y", axref="x", ayref="y", text="",
                          showarrow=True, arrowhead=2, arrowsize=1, arrowwidth=1.2, arrowcolor="#555"))  # fmt: skip

    half = _BOX_W / 2
    arrow(half, 1.0, plus_x - r, 1.0)  # F_p -> +
    arrow(half, 0.0, _STEP - half, 0.0)  # F_s -> W_s
    arrow(_STEP + half, 0.0, plus_x, 1 - r)  # W_s F_s -> +
    arrow(plus_x + r, 1.0, chain[0][0] - half, 1.0)  # + -> W_out
    for (a, *_), (b, *_) in zip(chain, chain[1:]):
        arrow(a + half, 1.0, b - half, 1.0)

    name = f"{host} ({family})" if family else host
    title = f"{name}: F_d = W_out(W_s·F_s + F_p) where it reads audio"
    fig = go.Figure()
    fig.update_layout(title=dict(text=title, font=dict(size=13)), height=220, shapes=shapes, annotations=notes,
                      margin=dict(l=5, r=5, t=30, b=5), plot_bgcolor="white", showlegend=False,
                      xaxis=dict(visible=False, range=[-half - 0.1, x + half + 0.1]),
                      yaxis=dict(visible=False, range=[-0.5, 1.5]))  # fmt: skip
    return fig


# ---------------------------------------------------------------------------------------------
# lips


def lip_rows(corpus_or_root) -> tuple[np.ndarray, np.ndarray]:
    """(upper, lower) lip vertex indices of a corpus built by `w2s corpus build` (a `Corpus` or its folder).

    The folder keeps only regions/lips.txt; the split into upper and lower lip is the synthetic head's
    (`w2s.corpus.face`, one topology per preset, the same for every speaker), as `w2s.corpus.demo` uses it.
    """
    corpus = Corpus.open(corpus_or_root)
    preset, _ = speakers_from_meta(corpus.meta)
    regions = face.make_head(topology=preset.topology).regions
    upper, lower = np.asarray(regions["upper_lip"]), np.asarray(regions["lower_lip"])
    if max(upper.max(), lower.max()) >= corpus.n_vertices:
        raise ValueError(f"lip_rows: {corpus.root}: {corpus.n_vertices} vertices, not its preset's head")
    return upper, lower


def aperture_mm(vertices, upper, lower) -> np.ndarray:
    """(T, V, 3) metres, upper / lower lip indices -> (T,) mean upper-lip y minus mean lower-lip y, in mm."""
    seq = check_sequence(vertices, "aperture_mm")  # (T, V, 3)
    upper, lower = np.asarray(upper, dtype=np.int64), np.asarray(lower, dtype=np.int64)
    if upper.size == 0 or lower.size == 0:
        raise ValueError("aperture_mm: upper and lower lip indices must be non-empty")
    return (seq[:, upper, 1].mean(1) - seq[:, lower, 1].mean(1)) * 1000


def aperture_figure(sequences: Mapping[str, np.ndarray], upper, lower, fps: float,
                    span: tuple[float, float] | None = None, word: str = "", title: str | None = None) -> go.Figure:  # fmt: skip
    """Lip aperture (mm) over time of each named sequence (T_i, V, 3), e.g. ground truth and the three
    sources; "ground truth" is drawn thick and black. `span`: the word's (start, end) seconds, shaded."""
    if not fps > 0:
        raise ValueError(f"aperture_figure: fps must be positive, got {fps}")
    fig = go.Figure()
    for name, seq in sequences.items():
        y = aperture_mm(seq, upper, lower)  # (T,)
        gt = name.lower() in ("ground truth", "gt")
        line = dict(color="black", width=3) if gt else dict(width=1.5)
        fig.add_trace(go.Scatter(x=np.arange(len(y)) / fps, y=y, name=name, mode="lines", line=line))
    if span is not None:
        fig.add_vrect(x0=float(span[0]), x1=float(span[1]), fillcolor="#f4d35e", opacity=0.3, line_width=0,
                      annotation_text=word or None, annotation_position="top")  # fmt: skip
    title = title if title is not None else "lip aperture" + (f": {word!r}" if word else "")
    return fig.update_layout(title=title, xaxis_title="s", yaxis_title="mm", height=350)


# ---------------------------------------------------------------------------------------------
# one clip, several predictions, one video


def _label_band(names: list[str], width: int, band: int) -> np.ndarray:
    """(band, n * width, 3) uint8: each name centred above its panel."""
    from PIL import Image, ImageDraw, ImageFont

    img = Image.new("RGB", (len(names) * width, band), (255, 255, 255))
    draw = ImageDraw.Draw(img)
    font = ImageFont.load_default(size=max(8, int(band * 0.7)))
    for k, name in enumerate(names):
        draw.text(((k + 0.5) * width, band / 2), name, fill=(0, 0, 0), font=font, anchor="mm")
    return np.asarray(img)


def render_side_by_side(path, sequences: Mapping[str, np.ndarray], faces, fps: float = 30, audio=None,
                        sr: int = 16000, size: tuple[int, int] = (256, 256), desc: str | None = None) -> Path:  # fmt: skip
    """Named vertex sequences (T_i, V, 3) of one clip rendered side by side, each name above its panel, to an
    H.264 mp4 with the audio muxed in (as `w2s.viz.render.render_video`).

    One camera fitted to all sequences, so the heads compare; all are cut to the shortest. `size` is one
    panel's (width, height), both even; the video is n * width wide. No file is left on failure.
    """
    path = Path(path)
    where = f"render_side_by_side({path})"
    if not sequences:
        raise ValueError(f"{where}: no sequences given")
    seqs = {str(n): check_sequence(s, f"{where}[{n!r}]") for n, s in sequences.items()}
    names = list(seqs)
    V = seqs[names[0]].shape[1]
    for n in names[1:]:
        if seqs[n].shape[1] != V:
            raise ValueError(f"{where}: sequence {n!r} has {seqs[n].shape[1]} vertices, {names[0]!r} has {V}")
    faces = check_faces(faces, V, where)
    width, height = _check_size(size, where)
    if not fps > 0:
        raise ValueError(f"{where}: fps must be positive, got {fps}")
    T = min(s.shape[0] for s in seqs.values())
    if audio is not None:
        audio = _fit_audio(audio, sr, T / fps, where)

    cam = _Camera(np.concatenate([s[:T] for s in seqs.values()]), (width, height))  # one framing for all
    band = _label_band(names, width, 2 * max(8, round(0.045 * height)))  # even height: yuv420p

    def frames():
        for t in range(T):
            panels = [_render_frame(s[t].astype(np.float64), faces, cam) for s in seqs.values()]  # (H, W, 3)
            yield np.concatenate([band, np.concatenate(panels, axis=1)])  # (band + H, n W, 3)

    it = frames()
    if desc:
        it = progress(it, total=T, desc=desc, unit="frame")
    return _write_video(path, it, (len(names) * width, band.shape[0] + height), fps, audio, sr, where)
