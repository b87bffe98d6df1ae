"""An encoder by name: a hub name or folder, ``"mfcc"``, ``"tiny-hubert"`` or ``"random-hubert"``."""

from __future__ import annotations

from w2s.corpus.build import load_or_build
from w2s.encoders.base import Encoder, EncoderError
from w2s.encoders.hf import HFEncoder
from w2s.encoders.mfcc import MFCCEncoder
from w2s.encoders.tiny_hubert import (
    config_for_corpus,
    load_or_init_random_hubert,
    load_or_pretrain_tiny_hubert,
)

BUILTIN = ("mfcc", "tiny-hubert", "random-hubert")


def load_encoder(name: str, layer: int | None = None, device=None, corpus=None) -> Encoder:
    """An encoder by name.

    layer: which hidden state of an SSL model (0 = transformer input, None = last).
    corpus: for ``"tiny-hubert"``, the corpus folder whose *training speakers* it is pretrained on
        (default: the default corpus, built if missing), with the recipe that corpus calls for (a
        smoke corpus gets the seconds-long smoke recipe); cached, see
        :func:`w2s.encoders.tiny_hubert.load_or_pretrain_tiny_hubert`.
    """
    name = str(name)
    if name == "mfcc":
        if layer is not None:
            raise EncoderError("the mfcc encoder has no layers; pass layer=None")
        return MFCCEncoder()
    if name == "tiny-hubert":
        corpus = corpus if corpus is not None else load_or_build("default", 0)
        folder = load_or_pretrain_tiny_hubert(corpus, config=config_for_corpus(corpus), split="train")
        return HFEncoder(folder, layer, device, display_name=name)
    if name == "random-hubert":
        return HFEncoder(load_or_init_random_hubert(), layer, device, display_name=name)
    return HFEncoder(name, layer, device)
