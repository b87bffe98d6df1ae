"""The `w2s decoder eval` rows (E-*) of the second hostile-input survey (shared/reference/bad-inputs-tried-2.md):
each bad input gets one clear stderr line naming the option or file, exit status 2, and no result file; the
checks of the model against the data (mesh topology, alignments against the audio) come before any clip is
encoded; a result file is strict JSON (null where a metric has no value, never a bare NaN). The rows that
were already handled are here too, so that none regresses. CLI cases call ``w2s.cli.main`` in-process.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from cli_cases import cli, edit_json, one_line, survey_rows  # tests/cli_cases.py

import w2s.evaluation.decoders as eval_decoders
from w2s.cli import main
from w2s.utils.io import json_safe, write_json

COVERED, rows = survey_rows()  # the survey rows that have a test here


# ---------------------------------------------------------------------------------------------
# helpers


def strict_json(path: Path):
    """The file's JSON, refusing the bare NaN / Infinity tokens that Python's json writes by default."""

    def refuse(token):
        raise AssertionError(f"{path} holds {token}, which is not JSON")

    return json.loads(path.read_text(), parse_constant=refuse)


@pytest.fixture
def corpus(tmp_path, smoke_corpus) -> Path:
    """A private copy of the smoke corpus (hard links: edit files only through `put`)."""
    return Path(shutil.copytree(smoke_corpus, tmp_path / "corpus", copy_function=os.link))


@pytest.fixture(scope="module")
def ff(tmp_path_factory, smoke_corpus, one_torch_thread) -> Path:
    """A finished FaceFormer (mfcc F_p, 3 steps) on the smoke corpus; shared: tests write only under tmp_path."""
    out = tmp_path_factory.mktemp("eval2") / "ff"
    assert main(["decoder", "train", "--host", "faceformer", "--encoder", "mfcc", "--corpus", str(smoke_corpus),
                 "--steps", "3", "--out", str(out)]) == 0  # fmt: skip
    return out


@pytest.fixture
def no_encoding(monkeypatch):
    """Fails the test if a clip is loaded and encoded: the check under test must come before that work."""

    def refuse(*a, **k):
        raise AssertionError("clips were loaded and encoded before the check")

    monkeypatch.setattr(eval_decoders, "load_clips", refuse)


def refused(capsys, tmp_path, ff, *args, names=()) -> str:
    """`decoder eval --model ff ARGS --out tmp/e.json` is refused with one line naming `names`, writing nothing."""
    out = tmp_path / "e.json"
    line = one_line(*cli(["decoder", "eval", "--model", ff, *args, "--out", out], capsys), *names)
    assert not out.exists() and not list(ff.glob("eval-*.json")) and not list(tmp_path.glob(".e.json*"))
    return line


# ---------------------------------------------------------------------------------------------
# splits


@rows("E-split-trav", "E-split-empty")
@pytest.mark.parametrize("subjects", [["../../../etc/passwd"], []])
def test_test_split_without_sequences_is_refused(tmp_path, capsys, ff, corpus, subjects):
    edit_json(corpus / "splits.json", lambda s: {**s, "test": {**s["test"], "subjects": subjects}})
    line = refused(capsys, tmp_path, ff, "--corpus", corpus, names=[corpus, "no sequences for split 'test'"])
    assert "Traceback" not in line


@rows("E-split-bogus")
def test_unknown_split_is_refused_listing_the_splits(tmp_path, capsys, ff, no_encoding):
    line = refused(capsys, tmp_path, ff, "--split", "bogus", names=["'bogus'"])
    assert "'train'" in line and "'test'" in line


# ---------------------------------------------------------------------------------------------
# alignments and results JSON


@rows("E-align-beyond")
def test_word_times_past_the_audio_are_refused_before_encoding(tmp_path, capsys, ff, corpus, no_encoding):
    """Alignments that do not fit the audio are a broken corpus, so this is an error, not a warning.
    (Judgement call.) The metrics would leave those clips' pair words out without a word of warning
    (NaN over 0 words). The line names the file, how many clips of the split, the first clip, its wav's
    length, and the clips. Up to the corpus's length tolerance (0.1 s or 5 %), a time past the end is
    accepted."""
    shifted = ("_S11_", "_S12_")  # the test speakers

    def shift(alignments):
        for stem, entry in alignments.items():
            for item in entry["words"] + entry["phonemes"] if any(s in stem for s in shifted) else []:
                item["start"], item["end"] = item["start"] + 100, item["end"] + 100
        return alignments

    edit_json(corpus / "alignments.json", shift)
    line = refused(capsys, tmp_path, ff, "--corpus", corpus, names=[corpus / "alignments.json", "outside their audio"])
    assert "4 of the 4 clips of split 'test'" in line and "SynthTalk_S11_sentence03" in line and ".wav lasts" in line


@rows("E-align-beyond")
def test_a_time_just_past_the_end_is_within_the_tolerance(corpus):
    from w2s.data.faces import FaceDataset

    ds = FaceDataset(corpus, "test")
    e = ds.entries[0]
    edit_json(corpus / "alignments.json",
              lambda a: {**a, e.stem: {**a[e.stem], "words": [{"word": "x", "start": 0.0, "end": e.audio_seconds + 0.05}]}})  # fmt: skip
    assert len(FaceDataset(corpus, "test")) == len(ds)
    edit_json(corpus / "alignments.json",
              lambda a: {**a, e.stem: {**a[e.stem], "words": [{"word": "x", "start": 0.3, "end": 0.2}]}})  # fmt: skip
    with pytest.raises(ValueError, match="outside their audio"):  # reversed: no span of the audio either
        FaceDataset(corpus, "test")


@rows("E-align-beyond", "E-gen-bad")
def test_metrics_without_value_are_null_in_the_result_file(tmp_path, capsys, ff, corpus):
    """A test split that says no pair word has no homophone-LVE and no minimal-pair accuracy: the result
    file holds null there (strict JSON), not a bare NaN. Also E-gen-bad's judgement call: `cache=false`
    (lower case, as in JSON) is read as the boolean False and recorded as false."""
    edit_json(corpus / "alignments.json",
              lambda a: {s: {**e, "words": [{**w, "word": "zzz"} for w in e["words"]]} for s, e in a.items()})  # fmt: skip
    out = tmp_path / "e.json"
    rc, err = cli(["decoder", "eval", "--model", ff, "--corpus", corpus, "--generate", "cache=false", "--out", out], capsys)
    assert rc == 0, err
    result = strict_json(out)
    assert result["metrics"]["homophone_lve"] is None and result["metrics"]["minimal_pair_n_words"] == 0
    assert result["metrics"]["minimal_pair_accuracy"] is None and result["baseline"]["homophone_lve"] is None
    assert math.isfinite(result["metrics"]["lve"]) and result["generate_options"] == {"cache": False}


@rows("E-align-beyond")
def test_write_json_writes_null_for_nan_and_inf(tmp_path):
    path = tmp_path / "r.json"
    write_json(path, {"a": float("nan"), "b": [np.float32("inf"), -math.inf, 1.5], "c": np.array([np.nan, 2.0]),
                      "d": (np.int64(3), None)})  # fmt: skip
    assert strict_json(path) == {"a": None, "b": [None, None, 1.5], "c": [None, 2.0], "d": [3, None]}
    assert json_safe({"x": np.float64("nan")}) == {"x": None}


# ---------------------------------------------------------------------------------------------
# --condition and --generate


@rows("E-cond-abc")
@pytest.mark.parametrize("value", ["abc", "-1", "1.5"])
def test_condition_that_is_not_an_index_names_the_option(tmp_path, capsys, ff, value):
    line = refused(capsys, tmp_path, ff, "--condition", value, names=["argument --condition", repr(value), "'all'"])
    assert "invalid literal" not in line


@rows("E-cond-99")
def test_condition_out_of_range_names_the_range(tmp_path, capsys, ff, no_encoding):
    refused(capsys, tmp_path, ff, "--condition", "99", names=["--condition", "0..7", "99"])


@rows("E-gen-bad")
@pytest.mark.parametrize("option, names", [("cache=maybe", ["cache", "true or false", "'maybe'"]),
                                           ("cache=1", ["cache", "true or false", "1"])])  # fmt: skip
def test_generate_value_of_the_wrong_type_is_refused(tmp_path, capsys, ff, no_encoding, option, names):
    refused(capsys, tmp_path, ff, "--generate", option, names=["--generate", "faceformer", *names])


@rows("E-gen-unknown")
@pytest.mark.parametrize("option", ["window=0", "template=0", "kwargs=1"])
def test_generate_option_the_host_lacks_is_refused(tmp_path, capsys, ff, no_encoding, option):
    """`template` is one of generate's inputs, and `kwargs` its catch-all: neither is an option."""
    name = option.split("=")[0]
    refused(capsys, tmp_path, ff, "--generate", option, names=["faceformer", f"no option ['{name}']", "'cache'"])


# ---------------------------------------------------------------------------------------------
# the model against the data


@rows("E-unfinished")
def test_interrupted_training_is_refused(tmp_path, capsys, smoke_corpus, monkeypatch):
    from w2s.train import Trainer

    real = Trainer.train_step

    def interrupted(self, batch):
        if self.step == 2:
            raise KeyboardInterrupt
        return real(self, batch)

    monkeypatch.setattr(Trainer, "train_step", interrupted)
    model = tmp_path / "m"
    rc, err = cli(["decoder", "train", "--host", "faceformer", "--encoder", "mfcc", "--corpus", smoke_corpus,
                   "--steps", "3", "--out", model], capsys)  # fmt: skip
    one_line(rc, err, "interrupted", status=130)
    monkeypatch.undo()
    refused(capsys, tmp_path, model, names=[model, "training did not finish", "resume"])


@rows("E-topology")
def test_model_of_another_mesh_is_refused_before_encoding(tmp_path, capsys, ff, smoke_biwi_corpus, no_encoding):
    refused(capsys, tmp_path, ff, "--corpus", smoke_biwi_corpus,
            names=[ff, smoke_biwi_corpus, "2,642 vertices", "4,034"])  # fmt: skip
