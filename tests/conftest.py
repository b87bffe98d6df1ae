import os
import tempfile

import pytest

import w2s  # noqa: F401  (first: the fixed thread count and kernels before numpy and torch load; w2s.utils.runtime)

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("W2S_PROGRESS", "0")
# tests never write into the checkout's data/ or runs/ (where `make run` keeps its caches and results):
# everything they generate goes to one temporary folder per test session
_SESSION_DIR = tempfile.mkdtemp(prefix="w2s-tests-")
os.environ["W2S_DATA_DIR"] = os.path.join(_SESSION_DIR, "data")
os.environ["W2S_RUNS_DIR"] = os.path.join(_SESSION_DIR, "runs")


@pytest.fixture(scope="session")
def distances():
    """The full measured phoneme-distance table (measured once per test session)."""
    from w2s.corpus.phone_distance import load_or_measure

    return load_or_measure()


@pytest.fixture(scope="session")
def near_pairs(distances):
    from w2s.corpus.pairs import mine_pairs

    return mine_pairs("near", distances=distances)


@pytest.fixture(scope="session")
def smoke_corpus(tmp_path_factory, distances):
    """The smoke corpus (12 speakers x 4 sentences), built once per session. Read it, do not modify it."""
    from w2s.corpus.build import build

    return build(tmp_path_factory.mktemp("corpus") / "smoke", "smoke", seed=0)


@pytest.fixture(scope="session")
def smoke_biwi_corpus(tmp_path_factory, distances):
    """The smoke-biwi-like corpus (6 speakers x 6 sentences, 4,034 vertices, 25 fps), built once per session."""
    from w2s.corpus.build import build

    return build(tmp_path_factory.mktemp("corpus") / "smoke-biwi-like", "smoke-biwi-like", seed=0)


@pytest.fixture(scope="module")
def one_torch_thread():
    """Small tensors: one thread. On 2 shared, busy cores a second OpenMP thread waiting for its turn
    made small forwards 200x slower (0.45 s instead of 2 ms)."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="session")
def wav2sem_dir(tmp_path_factory):
    """A small, untrained audio Wav2Sem in its save_pretrained folder (F_s of the right size and kind)."""
    import torch

    from w2s.semantic.wav2sem import Wav2Sem, Wav2SemConfig

    torch.manual_seed(0)
    model = Wav2Sem(Wav2SemConfig.tiny(target_dim=384, conv_dim=(16,) * 7, hidden_size=32, num_hidden_layers=1,
                                       num_attention_heads=2, intermediate_size=64, num_conv_pos_embeddings=16,
                                       num_conv_pos_embedding_groups=2))  # fmt: skip
    return model.save_pretrained(tmp_path_factory.mktemp("w2s") / "model")
