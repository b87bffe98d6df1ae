"""The corpus presets: what each build of the embedded corpus holds (speakers, sentences, pairs, splits, mesh,
frame rate, the masking dial), as frozen dataclasses by name. `w2s.corpus.build` builds them.

    PRESETS["default"]   VOCASET-like: 8 training, 2 val, 2 test speakers x 40 sentences, 60 near pairs
    PRESETS["powered"]   issue 22's power protocol (w2s.corpus.power)
    PRESETS["biwi-like"] BIWI-like: another mesh, 25 fps, the seen-speaker protocol
    PRESETS["masked-*"]  the default corpus with the pair words' deciding phonemes masked (w2s.corpus.masking)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

from w2s.corpus import face, masking

FPS = 30  # the default preset's frame rate (Preset.fps)
SUBJECT_PREFIX = "SynthTalk"
# Preset fields of build version 3: always in corpus.json (later ones only where set, see Preset.to_json)
_V3_FIELDS = ("name", "n_sentences", "n_pairs", "n_control_pairs", "train_occurrences", "n_train", "n_val", "n_test")  # fmt: skip


@dataclass(frozen=True)
class Preset:
    name: str
    n_sentences: int  # per subject, numbered 1..n
    n_pairs: int  # near-homophone pairs the corpus covers
    n_control_pairs: int = 0  # pairs per control group (same viseme class; acoustically far)
    train_occurrences: int = 2  # training sentences per pair word (at least)
    n_train: int = 8
    n_val: int = 2  # unseen val / test subjects (VOCASET's protocol); 0 with the seen-speaker protocol
    n_test: int = 2
    # fields added after build version 3; their defaults are the VOCASET-like corpus's (see to_json)
    fps: int = FPS  # frame rate of vertices_npy
    head: tuple[int, int] = (face.N_COLS, face.N_ROWS)  # the head's grid (face.Topology): columns x rings
    subject_prefix: str = SUBJECT_PREFIX
    val_sentences: int = 0  # > 0: BIWI's seen-speaker protocol: the training subjects' last
    test_sentences: int = 0  # val_sentences + test_sentences sentences are held out for val / test
    stream: int = 0  # random stream of speakers, sentences and motion (0: the default corpus's)
    mask: str = "clean"  # the masking dial (corpus.masking.LEVELS): each pair word's deciding phoneme masked
    avoid: str | None = None  # a preset whose speakers' voices and sentences (same seed) this one avoids

    def __post_init__(self):
        if self.seen_speakers:
            if self.n_val or self.n_test:
                raise ValueError(f"preset {self.name}: the seen-speaker protocol (val_sentences, test_sentences) "
                                 f"has no separate val/test subjects; n_val and n_test must be 0")  # fmt: skip
            if (
                min(self.val_sentences, self.test_sentences) < 1
                or self.val_sentences + self.test_sentences >= self.n_sentences
            ):
                raise ValueError(f"preset {self.name}: val_sentences and test_sentences must be >= 1 and leave "
                                 f"training sentences out of {self.n_sentences}")  # fmt: skip
        if self.mask not in masking.LEVELS:
            raise ValueError(f"preset {self.name}: unknown mask {self.mask!r}; choose one of {', '.join(masking.LEVELS)}")
        if self.avoid == self.name:
            raise ValueError(f"preset {self.name} cannot avoid itself")

    @property
    def seen_speakers(self) -> bool:
        """BIWI's protocol (val/test: the training subjects on held-out sentences), else VOCASET's."""
        return self.val_sentences > 0 or self.test_sentences > 0

    @property
    def topology(self) -> face.Topology:
        return face.Topology(*self.head)

    @property
    def held_out_range(self) -> tuple[int, int]:
        """Sentences used for val/test subjects: the second half, as VOCASET's 21-40."""
        return self.n_sentences // 2 + 1, self.n_sentences

    def split_table(self, subjects: list[str]) -> dict[str, tuple[list[str], tuple[int, int]]]:
        """{split: (subjects, (first, last) sentence)} for train, val, test (in that order)."""
        n = self.n_sentences
        if self.seen_speakers:  # BIWI: 1-32 / 33-36 / 37-40 of the same subjects
            train = subjects[: self.n_train]
            t_hi = n - self.val_sentences - self.test_sentences
            return {"train": (train, (1, t_hi)), "val": (train, (t_hi + 1, n - self.test_sentences)),
                    "test": (train, (n - self.test_sentences + 1, n))}  # fmt: skip
        lo, hi = self.held_out_range  # VOCASET: every sentence / the second half of unseen subjects
        n_tr, n_va = self.n_train, self.n_val
        return {"train": (subjects[:n_tr], (1, n)), "val": (subjects[n_tr : n_tr + n_va], (lo, hi)),
                "test": (subjects[n_tr + n_va :], (lo, hi))}  # fmt: skip

    def to_json(self) -> dict:
        """corpus.json's "preset": every field of build version 3, the later ones only where they differ
        from their defaults, so the VOCASET-like presets' corpus.json is what version 3 wrote."""
        defaults = {f.name: f.default for f in fields(self)}
        return {k: v for k, v in asdict(self).items() if k in _V3_FIELDS or v != defaults[k]}


