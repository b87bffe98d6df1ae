"""Atomic writes: a file or a folder is written under a temporary sibling name and renamed into place
on success, so readers never see half of it. Locks: a build or a training run holds ``.NAME.lock``
beside its output, so two runs never write one folder. JSON: one reader that names the file (and the
key) in every error, and one writer of strict JSON (NaN and inf as null).
"""

from __future__ import annotations

import errno
import fcntl
import json
import math
import os
import shutil
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path


class OutputError(OSError):
    """An output path that cannot be written."""

    def __str__(self) -> str:  # one line, as given (OSError would print "[Errno ...]" for two arguments)
        return str(self.args[0]) if self.args else "output error"


class LockedError(OutputError):
    """Another process is writing the same output (it holds the lock beside it)."""


class JSONFileError(ValueError):
    """A JSON file that cannot be read or does not hold what is expected; the message names the file (and
    key). `reason`: the problem alone (without the file's name)."""

    def __init__(self, message: str, reason: str | None = None):
        super().__init__(message)
        self.reason = reason or message


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def check_writable(path, folder: bool = False) -> Path:
    """`path` can be created or replaced: its parent is an existing, writable folder, and `path` is not a
    folder (a file, with `folder=True`). Else :class:`OutputError` naming both; run before long work."""
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    if parent.exists() and not parent.is_dir():
        raise OutputError(f"cannot write {path}: {parent} is a file, not a folder")
    if not parent.is_dir():
        raise OutputError(f"cannot write {path}: folder {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise OutputError(f"cannot write {path}: folder {parent} is not writable")
    if not folder and path.is_dir():
        raise OutputError(f"cannot write {path}: it is a folder")
    if folder and path.exists() and not path.is_dir():
        raise OutputError(f"cannot write {path}: it is a file, not a folder")
    if folder and path.is_dir() and not os.access(path, os.W_OK):
        raise OutputError(f"cannot write into {path}: the folder is not writable")
    return path


@contextmanager
def atomic_path(path):
    """Yield a temp path beside `path`; rename it to `path` if the block succeeds, delete it if not."""
    path = check_writable(path)
    parent = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix or ".tmp", dir=parent)
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600 files; give the usual permissions
        os.replace(tmp, path)
    except BaseException as e:
        if os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(e, OSError) and e.errno in DISK_FULL and e.filename in (None, tmp):
            raise OSError(e.errno, os.strerror(e.errno), str(path)) from e  # the file asked for, not the temp
        raise


DISK_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)  # no space, quota, file-size limit


_JSON_TYPES = {dict: "an object", list: "a list", str: "a string", int: "an integer", float: "a number",
               bool: "true or false"}  # fmt: skip


def _type_name(t) -> str:
    ts = t if isinstance(t, tuple) else (t,)
    return " or ".join(_JSON_TYPES.get(x, x.__name__) for x in ts)


def _check_keys(obj: dict, keys, where: str) -> None:
    """Every key of `keys` (names, or {name: type(s)}) in `obj`, of its type; JSONFileError naming it."""
    types = keys if isinstance(keys, dict) else dict.fromkeys(keys)
    for k, t in types.items():
        if k not in obj:
            raise JSONFileError(f"{where} has no {k!r} (expected keys: {', '.join(map(repr, types))})")
        if t is not None and (
            not isinstance(obj[k], t)
            or (isinstance(obj[k], bool) and bool not in (t if isinstance(t, tuple) else (t,)))
        ):
            raise JSONFileError(f"{where}: {k!r} must be {_type_name(t)}, got {json.dumps(obj[k])[:60]}")


