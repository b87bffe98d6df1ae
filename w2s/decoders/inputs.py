"""What a host decoder reads, per utterance, computed once and cached: F_p at the face frame rate, F_s.

    enc = load_encoder(get("faceformer").offline_encoder, corpus=root)
    sem = SemanticSource.from_name("wav2sem", root, wav2sem="data/models/wav2sem-lite-.../model")
    clips = load_clips(root, "train", enc, sem)          # list[Clip]
    batch = collate(clips[:8])                            # a w2s.data.batch.Batch

F_p: the frozen encoder's frames (:mod:`w2s.encoders`, on-disk feature cache), resampled to exactly
the clip's vertex frames by FaceFormer's rule (:func:`w2s.encoders.align_to_fps`). F_s: one vector per
clip, from the frozen Wav2Sem on the clip's audio (cached on disk by the model's weights and the audio
bytes) or, for the oracle, the text embedding of the transcript (the semantic cache), or, for the positive
control ``oracle_word``, the code of the near-homophone word the clip says. Both are the same
for every epoch, seed and host that reads the same encoder, so they are computed once, not per epoch.

Time-local sources give one vector per vertex frame, F_s (T, C_s), from the corpus's alignments:
``oracle_text_local`` the text embedding of the word spoken at each frame (zero in pauses),
``oracle_viseme`` the one-hot viseme class of the phoneme spoken at each frame. Frame t is at time
t / fps (the rig's frame k is the face at k/fps) and lies in a timed segment when t / fps is in
[start, end): the rule of ``w2s.evaluation.metrics.frames_in_spans`` (:func:`frame_segments`).
``wav2sem_local`` predicts ``oracle_text_local``'s stream from the audio (a frozen Wav2SemLocal; it needs
no alignments), resampled to the vertex frames as F_p is.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from w2s.corpus.visemes import PHONEME_TO_VISEME, VISEME_CLASSES, UnknownPhonemeError, viseme_of
from w2s.data.batch import Batch, pad
from w2s.data.corpus import Corpus
from w2s.data.faces import FaceDataset
from w2s.data.files import normalise_word
from w2s.data.spec import DatasetSpec
from w2s.decoders.base import DecoderError
from w2s.encoders import Encoder, align_to_fps, audio_sha256, cached_encode, load_encoder
from w2s.fusion import SOURCES
from w2s.semantic.targets import cached_embed, load_text_model
from w2s.semantic.wav2sem import Wav2Sem
from w2s.semantic.wav2sem_local import Wav2SemLocal
from w2s.utils.cache import NpyCache
from w2s.utils.hashing import sha256_tensors
from w2s.utils.paths import cache_dir
from w2s.utils.runtime import progress

DEFAULT_TEXT_MODEL = "all-MiniLM-L6-v2"  # the sentence space of the offline default (notebook 02)


@dataclass
class Clip:
    """One utterance as a decoder reads it."""

    stem: str
    subject: str
    subject_index: int  # position in the training subjects (one-hot), -1 when unseen
    template: torch.Tensor  # (V, 3)
    vertices: torch.Tensor  # (T, V, 3)
    features: torch.Tensor | None  # F_p (T, C_p) at the face frame rate; None when the host encodes the audio
    F_s: torch.Tensor | None  # (C_s,), or (T, C_s) for a time-local source (one vector per vertex frame)
    fps: float
    transcript: str | None = None
    alignment: dict | None = None
    audio: torch.Tensor | None = None  # (N,) 16 kHz, kept for a host that trains its own encoder
    dataset: int = 0  # which of a multi-dataset host's datasets (heads) the clip belongs to

    @property
    def n_frames(self) -> int:
        return len(self.vertices)


def collate(clips: list[Clip], subject_index: int | None = None) -> Batch:
    """A padded Batch of clips; `subject_index` overrides every clip's conditioning identity."""
    if not clips:
        raise DecoderError("collate: no clips")
    if len({c.dataset for c in clips}) > 1:
        raise DecoderError(f"collate: clips of datasets {sorted({c.dataset for c in clips})} in one batch; a batch is one dataset")
    F_p, mask = pad([c.features for c in clips]) if clips[0].features is not None else (None, None)
    audio, audio_mask = pad([c.audio for c in clips]) if clips[0].audio is not None else (None, None)
    vertices, vertex_mask = pad([c.vertices for c in clips])
    subj = [c.subject_index if subject_index is None else subject_index for c in clips]
    F_s = None if clips[0].F_s is None else _collate_F_s(clips)
    return Batch(
        template=torch.stack([c.template for c in clips]), subject_index=torch.tensor(subj, dtype=torch.long),
        vertices=vertices, vertex_mask=vertex_mask, features=F_p, feature_mask=mask, F_s=F_s, fps=clips[0].fps,
        audio=audio, audio_mask=audio_mask, dataset=clips[0].dataset,
        stems=[c.stem for c in clips], subjects=[c.subject for c in clips],
        transcripts=[c.transcript for c in clips], alignments=[c.alignment for c in clips],
    )  # fmt: skip


