"""Speech with phoneme and word timings from CMU flite: a second synthesizer, for testing only.

Debian's ``flite`` package (``apt-get install flite``) brings the ``flite`` program, its built-in voices
(kal, kal16, slt, rms, awb) and ``t2p``, the same front end's text-to-phones. Nothing in w2s needs it: it
renders held-out sentences in a voice no model here was trained on (`w2s.corpus.voices`).

Timings come from flite's front end, which prints one relation per run and no link from a phone to its word:

    flite -voice slt -psdur -t TEXT -o out.wav   ->  "pau:0.222 l:0.289 uw:0.317 ..."        phones, end times (s)
    t2p TEXT                                      ->  "pau l uw1 s iy r eh1 d ax ..."         the same phones, stressed
    t2p "Lucy"; t2p "Lucy read"; ...              ->  the phones of each prefix of the text's words

``t2p`` runs the same front end (lexicon, letter-to-sound, post-lexical rules) without a voice. Its phones
for the whole text must be the phones flite spoke, one for one; the prefixes give each written word's
phones by count (the first k words say c_k phones, so word k owns phones c_(k-1) .. c_k), which also covers
words flite says as several ("42" -> forty two, "apple's" -> apple + 's). A prefix's earlier words must
say what the whole text says (only its last word may change with what follows: *the* [dh ax] before a
consonant, [dh iy] before a vowel); any disagreement is an error naming the text, never a guess
(:func:`word_owners`). Stress comes from t2p's digits on the whole text.

Phones are CMU's US-English set, mapped to the IPA symbols espeak-ng's en-us voices use
(:data:`CMU_TO_IPA`; every one has a viseme class, w2s.corpus.visemes); pauses (``pau``) are gaps, as in
the espeak-ng corpus. Audio is read as flite wrote it and resampled to 16 kHz with soxr (kal is 8 kHz).
flite has no random state: the same text, voice and features give the same bytes.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from w2s.corpus.speech import SAMPLE_RATE, PhonemeSegment, SpeechError, Utterance, WordSegment

VOICES = ("slt", "rms", "awb", "kal16", "kal")  # flite's built-in US-English voices (awb: Scottish English)
PAUSE = "pau"
TIMEOUT_S = 60

# flite's US-English phone set (CMU's, with TIMIT's dx el em en hv nx, which its dictionary does not use) ->
# espeak-ng's en-us IPA symbols. "er" is split by stress
# as espeak-ng does (stressed [ɜː] "bird", unstressed [ɚ] "butter"; both the r viseme): see `to_ipa`.
CMU_TO_IPA: dict[str, str] = {
    "aa": "ɑː", "ae": "æ", "ah": "ʌ", "ao": "ɔː", "aw": "aʊ", "ax": "ə", "axr": "ɚ", "ay": "aɪ", "eh": "ɛ",
    "er": "ɚ", "ey": "eɪ", "ih": "ɪ", "iy": "iː", "ow": "oʊ", "oy": "ɔɪ", "uh": "ʊ", "uw": "uː",
    "b": "b", "ch": "tʃ", "d": "d", "dh": "ð", "dx": "ɾ", "el": "əl", "em": "m̩", "en": "n̩", "f": "f", "g": "ɡ",
    "hh": "h", "hv": "h", "jh": "dʒ", "k": "k", "l": "l", "m": "m", "n": "n", "ng": "ŋ", "nx": "n", "p": "p", "r": "ɹ", "s": "s",
    "sh": "ʃ", "t": "t", "th": "θ", "v": "v", "w": "w", "y": "j", "z": "z", "zh": "ʒ",
}  # fmt: skip
STRESSED_ER = "ɜː"

_SEGMENT = re.compile(r"^([a-z]+):(\d+(?:\.\d+)?)$")
_LEX_PHONE = re.compile(r"^([a-z]+)([012]?)$")


class FliteError(SpeechError):
    """flite missing, failing, or giving output that cannot be read; the message names the text or file."""


def available() -> str | None:
    """Why flite cannot be used here (a sentence), or None when ``flite`` and ``t2p`` are on PATH."""
    missing = [p for p in ("flite", "t2p") if shutil.which(p) is None]
    if missing:
        return (f"{' and '.join(missing)} not found on PATH: the flite voices need Debian's flite package "
                "(apt-get install flite)")  # fmt: skip
    return None


def to_ipa(phone: str, stress: int = 0) -> str:
    """The IPA symbol of a CMU phone (stress: t2p's digit); FliteError for a phone not in :data:`CMU_TO_IPA`."""
    if phone == "er" and stress:
        return STRESSED_ER
    try:
        return CMU_TO_IPA[phone]
    except KeyError:
        raise FliteError(f"flite phone {phone!r} has no IPA symbol; add it to w2s/corpus/flite.py") from None


# ---------------------------------------------------------------------------------------------
# parsers of flite's printed relations


def parse_segments(text: str) -> list[tuple[str, float, float]]:
    """``flite -psdur`` output -> [(phone, start s, end s)], pauses included; each phone starts where the one
    before it ends (the first at 0)."""
    out: list[tuple[str, float, float]] = []
    t = 0.0
    for tok in text.split():
        m = _SEGMENT.match(tok)
        if m is None:
            raise FliteError(f"flite -psdur printed {tok!r}, not PHONE:END_SECONDS")
        end = float(m.group(2))
        if end < t:
            raise FliteError(f"flite -psdur: segment {tok!r} ends before the one before it ({t:.3f} s)")
        out.append((m.group(1), t, end))
        t = end
    if not out:
        raise FliteError("flite -psdur printed no segments")
    return out


def parse_lexicon(text: str) -> list[tuple[str, int]]:
    """``t2p TEXT`` output -> [(phone, stress)] without the pauses (stress: t2p's digit, 0 when it has none)."""
    out = []
    for tok in text.split():
        if tok == PAUSE:
            continue
        m = _LEX_PHONE.match(tok)
        if m is None:
            raise FliteError(f"t2p printed {tok!r}, not a phone with an optional stress digit")
        out.append((m.group(1), int(m.group(2) or 0)))
    return out


def word_owners(segments: list[tuple[str, float, float]], lexicon: list[tuple[str, int]],
                prefixes: list[list[tuple[str, int]]], text: str = "") -> list[int]:  # fmt: skip
    """The written word (index into ``text.split()``) of every non-pause segment.

    `lexicon`: t2p's phones of the whole text; `prefixes[k]`: t2p's phones of its first k + 1 words (the last
    is the whole text). The whole text's phones must be the ones flite spoke, the prefixes' counts must not
    fall, and each prefix's words but its last must say what the whole text says; else FliteError naming
    `text`."""
    spoken = [s for s, *_ in segments if s != PAUSE]
    said = [p for p, _ in lexicon]
    if spoken != said:
        raise FliteError(f"flite spoke [{' '.join(spoken)}] for {text!r}, its front end (t2p) gives "
                         f"[{' '.join(said)}]")  # fmt: skip
    counts = [len(p) for p in prefixes]
    if not counts or counts[-1] != len(said):
        raise FliteError(f"t2p's phones of the words of {text!r} do not add up to the text's")
    owners, before = [], 0
    for k, (n, prefix) in enumerate(zip(counts, prefixes)):
        if n < before or [p for p, _ in prefix[:before]] != said[:before]:
            raise FliteError(f"{text!r}: t2p says its first {k + 1} words differently from the whole text; "
                             "cannot tell which word each phone belongs to")  # fmt: skip
        owners += [k] * (n - before)
        before = n
    return owners


def timings(segments: list[tuple[str, float, float]], lexicon: list[tuple[str, int]],
            prefixes: list[list[tuple[str, int]]], text: str) -> tuple[list[PhonemeSegment], list[WordSegment]]:  # fmt: skip
    """Phoneme and word segments (as `w2s.corpus.speech` makes them) from flite's and t2p's parsed output.

    Words are the text's own (split on spaces, outer punctuation removed); one flite says nothing for is left
    out, and ``word_index`` counts the words kept."""
    owners = word_owners(segments, lexicon, prefixes, text)
    names = [re.sub(r"^[^\w']+|[^\w']+$", "", t) for t in text.split()]
    kept = {w: i for i, w in enumerate(sorted(set(owners)))}
    phonemes, spoken = [], iter(zip(owners, lexicon))
    for phone, start, end in segments:
        if phone == PAUSE:
            continue
        w, (_, stress) = next(spoken)
        phonemes.append(PhonemeSegment(to_ipa(phone, stress), start, end, stress, kept[w]))
    words = []
    for w, i in kept.items():
        mine = [p for p in phonemes if p.word_index == i]
        words.append(WordSegment(names[w] or text.split()[w], mine[0].start, mine[-1].end))
    return phonemes, words


# ---------------------------------------------------------------------------------------------
# running flite


def _run(args: list[str], text: str) -> str:
    why = available()
    if why:
        raise FliteError(why)
    try:
        res = subprocess.run(args, capture_output=True, text=True, timeout=TIMEOUT_S, env={**os.environ, "LC_ALL": "C"})
    except subprocess.TimeoutExpired:
        raise FliteError(f"{args[0]} took over {TIMEOUT_S} s on {text!r}") from None
    if res.returncode != 0:
        raise FliteError(f"{args[0]} failed (exit {res.returncode}) on {text!r}: {' '.join(res.stderr.split())[:200]}")
    return res.stdout


def features(duration_stretch: float = 1.0) -> list[str]:
    """flite's command-line options for a speaking rate: every phone's duration times `duration_stretch`.

    (flite's pitch features, ``f0_shift`` and ``int_f0_target_mean``, move slt's pitch but not rms's: pyin's
    median f0 of one sentence, rms 101.7 Hz under f0_shift 1.0 and 1.5 alike; slt 171 -> 259 Hz. So pitch
    is left to each voice.)"""
    return ["--setf", f"duration_stretch={duration_stretch:.4f}"]


def synthesize(text: str, voice: str = "slt", duration_stretch: float = 1.0) -> Utterance:
    """Speak `text` with flite's `voice`; 16 kHz float32 audio with phoneme and word segments (seconds)."""
    import soundfile as sf
    import soxr

    if voice not in VOICES:
        raise FliteError(f"unknown flite voice {voice!r}; choose one of: {', '.join(VOICES)}")
    if not text.strip() or not any(c.isalnum() for c in text):
        raise FliteError(f"nothing speakable in text {text!r}")
    opts = ["-voice", voice, *features(duration_stretch)]
    with tempfile.TemporaryDirectory(prefix="w2s-flite-") as tmp:
        wav = Path(tmp) / "out.wav"
        psdur = _run(["flite", *opts, "-psdur", "-t", text, "-o", str(wav)], text)
        native, rate = sf.read(wav, dtype="float32", always_2d=False)
    phonemes, word_segs = front_end(text, psdur, lambda words: _run(["t2p", words], text))
    if rate != SAMPLE_RATE and len(native):
        native = soxr.resample(native, rate, SAMPLE_RATE, quality="HQ")
    audio = np.clip(native, -1.0, 1.0).astype(np.float32)
    duration = len(audio) / SAMPLE_RATE
    phonemes = [PhonemeSegment(p.symbol, min(p.start, duration), min(p.end, duration), p.stress, p.word_index)
                for p in phonemes]  # fmt: skip
    word_segs = [WordSegment(w.word, min(w.start, duration), min(w.end, duration)) for w in word_segs]
    return Utterance(text, f"flite-{voice}", 0, 0, audio, phonemes, word_segs)


def front_end(text: str, psdur: str, t2p: Callable[[str], str]) -> tuple[list[PhonemeSegment], list[WordSegment]]:
    """:func:`timings` of `text` from flite's ``-psdur`` output and `t2p` (words -> t2p's output), which is
    asked for the whole text and for each prefix of its words."""
    tokens = text.split()
    lexicon = parse_lexicon(t2p(text))
    prefixes = [parse_lexicon(t2p(" ".join(tokens[: k + 1]))) for k in range(len(tokens) - 1)]
    return timings(parse_segments(psdur), lexicon, [*prefixes, lexicon], text)


def version() -> str:
    """``flite --version``'s version line (recorded in corpus.json)."""
    why = available()
    if why:
        raise FliteError(why)
    # flite --version prints its banner and exits with status 1
    res = subprocess.run(["flite", "--version"], capture_output=True, text=True, timeout=TIMEOUT_S)
    lines = (res.stdout + res.stderr).splitlines()
    return next((ln.strip() for ln in lines if "version:" in ln), " ".join(" ".join(lines).split()))
