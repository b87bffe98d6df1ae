"""The decoder contract, checked for every registered decoder. A new host must pass this file unchanged.

Tiny synthetic tensors (no corpus): F_p (B, T, D), vertices (B, T, V, 3), templates, subjects, F_s: one
vector per item (B, C_s), or, for a time-local source, one per frame (B, T, C_s), zero-padded like F_p.
"""

from __future__ import annotations

import pytest
import torch

import w2s.decoders as decoders
from w2s.data.batch import Batch, pad
from w2s.decoders import Decoder, DecoderConfig
from w2s.fusion import TIME_LOCAL, FusionError
from w2s.semantic.wav2sem import Wav2Sem, Wav2SemConfig
from w2s.train import TrainConfig, fit

V, D, C_S, N_SUBJECTS = 10, 12, 8, 3  # vertices, F_p size, F_s size, training subjects
LENGTHS = (7, 3, 5)
SR = 16_000
NAMES = decoders.names()

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def build(name: str, source: str = "wav2sem", seed: int = 0) -> Decoder:
    torch.manual_seed(seed)
    cls = decoders.get(name)
    cfg = cls.config_class.tiny(
        n_vertices=V, audio_dim=D, n_subjects=N_SUBJECTS, semantic_source=source, semantic_dim=C_S
    )
    return cls(cfg)


def make_batch(lengths=LENGTHS, seed: int = 0, audio: bool = False, per_frame: bool = False) -> Batch:
    """Vertices that follow the features (something to learn), subjects 0, 2 and an unseen one (-1).
    per_frame: F_s (B, T, C_s), one vector per frame (zero in the padding), as a time-local source gives."""
    g = torch.Generator().manual_seed(seed)
    B = len(lengths)
    feats = [torch.randn(t, D, generator=g) for t in lengths]
    P = torch.randn(D, V * 3, generator=g) / D**0.5
    template = torch.randn(B, V, 3, generator=g)
    verts = [template[i] + 0.1 * torch.tanh(f @ P).view(-1, V, 3) for i, f in enumerate(feats)]
    F_p, mask = pad(feats)
    vertices, _ = pad(verts)
    extra = {}
    if audio:  # 20 ms per frame, as a wav2vec2 front end at 50 fps
        extra["audio"], extra["audio_mask"] = pad([torch.randn(320 * t + 80, generator=g) for t in lengths])
    if audio:
        F_s = None
    else:
        F_s = pad([torch.randn(t, C_S, generator=g) for t in lengths])[0] if per_frame else torch.randn(B, C_S, generator=g)
    return Batch(template=template, subject_index=torch.tensor([0, 2, -1, 1][:B]), vertices=vertices, vertex_mask=mask,
                 features=F_p, feature_mask=mask, F_s=F_s, fps=50.0, **extra)  # fmt: skip


def perturb(model: Decoder, scale: float = 0.01) -> None:
    """Move every parameter off its initial value (seeded), as training would."""
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(scale * torch.randn(p.shape, generator=g).to(p))


def generate(model: Decoder, batch: Batch, seed: int = 0) -> torch.Tensor:
    torch.manual_seed(seed)  # diffusion hosts sample
    F_p, mask = model.features(batch)
    return model.generate(F_p, batch.template, batch.subject_index, model.semantic_vector(batch), mask)


def loss_of(model: Decoder, batch: Batch, seed: int = 0) -> torch.Tensor:
    torch.manual_seed(seed)  # diffusion hosts sample noise and steps
    with torch.no_grad():
        return model.loss(batch)[0]


def test_registry():
    assert "reference" in NAMES
    with pytest.raises(decoders.DecoderError, match="unknown decoder 'nope'; registered:"):
        decoders.get("nope")


@pytest.mark.parametrize("name", NAMES)
def test_class_config_and_presets(name):
    cls = decoders.get(name)
    assert issubclass(cls, Decoder) and issubclass(cls.config_class, DecoderConfig) and cls.name == name
    for preset in ("paper", "tiny"):
        cfg = cls.config_class.preset(preset)
        assert cls.config_class.from_dict(cfg.to_dict()) == cfg  # JSON-able, lists back to tuples
    with torch.device("meta"):  # the paper's sizes build (shapes only, nothing drawn)
        cls(cls.config_class.paper(semantic_source="wav2sem"))


@pytest.mark.parametrize("source", ["none", "wav2sem", "oracle_text"])
@pytest.mark.parametrize("name", NAMES)
def test_output_shapes(name, source):
    model, batch = build(name, source), make_batch()
    loss, logs = model.train().loss(batch)
    assert loss.ndim == 0 and torch.isfinite(loss) and loss.requires_grad
    assert all(isinstance(v, float) for v in logs.values())
    out = generate(model.eval(), batch)
    assert out.shape == (3, max(LENGTHS), V, 3) and out.dtype == torch.float32 and torch.isfinite(out).all()
    assert not out[1, LENGTHS[1] :].any()  # 0 past each item's length


