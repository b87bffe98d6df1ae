"""Evaluate a trained host decoder on a split: ``w2s decoder eval``.

    result = evaluate_decoder("runs/faceformer-none-0", split="test")
    result["metrics"]["lve"], result["baseline"]["lve"]

Conditioning (reference §5): a test speaker unseen in training has no style of its own, so, as
FaceFormer and CodeTalker do, each clip is generated once under *every* training identity and the
metrics are averaged over those conditions (``conditions="all"``); a seen speaker is conditioned on
itself. ``conditions=k`` uses training identity k only (faster).

Metrics: :func:`w2s.evaluation.metrics.evaluate` (LVE squared as in CodeTalker's script, its root in mm,
MVE, signed FDD, homophone-LVE inside the near-homophone pair words) and, on a corpus built by w2s,
minimal-pair lip accuracy (:mod:`w2s.evaluation.minimal_pairs`). Beside them, the
"template + mean training offset" baseline: every frame is the speaker's template plus the mean
displacement of all training frames, a face that does not listen.
"""

from __future__ import annotations

import inspect
import time
import typing
from pathlib import Path

import numpy as np
import torch

from w2s.data.corpus import Corpus
from w2s.data.faces import FaceDataset
from w2s.data.files import pair_word_spans
from w2s.decoders.base import DecoderError
from w2s.decoders.inputs import Clip, SemanticSource, collate, load_clips
from w2s.decoders.training import dataset_of, load_run, recipe_of
from w2s.encoders import load_encoder
from w2s.evaluation.lip_timing import lve_dtw, mtm
from w2s.evaluation.metrics import evaluate, homophone_lve, lve, mve
from w2s.evaluation.minimal_pairs import clip_counterfactuals, corpus_counterfactuals, minimal_pair_accuracy
from w2s.evaluation.sequences import lips_only
from w2s.nn.checkpoint import _fits, _hint_name


def pair_spans(root, alignments: list[dict | None]) -> list | None:
    """Per clip, the time spans of the near-homophone pair words it says (our corpus only)."""
    if not Corpus.is_built(root):
        return None
    words = Corpus.open(root).pair_words("near")
    return [pair_word_spans(a, words) if a else [] for a in alignments]


def _minimal_pairs(preds, gts, cfs, lips, words: list | None = None) -> dict:
    """``minimal_pair_accuracy`` (and its word count) for ``evaluate``'s dict; {} without counterfactuals.
    `words`: a list that gets this call's per-word records."""
    if cfs is None:
        return {}
    r = minimal_pair_accuracy(preds, gts, cfs, lips)
    if words is not None:
        words.append(r["words"])
    return {"minimal_pair_accuracy": r["accuracy"], "minimal_pair_n_words": r["n_words"]}


def _mean_words(runs: list[list[dict]]) -> list[dict]:
    """Per-word records of several conditions / samples: the first's, with the mean score and distances."""
    out = []
    for recs in zip(*runs, strict=True):
        r = dict(recs[0])
        for key in ("score", "d_true", "d_partner"):
            if r.get(key) is not None:
                r[key] = float(np.mean([x[key] for x in recs]))
        out.append(r)
    return out


def per_clip_metrics(preds, gts, lips, spans: list | None, fps: float, lip_gts: list | None = None) -> dict[str, list[float]]:
    """LVE, MVE, MTM (ms, ``nan`` where no lip extrema match), DTW-aligned LVE and homophone-LVE of each
    clip alone (``nan`` where a clip says no pair word): what a paired test compares, clip by clip.
    `lip_gts`: ``lips_only(gts, lips)[0]`` when the caller has it (the lip metrics read the lips alone)."""
    lp, lip = lips_only(preds, lips)
    lg = lip_gts if lip_gts is not None else lips_only(gts, lips)[0]
    out = {"lve": [lve([p], [g], lip) for p, g in zip(lp, lg, strict=True)],
           "mve": [mve([p], [g]) for p, g in zip(preds, gts, strict=True)],
           "mtm_ms": [mtm([p], [g], lip, fps) for p, g in zip(lp, lg, strict=True)],
           "lve_dtw": [lve_dtw([p], [g], lip, fps) for p, g in zip(lp, lg, strict=True)]}  # fmt: skip
    if spans is not None:
        out["homophone_lve"] = [homophone_lve([p], [g], lip, [s], fps) if s else float("nan")
                                for p, g, s in zip(lp, lg, spans, strict=True)]  # fmt: skip
    return out


