"""One padding function, one mask check and one typed batch for every model.

    audio, mask = pad([wav_a, wav_b])          # (N_i,) -> (B, N_max), mask (B, N_max) bool
    F_p, mask = pad(features)                  # (T_i, D) -> (B, T_max, D)
    verts, mask = pad(vertices)                # (T_i, V, 3) -> (B, T_max, V, 3)
    batch = w2s.data.faces.collate(items)      # a Batch; batch.to("cuda"), batch.item(0)

Masks are True on valid entries and left-aligned (valid first, then padding); padding is zero.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace

import torch
from torch.nn.utils.rnn import pad_sequence


class BatchError(ValueError):
    """Sequences that cannot be padded together, or a mask or batch of the wrong shape."""


def pad(seqs, dtype: torch.dtype | None = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """Sequences (T_i, ...) (tensors or arrays) -> (B, T_max, ...) zero-padded, mask (B, T_max) bool.

    dtype: of the padded tensor (None keeps the inputs').
    """
    xs = [torch.as_tensor(s, dtype=dtype) for s in seqs]
    if not xs:
        raise BatchError("pad: no sequences")
    if any(x.ndim == 0 for x in xs) or len({tuple(x.shape[1:]) for x in xs}) > 1:
        raise BatchError(
            f"pad: expected (T_i, ...) sequences with the same trailing shape, got {[tuple(x.shape) for x in xs]}"
        )
    lengths = torch.tensor([len(x) for x in xs])  # (B,)
    padded = pad_sequence(xs, batch_first=True)  # (B, T_max, ...)
    return padded, lengths_to_mask(lengths, padded.shape[1])


def lengths_to_mask(lengths: torch.Tensor, T: int | None = None) -> torch.Tensor:
    """Lengths (B,) -> left-aligned mask (B, T) bool (T: the longest, by default)."""
    T = int(lengths.max()) if T is None else T
    return torch.arange(T, device=lengths.device)[None, :] < lengths[:, None]


def as_mask(mask, shape, what: str = "mask", error: type[Exception] = BatchError) -> torch.Tensor:
    """A bool mask (True = valid) of `shape`; 0/1 integers are converted; `error` for anything else."""
    if not isinstance(mask, torch.Tensor):
        mask = torch.as_tensor(mask)
    if tuple(mask.shape) != tuple(shape):
        raise error(f"{what}: expected shape {tuple(shape)}, got {tuple(mask.shape)}")
    if mask.dtype != torch.bool:
        if mask.dtype.is_floating_point or not ((mask == 0) | (mask == 1)).all():
            raise error(f"{what}: expected a bool mask (True = valid) or 0/1 integers, got {mask.dtype}")
        mask = mask.bool()
    return mask


def prefix_lengths(
    mask: torch.Tensor, what: str = "mask", error: type[Exception] = BatchError
) -> torch.Tensor:
    """Lengths (B,) of a left-aligned mask (B, T); `error` when an item has holes or no valid entry."""
    lengths = mask.sum(1)  # (B,)
    if not torch.equal(lengths_to_mask(lengths, mask.shape[1]), mask):
        bad = int((lengths_to_mask(lengths, mask.shape[1]) != mask).any(1).nonzero()[0])
        raise error(f"{what}: item {bad} is not left-aligned (valid entries first, then padding)")
    if (lengths == 0).any():
        raise error(f"{what}: item {int((lengths == 0).nonzero()[0])} has no valid entries")
    return lengths


@dataclass(repr=False)
class Batch:
    """A padded batch for the decoders (and Wav2Sem). Dimension 0 is the item; every mask is (B, T) bool.

    ``features`` (F_p) are the host encoder's frames at the face frame rate; ``F_s`` is one vector per
    item (Wav2Sem's, or the text embedding for the oracle), or, for a time-local source, one per frame of
    F_p (B, T, C_s), zero-padded like F_p. A mask left None while its tensor is given is filled with all-True.
    """

    template: torch.Tensor  # (B, V, 3) each item's neutral face
    subject_index: torch.Tensor  # (B,) int64 training identity, -1 for a subject not seen in training
    vertices: torch.Tensor | None = None  # (B, T, V, 3) ground truth, zero-padded
    vertex_mask: torch.Tensor | None = None  # (B, T)
    audio: torch.Tensor | None = None  # (B, N) 16 kHz, zero-padded
    audio_mask: torch.Tensor | None = None  # (B, N)
    features: torch.Tensor | None = None  # F_p (B, T, C_p)
    feature_mask: torch.Tensor | None = None  # (B, T)
    F_s: torch.Tensor | None = None  # (B, C_s), or (B, T, C_s) for a time-local source
    fps: float | None = None
    dataset: int = 0  # which dataset a multi-dataset host (UniTalker) reads the batch as: one per batch
    stems: list = field(default_factory=list)
    subjects: list = field(default_factory=list)
    sentences: list = field(default_factory=list)
    transcripts: list = field(default_factory=list)  # str | None per item
    alignments: list = field(default_factory=list)  # dict | None per item

    _PADDED = (("vertices", "vertex_mask"), ("audio", "audio_mask"), ("features", "feature_mask"))

    def __post_init__(self):
        B = len(self.template)
        if self.template.ndim != 3 or tuple(self.subject_index.shape) != (B,):
            raise BatchError(f"template (B, V, 3) and subject_index (B,): got {tuple(self.template.shape)}, "
                             f"{tuple(self.subject_index.shape)}")  # fmt: skip
        for name, mask_name in self._PADDED:
            x = getattr(self, name)
            if x is None:
                continue
            if len(x) != B:
                raise BatchError(f"{name}: {len(x)} items, template has {B}")
            m = getattr(self, mask_name)
            m = torch.ones(x.shape[:2], dtype=torch.bool, device=x.device) if m is None else m
            setattr(self, mask_name, as_mask(m, x.shape[:2], mask_name))
        if self.F_s is not None and (self.F_s.ndim not in (2, 3) or len(self.F_s) != B):
            raise BatchError(f"F_s: expected ({B}, C_s) or ({B}, T, C_s), got {tuple(self.F_s.shape)}")
        frames = self.features if self.features is not None else self.vertices
        if self.F_s is not None and self.F_s.ndim == 3 and frames is not None and self.F_s.shape[1] != frames.shape[1]:
            raise BatchError(f"F_s: a per-frame F_s needs the frames' T = {frames.shape[1]}, got {tuple(self.F_s.shape)}")

    def __len__(self) -> int:
        return len(self.template)

    @property
    def vertex_lengths(self) -> torch.Tensor | None:
        return None if self.vertex_mask is None else self.vertex_mask.sum(1)

    @property
    def audio_lengths(self) -> torch.Tensor | None:
        return None if self.audio_mask is None else self.audio_mask.sum(1)

    @property
    def feature_lengths(self) -> torch.Tensor | None:
        return None if self.feature_mask is None else self.feature_mask.sum(1)

    def _tensors(self) -> dict[str, torch.Tensor]:
        return {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if isinstance(getattr(self, f.name), torch.Tensor)
        }

    def to(self, device, non_blocking: bool = False) -> Batch:
        """The same batch with every tensor on `device`."""
        return replace(
            self, **{k: v.to(device, non_blocking=non_blocking) for k, v in self._tensors().items()}
        )

    def item(self, i: int) -> Batch:
        """Item i alone (a batch of one), cut to its own lengths: what the padded batch must equal."""
        out = {k: v[i : i + 1] for k, v in self._tensors().items()}
        for name, mask_name in self._PADDED:
            if name in out:
                n = int(out[mask_name].sum())
                out[name], out[mask_name] = out[name][:, :n], out[mask_name][:, :n]
        frame_mask = out.get("feature_mask", out.get("vertex_mask"))
        if "F_s" in out and out["F_s"].ndim == 3 and frame_mask is not None:  # a per-frame F_s: cut with the frames
            out["F_s"] = out["F_s"][:, : int(frame_mask.sum())]
        lists = {
            f.name: getattr(self, f.name)[i : i + 1]
            for f in fields(self)
            if isinstance(getattr(self, f.name), list)
        }
        return replace(self, **out, **lists)

    def __repr__(self) -> str:
        shapes = ", ".join(
            f"{k} {tuple(v.shape)}" for k, v in self._tensors().items() if not k.endswith("_mask")
        )
        return f"Batch(B={len(self)}, fps={self.fps}, {shapes}, stems={self.stems[:4]}{' ...' if len(self.stems) > 4 else ''})"



def frame_mask(x: torch.Tensor, mask, dim: int, error: type[Exception] = BatchError) -> torch.Tensor:
    """The checked validity mask (B, T) of encoder frames `x` (B, T, dim): `x` float and not empty, `mask`
    (None: all valid) bool or 0/1 and left-aligned; `error` naming what is wrong otherwise."""
    if x.ndim != 3 or x.shape[-1] != dim or not x.is_floating_point():
        raise error(f"features: expected float (B, T, {dim}), got {x.dtype} {tuple(x.shape)}")
    B, T, _ = x.shape
    if T == 0:
        raise error("features: T = 0 frames")
    mask = torch.ones(B, T, dtype=torch.bool, device=x.device) if mask is None else as_mask(mask, (B, T), "mask", error)
    prefix_lengths(mask, "mask", error)
    return mask.to(x.device)
