"""Input checks shared by the figures, the renderer and mesh export: each error names the caller."""

from __future__ import annotations

import numpy as np


def check_faces(faces, n_vertices: int, where: str) -> np.ndarray:
    """(F, 3) int64 triangle indices into `n_vertices` vertices."""
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


def check_sequence(seq, where: str) -> np.ndarray:
    """A finite numeric (T, V, 3) vertex sequence; one mesh (V, 3) becomes (1, V, 3)."""
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


def check_mesh(vertices, faces, where: str) -> tuple[np.ndarray, np.ndarray]:
    """One mesh: (V, 3) vertices and the faces that index them."""
    v = check_sequence(vertices, where)
    if v.shape[0] != 1:
        raise ValueError(f"{where}: expected one mesh (V, 3), got {np.shape(vertices)}")
    return v[0], check_faces(faces, v.shape[1], where)


def subsample(n: int, max_frames: int) -> np.ndarray:
    """At most `max_frames` evenly spaced indices into range(n), always keeping the first and last."""
    if max_frames < 1:
        raise ValueError(f"max_frames must be >= 1, got {max_frames}")
    if n <= max_frames:
        return np.arange(n)
    if max_frames == 1:
        return np.array([0])
    return np.unique(np.round(np.linspace(0, n - 1, max_frames)).astype(np.int64))
