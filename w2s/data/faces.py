"""Datasets in the FaceFormer / VOCASET folder layout: VOCASET, BIWI and the corpus built by w2s.

Layout (``reference/decoders-voca-faceformer-codetalker.md`` §4.1)::

    ROOT/wav/{SUBJECT}_{SENTENCE}.wav           any rate / channels; read as 16 kHz mono
    ROOT/vertices_npy/{SUBJECT}_{SENTENCE}.npy  float, (T, V*3) (or (T, V, 3)), at fps * frame_stride
    ROOT/templates.pkl                          {subject: (V, 3)}; python-2 pickles are read too
    ROOT/faces.npy                              optional, (F, 3) triangle indices
    ROOT/regions/lips.txt, upper_face.txt       optional vertex indices (BIWI names: lve.txt, fdd.txt)
    ROOT/transcripts.json                       optional {stem: text}
    ROOT/alignments.json                        optional {stem: {"phonemes": [...], "words": [...]}}
    ROOT/splits.json, corpus.json               our corpus: splits and metadata (fps)

File names: the subject is the stem without its last ``_`` field, the sentence is the integer formed
by the trailing digits of that field (``FaceTalk_170728_03272_TA_sentence01`` -> subject
``FaceTalk_170728_03272_TA``, sentence 1; ``F2_e37`` -> ``F2``, 37).

Checks. Cheap checks run when the dataset is built, for every sequence of the chosen split: the folders
and files exist, every ``.npy`` has its ``.wav`` and the reverse, the subject has a template, vertex
counts agree (file, template, spec), the audio is not empty, and audio and motion durations agree
(see :class:`FaceDataset`). Reading the vertex *values* (NaN/inf) happens when an item is loaded;
:meth:`FaceDataset.validate` loads every item once. Every failure raises :class:`DatasetError` naming
the file and the problem.

Pickles can run code when loaded: only read ``templates.pkl`` files from sources you trust.
"""

from __future__ import annotations

import json
import math
import pickle
import re
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from w2s.data.audio import SAMPLE_RATE, AudioError, audio_info, load_audio


class DatasetError(ValueError):
    """A dataset folder or file that cannot be used; the message names the file and the problem."""


# ---------------------------------------------------------------------------------------------
# specs


@dataclass(frozen=True)
class DatasetSpec:
    """What a dataset is: name, frame rate, vertex count and splits.

    fps: frame rate of the vertices *as served* (after the stride).
    frame_stride: keep every n-th frame of the files (VOCASET stores 60 fps: stride 2 -> 30 fps).
    n_vertices: expected vertex count, or None to accept the templates' count.
    splits: ``{split: (subjects, (first, last))}``, sentence range inclusive; ``(first, last)`` may be
        None for "every sentence". The subjects of the ``train`` split, in order, define
        ``subject_index`` (the one-hot order of the official checkpoints).
    """

    name: str
    fps: float
    frame_stride: int = 1
    n_vertices: int | None = None
    splits: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.fps <= 0:
            raise ValueError(f"DatasetSpec {self.name}: fps must be positive, got {self.fps}")
        if int(self.frame_stride) != self.frame_stride or self.frame_stride < 1:
            raise ValueError(f"DatasetSpec {self.name}: frame_stride must be a positive integer")
        splits = {}
        for k, v in dict(self.splits).items():
            subjects, rng = v
            if isinstance(subjects, str):
                raise ValueError(
                    f"DatasetSpec {self.name}: split {k!r}: subjects must be a list, not a string"
                )
            rng = None if rng is None else (int(rng[0]), int(rng[1]))
            splits[str(k)] = (tuple(str(s) for s in subjects), rng)
        object.__setattr__(self, "splits", splits)

    @property
    def native_fps(self) -> float:
        """Frame rate of the vertex files (before the stride)."""
        return self.fps * self.frame_stride

    @property
    def train_subjects(self) -> list[str]:
        return list(self.splits["train"][0]) if "train" in self.splits else []

    def replace(self, **changes) -> DatasetSpec:
        """A copy with some fields changed, e.g. ``VOCASET.replace(n_vertices=None)`` for a small fixture."""
        return replace(self, **changes)


