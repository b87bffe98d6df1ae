"""Ceilings and floors of every metric, without training anything: what the corpus itself allows.

    b = bounds("data/corpus/synthtalk-default-seed0", split="test", condition=0)
    b["rows"]["protocol_floor"]["lve"], b["per_clip"]["counterfactual"]["homophone_lve"]
    bounds_rows(b)                         # a README / notebook table: LVE, homophone-LVE, minimal-pair accuracy
    print(describe())                      # what each row means, in plain words

Every row is a face per test clip scored against that clip's ground truth by the evaluator every host goes
through (:func:`w2s.evaluation.metrics.evaluate`: LVE, homophone-LVE, MVE, FDD, ...) and by minimal-pair
lip accuracy (:mod:`w2s.evaluation.minimal_pairs`, the truth's counterfactuals). The faces come from the
corpus's own rig (:func:`w2s.corpus.build.utterance_motion`, the builder's code path), so they need a corpus
built by w2s (its ``corpus.json`` records the speakers' heads and articulation styles).

How the hosts are conditioned decides the floor. A test speaker is unseen: a host gets that speaker's
template (its head) and the one-hot of *training identity k* (the grid uses k = 0). In the corpus a speaker's
motion is its head mesh and viseme rig (built from the head) driven by its phoneme timeline in its
articulation style (:class:`w2s.corpus.face.ArticulationStyle`: amplitude, jaw/lip balance, anticipation,
carry-over, co-articulation rate, brow gain, blinks, noise level). So "the test clip in identity k's style"
is the test speaker's head mesh and rig, the clip's *true* phoneme timeline and the clip's own motion seed
(the same blink and noise draws as the truth), with the style of training subject k (``splits.json``'s
training subjects, the one-hot order) in place of the speaker's own. On a seen-speaker corpus (BIWI-like:
the test clips are the training subjects' held-out sentences) ``condition`` still imposes identity k's style,
as ``evaluate_decoder(conditions=k)`` does; condition = the speaker's own index gives the own-style row there.

Rows (``ROWS``; :data:`MEANINGS` says the same in one line each):

* ``baseline``: template + mean training offset, a face that does not listen
  (:func:`w2s.evaluation.decoders.baseline`).
* ``own_style``: the rig re-rendering the truth (own style, true timeline, same seed). It reproduces the
  ground truth exactly (LVE 0, minimal-pair accuracy 1): the proof that the rendering path is the builder's.
* ``protocol_floor``: the true timeline in identity k's style. A host that knew every phoneme and imitated
  identity k perfectly would score this: the best a host can do under the protocol (an unseen speaker
  generated in identity k's style). It is an idealised floor, not a mathematical bound: a host that does
  not imitate k (e.g. one that averages the training styles) can land elsewhere, above or below it.
* ``counterfactual``: the truth with each pair word's distinguishing phoneme replaced by its partner's
  (*bad* -> *bed*, same timings, speaker, style and seed), everywhere else identical. Against the truth, its
  LVE and homophone-LVE are what saying the wrong word of every near-homophone pair costs: the most a
  perfect near-homophone decision can change (the ceiling of what Wav2Sem could fix). Its minimal-pair
  accuracy is 0 by construction (the truth's is 1). Its errors sit on the pair words' frames and their
  co-articulation neighbours only.
* ``protocol_floor_counterfactual``: the same wrong words in identity k's style. Under the protocol the
  disambiguation ceiling of a host is ``protocol_floor`` (right words) vs this row (wrong words).

Only clips whose pair word's phoneme is found in its alignment (``find_swaps``' ``phoneme_index >= 0``) get a
substitution; the others are their own counterfactual. Nothing is cached on disk: rendering a 40-clip
split takes seconds (``seconds`` in the result), and :func:`corpus_counterfactuals` keeps the truth's
counterfactuals for the process.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass

import numpy as np

from w2s.corpus.build import Preset, Speaker, speaker_head, speakers_from_meta, utterance_motion
from w2s.corpus.speech import PhonemeSegment
from w2s.data.corpus import Corpus
from w2s.data.files import parse_stem
from w2s.data.spec import DatasetError
from w2s.evaluation.decoders import baseline, pair_spans, per_clip_metrics
from w2s.evaluation.metrics import evaluate
from w2s.evaluation.minimal_pairs import (
    Counterfactual,
    corpus_counterfactuals,
    find_swaps,
    minimal_pair_accuracy,
    substitute,
)

ROWS = ("baseline", "own_style", "protocol_floor", "counterfactual", "protocol_floor_counterfactual")
RENDERED = ROWS[1:]  # the rows drawn by the rig (the baseline is decoders.baseline's)
MEANINGS = {
    "baseline": "template + mean training offset: a face that does not listen",
    "own_style": "the rig re-rendering the truth (own style, true phonemes, same seed): must be exact",
    "protocol_floor": "true phonemes in training identity k's style: the best a host can do under the protocol",
    "counterfactual": "the truth with every pair word swapped for its partner: what the wrong word costs",
    "protocol_floor_counterfactual": "the swapped words in identity k's style: a host saying the wrong words",
}


@dataclass
class Rendered:
    """The faces of `split` behind :func:`bounds`: ground truth and one prediction list per rendered row."""

    root: str
    split: str
    condition: int
    style_subject: str  # the training subject whose style is identity `condition`'s
    stems: list[str]
    gts: list[np.ndarray]  # (T, V, 3) float32 per clip
    templates: list[np.ndarray]  # (V, 3) per clip
    spans: list[list[tuple[float, float]]]  # near-pair word spans per clip (homophone-LVE)
    cfs: list[list[Counterfactual]]  # the truth's counterfactuals (minimal-pair accuracy)
    n_swapped: list[int]  # pair words substituted per clip in the counterfactual rows
    preds: dict[str, list[np.ndarray]]  # RENDERED row -> (T, V, 3) per clip
    lips: np.ndarray
    upper_face: np.ndarray
    fps: float
    seconds: float  # rendering time (the truth's counterfactuals included)


def _speakers(c: Corpus) -> tuple[Preset, dict[str, tuple[int, Speaker]]]:
    try:
        preset, speakers = speakers_from_meta(c.meta)
    except (KeyError, TypeError, ValueError) as e:
        raise DatasetError(f"{c.root / 'corpus.json'}: cannot rebuild its speakers ({e!r})") from e
    return preset, {s.subject: (i, s) for i, s in enumerate(speakers)}


def _condition(condition, train: list[str]) -> int:
    """`condition` checked as an index into the training subjects (the hosts' one-hot order)."""
    if not train:
        raise ValueError(
            "condition: the corpus has no training subjects, so no identity to take a style from"
        )
    if (
        isinstance(condition, bool)
        or not isinstance(condition, (int, np.integer))
        or not 0 <= condition < len(train)
    ):
        raise ValueError(f"condition must be a training identity index in 0..{len(train) - 1} "
                         f"({train[0]} .. {train[-1]}), got {condition!r}")  # fmt: skip
    return int(condition)


def render(root, split: str = "test", condition: int = 0) -> Rendered:
    """The ground truth of `split` and the rig's faces of :data:`RENDERED` (see the module docstring)."""
    t0 = time.perf_counter()
    if not Corpus.is_built(root):
        raise DatasetError(
            f"{root}: not a corpus built by `w2s corpus build`; bounds need its rig and speakers"
        )
    c = Corpus.open(root)
    preset, speakers = _speakers(c)
    train = c.spec.train_subjects
    k = _condition(condition, train)
    if train[k] not in speakers:
        raise DatasetError(f"{c.root / 'corpus.json'} has no speaker {train[k]!r} (training identity {k})")
    style_k = speakers[train[k]][1].style
    if c.spec.frame_stride != 1 or c.fps != preset.fps:
        raise DatasetError(f"{c.root}: vertices at {c.fps:g} fps (stride {c.spec.frame_stride}), but the rig "
                           f"renders at {preset.fps} fps")  # fmt: skip
    ds = c.dataset(split)
    stems = list(ds.stems)
    gts = [ds.load_vertices(i) for i in range(len(ds))]
    templates = [ds.templates[e.subject] for e in ds.entries]
    pairs = c.pairs("near")
    alignments = [c.alignments.get(s) for s in stems]
    spans = pair_spans(c.root, alignments)
    cfs = corpus_counterfactuals(c, stems, split)
    heads: dict = {}
    preds: dict[str, list[np.ndarray]] = {r: [] for r in RENDERED}
    n_swapped = []
    for stem, al, g in zip(stems, alignments, gts, strict=True):
        subject, sentence = parse_stem(stem)
        if subject not in speakers:
            raise DatasetError(f"{c.root / 'corpus.json'} has no speaker {subject!r} (utterance {stem})")
        if al is None:
            raise DatasetError(
                f"{c.root / 'alignments.json'} has no utterance {stem!r}; the rig needs its phonemes"
            )
        i, spk = speakers[subject]
        if subject not in heads:
            heads[subject] = speaker_head(spk, preset)  # the test speaker's head mesh and rig, in every row
        in_k = dataclasses.replace(spk, style=style_k)
        swapped = dict(al)
        swaps = [sw for sw in find_swaps(al, pairs) if sw.phoneme_index >= 0]
        for sw in swaps:
            swapped = {**swapped, "phonemes": substitute(swapped, sw)}
        n_swapped.append(len(swaps))
        for row, who, alignment in (("own_style", spk, al), ("protocol_floor", in_k, al),
                                    ("counterfactual", spk, swapped), ("protocol_floor_counterfactual", in_k, swapped)):  # fmt: skip
            # the clip's own speaker index and sentence: the truth's motion seed (blinks, noise) in every row
            segs = [PhonemeSegment(**p) for p in alignment["phonemes"]]
            face = utterance_motion(preset, c.seed, i, who, sentence, segs, len(g), heads[subject])
            preds[row].append(face)
    return Rendered(str(c.root), split, k, train[k], stems, gts, templates, spans, cfs, n_swapped, preds,
                    c.lips, c.upper_face, c.fps, time.perf_counter() - t0)  # fmt: skip


def _score(r: Rendered, preds: list[np.ndarray]) -> tuple[dict, dict, list[float]]:
    """(metrics as `evaluate` plus minimal-pair accuracy, per-clip metrics, per-word minimal-pair scores)."""
    m = evaluate(preds, r.gts, r.templates, r.lips, r.upper_face, r.spans, fps=r.fps)
    mp = minimal_pair_accuracy(preds, r.gts, r.cfs, r.lips)
    m.update(minimal_pair_accuracy=mp["accuracy"], minimal_pair_n_words=mp["n_words"])
    scores = [w["score"] for w in mp["words"] if w["excluded"] is None]
    return m, per_clip_metrics(preds, r.gts, r.lips, r.spans, r.fps), scores


def bounds(root, split: str = "test", condition: int = 0) -> dict:
    """Per row of :data:`ROWS`, the metrics of :func:`~w2s.evaluation.metrics.evaluate` (``lve``,
    ``homophone_lve``, ``mve``, ``fdd``, ...) and ``minimal_pair_accuracy`` on `split` of the corpus at `root`,
    with training identity `condition`'s style for the protocol rows (see the module docstring, or
    :func:`describe`).

    Returns a JSON-able dict: ``split``, ``condition``, ``style_subject``, ``n_clips``, ``rows`` {row:
    metrics}, ``stems``, ``per_clip`` {row: {"lve", "homophone_lve", "mve"}: one value per clip in ``stems``
    order, ``nan`` homophone-LVE where a clip says no pair word} and ``minimal_pair_scores`` {row: per-word
    scores} for paired statistics (the baseline row has neither: :func:`~w2s.evaluation.decoders.baseline`
    returns only its totals), ``n_swapped`` (pair words substituted per clip), ``meanings`` and ``seconds``.
    Raises ValueError for a `condition` that is not a training identity index."""
    r = render(root, split, condition)
    t0 = time.perf_counter()
    rows, per_clip, scores = {}, {}, {}
    for name in RENDERED:
        rows[name], per_clip[name], scores[name] = _score(r, r.preds[name])
    t1 = time.perf_counter()
    rows = {"baseline": baseline(root, split), **rows}
    t2 = time.perf_counter()
    return {"split": split, "condition": r.condition, "style_subject": r.style_subject, "n_clips": len(r.stems),
            "rows": rows, "stems": r.stems, "per_clip": per_clip, "minimal_pair_scores": scores,
            "n_swapped": r.n_swapped, "meanings": dict(MEANINGS),
            "seconds": {"render": round(r.seconds, 3), "score": round(t1 - t0, 3), "baseline": round(t2 - t1, 3),
                        "total": round(r.seconds + t2 - t0, 3)}}  # fmt: skip


def describe() -> str:
    """What each row of :func:`bounds` means, in plain words (one paragraph per row)."""
    return "\n".join([
        "Every row is a face per test clip, scored against the clip's ground truth like any host.",
        "baseline: the speaker's template plus the mean training offset, the same face at every frame: "
        "a face that does not listen.",
        "own_style: the corpus's rig re-rendering the truth from its phonemes, in the speaker's own style "
        "with the same random seed. It equals the ground truth exactly (LVE 0, minimal-pair accuracy 1), "
        "which shows the rendering path is the corpus builder's.",
        "protocol_floor: the true phonemes, the test speaker's head, the same seed, but the articulation "
        "style of training identity k (a test speaker is unseen; hosts are asked for identity k's style). "
        "A host that heard every phoneme right and imitated identity k perfectly scores this: the best a "
        "host can do under the protocol. Its LVE is the part of a host's error no model can remove.",
        "counterfactual: the truth with every near-homophone pair word swapped for its partner (bad -> bed: "
        "one phoneme replaced over the same time span), all else identical. Its LVE and homophone-LVE "
        "against the truth are what saying the wrong word costs: the most a perfect near-homophone decision "
        "can change, the ceiling of what Wav2Sem could fix. Minimal-pair accuracy 0 by construction.",
        "protocol_floor_counterfactual: the swapped words in identity k's style. Under the protocol, a host "
        "that gets every pair word right scores protocol_floor, one that gets them all wrong scores this "
        "row: the gap between the two is the disambiguation ceiling of a host.",
    ])  # fmt: skip


def _x1e5(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x) * 1e5


def bounds_rows(b: dict) -> list[dict]:
    """Table rows of :func:`bounds`' result (README / notebook): name, LVE ×1e-5, homophone-LVE ×1e-5,
    minimal-pair accuracy and the row's meaning in one line (numbers as floats, None where undefined)."""
    out = []
    for name in (n for n in ROWS if n in b["rows"]):
        m = b["rows"][name]
        acc = m.get("minimal_pair_accuracy")
        out.append({"name": name, "LVE ×1e-5": _x1e5(m.get("lve")),
                    "homophone-LVE ×1e-5": _x1e5(m.get("homophone_lve")),
                    "minimal-pair acc.": None if acc is None or not math.isfinite(acc) else float(acc),
                    "meaning": b.get("meanings", MEANINGS).get(name, "")})  # fmt: skip
    return out
