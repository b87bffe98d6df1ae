"""Time-local F_s (one vector per vertex frame): the plug, the batch, the two oracle sources read from the
corpus's alignments, training, evaluation, the use test and animate with them."""

from __future__ import annotations

import json
import re
from dataclasses import replace

import numpy as np
import pytest
import soundfile as sf
import torch

import w2s.animate as animate_module
from w2s.cli import main
from w2s.corpus.visemes import VISEME_CLASSES, viseme_of
from w2s.data.batch import Batch, BatchError
from w2s.decoders.base import DecoderError
from w2s.decoders.inputs import (
    Clip,
    OracleText,
    OracleTextLocal,
    OracleViseme,
    SemanticSource,
    collate,
    frame_segments,
    load_clips,
)
from w2s.decoders.training import DecoderRecipe, load_run, train_decoder
from w2s.evaluation.metrics import frames_in_spans
from w2s.evaluation.plug_use import _swap_order, fit_stream, plug_scale, use_test
from w2s.fusion import FusionConfig, FusionError, SemanticFusion
from w2s.semantic.targets import load_text_model
from w2s.utils.words import normalise_word

pytestmark = pytest.mark.usefixtures("one_torch_thread")


# ---------------------------------------------------------------------------------------------
# the plug and the batch


def test_the_plug_adds_each_frames_own_vector():
    torch.manual_seed(0)
    fuse = SemanticFusion(FusionConfig(6, 4, 5, "oracle_viseme"))
    F_p, F_s = torch.randn(2, 7, 6), torch.randn(2, 7, 4)
    F_s[1, 3:] = 0  # zeros are allowed (pauses)
    out = fuse(F_p, F_s)
    for b in range(2):
        for t in range(7):
            want = fuse.W_out.weight @ (fuse.W_s.weight @ F_s[b, t] + fuse.W_s.bias + F_p[b, t]) + fuse.W_out.bias
            torch.testing.assert_close(out[b, t], want, atol=1e-5, rtol=1e-5)
    # a (B, C_s) F_s is the same as that vector on every frame
    torch.testing.assert_close(fuse(F_p, F_s[:, 0]), fuse(F_p, F_s[:, :1].expand(-1, 7, -1)), atol=1e-6, rtol=0)
    for bad in (torch.randn(2, 6, 4), torch.randn(2, 7, 3), torch.randn(7, 4), torch.randn(2, 7, 4, 1)):
        with pytest.raises(FusionError, match=r"F_s: expected \(2, 4\) \(one vector per item of F_p\) or \(2, 7, 4\)"):
            fuse(F_p, bad)


def clip_of(stem: str, T: int, F_s) -> Clip:
    return Clip(stem, "s", 0, torch.zeros(2, 3), torch.ones(T, 2, 3), torch.ones(T, 5), F_s, 30.0)


def test_collate_pads_a_per_frame_F_s_with_zeros_and_item_cuts_it():
    a, b = clip_of("a", 4, torch.ones(4, 3)), clip_of("b", 2, 2 * torch.ones(2, 3))
    batch = collate([a, b])
    assert batch.F_s.shape == (2, 4, 3) and not batch.F_s[1, 2:].any() and (batch.F_s[1, :2] == 2).all()
    assert batch.item(1).F_s.shape == (1, 2, 3) and batch.item(0).F_s.shape == (1, 4, 3)
    assert collate([replace(a, F_s=torch.ones(3)), replace(b, F_s=torch.ones(3))]).F_s.shape == (2, 3)  # as before
    with pytest.raises(DecoderError, match=r"every clip's F_s must be \(C_s,\) or every one \(T, C_s\)"):
        collate([a, replace(b, F_s=torch.ones(3))])
    with pytest.raises(DecoderError, match=r"one vector per vertex frame; not so for \['b'\]"):
        collate([a, replace(b, F_s=torch.ones(3, 3))])
    with pytest.raises(BatchError, match="T = 4"):
        Batch(template=batch.template, subject_index=batch.subject_index, vertices=batch.vertices, F_s=torch.ones(2, 3, 3))


def test_frame_segments_follow_frames_in_spans():
    spans = [(0.0, 0.1), (0.1, 0.25), (0.4, 0.41), (0.5, 2.0)]
    idx = frame_segments(40, 30.0, spans)
    for j, span in enumerate(spans):
        np.testing.assert_array_equal(idx == j, frames_in_spans(40, [span], 30.0))
    np.testing.assert_array_equal(idx == -1, ~frames_in_spans(40, spans, 30.0))


def test_the_use_test_fits_another_stream_to_the_clips_length():
    s = torch.arange(12.0).view(4, 3)
    torch.testing.assert_close(fit_stream(s, 2), s[:2])  # cropped
    torch.testing.assert_close(fit_stream(s, 6), torch.cat([s, torch.zeros(2, 3)]))  # pause frames: zero
    silence = torch.tensor([1.0, 0.0, 0.0])
    torch.testing.assert_close(fit_stream(s, 5, silence), torch.cat([s, silence[None]]))  # or the source's pause
    v = torch.ones(3)
    assert fit_stream(v, 9) is v  # an utterance vector as it is
    # the next clip whose fitted stream differs: a's first two frames are c's, so c skips a
    a, b, c = s, s + 1, s[:2]
    assert _swap_order([c, a, b]) == [2, 2, 0]
    assert _swap_order([s, s]) == [0, 1]  # all the same: itself


