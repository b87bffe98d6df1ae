"""Small meshes for the viz tests: an icosphere and a 'talking' sequence whose lower half opens and closes."""

import numpy as np
import pytest
import trimesh


def _sphere(subdivisions: int = 1):
    m = trimesh.creation.icosphere(subdivisions=subdivisions, radius=0.1)
    return np.asarray(m.vertices, dtype=np.float64), np.asarray(m.faces, dtype=np.int64)


def _talking(vertices: np.ndarray, n_frames: int, seed: int = 0) -> np.ndarray:
    """A (T, V, 3) sequence: the lower half opens and closes like a jaw."""
    t = np.arange(n_frames)[:, None]
    amount = 0.02 * np.sin(2 * np.pi * t / 15.0)
    seq = np.repeat(vertices[None], n_frames, axis=0)
    seq[..., 1] -= amount * (vertices[None, :, 1] < 0)
    return seq + np.random.default_rng(seed).normal(0, 1e-4, seq.shape)


@pytest.fixture
def sphere():
    """sphere(subdivisions) -> (vertices (V, 3) float64, faces (F, 3) int64)."""
    return _sphere


@pytest.fixture
def talking():
    """talking(vertices, n_frames, seed=0) -> (T, V, 3)."""
    return _talking
