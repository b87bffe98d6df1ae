"""A near-homophone pair said by one corpus speaker: the audio nearly the same, the lips not.

    demo = compare_pair(pair, speaker, fps=30)   # pair: a pairs.json entry; speaker: a corpus.json speaker
    demo.lip_difference_mm                       # largest lip-vertex gap at the differing phoneme
    demo.a.aperture_mm, demo.times(demo.a)       # the lip-aperture curve of word a
    demo.side_by_side()                          # {word_a: (T, V, 3), word_b: (T, V, 3)}, cut to one length

Both words go into the same carrier sentence, with the speaker's voice, head shape and articulation
style, exactly as the corpus builder animates its sentences. Arrays only: the figures are in `w2s.viz`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from w2s.corpus import face, speech

CARRIER = "I said {} twice."


@dataclass(frozen=True)
class SpokenWord:
    word: str
    utterance: speech.Utterance  # the carrier sentence with this word
    vertices: np.ndarray  # (T, V, 3) float32 at the demo's fps
    aperture_mm: np.ndarray  # (T,) mean upper-lip y minus mean lower-lip y, in mm
    phoneme_frame: int  # the frame at the middle of the pair's differing phoneme


@dataclass(frozen=True)
class PairDemo:
    pair: dict
    mesh: face.HeadMesh
    fps: float
    a: SpokenWord
    b: SpokenWord

    @property
    def words(self) -> tuple[SpokenWord, SpokenWord]:
        return self.a, self.b

    def times(self, spoken: SpokenWord) -> np.ndarray:
        """Seconds of each frame of `spoken`."""
        return np.arange(len(spoken.vertices)) / self.fps

    @property
    def lip_difference_mm(self) -> float:
        """The largest distance (mm) between a lip vertex of word a and of word b, each at its differing phoneme."""
        lips = self.mesh.regions["lips"]
        va, vb = self.a.vertices[self.a.phoneme_frame, lips], self.b.vertices[self.b.phoneme_frame, lips]
        return float(np.linalg.norm(va - vb, axis=-1).max() * 1000)

    def side_by_side(self) -> dict[str, np.ndarray]:
        """Both sequences cut to the shorter, keyed by word (for `w2s.viz.animate_mesh`)."""
        n = min(len(self.a.vertices), len(self.b.vertices))
        return {w.word: w.vertices[:n] for w in self.words}


def speaker_head(speaker: Mapping) -> tuple[face.HeadMesh, face.VisemeRig, face.ArticulationStyle]:
    """The head mesh, viseme rig and articulation style of a corpus.json speaker entry."""
    mesh = face.make_head(face.FaceShape(**speaker["shape"]))
    return mesh, face.VisemeRig.from_head(mesh), face.ArticulationStyle(**speaker["style"])


def say_word(word: str, speaker: Mapping, head, position: int, fps: float = face.FPS, seed: int = 1,
             carrier: str = CARRIER) -> SpokenWord:  # fmt: skip
    """`word` in the carrier sentence, spoken and animated; `position`: index of the phoneme of interest in the word."""
    mesh, rig, style = head
    u = speech.synthesize(carrier.format(word), speaker["voice"], speaker["rate"], speaker["pitch"])
    n = face.n_frames_for(u.duration, fps)
    seq = face.animate(mesh, rig, u.phonemes, n, fps, style=style, seed=seed)
    up, lo = mesh.regions["upper_lip"], mesh.regions["lower_lip"]
    aperture = (seq[:, up, 1].mean(1) - seq[:, lo, 1].mean(1)) * 1000
    in_word = [p for p in u.phonemes if u.words[p.word_index].word == word]
    if not -len(in_word) <= position < len(in_word):
        raise ValueError(f"{word!r} has {len(in_word)} phonemes in {u.text!r}; no phoneme {position}")
    seg = in_word[position]
    return SpokenWord(word, u, seq, aperture, int((seg.start + seg.end) / 2 * fps))


def compare_pair(pair: Mapping, speaker: Mapping, fps: float = face.FPS, seed: int = 1,
                 carrier: str = CARRIER) -> PairDemo:  # fmt: skip
    """Both words of `pair` (a pairs.json entry) said by `speaker` (a corpus.json ``speakers`` entry)."""
    head = speaker_head(speaker)
    a, b = (say_word(pair[k], speaker, head, pair["position"], fps, seed, carrier) for k in ("word_a", "word_b"))
    return PairDemo(dict(pair), head[0], float(fps), a, b)
