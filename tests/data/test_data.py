"""Audio loading and the FaceFormer/VOCASET-layout reader, on tiny fixtures in the real formats."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest
import soundfile as sf
import torch
from layouts import V, make_layout, write_templates  # tests/layouts.py
from torch.utils.data import DataLoader

from w2s.data.audio import AudioError, load_audio
from w2s.data.faces import FaceDataset, collate
from w2s.data.files import load_alignments, load_templates, pair_word_spans, parse_stem
from w2s.data.spec import BIWI, VOCASET, DatasetError, spec_from_folder
from w2s.utils.io import write_json

VOCA_A, VOCA_B = "FaceTalk_170728_03272_TA", "FaceTalk_170904_00128_TA"  # train subjects 0 and 1
VOCA_VAL, VOCA_TEST = "FaceTalk_170811_03275_TA", "FaceTalk_170809_00138_TA"


@pytest.fixture
def voca(tmp_path):
    stems = [
        f"{VOCA_A}_sentence01",
        f"{VOCA_A}_sentence02",
        f"{VOCA_A}_sentence21",
        f"{VOCA_B}_sentence40",
        f"{VOCA_VAL}_sentence01",
        f"{VOCA_VAL}_sentence21",
        f"{VOCA_TEST}_sentence21",
        f"{VOCA_TEST}_sentence22",
    ]
    root = tmp_path / "vocaset"
    written = make_layout(root, stems, native_fps=60)
    return root, VOCASET.replace(n_vertices=V), written


@pytest.fixture
def biwi(tmp_path):
    root = tmp_path / "BIWI"
    stems = ["F2_e01", "M3_e05", "F2_e33", "F2_e37", "F1_e37"]
    written = make_layout(root, stems, native_fps=25, sr=44100, template_style="py2")
    (root / "regions").mkdir()
    (root / "regions" / "lve.txt").write_text("0, 2, 4")
    (root / "regions" / "fdd.txt").write_text("1, 3\n")
    return root, BIWI.replace(n_vertices=V), written


@pytest.fixture
def own(tmp_path):
    """Our corpus: splits.json + corpus.json, regions, transcripts, alignments, faces."""
    root = tmp_path / "corpus"
    stems = [f"{s}_s{k:03d}" for s in ("us-m1", "us-f2") for k in (1, 2, 3)]
    written = make_layout(root, stems, native_fps=30)
    write_json(root / "corpus.json", {"name": "w2s-corpus", "fps": 30})
    write_json(
        root / "splits.json",
        {
            "train": {"subjects": ["us-m1", "us-f2"], "sentences": [1, 2]},
            "test": {"subjects": ["us-m1", "us-f2"], "sentences": [3, 3]},
        },
    )
    (root / "regions").mkdir()
    (root / "regions" / "lips.txt").write_text("0\n1\n")
    (root / "regions" / "upper_face.txt").write_text("3 4")
    np.save(root / "faces.npy", np.array([[0, 1, 2], [2, 3, 4]], dtype=np.int64))
    write_json(root / "transcripts.json", {s: f"text of {s}" for s in stems})
    words = [{"word": "a", "start": 0.0, "end": 0.1}, {"word": "Thin", "start": 0.1, "end": 0.3}]
    write_json(root / "alignments.json", {s: {"phonemes": [], "words": words} for s in stems})
    return root, written


def _quiet(ds, i):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ds[i]


# ---------------------------------------------------------------------------------------------
# audio


def test_load_audio_plain(tmp_path):
    p = tmp_path / "a.wav"
    sf.write(p, np.full(1600, 0.25), 16000, subtype="FLOAT")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        a = load_audio(p)
    assert a.dtype == np.float32 and a.shape == (1600,)
    assert np.allclose(a, 0.25)


def test_load_audio_resamples_with_warning(tmp_path):
    p = tmp_path / "a.wav"
    sf.write(p, np.zeros(4410), 44100)
    with pytest.warns(UserWarning, match=r"a\.wav.*44100 Hz.*16000 Hz"):
        a = load_audio(p, 16000)
    assert a.dtype == np.float32 and abs(len(a) - 1600) <= 1


def test_load_audio_downmixes_stereo_with_warning(tmp_path):
    p = tmp_path / "st.wav"
    sf.write(p, np.stack([np.full(800, 0.5), np.full(800, -0.1)], axis=1), 16000, subtype="FLOAT")
    with pytest.warns(UserWarning, match=r"st\.wav.*2 channels"):
        a = load_audio(p)
    assert a.shape == (800,) and np.allclose(a, 0.2)


def test_load_audio_errors(tmp_path):
    with pytest.raises(AudioError, match=r"missing\.wav does not exist"):
        load_audio(tmp_path / "missing.wav")
    (tmp_path / "junk.wav").write_bytes(b"RIFF not really a wav file")
    with pytest.raises(AudioError, match=r"cannot read audio file .*junk\.wav"):
        load_audio(tmp_path / "junk.wav")
    sf.write(tmp_path / "empty.wav", np.zeros(0), 16000)
    with pytest.raises(AudioError, match=r"empty\.wav is empty"):
        load_audio(tmp_path / "empty.wav")
    x = np.zeros(100)
    x[7] = np.nan
    sf.write(tmp_path / "nan.wav", x, 16000, subtype="FLOAT")
    with pytest.raises(AudioError, match=r"nan\.wav contains 1 non-finite .* sample 7"):
        load_audio(tmp_path / "nan.wav")
    assert issubclass(AudioError, ValueError)


def test_load_audio_warns_on_a_cut_off_file_and_on_clipping(tmp_path):
    x = (0.3 * np.sin(np.arange(16000) / 10)).astype(np.float32)
    sf.write(tmp_path / "whole.wav", x, 16000, subtype="PCM_16")
    raw = (tmp_path / "whole.wav").read_bytes()
    (tmp_path / "cut.wav").write_bytes(raw[: 44 + 16000])  # the data chunk cut in half, header unchanged
    with pytest.warns(UserWarning, match=r"cut\.wav: the header declares 16000 samples but the file holds 8000"):
        assert len(load_audio(tmp_path / "cut.wav")) == 8000
    sf.write(tmp_path / "loud.wav", 20 * x, 16000, subtype="FLOAT")  # float samples peaking at 6.0
    with pytest.warns(UserWarning, match=r"loud\.wav: samples reach 6, beyond \[-1, 1\]"):
        assert np.abs(load_audio(tmp_path / "loud.wav")).max() == pytest.approx(6.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an intact file in range: no warning
        load_audio(tmp_path / "whole.wav")


def test_validate_audio_takes_paths_and_arrays_and_refuses_what_it_cannot_use(tmp_path):
    from w2s.data.audio import validate_audio

    x = (0.3 * np.sin(np.arange(1600) / 10)).astype(np.float32)
    sf.write(tmp_path / "a.wav", x, 16000, subtype="FLOAT")
    for given in (tmp_path / "a.wav", str(tmp_path / "a.wav"), x, x.astype(np.float64), x[:, None], x[None, :],
                  list(x), torch.from_numpy(x)):  # fmt: skip
        got = validate_audio(given)
        assert got.dtype == np.float32 and got.shape == (1600,)
        np.testing.assert_allclose(got, x, atol=1e-7)
    stereo = np.stack([x, -x], axis=1)  # (N, 2): must not become a 2N-sample interleaved signal
    bad = {r"shape \(1600, 2\)": stereo, r"shape \(2, 1600\)": stereo.T, "is empty": np.zeros(0, np.float32),
           "int16 samples": (x * 32767).astype(np.int16), "not an array of samples": ["a", "b"],
           "1 non-finite .* sample 5": np.where(np.arange(1600) == 5, np.nan, x),
           "2 non-finite .* sample 0": np.r_[np.inf, -np.inf, x], "does not exist": tmp_path / "no.wav"}  # fmt: skip
    for message, given in bad.items():
        with pytest.raises(AudioError, match=message):
            validate_audio(given, name="clip 3")
    with pytest.raises(AudioError, match="^clip 3 has shape"):
        validate_audio(stereo, name="clip 3")  # the input is named
    with pytest.warns(UserWarning, match="clip 3: samples reach 1.5"):
        validate_audio(x / 0.2, name="clip 3")


# ---------------------------------------------------------------------------------------------
# names, templates, specs


def test_parse_stem():
    assert parse_stem(f"{VOCA_A}_sentence01") == (VOCA_A, 1)
    assert parse_stem("F2_e37") == ("F2", 37)
    assert parse_stem("us-m1_s012") == ("us-m1", 12)
    for bad in ("nounderscore", "F2_eXX", "_e01"):
        with pytest.raises(ValueError):
            parse_stem(bad)


def test_python2_pickle_needs_latin1(tmp_path):
    t = {"F2": np.linspace(-1, 1, 12).reshape(4, 3)}
    write_templates(tmp_path / "templates.pkl", t, "py2")
    with open(tmp_path / "templates.pkl", "rb") as f, pytest.raises(UnicodeDecodeError):
        pickle.load(f)  # what a naive reader hits
    got = load_templates(tmp_path / "templates.pkl")
    assert list(got) == ["F2"] and got["F2"].dtype == np.float32
    np.testing.assert_allclose(got["F2"], t["F2"], rtol=1e-6)


def test_specs_match_the_reference_splits():
    assert VOCASET.fps == 30 and VOCASET.frame_stride == 2 and VOCASET.native_fps == 60
    assert VOCASET.n_vertices == 5023
    assert VOCASET.train_subjects[0] == VOCA_A and len(VOCASET.train_subjects) == 8
    assert VOCASET.splits["val"] == (("FaceTalk_170811_03275_TA", "FaceTalk_170908_03277_TA"), (21, 40))
    assert VOCASET.splits["test"] == (("FaceTalk_170809_00138_TA", "FaceTalk_170731_00024_TA"), (21, 40))
    assert BIWI.fps == 25 and BIWI.n_vertices == 23370
    assert BIWI.splits["train"][1] == (1, 32) and BIWI.splits["val"][1] == (33, 36)
    assert BIWI.splits["test_a"] == (BIWI.splits["train"][0], (37, 40))
    assert set(BIWI.splits["test_b"][0]) == {"F1", "F5", "F6", "F7", "F8", "M1", "M2", "M6"}


# ---------------------------------------------------------------------------------------------
# datasets


def test_vocaset_layout_splits_and_stride(voca):
    root, spec, written = voca
    train = FaceDataset(root, "train", spec=spec)
    assert train.stems == [
        f"{VOCA_A}_sentence01",
        f"{VOCA_A}_sentence02",
        f"{VOCA_A}_sentence21",
        f"{VOCA_B}_sentence40",
    ]
    item = _quiet(train, 3)
    assert item["subject"] == VOCA_B and item["subject_index"] == 1 and item["sentence"] == 40
    assert item["fps"] == 30
    raw = written[f"{VOCA_B}_sentence40"]  # 60 fps on disk
    assert item["vertices"].shape == ((raw.shape[0] + 1) // 2, V, 3)
    np.testing.assert_array_equal(item["vertices"].numpy(), raw.reshape(-1, V, 3)[::2])
    assert item["template"].shape == (V, 3) and item["audio"].dtype == torch.float32
    assert abs(len(item["audio"]) / 16000 - len(item["vertices"]) / 30) < 0.05

    val = FaceDataset(root, "val", spec=spec)  # sentences 21-40 only
    assert val.stems == [f"{VOCA_VAL}_sentence21"]
    assert _quiet(val, 0)["subject_index"] == -1
    test = FaceDataset(root, "test", spec=spec)
    assert test.stems == [f"{VOCA_TEST}_sentence21", f"{VOCA_TEST}_sentence22"]
    assert len(FaceDataset(root, "all", spec=spec)) == 8
    assert train.lips is None and train.faces is None


def test_biwi_layout_regions_resampling_and_py2_templates(biwi):
    root, spec, written = biwi
    splits = {s: FaceDataset(root, s, spec=spec).stems for s in ("train", "val", "test_a", "test_b")}
    assert splits == {
        "train": ["F2_e01", "M3_e05"],
        "val": ["F2_e33"],
        "test_a": ["F2_e37"],
        "test_b": ["F1_e37"],
    }
    ds = FaceDataset(root, "train", spec=spec)
    assert ds.lips.tolist() == [0, 2, 4] and ds.upper_face.tolist() == [1, 3]
    with pytest.warns(UserWarning, match=r"F2_e01\.wav.*44100 Hz.*16000 Hz"):
        item = ds[0]
    assert item["fps"] == 25 and item["vertices"].shape == (written["F2_e01"].shape[0], V, 3)
    assert [ds.subject_index(s) for s in ("F2", "M3", "F1")] == [0, 3, -1]


def test_own_layout_with_splits_json(own):
    root, _ = own
    spec = spec_from_folder(root)
    assert spec.name == "w2s-corpus" and spec.fps == 30 and spec.frame_stride == 1
    train = FaceDataset(root, "train")
    assert train.stems == ["us-m1_s001", "us-m1_s002", "us-f2_s001", "us-f2_s002"]  # splits.json order
    assert train.train_subjects == ["us-m1", "us-f2"]
    assert FaceDataset(root, "test").stems == ["us-m1_s003", "us-f2_s003"]
    item = train[2]
    assert item["subject_index"] == 1 and item["transcript"] == "text of us-f2_s001"
    assert pair_word_spans(item["alignment"], {"thin"}) == [(0.1, 0.3)]
    assert load_alignments(root)["us-m1_s001"]["words"][1]["word"] == "Thin"
    assert train.lips.tolist() == [0, 1] and train.upper_face.tolist() == [3, 4]
    assert train.faces.shape == (2, 3)
    with pytest.raises(DatasetError, match="unknown split 'val'"):
        FaceDataset(root, "val")


def test_dataloader_batches_with_padding_and_masks(own):
    root, _ = own
    ds = FaceDataset(root, "train")
    batch = next(iter(DataLoader(ds, batch_size=4, collate_fn=collate)))
    lengths = [len(ds[i]["audio"]) for i in range(4)]
    frames = [len(ds[i]["vertices"]) for i in range(4)]
    assert batch.audio.shape == (4, max(lengths))
    assert batch.vertices.shape == (4, max(frames), V, 3)
    assert batch.audio_mask.dtype == torch.bool and batch.audio_mask.sum(1).tolist() == lengths
    assert batch.vertex_mask.sum(1).tolist() == frames
    assert batch.template.shape == (4, V, 3)
    assert batch.subject_index.tolist() == [0, 0, 1, 1]
    assert batch.stems == ds.stems and batch.fps == 30
    short = int(np.argmin(frames))
    assert not batch.vertices[short, frames[short] :].any()  # zero padding past the end
    torch.testing.assert_close(batch.vertices[short, : frames[short]], ds[short]["vertices"])

    one = next(iter(DataLoader(ds, batch_size=1, collate_fn=collate)))
    assert one.audio.shape == (1, lengths[0]) and bool(one.vertex_mask.all())


def test_folder_without_splits_json(tmp_path):
    root = tmp_path / "plain"
    make_layout(root, ["X_s01", "Y_s02"], native_fps=30)
    assert spec_from_folder(root).splits == {}
    ds = FaceDataset(root, "all")
    assert ds.stems == ["X_s01", "Y_s02"] and ds.fps == 30 and ds[0]["subject_index"] == -1


# ---------------------------------------------------------------------------------------------
# errors, each naming the file


def test_missing_root_and_folders(tmp_path, voca):
    root, spec, _ = voca
    with pytest.raises(DatasetError, match="nowhere does not exist"):
        FaceDataset(tmp_path / "nowhere", spec=spec)
    (root / "templates.pkl").rename(root / "t.bak")
    with pytest.raises(DatasetError, match=r"templates file .*templates\.pkl does not exist"):
        FaceDataset(root, spec=spec)
    (root / "wav").rename(root / "wav.bak")
    with pytest.raises(DatasetError, match=r"missing folder .*wav"):
        FaceDataset(root, spec=spec)
    (root / "vertices_npy").rename(root / "v.bak")
    with pytest.raises(DatasetError, match=r"missing folder .*(wav|vertices_npy)"):
        FaceDataset(root, spec=spec)


def test_unpaired_files(voca):
    root, spec, _ = voca
    (root / "wav" / f"{VOCA_A}_sentence02.wav").unlink()
    with pytest.raises(
        DatasetError, match=rf"{VOCA_A}_sentence02\.npy has no matching .*{VOCA_A}_sentence02\.wav"
    ):
        FaceDataset(root, spec=spec)
    with pytest.warns(UserWarning, match="skipped"):
        ds = FaceDataset(root, spec=spec, unpaired="skip")
    assert f"{VOCA_A}_sentence02" not in ds.stems
    (root / "vertices_npy" / f"{VOCA_B}_sentence40.npy").unlink()
    (root / "vertices_npy" / f"{VOCA_A}_sentence02.npy").unlink()
    with pytest.raises(DatasetError, match=rf"{VOCA_B}_sentence40\.wav has no matching .*\.npy"):
        FaceDataset(root, spec=spec)


def test_vertex_count_mismatch(voca):
    root, spec, _ = voca
    np.save(root / "vertices_npy" / f"{VOCA_A}_sentence01.npy", np.zeros((24, 4 * 3), np.float32))
    with pytest.raises(DatasetError, match=rf"{VOCA_A}_sentence01\.npy: 4 vertices per frame.*has 5"):
        FaceDataset(root, spec=spec)


def test_spec_vertex_count_mismatch(voca):
    root, _, _ = voca
    with pytest.raises(DatasetError, match=r"templates\.pkl.*5 vertices, dataset vocaset has 5023"):
        FaceDataset(root, spec=VOCASET)


def test_nan_vertices_reported_on_load(voca):
    root, spec, written = voca
    bad = written[f"{VOCA_A}_sentence02"].copy()
    bad[4, 0] = np.nan
    np.save(root / "vertices_npy" / f"{VOCA_A}_sentence02.npy", bad)
    ds = FaceDataset(root, spec=spec)
    with pytest.raises(DatasetError, match=rf"{VOCA_A}_sentence02\.npy contains 1 NaN/inf.*frame 4"):
        _quiet(ds, 1)
    with pytest.raises(DatasetError, match="sentence02"):
        ds.validate()


def test_empty_audio(voca):
    root, spec, _ = voca
    sf.write(root / "wav" / f"{VOCA_A}_sentence21.wav", np.zeros(0), 16000)
    with pytest.raises(DatasetError, match=rf"{VOCA_A}_sentence21\.wav is empty"):
        FaceDataset(root, spec=spec)


def test_corrupt_audio(voca):
    root, spec, _ = voca
    (root / "wav" / f"{VOCA_A}_sentence21.wav").write_bytes(b"garbage")
    with pytest.raises(DatasetError, match=rf"{VOCA_A}_sentence21\.wav"):
        FaceDataset(root, spec=spec)


def test_duration_mismatch(voca):
    root, spec, _ = voca
    sf.write(root / "wav" / f"{VOCA_A}_sentence01.wav", np.zeros(16000), 16000)  # 1 s against 0.4 s of motion
    with pytest.raises(
        DatasetError,
        match=rf"{VOCA_A}_sentence01\.wav lasts 1\.000 s but {VOCA_A}_sentence01\.npy lasts 0\.400 s",
    ):
        FaceDataset(root, spec=spec)
    assert len(FaceDataset(root, spec=spec, length_tolerance_s=None)) == 4
    # within tolerance: 0.45 s of audio against 0.4 s of motion
    sf.write(root / "wav" / f"{VOCA_A}_sentence01.wav", np.zeros(7200), 16000)
    assert len(FaceDataset(root, spec=spec)) == 4


def test_subject_without_template(voca):
    root, spec, written = voca
    np.save(root / "vertices_npy" / f"{VOCA_A}_sentence03.npy", written[f"{VOCA_A}_sentence01"])
    (root / "wav" / f"{VOCA_A}_sentence01.wav").rename(root / "wav" / f"{VOCA_A}_sentence03.wav")
    (root / "vertices_npy" / f"{VOCA_A}_sentence01.npy").unlink()
    templates = load_templates(root / "templates.pkl")
    del templates[VOCA_A]
    write_templates(root / "templates.pkl", templates)
    with pytest.raises(DatasetError, match=rf"templates\.pkl: no template for subject '{VOCA_A}'"):
        FaceDataset(root, spec=spec)


def test_bad_file_name_and_region_file(own):
    root, _ = own
    (root / "regions" / "lips.txt").write_text("0, 1, 99")
    with pytest.raises(DatasetError, match=r"lips\.txt.*5 vertices"):
        FaceDataset(root, "train")
    (root / "regions" / "lips.txt").write_text("0, x")
    with pytest.raises(DatasetError, match=r"lips\.txt: not a list of integer"):
        FaceDataset(root, "train")
    (root / "regions" / "lips.txt").write_text("0")
    (root / "wav" / "noname.wav").write_bytes(b"")
    with pytest.raises(DatasetError, match=r"noname\.wav.*SUBJECT_SENTENCE"):
        FaceDataset(root, "train")


def test_bad_splits_json(own):
    root, _ = own
    (root / "splits.json").write_text('{"train": {"subjects": "us-m1"}}')
    with pytest.raises(DatasetError, match=r"splits\.json: split 'train' needs a 'subjects' list"):
        FaceDataset(root, "train")
    (root / "splits.json").write_text("{not json")
    with pytest.raises(DatasetError, match=r"splits\.json: not valid JSON"):
        FaceDataset(root, "train")
