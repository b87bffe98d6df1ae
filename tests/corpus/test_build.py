import json

import numpy as np
import pytest
import torch

from w2s.corpus import build as B
from w2s.data.faces import FaceDataset, collate


def test_smoke_build_is_complete(smoke_corpus):
    out = smoke_corpus
    meta = json.loads((out / "corpus.json").read_text())
    assert meta["n_subjects"] == 12 and meta["n_sequences"] == 12 * 4 and meta["fps"] == 30
    for name in ("templates.pkl", "faces.npy", "regions/lips.txt", "regions/upper_face.txt", "transcripts.json",
                 "alignments.json", "splits.json", "corpus.json"):
        assert (out / name).is_file(), name
    assert len(list((out / "wav").glob("*.wav"))) == len(list((out / "vertices_npy").glob("*.npy"))) == 48
    v = np.load(out / "vertices_npy" / "SynthTalk_S01_sentence01.npy")
    assert v.dtype == np.float32 and v.shape[1] == 3 * meta["n_vertices"] and meta["n_vertices"] >= 2000


def test_same_seed_byte_identical(smoke_corpus, tmp_path):
    out = smoke_corpus
    again = B.build(tmp_path / "again", "smoke", seed=0)
    files = sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file())
    for f in files:
        assert (out / f).read_bytes() == (again / f).read_bytes(), f
    other = B.build(tmp_path / "other", "smoke", seed=1)
    assert json.loads((other / "corpus.json").read_text())["content_sha256"] != json.loads((out / "corpus.json").read_text())["content_sha256"]


def test_vocaset_protocol_and_pair_coverage(smoke_corpus):
    out = smoke_corpus
    splits = json.loads((out / "splits.json").read_text())
    assert [len(splits[s]["subjects"]) for s in ("train", "val", "test")] == [8, 2, 2]
    assert splits["train"]["sentences"] == [1, 4] and splits["test"]["sentences"] == [3, 4]
    all_pairs = json.loads((out / "pairs.json").read_text())
    pairs = [p for p in all_pairs if p["group"] == "near"]
    assert len(pairs) == 4 and {p["group"] for p in all_pairs} == {"near", "same_viseme", "far"}
    words = [w for p in all_pairs for w in (p["word_a"], p["word_b"])]
    assert len(words) == len(set(words))  # groups never share a word
    align = json.loads((out / "alignments.json").read_text())
    train = set(splits["train"]["subjects"])
    for p in pairs:
        for w in (p["word_a"], p["word_b"]):
            stems = [s for s, a in align.items() if s.rsplit("_", 1)[0] in train and w in [x["word"].lower().strip(".,!?") for x in a["words"]]]
            assert len(stems) >= 2, w
    test_words = {a["target_word"] for s, a in align.items() if s.rsplit("_", 1)[0] in splits["test"]["subjects"] and int(s[-2:]) >= 3}
    assert test_words - {None}


def test_reader_batches_of_four(smoke_corpus):
    out = smoke_corpus
    ds = FaceDataset(out, split="train")
    assert len(ds) == 32
    loader = torch.utils.data.DataLoader(ds, batch_size=4, collate_fn=collate)
    batch = next(iter(loader))
    assert batch.vertices.shape[0] == 4 and batch.vertex_mask.any(1).all()
    assert batch.vertices.shape[2] == len(ds[0]["template"])


def test_failed_build_leaves_nothing(tmp_path, monkeypatch):
    calls = {"n": 0}
    real = B.face.animate

    def flaky(*a, **k):
        calls["n"] += 1
        if calls["n"] == 10:
            raise RuntimeError("simulated crash")
        return real(*a, **k)

    monkeypatch.setattr(B.face, "animate", flaky)
    with pytest.raises(RuntimeError, match="simulated"):
        B.build(tmp_path / "c", "smoke")
    assert list(tmp_path.iterdir()) == []


def test_refuses_an_utterance_whose_phonemes_disagree(tmp_path, monkeypatch, distances):
    real = B.speech.synthesize

    def lossy(*a, **k):  # an event reading that loses the last phoneme, as zero-length /l/s once were
        u = real(*a, **k)
        u.phonemes = u.phonemes[:-1]
        return u

    monkeypatch.setattr(B.speech, "synthesize", lossy)
    with pytest.raises(B.BuildError, match=r"^SynthTalk_S01_sentence01: the phonemes of '.+' \(voice us-.+missing '"):
        B.build(tmp_path / "c", "smoke")
    assert list(tmp_path.iterdir()) == []


def test_alignments_keep_every_phoneme(smoke_corpus):
    # what alignments.json (the lips' source) lists is what espeak-ng says each sentence is
    align = json.loads((smoke_corpus / "alignments.json").read_text())
    texts = json.loads((smoke_corpus / "transcripts.json").read_text())
    voice = {s["subject"]: s["voice"] for s in json.loads((smoke_corpus / "corpus.json").read_text())["speakers"]}
    for stem, a in align.items():
        assert [p["symbol"] for p in a["phonemes"]] == B.speech.spoken_phonemes(texts[stem], voice[stem.rsplit("_", 1)[0]]), stem
        assert all(p["end"] > p["start"] for p in a["phonemes"]), stem
        assert all(not p["estimated"] or p["symbol"] == "l" for p in a["phonemes"]), stem


def test_refuses_to_overwrite_and_bad_preset(tmp_path):
    (tmp_path / "c").mkdir()
    with pytest.raises(B.BuildError, match="already exists"):
        B.build(tmp_path / "c", "smoke")
    with pytest.raises(B.BuildError, match="unknown preset"):
        B.build(tmp_path / "d", "huge")


def test_select_pairs_spreads_substitutions(near_pairs):
    chosen = B.select_pairs(near_pairs, 60)
    words = [w for p in chosen for w in p.words]
    assert len(words) == len(set(words)) == 120
    kinds = {tuple(sorted((p.phoneme_a, p.phoneme_b))) for p in chosen}
    assert len(kinds) >= 20


@pytest.mark.slow
def test_two_builds_into_one_folder_one_succeeds_and_the_other_says_why(tmp_path, capsys, distances):
    """Two builds into one OUT at once (seeds 0 and 1; the first in another process, started without the
    CLI's imports): the second is refused naming the first's process, and the first corpus stays."""
    import subprocess
    import sys
    import time

    from w2s.cli import main
    from w2s.data.corpus import Corpus
    from w2s.utils.io import lock_path

    out = tmp_path / "c"
    code = f"from w2s.corpus.build import build; build({str(out)!r}, 'smoke', seed=0); print('built')"
    first = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while first.poll() is None and time.monotonic() < deadline:  # until the first build holds the lock
        if lock_path(out).is_file() and lock_path(out).read_text().strip() == str(first.pid):
            break
        time.sleep(0.02)
    capsys.readouterr()
    assert main(["corpus", "build", str(out), "--preset", "smoke", "--seed", "1"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and str(out) in err[0] and f"process {first.pid}" in err[0]
    stdout, stderr = first.communicate(timeout=600)
    assert first.returncode == 0 and "built" in stdout, stderr[-2000:]
    assert Corpus(out).seed == 0  # the first corpus, intact
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c"]  # no temp folder, no lock file left
