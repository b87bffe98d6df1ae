"""A tiny HuBERT's pretraining without labels: HuBERT's first-iteration recipe, small (the config, the
k-means targets, span masking, the crops and the loop). :mod:`w2s.encoders.tiny_hubert` keeps the pretrained
models: their folders, keyed by corpus and recipe, and the recipe each corpus gets.

1. Targets: 39-d MFCC (13 + delta + delta-delta) at 50 Hz, framed exactly like the model's CNN
   (:func:`w2s.encoders.base.mfcc_features`), clustered with k-means (K = 100). Each CNN frame's target
   is the cluster id of its MFCC frame.
2. Model: ``transformers.HubertModel`` with a small config (same CNN kernels/strides as
   hubert-base, so 50 Hz) and a linear head to K logits.
3. Masked prediction: spans of 10 frames start at each frame with probability 0.08 (about half the
   frames end up masked); the masked frames' CNN features are replaced by the model's learned mask
   embedding (``mask_time_indices``); cross-entropy ``L = a L_masked + (1 - a) L_unmasked``.

Departures from the paper, for size: no second iteration (k-means on HuBERT features); a linear
head instead of cosine similarity to code embeddings; the MFCCs are standardised per dimension
before k-means (else c0, the loudness, dominates the distances); crops of 2 s; a = 0.5 instead of
1. With a = 1 and ~900 steps the masked loss hardly leaves chance level (ln 100 = 4.6): the CNN gets
no useful signal until the context model works. The unmasked term bootstraps it (HuBERT's own
ablation trains 400k steps). ``history["loss"]`` is always the masked loss.

Training runs on the one loop (:func:`w2s.train.fit`): batches of B utterances in a seeded epoch
permutation, each cropped at random; resumable exactly from a checkpoint. Default corpus (320
training utterances), 2 CPU cores: 900 steps in about 8-9 min (0.55-0.6 s a step, one thread); masked
loss 4.75 -> 3.47 and masked accuracy 16 % over the last 50 steps (chance 1 %). Quick mode
(:func:`quick_config`, the ``quick`` corpus) trains the same model for :data:`QUICK_STEPS` steps.

The result is saved with ``save_pretrained`` (+ a ``Wav2Vec2FeatureExtractor``), so
``load_encoder(folder)`` reads it exactly like a hub checkpoint.
"""

from __future__ import annotations

import hashlib
import logging
import math
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from w2s.data.audio import SAMPLE_RATE
from w2s.data.augment import PRESETS as AUGMENT_PRESETS
from w2s.data.augment import augment, draw_speed, source_samples
from w2s.encoders.base import conv_frames, receptive_field
from w2s.encoders.mfcc import MFCC_HOP, mfcc_features
from w2s.train import TrainConfig, fit, lr_lambda
from w2s.utils.io import building_dir, write_json
from w2s.utils.runtime import quiet_hf, set_seed

log = logging.getLogger(__name__)

PRETRAIN_VERSION = 2  # bump when the recipe changes; cached models of another version are retrained


