"""The fusion plug F_d = W_out(W_s F_s + F_p): one path for train and eval, per-item broadcast, masks."""

from __future__ import annotations

import pytest
import torch

from w2s.fusion import FusionConfig, FusionError, SemanticFusion

A, S, D_OUT = 12, 8, 6  # audio_dim, semantic_dim, out_dim


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def make(source: str = "wav2sem", seed: int = 0) -> SemanticFusion:
    torch.manual_seed(seed)
    return SemanticFusion(FusionConfig(audio_dim=A, semantic_dim=S, out_dim=D_OUT, semantic_source=source))


def inputs(B: int = 3, T: int = 7, seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(B, T, A, generator=g), torch.randn(B, S, generator=g)


def reference(fuse: SemanticFusion, F_p: torch.Tensor, F_s: torch.Tensor | None) -> torch.Tensor:
    """The formula written out item by item and frame by frame (minGPT-style equivalence)."""
    B, T, _ = F_p.shape
    out = torch.empty(B, T, D_OUT)
    for b in range(B):
        s = fuse.W_s.weight @ F_s[b] + fuse.W_s.bias if F_s is not None else torch.zeros(A)  # (A,)
        for t in range(T):
            out[b, t] = fuse.W_out.weight @ (s + F_p[b, t]) + fuse.W_out.bias
    return out


def test_matches_the_formula_with_per_item_broadcast():
    fuse = make()
    F_p, F_s = inputs(B=3, T=3)  # B == T: the official [B,T,C] + [B,C] silently mixes items here
    torch.testing.assert_close(fuse(F_p, F_s), reference(fuse, F_p, F_s))
    official = fuse.W_out(F_p + fuse.W_s(F_s))  # broadcasts over the wrong axis
    assert not torch.allclose(official, reference(fuse, F_p, F_s), atol=1e-4)


def test_train_and_eval_give_the_same_output():
    fuse = make()
    F_p, F_s = inputs()
    mask = torch.ones(3, 7, dtype=torch.bool)
    mask[1, 5:] = False
    out_train = fuse.train()(F_p, F_s, mask)
    out_eval = fuse.eval()(F_p, F_s, mask)
    torch.testing.assert_close(out_train, out_eval, atol=0, rtol=0)
    assert not hasattr(fuse, "predict")  # one code path: no inference-only method to drift


def test_padded_batch_equals_item_by_item_and_padding_is_zero():
    fuse = make().eval()
    lengths = (7, 3, 5)
    g = torch.Generator().manual_seed(3)
    items = [torch.randn(1, t, A, generator=g) for t in lengths]
    F_s = torch.randn(3, S, generator=g)
    F_p = torch.full((3, 7, A), 9.0)  # garbage in the padding
    mask = torch.zeros(3, 7, dtype=torch.bool)
    for i, (x, t) in enumerate(zip(items, lengths)):
        F_p[i, :t] = x[0]
        mask[i, :t] = True
    out = fuse(F_p, F_s, mask)
    for i, (x, t) in enumerate(zip(items, lengths)):
        torch.testing.assert_close(out[i, :t], fuse(x, F_s[i : i + 1])[0], atol=1e-6, rtol=0)
        assert torch.all(out[i, t:] == 0)
    torch.testing.assert_close(fuse(F_p, F_s, mask.long()), out)  # 0/1 masks are accepted


def test_none_is_the_baseline_and_differs_only_by_the_semantic_term():
    base, plugged = make("none", seed=0), make("wav2sem", seed=0)
    assert base.W_s is None and sum(p.numel() for p in base.parameters()) == A * D_OUT + D_OUT
    torch.testing.assert_close(base.W_out.weight, plugged.W_out.weight)  # same seed -> same W_out
    F_p, F_s = inputs()
    out_base = base(F_p)
    torch.testing.assert_close(out_base, base.W_out(F_p))
    torch.testing.assert_close(base(F_p, F_s), out_base)  # F_s ignored
    out_plugged = plugged(F_p, F_s)
    assert not torch.allclose(out_plugged, out_base, atol=1e-3)
    # linear: the difference is exactly W_out applied to W_s F_s, the same on every frame
    delta = plugged.W_s(F_s) @ plugged.W_out.weight.T  # (B, D_OUT)
    torch.testing.assert_close(out_plugged - out_base, delta[:, None, :].expand(-1, 7, -1), atol=1e-5, rtol=0)


def test_oracle_text_is_the_same_computation():
    wav, oracle = make("wav2sem", seed=4), make("oracle_text", seed=4)
    F_p, F_s = inputs()
    torch.testing.assert_close(oracle(F_p, F_s), wav(F_p, F_s), atol=0, rtol=0)
    assert "oracle_text" in repr(oracle)


def test_W_s_is_used_in_eval():
    """The official predict() skipped W_s; here a changed W_s changes the eval output."""
    fuse = make().eval()
    F_p, F_s = inputs()
    before = fuse(F_p, F_s)
    with torch.no_grad():
        fuse.W_s.weight.mul_(2.0)
    after = fuse(F_p, F_s)
    assert not torch.allclose(before, after, atol=1e-4)
    torch.testing.assert_close(after, reference(fuse, F_p, F_s))
    with torch.no_grad():  # the official inference path (raw F_s, no W_s) is a different function
        official_predict = fuse.W_out(F_p + torch.nn.functional.pad(F_s, (0, A - S))[:, None, :])
    assert not torch.allclose(official_predict, after, atol=1e-3)


def test_gradients_reach_W_s_and_W_out():
    fuse = make().train()
    F_p, F_s = inputs()
    F_p.requires_grad_(True)
    mask = torch.ones(3, 7, dtype=torch.bool)
    mask[2, 4:] = False
    fuse(F_p, F_s, mask).pow(2).sum().backward()
    for name in ("W_s.weight", "W_s.bias", "W_out.weight", "W_out.bias"):
        grad = dict(fuse.named_parameters())[name].grad
        assert grad is not None and grad.abs().sum() > 0, name
    assert torch.all(F_p.grad[2, 4:] == 0) and F_p.grad[2, :4].abs().sum() > 0  # padded frames: no gradient


def test_errors():
    with pytest.raises(FusionError, match="semantic_source must be one of"):
        FusionConfig(A, S, D_OUT, semantic_source="bert")
    with pytest.raises(FusionError, match="out_dim must be >= 1"):
        FusionConfig(A, S, 0)
    fuse = make()
    F_p, F_s = inputs()
    with pytest.raises(FusionError, match=r"F_p: expected \(B, T, 12\), got \(3, 7, 11\)"):
        fuse(F_p[..., :11], F_s)
    with pytest.raises(FusionError, match=r"F_p: expected \(B, T, 12\), got \(7, 12\)"):
        fuse(F_p[0], F_s)
    with pytest.raises(FusionError, match=r"F_s: expected \(3, 8\).*got \(2, 8\)"):
        fuse(F_p, F_s[:2])
    with pytest.raises(FusionError, match=r"F_s: expected \(3, 8\).*got \(3, 1, 8\)"):
        fuse(F_p, F_s[:, None])
    with pytest.raises(FusionError, match="needs F_s"):
        fuse(F_p)
    with pytest.raises(FusionError, match="needs F_s"):
        make("oracle_text")(F_p, None)
    with pytest.raises(FusionError, match=r"mask \(of F_p\): expected shape \(3, 7\), got \(3, 6\)"):
        fuse(F_p, F_s, torch.ones(3, 6, dtype=torch.bool))
    with pytest.raises(FusionError, match="expected a bool mask"):
        fuse(F_p, F_s, torch.full((3, 7), 0.5))
    with pytest.raises(FusionError, match="expected a bool mask"):
        fuse(F_p, F_s, torch.full((3, 7), 2))
    ints = torch.ones(3, 7, dtype=torch.long)  # 0/1 integers are a mask too
    ints[1, 5:] = 0
    torch.testing.assert_close(fuse(F_p, F_s, ints), fuse(F_p, F_s, ints.bool()), atol=0, rtol=0)
