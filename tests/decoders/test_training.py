"""The decoder pipeline on the smoke corpus: inputs computed once and cached, training resumable and
guarded, the run record, evaluation against the template + mean-offset baseline, the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import w2s.decoders as decoders
from w2s.cli import main
from w2s.data.faces import FaceDataset
from w2s.decoders import DecoderError
from w2s.decoders.inputs import OracleText, SemanticSource, Wav2SemVectors, collate, load_clips
from w2s.decoders.training import DecoderRecipe, load_run, train_decoder
from w2s.encoders import load_encoder
from w2s.evaluation.decoders import baseline, evaluate_decoder
from w2s.evaluation.metrics import lve
from w2s.semantic.targets import cached_embed, load_text_model
from w2s.semantic.wav2sem import Wav2Sem

pytestmark = pytest.mark.usefixtures("one_torch_thread")

HOSTS = [n for n in decoders.names() if n != "reference"]


def test_clips_carry_aligned_features_and_the_right_F_s(smoke_corpus, wav2sem_dir, monkeypatch):
    enc = load_encoder("mfcc")
    clips = load_clips(smoke_corpus, "test", enc, OracleText())
    ds = FaceDataset(smoke_corpus, "test")
    assert [c.stem for c in clips] == ds.stems
    for c in clips:
        assert c.features.shape == (c.n_frames, enc.dim) and c.vertices.shape[1:] == (ds.n_vertices, 3)
    texts = [ds.transcripts[s] for s in ds.stems]
    expected = cached_embed(load_text_model("all-MiniLM-L6-v2"), texts)
    np.testing.assert_allclose(np.stack([c.F_s.numpy() for c in clips]), expected, atol=1e-6)

    sem = Wav2SemVectors(wav2sem_dir)
    calls = []
    real = Wav2Sem.predict
    monkeypatch.setattr(Wav2Sem, "predict", lambda self, x, **kw: calls.append(len(x)) or real(self, x, **kw))
    first = load_clips(smoke_corpus, "test", enc, sem)
    again = load_clips(smoke_corpus, "test", enc, Wav2SemVectors(wav2sem_dir))  # a new process would see the same
    assert calls == [len(clips)]  # computed once per clip, then read from disk
    for a, b in zip(first, again):
        torch.testing.assert_close(a.F_s, b.F_s, atol=0, rtol=0)
    audio = ds.load_audio(0)
    np.testing.assert_allclose(first[0].F_s.numpy(), sem.model.predict([audio])[0], atol=1e-5)
    assert SemanticSource.from_name("none").vectors([audio], ["x"], ["s"]) is None


def test_collate_overrides_the_identity(smoke_corpus):
    clips = load_clips(smoke_corpus, "test", load_encoder("mfcc"), SemanticSource())
    assert (collate(clips).subject_index == -1).all()  # unseen test speakers
    batch = collate(clips, subject_index=3)
    assert (batch.subject_index == 3).all() and batch.F_s is None
    assert batch.vertex_mask.sum(1).tolist() == [c.n_frames for c in clips]


def test_train_records_resumes_and_refuses_another_recipe(smoke_corpus, tmp_path):
    recipe = DecoderRecipe("reference", encoder="mfcc", max_steps=4, batch_size=4)
    out = tmp_path / "run"
    rec = train_decoder(recipe, smoke_corpus, out)
    assert rec["finished"] and rec["recipe"]["host"] == "reference" and rec["train"]["max_steps"] == 4
    assert rec["data"]["semantic"] == "none" and rec["data"]["encoder"] == load_encoder("mfcc").identity
    model, again = load_run(out)
    assert again == rec and model.config.n_subjects == 8 and model.config.semantic_source == "none"
    assert train_decoder(recipe, smoke_corpus, out) == rec  # finished: loaded, not retrained
    with pytest.raises(DecoderError, match="another recipe"):
        train_decoder(DecoderRecipe("reference", encoder="mfcc", max_steps=4, batch_size=4, seed=1), smoke_corpus, out)
    with pytest.raises(DecoderError, match="needs --wav2sem"):
        DecoderRecipe("reference", semantic="wav2sem")
    with pytest.raises(DecoderError, match="unknown decoder"):
        DecoderRecipe("nope")


def test_same_seed_same_start_with_and_without_the_plug(smoke_corpus, tmp_path, wav2sem_dir):
    a = train_decoder(DecoderRecipe("reference", encoder="mfcc", max_steps=1, lr=1e-9), smoke_corpus, tmp_path / "a")
    b = train_decoder(DecoderRecipe("reference", "tiny", "wav2sem", encoder="mfcc", wav2sem=str(wav2sem_dir),
                                    max_steps=1, lr=1e-9), smoke_corpus, tmp_path / "b")  # fmt: skip
    ma, mb = load_run(tmp_path / "a")[0], load_run(tmp_path / "b")[0]
    assert a["config"]["semantic_dim"] == b["config"]["semantic_dim"] == 384
    torch.testing.assert_close(ma.vertex_map.weight, mb.vertex_map.weight, atol=1e-6, rtol=0)


def test_evaluate_against_the_baseline(smoke_corpus, tmp_path):
    train_decoder(DecoderRecipe("reference", encoder="mfcc", max_steps=2), smoke_corpus, tmp_path / "m")
    res = evaluate_decoder(tmp_path / "m")
    assert res["conditions"] == list(range(8)) and len(res["per_condition"]) == 8  # unseen: every training style
    assert res["metrics"]["lve"] == pytest.approx(np.mean([p["lve"] for p in res["per_condition"]]))
    clips = res["per_clip"]  # each clip alone, mean over conditions: frame-weighted, they give the pooled LVE
    n = np.array([len(FaceDataset(smoke_corpus, "test").load_vertices(i)) for i in range(len(clips["stem"]))])
    assert clips["stem"] == FaceDataset(smoke_corpus, "test").stems
    assert np.dot(clips["lve"], n) / n.sum() == pytest.approx(res["metrics"]["lve"], rel=1e-6)
    assert len(clips["homophone_lve"]) == len(n) and np.isfinite(clips["homophone_lve"]).any()
    one = evaluate_decoder(tmp_path / "m", conditions=2, with_baseline=False)
    assert one["conditions"] == [2] and one["metrics"]["lve"] == pytest.approx(res["per_condition"][2]["lve"])

    train, test = FaceDataset(smoke_corpus, "train"), FaceDataset(smoke_corpus, "test")
    offs = np.concatenate([train.load_vertices(i) - train.templates[e.subject] for i, e in enumerate(train.entries)])
    gts = [test.load_vertices(i) for i in range(len(test))]
    preds = [np.broadcast_to(test.templates[e.subject] + offs.mean(0), g.shape) for e, g in zip(test.entries, gts)]
    assert res["baseline"]["lve"] == pytest.approx(lve(preds, gts, test.lips), rel=1e-5)
    assert np.isfinite(res["baseline"]["homophone_lve"])
    with pytest.raises(DecoderError, match="--condition"):
        evaluate_decoder(tmp_path / "m", conditions=9)


# every host through the CLI once, the three F_s sources twice each (notebook 04's smoke run trains and
# evaluates all 18 host x F_s combinations through the same functions)
CLI_CASES = [(h, ("none", "wav2sem", "oracle_text")[i % 3]) for i, h in enumerate(HOSTS)]


@pytest.mark.slow
@pytest.mark.parametrize(("host", "semantic"), CLI_CASES)
def test_cli_train_and_eval_every_host(host, semantic, smoke_corpus, wav2sem_dir, tmp_path, capsys):
    out = tmp_path / f"{host}-{semantic}"
    extra = ["--wav2sem", str(wav2sem_dir)] if semantic == "wav2sem" else []
    if host in ("codetalker", "lgldm"):
        extra += ["--set", "stage1_steps=3"]  # their stage 1 (prepare); --steps counts stage 2
    assert main(["decoder", "train", "--host", host, "--semantic", semantic, "--corpus", str(smoke_corpus),
                 "--out", str(out), "--steps", "2", "--batch-size", "4", *extra]) == 0  # fmt: skip
    assert "trained in" in capsys.readouterr().out
    assert main(["decoder", "eval", "--model", str(out), "--condition", "0"]) == 0
    res = json.loads((out / "eval-test.json").read_text())
    assert res["host"] == host and res["semantic"] == semantic and res["split"] == "test"
    for key in ("lve", "lve_mm", "mve", "fdd", "homophone_lve"):
        assert np.isfinite(res["metrics"][key]), key
    assert f"{host} semantic={semantic}" in capsys.readouterr().out


@pytest.mark.slow
def test_cli_joint_training_across_two_meshes(smoke_corpus, smoke_biwi_corpus, tmp_path, capsys):
    """UniTalker on the smoke corpus (2,642 vertices, 30 fps) and the smoke-biwi-like one (4,034, 25 fps) in one
    run: one head each, one dataset per batch, the first corpus's encoder for both; evaluated on each."""
    out = tmp_path / "joint"
    assert main(["decoder", "train", "--host", "unitalker", "--corpus", str(smoke_corpus), "--joint", str(smoke_biwi_corpus),
                 "--out", str(out), "--steps", "6", "--batch-size", "2"]) == 0  # fmt: skip
    rec = json.loads((out / "decoder_run.json").read_text())
    assert rec["config"]["extra_vertices"] == [4034] and rec["config"]["extra_subjects"] == [6]
    assert rec["joint"]["clips"] == [32, 24] and rec["data"]["joint"][0]["root"] == str(smoke_biwi_corpus.resolve())
    assert set(rec["prepare"]) == {"dataset0", "dataset1"}
    model, _ = load_run(out)
    assert [h.out_features for h in model.heads] == [model.config.pca_dim] * 2
    assert [tuple(p.basis.shape[1:]) for p in model.pca] == [(3 * 2642,), (3 * 4034,)]
    assert main(["decoder", "eval", "--model", str(out), "--corpus", str(smoke_biwi_corpus), "--out", str(tmp_path / "b.json")]) == 0
    res = json.loads((tmp_path / "b.json").read_text())
    assert res["dataset"] == 1 and res["conditions"] == [None]  # BIWI-Test-A: seen speakers, each on itself
    assert np.isfinite(res["metrics"]["lve"]) and res["metrics"]["n_sequences"] == 6
    assert main(["decoder", "train", "--host", "voca", "--corpus", str(smoke_corpus), "--joint", str(smoke_biwi_corpus),
                 "--out", str(tmp_path / "v")]) == 2  # fmt: skip
    assert "--joint: voca trains on one dataset" in capsys.readouterr().err