# ---------------------------------------------------------------------------------------------
# the sources, on the smoke corpus


def test_oracle_text_local_is_the_spoken_words_embedding(smoke_corpus):
    src = SemanticSource.from_name("oracle_text_local", smoke_corpus)
    assert isinstance(src, OracleTextLocal) and src.per_frame and src.dim == 384 and not src.pause.any()
    assert src.identity.startswith("oracle_text_local:v1:") and src.identity != OracleText().identity
    clips = load_clips(smoke_corpus, "test", None, src)
    model = load_text_model()
    n_word, n_pause = 0, 0
    for c in clips:
        F = c.F_s.numpy()
        assert F.shape == (c.n_frames, 384)
        inside = np.zeros(c.n_frames, bool)
        for w in c.alignment["words"]:
            sel = frames_in_spans(c.n_frames, [(w["start"], w["end"])], c.fps)
            if sel.any():
                want = model.embed([normalise_word(w["word"])])[0]
                np.testing.assert_allclose(F[sel], np.broadcast_to(want, F[sel].shape), atol=1e-5)
            inside |= sel
        assert not F[~inside].any()  # zero in pauses
        n_word, n_pause = n_word + int(inside.sum()), n_pause + int((~inside).sum())
    assert n_word > 0 and n_pause > 0


def test_oracle_viseme_is_the_class_of_the_phoneme_spoken(smoke_corpus):
    src = SemanticSource.from_name("oracle_viseme", smoke_corpus)
    assert isinstance(src, OracleViseme) and src.per_frame and src.dim == len(VISEME_CLASSES) == 13
    assert src.identity == OracleViseme(smoke_corpus).identity and src.identity.startswith("oracle_viseme:v1:13:")
    assert VISEME_CLASSES[int(src.pause.argmax())] == "silence" and src.pause.sum() == 1
    clips = load_clips(smoke_corpus, "test", None, src)
    seen = set()
    for c in clips:
        F = c.F_s.numpy()
        assert F.shape == (c.n_frames, 13) and (F.sum(1) == 1).all() and set(np.unique(F)) <= {0.0, 1.0}
        for t in range(c.n_frames):  # frame by frame, written out
            said = [p for p in c.alignment["phonemes"] if p["start"] <= t / c.fps < p["end"]]
            want = viseme_of(said[-1]["symbol"]) if said else "silence"
            assert VISEME_CLASSES[int(F[t].argmax())] == want, (c.stem, t)
            seen.add(want)
    assert "silence" in seen and len(seen) >= 8


def test_time_local_sources_refuse_a_dataset_without_alignments(smoke_corpus, tmp_path):
    for name in ("oracle_text_local", "oracle_viseme"):
        with pytest.raises(DecoderError, match=rf"^{name} reads the .* timings of alignments.json, and "
                                               rf"{re.escape(str(tmp_path))}/alignments.json does not exist"):  # fmt: skip
            SemanticSource.from_name(name, tmp_path)
    src = OracleViseme(smoke_corpus)
    with pytest.raises(DecoderError, match=r"oracle_viseme needs the phoneme timings .* none for \['s2'\]"):
        src.vectors([np.zeros(10)] * 2, [None] * 2, ["s1", "s2"], [{"phonemes": []}, None], [3, 3], 30.0)
    with pytest.raises(DecoderError, match="pass n_frames"):
        src.vectors([np.zeros(10)], [None], ["s1"], [{"phonemes": []}])
    bad = {"phonemes": [{"symbol": "Q!", "start": 0.0, "end": 0.1}]}
    with pytest.raises(DecoderError, match=r"clip 's1' of alignments.json: phoneme 'Q!' has no viseme class"):
        src.vectors([np.zeros(10)], [None], ["s1"], [bad], [3], 30.0)


# ---------------------------------------------------------------------------------------------
# training, evaluation, the use test and animate with a time-local source


@pytest.fixture(scope="module")
def viseme_run(smoke_corpus, tmp_path_factory):
    """A reference decoder with the oracle_viseme control, trained through the CLI (mfcc F_p, 40 steps,
    standardised plug), and evaluated through it."""
    out = tmp_path_factory.mktemp("frames") / "reference-oracle_viseme"
    assert main(["decoder", "train", "--host", "reference", "--semantic", "oracle_viseme", "--corpus", str(smoke_corpus),
                 "--out", str(out), "--encoder", "mfcc", "--steps", "40", "--batch-size", "4",
                 "--set", "plug_scale=standardize"]) == 0  # fmt: skip
    assert main(["decoder", "eval", "--model", str(out), "--condition", "0"]) == 0
    return out


