"""The autoregressive motion decoder shared by FaceFormer, CodeTalker stage 2 (and LG-LDM): FaceFormer's
one-line ``nn.TransformerDecoder`` written out, with its periodic positional encoding (PPE), its
ALiBi-like temporal bias, its audio-to-motion alignment mask, and a KV cache.

    dec = MotionDecoder(d_model=64, n_heads=4, d_ff=128, n_layers=1, period=30)
    y = dec(x + periodic_encoding(T, 64, 30), memory)       # all frames at once (teacher forcing)
    cache = dec.new_cache()
    y_t = dec.step(x_t + periodic_encoding(1, 64, 30, start=cache.length), memory, cache)   # one frame

Each layer is post-LN, as PyTorch's ``nn.TransformerDecoderLayer`` that the originals used:
x = LN(x + SelfAttn(x; temporal bias)), x = LN(x + CrossAttn(x, memory; alignment)), x = LN(x + FFN(x)),
FFN = Linear-ReLU-Dropout-Linear; dropout on the attention weights and on each residual branch.
The parameter names are PyTorch's (``layers.0.self_attn.in_proj_weight``, ``multihead_attn``,
``linear1``, ``norm3`` ...), so an official ``transformer_decoder.*`` state dict loads as is, and the
equivalence with ``nn.TransformerDecoder`` is tested weight for weight.

Deviations from the official code, and why:
* the bias and the PPE are computed for any length on the fly (the originals precomputed 600
  frames, and longer input crashed: FaceFormer issues #5, #48);
* the bias is broadcast per item of the batch (the original's (H, T, T) mask only worked for B = 1);
* ``step`` and a KV cache: a new frame attends to the cached keys/values of the previous frames, so
  generation costs O(T) one-token steps instead of re-running the decoder on the whole prefix
  (O(T^2) tokens). In eval mode it equals ``forward`` on the prefix (tested); the cross-attention
  reads only the memory token the alignment mask allows (the same softmax, without the zeros). That is
  one token, and a softmax over one key is 1, so in eval its output, out_proj(v_t), is made once for all
  frames; the temporal bias of a step is a slice of one row made once per cache.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F


def periodic_encoding(T: int, d_model: int, period: int, start: int = 0, device=None,
                      dtype=torch.float32) -> torch.Tensor:  # fmt: skip
    """(T, d_model): the sinusoidal encoding of (pos mod period) for pos = start .. start + T - 1."""
    pos = ((torch.arange(T, device=device) + start) % period).to(torch.float64).unsqueeze(1)  # (T, 1)
    div = torch.exp(
        torch.arange(0, d_model, 2, device=device, dtype=torch.float64) * (-math.log(10000.0) / d_model)
    )
    pe = torch.zeros(T, d_model, device=device, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(pos * div)
    pe[:, 1::2] = torch.cos(pos * div[: d_model // 2])
    return pe.to(dtype)


def alibi_slopes(n_heads: int) -> list[float]:
    """ALiBi's head slopes (a geometric sequence; 4 heads: 1/4, 1/16, 1/64, 1/256)."""

    def power_of_2(n: int) -> list[float]:
        start = 2 ** (-(2 ** -(math.log2(n) - 3)))
        return [start * start**i for i in range(n)]

    if math.log2(n_heads).is_integer():
        return power_of_2(n_heads)
    closest = 2 ** math.floor(math.log2(n_heads))  # ALiBi's rule for other head counts
    return power_of_2(closest) + alibi_slopes(2 * closest)[0::2][: n_heads - closest]


def temporal_bias(n_heads: int, T_q: int, T_k: int, period: int, q_start: int = 0, device=None,
                  dtype=torch.float32) -> torch.Tensor:  # fmt: skip
    """(n_heads, T_q, T_k) additive: -m_h * floor((i - j) / period) for key j <= query i = q_start + row,
    -inf for j > i (causal)."""
    i = torch.arange(T_q, device=device).unsqueeze(1) + q_start  # (T_q, 1)
    j = torch.arange(T_k, device=device).unsqueeze(0)  # (1, T_k)
    lag = torch.div(i - j, period, rounding_mode="floor").to(dtype)  # (T_q, T_k)
    m = torch.tensor(alibi_slopes(n_heads), device=device, dtype=dtype).view(-1, 1, 1)  # (H, 1, 1)
    return (-m * lag).masked_fill(j > i, float("-inf"))  # (H, T_q, T_k)


def alignment_mask(T_q: int, T_k: int, q_start: int = 0, device=None) -> torch.Tensor:
    """(T_q, T_k) bool, True where motion frame i = q_start + row may read audio token j: j == i
    (FaceFormer's VOCASET rule; F_p comes at the face frame rate)."""
    i = torch.arange(T_q, device=device).unsqueeze(1) + q_start
    return i == torch.arange(T_k, device=device).unsqueeze(0)


