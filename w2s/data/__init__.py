"""Reading data: audio, FaceFormer-layout face datasets (our corpus, VOCASET, BIWI), LibriSpeech."""

from w2s.data.audio import SAMPLE_RATE, AudioError, load_audio
from w2s.data.batch import Batch, BatchError, pad
from w2s.data.corpus import Corpus, CorpusStats
from w2s.data.faces import FaceDataset, collate
from w2s.data.files import parse_stem
from w2s.data.spec import BIWI, VOCASET, DatasetError, DatasetSpec

__all__ = [
    "BIWI", "SAMPLE_RATE", "Corpus", "CorpusStats", "Batch", "BatchError", "pad", "VOCASET", "AudioError", "DatasetError", "DatasetSpec", "FaceDataset", "collate",
    "load_audio", "parse_stem",
]  # fmt: skip
