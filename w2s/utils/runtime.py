"""Runtime: seeding, logging, progress bars, device, CPU threads, quiet Hugging Face."""

from __future__ import annotations

import logging
import os
import random
import sys

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


# ---------------------------------------------------------------------------------------------
# CPU threads
#
# torch's OpenMP threads spin while they wait for each other. On a small machine shared with another
# CPU-bound job (a test run, another notebook) a spinning thread burns the time slice its partner
# needs, and a training step gets 2.6-15x slower. A passive wait policy (waiting threads sleep) keeps
# it under 2x, and costs 5-15 % alone (benchmarks/threads.py). OpenMP reads its policy once, when torch
# loads it, so the variable has to be in the environment before `import torch`.

_late = False  # passive_openmp() ran after torch had loaded OpenMP: the spin policy stays


def passive_openmp() -> bool:
    """Ask OpenMP to let waiting threads sleep (OMP_WAIT_POLICY=PASSIVE unless the user chose one).

    Effective only before torch is imported (child processes inherit it either way). Returns whether a
    passive policy is in force in this process.
    """
    global _late
    if "OMP_WAIT_POLICY" not in os.environ:
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
        _late = "torch" in sys.modules
    return os.environ["OMP_WAIT_POLICY"].upper() == "PASSIVE" and not _late


def _cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def configure_threads(threads: int | None = None) -> int:
    """Set torch's intra-op thread count for training / encoding on a possibly shared CPU; returns it.

    `threads`, else $W2S_THREADS, else what $OMP_NUM_THREADS chose, else torch's default when waiting
    threads sleep (passive_openmp() in force), else one thread on a machine of <= 2 CPUs: a lone thread
    has no partner to spin for.
    """
    import torch

    passive = passive_openmp()
    n = threads or int(os.environ.get("W2S_THREADS", 0) or 0)
    if not n and not passive and "OMP_NUM_THREADS" not in os.environ and _cpus() <= 2:
        n = 1
    if n and n != torch.get_num_threads():
        torch.set_num_threads(n)
    return torch.get_num_threads()