class KVCache:
    """Per layer, the self-attention keys/values of the frames decoded so far (``length`` of them),
    and the projected memory of the cross-attention (one cache belongs to one memory)."""

    def __init__(self, n_layers: int):
        self.length = 0  # frames already decoded
        self.keys: list[torch.Tensor | None] = [None] * n_layers  # (B, H, capacity, hd)
        self.values: list[torch.Tensor | None] = [None] * n_layers
        self.memory_kv: list[tuple[torch.Tensor, torch.Tensor] | None] = [None] * n_layers  # (B, H, S, hd)
        self.memory_out: list[torch.Tensor | None] = [None] * n_layers  # (B, S, d): out_proj(v) of each token
        self.memory: torch.Tensor | None = None
        self.bias: torch.Tensor | None = None  # (H, 1, S): the temporal bias of query S - 1 over keys 0 .. S - 1

    def append(self, layer: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Store frame ``length``'s k, v (B, H, 1, hd) for `layer`; -> all keys, values (B, H, length + 1, hd)."""
        t, K, V = self.length, self.keys[layer], self.values[layer]
        if torch.is_grad_enabled() and (k.requires_grad or v.requires_grad):  # training: keep the graph
            K, V = (k, v) if t == 0 else (torch.cat([K[:, :, :t], k], 2), torch.cat([V[:, :, :t], v], 2))
        else:  # inference: write in place, capacity doubling (no O(T^2) copies)
            if K is None or K.shape[2] <= t:
                cap = max(64, 2 * t)
                K2, V2 = (
                    k.new_empty(*k.shape[:2], cap, k.shape[3]),
                    v.new_empty(*v.shape[:2], cap, v.shape[3]),
                )
                if t:
                    K2[:, :, :t], V2[:, :, :t] = K[:, :, :t], V[:, :, :t]
                K, V = K2, V2
            K[:, :, t : t + 1], V[:, :, t : t + 1] = k, v
        self.keys[layer], self.values[layer] = K, V
        return K[:, :, : t + 1], V[:, :, : t + 1]


class Attention(nn.Module):
    """Multi-head attention with ``nn.MultiheadAttention``'s parameters (packed in-projection)."""

    def __init__(self, d_model: int, n_heads: int, dropout: float):
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"d_model {d_model} is not divisible by n_heads {n_heads}")
        self.n_heads, self.dropout = n_heads, dropout
        self.in_proj_weight = nn.Parameter(torch.empty(3 * d_model, d_model))  # W_q; W_k; W_v
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * d_model))
        self.out_proj = nn.Linear(d_model, d_model)
        nn.init.xavier_uniform_(self.in_proj_weight)  # PyTorch's init
        nn.init.zeros_(self.out_proj.bias)

    def heads(self, x: torch.Tensor, part: slice) -> torch.Tensor:
        """x (B, T, d) -> the projection rows `part` (q, k, v or k and v) split into heads (B, H, T, hd) each."""
        y = F.linear(x, self.in_proj_weight[part], self.in_proj_bias[part])  # (B, T, n*d)
        B, T, _ = x.shape
        return y.view(B, T, -1, self.n_heads, x.shape[-1] // self.n_heads).permute(2, 0, 3, 1, 4)

    def q(self, x: torch.Tensor) -> torch.Tensor:
        return self.heads(x, slice(0, x.shape[-1]))[0]  # (B, H, T, hd)

    def kv(self, x: torch.Tensor) -> torch.Tensor:
        return self.heads(x, slice(x.shape[-1], None))  # (2, B, H, T, hd)

    def attend(
        self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None
    ) -> torch.Tensor:
        y = F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, dropout_p=self.dropout if self.training else 0.0
        )
        B, H, T, hd = y.shape
        return self.out_proj(y.transpose(1, 2).reshape(B, T, H * hd))  # (B, T, d)


