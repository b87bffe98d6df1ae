"""One case per row of the hostile-input survey (shared/reference/bad-inputs-tried.md, 58 rows): each
bad input gets one clear line naming the file or option, exit status 2 (130 for Ctrl-C), and leaves no
partial output; nothing loaded from disk runs code. The rows that were already handled are here too,
so none regresses. CLI cases call ``w2s.cli.main`` in-process (a process start costs seconds); a
subprocess only where a real process must die (SIGKILL) or hold a lock.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

# ---------------------------------------------------------------------------------------------
# helpers
from cli_cases import cli, edit_json, listing, one_line, put, survey_rows  # tests/cli_cases.py

from w2s.cli import main
from w2s.data.audio import AudioError, load_audio
from w2s.data.faces import FaceDataset
from w2s.data.spec import DatasetError
from w2s.utils.io import lock_path, stale_siblings

COVERED, rows = survey_rows()  # the survey rows that have a test here


@pytest.fixture
def corpus(tmp_path, smoke_corpus) -> Path:
    """A private copy of the smoke corpus (hard links: edit files only through `put`)."""
    return Path(shutil.copytree(smoke_corpus, tmp_path / "corpus", copy_function=os.link))


class Payload:
    """Unpickling it runs a shell command that creates `marker`."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class Stealth:
    """Runs the command, then the pickle goes on to give real templates."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (eval, (f"__import__('os').system('touch {self.marker}') and None",))


def wav(path: Path, samples, sr=16000, subtype="FLOAT") -> Path:
    sf.write(path, samples, sr, subtype=subtype)
    return path


TONE = (0.3 * np.sin(np.arange(16000) / 10)).astype(np.float32)


@pytest.fixture
def read_only(monkeypatch):
    """`read_only(folder)`: writes under `folder` fail as on a read-only file system (EROFS); tests may
    run as root, where permission bits do not stop writes."""

    def make(folder: Path):
        prefix = str(folder)
        real_open, real_mkdir, real_access, real_builtin_open = os.open, os.mkdir, os.access, open

        def under(p) -> bool:
            return str(os.path.abspath(p)).startswith(prefix)

        def erofs(p):
            return OSError(errno.EROFS, "Read-only file system", str(p))

        def fake_open(p, flags, *a, **k):
            if under(p) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
                raise erofs(p)
            return real_open(p, flags, *a, **k)

        def fake_mkdir(p, *a, **k):
            if under(p):
                raise erofs(p)
            return real_mkdir(p, *a, **k)

        def fake_builtin_open(p, mode="r", *a, **k):
            if isinstance(p, (str, os.PathLike)) and under(p) and set(mode) & set("wax+"):
                raise erofs(p)
            return real_builtin_open(p, mode, *a, **k)

        monkeypatch.setattr(os, "open", fake_open)
        monkeypatch.setattr(os, "mkdir", fake_mkdir)
        monkeypatch.setattr(
            os, "access", lambda p, m, **k: False if under(p) and m & os.W_OK else real_access(p, m, **k)
        )
        monkeypatch.setattr("builtins.open", fake_builtin_open)

    return make


SMALL_TRAIN = ["--n-speech", "16", "--steps", "2", "--batch-size", "2"]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, smoke_corpus):
    """A finished `w2s wav2sem train` (tiny, 2 steps) on the smoke corpus; copy before changing it."""
    out = tmp_path_factory.mktemp("w2s") / "run"
    assert main(["wav2sem", "train", "--corpus", str(smoke_corpus), *SMALL_TRAIN, "--out", str(out)]) == 0
    return out


@pytest.fixture
def run_copy(tmp_path, finished_run) -> Path:
    return Path(shutil.copytree(finished_run, tmp_path / "run", copy_function=os.link))


# ---------------------------------------------------------------------------------------------
# 1-11: audio


@rows(1)
def test_row01_empty_wav(tmp_path, capsys, corpus):
    empty = wav(tmp_path / "e.wav", np.zeros(0), subtype="PCM_16")
    assert empty.stat().st_size == 44
    with pytest.raises(AudioError, match=r"e\.wav is empty \(0 samples\)"):
        load_audio(empty)
    victim = sorted((corpus / "wav").glob("*.wav"))[0]
    put(victim, empty.read_bytes())
    rc, err = cli(["coupling", "--encoder", "mfcc", "--corpus", corpus, "--out", tmp_path / "c.json", "--no-probe"],
                  capsys)  # fmt: skip
    one_line(rc, err, victim, "empty")
    assert not (tmp_path / "c.json").exists()


@rows(2)
@pytest.mark.parametrize("content", [b"", b"hello, I am a text file\n"])
def test_row02_not_audio(tmp_path, content):
    put(tmp_path / "x.wav", content)
    with pytest.raises(AudioError, match=r"cannot read audio file .*x\.wav"):
        load_audio(tmp_path / "x.wav")


@rows(3)
def test_row03_header_only(tmp_path):
    put(tmp_path / "x.wav", wav(tmp_path / "ok.wav", TONE).read_bytes()[:30])
    with pytest.raises(AudioError, match=r"cannot read audio file .*x\.wav"):
        load_audio(tmp_path / "x.wav")


@rows(4)
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_row04_nan_inf_samples(tmp_path, bad):
    x = TONE.copy()
    x[123] = bad
    with pytest.raises(AudioError, match=r"x\.wav contains 1 non-finite .* the first at sample 123"):
        load_audio(wav(tmp_path / "x.wav", x))


@rows(5)
def test_row05_stereo_and_other_rates_are_converted_with_a_warning(tmp_path):
    with pytest.warns(UserWarning, match=r"st\.wav: 2 channels, averaged to mono"):
        a = load_audio(wav(tmp_path / "st.wav", np.stack([TONE, TONE], 1)))
    assert a.shape == (16000,)
    for sr in (8000, 44100):
        with pytest.warns(UserWarning, match=rf"r{sr}\.wav: sample rate {sr} Hz, resampled to 16000 Hz"):
            a = load_audio(wav(tmp_path / f"r{sr}.wav", 0.3 * np.sin(np.arange(sr) / 10), sr=sr))  # 1 s
        assert abs(len(a) - 16000) <= 1


@rows(6)
def test_row06_data_chunk_cut_in_half_warns(tmp_path):
    whole = wav(tmp_path / "whole.wav", TONE, subtype="PCM_16").read_bytes()
    put(tmp_path / "cut.wav", whole[: 44 + 16000])
    with pytest.warns(
        UserWarning, match=r"cut\.wav: the header declares 16000 samples but the file holds 8000"
    ):
        assert len(load_audio(tmp_path / "cut.wav")) == 8000


@rows(7)
def test_row07_clipping_warns(tmp_path):
    with pytest.warns(UserWarning, match=r"loud\.wav: samples reach 6, beyond \[-1, 1\]"):
        load_audio(wav(tmp_path / "loud.wav", TONE * 20))


@rows(8)
def test_row08_ten_minutes_of_silence(tmp_path):
    from w2s.encoders import MFCCEncoder

    path = wav(tmp_path / "long.wav", np.zeros(600 * 16000, np.float32), subtype="PCM_16")
    t0 = time.perf_counter()
    x = load_audio(path)
    assert x.shape == (600 * 16000,) and time.perf_counter() - t0 < 5
    enc = MFCCEncoder()
    assert enc.encode(x).shape == (enc.n_frames(len(x)), enc.dim)


@pytest.fixture(scope="module")
def wav2sem(finished_run):
    from w2s.semantic.wav2sem import Wav2Sem

    return Wav2Sem.from_pretrained(finished_run / "model")


@rows(9)
def test_row09_wav2sem_refuses_nan_audio(wav2sem):
    x = TONE.copy()
    x[5] = np.nan
    with pytest.raises(AudioError, match="non-finite .* sample 5"):
        wav2sem.predict([x])


@rows(10)
def test_row10_wav2sem_refuses_a_stereo_array_instead_of_interleaving_it(wav2sem):
    with pytest.raises(AudioError, match=r"shape \(16000, 2\)"):
        wav2sem.predict([np.stack([TONE, TONE], 1)])


@rows(11)
def test_row11_wav2sem_reads_a_path(tmp_path, wav2sem):
    path = wav(tmp_path / "x.wav", TONE)
    np.testing.assert_allclose(wav2sem.predict([str(path)]), wav2sem.predict([TONE]), atol=1e-6)
    with pytest.raises(AudioError, match=r"no\.wav does not exist"):
        wav2sem.predict([str(tmp_path / "no.wav")])


# ---------------------------------------------------------------------------------------------
# 12-26: dataset files


@rows(12)
def test_row12_librispeech_text_file_as_flac(tmp_path, capsys):
    chap = tmp_path / "LS" / "train-clean-100" / "19" / "198"
    chap.mkdir(parents=True)
    lines = []
    for i in range(5):
        put(chap / f"19-198-{i:04d}.flac", "not audio at all")
        lines.append(f"19-198-{i:04d} HELLO WORLD NUMBER {i}\n")
    put(chap / "19-198.trans.txt", "".join(lines))
    out = tmp_path / "out"
    rc, err = cli(
        ["wav2sem", "train", "--librispeech", tmp_path / "LS", "--steps", "2", "--out", out], capsys
    )
    one_line(rc, err, "19-198-", ".flac", "cannot read audio file")
    assert not out.exists()  # no empty --out left behind


@rows(13)
def test_row13_corpus_without_templates(corpus):
    (corpus / "templates.pkl").unlink()
    with pytest.raises(DatasetError, match=r"templates\.pkl"):
        FaceDataset(corpus, split="train")


@rows(14)
@pytest.mark.parametrize("layout", ["corpus", "vocaset", "biwi"])
def test_row14_templates_pickle_that_runs_code(tmp_path, corpus, layout):
    from layouts import make_layout  # tests/layouts.py

    from w2s.data.spec import BIWI, VOCASET

    marker = tmp_path / "MARKER"
    if layout == "corpus":
        root, kw = corpus, {}
    else:
        stems = ["FaceTalk_170728_03272_TA_sentence01"] if layout == "vocaset" else ["F2_e01"]
        root = tmp_path / layout
        make_layout(root, stems)
        kw = {"spec": (VOCASET if layout == "vocaset" else BIWI).replace(n_vertices=None)}
    put(root / "templates.pkl", pickle.dumps({"S": Payload(marker)}, protocol=2))
    with pytest.raises(DatasetError, match=r"templates\.pkl: refused to load: it asks for \w+\.system"):
        FaceDataset(root, split="train", **kw)
    assert not marker.exists()


@rows(15)
def test_row15_stealth_templates_pickle_through_wav2sem_train(tmp_path, capsys, corpus, finished_run):
    import w2s.data.files as files

    marker = tmp_path / "MARKER"
    real = files.load_arrays(corpus / "templates.pkl")
    put(corpus / "templates.pkl", pickle.dumps({**real, "_": Stealth(marker)}, protocol=4))
    out = tmp_path / "out"
    rc, err = cli(
        ["wav2sem", "train", "--corpus", corpus, "--config", "lite", *SMALL_TRAIN, "--out", out], capsys
    )
    one_line(rc, err, corpus / "templates.pkl", "refused", "builtins.eval")
    assert not marker.exists() and not out.exists()


@rows(16)
def test_row16_vertex_count_mismatch(corpus):
    npy = sorted((corpus / "vertices_npy").glob("*.npy"))[0]
    v = np.load(npy)
    npy.unlink()
    np.save(npy, v[:, : (2632 * 3)])
    with pytest.raises(DatasetError, match=rf"{npy.name}: 2632 vertices per frame, but the template .* 2642"):
        FaceDataset(corpus, split="all").validate()


@rows(17)
def test_row17_object_npy_runs_nothing(tmp_path, corpus):
    marker = tmp_path / "MARKER"
    npy = sorted((corpus / "vertices_npy").glob("*.npy"))[0]
    npy.unlink()
    np.save(npy, np.array([Payload(marker)], dtype=object), allow_pickle=True)
    with pytest.raises(DatasetError, match=rf"{npy.name}.*Python objects"):
        FaceDataset(corpus, split="all").validate()
    assert not marker.exists()


@rows(18)
def test_row18_nan_vertices(corpus):
    npy = sorted((corpus / "vertices_npy").glob("*.npy"))[0]
    v = np.load(npy)
    v[2, 7] = np.nan
    npy.unlink()
    np.save(npy, v)
    with pytest.raises(DatasetError, match=rf"{npy.name}.*(NaN|non-finite)"):
        FaceDataset(corpus, split="all").validate()


@rows(19)
def test_row19_wav_without_vertices(corpus):
    npy = sorted((corpus / "vertices_npy").glob("*.npy"))[0]
    npy.unlink()
    with pytest.raises(DatasetError, match=rf"{npy.stem}.*unpaired='skip'"):
        FaceDataset(corpus, split="all")
    assert len(FaceDataset(corpus, split="all", unpaired="skip")) == 47


@rows(20)
def test_row20_corrupt_splits_json(tmp_path, capsys, corpus):
    put(corpus / "splits.json", (corpus / "splits.json").read_text().replace(",", "", 1))
    with pytest.raises(DatasetError, match=r"splits\.json"):
        FaceDataset(corpus, split="train")
    rc, err = cli(["wav2sem", "train", "--corpus", corpus, *SMALL_TRAIN, "--out", tmp_path / "out"], capsys)
    one_line(rc, err, corpus / "splits.json", "not valid JSON", "line")
    assert not (tmp_path / "out").exists()


@rows(21)
def test_row21_corrupt_alignments_json(tmp_path, capsys, corpus):
    put(corpus / "alignments.json", (corpus / "alignments.json").read_text()[:-40])
    rc, err = cli(["coupling", "--encoder", "mfcc", "--corpus", corpus, "--out", tmp_path / "c.json", "--no-probe"],
                  capsys)  # fmt: skip
    one_line(rc, err, corpus / "alignments.json", "not valid JSON")
    assert not (tmp_path / "c.json").exists()


@rows(22)
def test_row22_corrupt_corpus_json(corpus):
    from w2s.data.corpus import Corpus

    put(corpus / "corpus.json", "{oops")
    with pytest.raises(DatasetError, match=r"corpus\.json.*not valid JSON"):
        assert Corpus(corpus).meta is None
    with pytest.raises(DatasetError, match=r"corpus\.json"):
        FaceDataset(corpus, split="train")


@rows(23)
def test_row23_pairs_entry_without_a_word(tmp_path, capsys, corpus):
    edit_json(
        corpus / "pairs.json",
        lambda pairs: [{k: v for k, v in pairs[0].items() if k != "word_b"}] + pairs[1:],
    )
    rc, err = cli(["coupling", "--encoder", "mfcc", "--corpus", corpus, "--out", tmp_path / "c.json", "--no-probe"],
                  capsys)  # fmt: skip
    one_line(rc, err, corpus / "pairs.json", "word_b")
    assert not (tmp_path / "c.json").exists()


@rows(24)
def test_row24_splits_without_val(tmp_path, capsys, corpus):
    edit_json(corpus / "splits.json", lambda s: {k: v for k, v in s.items() if k != "val"})
    rc, err = cli(["wav2sem", "train", "--corpus", corpus, *SMALL_TRAIN, "--out", tmp_path / "out"], capsys)
    one_line(rc, err, corpus / "splits.json", "'val'")
    assert not (tmp_path / "out").exists()


@rows(25)
def test_row25_alignments_not_an_object(tmp_path, capsys, corpus):
    put(corpus / "alignments.json", "[1, 2, 3]")
    rc, err = cli(["coupling", "--encoder", "mfcc", "--corpus", corpus, "--out", tmp_path / "c.json", "--no-probe"],
                  capsys)  # fmt: skip
    one_line(rc, err, corpus / "alignments.json", "expected a JSON object")


@rows(26)
def test_row26_broken_templates_are_found_before_training(tmp_path, capsys, corpus, finished_run):
    put(corpus / "templates.pkl", b"\x80\x04garbage")
    out = tmp_path / "out"
    rc, err = cli(
        ["wav2sem", "train", "--corpus", corpus, "--config", "lite", *SMALL_TRAIN, "--out", out], capsys
    )
    one_line(rc, err, corpus / "templates.pkl")
    assert not out.exists()  # nothing trained, nothing written


# ---------------------------------------------------------------------------------------------
# 27-36: model folders and checkpoints


@pytest.fixture
def model_copy(tmp_path, finished_run) -> Path:
    return Path(shutil.copytree(finished_run / "model", tmp_path / "model"))


def _load_model(folder):
    from w2s.semantic.wav2sem import Wav2Sem

    return Wav2Sem.from_pretrained(folder)


@rows(27)
def test_row27_config_does_not_fit_the_weights(model_copy):
    from w2s.semantic.wav2sem_config import Wav2SemError

    edit_json(model_copy / "config.json", lambda m: {**m, "config": {**m["config"], "hidden_size": 128,
                                                                    "intermediate_size": 256}})  # fmt: skip
    with pytest.raises(Wav2SemError, match=r"model\.safetensors.*tensor .* has shape"):
        _load_model(model_copy)


@rows(28)
def test_row28_config_field_of_the_wrong_type(model_copy):
    from w2s.semantic.wav2sem_config import Wav2SemError

    edit_json(model_copy / "config.json", lambda m: {**m, "config": {**m["config"], "hidden_size": "256"}})
    with pytest.raises(
        Wav2SemError, match=r"config\.json: Wav2Sem config field 'hidden_size' must be an integer"
    ):
        _load_model(model_copy)


@rows(29)
def test_row29_unknown_config_field(model_copy):
    from w2s.semantic.wav2sem_config import Wav2SemError

    edit_json(model_copy / "config.json", lambda m: {**m, "config": {**m["config"], "n_experts": 4}})
    with pytest.raises(Wav2SemError, match=r"config\.json: unknown Wav2Sem config fields \['n_experts'\]"):
        _load_model(model_copy)


@rows(30)
def test_row30_pickled_weights_are_never_read(tmp_path, model_copy):
    from w2s.semantic.wav2sem_config import Wav2SemError

    marker = tmp_path / "MARKER"
    (model_copy / "model.safetensors").unlink()
    for name in ("pytorch_model.bin", "model.pt"):
        put(model_copy / name, pickle.dumps({"w": Payload(marker)}))
    with pytest.raises(Wav2SemError, match=r"no model\.safetensors"):
        _load_model(model_copy)
    assert not marker.exists()


@rows(31)
@pytest.mark.parametrize("how", ["pickle", "half", "five bytes"])
def test_row31_bad_safetensors(tmp_path, model_copy, how):
    from w2s.semantic.wav2sem_config import Wav2SemError

    w = model_copy / "model.safetensors"
    data = w.read_bytes()
    put(w, {"pickle": pickle.dumps({"w": Payload(tmp_path / "MARKER")}), "half": data[: len(data) // 2],
            "five bytes": data[:5]}[how])  # fmt: skip
    with pytest.raises(Wav2SemError, match=r"model\.safetensors: unreadable safetensors file"):
        _load_model(model_copy)
    assert not (tmp_path / "MARKER").exists()


@rows(32)
def test_row32_encoder_folder_with_a_pickled_bin(tmp_path, capsys, corpus):
    from w2s.encoders.tiny_hubert import load_or_init_random_hubert, tiny_config

    enc = Path(
        shutil.copytree(load_or_init_random_hubert(tiny_config(), root=tmp_path / "rh"), tmp_path / "enc")
    )
    marker = tmp_path / "MARKER"
    (enc / "model.safetensors").unlink()
    put(enc / "pytorch_model.bin", pickle.dumps({"w": Payload(marker)}))
    rc, err = cli(["coupling", "--encoder", enc, "--corpus", corpus, "--out", tmp_path / "c.json"], capsys)
    one_line(rc, err, enc, "refused")
    assert not marker.exists() and not (tmp_path / "c.json").exists()


@rows(33)
def test_row33_checkpoint_that_runs_code(tmp_path, capsys, smoke_corpus, run_copy):
    marker, ckpt = tmp_path / "MARKER", run_copy / "train" / "checkpoint.pt"
    state = torch.load(ckpt, weights_only=True)
    ckpt.unlink()
    torch.save({**state, "history": Payload(marker)}, ckpt)
    rc, err = cli(["wav2sem", "train", "--corpus", smoke_corpus, *SMALL_TRAIN, "--out", run_copy], capsys)
    one_line(rc, err, ckpt, "refused to load", "system")
    assert not marker.exists()


@rows(34)
def test_row34_truncated_checkpoint(tmp_path, capsys, smoke_corpus, run_copy):
    ckpt = run_copy / "train" / "checkpoint.pt"
    put(ckpt, ckpt.read_bytes()[:1000])
    rc, err = cli(["wav2sem", "train", "--corpus", smoke_corpus, *SMALL_TRAIN, "--out", run_copy], capsys)
    one_line(rc, err, ckpt, "not a readable training checkpoint")


@rows(35)
def test_row35_another_model_into_a_finished_run(tmp_path, capsys, smoke_corpus, run_copy):
    before = (run_copy / "model" / "model.safetensors").read_bytes()
    rc, err = cli(["wav2sem", "train", "--corpus", smoke_corpus, *SMALL_TRAIN, "--config", "paper", "--out", run_copy],
                  capsys)  # fmt: skip
    one_line(rc, err, run_copy / "train" / "checkpoint.pt")
    assert (run_copy / "model" / "model.safetensors").read_bytes() == before


@rows(36)
def test_row36_another_recipe_into_a_finished_run(tmp_path, capsys, smoke_corpus, run_copy):
    before = (run_copy / "model" / "model.safetensors").read_bytes()
    rc, err = cli(["wav2sem", "train", "--corpus", smoke_corpus, "--n-speech", "16", "--steps", "2", "--loss",
                   "cosine", "--seed", "3", "--batch-size", "4", "--out", run_copy], capsys)  # fmt: skip
    one_line(
        rc,
        err,
        run_copy / "train" / "checkpoint.pt",
        "train.seed: 0 -> 3",
        "train.batch_size: 2 -> 4",
        "--force",
    )
    assert (run_copy / "model" / "model.safetensors").read_bytes() == before  # refused before anything ran


@rows(36)
def test_row36_another_loss_into_a_finished_run(tmp_path, capsys, smoke_corpus, run_copy):
    """Same schedule, another loss: refused when training would resume (the model's recipe, not only the
    TrainConfig, is in the checkpoint)."""
    before = (run_copy / "model" / "model.safetensors").read_bytes()
    rc, err = cli(["wav2sem", "train", "--corpus", smoke_corpus, *SMALL_TRAIN, "--loss", "cosine", "--out", run_copy],
                  capsys)  # fmt: skip
    one_line(rc, err, run_copy / "train" / "checkpoint.pt", 'wav2sem.loss: "l1" -> "cosine"')
    assert (run_copy / "model" / "model.safetensors").read_bytes() == before
    rc, err = cli(["wav2sem", "train", "--corpus", smoke_corpus, *SMALL_TRAIN, "--loss", "cosine", "--out", run_copy,
                   "--force"], capsys)  # fmt: skip
    assert rc == 0 and json.loads((run_copy / "wav2sem_run.json").read_text())["recipe"]["loss"] == "cosine"
    assert (run_copy / "model" / "model.safetensors").read_bytes() != before  # started over


# ---------------------------------------------------------------------------------------------
# 37-39: notebooks


@rows(37, 38)
@pytest.mark.parametrize(
    "argv, names",
    [(["-p", "FOO=1"], ["FOO", "unknown parameter"]), (["-p", "FOO"], ["FOO", "NAME=VALUE"]),
     (["--only", "07"], ["07"]), (["-p", "SEED=abc"], ["SEED", "abc"])],
)  # fmt: skip
def test_row37_38_notebook_parameters(tmp_path, capsys, argv, names):
    runs = tmp_path / "runs"
    runs.mkdir()
    rc, err = cli(["notebooks", "--only", "00", *argv, "--runs", runs], capsys)
    one_line(rc, err, *names)
    assert listing(runs) == set()  # nothing ran


@rows(39)
def test_row39_smoke_false_is_false():
    from w2s.runner import discover, notebook_parameters

    nb = discover(None)[0]
    assert notebook_parameters(nb, {"SMOKE": "false"})["SMOKE"] is False
    assert notebook_parameters(nb, {"SMOKE": "true"})["SMOKE"] is True


# ---------------------------------------------------------------------------------------------
# 40-44: read-only and full disks


@rows(40)
def test_row40_read_only_speak_and_coupling(tmp_path, capsys, read_only, smoke_corpus):
    ro = tmp_path / "ro"
    ro.mkdir()
    read_only(ro)
    one_line(*cli(["speak", "hello", ro / "a.wav"], capsys), ro, "not writable")
    one_line(*cli(["coupling", "--encoder", "mfcc", "--corpus", smoke_corpus, "--out", ro / "c.json"], capsys),
             ro, "not writable")  # fmt: skip
    assert listing(ro) == set()


@rows(41)
def test_row41_read_only_corpus_build(tmp_path, capsys, read_only):
    ro = tmp_path / "ro"
    ro.mkdir()
    read_only(ro)
    t0 = time.perf_counter()
    one_line(*cli(["corpus", "build", ro / "c", "--preset", "smoke"], capsys), ro, "not writable")
    assert time.perf_counter() - t0 < 10 and listing(ro) == set()  # refused before the build


@rows(42)
def test_row42_read_only_wav2sem_out(tmp_path, capsys, read_only, smoke_corpus, monkeypatch):
    import w2s.cli.wav2sem as cli_module  # the `w2s wav2sem` command

    ro = tmp_path / "ro"
    ro.mkdir()
    read_only(ro)
    monkeypatch.setattr(cli_module, "training_pairs", lambda *a, **k: pytest.fail("started work"))
    one_line(*cli(["wav2sem", "train", "--corpus", smoke_corpus, *SMALL_TRAIN, "--out", ro / "o"], capsys),
             ro, "not writable")  # fmt: skip


@rows(43)
def test_row43_read_only_notebook_runs(tmp_path, capsys, read_only, monkeypatch):
    import w2s.runner.execute as runner

    ro = tmp_path / "ro"
    ro.mkdir()
    read_only(ro)
    monkeypatch.setattr(runner, "check_html_exporter", lambda: None)
    monkeypatch.setattr(runner, "run_notebook", lambda *a, **k: pytest.fail("ran a notebook"))
    one_line(*cli(["notebooks", "--smoke", "--only", "00", "--runs", ro / "runs"], capsys), "Read-only file system",
             ro)  # fmt: skip
    assert listing(ro) == set()


@rows(44)
def test_row44_disk_full_during_corpus_build(tmp_path, capsys, monkeypatch, distances):
    import w2s.corpus.build as build

    real, calls = build._write_npy, []

    def full_after_three(path, array):
        calls.append(path)
        if len(calls) > 3:
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        real(path, array)

    monkeypatch.setattr(build, "_write_npy", full_after_three)
    one_line(
        *cli(["corpus", "build", tmp_path / "c", "--preset", "smoke"], capsys),
        "No space left on device",
        ".npy",
    )
    assert listing(tmp_path) == set()  # the temporary folder is gone


# ---------------------------------------------------------------------------------------------
# 45-51: options


@rows(45, 46, 47, 48, 49)
@pytest.mark.parametrize(
    "argv, option",
    [(["wav2sem", "train", "--corpus", "C", "--steps", "0", "--out", "O"], "--steps"),  # row 45
     (["wav2sem", "train", "--corpus", "C", "--steps", "-5", "--out", "O"], "--steps"),
     (["wav2sem", "train", "--corpus", "C", "--seed", "abc", "--out", "O"], "--seed"),  # row 46
     (["corpus", "build", "O", "--seed", "-1"], "--seed"),  # row 47
     (["corpus", "check", "--seed", "-1"], "--seed"),
     (["wav2sem", "train", "--corpus", "C", "--batch-size", "0", "--out", "O"], "--batch-size"),  # row 48
     (["wav2sem", "train", "--corpus", "C", "--n-speech", "0", "--out", "O"], "--n-speech"),
     (["wav2sem", "train", "--corpus", "C", "--lr", "-1", "--out", "O"], "--lr"),
     (["pairs", "--limit", "-1"], "--limit"),  # row 49
     (["distances", "--closest", "-3"], "--closest"),
     (["decoder", "train", "--host", "voca", "--corpus", "C", "--out", "O", "--steps", "0"], "--steps"),
     (["decoder", "train", "--host", "voca", "--corpus", "C", "--out", "O", "--seed", "-2"], "--seed"),
     (["decoder", "eval", "--model", "M", "--samples", "0"], "--samples")],
)  # fmt: skip
def test_rows45_to_49_numeric_options_are_checked_naming_the_option(tmp_path, capsys, argv, option):
    rc, err = cli([a if a not in ("C", "O", "M") else tmp_path / a for a in argv], capsys)
    line = one_line(rc, err, f"argument {option}")
    assert line.startswith("w2s ") and "error" in line
    assert listing(tmp_path) == set()  # nothing created


@rows(50)
@pytest.mark.parametrize(
    "argv, names",
    [(["speak", "", "{d}/a.wav"], ["empty"]), (["speak", "hi", "{d}/a.wav", "--voice", "robot"], ["robot"]),
     (["speak", "hi", "{d}/a.mp3"], ["a.mp3", ".wav"]), (["speak", "hi", "{d}"], ["{d}"])],
)  # fmt: skip
def test_row50_speak(tmp_path, capsys, argv, names):
    rc, err = cli([a.format(d=tmp_path) for a in argv], capsys)
    one_line(rc, err, *[n.format(d=tmp_path) for n in names])
    assert listing(tmp_path) == set()


@rows(51)
@pytest.mark.parametrize(
    "argv, names",
    [(["coupling", "--encoder", "facebook/hubert-base-ls960", "--corpus", "{c}", "--out", "{d}/c.json"],
      ["facebook/hubert-base-ls960"]),
     (["coupling", "--encoder", "mfcc", "--layer", "99", "--corpus", "{c}", "--out", "{d}/c.json"], ["layer"]),
     (["coupling", "--encoder", "mfcc", "--corpus", "{d}/nowhere", "--out", "{d}/c.json"], ["{d}/nowhere"]),
     (["wav2sem", "train", "--corpus", "{d}", "--out", "{d}/o"], ["{d}"])],
)  # fmt: skip
def test_row51_coupling_and_wav2sem_sources(tmp_path, capsys, smoke_corpus, argv, names):
    rc, err = cli([a.format(d=tmp_path, c=smoke_corpus) for a in argv], capsys)
    one_line(rc, err, *[n.format(d=tmp_path) for n in names])
    assert listing(tmp_path) == set()


# ---------------------------------------------------------------------------------------------
# 52-58: interrupted, killed and concurrent runs; permissions


@rows(52)
def test_row52_ctrl_c_during_corpus_build(tmp_path, capsys, monkeypatch, distances):
    import w2s.corpus.build as build

    real, calls = build.speech.synthesize, []

    def interrupted(*a, **k):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(build.speech, "synthesize", interrupted)
    one_line(
        *cli(["corpus", "build", tmp_path / "c", "--preset", "smoke"], capsys), "interrupted", status=130
    )
    assert listing(tmp_path) == set()  # the temporary folder is removed


@rows(53, 54)
@pytest.mark.slow
def test_rows53_54_killed_rebuild_keeps_the_old_corpus_and_its_temp_folder_is_swept(tmp_path, corpus):
    from w2s.corpus.build import build
    from w2s.data.corpus import Corpus

    old = Corpus(corpus).content_sha256
    code = f"from w2s.corpus.build import build; build({str(corpus)!r}, 'smoke', seed=1, force=True)"
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    while proc.poll() is None and time.monotonic() < deadline:
        temp = stale_siblings(corpus)
        if temp and (temp[0] / "wav").is_dir() and any((temp[0] / "wav").iterdir()):
            break  # mid-synthesis
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()[-2000:]
    assert Corpus(corpus).content_sha256 == old  # row 54: the old corpus is intact
    assert len(stale_siblings(corpus)) == 1  # row 53: what the killed build left ...
    build(corpus, "smoke", seed=0, force=True)
    assert stale_siblings(corpus) == [] and not lock_path(corpus).exists()  # ... the next build sweeps


def _killed_fit(out: Path) -> int:
    """A training process that SIGKILLs itself at step 7 (checkpoints every 3 steps)."""
    code = f"""
