"""VOCA's own parts: the PCA init of the decoder, the loss, the 16-frame windows and their BatchNorm, 'SAME' convs.

The shared contract (shapes, padding, the plug, save/load, overfitting) is in test_contract.py.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from w2s.data.batch import Batch, pad
from w2s.decoders import DecoderError
from w2s.decoders.voca import VOCA, VOCAConfig, conv_same, vertex_losses

pytestmark = pytest.mark.usefixtures("one_torch_thread")

V, D, S = 20, 6, 3


def model(**overrides) -> VOCA:
    torch.manual_seed(0)
    return VOCA(VOCAConfig.tiny(**{**dict(n_vertices=V, audio_dim=D, fused_dim=5, n_subjects=S), **overrides}))


def low_rank_offsets(rank: int = 6, seed: int = 0) -> list[torch.Tensor]:
    """Three sequences of displacements c_t B with a known basis B (rank, 3V) and codes of non-zero mean."""
    g = torch.Generator().manual_seed(seed)
    basis = torch.randn(rank, 3 * V, generator=g)
    codes = torch.randn(150, rank, generator=g) * torch.linspace(3, 0.5, rank) + 1.0
    return [x.view(-1, V, 3) for x in (codes @ basis).split([40, 60, 50])]


@pytest.mark.parametrize("bias", ["mean", "zero"])
@pytest.mark.parametrize("whiten", [True, False])
def test_pca_init_reconstructs_the_training_displacements(bias, whiten):
    from sklearn.decomposition import PCA

    offsets = low_rank_offsets()
    m = model(expression_dim=6, decoder_bias=bias, pca_whiten=whiten)
    logs = m.prepare(offsets, seed=0)
    X = torch.cat(offsets)  # (N, V, 3)
    recon = m.decoder(m.codes_of(X)).view_as(X)  # offsets -> codes -> the decoder
    torch.testing.assert_close(recon, X, atol=2e-4, rtol=1e-4)
    ref = PCA(n_components=6).fit(X.reshape(len(X), -1).numpy())
    np.testing.assert_allclose(logs["explained_variance_ratio"], ref.explained_variance_ratio_, rtol=1e-4)
    assert logs["pca_components"] == 6 and abs(logs["explained_variance_total"] - 1) < 1e-4
    W, b = m.decoder.weight.detach().double(), m.decoder.bias.detach().double()  # (3V, E), (3V,)
    scale = torch.tensor(ref.explained_variance_, dtype=torch.float64) if whiten else torch.ones(6, dtype=torch.float64)
    torch.testing.assert_close(W.T @ W, torch.diag(scale), atol=1e-3 * scale.max(), rtol=1e-3)  # orthogonal columns
    torch.testing.assert_close(b, torch.as_tensor(ref.mean_, dtype=torch.float64) if bias == "mean" else 0 * b,
                               atol=1e-4, rtol=1e-4)  # fmt: skip
    if whiten and bias == "mean":  # unit-variance, zero-mean codes on the training frames
        c = m.codes_of(X)
        torch.testing.assert_close(c.mean(0), torch.zeros(6), atol=1e-3, rtol=0)
        torch.testing.assert_close(c.var(0, correction=1), torch.ones(6), atol=1e-3, rtol=0)


def test_pca_init_with_fewer_frames_than_codes_leaves_the_rest_zero():
    m = model(expression_dim=8)
    logs = m.prepare([torch.randn(4, V, 3)])
    assert logs["pca_components"] == 3  # 4 frames about their mean span 3 directions; a 4th has no variance
    assert not m.decoder.weight[:, 3:].any() and m.decoder.weight[:, :3].abs().sum() > 0
    with pytest.raises(DecoderError, match="vertices"):
        m.prepare([torch.randn(4, V + 1, 3)])


def test_vertex_losses_hand_case():
    target = torch.tensor([[0.0, 0, 0], [1, 0, 0], [1, 2, 0], [9, 9, 9]]).view(1, 4, 1, 3)  # frame 3: padding
    mask = torch.tensor([[True, True, True, False]])
    pos, vel = vertex_losses(torch.zeros_like(target), target, mask)
    assert pos.item() == pytest.approx((0 + 1 + 5) / 3)  # squared L2 over xyz, mean over valid frames
    assert vel.item() == pytest.approx((1 + 4) / 2)  # velocities (1,0,0), (0,2,0); no pair into the padding

    # through the model: a zero decoder predicts the template, loss = position + 10 x velocity
    m = model(n_vertices=1)
    with torch.no_grad():
        m.decoder.weight.zero_()
        m.decoder.bias.zero_()
    template = torch.full((1, 1, 3), 0.5)
    batch = Batch(template=template, subject_index=torch.tensor([0]), vertices=template.unsqueeze(1) + target,
                  vertex_mask=mask, features=torch.randn(1, 4, D), feature_mask=mask)  # fmt: skip
    loss, logs = m.loss(batch)
    assert loss.item() == pytest.approx(2 + 10 * 2.5, rel=1e-5)
    assert logs == pytest.approx({"position": 2.0, "velocity": 2.5}, rel=1e-5)


def test_windows_see_zeros_past_the_edges_and_16_frames():
    m = model().eval()
    T, w = 5, 16
    F_d = torch.randn(1, T, 5)
    subject = torch.tensor([1])
    codes = m.encode(F_d, subject, torch.ones(1, T, dtype=torch.bool))  # (T, E)
    # the same frames inside 8 explicit zero frames each side: the middle codes do not change
    padded = F.pad(F_d, (0, 0, 8, 8))
    inner = m.encode(padded, subject, torch.ones(1, T + 16, dtype=torch.bool))[8 : 8 + T]
    torch.testing.assert_close(inner, codes, atol=1e-6, rtol=1e-6)
    # frame t sees frames t-8 .. t+7 only
    long = torch.randn(1, 40, 5)
    base = m.encode(long, subject, torch.ones(1, 40, dtype=torch.bool))[20]
    for k, seen in [(12, True), (27, True), (11, False), (28, False)]:
        moved = long.clone()
        moved[0, k] += 1.0
        out = m.encode(moved, subject, torch.ones(1, 40, dtype=torch.bool))[20]
        assert (not torch.allclose(out, base)) is seen, k
    assert w == m.config.window


def test_batchnorm_statistics_come_from_the_valid_windows_of_each_item():
    """Train mode: the batch statistics are those of the explicit windows of every valid frame, item by item."""
    m = model(bn_momentum=1.0).train()  # running stats = the last batch's
    lengths = (7, 3)
    feats = [torch.randn(t, 5) for t in lengths]
    F_d, mask = pad(feats)
    F_d[1, 3:] = 50.0  # junk in the padding: must not reach the statistics (nor the other item's windows)
    m.encode(F_d, torch.tensor([0, -1]), mask)
    windows = []
    for f in feats:  # VOCA's rule, written out: zero-pad by 8 each side, one 16-frame window per frame
        z = torch.cat([torch.zeros(8, 5), f, torch.zeros(8, 5)])
        windows += [z[t : t + 16] for t in range(len(f))]
    x = torch.stack(windows)  # (N, 16, C)
    torch.testing.assert_close(m.bn.running_mean, x.mean((0, 1)), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(m.bn.running_var, x.var((0, 1)), atol=1e-5, rtol=1e-5)  # unbiased, as torch keeps it


def test_conv_same_matches_tensorflow_padding():
    conv = nn.Conv1d(2, 3, kernel_size=3, stride=2)
    for L, pads in [(16, (0, 1)), (8, (0, 1)), (2, (0, 1)), (1, (1, 1)), (5, (1, 1))]:
        x = torch.randn(4, 2, L)
        out = conv_same(conv, x)
        assert out.shape[-1] == -(-L // 2)
        torch.testing.assert_close(out, conv(F.pad(x, pads)))


def test_config_checks_and_paper_sizes():
    with pytest.raises(DecoderError, match="steps"):
        VOCAConfig.tiny(window=32)  # 4 stride-2 convs leave 2 steps
    with pytest.raises(DecoderError, match="decoder_bias"):
        VOCAConfig.tiny(decoder_bias="median")
    cfg = VOCAConfig.paper()
    assert (cfg.n_vertices, cfg.expression_dim, cfg.audio_dim, cfg.window) == (5023, 50, 29, 16)
    with torch.device("meta"):
        m = VOCA(cfg)
    assert tuple(m.decoder.weight.shape) == (5023 * 3, 50)
    assert [c.out_channels for c in m.convs] == [32, 32, 64, 64] and m.convs[0].in_channels == 29 + 8
    assert m.fc.in_features == 64 + 8 and m.fc.out_features == 128
