"""Survey 2 (docs/bad-inputs-tried-2.md, issue 25): `w2s decoder train` (D-*, J-*, CONC, SIGINT, SIGTERM,
FULL-train-ckpt), the model files `animate` and `decoder eval` load (M-*) and `corpus build` into a link
(B-out-symlink-file). Bad input gets one stderr line naming the file or option, exit status 2, and leaves
nothing behind; nothing of the user's is removed, renamed or written into; a config goes through one typed
check wherever it comes from (``--set``, config.json, decoder_run.json), so a model that trains also loads.
CLI cases call ``w2s.cli.main`` in-process; a subprocess only where a process must die of a signal.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from cli_cases import cli, edit_json, linked_copy, listing, one_line, put, survey_rows  # tests/cli_cases.py
from safetensors.torch import load_file, save_file

from w2s.cli import main
from w2s.utils.hashing import tree_sha256
from w2s.utils.io import lock_path
from w2s.utils.owned import MANIFEST, remove_owned

COVERED, rows = survey_rows()  # the survey rows that have a test here


# ---------------------------------------------------------------------------------------------
# helpers

T = ["decoder", "train", "--host", "faceformer", "--encoder", "mfcc"]  # the survey's `T` (with --corpus, --steps)
STEPS = ["--steps", "4"]  # checkpoints every step (max(1, 4 // 4)): an interrupted run has one to resume


def weights(run: Path) -> dict:
    return load_file(str(run / "model" / "model.safetensors"))


def step_of(run: Path) -> int:
    return torch.load(run / "train" / "checkpoint.pt", weights_only=True)["step"]


@pytest.fixture(scope="module")
def hashed(tmp_path_factory, smoke_corpus) -> Path:
    """The smoke corpus with a wrong content_sha256 in corpus.json (64 zeros), as in D-hash-wrong."""
    c = linked_copy(smoke_corpus, tmp_path_factory.mktemp("hashed") / "c_hash")
    edit_json(c / "corpus.json", lambda m: {**m, "content_sha256": "0" * 64})
    return c


@pytest.fixture(scope="module")
def trained(tmp_path_factory, hashed) -> Path:
    """`T --steps 4` on `hashed`, with --out a link to a folder (D-out-symlink); the run folder itself."""
    base = tmp_path_factory.mktemp("trained")
    (base / "ff").mkdir()
    (base / "link").symlink_to(base / "ff")
    assert main([*T, "--corpus", str(hashed), *STEPS, "--out", str(base / "link")]) == 0
    return base / "ff"


@pytest.fixture
def corpus(tmp_path, smoke_corpus) -> Path:
    return linked_copy(smoke_corpus, tmp_path / "corpus")


@pytest.fixture
def model(tmp_path, trained) -> Path:
    """A private copy of the trained run (hard links: edit through `put`)."""
    return linked_copy(trained, tmp_path / "m")


@pytest.fixture(scope="module")
def speech(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("wav") / "base.wav"
    sf.write(path, (0.3 * np.sin(np.arange(8000) / 10)).astype(np.float32), 16000)
    return path


def animate(speech: Path, folder: Path, out: Path) -> list:
    return ["animate", speech, "--host", "faceformer", "--model", folder, "--size", "32x32", "--out", out]


# ---------------------------------------------------------------------------------------------
# D-set-*, M-run*, M-cfg*: one typed check for --set, config.json and decoder_run.json


@rows("D-set-bad", "D-set-steps", "D-set-fused-str", "D-set-fused-float", "D-set-dropout-str", "D-set-period-float")
@pytest.mark.parametrize("item, says", [
    ("BADFIELD=1", "unknown FaceFormer config fields ['BADFIELD']"),
    ("steps=abc", "unknown FaceFormer config fields ['steps']"),  # --steps is an option, not a config field
    ("fused_dim=abc", "field 'fused_dim' must be an integer, got \"abc\""),
    ("fused_dim=16.5", "field 'fused_dim' must be an integer, got 16.5"),
    ("dropout=abc", "field 'dropout' must be a number, got \"abc\""),
    ("period=2.5", "field 'period' must be an integer, got 2.5"),  # trained, then refused by eval, before
])  # fmt: skip
def test_set_is_checked_as_config_json_is(tmp_path, capsys, smoke_corpus, item, says):
    """Refused before any work, naming --set and the field, with the words config.json's check uses (the
    same function): a --set value that would make a model eval and animate refuse is refused at train."""
    out = tmp_path / "d"
    one_line(*cli([*T, "--corpus", smoke_corpus, "--steps", "3", "--out", out, "--set", item], capsys), "--set", says)
    assert not out.exists()


@rows("D-set-period-float")
def test_a_config_built_with_set_values_loads(trained):
    """What `--set` lets through, the loader takes: the trained config round-trips through config.json's check."""
    from w2s.decoders import get
    from w2s.decoders.training import DecoderRecipe, build_model

    cls = get("faceformer").config_class
    cfg = json.loads((trained / "model" / "config.json").read_text())["config"]
    assert cls.from_dict(cfg) == cls(**cfg)
    recipe = DecoderRecipe("faceformer", encoder="mfcc", overrides={"period": 25, "dropout": 0})

    class Enc:
        dim, source = 39, None

    model = build_model(recipe, 2642, Enc(), 4, 384)
    assert cls.from_dict(model.config.to_dict()) == model.config and model.config.period == 25


