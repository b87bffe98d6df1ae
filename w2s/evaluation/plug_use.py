"""Does a trained host use F_s at all? The use test and the plug's scale.

    use = use_test("data/models/decoders-x0.8/faceformer-oracle_word-seed0")
    use["swap"]["homophone_change"], use["scale"]["after"]["ratio"]
    noise = seed_change(["…/faceformer-none-seed0", "…/faceformer-none-seed1", …])   # the noise scale

**Use test.** The test clips are generated three times by the same trained model, identity 0's style and
sampling seed 0, changing only F_s: its own F_s, **another clip's** F_s (the next clip in the split whose
F_s differs), and the **mean** F_s of the split. The change of the lips is measured like LVE between two
predictions (pooled mean over frames of the largest squared lip-vertex distance), over the frames of the
near-homophone pair words (``homophone_change``) and over all frames (``change``). A host that ignores F_s
changes nothing; its size is read against the **noise scale**: the same measure between the predictions of
two ``none`` models of the host trained with different seeds (``seed_change``): how much the lips move when
nothing but the training seed changes. With the swapped F_s, minimal-pair accuracy is scored too: a host that
reads the pair word from F_s (the ``oracle_word`` control) falls towards 0.5 or below with another clip's code;
``minimal_pair_gain`` is own minus another's, with a 95 % interval over clips (``code_gain``).

**Scale.** ``||W_s F_s − mean_c W_s F_s|| / mean_t ||F_p,t||`` per clip (the clip-varying part of the
semantic term against the audio frame it is added to), its median over the split's clips, for the
trained plug (``after``) and for the same plug at initialisation (``before``: the host rebuilt with its
seed, as training built it).

**Time-local sources** (F_s (T, C_s) per clip, ``oracle_text_local``, ``oracle_viseme``). Another clip's
*stream* is fitted to the clip's own length: cropped when longer, and when shorter extended with the
source's pause frame (``pause``: what a frame outside every word or phoneme gets, zero for
``oracle_text_local``, the silence class for ``oracle_viseme``, never a value the source does not take).
The next clip whose fitted stream differs is taken. The mean F_s is the mean frame vector over every frame of the split, on every frame.
The scale is over frames: per clip ``mean_t ||W_s F_s,t − m|| / mean_t ||F_p,t||``, m the mean of
``W_s F_s,t`` over the split's frames.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from w2s.data.faces import FaceDataset
from w2s.decoders.inputs import Clip, collate, load_clips
from w2s.decoders.training import dataset_of, recipe_of
from w2s.evaluation.decoders import generate_clips, load_trained, pair_spans
from w2s.evaluation.metrics import homophone_lve, lve
from w2s.evaluation.minimal_pairs import clip_counterfactuals, minimal_pair_accuracy
from w2s.evaluation.sequences import lips_only
from w2s.evaluation.stats import crossed_interval
from w2s.utils.runtime import set_seed


def _predict(model, clips: list[Clip], condition: int | None) -> list[np.ndarray]:
    kw = {"seed": 0} if getattr(model, "stochastic", False) else {}
    return generate_clips(model, clips, condition, **kw)


def lip_change(a: list[np.ndarray], b: list[np.ndarray], lips, spans: list | None, fps: float) -> dict:
    """How far two predictions of the same clips differ: LVE's measure between them, over all frames and over
    the pair words' frames (nan without spans)."""
    out = {"change": lve(a, b, lips)}
    out["homophone_change"] = homophone_lve(a, b, lips, spans, fps) if spans is not None else float("nan")
    return out


def fit_stream(F_s: torch.Tensor, n_frames: int, pause: torch.Tensor | None = None) -> torch.Tensor:
    """Another clip's F_s for a clip of `n_frames`: a (C_s,) vector as it is; a (T, C_s) stream cropped to
    `n_frames`, or extended with `pause` (C_s,) frames (zeros when None; module docstring)."""
    if F_s.ndim == 1:
        return F_s
    if len(F_s) >= n_frames:
        return F_s[:n_frames]
    fill = F_s.new_zeros(F_s.shape[-1]) if pause is None else pause.to(F_s)
    return torch.cat([F_s, fill.expand(n_frames - len(F_s), -1)])  # (n_frames, C_s)


