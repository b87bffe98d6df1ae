"""The BIWI-like corpus: another mesh, 25 fps, its own speakers and sentences, BIWI's seen-speaker protocol;
read by everything downstream (FaceDataset, Corpus, tiny HuBERT, the decoders' clips)."""

import json
import math
from dataclasses import asdict

import numpy as np
import pytest

from w2s.corpus import build as B
from w2s.corpus import face
from w2s.corpus.pairs import mine_pairs
from w2s.data.audio import audio_info
from w2s.data.corpus import Corpus
from w2s.data.faces import FaceDataset

DEFAULT_V = face.DEFAULT_TOPOLOGY.n_vertices


@pytest.fixture(scope="module")
def biwi(smoke_biwi_corpus):
    """The smoke-biwi-like corpus (6 speakers x 6 sentences; conftest). Read it only."""
    return smoke_biwi_corpus


@pytest.fixture(scope="module")
def mined(distances):
    return {g: mine_pairs(g, distances=distances) for g in ("near", "same_viseme", "far")}


def _said(align: dict, stem: str) -> set[str]:
    return {w["word"].lower().strip(".,!?") for w in align[stem]["words"]}


def test_build_is_another_dataset(biwi):
    meta = json.loads((biwi / "corpus.json").read_text())
    V = meta["n_vertices"]
    assert meta["fps"] == 25 and meta["n_subjects"] == 6 and meta["n_sequences"] == 36
    assert (
        meta["name"] == "w2s-synthbiwi"
    )  # the dataset's name (DatasetSpec.name), not the default's w2s-synthtalk
    assert (
        3000 <= V <= 5000 and V != DEFAULT_V and V == face.Topology(*B.PRESETS["biwi-like"].head).n_vertices
    )
    assert meta["preset"]["name"] == "smoke-biwi-like" and meta["preset"]["fps"] == 25
    c = Corpus.open(biwi)
    assert c.fps == 25.0 and c.n_vertices == V and c.faces.max() == V - 1
    assert all(t.shape == (V, 3) for t in c.templates.values())
    # vertices_npy is at 25 fps: every sequence covers its audio at 25 frames a second (30 would not fit)
    for stem in c.stems():
        n_samples, sr, _ = audio_info(biwi / "wav" / f"{stem}.wav")
        assert c.n_frames(stem) == math.ceil(round(n_samples / sr * 25, 6)), stem


def test_seen_speaker_protocol(biwi):
    splits = json.loads((biwi / "splits.json").read_text())
    subjects = splits["train"]["subjects"]
    assert len(subjects) == 6 and all(s.startswith("SynthBiwi_S") for s in subjects)
    assert {k: v["sentences"] for k, v in splits.items()} == {"train": [1, 4], "val": [5, 5], "test": [6, 6]}
    assert splits["val"]["subjects"] == splits["test"]["subjects"] == subjects  # BIWI-Test-A: seen speakers
    sizes = {}
    for split in ("train", "val", "test"):
        ds = FaceDataset(biwi, split)
        sizes[split] = len(ds)
        assert ds.fps == 25.0 and ds.subjects == subjects and ds.n_vertices != DEFAULT_V
        assert [ds.subject_index(s) for s in ds.subjects] == list(
            range(6)
        )  # conditioned on their own identity
        item = ds[0]
        assert (
            item["fps"] == 25.0
            and item["subject_index"] == 0
            and item["vertices"].shape[1:] == (ds.n_vertices, 3)
        )
    assert sizes == {"train": 24, "val": 6, "test": 6}


def test_held_out_sentences_carry_pair_words(biwi):
    c = Corpus.open(biwi)
    near = c.pair_words("near")
    assert len(near) == 8 and len(c.pairs("same_viseme")) == len(c.pairs("far")) == 1
    train_said = [_said(c.alignments, s) for s in c.stems("train")]
    train_texts = {c.transcripts[s] for s in c.stems("train")}
    for split in ("val", "test"):
        for stem in c.stems(split):
            w = c.alignments[stem]["target_word"]
            assert w in near and w in _said(c.alignments, stem), stem
            assert sum(w in said for said in train_said) >= 2, (
                w
            )  # heard in training, said again in a new sentence
            assert c.transcripts[stem] not in train_texts
    assert c.target_stems(near) and c.stats().train_occurrences == {w: 2 for w in near}


def test_own_speakers_and_sentences(biwi, mined):
    c = Corpus.open(biwi)
    spk, _, _, plan = B.plan_corpus(B.PRESETS["smoke"], 0, mined)
    voices = [s["voice"] for s in c.speakers]
    unused = len(set(B.speech.VOICES) - {s.voice for s in spk})  # voices the VOCASET-like speakers leave
    assert len(set(voices)) == 6 and sum(v not in {s.voice for s in spk} for v in voices) == min(6, unused)
    assert not {(s["voice"], s["rate"], s["pitch"]) for s in c.speakers} & {
        (s.voice, s.rate, s.pitch) for s in spk
    }
    assert {json.dumps(s["shape"], sort_keys=True) for s in c.speakers}.isdisjoint(
        json.dumps(asdict(s.shape), sort_keys=True) for s in spk
    )
    assert set(c.transcripts.values()).isdisjoint(v["text"] for v in plan.values())
    assert len(set(c.transcripts.values())) == 36