_VOCA_TRAIN = [
    "FaceTalk_170728_03272_TA",
    "FaceTalk_170904_00128_TA",
    "FaceTalk_170725_00137_TA",
    "FaceTalk_170915_00223_TA",
    "FaceTalk_170811_03274_TA",
    "FaceTalk_170913_03279_TA",
    "FaceTalk_170904_03276_TA",
    "FaceTalk_170912_03278_TA",
]
VOCASET = DatasetSpec(
    name="vocaset",
    fps=30,
    frame_stride=2,  # files are 60 fps; FaceFormer/CodeTalker take every 2nd frame
    n_vertices=5023,  # FLAME topology
    splits={
        "train": (_VOCA_TRAIN, (1, 40)),
        "val": (["FaceTalk_170811_03275_TA", "FaceTalk_170908_03277_TA"], (21, 40)),
        "test": (["FaceTalk_170809_00138_TA", "FaceTalk_170731_00024_TA"], (21, 40)),
    },
)

_BIWI_TRAIN = ["F2", "F3", "F4", "M3", "M4", "M5"]
BIWI = DatasetSpec(
    name="biwi",
    fps=25,
    frame_stride=1,
    n_vertices=23370,
    splits={
        "train": (_BIWI_TRAIN, (1, 32)),
        "val": (_BIWI_TRAIN, (33, 36)),
        "test_a": (_BIWI_TRAIN, (37, 40)),  # seen subjects, conditioned on their own identity
        "test_b": (["F1", "F5", "F6", "F7", "F8", "M1", "M2", "M6"], (37, 40)),  # unseen subjects
    },
)


def _read_json(path: Path, what: str):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except json.JSONDecodeError as e:
        raise DatasetError(f"{path}: not valid JSON ({e})") from e
    except (OSError, UnicodeDecodeError) as e:
        raise DatasetError(f"cannot read {what} {path}: {e}") from e


def spec_from_folder(root) -> DatasetSpec:
    """The spec of a corpus built by w2s, from ``ROOT/splits.json`` and ``ROOT/corpus.json``.

    ``splits.json``: ``{"train": {"subjects": [...], "sentences": [lo, hi]}, "val": ..., ...}``; a
    missing or null ``sentences`` means every sentence. Without ``splits.json`` the spec has no
    splits (use ``split="all"``). ``corpus.json`` (optional) may give ``name``, ``fps`` (default 30),
    ``frame_stride`` (default 1) and ``n_vertices``.
    """
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"dataset folder {root} does not exist")
    meta = {}
    if (root / "corpus.json").is_file():
        meta = _read_json(root / "corpus.json", "corpus metadata")
        if not isinstance(meta, dict):
            raise DatasetError(f"{root / 'corpus.json'}: expected a JSON object")
    splits = {}
    sp = root / "splits.json"
    if sp.is_file():
        raw = _read_json(sp, "splits file")
        if not isinstance(raw, dict):
            raise DatasetError(f"{sp}: expected a JSON object {{split: {{subjects, sentences}}}}")
        for name, entry in raw.items():
            if not isinstance(entry, dict) or not isinstance(entry.get("subjects"), list):
                raise DatasetError(f"{sp}: split {name!r} needs a 'subjects' list")
            rng = entry.get("sentences")
            if rng is not None:
                if not (isinstance(rng, list) and len(rng) == 2 and all(isinstance(r, int) for r in rng)):
                    raise DatasetError(
                        f"{sp}: split {name!r}: 'sentences' must be [first, last], got {rng!r}"
                    )
                rng = (rng[0], rng[1])
            splits[name] = (entry["subjects"], rng)
    try:
        return DatasetSpec(
            name=str(meta.get("name", root.name)),
            fps=float(meta.get("fps", 30)),
            frame_stride=int(meta.get("frame_stride", 1)),
            n_vertices=None if meta.get("n_vertices") is None else int(meta["n_vertices"]),
            splits=splits,
        )
    except (TypeError, ValueError) as e:
        raise DatasetError(f"{root}: bad corpus.json / splits.json: {e}") from e


