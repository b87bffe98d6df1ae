"""Dataset folders in the real FaceFormer/VOCASET/BIWI layout, for tests (shared by tests/data and tests/decoders)."""

from __future__ import annotations

import io
import pickle
import struct

import numpy as np
import soundfile as sf

from w2s.data.files import parse_stem

V = 5  # vertices per mesh in the small fixtures (5023 for VOCASET, 23370 for BIWI)


class _Py2Pickler(pickle._Pickler):
    """Writes what Python 2's cPickle wrote: text and bytes as py2 ``str`` (BINSTRING opcodes) and
    numpy under ``numpy.core``. Loading it in Python 3 needs ``encoding="latin1"``."""

    dispatch = pickle._Pickler.dispatch.copy()

    def save_py2_str(self, obj):
        data = obj.encode("latin1") if isinstance(obj, str) else obj
        if len(data) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(data)]) + data)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(data)) + data)
        self.memoize(obj)

    def save_py2_global(self, obj, name=None):
        module = obj.__module__.replace("numpy._core", "numpy.core")
        self.write(pickle.GLOBAL + f"{module}\n{name or obj.__qualname__}\n".encode())
        self.memoize(obj)

    dispatch[bytes] = save_py2_str
    dispatch[str] = save_py2_str
    dispatch[type] = save_py2_global


def write_templates(path, templates: dict, style: str = "protocol2") -> None:
    buf = io.BytesIO()
    if style == "py2":
        _Py2Pickler(buf, protocol=2).dump({k: v.astype(np.float64) for k, v in templates.items()})
    else:
        pickle.dump(templates, buf, protocol=2)
    path.write_bytes(buf.getvalue())


def make_layout(
    root,
    stems,
    *,
    native_fps=60,
    seconds=0.4,
    sr=16000,
    n_vertices=V,
    template_style="protocol2",
    extra_subjects=(),
):
    """A dataset folder with wav/, vertices_npy/ and templates.pkl for `stems`; returns the vertices written."""
    rng = np.random.default_rng(0)
    (root / "wav").mkdir(parents=True)
    (root / "vertices_npy").mkdir()
    subjects = sorted({parse_stem(s)[0] for s in stems} | set(extra_subjects))
    templates = {s: rng.normal(size=(n_vertices, 3)).astype(np.float32) for s in subjects}
    written = {}
    for i, stem in enumerate(stems):
        secs = seconds + 0.05 * i  # distinct lengths, so padding is exercised
        n = int(round(secs * sr))
        t = np.arange(n) / sr
        sf.write(root / "wav" / f"{stem}.wav", 0.3 * np.sin(2 * np.pi * 220 * t), sr, subtype="PCM_16")
        frames = int(round(secs * native_fps))
        subj = parse_stem(stem)[0]
        motion = templates[subj][None] + 0.01 * rng.normal(size=(frames, n_vertices, 3))
        verts = motion.reshape(frames, n_vertices * 3).astype(np.float32)
        np.save(root / "vertices_npy" / f"{stem}.npy", verts)
        written[stem] = verts
    write_templates(root / "templates.pkl", templates, template_style)
    return written
