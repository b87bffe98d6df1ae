"""Audio loading: read, validate, downmix, resample.

Every model in w2s reads 16 kHz mono float32. Real datasets do not always store that: VOCASET's wavs
are written at the capture pickle's native rate, BIWI's were extracted from video at 44.1 kHz, and a
user's own file may be stereo. :func:`load_audio` turns any of these into what the models read and
*says so* with a warning (one per file and problem), rather than silently changing the data. Files
that cannot be used (missing, unreadable, empty, containing NaN/inf) raise :class:`AudioError`, whose
message names the file and the problem.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from w2s.corpus.speech import SAMPLE_RATE  # what every model in w2s reads


class AudioError(ValueError):
    """An audio file that cannot be used; the message names the file and the problem."""


def audio_info(path) -> tuple[int, int, int]:
    """(n_samples, sample_rate, channels) from the file header, without reading the samples.

    Raises :class:`AudioError` for a missing or unreadable file.
    """
    import soundfile as sf

    path = _existing_file(path)
    try:
        info = sf.info(str(path))
    except Exception as e:  # soundfile raises LibsndfileError / RuntimeError / TypeError
        raise AudioError(f"cannot read audio file {path}: {_reason(e)}") from e
    return int(info.frames), int(info.samplerate), int(info.channels)


def load_audio(path, target_sr: int | None = SAMPLE_RATE) -> np.ndarray:
    """Read an audio file as a float32 mono signal at `target_sr` Hz.

    * Several channels are averaged into one, with a warning.
    * A sample rate other than `target_sr` is resampled with soxr (high quality, deterministic), with
      a warning that names the file and both rates. ``target_sr=None`` keeps the file's own rate.
    * Raises :class:`AudioError` (a ``ValueError``) naming the file for: a missing file, a file that
      is not readable audio, audio with 0 samples, samples that are NaN or infinite.
    """
    import soundfile as sf

    path = _existing_file(path)
    try:
        data, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as e:
        raise AudioError(f"cannot read audio file {path}: {_reason(e)}") from e
    if data.shape[0] == 0 or data.shape[1] == 0:
        raise AudioError(f"audio file {path} is empty (0 samples)")
    bad = ~np.isfinite(data)
    if bad.any():
        first = int(np.argwhere(bad)[0][0])
        raise AudioError(
            f"audio file {path} contains {int(bad.sum())} non-finite (NaN/inf) sample(s), "
            f"the first at sample {first}"
        )
    if data.shape[1] > 1:
        warnings.warn(f"{path}: {data.shape[1]} channels, averaged to mono", UserWarning, stacklevel=2)
        audio = data.mean(axis=1, dtype=np.float32)
    else:
        audio = data[:, 0]
    if target_sr is not None and int(sr) != int(target_sr):
        import soxr

        warnings.warn(f"{path}: sample rate {sr} Hz, resampled to {target_sr} Hz", UserWarning, stacklevel=2)
        audio = soxr.resample(audio, int(sr), int(target_sr))
        if audio.shape[0] == 0:
            raise AudioError(f"audio file {path} is empty after resampling {sr} -> {target_sr} Hz")
    return np.ascontiguousarray(audio, dtype=np.float32)


def _existing_file(path) -> Path:
    path = Path(path)
    if not path.exists():
        raise AudioError(f"audio file {path} does not exist")
    if not path.is_file():
        raise AudioError(f"audio file {path} is not a file")
    return path


def _reason(e: Exception) -> str:
    text = str(e).strip()
    return text if text else type(e).__name__
