"""LibriSpeech, the speech Wav2Sem is pre-trained on, and an offline stand-in in the same layout.

    utts = read_librispeech("/data/LibriSpeech", subsets=["train-clean-100"])   # every utterance
    out = build_speech_set("data/speech/synth", n_utterances=2000, exclude_texts=test_sentences)
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

The stand-in (:func:`build_speech_set`) is synthesized speech of generated sentences, many speakers
(espeak voice, rate, pitch), in the real layout, so the same reader reads it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import random
import re
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from w2s.corpus import speech
from w2s.corpus.lexicon import LEXICON
from w2s.corpus.sentences import filler_sentences, generate_sentences, max_filler_sentences
from w2s.data.audio import load_audio
from w2s.utils.hashing import tree_sha256
from w2s.utils.io import building_dir, dump_json_sorted
from w2s.utils.paths import data_dir
from w2s.utils.runtime import progress

log = logging.getLogger(__name__)

KNOWN_SUBSETS = (
    "train-clean-100", "train-clean-360", "train-other-500",
    "dev-clean", "dev-other", "test-clean", "test-other",
)  # fmt: skip
SYNTH_SUBSET = "train-synth"
SPEECH_SET_VERSION = 1  # bump when build_speech_set's output changes for the same arguments
RATE_RANGE = (130, 220)  # words per minute of the stand-in's speakers (read speech is ~150-180)
PITCH_RANGE = (25, 75)


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


# ---------------------------------------------------------------------------------------------
# the offline stand-in


@dataclass(frozen=True)
class Speaker:
    id: str  # LibriSpeech-style number
    voice: str  # a key of w2s.corpus.speech.VOICES
    rate: int  # words per minute
    pitch: int


def librispeech_transcript(text: str) -> str:
    """LibriSpeech's style: upper case, letters, digits and apostrophes only, single spaces."""
    t = text.upper().replace("\u2019", "'")
    t = re.sub(r"[^A-Z0-9' ]+", " ", t)
    t = " ".join(w.strip("'") for w in t.split())
    return " ".join(t.split())


def make_speakers(n: int, voices: Sequence[str], seed: int) -> list[Speaker]:
    """`n` distinct (voice, rate, pitch) speakers; the voices used in turn, in a seeded order."""
    rng = random.Random(f"w2s.librispeech.speakers|{seed}")
    order = list(voices)
    rng.shuffle(order)
    n_combos = len(voices) * (RATE_RANGE[1] - RATE_RANGE[0] + 1) * (PITCH_RANGE[1] - PITCH_RANGE[0] + 1)
    if n > n_combos:
        raise LibriSpeechError(
            f"{n} speakers asked for, but only {n_combos} (voice, rate, pitch) combinations exist"
        )
    out, used = [], set()
    for i in range(n):
        voice = order[i % len(order)]
        while True:
            rate, pitch = rng.randint(*RATE_RANGE), rng.randint(*PITCH_RANGE)
            if (voice, rate, pitch) not in used:
                break
        used.add((voice, rate, pitch))
        out.append(Speaker(str(100 + i), voice, rate, pitch))
    return out


