"""Frozen audio encoders behind one interface, frame-rate alignment, and an on-disk feature cache.

    enc = load_encoder("facebook/hubert-base-ls960", layer=9)   # or a local folder, "mfcc",
    feats = enc.encode(audio)                                   #   "tiny-hubert", "random-hubert"
    # (T_audio, D) float32 at enc.rate Hz (50 for the SSL models)
    face_feats = align_to_fps(feats, enc.rate, fps=30, n_frames=T)   # (T, D)
    feats = cached_encode(enc, audio)                            # same, read from disk when seen

Backends
* Hugging Face speech models (wav2vec2, HuBERT, WavLM, data2vec-audio: anything with the
  wav2vec2 convolutional front end) by hub name or folder, through ``AutoModel.from_pretrained``
  and ``AutoFeatureExtractor``. CTC checkpoints (``...-960h``, ``...-ft``) load as their base
  model; the CTC head is dropped. ``layer`` picks a hidden state: 0 is the transformer's input
  (projected CNN features + positional conv), i is the output of block i, None the last one.
* ``"mfcc"``: 13 MFCC + delta + delta-delta (39-d), 25 ms window, hop 320 samples (50 Hz), framed
  exactly as the wav2vec2 CNN frames the waveform (frame i covers samples [320 i, 320 i + 400)).
* ``"tiny-hubert"``: HuBERT pretrained here on the corpus (:mod:`w2s.hubert_pretrain`), loaded from
  its cache folder by the same HF code path. ``"random-hubert"``: the same config, random weights.

Every encoder reads 16 kHz mono float32 and has ``rate`` (Hz), ``dim``, ``layer`` and ``identity``,
a string that changes when the weights, config, layer or preprocessing change (hashes of the
content, not of the name), which keys the feature cache.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import warnings
from pathlib import Path

import numpy as np

from w2s.audio import SAMPLE_RATE

log = logging.getLogger(__name__)

PREPROCESS_VERSION = 1  # bump when how audio is prepared for the models changes (keys the cache)


class EncoderError(ValueError):
    """An encoder that cannot be loaded or an input it cannot encode; the message says which."""


# ---------------------------------------------------------------------------------------------
# helpers


def _check_audio(audio) -> np.ndarray:
    """(N,) float32, finite, non-empty; else EncoderError."""
    x = np.asarray(audio)
    if x.ndim == 2 and 1 in x.shape:
        x = x.reshape(-1)
    if x.ndim != 1:
        raise EncoderError(f"audio must be 1-D mono (N,), got shape {x.shape}")
    if x.size == 0:
        raise EncoderError("audio is empty (0 samples)")
    if not np.issubdtype(x.dtype, np.floating):
        raise EncoderError(f"audio must be float (16 kHz, in [-1, 1]), got dtype {x.dtype}")
    x = np.ascontiguousarray(x, dtype=np.float32)
    if not np.isfinite(x).all():
        raise EncoderError("audio contains NaN or inf samples")
    return x


def conv_frames(n_samples: int, kernels, strides) -> int:
    """Output length of a stack of unpadded 1-D convolutions (the wav2vec2 CNN)."""
    n = int(n_samples)
    for k, s in zip(kernels, strides):
        n = (n - k) // s + 1
    return max(n, 0)


def receptive_field(kernels, strides) -> int:
    """Samples seen by one output frame of the conv stack (400 for wav2vec2)."""
    field, jump = 1, 1
    for k, s in zip(kernels, strides):
        field += (k - 1) * jump
        jump *= s
    return field


def _pad_to(x: np.ndarray, n: int) -> np.ndarray:
    return x if len(x) >= n else np.pad(x, (0, n - len(x)))


def quiet_hf() -> None:
    """No transformers progress bars when w2s's are off (W2S_PROGRESS=0: notebooks, CI)."""
    from transformers.utils import logging as hf_logging

    from w2s.utils import progress_enabled

    if not progress_enabled():
        hf_logging.disable_progress_bar()


