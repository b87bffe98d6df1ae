"""The levers beyond the paper's recipe: the auxiliary phoneme CTC loss, InfoNCE against the text
vectors, attention pooling, and that the paper's recipe keeps its cache key."""

import math
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch

from w2s.corpus.speech import synthesize
from w2s.data.batch import pad
from w2s.semantic.phonemes import PhonemeVocab, phoneme_sequences
from w2s.semantic.train import (
    AudioTargets,
    Wav2SemRecipe,
    collate,
    ctc_loss,
    info_nce,
    recipe_key,
    semantic_loss,
)
from w2s.semantic.wav2sem import AttentionPool, Wav2Sem, Wav2SemConfig, Wav2SemError
from w2s.utils.hashing import key_of

TEXT = "The farmer hid the map under the old boat."


@pytest.fixture(scope="module")
def utterance():
    return synthesize(TEXT, "us-f2", 160, 50)


def test_ctc_targets_are_what_was_spoken(utterance, tmp_path):
    seqs = phoneme_sequences([TEXT, "Tom saw a bat."], cache_folder=tmp_path)
    assert seqs[0] == [p.symbol for p in utterance.phonemes]  # the synthesizer's own segments, in order
    assert (
        phoneme_sequences([TEXT, "Tom saw a bat."], cache_folder=tmp_path) == seqs
    )  # read back from the cache
    vocab = PhonemeVocab.from_sequences(seqs)
    ids = vocab.encode(seqs[0])
    assert min(ids) >= 1 and max(ids) < vocab.size  # 0 is the blank
    with pytest.raises(ValueError, match="not in the vocabulary"):
        vocab.encode(["not-a-phoneme"])


def test_ctc_targets_are_aligned_with_the_audio_frames(utterance, tmp_path):
    """Frames labelled from the synthesizer's phoneme timings (50 Hz, as the models' frames) explain the
    CTC targets far better than the same frames against shuffled targets, and the model has enough
    frames for every phoneme."""
    seq = phoneme_sequences([TEXT], cache_folder=tmp_path)[0]
    vocab = PhonemeVocab.from_sequences([seq])
    model = Wav2Sem(Wav2SemConfig.tiny(16, ctc_vocab_size=vocab.size))
    T = model.n_frames(len(utterance.audio))
    assert T >= 2 * len(seq)  # room for every phoneme and blanks between repeats
    centres = (np.arange(T) + 0.5) / model.frame_rate
    logp = torch.full((1, T, vocab.size), math.log(0.01 / (vocab.size - 1)))
    for k, t in enumerate(centres):
        seg = [i for i, p in enumerate(utterance.phonemes) if p.start <= t < p.end]
        label = vocab.encode([utterance.phonemes[seg[0]].symbol])[0] if seg else 0
        logp[0, k, label] = math.log(0.99)
    mask = torch.ones(1, T, dtype=torch.bool)
    ids = torch.as_tensor([vocab.encode(seq)])
    aligned = ctc_loss(logp, mask, ids, torch.tensor([len(seq)]))
    shuffled = ids[:, torch.randperm(len(seq), generator=torch.Generator().manual_seed(0))]
    assert float(aligned) < 0.25 * float(ctc_loss(logp, mask, shuffled, torch.tensor([len(seq)])))


def test_cropped_audio_drops_its_ctc_target(tmp_path, utterance):
    import soundfile as sf

    path = tmp_path / "u.flac"
    sf.write(path, utterance.audio, 16000)
    targets = np.zeros((1, 4), np.float32)
    whole = AudioTargets([path], targets, max_seconds=None, phones=[[3, 4, 5]])[0]
    cropped = AudioTargets([path], targets, max_seconds=0.5, phones=[[3, 4, 5]])[0]
    assert whole[3] == [3, 4, 5] and cropped[3] == [] and len(cropped[0]) == 8000
    x, mask, y, labels, ids, lengths = collate([whole, cropped])
    assert lengths.tolist() == [3, 0] and ids[0].tolist() == [3, 4, 5]
    logp = torch.randn(2, 40, 8).log_softmax(-1)
    only_first = ctc_loss(logp[:1], torch.ones(1, 40, dtype=torch.bool), ids[:1], lengths[:1])
    both = ctc_loss(logp, torch.ones(2, 40, dtype=torch.bool), ids, lengths)
    torch.testing.assert_close(both, only_first)  # the item without a target adds nothing


