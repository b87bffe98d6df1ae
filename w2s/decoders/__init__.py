"""Host decoders behind one contract (``base.py``): ``get(name)``, ``names()``, ``load(folder)``.

Each host lives in its own file and registers itself; importing this package registers them all.
"""

from w2s.decoders import codetalker, faceformer, reference, voca  # noqa: F401  (each registers its host)
from w2s.decoders.base import (
    Decoder,
    DecoderConfig,
    DecoderError,
    get,
    load,
    names,
    register,
    train_step,
)

__all__ = ["Decoder", "DecoderConfig", "DecoderError", "get", "load", "names", "register", "train_step"]