def read_json(path, what: str = "JSON file", required_keys=(), kind: type | None = None, item_keys=None):
    """The JSON value in `path`, checked; every error is a one-line :class:`JSONFileError` naming the file.

    what: how the file is named in errors ("splits file"). kind: the top-level type (dict or list).
    required_keys: keys the top-level object must have, as names or ``{name: type or (types)}``.
    item_keys: keys every entry must have (the elements of a list, the values of an object), likewise;
    an entry that is not an object is an error naming it."""
    path = Path(path)
    try:
        with open(path, encoding="utf-8") as f:
            obj = json.load(f)
    except FileNotFoundError:
        raise JSONFileError(f"{what} {path} does not exist") from None
    except json.JSONDecodeError as e:
        why = f"{e.msg} at line {e.lineno} column {e.colno}"
        raise JSONFileError(f"{what} {path}: not valid JSON ({why})", why) from None
    except (OSError, UnicodeDecodeError) as e:
        raise JSONFileError(f"cannot read {what} {path}: {getattr(e, 'strerror', None) or e}") from None
    if required_keys and kind is None:
        kind = dict
    if kind is not None and not isinstance(obj, kind):
        raise JSONFileError(
            f"{what} {path}: expected {_type_name(kind)} at the top, got {type(obj).__name__}"
        )
    if required_keys:
        _check_keys(obj, required_keys, f"{what} {path}")
    if item_keys is not None:
        items = obj.items() if isinstance(obj, dict) else enumerate(obj if isinstance(obj, list) else [])
        for k, v in items:
            where = f"{what} {path}: entry {k!r}" if isinstance(k, str) else f"{what} {path}: entry {k}"
            if not isinstance(v, dict):
                raise JSONFileError(f"{where} must be an object, got {json.dumps(v)[:60]}")
            _check_keys(v, item_keys, where)
    return obj


