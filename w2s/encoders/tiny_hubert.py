"""A tiny HuBERT, pretrained here without labels: the models on disk. A folder per corpus content and recipe
(:func:`pretrained_folder`), built once (:func:`load_or_pretrain_tiny_hubert`), the recipe each corpus gets
(:func:`config_for_corpus`: smoke, quick or the default) and the untrained twin (:func:`load_or_init_random_hubert`).
The recipe itself, HuBERT's first-iteration masked prediction, small, is :mod:`w2s.encoders.tiny_hubert_pretraining`
(its names are re-exported here).

The result is saved with ``save_pretrained`` (+ a ``Wav2Vec2FeatureExtractor``), so
``load_encoder(folder)`` reads it exactly like a hub checkpoint.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import warnings
from dataclasses import asdict, replace
from pathlib import Path

import torch

from w2s.data.corpus import Corpus
from w2s.data.faces import FaceDataset
from w2s.encoders.tiny_hubert_pretraining import (  # noqa: F401  (re-exported: the recipe lived here)
    PRETRAIN_VERSION,
    CropBatches,
    HubertPretrainer,
    TinyHubertConfig,
    _normalise,
    _wavs_sha256,
    feature_extractor,
    kmeans_labels,
    pretrain_step,
    pretrain_tiny_hubert,
    recipe_fields,
    span_mask,
    train_config,
)
from w2s.utils.hashing import key_of
from w2s.utils.io import building_dir, output_lock, read_json
from w2s.utils.paths import cache_dir
from w2s.utils.runtime import quiet_hf

log = logging.getLogger(__name__)
DEFAULT_CONFIG = TinyHubertConfig()  # the full recipe, as a module-level default (frozen)

# ---------------------------------------------------------------------------------------------
# cached models


def _is_model_dir(path: Path) -> bool:
    return (path / "config.json").is_file() and (path / "preprocessor_config.json").is_file() and (
        (path / "model.safetensors").is_file() or (path / "pytorch_model.bin").is_file()
    )


def _is_complete_model(path: Path) -> bool:
    """A pretrained folder whose training ran every step of its recipe (not stopped by a time cap)."""
    if not _is_model_dir(path):
        return False
    try:
        return not pretraining_history(path).get("stopped_early", False)
    except ValueError:
        return False


def _corpus_sha256(root: Path) -> str:
    """The corpus's recorded content hash, or a hash of the wav files of any other face dataset."""
    if Corpus.is_built(root):
        return Corpus(root).content_sha256
    h = hashlib.sha256()
    for p in sorted((root / "wav").glob("*.wav")):
        h.update(p.name.encode() + b"\0" + hashlib.sha256(p.read_bytes()).digest())
    return h.hexdigest()


def pretrained_folder(
    corpus_dir, config: TinyHubertConfig = DEFAULT_CONFIG, seed: int = 0, split: str = "train", root=None
) -> Path:
    """Where :func:`load_or_pretrain_tiny_hubert` keeps the model of this recipe: ``tiny-hubert-KEY`` under
    ``cache_dir("encoders")`` (or `root`), KEY a hash of the corpus's content, the split, every field of
    the config, the seed and the recipe version (another config: another folder)."""
    key = key_of({"corpus": _corpus_sha256(Path(corpus_dir)), "split": split, "config": recipe_fields(config),
                  "seed": seed, "version": PRETRAIN_VERSION})  # fmt: skip
    return (Path(root) if root is not None else cache_dir("encoders")) / f"tiny-hubert-{key}"


def load_or_pretrain_tiny_hubert(
    corpus_dir,
    config: TinyHubertConfig = DEFAULT_CONFIG,
    seed: int = 0,
    split: str = "train",  # training speakers only: the probe and coupling tests speakers it never heard
    root=None,
    max_minutes: float | None = None,
) -> Path:
    """The folder of a tiny HuBERT pretrained on `corpus_dir`'s `split` audio; trained if missing.

    Cached under ``cache_dir("encoders")`` (or `root`), keyed by the corpus's content hash, the
    split, the config, the seed and the recipe version (:func:`pretrained_folder`). Only a complete run
    is cached under that key: with a `max_minutes` cap that stops training, the model goes to
    ``tiny-hubert-KEY-incomplete`` (returned, with a warning; its history says ``"complete": false``) and
    the next call continues the run from its checkpoint. A process that finds another one pretraining
    the same model waits for it.
    """
    corpus_dir = Path(corpus_dir)
    out = pretrained_folder(corpus_dir, config, seed, split, root)
    out.parent.mkdir(parents=True, exist_ok=True)
    with output_lock(out, wait=True, what="pretrained"):
        if _is_complete_model(out):
            return out
        ds = FaceDataset(corpus_dir, split=split)
        log.info("pretraining a tiny HuBERT on %d utterances of %s (%s) -> %s", len(ds), corpus_dir, split, out)
        wavs = [ds.load_audio(i) for i in range(len(ds))]
        hist = pretrain_tiny_hubert(wavs, out, config, seed, max_minutes=max_minutes, overwrite=True,
                                    checkpoint_dir=out.with_name(f".{out.name}.train"),  # resumed there if stopped
                                    force=True)  # a checkpoint of another recipe there is stale: start over
        partial = out.with_name(f"{out.name}-incomplete")
        if hist.get("complete", True):
            shutil.rmtree(partial, ignore_errors=True)  # an earlier capped run of this recipe, now finished
            return out
        with building_dir(partial) as tmp:  # never under the recipe's key: the next call continues the run
            shutil.rmtree(tmp)
            os.replace(out, tmp)
        warnings.warn(f"tiny HuBERT {out.name}: stopped by the {max_minutes} min cap at step {hist['steps_done']} of "
                      f"{config.steps}; the model in {partial} is INCOMPLETE and not cached as the recipe's",
                      UserWarning, stacklevel=2)  # fmt: skip
        return partial


