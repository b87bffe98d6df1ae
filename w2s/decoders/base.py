"""The decoder contract: every host model (VOCA, FaceFormer, CodeTalker, UniTalker, FaceDiffuser, LG-LDM)
is a :class:`Decoder` with a typed :class:`DecoderConfig`, registered by name.

    cls = w2s.decoders.get("reference")
    model = cls(cls.config_class.tiny(n_vertices=V, audio_dim=D, semantic_source="wav2sem", semantic_dim=384))
    loss, logs = model.loss(batch)                                     # training, on a w2s.data.batch.Batch
    verts = model.generate(F_p, template, subject, F_s, mask)          # inference: (B, T, V, 3)
    model.save_pretrained(folder);  w2s.decoders.load(folder)          # w2s.nn.checkpoint

The plug. The base builds ``self.fusion`` (:class:`w2s.fusion.SemanticFusion`) from the config, and
a host calls :meth:`Decoder.read_audio` (or :meth:`Decoder.read_batch`) exactly where it first reads
frame features, in ``loss`` and in ``generate`` alike; it reads F_d = W_out(W_s F_s + F_p) (width
``fused_dim``) instead of F_p, so W_out *is* the host's input projection (CodeTalker's
``audio_feature_map``). One path for training and inference: the official ``predict()`` skipped W_s.
The plug is built first and, without it, W_s's random numbers are drawn anyway: with the same seed
a host starts from the same weights with and without the plug, except W_s.

F_s. Wav2Sem is frozen, so F_s is one constant vector per clip (B, C_s), or, for a time-local source
(``oracle_text_local``, ``oracle_viseme``), one per frame of F_p (B, T, C_s): compute it once
(:meth:`w2s.semantic.wav2sem.Wav2Sem.predict`) and carry it in ``Batch.F_s``, as F_p in
``Batch.features``. The decoders train many times on the same vectors (6 hosts x seeds x with and
without), diffusion hosts must not re-run it at every denoising step, and a decoder checkpoint
stays independent of the Wav2Sem that fed it. For end-to-end use from raw audio, :meth:`attach`
keeps a frozen Wav2Sem inside that fills F_s from ``batch.audio`` when the batch has none; it is
not saved with the decoder (it has its own checkpoint).

Frozen parts (an attached Wav2Sem, CodeTalker's stage-1 VQ-VAE, ...) go through :meth:`freeze`: no
gradients, and eval mode kept when the decoder trains (the official code put its frozen Wav2Sem in
train mode, so dropout made F_s random).

A host subclasses :class:`DecoderConfig` (its hyper-parameters, presets ``paper`` and ``tiny``) and
:class:`Decoder` (``config_class``, ``loss``, ``generate``), registers it with :func:`register`, and
passes ``tests/decoders/test_contract.py`` unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn as nn

from w2s.data.audio import SAMPLE_RATE
from w2s.data.batch import Batch
from w2s.decoders.audio_encoder import FREEZE, TrainableEncoder
from w2s.fusion import PLUG_SCALES, SOURCES, FusionConfig, SemanticFusion
from w2s.nn.checkpoint import CheckpointMixin, Config, read_meta, resolve


class DecoderError(ValueError):
    """A decoder config, input or checkpoint that cannot be used; the message says which and why."""


@dataclass(frozen=True)
class DecoderConfig(Config):
    """What every host shares: the data's sizes and the plug. Hosts add their hyper-parameters."""

    n_vertices: int = 5023  # V (VOCASET's FLAME mesh 5023, BIWI 23370)
    audio_dim: int = 768  # C_p: the host encoder's frame features F_p (wav2vec2-base 768)
    fused_dim: int = 64  # what the host reads: W_out's output (CodeTalker's audio_feature_map: 1024)
    n_subjects: int = 8  # training identities (speaking style); 0: none
    semantic_source: str = "none"  # "none" (the baseline) | "wav2sem" | "oracle_text" | "oracle_word" (a control)
    #                                | "oracle_text_local" | "oracle_viseme" (time-local: F_s (B, T, C_s))
    semantic_dim: int = 768  # C_s: F_s's size (768 BERT / Wav2Sem_c, 384 all-MiniLM-L6-v2)
    plug_scale: str = "raw"  # "raw": F_s as it comes (the paper) | "standardize": centred, scaled to F_p's RMS
    encoder: str | None = None  # a wav2vec2-style hub name or folder the host runs and trains itself on
    #                             batch.audio (FaceFormer, CodeTalker); None: F_p precomputed by a frozen encoder
    encoder_freeze: str = "cnn"  # with `encoder`: "cnn" (the originals: CNN frozen, transformer trained) | "all" | "none"

    error_class: ClassVar[type[Exception]] = DecoderError
    presets: ClassVar[tuple[str, ...]] = ("paper", "tiny")
    required: ClassVar[tuple[str, ...]] = ("n_vertices", "audio_dim", "n_subjects", "semantic_source", "semantic_dim")

    def __post_init__(self):
        if self.semantic_source not in SOURCES:
            raise DecoderError(f"semantic_source must be one of {SOURCES}, got {self.semantic_source!r}")
        if self.plug_scale not in PLUG_SCALES:
            raise DecoderError(f"plug_scale must be one of {PLUG_SCALES}, got {self.plug_scale!r}")
        for name in ("n_vertices", "audio_dim", "fused_dim", "semantic_dim"):
            if int(getattr(self, name)) < 1:
                raise DecoderError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.n_subjects < 0:
            raise DecoderError(f"n_subjects must be >= 0, got {self.n_subjects}")
        if self.encoder_freeze not in FREEZE:
            raise DecoderError(f"encoder_freeze must be one of {FREEZE}, got {self.encoder_freeze!r}")

    @property
    def fusion(self) -> FusionConfig:
        return FusionConfig(self.audio_dim, self.semantic_dim, self.fused_dim, self.semantic_source,
                            self.plug_scale == "standardize")

    @classmethod
    def paper(cls, **overrides) -> DecoderConfig:
        raise NotImplementedError(f"{cls.__name__} defines no 'paper' preset")

    @classmethod
    def tiny(cls, **overrides) -> DecoderConfig:
        raise NotImplementedError(f"{cls.__name__} defines no 'tiny' preset")


