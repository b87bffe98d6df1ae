"""A procedural talking head: mesh, viseme rig and speech-driven motion with known ground truth.

Like VOCASET (meshes in metres, 30 fps, y up, face toward +z) but synthetic: the head is a deformed
UV sphere with a nose, brow ridge, eye sockets, chin and two lips around a mouth slit; every speaker
(``FaceShape``) shares one topology and one set of region indices, only positions change. The grid's
resolution (``Topology``) sets the topology: another resolution is another mesh of the same head.

The rig has one displacement field per viseme class (``VISEME_CLASSES`` order, "silence" = rest),
built from articulatory gestures: a jaw rotation about a hinge near the ear plus lip actions (press,
raise, tuck, protrude, round, spread). Motion blends the fields with Cohen–Massaro dominance
functions over the phoneme timings, adds brow pulses on stressed vowels, seeded blinks and a little
smooth noise. Everything is deterministic given its seed.
"""

from w2s.corpus.face.head import (
    DEFAULT_TOPOLOGY,
    FPS,
    MOUTH_W,
    MOUTH_Y,
    N_COLS,
    N_ROWS,
    SLIT_GAP,
    FaceShape,
    HeadMesh,
    Topology,
    make_head,
)
from w2s.corpus.face.motion import (
    ANTICIPATION_GAIN,
    CONSONANT_TIME,
    SUPERSAMPLE,
    ArticulationStyle,
    animate,
    blink_curve,
    brow_curve,
    n_frames_for,
    viseme_weights,
)
from w2s.corpus.face.rig import Gesture, VisemeRig, lip_displacement_table

__all__ = [
    "ANTICIPATION_GAIN",
    "ArticulationStyle",
    "CONSONANT_TIME",
    "DEFAULT_TOPOLOGY",
    "FPS",
    "FaceShape",
    "Gesture",
    "HeadMesh",
    "MOUTH_W",
    "MOUTH_Y",
    "N_COLS",
    "N_ROWS",
    "SLIT_GAP",
    "SUPERSAMPLE",
    "Topology",
    "VisemeRig",
    "animate",
    "blink_curve",
    "brow_curve",
    "lip_displacement_table",
    "make_head",
    "n_frames_for",
    "viseme_weights",
]