def sha256_tensors(state: dict) -> str:
    """Hash of a state dict: names, dtypes, shapes and bytes."""
    import torch

    h = hashlib.sha256()
    for k in sorted(state):
        t = state[k].detach().cpu().contiguous()
        h.update(f"{k}|{t.dtype}|{tuple(t.shape)}\0".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def stable_json(d: dict) -> str:
    d = {k: v for k, v in d.items() if not k.startswith("_") and k not in ("transformers_version", "name_or_path")}
    return json.dumps(d, sort_keys=True, default=str)


# ---------------------------------------------------------------------------------------------
# the interface


class Encoder:
    """A frozen audio encoder: 16 kHz mono float32 -> (T_audio, dim) float32 at `rate` Hz."""

    name: str
    rate: float  # frames per second of the output
    dim: int
    layer: int | None  # which hidden state (None for encoders without layers)
    identity: str
    min_samples: int = 1  # shorter input is zero-padded to this length

    def n_frames(self, n_samples: int) -> int:
        """Frames `encode` returns for `n_samples` of audio."""
        raise NotImplementedError

    def encode(self, audio: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def encode_batch(self, audios: list[np.ndarray]) -> list[np.ndarray]:
        return [self.encode(a) for a in audios]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, layer={self.layer}, dim={self.dim}, rate={self.rate:g} Hz)"


# ---------------------------------------------------------------------------------------------
# MFCC baseline

MFCC_N = 13
MFCC_WIN = 400  # 25 ms at 16 kHz
MFCC_HOP = 320  # 20 ms -> 50 Hz, the wav2vec2 frame rate
MFCC_MELS = 40
MFCC_DELTA_WIDTH = 9


def mfcc_features(audio: np.ndarray) -> np.ndarray:
    """13 MFCC + delta + delta-delta, (T, 39) float32, T = floor((N - 400) / 320) + 1.

    No centring: frame i covers samples [320 i, 320 i + 400), the same span as wav2vec2/HuBERT
    CNN frame i, so MFCC frames and SSL frames line up one to one. Audio shorter than 400 samples
    is zero-padded to one frame.
    """
    import librosa

    x = _pad_to(_check_audio(audio), MFCC_WIN)
    m = librosa.feature.mfcc(
        y=x, sr=SAMPLE_RATE, n_mfcc=MFCC_N, n_fft=MFCC_WIN, win_length=MFCC_WIN, hop_length=MFCC_HOP,
        n_mels=MFCC_MELS, fmin=20.0, fmax=SAMPLE_RATE / 2, center=False,
    )  # (13, T)  # fmt: skip
    d1 = librosa.feature.delta(m, width=MFCC_DELTA_WIDTH, order=1, mode="nearest")
    d2 = librosa.feature.delta(m, width=MFCC_DELTA_WIDTH, order=2, mode="nearest")
    return np.ascontiguousarray(np.concatenate([m, d1, d2]).T, dtype=np.float32)  # (T, 39)


class MFCCEncoder(Encoder):
    """The engineered baseline: 39-d MFCC at 50 Hz (see :func:`mfcc_features`)."""

    def __init__(self):
        self.name = "mfcc"
        self.rate = SAMPLE_RATE / MFCC_HOP
        self.dim = 3 * MFCC_N
        self.layer = None
        self.min_samples = MFCC_WIN
        params = f"n={MFCC_N},win={MFCC_WIN},hop={MFCC_HOP},mels={MFCC_MELS},delta={MFCC_DELTA_WIDTH},center=0"
        self.identity = f"mfcc:v1:{params}"

    def n_frames(self, n_samples: int) -> int:
        return conv_frames(max(n_samples, MFCC_WIN), [MFCC_WIN], [MFCC_HOP])

    def encode(self, audio: np.ndarray) -> np.ndarray:
        return mfcc_features(audio)


# ---------------------------------------------------------------------------------------------
# Hugging Face speech models


class HFEncoder(Encoder):
    """A wav2vec2-family model from the hub or a folder, frozen (eval mode, no grad).

    Input: the feature extractor's preprocessing when the checkpoint has one
    (``preprocessor_config.json``; e.g. per-utterance zero mean / unit variance when
    ``do_normalize``), else the raw waveform, with a warning. Audio shorter than the CNN's
    receptive field (400 samples) is zero-padded to it.
    """

    def __init__(self, name: str, layer: int | None = None, device=None, display_name: str | None = None):
        import torch
        from transformers import AutoFeatureExtractor, AutoModel

        from w2s.utils import device as pick_device

        quiet_hf()
        self.name = display_name or str(name)
        self.source = str(name)  # the hub name or folder it was loaded from
        try:
            model = AutoModel.from_pretrained(str(name))  # CTC checkpoints: the base model's weights
        except (OSError, ValueError) as e:
            raise EncoderError(
                f"cannot load encoder {name!r}: {e}\n(hub names need the files in the local HF cache when "
                "HF_HUB_OFFLINE=1; a folder needs config.json and the weights)"
            ) from e
        cfg = model.config
        if not hasattr(cfg, "conv_stride") or not hasattr(cfg, "num_hidden_layers"):
            raise EncoderError(
                f"{name!r} is a {type(model).__name__}, not a wav2vec2-style speech encoder (no conv front end)"
            )
        try:
            self.feature_extractor = AutoFeatureExtractor.from_pretrained(str(name))
        except (OSError, ValueError):
            self.feature_extractor = None
            warnings.warn(
                f"{name}: no feature extractor (preprocessor_config.json); feeding the raw waveform",
                UserWarning,
                stacklevel=2,
            )
        fe = self.feature_extractor
        if fe is not None and getattr(fe, "sampling_rate", SAMPLE_RATE) != SAMPLE_RATE:
            raise EncoderError(f"{name}: the model expects {fe.sampling_rate} Hz audio; w2s feeds {SAMPLE_RATE} Hz")

        weights = sha256_tensors(model.state_dict())  # before moving to an accelerator
        self.device = torch.device(pick_device(device))
        self.model = model.to(self.device).eval().requires_grad_(False)
        self.kernels, self.strides = list(cfg.conv_kernel), list(cfg.conv_stride)
        self.rate = SAMPLE_RATE / math.prod(self.strides)
        self.dim = int(cfg.hidden_size)
        self.min_samples = receptive_field(self.kernels, self.strides)
        n_states = int(cfg.num_hidden_layers) + 1  # hidden_states: the input + one per block
        if layer is None:
            layer = n_states - 1
        if not -n_states <= int(layer) < n_states:
            raise EncoderError(f"{name}: layer {layer} out of range; the model has hidden states 0..{n_states - 1}")
        self.layer = int(layer) % n_states
        # batches need an attention mask the CNN respects: layer-norm front ends only (group norm
        # normalises over time, so padding would change the features)
        self.batchable = cfg.feat_extract_norm == "layer"

        prep = {"v": PREPROCESS_VERSION, "fe": fe.to_dict() if fe is not None else None}
        meta = hashlib.sha256((stable_json(cfg.to_dict()) + stable_json(prep)).encode()).hexdigest()
        self.identity = f"hf:{cfg.model_type}:layer={self.layer}:weights={weights[:24]}:config={meta[:16]}"

    def n_frames(self, n_samples: int) -> int:
        return conv_frames(max(n_samples, self.min_samples), self.kernels, self.strides)

    def _prepare(self, audios: list[np.ndarray]):
        """Validated, padded, normalised input: (B, N) tensor and an attention mask or None."""
        import torch

        xs = [_pad_to(_check_audio(a), self.min_samples) for a in audios]
        fe = self.feature_extractor
        if fe is not None:
            batch = fe(xs, sampling_rate=SAMPLE_RATE, padding=True, return_tensors="pt",
                       return_attention_mask=len(xs) > 1)  # fmt: skip
            x, mask = batch["input_values"], batch.get("attention_mask")
        else:
            n = max(len(a) for a in xs)
            x = torch.zeros(len(xs), n)
            mask = torch.zeros(len(xs), n, dtype=torch.long)
            for i, a in enumerate(xs):
                x[i, : len(a)] = torch.from_numpy(a)
                mask[i, : len(a)] = 1
            mask = mask if len(xs) > 1 else None
        return x.to(self.device, torch.float32), None if mask is None else mask.to(self.device), [len(a) for a in xs]

    def _forward(self, audios: list[np.ndarray]) -> list[np.ndarray]:
        import torch

        x, mask, lengths = self._prepare(audios)  # (B, N)
        with torch.inference_mode():
            out = self.model(x, attention_mask=mask, output_hidden_states=True)
        h = out.hidden_states[self.layer].float().cpu().numpy()  # (B, T, D)
        return [np.ascontiguousarray(h[i, : self.n_frames(n)]) for i, n in enumerate(lengths)]

    def encode(self, audio: np.ndarray) -> np.ndarray:
        return self._forward([audio])[0]  # (T, D)

    def encode_batch(self, audios: list[np.ndarray], batch_size: int = 8) -> list[np.ndarray]:
        """Same results as `encode` one by one; padded batches only where the model allows it."""
        if not self.batchable:
            return [self.encode(a) for a in audios]
        order = sorted(range(len(audios)), key=lambda i: len(audios[i]))  # little padding per batch
        out: list[np.ndarray | None] = [None] * len(audios)
        for s in range(0, len(order), batch_size):
            idx = order[s : s + batch_size]
            for i, f in zip(idx, self._forward([audios[i] for i in idx])):
                out[i] = f
        return out


# ---------------------------------------------------------------------------------------------
# loading by name

BUILTIN = ("mfcc", "tiny-hubert", "random-hubert")


def load_encoder(name: str, layer: int | None = None, device=None, corpus=None) -> Encoder:
    """An encoder by name: a hub name or folder, ``"mfcc"``, ``"tiny-hubert"`` or ``"random-hubert"``.

    layer: which hidden state of an SSL model (0 = transformer input, None = last).
    corpus: for ``"tiny-hubert"``, the corpus folder it is pretrained on (default: the default corpus,
        built if missing); the pretrained model is cached, see :func:`w2s.hubert_pretrain.load_or_pretrain_tiny_hubert`.
    """
    name = str(name)
    if name == "mfcc":
        if layer is not None:
            raise EncoderError("the mfcc encoder has no layers; pass layer=None")
        return MFCCEncoder()
    if name == "tiny-hubert":
        from w2s.hubert_pretrain import load_or_pretrain_tiny_hubert

        if corpus is None:
            from w2s.corpus.build import load_or_build

            corpus = load_or_build("default", 0)
        return HFEncoder(load_or_pretrain_tiny_hubert(corpus), layer, device, display_name=name)
    if name == "random-hubert":
        from w2s.hubert_pretrain import load_or_init_random_hubert

        return HFEncoder(load_or_init_random_hubert(), layer, device, display_name=name)
    return HFEncoder(name, layer, device)


# ---------------------------------------------------------------------------------------------
# frame-rate alignment


def align_to_fps(features: np.ndarray, rate: float, fps: float, n_frames: int) -> np.ndarray:
    """Resample encoder frames (T_a, D) at `rate` Hz to exactly `n_frames` face frames at `fps`.

    The rule (FaceFormer's):
    * ``rate == 2 * fps`` (50 Hz -> 25 fps, BIWI): frame pairing. Face frame t is the mean of audio
      frames 2t and 2t+1; an odd last audio frame is dropped. The result is trimmed to `n_frames`,
      or padded by repeating its last frame.
    * ``rate == fps``: the frames as they are, trimmed / padded the same way.
    * otherwise (50 Hz -> 30 fps, VOCASET): linear interpolation with aligned corners, i.e. the
      whole sequence is stretched so that the first and last audio frames land on the first and
      last face frames (``F.interpolate(..., mode="linear", align_corners=True)``).
    """
    f = np.asarray(features, dtype=np.float32)
    if f.ndim != 2 or f.shape[0] == 0:
        raise ValueError(f"features must be (T_audio >= 1, D), got shape {f.shape}")
    n_frames = int(n_frames)
    if n_frames < 0:
        raise ValueError(f"n_frames must be >= 0, got {n_frames}")
    t_a, d = f.shape

    def fit(g: np.ndarray) -> np.ndarray:  # trim, or pad by repeating the last frame
        if len(g) >= n_frames:
            return np.ascontiguousarray(g[:n_frames])
        return np.concatenate([g, np.repeat(g[-1:], n_frames - len(g), axis=0)])

    if math.isclose(rate, 2 * fps):
        if t_a == 1:
            return fit(f)
        pairs = f[: t_a // 2 * 2].reshape(t_a // 2, 2, d).mean(axis=1)  # (T_a // 2, D)
        return fit(pairs)
    if math.isclose(rate, fps):
        return fit(f)
    if n_frames == 0:
        return np.zeros((0, d), np.float32)
    if t_a == 1 or n_frames == 1:
        return np.repeat(f[:1], n_frames, axis=0)
    pos = np.linspace(0.0, t_a - 1, n_frames)  # fractional audio-frame index of each face frame
    lo = np.minimum(np.floor(pos).astype(np.int64), t_a - 2)
    w = (pos - lo)[:, None].astype(np.float32)
    return np.ascontiguousarray((1 - w) * f[lo] + w * f[lo + 1])  # (n_frames, D)


# ---------------------------------------------------------------------------------------------
# feature cache


def audio_sha256(audio: np.ndarray) -> str:
    x = _check_audio(audio)
    return hashlib.sha256(x.tobytes()).hexdigest()


class FeatureCache:
    """Encoder outputs on disk, one ``.npy`` per (encoder identity, layer, audio bytes).

    Files are written atomically, so a crash never leaves a half file under a valid name; a file
    that cannot be read, or has the wrong shape or dtype, is recomputed and replaced. Counters:
    ``hits``, ``misses`` (computed, including ``repaired``: a bad file recomputed).
    """

    def __init__(self, root=None):
        from w2s.paths import cache_dir

        self.root = Path(root) if root is not None else cache_dir("features")
        self.root.mkdir(parents=True, exist_ok=True)
        self.hits = self.misses = self.repaired = 0

    def key(self, encoder: Encoder, audio: np.ndarray) -> str:
        text = f"{encoder.identity}\0layer={encoder.layer}\0audio={audio_sha256(audio)}"
        return hashlib.sha256(text.encode()).hexdigest()

    def path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.npy"

    def load(self, key: str, n_frames: int, dim: int) -> np.ndarray | None:
        """The stored features, or None when missing or unusable."""
        p = self.path(key)
        if not p.is_file():
            return None
        try:
            a = np.load(p, allow_pickle=False)
        except Exception as e:  # truncated / garbage file
            log.warning("feature cache: unreadable %s (%s); recomputing", p, e)
            self.repaired += 1
            return None
        if a.dtype != np.float32 or a.shape != (n_frames, dim):
            log.warning("feature cache: %s has %s %s, expected float32 %s; recomputing", p, a.dtype, a.shape, (n_frames, dim))
            self.repaired += 1
            return None
        return a

    def save(self, key: str, features: np.ndarray) -> None:
        from w2s.io import atomic_path

        p = self.path(key)
        p.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(p) as tmp:
            with open(tmp, "wb") as f:
                np.save(f, np.ascontiguousarray(features, dtype=np.float32), allow_pickle=False)

    def encode(self, encoder: Encoder, audio: np.ndarray) -> np.ndarray:
        audio = _check_audio(audio)
        key = self.key(encoder, audio)
        feats = self.load(key, encoder.n_frames(len(audio)), encoder.dim)
        if feats is not None:
            self.hits += 1
            return feats
        self.misses += 1
        feats = encoder.encode(audio)
        self.save(key, feats)
        return feats

    def __repr__(self) -> str:
        return f"FeatureCache({str(self.root)!r}, hits={self.hits}, misses={self.misses})"


_DEFAULT_CACHE: FeatureCache | None = None


def default_cache() -> FeatureCache:
    """The shared cache under ``cache_dir("features")`` (follows a changed W2S_DATA_DIR)."""
    from w2s.paths import cache_dir

    global _DEFAULT_CACHE
    if _DEFAULT_CACHE is None or _DEFAULT_CACHE.root != cache_dir("features"):
        _DEFAULT_CACHE = FeatureCache()
    return _DEFAULT_CACHE


def cached_encode(encoder: Encoder, audio: np.ndarray, cache: FeatureCache | None = None) -> np.ndarray:
    """``encoder.encode(audio)``, read from the feature cache when this encoder has seen this audio."""
    return (cache or default_cache()).encode(encoder, audio)
