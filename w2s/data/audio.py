"""Audio loading: read, validate, downmix, resample.

Every model in w2s reads 16 kHz mono float32. Real datasets do not always store that: VOCASET's wavs
are written at the capture pickle's native rate, BIWI's were extracted from video at 44.1 kHz, and a
user's own file may be stereo. :func:`load_audio` turns any of these into what the models read and
*says so* with a warning (one per file and problem), rather than silently changing the data. Files
that cannot be used (missing, unreadable, empty, containing NaN/inf) raise :class:`AudioError`, whose
message names the file and the problem. A file whose data is shorter than its header says (cut off),
a WAV whose header declares less data than follows (a recording never finalized: read to the end), or
float samples beyond [-1, 1] (clipping) load with a warning; the length placeholder of a streamed WAV
(0xFFFFFFFF) is no alarm.

:func:`validate_audio` is the one check of every public entry point that takes audio (the encoders,
``Wav2Sem.predict``, ``w2s animate``): a path is loaded as above; an array must be mono (a
several-channel array is an error, never flattened into one interleaved signal), float, non-empty
and finite.
"""

from __future__ import annotations

import io
import os
import re
import struct
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
        info = sf.info(_readable(path)[0])
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
    data, sr = read_samples(path)
    return to_mono(data, sr, target_sr, str(path))


def read_samples(path) -> tuple[np.ndarray, int]:
    """The file's own samples, (N, channels) float32, and its sample rate, checked as :func:`load_audio`
    says. A WAV header that understates the data (a recording never finalized) is read to the file's end,
    one that overstates it (a file cut off) reads what is there; both with a warning."""
    import soundfile as sf

    path = _existing_file(path)
    source, note = _readable(path)
    try:
        data, sr = sf.read(source, dtype="float32", always_2d=True)
    except Exception as e:
        raise AudioError(f"cannot read audio file {path}: {_reason(e)}") from e
    if data.shape[0] == 0 or data.shape[1] == 0:
        raise AudioError(f"audio file {path} is empty (0 samples)")
    _check_finite(data, f"audio file {path}")
    if note:
        warnings.warn(note.format(n=data.shape[0]), UserWarning, stacklevel=3)
    else:
        _warn_if_truncated(path, data.shape[0])
    _warn_if_clipped(data, str(path))
    return data, int(sr)


def to_mono(data: np.ndarray, sr: int, target_sr: int | None = SAMPLE_RATE, what: str = "audio") -> np.ndarray:
    """(N, channels) samples at `sr` -> (N',) float32 at `target_sr` (None: `sr`): channels averaged and the
    rate resampled with soxr, each with a warning naming `what`."""
    if data.shape[1] > 1:
        warnings.warn(f"{what}: {data.shape[1]} channels, averaged to mono", UserWarning, stacklevel=3)
        audio = data.mean(axis=1, dtype=np.float32)
    else:
        audio = data[:, 0]
    if target_sr is not None and int(sr) != int(target_sr):
        import soxr

        warnings.warn(f"{what}: sample rate {sr} Hz, resampled to {target_sr} Hz", UserWarning, stacklevel=3)
        audio = soxr.resample(audio, int(sr), int(target_sr))
        if audio.shape[0] == 0:
            raise AudioError(f"audio file {what} is empty after resampling {sr} -> {target_sr} Hz")
    return np.ascontiguousarray(audio, dtype=np.float32)


def validate_audio(audio, name: str | None = None, target_sr: int | None = SAMPLE_RATE) -> np.ndarray:
    """Audio as every model in w2s reads it, (N,) float32 mono, from a path or an array; else AudioError.

    A path (str or os.PathLike) goes through :func:`load_audio` (resampled to `target_sr`, channels
    averaged, both with a warning). An array (numpy, torch, list) must be 1-D, or 2-D with one axis of
    size 1; one with several channels is an error naming its shape (its orientation is a guess, and
    flattening it would interleave the channels into one signal of double length). It must be float
    (integer PCM is an error: scale it to [-1, 1]), non-empty and finite (NaN/inf: an error naming
    the first bad sample); samples beyond [-1, 1] give a clipping warning. `name` names the input in
    messages (default "audio")."""
    if isinstance(audio, (str, os.PathLike)):
        return load_audio(audio, target_sr)
    what = name or "audio"
    try:
        x = np.asarray(audio.detach().cpu() if hasattr(audio, "detach") else audio)
    except (TypeError, ValueError) as e:
        raise AudioError(f"{what} is not an array of samples ({e})") from None
    if x.dtype == object or not (np.issubdtype(x.dtype, np.number) or x.dtype == bool):
        raise AudioError(f"{what} is not an array of samples (dtype {x.dtype}); pass float samples or a file path")
    if not np.issubdtype(x.dtype, np.floating):
        raise AudioError(f"{what} has {x.dtype} samples; pass float audio in [-1, 1] (int16 PCM: x / 32768)")
    if x.ndim == 2 and 1 in x.shape:
        x = x.reshape(-1)
    if x.ndim != 1:
        raise AudioError(f"{what} has shape {tuple(x.shape)}: expected mono (N,) samples. Several channels are "
                         "not mixed or flattened silently: pass one channel or their mean (x.mean(axis=1) for "
                         "(samples, channels))")  # fmt: skip
    if x.size == 0:
        raise AudioError(f"{what} is empty (0 samples)")
    x = np.ascontiguousarray(x, dtype=np.float32)
    _check_finite(x[:, None], what)
    _warn_if_clipped(x, what)
    return x