@rows("M-runextra")
@pytest.mark.parametrize("command", ["animate", "eval"])
def test_run_record_with_an_unknown_recipe_field(tmp_path, capsys, model, speech, command):
    edit_json(model / "decoder_run.json", lambda r: {**r, "recipe": {**r["recipe"], "extra_field": 1}})
    argv = (animate(speech, model, tmp_path / "x.mp4") if command == "animate"
            else ["decoder", "eval", "--model", model, "--out", tmp_path / "x.json"])  # fmt: skip
    one_line(*cli(argv, capsys), model / "decoder_run.json", "unknown decoder recipe fields ['extra_field']")
    assert not (tmp_path / "x.mp4").exists() and not (tmp_path / "x.json").exists()


@rows("M-runtype")
def test_run_record_with_strings_for_numbers(tmp_path, capsys, model, speech):
    edit_json(model / "decoder_run.json", lambda r: {**r, "recipe": {**r["recipe"], "seed": "0", "max_steps": "5"}})
    one_line(*cli(animate(speech, model, tmp_path / "x.mp4"), capsys), model / "decoder_run.json",
             "field 'seed' must be an integer, got \"0\"")  # fmt: skip
    assert not (tmp_path / "x.mp4").exists()


@rows("M-cfgmiss")
def test_config_without_the_vertex_count(tmp_path, capsys, model, speech):
    """A missing data size is named (its default, 5023, would describe another mesh); a field a later w2s
    added (plug_scale) may still be missing from an older config.json and takes its default."""
    cfg = model / "model" / "config.json"
    edit_json(cfg, lambda m: {**m, "config": {k: v for k, v in m["config"].items() if k != "n_vertices"}})
    one_line(*cli(animate(speech, model, tmp_path / "x.mp4"), capsys), cfg, "has no 'n_vertices'")
    edit_json(cfg, lambda m: {**m, "config": {k: v for k, v in m["config"].items() if k != "plug_scale"}})
    from w2s.decoders import load

    with pytest.raises(ValueError, match="n_vertices"):
        load(model / "model")
    edit_json(cfg, lambda m: {**m, "config": {**m["config"], "n_vertices": 2642}})
    assert load(model / "model").config.plug_scale == "raw"


@rows("M-shape")
def test_weights_of_another_shape(tmp_path, capsys, model, speech):
    path = model / "model" / "model.safetensors"
    state = load_file(str(path))
    state["fusion.W_out.bias"] = torch.zeros(35)
    path.unlink()
    save_file(state, str(path))
    one_line(*cli(animate(speech, model, tmp_path / "x.mp4"), capsys), path, "fusion.W_out.bias", "(35,)", "(32,)")


