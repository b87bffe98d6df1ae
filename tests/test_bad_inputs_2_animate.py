"""The `w2s animate` and `w2s speak` rows of the second hostile-input survey (docs/bad-inputs-tried-2.md: the
A-*, FULL-animate-* and S-* rows). Each bad input gets one clear stderr line naming the file or option, exit
status 2 and no output; nothing of the user's is renamed or removed; the inputs that were already handled
are here too, so none regresses. Every case calls ``w2s.cli.main`` in-process with a tiny VOCA trained
for 3 steps (its generation and a 32x32 render take a fraction of a second).
"""

from __future__ import annotations

import functools
import json
import re
import resource
import signal
import struct
import subprocess
import tracemalloc
import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from cli_cases import cli_with_stdout as cli  # tests/cli_cases.py
from cli_cases import one_line, survey_rows

import w2s.animate
from w2s.cli import main
from w2s.corpus.speech import save_wav, synthesize

pytestmark = pytest.mark.usefixtures("one_torch_thread")


COVERED, rows = survey_rows()  # the survey rows that have a test here


def listing(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


# ---------------------------------------------------------------------------------------------
# fixtures: two tiny decoders, the survey's base.wav and the audio files made from it


@pytest.fixture(scope="module")
def models(tmp_path_factory, smoke_corpus) -> dict[str, Path]:
    """{"voca": a VOCA (mfcc F_p, 3 steps), "oracle": the same with --semantic oracle_text}."""
    root = tmp_path_factory.mktemp("decoders")
    found = {}
    for name, extra in (("voca", []), ("oracle", ["--semantic", "oracle_text"])):
        argv = ["decoder", "train", "--host", "voca", "--encoder", "mfcc", "--corpus", smoke_corpus, "--steps", "3",
                "--out", root / name, *extra]  # fmt: skip
        assert main([str(a) for a in argv]) == 0
        found[name] = root / name
    return found


SENTENCE = "the thin fin was on the map"


@pytest.fixture(scope="module")
def aud(tmp_path_factory) -> Path:
    """The survey's `aud/` folder: base.wav (`w2s speak` of the sentence, 1.44 s) in other formats, rates,
    lengths and with damaged headers."""
    d = tmp_path_factory.mktemp("aud")
    x = synthesize(SENTENCE).audio
    save_wav(d / "base.wav", x)
    sf.write(d / "mp3.mp3", x, 16000, format="MP3")
    sf.write(d / "flac.flac", x, 16000, subtype="PCM_16")
    sf.write(d / "ogg.ogg", x, 16000, format="OGG", subtype="VORBIS")
    sf.write(d / "u8.wav", x, 16000, subtype="PCM_U8")
    sf.write(d / "pcm24.wav", x, 16000, subtype="PCM_24")
    sf.write(d / "f64.wav", x, 16000, subtype="DOUBLE")
    sf.write(d / "sr8k.wav", x[::2], 8000, subtype="PCM_16")
    sf.write(d / "sr192k.wav", np.repeat(x, 12), 192000, subtype="PCM_16")
    sf.write(d / "short005.wav", x[3000:3800], 16000, subtype="PCM_16")
    sf.write(d / "one_sample.wav", x[3000:3001], 16000, subtype="PCM_16")
    sf.write(d / "sr1hz.wav", x[3000:3100], 1, subtype="PCM_16")
    sf.write(d / "silence.wav", np.zeros_like(x), 16000, subtype="PCM_16")
    sf.write(d / "ch6.wav", np.stack([x] * 6, axis=1), 16000, subtype="PCM_16")
    base = (d / "base.wav").read_bytes()
    at = base.index(b"data") + 4  # the data chunk's size field
    for name, size in (("hdr_ffff", 0xFFFFFFFF), ("hdr_short", 100), ("hdr_zero", 0)):
        (d / f"{name}.wav").write_bytes(base[:at] + struct.pack("<I", size) + base[at + 4 :])
    (d / "sr0.wav").write_bytes(base[:24] + struct.pack("<II", 0, 0) + base[32:])  # sample rate, byte rate
    return d


def animate_argv(wav, out, *extra, model) -> list:
    """The survey's `A`: animate with the tiny VOCA at 32x32."""
    return ["animate", wav, "--host", "voca", "--model", model, "--size", "32x32", "--out", out, *extra]


@pytest.fixture
def A(models, tmp_path, capsys):
    """A(wav, *extra, out=...): run the survey's `A` (default --out: tmp_path/o.mp4)."""

    def run(wav, *extra, out=None, model=None):
        return cli(animate_argv(wav, out or tmp_path / "o.mp4", *extra, model=model or models["voca"]), capsys)

    return run


@pytest.fixture(scope="module")
def reference(models, aud, tmp_path_factory) -> np.ndarray:
    """base.wav's vertices (--npy), to compare the other formats' with."""
    out = tmp_path_factory.mktemp("ref") / "base.mp4"
    assert main([str(a) for a in animate_argv(aud / "base.wav", out, "--npy", model=models["voca"])]) == 0
    return np.load(out.with_suffix(".npy"))


def frames_of(stdout: str) -> int:
    return int(re.search(r"(\d+) frames at", stdout)[1])


@pytest.fixture
def no_render(monkeypatch) -> list:
    """Replace the renderer with one that writes an empty file (for long inputs: 3,000 frames take 8 s); the
    list gets each call's vertex array shape."""
    shapes = []

    def fake(path, verts, faces, fps, audio=None, sr=16000, size=(384, 384), desc=None):
        shapes.append(verts.shape)
        Path(path).write_bytes(b"")

    monkeypatch.setattr(w2s.animate, "render_video", fake)
    return shapes


# ---------------------------------------------------------------------------------------------
# audio formats, rates and lengths that work


@rows("A-mp3", "A-flac", "A-ogg", "A-u8", "A-pcm24", "A-f64")
@pytest.mark.parametrize(
    "name, tolerance",
    [("mp3.mp3", 2e-2), ("flac.flac", 1e-5), ("ogg.ogg", 2e-2), ("u8.wav", 2e-2), ("pcm24.wav", 1e-5),
     ("f64.wav", 1e-5)],
)
def test_other_formats_give_the_vertices_of_the_wav(A, aud, reference, tmp_path, name, tolerance):
    """Lossless copies give base.wav's vertices (up to float rounding); lossy ones (mp3, Vorbis, 8-bit) nearly."""
    rc, err, _ = A(aud / name, "--npy")
    assert rc == 0, err
    assert (tmp_path / "o.mp4").stat().st_size > 0
    verts = np.load(tmp_path / "o.npy")
    assert verts.shape[1:] == reference.shape[1:] and abs(len(verts) - len(reference)) <= 1
    n = min(len(verts), len(reference))
    assert np.abs(verts[:n] - reference[:n]).max() <= tolerance


@rows("A-sr8k", "A-sr192k")
@pytest.mark.parametrize("name, rate", [("sr8k.wav", 8000), ("sr192k.wav", 192000)])
def test_other_rates_are_resampled_with_a_note(A, aud, reference, name, rate):
    rc, err, out = A(aud / name)
    assert rc == 0 and len(err) == 1 and f"sample rate {rate} Hz, resampled" in err[0], err
    assert frames_of(out) == len(reference)


@rows("A-ch6")
def test_six_channels_are_averaged_with_a_note(A, aud):
    rc, err, _ = A(aud / "ch6.wav")
    assert rc == 0 and len(err) == 1 and "6 channels, averaged to mono" in err[0], err


@rows("A-short005", "A-one_sample", "A-silence")
@pytest.mark.parametrize("name, frames", [("short005.wav", 2), ("one_sample.wav", 1), ("silence.wav", 44)])
def test_very_short_and_silent_inputs(A, aud, name, frames):
    """Judgement call (A-one_sample): a 1-sample file is still audio; it gives a 1-frame video, as any length
    does (frames = ceil(seconds x fps)), rather than a refusal."""
    rc, err, out = A(aud / name)
    assert rc == 0 and err == [], err
    assert frames_of(out) == frames


@rows("A-sr1hz")
def test_a_1_hz_file_is_resampled_with_a_note(A, aud, no_render):
    """100 samples at 1 Hz are 100 s: 3,000 frames at 30 fps (the renderer is stubbed: 3,000 frames take 8 s)."""
    rc, err, out = A(aud / "sr1hz.wav")
    assert rc == 0 and len(err) == 1 and "sample rate 1 Hz, resampled" in err[0], err
    assert frames_of(out) == 3000 and no_render[0][0] == 3000


@rows("A-10min")
def test_ten_minutes_run_in_bounded_windows(A, aud, tmp_path, monkeypatch, no_render):
    """A 10-minute clip is generated window by window (none longer than --chunk's 8 s), and the memory it takes
    is the vertex array it returns plus a few copies of the audio. The full run (generation and a 18,000-frame
    render) takes a minute here, 2:32 in the survey; the decoder and the renderer are stubbed, the reading,
    resampling, encoding and windowing are real."""
    x, _ = sf.read(aud / "base.wav", dtype="float32")
    sf.write(tmp_path / "ten_min.wav", np.resize(x, 600 * 16000), 16000, subtype="PCM_16")
    lengths = []

    def generate(net, clips, device, batch_size, **kw):
        lengths.append(clips[0].vertices.shape[0])
        return [np.zeros(clips[0].vertices.shape, np.float32)]

    monkeypatch.setattr(w2s.animate, "generate_clips", generate)
    tracemalloc.start()
    try:
        rc, err, out = A(tmp_path / "ten_min.wav", out=tmp_path / "ten.mp4")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert rc == 0, err
    assert frames_of(out) == 18000 and no_render[0][0] == 18000 and sum(lengths) > 18000
    assert len(lengths) > 70 and max(lengths) <= 8 * 30, lengths[:5]
    verts_bytes = 18000 * no_render[0][1] * 3 * 4
    assert peak < verts_bytes + 6 * 600 * 16000 * 4 + 100e6, peak / 1e6


@rows("A-unicode")
def test_unicode_paths(A, aud, tmp_path):
    folder = tmp_path / "uni dir ÿ 名前"
    folder.mkdir()
    wav = folder / "spa ce é 🙂.wav"
    wav.write_bytes((aud / "base.wav").read_bytes())
    out = folder / "out put 🙂.mp4"
    rc, err, _ = A(wav, "--npy", "--obj", out=out)
    assert rc == 0, err
    assert out.stat().st_size > 0 and np.load(out.with_suffix(".npy")).shape[0] == 44
    assert len(list((folder / "out put 🙂_obj").glob("frame_*.obj"))) == 44


# ---------------------------------------------------------------------------------------------
# damaged headers and files that are not audio


@rows("A-hdr_ffff")
def test_a_streamed_wav_length_placeholder_is_no_alarm(A, aud, reference):
    """0xFFFFFFFF is the data size a streaming writer (ffmpeg to a pipe) leaves: the data runs to the end."""
    rc, err, out = A(aud / "hdr_ffff.wav")
    assert rc == 0 and err == [], err  # no "the file is cut off"
    assert frames_of(out) == len(reference)


@rows("A-hdr_short", "A-hdr_zero")
@pytest.mark.parametrize("name, declared", [("hdr_short.wav", 100), ("hdr_zero.wav", 0)])
def test_a_header_that_understates_the_data_is_read_to_the_end_with_a_note(A, aud, reference, tmp_path, name,
                                                                          declared):
    """Judgement call: a WAV whose data size says 100 (or 0) bytes while 46 KB of samples follow (a recording
    whose header was never finalized) is read to the end, with a note that says so: the user gets the video
    of what they recorded, not a 1-frame one nor "empty (0 samples)"."""
    rc, err, out = A(aud / name, "--npy")
    assert rc == 0 and len(err) == 1, err
    assert f"header declares {declared} bytes" in err[0] and "never finalized" in err[0] and name in err[0]
    assert frames_of(out) == len(reference)
    assert np.allclose(np.load(tmp_path / "o.npy"), reference, atol=1e-5)  # every sample, as base.wav's


@rows("A-hdr_short")
def test_chunks_after_the_data_are_no_understated_header(aud, tmp_path):
    """The check behind A-hdr_short reads past the data only when what follows is not RIFF chunks: a LIST
    chunk after the data (as many editors write) is metadata, and the file reads as its header says."""
    from w2s.data.audio import load_audio

    listed = tmp_path / "listed.wav"
    listed.write_bytes((aud / "base.wav").read_bytes() + b"LIST" + struct.pack("<I", 4) + b"INFO")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.array_equal(load_audio(listed), load_audio(aud / "base.wav"))


@rows("A-sr0", "A-video")
@pytest.mark.parametrize("name", ["sr0.wav", "video.mp4"])
def test_a_bad_header_or_a_video_is_refused_naming_the_file(A, aud, reference, tmp_path, name):
    wav = aud / name
    if name == "video.mp4":  # a video as input: animate's own output
        wav = tmp_path / "video.mp4"
        assert A(aud / "base.wav", out=wav)[0] == 0
    rc, err, _ = A(wav, out=tmp_path / "x.mp4")
    one_line(rc, err, wav, "cannot read audio file")
    assert not (tmp_path / "x.mp4").exists()


# ---------------------------------------------------------------------------------------------
# options


@rows("A-size0", "A-size-odd", "A-size-super", "A-size-neg", "A-size-huge")
@pytest.mark.parametrize(
    "size, names",
    [("0x0", ["--size", "even numbers >= 16"]), ("33x32", ["--size", "even numbers >= 16"]),
     ("²x²", ["--size", "WIDTHxHEIGHT", "'²x²'"]), ("-32x32", ["--size", "WIDTHxHEIGHT"]),
     ("99998x99998", ["--size", "at most 2048"])],
)  # fmt: skip
def test_bad_sizes_name_the_option(A, aud, tmp_path, size, names):
    """A-size-huge: --size is capped at 2048 pixels a side (w2s.animate.MAX_SIDE: 1.3 GB and 5 s a frame
    already); refused at once, not after the model load and generation."""
    rc, err, _ = A(aud / "base.wav", f"--size={size}")
    one_line(rc, err, *names)
    assert listing(tmp_path) == set()


@rows("A-chunk-huge", "A-overlap-huge")
@pytest.mark.parametrize("extra", [["--chunk", "1e308"], ["--chunk", "0", "--overlap", "1e308"]])
def test_huge_chunk_or_overlap_is_one_window(A, aud, extra):
    """Judgement call: a --chunk longer than the audio (1e308 s) is one window, as --chunk 100 on a 1.4 s clip
    is; with --chunk 0 (one pass) the overlap is not used, so 1e308 is ignored. Neither overflows."""
    rc, err, out = A(aud / "base.wav", *extra)
    assert rc == 0 and err == [], err
    assert "1 window(s)" in out


@rows("A-overlap-neg", "A-overlap-gt", "A-chunk-tiny")
@pytest.mark.parametrize(
    "extra, names",
    [(["--overlap", "-1"], ["--chunk and --overlap", ">= 0"]),
     (["--chunk", "1", "--overlap", "2"], ["--overlap (2.0 s)", "--chunk (1.0 s)"]),
     (["--chunk", "0.04", "--overlap", "0.03"], ["overlap (1 frames)", "window (1 frames)"])],
)  # fmt: skip
def test_bad_windows_are_refused(A, aud, tmp_path, extra, names):
    rc, err, _ = A(aud / "base.wav", *extra)
    one_line(rc, err, *names)
    assert listing(tmp_path) == set()


@rows("A-text-emoji", "A-text-ws")
@pytest.mark.parametrize(
    "text, names", [("🙂🙂🔥", ["--text", "no letters or digits"]), ("   ", ["pass --text"])]
)
def test_an_oracle_text_decoder_needs_a_real_transcript(A, aud, models, tmp_path, text, names):
    """A-text-emoji: refused like `w2s speak` refuses it (S-emoji): an emoji-only string is no transcript."""
    rc, err, _ = A(aud / "base.wav", "--text", text, model=models["oracle"])
    one_line(rc, err, models["oracle"], *names)
    assert listing(tmp_path) == set()


@rows("A-text-huge")
def test_a_huge_transcript_works(A, aud, models):
    rc, err, _ = A(aud / "base.wav", "--text", (SENTENCE + " ") * 4500, model=models["oracle"])  # 120 KB
    assert rc == 0, err


@rows("A-subj-99", "A-subj-super")
@pytest.mark.parametrize("subject", ["99", "²"])
def test_unknown_subjects_name_the_option_and_list_the_choices(A, aud, tmp_path, subject):
    rc, err, _ = A(aud / "base.wav", "--subject", subject)
    one_line(rc, err, "--subject", repr(subject), "SynthTalk_S01", "0..7")
    assert listing(tmp_path) == set()


@rows("A-subj-test")
def test_an_unseen_speaker_gives_their_face(A, aud):
    rc, err, out = A(aud / "base.wav", "--subject", "SynthTalk_S12")
    assert rc == 0 and err == [] and "subject SynthTalk_S12" in out, err


@rows("A-host-mismatch", "A-model-corpus")
def test_the_model_must_hold_a_decoder_of_the_host(A, aud, models, smoke_corpus, tmp_path, capsys):
    argv = animate_argv(aud / "base.wav", tmp_path / "o.mp4", model=models["voca"])
    rc, err, _ = cli(argv + ["--host", "faceformer"], capsys)
    one_line(rc, err, "holds a voca decoder, not --host faceformer")
    rc, err, _ = A(aud / "base.wav", model=smoke_corpus)
    one_line(rc, err, smoke_corpus, "no decoder_run.json")
    assert listing(tmp_path) == set()


@rows("A-model-modeldir")
def test_the_model_subfolder_works(A, aud, models):
    rc, err, _ = A(aud / "base.wav", model=models["voca"] / "model")
    assert rc == 0 and err == [], err


# ---------------------------------------------------------------------------------------------
# outputs: the user's files, a full disk


@rows("A-out-dir-mp4")
def test_an_out_that_is_a_folder_is_refused(A, aud, tmp_path):
    (tmp_path / "blk.mp4").mkdir()
    rc, err, _ = A(aud / "base.wav", out=tmp_path / "blk.mp4")
    one_line(rc, err, tmp_path / "blk.mp4", "it is a folder")
    assert listing(tmp_path) == {"blk.mp4"}


@rows("A-obj-file")
def test_a_file_in_the_way_of_the_meshes_is_never_renamed_nor_removed(A, aud, tmp_path):
    """OUT_obj is an existing *file*: refused at once, the file untouched (it was hidden as .OUT_obj.old-PID and
    deleted by the next run's sweep). Likewise a link, or a folder holding files animate did not write; a
    folder of an earlier animate's frames is replaced."""
    precious = tmp_path / "mesh2_obj"
    precious.write_text("precious user data\n")
    for _ in range(2):  # the second run swept the hidden file
        rc, err, _ = A(aud / "base.wav", "--obj", out=tmp_path / "mesh2.mp4")
        one_line(rc, err, precious, "it is a file")
        assert listing(tmp_path) == {"mesh2_obj"} and precious.read_text() == "precious user data\n"

    precious.unlink()
    precious.symlink_to(tmp_path / "elsewhere")
    one_line(*A(aud / "base.wav", "--obj", out=tmp_path / "mesh2.mp4")[:2], precious, "link")
    assert listing(tmp_path) == {"mesh2_obj"} and precious.is_symlink()

    precious.unlink()
    precious.mkdir()
    (precious / "notes.txt").write_text("mine\n")
    one_line(*A(aud / "base.wav", "--obj", out=tmp_path / "mesh2.mp4")[:2], precious, "notes.txt", "did not write")
    assert listing(precious) == {"notes.txt"} and listing(tmp_path) == {"mesh2_obj"}

    (precious / "notes.txt").unlink()
    (precious / "frame_00.obj").write_text("an earlier run's\n")
    rc, err, _ = A(aud / "base.wav", "--obj", out=tmp_path / "mesh2.mp4")
    assert rc == 0, err
    assert len(list(precious.glob("frame_*.obj"))) == 44 and listing(tmp_path) == {"mesh2.mp4", "mesh2_obj"}


class file_size_limit:
    """Writes of this process beyond `limit` bytes fail with EFBIG ("File too large"): the kernel's own write
    failure, as a full disk's ENOSPC is, without mounting a small file system (the survey's 1 MB tmpfs).
    A full disk takes the same path (w2s.utils.io.DISK_FULL)."""

    def __init__(self, limit: int):
        self.limit = limit

    def __enter__(self):
        self.old = resource.getrlimit(resource.RLIMIT_FSIZE), signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (self.limit, self.old[0][1]))

    def __exit__(self, *exc):
        resource.setrlimit(resource.RLIMIT_FSIZE, self.old[0])
        signal.signal(signal.SIGXFSZ, self.old[1])


