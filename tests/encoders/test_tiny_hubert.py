"""Tiny HuBERT pretraining (first-iteration recipe, on w2s.train.fit) on a few seconds of synthesized speech."""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import pytest

from w2s.encoders import HFEncoder, conv_frames, load_encoder
from w2s.encoders import tiny_hubert as th
from w2s.encoders.tiny_hubert import (
    TinyHubertConfig,
    kmeans_labels,
    load_or_pretrain_tiny_hubert,
    pretrain_tiny_hubert,
    quick_config,
    span_mask,
    tiny_config,
)

TEXTS = [
    ("the quick brown fox jumps over the lazy dog", "us-m1"),
    ("she sells sea shells by the sea shore", "us-f1"),
    ("a big fish swam past the thin ship", "us-m2"),
]


@pytest.fixture(scope="module")
def wavs():
    from w2s.corpus.speech import synthesize

    return [synthesize(t, v).audio for t, v in TEXTS]


@pytest.fixture(scope="module")
def pretrained(wavs, tmp_path_factory):
    out = tmp_path_factory.mktemp("tiny") / "model"
    return out, pretrain_tiny_hubert(wavs, out, tiny_config(), seed=0, log_every=0)


def test_kmeans_labels_align_with_cnn_frames(wavs):
    labels, info = kmeans_labels(wavs, n_clusters=16, seed=0)
    cfg = TinyHubertConfig()
    assert [len(lab) for lab in labels] == [conv_frames(len(w), cfg.conv_kernel, cfg.conv_stride) for w in wavs]
    assert all(lab.dtype == np.int64 and lab.min() >= 0 and lab.max() < 16 for lab in labels)
    assert info["used_clusters"] > 8 and info["n_frames"] == sum(map(len, labels))
    again, _ = kmeans_labels(wavs, n_clusters=16, seed=0)
    assert all(np.array_equal(a, b) for a, b in zip(labels, again))


def test_span_mask():
    rng = np.random.default_rng(0)
    m = span_mask(64, 200, 0.08, 10, rng)
    assert m.shape == (64, 200) and m.any(1).all()
    assert 0.45 < m.mean() < 0.65  # 1 - 0.92**10 = 0.57 away from the edges
    runs = [len(r) for row in m for r in "".join("x" if v else " " for v in row).split()]
    assert min(runs) >= 10  # spans merge, never shorter than one span
    assert span_mask(2, 6, 0.0, 10, rng).any(1).all()  # short rows still get one span


def test_pretraining_loss_falls_and_folder_loads(pretrained, wavs):
    out, hist = pretrained
    loss = np.array(hist["loss"])
    assert len(loss) == tiny_config().steps and np.isfinite(loss).all()
    assert loss[:5].mean() > np.log(20) - 0.3  # starts near chance (20 clusters)
    assert loss[-10:].mean() < loss[:5].mean() - 0.2, loss
    assert np.array(hist["acc"])[-10:].mean() > 1 / 20  # above chance on masked frames
    assert 0.3 < np.mean(hist["mask_frac"]) < 0.8 and len(hist["lr"]) == len(loss) and max(hist["lr"]) == tiny_config().lr
    saved = json.loads((out / "history.json").read_text())
    assert saved["loss"] == hist["loss"] and saved["kmeans"]["n_clusters"] == 20
    assert (out / "kmeans.npz").is_file() and not list(out.parent.glob(".model*"))

    enc = load_encoder(str(out), layer=1, device="cpu")
    assert isinstance(enc, HFEncoder) and enc.rate == 50 and enc.dim == 64
    f = enc.encode(wavs[0])
    assert f.shape == (enc.n_frames(len(wavs[0])), 64) and np.isfinite(f).all()
    assert enc.feature_extractor.do_normalize


def test_pretraining_is_deterministic(pretrained, wavs, tmp_path):
    cfg = tiny_config(steps=6)
    a = pretrain_tiny_hubert(wavs, tmp_path / "a", cfg, seed=0, log_every=0)
    b = pretrain_tiny_hubert(wavs, tmp_path / "b", cfg, seed=0, log_every=0)
    assert a["loss"] == b["loss"]
    assert pretrained[1]["loss"][:6] == a["loss"]  # same seed, same warmup: the same first steps
    assert pretrain_tiny_hubert(wavs, tmp_path / "c", cfg, seed=1, log_every=0)["loss"] != a["loss"]
    with pytest.raises(FileExistsError):
        pretrain_tiny_hubert(wavs, tmp_path / "a", cfg)


