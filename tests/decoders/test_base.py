"""What the decoder base does for every host: frozen parts, where F_p and F_s come from, the registry."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn

import w2s.decoders as decoders
from w2s.data.batch import Batch
from w2s.decoders import DecoderError
from w2s.decoders.reference import ReferenceConfig, ReferenceDecoder

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def small(source="wav2sem", **kw) -> ReferenceDecoder:
    torch.manual_seed(0)
    return ReferenceDecoder(ReferenceConfig.tiny(n_vertices=4, audio_dim=6, n_subjects=2, semantic_source=source,
                                                 semantic_dim=5, **kw))  # fmt: skip


def batch(F_s: bool = True) -> Batch:
    return Batch(template=torch.zeros(2, 4, 3), subject_index=torch.tensor([0, 1]), vertices=torch.zeros(2, 3, 4, 3),
                 features=torch.randn(2, 3, 6), F_s=torch.randn(2, 5) if F_s else None)  # fmt: skip


def test_frozen_parts_stay_in_eval_mode_and_get_no_gradient():
    model = small()
    model.extra = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5))  # e.g. a stage-1 VQ-VAE
    model.freeze(model.extra)
    model.train()
    assert model.training and model.vertex_map.training
    assert not model.extra.training and not model.extra[1].training
    assert not any(p.requires_grad for p in model.extra.parameters())
    assert all(p.requires_grad for p in model.vertex_map.parameters())


def test_where_F_s_and_F_p_come_from():
    with pytest.raises(DecoderError, match="needs F_s: put it in batch.F_s"):
        small().loss(batch(F_s=False))
    assert small("none").semantic_vector(batch()) is None  # the baseline ignores F_s
    no_features = Batch(template=torch.zeros(2, 4, 3), subject_index=torch.tensor([0, 1]))
    with pytest.raises(DecoderError, match=r"batch.features \(F_p\) is None"):
        small().loss(no_features)
    with pytest.raises(DecoderError, match="not 'wav2sem'"):
        small("oracle_text").attach(nn.Linear(1, 1))


def test_generate_batch_is_generate_on_the_batch():
    model, b = small().eval(), batch()
    torch.testing.assert_close(
        model.generate_batch(b), model.generate(b.features, b.template, b.subject_index, b.F_s)
    )


def test_config_checks_and_registry_errors():
    with pytest.raises(DecoderError, match="semantic_source must be one of"):
        ReferenceConfig(semantic_source="bert")
    with pytest.raises(DecoderError, match="n_vertices must be >= 1"):
        ReferenceConfig(n_vertices=0)
    with pytest.raises(DecoderError, match="needs a ReferenceConfig"):
        ReferenceDecoder(decoders.DecoderConfig())
    with pytest.raises(DecoderError, match="registered twice"):
        decoders.register("reference")(type("Impostor", (ReferenceDecoder,), {}))
    assert decoders.get("reference") is ReferenceDecoder


def test_load_names_an_unregistered_class(tmp_path):
    from w2s.semantic.wav2sem import Wav2Sem, Wav2SemConfig

    folder = Wav2Sem(Wav2SemConfig.lite(input_dim=4, target_dim=4, hidden_size=8, intermediate_size=8,
                                        num_attention_heads=2)).save_pretrained(tmp_path / "w2s")  # fmt: skip
    with pytest.raises(DecoderError, match="'Wav2Sem' is not a registered decoder"):
        decoders.load(folder)