@dataclass(frozen=True)
class TinyHubertConfig:
    # model: transformers.HubertConfig fields
    conv_dim: tuple[int, ...] = (96,) * 7
    conv_kernel: tuple[int, ...] = (10, 3, 3, 3, 3, 2, 2)  # hubert-base's: 400-sample field
    conv_stride: tuple[int, ...] = (5, 2, 2, 2, 2, 2, 2)  # 320 samples per frame -> 50 Hz
    hidden_size: int = 256
    num_hidden_layers: int = 4
    num_attention_heads: int = 4
    intermediate_size: int = 1024
    num_conv_pos_embeddings: int = 32  # positional conv kernel (hubert-base: 128)
    num_conv_pos_embedding_groups: int = 8
    stable_layer_norm: bool = False  # pre-LN blocks + layer-norm CNN (hubert-large); False: post-LN (hubert-base)
    # targets
    n_clusters: int = 100
    kmeans_max_frames: int = 100_000  # frames sampled to fit k-means (all are labelled)
    kmeans_standardize: bool = True
    kmeans_cmvn: bool = False  # issue 26: each utterance's MFCCs to zero mean, unit variance before k-means
    # masking
    mask_prob: float = 0.08  # probability that a frame starts a masked span
    mask_length: int = 10
    alpha: float = 0.5  # weight of the masked frames' loss; 1 - alpha on the unmasked (HuBERT: 1)
    # optimisation
    steps: int = 900
    batch_size: int = 8
    crop_seconds: float = 2.0  # a batch is cropped to min(this, its shortest utterance)
    lr: float = 5e-4
    warmup_steps: int = 90
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    # issue 26: perturb each crop (w2s.data.augment.PRESETS; targets stay the clean audio's clusters, so the
    # model must give a perturbed voice the clean one's codes); "none" is the original recipe
    augment: str = "none"

    def __post_init__(self):
        if self.augment not in AUGMENT_PRESETS:
            raise ValueError(f"augment must be one of {sorted(AUGMENT_PRESETS)}, got {self.augment!r}")
        if len(self.conv_dim) != len(self.conv_kernel) or len(self.conv_kernel) != len(self.conv_stride):
            raise ValueError("conv_dim, conv_kernel and conv_stride need the same length")
        if math.prod(self.conv_stride) != MFCC_HOP or receptive_field(self.conv_kernel, self.conv_stride) != 400:
            raise ValueError("the CNN must hop 320 samples over a 400-sample field, to line up with the MFCC targets")
        if self.hidden_size % self.num_attention_heads:
            raise ValueError("hidden_size must be divisible by num_attention_heads")

    def hubert_config(self):
        """The ``transformers.HubertConfig`` of the model."""
        from transformers import HubertConfig

        return HubertConfig(
            conv_dim=list(self.conv_dim), conv_kernel=list(self.conv_kernel), conv_stride=list(self.conv_stride),
            hidden_size=self.hidden_size, num_hidden_layers=self.num_hidden_layers,
            num_attention_heads=self.num_attention_heads, intermediate_size=self.intermediate_size,
            num_conv_pos_embeddings=self.num_conv_pos_embeddings,
            num_conv_pos_embedding_groups=self.num_conv_pos_embedding_groups,
            feat_extract_norm="layer" if self.stable_layer_norm else "group", do_stable_layer_norm=self.stable_layer_norm,
            hidden_dropout=0.0, attention_dropout=0.0, activation_dropout=0.0, feat_proj_dropout=0.0, final_dropout=0.0,
            layerdrop=0.0,  # no layers skipped when a host fine-tunes it in train mode
            mask_time_prob=0.05,  # what HF's SpecAugment uses in train mode downstream (hub default)
            mask_time_length=self.mask_length,
        )  # fmt: skip


def feature_extractor():
    """What every w2s HuBERT folder ships: 16 kHz, per-utterance zero mean / unit variance."""
    from transformers import Wav2Vec2FeatureExtractor

    return Wav2Vec2FeatureExtractor(
        feature_size=1, sampling_rate=SAMPLE_RATE, padding_value=0.0, do_normalize=True, return_attention_mask=False
    )


def _normalise(x: np.ndarray) -> np.ndarray:
    return (x - x.mean()) / np.sqrt(x.var() + 1e-7)  # as Wav2Vec2FeatureExtractor(do_normalize=True)


# ---------------------------------------------------------------------------------------------
# targets