def _collate_F_s(clips: list[Clip]) -> torch.Tensor:
    """(B, C_s) of utterance vectors, or (B, T_max, C_s) of per-frame ones, zero-padded like F_p."""
    kinds = {None if c.F_s is None else c.F_s.ndim for c in clips}
    if len(kinds) > 1 or not kinds <= {1, 2}:
        raise DecoderError(f"collate: every clip's F_s must be (C_s,) or every one (T, C_s); got {sorted(map(str, kinds))}-d")
    if kinds == {1}:
        return torch.stack([c.F_s for c in clips])  # (B, C_s)
    bad = [c.stem for c in clips if len(c.F_s) != c.n_frames]
    if bad:
        raise DecoderError(f"collate: a per-frame F_s needs one vector per vertex frame; not so for {bad[:3]}")
    return pad([c.F_s for c in clips])[0]  # (B, T_max, C_s)


# ---------------------------------------------------------------------------------------------
# F_s


class SemanticSource:
    """Where F_s comes from: ``none``, ``oracle_text`` (a text model on the transcript), ``wav2sem``
    (a frozen Wav2Sem on the audio), ``oracle_word`` (the positive control: a code of the pair word said),
    or a time-local source (``per_frame``: ``oracle_text_local``, ``oracle_viseme``). ``identity`` names it
    in a decoder's run record and in cache keys.

    ``vectors`` returns one (dim,) vector per clip (an (N, dim) array), or, for a ``per_frame`` source,
    one (n_frames_i, dim) array per clip; `n_frames` and `fps` give the clips' vertex frames."""

    name: str = "none"
    dim: int = 0
    identity: str = "none"
    per_frame: bool = False  # one vector per vertex frame (T, dim) instead of one per clip

    def vectors(self, clips_audio: list[np.ndarray], transcripts: list[str | None], stems: list[str],
                alignments: list[dict | None] | None = None, n_frames: list[int] | None = None,
                fps: float | None = None) -> np.ndarray | list[np.ndarray] | None:  # fmt: skip
        return None

    @staticmethod
    def from_name(name: str, corpus_root=None, wav2sem=None, text_model: str = DEFAULT_TEXT_MODEL) -> SemanticSource:
        if name == "none":
            return SemanticSource()
        if name == "oracle_text":
            return OracleText(text_model)
        if name == "wav2sem":
            if wav2sem is None:
                raise DecoderError("semantic source 'wav2sem' needs a trained Wav2Sem: pass its folder (--wav2sem)")
            return Wav2SemVectors(wav2sem, corpus_root)
        if name == "oracle_word":
            return OracleWord(corpus_root, load_text_model(text_model).dim)
        if name == "oracle_text_local":
            return OracleTextLocal(corpus_root, text_model)
        if name == "oracle_viseme":
            return OracleViseme(corpus_root)
        if name == "wav2sem_local":
            if wav2sem is None:
                raise DecoderError("semantic source 'wav2sem_local' needs a trained Wav2SemLocal: pass its folder "
                                   "(--wav2sem; w2s wav2sem train-local)")  # fmt: skip
            return Wav2SemLocalVectors(wav2sem, corpus_root)
        raise DecoderError(f"unknown semantic source {name!r}; choose one of {', '.join(SOURCES)}")


