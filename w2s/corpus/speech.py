"""Speech with phoneme and word timings, from espeak-ng.

espeak-ng comes as a shared library inside the ``espeakng-loader`` wheel (no system package) and is
driven through its C API with ctypes: synchronous synthesis, a callback that receives the audio and
the PHONEME / WORD events, IPA phoneme names. The 22.05 kHz output is resampled to 16 kHz with soxr.

Every phoneme espeak-ng says it produced becomes a segment, also one whose PHONEME event has zero
length (a syllable-final /l/, voiced inside the vowel before it; see ENDING_SHARE).

Determinism. espeak-ng keeps synthesis state in C statics (the pitch-flutter index, waveform phase,
echo buffer) that survive ``espeak_Terminate``/``espeak_Initialize``, so the same text synthesized
twice in one process gives slightly different samples. We therefore load a *fresh instance* of the
library for every utterance (``dlopen``, synthesize, ``dlclose``; about 5 ms) and seed its random
generator: the same (text, voice, rate, pitch) gives bit-identical audio, in any order, in any process.

Threads and processes. The library is process-global C code and not thread-safe: every call into it
runs under one module-level lock, so threads in one process take turns (no parallel speed-up, but no
corruption). Separate processes each load their own copy and run in parallel; with the fresh-instance
scheme above a forked child is safe too (the lock is re-created after ``fork``).
"""

from __future__ import annotations

import ctypes
import os
import threading
import unicodedata
from dataclasses import asdict, dataclass, field, replace
from functools import lru_cache

import numpy as np

from w2s.utils.io import atomic_path

SAMPLE_RATE = 16_000  # what every model in w2s reads
RATE_RANGE = (80, 450)  # words per minute, espeak-ng's accepted range
PITCH_RANGE = (0, 99)  # espeak-ng base pitch, 50 = voice default

# espeak-ng C API constants (speak_lib.h)
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INIT_PHONEME_EVENTS = 0x0001
_INIT_PHONEME_IPA = 0x0002
_INIT_DONT_EXIT = 0x8000
_CHARS_UTF8 = 1
_PHONEMES_IPA = 0x02  # espeak_TextToPhonemes: IPA names; bits 8-23 hold the separator character
_EV_LIST_TERMINATED, _EV_WORD, _EV_END, _EV_MSG_TERMINATED, _EV_PHONEME = 0, 1, 5, 6, 7
_PARAM_RATE, _PARAM_PITCH = 1, 3
_STRESS = {"ˈ": 1, "ˌ": 2}

# A PHONEME event of zero length: espeak-ng voiced that phoneme as the *ending* of the phoneme before
# it. Every one seen (480 default-corpus sentences, 2103 lexicon words) is a dark /l/ after a vowel and
# before a consonant or pause ("mill", "film", "always": espeak's l/2 has no frames of its own, the
# vowel gets the ending l/L2_*L appended), its event at the same sample as the next one. It keeps its
# phoneme and takes the last ENDING_SHARE of that vowel's span (`_give_spans`). The share is measured
# in the audio by `python -m w2s.corpus.ending_share` (952 such /l/s in the lexicon's words, 4 voices,
# alone and phrase-final; boundary at the middle of the vowel-to-/l/ spectral transition): median
# 0.367, IQR 0.324-0.420; per vowel from 0.27 (ɔɪ) and 0.32 (eɪ, iː) to 0.40 (ɪ), higher only after
# back rounded vowels (oʊ 0.53, uː 0.50), whose own glide runs into the /l/. A one-off cross-check on
# front vowels, where F2 tells vowel from /l/: the point where LPC F2 is halfway between them differs
# from the estimate by -0.013 (median, 220 tokens). The event stream of /l/s that do get a span
# (before a vowel: "all of it") is no guide: there the /l/ event covers only the last ~10 % of
# vowel+/l/ (median 0.099, 412 tokens) because espeak puts the vowel-to-/l/ transition in the vowel.
ENDING_SHARE = 0.37

# Usable voices: en-us phonology (so every voice emits the same phonemes for a word, which the
# near-homophone pairs rely on) with espeak-ng's voice variants for timbre. Each was checked to
# speak intelligibly and give audio different from every other (tests/test_speech.py).
VOICES: dict[str, str] = {
    "us-m1": "en-us+m1",
    "us-m2": "en-us+m2",
    "us-m3": "en-us+m3",
    "us-m4": "en-us+m4",
    "us-m5": "en-us+m5",
    "us-m6": "en-us+m6",
    "us-m7": "en-us+m7",
    "us-f1": "en-us+f1",
    "us-f2": "en-us+f2",
    "us-f3": "en-us+f3",
    "us-f4": "en-us+f4",
    "us-f5": "en-us+f5",
    "us-andy": "en-us+Andy",
    "us-annie": "en-us+Annie",
    "us-alex": "en-us+Alex",
    "us-klatt": "en-us+klatt",
}
DEFAULT_VOICE = "us-m1"


