"""CodeTalker's stage 1: a VQ-VAE that learns a discrete motion prior from vertex offsets (no audio).

    vq = VQVAE(VQVAEConfig.tiny(n_vertices=V))
    z = vq.encode(offsets, mask)                    # (B, T, V, 3) -> (B, T, face_quan_num, zquant_dim)
    z_q, indices, vq_loss = vq.quantize(z, mask)    # nearest codebook rows, straight-through gradient
    offsets = vq.decode(z_q, mask)                  # -> (B, T, V, 3)
    vq = load_or_train_vqvae(train_offsets, VQVAEConfig.tiny(n_vertices=V), seed=0, cache_dir="data/cache")

Per frame (no temporal downsampling, ``quant_factor`` 0), as the official ``stage1_vocaset.py``:

    encoder  Linear(V*3 -> h) + LeakyReLU -> Conv1d(k5, replicate) + LeakyReLU + InstanceNorm
             -> Linear(h -> h) -> "PE" -> n pre-LN transformer blocks -> reshape (face_quan_num, zquant_dim)
    codebook n_embed rows shared by every token; loss beta*||sg(e) - z||^2 + ||e - sg(z)||^2
    decoder  reshape -> Conv1d + LeakyReLU + InstanceNorm -> Linear -> "PE" -> n blocks -> Linear(h -> V*3)
    training L1(reconstruction) + vq_loss

Kept faithful, each behind a flag: the attention scale 1/sqrt(hidden_size) instead of 1/sqrt(head_dim)
(``attn_scale_hidden``) and the "positional encoding" that adds the sinusoid's position-0 row, a
constant (0, 1, 0, 1, ...), to every frame, then dropout 0.1 (``constant_pe``; the official module
indexes a (L, B, C) table with the batch size, so at batch 1 only row 0 is used). False gives head_dim
scaling and a real sinusoid over positions.

Deviations from the official code, and why:
* padding: the official code ran one sequence per batch. Here the k5 replicate padding repeats each
  item's own last frame, InstanceNorm's mean and variance are over the valid frames only, attention
  ignores padded keys, and vq_loss / L1 count valid frames only: a padded batch equals item by item;
* the constant "PE" is row 0 for every item (the official code would add row b to item b of a batch);
* a one-frame sequence needs no duplication here (the masked InstanceNorm of one frame is 0, which is
  what the official duplicate-then-normalise gives);
* ``load_or_train_vqvae(zero_init_output=True)`` (the ``tiny`` recipe) starts the output layer at 0;
* training uses ``w2s.train.fit`` (AdamW, warmup + cosine) instead of AdamW + StepLR(20, 0.5) at batch 1.
BIWI's variant (8 x 128 codes, a Linear after the encoder's and before the decoder's transformer, no
bias on the output layer) is the override ``face_quan_num=8, zquant_dim=128`` without those two linears.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, fields
from pathlib import Path
from typing import ClassVar

import torch
import torch.nn as nn
import torch.nn.functional as F

from w2s.data.batch import pad
from w2s.nn.checkpoint import CheckpointMixin, Config
from w2s.train import TrainConfig, fit
from w2s.utils.hashing import key_of, sha256_tensors
from w2s.utils.io import output_lock


class VQVAEError(ValueError):
    """A VQ-VAE config or input that cannot be used; the message says which and why."""


@dataclass(frozen=True)
class VQVAEConfig(Config):
    n_vertices: int = 5023  # V: the input is V*3 offsets per frame
    hidden_size: int = 1024  # h, the frame feature (= face_quan_num * zquant_dim)
    num_hidden_layers: int = 6  # transformer blocks in the encoder and in the decoder, each
    num_attention_heads: int = 8
    intermediate_size: int = 1536  # MLP width
    n_embed: int = 256  # codebook rows, shared by every token
    face_quan_num: int = 16  # tokens per frame (BIWI: 8)
    zquant_dim: int = 64  # code size (BIWI: 128)
    beta: float = 0.25  # commitment weight
    neg: float = 0.2  # LeakyReLU slope
    kernel_size: int = 5  # temporal conv, replicate padding
    pe_dropout: float = 0.1  # dropout after the "positional encoding"
    constant_pe: bool = True  # faithful: add the sinusoid's row 0 to every frame; False: a real sinusoid
    attn_scale_hidden: bool = True  # faithful: scores / sqrt(hidden_size); False: / sqrt(head_dim)

    error_class: ClassVar[type[Exception]] = VQVAEError
    presets: ClassVar[tuple[str, ...]] = ("paper", "tiny")

    def __post_init__(self):
        if self.face_quan_num * self.zquant_dim != self.hidden_size:
            raise VQVAEError(f"face_quan_num * zquant_dim must equal hidden_size, got "
                             f"{self.face_quan_num} * {self.zquant_dim} != {self.hidden_size}")  # fmt: skip
        if self.hidden_size % self.num_attention_heads:
            raise VQVAEError(
                f"hidden_size {self.hidden_size} is not divisible by {self.num_attention_heads} heads"
            )
        if self.kernel_size % 2 == 0 or min(self.n_vertices, self.n_embed, self.num_hidden_layers) < 1:
            raise VQVAEError("kernel_size must be odd; n_vertices, n_embed and num_hidden_layers >= 1")

    @classmethod
    def paper(cls, **overrides) -> VQVAEConfig:
        """VOCASET (``config/vocaset/stage1.yaml``). BIWI: face_quan_num=8, zquant_dim=128, n_vertices=23370."""
        return cls(**overrides)

    @classmethod
    def tiny(cls, **overrides) -> VQVAEConfig:
        """The CPU default; n_vertices comes as an override."""
        base = dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128,
                    n_embed=256, face_quan_num=4, zquant_dim=16)  # fmt: skip
        return cls(**{**base, **overrides})


def sinusoid(positions: torch.Tensor, dim: int) -> torch.Tensor:
    """The transformer sinusoid: positions (T,) -> (T, dim), sin on even channels, cos on odd ones."""
    div = torch.exp(
        torch.arange(0, dim, 2, dtype=torch.float32, device=positions.device) * (-math.log(1e4) / dim)
    )
    pe = torch.zeros(len(positions), dim, device=positions.device)
    pe[:, 0::2] = torch.sin(positions[:, None].float() * div)
    pe[:, 1::2] = torch.cos(positions[:, None].float() * div)[:, : dim // 2]
    return pe


def masked_instance_norm(x: torch.Tensor, mask: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """InstanceNorm1d(affine=False) over each item's valid frames: x (B, T, C), mask (B, T) -> (B, T, C)."""
    m = mask.to(x.dtype).unsqueeze(-1)  # (B, T, 1)
    n = m.sum(1, keepdim=True).clamp_min(1.0)
    mean = (x * m).sum(1, keepdim=True) / n  # (B, 1, C)
    var = ((x - mean).pow(2) * m).sum(1, keepdim=True) / n  # biased, as InstanceNorm
    return (x - mean) / torch.sqrt(var + eps) * m


