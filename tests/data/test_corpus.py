"""w2s.data.corpus.Corpus on the shared smoke corpus: what it reads agrees with the files and the FaceDataset."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from w2s.corpus.pairs import GROUPS
from w2s.data.corpus import Corpus
from w2s.data.faces import FaceDataset
from w2s.data.spec import DatasetError


@pytest.fixture(scope="module")
def corpus(smoke_corpus):
    return Corpus(smoke_corpus)


def test_metadata(corpus, smoke_corpus):
    meta = json.loads((smoke_corpus / "corpus.json").read_text())
    assert corpus.fps == 30.0 and corpus.sample_rate == 16000 and corpus.preset == "smoke" and corpus.seed == 0
    assert corpus.content_sha256 == meta["content_sha256"] and len(corpus.content_sha256) == 64
    assert [s["subject"] for s in corpus.speakers] == [s["subject"] for s in meta["speakers"]]
    assert Corpus.open(corpus) is corpus and Path(corpus) == smoke_corpus == Corpus.open(smoke_corpus).root


def test_splits_follow_the_dataset(corpus, smoke_corpus):
    assert corpus.split_names == ["train", "val", "test"]
    assert [len(corpus.subjects(s)) for s in corpus.split_names] == [8, 2, 2]
    for split in corpus.split_names:
        ds = FaceDataset(smoke_corpus, split=split)
        assert corpus.stems(split) == ds.stems  # same utterances, same order
        assert corpus.subjects(split) == ds.subjects
        assert len(corpus.dataset(split)) == len(ds)
    assert corpus.stems() == sorted(corpus.alignments) == sorted(corpus.transcripts)
    with pytest.raises(DatasetError, match="no split 'dev'.*train"):
        corpus.stems("dev")


def test_stats_count_what_is_there(corpus, smoke_corpus):
    stats = corpus.stats()
    for row in stats.splits:
        ds = FaceDataset(smoke_corpus, split=row["split"])
        frames = [e.n_frames for e in ds.entries]
        assert row["sequences"] == len(ds) and row["subjects"] == len(ds.subjects)
        assert row["minutes"] == pytest.approx(sum(frames) / 30 / 60)
        assert row["mean seconds"] == pytest.approx(np.mean([len(ds.load_vertices(i)) for i in range(len(ds))]) / 30)
    assert sum(r["sequences"] for r in stats.splits) == 8 * 4 + 4 * 2  # train: sentences 1-4; val/test: 3-4
    assert stats.minutes == pytest.approx(sum(r["minutes"] for r in stats.splits))

    raw_pairs = json.loads((smoke_corpus / "pairs.json").read_text())
    assert stats.pairs_per_group == {g: sum(p["group"] == g for p in raw_pairs) for g in GROUPS}
    near_words = [w for p in raw_pairs if p["group"] == "near" for w in (p["word_a"], p["word_b"])]
    assert sorted(stats.train_occurrences) == sorted(near_words)
    for w, n in stats.train_occurrences.items():
        assert n == sum(bool(corpus.word_spans(s, [w])) for s in corpus.stems("train"))
        assert n >= 2  # the builder's promise: every near-pair word in at least two training sentences
    assert sum(stats.viseme_counts.values()) == sum(len(a["phonemes"]) for a in corpus.alignments.values())


def test_pairs_words_and_spans(corpus):
    near = corpus.pairs("near")
    assert near and all(p["group"] == "near" for p in near)
    assert len(corpus.pairs()) == sum(len(corpus.pairs(g)) for g in GROUPS)
    assert corpus.pair_words("near")[:2] == [near[0]["word_a"], near[0]["word_b"]]
    with pytest.raises(ValueError, match="unknown pair group"):
        corpus.pairs("close")

    found = corpus.target_stems([near[0]["word_a"], near[0]["word_b"]])
    assert found and found == sorted(found, key=lambda r: (r[1], r[0]))
    for stem, word in found:
        assert corpus.alignments[stem]["target_word"] == word
        spans = corpus.word_spans(stem, [word.upper()])  # case is ignored
        duration = corpus.alignments[stem]["words"][-1]["end"]
        assert spans and all(0 <= a < b <= duration + 1e-6 for a, b in spans)
    with pytest.raises(KeyError, match="no utterance"):
        corpus.word_spans("nobody_sentence99", ["x"])


def test_meshes(corpus):
    assert sorted(corpus.templates) == sorted(s["subject"] for s in corpus.speakers)
    V = corpus.n_vertices
    assert all(t.shape == (V, 3) for t in corpus.templates.values())
    assert corpus.faces.shape[1] == 3 and corpus.faces.max() < V and corpus.faces.dtype == np.int64
    assert set(corpus.regions) == {"lips", "upper_face"}
    assert 0 < len(corpus.lips) < V and not set(corpus.lips) & set(corpus.upper_face)
    ds = corpus.dataset("val")
    np.testing.assert_array_equal(ds.lips, corpus.lips)
    np.testing.assert_array_equal(ds.faces, corpus.faces)


def test_not_a_corpus(tmp_path):
    with pytest.raises(DatasetError, match=r"corpus\.json is missing"):
        Corpus(tmp_path / "nope")
    (tmp_path / "corpus.json").write_text("{}")
    with pytest.raises(DatasetError, match=r"splits\.json is missing.*w2s corpus build"):
        Corpus(tmp_path)


@pytest.mark.parametrize("name, content, match", [
    ("pairs.json", "[{", "not valid JSON"),
    ("pairs.json", '[{"word_a": "a"}]', "list of pairs"),
    ("pairs.json", '[{"word_a": "a", "word_b": "b", "group": "odd"}]', "unknown pair group"),
    ("transcripts.json", "[1, 2]", "JSON object"),
])  # fmt: skip
def test_bad_files_are_named(smoke_corpus, tmp_path, name, content, match):
    root = tmp_path / "c"
    root.mkdir()
    for f in ("corpus.json", "splits.json", "transcripts.json", "alignments.json", "pairs.json"):
        shutil.copy(smoke_corpus / f, root / f)
    (root / name).write_text(content)
    corpus = Corpus(root)
    with pytest.raises(DatasetError, match=match) as err:
        corpus.pairs() if name == "pairs.json" else corpus.transcripts  # noqa: B018
    assert name in str(err.value)
