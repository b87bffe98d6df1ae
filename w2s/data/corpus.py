"""One handle on a corpus built by `w2s corpus build`: metadata, splits, text, timings, pairs, meshes.

    corpus = Corpus.load_or_build("smoke", seed=0)        # or Corpus("data/corpus/synthtalk-smoke-seed0")
    corpus.stems("test")                                  # the stems of a split, in FaceDataset order
    corpus.transcripts[stem], corpus.alignments[stem]     # {stem: text}, {stem: {"phonemes", "words"}}
    corpus.pairs("near"), corpus.word_spans(stem, words)  # pairs.json per group; where the words are said
    corpus.lips, corpus.templates, corpus.faces           # regions, {subject: (V, 3)}, (F, 3)
    corpus.dataset("train"), corpus.stats()               # a FaceDataset; the counts notebook 00 shows

Every file is read on first use, once, through the validated readers of `w2s.data.faces`; a missing or
malformed file raises :class:`~w2s.data.spec.DatasetError` naming the file and the problem. The folder
layout is described in `w2s.corpus.build`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from w2s.corpus.build import load_or_build
from w2s.corpus.pairs import GROUPS
from w2s.corpus.visemes import viseme_of
from w2s.data.faces import FaceDataset
from w2s.data.files import (
    load_alignments,
    load_faces,
    load_region,
    load_templates,
    load_transcripts,
    normalise_word,
    pair_word_spans,
    parse_stem,
)
from w2s.data.spec import DatasetError, DatasetSpec, read_json, spec_from_folder
from w2s.utils.hashing import key_of, tree_sha256
from w2s.utils.io import write_json
from w2s.utils.paths import cache_dir

log = logging.getLogger(__name__)

REQUIRED = ("corpus.json", "splits.json", "transcripts.json", "alignments.json", "pairs.json")
SPLIT_ORDER = ("train", "val", "test")  # VOCASET's; other split names follow, sorted


@dataclass(frozen=True)
class CorpusStats:
    """What the corpus holds, as notebook 00 tabulates it."""

    splits: list[dict]  # per split: split, subjects, sequences, minutes, mean seconds
    pairs_per_group: dict[str, int]  # pairs.json entries per group (near, same_viseme, far)
    train_occurrences: dict[str, int]  # near-pair word -> training sentences that say it
    viseme_counts: dict[str, int]  # phoneme segments per viseme class, over every utterance

    @property
    def minutes(self) -> float:
        return float(sum(r["minutes"] for r in self.splits))


class Corpus:
    """A corpus folder written by `w2s corpus build` (FaceFormer layout plus our JSON files)."""

    @staticmethod
    def is_built(folder) -> bool:
        """Does `folder` hold every file a built corpus has (a VOCASET or BIWI folder does not)?"""
        return all((Path(folder) / name).is_file() for name in REQUIRED)

    def __init__(self, root):
        self.root = Path(root)
        for name in REQUIRED:
            if not (self.root / name).is_file():
                raise DatasetError(
                    f"{self.root / name} is missing: is {self.root} a corpus built by `w2s corpus build`?"
                )

    @classmethod
    def open(cls, corpus) -> Corpus:
        """`corpus` itself when it is a Corpus, else ``Corpus(corpus)`` (a folder)."""
        return corpus if isinstance(corpus, Corpus) else cls(corpus)

    @classmethod
    def load_or_build(cls, preset: str = "default", seed: int = 0, root=None) -> Corpus:
        """The corpus for (preset, seed) under data/corpus/ (or `root`): reused when built, else built."""
        return cls(load_or_build(preset, seed, root))

    def __fspath__(self) -> str:  # a Corpus goes wherever a corpus folder is expected
        return str(self.root)

    def __repr__(self) -> str:
        return f"Corpus({str(self.root)!r}: {self.meta.get('n_sequences')} sequences, preset {self.preset!r})"

    # -- metadata ----------------------------------------------------------------------------

    @cached_property
    def meta(self) -> dict:
        """corpus.json as written by the builder."""
        meta = read_json(self.root / "corpus.json", "corpus metadata")
        if not isinstance(meta, dict):
            raise DatasetError(f"{self.root / 'corpus.json'}: expected a JSON object")
        return meta

    @cached_property
    def spec(self) -> DatasetSpec:
        return spec_from_folder(self.root)

    def _field(self, key: str):
        if key not in self.meta:
            raise DatasetError(f"{self.root / 'corpus.json'} has no {key!r} field")
        return self.meta[key]

    @property
    def fps(self) -> float:
        return float(self.spec.fps)

    @property
    def sample_rate(self) -> int:
        return int(self._field("sample_rate"))

    @property
    def preset(self) -> str | None:
        return (self.meta.get("preset") or {}).get("name")

    @property
    def seed(self) -> int:
        return int(self._field("seed"))

    @cached_property
    def content_sha256(self) -> str:
        """The corpus's identity (cache keys, run records): its files' hash, checked (:func:`content_sha256`)."""
        return content_sha256(self.root)

    @property
    def speakers(self) -> list[dict]:
        """Per subject: voice, rate, pitch, head shape and articulation style (the builder's choices)."""
        return list(self._field("speakers"))

    # -- splits ------------------------------------------------------------------------------

    @property
    def split_names(self) -> list[str]:
        names = list(self.spec.splits)
        return sorted(names, key=lambda s: (SPLIT_ORDER.index(s) if s in SPLIT_ORDER else len(SPLIT_ORDER), s))

    def _split(self, split: str) -> tuple[tuple[str, ...], tuple[int, int] | None]:
        if split not in self.spec.splits:
            raise DatasetError(f"{self.root / 'splits.json'}: no split {split!r}; it has {self.split_names}")
        return self.spec.splits[split]

    def subjects(self, split: str) -> list[str]:
        return list(self._split(split)[0])

    def stems(self, split: str = "all") -> list[str]:
        """The utterances of `split` (or all of them), in the order of ``FaceDataset(root, split).stems``."""
        found = sorted(p.stem for p in (self.root / "wav").glob("*.wav"))
        if split == "all":
            return found
        subjects, rng = self._split(split)
        order = {s: i for i, s in enumerate(subjects)}
        keep = []
        for stem in found:
            subject, sentence = parse_stem(stem)
            if subject in order and (rng is None or rng[0] <= sentence <= rng[1]):
                keep.append((order[subject], sentence, stem))
        return [stem for *_, stem in sorted(keep)]

    def dataset(self, split: str = "train", **kwargs) -> FaceDataset:
        """The split as a :class:`FaceDataset` (audio, vertices, template, transcript, alignment per item)."""
        return FaceDataset(self.root, split=split, spec=self.spec, **kwargs)

    def n_frames(self, stem: str) -> int:
        """Frames of one utterance's vertex sequence (read from the .npy header)."""
        path = self.root / "vertices_npy" / f"{stem}.npy"
        try:
            n = np.load(path, mmap_mode="r", allow_pickle=False).shape[0]
        except Exception as e:
            raise DatasetError(f"cannot read vertices file {path}: {type(e).__name__}: {e}") from e
        return math.ceil(n / self.spec.frame_stride)

    # -- text, timings, pairs ----------------------------------------------------------------

    @cached_property
    def transcripts(self) -> dict[str, str]:
        return load_transcripts(self.root)

    @cached_property
    def alignments(self) -> dict[str, dict]:
        return load_alignments(self.root)

    @cached_property
    def _pairs(self) -> list[dict]:
        path = self.root / "pairs.json"
        pairs = read_json(path, "pairs file")
        need = {"word_a", "word_b", "group"}
        if not isinstance(pairs, list) or not all(isinstance(p, dict) and need <= set(p) for p in pairs):
            raise DatasetError(f"{path}: expected a JSON list of pairs with {sorted(need)}")
        unknown = {p["group"] for p in pairs} - set(GROUPS)
        if unknown:
            raise DatasetError(f"{path}: unknown pair group(s) {sorted(unknown)}; expected {list(GROUPS)}")
        return pairs

    def pairs(self, group: str | None = None) -> list[dict]:
        """pairs.json, or the pairs of one group (near, same_viseme, far), in file order."""
        if group is not None and group not in GROUPS:
            raise ValueError(f"unknown pair group {group!r}; choose one of {list(GROUPS)}")
        return [p for p in self._pairs if group is None or p["group"] == group]

    def pair_words(self, group: str | None = "near") -> list[str]:
        return [w for p in self.pairs(group) for w in (p["word_a"], p["word_b"])]

    def word_spans(self, stem: str, words: Iterable[str]) -> list[tuple[float, float]]:
        """(start, end) seconds of every word of `words` said in utterance `stem` (case and punctuation ignored)."""
        if stem not in self.alignments:
            raise KeyError(f"{self.root / 'alignments.json'} has no utterance {stem!r}")
        return pair_word_spans(self.alignments[stem], words)

    def target_stems(self, words: Iterable[str]) -> list[tuple[str, str]]:
        """(stem, word) of the sentences built around one of `words`, sorted by word, then stem."""
        wanted = set(words)
        found = [(s, a.get("target_word")) for s, a in self.alignments.items() if a.get("target_word") in wanted]
        return sorted(found, key=lambda r: (r[1], r[0]))

    # -- meshes ------------------------------------------------------------------------------

    @cached_property
    def templates(self) -> dict[str, np.ndarray]:
        return load_templates(self.root / "templates.pkl")

    @property
    def n_vertices(self) -> int:
        return int(self.spec.n_vertices or next(iter(self.templates.values())).shape[0])

    @cached_property
    def regions(self) -> dict[str, np.ndarray]:
        """{"lips": indices, "upper_face": indices}: the vertices LVE and FDD are measured on."""
        return {k: load_region(self.root / "regions" / f"{k}.txt", self.n_vertices) for k in ("lips", "upper_face")}

    @property
    def lips(self) -> np.ndarray:
        return self.regions["lips"]

    @property
    def upper_face(self) -> np.ndarray:
        return self.regions["upper_face"]

    @cached_property
    def faces(self) -> np.ndarray:
        """(F, 3) int64 triangles of the shared topology."""
        return load_faces(self.root / "faces.npy", self.n_vertices)

    # -- statistics --------------------------------------------------------------------------

    def stats(self) -> CorpusStats:
        """Sequences, subjects and minutes per split; pairs per group; how often the training split says
        each near-pair word; phoneme segments per viseme class."""
        rows = []
        for split in self.split_names:
            stems = self.stems(split)
            frames = [self.n_frames(s) for s in stems]
            rows.append({"split": split, "subjects": len({parse_stem(s)[0] for s in stems}), "sequences": len(stems),
                         "minutes": sum(frames) / self.fps / 60, "mean seconds": float(np.mean(frames)) / self.fps})  # fmt: skip
        said = {s: {normalise_word(w["word"]) for w in self.alignments[s]["words"]} for s in self.stems("train")}
        occurrences = {w: sum(normalise_word(w) in words for words in said.values()) for w in self.pair_words("near")}
        visemes: dict[str, int] = {}
        for a in self.alignments.values():
            for p in a["phonemes"]:
                c = viseme_of(p["symbol"])
                visemes[c] = visemes.get(c, 0) + 1
        return CorpusStats(rows, {g: len(self.pairs(g)) for g in GROUPS}, occurrences, visemes)


def content_sha256(root) -> str:
    """The hash `w2s corpus build` records as corpus.json's ``content_sha256`` (every file's path and bytes
    but corpus.json's), of the files as they are: the recorded value is checked, not trusted. A corpus
    changed since it was built (a file edited, added or cut) gets the hash of what it now holds, so
    nothing cached for the old files is reused, and a note (``-v``) says corpus.json's value is stale.

    The files are read once per state: the result is kept under ``cache_dir("corpus-hashes")``, keyed
    by every file's path, size, inode and times, so a later call only lists and stats the files."""
    root = Path(root)
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.name != "corpus.json")
    memo = cache_dir("corpus-hashes") / f"{key_of([_file_state(p, root) for p in files], n=32)}.json"
    try:
        actual = read_json(memo, "corpus hash memo", required_keys={"content_sha256": str})["content_sha256"]
    except DatasetError:
        actual = tree_sha256(root, skip="corpus.json")
        write_json(memo, {"root": str(root.resolve()), "content_sha256": actual})
    meta = root / "corpus.json"
    recorded = read_json(meta, "corpus metadata", kind=dict).get("content_sha256") if meta.is_file() else None
    if recorded != actual:
        log.info("%s: content_sha256 %s does not match the files (changed since the corpus was built); their own "
                 "hash %s is the corpus's identity", root / "corpus.json", recorded, actual)  # fmt: skip
    return actual


def _file_state(path: Path, root: Path) -> tuple:
    """What changes when a file's bytes may have: its path, size, inode, modification and change times."""
    st = path.stat()
    return path.relative_to(root).as_posix(), st.st_size, st.st_ino, st.st_mtime_ns, st.st_ctime_ns
