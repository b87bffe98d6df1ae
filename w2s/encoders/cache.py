"""The feature cache: encoder outputs on disk, keyed by encoder identity, layer and audio bytes."""

from __future__ import annotations

import hashlib

import numpy as np

from w2s.encoders.base import Encoder, check_audio
from w2s.utils.cache import NpyCache, shared_cache
from w2s.utils.paths import cache_dir


def audio_sha256(audio: np.ndarray) -> str:
    x = check_audio(audio)
    return hashlib.sha256(x.tobytes()).hexdigest()


class FeatureCache(NpyCache):
    """Encoder outputs on disk, one ``.npy`` per (encoder identity, layer, audio bytes) (see
    :class:`w2s.utils.cache.NpyCache`). Counters: ``hits``, ``misses`` (computed, including
    ``repaired``: a bad file recomputed)."""

    def __init__(self, root=None):
        super().__init__(root if root is not None else cache_dir("features"), "feature cache")

    def key(self, encoder: Encoder, audio: np.ndarray) -> str:
        text = f"{encoder.identity}\0layer={encoder.layer}\0audio={audio_sha256(audio)}"
        return hashlib.sha256(text.encode()).hexdigest()

    def encode(self, encoder: Encoder, audio: np.ndarray) -> np.ndarray:
        audio = check_audio(audio)
        key = self.key(encoder, audio)
        feats = self.load(key, (encoder.n_frames(len(audio)), encoder.dim))
        if feats is not None:
            self.hits += 1
            return feats
        self.misses += 1
        feats = encoder.encode(audio)
        self.save(key, feats)
        return feats


def default_cache() -> FeatureCache:
    """The shared cache under ``cache_dir("features")`` (follows a changed W2S_DATA_DIR)."""
    return shared_cache(FeatureCache, "features")


def cached_encode(encoder: Encoder, audio: np.ndarray, cache: FeatureCache | None = None) -> np.ndarray:
    """``encoder.encode(audio)``, read from the feature cache when this encoder has seen this audio."""
    return (cache or default_cache()).encode(encoder, audio)