class SpeechError(ValueError):
    """Bad input to the synthesizer (empty text, unknown voice, out-of-range rate or pitch)."""


@dataclass(frozen=True)
class PhonemeSegment:
    symbol: str  # IPA, stress marks removed (see `stress`)
    start: float  # seconds
    end: float
    stress: int = 0  # 0 none, 1 primary, 2 secondary
    word_index: int = -1  # index into Utterance.words
    estimated: bool = False  # espeak-ng's event had zero length: span estimated (see ENDING_SHARE)


@dataclass(frozen=True)
class WordSegment:
    word: str  # as written in the text
    start: float
    end: float


@dataclass
class Utterance:
    text: str
    voice: str
    rate: int
    pitch: int
    audio: np.ndarray  # (N,) float32 in [-1, 1], 16 kHz mono
    phonemes: list[PhonemeSegment] = field(default_factory=list)
    words: list[WordSegment] = field(default_factory=list)
    sample_rate: int = SAMPLE_RATE

    @property
    def duration(self) -> float:
        return len(self.audio) / self.sample_rate

    def timings(self) -> dict:
        """JSON-ready description: everything except the samples."""
        return {
            "text": self.text,
            "voice": self.voice,
            "espeak_voice": VOICES.get(self.voice, self.voice),
            "rate": self.rate,
            "pitch": self.pitch,
            "sample_rate": self.sample_rate,
            "duration": self.duration,
            "phonemes": [asdict(p) for p in self.phonemes],
            "words": [asdict(w) for w in self.words],
        }


# ---------------------------------------------------------------------------------------------
# ctypes binding


class _EventId(ctypes.Union):
    _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]


class _Event(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", _EventId),
    ]


_SynthCallback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event))

_LOCK = threading.Lock()


def _reset_lock_after_fork() -> None:
    global _LOCK
    _LOCK = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_lock_after_fork)


class _Capture:
    """Collects what the synth callback hands over during one espeak_Synth call."""

    def __init__(self) -> None:
        self.chunks: list[np.ndarray] = []
        self.events: list[tuple[int, int, int, int, bytes]] = []  # type, text_pos, length, sample, name

    def __call__(self, wav, n, events) -> int:
        if wav and n > 0:
            self.chunks.append(np.ctypeslib.as_array(wav, shape=(n,)).copy())
        i = 0
        while events[i].type != _EV_LIST_TERMINATED:
            e = events[i]
            name = bytes(e.id.string) if e.type == _EV_PHONEME else b""
            self.events.append((e.type, e.text_position, e.length, e.sample, name))
            i += 1
        return 0


@lru_cache(maxsize=1)
def _paths() -> tuple[str, str]:
    import espeakng_loader

    return espeakng_loader.get_library_path(), espeakng_loader.get_data_path()


def _with_fresh_library(fn):
    """Run fn(lib, native_rate) on a freshly loaded espeak-ng, under the process-wide lock."""
    import _ctypes

    lib_path, data_path = _paths()
    with _LOCK:
        lib = ctypes.CDLL(lib_path, mode=getattr(os, "RTLD_LOCAL", 0))
        try:
            rate = lib.espeak_Initialize(
                _AUDIO_OUTPUT_SYNCHRONOUS, 0, data_path.encode(), _INIT_PHONEME_EVENTS | _INIT_PHONEME_IPA | _INIT_DONT_EXIT
            )
            if rate <= 0:
                raise RuntimeError(f"espeak-ng failed to initialise from {data_path}")
            return fn(lib, rate)
        finally:
            lib.espeak_Terminate()
            if hasattr(_ctypes, "dlclose"):
                _ctypes.dlclose(lib._handle)
            else:  # pragma: no cover - Windows
                _ctypes.FreeLibrary(lib._handle)


# ---------------------------------------------------------------------------------------------
# public API