def kmeans_labels(
    wavs: list[np.ndarray], n_clusters: int = 100, seed: int = 0, max_frames: int = 100_000, standardize: bool = True,
    cmvn: bool = False,
) -> tuple[list[np.ndarray], dict]:
    """K-means cluster ids of the MFCC frames of every wav: a list of (T_i,) int64, and info.

    T_i = ``conv_frames(len(wav_i))``: one label per CNN frame. `cmvn`: each utterance's MFCCs are first
    brought to zero mean and unit variance (cepstral mean and variance normalisation), which removes a
    voice's or a channel's constant spectral envelope from what the clusters can tell apart.
    """
    from sklearn.cluster import MiniBatchKMeans

    t0 = time.perf_counter()
    feats = [mfcc_features(w) for w in wavs]  # (T_i, 39) each
    if cmvn:
        feats = [(f - f.mean(0)) / (f.std(0) + 1e-5) for f in feats]
    allf = np.concatenate(feats)  # (sum T, 39)
    mean, std = allf.mean(0), allf.std(0) + 1e-5
    if not standardize:
        mean, std = np.zeros_like(mean), np.ones_like(std)
    rng = np.random.default_rng(seed)
    fit = allf if len(allf) <= max_frames else allf[rng.choice(len(allf), max_frames, replace=False)]
    if len(fit) < n_clusters:
        raise ValueError(f"k-means: {len(fit)} MFCC frames for {n_clusters} clusters; give more audio")
    km = MiniBatchKMeans(
        n_clusters=n_clusters, batch_size=10_000, n_init=3, max_iter=100, random_state=seed, reassignment_ratio=0.0
    )
    km.fit((fit - mean) / std)
    labels = [km.predict((f - mean) / std).astype(np.int64) for f in feats]
    counts = np.bincount(np.concatenate(labels), minlength=n_clusters)
    p = counts[counts > 0] / counts.sum()
    info = {"n_clusters": n_clusters, "n_frames": int(len(allf)), "n_frames_fit": int(len(fit)),
            "inertia_per_frame": float(km.inertia_ / len(fit)), "used_clusters": int((counts > 0).sum()),
            "label_perplexity": float(np.exp(-(p * np.log(p)).sum())),  # effective number of clusters
            "standardize": standardize, "cmvn": cmvn, "fit_s": round(time.perf_counter() - t0, 2)}  # fmt: skip
    info["_model"] = {"centers": km.cluster_centers_.astype(np.float32), "mean": mean, "std": std}
    return labels, info


def _given_targets(wavs: list[np.ndarray], targets: list[np.ndarray], config: TinyHubertConfig) -> tuple[list, dict]:
    """`targets` checked against the wavs' CNN frames and the head's size; k-means's info in its place."""
    if len(targets) != len(wavs):
        raise ValueError(f"{len(targets)} target arrays for {len(wavs)} wavs")
    labels = [np.asarray(t, np.int64) for t in targets]
    for i, (w, t) in enumerate(zip(wavs, labels)):
        n = conv_frames(len(w), config.conv_kernel, config.conv_stride)
        if t.shape != (n,) or t.min() < 0 or t.max() >= config.n_clusters:
            raise ValueError(f"targets[{i}]: want {n} class ids in [0, {config.n_clusters}), got shape {t.shape}")
    counts = np.bincount(np.concatenate(labels), minlength=config.n_clusters)
    p = counts[counts > 0] / counts.sum()
    info = {"targets": "given", "n_clusters": config.n_clusters, "n_frames": int(counts.sum()),
            "used_clusters": int((counts > 0).sum()), "label_perplexity": float(np.exp(-(p * np.log(p)).sum())),
            "fit_s": 0.0, "_model": {"counts": counts}}  # fmt: skip
    return labels, info


def span_mask(batch: int, length: int, prob: float, span: int, rng: np.random.Generator) -> np.ndarray:
    """HuBERT / wav2vec2 span masking, (batch, length) bool: each frame in [0, length - span] starts
    a span of `span` frames with probability `prob`; at least one span per row."""
    last = max(length - span, 0)  # last allowed start
    starts = rng.random((batch, length)) < prob
    starts[:, last + 1 :] = False
    for b in np.flatnonzero(~starts.any(1)):
        starts[b, rng.integers(0, last + 1)] = True
    mask = np.zeros((batch, length), bool)
    for k in range(min(span, length)):
        mask[:, k:] |= starts[:, : length - k]
    return mask


