"""w2s: Wav2Sem as executable notebooks."""

from w2s.utils.runtime import passive_openmp

__version__ = "0.1.0"

# before anything imports torch: OpenMP threads that wait sleep instead of spinning, so a busy 2-core
# machine slows training ~1.3x instead of ~3-5x (benchmarks/threads.py)
passive_openmp()
