"""Frozen encoders (HF folders, MFCC, random HuBERT), frame-rate alignment, the feature cache.

HF models are tiny random configs saved with ``save_pretrained`` and loaded by folder: the loading
code is the one hub names go through, with nothing downloaded.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from w2s.encoders import (
    EncoderError,
    FeatureCache,
    HFEncoder,
    MFCCEncoder,
    align_to_fps,
    cached_encode,
    conv_frames,
    load_encoder,
)

SR = 16_000
KERNELS, STRIDES = (10, 3, 3, 3, 3, 2, 2), (5, 2, 2, 2, 2, 2, 2)
SMALL = dict(
    conv_dim=(16,) * 7, conv_kernel=KERNELS, conv_stride=STRIDES, hidden_size=32, num_hidden_layers=2,
    num_attention_heads=2, intermediate_size=64, num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2,
)  # fmt: skip


def _audio(seconds: float, seed: int = 0) -> np.ndarray:
    """A vowel-ish signal: harmonics with a wobbling pitch, plus a little noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    f0 = 120 + 20 * np.sin(2 * np.pi * 3 * t)
    phase = 2 * np.pi * np.cumsum(f0) / SR
    x = sum(np.sin(k * phase) / k for k in range(1, 6)) * 0.2 + 0.01 * rng.standard_normal(len(t))
    return x.astype(np.float32)


def _save(model, folder, normalize: bool = True):
    from transformers import Wav2Vec2FeatureExtractor

    model.save_pretrained(folder)
    Wav2Vec2FeatureExtractor(sampling_rate=SR, do_normalize=normalize, return_attention_mask=False).save_pretrained(folder)
    return str(folder)


def _make(kind: str, folder, seed: int = 0, **extra):
    from transformers import (
        HubertConfig,
        HubertModel,
        Wav2Vec2Config,
        Wav2Vec2ForCTC,
        Wav2Vec2Model,
        WavLMConfig,
        WavLMModel,
    )

    torch.manual_seed(seed)
    cfg = {**SMALL, **extra}
    model = {
        "wav2vec2": lambda: Wav2Vec2Model(Wav2Vec2Config(**cfg)),
        "hubert": lambda: HubertModel(HubertConfig(**cfg)),
        "wavlm": lambda: WavLMModel(WavLMConfig(**cfg, num_buckets=32, max_bucket_distance=64)),
        "ctc": lambda: Wav2Vec2ForCTC(Wav2Vec2Config(**cfg, vocab_size=12)),
    }[kind]()
    return _save(model, folder), model


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("hf")
    return {k: _make(k, root / k)[0] for k in ("wav2vec2", "hubert", "wavlm")}


@pytest.fixture(scope="module")
def hubert(folders):
    return load_encoder(folders["hubert"], device="cpu")


# ---------------------------------------------------------------------------------------------
# HF models


@pytest.mark.parametrize("kind", ["wav2vec2", "hubert", "wavlm"])
def test_hf_folder_shape_and_rate(folders, kind):
    enc = load_encoder(folders[kind], device="cpu")
    assert isinstance(enc, HFEncoder) and enc.rate == 50 and enc.dim == 32 and enc.layer == 2
    f = enc.encode(_audio(1.0))
    assert f.shape == (49, 32) and f.dtype == np.float32 and np.isfinite(f).all()
    for n in (400, 8000, 23_456):
        assert enc.encode(_audio(n / SR)).shape == (enc.n_frames(n), 32)
    assert enc.encode(_audio(0.01)).shape == (1, 32)  # 160 samples: padded to one frame


def test_layer_selection(folders, hubert):
    x = _audio(0.8)
    by_layer = [load_encoder(folders["hubert"], layer=i, device="cpu") for i in range(3)]
    feats = [e.encode(x) for e in by_layer]
    assert not np.allclose(feats[0], feats[1]) and not np.allclose(feats[1], feats[2])
    np.testing.assert_array_equal(hubert.encode(x), feats[2])  # None = last
    np.testing.assert_array_equal(load_encoder(folders["hubert"], layer=-1, device="cpu").encode(x), feats[2])
    assert len({e.identity for e in by_layer}) == 3
    with pytest.raises(EncoderError, match="layer 3 out of range"):
        load_encoder(folders["hubert"], layer=3)


