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
counts agree (file, template, spec), the audio is not empty, audio and motion durations agree, and
alignment times lie within the audio (see :class:`FaceDataset`). Reading the vertex *values* (NaN/inf)
happens when an item is loaded; :meth:`FaceDataset.validate` loads every item once. Every failure raises
:class:`DatasetError` naming the file and the problem.

Pickles can run code when loaded: only read ``templates.pkl`` files from sources you trust.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from w2s.data.audio import SAMPLE_RATE, AudioError, audio_info, load_audio
from w2s.data.batch import Batch, pad
from w2s.data.files import (
    REGION_FILES,
    load_alignments,
    load_faces,
    load_region,
    load_templates,
    load_transcripts,
    parse_stem,
)
from w2s.data.spec import DatasetError, DatasetSpec, dataset_folder, spec_from_folder

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
    audio_seconds: float


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
            A larger gap raises :class:`DatasetError`, as do alignment times outside a clip's audio by
            more than that tolerance. ``length_tolerance_s=None`` disables both checks.
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
        self.root = dataset_folder(root)
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

        stems, chosen, wavs, npys = self._select(split, wav_dir, npy_dir, unpaired)

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
        self._check_alignments()
        self.lips = self._region("lips")
        self.upper_face = self._region("upper_face")
        self.faces = self._faces()

    # -- checks ------------------------------------------------------------------------------

    def _select(self, split: str, wav_dir: Path, npy_dir: Path, unpaired: str):
        """The split's stems in VOCASET order (subject order of the spec, then sentence), with their
        (subject, sentence) and the wav / npy files; unpaired files raise or are skipped with a warning."""
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
            warnings.warn(msg + "; sequence skipped", UserWarning, stacklevel=3)
            del chosen[stem]

        order = {s: i for i, s in enumerate(subjects or [])}
        stems = sorted(
            chosen, key=lambda s: (order.get(chosen[s][0], len(order)), chosen[s][0], chosen[s][1], s)
        )
        if not stems:
            what = "" if subjects is None else f" (subjects {list(subjects)}, sentences {rng})"
            raise DatasetError(f"dataset folder {self.root}: no sequences for split {split!r}{what}")
        return stems, chosen, wavs, npys


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
        t_audio = n_samples / sr
        if self.length_tolerance_s is not None:
            t_motion = shape[0] / self.spec.native_fps
            tol = max(self.length_tolerance_s, self.length_tolerance_frac * max(t_audio, t_motion))
            if abs(t_audio - t_motion) > tol:
                raise DatasetError(
                    f"{wav.name} lasts {t_audio:.3f} s but {npy.name} lasts {t_motion:.3f} s "
                    f"({shape[0]} frames at {self.spec.native_fps:g} fps), more than the {tol:.3f} s "
                    f"tolerance apart ({wav} / {npy})"
                )
        n_frames = math.ceil(shape[0] / self.spec.frame_stride)
        return _Entry(stem, subj, sent, wav, npy, n_frames, t_audio)

    def _check_alignments(self) -> None:
        """Every word and phoneme time of this split's alignments lies within its clip's audio (up to the
        length tolerance), before any work: times past a wav's end would silently leave the homophone
        metrics without words. A DatasetError names the file, the first such clip and how many there are."""
        if self.length_tolerance_s is None:
            return
        bad = []
        for e in self.entries:
            tol = max(self.length_tolerance_s, self.length_tolerance_frac * e.audio_seconds)
            items = [x for key in ("words", "phonemes") for x in self.alignments.get(e.stem, {}).get(key, [])]
            outside = [x for x in items if not -tol <= x["start"] <= x["end"] <= e.audio_seconds + tol]
            if outside:
                bad.append((e, outside[0]))
        if bad:
            e, x = bad[0]
            label = x.get("word", x.get("symbol"))
            raise DatasetError(
                f"alignments file {self.root / 'alignments.json'}: {len(bad)} of the {len(self)} clips of split "
                f"{self.split!r} have times outside their audio, e.g. {e.stem}: {label!r} at {x['start']:g}-"
                f"{x['end']:g} s, but {e.wav.name} lasts {e.audio_seconds:.3f} s "
                f"(clips: {', '.join(b[0].stem for b in bad[:5])}{', ...' if len(bad) > 5 else ''})"
            )

    def _region(self, key: str) -> np.ndarray | None:
        for name in REGION_FILES[key]:
            p = self.root / "regions" / name
            if p.is_file():
                return load_region(p, self.n_vertices)
        return None

    def _faces(self) -> np.ndarray | None:
        p = self.root / "faces.npy"
        return load_faces(p, self.n_vertices) if p.is_file() else None

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


def collate(items: list[dict]) -> Batch:
    """Batch items of :class:`FaceDataset` (any batch size, 1 included), padding to the longest.

    A :class:`w2s.data.batch.Batch`: ``audio`` (B, N) and ``vertices`` (B, T, V, 3) zero-padded with
    their masks, ``template`` (B, V, 3), ``subject_index`` (B,), ``fps`` (all items must share it), the
    lists ``stems``, ``subjects``, ``sentences``, ``transcripts``, ``alignments`` (None where an item
    has none); ``features`` (F_p) and ``F_s`` when every item carries them.
    """
    if not items:
        raise ValueError("collate: empty batch")
    fps = {float(b["fps"]) for b in items}
    if len(fps) > 1:
        raise ValueError(f"collate: items have different frame rates {sorted(fps)}")
    n_vert = {tuple(b["vertices"].shape[1:]) for b in items} | {tuple(b["template"].shape) for b in items}
    if len(n_vert) > 1:
        raise ValueError(f"collate: items have different vertex counts {sorted(n_vert)}")
    audio, audio_mask = pad([b["audio"] for b in items])  # (B, N)
    vertices, vertex_mask = pad([b["vertices"] for b in items])  # (B, T, V, 3)
    features = feature_mask = F_s = None
    if all("features" in b for b in items):  # F_p, when a dataset adds it
        features, feature_mask = pad([b["features"] for b in items])  # (B, T, C_p)
    if all("F_s" in b for b in items):
        F_s = torch.stack([torch.as_tensor(b["F_s"], dtype=torch.float32) for b in items])  # (B, C_s)
    return Batch(
        template=torch.stack([torch.as_tensor(b["template"], dtype=torch.float32) for b in items]),
        subject_index=torch.tensor([int(b["subject_index"]) for b in items], dtype=torch.long),
        vertices=vertices, vertex_mask=vertex_mask, audio=audio, audio_mask=audio_mask,
        features=features, feature_mask=feature_mask, F_s=F_s, fps=fps.pop(),
        stems=[b["stem"] for b in items], subjects=[b["subject"] for b in items],
        sentences=[b["sentence"] for b in items], transcripts=[b.get("transcript") for b in items],
        alignments=[b.get("alignment") for b in items],
    )  # fmt: skip