class OracleText(SemanticSource):
    """The paper's oracle ablation: the text embedding of the true transcript (BERT_c / BERT_m rows)."""

    name = "oracle_text"

    def __init__(self, text_model: str = DEFAULT_TEXT_MODEL):
        self.model = load_text_model(text_model)
        self.dim = self.model.dim
        self.identity = self.model.identity

    def vectors(self, clips_audio, transcripts, stems, alignments=None, n_frames=None, fps=None):
        missing = [s for s, t in zip(stems, transcripts) if not t]
        if missing:
            raise DecoderError(f"oracle_text needs a transcript for every clip; none for {missing[:3]} "
                               f"({len(missing)} in all): add transcripts.json to the dataset folder")  # fmt: skip
        return cached_embed(self.model, list(transcripts))


class OracleWord(SemanticSource):
    """The positive control: F_s = a fixed random unit code of the near-homophone pair word the clip says
    (the normalised sum when it says several), zero for a clip that says none. The same
    utterance-constant form and norm as a sentence vector, but it carries the answer. The codes depend
    only on the word (seeded by its SHA-256), so train and test clips share them."""

    name = "oracle_word"

    def __init__(self, corpus_root, dim: int):
        if corpus_root is None or not Corpus.is_built(corpus_root):
            raise DecoderError(f"oracle_word reads the pair words of a corpus built by w2s (pairs.json); {corpus_root} is not one")
        self.words = sorted({normalise_word(w) for w in Corpus.open(corpus_root).pair_words("near")})
        self.dim = dim
        self.identity = f"oracle_word:v1:{dim}:{hashlib.sha256(' '.join(self.words).encode()).hexdigest()[:16]}"

    def code(self, word: str) -> np.ndarray:
        """(dim,) unit vector of `word`, the same in every process."""
        rng = np.random.default_rng(int.from_bytes(hashlib.sha256(f"oracle_word:{word}".encode()).digest()[:8], "little"))
        v = rng.standard_normal(self.dim)
        return v / np.linalg.norm(v)

    def vectors(self, clips_audio, transcripts, stems, alignments=None, n_frames=None, fps=None):
        if alignments is None or any(a is None for a in alignments):
            missing = stems if alignments is None else [s for s, a in zip(stems, alignments) if a is None]
            raise DecoderError(f"oracle_word needs the word timings (alignments.json) of every clip; none for {missing[:3]}")
        known = set(self.words)
        out = np.zeros((len(stems), self.dim))
        for i, a in enumerate(alignments):
            said = [w for w in (normalise_word(x.get("word", "")) for x in a.get("words", [])) if w in known]
            if said:
                v = sum(self.code(w) for w in said)
                out[i] = v / np.linalg.norm(v)
        return out.astype(np.float32)


def frame_segments(n_frames: int, fps: float, spans) -> np.ndarray:
    """(n_frames,) int64: the index of the span (start_s, end_s) holding frame t, whose time t / fps lies in
    [start, end); -1 outside every span (a later span wins where two overlap). The rule of
    ``w2s.evaluation.metrics.frames_in_spans``, with the span's index instead of a bool."""
    t = np.arange(n_frames) / float(fps)  # (T,) frame k is the face at k / fps
    idx = np.full(n_frames, -1, dtype=np.int64)
    for j, (start, end) in enumerate(spans):
        idx[(t >= float(start)) & (t < float(end))] = j
    return idx


