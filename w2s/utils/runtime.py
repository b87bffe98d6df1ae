"""Runtime: seeding, logging, progress bars (w2s.utils.progress), device, CPU threads, quiet Hugging Face."""

from __future__ import annotations

import logging
import os
import random
import sys

# progress bars (tqdm.auto, or under the notebook runner a report to its line): w2s imports them from here
from w2s.utils.progress import progress, progress_enabled  # noqa: F401


def set_seed(seed: int) -> None:
    """Seed python, numpy and torch (all devices)."""
    import numpy as np

    random.seed(seed)
    np.random.seed(seed % 2**32)
    try:
        import torch

        torch.manual_seed(seed)
    except ImportError:  # pragma: no cover
        pass


def setup_logging(level: str = "INFO") -> None:
    logging.basicConfig(level=getattr(logging, level.upper()), format="%(levelname)s %(name)s: %(message)s")


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
#
# Reproducibility (benchmarks/reproducibility.py): float sums are split across threads, so the same
# training on 1 and on 2 threads parts at its first step, and the math libraries pick other kernels on
# another CPU type (AVX-512 here, AVX2 there): the first loss differs by a few ulps and a short training
# ends in other weights. Load does not change results; the thread count and the kernels do. So w2s
# computes with a fixed number of threads on every machine (W2S_THREADS, default 1: the one count that
# every machine has; parallel work runs in processes, e.g. the grid's workers), and holds torch, oneDNN,
# MKL and OpenBLAS to their AVX2 code paths (W2S_CPU_ISA, default avx2; "native" lets them choose).

_late = False  # passive_openmp() ran after torch had loaded OpenMP: the spin policy stays
DEFAULT_THREADS = 1
# the variables each library reads when it loads, per W2S_CPU_ISA value (x86-64; ignored elsewhere)
ISA_ENV = {
    "avx2": {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_CBWR": "AVX2",
             "MKL_ENABLE_INSTRUCTIONS": "AVX2", "OPENBLAS_CORETYPE": "Haswell"},
    "native": {},
}  # fmt: skip
_THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


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


def default_threads() -> int:
    """W2S_THREADS if set (an integer >= 1), else 1."""
    raw = os.environ.get("W2S_THREADS", "").strip()
    if not raw:
        return DEFAULT_THREADS
    try:
        n = int(raw)
    except ValueError:
        n = 0
    if n < 1:
        raise ValueError(f"W2S_THREADS must be an integer >= 1, got {raw!r}")
    return n


def cpu_isa() -> str:
    """W2S_CPU_ISA: avx2 (default) or native."""
    isa = os.environ.get("W2S_CPU_ISA", "avx2").strip().lower() or "avx2"
    if isa not in ISA_ENV:
        raise ValueError(f"W2S_CPU_ISA must be one of {sorted(ISA_ENV)}, got {isa!r}")
    return isa


def reproducible_env() -> dict[str, str]:
    """The environment that fixes the thread count and the kernels, for this process's libraries and its
    children (notebook kernels, grid workers): what the user set is kept, the rest is w2s's defaults."""
    env = {k: os.environ.get(k, str(default_threads())) for k in _THREAD_VARS}
    env.update({k: os.environ.get(k, v) for k, v in ISA_ENV[cpu_isa()].items()})
    env["OMP_WAIT_POLICY"] = os.environ.get("OMP_WAIT_POLICY", "PASSIVE")
    return env


def check_compute_env() -> None:
    """ValueError naming the variable when W2S_THREADS or W2S_CPU_ISA is not a valid value."""
    default_threads()
    cpu_isa()


def pin_compute() -> None:
    """At ``import w2s``, before torch and numpy load: the fixed thread count and kernels in the environment
    (each library reads them when it loads; configure_threads() fixes the counts of one already loaded).
    An invalid W2S_THREADS / W2S_CPU_ISA pins nothing here; the first training (and the `w2s` command) stops
    on it with its message."""
    passive_openmp()
    try:
        os.environ.update(reproducible_env())
    except ValueError:
        pass


def _cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def configure_threads(threads: int | None = None) -> int:
    """Set torch's and the BLAS libraries' thread count (`threads`, else W2S_THREADS, else 1); returns it.

    The count changes the results in their last bits (and a training's weights), so it is the same on
    every machine unless the user sets it.
    """
    import torch
    from threadpoolctl import threadpool_limits

    n = threads or default_threads()
    if n != torch.get_num_threads():
        torch.set_num_threads(n)
    threadpool_limits(limits=n)  # numpy's and scipy's BLAS (sklearn's lbfgs, PCA), OpenMP of sklearn
    _warn_unpinned_kernels()
    return n


_warned = False


def _warn_unpinned_kernels() -> None:
    """Once per process: say so when a library loaded before ``import w2s`` and chose its own kernels."""
    global _warned
    if _warned or cpu_isa() == "native":
        return
    import torch
    from threadpoolctl import threadpool_info

    late = [f"torch ({torch.backends.cpu.get_cpu_capability()})"] if torch.backends.cpu.get_cpu_capability() not in (
        "AVX2", "DEFAULT") else []  # fmt: skip
    late += [f"{p['internal_api']} ({p.get('architecture')})" for p in threadpool_info()
             if p["internal_api"] == "openblas" and str(p.get("architecture")).lower() != "haswell"]  # fmt: skip
    if late:
        _warned = True
        logging.getLogger(__name__).warning(
            "%s loaded before `import w2s` and chose this CPU's own kernels: numbers may differ in their last bits "
            "from a run that imported w2s first (or set W2S_CPU_ISA=native everywhere)", ", ".join(late))


def cpu_model() -> str:
    """The CPU's model name (Linux's /proc/cpuinfo), else what the platform module knows."""
    try:
        return next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        import platform

        return platform.processor() or platform.machine()


def compute_record() -> dict:
    """What a result's numbers depend on besides its recipe: threads, kernels, library versions, CPU."""
    import numpy
    import torch

    return {"threads": int(torch.get_num_threads()), "cpu_isa": cpu_isa(), "kernels": str(torch.backends.cpu.get_cpu_capability()),
            "torch": str(torch.__version__), "numpy": str(numpy.__version__), "cpu": cpu_model()}  # fmt: skip
