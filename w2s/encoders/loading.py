"""An encoder by name: a hub name or folder, ``"mfcc"``, ``"tiny-hubert"``, ``"random-hubert"``, or a
recogniser: ``"phonemes:<encoder name>"`` (a frame phoneme read-out fitted on that encoder), ``"ctc:<CTC model>"``."""

from __future__ import annotations

from w2s.corpus.build import clean_twin, load_or_build
from w2s.encoders.base import Encoder, EncoderError
from w2s.encoders.hf import HFEncoder
from w2s.encoders.mfcc import MFCCEncoder
from w2s.encoders.recogniser import CTCEncoder, load_or_fit_recogniser
from w2s.encoders.tiny_hubert import (
    config_for_corpus,
    load_or_init_random_hubert,
    load_or_pretrain_tiny_hubert,
)

BUILTIN = ("mfcc", "tiny-hubert", "random-hubert")
RECOGNISERS = ("phonemes:", "ctc:")  # prefixes: "phonemes:tiny-hubert", "ctc:facebook/wav2vec2-base-960h"


def load_encoder(name: str, layer: int | None = None, device=None, corpus=None) -> Encoder:
    """An encoder by name.

    layer: which hidden state of an SSL model (0 = transformer input, None = last).
    corpus: for ``"tiny-hubert"``, the corpus folder whose *training speakers* it is pretrained on
        (default: the default corpus, built if missing; a masked corpus's clean twin,
        :func:`w2s.corpus.build.clean_twin`), with the recipe that corpus calls for (a
        smoke corpus gets the seconds-long smoke recipe); cached, see
        :func:`w2s.encoders.tiny_hubert.load_or_pretrain_tiny_hubert`; for ``"phonemes:..."``, the corpus
        whose training speakers and alignments the read-out is fitted on (default: the default corpus).

    ``"phonemes:<name>"``: per-frame phoneme logits of a logistic regression on encoder <name>'s frames
    (layer: of <name>), fitted once and cached (:mod:`w2s.encoders.recogniser`); ``"ctc:<model>"``: a
    CTC model's per-frame logits (no layers).
    """
    name = str(name)
    if name.startswith("phonemes:"):
        corpus = clean_twin(corpus if corpus is not None else load_or_build("default", 0))
        base = load_encoder(name.removeprefix("phonemes:"), layer, device, corpus)
        return load_or_fit_recogniser(base, corpus)
    if name.startswith("ctc:"):
        if layer is not None:
            raise EncoderError("a CTC recogniser gives its logits, it has no layers; pass layer=None")
        return CTCEncoder(name.removeprefix("ctc:"), device)
    if name == "mfcc":
        if layer is not None:
            raise EncoderError("the mfcc encoder has no layers; pass layer=None")
        return MFCCEncoder()
    if name == "tiny-hubert":
        corpus = clean_twin(corpus if corpus is not None else load_or_build("default", 0))
        folder = load_or_pretrain_tiny_hubert(corpus, config=config_for_corpus(corpus), split="train")
        return HFEncoder(folder, layer, device, display_name=name)
    if name == "random-hubert":
        return HFEncoder(load_or_init_random_hubert(), layer, device, display_name=name)
    return HFEncoder(name, layer, device)
