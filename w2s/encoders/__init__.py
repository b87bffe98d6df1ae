"""Frozen audio encoders behind one interface, frame-rate alignment, and an on-disk feature cache.

    enc = load_encoder("facebook/hubert-base-ls960", layer=9)   # or a local folder, "mfcc",
    feats = enc.encode(audio)                                   #   "tiny-hubert", "random-hubert"
    # (T_audio, D) float32 at enc.rate Hz (50 for the SSL models)
    face_feats = align_to_fps(feats, enc.rate, fps=30, n_frames=T)   # (T, D)
    feats = cached_encode(enc, audio)                            # same, read from disk when seen
    rec = load_encoder("phonemes:tiny-hubert", corpus=root)      # frame phoneme logits (VOCA's input)
    ctc = load_encoder("ctc:facebook/wav2vec2-base-960h")        # a CTC model's character logits

Modules: ``base`` (the interface, conv front-end arithmetic), ``mfcc``, ``hf`` (Hugging Face speech
models: wav2vec2, HuBERT, WavLM, data2vec-audio; CTC checkpoints load as their base model; ``layer``
picks a hidden state: 0 is the transformer's input, i the output of block i, None the last),
``tiny_hubert`` (HuBERT pretrained here on the corpus, loaded by the same HF code path),
``recogniser`` (speech recognisers as encoders: a frame phoneme read-out fitted on the corpus, CTC
models' logits), ``align`` (encoder frames to face frames), ``cache`` (the feature cache), ``loading``
(by name).

Every encoder reads 16 kHz mono float32 and has ``rate`` (Hz), ``dim``, ``layer`` and ``identity``,
a string that changes when the weights, config, layer or preprocessing change (hashes of the
content, not of the name), which keys the feature cache.
"""

from w2s.encoders.align import align_to_fps
from w2s.encoders.base import Encoder, EncoderError, conv_frames, receptive_field
from w2s.encoders.cache import FeatureCache, audio_sha256, cached_encode, default_cache
from w2s.encoders.hf import PREPROCESS_VERSION, HFEncoder
from w2s.encoders.loading import BUILTIN, RECOGNISERS, load_encoder
from w2s.encoders.mfcc import MFCC_HOP, MFCC_N, MFCC_WIN, MFCCEncoder, mfcc_features
from w2s.encoders.recogniser import (
    CTCEncoder,
    PhonemeRecogniser,
    RecogniserRecipe,
    fit_phoneme_recogniser,
    frame_accuracy,
    load_or_fit_recogniser,
)

__all__ = [
    "BUILTIN", "MFCC_HOP", "MFCC_N", "MFCC_WIN", "PREPROCESS_VERSION", "RECOGNISERS", "CTCEncoder", "Encoder",
    "EncoderError", "FeatureCache", "HFEncoder", "MFCCEncoder", "PhonemeRecogniser", "RecogniserRecipe",
    "align_to_fps", "audio_sha256", "cached_encode", "conv_frames", "default_cache", "fit_phoneme_recogniser",
    "frame_accuracy", "load_encoder", "load_or_fit_recogniser", "mfcc_features", "receptive_field",
]  # fmt: skip
