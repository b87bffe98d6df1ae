"""Runs own their folders: the lock beside an output, stale temp folders swept, normal permissions."""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from w2s.utils.io import LockedError, OutputError, building_dir, lock_path, output_lock, stale_siblings


def _hold(path, pid_text="4242"):
    """What another process does: an open lock file, flocked (a separate open file, so it conflicts)."""
    f = open(path, "w")
    f.write(pid_text + "\n")
    f.flush()
    fcntl.flock(f, fcntl.LOCK_EX)
    return f


def test_a_held_lock_refuses_at_once_naming_the_holder(tmp_path):
    out = tmp_path / "out"
    with _hold(lock_path(out)):
        t0 = time.perf_counter()
        with pytest.raises(LockedError) as e:
            with output_lock(out):
                pytest.fail("entered a lock another process holds")
        assert time.perf_counter() - t0 < 1  # refused, not waited
    msg = str(e.value)
    assert str(out) in msg and "process 4242" in msg and "\n" not in msg
    with output_lock(out) as path:  # free again
        assert path.read_text().strip() == str(os.getpid())
    assert not lock_path(out).exists()  # removed on release


def test_wait_blocks_until_the_holder_is_done(tmp_path):
    out = tmp_path / "out"
    holder = _hold(lock_path(out))
    released = []

    def release():
        time.sleep(0.5)
        released.append(time.perf_counter())
        holder.close()

    threading.Thread(target=release).start()
    with output_lock(out, wait=True):
        got = time.perf_counter()
    assert released and got >= released[0]


def test_the_same_process_re_enters_its_own_lock(tmp_path):
    out = tmp_path / "out"
    with output_lock(out), output_lock(out), building_dir(out) as tmp:
        (tmp / "f").write_text("x")
    assert (out / "f").read_text() == "x"


def test_unwritable_or_missing_folder_is_refused_before_work(tmp_path, monkeypatch):
    import errno

    with pytest.raises(OutputError, match="does not exist"):
        with output_lock(tmp_path / "missing" / "out"):
            pass
    real_open = os.open

    def read_only(path, *a, **k):  # a read-only file system (as root, chmod would not stop writes)
        if str(path).startswith(str(tmp_path)):
            raise OSError(errno.EROFS, "Read-only file system", str(path))
        return real_open(path, *a, **k)

    monkeypatch.setattr(os, "open", read_only)
    monkeypatch.setattr(os, "access", lambda path, mode, **k: not str(path).startswith(str(tmp_path)))
    with pytest.raises(OutputError) as e:
        with output_lock(tmp_path / "out"):
            pytest.fail("started work in a read-only folder")
    assert str(e.value) == f"cannot write {tmp_path / 'out'}: folder {tmp_path} is not writable"


def test_a_killed_process_holds_nothing_and_its_temp_folder_is_swept(tmp_path):
    out = tmp_path / "out"
    code = ("import os, signal, sys\nfrom w2s.utils.io import building_dir\n"
            f"with building_dir({str(out)!r}) as tmp:\n"
            "    (tmp / 'half').write_text('x')\n    print('building', flush=True)\n"
            "    os.kill(os.getpid(), signal.SIGKILL)\n")  # fmt: skip
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == -signal.SIGKILL and "building" in r.stdout
    left = stale_siblings(out)
    assert len(left) == 1 and (left[0] / "half").is_file() and not out.exists()
    with output_lock(out):  # the kernel dropped the dead process's lock
        pass
    with building_dir(out) as tmp:
        (tmp / "whole").write_text("y")
    assert stale_siblings(out) == [] and (out / "whole").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


@pytest.mark.parametrize("umask, mode", [(0o022, 0o755), (0o027, 0o750)])
def test_built_folders_get_the_umask_permissions(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        with building_dir(tmp_path / "out") as tmp:
            (tmp / "f").write_text("x")
    finally:
        os.umask(old)
    assert (tmp_path / "out").stat().st_mode & 0o777 == mode  # not mkdtemp's 0700