def test_a_viseme_oracle_trains_evaluates_and_its_stream_is_used(viseme_run, smoke_corpus):
    record = json.loads((viseme_run / "decoder_run.json").read_text())
    assert record["data"]["semantic"] == OracleViseme(smoke_corpus).identity
    assert record["config"]["semantic_dim"] == 13 and record["plug"]["gain"] > 0
    model, _ = load_run(viseme_run)
    # the standardisation is over the training frames: their standardised RMS is F_p's
    train = load_clips(smoke_corpus, "train", None, OracleViseme(smoke_corpus))
    frames = torch.cat([c.F_s for c in train])
    z = (frames - model.fusion.F_s_mean) * model.fusion.F_s_gain
    assert float(z.pow(2).mean().sqrt()) == pytest.approx(record["plug"]["F_p_rms"], rel=1e-4)
    ev = json.loads((viseme_run / "eval-test.json").read_text())
    assert ev["semantic"] == "oracle_viseme" and np.isfinite(ev["metrics"]["lve"])
    use = use_test(viseme_run, split="test")
    assert use["n_swapped"] == use["n_clips"] > 0
    assert use["swap"]["change"] > 0 and use["mean"]["change"] > 0
    assert use["scale"]["after"]["ratio"] > 0 and use["scale"]["before"]["ratio"] > 0


def test_oracle_text_local_trains_and_its_plug_scale_is_over_frames(smoke_corpus, tmp_path):
    out = tmp_path / "text-local"
    r = DecoderRecipe("reference", semantic="oracle_text_local", encoder="mfcc", max_steps=5, batch_size=4)
    record = train_decoder(r, smoke_corpus, out)
    assert record["data"]["semantic"] == OracleTextLocal(smoke_corpus).identity and record["config"]["semantic_dim"] == 384
    model, _ = load_run(out)
    clips = load_clips(smoke_corpus, "test", None, OracleTextLocal(smoke_corpus))[:3]
    clips = [replace(c, features=torch.ones(c.n_frames, model.config.audio_dim)) for c in clips]  # ||F_p,t|| = sqrt(C_p)
    terms = [model.fusion.semantic_term(c.F_s).detach() for c in clips]
    centre = torch.cat(terms).mean(0)
    want = [float((t - centre).norm(dim=-1).mean()) / model.config.audio_dim**0.5 for t in terms]
    assert plug_scale(model, clips)["ratio"] == pytest.approx(float(np.median(want)), rel=1e-5)


def test_animate_refuses_a_time_local_oracle_in_one_line(viseme_run, tmp_path, capsys):
    wav = tmp_path / "a.wav"
    sf.write(wav, (0.1 * np.sin(np.arange(16000) / 10)).astype(np.float32), 16000)
    for args in (["--model", str(viseme_run)], ["--semantic", "oracle_viseme"]):
        out = tmp_path / "x.mp4"
        assert main(["animate", str(wav), "--host", "reference", *args, "--out", str(out)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "oracle_viseme" in err[0] and "alignments.json" in err[0] and not out.exists(), err


def test_animate_slices_a_per_frame_F_s_with_its_windows(viseme_run, tmp_path, monkeypatch):
    """A time-local source that animate could compute from the wav (none yet: a stand-in that numbers the
    frames) is computed once and each window gets its own frames' slice."""
    model, record, encoder, _ = animate_module.load_trained(viseme_run)

    class Numbered(SemanticSource):
        name, dim, per_frame = "numbered", 13, True

        def vectors(self, clips_audio, transcripts, stems, alignments=None, n_frames=None, fps=None):
            return [np.repeat(np.arange(n, dtype=np.float32)[:, None], 13, 1) for n in n_frames]

    got = []

    def spy(net, clips, *args, **kwargs):
        got.append(clips[0].F_s[:, 0].numpy().copy())
        out = real(net, clips, *args, **kwargs)  # the model reads the slice; the template is rendered (fast)
        return [np.broadcast_to(c.template.numpy(), o.shape).copy() for c, o in zip(clips, out, strict=True)]

    real = animate_module.generate_clips
    monkeypatch.setattr(animate_module, "load_trained", lambda folder: (model, record, encoder, Numbered()))
    monkeypatch.setattr(animate_module, "_check_run", lambda *a: None)
    monkeypatch.setattr(animate_module, "generate_clips", spy)
    wav = tmp_path / "a.wav"
    sf.write(wav, (0.1 * np.sin(np.arange(32000) / 10)).astype(np.float32), 16000)
    r = animate_module.animate(wav, "reference", tmp_path / "x.mp4", model=viseme_run, chunk_s=0.6, overlap_s=0.2,
                               size=(32, 32))  # fmt: skip
    win = animate_module.windows(r["n_frames"], 18, 6)
    assert len(win) == r["windows"] == len(got) > 1
    for (s, e), F in zip(win, got, strict=True):
        np.testing.assert_array_equal(F, np.arange(s, e))
