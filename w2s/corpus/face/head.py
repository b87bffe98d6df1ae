"""The procedural head: a deformed UV sphere with a nose, brow ridge, eye sockets, chin and two lips
around a mouth slit, in metres (y up, face toward +z, like VOCASET). Every speaker (``FaceShape``)
shares one topology and one set of region indices; only positions change.

The topology is the grid's resolution (``Topology``: columns around the head x rings from chin to
crown, plus the two poles). Features and regions are placed in metres, not in grid steps, so another
resolution gives another mesh of the same head: the default 60 x 44 (2,642 vertices) for the VOCASET-like
corpus, a finer one for the BIWI-like corpus (a dataset with another mesh)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cache

import numpy as np

FPS = 30.0

# ---------------------------------------------------------------------------------------------
# canonical layout (neutral head, metres): features and regions are placed here, once

N_COLS = 60  # vertices around the head (default topology)
N_ROWS = 44  # rings from chin-pole to crown-pole (default topology)
A0, B0, C0 = 0.076, 0.116, 0.098  # neutral half width / half height / half depth
MOUTH_Y = -0.055  # mouth line (canonical y)
MOUTH_W = 0.025  # half width of the mouth slit
SLIT_GAP = 0.0004  # half gap between the lips at rest (lips lightly touching)
EYE_X, EYE_Y = 0.032, 0.004  # eye centre (one side)
UPPER_LIP_H, LOWER_LIP_H = 0.009, 0.011  # lip heights above / below the mouth line


def _smooth(x):
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def _gauss(x, s):
    return np.exp(-((x / s) ** 2))


@dataclass(frozen=True)
class Topology:
    """The head grid's resolution: ``n_cols * n_rows + 2`` vertices (two poles)."""

    n_cols: int = N_COLS
    n_rows: int = N_ROWS

    def __post_init__(self):
        for name, n, lo in (("n_cols", self.n_cols, 24), ("n_rows", self.n_rows, 24)):
            if int(n) != n or n < lo:
                raise ValueError(
                    f"Topology.{name} must be an integer >= {lo} (the mouth and eyes need a few grid lines), got {n!r}"
                )

    @property
    def n_vertices(self) -> int:
        return self.n_cols * self.n_rows + 2


DEFAULT_TOPOLOGY = Topology()


@dataclass(frozen=True)
class _Grid:
    u: np.ndarray  # (V,) azimuth, 0 = front
    v: np.ndarray  # (V,) elevation
    x: np.ndarray  # (V,) canonical x, y, z on the neutral ellipsoid
    y: np.ndarray
    z: np.ndarray
    front: np.ndarray  # (V,) 1 on the face, 0 at the back
    faces: np.ndarray  # (F, 3) int32


def _rows(n_rows: int) -> tuple[np.ndarray, int]:
    """Ring elevations (n_rows,), dense at the mouth and over the face; index of the ring under the slit."""
    vm = math.asin(MOUTH_Y / B0)
    dv = SLIT_GAP / (B0 * math.cos(vm))  # the two slit rings sit at vm -/+ dv
    grid = np.linspace(-math.pi / 2, math.pi / 2, 4001)
    rho = 0.45 + 1.3 * _gauss(grid + 0.15, 0.65) + 2.6 * _gauss(grid - vm, 0.09)  # ring density
    cdf = np.concatenate([[0.0], np.cumsum(0.5 * (rho[1:] + rho[:-1]) * np.diff(grid))])
    n_lo = int(round(n_rows * np.interp(vm - dv, grid, cdf) / cdf[-1]))

    def place(lo, hi, t):  # equal density mass between rings
        c_lo, c_hi = np.interp([lo, hi], grid, cdf)
        return np.interp(c_lo + t * (c_hi - c_lo), cdf, grid)

    lower = place(-math.pi / 2, vm - dv, np.linspace(0, 1, n_lo + 1)[1:])  # pole excluded
    upper = place(vm + dv, math.pi / 2, np.linspace(0, 1, n_rows - n_lo + 1)[:-1])
    return np.concatenate([lower, upper]), n_lo - 1