def load_or_init_random_hubert(config: TinyHubertConfig = DEFAULT_CONFIG, seed: int = 0, root=None) -> Path:
    """A folder holding the tiny HuBERT architecture with random weights (seeded): the probe baseline."""
    from transformers import HubertModel

    quiet_hf()
    model_cfg = {k: v for k, v in asdict(config).items() if k in _MODEL_FIELDS}
    key = key_of({"config": model_cfg, "seed": seed, "version": 1})  # not the pretraining recipe's version
    out = (Path(root) if root is not None else cache_dir("encoders")) / f"random-hubert-{key}"
    if _is_model_dir(out):
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    # another process may get there first: same inputs, same model, and its folder is kept
    with building_dir(out, keep_existing=_is_model_dir) as tmp:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = HubertModel(config.hubert_config()).eval()
        model.save_pretrained(tmp)
        feature_extractor().save_pretrained(tmp)
    return out


_MODEL_FIELDS = {
    "conv_dim", "conv_kernel", "conv_stride", "hidden_size", "num_hidden_layers", "num_attention_heads",
    "intermediate_size", "num_conv_pos_embeddings", "num_conv_pos_embedding_groups", "mask_length",
}  # fmt: skip


def tiny_config(**changes) -> TinyHubertConfig:
    """A much smaller config for tests and smoke runs (seconds, not minutes)."""
    small = dict(conv_dim=(32,) * 7, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                 intermediate_size=128, num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=4,
                 n_clusters=20, steps=40, batch_size=4, crop_seconds=1.0, lr=2e-3, warmup_steps=5)  # fmt: skip
    return replace(TinyHubertConfig(), **{**small, **changes})


# quick mode's recipe (make run QUICK=1): the default model, trained for QUICK_STEPS steps instead of 900: about
# 1 min instead of 8-9 on 2 CPU cores (default corpus), and notebook 01's claims still hold (phoneme probe 0.36
# against the untrained network's 0.19 and the full recipe's 0.59; near pairs more confusable than far ones):
# benchmarks/tiny_hubert_quick.py, benchmarks/results/tiny_hubert_quick.json
QUICK_STEPS = 100


def quick_config() -> TinyHubertConfig:
    """Quick mode's recipe: the default model (same architecture, targets, masking, batch, crops and
    learning rate), trained for :data:`QUICK_STEPS` steps with the warmup scaled alike (a tenth). Another
    config, so another cache key and other weights: every cache downstream (features, Wav2Sem, decoders)
    sees another encoder identity, and quick numbers never mix with the full run's."""
    return replace(TinyHubertConfig(), steps=QUICK_STEPS, warmup_steps=QUICK_STEPS // 10)


def corpus_preset(corpus_dir) -> str | None:
    """The preset a corpus was built with, or None for another face dataset (VOCASET, BIWI)."""
    return Corpus(corpus_dir).preset if Corpus.is_built(corpus_dir) else None


def config_for_corpus(corpus_dir) -> TinyHubertConfig:
    """The recipe for a corpus: the seconds-long smoke recipe for a smoke corpus (a preset named
    ``smoke*``: smoke, smoke-biwi-like), quick mode's (:func:`quick_config`) for the ``quick`` corpus
    (the default corpus under quick mode's name), the default otherwise."""
    preset = corpus_preset(corpus_dir) or ""
    if preset.startswith("smoke"):
        return tiny_config()
    return quick_config() if preset == "quick" else TinyHubertConfig()


def pretraining_history(folder) -> dict:
    """The ``history.json`` a pretrained tiny HuBERT folder carries (loss per step, k-means, timing)."""
    return read_json(Path(folder) / "history.json", "tiny-HuBERT pretraining history", kind=dict)