def test_interrupted_pretraining_resumes_exactly(wavs, tmp_path, monkeypatch):
    cfg = tiny_config(steps=10)  # a checkpoint every step
    whole = pretrain_tiny_hubert(wavs, tmp_path / "whole", cfg, seed=0, log_every=0)

    import w2s.encoders.tiny_hubert_pretraining as th  # where pretrain_tiny_hubert looks pretrain_step up

    step, calls = th.pretrain_step, []

    def crash_on_7th(*a, **k):
        calls.append(1)
        if len(calls) == 7:
            raise KeyboardInterrupt
        return step(*a, **k)

    monkeypatch.setattr(th, "pretrain_step", crash_on_7th)
    ckpt = tmp_path / "ckpt"
    with pytest.raises(KeyboardInterrupt):
        pretrain_tiny_hubert(wavs, tmp_path / "resumed", cfg, seed=0, log_every=0, checkpoint_dir=ckpt)
    assert (ckpt / "checkpoint.pt").is_file() and not (tmp_path / "resumed").exists()
    calls.clear()
    monkeypatch.setattr(th, "pretrain_step", lambda *a, **k: calls.append(1) or step(*a, **k))
    resumed = pretrain_tiny_hubert(wavs, tmp_path / "resumed", cfg, seed=0, log_every=0, checkpoint_dir=ckpt)
    assert len(calls) == 4  # steps 7-10: it continued from the checkpoint of step 6
    for k in ("loss", "acc", "loss_unmasked", "mask_frac", "lr"):
        assert np.allclose(resumed[k], whole[k], rtol=1e-4, atol=1e-4), k  # the same crops, masks and updates
    assert not ckpt.exists()  # removed once the model is saved


def test_load_or_pretrain_caches_by_corpus(tmp_path, monkeypatch, smoke_corpus):
    corpus = smoke_corpus
    cfg = tiny_config(steps=4)
    path = load_or_pretrain_tiny_hubert(corpus, cfg, root=tmp_path / "enc")
    assert path.parent == tmp_path / "enc" and (path / "model.safetensors").is_file()
    hist = json.loads((path / "history.json").read_text())
    assert hist["n_utterances"] == 32 and hist["steps_done"] == 4  # the 8 training speakers x 4 sentences

    import w2s.encoders.tiny_hubert as hp

    monkeypatch.setattr(hp, "pretrain_tiny_hubert", lambda *a, **k: pytest.fail("retrained a cached model"))
    assert load_or_pretrain_tiny_hubert(corpus, cfg, root=tmp_path / "enc") == path
    monkeypatch.setattr(hp, "pretrain_tiny_hubert", lambda wavs, out, *a, **k: out.mkdir() or {"complete": True})
    other = load_or_pretrain_tiny_hubert(corpus, tiny_config(steps=5), root=tmp_path / "enc")
    assert other != path  # another config is another model

    monkeypatch.setenv("W2S_DATA_DIR", str(tmp_path / "data"))
    import w2s.encoders.loading as loading

    monkeypatch.setattr(loading, "load_or_pretrain_tiny_hubert", lambda corpus_dir, **kw: path)
    enc = load_encoder("tiny-hubert", corpus=corpus, device="cpu")
    assert enc.name == "tiny-hubert" and enc.dim == 64


def test_random_hubert_keeps_a_model_another_process_built_first(tmp_path, monkeypatch):
    import w2s.encoders.tiny_hubert as th

    cfg = tiny_config()
    first = th.load_or_init_random_hubert(cfg, root=tmp_path)
    (first / "built-by-the-other-process").touch()
    real, seen = th._is_model_dir, []
    monkeypatch.setattr(th, "_is_model_dir", lambda p: real(p) if seen else bool(seen.append(p)))  # "not there yet", once
    assert th.load_or_init_random_hubert(cfg, root=tmp_path) == first
    assert (first / "built-by-the-other-process").is_file()  # the existing complete model was kept
    assert sorted(p.name for p in tmp_path.iterdir()) == [first.name]  # no temporary folder left behind


def test_a_time_capped_run_is_never_cached_as_the_recipe(tmp_path, smoke_corpus):
    import inspect

    from w2s.encoders.tiny_hubert import pretrain_tiny_hubert, pretraining_history

    for f in (pretrain_tiny_hubert, load_or_pretrain_tiny_hubert):  # by default no wall-clock cap at all
        assert inspect.signature(f).parameters["max_minutes"].default is None
    cfg = tiny_config(steps=4)
    with pytest.warns(UserWarning, match="INCOMPLETE"):
        capped = load_or_pretrain_tiny_hubert(smoke_corpus, cfg, root=tmp_path / "enc", max_minutes=0.0)
    hist = pretraining_history(capped)
    assert capped.name.endswith("-incomplete") and hist["complete"] is False and hist["steps_done"] < 4
    key = capped.with_name(capped.name.removesuffix("-incomplete"))
    assert not key.exists()  # not cached under the recipe's key
    full = load_or_pretrain_tiny_hubert(smoke_corpus, cfg, root=tmp_path / "enc")  # continues the capped run
    whole = load_or_pretrain_tiny_hubert(smoke_corpus, cfg, root=tmp_path / "other")  # never capped
    h_full, h_whole = pretraining_history(full), pretraining_history(whole)
    assert full == key and h_full["complete"] and h_full["steps_done"] == 4 and not capped.exists()
    assert np.allclose(h_full["loss"], h_whole["loss"], atol=1e-4)  # the recipe's model, whatever the cap did