class ConvBlock(nn.Module):
    """Conv1d(k, replicate padding at each item's own ends) + LeakyReLU + InstanceNorm over valid frames."""

    def __init__(self, dim: int, kernel_size: int, neg: float):
        super().__init__()
        self.conv = nn.Conv1d(dim, dim, kernel_size)  # padded by hand in forward
        self.neg = neg

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape
        p = self.conv.kernel_size[0] // 2
        t = torch.arange(-p, T + p, device=x.device).clamp_min(0)  # (T + 2p,)
        idx = torch.minimum(t[None], mask.sum(1, keepdim=True) - 1).clamp_min(
            0
        )  # (B, T + 2p): replicate ends
        xp = x.gather(1, idx[..., None].expand(-1, -1, C))  # (B, T + 2p, C)
        y = F.leaky_relu(self.conv(xp.transpose(1, 2)).transpose(1, 2), self.neg)  # (B, T, C)
        return masked_instance_norm(y, mask)


class Block(nn.Module):
    """CodeTalker's pre-LN block: x + Attention(LN x) (qkv without bias), then x + MLP(LN x) (GELU)."""

    def __init__(self, cfg: VQVAEConfig):
        super().__init__()
        h = cfg.hidden_size
        self.n_head = cfg.num_attention_heads
        self.scale = h**-0.5 if cfg.attn_scale_hidden else (h // self.n_head) ** -0.5
        self.ln_1 = nn.LayerNorm(h)
        self.to_qkv = nn.Linear(h, 3 * h, bias=False)
        self.to_out = nn.Linear(h, h)
        self.ln_2 = nn.LayerNorm(h)
        self.mlp = nn.Sequential(
            nn.Linear(h, cfg.intermediate_size), nn.GELU(), nn.Linear(cfg.intermediate_size, h)
        )

    def forward(self, x: torch.Tensor, mask: torch.Tensor, last_only: bool = False) -> torch.Tensor:
        """x (B, T, C), mask (B, T) -> (B, T, C); last_only: (B, 1, C), the last frame's output alone (every
        frame is still a key and a value)."""
        B, T, C = x.shape
        q, k, v = (
            t.view(B, T, self.n_head, -1).transpose(1, 2) for t in self.to_qkv(self.ln_1(x)).split(C, -1)
        )
        if last_only:
            q, x = q[:, :, -1:], x[:, -1:]
        y = F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask[:, None, None, :], scale=self.scale
        )  # (B, H, T_q, hd)
        x = x + self.to_out(y.transpose(1, 2).reshape(B, -1, C))
        return x + self.mlp(self.ln_2(x))  # (B, T_q, C)


