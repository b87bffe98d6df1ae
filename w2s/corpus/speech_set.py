"""The offline stand-in for LibriSpeech: synthesized speech of generated sentences, many speakers
(espeak voice, rate, pitch), written in LibriSpeech's layout so that the real reader
(:func:`w2s.data.librispeech.read_librispeech`) reads it unchanged.

    out = build_speech_set("data/speech/synth", n_utterances=2000, exclude_texts=test_sentences)
    out = load_or_build_speech_set(2000, seed=0, exclude_texts=test_sentences)   # cached by arguments
"""

from __future__ import annotations

import hashlib
import logging
import math
import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import soundfile as sf

from w2s.corpus import festival, flite, speech
from w2s.corpus.lexicon import LEXICON
from w2s.corpus.sentences import filler_sentences, generate_sentences, max_filler_sentences
from w2s.utils.hashing import tree_sha256
from w2s.utils.io import JSONFileError, building_dir, dump_json_sorted, output_lock, read_json
from w2s.utils.paths import data_dir
from w2s.utils.runtime import progress

log = logging.getLogger(__name__)

SYNTH_SUBSET = "train-synth"
SPEECH_SET_VERSION = 1  # bump when build_speech_set's output changes for the same arguments
RATE_RANGE = (130, 220)  # words per minute of the stand-in's speakers (read speech is ~150-180)
PITCH_RANGE = (25, 75)
SYNTHESIZERS = ("espeak-ng", "festival")  # festival: optional, a second kind of speech to train on (issue 26)
FESTIVAL_RATE = 165  # words per minute at Festival's Duration_Stretch 1 (the stretch is FESTIVAL_RATE / rate)
FESTIVAL_F0_HZ = (90.0, 200.0)  # a speaker's pitch (PITCH_RANGE) as Festival's mean f0, linearly


class SpeechSetError(ValueError):
    """A speech set that cannot be built or read as asked; the message says why."""


@dataclass(frozen=True)
class SynthSpeaker:
    id: str  # LibriSpeech-style number
    voice: str  # a voice of the set's synthesizer (SYNTHESIZERS)
    rate: int  # words per minute
    pitch: int


def librispeech_transcript(text: str) -> str:
    """LibriSpeech's style: upper case, letters, digits and apostrophes only, single spaces."""
    t = text.upper().replace("\u2019", "'")
    t = re.sub(r"[^A-Z0-9' ]+", " ", t)
    t = " ".join(w.strip("'") for w in t.split())
    return " ".join(t.split())


