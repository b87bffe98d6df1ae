"""w2s: Wav2Sem as executable notebooks."""
__version__ = "0.1.0"