def test_identity_follows_content(tmp_path, folders, hubert):
    from transformers import HubertModel

    model = HubertModel.from_pretrained(folders["hubert"])
    same = load_encoder(_save(model, tmp_path / "copy"), device="cpu")  # other folder, same content
    assert same.identity == hubert.identity
    unnormalised = load_encoder(_save(model, tmp_path / "raw", normalize=False), device="cpu")
    assert unnormalised.identity != hubert.identity  # preprocessing is part of it
    with torch.no_grad():
        model.encoder.layers[0].attention.q_proj.weight[0, 0] += 1e-3
    changed = load_encoder(_save(model, tmp_path / "changed"), device="cpu")
    assert changed.identity != hubert.identity


def test_ctc_checkpoint_loads_base_model(tmp_path):
    folder, ctc = _make("ctc", tmp_path / "ctc", seed=3)
    enc = load_encoder(folder, layer=1, device="cpu")
    assert type(enc.model).__name__ == "Wav2Vec2Model"
    x = _audio(0.7)
    norm = (x - x.mean()) / np.sqrt(x.var() + 1e-7)
    with torch.no_grad():
        ref = ctc.eval().wav2vec2(torch.from_numpy(norm)[None], output_hidden_states=True).hidden_states[1][0]
    np.testing.assert_allclose(enc.encode(x), ref.numpy(), atol=1e-5)  # the CTC checkpoint's weights


def test_feature_extractor_normalisation_and_missing(tmp_path, hubert):
    x = _audio(0.6)
    np.testing.assert_allclose(hubert.encode(3.0 * x), hubert.encode(x), atol=1e-4)  # do_normalize
    from transformers import HubertModel

    folder = tmp_path / "bare"
    HubertModel.from_pretrained(hubert.model.name_or_path).save_pretrained(folder)  # no preprocessor_config
    with pytest.warns(UserWarning, match="no feature extractor"):
        bare = load_encoder(str(folder), device="cpu")
    assert not np.allclose(bare.encode(3.0 * x), bare.encode(x), atol=1e-4)


def test_encode_batch_matches_encode(tmp_path, hubert):
    folder, _ = _make("wav2vec2", tmp_path / "ln", feat_extract_norm="layer", do_stable_layer_norm=True)
    enc = load_encoder(folder, layer=1, device="cpu")
    assert enc.batchable and not hubert.batchable  # group-norm CNN: no padded batches
    xs = [_audio(d, seed=i) for i, d in enumerate((0.5, 1.3, 0.9))]
    for e in (enc, hubert):
        for got, x in zip(e.encode_batch(xs, batch_size=2), xs):
            np.testing.assert_allclose(got, e.encode(x), atol=1e-4)


def test_bad_inputs(tmp_path, hubert):
    with pytest.raises(EncoderError, match="cannot load encoder"):
        load_encoder(str(tmp_path / "nowhere"))
    with pytest.raises(EncoderError, match="empty"):
        hubert.encode(np.zeros(0, np.float32))
    with pytest.raises(EncoderError, match="NaN"):
        hubert.encode(np.full(800, np.nan, np.float32))
    with pytest.raises(EncoderError, match="mono"):
        hubert.encode(np.zeros((2, 800), np.float32))
    with pytest.raises(EncoderError, match="mono"):
        MFCCEncoder().encode(np.zeros((800, 2), np.float32))  # never interleaved into 1,600 samples
    with pytest.raises(EncoderError, match="no.wav does not exist"):
        hubert.encode(tmp_path / "no.wav")


def test_encoders_take_a_file_path_as_its_samples(tmp_path, hubert):
    import soundfile as sf

    x = _audio(0.6)
    sf.write(tmp_path / "x.wav", x, SR, subtype="FLOAT")
    for enc in (hubert, MFCCEncoder()):
        np.testing.assert_allclose(enc.encode(tmp_path / "x.wav"), enc.encode(x), atol=1e-6)
    np.testing.assert_allclose(hubert.encode_batch([str(tmp_path / "x.wav"), x])[0], hubert.encode(x), atol=1e-5)