def generate_clips(model, clips: list[Clip], subject: int | None = None, batch_size: int = 16, **kwargs) -> list[np.ndarray]:
    """Predicted vertices (T_i, V, 3) per clip, batched by similar length; `subject` overrides the identity."""
    order = sorted(range(len(clips)), key=lambda i: clips[i].n_frames)
    out: list[np.ndarray | None] = [None] * len(clips)
    model.eval()
    with torch.no_grad():
        for s in range(0, len(order), batch_size):
            idx = order[s : s + batch_size]
            verts = model.generate_batch(collate([clips[i] for i in idx], subject), **kwargs)  # (B, T, V, 3)
            for j, i in enumerate(idx):
                out[i] = verts[j, : clips[i].n_frames].numpy()
    return out


def baseline(root, split: str = "test", spec=None, train_root=None) -> dict:
    """Metrics of "template + mean training offset" on `split`; the offset from `train_root`'s training split
    (default `root`'s: another rendering of the same speakers, e.g. a test voice, has no training split)."""
    train = FaceDataset(train_root or root, "train", spec=spec)
    total, n = 0.0, 0
    for i, e in enumerate(train.entries):
        off = train.load_vertices(i) - train.templates[e.subject]  # (T, V, 3)
        total, n = total + off.sum(0, dtype=np.float64), n + len(off)
    mean_offset = (total / n).astype(np.float32)  # (V, 3)
    ds = FaceDataset(root, split, spec=spec)
    gts = [ds.load_vertices(i) for i in range(len(ds))]
    tmpl = [ds.templates[e.subject] for e in ds.entries]
    preds = [np.broadcast_to(t + mean_offset, g.shape) for t, g in zip(tmpl, gts, strict=True)]
    spans = pair_spans(root, [ds.alignments.get(e.stem) for e in ds.entries])
    cfs = corpus_counterfactuals(root, ds.stems, split) if Corpus.is_built(root) else None
    metrics = evaluate(preds, gts, tmpl, ds.lips, ds.upper_face, spans, fps=ds.fps)
    return {**metrics, **_minimal_pairs(preds, gts, cfs, ds.lips)}


def diversity(samples: list[list[np.ndarray]]) -> float:
    """Mean distance (the data's unit, e.g. m) between two samples of the same clip and condition: per clip,
    the mean over sample pairs of the mean per-vertex L2 distance over frames; then the mean over clips."""
    per_clip = []
    for preds in samples:  # (T, V, 3) per sample
        pairs = [np.linalg.norm(a - b, axis=-1).mean() for i, a in enumerate(preds) for b in preds[i + 1 :]]
        if pairs:
            per_clip.append(float(np.mean(pairs)))
    return float(np.mean(per_clip)) if per_clip else 0.0


def load_trained(folder) -> tuple:
    """(decoder, run record, F_p encoder, F_s source) of the decoder trained into `folder`: the encoder and
    semantic source are loaded as in training and checked to be the same ones (identities in the record)."""
    model, record = load_run(folder)
    recipe = recipe_of(record)
    train_root = Path(record["data"]["root"])
    encoder = load_encoder(recipe.encoder_name, corpus=train_root)  # the features it was trained on
    if encoder.identity != record["data"]["encoder"]:
        raise DecoderError(f"{folder}: trained on F_p of {record['data']['encoder']!r}, but {recipe.encoder_name!r} now "
                           f"loads {encoder.identity!r}; the features differ")  # fmt: skip
    sem = SemanticSource.from_name(recipe.semantic, train_root, recipe.wav2sem, recipe.text_model)
    if sem.identity != record["data"]["semantic"]:
        raise DecoderError(f"{folder}: trained with F_s from {record['data']['semantic']!r}, now {sem.identity!r}")
    return model, record, encoder, sem


