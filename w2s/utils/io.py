"""Atomic writes: a file or a folder is written under a temporary sibling name and renamed into place
on success, so readers never see half of it."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path


class OutputError(OSError):
    """An output path that cannot be written."""


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def atomic_path(path):
    """Yield a temp path beside `path`; rename it to `path` if the block succeeds, delete it if not."""
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    if parent.exists() and not parent.is_dir():
        raise OutputError(f"cannot write {path}: {parent} is a file, not a folder")
    if not parent.is_dir():
        raise OutputError(f"cannot write {path}: folder {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise OutputError(f"cannot write {path}: folder {parent} is not writable")
    if path.is_dir():
        raise OutputError(f"cannot write {path}: it is a folder")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix or ".tmp", dir=parent)
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600 files; give the usual permissions
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_json(path, obj, **kw) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(obj, f, ensure_ascii=False, indent=kw.pop("indent", 2), **kw)
            f.write("\n")


@contextmanager
def building_dir(out, keep_existing=None):
    """Yield a temp folder beside `out`; on success it replaces `out` (an existing one is swapped out and
    removed), on failure it is deleted. Readers never see a half-built folder.

    `keep_existing(out) -> bool`: when true for an `out` that exists by the end of the block (another
    process built the same thing first), that one is kept and the new folder dropped."""
    out = Path(out)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.building-", dir=out.parent))
    try:
        yield tmp
        if out.exists() and keep_existing is not None and keep_existing(out):
            shutil.rmtree(tmp)
        elif out.exists():
            old = out.with_name(f".{out.name}.old-{os.getpid()}")
            os.replace(out, old)
            os.replace(tmp, out)
            shutil.rmtree(old)
        else:
            os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def dump_json_sorted(path, obj) -> None:
    """Deterministic JSON (sorted keys) for files inside a folder being built (not atomic on its own)."""
    Path(path).write_text(json.dumps(obj, ensure_ascii=False, indent=1, sort_keys=True) + "\n", encoding="utf-8")