import os, signal, sys
sys.path.insert(0, {str(Path(__file__).parent)!r})
import torch
from test_train import Pairs, collate, step_fn
from w2s.train import TrainConfig, fit
calls = []
def dying(net, batch, device):
    calls.append(1)
    if len(calls) == 7:
        os.kill(os.getpid(), signal.SIGKILL)
    return step_fn(net, batch, device)
torch.manual_seed(0)
fit(torch.nn.Linear(4, 1), Pairs(), collate, dying, TrainConfig(max_steps=12, batch_size=8, lr=0.05,
    checkpoint_every=3), out_dir={str(out)!r}, device="cpu")
"""
    return subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=300).returncode


@rows(55)
def test_row55_killed_training_resumes_exactly(tmp_path):
    from test_train import Pairs, collate, step_fn

    from w2s.train import TrainConfig, fit

    cfg = TrainConfig(max_steps=12, batch_size=8, lr=0.05, checkpoint_every=3)
    torch.manual_seed(0)
    whole = torch.nn.Linear(4, 1)
    fit(whole, Pairs(), collate, step_fn, cfg, out_dir=tmp_path / "whole", device="cpu")
    assert _killed_fit(tmp_path / "killed") == -signal.SIGKILL
    assert torch.load(tmp_path / "killed" / "checkpoint.pt", weights_only=True)["step"] == 6
    half = tmp_path / "killed" / ".checkpoint.pt.x1y2z3.pt"  # what a kill during a checkpoint write leaves
    put(half, b"PK\x03\x04 half")
    resumed = torch.nn.Linear(4, 1)
    fit(resumed, Pairs(), collate, step_fn, cfg, out_dir=tmp_path / "killed", device="cpu")
    assert not half.exists()
    for a, b in zip(whole.state_dict().values(), resumed.state_dict().values()):
        torch.testing.assert_close(a, b)


@rows(56)
def test_row56_ctrl_c_during_wav2sem_train_keeps_the_checkpoint(tmp_path, capsys, smoke_corpus, finished_run,
                                                                  monkeypatch):  # fmt: skip
    from w2s.train import Trainer

    real = Trainer.train_step

    def interrupted(self, batch):
        if self.step == 2:
            raise KeyboardInterrupt
        return real(self, batch)

    monkeypatch.setattr(Trainer, "train_step", interrupted)
    out = tmp_path / "out"
    rc, err = cli(["wav2sem", "train", "--corpus", smoke_corpus, "--n-speech", "16", "--steps", "4", "--batch-size",
                   "2", "--out", out], capsys)  # fmt: skip
    one_line(rc, err, "interrupted", status=130)
    assert (
        torch.load(out / "train" / "checkpoint.pt", weights_only=True)["step"] == 2
    )  # kept: the rerun resumes
    assert not (out / "model").exists() and not lock_path(out).exists()


@rows(57)
def test_row57_a_second_build_into_a_folder_being_built_is_refused(tmp_path, capsys):
    out = tmp_path / "c"
    with open(lock_path(out), "w") as held:  # what a running build holds
        held.write("4242\n")
        held.flush()
        fcntl.flock(held, fcntl.LOCK_EX)
        line = one_line(
            *cli(["corpus", "build", out, "--preset", "smoke", "--seed", "1"], capsys), out, "process 4242"
        )
    assert "being built" in line and listing(tmp_path) == {lock_path(out).name}  # the other build's lock only


@rows(58)
def test_row58_built_folders_get_normal_permissions(smoke_corpus, finished_run):
    from w2s.utils.paths import data_dir

    mask = os.umask(0)
    os.umask(mask)
    speech = data_dir() / "speech" / "synth-n16-seed0"
    for folder in (smoke_corpus, speech, finished_run / "model"):
        assert folder.stat().st_mode & 0o777 == 0o777 & ~mask, folder


def test_the_suite_covers_every_row():
    assert COVERED == set(range(1, 59)), sorted(set(range(1, 59)) - COVERED)
