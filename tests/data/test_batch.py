"""One pad for audio, features and vertices; one mask check; the typed Batch and the face collate."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from w2s.data.batch import Batch, BatchError, as_mask, pad, prefix_lengths
from w2s.data.faces import collate


def manual_pad(seqs):
    """Padding written out: zeros of the longest shape, each item copied at the start."""
    T = max(len(s) for s in seqs)
    out = torch.zeros(len(seqs), T, *np.shape(seqs[0])[1:])
    mask = torch.zeros(len(seqs), T, dtype=torch.bool)
    for i, s in enumerate(seqs):
        out[i, : len(s)] = torch.as_tensor(np.asarray(s), dtype=torch.float32)
        mask[i, : len(s)] = True
    return out, mask


@pytest.mark.parametrize("trailing", [(), (6,), (5, 3)], ids=["audio", "features", "vertices"])
def test_pad_equals_manual_padding(trailing):
    rng = np.random.default_rng(0)
    seqs = [rng.standard_normal((t, *trailing)) for t in (7, 3, 9, 1)]  # float64 arrays -> float32
    seqs[1] = torch.as_tensor(seqs[1])  # tensors and arrays mixed
    x, mask = pad(seqs)
    ref, ref_mask = manual_pad(seqs)
    assert x.dtype == torch.float32 and x.shape == (4, 9, *trailing)
    torch.testing.assert_close(x, ref, atol=0, rtol=0)
    assert torch.equal(mask, ref_mask) and mask.sum(1).tolist() == [7, 3, 9, 1]


def test_pad_keeps_a_dtype_on_request_and_rejects_mismatches():
    x, _ = pad([torch.arange(3), torch.arange(2)], dtype=None)
    assert x.dtype == torch.int64 and x.tolist() == [[0, 1, 2], [0, 1, 0]]
    with pytest.raises(BatchError, match="no sequences"):
        pad([])
    with pytest.raises(BatchError, match=r"same trailing shape, got \[\(4, 6\), \(4, 5\)\]"):
        pad([np.zeros((4, 6)), np.zeros((4, 5))])


def test_mask_checks():
    ints = torch.tensor([[1, 1, 0], [1, 0, 0]])
    assert as_mask(ints, (2, 3)).dtype == torch.bool
    assert prefix_lengths(as_mask(ints, (2, 3))).tolist() == [2, 1]
    with pytest.raises(BatchError, match=r"m: expected shape \(2, 4\), got \(2, 3\)"):
        as_mask(ints, (2, 4), "m")
    with pytest.raises(KeyError, match="expected a bool mask"):
        as_mask(ints * 0.5, (2, 3), error=KeyError)
    with pytest.raises(BatchError, match="item 1 is not left-aligned"):
        prefix_lengths(torch.tensor([[True, True], [False, True]]))
    with pytest.raises(BatchError, match="item 0 has no valid entries"):
        prefix_lengths(torch.tensor([[False, False], [True, True]]))


def make_batch(lengths=(5, 2, 4), V=3, D=6, seed=0) -> Batch:
    g = torch.Generator().manual_seed(seed)
    verts, vmask = pad([torch.randn(t, V, 3, generator=g) for t in lengths])
    feats, fmask = pad([torch.randn(t, D, generator=g) for t in lengths])
    return Batch(template=torch.randn(len(lengths), V, 3, generator=g), subject_index=torch.arange(len(lengths)),
                 vertices=verts, vertex_mask=vmask, features=feats, feature_mask=fmask,
                 F_s=torch.randn(len(lengths), 4, generator=g), fps=30.0, stems=[f"s{i}" for i in range(len(lengths))])  # fmt: skip


def test_batch_item_to_and_checks():
    b = make_batch()
    assert len(b) == 3 and b.vertex_lengths.tolist() == [5, 2, 4] and b.audio_lengths is None
    one = b.item(1)
    assert one.vertices.shape == (1, 2, 3, 3) and one.features.shape == (1, 2, 6) and one.stems == ["s1"]
    assert torch.equal(one.vertices[0], b.vertices[1, :2]) and torch.equal(one.F_s[0], b.F_s[1])
    moved = b.to("meta")
    assert moved.vertices.device.type == "meta" and moved.fps == 30.0 and b.vertices.device.type == "cpu"
    assert "vertices (3, 5, 3, 3)" in repr(b)
    filled = Batch(template=b.template, subject_index=b.subject_index, features=b.features)  # mask: all valid
    assert filled.feature_mask.all() and filled.feature_mask.shape == (3, 5)
    with pytest.raises(BatchError, match=r"vertex_mask: expected shape \(3, 5\)"):
        Batch(
            template=b.template,
            subject_index=b.subject_index,
            vertices=b.vertices,
            vertex_mask=b.vertex_mask[:, :4],
        )
    with pytest.raises(BatchError, match=r"F_s: expected \(3, C_s\)"):
        Batch(template=b.template, subject_index=b.subject_index, F_s=b.F_s[:2])


def test_face_collate_returns_a_padded_batch():
    g = torch.Generator().manual_seed(0)
    items = [dict(audio=torch.randn(n, generator=g), vertices=torch.randn(t, 5, 3, generator=g),
                  template=torch.randn(5, 3, generator=g), subject=f"S{i}", subject_index=i - 1, sentence=i,
                  stem=f"S{i}_{i}", fps=30, features=torch.randn(t, 6, generator=g), F_s=torch.randn(4, generator=g))
             for i, (n, t) in enumerate([(100, 4), (80, 6)])]  # fmt: skip
    items[0]["transcript"] = "A fin."
    b = collate(items)
    audio, amask = manual_pad([it["audio"] for it in items])
    verts, vmask = manual_pad([it["vertices"] for it in items])
    assert torch.equal(b.audio, audio) and torch.equal(b.audio_mask, amask)
    assert torch.equal(b.vertices, verts) and torch.equal(b.vertex_mask, vmask)
    assert b.features.shape == (2, 6, 6) and b.F_s.shape == (2, 4) and b.fps == 30.0
    assert b.subject_index.tolist() == [-1, 0] and b.template.shape == (2, 5, 3)
    assert b.stems == ["S0_0", "S1_1"] and b.transcripts == ["A fin.", None] and b.alignments == [None, None]
    del items[1]["features"], items[1]["F_s"]  # only when every item has them
    assert collate(items).features is None and collate(items).F_s is None
    items[1]["fps"] = 25
    with pytest.raises(ValueError, match="different frame rates"):
        collate(items)