def make_speakers(n: int, voices: Sequence[str], seed: int) -> list[SynthSpeaker]:
    """`n` distinct (voice, rate, pitch) speakers; the voices used in turn, in a seeded order."""
    rng = random.Random(f"w2s.librispeech.speakers|{seed}")
    order = list(voices)
    rng.shuffle(order)
    n_combos = len(voices) * (RATE_RANGE[1] - RATE_RANGE[0] + 1) * (PITCH_RANGE[1] - PITCH_RANGE[0] + 1)
    if n > n_combos:
        raise SpeechSetError(
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
        out.append(SynthSpeaker(str(100 + i), voice, rate, pitch))
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
        raise SpeechSetError(
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


def voices_of(synthesizer: str) -> tuple[str, ...]:
    if synthesizer not in SYNTHESIZERS:
        raise SpeechSetError(f"unknown synthesizer {synthesizer!r}; choose one of: {', '.join(SYNTHESIZERS)}")
    if synthesizer == "festival":
        return festival.VOICES
    return tuple(speech.VOICES)


def speak(texts: list[str], s: SynthSpeaker, synthesizer: str = "espeak-ng", phones: bool = False) -> list:
    """Speaker `s` saying each of `texts` (16 kHz float32 audio), with the set's synthesizer; with `phones`,
    (audio, phone segments) per text, each segment {"symbol": IPA, "start": s, "end": s}, pauses left out."""
    if synthesizer == "festival":
        share = (s.pitch - PITCH_RANGE[0]) / (PITCH_RANGE[1] - PITCH_RANGE[0])
        f0 = FESTIVAL_F0_HZ[0] + share * (FESTIVAL_F0_HZ[1] - FESTIVAL_F0_HZ[0])
        try:
            out = festival.synthesize_many(texts, s.voice, FESTIVAL_RATE / s.rate, f0, segments=phones)
        except festival.FestivalError as e:
            raise SpeechSetError(str(e)) from None
        if phones:  # Festival's US phones are CMU's: the same IPA map as flite's
            out = [(a, [{"symbol": flite.to_ipa(p), "start": t0, "end": t1} for p, t0, t1 in segs if p != flite.PAUSE])
                   for a, segs in out]  # fmt: skip
        return out
    utts = [speech.synthesize(t, s.voice, s.rate, s.pitch) for t in texts]
    if phones:
        return [(u.audio, [{"symbol": p.symbol, "start": p.start, "end": p.end} for p in u.phonemes]) for u in utts]
    return [u.audio for u in utts]


def _speak_chapters(tmp: Path, s: SynthSpeaker, i: int, texts: list[str], per_chapter: int, n_chapters: int,
                    originals: dict[str, str], synthesizer: str = "espeak-ng") -> tuple[list[str], float]:
    """Speaker `s` (the i-th) reads `texts` into its chapters under tmp; fills `originals` (id -> text)."""
    chapters, seconds, k = [], 0.0, 0
    for c in range(n_chapters):
        if k >= len(texts):
            break
        chap = str(1000 + i * n_chapters + c)  # unique over the set, as in LibriSpeech
        folder = tmp / SYNTH_SUBSET / s.id / chap
        folder.mkdir(parents=True)
        lines = []
        n = min(per_chapter, len(texts) - k)
        for u, audio in enumerate(speak(texts[k : k + n], s, synthesizer)):
            uid = f"{s.id}-{chap}-{u:04d}"
            sf.write(folder / f"{uid}.flac", audio, speech.SAMPLE_RATE, format="FLAC", subtype="PCM_16")
            seconds += len(audio) / speech.SAMPLE_RATE
            lines.append(f"{uid} {librispeech_transcript(texts[k])}\n")
            originals[uid] = texts[k]
            k += 1
        (folder / f"{s.id}-{chap}.trans.txt").write_text("".join(lines), encoding="utf-8")
        chapters.append(chap)
    return chapters, seconds


def _check_build_args(out, n_utterances, exclude_texts, voices, utts_per_chapter, chapters_per_speaker, force,
                      synthesizer="espeak-ng"):  # fmt: skip
    """build_speech_set's arguments, checked: (exclude_texts as a list, voices as a list, out as a Path)."""
    if isinstance(exclude_texts, str):
        raise SpeechSetError("exclude_texts must be a list of sentences, not one string")
    exclude_texts = list(exclude_texts)
    if not isinstance(n_utterances, int) or n_utterances < 1:
        raise SpeechSetError(f"n_utterances must be a positive integer, got {n_utterances!r}")
    if utts_per_chapter < 1 or chapters_per_speaker < 1:
        raise SpeechSetError("utts_per_chapter and chapters_per_speaker must be >= 1")
    known = voices_of(synthesizer)
    voices = list(known) if voices is None else list(voices)
    unknown = [v for v in voices if v not in known]
    if not voices or unknown or len(set(voices)) != len(voices):
        raise SpeechSetError(
            f"voices must be distinct names from: {', '.join(known)}; got {voices}"
        )
    if synthesizer == "festival":
        why = festival.available(voices)
        if why:
            raise SpeechSetError(why)
    out = Path(out)
    if out.exists() and not force:
        raise SpeechSetError(f"{out} already exists; pass force=True to replace it")
    if not out.parent.is_dir():
        raise SpeechSetError(f"cannot build into {out}: folder {out.parent} does not exist")

    return exclude_texts, voices, out


def build_speech_set(
    out,
    n_utterances: int,
    seed: int = 0,
    exclude_texts: Iterable[str] = (),
    voices: Sequence[str] | None = None,
    utts_per_chapter: int = 8,
    chapters_per_speaker: int = 2,
    force: bool = False,
    synthesizer: str = "espeak-ng",
) -> Path:
    """Synthesize `n_utterances` speech-only utterances into `out` in the LibriSpeech layout, with
    espeak-ng's voices or (``synthesizer="festival"``, optional) Festival's (w2s.corpus.festival).

    Writes ``out/train-synth/<spk>/<chap>/`` (16 kHz PCM-16 flac + ``<spk>-<chap>.trans.txt``),
    ``out/texts.json`` (utterance id -> the sentence as generated, with case and punctuation: what
    semantic targets are computed from) and ``out/manifest.json`` (written last). Built in a temp
    folder and renamed into place; same arguments -> same bytes.
    """
    exclude_texts, voices, out = _check_build_args(out, n_utterances, exclude_texts, voices, utts_per_chapter,
                                                   chapters_per_speaker, force, synthesizer)  # fmt: skip
    with output_lock(out, wait=False, what="built"):  # a second build into `out` is refused
        if out.exists() and not force:
            raise SpeechSetError(f"{out} already exists; pass force=True to replace it")
        return _build(out, n_utterances, seed, exclude_texts, voices, utts_per_chapter, chapters_per_speaker,
                      synthesizer)  # fmt: skip


def _build(out: Path, n_utterances: int, seed: int, exclude_texts: list[str], voices: list[str],
           utts_per_chapter: int, chapters_per_speaker: int, synthesizer: str = "espeak-ng") -> Path:  # fmt: skip
    """build_speech_set's work, its arguments checked (the caller holds `out`'s lock)."""
    texts = choose_texts(n_utterances, seed, exclude_texts)
    per_speaker = utts_per_chapter * chapters_per_speaker
    spk = make_speakers(math.ceil(n_utterances / per_speaker), voices, seed)
    with building_dir(out) as tmp:
        originals: dict[str, str] = {}
        speakers_meta, seconds = [], 0.0
        for i, s in enumerate(progress(spk, desc="speech set", unit="spk")):
            todo = texts[len(originals) : len(originals) + per_speaker]
            chapters, secs = _speak_chapters(tmp, s, i, todo, utts_per_chapter, chapters_per_speaker, originals,
                                             synthesizer)  # fmt: skip
            seconds += secs
            speakers_meta.append({**asdict(s), "chapters": chapters})
        dump_json_sorted(tmp / "texts.json", originals)
        n_ex, ex_hash = _exclude_hash(exclude_texts)
        manifest = {
            "name": "w2s-synthspeech",
            "version": SPEECH_SET_VERSION,
            "n": n_utterances,
            "seed": seed,
            "voices": voices,
            # espeak-ng's manifests as before; Festival's name it and its version
            **({"synthesizer": synthesizer, "synthesizer_version": festival.version()} if synthesizer == "festival" else {}),
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
        raise SpeechSetError(
            f"{out} is not a built speech set: no manifest.json (build_speech_set writes it last)"
        )
    try:
        return read_json(path, "speech set manifest", required_keys={"content_sha256": str})
    except JSONFileError as e:
        raise SpeechSetError(str(e)) from None


def load_or_build_speech_set(
    n_utterances: int,
    seed: int = 0,
    exclude_texts: Iterable[str] = (),
    voices: Sequence[str] | None = None,
    root=None,
    synthesizer: str = "espeak-ng",
) -> Path:
    """The speech set for these arguments under `root` (default: data/speech/), built if missing or
    if the one there was made with other arguments. A seed's sentences are the same for every synthesizer."""

    exclude_texts = list(exclude_texts)
    voices = list(voices_of(synthesizer)) if voices is None else list(voices)
    root = Path(root) if root is not None else data_dir() / "speech"
    root.mkdir(parents=True, exist_ok=True)
    out = root / ("synth" + ("" if synthesizer == "espeak-ng" else f"-{synthesizer}") + f"-n{n_utterances}-seed{seed}")
    n_ex, ex_hash = _exclude_hash(exclude_texts)
    want = {
        "version": SPEECH_SET_VERSION,
        "n": n_utterances,
        "seed": seed,
        "voices": voices,
        "exclude_sha256": ex_hash,
        **({"synthesizer": synthesizer} if synthesizer != "espeak-ng" else {}),
    }
    with output_lock(out, wait=True, what="built"):  # a shared cache: wait for another process building it
        if (out / "manifest.json").is_file():
            m = read_manifest(out)
            if all(m.get(k) == v for k, v in want.items()):
                return out
            log.info("%s was built with other arguments; rebuilding", out)
        return build_speech_set(out, n_utterances, seed, exclude_texts, voices, force=True, synthesizer=synthesizer)