@rows("FULL-animate-npy")
def test_disk_full_while_writing_the_vertices(A, aud, tmp_path):
    """The npy (1.4 MB) does not fit, the mp4 (20 KB) does: one line naming the npy and the problem (numpy's own
    writer said only "348744 requested and 254944 written"), and neither file is left."""
    with file_size_limit(500_000):
        rc, err, _ = A(aud / "base.wav", "--npy")
    one_line(rc, err, tmp_path / "o.npy", "File too large")
    assert listing(tmp_path) == set()


@rows("FULL-animate-mp4")
def test_disk_full_while_ffmpeg_writes_the_video(A, aud, tmp_path, monkeypatch):
    """ffmpeg (only it: the file-size limit is set in the child) cannot write the mp4: one line naming the mp4,
    not a RuntimeError with ffmpeg's log, and no file left."""

    def limited():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (4000, 4000))

    monkeypatch.setattr(subprocess, "Popen", functools.partial(subprocess.Popen, preexec_fn=limited))
    rc, err, _ = A(aud / "base.wav", "--npy")
    one_line(rc, err, tmp_path / "o.mp4", "File too large")
    assert listing(tmp_path) == set()


# ---------------------------------------------------------------------------------------------
# w2s speak


@rows("S-emoji", "S-ctrl")
@pytest.mark.parametrize(
    "text, names",
    [("🙂🔥🙂", ["nothing speakable", "no letters or digits"]),
     ("the\x07thin\x1b[31mfin", ["control character", "'\\x07'", "position 3"])],
)  # fmt: skip
def test_speak_refuses_text_without_words_or_with_control_characters(tmp_path, capsys, text, names):
    """S-ctrl, judgement call: control characters (a bell, a pasted terminal colour code) are refused naming the
    first one, rather than stripped: stripping ESC would still speak "[31m" as "31 m". Tabs and newlines are
    whitespace and stay allowed."""
    rc, err, _ = cli(["speak", text, tmp_path / "a.wav"], capsys)
    one_line(rc, err, *names)
    assert listing(tmp_path) == set()
    rc, err, out = cli(["speak", "the thin\tfin\nwas", tmp_path / "b.wav"], capsys)
    assert rc == 0 and json.loads((tmp_path / "b.json").read_text())["words"], err