# the full run's recipe (make run, notebook 01) as its models are keyed: a change retrains every user's tiny
# HuBERT and everything downstream of it, so it changes only on purpose, with this literal
FULL_RECIPE = {
    "conv_dim": (96,) * 7, "conv_kernel": (10, 3, 3, 3, 3, 2, 2), "conv_stride": (5, 2, 2, 2, 2, 2, 2), "hidden_size": 256,
    "num_hidden_layers": 4, "num_attention_heads": 4, "intermediate_size": 1024, "num_conv_pos_embeddings": 32,
    "num_conv_pos_embedding_groups": 8, "stable_layer_norm": False, "n_clusters": 100, "kmeans_max_frames": 100_000,
    "kmeans_standardize": True, "mask_prob": 0.08, "mask_length": 10, "alpha": 0.5, "steps": 900, "batch_size": 8,
    "crop_seconds": 2.0, "lr": 5e-4, "warmup_steps": 90, "weight_decay": 0.01, "grad_clip": 1.0,
}  # fmt: skip


def test_the_full_recipe_and_its_cache_key_are_unchanged(tmp_path, monkeypatch):
    # a field added later (augment) is left out of the key at its default, so this key holds
    assert th.recipe_fields(TinyHubertConfig()) == FULL_RECIPE and th.PRETRAIN_VERSION == 2
    assert asdict(TinyHubertConfig())["augment"] == "none"
    monkeypatch.setattr(th, "_corpus_sha256", lambda root: "0" * 64)  # a corpus's content hash, fixed
    # the key of the folders make run made before quick mode had a recipe of its own
    assert th.pretrained_folder(tmp_path, root=tmp_path) == tmp_path / "tiny-hubert-0c75a3e7dea41657"
    for preset in ("default", "powered", "masked-0db", None):  # None: VOCASET / BIWI folders
        monkeypatch.setattr(th, "corpus_preset", lambda corpus_dir, p=preset: p)
        assert th.config_for_corpus(tmp_path) == TinyHubertConfig(), preset


def test_the_quick_recipe_is_the_same_model_trained_less_under_its_own_key(tmp_path, monkeypatch):
    quick, full = asdict(quick_config()), asdict(TinyHubertConfig())
    assert {k for k in full if quick[k] != full[k]} == {"steps", "warmup_steps"}  # same model, data and rates
    assert quick["steps"] <= full["steps"] // 4 and quick["warmup_steps"] == quick["steps"] // 10
    monkeypatch.setattr(th, "_corpus_sha256", lambda root: "0" * 64)
    # same corpus, another recipe: another folder (and so other weights, another HFEncoder identity, and other
    # keys in the feature cache, the lite Wav2Sem's key and the decoders' run records, which all hold that identity)
    assert th.pretrained_folder(tmp_path, quick_config(), root=tmp_path) != th.pretrained_folder(tmp_path, root=tmp_path)
    monkeypatch.setattr(th, "corpus_preset", lambda corpus_dir: "quick")
    assert th.config_for_corpus(tmp_path) == quick_config()
    monkeypatch.setattr(th, "corpus_preset", lambda corpus_dir: "smoke-biwi-like")
    assert th.config_for_corpus(tmp_path) == tiny_config()


def test_tiny_hubert_of_the_quick_corpus_is_pretrained_with_the_quick_recipe(tmp_path, monkeypatch):
    from w2s.encoders import loading

    asked = []
    folder = th.load_or_init_random_hubert(tiny_config(), root=tmp_path / "rh")  # stands in for the pretrained one

    def pretrain(corpus_dir, config, **kw):
        asked.append(config)
        return folder

    monkeypatch.setattr(loading, "load_or_pretrain_tiny_hubert", pretrain)
    monkeypatch.setattr(th, "corpus_preset", lambda corpus_dir: {"q": "quick", "d": "default"}[Path(corpus_dir).name])
    for name in ("q", "d"):
        (tmp_path / name).mkdir()
        assert load_encoder("tiny-hubert", corpus=tmp_path / name).source == str(folder)
    assert asked == [quick_config(), TinyHubertConfig()]