class _Payload:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        import os

        return (os.system, (f"touch {self.marker}",))


def test_a_pytorch_model_bin_is_loaded_safely_or_refused(tmp_path, folders, hubert):
    import pickle
    import shutil

    from safetensors.torch import load_file

    tensors_only = tmp_path / "bin"  # the weights as pytorch_model.bin holding tensors only: loads
    shutil.copytree(folders["hubert"], tensors_only)
    torch.save(load_file(str(tensors_only / "model.safetensors")), tensors_only / "pytorch_model.bin")
    (tensors_only / "model.safetensors").unlink()
    x = _audio(0.5)
    np.testing.assert_allclose(load_encoder(str(tensors_only), device="cpu").encode(x), hubert.encode(x), atol=1e-5)

    evil, marker = tmp_path / "evil", tmp_path / "MARKER"  # a .bin that would run code: refused, never run
    shutil.copytree(tensors_only, evil)
    with open(evil / "pytorch_model.bin", "wb") as f:
        pickle.dump({"w": _Payload(marker)}, f)
    with pytest.raises(EncoderError) as e:
        load_encoder(str(evil), device="cpu")
    assert str(evil) in str(e.value) and "refused" in str(e.value) and "\n" not in str(e.value)
    assert not marker.exists()


# ---------------------------------------------------------------------------------------------
# MFCC, random HuBERT


def test_mfcc_shape_rate_and_framing(hubert):
    enc = load_encoder("mfcc")
    assert isinstance(enc, MFCCEncoder) and enc.rate == 50 and enc.dim == 39
    f = enc.encode(_audio(1.0))
    assert f.shape == (49, 39) and f.dtype == np.float32 and np.isfinite(f).all()
    for n in (400, 401, 719, 720, 16_000, 23_456, 50_000):  # same frames as the wav2vec2 CNN
        assert enc.n_frames(n) == hubert.n_frames(n) == conv_frames(n, KERNELS, STRIDES)
        assert enc.encode(_audio(n / SR)).shape[0] == enc.n_frames(n)
    assert enc.encode(_audio(0.005)).shape == (1, 39)
    with pytest.raises(EncoderError, match="no layers"):
        load_encoder("mfcc", layer=3)


def test_random_hubert_is_deterministic(tmp_path, monkeypatch):
    from w2s.encoders.tiny_hubert import TinyHubertConfig, load_or_init_random_hubert

    a = load_or_init_random_hubert(root=tmp_path / "a")
    b = load_or_init_random_hubert(root=tmp_path / "b")
    assert a.name == b.name and load_or_init_random_hubert(root=tmp_path / "a") == a  # reused
    ea, eb = HFEncoder(a, device="cpu"), HFEncoder(b, device="cpu")
    x = _audio(0.5)
    assert ea.identity == eb.identity
    np.testing.assert_array_equal(ea.encode(x), eb.encode(x))
    other = HFEncoder(load_or_init_random_hubert(seed=1, root=tmp_path / "a"), device="cpu")
    assert other.identity != ea.identity
    assert ea.dim == TinyHubertConfig().hidden_size and ea.rate == 50

    monkeypatch.setenv("W2S_DATA_DIR", str(tmp_path / "data"))
    enc = load_encoder("random-hubert", device="cpu")
    assert enc.name == "random-hubert" and enc.identity == ea.identity


# ---------------------------------------------------------------------------------------------
# frame-rate alignment


@pytest.mark.parametrize("seconds", [0.1, 1.0, 2.37, 3.5, 7.02])
def test_align_lengths(seconds):
    n = int(seconds * SR)
    t_a = conv_frames(n, KERNELS, STRIDES)
    f = np.random.default_rng(0).standard_normal((t_a, 8)).astype(np.float32)
    for fps in (30, 25, 60):
        n_frames = round(seconds * fps)
        out = align_to_fps(f, 50, fps, n_frames)
        assert out.shape == (n_frames, 8) and out.dtype == np.float32
        for m in (n_frames - 2, n_frames + 3):  # off-by-a-few ground-truth lengths are met exactly
            assert align_to_fps(f, 50, fps, max(m, 0)).shape == (max(m, 0), 8)