def json_safe(obj):
    """`obj` as strict JSON can hold it: NaN and ±inf as null (JSON has no NaN; Python's bare ``NaN`` token
    is not valid JSON), numpy arrays and scalars as lists and numbers, tuples as lists."""
    if isinstance(obj, dict):
        return {(k.item() if hasattr(k, "item") else k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if hasattr(obj, "tolist") and not isinstance(obj, (str, bytes)):  # numpy arrays and scalars
        return json_safe(obj.tolist())
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def json_text(obj, **kw) -> str:
    """``json.dumps`` of :func:`json_safe` (`obj`), ending in a newline: what every w2s JSON file holds."""
    return json.dumps(json_safe(obj), ensure_ascii=False, allow_nan=False, **kw) + "\n"


def write_json(path, obj, **kw) -> None:
    """`obj` as JSON in `path`, atomically; NaN and ±inf as null (:func:`json_safe`). kw: json.dumps's."""
    kw.setdefault("indent", 2)
    with atomic_path(path) as tmp:
        Path(tmp).write_text(json_text(obj, **kw), encoding="utf-8")


# ---------------------------------------------------------------------------------------------
# locks


_held: dict[str, int] = {}  # lock files this process holds, with their depth (re-entered by the same process)
_held_guard = threading.Lock()


def lock_path(out) -> Path:
    """The lock file of output `out`: ``.NAME.lock`` beside it."""
    out = _named(out)
    return out.with_name(f".{out.name}.lock")


def _named(out) -> Path:
    """`out` as a path with a name (``.`` or ``..`` resolved to the folder they mean)."""
    out = Path(out)
    return out if out.name not in ("", ".", "..") else out.resolve()


def _holder(path: Path) -> str:
    try:
        pid = path.read_text().strip()
    except OSError:
        return "another process"
    return f"process {pid}" if pid.isdigit() else "another process"


@contextmanager
def output_lock(out, wait: bool = False, what: str = "written"):
    """Hold the lock of output `out` (``.NAME.lock`` beside it, with this process's id) for the block.

    An advisory ``fcntl.flock``: the kernel drops it when the process ends, however it ends (SIGKILL
    included), so a lock never outlives its run. `wait=False` (builds and trainings the user starts):
    when another process holds it, raise :class:`LockedError` naming the folder and the holder, at
    once, rather than block a terminal behind a job of unknown length. `wait=True` (shared caches,
    where the other process is making the very thing asked for): block until it is free. The same
    process may re-enter a lock it holds. Also the early writability check: an output whose folder
    is missing or read-only raises :class:`OutputError` before any work starts."""
    out = _named(out)
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        raise OutputError(f"cannot write {out}: folder {parent} does not exist")
    path = lock_path(out)
    key = str(path.resolve())
    with _held_guard:
        fd = None if key in _held else -1
        if fd is None:
            _held[key] += 1
    if fd == -1:
        fd = _acquire(path, out, wait, what)  # outside the guard: it may block
        with _held_guard:
            _held[key] = 1
    try:
        yield path
    finally:
        with _held_guard:
            _held[key] -= 1
            if _held[key] == 0:
                del _held[key]
                if fd is not None:
                    try:
                        os.unlink(path)  # while still holding it: a waiter re-checks the file it locked
                    except OSError:
                        pass
                    os.close(fd)


def _acquire(path: Path, out: Path, wait: bool, what: str) -> int:
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as e:
            why = (
                "is not writable"
                if not os.access(path.parent, os.W_OK)
                else f"cannot take the lock ({e.strerror})"
            )
            raise OutputError(f"cannot write {out}: folder {path.parent} {why}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            holder = _holder(path)
            os.close(fd)
            raise LockedError(f"{out} is being {what} by {holder} (lock {path}); wait for it to finish, "
                              "or choose another folder") from None  # fmt: skip
        except BaseException:
            os.close(fd)
            raise
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:  # not a file the previous holder unlinked while we waited for it
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
            return fd
        os.close(fd)


def stale_siblings(out) -> list[Path]:
    """Temp folders of `out` that building_dir left behind (``.NAME.building-*``, ``.NAME.old-*``):
    stale when nobody holds `out`'s lock, since every writer holds it while they exist. Only real
    folders: building_dir makes no file or link of these names, so one is not w2s's to remove."""
    out = Path(out)
    if not out.parent.is_dir():
        return []
    prefixes = (f".{out.name}.building-", f".{out.name}.old-")
    return sorted(p for p in out.parent.iterdir() if p.name.startswith(prefixes) and _real_dir(p))


def _real_dir(p: Path) -> bool:
    return p.is_dir() and not p.is_symlink()


def sweep_stale(out) -> list[Path]:
    """Remove the temp folders a killed build of `out` left (call it holding `out`'s lock)."""
    gone = stale_siblings(out)
    for p in gone:
        shutil.rmtree(p, ignore_errors=True)
    return gone


@contextmanager
def building_dir(out, keep_existing=None, wait: bool = True):
    """Yield a temp folder beside `out`; on success it replaces `out` (an existing one is swapped out and
    removed), on failure it is deleted. Readers never see a half-built folder.

    Holds `out`'s lock for the block (:func:`output_lock`; re-entered when the caller holds it already,
    else waited for unless `wait=False`), and first sweeps the temp folders that killed builds of
    `out` left behind. The folder gets the usual permissions (0777 less the umask; mkdtemp makes 0700).

    `keep_existing(out) -> bool`: when true for an `out` that exists by the end of the block (another
    process built the same thing first), that one is kept and the new folder dropped. An `out` that is a
    file or a link is refused at once (:class:`OutputError`): it is not a folder w2s built, and is never
    renamed or removed."""
    out = Path(out)
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        kind = "link" if out.is_symlink() else "file"
        raise OutputError(f"cannot write {out}: it is a {kind}, not a folder w2s built; move it or choose "
                          "another name")  # fmt: skip
    with output_lock(out, wait=wait, what="built"):
        sweep_stale(out)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.building-", dir=out.parent))
        try:
            yield tmp
            os.chmod(tmp, 0o777 & ~_umask())
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
    Path(path).write_text(json_text(obj, indent=1, sort_keys=True), encoding="utf-8")