def check_topology(model, ds: FaceDataset, dataset: int, folder) -> None:
    """The model's mesh (its head `dataset`'s vertex count) is the mesh of `ds`: checked before any encoding."""
    want = getattr(model.config, "vertices", (model.config.n_vertices,))[dataset]
    if ds.n_vertices != want:
        raise DecoderError(f"{folder}: the model makes meshes of {want:,} vertices, but the {ds.split!r} split of "
                           f"{ds.root} has {ds.n_vertices:,}; evaluate it on a dataset of its own mesh")  # fmt: skip


def conditions_of(model, ds: FaceDataset, dataset: int, conditions) -> list:
    """The training identities to condition on: ``"all"``: every one when `ds` has an unseen speaker, else
    each clip its own (``[None]``); an index k: identity k only (checked against the model's identities)."""
    n_train = getattr(model.config, "subjects", (model.config.n_subjects,))[dataset]
    if conditions == "all":
        return list(range(n_train)) if any(ds.subject_index(e.subject) < 0 for e in ds.entries) else [None]
    k = int(conditions)
    if not 0 <= k < n_train:
        raise DecoderError(f"--condition must be 'all' or a training identity in 0..{n_train - 1}, got {k}")
    return [k]


GENERATE_INPUTS = ("F_p", "template", "subject", "F_s", "mask")  # generate's inputs, not options


def generate_options(model, host: str, options: dict) -> dict:
    """`options` (``--generate NAME=VALUE``) checked against `model`'s generate: names it has, values of the
    types it annotates ("true" / "false" read as booleans); a DecoderError naming the option otherwise."""
    params = inspect.signature(model.generate).parameters
    names = [n for n, p in params.items() if n not in GENERATE_INPUTS and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)]
    unknown = sorted(set(options) - set(names))
    if unknown:
        raise DecoderError(f"{host}'s generate has no option {unknown}; its options: {names or 'none'}")
    hints, out = typing.get_type_hints(model.generate), {}
    for name, value in options.items():
        hint = hints.get(name, typing.Any)
        if isinstance(value, str) and value.lower() in ("true", "false") and _fits(True, hint):
            value = value.lower() == "true"
        if not _fits(value, hint):
            raise DecoderError(f"--generate {name}: {host}'s generate option {name!r} must be {_hint_name(hint)}, "
                               f"got {value!r}")  # fmt: skip
        out[name] = value
    return out


DEFAULT_SAMPLES = 5  # samples per clip for a host that samples (diffusion), so an effect is not sample noise