def test_align_interpolation_values():
    f = np.random.default_rng(1).standard_normal((117, 5)).astype(np.float32)
    out = align_to_fps(f, 50, 30, 70)
    np.testing.assert_allclose(out[0], f[0])
    np.testing.assert_allclose(out[-1], f[-1], atol=1e-6)
    ref = torch.nn.functional.interpolate(torch.from_numpy(f.T)[None], size=70, mode="linear", align_corners=True)
    np.testing.assert_allclose(out, ref[0].numpy().T, atol=1e-4)  # FaceFormer's resampling


def test_align_pairing_values():
    f = np.random.default_rng(2).standard_normal((11, 4)).astype(np.float32)  # odd: last frame dropped
    out = align_to_fps(f, 50, 25, 5)
    np.testing.assert_allclose(out, (f[0:10:2] + f[1:10:2]) / 2)
    longer = align_to_fps(f, 50, 25, 8)  # padded by repeating the last frame
    np.testing.assert_allclose(longer[:5], out)
    np.testing.assert_allclose(longer[5:], np.repeat(out[-1:], 3, axis=0))
    np.testing.assert_allclose(align_to_fps(f, 50, 25, 3), out[:3])
    np.testing.assert_allclose(align_to_fps(f, 50, 50, 13)[:11], f)  # same rate: as is


# ---------------------------------------------------------------------------------------------
# feature cache


def test_cache_hits_and_misses(tmp_path, folders, hubert):
    cache = FeatureCache(tmp_path / "features")
    x, y = _audio(0.5), _audio(0.5, seed=9)
    first = cached_encode(hubert, x, cache)
    np.testing.assert_array_equal(first, hubert.encode(x))
    assert (cache.hits, cache.misses) == (0, 1)
    np.testing.assert_array_equal(cached_encode(hubert, x, cache), first)
    assert (cache.hits, cache.misses) == (1, 1)
    assert FeatureCache(tmp_path / "features").encode(hubert, x) is not None  # on disk: a new cache reuses it

    cached_encode(hubert, y, cache)  # other audio
    layer1 = load_encoder(folders["hubert"], layer=1, device="cpu")
    np.testing.assert_array_equal(cached_encode(layer1, x, cache), layer1.encode(x))  # other layer
    from transformers import HubertModel

    model = HubertModel.from_pretrained(folders["hubert"])
    with torch.no_grad():
        model.feature_projection.projection.bias += 0.1
    changed = load_encoder(_save(model, tmp_path / "changed"), device="cpu")
    np.testing.assert_array_equal(cached_encode(changed, x, cache), changed.encode(x))  # other weights
    assert (cache.hits, cache.misses) == (1, 4)
    assert len(list(cache.root.rglob("*.npy"))) == 4
    mfcc = load_encoder("mfcc")
    assert cached_encode(mfcc, x, cache).shape == (24, 39) and cache.misses == 5


def test_cache_repairs_bad_files(tmp_path):
    enc, x = MFCCEncoder(), _audio(0.7)
    cache = FeatureCache(tmp_path)
    want = cache.encode(enc, x)
    path = cache.path(cache.key(enc, x))
    path.write_bytes(path.read_bytes()[:40])  # truncated
    np.testing.assert_array_equal(cache.encode(enc, x), want)
    np.save(path, want[:3])  # wrong shape
    np.testing.assert_array_equal(cache.encode(enc, x), want)
    path.unlink()  # missing
    np.testing.assert_array_equal(cache.encode(enc, x), want)
    assert (cache.hits, cache.misses, cache.repaired) == (0, 4, 2)
    np.testing.assert_array_equal(cache.encode(enc, x), want)
    assert cache.hits == 1 and not list(tmp_path.rglob(".*"))  # no temp files left behind
