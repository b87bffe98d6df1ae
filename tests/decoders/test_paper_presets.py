"""The `paper` presets at VOCASET's size (FLAME's 5023 vertices) take one real training step on a
fixture in VOCASET's own layout (60 fps vertices_npy, a python-2 templates.pkl, the official subject names)."""

from __future__ import annotations

import json

import pytest
import torch
from layouts import make_layout  # tests/layouts.py

import w2s.decoders as decoders
from w2s.cli import main
from w2s.data.spec import VOCASET
from w2s.decoders.inputs import SemanticSource, collate, load_clips
from w2s.decoders.training import DecoderRecipe, build_model
from w2s.encoders import load_encoder
from w2s.utils.io import write_json

TRAIN = VOCASET.train_subjects


@pytest.fixture(scope="module")
def vocaset(tmp_path_factory):
    root = tmp_path_factory.mktemp("vocaset") / "vocaset"
    stems = [f"{TRAIN[0]}_sentence01", f"{TRAIN[3]}_sentence02"]
    make_layout(root, stems, native_fps=60, seconds=0.3, n_vertices=5023, template_style="py2")
    # VOCASET ships no transcripts: oracle_text needs the user's transcripts.json beside the data
    write_json(root / "transcripts.json", {stems[0]: "a map of the town", stems[1]: "a nap in the sun"})
    return root


@pytest.mark.slow
@pytest.mark.parametrize("host", [n for n in decoders.names() if n != "reference"])
def test_paper_preset_takes_a_training_step_on_vocaset(host, vocaset):
    torch.manual_seed(0)
    enc = load_encoder("mfcc")  # stands in for wav2vec2 / DeepSpeech: only the width differs
    clips = load_clips(vocaset, "train", enc, SemanticSource.from_name("oracle_text"), spec=VOCASET)
    assert [c.subject_index for c in clips] == [0, 3] and clips[0].vertices.shape[1:] == (5023, 3)
    model = build_model(DecoderRecipe(host, "paper", "oracle_text"), 5023, enc, len(TRAIN), clips[0].F_s.shape[0])
    assert model.config.n_vertices == 5023 and model.config.n_subjects == 8
    batch = collate(clips)
    params = [p for p in model.parameters() if p.requires_grad]
    before = [p.detach().clone() for p in params]
    loss, _ = model.train().loss(batch)
    loss.backward()
    torch.optim.SGD(params, lr=1e-3).step()
    assert torch.isfinite(loss) and all(torch.isfinite(p.grad).all() for p in params if p.grad is not None)
    # a zero-initialised head (FaceFormer's, CodeTalker's) passes no gradient below it on the first step
    assert any(not torch.equal(a, p) for a, p in zip(before, params))


def test_cli_trains_and_evaluates_on_vocaset_splits(tmp_path, capsys):
    """--dataset vocaset: VOCASET's official splits (unseen test speakers, sentences 21-40) and one-hot order."""
    root = tmp_path / "vocaset"
    test_subject = VOCASET.splits["test"][0][0]
    make_layout(root, [f"{TRAIN[0]}_sentence01", f"{TRAIN[1]}_sentence02", f"{test_subject}_sentence21",
                       f"{test_subject}_sentence05"], native_fps=60, seconds=0.3, n_vertices=5023)  # fmt: skip
    (root / "regions").mkdir()
    (root / "regions" / "lips.txt").write_text("0, 1, 2, 3")  # the user's lip and upper-face indices
    (root / "regions" / "upper_face.txt").write_text("10, 11, 12")
    out = tmp_path / "run"
    args = ["decoder", "train", "--host", "reference", "--corpus", str(root), "--dataset", "vocaset",
            "--encoder", "mfcc", "--out", str(out), "--steps", "1"]  # fmt: skip
    assert main(args) == 0
    assert main(["decoder", "eval", "--model", str(out), "--condition", "1"]) == 0
    res = json.loads((out / "eval-test.json").read_text())
    assert res["metrics"]["n_sequences"] == 1  # sentence 5 is outside VOCASET's test range
    assert main([*args[:-4], "--out", str(tmp_path / "auto"), "--dataset", "auto"]) == 2  # no splits.json
    assert "split" in capsys.readouterr().err
