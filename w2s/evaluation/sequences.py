"""What every lip metric reads: sequences (T, V, 3) in float64, prediction/ground-truth pairs cut to one length,
vertex index sets and templates, checked with messages that name the argument. Shared by
:mod:`w2s.evaluation.metrics` and :mod:`w2s.evaluation.lip_timing`.
"""

from __future__ import annotations

import numpy as np


def _to_numpy(x, name: str) -> np.ndarray:
    if hasattr(x, "detach") and hasattr(x, "cpu"):  # torch tensor, without importing torch
        x = x.detach().cpu().numpy()
    try:
        return np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{name}: cannot convert to a numeric array ({e})") from e


def _sequence(x, name: str) -> np.ndarray:
    """One sequence as (T, V, 3) float64."""
    a = _to_numpy(x, name)
    if a.ndim == 2:
        if a.shape[1] % 3:
            raise ValueError(f"{name}: shape {a.shape} is (T, V*3) but {a.shape[1]} is not divisible by 3")
        a = a.reshape(a.shape[0], -1, 3)
    elif a.ndim != 3 or a.shape[2] != 3:
        raise ValueError(f"{name}: expected shape (T, V, 3) or (T, V*3), got {a.shape}")
    if a.shape[0] == 0:
        raise ValueError(f"{name}: sequence has 0 frames")
    if a.shape[1] == 0:
        raise ValueError(f"{name}: sequence has 0 vertices")
    bad = ~np.isfinite(a)
    if bad.any():
        t = int(np.argwhere(bad)[0][0])
        raise ValueError(f"{name}: {int(bad.sum())} NaN/inf value(s), the first in frame {t}")
    return a


def _sequences(x, name: str) -> list[np.ndarray]:
    if isinstance(x, (list, tuple)):
        items = list(x)
    else:
        a = _to_numpy(x, name)
        items = list(a) if a.ndim == 4 else [a]
    if not items:
        raise ValueError(f"{name}: empty list of sequences")
    return [_sequence(s, f"{name}[{i}]") for i, s in enumerate(items)]


def _pairs(preds, gts) -> list[tuple[np.ndarray, np.ndarray]]:
    """Validated (pred, gt) pairs, both cut to the shorter length."""
    p = _sequences(preds, "preds")
    g = _sequences(gts, "gts")
    if len(p) != len(g):
        raise ValueError(f"{len(p)} predicted sequences but {len(g)} ground-truth sequences")
    out = []
    for i, (a, b) in enumerate(zip(p, g, strict=True)):
        if a.shape[1] != b.shape[1]:
            raise ValueError(
                f"sequence {i}: prediction has {a.shape[1]} vertices but ground truth has {b.shape[1]}"
            )
        n = min(a.shape[0], b.shape[0])
        out.append((a[:n], b[:n]))
    return out


def _indices(idx, n_vertices: int, name: str) -> np.ndarray:
    if hasattr(idx, "detach") and hasattr(idx, "cpu"):
        idx = idx.detach().cpu().numpy()
    a = np.asarray(idx)
    if a.dtype == bool:
        if a.shape != (n_vertices,):
            raise ValueError(f"{name}: boolean mask of shape {a.shape}, expected ({n_vertices},)")
        a = np.flatnonzero(a)
    else:
        a = a.reshape(-1)
        if a.size and not np.issubdtype(a.dtype, np.integer):
            if not np.all(np.equal(np.mod(a, 1), 0)):
                raise ValueError(f"{name}: vertex indices must be integers")
            a = a.astype(np.int64)
    if a.size == 0:
        raise ValueError(f"{name}: no vertex indices")
    if a.min() < 0 or a.max() >= n_vertices:
        raise ValueError(
            f"{name}: vertex indices must lie in [0, {n_vertices - 1}], got range [{a.min()}, {a.max()}]"
        )
    return a.astype(np.int64)


def _templates(templates, n: int, n_vertices: int) -> list[np.ndarray]:
    if isinstance(templates, (list, tuple)):
        items = list(templates)
        if len(items) != n:
            raise ValueError(f"{len(items)} templates for {n} sequences")
    else:
        items = [templates] * n
    out = []
    for i, t in enumerate(items):
        a = _to_numpy(t, f"templates[{i}]")
        if a.ndim == 1 and a.size % 3 == 0:
            a = a.reshape(-1, 3)
        if a.ndim != 2 or a.shape[1] != 3:
            raise ValueError(f"templates[{i}]: expected shape (V, 3), got {a.shape}")
        if a.shape[0] != n_vertices:
            raise ValueError(f"templates[{i}]: {a.shape[0]} vertices but the sequences have {n_vertices}")
        if not np.isfinite(a).all():
            raise ValueError(f"templates[{i}]: contains NaN/inf")
        out.append(a)
    return out


def lips_only(seqs: list, lips) -> tuple[list[np.ndarray], np.ndarray]:
    """The lip vertices of each sequence, (T, L, 3) float64, and their indices in the result (0 .. L - 1):
    what a lip metric reads, converted and checked once instead of the whole mesh at every call. A lip
    metric of (``lips_only(preds)``, ``lips_only(gts)``, the new indices) equals it on the whole meshes."""
    out, lip = [], None
    for i, x in enumerate(seqs):
        a = np.asarray(x.detach().cpu().numpy() if hasattr(x, "detach") else x)
        if a.ndim == 2 and a.shape[1] % 3 == 0:
            a = a.reshape(a.shape[0], -1, 3)
        if a.ndim != 3 or a.shape[2] != 3:
            raise ValueError(f"sequence {i}: expected shape (T, V, 3) or (T, V*3), got {a.shape}")
        lip = _indices(lips, a.shape[1], "lips") if lip is None else lip
        out.append(_sequence(a[:, lip], f"sequence {i}'s lips"))
    return out, np.arange(0 if lip is None else len(lip))