# ---------------------------------------------------------------------------------------------
# files


def parse_stem(stem: str) -> tuple[str, int]:
    """``"FaceTalk_170728_03272_TA_sentence01"`` -> ``("FaceTalk_170728_03272_TA", 1)``; ``"F2_e37"`` -> ``("F2", 37)``."""
    subject, sep, last = stem.rpartition("_")
    m = re.search(r"(\d+)$", last)
    if not sep or not subject or m is None:
        raise ValueError(f"file name {stem!r} is not SUBJECT_SENTENCE (e.g. F2_e01, X_sentence01)")
    return subject, int(m.group(1))


def load_templates(path) -> dict[str, np.ndarray]:
    """``templates.pkl`` as ``{subject: float32 (V, 3)}``.

    Python-2 pickles (VOCA's and FaceFormer's) store array bytes as py2 ``str`` and need
    ``encoding="latin1"``, which is harmless for python-3 pickles, so it is always used.
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"templates file {path} does not exist")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # old pickles name numpy.core
            with open(path, "rb") as f:
                raw = pickle.load(f, encoding="latin1")
    except Exception as e:
        raise DatasetError(f"cannot read templates file {path}: {type(e).__name__}: {e}") from e
    if not isinstance(raw, dict):
        raise DatasetError(
            f"templates file {path}: expected a dict {{subject: (V, 3) array}}, got {type(raw).__name__}"
        )
    out = {}
    for k, v in raw.items():
        name = k.decode("latin1") if isinstance(k, bytes) else str(k)
        try:
            a = np.asarray(v, dtype=np.float32)
        except (TypeError, ValueError) as e:
            raise DatasetError(f"templates file {path}: subject {name!r}: not a numeric array") from e
        if a.ndim == 1 and a.size % 3 == 0:
            a = a.reshape(-1, 3)
        if a.ndim != 2 or a.shape[1] != 3 or a.shape[0] == 0:
            raise DatasetError(
                f"templates file {path}: subject {name!r}: expected shape (V, 3), got {a.shape}"
            )
        if not np.isfinite(a).all():
            raise DatasetError(f"templates file {path}: subject {name!r}: template contains NaN/inf")
        out[name] = a
    return out


def load_region(path, n_vertices: int | None = None) -> np.ndarray:
    """Vertex indices from a text file: integers separated by whitespace and/or commas."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise DatasetError(f"cannot read region file {path}: {e}") from e
    tokens = [t for t in re.split(r"[\s,]+", text) if t]
    try:
        idx = np.array([int(t) for t in tokens], dtype=np.int64)
    except ValueError as e:
        raise DatasetError(f"region file {path}: not a list of integer vertex indices ({e})") from e
    if idx.size == 0:
        raise DatasetError(f"region file {path} is empty")
    if idx.min() < 0 or (n_vertices is not None and idx.max() >= n_vertices):
        raise DatasetError(
            f"region file {path}: indices range over [{idx.min()}, {idx.max()}] "
            f"but the mesh has {n_vertices} vertices"
        )
    return idx


_REGION_FILES = {"lips": ("lips.txt", "lve.txt"), "upper_face": ("upper_face.txt", "fdd.txt")}


def load_transcripts(root) -> dict[str, str]:
    """``ROOT/transcripts.json`` ({stem: text}), or {} when absent."""
    p = Path(root) / "transcripts.json"
    if not p.is_file():
        return {}
    d = _read_json(p, "transcripts file")
    if not isinstance(d, dict):
        raise DatasetError(f"{p}: expected a JSON object {{stem: text}}")
    return {str(k): str(v) for k, v in d.items()}


def load_alignments(root) -> dict[str, dict]:
    """``ROOT/alignments.json`` ({stem: {"phonemes": [...], "words": [...]}}), or {} when absent."""
    p = Path(root) / "alignments.json"
    if not p.is_file():
        return {}
    d = _read_json(p, "alignments file")
    if not isinstance(d, dict) or not all(isinstance(v, dict) for v in d.values()):
        raise DatasetError(f"{p}: expected a JSON object {{stem: {{'phonemes': [...], 'words': [...]}}}}")
    return d