def test_augmented_recipe_has_its_own_key_and_rejects_unknown_presets(tmp_path, monkeypatch):
    monkeypatch.setattr(th, "_corpus_sha256", lambda root: "0" * 64)
    voiced = TinyHubertConfig(augment="voice")
    assert th.recipe_fields(voiced)["augment"] == "voice"
    assert th.pretrained_folder(tmp_path, voiced, root=tmp_path) != th.pretrained_folder(tmp_path, root=tmp_path)
    with pytest.raises(ValueError, match="augment must be one of"):
        TinyHubertConfig(augment="loud")


def test_augmented_crops_keep_the_clean_targets_at_the_frames_they_play():
    """Labels that count frames show which clean frame each target comes from: consecutive without
    augmentation, stepping by the speed factor with it (so a faster crop reads ~a frames per frame)."""
    config = tiny_config(augment="voice", batch_size=4)
    rng = np.random.default_rng(0)
    wavs = [rng.standard_normal(16000 * 3).astype(np.float32) * 0.1 for _ in range(4)]
    counting = [np.arange(conv_frames(len(w), config.conv_kernel, config.conv_stride), dtype=np.int64) for w in wavs]
    np.random.seed(0)
    x, y, _ = th.CropBatches(wavs, counting, config)([0, 1, 2, 3])
    steps = np.diff(y.numpy(), axis=1)  # (B, T-1)
    assert np.isfinite(x.numpy()).all() and x.shape[1] > 0
    assert ((steps >= 0) & (steps <= 2)).all()  # speed factors 0.85-1.15: 0, 1 or 2 clean frames per frame
    rates = steps.mean(1)
    assert (np.abs(rates - 1) > 0.02).any()  # some crops were sped up or slowed down
    assert ((rates > 0.8) & (rates < 1.2)).all()
    np.random.seed(0)
    _, y_plain, _ = th.CropBatches(wavs, counting, replace(config, augment="none"))([0, 1, 2, 3])
    assert (np.diff(y_plain.numpy(), axis=1) == 1).all()


def test_cmvn_targets_have_their_own_key_and_normalise_each_utterance(wavs, tmp_path, monkeypatch):
    monkeypatch.setattr(th, "_corpus_sha256", lambda root: "0" * 64)
    cmvn = TinyHubertConfig(kmeans_cmvn=True)
    assert th.recipe_fields(cmvn)["kmeans_cmvn"] is True and "kmeans_cmvn" not in th.recipe_fields(TinyHubertConfig())
    assert th.pretrained_folder(tmp_path, cmvn, root=tmp_path) != th.pretrained_folder(tmp_path, root=tmp_path)
    # an utterance made 10x louder: its MFCCs' c0 moves, and only the normalised clusters ignore it
    loud = [wavs[0], wavs[1], np.clip(wavs[0] * 10, -1, 1)]
    plain, _ = kmeans_labels(loud, n_clusters=8, seed=0, cmvn=False)
    normed, info = kmeans_labels(loud, n_clusters=8, seed=0, cmvn=True)
    assert info["cmvn"] is True
    assert np.mean(normed[0] == normed[2]) > np.mean(plain[0] == plain[2])


def test_given_targets_replace_the_clusters_and_are_checked(wavs, tmp_path):
    cfg = replace(tiny_config(steps=4), n_clusters=3)
    frames = [conv_frames(len(w), cfg.conv_kernel, cfg.conv_stride) for w in wavs]
    targets = [np.arange(n) % 3 for n in frames]
    hist = pretrain_tiny_hubert(wavs, tmp_path / "given", cfg, seed=0, log_every=0, targets=targets)
    assert hist["kmeans"]["targets"] == "given" and hist["kmeans"]["used_clusters"] == 3
    assert hist["kmeans"]["n_frames"] == sum(frames)
    with pytest.raises(ValueError, match=r"targets\[1\]: want \d+ class ids in \[0, 3\)"):
        pretrain_tiny_hubert(wavs, tmp_path / "bad", cfg, targets=[targets[0], targets[1][:-1], targets[2]])
    with pytest.raises(ValueError, match=r"targets\[0\]"):
        pretrain_tiny_hubert(wavs, tmp_path / "bad", cfg, targets=[targets[0] + 3, targets[1], targets[2]])
    with pytest.raises(ValueError, match="2 target arrays for 3 wavs"):
        pretrain_tiny_hubert(wavs, tmp_path / "bad", cfg, targets=targets[:2])