class Stack(nn.Module):
    """ConvBlock -> Linear -> "PE" + dropout -> transformer blocks: the shared middle of encoder and decoder."""

    def __init__(self, cfg: VQVAEConfig):
        super().__init__()
        self.cfg = cfg
        self.squasher = ConvBlock(cfg.hidden_size, cfg.kernel_size, cfg.neg)
        self.linear_embedding = nn.Linear(cfg.hidden_size, cfg.hidden_size)
        self.dropout = nn.Dropout(cfg.pe_dropout)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.num_hidden_layers))
        self.register_buffer("pe0", sinusoid(torch.zeros(1), cfg.hidden_size), persistent=False)  # (1, h)

    def forward(self, x: torch.Tensor, mask: torch.Tensor, last_only: bool = False) -> torch.Tensor:
        """(B, T, h), (B, T) -> (B, T, h); last_only: (B, 1, h), the last frame (its last block runs one query)."""
        x = self.linear_embedding(self.squasher(x, mask))  # (B, T, h)
        pe = (
            self.pe0
            if self.cfg.constant_pe
            else sinusoid(torch.arange(x.shape[1], device=x.device), x.shape[-1])
        )
        x = self.dropout(x + pe)
        for i, block in enumerate(self.blocks):
            x = block(x, mask, last_only=last_only and i == len(self.blocks) - 1)
        return x[:, -1:] if last_only else x