@cache
def _grid(topology: Topology = DEFAULT_TOPOLOGY) -> _Grid:
    n_cols, n_rows = topology.n_cols, topology.n_rows
    s = np.linspace(-math.pi, math.pi, n_cols, endpoint=False)
    cols = s - 0.6 * np.sin(s)  # denser columns at the front (s = 0)
    rows, slit = _rows(n_rows)
    assert len(rows) == n_rows
    v, u = np.meshgrid(rows, cols, indexing="ij")  # (R, Q)
    u = np.concatenate([u.ravel(), [0.0, 0.0]])
    v = np.concatenate([v.ravel(), [-math.pi / 2, math.pi / 2]])  # two poles at the end
    x, y, z = A0 * np.sin(u) * np.cos(v), B0 * np.sin(v), C0 * np.cos(u) * np.cos(v)
    front = _smooth((np.cos(u) - 0.15) / 0.5) * (np.abs(v) < math.pi / 2 - 1e-6)

    # faces: quads between rings (outward with u to the right and v up), fans at the poles
    idx = np.arange(n_rows * n_cols).reshape(n_rows, n_cols)
    a, b = idx[:-1], np.roll(idx[:-1], -1, axis=1)
    d, c = idx[1:], np.roll(idx[1:], -1, axis=1)
    keep = np.ones(a.shape, bool)
    in_mouth = (np.abs(x[idx[slit]]) < MOUTH_W) & (z[idx[slit]] > 0)  # (Q,)
    keep[slit] = ~(in_mouth & np.roll(in_mouth, -1))  # cut the slit between the lips
    quads = np.stack([a, b, c, d], -1)[keep]  # (Nq, 4)
    tris = [quads[:, [0, 1, 2]], quads[:, [0, 2, 3]]]
    bot, top = n_rows * n_cols, n_rows * n_cols + 1
    r0, r1 = idx[0], idx[-1]
    tris.append(np.stack([np.full(n_cols, bot), np.roll(r0, -1), r0], -1))
    tris.append(np.stack([np.full(n_cols, top), r1, np.roll(r1, -1)], -1))
    faces = np.concatenate(tris).astype(np.int32)
    return _Grid(u, v, x, y, z, front, faces)


# ---------------------------------------------------------------------------------------------
# head mesh


@dataclass(frozen=True)
class FaceShape:
    width: float = 0.152  # head width (m)
    height: float = 0.232  # chin to crown (m)
    depth: float = 0.196  # back of head to face (m)
    jaw_length: float = 1.0  # factors around 1: stretch of the face below the mouth
    chin: float = 1.0  # chin prominence
    lip_thickness: float = 1.0
    mouth_width: float = 1.0
    nose_length: float = 1.0
    nose_width: float = 1.0
    eye_spacing: float = 1.0
    brow_height: float = 1.0  # brow-to-eye distance
    cheeks: float = 1.0  # cheekbone fullness

    @classmethod
    def random(cls, seed: int, stream: int = 0) -> FaceShape:
        """A random face; `stream` > 0 draws from another random stream (another corpus's speakers)."""
        rng = np.random.default_rng([seed, 0xFACE] if stream == 0 else [seed, 0xFACE, stream])
        f = lambda lo, hi: float(rng.uniform(lo, hi))  # noqa: E731
        return cls(
            width=f(0.140, 0.164), height=f(0.218, 0.246), depth=f(0.184, 0.208),
            jaw_length=f(0.88, 1.12), chin=f(0.7, 1.3), lip_thickness=f(0.85, 1.15),
            mouth_width=f(0.9, 1.1), nose_length=f(0.8, 1.2), nose_width=f(0.85, 1.15),
            eye_spacing=f(0.92, 1.08), brow_height=f(0.85, 1.15), cheeks=f(0.6, 1.4),
        )  # fmt: skip

    @property
    def size(self) -> float:
        """Overall scale relative to the neutral head."""
        return float((self.width / 0.152 * self.height / 0.232 * self.depth / 0.196) ** (1 / 3))


@dataclass
class HeadMesh:
    vertices: np.ndarray  # (V, 3) float32, metres
    faces: np.ndarray  # (F, 3) int32
    regions: dict[str, np.ndarray]  # name -> sorted int64 vertex indices
    shape: FaceShape = field(default_factory=FaceShape)
    topology: Topology = DEFAULT_TOPOLOGY

    def to_trimesh(self):
        import trimesh

        return trimesh.Trimesh(self.vertices, self.faces, process=False)  # keeps vertex order