@pytest.mark.parametrize("source", ["none", "wav2sem", "oracle_text_local"])
@pytest.mark.parametrize("name", NAMES)
def test_padded_batch_equals_item_by_item(name, source):
    per_frame = source == "oracle_text_local"  # F_s (B, T, C_s): item() cuts it with the frames
    model, batch = build(name, source).eval(), make_batch(per_frame=per_frame)
    perturb(model)  # a zero-initialised head would make every output the template: nothing compared
    with torch.no_grad():
        out = generate(model, batch)
        for i, n in enumerate(LENGTHS):
            torch.testing.assert_close(out[i, :n], generate(model, batch.item(i))[0], atol=1e-5, rtol=1e-5)
        # whatever sits in the padding is ignored, in training and inference
        junk = make_batch(per_frame=per_frame)
        pad_frames = ~junk.feature_mask
        junk.features[pad_frames] = 100.0
        junk.vertices[pad_frames] = -100.0
        if per_frame:
            junk.F_s[pad_frames] = 50.0
        torch.testing.assert_close(generate(model, junk), out, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(loss_of(model, junk), loss_of(model, batch), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_weights_with_and_without_the_plug(name):
    base, plugged = build(name, "none", seed=0).state_dict(), build(name, "wav2sem", seed=0).state_dict()
    assert set(plugged) - set(base) == {"fusion.W_s.weight", "fusion.W_s.bias"} and set(base) <= set(plugged)
    for k in base:  # W_out first; every host layer after the plug too
        assert torch.equal(base[k], plugged[k]), k
    assert not torch.equal(
        build(name, "none", seed=1).state_dict()["fusion.W_out.weight"], base["fusion.W_out.weight"]
    )


@pytest.mark.parametrize("name", NAMES)
def test_training_and_inference_read_the_same_fused_features(name):
    """The official predict() skipped W_s; here the plug runs once per call, with W_s, in both."""
    model, batch = build(name, "wav2sem").eval(), make_batch()
    perturb(model)  # trained-like weights: a zero-initialised head (FaceFormer, CodeTalker) ignores its input at first
    seen = []
    hook = model.fusion.register_forward_hook(lambda mod, args, out: seen.append(out.detach().clone()))
    with torch.no_grad():
        loss = loss_of(model, batch)
        assert len(seen) == 1
        out = generate(model, batch)
        assert len(seen) == 2  # encode once per clip, not once per step
    hook.remove()
    torch.testing.assert_close(seen[0], seen[1], atol=0, rtol=0)
    with torch.no_grad():
        model.fusion.W_s.weight.add_(0.5)
        assert not torch.allclose(generate(model, batch), out, atol=1e-4)
        assert not torch.allclose(loss_of(model, batch), loss, atol=1e-6)


# ---------------------------------------------------------------------------------------------
# a time-local F_s: one vector per frame, (B, T, C_s)


@pytest.mark.parametrize("source", TIME_LOCAL)
@pytest.mark.parametrize("name", NAMES)
def test_per_frame_F_s_shapes(name, source):
    model, batch = build(name, source), make_batch(per_frame=True)
    assert batch.F_s.shape == (3, max(LENGTHS), C_S)
    loss, _ = model.train().loss(batch)
    assert loss.ndim == 0 and torch.isfinite(loss) and loss.requires_grad
    out = generate(model.eval(), batch)
    assert out.shape == (3, max(LENGTHS), V, 3) and torch.isfinite(out).all()
    assert not out[1, LENGTHS[1] :].any()
    with pytest.raises(FusionError, match=rf"expected \(3, {C_S}\).* or \(3, {max(LENGTHS)}, {C_S}\)"):
        F_p, mask = model.features(batch)
        model.generate(F_p, batch.template, batch.subject_index, batch.F_s[:, :-1], mask)  # one frame short


AUTOREGRESSIVE = {n for n in NAMES if "autoregressive" in decoders.get(n).family}
NEAR = 8  # frames: VOCA reads a 16-frame window around each frame


@pytest.mark.parametrize("name", NAMES)
def test_changing_F_s_at_one_frame_changes_the_output_there(name):
    """Frame t's vector reaches the output; of that item only; for a host that is not autoregressive, the
    largest change is near t (an autoregressive host carries it on through its own outputs)."""
    assert {"faceformer", "codetalker"} <= AUTOREGRESSIVE
    model, batch = build(name, "oracle_text_local").eval(), make_batch(lengths=(40, 25), per_frame=True)
    perturb(model)
    t = 20
    moved = make_batch(lengths=(40, 25), per_frame=True)
    moved.F_s[0, t] += 30.0
    with torch.no_grad():
        d = (generate(model, moved) - generate(model, batch)).abs().amax(dim=(2, 3))  # (B, T) largest vertex change
    assert float(d[0].max()) > 1e-4, float(d[0].max())
    assert float(d[1].max()) == 0.0  # the other item's frames
    if name not in AUTOREGRESSIVE:
        assert abs(int(d[0].argmax()) - t) <= NEAR, d[0]


@pytest.mark.parametrize("name", NAMES)
def test_training_and_inference_read_the_same_per_frame_fused_features(name):
    model, batch = build(name, "oracle_viseme").eval(), make_batch(per_frame=True)
    perturb(model)
    seen = []
    hook = model.fusion.register_forward_hook(lambda mod, args, out: seen.append(out.detach().clone()))
    with torch.no_grad():
        loss_of(model, batch)
        generate(model, batch)
    hook.remove()
    assert len(seen) == 2
    torch.testing.assert_close(seen[0], seen[1], atol=0, rtol=0)
    want = model.fusion.W_out(batch.features + model.fusion.W_s(batch.F_s)) * batch.feature_mask[..., None]
    torch.testing.assert_close(seen[0], want, atol=1e-6, rtol=1e-6)  # frame t's own W_s F_s,t, not a broadcast


@pytest.mark.parametrize("source", ["none", "wav2sem"])
@pytest.mark.parametrize("name", NAMES)
def test_save_and_load_give_identical_outputs(name, source, tmp_path):
    model, batch = build(name, source), make_batch()
    perturb(model)  # not the initial values: a missed tensor would show
    folder = model.save_pretrained(tmp_path / name)
    loaded = decoders.load(folder)
    assert type(loaded) is type(model) and loaded.config == model.config and not loaded.training
    model.eval()
    with torch.no_grad():
        torch.testing.assert_close(generate(loaded, batch), generate(model, batch), atol=0, rtol=0)
        torch.testing.assert_close(loss_of(loaded, batch), loss_of(model, batch), atol=0, rtol=0)


def tiny_wav2sem() -> Wav2Sem:
    """An audio Wav2Sem with dropout and LayerDrop on: in train mode its F_s would change every call."""
    torch.manual_seed(5)
    return Wav2Sem(Wav2SemConfig.tiny(target_dim=C_S, conv_dim=(16,) * 7, hidden_size=32, num_hidden_layers=2,
                                      num_attention_heads=2, intermediate_size=64, num_conv_pos_embeddings=16,
                                      num_conv_pos_embedding_groups=2, hidden_dropout=0.2, layerdrop=0.2))  # fmt: skip


@pytest.mark.parametrize("name", NAMES)
def test_frozen_wav2sem_stays_frozen_and_in_eval_mode_while_the_decoder_trains(name, tmp_path):
    wav2sem = tiny_wav2sem()
    before = {k: v.clone() for k, v in wav2sem.state_dict().items()}
    model, batch = build(name, "wav2sem").attach(wav2sem), make_batch(audio=True)
    expected = torch.as_tensor(wav2sem.predict([a[m] for a, m in zip(batch.audio, batch.audio_mask)]))
    model.train()
    assert model.training and not wav2sem.training
    assert not any(p.requires_grad for p in wav2sem.parameters())
    torch.testing.assert_close(model.semantic_vector(batch), expected, atol=1e-5, rtol=1e-5)

    cfg = TrainConfig(
        max_steps=3, batch_size=1, lr=1e-2, warmup_steps=0, eval_every=0, checkpoint_every=10**6, seed=0
    )
    fit(model, [batch], lambda items: items[0], decoders.train_step, cfg, device="cpu")
    model.train()
    assert not wav2sem.training
    for k, v in wav2sem.state_dict().items():
        assert torch.equal(v, before[k]), k
    folder = model.save_pretrained(tmp_path / "with-wav2sem")  # saved without the Wav2Sem
    assert decoders.load(folder).wav2sem is None


@pytest.mark.parametrize("source", ["none", "wav2sem"])
@pytest.mark.parametrize("name", NAMES)
def test_loss_falls_when_overfitting_one_sequence(name, source):
    model, one = build(name, source), make_batch().item(0)
    start = float(loss_of(model.eval(), one))
    cfg = TrainConfig(max_steps=60, batch_size=1, lr=1e-2, warmup_steps=0, log_every=20, eval_every=0,
                      checkpoint_every=10**6, seed=0)  # fmt: skip
    hist = fit(model, [one], lambda items: items[0], decoders.train_step, cfg, device="cpu")
    end = float(loss_of(model.eval(), one))
    assert end < 0.5 * start, (start, end, hist.loss)