class FrameSource(SemanticSource):
    """A time-local source: one vector per vertex frame, from each clip's timed segments in the dataset's
    ``alignments.json`` (``key``: "words" or "phonemes"). Datasets without that file are refused."""

    per_frame = True
    key = "words"

    def __init__(self, corpus_root):
        if corpus_root is None:
            raise DecoderError(f"{self.name} reads the {self.key[:-1]} timings of a dataset's alignments.json: "
                               "give the dataset folder")  # fmt: skip
        path = Path(corpus_root) / "alignments.json"
        if not path.is_file():
            raise DecoderError(f"{self.name} reads the {self.key[:-1]} timings of alignments.json, and {path} does "
                               "not exist: it needs a dataset with alignments (a corpus built by w2s)")  # fmt: skip

    @property
    def pause(self) -> np.ndarray:
        """(dim,) float32: the vector of a frame outside every segment (zero by default)."""
        return np.zeros(self.dim, np.float32)

    def segments(self, stems, alignments, n_frames, fps) -> list[list[dict]]:
        """Each clip's timed segments, after checking that every clip has them and that frames are given."""
        if n_frames is None or fps is None or len(n_frames) != len(stems):
            raise DecoderError(f"{self.name} gives one vector per vertex frame: pass n_frames (one per clip) and fps")
        if alignments is None or any(a is None for a in alignments):
            missing = stems if alignments is None else [s for s, a in zip(stems, alignments) if a is None]
            raise DecoderError(f"{self.name} needs the {self.key[:-1]} timings (alignments.json) of every clip; none "
                               f"for {missing[:3]} ({len(missing)} in all)")  # fmt: skip
        return [a.get(self.key, []) for a in alignments]


class OracleTextLocal(FrameSource):
    """A time-local text oracle: frame t gets the text embedding (``oracle_text``'s sentence model) of the
    word spoken at t (its normalised form: "Thin," -> "thin"), zero in pauses and for a word with no letters."""

    name = "oracle_text_local"

    def __init__(self, corpus_root, text_model: str = DEFAULT_TEXT_MODEL):
        super().__init__(corpus_root)
        self.model = load_text_model(text_model)
        self.dim = self.model.dim
        self.identity = f"oracle_text_local:v1:{self.model.identity}"

    def vectors(self, clips_audio, transcripts, stems, alignments=None, n_frames=None, fps=None):
        segs = self.segments(stems, alignments, n_frames, fps)
        words = [[normalise_word(w.get("word", "")) for w in s] for s in segs]
        vocab = sorted({w for ws in words for w in ws if w})
        table = dict(zip(vocab, cached_embed(self.model, vocab))) if vocab else {}
        zero = np.zeros(self.dim, np.float32)
        out = []
        for ws, s, T in zip(words, segs, n_frames, strict=True):
            rows = np.stack([table.get(w, zero) for w in ws] + [zero]).astype(np.float32)  # (n_words + 1, dim)
            out.append(rows[frame_segments(T, fps, [(w["start"], w["end"]) for w in s])])  # -1: the zero row
        return out


class OracleViseme(FrameSource):
    """The frame-level phonetic oracle, a second positive control: frame t gets the one-hot viseme class
    (``w2s.corpus.visemes``, the classes the rig renders) of the phoneme spoken at t. A frame outside every
    phoneme gets the "silence" class, as the rig gives it its rest shape: the map has a silence class, so
    no frame is zero. dim = the number of classes (13)."""

    name = "oracle_viseme"
    key = "phonemes"
    dim = len(VISEME_CLASSES)

    def __init__(self, corpus_root):
        super().__init__(corpus_root)
        table = json.dumps([VISEME_CLASSES, sorted(PHONEME_TO_VISEME.items())], ensure_ascii=False)
        self.identity = f"oracle_viseme:v1:{self.dim}:{hashlib.sha256(table.encode()).hexdigest()[:16]}"

    @property
    def pause(self) -> np.ndarray:
        """The silence class, one-hot: what a frame outside every phoneme gets."""
        return np.eye(self.dim, dtype=np.float32)[VISEME_CLASSES.index("silence")]

    def vectors(self, clips_audio, transcripts, stems, alignments=None, n_frames=None, fps=None):
        eye = np.eye(self.dim, dtype=np.float32)
        silence = VISEME_CLASSES.index("silence")  # the row of self.pause
        out = []
        for stem, s, T in zip(stems, self.segments(stems, alignments, n_frames, fps), n_frames, strict=True):
            try:
                cls = np.array([VISEME_CLASSES.index(viseme_of(p["symbol"])) for p in s] + [silence])
            except UnknownPhonemeError as e:
                raise DecoderError(f"oracle_viseme: clip {stem!r} of alignments.json: {e}") from None
            out.append(eye[cls[frame_segments(T, fps, [(p["start"], p["end"]) for p in s])]])  # (T, dim); -1: silence
        return out


