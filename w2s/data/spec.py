"""Dataset specs: what a FaceFormer-layout dataset is (fps, frame stride, vertex count, splits), the
standard VOCASET and BIWI protocols, and the spec a folder describes (our corpus's corpus.json)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from w2s.utils import io


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


def read_json(path: Path, what: str, **checks):
    """:func:`w2s.utils.io.read_json` (the one JSON reader: errors name the file and the key) as a DatasetError."""
    try:
        return io.read_json(path, what, **checks)
    except io.JSONFileError as e:
        raise DatasetError(str(e)) from None


def dataset_folder(root, option: str | None = None) -> Path:
    """`root`, an existing folder; else DatasetError saying what it is instead (naming `option` if given)."""
    root = Path(root)
    if not root.is_dir():
        what = "is a file, not a folder" if root.exists() else "does not exist"
        raise DatasetError(f"{option + ': ' if option else ''}dataset folder {root} {what}")
    return root


def spec_from_folder(root) -> DatasetSpec:
    """The spec of a corpus built by w2s, from ``ROOT/splits.json`` and ``ROOT/corpus.json``.

    ``splits.json``: ``{"train": {"subjects": [...], "sentences": [lo, hi]}, "val": ..., ...}``; a
    missing or null ``sentences`` means every sentence. Without ``splits.json`` the spec has no
    splits (use ``split="all"``). ``corpus.json`` (optional) may give ``name``, ``fps`` (default 30),
    ``frame_stride`` (default 1) and ``n_vertices``.
    """
    root = dataset_folder(root)
    meta = {}
    if (root / "corpus.json").is_file():
        meta = read_json(root / "corpus.json", "corpus metadata")
        if not isinstance(meta, dict):
            raise DatasetError(f"{root / 'corpus.json'}: expected a JSON object")
    splits = {}
    sp = root / "splits.json"
    if sp.is_file():
        raw = read_json(sp, "splits file")
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
