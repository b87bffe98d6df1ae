"""UniTalker: the PCA output layer, one head per dataset (different vertex counts in one run), speakers
numbered across datasets with the pivot identity."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from w2s.data.batch import Batch, pad
from w2s.decoders import DecoderError, train_step
from w2s.decoders.unitalker import UniTalker, UniTalkerConfig
from w2s.train import TrainConfig, fit

pytestmark = pytest.mark.usefixtures("one_torch_thread")

D = 12


def build(**kw) -> UniTalker:
    torch.manual_seed(0)
    return UniTalker(UniTalkerConfig.tiny(n_vertices=10, audio_dim=D, n_subjects=3, semantic_dim=8, pca_dim=16, **kw))


def low_rank_offsets(V: int, rank: int, n: int = 6, seed: int = 0) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    basis, mean = torch.randn(rank, 3 * V, generator=g), torch.randn(3 * V, generator=g)
    return [(mean + torch.randn(20, rank, generator=g) @ basis).view(20, V, 3) * 1e-3 for _ in range(n)]


@pytest.mark.parametrize("whiten", [False, True])
def test_pca_layer_reconstructs_its_training_offsets(whiten):
    model = build(pca_whiten=whiten)
    offsets = low_rank_offsets(10, rank=5)
    logs = model.prepare(offsets, seed=0)
    assert logs["dataset0"]["pca_components"] == 5 and logs["dataset0"]["explained_variance_total"] > 0.999
    x = torch.cat(offsets).flatten(1)  # (N, 3V)
    pca = model.pca[0]
    torch.testing.assert_close(pca(pca.coefficients(x)), x, atol=1e-7, rtol=1e-4)
    assert not torch.allclose(pca(pca.coefficients(x[:1]) * 0), x[:1])  # the coefficients carry the motion


def batch_of(V: int, subjects, seed: int, dataset: int = 0, lengths=(6, 4)) -> Batch:
    g = torch.Generator().manual_seed(seed)
    feats = [torch.randn(t, D, generator=g) for t in lengths]
    P = torch.randn(D, V * 3, generator=g) / D**0.5
    template = torch.randn(len(lengths), V, 3, generator=g)
    verts = [template[i] + 0.1 * torch.tanh(f @ P).view(-1, V, 3) for i, f in enumerate(feats)]
    F_p, mask = pad(feats)
    return Batch(template=template, subject_index=torch.tensor(subjects), vertices=pad(verts)[0], vertex_mask=mask,
                 features=F_p, feature_mask=mask, fps=30.0, dataset=dataset)  # fmt: skip


def test_heads_of_two_datasets_with_different_vertex_counts_train_in_one_run():
    model = build(extra_vertices=(7,), extra_subjects=(2,), semantic_source="none")
    a, b = batch_of(10, [0, 2], seed=1), batch_of(7, [1, 0], seed=2, dataset=1)
    offsets = [x.vertices[i, :n] - x.template[i] for x in (a, b) for i, n in enumerate(x.vertex_lengths.tolist())]
    model.prepare(offsets, 0, dataset_index=[0, 0, 1, 1])
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        start = [float(model.eval().loss(x)[0]) for x in (a, b)]
    cfg = TrainConfig(max_steps=80, batch_size=1, lr=3e-3, warmup_steps=0, log_every=20, eval_every=0,
                      checkpoint_every=10**6, seed=0)  # fmt: skip
    fit(model, [a, b], lambda items: items[0], train_step, cfg, device="cpu", groups=[0, 1])
    with torch.no_grad():
        end = [float(model.eval().loss(x)[0]) for x in (a, b)]
    assert end[0] < 0.5 * start[0] and end[1] < 0.5 * start[1], (start, end)
    after = model.state_dict()
    for k in ("heads.0.weight", "heads.1.weight", "identity.weight", "convs.0.weight"):
        assert not torch.equal(before[k], after[k]), k
    assert model.generate_batch(b).shape == (2, 6, 7, 3) and model.generate_batch(a).shape == (2, 6, 10, 3)
    with pytest.raises(DecoderError, match="dataset 1's head predicts 7 vertices, the template has 10"):
        model.generate(a.features, a.template, a.subject_index, dataset=1)
    with pytest.raises(DecoderError, match="dataset 2 out of range"):
        model.generate(a.features, a.template, a.subject_index, dataset=2)


def test_speakers_are_numbered_across_datasets_and_unseen_gets_the_pivot():
    model = build(extra_vertices=(7,), extra_subjects=(2,))
    assert model.pivot == 5 and model.identity.num_embeddings == 6
    s = torch.tensor([0, 2, -1])
    assert model.identity_index(s, 0).tolist() == [0, 2, 5]
    assert model.identity_index(torch.tensor([0, 1, -1]), 1).tolist() == [3, 4, 5]
    assert model.identity_index(s, 0, pivot=True).tolist() == [5, 5, 5]


def test_pivot_identity_in_training():
    seen = []
    model = build(pivot_prob=1.0)
    model.identity.register_forward_hook(lambda mod, args, out: seen.append(args[0].tolist()))
    batch = batch_of(10, [0, 2], seed=3)
    model.train().loss(batch)
    model.eval().loss(batch)
    assert seen == [[3, 3], [0, 2]]  # every clip on the pivot in training (prob 1), its own at evaluation


def test_config_checks():
    with pytest.raises(DecoderError, match="one entry per extra dataset"):
        UniTalkerConfig.tiny(extra_vertices=(7, 8), extra_subjects=(2,))
    cfg = UniTalkerConfig.paper()
    assert cfg.vertices == (5023, 23370) and cfg.subjects == (8, 6)
    with torch.device("meta"):
        m = UniTalker(cfg)
    assert tuple(m.pca[1].basis.shape) == (512, 70110) and tuple(m.heads[0].weight.shape) == (512, 256)
    assert tuple(m.convs[0].weight.shape) == (256, 320, 3) and m.identity.num_embeddings == 15
    assert UniTalkerConfig.from_dict(cfg.to_dict()) == cfg
    np.testing.assert_equal(UniTalkerConfig.from_dict({**cfg.to_dict(), "extra_vertices": [23370]}).extra_vertices, (23370,))