def test_regions_and_rig_on_the_new_mesh(biwi):
    c = Corpus.open(biwi)
    V = c.n_vertices
    assert 0 < len(c.lips) < len(c.upper_face) < V and not np.intersect1d(c.lips, c.upper_face).size
    t = c.templates["SynthBiwi_S01"]
    assert (
        t[c.lips, 1].mean() < t[c.upper_face, 1].mean() and t[c.lips, 2].mean() > 0
    )  # lips below the eyes, in front
    mesh = face.make_head(topology=face.Topology(*B.PRESETS["smoke-biwi-like"].head))
    assert np.array_equal(mesh.regions["lips"], c.lips) and np.array_equal(mesh.faces, c.faces)
    assert mesh.to_trimesh().is_winding_consistent
    table = face.lip_displacement_table(face.VisemeRig.from_head(mesh))
    assert table[~np.eye(len(table), dtype=bool)].min() >= 0.002  # every viseme class is its own lip shape
    # speech moves the lips, not the back of the head
    moved = (
        np.abs(np.load(biwi / "vertices_npy" / "SynthBiwi_S01_sentence01.npy").reshape(-1, V, 3) - t)
        .max(0)
        .max(-1)
    )
    back = np.flatnonzero(t[:, 2] < -0.05)
    assert moved[c.lips].max() > 0.004 and moved[back].max() < 0.001


def test_full_preset_plan(mined):
    cfg = B.PRESETS["biwi-like"]
    assert cfg.fps == 25 and cfg.n_train == 6 and 3000 <= cfg.topology.n_vertices <= 5000
    spk, pairs, controls, plan = B.plan_corpus(cfg, 0, mined)
    subjects = [s.subject for s in spk]
    assert B._splits(cfg, subjects) == {"train": {"subjects": subjects, "sentences": [1, 32]},
                                        "val": {"subjects": subjects, "sentences": [33, 36]},
                                        "test": {"subjects": subjects, "sentences": [37, 40]}}  # fmt: skip
    assert len(plan) == 240 and len({v["text"] for v in plan.values()}) == 240
    near = {w for p in pairs for w in p.words}
    for k in range(33, 41):
        assert all(plan[(s, k)]["word"] in near for s in subjects)
    test_words = {plan[(s, k)]["word"] for s in subjects for k in range(37, 41)}
    assert len(test_words) >= 20 and all(
        sum(plan[(s, k)]["word"] == w for s in subjects for k in range(1, 33)) >= 2 for w in test_words
    )
    _, _, _, default = B.plan_corpus(B.PRESETS["default"], 0, mined)
    assert {v["text"] for v in plan.values()}.isdisjoint(v["text"] for v in default.values())
    assert B.plan_corpus(cfg, 0, mined)[3] == plan  # deterministic


def test_vocaset_like_presets_keep_their_record():
    for name in ("smoke", "default"):  # corpus.json's "preset" is what build version 3 wrote
        assert set(B.PRESETS[name].to_json()) == set(B._V3_FIELDS)
    assert {"fps", "head", "subject_prefix", "val_sentences", "test_sentences"} <= set(
        B.PRESETS["biwi-like"].to_json()
    )
    with pytest.raises(ValueError, match="n_val and n_test must be 0"):
        B.Preset("x", n_sentences=10, n_pairs=1, val_sentences=2, test_sentences=2)
    with pytest.raises(ValueError, match="leave training sentences"):
        B.Preset("x", n_sentences=4, n_pairs=1, n_val=0, n_test=0, val_sentences=2, test_sentences=2)
    with pytest.raises(ValueError, match="n_rows must be an integer >= 24"):
        face.Topology(60, 10)


def test_downstream_encoder_and_clips(biwi, monkeypatch, one_torch_thread):
    import w2s.encoders.loading as loading
    from w2s.decoders.inputs import SemanticSource, load_clips
    from w2s.encoders import load_encoder
    from w2s.encoders.tiny_hubert import config_for_corpus, pretraining_history, tiny_config

    assert config_for_corpus(biwi) == tiny_config()  # the seconds-long smoke recipe
    monkeypatch.setattr(
        loading, "config_for_corpus", lambda corpus: tiny_config(steps=3)
    )  # shorter still: a fast test
    enc = load_encoder("tiny-hubert", corpus=biwi, device="cpu")
    hist = pretraining_history(enc.source)
    assert hist["steps_done"] == 3 and hist["n_utterances"] == 24  # the 6 speakers' training sentences
    clips = load_clips(biwi, "test", enc, SemanticSource())
    ds = FaceDataset(biwi, "test")
    assert [c.stem for c in clips] == ds.stems
    for c in clips:
        assert c.fps == 25.0 and c.subject_index >= 0 and c.template.shape == (ds.n_vertices, 3)
        assert c.features.shape == (c.n_frames, enc.dim) and c.vertices.shape[1:] == (ds.n_vertices, 3)