def _features(g: _Grid, s: FaceShape) -> np.ndarray:
    """Forward (+z) relief of the face in metres, from canonical coordinates. (V,)"""
    x, y, ax = g.x, g.y, np.abs(g.x)
    lt = s.lip_thickness
    ex = EYE_X * s.eye_spacing
    r_eye = np.sqrt((ax - ex) ** 2 + ((y - EYE_Y) / 0.8) ** 2)
    yb = EYE_Y + 0.024 * s.brow_height
    # nose: ridge growing from the bridge to the tip, then a quick drop to the lip
    y_top, y_tip = 0.012, -0.029
    ridge = np.where(y > y_tip, np.clip((y_top - y) / (y_top - y_tip), 0, 1) ** 1.3, _gauss(y - y_tip, 0.006))
    nose = 0.021 * s.nose_length * ridge * _gauss(x, (0.005 + 0.009 * ridge) * s.nose_width)
    lat = np.exp(-((x / MOUTH_W) ** 4))  # lips fade at the corners
    dm = y - MOUTH_Y
    f = (
        0.005 * _gauss(y - yb, 0.008) * _gauss(ax - 0.03, 0.03)  # brow ridge
        - 0.007 * _gauss(r_eye, 0.013)  # eye socket
        + 0.0045 * _gauss(r_eye, 0.0075)  # eyeball
        + nose
        + 0.004 * s.cheeks * _gauss(ax - 0.045, 0.018) * _gauss(y + 0.018, 0.018)  # cheekbones
        + 0.009 * _gauss(x, 0.03) * _gauss(dm, 0.028)  # muzzle over the teeth
        + 0.0035 * lt * lat * _gauss(dm - 0.0042 * lt, 0.0035)  # upper lip
        + 0.004 * lt * lat * _gauss(dm + 0.0052 * lt, 0.0042)  # lower lip
        - 0.0015 * lat * _gauss(dm, 0.0012)  # lips roll in at the slit
        - 0.002 * _gauss(x, 0.02) * _gauss(dm + 0.017, 0.004)  # groove above the chin
        + 0.007 * s.chin * _gauss(x, 0.017) * _gauss(y + 0.093, 0.012)  # chin
    )
    return f * g.front


def make_head(shape: FaceShape | None = None, topology: Topology = DEFAULT_TOPOLOGY) -> HeadMesh:
    """The head of one speaker: same topology and regions for every shape (of one `topology`)."""
    s = shape or FaceShape()
    g = _grid(topology)
    sx, sy, sz = s.width / (2 * A0), s.height / (2 * B0), s.depth / (2 * C0)
    x, y, z = g.x.copy(), g.y.copy(), g.z.copy()
    dm = g.y - MOUTH_Y
    # local warps in canonical units: mouth width, lip height, jaw length, narrower lower face
    near_mouth = _gauss(dm, 0.02) * _gauss(g.x, 0.05) * g.front
    x = x * (1 + (s.mouth_width - 1) * near_mouth)
    y = y + (s.lip_thickness - 1) * dm * _gauss(dm, 0.012) * np.exp(-((g.x / MOUTH_W) ** 4)) * g.front
    y = np.where(dm < 0, MOUTH_Y + (y - MOUTH_Y) * (1 + (s.jaw_length - 1) * _smooth(-dm / 0.03)), y)
    x = x * (1 - 0.16 * _smooth(-g.y / 0.11))
    z = z + _features(g, s)
    verts = np.stack([x * sx, y * sy, z * sz], -1).astype(np.float32)  # (V, 3)
    return HeadMesh(verts, g.faces.copy(), dict(_regions(topology)), s, topology)


@cache
def _regions(topology: Topology = DEFAULT_TOPOLOGY) -> dict[str, np.ndarray]:
    g = _grid(topology)
    y, ax, fr = g.y, np.abs(g.x), g.front > 0.5
    lips = fr & (ax <= 1.05 * MOUTH_W) & (y > MOUTH_Y - LOWER_LIP_H) & (y < MOUTH_Y + UPPER_LIP_H)
    eyes = fr & (((ax - EYE_X) / 0.019) ** 2 + ((y - EYE_Y) / 0.013) ** 2 <= 1)  # with the lids
    brows = fr & (ax <= 0.058) & (y > 0.016) & (y <= 0.042) & ~eyes
    forehead = fr & (ax <= 0.062) & (y > 0.042) & (y <= 0.098)
    nose = fr & (ax < 0.018) & (y > -0.038) & (y <= 0.016) & ~eyes
    jaw = (g.front > 0.3) & (ax <= 0.065) & (y <= MOUTH_Y - LOWER_LIP_H) & (g.v > -1.35)
    masks = {
        "lips": lips,
        "upper_lip": lips & (y > MOUTH_Y),
        "lower_lip": lips & (y < MOUTH_Y),
        "upper_face": forehead | brows | eyes,
        "forehead": forehead,
        "brows": brows,
        "eyes": eyes,
        "nose": nose,
        "jaw": jaw,
    }
    out = {k: np.flatnonzero(m).astype(np.int64) for k, m in masks.items()}
    for a in out.values():
        a.setflags(write=False)
    return out
