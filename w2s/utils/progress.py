"""Progress of long work (training steps, corpus utterances, encoding, grid cells), seen by whoever watches.

In a terminal or in Jupyter :func:`progress` is tqdm's bar (``tqdm.auto``: a widget bar in Jupyter), off
under W2S_PROGRESS=0. Under the notebook runner nobody sees a kernel's bars, so the runner names a folder in
W2S_PROGRESS_DIR and every process of the run (the kernel, the grid's workers, which inherit the variable)
keeps one small JSON file there, ``<pid>.json``: its open bars, each {desc, unit, n, total, elapsed, rate,
at}. The runner reads them (:func:`read_bars`) and puts step k/N and the time left on its own line.
"""

from __future__ import annotations

import json
import math
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from tqdm.std import tqdm

ENV = "W2S_PROGRESS_DIR"
EVERY = 2.0  # seconds: at most one write of a process's file per EVERY (a bar opening or closing: at once)


def progress_enabled() -> bool:
    """Progress bars on unless W2S_PROGRESS=0 (the notebook runner and CI set it)."""
    return os.environ.get("W2S_PROGRESS", "1") not in ("0", "false", "False", "")


def progress(iterable=None, **kw):
    """A progress bar over `iterable` (or a manual one: ``total=``, ``.update(k)``, ``.close()``).

    tqdm.auto with our on/off switch (executed notebooks stay free of widget output); under the runner
    (W2S_PROGRESS_DIR set) a :class:`ReportingBar` that writes its state for the runner's line instead."""
    kw.setdefault("mininterval", 1.0)
    if os.environ.get(ENV, "").strip():
        return ReportingBar(iterable, **kw)
    from tqdm.auto import tqdm as auto

    return auto(iterable, disable=not progress_enabled(), **kw)


class Reporter:
    """One process's open bars, kept in ``<folder>/<pid>.json`` (replaced whole: a reader never sees half a
    file). Writes at most every `every` seconds of `clock`, except when a bar opens or closes."""

    def __init__(self, folder: str | Path, every: float | None = None, clock: Callable[[], float] = time.monotonic):
        self.path = Path(folder) / f"{os.getpid()}.json"
        self.every, self.clock = every, clock
        self.bars: dict[int, dict] = {}
        self.last = -math.inf
        self._lock = threading.Lock()

    def update(self, key: int, state: dict) -> None:
        with self._lock:
            new = key not in self.bars
            self.bars[key] = state
            now = self.clock()
            if new or now - self.last >= (EVERY if self.every is None else self.every):
                self._write(now)

    def remove(self, key: int) -> None:
        with self._lock:
            if self.bars.pop(key, None) is not None:
                self._write(self.clock())

    def _write(self, now: float) -> None:
        self.last = now
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        try:
            tmp.write_text(json.dumps({"pid": os.getpid(), "bars": list(self.bars.values())}), encoding="utf-8")
            os.replace(tmp, self.path)
        except OSError:  # the folder went with the run: progress is a courtesy, never a reason for work to fail
            pass


_reporters: dict[tuple[str, int], Reporter] = {}


def reporter(folder: str | Path) -> Reporter:
    """This process's reporter for `folder` (a forked child gets its own file)."""
    key = (str(folder), os.getpid())
    if key not in _reporters:
        _reporters[key] = Reporter(folder)
    return _reporters[key]


class _Nowhere:
    def write(self, text: str) -> None:
        pass

    def flush(self) -> None:
        pass


def bar_state(bar: tqdm) -> dict:
    """What the runner shows of a bar: desc, unit, n of total, seconds elapsed, items per second (tqdm's
    smoothed rate, else the average since the bar opened; None before the first item), and when (`at`)."""
    d = bar.format_dict
    n, elapsed, initial = d["n"], d["elapsed"], d.get("initial") or 0
    rate = d.get("rate") or ((n - initial) / elapsed if elapsed > 0 and n > initial else None)
    return {"desc": (bar.desc or "").rstrip(": "), "unit": d.get("unit") or "it", "n": n, "total": d["total"],
            "elapsed": round(elapsed, 3), "rate": rate, "at": time.time()}  # fmt: skip


class ReportingBar(tqdm):
    """A tqdm bar that draws nothing: its state goes to this process's file in W2S_PROGRESS_DIR (or `folder`)."""

    monitor_interval = 0  # no monitor thread in every process

    def __init__(self, iterable=None, *args, folder: str | Path | None = None, **kw):
        self.reporter = reporter(folder or os.environ[ENV])
        kw.update(disable=False, file=_Nowhere(), leave=False)  # shown by the runner, whatever TQDM_DISABLE says
        super().__init__(iterable, *args, **kw)

    def display(self, msg=None, pos=None) -> bool:
        self.reporter.update(id(self), bar_state(self))
        return True

    def close(self) -> None:
        if self.disable:  # closed already
            return
        super().close()
        self.reporter.remove(id(self))


def read_bars(folder: str | Path) -> list[dict]:
    """The open bars of every process writing into `folder`, the oldest first (an outer loop before the
    inner ones); files being replaced or not JSON are skipped."""
    bars = []
    try:
        files = sorted(Path(folder).glob("*.json"))
    except OSError:
        return []
    for path in files:
        try:
            bars += json.loads(path.read_text(encoding="utf-8")).get("bars", [])
        except (OSError, ValueError, AttributeError):
            continue
    return sorted(bars, key=lambda b: b.get("at", 0) - b.get("elapsed", 0))
