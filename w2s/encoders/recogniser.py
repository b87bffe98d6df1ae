"""Speech recognisers as frozen encoders: per-frame class logits, VOCA's kind of input.

VOCA reads DeepSpeech v0.1.0's 29 character logits at 50 fps. Two stand-ins, both :class:`Encoder`:

* ``load_encoder("phonemes:tiny-hubert", corpus=root)``: a *frame phoneme recogniser*, a multinomial
  logistic regression (the phonetic probe's read-out, :mod:`w2s.evaluation.probe`) on the frozen frames
  of a base encoder (any ``load_encoder`` name after ``phonemes:``), fitted on the corpus's *training
  speakers* only, labels from the corpus alignments; frames outside every phoneme are the class
  ``"sil"`` (DeepSpeech has its blank and space). Its features are the per-frame logits
  ``((F - mean) / scale) coef^T + intercept`` (T, n_classes), at the base encoder's rate. Fitted once
  and cached under ``cache_dir("encoders")/phonemes-<key>`` (key: the base encoder's identity, the
  corpus's content hash, the recipe), stored without pickle: ``readout.npz`` (classes, coef,
  intercept, mean, scale) and ``recogniser.json`` (the base identity it was fitted on, timings).
* ``load_encoder("ctc:facebook/wav2vec2-base-960h")``: a CTC model's logits (``AutoModelForCTC``;
  wav2vec2-base-960h: 32 characters at 50 Hz), the real-model counterpart.
"""

from __future__ import annotations

import hashlib
import math
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from w2s.data.audio import SAMPLE_RATE
from w2s.data.corpus import Corpus
from w2s.data.phoneme_frames import frame_phoneme_dataset
from w2s.encoders.base import Encoder, EncoderError, receptive_field
from w2s.encoders.cache import cached_encode
from w2s.encoders.hf import PREPROCESS_VERSION, HFEncoder, load_pretrained
from w2s.utils.hashing import key_of, sha256_tensors, stable_json
from w2s.utils.io import building_dir, read_json, write_json
from w2s.utils.paths import cache_dir
from w2s.utils.runtime import device as pick_device
from w2s.utils.runtime import quiet_hf

RECOGNISER_VERSION = 1  # bump when the fitting changes; cached recognisers of another version are refitted
ARRAYS = ("classes", "coef", "intercept", "mean", "scale")


@dataclass(frozen=True)
class RecogniserRecipe:
    split: str = "train"  # the speakers it is fitted on
    silence: str = "sil"  # the class of frames outside every phoneme segment
    max_train: int = 40_000  # frames (a seeded random subset when there are more); default corpus: ~32k
    max_iter: int = 300  # lbfgs iterations
    C: float = 1.0  # inverse L2 strength (sklearn's default)
    seed: int = 0