def _swap_order(F_s: list[torch.Tensor], pause: torch.Tensor | None = None) -> list[int]:
    """For each clip, the next clip (cyclically) whose F_s (fitted to the clip's length) differs from its own;
    itself when all are equal."""
    n, out = len(F_s), []
    for i in range(n):
        j = next((k % n for k in range(i + 1, i + n)
                  if not torch.equal(fit_stream(F_s[k % n], len(F_s[i]), pause), F_s[i])), i)  # fmt: skip
        out.append(j)
    return out


@torch.no_grad()
def plug_scale(model, clips: list[Clip]) -> dict:
    """The clip-varying part of the semantic term against F_p (see the module docstring)."""
    fusion = model.fusion
    if fusion.W_s is None:
        return {}
    rows = [c.F_s.reshape(-1, c.F_s.shape[-1]) for c in clips]  # (1, C_s) per clip, or (T_i, C_s) per frame
    term = fusion.semantic_term(torch.cat(rows))  # (N or sum T_i, C_p), one pass
    centre = term.mean(0)  # (C_p,): the split's mean clip vector, or mean frame vector
    dist = (term - centre).norm(dim=-1)
    varying = torch.stack([d.mean() for d in dist.split([len(r) for r in rows])])  # (N,): per clip, over its frames
    if clips[0].features is not None:
        F_p_norm = torch.stack([c.features.norm(dim=-1).mean() for c in clips])
    else:  # a host that runs its own encoder
        F_p_norm = torch.stack([model.features(collate([c]))[0][0].norm(dim=-1).mean() for c in clips])
    ratio = (varying / F_p_norm).numpy()
    return {"ratio": float(np.median(ratio)), "ratio_mean": float(ratio.mean()),
            "semantic_varying_norm": float(varying.median()), "F_p_norm": float(F_p_norm.median()),
            "semantic_mean_norm": float(centre.norm())}  # fmt: skip


def _initial(model, seed: int):
    """The host as training built it before the first step (same seed, same config), with the trained plug's
    standardisation statistics (they are fitted, not trained)."""
    set_seed(seed)
    init = type(model)(model.config)
    if model.fusion.standardizes:
        init.fusion.F_s_mean.copy_(model.fusion.F_s_mean)
        init.fusion.F_s_gain.copy_(model.fusion.F_s_gain)
    return init.eval()


