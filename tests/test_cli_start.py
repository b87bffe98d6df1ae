"""`w2s` starts without its heavy libraries: a command's module (and torch, the decoders, plotly, ...) loads only
when that command runs. Behaviour checks in fresh interpreters; the start-up times are measured in
benchmarks/import_time.py, not asserted here."""

import json
import os
import subprocess
import sys

import pytest

from w2s.cli import COMMANDS, build_parser, main

# what `import w2s` puts in the environment (w2s.utils.runtime.pin_compute), and the variables it reads
PINNED = ("OMP_WAIT_POLICY", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "ATEN_CPU_CAPABILITY",
          "ONEDNN_MAX_CPU_ISA", "MKL_CBWR", "MKL_ENABLE_INSTRUCTIONS", "OPENBLAS_CORETYPE", "W2S_THREADS", "W2S_CPU_ISA")
HEAVY = ("torch", "transformers", "sentence_transformers", "librosa", "plotly", "scipy", "sklearn", "diffusers")


def _fresh(code: str, tmp_path) -> dict:
    """Run `code` in a new interpreter (it prints a JSON object last) and return that object."""
    env = {k: v for k, v in os.environ.items() if k not in PINNED}  # the child's `import w2s` sets them again
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


SHOWN = ("OMP_WAIT_POLICY", "OMP_NUM_THREADS", "ATEN_CPU_CAPABILITY")
# the child's report: the heavy libraries it loaded, and the pinned variables it has
REPORT = (f"import json, os, sys\nprint(json.dumps({{'heavy': sorted(m for m in {HEAVY!r} if m in sys.modules), "
          f"'env': [os.environ.get(k) for k in {SHOWN!r}]}}))")  # fmt: skip


def test_import_w2s_cli_loads_no_heavy_library_and_still_pins_threads(tmp_path):
    got = _fresh("import w2s.cli\n" + REPORT, tmp_path)
    assert got["heavy"] == []
    assert got["env"] == ["PASSIVE", "1", "avx2"]  # import w2s pins threads and kernels before torch can load


def test_help_and_speak_load_no_heavy_library(tmp_path):
    wav = tmp_path / "hello.wav"
    got = _fresh(
        "from w2s.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit as e:\n    assert e.code == 0\n"
        f"assert main(['speak', 'hello world', {str(wav)!r}]) == 0\n" + REPORT,
        tmp_path,
    )
    assert got["heavy"] == [] and wav.is_file() and wav.with_suffix(".json").is_file()


def test_a_command_that_needs_torch_loads_it(tmp_path):
    """The other side: `w2s decoder train --help` configures from the decoder registry (torch)."""
    got = _fresh("from w2s.cli import main\ntry:\n    main(['decoder', 'train', '--help'])\n"
                 "except SystemExit as e:\n    assert e.code == 0\n" + REPORT, tmp_path)  # fmt: skip
    assert "torch" in got["heavy"]


def test_every_command_has_its_module_functions():
    parser = build_parser()  # every command configured
    sub = next(a for a in parser._actions if a.dest == "command")
    assert list(sub.choices) == list(COMMANDS)
    for name, p in sub.choices.items():
        assert len(p._actions) > 1, name  # its own arguments besides -h


@pytest.mark.parametrize(
    "argv",
    [
        ["speak", "hi", "a.wav", "--voice", "us-f2"],
        ["-v", "pairs", "--limit", "3"],
        ["corpus", "build", "c", "--preset", "smoke"],
        ["decoder", "train", "--host", "voca", "--corpus", "c", "--out", "o", "--set", "x=1"],
        ["decoder", "eval", "--model", "m", "--condition", "2"],
        ["notebooks", "--quick", "-p", "A=1"],
    ],
)
def test_the_chosen_command_parses_as_the_whole_parser_does(argv):
    assert build_parser([a for a in argv if a in COMMANDS]).parse_args(argv) == build_parser().parse_args(argv)


def test_errors_of_a_command_loaded_late_are_one_line(tmp_path, capsys):
    """BuildError (w2s.corpus.build, loaded with `w2s corpus`): one line and status 2, not a traceback."""
    (tmp_path / "exists").mkdir()
    assert main(["corpus", "build", str(tmp_path / "exists"), "--preset", "smoke"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("w2s corpus build: error: ") and "already exists" in err and err.count("\n") == 1


def test_python_dash_m_w2s(tmp_path):
    r = subprocess.run([sys.executable, "-m", "w2s", "speak", "", str(tmp_path / "a.wav")], capture_output=True,
                       text=True, cwd=tmp_path)  # fmt: skip
    assert r.returncode == 2 and r.stderr.startswith("w2s speak: error:")
