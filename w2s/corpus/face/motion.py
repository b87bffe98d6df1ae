"""Speech-driven motion: the rig's fields blended with Cohen–Massaro dominance functions over the
phoneme timings, brow pulses on stressed vowels, seeded blinks and a little smooth noise.
Deterministic given its seed."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter1d

from w2s.corpus.face.head import FPS, HeadMesh, _gauss, _smooth
from w2s.corpus.face.rig import VisemeRig
from w2s.corpus.speech import PhonemeSegment
from w2s.corpus.visemes import CONSONANT_CLASSES, VISEME_CLASSES, viseme_of


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
    def random(cls, seed: int, stream: int = 0) -> ArticulationStyle:
        """A random style; `stream` > 0 draws from another random stream (another corpus's speakers)."""
        rng = np.random.default_rng([seed, 0x57F1E] if stream == 0 else [seed, 0x57F1E, stream])
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
