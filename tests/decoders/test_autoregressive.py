"""The shared autoregressive decoder: faithful to nn.TransformerDecoder, the KV cache equals the full
pass, and the bias / PPE / alignment follow their formulas at any length (no 600-frame cap)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn as nn

from w2s.decoders.autoregressive import (
    MotionDecoder,
    alibi_slopes,
    alignment_mask,
    periodic_encoding,
    temporal_bias,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")

D, H, FF, P = 16, 4, 32, 5  # d_model, heads, FFN, period (short, so that the bias changes within T)


def decoder(n_layers: int = 2, seed: int = 0) -> MotionDecoder:
    torch.manual_seed(seed)
    dec = MotionDecoder(D, H, FF, n_layers, P, dropout=0.1).eval()
    with torch.no_grad():  # non-trivial biases and norm gains: a swapped parameter would show
        for p in dec.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return dec


def test_forward_equals_torch_transformer_decoder():
    """minGPT-style: the official code's nn.TransformerDecoder (post-LN, ReLU, batch_first), the same
    weights, the temporal bias as a (B*H, T, T) float mask and the alignment as memory mask."""
    B, T = 3, 13
    ours = decoder()
    layer = nn.TransformerDecoderLayer(D, H, FF, dropout=0.1, batch_first=True)
    ref = nn.TransformerDecoder(layer, num_layers=2).eval()
    ref.load_state_dict(ours.state_dict())  # strict: the same parameter names and shapes
    x, memory = torch.randn(B, T, D), torch.randn(B, T, D)
    tgt_mask = temporal_bias(H, T, T, P).repeat(B, 1, 1)  # (B*H, T, T)
    memory_mask = ~alignment_mask(T, T)  # PyTorch: True = may NOT attend
    with torch.no_grad():
        expected = ref(x, memory, tgt_mask=tgt_mask, memory_mask=memory_mask)
        torch.testing.assert_close(ours(x, memory), expected, atol=1e-5, rtol=1e-5)


def test_step_with_cache_equals_forward():
    B, T = 3, 17
    dec = decoder()
    x, memory = torch.randn(B, T, D), torch.randn(B, T + 2, D)  # memory may be longer than the frames
    with torch.no_grad():
        full = dec(x, memory)
        cache = dec.new_cache()
        steps = torch.cat([dec.step(x[:, t : t + 1], memory, cache) for t in range(T)], 1)
    assert cache.length == T
    torch.testing.assert_close(steps, full, atol=1e-5, rtol=1e-5)
    # with gradients on (AR training): the same numbers, and the graph reaches the earlier tokens
    x.requires_grad_(True)
    cache = dec.new_cache()
    steps = torch.cat([dec.step(x[:, t : t + 1], memory, cache) for t in range(T)], 1)
    torch.testing.assert_close(steps, full, atol=1e-5, rtol=1e-5)
    steps[:, -1].sum().backward()
    assert x.grad[:, 0].abs().sum() > 0  # the last frame attends to the first


def test_step_in_training_mode_attends_like_forward():
    """Training mode takes the attention path for the one memory key (eval uses out_proj(v_t) directly);
    with dropout 0 both modes give forward's numbers."""
    torch.manual_seed(0)
    dec = MotionDecoder(D, H, FF, 2, P, dropout=0.0)
    x, memory = torch.randn(2, 11, D), torch.randn(2, 11, D)
    for training in (True, False):
        dec.train(training)
        with torch.no_grad():
            full, cache = dec(x, memory), dec.new_cache()
            steps = torch.cat([dec.step(x[:, t : t + 1], memory, cache) for t in range(11)], 1)
        torch.testing.assert_close(steps, full, atol=1e-5, rtol=1e-5)
        assert (cache.memory_out[0] is None) == training


def test_cache_belongs_to_one_memory():
    dec, memory = decoder(1), torch.randn(1, 4, D)
    cache = dec.new_cache()
    dec.step(torch.randn(1, 1, D), memory, cache)
    with pytest.raises(ValueError, match="another memory"):
        dec.step(torch.randn(1, 1, D), memory.clone(), cache)
    with pytest.raises(ValueError, match="memory"):
        dec(torch.randn(1, 5, D), memory)  # frame 4 has no audio token


def test_temporal_bias_formula_far_past_600_frames():
    slopes = alibi_slopes(4)
    assert slopes == [1 / 4, 1 / 16, 1 / 64, 1 / 256]
    assert alibi_slopes(8)[0] == 1 / 2 and len(alibi_slopes(6)) == 6
    T = 9000  # 5 min at 30 fps: rows near the end, against every key
    b = temporal_bias(4, 3, T, 30, q_start=T - 3)  # (4, 3, T): queries 8997, 8998, 8999
    assert b.shape == (4, 3, T)
    assert b[0, 2, 8999] == 0 and b[0, 2, 8970] == 0  # lags 0 and 29: the same period
    assert b[0, 2, 8969] == -1 / 4 and b[1, 2, 8969] == -1 / 16  # lag 30: one period back
    assert b[1, 2, 8939] == -2 / 16 and b[1, 2, 8940] == -1 / 16  # lags 60 and 59
    assert b[3, 0, 0] == -(8997 // 30) / 256  # 299 periods back
    assert b[2, 0, 8998] == float("-inf") and b[2, 1, 8998] == 0  # causal
    i, j = 8999, torch.arange(T)
    torch.testing.assert_close(b[1, 2], -(1 / 16) * torch.div(i - j, 30, rounding_mode="floor").float())
    # the same rows as the full matrix's (computed on a shorter one: the formula depends on i - j only)
    full = temporal_bias(2, 700, 700, 30)
    torch.testing.assert_close(temporal_bias(2, 5, 700, 30, q_start=650), full[:, 650:655])


def test_periodic_encoding_and_alignment_far_past_600_frames():
    pe = periodic_encoding(9000, 64, 30)  # (9000, 64)
    assert pe.shape == (9000, 64) and torch.isfinite(pe).all()
    torch.testing.assert_close(pe[8999], pe[29])  # periodic
    torch.testing.assert_close(periodic_encoding(4, 64, 30, start=8996), pe[8996:])
    assert pe[31, 0] == pytest.approx(math.sin(1.0)) and pe[31, 1] == pytest.approx(math.cos(1.0))
    assert pe[7, 2] == pytest.approx(math.sin(7 * 10000 ** (-2 / 64)))
    assert periodic_encoding(3, 5, 30).shape == (3, 5)  # odd width
    a = alignment_mask(2, 9000, q_start=8998)
    assert a.sum() == 2 and a[0, 8998] and a[1, 8999]
