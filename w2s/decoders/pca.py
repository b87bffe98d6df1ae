"""The PCA of training vertex offsets, as VOCA's decoder init and UniTalker's output layer use it.

    pca = fit_offset_pca(offsets, n_components=50, seed=0)   # offsets: [(T_i, V, 3), ...]
    pca.components (k, 3V) orthonormal rows, pca.mean (3V,), pca.std (k,), pca.n_frames
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class OffsetPCA:
    components: np.ndarray  # (k, 3V) principal directions, orthonormal rows, by decreasing variance
    mean: np.ndarray  # (3V,) the mean training offset
    std: np.ndarray  # (k,) the standard deviation along each direction
    explained_variance_ratio: np.ndarray  # (k,)
    n_frames: int  # training frames offered
    n_fitted: int  # frames the fit used (a seeded subset when there were more than max_frames)


def fit_offset_pca(offsets, n_components: int, seed: int = 0, max_frames: int = 8000, n_vertices: int | None = None,
                   error: type[Exception] = ValueError) -> OffsetPCA:  # fmt: skip
    """sklearn's PCA of the training offsets (T_i, V, 3) each, on at most `max_frames` frames (consecutive
    frames are redundant; the fit is O(N 3V k)). k = min(n_components, frames, 3V), less the directions
    without variance (past the data's rank)."""
    from sklearn.decomposition import PCA

    X = np.concatenate([np.asarray(o, dtype=np.float32).reshape(len(o), -1) for o in offsets])  # (N, 3V)
    if n_vertices is not None and X.shape[1] != 3 * n_vertices:
        raise error(f"offsets have {X.shape[1] // 3} vertices, the config {n_vertices}")
    n_frames = len(X)
    if n_frames > max_frames:
        X = X[np.sort(np.random.default_rng(seed).choice(n_frames, max_frames, replace=False))]
    k = min(n_components, X.shape[0], X.shape[1])
    pca = PCA(n_components=k, random_state=seed).fit(X)
    std = np.sqrt(np.maximum(pca.explained_variance_, 0.0))
    k = int((std > 1e-6 * std[0]).sum()) if len(std) and std[0] > 0 else 0  # directions of the data's rank only
    return OffsetPCA(pca.components_[:k].astype(np.float32), pca.mean_.astype(np.float32), std[:k].astype(np.float32),
                     pca.explained_variance_ratio_[:k], n_frames, len(X))  # fmt: skip
