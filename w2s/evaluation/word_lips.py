"""One near-homophone word, one trained grid cell: the true, the predicted and the partner word's lips.

What notebook 04's explorer (:mod:`w2s.viz.explorer`) draws, as arrays. For a grid plan
(:class:`~w2s.evaluation.grid.GridPlan`), a cell (host, F_s source, seed) and one said pair word of the
plan's split:

    source = WordLipsSource(plan)
    source.words                                   # every scored pair word of the split (PairWord)
    w = source.lips("voca", "wav2sem", 0, 3)       # WordLips of the 4th word
    w.truth, w.prediction, w.partner, w.score      # (n, V, 3) over the word ± context; the metric's numbers
    w.audio                                        # the clip's wav file

The partner's lips are minimal-pair accuracy's counterfactual (:mod:`w2s.evaluation.minimal_pairs`: the
corpus rig's face of the same sentence with the partner word's phoneme, over the word's frames), the
prediction is the cell's model under the training identity the plan's use test generates in
(``plan.use_condition``; sampling seed 0 for a host that samples): the grid's own prediction when it
evaluates in one identity (``conditions="k"``, notebook 04's default), one of those it averages with
``conditions="all"``. ``score`` is the word's :func:`~w2s.evaluation.minimal_pairs.score`: the distances
behind its minimal-pair verdict. The last few models, clips and predictions are kept, so that a widget's
second look at a cell is instant.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from w2s.data.corpus import Corpus
from w2s.data.faces import FaceDataset
from w2s.decoders.base import DecoderError
from w2s.decoders.inputs import Clip, load_clips
from w2s.decoders.training import RUN_FILE, dataset_of, recipe_of
from w2s.evaluation.decoders import check_topology, generate_clips, load_trained
from w2s.evaluation.minimal_pairs import Counterfactual, corpus_counterfactuals, score

CONTEXT_S = 0.2  # seconds of the sentence shown on each side of the word
KEEP_MODELS, KEEP_CLIPS, KEEP_PREDICTIONS = 8, 2, 64  # kept for a second look (least recently used go first)


def _keep(store: OrderedDict, key, value=None, limit: int = KEEP_MODELS):
    """`store[key]`, set to `value` when given, marked as the most recently used; at most `limit` entries."""
    if value is not None:
        store[key] = value
        while len(store) > limit:
            store.popitem(last=False)
    store.move_to_end(key)
    return store[key]


@dataclass(frozen=True)
class PairWord:
    """One near-homophone pair word said in a clip of the split, scored by minimal-pair accuracy."""

    stem: str
    word: str  # as said ("bad")
    partner: str  # its near-homophone ("bed")
    start: float  # the word's span (s)
    end: float
    index: int  # which of the clip's said pair words (its counterfactual)

    @property
    def label(self) -> str:
        return f"{self.word} → {self.partner} · {self.stem} · {self.start:.2f} s"


@dataclass
class WordLips:
    """The lips of one cell over one pair word and `context` around it, in the data's unit (m)."""

    host: str
    semantic: str
    seed: int
    folder: Path  # the cell's trained model
    word: PairWord
    condition: int  # the training identity the prediction speaks in
    fps: float
    frames: np.ndarray  # (n,) the clip's frames shown: the word and its context
    word_frames: np.ndarray  # (m,) the word's frames (those minimal-pair accuracy compares)
    truth: np.ndarray  # (n, V, 3) the clip's ground truth at `frames`
    prediction: np.ndarray  # (n, V, 3) the cell's prediction at `frames`
    partner: np.ndarray  # (m, V, 3) the counterfactual at `word_frames`: the truth with the partner word's lips
    lips: np.ndarray  # lip vertex indices (the counterfactual differs from the truth there only)
    score: dict  # minimal_pairs.score of the word: d_true, d_partner, separation, score
    audio: Path  # the clip's wav

    @property
    def times(self) -> np.ndarray:
        return self.frames / self.fps

    @property
    def word_times(self) -> np.ndarray:
        return self.word_frames / self.fps

    def lip_distances(self) -> dict[str, np.ndarray]:
        """Per word frame, the prediction's mean lip-vertex distance (m) to the truth and to the partner:
        the terms whose means are ``score["d_true"]`` and ``score["d_partner"]``."""
        at = np.searchsorted(self.frames, self.word_frames)
        pred = self.prediction[at][:, self.lips]
        return {"truth": np.linalg.norm(pred - self.truth[at][:, self.lips], axis=-1).mean(1),
                "partner": np.linalg.norm(pred - self.partner[:, self.lips], axis=-1).mean(1)}  # fmt: skip