# ---------------------------------------------------------------------------------------------
# pretraining, on the one training loop (w2s.train.fit)


class CropBatches:
    """The collate of pretraining: utterance indices -> (wav crops (B, N), labels (B, T), span mask (B, T)).

    The crops of a batch share one length (the CNN's group norm takes no padding mask): T frames,
    min(crop_seconds, the batch's shortest utterance), each at a random frame offset. Random numbers
    come from a Generator seeded from numpy's global RNG, which `fit` checkpoints: a resumed run
    draws the same crops and masks.
    """

    def __init__(self, wavs: list[np.ndarray], labels: list[np.ndarray], config: TinyHubertConfig):
        self.wavs, self.labels, self.config = wavs, labels, config
        self.n_frames = np.array([len(lab) for lab in labels])
        self.min_len = receptive_field(config.conv_kernel, config.conv_stride)
        self.crop_frames = conv_frames(int(config.crop_seconds * SAMPLE_RATE), config.conv_kernel, config.conv_stride)

    def __call__(self, idx: list[int]):
        rng = np.random.default_rng(np.random.randint(2**31))
        t = int(min(self.crop_frames, self.n_frames[idx].min()))  # frames per crop
        n = (t - 1) * MFCC_HOP + self.min_len  # samples giving exactly t frames
        x = np.zeros((len(idx), n), np.float32)  # (B, N)
        y = np.zeros((len(idx), t), np.int64)  # (B, T)
        aug = AUGMENT_PRESETS[self.config.augment]
        for b, i in enumerate(idx):
            if not aug.active:  # the original recipe, draw for draw
                s = int(rng.integers(0, self.n_frames[i] - t + 1))  # first frame; sample offset 320 s keeps the alignment
                x[b] = _normalise(self.wavs[i][s * MFCC_HOP : s * MFCC_HOP + n])
                y[b] = self.labels[i][s : s + t]
                continue
            a = min(draw_speed(aug, rng), (self.n_frames[i] - 1) / max(t - 1, 1))  # the source must hold the crop
            src = np.minimum(np.round(np.arange(t) * a).astype(np.int64), self.n_frames[i] - 1)  # (T,) source frames
            s = int(rng.integers(0, self.n_frames[i] - src[-1]))
            clean = self.wavs[i][s * MFCC_HOP : s * MFCC_HOP + source_samples(n, a)]
            x[b] = _normalise(augment(clean, aug, rng, factor=a, n=n))
            y[b] = self.labels[i][s + src]  # the clean audio's clusters, at the frames the perturbed crop plays
        mask = span_mask(len(idx), t, self.config.mask_prob, self.config.mask_length, rng)  # (B, T)
        return torch.from_numpy(x), torch.from_numpy(y), torch.from_numpy(mask)


class HubertPretrainer(torch.nn.Module):
    """A HubertModel and a linear head to the k-means cluster logits."""

    def __init__(self, config: TinyHubertConfig):
        from transformers import HubertModel

        super().__init__()
        self.hubert = HubertModel(config.hubert_config())
        self.head = torch.nn.Linear(config.hidden_size, config.n_clusters)

    def forward(self, x, mask):  # (B, N), (B, T) -> (B, T, K); masked frames see the mask embedding
        return self.head(self.hubert(x, mask_time_indices=mask).last_hidden_state)


def pretrain_step(net, batch, device, alpha: float):
    """HuBERT's loss L = a L_masked + (1 - a) L_unmasked, and the logs of the history."""
    x, y, m = (t.to(device) for t in batch)
    logits = net(x, m)  # (B, T, K)
    ce = torch.nn.functional.cross_entropy(logits.transpose(1, 2), y, reduction="none")  # (B, T)
    loss_m, loss_u = ce[m].mean(), ce[~m].mean() if (~m).any() else ce.new_zeros(())
    hit = (logits.detach().argmax(-1) == y).float()  # (B, T)
    logs = {"loss": loss_m.item(), "loss_unmasked": loss_u.item(), "acc": hit[m].mean().item(),
            "acc_unmasked": hit[~m].mean().item() if (~m).any() else float("nan"),
            "mask_frac": m.float().mean().item()}  # fmt: skip
    return alpha * loss_m + (1 - alpha) * loss_u, logs


