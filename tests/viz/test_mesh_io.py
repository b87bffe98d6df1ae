"""w2s.viz.mesh_io: OBJ/PLY round trips keep vertex order and count (duplicates and unreferenced vertices too)."""

from __future__ import annotations

import numpy as np
import pytest

from w2s.viz.mesh_io import export_mesh, load_mesh


def _trap_mesh():
    """Duplicate vertex positions (a seam: 0 and 4 coincide) and unreferenced vertices (5, 7)."""
    v = np.array(
        [
            [0.0, 0.0, 0.0],
            [1.0, 0.0, 0.0],
            [0.0, 1.0, 0.0],
            [1.0, 1.0, 0.1],
            [0.0, 0.0, 0.0],  # same position as 0
            [5.0, 5.0, 5.0],  # unreferenced, in the middle
            [0.123456789, -0.987654321, 0.5],
            [-2.0, 3.0, 1.0],  # unreferenced, last
        ]
    )
    f = np.array([[0, 1, 2], [4, 3, 2], [1, 3, 6]])
    return v, f


@pytest.mark.parametrize("suffix", [".obj", ".ply"])
def test_mesh_round_trip_keeps_vertex_order(tmp_path, suffix):
    v, f = _trap_mesh()
    path = export_mesh(tmp_path / f"trap{suffix}", v, f)
    assert path.is_file()
    v2, f2 = load_mesh(path)
    assert v2.shape == v.shape and f2.shape == f.shape
    np.testing.assert_allclose(v2, v, rtol=0, atol=1e-8)
    np.testing.assert_array_equal(f2, f)
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"trap{suffix}"]


@pytest.mark.parametrize("suffix", [".obj", ".ply"])
def test_mesh_round_trip_icosphere(tmp_path, suffix, sphere):
    v, f = sphere(2)
    v = v.astype(np.float32)
    v2, f2 = load_mesh(export_mesh(tmp_path / f"s{suffix}", v, f))
    np.testing.assert_allclose(v2, v, rtol=0, atol=1e-7)
    np.testing.assert_array_equal(f2, f)


def test_mesh_io_errors(tmp_path):
    v, f = _trap_mesh()
    with pytest.raises(ValueError, match="suffix"):
        export_mesh(tmp_path / "x.stl", v, f)
    with pytest.raises(ValueError, match="faces index"):
        export_mesh(tmp_path / "x.obj", v[:4], f)
    with pytest.raises(ValueError, match="one mesh"):
        export_mesh(tmp_path / "x.obj", np.stack([v, v]), f)
    with pytest.raises(FileNotFoundError):
        load_mesh(tmp_path / "missing.ply")
    assert list(tmp_path.iterdir()) == []