def choose_texts(n: int, seed: int, exclude_texts: Iterable[str] = ()) -> list[str]:
    """`n` distinct sentences, seeded: lexicon words in context (9 in 10) and fillers (1 in 10); none
    whose transcript equals that of an excluded text (so case and punctuation do not sneak one back)."""

    banned = {librispeech_transcript(t) for t in exclude_texts}
    seen: set[str] = set()

    def usable(texts: list[str]) -> list[str]:
        out = []
        for t in texts:  # two sentences may differ only in punctuation: keep transcripts distinct
            k = librispeech_transcript(t)
            if k not in banned and k not in seen:
                seen.add(k)
                out.append(t)
        return out

    n_fill = min(n // 10, max_filler_sentences() // 2)
    per_word = math.ceil(n / len(LEXICON)) + 1  # a pool about twice what is needed
    words = usable([s.text for s in generate_sentences(LEXICON, per_word, 0, seed)])
    fills = usable([s.text for s in filler_sentences(max_filler_sentences(), seed)])
    if len(words) < n - n_fill or len(fills) < n_fill:
        raise LibriSpeechError(
            f"only {len(words)} word and {len(fills)} filler sentences left after exclusions; "
            f"asked for {n - n_fill} and {n_fill}"
        )
    rng = random.Random(f"w2s.librispeech.texts|{seed}")
    chosen = rng.sample(words, n - n_fill) + rng.sample(fills, n_fill)
    rng.shuffle(chosen)
    return chosen


def _exclude_hash(exclude_texts: Iterable[str]) -> tuple[int, str]:
    keys = sorted({librispeech_transcript(t) for t in exclude_texts})
    return len(keys), hashlib.sha256("\n".join(keys).encode()).hexdigest()


def build_speech_set(
    out,
    n_utterances: int,
    seed: int = 0,
    exclude_texts: Iterable[str] = (),
    voices: Sequence[str] | None = None,
    utts_per_chapter: int = 8,
    chapters_per_speaker: int = 2,
    force: bool = False,
) -> Path:
    """Synthesize `n_utterances` speech-only utterances into `out` in the LibriSpeech layout.

    Writes ``out/train-synth/<spk>/<chap>/`` (16 kHz PCM-16 flac + ``<spk>-<chap>.trans.txt``),
    ``out/texts.json`` (utterance id -> the sentence as generated, with case and punctuation: what
    semantic targets are computed from) and ``out/manifest.json`` (written last). Built in a temp
    folder and renamed into place; same arguments -> same bytes.
    """
    import soundfile as sf

    if isinstance(exclude_texts, str):
        raise LibriSpeechError("exclude_texts must be a list of sentences, not one string")
    exclude_texts = list(exclude_texts)
    if not isinstance(n_utterances, int) or n_utterances < 1:
        raise LibriSpeechError(f"n_utterances must be a positive integer, got {n_utterances!r}")
    if utts_per_chapter < 1 or chapters_per_speaker < 1:
        raise LibriSpeechError("utts_per_chapter and chapters_per_speaker must be >= 1")
    voices = list(speech.VOICES) if voices is None else list(voices)
    unknown = [v for v in voices if v not in speech.VOICES]
    if not voices or unknown or len(set(voices)) != len(voices):
        raise LibriSpeechError(
            f"voices must be distinct names from: {', '.join(speech.VOICES)}; got {voices}"
        )
    out = Path(out)
    if out.exists() and not force:
        raise LibriSpeechError(f"{out} already exists; pass force=True to replace it")
    if not out.parent.is_dir():
        raise LibriSpeechError(f"cannot build into {out}: folder {out.parent} does not exist")

    texts = choose_texts(n_utterances, seed, exclude_texts)
    per_speaker = utts_per_chapter * chapters_per_speaker
    spk = make_speakers(math.ceil(n_utterances / per_speaker), voices, seed)
    with building_dir(out) as tmp:
        originals: dict[str, str] = {}
        speakers_meta, seconds = [], 0.0
        k = 0  # next text
        for i, s in enumerate(progress(spk, desc="speech set", unit="spk")):
            chapters = []
            for c in range(chapters_per_speaker):
                if k >= n_utterances:
                    break
                chap = str(1000 + i * chapters_per_speaker + c)  # unique over the set, as in LibriSpeech
                folder = tmp / SYNTH_SUBSET / s.id / chap
                folder.mkdir(parents=True)
                lines = []
                for u in range(min(utts_per_chapter, n_utterances - k)):
                    uid = f"{s.id}-{chap}-{u:04d}"
                    audio = speech.synthesize(texts[k], s.voice, s.rate, s.pitch).audio
                    sf.write(
                        folder / f"{uid}.flac", audio, speech.SAMPLE_RATE, format="FLAC", subtype="PCM_16"
                    )
                    seconds += len(audio) / speech.SAMPLE_RATE
                    lines.append(f"{uid} {librispeech_transcript(texts[k])}\n")
                    originals[uid] = texts[k]
                    k += 1
                (folder / f"{s.id}-{chap}.trans.txt").write_text("".join(lines), encoding="utf-8")
                chapters.append(chap)
            speakers_meta.append({**asdict(s), "chapters": chapters})
        dump_json_sorted(tmp / "texts.json", originals)
        n_ex, ex_hash = _exclude_hash(exclude_texts)
        manifest = {
            "name": "w2s-synthspeech",
            "version": SPEECH_SET_VERSION,
            "n": n_utterances,
            "seed": seed,
            "voices": voices,
            "utts_per_chapter": utts_per_chapter,
            "chapters_per_speaker": chapters_per_speaker,
            "subset": SYNTH_SUBSET,
            "sample_rate": speech.SAMPLE_RATE,
            "hours": round(seconds / 3600, 4),
            "n_excluded": n_ex,
            "exclude_sha256": ex_hash,
            "speakers": speakers_meta,
            "content_sha256": tree_sha256(tmp, skip="manifest.json"),
        }
        dump_json_sorted(tmp / "manifest.json", manifest)  # last: a folder without it is not a speech set
    log.info("built %s: %d utterances, %d speakers, %.2f h", out, n_utterances, len(spk), seconds / 3600)
    return out


def read_manifest(out) -> dict:
    path = Path(out) / "manifest.json"
    if not path.is_file():
        raise LibriSpeechError(
            f"{out} is not a built speech set: no manifest.json (build_speech_set writes it last)"
        )
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise LibriSpeechError(f"{path} is not valid JSON: {e}") from e


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


def load_or_build_speech_set(
    n_utterances: int,
    seed: int = 0,
    exclude_texts: Iterable[str] = (),
    voices: Sequence[str] | None = None,
    root=None,
) -> Path:
    """The speech set for these arguments under `root` (default: data/speech/), built if missing or
    if the one there was made with other arguments."""

    exclude_texts = list(exclude_texts)
    voices = list(speech.VOICES) if voices is None else list(voices)
    root = Path(root) if root is not None else data_dir() / "speech"
    root.mkdir(parents=True, exist_ok=True)
    out = root / f"synth-n{n_utterances}-seed{seed}"
    n_ex, ex_hash = _exclude_hash(exclude_texts)
    want = {
        "version": SPEECH_SET_VERSION,
        "n": n_utterances,
        "seed": seed,
        "voices": voices,
        "exclude_sha256": ex_hash,
    }
    if (out / "manifest.json").is_file():
        m = read_manifest(out)
        if all(m.get(k) == v for k, v in want.items()):
            return out
        log.info("%s was built with other arguments; rebuilding", out)
    return build_speech_set(out, n_utterances, seed, exclude_texts, voices, force=True)
