"""What the hostile-input suites (tests/test_bad_inputs*.py) share: calling `w2s` in-process, the one-line
error check, a survey's row registry, and editing a hard-linked copy of a fixture without touching it."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from w2s.cli import main


def survey_rows() -> tuple[set, object]:
    """(COVERED, rows): a suite's set of the survey rows it tests, and the decorator that marks a test as the
    case of some rows (``@rows("A-mp3")``); the coverage tests read the set."""
    covered: set = set()

    def rows(*ids):
        covered.update(ids)
        return lambda test: test

    return covered, rows


def cli_with_stdout(argv, capsys) -> tuple[int, list[str], str]:
    """`w2s ARGV` in-process: (exit status, the lines it wrote to stderr, what it wrote to stdout)."""
    capsys.readouterr()
    try:
        rc = main([str(a) for a in argv])
    except SystemExit as e:  # argparse
        rc = e.code
    out = capsys.readouterr()
    return rc, out.err.splitlines(), out.out


def cli(argv, capsys) -> tuple[int, list[str]]:
    """`w2s ARGV` in-process: (exit status, the lines it wrote to stderr)."""
    return cli_with_stdout(argv, capsys)[:2]


def one_line(rc, lines, *names, status=2) -> str:
    """The CLI's answer is `status` and exactly one stderr line that names every one of `names`."""
    assert rc == status, lines
    assert len(lines) == 1, lines
    for name in names:
        assert str(name) in lines[0], (name, lines[0])
    return lines[0]


def listing(folder: Path) -> set[str]:
    """Every path under `folder`, relative to it (empty when it does not exist)."""
    return {str(p.relative_to(folder)) for p in folder.rglob("*")} if folder.exists() else set()


def linked_copy(src: Path, dst: Path) -> Path:
    """A copy made of hard links (fast): change its files only through `put`."""
    return Path(shutil.copytree(src, dst, copy_function=os.link))


def put(path: Path, data: bytes | str) -> None:
    """Replace a file of a hard-linked copy without touching the original (unlink, then write)."""
    path.unlink(missing_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)


def edit_json(path: Path, change) -> None:
    put(path, json.dumps(change(json.loads(path.read_text()))))
