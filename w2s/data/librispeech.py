"""LibriSpeech, the speech Wav2Sem is pre-trained on: the reader (also of the offline stand-in).

    utts = read_librispeech("/data/LibriSpeech", subsets=["train-clean-100"])   # every utterance
    pairs = load_speech_set(out)        # [(Utterance, original sentence with case and punctuation)]

The real layout (what the OpenSLR tarballs unpack to)::

    root/<subset>/<speaker>/<chapter>/<speaker>-<chapter>.trans.txt   lines "<speaker>-<chapter>-<utt> TEXT"
    root/<subset>/<speaker>/<chapter>/<speaker>-<chapter>-<utt>.flac

`root` may also be the folder that holds ``LibriSpeech/``, one subset folder, or a flat folder of
speaker folders (the official Wav2Sem layout: the three training subsets merged into one).

Every utterance is returned, keyed by its utterance id. The official Wav2Sem loader keys its dict by
speaker-chapter, so each chapter's utterances overwrite each other and only the last survives (a few
thousand clips out of ~281k); :func:`one_per_chapter` reproduces that, for study only.

Files that do not fit: a transcript line whose flac is missing, a malformed line, an empty transcript,
an utterance id listed twice raise :class:`LibriSpeechError` naming the files. A flac that no
transcript line mentions is skipped with a warning (one per chapter): it has no text, so it cannot be
a training pair, and a partial copy should not stop the reading of everything else.

The offline stand-in (:mod:`w2s.corpus.speech_set`) is synthesized speech of generated sentences,
many speakers (espeak voice, rate, pitch), in the real layout, so the same reader reads it
(:func:`load_speech_set`).
"""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from w2s.corpus.speech_set import read_manifest
from w2s.data.audio import load_audio

log = logging.getLogger(__name__)

KNOWN_SUBSETS = (
    "train-clean-100", "train-clean-360", "train-other-500",
    "dev-clean", "dev-other", "test-clean", "test-other",
)  # fmt: skip


class LibriSpeechError(ValueError):
    """A LibriSpeech folder that cannot be read as such; the message names the files and the problem."""


@dataclass(frozen=True)
class Utterance:
    id: str  # "<speaker>-<chapter>-<utt>", unique
    speaker: str
    chapter: str
    text: str  # the transcript as written (LibriSpeech: upper case, no punctuation but apostrophes)
    path: Path  # the .flac
    subset: str | None = None  # "train-clean-100", ...; None for a flat or single-subset root

    def load_audio(self) -> np.ndarray:
        """16 kHz mono float32 (resampled with a warning if the file is not 16 kHz)."""

        return load_audio(self.path)


# ---------------------------------------------------------------------------------------------
# reading