class WordLipsSource:
    """The pair words of `plan`'s split and, for any trained cell of the plan, their :class:`WordLips`."""

    def __init__(self, plan, context_s: float = CONTEXT_S):
        if not context_s >= 0:
            raise ValueError(f"context_s must be >= 0 seconds, got {context_s}")
        self.plan, self.context_s = plan, float(context_s)
        self.corpus = Corpus.open(plan.corpus_root)
        self._dataset = self.corpus.dataset(plan.split)
        self.stems = list(self._dataset.stems)
        # the same key as bounds() and the baseline: rendered once per process
        self._cfs = dict(zip(self.stems, corpus_counterfactuals(self.corpus, self.stems, plan.split), strict=True))
        self.words = [PairWord(stem, cf.swap.word, cf.swap.partner, cf.swap.start, cf.swap.end, k)
                      for stem in self.stems for k, cf in enumerate(self._cfs[stem]) if cf.excluded is None]  # fmt: skip
        if not self.words:
            raise DecoderError(f"{self.corpus.root}: split {plan.split!r} has no scored near-homophone pair word")
        self._models: OrderedDict[Path, tuple] = OrderedDict()
        self._clips: OrderedDict[tuple, dict[str, Clip]] = OrderedDict()
        self._preds: OrderedDict[tuple[Path, str], np.ndarray] = OrderedDict()

    def trained(self, host: str, semantic: str, seed: int) -> bool:
        """Whether the cell's model finished training (notebook 04's grid trains every cell)."""
        return (self.plan.folder(host, semantic, seed) / RUN_FILE).is_file()

    def word(self, word: PairWord | int) -> PairWord:
        if isinstance(word, PairWord):
            return word
        if not 0 <= int(word) < len(self.words):
            raise IndexError(f"word {word}: the split has {len(self.words)} scored pair words")
        return self.words[int(word)]

    def counterfactual(self, word: PairWord | int) -> Counterfactual:
        w = self.word(word)
        return self._cfs[w.stem][w.index]

    def _model(self, folder: Path) -> tuple:
        """(model, clips by stem) of a trained cell; clips are shared by cells with the same F_p and F_s. A few
        of each are kept (a split's clips hold every frame's vertices)."""
        if folder not in self._models:
            model, record, encoder, sem = load_trained(folder)
            recipe = recipe_of(record)
            k, spec = dataset_of(record, self.corpus.root)
            check_topology(model, FaceDataset(self.corpus.root, self.plan.split, spec=spec), k, folder)
            load = (None if recipe.finetune_encoder else encoder, sem, spec, k)
            _keep(self._models, folder, (model, (encoder.identity, sem.identity, recipe.finetune_encoder, k), load))
        model, key, (encoder, sem, spec, k) = _keep(self._models, folder)
        if key not in self._clips:
            clips = load_clips(self.corpus.root, self.plan.split, encoder, sem, spec, dataset=k)
            _keep(self._clips, key, {c.stem: c for c in clips}, KEEP_CLIPS)
        return model, _keep(self._clips, key)

    def prediction(self, host: str, semantic: str, seed: int, stem: str) -> np.ndarray:
        """The cell's prediction (T, V, 3) of clip `stem`, in identity ``plan.use_condition`` (sample 0)."""
        folder = self.plan.folder(host, semantic, seed)
        if not self.trained(host, semantic, seed):
            raise DecoderError(f"{folder}: not trained; run notebook 04's grid (or `w2s decoder train`) first")
        if (folder, stem) not in self._preds:
            model, clips = self._model(folder)
            kw = {"seed": 0} if getattr(model, "stochastic", False) else {}
            (pred,) = generate_clips(model, [clips[stem]], self.plan.use_condition, **kw)
            _keep(self._preds, (folder, stem), pred, KEEP_PREDICTIONS)
        return _keep(self._preds, (folder, stem))

    def lips(self, host: str, semantic: str, seed: int, word: PairWord | int) -> WordLips:
        """The truth, the prediction and the partner's lips of `word` in cell (host, semantic, seed)."""
        w = self.word(word)
        cf = self.counterfactual(w)
        pred = self.prediction(host, semantic, seed, w.stem)
        truth = self._dataset.load_vertices(self._dataset.stems.index(w.stem))
        n = min(len(pred), len(truth))
        word_frames = cf.frames[cf.frames < n]
        if not len(word_frames):
            raise DecoderError(f"{w.stem}: the prediction ends before the word {w.word!r}")
        pad = round(self.context_s * self.corpus.fps)
        frames = np.arange(max(0, int(word_frames[0]) - pad), min(n, int(word_frames[-1]) + 1 + pad))
        lips = np.asarray(self.corpus.lips, dtype=np.int64)
        partner = truth[word_frames].astype(np.float64)
        partner[:, lips] = cf.lips[: len(word_frames)]
        at = np.ix_(word_frames, lips)
        return WordLips(host, semantic, seed, self.plan.folder(host, semantic, seed), w, self.plan.use_condition,
                        self.corpus.fps, frames, word_frames, truth[frames], pred[frames], partner, lips,
                        score(pred[at], truth[at], cf.lips[: len(word_frames)]),
                        self.corpus.root / "wav" / f"{w.stem}.wav")  # fmt: skip
