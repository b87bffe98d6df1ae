"""Frames <-> phoneme alignments: which phoneme each feature frame sits in.

A frame k at `rate_hz` frames per second is labelled with the phoneme segment holding its centre time
(k + 0.5) / rate. Used by the phonetic probe and the coupling measures (``w2s.evaluation``) and by the
frame phoneme recogniser that feeds VOCA (``w2s.encoders.recogniser``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from w2s.data.files import parse_stem


def frame_centres(n_frames: int, rate_hz: float) -> np.ndarray:
    return (np.arange(n_frames) + 0.5) / rate_hz  # (T,) seconds


def frame_labels(n_frames: int, rate_hz: float, phonemes: Sequence[dict]) -> np.ndarray:
    """(T,) phoneme symbol of the segment holding each frame's centre; "" outside every segment."""
    labels = np.full(n_frames, "", dtype=object)
    if not phonemes or n_frames == 0:
        return labels
    segs = sorted(phonemes, key=lambda p: p["start"])
    starts = np.array([p["start"] for p in segs])
    ends = np.array([p["end"] for p in segs])
    syms = np.array([p["symbol"].lstrip("ˈˌ") for p in segs], dtype=object)
    t = frame_centres(n_frames, rate_hz)
    i = np.searchsorted(starts, t, side="right") - 1  # last segment starting at or before t
    ok = (i >= 0) & (t < ends[np.clip(i, 0, None)])
    labels[ok] = syms[i[ok]]
    return labels


def frame_phoneme_dataset(
    features_by_stem: dict[str, np.ndarray], rate_hz: float, alignments: dict[str, dict], silence: str | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labelled frames: X (N, D) float32, y (N,) phoneme symbols, subjects (N,).

    Frames outside every phoneme segment are dropped, or labelled `silence` when it is given.
    """
    Xs, ys, ss = [], [], []
    for stem, F in features_by_stem.items():
        F = np.asarray(F)
        if F.ndim != 2:
            raise ValueError(f"{stem}: features must be (T, D), got shape {F.shape}")
        if stem not in alignments:
            raise KeyError(f"no alignment for stem {stem!r}")
        lab = frame_labels(len(F), rate_hz, alignments[stem]["phonemes"])  # (T,)
        if silence is not None:
            lab[lab == ""] = silence
        keep = lab != ""
        Xs.append(F[keep].astype(np.float32))
        ys.append(lab[keep].astype(str))
        ss.append(np.full(int(keep.sum()), parse_stem(stem)[0]))
    if not Xs:
        raise ValueError("no utterances given")
    return np.concatenate(Xs), np.concatenate(ys), np.concatenate(ss)
