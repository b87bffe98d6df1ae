"""How alike two phonemes *sound*, measured on our own synthesized speech.

Near-homophones are defined acoustically, not assumed: we speak a fixed word list with every voice,
cut the audio at espeak-ng's phoneme boundaries, describe each phoneme token by its mean log-mel
spectrum (40 bands, 25 ms windows, 10 ms hop; normalised per voice so timbre does not count), and
compare phonemes by

    d(a, b) = ‖μ_a − μ_b‖ / sqrt((s_a² + s_b²) / 2)

where μ is a phoneme's mean token vector and s² the mean squared distance of its tokens to μ. d < 1
means the two centroids sit closer together than a typical token sits to its own centroid: the two
phonemes overlap acoustically. The table is cached as JSON (an artifact kept under data/cache/) and
rebuilt when its parameters or the synthesizer change.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from importlib import metadata

import numpy as np

from w2s.corpus import speech
from w2s.corpus.visemes import viseme_of
from w2s.utils.io import write_json
from w2s.utils.paths import cache_dir

log = logging.getLogger(__name__)

_ALGORITHM = 2  # bump when the measurement changes. 2: zero-length phonemes (the dark /l/) are tokens too
# (speech.ENDING_SHARE, itself part of the key), and the vowels they were voiced in are shorter


@dataclass(frozen=True)
class MeasureConfig:
    n_words: int = 1200  # most frequent alphabetic English words (wordfreq), spoken in chunks
    words_per_utterance: int = 12
    voices: tuple[str, ...] = tuple(speech.VOICES)
    n_mels: int = 40
    min_tokens: int = 20  # phonemes with fewer tokens get no distances

    def key(self) -> str:
        versions = {p: metadata.version(p) for p in ("espeakng-loader", "librosa", "wordfreq")}
        blob = json.dumps({"cfg": asdict(self), "v": versions, "alg": _ALGORITHM, "ending": speech.ENDING_SHARE}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


@dataclass
class PhonemeDistances:
    phonemes: list[str]  # measured phonemes, sorted
    counts: dict[str, int]  # tokens per phoneme
    distance: np.ndarray  # (P, P) normalised centroid distance d(a, b)
    config: MeasureConfig = field(default_factory=MeasureConfig)

    def __call__(self, a: str, b: str) -> float:
        """d(a, b); KeyError if either phoneme was not measured (too rare in the word list)."""
        try:
            i, j = self.phonemes.index(a), self.phonemes.index(b)
        except ValueError:
            raise KeyError(f"no acoustic measurement for phoneme pair ({a!r}, {b!r})") from None
        return float(self.distance[i, j])

    def has(self, symbol: str) -> bool:
        return symbol in self.phonemes

    def to_json(self) -> dict:
        return {
            "description": "normalised centroid distance between phonemes, mean log-mel per token",
            "config": asdict(self.config),
            "phonemes": self.phonemes,
            "counts": self.counts,
            "distance": np.round(self.distance, 5).tolist(),
        }

    @classmethod
    def from_json(cls, obj: dict) -> PhonemeDistances:
        cfg = dict(obj["config"])
        cfg["voices"] = tuple(cfg["voices"])
        return cls(obj["phonemes"], obj["counts"], np.asarray(obj["distance"], float), MeasureConfig(**cfg))

    def closest(self, n: int = 20, *, different_viseme: bool = True) -> list[tuple[str, str, float]]:

        out = []
        for i, a in enumerate(self.phonemes):
            for j in range(i + 1, len(self.phonemes)):
                b = self.phonemes[j]
                if different_viseme and viseme_of(a) == viseme_of(b):
                    continue
                out.append((a, b, float(self.distance[i, j])))
        return sorted(out, key=lambda x: (x[2], x[0], x[1]))[:n]


def measurement_words(n: int) -> list[str]:
    from wordfreq import top_n_list

    words = [w for w in top_n_list("en", 4 * n) if w.isalpha() and w.isascii() and len(w) > 1]
    return words[:n]


def _token_features(utt: speech.Utterance, n_mels: int) -> list[tuple[str, np.ndarray]]:
    import librosa

    hop, win = 160, 400  # 10 ms, 25 ms at 16 kHz
    mel = librosa.feature.melspectrogram(
        y=utt.audio, sr=utt.sample_rate, n_fft=512, win_length=win, hop_length=hop, n_mels=n_mels, center=True
    )
    logmel = np.log(mel + 1e-8).T  # (frames, n_mels)
    out = []
    for p in utt.phonemes:
        a = int(round(p.start * utt.sample_rate / hop))
        b = max(a + 1, int(round(p.end * utt.sample_rate / hop)))
        out.append((p.symbol, logmel[a : min(b, len(logmel))].mean(0)))
    return [(s, f) for s, f in out if np.isfinite(f).all() and f.size]


def measure(config: MeasureConfig = MeasureConfig()) -> PhonemeDistances:
    """Synthesize the word list with every voice and measure phoneme distances (about 30 s)."""
    words = measurement_words(config.n_words)
    chunks = [
        " ".join(words[i : i + config.words_per_utterance]) + "."
        for i in range(0, len(words), config.words_per_utterance)
    ]
    tokens: dict[str, list[np.ndarray]] = {}
    for voice in config.voices:
        voice_tokens = []
        for text in chunks:
            voice_tokens += _token_features(speech.synthesize(text, voice), config.n_mels)
        feats = np.stack([f for _, f in voice_tokens])
        mu, sd = feats.mean(0), feats.std(0) + 1e-6  # per-voice normalisation: timbre out
        for (sym, _), f in zip(voice_tokens, (feats - mu) / sd):
            tokens.setdefault(sym, []).append(f)
    phonemes = sorted(s for s, t in tokens.items() if len(t) >= config.min_tokens)
    cents = np.stack([np.mean(tokens[s], 0) for s in phonemes])  # (P, D)
    spread2 = np.array([np.mean(np.sum((np.stack(tokens[s]) - c) ** 2, 1)) for s, c in zip(phonemes, cents)])
    diff = np.linalg.norm(cents[:, None] - cents[None], axis=-1)  # (P, P)
    dist = diff / np.sqrt((spread2[:, None] + spread2[None]) / 2)
    counts = {s: len(tokens[s]) for s in sorted(tokens)}
    log.info("measured %d phonemes from %d tokens", len(phonemes), sum(counts.values()))
    return PhonemeDistances(phonemes, counts, dist, config)


@lru_cache(maxsize=4)
def load_or_measure(config: MeasureConfig = MeasureConfig()) -> PhonemeDistances:
    """The cached table for `config` (data/cache/phoneme_distances-<key>.json), measured if missing."""
    path = cache_dir() / f"phoneme_distances-{config.key()}.json"
    if path.is_file():
        return PhonemeDistances.from_json(json.loads(path.read_text(encoding="utf-8")))
    saved = measure(config).to_json()
    write_json(path, saved)
    # what was saved, not the unrounded measurement: a fresh table and a cached one must give the same
    # pairs.json bytes (they differed in the 4th decimal of a pair distance)
    return PhonemeDistances.from_json(saved)