# A preset whose name starts with "smoke" is a seconds-long test variant (it gets the smoke recipes,
# e.g. w2s.encoders.tiny_hubert.config_for_corpus).
PRESETS = {
    "smoke": Preset("smoke", n_sentences=4, n_pairs=4, n_control_pairs=2, train_occurrences=2),
    "default": Preset("default", n_sentences=40, n_pairs=60, n_control_pairs=20, train_occurrences=2),
    # powered (issue 22's power protocol; make run's corpus): 30 pairs, each word in 12 training sentences
    # (720 of the 800 training clips: 2.4x the default's exposure per step, 6x its contexts); 4 + 4 unseen
    # subjects x 50 held-out sentences: 200 test pair-word tokens covering both words of every pair (corpus.power)
    "powered": Preset("powered", n_sentences=100, n_pairs=30, n_control_pairs=20, train_occurrences=12, n_val=4,
                      n_test=4),
    # BIWI-like: 6 subjects x 40 sentences (1-32 train, 33-36 val, 37-40 test), 25 fps, another mesh
    "biwi-like": Preset("biwi-like", n_sentences=40, n_pairs=36, n_control_pairs=6, n_train=6, n_val=0, n_test=0,
                        fps=25, head=(72, 56), subject_prefix="SynthBiwi", val_sentences=4, test_sentences=4,
                        stream=1, avoid="default"),
    "smoke-biwi-like": Preset("smoke-biwi-like", n_sentences=6, n_pairs=4, n_control_pairs=1, n_train=6, n_val=0,
                              n_test=0, fps=25, head=(72, 56), subject_prefix="SynthBiwi", val_sentences=1,
                              test_sentences=1, stream=1, avoid="smoke"),
}  # fmt: skip
# quick mode's corpus (make run QUICK=1): the default corpus's files under another name, so that what is trained
# on it gets quick mode's recipes, and cache keys of its own (w2s.encoders.tiny_hubert.config_for_corpus)
PRESETS["quick"] = replace(PRESETS["default"], name="quick")
# the masking dial (notebook 05): the default corpus's speakers, sentences and lips, with every near-pair
# word's deciding phoneme masked in the audio at one level (w2s.corpus.masking)
# (quick-masked-*: notebook 05 in quick mode; powered-masked-*: over the powered corpus). MASKED_FROM names
# each one's clean twin: the encoders that hear a masked corpus (tiny HuBERT, the recogniser) are those of its
# twin, as a pretrained model hears masked speech
MASKED_FROM = {f"{prefix}masked-{level}": base for level in ("10db", "0db", "full")
               for base, prefix in (("default", ""), ("smoke", "smoke-"), ("quick", "quick-"),
                                    ("powered", "powered-"))}  # fmt: skip
PRESETS |= {name: replace(PRESETS[base], name=name, mask=name.rsplit("-", 1)[1]) for name, base in MASKED_FROM.items()}


