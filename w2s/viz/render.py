"""CPU rendering of face meshes: a numpy z-buffer rasteriser, and H.264 video with the audio muxed in.

No OpenGL, no GPU. Each frame is scan-converted with Gouraud-shaded Lambert lighting from a fixed
orthographic frontal camera; `render_video` pipes the frames to the ffmpeg binary shipped by the
`imageio-ffmpeg` wheel. Coordinates follow the face-model convention: the face looks toward +z, y is
up, x is the subject's left; the camera sits on the +z axis looking toward -z.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from w2s.utils.io import DISK_FULL, atomic_path
from w2s.utils.runtime import progress
from w2s.viz.checks import check_faces, check_mesh, check_sequence

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
    attrs = np.stack([fd[:, 0], fd[:, 1] - fd[:, 0], fd[:, 2] - fd[:, 0],
                      fs[:, 0], fs[:, 1] - fs[:, 0], fs[:, 2] - fs[:, 0]], axis=1)  # fmt: skip

    fid = np.repeat(np.arange(len(keep)), counts)  # one entry per candidate pixel of each triangle
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


def _render_frame(v: np.ndarray, faces: np.ndarray, cam: _Camera) -> np.ndarray:
    px, py, depth = cam.project(v)
    return _rasterize(px, py, depth, _vertex_intensity(v, faces), faces, cam.width, cam.height)


def render_image(vertices, faces, size: tuple[int, int] = (384, 384), fit_to=None) -> np.ndarray:
    """Render one mesh (V, 3) to an RGB uint8 image (H, W, 3) from the fixed frontal camera.

    `fit_to` (an array of vertices, e.g. the whole sequence) sets the camera framing; default: this mesh.
    """
    v, f = check_mesh(vertices, faces, "render_image")
    width, height = (int(s) for s in size)
    cam = _Camera(check_sequence(fit_to if fit_to is not None else v, "render_image"), (width, height))
    return _render_frame(v.astype(np.float64), f, cam)


def render_strip(shapes: Iterable, faces, size: tuple[int, int] = (192, 192), rows: slice = slice(None)) -> np.ndarray:
    """Several meshes (V, 3) rendered one beside the other into one image, each cropped to `rows`."""
    return np.concatenate([render_image(v, faces, size=size)[rows] for v in shapes], axis=1)


# ---------------------------------------------------------------------------------------------
# video


def _check_size(size, where: str) -> tuple[int, int]:
    width, height = (int(s) for s in size)
    if width < 2 or height < 2 or width % 2 or height % 2:
        raise ValueError(f"{where}: size must be two even integers >= 2 (H.264 yuv420p), got {size}")
    return width, height


def _fit_audio(audio, sr: int, seconds: float, where: str) -> np.ndarray:
    """The audio cut or zero-padded to `seconds` plus a little slack.

    `-shortest` drops trailing video frames when the audio ends exactly with the video (encoder
    buffering), so the audio runs a little longer; ffmpeg still cuts the output at the video's end.
    """
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim not in (1, 2) or audio.shape[0] == 0:
        raise ValueError(f"{where}: audio must be non-empty (N,) or (N, C), got shape {audio.shape}")
    if not np.isfinite(audio).all():
        raise ValueError(f"{where}: audio contains NaN or inf")
    if sr <= 0:
        raise ValueError(f"{where}: sr must be positive, got {sr}")
    n_samples = round((seconds + _AUDIO_SLACK_S) * sr)
    audio = audio[:n_samples]
    if len(audio) < n_samples:
        audio = np.concatenate([audio, np.zeros((n_samples - len(audio),) + audio.shape[1:], np.float32)])
    return audio


def _ffmpeg_command(out: str, width: int, height: int, fps: float, wav: str | None) -> list[str]:
    import imageio_ffmpeg

    rate = str(int(fps)) if float(fps).is_integer() else str(fps)  # 30 and 30.0 give the same file
    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-hide_banner", "-nostats", "-loglevel", "error"]
    cmd += f"-f rawvideo -pix_fmt rgb24 -s {width}x{height} -r {rate} -i -".split()
    if wav is not None:
        cmd += ["-i", wav, *"-map 0:v:0 -map 1:a:0 -c:a aac -b:a 96k -shortest".split()]
    cmd += "-c:v libx264 -preset veryfast -crf 18 -pix_fmt yuv420p -movflags +faststart -f mp4".split()
    return cmd + [out]


def _encode(cmd: list[str], frames: Iterable[np.ndarray], log_path: str, where: str) -> None:
    """Pipe RGB frames into ffmpeg; raise with the tail of its log when it fails."""
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=log)
    try:
        try:
            for frame in frames:
                proc.stdin.write(frame.tobytes())
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
        full = next((e for e in DISK_FULL if os.strerror(e) in tail), None)
        if full:  # the disk is full: the one line that names the file, not ffmpeg's log
            raise OSError(full, os.strerror(full), cmd[-1])
        raise RuntimeError(f"{where}: ffmpeg exited with status {code}:\n{tail}")


def render_video(
    path, sequence, faces, fps: float = 30, audio=None, sr: int = 16000, size: tuple[int, int] = (384, 384),
    desc: str | None = None,
) -> Path:
    """Render a vertex sequence (T, V, 3) to an H.264 (yuv420p) mp4, with the audio muxed in as AAC.

    The output lasts exactly T / fps seconds with all T frames: longer audio is cut, shorter audio is
    padded with silence. `size` is (width, height), both even. The file appears only when the encode
    succeeded; on any failure no output or temporary file is left behind. `desc`: show a progress bar
    (w2s.utils.runtime.progress) with this label while the frames render.
    """
    path = Path(path)
    where = f"render_video({path})"
    seq = check_sequence(sequence, where)
    faces = check_faces(faces, seq.shape[1], where)
    width, height = _check_size(size, where)
    if not fps > 0:
        raise ValueError(f"{where}: fps must be positive, got {fps}")
    if audio is not None:
        audio = _fit_audio(audio, sr, seq.shape[0] / fps, where)
    cam = _Camera(seq, (width, height))
    frames = (_render_frame(v.astype(np.float64), faces, cam) for v in seq)
    if desc:
        frames = progress(frames, total=len(seq), desc=desc, unit="frame")
    return _write_video(path, frames, (width, height), fps, audio, sr, where)


def _write_video(path: Path, frames: Iterable[np.ndarray], size: tuple[int, int], fps: float, audio, sr: int,
                 where: str) -> Path:  # fmt: skip
    """RGB frames (H, W, 3) uint8, rendered lazily, to an mp4 at `path` with `audio` (already `_fit_audio`'s)
    muxed in; the file appears only when the encode succeeded."""
    width, height = size
    with tempfile.TemporaryDirectory(prefix="w2s-render-") as scratch, atomic_path(path) as tmp:
        wav = None
        if audio is not None:
            import soundfile

            wav = os.path.join(scratch, "audio.wav")
            soundfile.write(wav, np.clip(audio, -1.0, 1.0), int(sr), subtype="PCM_16")
        _encode(_ffmpeg_command(str(tmp), width, height, fps, wav), frames, os.path.join(scratch, "ffmpeg.log"), where)
    return path
