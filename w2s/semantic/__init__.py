"""The semantic side: text targets (sentence vectors), the Wav2Sem model, and its training."""

from w2s.semantic.targets import cached_embed, load_text_model
from w2s.semantic.wav2sem import Wav2Sem, Wav2SemConfig

__all__ = ["Wav2Sem", "Wav2SemConfig", "cached_embed", "load_text_model"]