def use_test(folder, split: str = "test", condition: int | None = 0, own: list[np.ndarray] | None = None) -> dict:
    """The use test and the plug's scale of the plugged decoder trained into `folder` (module docstring).
    `own`: the predictions with the clips' own F_s under `condition` (sampling seed 0), when the caller has
    them (``evaluate_decoder(keep=(condition, 0))``): they are not generated again."""
    model, record, encoder, sem = load_trained(folder)
    recipe = recipe_of(record)
    if recipe.semantic == "none":
        raise ValueError(f"{folder}: a none decoder has no F_s to swap; use seed_change for the noise scale")
    root = Path(record["data"]["root"])
    k_data, spec = dataset_of(record, root)
    clips = load_clips(root, split, None if recipe.finetune_encoder else encoder, sem, spec, dataset=k_data)
    ds = FaceDataset(root, split, spec=spec)
    spans = pair_spans(root, [c.alignment for c in clips])
    F_s = [c.F_s for c in clips]  # (C_s,) each, or (T_i, C_s) for a time-local source
    pause = torch.from_numpy(sem.pause) if getattr(sem, "per_frame", False) else None  # a stream's filler
    order = _swap_order(F_s, pause)
    mean = torch.cat([f.reshape(-1, f.shape[-1]) for f in F_s]).mean(0)  # the mean clip vector, or frame vector
    if own is None:
        own = _predict(model, clips, condition)
    elif len(own) != len(clips) or any(len(p) != c.n_frames for p, c in zip(own, clips, strict=True)):
        raise ValueError(f"use_test: `own` holds {len(own)} predictions, not one per clip of {split!r} ({len(clips)})")
    swapped = _predict(model, [replace(c, F_s=fit_stream(F_s[j], c.n_frames, pause))
                               for c, j in zip(clips, order, strict=True)], condition)  # fmt: skip
    meaned = _predict(model, [replace(c, F_s=mean if c.F_s.ndim == 1 else mean.expand(c.n_frames, -1)) for c in clips],
                      condition)  # fmt: skip
    # every measure here reads the lips alone: converted and checked once
    (own, lip), swapped, meaned = lips_only(own, ds.lips), lips_only(swapped, ds.lips)[0], lips_only(meaned, ds.lips)[0]
    gts = lips_only([c.vertices for c in clips], ds.lips)[0]
    out = {"split": split, "condition": condition, "n_clips": len(clips),
           "n_swapped": int(sum(j != i for i, j in enumerate(order))),
           "swap": lip_change(own, swapped, lip, spans, ds.fps),
           "mean": lip_change(own, meaned, lip, spans, ds.fps),
           "scale": {"after": plug_scale(model, clips), "before": plug_scale(_initial(model, recipe.seed), clips)}}  # fmt: skip
    cfs = clip_counterfactuals(root, clips)
    if cfs is not None:
        scored = {name: minimal_pair_accuracy(preds, gts, cfs, lip)
                  for name, preds in (("own", own), ("swap", swapped), ("mean", meaned))}  # fmt: skip
        out["minimal_pair_accuracy"] = {name: r["accuracy"] for name, r in scored.items()}
        out["minimal_pair_gain"] = code_gain(scored["own"]["words"], scored["swap"]["words"])
    return out


def code_gain(own_words: list[dict], swap_words: list[dict], alpha: float = 0.05) -> dict:
    """Minimal-pair accuracy with the clip's own F_s minus with another clip's, with a (1−alpha) interval over
    clips (the unit: a clip's words share its F_s), from ``minimal_pair_accuracy``'s per-word records of the
    same words. A host that reads the pair word from F_s has an interval above 0."""
    per_clip: dict[str, list[float]] = {}
    for a, b in zip(own_words, swap_words, strict=True):
        if a.get("excluded") is None and b.get("excluded") is None:
            per_clip.setdefault(a["stem"], []).append(a["score"] - b["score"])
    d = [float(np.mean(v)) for v in per_clip.values()]
    r = crossed_interval([d], [[0.0] * len(d)], alpha)
    return {"mean": r["mean_difference"], "ci_low": r["ci_low"], "ci_high": r["ci_high"],
            "n_clips": len(d), "n_words": sum(len(v) for v in per_clip.values())}  # fmt: skip


def seed_change(folders: list, split: str = "test", condition: int | None = 0) -> dict:
    """The noise scale: ``lip_change`` between the predictions of decoders that differ only by their training
    seed (every pair of `folders`), and its mean over pairs."""
    preds, lips, spans, fps = [], None, None, None
    for f in folders:
        model, record, encoder, sem = load_trained(f)
        recipe = recipe_of(record)
        root = Path(record["data"]["root"])
        k_data, spec = dataset_of(record, root)
        clips = load_clips(
            root, split, None if recipe.finetune_encoder else encoder, sem, spec, dataset=k_data
        )
        if lips is None:
            ds = FaceDataset(root, split, spec=spec)
            lips, fps, spans = ds.lips, ds.fps, pair_spans(root, [c.alignment for c in clips])
        lip_preds, lip = lips_only(_predict(model, clips, condition), lips)  # what lip_change reads
        preds.append(lip_preds)
    pairs = [
        lip_change(preds[i], preds[j], lip, spans, fps)
        for i in range(len(preds))
        for j in range(i + 1, len(preds))
    ]
    if not pairs:
        raise ValueError("seed_change needs at least two decoders")
    return {"n_pairs": len(pairs), "split": split, "condition": condition,
            **{k: float(np.mean([p[k] for p in pairs])) for k in pairs[0]}}  # fmt: skip