class VQVAE(nn.Module, CheckpointMixin):
    config_class = VQVAEConfig
    error_class = VQVAEError

    def __init__(self, config: VQVAEConfig):
        super().__init__()
        self.config = cfg = config
        self.vertice_mapping = nn.Linear(3 * cfg.n_vertices, cfg.hidden_size)
        self.encoder = Stack(cfg)
        self.codebook = nn.Embedding(cfg.n_embed, cfg.zquant_dim)
        nn.init.uniform_(self.codebook.weight, -1.0 / cfg.n_embed, 1.0 / cfg.n_embed)
        self.decoder = Stack(cfg)
        self.vertice_map_reverse = nn.Linear(cfg.hidden_size, 3 * cfg.n_vertices)

    def _mask(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        if mask is None:
            return torch.ones(x.shape[:2], dtype=torch.bool, device=x.device)
        if tuple(mask.shape) != tuple(x.shape[:2]):
            raise VQVAEError(f"mask must be (B, T) = {tuple(x.shape[:2])}, got {tuple(mask.shape)}")
        return mask.bool()

    def encode(self, offsets: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """offsets (B, T, V, 3) (vertices - template), mask (B, T) -> z (B, T, face_quan_num, zquant_dim)."""
        cfg = self.config
        if offsets.ndim != 4 or offsets.shape[2:] != (cfg.n_vertices, 3):
            raise VQVAEError(f"offsets must be (B, T, {cfg.n_vertices}, 3), got {tuple(offsets.shape)}")
        B, T = offsets.shape[:2]
        mask = self._mask(offsets, mask)
        h = F.leaky_relu(self.vertice_mapping(offsets.reshape(B, T, -1)), cfg.neg)  # (B, T, h)
        z = self.encoder(h, mask) * mask[..., None]  # (B, T, h)
        return z.view(B, T, cfg.face_quan_num, cfg.zquant_dim)

    def quantize(self, z: torch.Tensor, mask: torch.Tensor | None = None):
        """z (B, T, N, D) -> z_q (straight-through), indices (B, T, N), vq_loss (mean over valid frames)."""
        e = self.codebook.weight  # (n_embed, D)
        flat = z.reshape(-1, z.shape[-1])  # (M, D)
        d = flat.pow(2).sum(1, keepdim=True) + e.pow(2).sum(1) - 2 * flat @ e.t()  # (M, n_embed)
        indices = d.argmin(1).view(z.shape[:-1])  # (B, T, N)
        e_z = F.embedding(indices, e)  # (B, T, N, D)
        m = self._mask(z, mask).to(z.dtype)[..., None, None]  # (B, T, 1, 1)
        n = m.sum().clamp_min(1.0) * z.shape[2] * z.shape[3]
        vq_loss = (
            self.config.beta * ((e_z.detach() - z).pow(2) * m).sum() + ((e_z - z.detach()).pow(2) * m).sum()
        ) / n
        return z + (e_z - z).detach(), indices, vq_loss

    def decode(
        self, z_q: torch.Tensor, mask: torch.Tensor | None = None, last_only: bool = False
    ) -> torch.Tensor:
        """z_q (B, T, N, D), mask (B, T) -> offsets (B, T, V, 3), 0 on padded frames; last_only: (B, 1, V, 3)
        of the last frame (every frame still goes through all but the last block: the decoder is bidirectional)."""
        B, T = z_q.shape[:2]
        mask = self._mask(z_q, mask)
        h = self.decode_hidden(z_q, mask, last_only)  # (B, T or 1, h)
        if last_only:
            return self.vertice_map_reverse(h).view(B, 1, -1, 3)
        return (self.vertice_map_reverse(h) * mask[..., None]).view(B, T, -1, 3)

    def decode_hidden(self, z_q: torch.Tensor, mask: torch.Tensor | None = None, last_only: bool = False) -> torch.Tensor:
        """The decoder's output before ``vertice_map_reverse``: z_q (B, T, N, D) -> (B, T, h), or (B, 1, h)."""
        B, T = z_q.shape[:2]
        return self.decoder(z_q.reshape(B, T, -1), self._mask(z_q, mask), last_only=last_only)

    def forward(self, offsets: torch.Tensor, mask: torch.Tensor | None = None):
        """offsets (B, T, V, 3) -> reconstruction (B, T, V, 3), indices (B, T, N), vq_loss."""
        z_q, indices, vq_loss = self.quantize(self.encode(offsets, mask), mask)
        return self.decode(z_q, mask), indices, vq_loss

    def loss(self, offsets: torch.Tensor, mask: torch.Tensor | None = None) -> tuple[torch.Tensor, dict]:
        """Training: L1(reconstruction) over valid frames + vq_loss -> (scalar, logs)."""
        mask = self._mask(offsets, mask)
        recon, indices, vq_loss = self(offsets, mask)
        m = mask.to(offsets.dtype)
        l1 = ((recon - offsets).abs().flatten(2).mean(-1) * m).sum() / m.sum().clamp_min(1.0)
        used = indices[mask].unique().numel()
        return l1 + vq_loss, {
            "l1": float(l1.detach()),
            "vq": float(vq_loss.detach()),
            "codes_used": float(used),
        }


def train_step(model: VQVAE, batch: tuple[torch.Tensor, torch.Tensor], device) -> tuple[torch.Tensor, dict]:
    """``step_fn`` for :func:`w2s.train.fit` on (offsets (B, T, V, 3), mask (B, T))."""
    offsets, mask = batch
    return model.loss(offsets.to(device), mask.to(device))


@dataclass(frozen=True)
class VQStage1Config:
    """CodeTalker's stage-1 fields (``codetalker_vqvae.VQVAEConfig`` without n_vertices, and its training
    recipe), named and defaulted as in :class:`CodeTalkerConfig`: equal values, one cached stage 1."""

    vq_hidden_size: int = 1024
    vq_num_hidden_layers: int = 6
    vq_num_attention_heads: int = 8
    vq_intermediate_size: int = 1536
    vq_n_embed: int = 256
    vq_face_quan_num: int = 16
    vq_zquant_dim: int = 64
    vq_beta: float = 0.25
    vq_neg: float = 0.2
    vq_kernel_size: int = 5
    vq_pe_dropout: float = 0.1
    vq_constant_pe: bool = True
    vq_attn_scale_hidden: bool = True
    # stage-1 training recipe (prepare): AdamW, warmup + cosine (the paper: lr 1e-4, batch 1, 200 epochs)
    stage1_steps: int = 2000
    stage1_batch_size: int = 8
    stage1_lr: float = 1e-4
    stage1_weight_decay: float = 0.01
    stage1_warmup_steps: int = 50
    stage1_zero_init_output: bool = False  # start stage 1's output layer at 0 (not in the original)

    @property
    def vqvae(self) -> VQVAEConfig:
        """Stage 1's config: the ``vq_*`` fields and n_vertices."""
        names = [f.name for f in fields(VQVAEConfig) if f.name != "n_vertices"]
        return VQVAEConfig(n_vertices=self.n_vertices, **{n: getattr(self, "vq_" + n) for n in names})

    @property
    def stage1_recipe(self) -> dict:
        """The keyword arguments of ``load_or_train_vqvae`` after (offsets, config, seed, cache_dir)."""
        return dict(steps=self.stage1_steps, batch_size=self.stage1_batch_size, lr=self.stage1_lr,
                    weight_decay=self.stage1_weight_decay, warmup_steps=self.stage1_warmup_steps,
                    zero_init_output=self.stage1_zero_init_output)  # fmt: skip

    @classmethod
    def stage1_of(cls, config) -> dict:
        """The stage-1 fields of another config (CodeTalker's): the same names, the same values."""
        return {f.name: getattr(config, f.name) for f in fields(VQStage1Config)}


def load_or_train_vqvae(offsets: list[torch.Tensor], config: VQVAEConfig, seed: int = 0, cache_dir=None,
                        steps: int = 2000, batch_size: int = 8, lr: float = 1e-4, weight_decay: float = 0.01,
                        warmup_steps: int = 50, zero_init_output: bool = False, device: str | None = None) -> VQVAE:  # fmt: skip
    """Stage 1 fitted on training offsets (T_i, V, 3) each, kept as ``cache_dir/codetalker-vqvae-<key>`` (key:
    the offsets' bytes, the config, seed and recipe) and loaded from there when present. The paper: AdamW lr
    1e-4, batch 1, 200 epochs. zero_init_output: the output layer starts at 0 (not in the original; it
    makes short CPU runs converge: Adam at lr 1e-3 takes hundreds of steps to shrink the default init's
    ~10 cm outputs to the ~1 mm of the offsets). Returns the model in eval mode; ``model.record`` says what was done."""
    if not offsets or any(o.ndim != 3 or tuple(o.shape[1:]) != (config.n_vertices, 3) for o in offsets):
        raise VQVAEError(
            f"load_or_train_vqvae: offsets must be a non-empty list of (T_i, {config.n_vertices}, 3)"
        )
    recipe = dict(seed=seed, steps=steps, batch_size=batch_size, lr=lr, weight_decay=weight_decay,
                  warmup_steps=warmup_steps, zero_init_output=zero_init_output)  # fmt: skip
    data = sha256_tensors(
        {f"{i:06d}": torch.as_tensor(o, dtype=torch.float32) for i, o in enumerate(offsets)}
    )
    key = key_of({"data": data, "config": config.to_dict(), "recipe": recipe})
    folder = Path(cache_dir) / f"codetalker-vqvae-{key}" if cache_dir is not None else None
    # trained here or read from the cache another process wrote: the caller's random state is left as it was
    with torch.random.fork_rng(devices=[]):
        if folder is None:
            return _train_vqvae(offsets, config, None, recipe, device)
        with output_lock(folder, wait=True, what="trained"):  # a process training the same stage 1: wait, then load
            if (folder / "model.safetensors").is_file():
                model = VQVAE.from_pretrained(folder)
                model.record = {"vqvae": str(folder), "cached": True}
                return model
            return _train_vqvae(offsets, config, folder, recipe, device)


def _train_vqvae(offsets, config: VQVAEConfig, folder: Path | None, recipe: dict, device) -> VQVAE:
    seed, steps = recipe["seed"], recipe["steps"]
    torch.manual_seed(seed)
    model = VQVAE(config)
    if recipe["zero_init_output"]:  # start from the template: offsets are ~1 mm, the default init outputs ~10 cm
        nn.init.zeros_(model.vertice_map_reverse.weight)
        nn.init.zeros_(model.vertice_map_reverse.bias)
    cfg = TrainConfig(max_steps=steps, batch_size=recipe["batch_size"], lr=recipe["lr"],
                      weight_decay=recipe["weight_decay"], warmup_steps=recipe["warmup_steps"], eval_every=0,
                      checkpoint_every=10**9, log_every=max(1, steps // 10), seed=seed)  # fmt: skip
    items = [torch.as_tensor(o, dtype=torch.float32) for o in offsets]
    t0 = time.perf_counter()
    hist = fit(model, items, pad, train_step, cfg, device=device, resume=False)
    model = model.cpu().eval()
    record = {"vqvae": str(folder) if folder else None, "cached": False, "seconds": time.perf_counter() - t0,
              "loss": hist.loss[-1], "l1": hist.logs["l1"][-1], "codes_used": hist.logs["codes_used"][-1]}  # fmt: skip
    if folder is not None:
        model.save_pretrained(folder)
    model.record = record
    return model
