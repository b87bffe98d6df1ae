"""Host decoders behind one contract (``base.py``): ``get(name)``, ``names()``, ``load(folder)``.

Each host lives in its own file and registers itself; importing this package registers them all.
"""

from w2s.decoders import (
    codetalker,  # noqa: F401  (each import registers its host)
    facediffuser,  # noqa: F401
    faceformer,  # noqa: F401
    lgldm,  # noqa: F401
    reference,  # noqa: F401
    unitalker,  # noqa: F401
    voca,  # noqa: F401
)
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