class DecoderLayer(nn.Module):
    """``nn.TransformerDecoderLayer(d, H, d_ff, dropout, batch_first=True)``: post-LN, ReLU."""

    def __init__(self, d_model: int, n_heads: int, d_ff: int, dropout: float):
        super().__init__()
        self.self_attn = Attention(d_model, n_heads, dropout)
        self.multihead_attn = Attention(d_model, n_heads, dropout)
        self.linear1, self.linear2 = nn.Linear(d_model, d_ff), nn.Linear(d_ff, d_model)
        self.norm1, self.norm2, self.norm3 = (
            nn.LayerNorm(d_model),
            nn.LayerNorm(d_model),
            nn.LayerNorm(d_model),
        )
        self.dropout, self.dropout1, self.dropout2, self.dropout3 = (nn.Dropout(dropout) for _ in range(4))

    def forward(
        self, x: torch.Tensor, memory: torch.Tensor, bias: torch.Tensor, align: torch.Tensor
    ) -> torch.Tensor:
        sa = self.self_attn
        x = self.norm1(x + self.dropout1(sa.attend(sa.q(x), *sa.kv(x), bias)))  # (B, T, d)
        ca = self.multihead_attn
        x = self.norm2(x + self.dropout2(ca.attend(ca.q(x), *ca.kv(memory), align)))
        return self.norm3(x + self.dropout3(self.linear2(self.dropout(F.relu(self.linear1(x))))))

    def step(self, x: torch.Tensor, bias: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
             cross: torch.Tensor | tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:  # fmt: skip
        """One frame x (B, 1, d) given all self-attention keys/values (its own included) and `cross`: the
        memory keys/values it may read, or (one key, eval) the cross-attention's output itself."""
        x = self.norm1(x + self.dropout1(self.self_attn.attend(self.self_attn.q(x), k, v, bias)))
        ca = self.multihead_attn
        if isinstance(cross, tuple):
            cross = ca.attend(ca.q(x), *cross, None)
        x = self.norm2(x + self.dropout2(cross))
        return self.norm3(x + self.dropout3(self.linear2(self.dropout(F.relu(self.linear1(x))))))


class MotionDecoder(nn.Module):
    """FaceFormer's ``nn.TransformerDecoder`` (no final norm): self-attention with the temporal bias,
    cross-attention to the audio memory with the alignment mask; batch first."""

    def __init__(
        self, d_model: int, n_heads: int, d_ff: int, n_layers: int, period: int, dropout: float = 0.1
    ):
        super().__init__()
        if period < 1 or n_layers < 1:
            raise ValueError(f"period and n_layers must be >= 1, got {period}, {n_layers}")
        self.n_heads, self.period = n_heads, period
        self.register_buffer("slopes", torch.tensor(alibi_slopes(n_heads)), persistent=False)  # (H,)
        self.layers = nn.ModuleList(DecoderLayer(d_model, n_heads, d_ff, dropout) for _ in range(n_layers))

    @staticmethod
    def _check(T: int, memory: torch.Tensor) -> None:
        if memory.ndim != 3 or memory.shape[1] < T:
            raise ValueError(
                f"memory: expected (B, S >= {T}, d) (one audio token per frame), got {tuple(memory.shape)}"
            )

    def forward(self, x: torch.Tensor, memory: torch.Tensor) -> torch.Tensor:
        """x (B, T, d) all frames at once, memory (B, S, d) -> (B, T, d)."""
        T, S = x.shape[1], memory.shape[1]
        self._check(T, memory)
        bias = temporal_bias(self.n_heads, T, T, self.period, device=x.device, dtype=x.dtype).unsqueeze(
            0
        )  # (1, H, T, T)
        align = alignment_mask(T, S, device=x.device)  # (T, S)
        for layer in self.layers:
            x = layer(x, memory, bias, align)
        return x

    def new_cache(self) -> KVCache:
        return KVCache(len(self.layers))

    def step(self, x_t: torch.Tensor, memory: torch.Tensor, cache: KVCache) -> torch.Tensor:
        """x_t (B, 1, d): the token at position cache.length -> (B, 1, d); appends its keys/values to the cache.
        Equals ``forward(prefix + x_t, memory)[:, -1:]``."""
        t, S = cache.length, memory.shape[1]
        self._check(t + 1, memory)
        if cache.memory is None:
            cache.memory = memory
            # the bias depends on i - j only: query t's row over keys 0..t is the tail of query S - 1's row
            cache.bias = temporal_bias(self.n_heads, 1, S, self.period, q_start=S - 1, device=x_t.device,
                                       dtype=x_t.dtype)  # (H, 1, S)  # fmt: skip
        elif cache.memory is not memory:
            raise ValueError("step: this KVCache was filled with another memory; start a new_cache()")
        bias = cache.bias[:, :, S - 1 - t :].unsqueeze(0)  # (1, H, 1, t + 1)
        x = x_t
        for i, layer in enumerate(self.layers):
            ca = layer.multihead_attn
            if cache.memory_kv[i] is None:
                cache.memory_kv[i] = tuple(ca.kv(memory))  # (B, H, S, hd) x 2
            if self.training:  # dropout on the attention weights: attend to the one key frame t may read
                cross = tuple(m[:, :, t : t + 1] for m in cache.memory_kv[i])
            else:  # a softmax over one key is 1: the output is out_proj(v_t), made once for all t
                if cache.memory_out[i] is None:
                    mem_v = cache.memory_kv[i][1]  # (B, H, S, hd)
                    cache.memory_out[i] = ca.out_proj(mem_v.transpose(1, 2).flatten(2))  # (B, S, d)
                cross = cache.memory_out[i][:, t : t + 1]  # (B, 1, d)
            k, v = cache.append(i, *layer.self_attn.kv(x))
            x = layer.step(x, bias, k, v, cross)
        cache.length = t + 1
        return x
