"""Two voices side by side (w2s.evaluation.voices): the comparison notebook 02's §8 shows, and the lever rows
it reads. A corpus compared with itself must give the same numbers for both 'voices'; one whose held-out
utterances differ is refused."""

import json

import numpy as np
import pytest

from w2s.data.corpus import Corpus
from w2s.encoders import load_encoder
from w2s.evaluation.voices import compare_voices, voice_lever_rows, voice_rows, voices_table
from w2s.semantic.targets import load_text_model


class MeanProjection:
    """A stand-in for lite: each utterance's mean frame through a fixed random map (F_s of the text model's size)."""

    def __init__(self, dim_in: int, dim_out: int = 384):
        self.W = np.random.default_rng(0).standard_normal((dim_in, dim_out)).astype(np.float32)

    def predict(self, feats):
        return np.stack([f.mean(0) @ self.W for f in feats])


@pytest.fixture(scope="module")
def host():
    return load_encoder("mfcc")


def test_a_voice_compared_with_itself_gives_its_own_numbers_twice(smoke_corpus, host):
    c = Corpus(smoke_corpus)
    report = compare_voices(host, MeanProjection(host.dim), load_text_model(), {"espeak": c, "again": c}, max_train=3000)
    rows = voice_rows(report)
    assert [r["voice"] for r in rows] == ["espeak", "again"]
    for key in rows[0]:
        if key != "voice":
            assert rows[0][key] == rows[1][key], key
    assert report["same_utterance_fs_cosine"]["val"] == pytest.approx(1.0)
    assert report["n_utterances"] == {"val": len(c.stems("val")), "test": len(c.stems("test"))}
    r = report["espeak"]
    assert 0 <= r["probe"]["accuracy"] <= 1 and r["probe"]["n_test"] > 0
    assert r["retrieval_test"]["n_candidates"] == len(set(c.transcripts[s] for s in c.stems("test")))


def test_voices_whose_held_out_utterances_differ_are_refused(smoke_corpus, smoke_biwi_corpus, host):
    with pytest.raises(ValueError, match="voice 'other'.*val utterances are not 'espeak'"):
        compare_voices(host, MeanProjection(host.dim), None, {"espeak": Corpus(smoke_corpus),
                                                              "other": Corpus(smoke_biwi_corpus)})  # fmt: skip


def test_lever_rows_attach_lite_to_its_encoder_and_seed(tmp_path):
    rows = [
        {"lever": "baseline", "seed": 0, "measure": "phonetic probe", "flite val": 0.1, "flite test": 0.2,
         "espeak val": 0.5, "espeak test": 0.6},
        {"lever": "baseline", "seed": 1, "measure": "phonetic probe", "flite val": 0.11, "flite test": 0.21,
         "espeak val": 0.51, "espeak test": 0.61},
        {"lever": "baseline", "measure": "wav2sem lite R@1", "wav2sem_augment": "voice", "flite val": 0.9, "espeak val": 0.9},
        {"lever": "baseline", "measure": "wav2sem lite R@1", "wav2sem_augment": "none", "flite val": 0.05, "espeak val": 0.7},
    ]  # fmt: skip
    path = tmp_path / "levers.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = voice_lever_rows(path)
    assert [(r["tiny-HuBERT lever"], r["seed"]) for r in out] == [("baseline", 0), ("baseline", 1)]
    assert out[0]["lite R@1 flite val"] == 0.05 and out[0]["lite R@1 espeak val"] == 0.7  # the unaugmented lite
    assert out[1]["lite R@1 flite val"] is None  # lite was trained on seed 0's encoder only
    assert out[1]["probe flite test"] == 0.21
    assert voice_lever_rows(tmp_path / "missing.jsonl") == []


def test_the_readme_table_says_why_when_the_second_voice_was_skipped(smoke_corpus, host):
    from w2s.evaluation.report import markdown_table

    skipped = voices_table(None, "--voice-set flite: flite and t2p not found on PATH", "powered")
    assert skipped["rows"] == [["not measured: --voice-set flite: flite and t2p not found on PATH"]]
    c = Corpus(smoke_corpus)
    report = compare_voices(host, MeanProjection(host.dim), load_text_model(), {"espeak": c, "again": c}, max_train=3000)
    table = voices_table(report, None, "smoke")
    assert "smoke corpus" in table["title"] and [r[0] for r in table["rows"]] == ["espeak", "again"]
    assert "| espeak |" in markdown_table(voice_rows(report))
