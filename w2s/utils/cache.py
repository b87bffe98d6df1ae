"""The one on-disk array cache: one ``.npy`` per key, ``root/<key[:2]>/<key>.npy``.

Files are written atomically, so a crash never leaves a half file under a valid name; a file that
cannot be read, or has the wrong shape or dtype, is reported missing (and counted in ``repaired``)
so that the caller recomputes and replaces it. No pickles: ``allow_pickle=False`` both ways.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from w2s.utils.io import atomic_path
from w2s.utils.paths import cache_dir

log = logging.getLogger(__name__)


class NpyCache:
    def __init__(self, root, what: str = "cache"):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.what = what  # names the cache in warnings
        self.hits = self.misses = self.repaired = 0

    def path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.npy"

    def load(self, key: str, shape: tuple) -> np.ndarray | None:
        """The stored float32 array of `shape`, or None when missing or unusable."""
        p = self.path(key)
        if not p.is_file():
            return None
        try:
            a = np.load(p, allow_pickle=False)
        except Exception as e:  # truncated / garbage file
            log.warning("%s: unreadable %s (%s); recomputing", self.what, p, e)
            self.repaired += 1
            return None
        if a.dtype != np.float32 or a.shape != tuple(shape):
            log.warning("%s: %s has %s %s, expected float32 %s; recomputing", self.what, p, a.dtype, a.shape, tuple(shape))
            self.repaired += 1
            return None
        return a

    def save(self, key: str, array: np.ndarray) -> None:
        p = self.path(key)
        p.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(p) as tmp:
            with open(tmp, "wb") as f:
                np.save(f, np.ascontiguousarray(array, dtype=np.float32), allow_pickle=False)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.root)!r}, hits={self.hits}, misses={self.misses})"


_SHARED: dict[type, object] = {}


def shared_cache(cls, folder: str):
    """The process's one instance of cache class `cls` under ``cache_dir(folder)``; a new one when
    W2S_DATA_DIR changed since (tests, notebooks pointing elsewhere)."""
    root = cache_dir(folder)
    inst = _SHARED.get(cls)
    if inst is None or inst.root != root:
        inst = _SHARED[cls] = cls(root)
    return inst
