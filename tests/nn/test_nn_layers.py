"""The shared layers against the formulas written out by hand (minGPT-style equivalence)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn as nn

from w2s.nn.layers import Block, SelfAttention, masked_mean, masked_mse, n_parameters

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def mask_of(lengths, T):
    return torch.arange(T)[None, :] < torch.tensor(lengths)[:, None]


def test_masked_mean_is_the_mean_of_the_valid_frames():
    h = torch.randn(2, 5, 3)
    out = masked_mean(h, mask_of([3, 5], 5))
    torch.testing.assert_close(out[0], h[0, :3].mean(0))
    torch.testing.assert_close(out[1], h[1].mean(0))


def test_masked_mse_weighs_every_valid_frame_once():
    pred, target = torch.randn(2, 4, 3, 3), torch.randn(2, 4, 3, 3)
    mask = mask_of([4, 1], 4)
    frames = torch.cat([(pred[0] - target[0]), (pred[1, :1] - target[1, :1])])  # the 5 real frames
    torch.testing.assert_close(masked_mse(pred, target, mask), frames.pow(2).mean())
    with pytest.raises(ValueError, match="masked_mse"):
        masked_mse(pred, target, mask[:, :3])


def test_self_attention_matches_the_formula():
    torch.manual_seed(0)
    att = SelfAttention(dim=8, n_head=2).eval()
    x, mask = torch.randn(2, 5, 8), mask_of([5, 3], 5)
    q, k, v = att.qkv(x).split(8, dim=2)
    out = torch.zeros(2, 5, 8)
    for b in range(2):
        n = int(mask[b].sum())
        for h in range(2):
            s = slice(4 * h, 4 * h + 4)
            w = torch.softmax(q[b, :, s] @ k[b, :n, s].T / math.sqrt(4), dim=-1)  # (T, n): valid keys only
            out[b, :, s] = w @ v[b, :n, s]
    torch.testing.assert_close(att(x, mask), att.proj(out), atol=1e-5, rtol=1e-5)


def test_block_padded_batch_equals_one_by_one():
    torch.manual_seed(0)
    block = Block(dim=8, n_head=2, mlp_dim=16, dropout=0.1).eval()
    items = [torch.randn(1, t, 8) for t in (5, 2, 4)]
    x = torch.zeros(3, 5, 8)
    for i, it in enumerate(items):
        x[i, : it.shape[1]] = it[0]
    out = block(x, mask_of([5, 2, 4], 5))
    for i, it in enumerate(items):
        n = it.shape[1]
        torch.testing.assert_close(
            out[i, :n], block(it, torch.ones(1, n, dtype=torch.bool))[0], atol=1e-5, rtol=0
        )
    names = sorted(block.state_dict())  # the lite Wav2Sem's saved names depend on these
    assert names[:4] == ["attn.proj.bias", "attn.proj.weight", "attn.qkv.bias", "attn.qkv.weight"]
    assert "mlp.0.weight" in names and "mlp.3.weight" in names


def test_n_parameters_counts_shared_tensors_once():
    lin = nn.Linear(3, 4)
    tied = nn.Sequential(lin, nn.ReLU(), lin)
    assert n_parameters(tied) == 3 * 4 + 4
    lin.bias.requires_grad_(False)
    assert n_parameters(tied, trainable_only=True) == 12
