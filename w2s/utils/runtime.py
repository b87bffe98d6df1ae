"""Runtime: seeding, logging, progress bars, device, quiet Hugging Face."""

from __future__ import annotations

import logging
import os
import random

import numpy as np


def set_seed(seed: int) -> None:
    """Seed python, numpy and torch (all devices)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    try:
        import torch

        torch.manual_seed(seed)
    except ImportError:  # pragma: no cover
        pass


def setup_logging(level: str = "INFO") -> None:
    logging.basicConfig(level=getattr(logging, level.upper()), format="%(levelname)s %(name)s: %(message)s")


def progress_enabled() -> bool:
    """Progress bars on unless W2S_PROGRESS=0 (the notebook runner and CI set it)."""
    return os.environ.get("W2S_PROGRESS", "1") not in ("0", "false", "False", "")


def progress(iterable=None, **kw):
    """tqdm.auto with our on/off switch; executed notebooks stay free of widget output."""
    from tqdm.auto import tqdm

    kw.setdefault("mininterval", 1.0)
    return tqdm(iterable, disable=not progress_enabled(), **kw)


def device(prefer: str | None = None) -> str:
    import torch

    if prefer:
        return prefer
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def quiet_hf() -> None:
    """No transformers progress bars when w2s's are off (W2S_PROGRESS=0: notebooks, CI)."""
    from transformers.utils import logging as hf_logging

    if not progress_enabled():
        hf_logging.disable_progress_bar()