class PhonemeRecogniser(Encoder):
    """Frame phoneme logits: a linear read-out on a frozen base encoder's frames."""

    def __init__(self, base: Encoder, classes, coef, intercept, mean, scale, name: str | None = None):
        self.base = base
        self.classes = np.asarray(classes).astype(str)  # (K,)
        self.coef = np.asarray(coef, np.float32)  # (K, D)
        self.intercept = np.asarray(intercept, np.float32)  # (K,)
        self.mean = np.asarray(mean, np.float32)  # (D,)
        self.scale = np.asarray(scale, np.float32)  # (D,)
        K, D = self.coef.shape
        if self.classes.shape != (K,) or self.intercept.shape != (K,) or D != base.dim:
            raise EncoderError(f"recogniser: classes {self.classes.shape}, coef {self.coef.shape}, intercept "
                               f"{self.intercept.shape} do not fit together or the base's {base.dim}-d frames")  # fmt: skip
        if self.mean.shape != (D,) or self.scale.shape != (D,) or not (self.scale > 0).all():
            raise EncoderError(f"recogniser: mean {self.mean.shape} / scale {self.scale.shape} must be ({D},), scale > 0")
        self.name = name or f"phonemes:{base.name}"
        self.rate, self.dim, self.layer = base.rate, K, None
        self.min_samples = base.min_samples
        h = hashlib.sha256()
        for k in ARRAYS:
            h.update(np.ascontiguousarray(self.arrays()[k]).tobytes() + b"\0")
        self.identity = f"phonemes:{base.identity}:readout={h.hexdigest()[:24]}"

    def arrays(self) -> dict[str, np.ndarray]:
        return {"classes": self.classes, "coef": self.coef, "intercept": self.intercept, "mean": self.mean,
                "scale": self.scale}  # fmt: skip

    def n_frames(self, n_samples: int) -> int:
        return self.base.n_frames(n_samples)

    def logits(self, F: np.ndarray) -> np.ndarray:
        """Base frames (T, D) -> logits (T, K) float32."""
        Z = (np.asarray(F, np.float32) - self.mean) / self.scale  # (T, D)
        return (Z @ self.coef.T + self.intercept).astype(np.float32)  # (T, K)

    def encode(self, audio: np.ndarray) -> np.ndarray:
        return self.logits(cached_encode(self.base, audio))  # the base's frames are usually cached already

    def predict(self, F: np.ndarray) -> np.ndarray:
        """Base frames (T, D) -> the most likely phoneme per frame (T,)."""
        return self.classes[self.logits(F).argmax(-1)]

    def save(self, folder, info: dict | None = None) -> Path:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        np.savez(folder / "readout.npz", **self.arrays())
        write_json(folder / "recogniser.json", {**(info or {}), "base_identity": self.base.identity})
        return folder

    @classmethod
    def load(cls, folder, base: Encoder, name: str | None = None) -> PhonemeRecogniser:
        """The read-out saved in `folder` (no pickle), on `base`, which must be the encoder it was fitted on."""
        folder = Path(folder)
        try:
            with np.load(folder / "readout.npz", allow_pickle=False) as z:
                arrays = {k: z[k] for k in ARRAYS}
            info = read_json(folder / "recogniser.json", "recogniser record", kind=dict)
        except (OSError, KeyError, ValueError) as e:
            raise EncoderError(f"{folder}: not a phoneme recogniser ({type(e).__name__}: {e})") from e
        if info.get("base_identity") != base.identity:
            raise EncoderError(f"{folder}: fitted on encoder {info.get('base_identity')!r}, not {base.identity!r}")
        return cls(base, **arrays, name=name)


def _corpus_frames(base: Encoder, corpus: Corpus, split: str) -> dict[str, np.ndarray]:
    """The base encoder's frames of every utterance of a split, through the feature cache."""
    ds = corpus.dataset(split)
    return {stem: cached_encode(base, ds.load_audio(i)) for i, stem in enumerate(ds.stems)}


