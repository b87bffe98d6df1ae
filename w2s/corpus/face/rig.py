"""The viseme rig: one displacement field per viseme class (``VISEME_CLASSES`` order, "silence" =
rest), built from articulatory gestures: a jaw rotation about a hinge near the ear plus lip actions
(press, raise, tuck, protrude, round, spread)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from w2s.corpus.face.head import (
    B0,
    C0,
    EYE_X,
    EYE_Y,
    LOWER_LIP_H,
    MOUTH_W,
    MOUTH_Y,
    UPPER_LIP_H,
    HeadMesh,
    _gauss,
    _grid,
    _smooth,
)
from w2s.corpus.visemes import VISEME_CLASSES


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
        g, s, p = _grid(mesh.topology), mesh.shape, mesh.vertices.astype(np.float64)
        if len(p) != len(g.x):
            raise ValueError(f"not a make_head mesh: {len(p)} vertices, its topology has {len(g.x)}")
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
