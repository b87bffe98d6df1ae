"""The files of a FaceFormer-layout dataset, each read and checked: stems, templates (a pickle, read
without running code: arrays and plain containers only), regions, transcripts, alignments, triangles;
and word spans from alignments."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from w2s.data.spec import DatasetError
from w2s.utils.io import JSONFileError, read_json
from w2s.utils.safe_pickle import RefusedPickle, load_arrays
from w2s.utils.words import normalise_word  # noqa: F401  (re-exported: w2s.data.files.normalise_word)


def parse_stem(stem: str) -> tuple[str, int]:
    """``"FaceTalk_170728_03272_TA_sentence01"`` -> ``("FaceTalk_170728_03272_TA", 1)``; ``"F2_e37"`` -> ``("F2", 37)``."""
    subject, sep, last = stem.rpartition("_")
    m = re.search(r"(\d+)$", last)
    if not sep or not subject or m is None:
        raise ValueError(f"file name {stem!r} is not SUBJECT_SENTENCE (e.g. F2_e01, X_sentence01)")
    return subject, int(m.group(1))


def load_templates(path) -> dict[str, np.ndarray]:
    """``templates.pkl`` as ``{subject: float32 (V, 3)}``.

    Read with a restricted unpickler (:func:`w2s.utils.safe_pickle.load_arrays`): numpy arrays,
    numbers and plain containers only, so a crafted file cannot run code; a pickle that names anything
    else is refused with an error naming the file and what it asked for. Python-2 pickles (VOCA's and
    FaceFormer's) still load (``encoding="latin1"``).
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"templates file {path} does not exist")
    try:
        raw = load_arrays(path)
    except RefusedPickle as e:
        raise DatasetError(f"templates file {path}: refused to load: {e} (only arrays are read from a pickle, "
                           "so that no code in it runs)") from None  # fmt: skip
    except Exception as e:
        raise DatasetError(f"cannot read templates file {path}: {type(e).__name__}: {e}") from e
    if not isinstance(raw, dict):
        raise DatasetError(
            f"templates file {path}: expected a dict {{subject: (V, 3) array}}, got {type(raw).__name__}"
        )
    out = {}
    for k, v in raw.items():
        name = k.decode("latin1") if isinstance(k, bytes) else str(k)
        try:
            a = np.asarray(v, dtype=np.float32)
        except (TypeError, ValueError) as e:
            raise DatasetError(f"templates file {path}: subject {name!r}: not a numeric array") from e
        if a.ndim == 1 and a.size % 3 == 0:
            a = a.reshape(-1, 3)
        if a.ndim != 2 or a.shape[1] != 3 or a.shape[0] == 0:
            raise DatasetError(
                f"templates file {path}: subject {name!r}: expected shape (V, 3), got {a.shape}"
            )
        if not np.isfinite(a).all():
            raise DatasetError(f"templates file {path}: subject {name!r}: template contains NaN/inf")
        out[name] = a
    return out


def load_region(path, n_vertices: int | None = None) -> np.ndarray:
    """Vertex indices from a text file: integers separated by whitespace and/or commas."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise DatasetError(f"cannot read region file {path}: {e}") from e
    tokens = [t for t in re.split(r"[\s,]+", text) if t]
    try:
        idx = np.array([int(t) for t in tokens], dtype=np.int64)
    except ValueError as e:
        raise DatasetError(f"region file {path}: not a list of integer vertex indices ({e})") from e
    if idx.size == 0:
        raise DatasetError(f"region file {path} is empty")
    if idx.min() < 0 or (n_vertices is not None and idx.max() >= n_vertices):
        raise DatasetError(
            f"region file {path}: indices range over [{idx.min()}, {idx.max()}] "
            f"but the mesh has {n_vertices} vertices"
        )
    return idx


REGION_FILES = {"lips": ("lips.txt", "lve.txt"), "upper_face": ("upper_face.txt", "fdd.txt")}


def _read_json(path: Path, what: str, **checks):
    """:func:`w2s.utils.io.read_json` (errors name the file and the key), as a DatasetError."""
    try:
        return read_json(path, what, **checks)
    except JSONFileError as e:
        raise DatasetError(str(e)) from None


def load_transcripts(root) -> dict[str, str]:
    """``ROOT/transcripts.json`` ({stem: text}), or {} when absent."""
    p = Path(root) / "transcripts.json"
    if not p.is_file():
        return {}
    d = _read_json(p, "transcripts file")
    if not isinstance(d, dict):
        raise DatasetError(f"{p}: expected a JSON object {{stem: text}}")
    return {str(k): str(v) for k, v in d.items()}


def load_alignments(root) -> dict[str, dict]:
    """``ROOT/alignments.json`` ({stem: {"phonemes": [...], "words": [...]}}), or {} when absent."""
    p = Path(root) / "alignments.json"
    if not p.is_file():
        return {}
    d = _read_json(p, "alignments file")
    if not isinstance(d, dict) or not all(isinstance(v, dict) for v in d.values()):
        raise DatasetError(f"{p}: expected a JSON object {{stem: {{'phonemes': [...], 'words': [...]}}}}")
    for stem, entry in d.items():
        for key in ("words", "phonemes"):
            items = entry.get(key, [])
            if not isinstance(items, list):
                raise DatasetError(f"{p}: entry {stem!r}: {key!r} must be a list")
            for i, w in enumerate(items):
                name = "word" if key == "words" else "symbol"
                missing = [k for k in (name, "start", "end") if not isinstance(w, dict) or k not in w]
                if missing:
                    raise DatasetError(f"{p}: entry {stem!r}: {key}[{i}] has no {missing[0]!r}")
                if not all(isinstance(w[k], (int, float)) and not isinstance(w[k], bool) for k in ("start", "end")):
                    raise DatasetError(f"{p}: entry {stem!r}: {key}[{i}]: 'start' and 'end' must be numbers")
    return d


def pair_word_spans(alignment, words: Iterable[str]) -> list[tuple[float, float]]:
    """Time spans ``(start_s, end_s)`` of the words of `alignment` that are in `words`.

    Matching ignores case and punctuation (``"Thin,"`` matches ``"thin"``; inner apostrophes are kept).
    `alignment` is one entry of ``alignments.json`` (a dict with ``"words"``) or its word list.
    The result feeds :func:`w2s.evaluation.metrics.homophone_lve`.
    """
    wanted = {normalise_word(w) for w in words} - {""}
    items = alignment.get("words", []) if isinstance(alignment, dict) else list(alignment or [])
    spans = []
    for w in items:
        if normalise_word(w.get("word", "")) in wanted:
            spans.append((float(w["start"]), float(w["end"])))
    return spans




def load_faces(path, n_vertices: int) -> np.ndarray:
    """``faces.npy``: integer (F, 3) triangle indices into `n_vertices` vertices, as int64."""
    path = Path(path)
    try:
        f = np.load(path, allow_pickle=False)
    except Exception as e:
        raise DatasetError(f"cannot read faces file {path}: {type(e).__name__}: {e}") from e
    if f.ndim != 2 or f.shape[1] != 3 or not np.issubdtype(f.dtype, np.integer):
        raise DatasetError(f"faces file {path}: expected integer (F, 3) triangles, got {f.dtype} {f.shape}")
    if f.size and (f.min() < 0 or f.max() >= n_vertices):
        raise DatasetError(f"faces file {path}: indices outside [0, {n_vertices - 1}]")
    return f.astype(np.int64)