def fit_phoneme_recogniser(
    base: Encoder, corpus, recipe: RecogniserRecipe = RecogniserRecipe()
) -> tuple[PhonemeRecogniser, dict]:
    """Fit the read-out on the base encoder's frames of `recipe.split`; returns it and info (timings, accuracy)."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    corpus = Corpus.open(corpus)
    t0 = time.perf_counter()
    feats = _corpus_frames(base, corpus, recipe.split)
    X, y, _ = frame_phoneme_dataset(feats, base.rate, corpus.alignments, silence=recipe.silence)  # (N, D), (N,)
    if len(X) > recipe.max_train:
        keep = np.sort(np.random.default_rng(recipe.seed).choice(len(X), recipe.max_train, replace=False))
        X, y = X[keep], y[keep]
    mean, scale = X.mean(0), X.std(0) + 1e-6
    Z = (X - mean) / scale
    t1 = time.perf_counter()
    clf = LogisticRegression(C=recipe.C, max_iter=recipe.max_iter, random_state=recipe.seed)  # lbfgs: multinomial
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(Z, y)
    rec = PhonemeRecogniser(base, clf.classes_, clf.coef_, clf.intercept_, mean, scale)
    info = {"n_frames": int(len(X)), "n_classes": int(len(clf.classes_)), "train_accuracy": float(clf.score(Z, y)),
            "converged": bool(np.max(clf.n_iter_) < recipe.max_iter), "encode_s": round(t1 - t0, 2),
            "fit_s": round(time.perf_counter() - t1, 2), "recipe": asdict(recipe), "version": RECOGNISER_VERSION,
            "corpus": corpus.content_sha256}  # fmt: skip
    return rec, info


def load_or_fit_recogniser(
    base: Encoder, corpus, recipe: RecogniserRecipe = RecogniserRecipe(), root=None
) -> PhonemeRecogniser:
    """The recogniser of (base, corpus, recipe): read from the cache, else fitted and cached."""
    corpus = Corpus.open(corpus)
    key = key_of({"base": base.identity, "corpus": corpus.content_sha256, "recipe": asdict(recipe),
                  "version": RECOGNISER_VERSION})  # fmt: skip
    out = (Path(root) if root is not None else cache_dir("encoders")) / f"phonemes-{key}"
    if not (out / "readout.npz").is_file():
        rec, info = fit_phoneme_recogniser(base, corpus, recipe)
        out.parent.mkdir(parents=True, exist_ok=True)
        with building_dir(out, keep_existing=lambda p: (p / "readout.npz").is_file()) as tmp:
            rec.save(tmp, info)
    return PhonemeRecogniser.load(out, base)


def frame_accuracy(rec: PhonemeRecogniser, corpus, split: str = "test", silence: str | None = "sil") -> dict:
    """Frame accuracy on a split's speakers (held out: "test", "val") and chance (the most frequent class)."""
    corpus = Corpus.open(corpus)
    feats = _corpus_frames(rec.base, corpus, split)
    X, y, _ = frame_phoneme_dataset(feats, rec.rate, corpus.alignments, silence=silence)
    _, counts = np.unique(y, return_counts=True)
    return {"accuracy": float((rec.predict(X) == y).mean()), "chance": float(counts.max() / len(y)),
            "n_frames": int(len(y))}  # fmt: skip


class CTCEncoder(HFEncoder):
    """A CTC speech recogniser (``AutoModelForCTC``: wav2vec2-base-960h ...): its per-frame logits (T, vocab)."""

    def __init__(self, name: str, device=None):
        import torch
        from transformers import AutoFeatureExtractor, AutoModelForCTC

        quiet_hf()
        self.name = f"ctc:{name}"
        self.source = str(name)
        model = load_pretrained(AutoModelForCTC, name, "CTC model")
        cfg = model.config
        try:
            self.feature_extractor = AutoFeatureExtractor.from_pretrained(str(name))
        except (OSError, ValueError):
            self.feature_extractor = None
            warnings.warn(f"{name}: no feature extractor; feeding the raw waveform", UserWarning, stacklevel=2)
        fe = self.feature_extractor
        if fe is not None and getattr(fe, "sampling_rate", SAMPLE_RATE) != SAMPLE_RATE:
            raise EncoderError(f"{name}: the model expects {fe.sampling_rate} Hz audio; w2s feeds {SAMPLE_RATE} Hz")
        weights = sha256_tensors(model.state_dict())  # the CTC head included
        self.device = torch.device(pick_device(device))
        self.model = model.to(self.device).eval().requires_grad_(False)
        self.kernels, self.strides = list(cfg.conv_kernel), list(cfg.conv_stride)
        self.rate = SAMPLE_RATE / math.prod(self.strides)
        self.dim, self.layer = int(cfg.vocab_size), None
        self.min_samples = receptive_field(self.kernels, self.strides)
        self.batchable = cfg.feat_extract_norm == "layer"  # as HFEncoder: group norm takes no padding
        prep = {"v": PREPROCESS_VERSION, "fe": fe.to_dict() if fe is not None else None}
        meta = hashlib.sha256((stable_json(cfg.to_dict()) + stable_json(prep)).encode()).hexdigest()
        self.identity = f"ctc:{cfg.model_type}:weights={weights[:24]}:config={meta[:16]}"

    def _forward(self, audios: list[np.ndarray]) -> list[np.ndarray]:
        import torch

        x, mask, lengths = self._prepare(audios)  # (B, N)
        with torch.inference_mode():
            logits = self.model(x, attention_mask=mask).logits.float().cpu().numpy()  # (B, T, vocab)
        return [np.ascontiguousarray(logits[i, : self.n_frames(n)]) for i, n in enumerate(lengths)]