@rows("M-cfgclass")
def test_config_of_another_class(tmp_path, capsys, model, speech):
    cfg = model / "model" / "config.json"
    edit_json(cfg, lambda m: {**m, "w2s_class": "CodeTalker"})
    one_line(*cli(animate(speech, model, tmp_path / "x.mp4"), capsys), cfg, "unknown CodeTalker config fields")


@rows("M-runroot")
def test_run_record_whose_corpus_moved(tmp_path, capsys, model, speech):
    gone = tmp_path / "moved-away"
    edit_json(model / "decoder_run.json", lambda r: {**r, "data": {**r["data"], "root": str(gone)}})
    one_line(*cli(animate(speech, model, tmp_path / "x.mp4"), capsys), gone, "does not exist")


# ---------------------------------------------------------------------------------------------
# D-*: the data and the output folder


@rows("D-trunc-npy")
def test_truncated_vertices(tmp_path, capsys, corpus):
    npy = corpus / "vertices_npy" / "SynthTalk_S01_sentence01.npy"
    put(npy, npy.read_bytes()[: npy.stat().st_size // 2])
    one_line(*cli([*T, "--corpus", corpus, "--steps", "3", "--out", tmp_path / "o"], capsys), npy)
    assert not (tmp_path / "o").exists()


@rows("D-nan-npy")
def test_nan_vertices(tmp_path, capsys, corpus):
    npy = corpus / "vertices_npy" / "SynthTalk_S01_sentence01.npy"
    v = np.load(npy)
    v[3, 5] = np.nan  # (T, V * 3)
    npy.unlink()
    np.save(npy, v)
    one_line(*cli([*T, "--corpus", corpus, "--steps", "3", "--out", tmp_path / "o"], capsys), npy, "frame 3")
    assert not (tmp_path / "o").exists()


@rows("D-hash-wrong")
def test_corpus_hash_is_verified(trained, hashed, smoke_corpus):
    """corpus.json's content_sha256 is checked against the files: the identity recorded (and every cache
    key) is the hash of the files as they are, never the stale or forged value. A judgement call: a
    changed corpus is used (a user who fixes a transcript by hand expects it to work), with a note under
    -v, rather than refused; nothing made from the old files is reused, as its identity changed."""
    from w2s.data.corpus import Corpus

    truth = tree_sha256(smoke_corpus, skip="corpus.json")
    record = json.loads((trained / "decoder_run.json").read_text())
    assert record["data"]["content_sha256"] == truth != "0" * 64
    assert Corpus(hashed).content_sha256 == truth == Corpus(smoke_corpus).meta["content_sha256"]


@rows("D-hash-wrong")
def test_an_edited_corpus_gets_a_new_identity(corpus, smoke_corpus):
    from w2s.data.corpus import Corpus

    edit_json(corpus / "transcripts.json", lambda t: {**t, next(iter(t)): "edited"})
    assert Corpus(corpus).content_sha256 == tree_sha256(corpus, skip="corpus.json") != Corpus(smoke_corpus).content_sha256


def _users_project(folder: Path) -> set[str]:
    (folder / "train").mkdir(parents=True)
    (folder / "model").mkdir()
    (folder / "train" / "mydata.csv").write_text("a,b\n")
    (folder / "model" / "my_weights.bin").write_text("x")
    return listing(folder)


@rows("D-force-userdir")
def test_force_never_removes_the_users_folders(tmp_path, capsys, smoke_corpus):
    """A judgement call: the run needs the names train/ and model/, which hold the user's files, so it is
    refused (nothing removed) rather than run beside them."""
    proj = tmp_path / "proj"
    before = _users_project(proj)
    one_line(*cli([*T, "--corpus", smoke_corpus, "--steps", "3", "--out", proj, "--force"], capsys),
             proj / "train", "not written by w2s", "mydata.csv")  # fmt: skip
    assert listing(proj) == before and (proj / "train" / "mydata.csv").read_text() == "a,b\n"


@rows("D-force-userdir")
def test_force_never_removes_a_wav2sem_run(tmp_path, capsys, smoke_corpus):
    """A Wav2Sem --out has train/ and model/ too: `decoder train --force` into it leaves it alone."""
    out = tmp_path / "w"
    (out / "train").mkdir(parents=True)
    (out / "train" / "checkpoint.pt").write_bytes(b"wav2sem's")
    (out / MANIFEST).write_text(json.dumps({"kind": "wav2sem", "entries": ["train", "model", "wav2sem_run.json"]}))
    before = listing(out)
    one_line(*cli([*T, "--corpus", smoke_corpus, "--steps", "3", "--out", out, "--force"], capsys), out, "wav2sem run")
    assert listing(out) == before


@rows("D-force-userdir")
def test_force_removes_only_what_w2s_wrote(tmp_path, capsys, trained, smoke_corpus):
    """--force on a w2s run: its files go (the eval file `decoder eval` wrote into it too), the user's
    notes beside them stay, and a user's file put inside w2s's train/ stops it before anything is removed."""
    run = linked_copy(trained, tmp_path / "run")
    (run / "notes.txt").write_text("mine")
    (run / "eval-mine.json").write_text("{}")  # a name like w2s's, not written by w2s
    assert cli(["decoder", "eval", "--model", run], capsys)[0] == 0
    (run / "train" / "mine.csv").write_text("x")
    before = listing(run)
    one_line(*cli([*T, "--corpus", smoke_corpus, "--steps", "3", "--out", run, "--force"], capsys), "mine.csv")
    assert listing(run) == before
    (run / "train" / "mine.csv").unlink()
    assert "eval-test.json" in json.loads((run / MANIFEST).read_text())["entries"]
    gone = remove_owned(run, "decoder")
    assert {p.name for p in gone} == {"decoder_run.json", "train", "model", "eval-test.json"}
    assert listing(run) == {"notes.txt", "eval-mine.json", MANIFEST}


@rows("D-force-userdir")
def test_a_run_from_before_the_manifest_is_adopted(tmp_path, trained):
    """A run folder a w2s without the manifest wrote (its decoder_run.json, no .w2s-owned.json) stays
    resumable and removable; the same train/ without the run record is not taken for w2s's."""
    from w2s.utils.owned import check_owned, claim

    run = linked_copy(trained, tmp_path / "old")
    (run / MANIFEST).unlink()
    (run / "eval-test.json").write_text("{}")
    check_owned(run, "decoder")
    claim(run, "decoder")
    assert set(json.loads((run / MANIFEST).read_text())["entries"]) >= {"train", "model", "eval-test.json"}
    (run / MANIFEST).unlink()
    assert {p.name for p in remove_owned(run, "decoder")} == {"decoder_run.json", "train", "model", "eval-test.json"}
    bare = linked_copy(trained / "train", tmp_path / "bare" / "train").parent
    with pytest.raises(OSError, match="does not list it"):
        remove_owned(bare, "decoder")
    assert listing(bare) == {"train", "train/checkpoint.pt", "train/history.json"}


@rows("D-noforce-userdir")
def test_users_folders_are_found_before_any_work(tmp_path, capsys, smoke_corpus, monkeypatch):
    proj = tmp_path / "proj2"
    before = _users_project(proj)

    def no_work(*a, **k):
        raise AssertionError("the encoder was loaded: work started before the check")

    monkeypatch.setattr("w2s.decoders.training.load_encoder", no_work)
    one_line(*cli([*T, "--corpus", smoke_corpus, "--steps", "3", "--out", proj], capsys), proj / "train",
             "not written by w2s", "mydata.csv")  # fmt: skip
    assert listing(proj) == before  # no checkpoint, history, run record or manifest among the user's files


@rows("D-out-file")
def test_out_is_a_file(tmp_path, capsys, smoke_corpus):
    afile = tmp_path / "afile"
    afile.write_text("mine")
    one_line(*cli([*T, "--corpus", smoke_corpus, "--steps", "3", "--out", afile], capsys), afile, "is a file")
    assert afile.read_text() == "mine" and listing(tmp_path) == {"afile"}


@rows("D-out-symlink")
def test_out_is_a_link_to_a_folder(trained):
    link = trained.parent / "link"
    assert link.is_symlink() and link.resolve() == trained.resolve()
    assert json.loads((trained / "decoder_run.json").read_text())["finished"]
    assert (trained / "model" / "model.safetensors").is_file()
    assert set(json.loads((trained / MANIFEST).read_text())["entries"]) >= {"train", "model", "decoder_run.json"}


@rows("D-corpus-file")
def test_corpus_is_a_file(tmp_path, capsys, speech):
    one_line(*cli([*T, "--corpus", speech, "--steps", "3", "--out", tmp_path / "o"], capsys), speech,
             "is a file, not a folder")  # fmt: skip
    assert not (tmp_path / "o").exists()


# ---------------------------------------------------------------------------------------------
# J-*: --joint

U = ["decoder", "train", "--host", "unitalker", "--encoder", "mfcc", "--steps", "3"]


@rows("J-missing", "J-upper", "J-self", "J-vocaset-layout", "J-biwi-faceformer", "J-biwi-layout")
@pytest.mark.parametrize("argv, says", [
    (U + ["--joint", "{tmp}/nope"], ["--joint", "nope", "does not exist"]),
    (U + ["--joint", "{smoke}:BIWI"], ["'BIWI' is not a layout", "lower case"]),
    # J-self, a judgement call: two heads trained on the same clips is a mistake, so it is refused
    (U + ["--joint", "{smoke}"], ["already the --corpus dataset"]),
    (U + ["--joint", "{hashed}:vocaset"], ["FaceTalk_170728_03272_TA"]),  # VOCASET's subjects are listed
    (T + ["--steps", "3", "--joint", "{smoke}:biwi"], ["faceformer trains on one dataset", "unitalker"]),
    # BIWI's subjects are listed (a smoke corpus stands for the survey's smoke-biwi-like one: same check)
    (U + ["--joint", "{hashed}:biwi"], ["F2", "M3"]),
])  # fmt: skip
def test_joint(tmp_path, capsys, smoke_corpus, hashed, argv, says, monkeypatch):
    """Each refused before any work (no clip of --corpus is encoded), naming the --joint entry's problem."""

    def no_work(*a, **k):
        raise AssertionError("clips were loaded before the check")

    monkeypatch.setattr("w2s.decoders.training.load_clips", no_work)
    fill = {"tmp": tmp_path, "smoke": smoke_corpus, "hashed": hashed}
    argv = [a.format(**fill) for a in argv] + ["--corpus", smoke_corpus, "--out", tmp_path / "o"]
    one_line(*cli(argv, capsys), *says)
    assert not (tmp_path / "o").exists()


# ---------------------------------------------------------------------------------------------
# CONC, SIGINT, SIGTERM, FULL-train-ckpt: runs that meet another run, a signal or a full disk


@rows("CONC")
def test_a_second_run_into_the_same_out_is_refused(tmp_path, capsys, smoke_corpus):
    out = tmp_path / "conc"
    with open(lock_path(out), "w") as held:  # what the running first `decoder train` holds
        held.write("4242\n")
        held.flush()
        fcntl.flock(held, fcntl.LOCK_EX)
        line = one_line(*cli([*T, "--corpus", smoke_corpus, "--steps", "3", "--out", out], capsys), out,
                        "process 4242", lock_path(out))  # fmt: skip
    assert "being trained" in line and not out.exists()


@pytest.fixture
def python_sigint():
    """Python's own Ctrl-C handler (KeyboardInterrupt), as at a terminal. A shell without job control starts a
    background job (`make test &`) with SIGINT ignored, and Python then installs no handler at all."""
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, old)


@rows("SIGINT")
@pytest.mark.usefixtures("python_sigint")
def test_ctrl_c_keeps_the_checkpoint_and_another_recipe_is_refused(tmp_path, capsys, hashed, monkeypatch):
    from w2s.train import Trainer

    real = Trainer.train_step

    def ctrl_c(self, batch):
        if self.step == 2:
            os.kill(os.getpid(), signal.SIGINT)  # Python raises KeyboardInterrupt, as at a terminal
        return real(self, batch)

    monkeypatch.setattr(Trainer, "train_step", ctrl_c)
    out = tmp_path / "sigint"
    one_line(*cli([*T, "--corpus", hashed, *STEPS, "--out", out], capsys), "interrupted", status=130)
    assert step_of(out) == 2 and not (out / "model").exists() and not lock_path(out).exists()
    monkeypatch.setattr(Trainer, "train_step", real)
    one_line(*cli([*T, "--corpus", hashed, "--steps", "200", "--seed", "1", "--out", out], capsys), out,
             "another recipe")  # fmt: skip
    assert step_of(out) == 2


_SIGTERM_AFTER_FIRST_CHECKPOINT = """
import os, signal, sys
from w2s.train import Trainer
real = Trainer.save
def save(self):
    real(self)
    os.kill(os.getpid(), signal.SIGTERM)  # as `kill PID` during training: no handler, no cleanup
Trainer.save = save
from w2s.cli import main
sys.exit(main(sys.argv[1:]))
"""


@rows("SIGTERM")
def test_sigterm_then_resume_gives_the_uninterrupted_weights(tmp_path, capsys, hashed, trained):
    out = tmp_path / "sig"
    argv = [*T, "--corpus", str(hashed), *STEPS, "--out", str(out)]
    proc = subprocess.run([sys.executable, "-c", _SIGTERM_AFTER_FIRST_CHECKPOINT, *argv], capture_output=True,
                          timeout=300, env={**os.environ, "W2S_THREADS": "1"})  # fmt: skip
    assert proc.returncode == -signal.SIGTERM, proc.stderr.decode()[-2000:]
    assert step_of(out) == 1 and not (out / "model").exists()
    assert cli(argv, capsys)[0] == 0  # resumed: the lock of the killed process went with it
    record = json.loads((out / "decoder_run.json").read_text())
    assert record["finished"] and record["history"] == {**json.loads((trained / "decoder_run.json").read_text())[
        "history"], "seconds": record["history"]["seconds"], "compute": record["history"]["compute"]}
    a, b = weights(out), weights(trained)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@rows("FULL-train-ckpt")
def test_disk_full_at_a_checkpoint(tmp_path, capsys, hashed, monkeypatch):
    """The disk fills while the second checkpoint is written (a file whose writes fail with ENOSPC after
    1 kB, as on a full file system): one line naming the checkpoint, status 2, the first checkpoint kept
    and no temp file left; once there is space again the run resumes and finishes."""
    import w2s.train.checkpoint

    calls = []

    class Full:
        def __init__(self, f):
            self.f, self.n = f, 0

        def write(self, b):
            self.n += len(b)
            if self.n > 1000:
                raise OSError(errno.ENOSPC, "No space left on device")
            return self.f.write(b)

        def __getattr__(self, name):
            return getattr(self.f, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

    def full_open(path, mode="r", *a, **k):
        f = open(path, mode, *a, **k)
        calls.append(path)
        return Full(f) if ".checkpoint.pt." in str(path) and len(calls) > 1 else f

    monkeypatch.setattr(w2s.train.checkpoint, "open", full_open, raising=False)  # what its torch.save writes through
    out = tmp_path / "run"
    argv = [*T, "--corpus", hashed, *STEPS, "--out", out]
    one_line(*cli(argv, capsys), "No space left on device", out / "train" / "checkpoint.pt")
    assert step_of(out) == 1 and listing(out / "train") == {"checkpoint.pt"}
    monkeypatch.undo()
    assert cli(argv, capsys)[0] == 0 and json.loads((out / "decoder_run.json").read_text())["finished"]


# ---------------------------------------------------------------------------------------------
# B-out-symlink-file


@rows("B-out-symlink-file")
def test_corpus_build_into_a_link_to_a_file(tmp_path, capsys, distances):
    """Refused, nothing renamed: the link and its file stay, no temp or hidden copy is left."""
    afile, link = tmp_path / "afile", tmp_path / "linkfile"
    afile.write_text("keep me")
    link.symlink_to(afile)
    one_line(*cli(["corpus", "build", link, "--preset", "smoke", "--force"], capsys), link)
    assert link.is_symlink() and link.resolve() == afile and afile.read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile", "linkfile"]