def wav2sem_folder(path) -> Path:
    """The model folder of a Wav2Sem: `path` itself (config.json inside) or its ``model/`` subfolder (a run)."""
    p = Path(path)
    for cand in (p, p / "model"):
        if (cand / "config.json").is_file():
            return cand
    raise DecoderError(f"{p}: not a Wav2Sem folder (no config.json in it or in {p / 'model'})")


class Wav2SemVectors(SemanticSource):
    """F_s = Wav2Sem(audio), frozen, one vector per clip; cached by (weights, audio bytes).

    A ``lite`` Wav2Sem reads its host encoder's frames: the encoder named in its run record
    (``wav2sem_run.json`` beside ``model/``), the tiny HuBERT of `corpus_root` by default."""

    name = "wav2sem"

    def __init__(self, folder, corpus_root=None):
        self.folder = wav2sem_folder(folder)
        self.model = Wav2Sem.from_pretrained(self.folder).eval()
        self.dim = self.model.config.target_dim
        self.identity = f"wav2sem:{sha256_tensors(self.model.state_dict())[:16]}"
        self.host = None
        if self.model.config.kind == "lite":
            run = self.folder.parent / "wav2sem_run.json"
            host = json.loads(run.read_text())["recipe"].get("host_encoder", "tiny-hubert") if run.is_file() else "tiny-hubert"
            self.host = load_encoder(host, corpus=corpus_root)
            if self.host.dim != self.model.config.input_dim:
                raise DecoderError(f"{self.folder}: this lite Wav2Sem reads {self.model.config.input_dim}-d frames, "
                                   f"its host encoder {host!r} gives {self.host.dim}-d")  # fmt: skip
            self.identity += f"|{self.host.identity}"
        self.cache = NpyCache(cache_dir("semantic_vectors"), "F_s cache")

    def vectors(self, clips_audio, transcripts, stems, alignments=None, n_frames=None, fps=None):
        keys = [hashlib.sha256(f"{self.identity}\0{audio_sha256(a)}".encode()).hexdigest() for a in clips_audio]
        out = [self.cache.load(k, (self.dim,)) for k in keys]
        todo = [i for i, v in enumerate(out) if v is None]
        if todo:
            inputs = [clips_audio[i] if self.host is None else cached_encode(self.host, clips_audio[i]) for i in todo]
            for i, v in zip(todo, self.model.predict(inputs), strict=True):
                self.cache.save(keys[i], v)
                out[i] = v
        return np.stack(out).astype(np.float32)