def test_info_nce_on_a_toy_batch():
    torch.manual_seed(0)
    bank = torch.nn.functional.normalize(torch.randn(6, 8), dim=-1)
    labels = torch.tensor([2, 0, 5])
    right = info_nce(bank[labels], bank, labels, temperature=0.05)
    wrong = info_nce(bank[labels], bank, torch.tensor([1, 3, 4]), temperature=0.05)
    assert float(right) < 0.05 < 2.0 < float(wrong)
    # the definition: cross-entropy of the cosine similarities / temperature
    pred = torch.randn(3, 8)
    logits = torch.nn.functional.cosine_similarity(pred[:, None], bank[None], dim=-1) / 0.1
    torch.testing.assert_close(
        info_nce(pred, bank, labels, 0.1), torch.nn.functional.cross_entropy(logits, labels)
    )
    # centring: a shared offset that dominates every vector stops hiding the differences
    offset = 10 * torch.ones(8)
    blind = info_nce(bank[labels] + offset, bank + offset, labels, 0.05)
    centred = info_nce(bank[labels] + offset, bank + offset, labels, 0.05, center=offset)
    torch.testing.assert_close(centred, right)
    assert float(blind) > float(right) + 1.0
    torch.testing.assert_close(semantic_loss(bank[:2] + offset, bank[:2] + offset, "cosine", center=offset),
                               torch.tensor(0.0), atol=1e-6, rtol=0)  # fmt: skip


def test_attention_pooling_ignores_padding_and_starts_as_the_mean():
    torch.manual_seed(0)
    pool = AttentionPool(16, heads=4)
    h = [torch.randn(t, 16) for t in (9, 4, 6)]
    x, mask = pad(h)
    from w2s.nn.layers import masked_mean

    torch.testing.assert_close(pool(x, mask), masked_mean(x, mask))  # zero-initialised scores: the mean
    torch.nn.init.normal_(pool.score.weight)
    batch = pool(x + 1e3 * (~mask)[..., None], mask)  # junk in the padding
    items = torch.cat([pool(f[None], torch.ones(1, len(f), dtype=torch.bool)) for f in h])
    torch.testing.assert_close(batch, items)
    assert not torch.allclose(batch, masked_mean(x, mask))  # trained scores weight the frames
    cfg = Wav2SemConfig.lite(16, 8, pooling="attention", hidden_dropout=0.0, attention_dropout=0.0)
    model = Wav2Sem(cfg).eval()
    torch.nn.init.normal_(model.pool.score.weight)
    with torch.no_grad():
        torch.testing.assert_close(model(x, mask), torch.cat([model(f[None]) for f in h]), atol=1e-5, rtol=0)
    with pytest.raises(Wav2SemError, match="pooling_heads"):
        Wav2SemConfig.lite(16, 8, pooling="attention", pooling_heads=3)
    with pytest.raises(Wav2SemError, match="pooling must be"):
        Wav2SemConfig.lite(16, 8, pooling="max")


def test_frames_and_heads_of_the_audio_model():
    torch.manual_seed(0)
    model = Wav2Sem(Wav2SemConfig.tiny(8, ctc_vocab_size=5, hidden_dropout=0.0, attention_dropout=0.0)).eval()
    wavs = [torch.randn(8000), torch.randn(5000)]
    x, mask = pad(wavs)
    with torch.no_grad():
        h, fm = model.frames(x, mask)
        assert h.shape[:2] == fm.shape and fm.sum(1).tolist() == [model.n_frames(8000), model.n_frames(5000)]
        torch.testing.assert_close(model.head(h, fm), model(x, mask))
        assert model.ctc_logits(h).shape == (*h.shape[:2], 5)
    with pytest.raises(Wav2SemError, match="no CTC head"):
        Wav2Sem(Wav2SemConfig.lite(8, 4)).ctc_logits(h)