def _dirs(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def _has_chapters(folder: Path) -> bool:
    """Does `folder` hold <speaker>/<chapter>/*.trans.txt?"""
    return any(True for _ in folder.glob("*/*/*.trans.txt"))


def _subset_folders(root: Path, subsets: Sequence[str] | None) -> list[tuple[str | None, Path]]:
    """(subset name or None, folder of speaker folders) to read."""
    if (root / "LibriSpeech").is_dir() and not _has_chapters(root):
        root = root / "LibriSpeech"  # the folder the tarballs were unpacked in
    flat = _has_chapters(root)  # checked first: it stops at the first transcript of a flat root
    nested = [] if flat else [d for d in _dirs(root) if _has_chapters(d)]
    if nested:
        names = [d.name for d in nested]
        if subsets is None:
            return [(d.name, d) for d in nested]
        missing = [s for s in subsets if s not in names]
        if missing:
            raise LibriSpeechError(
                f"{root}: no subset {', '.join(map(repr, missing))}; found {', '.join(names)}"
            )
        return [(d.name, d) for d in nested if d.name in subsets]
    if flat:
        if subsets is not None and list(subsets) != [root.name]:
            raise LibriSpeechError(
                f"{root} is a single folder of speakers (one subset or a merged LibriSpeech), not a folder "
                f"of subsets; cannot select subsets {list(subsets)}: pass subsets=None"
            )
        return [(root.name if root.name in KNOWN_SUBSETS else None, root)]
    raise LibriSpeechError(
        f"no LibriSpeech transcripts under {root}: expected <speaker>/<chapter>/<speaker>-<chapter>.trans.txt "
        "in it or in its subset folders (train-clean-100/, ...)"
    )


def _read_chapter(subset: str | None, chapter_dir: Path) -> list[Utterance]:
    speaker, chapter = chapter_dir.parent.name, chapter_dir.name
    names = {p.name for p in chapter_dir.iterdir()}  # one listing per chapter, not a stat per file
    trans = chapter_dir / f"{speaker}-{chapter}.trans.txt"
    others = sorted(n for n in names if n.endswith(".trans.txt") and n != trans.name)
    if others:
        raise LibriSpeechError(
            f"{chapter_dir / others[0]}: transcript name does not match its folders (expected {trans.name})"
        )
    flacs = {n for n in names if n.endswith(".flac")}
    if trans.name not in names:
        if flacs:
            warnings.warn(
                f"{chapter_dir}: {len(flacs)} flac file(s) but no {trans.name}; skipped",
                UserWarning,
                stacklevel=3,
            )
        return []
    out: list[Utterance] = []
    prefix = f"{speaker}-{chapter}-"
    with open(trans, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            parts = line.split(maxsplit=1)
            if len(parts) < 2:
                raise LibriSpeechError(f"{trans} line {n}: utterance {parts[0]!r} has no text")
            uid, text = parts
            if not (uid.startswith(prefix) and uid[len(prefix) :]):
                raise LibriSpeechError(f"{trans} line {n}: id {uid!r} is not {prefix}<utt> for this folder")
            if f"{uid}.flac" not in flacs:
                raise LibriSpeechError(
                    f"{trans} line {n} names utterance {uid}, but {chapter_dir / (uid + '.flac')} is missing"
                )
            out.append(Utterance(uid, speaker, chapter, text, chapter_dir / f"{uid}.flac", subset))
    if not out:
        raise LibriSpeechError(f"{trans} is empty: a transcript needs one '<id> TEXT' line per utterance")
    orphans = sorted(flacs - {f"{u.id}.flac" for u in out})
    if orphans:
        warnings.warn(
            f"{chapter_dir}: {len(orphans)} flac file(s) not in {trans.name}, skipped: {', '.join(orphans[:3])}"
            + (" ..." if len(orphans) > 3 else ""),
            UserWarning,
            stacklevel=3,
        )
    return out


def read_librispeech(root, subsets: Sequence[str] | None = None) -> list[Utterance]:
    """Every utterance under `root` (see the module docstring for the layouts), sorted by subset,
    speaker, chapter, then transcript order. `subsets` picks subset folders (a root of subsets only)."""
    root = Path(root)
    if not root.exists():
        raise LibriSpeechError(f"LibriSpeech folder {root} does not exist")
    if not root.is_dir():
        raise LibriSpeechError(f"LibriSpeech root {root} is a file, not a folder")
    if isinstance(subsets, str):
        subsets = [subsets]
    out: list[Utterance] = []
    seen: dict[str, Path] = {}
    for subset, folder in _subset_folders(root, subsets):
        for spk in _dirs(folder):
            for chap in _dirs(spk):
                for u in _read_chapter(subset, chap):
                    if u.id in seen:  # keyed by utterance id: a duplicate is an error, never an overwrite
                        raise LibriSpeechError(f"utterance {u.id} is listed twice: {seen[u.id]} and {u.path}")
                    seen[u.id] = u.path
                    out.append(u)
    return out


def one_per_chapter(utterances: Iterable[Utterance]) -> list[Utterance]:
    """FOR STUDY ONLY: what the official Wav2Sem loader keeps (dict keyed by speaker-chapter, so the
    last utterance of each chapter overwrites the others). Never train on this."""
    kept: dict[str, Utterance] = {}
    for u in utterances:
        kept[f"{u.speaker}-{u.chapter}"] = u
    return list(kept.values())


def load_speech_set(out) -> list[tuple[Utterance, str]]:
    """(utterance, original sentence) for every utterance of a built speech set, via read_librispeech."""
    out = Path(out)
    manifest = read_manifest(out)
    try:
        originals = json.loads((out / "texts.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise LibriSpeechError(f"{out / 'texts.json'} is missing or broken: {e}") from e
    utts = read_librispeech(out)
    missing = [u.id for u in utts if u.id not in originals]
    if missing:
        raise LibriSpeechError(
            f"{out / 'texts.json'} has no sentence for {len(missing)} utterance(s), e.g. {missing[0]}"
        )
    if len(utts) != manifest["n"]:
        raise LibriSpeechError(
            f"{out}: manifest.json says {manifest['n']} utterances, the folders hold {len(utts)}"
        )
    return [(u, originals[u.id]) for u in utts]


