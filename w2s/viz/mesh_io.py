"""Mesh files (.obj, .ply) that keep vertex order and count: for FLAME/BIWI topologies index = meaning.

trimesh is used with ``process=False`` (and ``maintain_order=True`` when loading), so duplicate and
unreferenced vertices survive a round trip.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from w2s.utils.io import atomic_path
from w2s.viz.checks import check_mesh

MESH_FORMATS = {".obj": "obj", ".ply": "ply"}


def _file_type(path: Path, where: str) -> str:
    file_type = MESH_FORMATS.get(path.suffix.lower())
    if file_type is None:
        raise ValueError(f"{where}: suffix must be one of {sorted(MESH_FORMATS)}")
    return file_type


def export_mesh(path, vertices, faces) -> Path:
    """Write one mesh as .obj or .ply (by suffix) without trimesh reordering or merging vertices."""
    import trimesh

    path = Path(path)
    where = f"export_mesh({path})"
    file_type = _file_type(path, where)
    v, f = check_mesh(vertices, faces, where)
    mesh = trimesh.Trimesh(vertices=v.astype(np.float64), faces=f, process=False)
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
    file_type = _file_type(path, f"load_mesh({path})")
    if not path.is_file():
        raise FileNotFoundError(f"load_mesh: no such file {path}")
    mesh = trimesh.load(path, file_type=file_type, process=False, maintain_order=True, force="mesh")
    return np.asarray(mesh.vertices, dtype=np.float64), np.asarray(mesh.faces, dtype=np.int64)