def test_cli_bad_input(smoke_corpus, tmp_path, capsys):
    (tmp_path / "faces").mkdir()  # not a corpus built by w2s: no lite Wav2Sem of notebook 02 to default to
    assert main(["decoder", "train", "--host", "reference", "--semantic", "wav2sem", "--corpus", str(tmp_path / "faces"),
                 "--out", str(tmp_path / "x")]) == 2  # fmt: skip
    assert "not a corpus built by w2s" in capsys.readouterr().err
    assert main(["decoder", "train", "--host", "reference", "--corpus", str(smoke_corpus), "--encoder", "mfcc",
                 "--out", str(tmp_path / "y"), "--set", "nonsense=1"]) == 2  # fmt: skip
    assert "--set" in capsys.readouterr().err and not (tmp_path / "y").exists()
    assert main(["decoder", "eval", "--model", str(tmp_path / "nothing")]) == 2
    assert "no decoder_run.json" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_baseline_is_the_mean_offset_face(smoke_corpus):
    b = baseline(smoke_corpus, "test")
    assert b["n_sequences"] == 4 and b["lve"] > 0


@pytest.mark.parametrize("host", ["voca", "facediffuser"])  # facediffuser: its loss draws noise
def test_a_learning_curve_leaves_the_training_unchanged(smoke_corpus, tmp_path, host):
    plain = DecoderRecipe(host, encoder="mfcc", max_steps=6)
    curve = DecoderRecipe(host, encoder="mfcc", max_steps=6, val_every=2)
    a = train_decoder(plain, smoke_corpus, tmp_path / "plain")
    b = train_decoder(curve, smoke_corpus, tmp_path / "curve")
    assert [e["step"] for e in b["history"]["evals"]] == [2, 4, 6] and not a["history"]["evals"]
    assert all(np.isfinite(e["val_loss"]) and e["val_loss"] > 0 for e in b["history"]["evals"])
    assert a["history"]["loss"] == b["history"]["loss"]
    wa, wb = load_run(tmp_path / "plain")[0].state_dict(), load_run(tmp_path / "curve")[0].state_dict()
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert "val_every" not in plain.to_json() and curve.to_json()["val_every"] == 2  # old records stay valid
    assert DecoderRecipe.from_json(curve.to_json(), "x") == curve
    with pytest.raises(DecoderError, match="--val-every"):
        DecoderRecipe(host, val_every=-1)
