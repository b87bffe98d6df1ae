"""The plug: F_d = W_out(W_s F_s + F_p), F_s broadcast to every frame (Wav2Sem paper §4.1).

    fuse = SemanticFusion(FusionConfig(audio_dim=768, semantic_dim=384, out_dim=1024))
    F_d = fuse(F_p, F_s, mask)      # (B, T, 768), (B, 384), (B, T) -> (B, T, 1024)
    F_d = fuse(F_p, F_s_t, mask)    # a time-local source: F_s_t (B, T, 384), one vector per frame of F_p

F_p are the host model's own frame features (its audio encoder's output, at its frame rate), F_s
one Wav2Sem vector per utterance. ``W_s`` (the paper's inner FC) maps F_s into the audio feature
space, it is added to every frame of its own utterance, and ``W_out`` (the outer FC: in CodeTalker
the existing ``audio_feature_map``) maps the sum to what the decoder reads. F_d replaces F_p.
A time-local source (beyond the paper) gives frame t of item b its own vector, F_s (B, T, C_s) with
F_p's T (zeros allowed, e.g. in pauses): the same W_s, added frame by frame instead of broadcast.

semantic_source
* ``"wav2sem"``: F_s from a frozen Wav2Sem (the paper);
* ``"oracle_text"``: the same computation fed with the text embedding of the transcript (the
  paper's BERT_c / BERT_m ablation rows). The module cannot tell where a vector came from: the
  source names what the caller passes, for configs, logs and checks of shape;
* ``"oracle_word"``: a positive control, not a method: a fixed random unit code of the near-homophone
  word the sentence says (zero for a clip without one). It carries the answer in the same
  utterance-constant form, so a host that cannot use it cannot use any sentence vector either;
* ``"oracle_text_local"`` (time-local, (B, T, C_s)): each frame gets the text embedding (``oracle_text``'s
  sentence model) of the word spoken at that frame, from the corpus's word timings; zero in pauses;
* ``"oracle_viseme"`` (time-local, (B, T, 13)): the one-hot viseme class of the phoneme spoken at each
  frame (``w2s.corpus.visemes``; "silence" is a class of its own). The second positive control: it
  carries the lips' answer frame by frame;
* ``"wav2sem_local"`` (time-local, (B, T, C_s), beyond the paper): ``oracle_text_local``'s stream predicted
  from the audio by a frozen Wav2SemLocal (:mod:`w2s.semantic.wav2sem_local`), causal with a bounded lookahead;
* ``"none"``: the baseline, ``W_out(F_p)``; F_s is ignored and there is no ``W_s``. ``W_out`` is
  created first, so with the same seed the baseline and the plugged model start from the same
  ``W_out``, and they differ only by the ``W_s F_s`` term.

Fixed against the official CodeTalker integration (paper digest §8):
* one code path for training and inference: the official ``predict()`` added the raw F_s and
  skipped ``bert_feature_map`` (W_s), so at test time the decoder saw a fused feature it was never
  trained on (bug 9). There is no separate inference method here;
* F_s is broadcast per item of the batch, (B, 1, C): the official ``[B, T, C] + [B, C]`` is only
  right for B = 1 (bug 15);
* padded frames (mask False) are zeroed in the output.

The plug's scale (``standardize``). The paper adds F_s as it comes: here a unit-norm MiniLM vector
through a default-initialised W_s, whose clip-varying part is a few percent of ||F_p|| at the fusion
point (the official CodeTalker code adds BERT-scale vectors, and its text oracle with no projection at
all). With ``standardize=True`` F_s is first centred on the training clips' mean and scaled so that its
per-element RMS matches F_p's (``fit_standardization``, called once before training; the statistics
are buffers, saved with the model and never trained). For a time-local source the statistics are over
the training *frames*, every frame counted, pauses (all-zero vectors) included: they are what W_s reads
at every frame, and F_p's RMS is over all frames too.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn

from w2s.data.batch import as_mask

SOURCES = ("none", "wav2sem", "oracle_text", "oracle_word", "oracle_text_local", "oracle_viseme", "wav2sem_local")
TIME_LOCAL = ("oracle_text_local", "oracle_viseme", "wav2sem_local")  # one vector per frame: F_s (B, T, C_s)
PLUG_SCALES = ("raw", "standardize")  # F_s as it comes (the paper) | centred and scaled to F_p's RMS


class FusionError(ValueError):
    """Inputs of the wrong shape, or a missing F_s; the message names what was expected."""


@dataclass(frozen=True)
class FusionConfig:
    audio_dim: int  # C_p: the host encoder's frame feature size (F_p)
    semantic_dim: int  # C_s: the semantic vector's size (F_s; 384 MiniLM, 768 BERT)
    out_dim: int  # what the host decoder reads (CodeTalker: 1024)
    semantic_source: str = "wav2sem"  # one of SOURCES: "none" | "wav2sem" | "oracle_text" | "oracle_word" | ...
    standardize: bool = False  # centre F_s on the training mean and scale it to F_p's RMS before W_s

    def __post_init__(self):
        if self.semantic_source not in SOURCES:
            raise FusionError(f"semantic_source must be one of {SOURCES}, got {self.semantic_source!r}")
        for name in ("audio_dim", "semantic_dim", "out_dim"):
            if int(getattr(self, name)) < 1:
                raise FusionError(f"{name} must be >= 1, got {getattr(self, name)}")

    @property
    def uses_semantics(self) -> bool:
        return self.semantic_source != "none"


class SemanticFusion(nn.Module):
    def __init__(self, config: FusionConfig):
        super().__init__()
        self.config = config
        self.W_out = nn.Linear(config.audio_dim, config.out_dim)  # first: same init with or without W_s
        self.W_s = nn.Linear(config.semantic_dim, config.audio_dim) if config.uses_semantics else None
        if self.W_s is not None and config.standardize:  # set by fit_standardization; saved, never trained
            self.register_buffer("F_s_mean", torch.zeros(config.semantic_dim))
            self.register_buffer("F_s_gain", torch.ones(()))

    @property
    def standardizes(self) -> bool:
        return self.W_s is not None and self.config.standardize

    @torch.no_grad()
    def fit_standardization(self, F_s: torch.Tensor, F_p_rms: float) -> dict:
        """F_s (N, semantic_dim): one row per training clip, or, for a time-local source, per training frame
        (every frame, pauses included); F_p_rms: the per-element RMS of the clips' F_p frames.
        Sets the mean and the gain so that the centred F_s has F_p's per-element RMS."""
        if not self.standardizes:
            raise FusionError("fit_standardization: this plug was built without standardize=True")
        if F_s.ndim != 2 or F_s.shape[1] != self.config.semantic_dim or len(F_s) < 2:
            raise FusionError(f"fit_standardization: F_s must be (N >= 2, {self.config.semantic_dim}) (clips or frames "
                              f"as rows), got {tuple(F_s.shape)}")
        mean = F_s.double().mean(0)
        rms = (F_s.double() - mean).pow(2).mean().sqrt().item()
        if not rms > 0 or not F_p_rms > 0:
            raise FusionError(f"fit_standardization: F_s does not vary across clips (RMS {rms}) or F_p's RMS is {F_p_rms}")
        self.F_s_mean.copy_(mean.float())
        self.F_s_gain.fill_(F_p_rms / rms)
        return {"F_s_rms": rms, "F_p_rms": float(F_p_rms), "gain": F_p_rms / rms}

    def semantic_term(self, F_s: torch.Tensor) -> torch.Tensor:
        """W_s F_s: (B, semantic_dim) -> (B, audio_dim), or (B, T, semantic_dim) -> (B, T, audio_dim), after
        standardisation when the plug has it."""
        if self.standardizes:
            F_s = (F_s - self.F_s_mean) * self.F_s_gain
        return self.W_s(F_s)

    def forward(
        self, F_p: torch.Tensor, F_s: torch.Tensor | None = None, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """F_p (B, T, audio_dim), F_s (B, semantic_dim) or (B, T, semantic_dim) | None, mask (B, T) bool | None
        -> F_d (B, T, out_dim). A (B, T, semantic_dim) F_s gives frame t of item b its own vector.

        The same computation in train and eval mode (there is no dropout): use this for inference
        too; the official predict() skipped W_s.
        """
        cfg = self.config
        if F_p.ndim != 3 or F_p.shape[-1] != cfg.audio_dim:
            raise FusionError(f"F_p: expected (B, T, {cfg.audio_dim}), got {tuple(F_p.shape)}")
        B, T, _ = F_p.shape
        if mask is not None:
            mask = as_mask(mask, (B, T), "mask (of F_p)", FusionError)

        h = F_p  # (B, T, C_p)
        if self.W_s is not None:
            if F_s is None:
                raise FusionError(
                    f"semantic_source={cfg.semantic_source!r} needs F_s (B, {cfg.semantic_dim}) or (B, T, "
                    f"{cfg.semantic_dim}); got None (use semantic_source='none' for the baseline)"
                )
            if F_s.ndim == 2 and F_s.shape == (B, cfg.semantic_dim):
                h = h + self.semantic_term(F_s).unsqueeze(1)  # (B, 1, C_p): item b's vector on every frame of item b
            elif F_s.ndim == 3 and F_s.shape == (B, T, cfg.semantic_dim):
                h = h + self.semantic_term(F_s)  # (B, T, C_p): frame t of item b its own vector
            else:
                raise FusionError(
                    f"F_s: expected ({B}, {cfg.semantic_dim}) (one vector per item of F_p) or ({B}, {T}, "
                    f"{cfg.semantic_dim}) (one per frame of F_p), got {tuple(F_s.shape)}"
                )
        F_d = self.W_out(h)  # (B, T, out_dim)
        if mask is not None:
            F_d = F_d * mask.unsqueeze(-1).to(F_d.dtype)  # padded frames -> 0
        return F_d

    def extra_repr(self) -> str:
        return f"semantic_source={self.config.semantic_source!r}, standardize={self.config.standardize}"