def validate(text: str, voice: str, rate: int, pitch: int) -> str:
    """Check the request; return the espeak voice name. Raises SpeechError naming the problem."""
    if not isinstance(text, str) or not text.strip():
        raise SpeechError("text is empty: give at least one word to speak")
    if not any(ch.isalnum() for ch in text):
        # espeak-ng would read some punctuation aloud ("!!!" -> "exclamation"); that is not speech we want
        raise SpeechError(f"nothing speakable in text {text!r}: it has no letters or digits")
    control = next(((i, c) for i, c in enumerate(text) if unicodedata.category(c) == "Cc" and not c.isspace()), None)
    if control:  # a bell, or a pasted terminal colour code: espeak-ng would speak "\x1b[31m" as "31 m"
        raise SpeechError(f"text {text!r} contains the control character {control[1]!r} at position {control[0]}: "
                          "remove it (a terminal escape sequence pasted in?)")  # fmt: skip
    if voice not in VOICES:
        raise SpeechError(f"unknown voice {voice!r}; choose one of: {', '.join(VOICES)}")
    if not isinstance(rate, (int, np.integer)) or not RATE_RANGE[0] <= rate <= RATE_RANGE[1]:
        raise SpeechError(f"rate {rate!r} out of range: words per minute in [{RATE_RANGE[0]}, {RATE_RANGE[1]}]")
    if not isinstance(pitch, (int, np.integer)) or not PITCH_RANGE[0] <= pitch <= PITCH_RANGE[1]:
        raise SpeechError(f"pitch {pitch!r} out of range: [{PITCH_RANGE[0]}, {PITCH_RANGE[1]}]")
    return VOICES[voice]


def synthesize(text: str, voice: str = DEFAULT_VOICE, rate: int = 175, pitch: int = 50) -> Utterance:
    """Speak `text`; return 16 kHz float32 audio with phoneme and word segments (seconds)."""
    espeak_voice = validate(text, voice, rate, pitch)
    text = unicodedata.normalize("NFC", text.strip())
    data = text.encode("utf-8") + b"\0"
    capture = _Capture()

    def run(lib, native_rate):
        callback = _SynthCallback(capture)  # kept alive until synthesis returns
        lib.espeak_SetSynthCallback(callback)
        if lib.espeak_SetVoiceByName(espeak_voice.encode()) != 0:
            raise SpeechError(f"espeak-ng could not load voice {espeak_voice!r}")
        lib.espeak_SetParameter(_PARAM_RATE, int(rate), 0)
        lib.espeak_SetParameter(_PARAM_PITCH, int(pitch), 0)
        if hasattr(lib, "espeak_ng_SetRandSeed"):
            lib.espeak_ng_SetRandSeed(0)
        buf = ctypes.create_string_buffer(data)
        err = lib.espeak_Synth(buf, len(data), 0, 0, 0, _CHARS_UTF8, None, None)
        if err != 0:
            raise RuntimeError(f"espeak_Synth failed with error {err} for text {text!r}")
        lib.espeak_Synchronize()
        return native_rate

    native_rate = _with_fresh_library(run)
    native = np.concatenate(capture.chunks) if capture.chunks else np.zeros(0, np.int16)
    phonemes, words = _segments(capture.events, text, native_rate, len(native))
    if not phonemes:
        raise SpeechError(f"nothing speakable in text {text!r}")
    audio = _to_16k(native, native_rate)
    duration = len(audio) / SAMPLE_RATE
    phonemes = [_clip(p, duration) for p in phonemes]
    words = [WordSegment(w.word, min(w.start, duration), min(w.end, duration)) for w in words]
    return Utterance(text, voice, int(rate), int(pitch), audio, phonemes, words)


def _to_16k(native: np.ndarray, native_rate: int) -> np.ndarray:
    import soxr

    x = native.astype(np.float32) / 32768.0
    if native_rate != SAMPLE_RATE and len(x):
        x = soxr.resample(x, native_rate, SAMPLE_RATE, quality="HQ")
    return np.clip(x, -1.0, 1.0).astype(np.float32)


def _clip(p: PhonemeSegment, duration: float) -> PhonemeSegment:
    return replace(p, start=min(p.start, duration), end=min(p.end, duration))


def _segments(events, text: str, native_rate: int, n_samples: int):
    """Turn espeak events into phoneme and word segments.

    A PHONEME event marks where a phoneme starts; it ends where the next phoneme (or pause, an event
    with an empty name) starts, or at the END event. Phonemes follow the WORD event they belong to.
    Every phoneme event becomes a segment: one of zero length takes its span from the phoneme it was
    voiced inside (`_give_spans`).
    """
    marks: list[tuple[int, str | None, int]] = []  # (sample, symbol or None for pause/end, word idx)
    word_text: list[str] = []
    for etype, pos, length, sample, name in events:
        if etype == _EV_WORD:
            word_text.append(text[max(pos - 1, 0) : max(pos - 1, 0) + length])
        elif etype == _EV_PHONEME:
            symbol = name.split(b"\0", 1)[0].decode("utf-8", errors="strict")
            marks.append((sample, symbol or None, len(word_text) - 1))
        elif etype in (_EV_END, _EV_MSG_TERMINATED):
            marks.append((sample, None, len(word_text) - 1))
    marks.append((n_samples, None, -1))

    phonemes: list[PhonemeSegment] = []
    for (s0, symbol, w), (s1, _, _) in zip(marks[:-1], marks[1:]):
        if symbol is None:
            continue
        stress = 0
        while symbol and symbol[0] in _STRESS:
            stress = max(stress, _STRESS[symbol[0]])
            symbol = symbol[1:]
        if symbol:
            phonemes.append(PhonemeSegment(symbol, s0 / native_rate, max(s0, s1) / native_rate, stress, w))
    phonemes = _give_spans(phonemes, text)

    words: list[WordSegment] = []
    remap: dict[int, int] = {}
    for i, wt in enumerate(word_text):
        mine = [p for p in phonemes if p.word_index == i]
        if not mine:  # espeak announced a word it did not voice (e.g. lone punctuation)
            continue
        remap[i] = len(words)
        words.append(WordSegment(wt, mine[0].start, mine[-1].end))
    phonemes = [replace(p, word_index=remap.get(p.word_index, -1)) for p in phonemes]
    return phonemes, words


