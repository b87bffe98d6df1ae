"""A procedural talking head: mesh, viseme rig and speech-driven motion with known ground truth.

Like VOCASET (meshes in metres, 30 fps, y up, face toward +z) but synthetic: the head is a deformed
UV sphere with a nose, brow ridge, eye sockets, chin and two lips around a mouth slit; every speaker
(``FaceShape``) shares one topology and one set of region indices, only positions change.

The rig has one displacement field per viseme class (``VISEME_CLASSES`` order, "silence" = rest),
built from articulatory gestures: a jaw rotation about a hinge near the ear plus lip actions (press,
raise, tuck, protrude, round, spread). Motion blends the fields with Cohen–Massaro dominance
functions over the phoneme timings, adds brow pulses on stressed vowels, seeded blinks and a little
smooth noise. Everything is deterministic given its seed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from scipy.ndimage import gaussian_filter1d

from w2s.corpus.speech import PhonemeSegment
from w2s.corpus.visemes import CONSONANT_CLASSES, VISEME_CLASSES, viseme_of

FPS = 30.0

# ---------------------------------------------------------------------------------------------
# canonical layout (neutral head, metres): features and regions are placed here, once

N_COLS = 60  # vertices around the head
N_ROWS = 44  # rings from chin-pole to crown-pole
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
class _Grid:
    u: np.ndarray  # (V,) azimuth, 0 = front
    v: np.ndarray  # (V,) elevation
    x: np.ndarray  # (V,) canonical x, y, z on the neutral ellipsoid
    y: np.ndarray
    z: np.ndarray
    front: np.ndarray  # (V,) 1 on the face, 0 at the back
    faces: np.ndarray  # (F, 3) int32


def _rows() -> tuple[np.ndarray, int]:
    """Ring elevations (N_ROWS,), dense at the mouth and over the face; index of the ring under the slit."""
    vm = math.asin(MOUTH_Y / B0)
    dv = SLIT_GAP / (B0 * math.cos(vm))  # the two slit rings sit at vm -/+ dv
    grid = np.linspace(-math.pi / 2, math.pi / 2, 4001)
    rho = 0.45 + 1.3 * _gauss(grid + 0.15, 0.65) + 2.6 * _gauss(grid - vm, 0.09)  # ring density
    cdf = np.concatenate([[0.0], np.cumsum(0.5 * (rho[1:] + rho[:-1]) * np.diff(grid))])
    n_lo = int(round(N_ROWS * np.interp(vm - dv, grid, cdf) / cdf[-1]))

    def place(lo, hi, t):  # equal density mass between rings
        c_lo, c_hi = np.interp([lo, hi], grid, cdf)
        return np.interp(c_lo + t * (c_hi - c_lo), cdf, grid)

    lower = place(-math.pi / 2, vm - dv, np.linspace(0, 1, n_lo + 1)[1:])  # pole excluded
    upper = place(vm + dv, math.pi / 2, np.linspace(0, 1, N_ROWS - n_lo + 1)[:-1])
    return np.concatenate([lower, upper]), n_lo - 1


@lru_cache(maxsize=1)
def _grid() -> _Grid:
    s = np.linspace(-math.pi, math.pi, N_COLS, endpoint=False)
    cols = s - 0.6 * np.sin(s)  # denser columns at the front (s = 0)
    rows, slit = _rows()
    assert len(rows) == N_ROWS
    v, u = np.meshgrid(rows, cols, indexing="ij")  # (R, Q)
    u = np.concatenate([u.ravel(), [0.0, 0.0]])
    v = np.concatenate([v.ravel(), [-math.pi / 2, math.pi / 2]])  # two poles at the end
    x, y, z = A0 * np.sin(u) * np.cos(v), B0 * np.sin(v), C0 * np.cos(u) * np.cos(v)
    front = _smooth((np.cos(u) - 0.15) / 0.5) * (np.abs(v) < math.pi / 2 - 1e-6)

    # faces: quads between rings (outward with u to the right and v up), fans at the poles
    idx = np.arange(N_ROWS * N_COLS).reshape(N_ROWS, N_COLS)
    a, b = idx[:-1], np.roll(idx[:-1], -1, axis=1)
    d, c = idx[1:], np.roll(idx[1:], -1, axis=1)
    keep = np.ones(a.shape, bool)
    in_mouth = (np.abs(x[idx[slit]]) < MOUTH_W) & (z[idx[slit]] > 0)  # (Q,)
    keep[slit] = ~(in_mouth & np.roll(in_mouth, -1))  # cut the slit between the lips
    quads = np.stack([a, b, c, d], -1)[keep]  # (Nq, 4)
    tris = [quads[:, [0, 1, 2]], quads[:, [0, 2, 3]]]
    bot, top = N_ROWS * N_COLS, N_ROWS * N_COLS + 1
    r0, r1 = idx[0], idx[-1]
    tris.append(np.stack([np.full(N_COLS, bot), np.roll(r0, -1), r0], -1))
    tris.append(np.stack([np.full(N_COLS, top), r1, np.roll(r1, -1)], -1))
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
    def random(cls, seed: int) -> FaceShape:
        rng = np.random.default_rng([seed, 0xFACE])
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


def make_head(shape: FaceShape | None = None) -> HeadMesh:
    """The head of one speaker: same topology and regions for every shape."""
    s = shape or FaceShape()
    g = _grid()
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
    return HeadMesh(verts, g.faces.copy(), dict(_regions()), s)


@lru_cache(maxsize=1)
def _regions() -> dict[str, np.ndarray]:
    g = _grid()
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


# ---------------------------------------------------------------------------------------------
# viseme rig


@dataclass(frozen=True)
class Gesture:
    jaw: float = 0.0  # jaw opening (rad)
    upper_y: float = 0.0  # upper lip up (mm)
    lower_y: float = 0.0  # lower lip up (mm)
    upper_z: float = 0.0  # upper lip forward (mm)
    lower_z: float = 0.0  # lower lip forward (mm)
    protrude: float = 0.0  # both lips forward, most at the centre (mm)
    round: float = 0.0  # corners toward the centre (mm); negative spreads
    open: float = 0.0  # centre of the lips apart, as in a round opening (mm)
    corner_y: float = 0.0  # corners up (mm)
    corner_z: float = 0.0  # corners forward (mm)


GESTURES: dict[str, Gesture] = {
    "silence": Gesture(),
    "bilabial": Gesture(upper_y=-0.5, lower_y=0.5, upper_z=-3.0, lower_z=-3.0, protrude=-0.5),
    "labiodental": Gesture(jaw=0.03, lower_y=5.0, lower_z=-5.0, upper_y=1.5, upper_z=1.0),
    "dental": Gesture(jaw=0.055, upper_y=1.5, lower_z=-1.5),
    "alveolar": Gesture(jaw=0.03, upper_y=0.5),
    "postalveolar": Gesture(jaw=0.045, protrude=6.0, round=3.0, upper_y=2.0, lower_y=-1.5),
    "velar_glottal": Gesture(jaw=0.09),
    "w": Gesture(jaw=0.03, protrude=8.0, round=9.0, open=0.5),
    "r": Gesture(jaw=0.05, protrude=3.0, round=4.0),
    "spread_vowel": Gesture(jaw=0.06, round=-5.5, corner_y=1.0, corner_z=-2.0, upper_y=1.0),
    "open_vowel": Gesture(jaw=0.17, upper_y=1.5, round=1.0),
    "rounded_vowel": Gesture(jaw=0.10, protrude=6.0, round=6.5, open=1.5),
    "neutral_vowel": Gesture(jaw=0.125, upper_y=0.5),
}
assert tuple(GESTURES) == VISEME_CLASSES


@dataclass
class VisemeRig:
    jaw_shapes: np.ndarray  # (C, V, 3) float32, jaw rotation part
    lip_shapes: np.ndarray  # (C, V, 3) float32, lip action part
    brow_raise: np.ndarray  # (V, 3) float32, full brow raise
    blink: np.ndarray  # (V, 3) float32, eyes closed
    lips: np.ndarray  # lip vertex indices
    classes: tuple[str, ...] = VISEME_CLASSES

    @property
    def shapes(self) -> np.ndarray:
        return self.jaw_shapes + self.lip_shapes  # (C, V, 3)

    @classmethod
    def from_head(cls, mesh: HeadMesh) -> VisemeRig:
        g, s, p = _grid(), mesh.shape, mesh.vertices.astype(np.float64)
        assert len(p) == len(g.x), "not a make_head mesh"
        x, y, ax = g.x, g.y, np.abs(g.x)
        dm = y - MOUTH_Y
        mm = 1e-3 * s.size  # lip actions scale with the head
        mm_lat, mm_lip = mm * s.mouth_width, mm * s.lip_thickness

        # below-ness (1: moves with the jaw and lower lip, 0: with the upper lip): a clean step across
        # the slit at the centre; toward the corners the lips meet halfway and the step fades over a
        # band (lam) that widens into the cheeks, so the skin stretches instead of tearing
        sep = 1 - _smooth((ax - 0.35 * MOUTH_W) / (0.55 * MOUTH_W))  # 1 at the centre, 0 from 0.9 w
        lam = 0.008 + 0.012 * np.clip(ax / MOUTH_W - 1, 0, None)
        h = 1 - (1 - sep) * np.exp(-np.abs(dm) / lam)
        below = 0.5 - 0.5 * np.sign(dm) * h  # (V,)
        band = np.where(dm >= 0, _gauss(np.clip(dm - UPPER_LIP_H, 0, None), 0.008),
                        _gauss(np.clip(-dm - LOWER_LIP_H, 0, None), 0.008))  # fmt: skip
        lat = _gauss(np.clip(ax - 0.8 * MOUTH_W, 0, None), 0.5 * MOUTH_W)
        lips = lat * band * g.front
        up, lo = (1 - below) * lips, below * lips  # (V,)
        centre = _gauss(x, 1.2 * MOUTH_W) * band * g.front
        narrow = _gauss(x, 0.6 * MOUTH_W)
        corner = x / MOUTH_W * _gauss(np.clip(ax - MOUTH_W, 0, None), 0.7 * MOUTH_W) * band * g.front
        corner_w = np.abs(corner)

        # jaw: rotation about a hinge in front of the ears, on the lower face only
        sy, sz = s.height / (2 * B0), s.depth / (2 * C0)
        hinge = np.array([0.0, -0.02 * sy, -0.005 * sz])
        behind = _smooth((p[:, 2] - hinge[2]) / (0.05 * sz))  # 0 at and behind the hinge
        w_jaw = below * behind * (1 - _smooth((dm - 0.02) / 0.025))  # (V,) nothing above the cheeks
        rel = p - hinge

        C, V = len(VISEME_CLASSES), len(p)
        jaw_shapes = np.zeros((C, V, 3))
        lip_shapes = np.zeros((C, V, 3))
        for i, name in enumerate(VISEME_CLASSES):
            gs = GESTURES[name]
            ca, sa = math.cos(gs.jaw), math.sin(gs.jaw)
            rot = np.stack([rel[:, 0], rel[:, 1] * ca - rel[:, 2] * sa, rel[:, 2] * ca + rel[:, 1] * sa], -1)
            jaw_shapes[i] = w_jaw[:, None] * (rot - rel)
            d = np.zeros((V, 3))
            d[:, 1] += mm_lip * (gs.upper_y * up + gs.lower_y * lo + gs.open * narrow * (up - lo))
            d[:, 2] += mm_lip * (gs.upper_z * up + gs.lower_z * lo)
            d[:, 2] += mm * gs.protrude * centre
            d[:, 0] -= mm_lat * gs.round * corner
            d[:, 1] += mm_lat * gs.corner_y * corner_w
            d[:, 2] += mm_lat * gs.corner_z * corner_w
            lip_shapes[i] = d

        # upper face: brows (and the forehead skin above them) up; upper lids down, lower lids up
        yb = EYE_Y + 0.024 * s.brow_height
        brow_w = np.where(y < yb, _gauss(y - yb, 0.012), 1 - 0.7 * _smooth((y - yb) / 0.06))
        brow_w = brow_w * _gauss(np.clip(ax - 0.045, 0, None), 0.02) * g.front
        brow = np.zeros((V, 3))
        brow[:, 1] = 0.005 * s.size * brow_w
        ex = EYE_X * s.eye_spacing
        eye = _gauss(ax - ex, 0.013) * g.front
        blink = np.zeros((V, 3))
        lids = -0.008 * _gauss(y - EYE_Y - 0.005, 0.007) + 0.002 * _gauss(y - EYE_Y + 0.007, 0.005)
        blink[:, 1] = s.size * eye * lids
        blink[:, 2] = 0.0015 * s.size * eye * _gauss(y - EYE_Y, 0.008)  # lids slide over the eyeball

        f32 = lambda a: np.ascontiguousarray(a, dtype=np.float32)  # noqa: E731
        return cls(f32(jaw_shapes), f32(lip_shapes), f32(brow), f32(blink), mesh.regions["lips"])


def lip_displacement_table(rig: VisemeRig) -> np.ndarray:
    """(C, C) max over lip vertices of |shape_a - shape_b|, metres."""
    s = rig.shapes[:, rig.lips].astype(np.float64)  # (C, L, 3)
    return np.linalg.norm(s[:, None] - s[None, :], axis=-1).max(-1)


# ---------------------------------------------------------------------------------------------
# motion


@dataclass(frozen=True)
class ArticulationStyle:
    amplitude: float = 1.0  # scales every viseme displacement
    jaw_lip_balance: float = 0.0  # > 0: more jaw, less lip; jaw x (1 + b), lips x (1 - b)
    anticipation: float = 0.06  # s, time constant of a gesture's rise before its phoneme
    carryover: float = 0.045  # s, time constant of its decay after
    coarticulation_rate: float = 1.0  # > 1: crisper, less overlap between neighbours
    brow_gain: float = 1.0  # brow raise per stressed syllable (1 = the rig's full raise)
    blink_interval: float = 4.0  # s, mean time between blinks (each 0.5x..1.5x of it)
    blink_duration: float = 0.15  # s
    noise: float = 0.0003  # m, per-axis bound of the smooth noise

    @classmethod
    def random(cls, seed: int) -> ArticulationStyle:
        rng = np.random.default_rng([seed, 0x57F1E])
        f = lambda lo, hi: float(rng.uniform(lo, hi))  # noqa: E731
        return cls(
            amplitude=f(0.8, 1.2), jaw_lip_balance=f(-0.25, 0.25), anticipation=f(0.04, 0.09),
            carryover=f(0.03, 0.06), coarticulation_rate=f(0.8, 1.25), brow_gain=f(0.4, 1.4),
            blink_interval=f(3.0, 5.0), blink_duration=f(0.12, 0.2), noise=f(0.0001, 0.0005),
        )  # fmt: skip


# dominance strength per class: lip closures and lip-teeth contacts win, velars/h take their neighbours'
# shape; rounding anticipates longer than other gestures
DOMINANCE: dict[str, float] = {
    "silence": 1.0, "bilabial": 3.0, "labiodental": 3.0, "dental": 1.5, "alveolar": 0.8,
    "postalveolar": 2.0, "velar_glottal": 0.15, "w": 2.5, "r": 1.0, "spread_vowel": 0.8,
    "open_vowel": 1.0, "rounded_vowel": 1.2, "neutral_vowel": 0.5,
}  # fmt: skip
ANTICIPATION_GAIN = {"w": 1.6, "rounded_vowel": 1.6, "postalveolar": 1.3}  # x the style's time constants
CONSONANT_TIME = 0.7  # consonant gestures are quicker than vowel ones
SUPERSAMPLE = 5  # sub-frame samples averaged per frame (the 1/fps around k/fps), so short phonemes count


def n_frames_for(duration_s: float, fps: float = FPS) -> int:
    """Frames that cover `duration_s`, rounded up (frame k is the face at k/fps)."""
    return max(1, math.ceil(round(duration_s * fps, 6)))


def _segments(phonemes: list[PhonemeSegment]) -> list[tuple[str, float, float]]:
    """(class, start, end) for every phoneme, with silence filling the gaps and both ends."""
    ph = sorted(phonemes, key=lambda p: p.start)
    out, t = [], -math.inf
    for p in ph:
        if p.start > t + 1e-3:
            out.append(("silence", t, p.start))
        out.append((viseme_of(p.symbol), p.start, p.end))
        t = max(t, p.end)
    out.append(("silence", t, math.inf))
    return out


def viseme_weights(
    phonemes: list[PhonemeSegment], n_frames: int, fps: float = FPS, style: ArticulationStyle | None = None
) -> np.ndarray:
    """Cohen–Massaro blend weights (T, C) float32: rows sum to 1."""
    st = style or ArticulationStyle()
    k = (np.arange(SUPERSAMPLE) + 0.5) / SUPERSAMPLE - 0.5
    t = (np.arange(n_frames)[:, None] + k[None, :]).ravel() / fps  # (T*S,) sub-frame times
    C = len(VISEME_CLASSES)
    dom = np.zeros((C, len(t)))
    for name, a, b in _segments(phonemes):
        c = VISEME_CLASSES.index(name)
        q = min(0.25 * (b - a), 0.04) if math.isfinite(b - a) else 0.0
        lo, hi = a + q, b - q  # plateau: the middle of the segment
        speed = st.coarticulation_rate * (1 / CONSONANT_TIME if name in CONSONANT_CLASSES else 1.0)
        tau_a = st.anticipation * ANTICIPATION_GAIN.get(name, 1.0) / speed
        tau_c = st.carryover / speed
        before = np.clip(lo - t, 0, None) / tau_a
        after = np.clip(t - hi, 0, None) / tau_c
        dom[c] += DOMINANCE[name] * np.exp(-(before + after))
    dom[0] += 1e-9  # silence when nothing is near
    w = dom / dom.sum(0, keepdims=True)  # (C, T*S)
    w = w.reshape(C, n_frames, SUPERSAMPLE).mean(-1).T  # (T, C)
    return np.ascontiguousarray(w, dtype=np.float32)


def brow_curve(phonemes: list[PhonemeSegment], n_frames: int, fps: float = FPS) -> np.ndarray:
    """(T,) brow raise in [0, 1): a pulse on every primary-stressed phoneme (0.3 on secondary)."""
    t = np.arange(n_frames) / fps
    acc = np.zeros(n_frames)
    for p in phonemes:
        gain = {1: 1.0, 2: 0.3}.get(p.stress, 0.0)
        if gain:
            c = 0.5 * (p.start + p.end) - 0.03  # brows lead the voice a little
            acc += gain * np.where(t < c, _gauss(t - c, 0.09), _gauss(t - c, 0.2))
    return np.tanh(1.3 * acc)  # overlapping pulses saturate


def blink_curve(
    n_frames: int, fps: float = FPS, style: ArticulationStyle | None = None, seed: int = 0
) -> np.ndarray:
    """(T,) eyelid closure in [0, 1]: seeded blinks, quick to close, slower to open."""
    st = style or ArticulationStyle()
    rng = np.random.default_rng([seed, 0xB11C])
    t = np.arange(n_frames) / fps
    out = np.zeros(n_frames)
    tb = rng.uniform(0.2, 1.0) * st.blink_interval
    while tb < t[-1] + 1.0:
        close, dur = 0.4 * st.blink_duration, st.blink_duration
        x = np.where(t < tb + close, (t - tb) / close, 1 - (t - tb - close) / (dur - close))
        out = np.maximum(out, _smooth(x) * (t >= tb) * (t <= tb + dur))
        tb += rng.uniform(0.5, 1.5) * st.blink_interval
    return out


def _noise(mesh: HeadMesh, n_frames: int, fps: float, level: float, seed: int) -> np.ndarray:
    """(T, V, 3) smooth noise: a few low-frequency spatial waves, slowly modulated; |.| < level per axis."""
    rng = np.random.default_rng([seed, 0x4015E])
    p = mesh.vertices.astype(np.float64)
    K = 4
    dirs = rng.normal(size=(K, 3, 3))
    dirs *= (2 * math.pi / 0.15) / np.linalg.norm(dirs, axis=-1, keepdims=True)  # wavelength ~15 cm
    phase = rng.uniform(0, 2 * math.pi, size=(K, 3))
    fields = np.sin(np.einsum("vd,kad->kva", p, dirs) + phase[:, None, :])  # (K, V, 3)
    # slow temporal curves: white noise smoothed over ~0.3 s, squashed into (-1, 1)
    white = rng.normal(size=(K, n_frames + 40))
    sm = gaussian_filter1d(white, sigma=0.3 * fps, axis=-1, mode="wrap")[:, 20:-20]
    curves = np.tanh(sm / (sm.std() + 1e-12))  # (K, T)
    return level / K * np.einsum("kt,kva->tva", curves, fields)


def animate(
    mesh: HeadMesh,
    rig: VisemeRig,
    phonemes: list[PhonemeSegment],
    n_frames: int,
    fps: float = FPS,
    style: ArticulationStyle | None = None,
    seed: int = 0,
) -> np.ndarray:
    """(T, V, 3) float32 vertex positions for the utterance."""
    st = style or ArticulationStyle()
    w = viseme_weights(phonemes, n_frames, fps, st).astype(np.float64)  # (T, C)
    C, V = rig.jaw_shapes.shape[:2]
    b = st.jaw_lip_balance
    basis = st.amplitude * ((1 + b) * rig.jaw_shapes + (1 - b) * rig.lip_shapes)  # (C, V, 3)
    out = (w @ basis.reshape(C, V * 3).astype(np.float64)).reshape(n_frames, V, 3)
    out += mesh.vertices.astype(np.float64)[None]
    out += st.brow_gain * brow_curve(phonemes, n_frames, fps)[:, None, None] * rig.brow_raise[None]
    out += blink_curve(n_frames, fps, st, seed)[:, None, None] * rig.blink[None]
    if st.noise > 0:
        out += _noise(mesh, n_frames, fps, st.noise, seed)
    return out.astype(np.float32)
