"""Speech from the Festival speech synthesis system: a second *training* synthesizer (issue 26).

Everything else here speaks with espeak-ng, a formant synthesizer; flite (w2s.corpus.flite) is the test
voice no model trains on. Festival's diphone voices concatenate diphones recorded from people (LPC
residual-excited), so a model that also trains on them hears more than one kind of speech. They are
Debian packages, optional like flite (``apt-get install festival festvox-kallpc16k festvox-kdlpc16k``):

* ``kal_diphone`` and ``ked_diphone``: two American English male speakers, 16 kHz. Neither is one of the
  test voice's speakers (flite's ``slt`` and ``rms``); ``kal`` shares a speaker with flite's ``kal`` voice,
  which the test voice does not use.

Festival renders a batch of texts in one process from a Scheme script (:func:`script`): for each speaker
its voice, its speaking rate (``Duration_Stretch``) and its mean pitch (the linear-regression intonation
model's ``target_f0_mean``). The audio comes back, and on request each utterance's phone segments
(``utt.save.segs``: Festival's US phones are CMU's, the set w2s.corpus.flite maps to IPA). Festival has no
random state: the same script gives the same bytes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from w2s.corpus.speech import SAMPLE_RATE, SpeechError

PACKAGES = {"kal_diphone": "festvox-kallpc16k", "ked_diphone": "festvox-kdlpc16k"}  # voice -> its Debian package
VOICES = tuple(PACKAGES)
TIMEOUT_S = 300  # one batch (a speaker's chapters)
F0_STD_RATIO = 0.15  # the intonation's spread as a share of its mean (the voices' own: 14 Hz at 105 Hz)


class FestivalError(SpeechError):
    """festival missing, failing, or giving output that cannot be read; the message names the text or voice."""


def available(voices: Sequence[str] = VOICES) -> str | None:
    """Why Festival cannot speak `voices` here (a sentence), or None when it can."""
    if shutil.which("festival") is None:
        return "festival not found on PATH: the Festival voices need Debian's festival package (apt-get install festival)"
    missing = [v for v in voices if not _voice_dir(v)]
    if missing:
        return (f"Festival voice(s) {', '.join(missing)} not installed (apt-get install "
                f"{' '.join(PACKAGES.get(v, v) for v in missing)})")  # fmt: skip
    return None


def _voice_dir(voice: str) -> bool:
    roots = [Path("/usr/share/festival/voices"), Path("/usr/local/share/festival/voices")]
    return any((r / lang / voice).is_dir() for r in roots for lang in ("english", "us_english"))


def _quote(text: str) -> str:
    """A Scheme string literal of `text`."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def script(texts: Sequence[str], paths: Sequence[Path], voice: str, duration_stretch: float, f0_mean: float,
           segments: bool = False) -> str:  # fmt: skip
    """The Scheme that makes festival speak each of `texts` into the wav file beside it in `paths` (and, with
    `segments`, its phone segments into the same path with the suffix .segs)."""
    lines = [f"({'voice_' + voice})",
             f"(Parameter.set 'Duration_Stretch {duration_stretch:.4f})",
             f"(set! int_lr_params '((target_f0_mean {f0_mean:.1f}) (target_f0_std {F0_STD_RATIO * f0_mean:.1f}) "
             "(model_f0_mean 170) (model_f0_std 34)))"]  # fmt: skip
    for t, p in zip(texts, paths):
        lines.append(f"(set! u (utt.synth (Utterance Text {_quote(t)})))")
        lines.append(f"(utt.save.wave u {_quote(str(p))} 'riff)")
        if segments:
            lines.append(f"(utt.save.segs u {_quote(str(Path(p).with_suffix('.segs')))})")
    return "\n".join(lines) + "\n"


def parse_segs(text: str) -> list[tuple[str, float, float]]:
    """Festival's ``utt.save.segs`` file (a '#' line, then 'END_TIME 100 PHONE' per line) as (phone, start, end)
    in seconds; phones are its US radio set, CMU's (w2s.corpus.flite.CMU_TO_IPA), pauses ``pau``."""
    out, start = [], 0.0
    for line in text.splitlines():
        parts = line.split()
        if len(parts) != 3 or line.startswith("#"):
            continue
        end = float(parts[0])
        out.append((parts[2], start, end))
        start = end
    return out


def synthesize_many(texts: Sequence[str], voice: str = "kal_diphone", duration_stretch: float = 1.0,
                    f0_mean: float = 105.0, segments: bool = False) -> list:  # fmt: skip
    """Festival's `voice` speaking each of `texts`: 16 kHz float32 audio, one array per text, in order; with
    `segments`, (audio, phone segments (phone, start s, end s)) per text."""
    import soundfile as sf
    import soxr

    if voice not in VOICES:
        raise FestivalError(f"unknown Festival voice {voice!r}; choose one of: {', '.join(VOICES)}")
    for t in texts:
        if not t.strip() or not any(c.isalnum() for c in t):
            raise FestivalError(f"nothing speakable in text {t!r}")
    why = available([voice])
    if why:
        raise FestivalError(why)
    with tempfile.TemporaryDirectory(prefix="w2s-festival-") as tmp:
        paths = [Path(tmp) / f"{i:05d}.wav" for i in range(len(texts))]
        (Path(tmp) / "batch.scm").write_text(script(texts, paths, voice, duration_stretch, f0_mean, segments),
                                             encoding="utf-8")  # fmt: skip
        try:
            res = subprocess.run(["festival", "-b", str(Path(tmp) / "batch.scm")], capture_output=True, text=True,
                                 timeout=TIMEOUT_S, env={**os.environ, "LC_ALL": "C"})  # fmt: skip
        except subprocess.TimeoutExpired:
            raise FestivalError(f"festival took over {TIMEOUT_S} s on {len(texts)} texts ({voice})") from None
        out = []
        for t, p in zip(texts, paths):
            if res.returncode != 0 or not p.is_file():
                why = " ".join((res.stderr or res.stdout).split())[:200] or f"exit {res.returncode}"
                raise FestivalError(f"festival ({voice}) wrote no audio for {t!r}: {why}")
            audio, rate = sf.read(p, dtype="float32", always_2d=False)
            if rate != SAMPLE_RATE and len(audio):
                audio = soxr.resample(audio, rate, SAMPLE_RATE, quality="HQ")
            if not len(audio):
                raise FestivalError(f"festival ({voice}) wrote empty audio for {t!r}")
            audio = np.clip(audio, -1.0, 1.0).astype(np.float32)
            out.append((audio, parse_segs(p.with_suffix(".segs").read_text())) if segments else audio)
    return out


def version() -> str:
    """``festival --version``'s line (recorded in the speech set's manifest)."""
    why = available(())
    if why:
        raise FestivalError(why)
    res = subprocess.run(["festival", "--version"], capture_output=True, text=True, timeout=60)
    return " ".join((res.stdout + res.stderr).split())
