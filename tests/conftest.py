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


@pytest.fixture(scope="module")
def one_torch_thread():
    """Small tensors: one thread. On 2 shared, busy cores a second OpenMP thread waiting for its turn
    made small forwards 200x slower (0.45 s instead of 2 ms)."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