class Wav2SemLocalVectors(SemanticSource):
    """F_s (T, C_s) per clip = a frozen Wav2SemLocal on its host encoder's frames (the encoder named in the run
    record beside ``model/``, the tiny HuBERT of `corpus_root` by default), resampled to the clip's vertex
    frames as F_p is (:func:`w2s.encoders.align_to_fps`); the host-rate stream cached by (weights, audio bytes).
    Its pause vector is zero: the model's speech gate closes in silence (``pause_norm`` in
    benchmarks/wav2sem_local.py measures how far)."""

    name = "wav2sem_local"
    per_frame = True

    def __init__(self, folder, corpus_root=None):
        self.folder = wav2sem_folder(folder)
        self.model = Wav2SemLocal.from_pretrained(self.folder).eval()
        cfg = self.model.config
        self.dim = cfg.target_dim
        run = self.folder.parent / "wav2sem_run.json"
        host = json.loads(run.read_text()).get("recipe", {}).get("host_encoder", "tiny-hubert") if run.is_file() else "tiny-hubert"
        self.host = load_encoder(host, corpus=corpus_root)
        if self.host.dim != cfg.input_dim or abs(self.host.rate - cfg.frame_rate) > 1e-6:
            raise DecoderError(f"{self.folder}: this Wav2SemLocal reads {cfg.input_dim}-d frames at {cfg.frame_rate:g} Hz, "
                               f"its host encoder {host!r} gives {self.host.dim}-d at {self.host.rate:g} Hz")  # fmt: skip
        self.identity = f"wav2sem_local:{sha256_tensors(self.model.state_dict())[:16]}|{self.host.identity}"
        self.cache = NpyCache(cache_dir("semantic_vectors"), "F_s cache")

    @property
    def pause(self) -> np.ndarray:
        return np.zeros(self.dim, np.float32)

    def vectors(self, clips_audio, transcripts, stems, alignments=None, n_frames=None, fps=None):
        if n_frames is None or fps is None or len(n_frames) != len(stems):
            raise DecoderError("wav2sem_local gives one vector per vertex frame: pass n_frames (one per clip) and fps")
        feats = [cached_encode(self.host, a) for a in clips_audio]  # (T_a, C_p) each
        keys = [hashlib.sha256(f"{self.identity}\0{audio_sha256(a)}".encode()).hexdigest() for a in clips_audio]
        out = [self.cache.load(k, (len(f), self.dim)) for k, f in zip(keys, feats, strict=True)]
        todo = [i for i, v in enumerate(out) if v is None]
        for i, v in zip(todo, self.model.predict([feats[i] for i in todo]), strict=True):
            self.cache.save(keys[i], v)
            out[i] = v
        return [align_to_fps(v, self.host.rate, fps, T) for v, T in zip(out, n_frames, strict=True)]  # (T, C_s) each


# ---------------------------------------------------------------------------------------------
# clips


def load_clips(root, split: str, encoder: Encoder | None, semantic: SemanticSource, spec: DatasetSpec | None = None,
               dataset: int = 0) -> list[Clip]:  # fmt: skip
    """Every utterance of `split` with F_p (cached encoder frames at the face fps) and F_s; with
    ``encoder=None`` the audio instead of F_p (for a host that runs its own encoder). `dataset`: the
    clips' dataset index for a multi-dataset host."""
    ds = FaceDataset(root, split, spec=spec)
    clips, audios = [], []
    for i in progress(range(len(ds)), desc=f"{split}: encode"):
        e = ds.entries[i]
        audio = ds.load_audio(i)
        verts = torch.from_numpy(ds.load_vertices(i))  # (T, V, 3)
        F_p = None
        if encoder is not None:
            F_p = torch.from_numpy(align_to_fps(cached_encode(encoder, audio), encoder.rate, ds.fps, len(verts)))  # (T, C_p)
        clips.append(Clip(e.stem, e.subject, ds.subject_index(e.subject), torch.from_numpy(ds.templates[e.subject].copy()),
                          verts, F_p, None, ds.fps, ds.transcripts.get(e.stem), ds.alignments.get(e.stem),
                          torch.from_numpy(audio) if encoder is None else None, dataset))  # fmt: skip
        audios.append(audio)
    F_s = semantic.vectors(audios, [c.transcript for c in clips], [c.stem for c in clips], [c.alignment for c in clips],
                           n_frames=[c.n_frames for c in clips], fps=ds.fps)  # fmt: skip
    if F_s is not None:
        for c, v in zip(clips, F_s, strict=True):
            c.F_s = torch.from_numpy(np.ascontiguousarray(v))
    return clips
