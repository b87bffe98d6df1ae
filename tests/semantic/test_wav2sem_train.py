"""Wav2Sem training end to end on a handful of synthesized utterances, retrieval, and the CLI."""

import json

import numpy as np
import pytest

from w2s.cli import main
from w2s.semantic.train import (
    Wav2SemRecipe,
    corpus_texts,
    evaluate,
    heldout_texts,
    load_or_train,
    retrieval,
    speech_set_pairs,
)
from w2s.semantic.wav2sem import Wav2Sem
from w2s.train import TrainConfig


def test_retrieval_by_hand():
    cand = np.eye(3)
    pred = np.array([[1.0, 0.1, 0], [0.9, 0.2, 0], [0, 0, 1]])  # right, wrong (rank 2), right
    r = retrieval(pred, cand, np.array([0, 1, 2]))
    assert r["r@1"] == pytest.approx(2 / 3) and r["median_rank"] == 1 and r["chance_r@1"] == pytest.approx(1 / 3)
    assert r["r@5"] == 1.0
    e = evaluate(pred, cand, ["a", "b", "c"])
    assert e["r@1"] == pytest.approx(2 / 3) and 0 < e["cosine_to_target"] <= 1


@pytest.fixture(scope="module")
def smoke(smoke_corpus):
    return smoke_corpus


def test_speech_set_is_disjoint_from_heldout(smoke, tmp_path, monkeypatch):
    monkeypatch.setenv("W2S_DATA_DIR", str(tmp_path))
    paths, texts, key = speech_set_pairs(40, smoke, seed=0)
    held = heldout_texts(smoke)
    assert len(paths) == 40 and held and not set(held) & set(texts)
    every = corpus_texts(smoke)  # the training speakers' sentences too (no train/test shift of F_s)
    assert set(held) < set(every) and not set(every) & set(texts)
    assert all(p.is_file() for p in paths) and len(key) == 64


@pytest.mark.slow
@pytest.mark.parametrize("config", ["tiny", "lite"])
def test_train_save_reload_and_cache(smoke, tmp_path, monkeypatch, config):
    monkeypatch.setenv("W2S_DATA_DIR", str(tmp_path))
    paths, texts, key = speech_set_pairs(32, smoke, seed=0)
    recipe = Wav2SemRecipe(config=config, val_size=8, max_seconds=2.0,
                           train=TrainConfig(max_steps=12, batch_size=4, lr=1e-3, warmup_steps=2, log_every=2, eval_every=0))
    model, hist, val, out = load_or_train(paths, texts, recipe, key, host_corpus=smoke)
    assert hist.loss[-1] < hist.loss[0] and val["n_queries"] == min(8, 32 // 5)
    again, hist2, val2, out2 = load_or_train(paths, texts, recipe, key, host_corpus=smoke)  # cached: no training
    assert out2 == out and hist2.step == hist.step
    reloaded = Wav2Sem.from_pretrained(out / "model")
    for a, b in zip(model.state_dict().values(), reloaded.state_dict().values()):
        assert np.array_equal(a.numpy(), b.numpy())


@pytest.mark.slow
def test_cli_wav2sem_train(smoke, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("W2S_DATA_DIR", str(tmp_path / "data"))
    out = tmp_path / "run"
    assert main(["wav2sem", "train", "--corpus", str(smoke), "--config", "tiny", "--steps", "4", "--batch-size", "4",
                 "--n-speech", "24", "--out", str(out)]) == 0
    report = json.loads((out / "eval.json").read_text())
    assert report["heldout"]["n_queries"] == 4 and 0 <= report["heldout"]["r@1"] <= 1
    assert (out / "model" / "config.json").is_file() and (out / "train" / "checkpoint.pt").is_file()
    assert "heldout: R@1" in capsys.readouterr().out


def test_cli_wav2sem_bad_input(tmp_path, capsys):
    assert main(["wav2sem", "train", "--librispeech", str(tmp_path / "none"), "--out", str(tmp_path / "o")]) == 2
    assert "error" in capsys.readouterr().err
    assert main(["wav2sem", "train", "--corpus", str(tmp_path), "--out", str(tmp_path / "no" / "o")]) == 2