def _norm_word(w: str) -> str:
    return re.sub(r"[^\w']+", "", str(w).casefold()).strip("'")


def pair_word_spans(alignment, words: Iterable[str]) -> list[tuple[float, float]]:
    """Time spans ``(start_s, end_s)`` of the words of `alignment` that are in `words`.

    Matching ignores case and punctuation (``"Thin,"`` matches ``"thin"``; inner apostrophes are kept).
    `alignment` is one entry of ``alignments.json`` (a dict with ``"words"``) or its word list.
    The result feeds :func:`w2s.evaluation.metrics.homophone_lve`.
    """
    wanted = {_norm_word(w) for w in words} - {""}
    items = alignment.get("words", []) if isinstance(alignment, dict) else list(alignment or [])
    spans = []
    for w in items:
        if _norm_word(w.get("word", "")) in wanted:
            spans.append((float(w["start"]), float(w["end"])))
    return spans


# ---------------------------------------------------------------------------------------------
# dataset


@dataclass(frozen=True)
class _Entry:
    stem: str
    subject: str
    sentence: int
    wav: Path
    npy: Path
    n_frames: int  # served frames, after the stride


class FaceDataset(Dataset):
    """Audio + vertex sequences of one split, in the FaceFormer/VOCASET layout.

    Args:
        root: the dataset folder.
        split: a split of the spec (VOCASET: train/val/test; BIWI: train/val/test_a/test_b), or
            ``"all"`` for every sequence in the folder.
        spec: :data:`VOCASET`, :data:`BIWI`, or None to read :func:`spec_from_folder` (our corpus).
        audio_sr: sample rate served (audio is resampled to it, with a warning).
        length_tolerance_s, length_tolerance_frac: audio duration and motion duration
            (frames / native fps) may differ by up to ``max(length_tolerance_s,
            length_tolerance_frac * longer duration)``; e.g. 0.1 s, or 5 % of a 4 s clip = 0.2 s.
            A larger gap raises :class:`DatasetError`. ``length_tolerance_s=None`` disables the check.
        unpaired: ``"error"`` (default) raises for a ``.npy`` without its ``.wav`` or the reverse;
            ``"skip"`` leaves such sequences out with a warning.

    An item is a dict: ``audio`` float32 tensor (N,), ``vertices`` float32 tensor (T, V, 3) at
    ``spec.fps``, ``template`` float32 tensor (V, 3), ``subject``, ``subject_index`` (position in the
    spec's train subjects, -1 for an unseen subject), ``sentence`` (int), ``stem``, ``fps``, and
    ``transcript`` / ``alignment`` when the folder has them for that stem.

    Attributes: ``lips``, ``upper_face`` (int64 index arrays or None), ``faces`` ((F, 3) or None),
    ``templates``, ``train_subjects``, ``subjects`` (of this split, in order of appearance).
    """

    def __init__(
        self,
        root,
        split: str = "train",
        spec: DatasetSpec | None = None,
        audio_sr: int = SAMPLE_RATE,
        length_tolerance_s: float | None = 0.1,
        length_tolerance_frac: float = 0.05,
        unpaired: str = "error",
    ):
        self.root = Path(root)
        if not self.root.is_dir():
            raise DatasetError(f"dataset folder {self.root} does not exist")
        if unpaired not in ("error", "skip"):
            raise ValueError(f"unpaired must be 'error' or 'skip', got {unpaired!r}")
        self.spec = spec if spec is not None else spec_from_folder(self.root)
        self.split = split
        self.audio_sr = int(audio_sr)
        self.fps = float(self.spec.fps)
        self.length_tolerance_s = length_tolerance_s
        self.length_tolerance_frac = float(length_tolerance_frac)
        self.train_subjects = self.spec.train_subjects
        self._subject_index = {s: i for i, s in enumerate(self.train_subjects)}

        wav_dir, npy_dir = self.root / "wav", self.root / "vertices_npy"
        for d in (wav_dir, npy_dir):
            if not d.is_dir():
                raise DatasetError(f"dataset folder {self.root}: missing folder {d}")
        self.templates = load_templates(self.root / "templates.pkl")

        if split == "all":
            subjects, rng = None, None
        elif split in self.spec.splits:
            subjects, rng = self.spec.splits[split]
        else:
            raise DatasetError(
                f"dataset {self.spec.name} at {self.root}: unknown split {split!r}; "
                f"available: {sorted(self.spec.splits) + ['all']}"
            )

        def selected(stem: str, path: Path) -> tuple[str, int] | None:
            try:
                subj, sent = parse_stem(stem)
            except ValueError as e:
                raise DatasetError(f"{path}: {e}") from e
            if subjects is not None and subj not in subjects:
                return None
            if rng is not None and not (rng[0] <= sent <= rng[1]):
                return None
            return subj, sent

        wavs = {p.stem: p for p in wav_dir.glob("*.wav")}
        npys = {p.stem: p for p in npy_dir.glob("*.npy")}
        chosen: dict[str, tuple[str, int]] = {}
        for stem, p in list(wavs.items()) + list(npys.items()):
            key = selected(stem, p)
            if key is not None:
                chosen[stem] = key
        for stem in sorted(chosen):
            missing = None
            if stem not in wavs:
                missing = (npys[stem], wav_dir / f"{stem}.wav")
            elif stem not in npys:
                missing = (wavs[stem], npy_dir / f"{stem}.npy")
            if missing is None:
                continue
            msg = f"{missing[0]} has no matching {missing[1]}"
            if unpaired == "error":
                raise DatasetError(msg + " (pass unpaired='skip' to leave such sequences out)")
            warnings.warn(msg + "; sequence skipped", UserWarning, stacklevel=2)
            del chosen[stem]

        order = {s: i for i, s in enumerate(subjects or [])}
        stems = sorted(
            chosen, key=lambda s: (order.get(chosen[s][0], len(order)), chosen[s][0], chosen[s][1], s)
        )
        if not stems:
            what = "" if subjects is None else f" (subjects {list(subjects)}, sentences {rng})"
            raise DatasetError(f"dataset folder {self.root}: no sequences for split {split!r}{what}")

        self.entries: list[_Entry] = []
        for stem in stems:
            subj, sent = chosen[stem]
            self.entries.append(self._check_entry(stem, subj, sent, wavs[stem], npys[stem]))
        self.subjects = list(dict.fromkeys(e.subject for e in self.entries))
        self.n_vertices = self.templates[self.entries[0].subject].shape[0]
        for s in self.subjects:
            if self.templates[s].shape[0] != self.n_vertices:
                raise DatasetError(
                    f"{self.root / 'templates.pkl'}: template of {s!r} has {self.templates[s].shape[0]} vertices "
                    f"but that of {self.subjects[0]!r} has {self.n_vertices}; one split needs one mesh topology"
                )

        self.transcripts = load_transcripts(self.root)
        self.alignments = load_alignments(self.root)
        self.lips = self._region("lips")
        self.upper_face = self._region("upper_face")
        self.faces = self._faces()

    # -- checks ------------------------------------------------------------------------------

    def _check_entry(self, stem, subj, sent, wav: Path, npy: Path) -> _Entry:
        if subj not in self.templates:
            raise DatasetError(
                f"{self.root / 'templates.pkl'}: no template for subject {subj!r} (needed by {npy.name}); "
                f"it has {sorted(self.templates)}"
            )
        v_tmpl = self.templates[subj].shape[0]
        if self.spec.n_vertices is not None and v_tmpl != self.spec.n_vertices:
            raise DatasetError(
                f"{self.root / 'templates.pkl'}: template of {subj!r} has {v_tmpl} vertices, "
                f"dataset {self.spec.name} has {self.spec.n_vertices}"
            )
        try:
            arr = np.load(npy, mmap_mode="r", allow_pickle=False)
            shape = arr.shape
            dtype = arr.dtype
            del arr
        except Exception as e:
            raise DatasetError(f"cannot read vertices file {npy}: {type(e).__name__}: {e}") from e
        n_vert = _vertex_count(shape)
        if n_vert is None or not np.issubdtype(dtype, np.number):
            raise DatasetError(f"vertices file {npy}: expected a numeric (T, V*3) array, got {dtype} {shape}")
        if shape[0] == 0:
            raise DatasetError(f"vertices file {npy} has 0 frames")
        if n_vert != v_tmpl:
            raise DatasetError(
                f"vertices file {npy}: {n_vert} vertices per frame, but the template of {subj!r} has {v_tmpl}"
            )
        try:
            n_samples, sr, _ = audio_info(wav)
        except AudioError as e:
            raise DatasetError(str(e)) from e
        if n_samples == 0:
            raise DatasetError(f"audio file {wav} is empty (0 samples)")
        if self.length_tolerance_s is not None:
            t_audio = n_samples / sr
            t_motion = shape[0] / self.spec.native_fps
            tol = max(self.length_tolerance_s, self.length_tolerance_frac * max(t_audio, t_motion))
            if abs(t_audio - t_motion) > tol:
                raise DatasetError(
                    f"{wav.name} lasts {t_audio:.3f} s but {npy.name} lasts {t_motion:.3f} s "
                    f"({shape[0]} frames at {self.spec.native_fps:g} fps), more than the {tol:.3f} s "
                    f"tolerance apart ({wav} / {npy})"
                )
        n_frames = math.ceil(shape[0] / self.spec.frame_stride)
        return _Entry(stem, subj, sent, wav, npy, n_frames)

    def _region(self, key: str) -> np.ndarray | None:
        for name in _REGION_FILES[key]:
            p = self.root / "regions" / name
            if p.is_file():
                return load_region(p, self.n_vertices)
        return None

    def _faces(self) -> np.ndarray | None:
        p = self.root / "faces.npy"
        if not p.is_file():
            return None
        try:
            f = np.load(p, allow_pickle=False)
        except Exception as e:
            raise DatasetError(f"cannot read faces file {p}: {e}") from e
        if f.ndim != 2 or f.shape[1] != 3 or not np.issubdtype(f.dtype, np.integer):
            raise DatasetError(f"faces file {p}: expected integer (F, 3) triangles, got {f.dtype} {f.shape}")
        if f.size and (f.min() < 0 or f.max() >= self.n_vertices):
            raise DatasetError(f"faces file {p}: indices outside [0, {self.n_vertices - 1}]")
        return f.astype(np.int64)

    # -- access ------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.entries)

    @property
    def stems(self) -> list[str]:
        return [e.stem for e in self.entries]

    def subject_index(self, subject: str) -> int:
        """Position of `subject` in the train subjects (the one-hot order), -1 when unseen."""
        return self._subject_index.get(subject, -1)

    def load_vertices(self, i: int) -> np.ndarray:
        """Vertices of item `i` as float32 (T, V, 3) at ``spec.fps``; raises on NaN/inf."""
        e = self.entries[i]
        try:
            a = np.load(e.npy, allow_pickle=False)
        except Exception as err:
            raise DatasetError(f"cannot read vertices file {e.npy}: {type(err).__name__}: {err}") from err
        a = np.asarray(a, dtype=np.float32)
        a = a.reshape(a.shape[0], -1, 3)[:: self.spec.frame_stride]
        bad = ~np.isfinite(a)
        if bad.any():
            frame = int(np.argwhere(bad)[0][0]) * self.spec.frame_stride
            raise DatasetError(
                f"vertices file {e.npy} contains {int(bad.sum())} NaN/inf value(s), the first in frame {frame}"
            )
        return np.ascontiguousarray(a)

    def load_audio(self, i: int) -> np.ndarray:
        e = self.entries[i]
        try:
            return load_audio(e.wav, self.audio_sr)
        except AudioError as err:
            raise DatasetError(str(err)) from err

    def __getitem__(self, i: int) -> dict:
        if not -len(self) <= i < len(self):
            raise IndexError(f"index {i} out of range for {len(self)} sequences")
        i = i % len(self)
        e = self.entries[i]
        item = {
            "audio": torch.from_numpy(self.load_audio(i)),
            "vertices": torch.from_numpy(self.load_vertices(i)),
            "template": torch.from_numpy(self.templates[e.subject].copy()),
            "subject": e.subject,
            "subject_index": self.subject_index(e.subject),
            "sentence": e.sentence,
            "stem": e.stem,
            "fps": self.fps,
        }
        if e.stem in self.transcripts:
            item["transcript"] = self.transcripts[e.stem]
        if e.stem in self.alignments:
            item["alignment"] = self.alignments[e.stem]
        return item

    def validate(self) -> None:
        """Load every item once (vertex values, audio decoding); raises :class:`DatasetError` on the first bad one."""
        for i in range(len(self)):
            self.load_vertices(i)
            self.load_audio(i)

    def __repr__(self) -> str:
        return (
            f"FaceDataset({self.spec.name!r}, split={self.split!r}, {len(self)} sequences, "
            f"{len(self.subjects)} subjects, {self.n_vertices} vertices, {self.fps:g} fps)"
        )


