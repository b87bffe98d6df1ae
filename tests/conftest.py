import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("W2S_PROGRESS", "0")


@pytest.fixture(scope="session")
def distances():
    """The full measured phoneme-distance table (cached under data/cache after the first run)."""
    from w2s.corpus.phone_distance import load_or_measure

    return load_or_measure()


@pytest.fixture(scope="session")
def near_pairs(distances):
    from w2s.corpus.pairs import mine_pairs

    return mine_pairs("near", distances=distances)
