"""FaceFormer beyond the contract: the KV cache, long input, the gradient through the AR feedback,
the zero-initialised head, and the paper preset's size."""

from __future__ import annotations

import time

import pytest
import torch

from w2s.data.batch import Batch, pad
from w2s.decoders.faceformer import FaceFormer, FaceFormerConfig
from w2s.nn.layers import n_parameters

pytestmark = pytest.mark.usefixtures("one_torch_thread")

V, D, N_SUBJECTS = 6, 8, 3


def model(seed: int = 0, **overrides) -> FaceFormer:
    torch.manual_seed(seed)
    cfg = FaceFormerConfig.tiny(
        n_vertices=V, audio_dim=D, n_subjects=N_SUBJECTS, fused_dim=16, period=4, **overrides
    )
    m = FaceFormer(cfg)
    with torch.no_grad():  # larger than the init: the feedback matters
        for p in m.parameters():
            p.add_(0.2 * torch.randn_like(p))
    return m


def inputs(lengths=(9, 4, 6), seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    F_p, mask = pad([torch.randn(t, D, generator=g) for t in lengths])
    template = torch.randn(len(lengths), V, 3, generator=g)
    return F_p, template, torch.tensor([0, -1, 2][: len(lengths)]), mask


def test_cached_generation_equals_the_original_uncached_one():
    m, (F_p, template, subject, mask) = model().eval(), inputs()
    fast = m.generate(F_p, template, subject, mask=mask)
    slow = m.generate(F_p, template, subject, mask=mask, cache=False)
    assert fast.abs().max() > 0.1
    torch.testing.assert_close(fast, slow, atol=1e-5, rtol=1e-5)


def original_generate(m: FaceFormer, F_p, template, subject, mask):
    """The official loop, written out: the decoder re-run on the whole prefix, each frame's offsets through
    vertice_map_r and back through vertice_map as the next token (no cache, no composed feedback)."""
    F_d = m.read_audio(F_p, None, mask)  # (B, T, d)
    B, T, _ = F_d.shape
    style = m.style(subject, B, F_d)
    tokens, outs = m.first_token(style), []
    for t in range(T):
        h = m.transformer_decoder(tokens + m.ppe(t + 1, F_d), F_d)[:, -1:]
        outs.append(m.vertice_map_r(h))  # (B, 1, 3V)
        tokens = torch.cat([tokens, m.vertice_map(outs[-1]) + style], 1)
    verts = template.unsqueeze(1) + torch.cat(outs, 1).view(B, T, -1, 3)
    return verts * mask[:, :, None, None]


def test_generation_equals_the_official_loop():
    """minGPT-style: the KV cache, the one-key cross-attention and the feedback made one (d, d) map give
    what the original loop gives."""
    m, (F_p, template, subject, mask) = model().eval(), inputs()
    with torch.no_grad():
        expected = original_generate(m, F_p, template, subject, mask)
    assert expected.abs().max() > 0.1
    torch.testing.assert_close(m.generate(F_p, template, subject, mask=mask), expected, atol=1e-5, rtol=1e-5)


@pytest.mark.slow  # ~5 s idle, ~17 s on 2 busy cores
def test_five_minutes_of_frames_generate():
    """9000 frames (5 min at 30 fps): past the original's 600-frame cap, in O(T) cached steps."""
    torch.manual_seed(0)
    m = FaceFormer(FaceFormerConfig.tiny(n_vertices=4, audio_dim=4, n_subjects=1, fused_dim=8)).eval()
    T = 9000
    start = time.perf_counter()
    out = m.generate(torch.randn(1, T, 4), torch.zeros(1, 4, 3), torch.tensor([0]))
    assert out.shape == (1, T, 4, 3) and torch.isfinite(out).all()
    assert time.perf_counter() - start < 60  # a few seconds; the uncached O(T^2) loop would take many minutes


def ar_loss(m: FaceFormer, F_p, template, subject, mask, target) -> torch.Tensor:
    batch = Batch(template=template, subject_index=subject, vertices=target, vertex_mask=mask, features=F_p,
                  feature_mask=mask)  # fmt: skip
    return m.loss(batch)[0]


def test_ar_training_gradient_flows_through_the_feedback():
    """The autograd gradient equals the numerical derivative of the AR loss (float64, eval mode: no
    dropout). With the feedback detached it would not: checked by detaching it with a hook."""
    m = model(teacher_forcing=False).double().eval()
    F_p, template, subject, mask = inputs()
    F_p, template = F_p.double(), template.double()
    target = template.unsqueeze(1) + 0.3 * torch.randn(*F_p.shape[:2], V, 3, dtype=torch.float64)
    params = [p for p in m.parameters() if p.requires_grad]
    direction = [torch.randn_like(p) for p in params]

    def directional_grad() -> float:
        grads = torch.autograd.grad(ar_loss(m, F_p, template, subject, mask, target), params)
        return sum(float((g * d).sum()) for g, d in zip(grads, direction))

    eps = 1e-6
    with torch.no_grad():
        for p, d in zip(params, direction):
            p.add_(eps * d)
        up = float(ar_loss(m, F_p, template, subject, mask, target))
        for p, d in zip(params, direction):
            p.sub_(2 * eps * d)
        down = float(ar_loss(m, F_p, template, subject, mask, target))
        for p, d in zip(params, direction):
            p.add_(eps * d)
    numeric = (up - down) / (2 * eps)
    assert directional_grad() == pytest.approx(numeric, rel=1e-5)
    hook = m.vertice_map.register_forward_pre_hook(lambda mod, args: (args[0].detach(),))
    detached = directional_grad()  # what a detached feedback would train on
    hook.remove()
    assert abs(detached - numeric) > 1e-2 * abs(numeric)


def test_teacher_forcing_reads_the_previous_ground_truth_frames():
    m, (F_p, _, subject, mask) = model(teacher_forcing=True).eval(), inputs()
    offsets = torch.randn(*F_p.shape[:2], 3 * V, requires_grad=True)
    pred = m.teacher_forced(m.read_audio(F_p, mask=mask), m.style(subject, 3, F_p), offsets)  # (B, T, 3V)
    pred[:, 4].sum().backward()
    assert offsets.grad[:, :4].abs().sum() > 0 and not offsets.grad[:, 4:].any()  # frames < 4 only


def test_zero_initialised_head_gives_the_template():
    torch.manual_seed(0)
    m = FaceFormer(FaceFormerConfig.tiny(n_vertices=V, audio_dim=D, n_subjects=N_SUBJECTS, head_init_std=0.0))
    F_p, template, subject, mask = inputs()
    out = m.eval().generate(F_p, template, subject, mask=mask)
    torch.testing.assert_close(out, template.unsqueeze(1) * mask[:, :, None, None], atol=0, rtol=0)
    assert FaceFormerConfig.paper().head_init_std == 0


def test_paper_preset_size():
    """VOCASET: about 2 M parameters besides the audio encoder (FaceFormer's wav2vec2), from the shapes."""
    cfg = FaceFormerConfig.paper()
    with torch.device("meta"):
        m = FaceFormer(cfg)
    d, V3, ff = 64, 3 * 5023, 128
    attention = 3 * d * d + 3 * d + d * d + d  # packed in-projection + out projection
    decoder_layer = 2 * attention + (d * ff + ff) + (ff * d + d) + 3 * 2 * d  # self, cross, FFN, 3 LayerNorms
    expected = (
        (768 * d + d) + (V3 * d + d) + 8 * d + decoder_layer + (d * V3 + V3)
    )  # W_out, motion enc, style, head
    assert n_parameters(m) == expected == 2_043_933
    with torch.device("meta"):  # BIWI: the two 70110 x 128 maps dominate (the reference's "+ 18 M")
        biwi = FaceFormer(FaceFormerConfig.paper(fused_dim=128, n_vertices=23370, n_subjects=6, period=25))
    assert 2 * 70110 * 128 < n_parameters(biwi) < 2 * 70110 * 128 + 0.5e6
