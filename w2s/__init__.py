"""w2s: Wav2Sem as executable notebooks."""

from w2s.utils.runtime import pin_compute

__version__ = "0.1.0"

# before anything imports torch or numpy: OpenMP threads that wait sleep instead of spinning, so a busy
# 2-core machine slows training ~1.3x instead of ~3-5x (benchmarks/threads.py); and a fixed thread count
# and fixed kernels, so that the same seed gives the same weights on every machine (benchmarks/reproducibility.py)
pin_compute()
