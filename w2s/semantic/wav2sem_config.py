"""Wav2Sem's config: a frozen dataclass with named presets (nanoGPT's GPTConfig), and the
``transformers.Wav2Vec2Config`` of its backbone. The model is in :mod:`w2s.semantic.wav2sem`.

    Wav2SemConfig.paper(768)        # the official code's model: wav2vec2-base shape, random init
    Wav2SemConfig.tiny(384)         # the offline default (~3.7 M parameters)
    Wav2SemConfig.lite(768, 384)    # our extension: a head on the host encoder's features
    Wav2SemConfig.like("facebook/hubert-base-ls960", 768)   # a pretrained encoder's shape, initialised from it
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import ClassVar

from w2s.nn.checkpoint import Config

WAV2VEC2_KERNELS = (10, 3, 3, 3, 3, 2, 2)
WAV2VEC2_STRIDES = (5, 2, 2, 2, 2, 2, 2)


class Wav2SemError(ValueError):
    """A Wav2Sem config, checkpoint or input that cannot be used; the message says which and why."""


@dataclass(frozen=True)
class Wav2SemConfig(Config):
    kind: str = "audio"  # "audio": raw waveform model (the paper); "lite": head on host features
    target_dim: int = 768  # the text embedding's size: 384 all-MiniLM-L6-v2, 768 BERT-base
    # backbone, in transformers.Wav2Vec2Config's names (defaults: wav2vec2-base, the official code)
    conv_dim: tuple[int, ...] = (512,) * 7
    conv_kernel: tuple[int, ...] = WAV2VEC2_KERNELS
    conv_stride: tuple[int, ...] = WAV2VEC2_STRIDES
    conv_bias: bool = False
    feat_extract_norm: str = "group"  # "group": wav2vec2-base (batch 1 exact); "layer": batchable
    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12  # the code's 12 (the paper's text says 8; 768 / 8 also works)
    intermediate_size: int = 3072
    num_conv_pos_embeddings: int = 128  # positional conv kernel
    num_conv_pos_embedding_groups: int = 16
    do_stable_layer_norm: bool = False  # False: post-LN (the code); True: pre-LN (the paper's text)
    hidden_dropout: float = 0.1
    attention_dropout: float = 0.1
    activation_dropout: float = 0.1
    feat_proj_dropout: float = 0.1
    layerdrop: float = 0.1  # a whole transformer layer skipped with this probability in train mode
    normalize_input: bool = True  # per-utterance zero mean / unit variance of the waveform
    # lite: the host encoder's feature size (the transformer fields above give its width/depth)
    input_dim: int | None = None
    # head
    pooling: str = "mean"  # "mean": F_s = 1/N sum_i Z_i (the paper); "attention": learned weights per frame
    pooling_heads: int = 4  # attention pooling: heads, each weighting its slice of the channels
    projection: str = "auto"  # "auto": identity when hidden_size == target_dim, else Linear; "linear"
    ctc_vocab_size: int = 0  # > 0: a training-only CTC head over the frames (phonemes + blank at 0)
    init_from: str | None = None  # a wav2vec2/HuBERT hub name or folder: initial backbone weights

    error_class: ClassVar[type[Exception]] = Wav2SemError
    presets: ClassVar[tuple[str, ...]] = ("paper", "tiny", "lite")

    def __post_init__(self):
        for name in ("conv_dim", "conv_kernel", "conv_stride"):
            object.__setattr__(self, name, tuple(int(v) for v in getattr(self, name)))  # JSON lists -> tuples
        if self.init_from is not None:
            object.__setattr__(self, "init_from", str(self.init_from))  # a Path -> JSON-able
        if self.kind not in ("audio", "lite"):
            raise Wav2SemError(f"kind must be 'audio' or 'lite', got {self.kind!r}")
        if self.target_dim < 1 or self.hidden_size < 1 or self.num_hidden_layers < 1:
            raise Wav2SemError("target_dim, hidden_size and num_hidden_layers must be >= 1")
        if self.hidden_size % self.num_attention_heads:
            raise Wav2SemError(
                f"hidden_size {self.hidden_size} is not divisible by num_attention_heads {self.num_attention_heads}"
            )
        if self.pooling not in ("mean", "attention"):
            raise Wav2SemError(f"pooling must be 'mean' or 'attention', got {self.pooling!r}")
        if self.pooling == "attention" and (self.pooling_heads < 1 or self.hidden_size % self.pooling_heads):
            raise Wav2SemError(
                f"pooling_heads must be >= 1 and divide hidden_size {self.hidden_size}, got {self.pooling_heads}"
            )
        if self.ctc_vocab_size < 0 or self.ctc_vocab_size == 1:
            raise Wav2SemError(f"ctc_vocab_size must be 0 (no CTC head) or >= 2, got {self.ctc_vocab_size}")
        if self.projection not in ("auto", "linear"):
            raise Wav2SemError(f"projection must be 'auto' or 'linear', got {self.projection!r}")
        for name in ("hidden_dropout", "attention_dropout", "activation_dropout", "feat_proj_dropout"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise Wav2SemError(f"{name} must be in [0, 1), got {getattr(self, name)}")
        if not 0.0 <= self.layerdrop < 1.0:
            raise Wav2SemError(f"layerdrop must be in [0, 1), got {self.layerdrop}")
        if self.kind == "audio":
            if not (len(self.conv_dim) == len(self.conv_kernel) == len(self.conv_stride) >= 1):
                raise Wav2SemError("conv_dim, conv_kernel and conv_stride need the same (non-zero) length")
            if self.feat_extract_norm not in ("group", "layer"):
                raise Wav2SemError(
                    f"feat_extract_norm must be 'group' or 'layer', got {self.feat_extract_norm!r}"
                )
            if self.hidden_size % self.num_conv_pos_embedding_groups:
                raise Wav2SemError("hidden_size must be divisible by num_conv_pos_embedding_groups")
        else:
            if self.input_dim is None or self.input_dim < 1:
                raise Wav2SemError("kind='lite' needs input_dim: the host encoder's feature size")
            if self.init_from is not None:
                raise Wav2SemError("init_from loads a wav2vec2/HuBERT backbone; kind='lite' has none")

    # presets --------------------------------------------------------------------------------

    @classmethod
    def paper(cls, target_dim: int = 768, **overrides) -> Wav2SemConfig:
        """The official code's model: wav2vec2-base shape, random init, ~94.4 M parameters."""
        return cls(target_dim=target_dim, **overrides)

    @classmethod
    def tiny(cls, target_dim: int = 384, **overrides) -> Wav2SemConfig:
        """The offline default: wav2vec2's CNN geometry (50 Hz) with 32-128 channels, 4 x 256 transformer.

        ~3.7 M parameters with target_dim 384. The transformer has the tiny HuBERT's shape
        (:mod:`w2s.encoders.tiny_hubert`), so ``init_from`` its folder copies the transformer and the
        positional conv (the CNN's channels differ; use :meth:`like` for an exact copy). The
        front end is layer-norm, so padded batches are exact. Its first conv layers are narrow
        because on a CPU they dominate the cost (9,600 frames per 3 s).
        """
        base = dict(
            conv_dim=(32, 64, 64, 128, 128, 128, 128), feat_extract_norm="layer", hidden_size=256,
            num_hidden_layers=4, num_attention_heads=4, intermediate_size=1024, num_conv_pos_embeddings=32,
            num_conv_pos_embedding_groups=8, hidden_dropout=0.1, attention_dropout=0.1,
            activation_dropout=0.0, feat_proj_dropout=0.0, layerdrop=0.0,
        )  # fmt: skip
        return cls(target_dim=target_dim, **{**base, **overrides})

    @classmethod
    def lite(cls, input_dim: int, target_dim: int = 384, **overrides) -> Wav2SemConfig:
        """Our extension: 2 pre-LN transformer layers of width 256 on the host's frozen features."""
        base = dict(
            kind="lite", input_dim=input_dim, hidden_size=256, num_hidden_layers=2, num_attention_heads=4,
            intermediate_size=1024, hidden_dropout=0.1, attention_dropout=0.1, activation_dropout=0.0,
            feat_proj_dropout=0.0, layerdrop=0.0, projection="linear",
        )  # fmt: skip
        return cls(target_dim=target_dim, **{**base, **overrides})

    @classmethod
    def like(cls, source: str, target_dim: int = 768, **overrides) -> Wav2SemConfig:
        """A config with the backbone shape of a wav2vec2/HuBERT checkpoint, initialised from it.

        Reads only the source's ``config.json`` (and its feature extractor's ``do_normalize``), so
        ``init_from`` then copies every tensor. The dropouts stay ours (override them if needed).
        """
        from transformers import AutoConfig, AutoFeatureExtractor

        try:
            src = AutoConfig.from_pretrained(str(source))
        except (OSError, ValueError) as e:
            raise Wav2SemError(f"cannot read the config of {source!r}: {e}") from e
        if not hasattr(src, "conv_stride") or not hasattr(src, "num_conv_pos_embeddings"):
            raise Wav2SemError(
                f"{source!r} is a {src.model_type!r} model, not a wav2vec2-style speech encoder"
            )
        shape = {f.name: getattr(src, f.name) for f in fields(cls) if f.name in _BACKBONE_FIELDS}
        try:
            shape["normalize_input"] = bool(AutoFeatureExtractor.from_pretrained(str(source)).do_normalize)
        except (OSError, ValueError, AttributeError):
            pass  # no preprocessor_config.json: keep ours
        return cls(target_dim=target_dim, init_from=str(source), **{**shape, **overrides})


_BACKBONE_FIELDS = (
    "conv_dim", "conv_kernel", "conv_stride", "conv_bias", "feat_extract_norm", "hidden_size",
    "num_hidden_layers", "num_attention_heads", "intermediate_size", "num_conv_pos_embeddings",
    "num_conv_pos_embedding_groups", "do_stable_layer_norm",
)  # fmt: skip


def backbone_config(cfg: Wav2SemConfig):
    """The ``transformers.Wav2Vec2Config`` of an audio Wav2Sem's backbone."""
    from transformers import Wav2Vec2Config

    return Wav2Vec2Config(
        **{
            k: list(v) if isinstance(v, tuple) else v for k, v in asdict(cfg).items() if k in _BACKBONE_FIELDS
        },
        num_feat_extract_layers=len(cfg.conv_dim),
        hidden_dropout=cfg.hidden_dropout,
        attention_dropout=cfg.attention_dropout,
        activation_dropout=cfg.activation_dropout,
        feat_proj_dropout=cfg.feat_proj_dropout,
        layerdrop=cfg.layerdrop,
        mask_time_prob=0.0,  # no SpecAugment (the official code has none) -> no masked_spec_embed
        mask_feature_prob=0.0,
        apply_spec_augment=False,
    )
