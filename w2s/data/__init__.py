"""Reading data: audio, FaceFormer-layout face datasets (our corpus, VOCASET, BIWI), LibriSpeech."""

from w2s.data.audio import SAMPLE_RATE, AudioError, load_audio
from w2s.data.faces import BIWI, VOCASET, DatasetError, DatasetSpec, FaceDataset, collate, parse_stem

__all__ = [
    "BIWI", "SAMPLE_RATE", "VOCASET", "AudioError", "DatasetError", "DatasetSpec", "FaceDataset", "collate",
    "load_audio", "parse_stem",
]  # fmt: skip