def _vertex_count(shape: tuple) -> int | None:
    if len(shape) == 2 and shape[1] % 3 == 0 and shape[1] > 0:
        return shape[1] // 3
    if len(shape) == 3 and shape[2] == 3 and shape[1] > 0:
        return shape[1]
    return None


# ---------------------------------------------------------------------------------------------
# batching


def collate(batch: list[dict]) -> dict:
    """Batch items of :class:`FaceDataset` (any batch size, 1 included), padding to the longest.

    Returns ``audio`` (B, N) and ``vertices`` (B, T, V, 3), zero-padded, with ``audio_mask`` (B, N)
    and ``vertex_mask`` (B, T) bool masks (True = real sample/frame), ``audio_lengths`` and
    ``vertex_lengths`` (B,) int64, ``template`` (B, V, 3), ``subject_index`` (B,) int64, ``fps``
    (a float; all items must share it), and lists ``stem``, ``subject``, ``sentence``,
    ``transcript`` and ``alignment`` (None where an item has none).
    """
    if not batch:
        raise ValueError("collate: empty batch")
    fps = {float(b["fps"]) for b in batch}
    if len(fps) > 1:
        raise ValueError(f"collate: items have different frame rates {sorted(fps)}")
    n_vert = {tuple(b["vertices"].shape[1:]) for b in batch} | {tuple(b["template"].shape) for b in batch}
    if len(n_vert) > 1:
        raise ValueError(f"collate: items have different vertex counts {sorted(n_vert)}")
    audio = [torch.as_tensor(b["audio"], dtype=torch.float32) for b in batch]
    verts = [torch.as_tensor(b["vertices"], dtype=torch.float32) for b in batch]
    a_len = torch.tensor([len(a) for a in audio], dtype=torch.long)
    v_len = torch.tensor([len(v) for v in verts], dtype=torch.long)
    B = len(batch)
    a_out = torch.zeros(B, int(a_len.max()), dtype=torch.float32)
    v_out = torch.zeros(B, int(v_len.max()), *verts[0].shape[1:], dtype=torch.float32)
    for i, (a, v) in enumerate(zip(audio, verts, strict=True)):
        a_out[i, : len(a)] = a
        v_out[i, : len(v)] = v
    return {
        "audio": a_out,
        "audio_mask": torch.arange(a_out.shape[1])[None, :] < a_len[:, None],
        "audio_lengths": a_len,
        "vertices": v_out,
        "vertex_mask": torch.arange(v_out.shape[1])[None, :] < v_len[:, None],
        "vertex_lengths": v_len,
        "template": torch.stack([torch.as_tensor(b["template"], dtype=torch.float32) for b in batch]),
        "subject_index": torch.tensor([int(b["subject_index"]) for b in batch], dtype=torch.long),
        "fps": fps.pop(),
        "stem": [b["stem"] for b in batch],
        "subject": [b["subject"] for b in batch],
        "sentence": [b["sentence"] for b in batch],
        "transcript": [b.get("transcript") for b in batch],
        "alignment": [b.get("alignment") for b in batch],
    }