def test_the_papers_recipe_keeps_its_cache_key():
    """Models trained before the levers existed are found again: their fields are keyed only when changed."""
    from dataclasses import asdict

    recipe = Wav2SemRecipe()
    old = asdict(recipe)
    old["train"] = {
        k: v for k, v in asdict(recipe.train).items() if k not in ("decay_1d_params", "betas", "eps")
    }
    for k in ("pooling", "ctc_weight", "infonce_weight", "negatives", "temperature", "center_targets", "augment",
              "augment_copies"):
        old.pop(k)
    assert recipe_key(recipe, "data") == key_of({"recipe": old, "data": "data", "v": 1}, n=12)
    assert recipe_key(Wav2SemRecipe(ctc_weight=0.5), "data") != recipe_key(recipe, "data")
    with pytest.raises(ValueError, match="negatives"):
        Wav2SemRecipe(negatives="some")


@pytest.mark.slow
def test_cli_trains_with_every_lever(smoke_corpus, tmp_path, monkeypatch):
    import json

    from w2s.cli import main

    monkeypatch.setenv("W2S_DATA_DIR", str(tmp_path / "data"))
    out = tmp_path / "run"
    assert main(["wav2sem", "train", "--corpus", str(smoke_corpus), "--config", "tiny", "--steps", "3",
                 "--batch-size", "4", "--n-speech", "16", "--infonce-weight", "1", "--negatives", "all",
                 "--ctc-weight", "0.5", "--pooling", "attention", "--center-targets", "--out", str(out)]) == 0  # fmt: skip
    run = json.loads((out / "wav2sem_run.json").read_text())
    assert run["recipe"]["ctc_weight"] == 0.5 and run["recipe"]["negatives"] == "all" and run["ctc_phonemes"]
    assert set(run["history"]["logs"]) >= {"ctc", "infonce"} and all(np.isfinite(run["history"]["logs"]["ctc"]))
    cfg = json.loads((out / "model" / "config.json").read_text())["config"]
    assert cfg["pooling"] == "attention" and cfg["ctc_vocab_size"] == len(run["ctc_phonemes"]) + 1
    with pytest.raises(SystemExit) as e:
        main(["wav2sem", "train", "--corpus", str(smoke_corpus), "--ctc-weight", "-1", "--out", str(tmp_path / "x")])
    assert e.value.code == 2


def test_augmented_copies_are_seeded_perturbed_and_drawn_with_the_clean_features(utterance):
    """Wav2Sem's voice lever (lite): each training utterance's perturbed copies are the same on every run, differ
    from the clean audio's features, and a step reads the clean features or a copy."""
    from w2s.corpus.speech import save_wav
    from w2s.encoders import load_encoder
    from w2s.semantic.train import FeatureTargets, augmented_features

    with pytest.raises(ValueError, match="go together"):
        Wav2SemRecipe(config="lite", augment="voice")
    with pytest.raises(ValueError, match="lite config"):
        Wav2SemRecipe(config="tiny", augment="voice", augment_copies=2)
    recipe = Wav2SemRecipe(config="lite", augment="voice", augment_copies=2)
    assert recipe_key(recipe, "data") != recipe_key(Wav2SemRecipe(config="lite"), "data")
    host = load_encoder("mfcc")
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "u.wav"
        save_wav(path, utterance.audio)
        copies = augmented_features(host, path, recipe, index=3)
        again = augmented_features(host, path, recipe, index=3)
        other = augmented_features(host, path, recipe, index=4)
    clean = host.encode(utterance.audio)
    assert len(copies) == 2 and all(c.shape[1] == clean.shape[1] for c in copies)
    for c, a, o in zip(copies, again, other):
        np.testing.assert_array_equal(c, a)
        assert not np.array_equal(c, o)
        assert c.shape != clean.shape or not np.allclose(c, clean)
    ds = FeatureTargets([clean], np.zeros((1, 4)), copies=[copies], seed=0)
    seen = {float(x.sum()) for x in (ds[0][0] for _ in range(30))}
    assert len(seen) == 3  # the clean features and both copies