def _wavs_sha256(wavs: list[np.ndarray]) -> str:
    """A hash of the training audio (the checkpoint's recipe names the data it trained on)."""
    h = hashlib.sha256()
    for w in wavs:
        h.update(len(w).to_bytes(8, "little") + np.ascontiguousarray(w, np.float32).tobytes())
    return h.hexdigest()


def recipe_fields(config: TinyHubertConfig) -> dict:
    """The config's fields as its cache key reads them: a field added later is left out at its default, so
    models pretrained before it existed keep their folders."""
    fields = asdict(config)
    if fields["augment"] == "none":
        del fields["augment"]
    if not fields["kmeans_cmvn"]:
        del fields["kmeans_cmvn"]
    return fields


def train_config(config: TinyHubertConfig, seed: int, max_minutes: float | None) -> TrainConfig:
    """HuBERT's optimiser (AdamW, betas (0.9, 0.98), eps 1e-6, no decay on 1-D parameters), every step logged."""
    return TrainConfig(max_steps=config.steps, batch_size=config.batch_size, lr=config.lr,
                       weight_decay=config.weight_decay, decay_1d_params=False, betas=(0.9, 0.98), eps=1e-6,
                       warmup_steps=config.warmup_steps, grad_clip=config.grad_clip, log_every=1, eval_every=0,
                       checkpoint_every=max(1, config.steps // 10), max_minutes=max_minutes, seed=seed)  # fmt: skip


def _check_wavs(wavs: list[np.ndarray], config: TinyHubertConfig) -> list[np.ndarray]:
    min_len = receptive_field(config.conv_kernel, config.conv_stride)
    wavs = [np.ascontiguousarray(w, dtype=np.float32) for w in wavs]
    short = [i for i, w in enumerate(wavs) if w.ndim != 1 or len(w) < min_len]
    if short:
        raise ValueError(f"wavs {short[:5]} are not 1-D or shorter than {min_len} samples (one frame)")
    if not wavs:
        raise ValueError("no audio to pretrain on")
    return wavs


def pretrain_tiny_hubert(
    wavs: list[np.ndarray],
    out_dir,
    config: TinyHubertConfig = TinyHubertConfig(),
    seed: int = 0,
    max_minutes: float | None = None,
    device=None,
    log_every: int = 50,
    overwrite: bool = False,
    checkpoint_dir=None,
    force: bool = False,
    targets: list[np.ndarray] | None = None,
) -> dict:
    """Pretrain a tiny HuBERT on `wavs` (16 kHz mono float32) and save it to `out_dir`.

    `out_dir` gets ``config.json`` + ``model.safetensors`` (``save_pretrained``),
    ``preprocessor_config.json``, ``history.json`` (loss / accuracy per step, k-means info, timing)
    and ``kmeans.npz`` (centres, standardisation). The folder appears complete or not at all.
    Runs are deterministic for a seed on one machine: nothing about the machine's speed changes what
    is trained. `max_minutes` (None: no cap) is an optional wall-clock cap; a run it stops is saved with
    ``"stopped_early": true`` and ``"complete": false`` in its history (and a warning), and keeps its
    `checkpoint_dir`, so a later call continues it. With `checkpoint_dir`, training checkpoints there and
    an interrupted run resumes exactly; the folder is removed once a complete model is saved. A checkpoint
    there of another recipe is refused, unless `force` (start over). Returns the history.

    `targets` (issue 26's supervised lever; default: MFCC k-means): one (T_i,) int64 array of class ids per
    wav, T_i its CNN frames, ids below ``config.n_clusters``, predicted instead of the k-means clusters.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()) and not overwrite:
        raise FileExistsError(f"{out_dir} exists and is not empty; pass overwrite=True to replace it")
    t_start = time.perf_counter()
    wavs = _check_wavs(wavs, config)
    set_seed(seed)
    if targets is None:
        labels, km = kmeans_labels(wavs, config.n_clusters, seed, config.kmeans_max_frames, config.kmeans_standardize,
                                   config.kmeans_cmvn)  # fmt: skip
    else:
        labels, km = _given_targets(wavs, targets, config)
    km_model = km.pop("_model")
    log.info("k-means: %d clusters on %d frames, perplexity %.1f (%.1f s)", config.n_clusters, km["n_frames"],
             km["label_perplexity"], km["fit_s"])  # fmt: skip

    quiet_hf()
    net = HubertPretrainer(config)
    left = None if max_minutes is None else max(0.0, max_minutes - (time.perf_counter() - t_start) / 60)
    cfg = train_config(config, seed, left)  # the cap, if any, counts k-means too

    def on_log(step, hist, logs):
        if log_every and ((step - 1) % log_every == 0 or step == config.steps):
            log.info("tiny HuBERT step %d/%d: loss %.3f, masked acc %.3f", step, config.steps, logs["loss"], logs["acc"])

    t_train = time.perf_counter()
    step_fn = lambda net, batch, dev: pretrain_step(net, batch, dev, config.alpha)  # noqa: E731
    recipe = {"config": recipe_fields(config), "seed": seed, "version": PRETRAIN_VERSION, "data": _wavs_sha256(wavs)}
    if targets is not None:
        recipe["targets"] = hashlib.sha256(b"".join(np.asarray(t, np.int64).tobytes() for t in labels)).hexdigest()
    hist = fit(net, list(range(len(wavs))), CropBatches(wavs, labels, config), step_fn, cfg, out_dir=checkpoint_dir,
               device=device, on_log=on_log, recipe=recipe, force=force)  # fmt: skip
    if hist.stopped_early:
        log.warning("tiny HuBERT: wall-time cap of %.1f min reached at step %d of %d: the model is INCOMPLETE "
                    "(not the recipe's)", max_minutes, len(hist.step), config.steps)  # fmt: skip
    rounding = {"loss": 5, "loss_unmasked": 5, "acc": 4, "acc_unmasked": 4, "mask_frac": 3}
    f = lr_lambda(cfg)
    history = {**{k: [round(v, r) for v in hist.logs.get(k, [])] for k, r in rounding.items()},
               "lr": [config.lr * f(s - 1) for s in hist.step],  # the rate step s trained with
               "steps_done": len(hist.step), "stopped_early": hist.stopped_early,
               "complete": not hist.stopped_early, "kmeans": km, "config": asdict(config),
               "seed": seed, "n_utterances": len(wavs), "audio_seconds": round(sum(map(len, wavs)) / SAMPLE_RATE, 2),
               "device": str(next(net.parameters()).device), "train_s": round(time.perf_counter() - t_train, 2),
               "wall_s": round(time.perf_counter() - t_start, 2), "version": PRETRAIN_VERSION}  # fmt: skip

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    with building_dir(out_dir) as tmp:
        net.hubert.save_pretrained(tmp)
        feature_extractor().save_pretrained(tmp)
        np.savez(tmp / "kmeans.npz", **km_model)
        write_json(tmp / "history.json", history)
    if checkpoint_dir is not None and not hist.stopped_early:  # an incomplete run continues from it later
        shutil.rmtree(checkpoint_dir, ignore_errors=True)
    if history["loss"]:
        log.info("tiny HuBERT saved to %s: loss %.3f -> %.3f in %.0f s", out_dir, history["loss"][0],
                 history["loss"][-1], history["wall_s"])  # fmt: skip
    return history