class Decoder(nn.Module, CheckpointMixin):
    """Base of the host decoders: the plug, frozen parts, F_p and F_s from a Batch, save/load."""

    config_class: ClassVar[type[DecoderConfig]] = DecoderConfig
    error_class: ClassVar[type[Exception]] = DecoderError
    name: ClassVar[str] = ""  # set by register()
    # the frozen encoder whose frames F_p this host reads by default (w2s.encoders.load_encoder names):
    # offline, and with the real models (the paper's choice per host)
    offline_encoder: ClassVar[str] = "tiny-hubert"
    real_encoder: ClassVar[str] = "facebook/wav2vec2-base-960h"
    family: ClassVar[str] = ""  # the kind of model, e.g. "diffusion": one word or two for notebook 03's table
    plug_site: ClassVar[str] = ""  # where this host calls read_audio: one line for notebook 03's table

    def __init__(self, config: DecoderConfig):
        super().__init__()
        if not isinstance(config, self.config_class):
            raise DecoderError(
                f"{type(self).__name__} needs a {self.config_class.__name__}, got {type(config).__name__}"
            )
        self.config = config
        self.fusion = SemanticFusion(config.fusion)  # W_out, then W_s
        if self.fusion.W_s is None:  # draw W_s's numbers anyway: the host's layers start the same
            nn.Linear(config.semantic_dim, config.audio_dim)
        self.wav2sem = None
        # the host's own speech encoder (loaded from its source, then overwritten by a checkpoint's weights)
        self.audio_encoder = TrainableEncoder(config.encoder, config.encoder_freeze) if config.encoder else None

    # the plug --------------------------------------------------------------------------------

    def read_audio(
        self, F_p: torch.Tensor, F_s: torch.Tensor | None = None, mask: torch.Tensor | None = None
    ):
        """F_p (B, T, audio_dim), F_s (B, semantic_dim) or (B, T, semantic_dim) | None, mask (B, T)
        -> F_d (B, T, fused_dim).

        Where a host first reads frame features, in training and inference. Padded frames are 0.
        """
        return self.fusion(F_p, F_s, mask)

    def read_batch(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor | None]:
        """F_d (B, T, fused_dim) and its mask (B, T) of a batch: ``read_audio(*features, F_s)``."""
        F_p, mask = self.features(batch)
        return self.read_audio(F_p, self.semantic_vector(batch), mask), mask

    def read_training_batch(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        """``read_batch`` for ``loss``: F_d (B, T, fused_dim) and its mask (B, T) (all True when the batch has
        none), after checking that the ground-truth vertices have F_p's B and T."""
        F_d, mask = self.read_batch(batch)
        B, T = F_d.shape[:2]
        if batch.vertices is None or batch.vertices.shape[:2] != (B, T):
            got = None if batch.vertices is None else tuple(batch.vertices.shape)
            raise DecoderError(f"{self.name}: vertices (B, T, V, 3) must match F_p's {(B, T)} frames, got {got}")
        return F_d, torch.ones(B, T, dtype=torch.bool, device=F_d.device) if mask is None else mask.bool()

    def features(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor | None]:
        """F_p (B, T, audio_dim) and its mask: computed by a frozen encoder into the batch, or, with
        ``config.encoder``, by the host's own encoder from ``batch.audio`` (one frame per vertex frame,
        or ``duration * fps`` frames when the batch has no vertices)."""
        if self.audio_encoder is not None:
            if batch.audio is None or batch.fps is None:
                raise DecoderError(f"{self.name}: config.encoder={self.config.encoder!r} reads batch.audio and batch.fps")
            if batch.vertices is not None:
                n_frames = batch.vertex_lengths
            else:
                n_frames = (batch.audio_lengths.double() * batch.fps / SAMPLE_RATE).floor().long().clamp_min(1)
            return self.audio_encoder(batch.audio, batch.audio_mask, n_frames, batch.fps)
        if batch.features is None:
            raise DecoderError(f"{self.name or type(self).__name__}: batch.features (F_p) is None; encode the "
                               "audio with the host's frozen encoder first (w2s.encoders)")  # fmt: skip
        return batch.features, batch.feature_mask

    def semantic_vector(self, batch: Batch) -> torch.Tensor | None:
        """F_s (B, semantic_dim), or (B, T, semantic_dim) for a time-local source: ``batch.F_s``, else the
        attached frozen Wav2Sem on ``batch.audio``; None for semantic_source="none"."""
        if self.config.semantic_source == "none":
            return None
        if batch.F_s is not None:
            return batch.F_s
        if self.wav2sem is not None and batch.audio is not None:
            with torch.no_grad():
                return self.wav2sem(batch.audio, batch.audio_mask)
        raise DecoderError(
            f"semantic_source={self.config.semantic_source!r} needs F_s: put it in batch.F_s (Wav2Sem.predict, or "
            "the transcript's text embedding for oracle_text), or attach() a Wav2Sem and give batch.audio"
        )

    # frozen parts ----------------------------------------------------------------------------

    def freeze(self, module: nn.Module) -> nn.Module:
        """No gradients, eval mode, and eval mode kept when the decoder trains."""
        module.requires_grad_(False)
        module.frozen = True
        return module.eval()

    def train(self, mode: bool = True) -> Decoder:
        super().train(mode)
        for m in self.modules():
            if m is not self and getattr(m, "frozen", False):
                m.eval()
        return self

    def attach(self, wav2sem: nn.Module) -> Decoder:
        """Keep a frozen Wav2Sem inside: it computes F_s from ``batch.audio`` when ``batch.F_s`` is None.
        Not saved with the decoder (save and load it on its own)."""
        if self.config.semantic_source != "wav2sem":
            raise DecoderError(f"attach: semantic_source is {self.config.semantic_source!r}, not 'wav2sem'")
        if wav2sem.config.target_dim != self.config.semantic_dim:
            raise DecoderError(f"attach: the Wav2Sem gives {wav2sem.config.target_dim}-d vectors, "
                               f"semantic_dim is {self.config.semantic_dim}")  # fmt: skip
        self.wav2sem = self.freeze(wav2sem)
        return self

    def checkpoint_state(self) -> dict:
        return {k: v for k, v in self.state_dict().items() if not k.startswith("wav2sem.")}

    # the contract ----------------------------------------------------------------------------

    def prepare(self, offsets: list[torch.Tensor], seed: int = 0, cache_dir=None) -> dict:
        """Fit what the host fits on the training *motion* before it trains on audio: VOCA the PCA of
        the displacements, CodeTalker its stage-1 VQ-VAE; nothing by default.

        offsets: the training sequences' vertices minus their templates, (T_i, V, 3) each.
        cache_dir: where a costly fit (a stage-1 model) may be kept and found again, keyed by its data
        and config. Returns logs (JSON-able) for the run's record.
        """
        return {}

    def loss(self, batch: Batch) -> tuple[torch.Tensor, dict]:
        """Training: (scalar loss, logs {name: float}) on a padded batch; padded frames do not count.
        May sample noise (diffusion) or teacher-force (autoregressive hosts)."""
        raise NotImplementedError

    def generate(self, F_p: torch.Tensor, template: torch.Tensor, subject: torch.Tensor,
                 F_s: torch.Tensor | None = None, mask: torch.Tensor | None = None, **kwargs) -> torch.Tensor:  # fmt: skip
        """Inference: F_p (B, T, audio_dim), template (B, V, 3), subject (B,) (-1: unseen), F_s (B, C_s) or
        (B, T, C_s), mask (B, T) -> vertices (B, T, V, 3), 0 past each item's length. kwargs: e.g. num_samples, steps."""
        raise NotImplementedError

    def forward(self, batch: Batch) -> tuple[torch.Tensor, dict]:
        return self.loss(batch)  # through forward, so DistributedDataParallel syncs the gradients

    def generate_batch(self, batch: Batch, **kwargs) -> torch.Tensor:
        """``generate`` on a Batch's F_p, templates, subjects and F_s (the attached Wav2Sem's if needed)."""
        F_p, mask = self.features(batch)
        return self.generate(
            F_p, batch.template, batch.subject_index, self.semantic_vector(batch), mask, **kwargs
        )


def train_step(net: nn.Module, batch: Batch, device) -> tuple[torch.Tensor, dict]:
    """``step_fn`` for :func:`w2s.train.fit`: the decoder's loss on the batch, moved to `device`."""
    return net(batch.to(device))


# ---------------------------------------------------------------------------------------------
# registry


_REGISTRY: dict[str, type[Decoder]] = {}


def register(name: str) -> Callable[[type[Decoder]], type[Decoder]]:
    """Class decorator: ``@register("faceformer")`` makes the host reachable as ``get("faceformer")``."""

    def add(cls: type[Decoder]) -> type[Decoder]:
        if name in _REGISTRY and _REGISTRY[name] is not cls:
            raise DecoderError(
                f"decoder {name!r} is registered twice: {_REGISTRY[name].__name__} and {cls.__name__}"
            )
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return add


def get(name: str) -> type[Decoder]:
    if name not in _REGISTRY:
        raise DecoderError(f"unknown decoder {name!r}; registered: {names()}")
    return _REGISTRY[name]


def names() -> list[str]:
    return sorted(_REGISTRY)


def load(name_or_folder, map_location=None) -> Decoder:
    """Any registered decoder saved by ``save_pretrained``; its class is read from config.json."""
    folder = resolve(name_or_folder, "decoder checkpoint folder", DecoderError)
    marker = read_meta(folder, DecoderError).get("w2s_class")
    for cls in _REGISTRY.values():
        if cls.marker() == marker:
            return cls.from_pretrained(folder, map_location)
    raise DecoderError(f"{folder}: {marker!r} is not a registered decoder; registered: {names()}")
