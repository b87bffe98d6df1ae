"""Minimal-pair lip accuracy: did the lips tell *map* from *nap*?

For every near-homophone pair word said in a clip, the corpus rig renders the *counterfactual*: the
same sentence, timings, speaker and motion seed with the partner word's phoneme substituted
(*bad* -> *bed*: /æ/ -> /ɛ/ over the same span). A word counts as **right** when the predicted lips over
its span are closer to the true word's lips than to the counterfactual's:

    d(P, X) = mean over the word's frames t and the lip vertices v of ||P_t(v) - X_t(v)||_2   (un-squared)
    right  <=>  d(P, G) < d(P, C)          (G: ground truth, C: counterfactual)

A prediction exactly between the two (|d(P, G) - d(P, C)| <= ``TIE_RTOL`` x d(G, C)) counts **half**: it
cannot tell the words apart, and 0.5 is what a coin would score, so the expected score of "no
information" stays 0.5. The ground truth scores 1, the counterfactual 0, their average 0.5. The
accuracy is the mean score over the words (every word counts once, however long).

The counterfactual is the ground truth plus the rig's change: ``C = G + render(substituted) -
render(said)``. On our corpus ``render(said)`` reproduces ``G`` exactly (the builder's own code path,
:func:`w2s.corpus.build.utterance_motion`), so ``C`` is the builder's face for the substituted
timeline; on any dataset with alignments (phoneme segments with ``word_index``, and word spans) a
caller passes its own ``render(stem, phonemes, n_frames)``.

Frames: a frame t is in the word when ``t / fps`` lies in [start, end) (:func:`frames_in_spans`, the
rule of homophone-LVE); lips: the dataset's ``regions/lips.txt``, the vertices LVE is measured on.
A word is left out (recorded with the reason, not scored) when its spoken phonemes do not contain the
pair's phoneme, when no frame falls in its span, or when the substitution does not move its lips.

    cfs = corpus_counterfactuals(corpus, stems)                    # once per split, reused for every model
    result = minimal_pair_accuracy(preds, gts, cfs, corpus.lips)   # {"accuracy", "n_words", "words": [...]}
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from w2s.corpus.build import speaker_head, speakers_from_meta, utterance_motion
from w2s.corpus.masking import distinguishing_phoneme
from w2s.corpus.speech import PhonemeSegment
from w2s.data.corpus import Corpus
from w2s.data.files import normalise_word, parse_stem
from w2s.data.spec import DatasetError
from w2s.evaluation.metrics import frames_in_spans
from w2s.evaluation.sequences import _indices, _sequence

# a tie: the two distances differ by at most this fraction of the word-counterfactual distance
TIE_RTOL = 1e-4

Render = Callable[[str, list[dict], int], np.ndarray]  # (stem, phoneme segments, n_frames) -> (T, V, 3)


@dataclass(frozen=True)
class Swap:
    """One said pair word and the substitution that makes its partner."""

    word: str  # as said, normalised ("bad")
    partner: str  # "bed"
    word_index: int  # in the alignment's word list
    start: float  # the word's span (s)
    end: float
    phoneme_index: int  # index into the alignment's phoneme list of the substituted phoneme; -1: none found
    phoneme: str  # the said phoneme ("æ")
    partner_phoneme: str  # what replaces it ("ɛ")


@dataclass
class Counterfactual:
    """A said pair word with its counterfactual's lips over the word's frames."""

    stem: str
    swap: Swap
    frames: np.ndarray  # (F,) frame indices inside the word's span
    lips: np.ndarray | None  # (F, L, 3) float64: the counterfactual's lip vertices at those frames
    excluded: str | None = None  # why the word is not scored

    def record(self) -> dict:
        s = self.swap
        return {"stem": self.stem, "word": s.word, "partner": s.partner, "phoneme": s.phoneme,
                "partner_phoneme": s.partner_phoneme, "start": s.start, "end": s.end,
                "n_frames": int(len(self.frames)), "excluded": self.excluded}  # fmt: skip


def _partners(pairs: Sequence[dict]) -> dict[str, list[tuple[str, list[str], list[str], int]]]:
    """{word: [(partner, its phonemes, the partner's phonemes, substituted position)]} from pairs.json entries."""
    out: dict[str, list] = {}
    for i, p in enumerate(pairs):
        try:
            a, b = normalise_word(p["word_a"]), normalise_word(p["word_b"])
            pa, pb, pos = list(p["phonemes_a"]), list(p["phonemes_b"]), int(p["position"])
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(
                f"pair {i}: needs word_a, word_b, phonemes_a, phonemes_b and position ({e!r})"
            ) from e
        if len(pa) != len(pb) or not 0 <= pos < len(pa):
            raise ValueError(f"pair {i} ({a}/{b}): not one substitution at position {pos}: {pa} vs {pb}")
        out.setdefault(a, []).append((b, pa, pb, pos))
        out.setdefault(b, []).append((a, pb, pa, pos))
    return out


def find_swaps(alignment: dict, pairs: Sequence[dict]) -> list[Swap]:
    """The pair words said in `alignment` (one alignments.json entry), each with its substitution.

    The substituted phoneme is :func:`w2s.corpus.masking.distinguishing_phoneme` (the one the masking dial
    masks); a word whose pronunciation is not the pair's gets ``phoneme_index = -1``."""
    partners = _partners(pairs)
    phonemes = list(alignment.get("phonemes", []))
    swaps = []
    for wi, w in enumerate(alignment.get("words", [])):
        word = normalise_word(w.get("word", ""))
        for partner, own, other, pos in partners.get(word, []):
            start, end = float(w["start"]), float(w["end"])
            j = distinguishing_phoneme(phonemes, wi, own, pos, (start, end))
            swaps.append(Swap(word, partner, wi, start, end, j, own[pos], other[pos]))
    return swaps


def substitute(alignment: dict, swap: Swap) -> list[dict]:
    """The alignment's phoneme segments with the swap's phoneme replaced by the partner's (same timings)."""
    out = [dict(p) for p in alignment["phonemes"]]
    out[swap.phoneme_index]["symbol"] = swap.partner_phoneme
    return out


class CorpusRig:
    """``render(stem, phonemes, n_frames)`` for a corpus built by w2s: the builder's face of that
    utterance's speaker and motion seed, for any phoneme timeline."""

    def __init__(self, corpus):
        self.corpus = Corpus.open(corpus)
        try:
            self.preset, speakers = speakers_from_meta(self.corpus.meta)
        except (KeyError, TypeError, ValueError) as e:
            raise DatasetError(
                f"{self.corpus.root / 'corpus.json'}: cannot rebuild its speakers ({e!r})"
            ) from e
        self.speakers = {s.subject: (i, s) for i, s in enumerate(speakers)}
        self.seed = self.corpus.seed
        self._heads: dict = {}

    def __call__(self, stem: str, phonemes: list[dict], n_frames: int) -> np.ndarray:
        subject, sentence = parse_stem(stem)
        if subject not in self.speakers:
            raise DatasetError(
                f"{self.corpus.root / 'corpus.json'} has no speaker {subject!r} (utterance {stem})"
            )
        i, spk = self.speakers[subject]
        if subject not in self._heads:
            self._heads[subject] = speaker_head(spk, self.preset)
        segs = [PhonemeSegment(**p) for p in phonemes]
        return utterance_motion(
            self.preset, self.seed, i, spk, sentence, segs, n_frames, self._heads[subject]
        )


def counterfactuals(stems: Sequence[str], alignments: Sequence[dict | None], gts, pairs: Sequence[dict], lips,
                    fps: float, render: Render) -> list[list[Counterfactual]]:  # fmt: skip
    """Per clip, its said pair words with their counterfactual lips: ``G + render(substituted) - render(said)``
    over the word's frames. `gts`: the ground-truth sequences (T, V, 3) in `stems` order; `alignments`:
    their alignments.json entries (None: no words); `render`: e.g. :class:`CorpusRig`."""
    if not (len(stems) == len(alignments) == len(gts)):
        raise ValueError(
            f"{len(stems)} stems, {len(alignments)} alignments and {len(gts)} ground-truth sequences"
        )
    out = []
    for stem, al, g in zip(stems, alignments, gts, strict=True):
        g = _sequence(g, f"gts[{stem}]")
        lip = _indices(lips, g.shape[1], "lips")
        said_face, items = None, []
        for sw in find_swaps(al or {}, pairs):
            frames = np.flatnonzero(frames_in_spans(len(g), [(sw.start, sw.end)], fps))
            if sw.phoneme_index < 0:
                why = f"the said word has no /{sw.phoneme}/ (not the pair's pronunciation)"
                items.append(Counterfactual(stem, sw, frames, None, why))
                continue
            if not len(frames):
                items.append(Counterfactual(stem, sw, frames, None, "no frame inside the word's span"))
                continue
            if said_face is None:
                said_face = np.asarray(render(stem, al["phonemes"], len(g)), dtype=np.float64)
            other = np.asarray(render(stem, substitute(al, sw), len(g)), dtype=np.float64)
            sel = np.ix_(frames, lip)
            cf = g[sel] + (other[sel] - said_face[sel])  # (F, L, 3)
            sep = float(np.linalg.norm(cf - g[sel], axis=-1).mean())
            why = None if sep > 0 else "the substitution does not move the lips"
            items.append(Counterfactual(stem, sw, frames, cf, why))
        out.append(items)
    return out


_RENDERED: dict[tuple, list] = {}  # (corpus content hash, stems) -> counterfactuals: each split renders once
_KEEP = 8


def _once(c: Corpus, stems: list[str], make: Callable[[], list]) -> list[list[Counterfactual]]:
    """`make()`'s counterfactuals of `stems` of corpus `c`, kept for the process: the corpus's content hash
    fixes them (its files are the ground truth), and an evaluation grid asks for the same split many times."""
    key = (c.content_sha256, tuple(stems))
    if key not in _RENDERED:
        if len(_RENDERED) >= _KEEP:
            _RENDERED.pop(next(iter(_RENDERED)))
        _RENDERED[key] = make()
    return _RENDERED[key]


def corpus_counterfactuals(
    corpus, stems: Sequence[str] | None = None, split: str = "test"
) -> list[list[Counterfactual]]:
    """:func:`counterfactuals` for a corpus built by w2s: its vertex files, near-homophone pairs, alignments,
    lips, fps and rig. `stems`: utterances of `split` (default all of them). Rendered once per process."""
    c = Corpus.open(corpus)
    stems = list(stems) if stems is not None else c.stems(split)

    def make():
        ds = c.dataset(split)
        by_stem = {s: i for i, s in enumerate(ds.stems)}
        missing = [s for s in stems if s not in by_stem]
        if missing:
            raise DatasetError(f"{c.root}: no utterance {missing[0]!r} in split {split!r}")
        gts = [ds.load_vertices(by_stem[s]) for s in stems]
        return counterfactuals(stems, [c.alignments.get(s) for s in stems], gts, c.pairs("near"), c.lips, c.fps,
                               CorpusRig(c))  # fmt: skip

    return _once(c, stems, make)


def clip_counterfactuals(root, clips) -> list[list[Counterfactual]] | None:
    """:func:`corpus_counterfactuals` for decoder clips (:func:`w2s.decoders.inputs.load_clips`: stem,
    vertices, alignment); None for a folder that is not a corpus built by w2s (no rig to render with)."""
    if not Corpus.is_built(root):
        return None
    c = Corpus(root)
    stems = [x.stem for x in clips]
    return _once(c, stems, lambda: counterfactuals(stems, [x.alignment for x in clips], [x.vertices for x in clips],
                                                   c.pairs("near"), c.lips, c.fps, CorpusRig(c)))  # fmt: skip


def score(
    pred_lips: np.ndarray, true_lips: np.ndarray, cf_lips: np.ndarray, tie_rtol: float = TIE_RTOL
) -> dict:
    """One word: (F, L, 3) lips of the prediction, the truth and the counterfactual over the word's frames
    -> {"d_true", "d_partner", "separation", "score"} (score 1 right, 0 wrong, 0.5 tie)."""
    d_true = float(np.linalg.norm(pred_lips - true_lips, axis=-1).mean())
    d_partner = float(np.linalg.norm(pred_lips - cf_lips, axis=-1).mean())
    sep = float(np.linalg.norm(true_lips - cf_lips, axis=-1).mean())
    if abs(d_true - d_partner) <= tie_rtol * sep:
        s = 0.5
    else:
        s = 1.0 if d_true < d_partner else 0.0
    return {"d_true": d_true, "d_partner": d_partner, "separation": sep, "score": s}


def minimal_pair_accuracy(preds, gts, cfs: Sequence[Sequence[Counterfactual]], lips,
                          tie_rtol: float = TIE_RTOL) -> dict:  # fmt: skip
    """Minimal-pair lip accuracy of predictions against their ground truth and counterfactuals.

    preds, gts: one (T, V, 3) (or (T, V*3)) sequence per clip, in the order of `cfs` (a prediction is
    compared on the frames it has, as LVE's min-length rule); cfs: :func:`counterfactuals`' output.
    Returns ``accuracy`` (mean score over the scored words; nan when there are none), ``n_words``,
    ``n_ties``, ``n_excluded`` and ``words``: one record per said pair word (stem, word, partner,
    phonemes, span, frames, distances in the data's unit, score or the reason it is excluded)."""
    if not isinstance(preds, (list, tuple)) or not isinstance(gts, (list, tuple)):
        raise ValueError("preds and gts must be lists of sequences, one per clip")
    if not (len(preds) == len(gts) == len(cfs)):
        raise ValueError(f"{len(preds)} predicted sequences, {len(gts)} ground-truth sequences and "
                         f"{len(cfs)} counterfactual lists: one of each per clip")  # fmt: skip
    if not 0 <= tie_rtol < 1:
        raise ValueError(f"tie_rtol must be in [0, 1), got {tie_rtol}")
    records = []
    for k, (p, g, items) in enumerate(zip(preds, gts, cfs, strict=True)):
        if not items:
            continue
        p, g = _sequence(p, f"preds[{k}]"), _sequence(g, f"gts[{k}]")
        if p.shape[1] != g.shape[1]:
            raise ValueError(
                f"clip {k}: the prediction has {p.shape[1]} vertices, the ground truth {g.shape[1]}"
            )
        lip = _indices(lips, g.shape[1], "lips")
        n = min(len(p), len(g))
        for cf in items:
            rec = cf.record()
            keep = cf.frames < n
            if cf.excluded is None and not keep.any():
                rec["excluded"] = "the prediction ends before the word"
            if rec["excluded"] is None:
                fr = cf.frames[keep]
                if cf.lips is None or cf.lips.shape[:2] != (len(cf.frames), len(lip)):
                    raise ValueError(
                        f"clip {k} ({cf.stem}): counterfactual lips do not match its frames and lips"
                    )
                rec.update(score(p[np.ix_(fr, lip)], g[np.ix_(fr, lip)], cf.lips[keep], tie_rtol))
                rec["n_frames"] = int(len(fr))
            records.append(rec)
    scored = [r["score"] for r in records if r["excluded"] is None]
    return {"accuracy": float(np.mean(scored)) if scored else float("nan"), "n_words": len(scored),
            "n_ties": sum(s == 0.5 for s in scored), "n_excluded": len(records) - len(scored),
            "words": records}  # fmt: skip


def evaluate_minimal_pairs(corpus, preds, split: str = "test") -> dict:
    """Minimal-pair lip accuracy on `split` of a corpus built by w2s, `preds` in the split's order
    (:meth:`Corpus.stems`, as :class:`~w2s.data.faces.FaceDataset`)."""
    c = Corpus.open(corpus)
    ds = c.dataset(split)
    if len(preds) != len(ds):
        raise ValueError(f"{len(preds)} predicted sequences for the {len(ds)} utterances of split {split!r}")
    gts = [ds.load_vertices(i) for i in range(len(ds))]
    return minimal_pair_accuracy(list(preds), gts, corpus_counterfactuals(c, ds.stems, split), c.lips)
