"""The semantic side: text targets (sentence vectors), the Wav2Sem model, and its training; Wav2SemLocal (the
time-local stream, beyond the paper) and its training (``local_train``)."""

from w2s.semantic.targets import cached_embed, load_text_model
from w2s.semantic.wav2sem import Wav2Sem, Wav2SemConfig
from w2s.semantic.wav2sem_local import Wav2SemLocal, Wav2SemLocalConfig

__all__ = ["Wav2Sem", "Wav2SemConfig", "Wav2SemLocal", "Wav2SemLocalConfig", "cached_embed", "load_text_model"]