def evaluate_decoder(folder, root=None, split: str = "test", conditions="all", batch_size: int = 16,
                     with_baseline: bool = True, num_samples: int | None = None, keep: tuple | None = None,
                     **generate_kwargs) -> dict:  # fmt: skip
    """Metrics of the decoder trained into `folder` on `split` of `root` (default: the dataset it was trained on).

    A host that samples (``stochastic``) is generated `num_samples` times per clip and condition (sampling
    seeds 0..n-1): ``metrics`` are the means over samples, ``sample_std`` the standard deviation of the
    per-sample metrics, ``diversity`` the mean distance between two samples of a clip. `keep` = (condition,
    sample): that generation's predictions are returned too, under ``"predictions"`` (arrays, not JSON), when
    it is one of those made."""
    model, record, encoder, sem = load_trained(folder)
    recipe = recipe_of(record)
    root = Path(root or record["data"]["root"])
    k_data, spec = dataset_of(record, root)
    stochastic = bool(getattr(model, "stochastic", False))
    n_samples = int(num_samples or (DEFAULT_SAMPLES if stochastic else 1))
    if n_samples < 1 or (n_samples > 1 and not stochastic):
        raise DecoderError(f"--samples must be >= 1, and 1 for {recipe.host}, which does not sample; got {n_samples}")
    ds = FaceDataset(root, split, spec=spec)  # (file headers only) the checks before the clips are encoded:
    check_topology(model, ds, k_data, folder)
    conds = conditions_of(model, ds, k_data, conditions)
    generate_kwargs = generate_options(model, recipe.host, generate_kwargs)
    clips = load_clips(root, split, None if recipe.finetune_encoder else encoder, sem, spec, dataset=k_data)
    spans = pair_spans(root, [c.alignment for c in clips])
    gts, tmpl = [c.vertices.numpy() for c in clips], [c.template.numpy() for c in clips]
    cfs = clip_counterfactuals(root, clips)  # minimal-pair lip accuracy's counterfactuals, rendered once
    lip_gts, lip = lips_only(gts, ds.lips)  # the lip metrics' ground truth, converted once
    t0 = time.perf_counter()
    per, spread, words, clip_rows, kept = [], [], [], [], None
    for k in conds:
        samples = [[] for _ in clips]
        for s in range(n_samples):
            kw = {**generate_kwargs, "seed": s} if stochastic else generate_kwargs
            preds = generate_clips(model, clips, k, batch_size, **kw)
            if keep == (k, s):
                kept = preds
            lip_preds = lips_only(preds, ds.lips)[0]
            per.append({"condition": k, "sample": s, **evaluate(preds, gts, tmpl, ds.lips, ds.upper_face, spans, fps=ds.fps),
                        **_minimal_pairs(lip_preds, lip_gts, cfs, lip, words)})  # fmt: skip
            clip_rows.append(per_clip_metrics(preds, gts, ds.lips, spans, ds.fps, lip_gts))
            if n_samples > 1:
                for i, p in enumerate(preds):
                    samples[i].append(p)
        if n_samples > 1:
            spread.append(diversity(samples))
    seconds = time.perf_counter() - t0
    keys = [k for k, v in per[0].items() if isinstance(v, float)]
    metrics = {k: float(np.mean([p[k] for p in per])) for k in keys}
    metrics.update(n_frames=per[0]["n_frames"], n_sequences=per[0]["n_sequences"])
    if cfs is not None:
        metrics["minimal_pair_n_words"] = per[0]["minimal_pair_n_words"]
    by_sample = {k: [float(np.mean([p[k] for p in per if p["sample"] == s])) for s in range(n_samples)] for k in keys}
    audio_s = sum(c.n_frames for c in clips) / ds.fps
    out = {"host": recipe.host, "preset": recipe.preset, "semantic": recipe.semantic, "seed": recipe.seed,
           "split": split, "dataset": k_data, "conditions": conds, "generate_options": generate_kwargs,
           "num_samples": n_samples, "metrics": metrics, "per_condition": per,
           "sample_std": {k: float(np.std(v)) for k, v in by_sample.items()},
           "diversity": float(np.mean(spread)) if spread else None,
           "generate_seconds": round(seconds, 3), "real_time_factor": seconds / (audio_s * len(conds) * n_samples),
           "train_seconds": record.get("seconds", {}).get("train"),
           "per_clip": {"stem": [c.stem for c in clips],  # each clip's metrics, mean over conditions and samples
                        **{k: np.mean([r[k] for r in clip_rows], axis=0).tolist() for k in clip_rows[0]}}}  # fmt: skip
    if cfs is not None:  # per word: the score's mean over conditions and samples
        out["minimal_pair_words"] = _mean_words(words)
    if with_baseline:
        out["baseline"] = baseline(root, split, spec)
    if kept is not None:
        out["predictions"] = kept
    return out


def predict_clips(folder, stems: list[str], root=None, split: str = "test", subject: int | None = 0,
                  **generate_kwargs) -> tuple[list[np.ndarray], list[Clip]]:  # fmt: skip
    """The decoder in `folder`'s prediction (T, V, 3) of each clip `stems` of `split`, under training identity
    `subject` (an unseen speaker has no style of its own), and the clips (ground truth, audio, alignment)."""
    model, record, encoder, sem = load_trained(folder)
    root = Path(root or record["data"]["root"])
    k_data, spec = dataset_of(record, root)
    check_topology(model, FaceDataset(root, split, spec=spec), k_data, folder)
    clips = {c.stem: c for c in load_clips(root, split, None if recipe_of(record).finetune_encoder else encoder, sem,
                                             spec, dataset=k_data)}  # fmt: skip
    missing = [s for s in stems if s not in clips]
    if missing:
        raise DecoderError(f"{root}: no clip {missing[0]!r} in split {split!r}")
    chosen = [clips[s] for s in stems]
    if getattr(model, "stochastic", False):
        generate_kwargs.setdefault("seed", 0)
    return generate_clips(model, chosen, subject, **generate_kwargs), chosen