def _give_spans(phonemes: list[PhonemeSegment], text: str) -> list[PhonemeSegment]:
    """Give every zero-length phoneme the last ENDING_SHARE of the phoneme it was voiced inside.

    A run of zero-length phonemes shares that part equally, in order. The host is the phoneme right
    before the run, which must end where the run's events sit (no pause between); otherwise there is
    no sound to give the phoneme, and that is an error, not a silent drop.
    """
    out = list(phonemes)
    i = 0
    while i < len(out):
        if out[i].end > out[i].start:
            i += 1
            continue
        j = i
        while j < len(out) and out[j].end <= out[j].start:
            j += 1
        host = out[i - 1] if i else None
        if host is None or host.end != out[i].start or host.end <= host.start:
            raise SpeechError(
                f"espeak-ng gave phoneme {out[i].symbol!r} of {text!r} no duration and no sounding phoneme "
                "right before it to take one from"
            )
        cut = host.end - ENDING_SHARE * (host.end - host.start)
        step = (host.end - cut) / (j - i)
        out[i - 1] = replace(host, end=cut)
        for k in range(i, j):
            out[k] = replace(out[k], start=cut + (k - i) * step, end=cut + (k - i + 1) * step, estimated=True)
        i = j
    return out


def text_to_phonemes(text: str, voice: str = DEFAULT_VOICE) -> list[list[str]]:
    """espeak-ng's own letter-to-sound rules: one list of IPA phonemes (stress removed) per word,
    each word translated on its own (the pronunciation a word has in isolation)."""
    espeak_voice = validate(text, voice, 175, 50)
    return _with_fresh_library(lambda lib, _rate: [_translate(lib, espeak_voice, w) for w in text.split()])


def spoken_phonemes(text: str, voice: str = DEFAULT_VOICE) -> list[str]:
    """What espeak-ng's text-to-phoneme translation says `synthesize(text, voice)` speaks: the IPA
    phonemes (stress removed) of the whole text, translated clause by clause as synthesis does, so
    connected-speech forms ("to" as [t ə]) and words run together match the spoken ones."""
    espeak_voice = validate(text, voice, 175, 50)
    text = unicodedata.normalize("NFC", text.strip())
    return _with_fresh_library(lambda lib, _rate: _translate(lib, espeak_voice, text))


def _translate(lib, espeak_voice: str, text: str) -> list[str]:
    """espeak_TextToPhonemes over all of `text`; it translates one clause per call and moves the
    pointer on (NULL at the end)."""
    if lib.espeak_SetVoiceByName(espeak_voice.encode()) != 0:
        raise SpeechError(f"espeak-ng could not load voice {espeak_voice!r}")
    lib.espeak_TextToPhonemes.restype = ctypes.c_char_p
    data = text.encode("utf-8")  # kept alive while espeak reads it
    ptr = ctypes.c_char_p(data)
    out: list[str] = []
    for _ in range(len(data) + 1):  # at least one character per clause
        if not ptr.value:
            return out
        res = lib.espeak_TextToPhonemes(ctypes.byref(ptr), _CHARS_UTF8, _PHONEMES_IPA | (ord("_") << 8))
        syms = [s.lstrip("ˈˌ") for s in (res or b"").decode("utf-8").replace(" ", "_").split("_")]
        out += [s for s in syms if s]
    raise RuntimeError(f"espeak_TextToPhonemes did not reach the end of {text!r}")


def save_wav(path, audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> None:
    """Write a mono float32 wav atomically (temp file, then rename)."""
    import soundfile as sf

    with atomic_path(path) as tmp:
        sf.write(tmp, audio, sample_rate, subtype="PCM_16", format="WAV")
