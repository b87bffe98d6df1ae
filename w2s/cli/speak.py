"""`w2s speak`: synthesize speech with phoneme and word timings (espeak-ng; no torch)."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from w2s.cli.args import UsageError
from w2s.corpus.speech import DEFAULT_VOICE, VOICES, save_wav, synthesize
from w2s.utils.io import atomic_path


def configure_speak(p: argparse.ArgumentParser) -> None:
    p.add_argument("text", help="what to say")
    p.add_argument("out", type=Path, help="output .wav (the timings go to the same name with .json)")
    p.add_argument("--voice", default=DEFAULT_VOICE, help=f"one of: {', '.join(VOICES)}")
    p.add_argument("--rate", type=int, default=175, help="words per minute, 80-450")
    p.add_argument("--pitch", type=int, default=50, help="base pitch, 0-99")


def run_speak(args) -> int:
    out: Path = args.out
    if out.suffix.lower() != ".wav":
        raise UsageError(f"output {out} must end in .wav")
    timings_path = out.with_suffix(".json")
    utt = synthesize(args.text, args.voice, args.rate, args.pitch)  # validates before touching disk
    with atomic_path(timings_path) as tmp_json:
        Path(tmp_json).write_text(json.dumps(utt.timings(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        try:
            save_wav(out, utt.audio)
        except BaseException:
            if out.exists():
                os.unlink(out)
            raise
    print(f"wrote {out} ({utt.duration:.2f} s, {len(utt.phonemes)} phonemes, {len(utt.words)} words) and {timings_path}")
    return 0