def _check_finite(data: np.ndarray, what: str) -> None:
    """(N, C) samples; AudioError naming the count and the first non-finite sample."""
    bad = ~np.isfinite(data)
    if bad.any():
        first = int(np.argwhere(bad)[0][0])
        raise AudioError(f"{what} contains {int(bad.sum())} non-finite (NaN/inf) sample(s), the first at sample {first}")


def _warn_if_clipped(data: np.ndarray, what: str) -> None:
    peak = float(np.abs(data).max())
    if peak > 1.0:
        warnings.warn(f"{what}: samples reach {peak:.3g}, beyond [-1, 1] (clipped or unscaled audio?)", UserWarning,
                      stacklevel=3)  # fmt: skip


_SHORT_CHUNK = re.compile(r"^data\s*:\s*(\d+)\s*\(should be (\d+)\)", re.M)
# a data size this large is the placeholder a streaming writer (ffmpeg to a pipe) leaves for "unknown
# length" (0xFFFFFFFF, 0x7FFFFFFF): the data runs to the file's end, as libsndfile reads it; no alarm
_UNKNOWN_LENGTH = 0x7FFFF000


def _warn_if_truncated(path: Path, frames: int) -> None:
    """A data chunk shorter than its header says (a file cut off in a copy or download): libsndfile reads
    what is there and notes the difference in its log ("data : 32000 (should be 16000)")."""
    import soundfile as sf

    try:
        info = sf.info(str(path))
    except Exception:  # already read once: nothing more to learn here
        return
    m = _SHORT_CHUNK.search(info.extra_info or "")
    if m and int(m.group(2)) < int(m.group(1)) < _UNKNOWN_LENGTH:
        declared = int(m.group(1)) * frames // max(1, int(m.group(2)))  # bytes -> samples (bytes per sample frame)
        warnings.warn(f"{path}: the header declares {declared} samples but the file holds {frames}: the file is cut "
                      "off (an interrupted copy or download?)", UserWarning, stacklevel=4)  # fmt: skip


def _readable(path: Path):
    """(what soundfile should read for `path`, a warning to give or None). A WAV whose data chunk declares
    fewer bytes than follow it (a recording whose header was never finalized: size 0, or its first
    buffer's) is read from memory with the size corrected to the file's end; libsndfile would stop at the
    stale size (a 1-frame video of a 1.4 s file) or call the file empty."""
    found = _understated_wav(path)
    if found is None:
        return str(path), None
    where, declared, actual = found
    data = bytearray(path.read_bytes())
    struct.pack_into("<I", data, 4, len(data) - 8)  # the RIFF size
    struct.pack_into("<I", data, where, actual)
    return io.BytesIO(bytes(data)), (
        f"{path}: the WAV header declares {declared} bytes of audio but {actual} follow: read all {{n}} samples "
        "(a recording whose header was never finalized?)"
    )


def _understated_wav(path: Path) -> tuple[int, int, int] | None:
    """(offset of the data chunk's size field, the size it declares, the bytes that follow it) for a RIFF
    WAVE file whose data chunk is followed by bytes that are not chunks; None for any other file."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:] != b"WAVE":
            return None
        pos = 12
        while pos + 8 <= size:
            f.seek(pos)
            cid, n = struct.unpack("<4sI", f.read(8))
            if cid == b"data":
                end = pos + 8 + n
                if n >= _UNKNOWN_LENGTH or end >= size:
                    return None  # runs to the end (streamed), or is cut off: libsndfile reads these right
                if _chunks_to_the_end(f, end + (n & 1), size) or _chunks_to_the_end(f, end, size):
                    return None  # chunks follow it (LIST, id3), after a pad byte or not (some writers forget it)
                return pos + 4, n, size - pos - 8
            pos += 8 + n + (n & 1)  # chunks are padded to an even length
    return None


def _chunks_to_the_end(f, pos: int, size: int) -> bool:
    """The bytes of `f` from `pos` to `size` are RIFF chunks (a LIST or id3 after the data), not samples."""
    while pos + 8 <= size:
        f.seek(pos)
        cid, n = struct.unpack("<4sI", f.read(8))
        if not all(32 <= c < 127 for c in cid) or pos + 8 + n > size:
            return False
        pos += 8 + n + (n & 1)
    return True


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
