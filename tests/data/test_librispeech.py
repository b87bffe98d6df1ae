
import numpy as np
import pytest
import soundfile as sf

from w2s.data.librispeech import (
    LibriSpeechError,
    one_per_chapter,
    read_librispeech,
)

# (subset, speaker, chapter, utterances per chapter): 2 speakers x 2 chapters, 3-4 utterances each
CHAPTERS = [("train-clean-100", "19", "198", 3), ("train-clean-100", "19", "227", 4),
            ("train-other-500", "103", "1240", 3), ("train-other-500", "103", "1241", 3)]  # fmt: skip


def _write_chapter(folder, spk, chap, n):
    folder.mkdir(parents=True)
    lines = []
    for u in range(n):
        uid = f"{spk}-{chap}-{u:04d}"
        sf.write(
            folder / f"{uid}.flac",
            np.full(800, 0.01 * (u + 1), np.float32),
            16000,
            format="FLAC",
            subtype="PCM_16",
        )
        lines.append(f"{uid} THIS IS UTTERANCE {u} OF CHAPTER {chap}\n")
    (folder / f"{spk}-{chap}.trans.txt").write_text("".join(lines))
    return sum(1 for _ in lines)


@pytest.fixture
def libri(tmp_path):
    """The real layout: root/LibriSpeech/<subset>/<speaker>/<chapter>/..."""
    root = tmp_path / "data"
    n = sum(
        _write_chapter(root / "LibriSpeech" / sub / spk / chap, spk, chap, k)
        for sub, spk, chap, k in CHAPTERS
    )
    return root, n


def test_every_utterance_not_one_per_chapter(libri):
    root, n_lines = libri
    utts = read_librispeech(root)
    assert len(utts) == n_lines == 13  # every transcript line
    assert len({u.id for u in utts}) == len(utts)
    per_chapter = {}
    for u in utts:
        per_chapter.setdefault((u.speaker, u.chapter), []).append(u)
    assert all(len(v) >= 3 for v in per_chapter.values())  # the official loader would keep 1 of each
    assert len(one_per_chapter(utts)) == 4 < len(utts)
    u = next(u for u in utts if u.id == "19-227-0002")
    assert (u.speaker, u.chapter, u.subset, u.text) == (
        "19",
        "227",
        "train-clean-100",
        "THIS IS UTTERANCE 2 OF CHAPTER 227",
    )
    assert u.path.name == "19-227-0002.flac" and u.path.is_file()
    np.testing.assert_allclose(u.load_audio(), 0.03, atol=1e-4)


def test_subsets_and_single_subset_root(libri):
    root, _ = libri
    assert {u.speaker for u in read_librispeech(root, subsets=["train-clean-100"])} == {"19"}
    assert len(read_librispeech(root / "LibriSpeech", "train-other-500")) == 6
    one = read_librispeech(root / "LibriSpeech" / "train-clean-100")  # root = one subset folder
    assert len(one) == 7 and {u.subset for u in one} == {"train-clean-100"}
    with pytest.raises(LibriSpeechError, match="no subset 'dev-clean'"):
        read_librispeech(root, subsets=["dev-clean"])


def test_flat_layout(tmp_path):
    """The official Wav2Sem layout: LibriSpeech-960 merged into one folder of speakers."""
    n = sum(
        _write_chapter(tmp_path / "LibriSpeech960" / spk / chap, spk, chap, k) for _, spk, chap, k in CHAPTERS
    )
    utts = read_librispeech(tmp_path / "LibriSpeech960")
    assert len(utts) == n and {u.subset for u in utts} == {None}
    with pytest.raises(LibriSpeechError, match="not a folder of subsets"):
        read_librispeech(tmp_path / "LibriSpeech960", subsets=["train-clean-100"])


@pytest.mark.filterwarnings("ignore:.*flac file.*:UserWarning")
def test_errors(libri, tmp_path):
    root, _ = libri
    chap = root / "LibriSpeech" / "train-clean-100" / "19" / "198"
    with pytest.raises(LibriSpeechError, match="does not exist"):
        read_librispeech(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(LibriSpeechError, match="no LibriSpeech transcripts"):
        read_librispeech(tmp_path / "empty")

    # a flac without a transcript line: skipped with a warning
    sf.write(chap / "19-198-0099.flac", np.zeros(800, np.float32), 16000, format="FLAC")
    with pytest.warns(UserWarning, match="19-198-0099.flac"):
        assert len(read_librispeech(root)) == 13

    # a transcript line whose flac is missing: both files named
    (chap / "19-198-0001.flac").unlink()
    with pytest.raises(LibriSpeechError, match=r"19-198\.trans\.txt line 2 .*19-198-0001\.flac is missing"):
        read_librispeech(root)

    (chap / "19-198.trans.txt").write_text("\n")
    with pytest.raises(LibriSpeechError, match=r"19-198\.trans\.txt is empty"):
        read_librispeech(root)
    (chap / "19-198.trans.txt").write_text("19-198-0000\n")
    with pytest.raises(LibriSpeechError, match="has no text"):
        read_librispeech(root)
    (chap / "19-198.trans.txt").write_text("19-227-0000 WRONG CHAPTER\n")
    with pytest.raises(LibriSpeechError, match="is not 19-198-<utt>"):
        read_librispeech(root)
    (chap / "19-198.trans.txt").write_text("19-198-0000 ONE\n19-198-0000 TWICE\n")
    with pytest.raises(LibriSpeechError, match="listed twice"):
        read_librispeech(root)
