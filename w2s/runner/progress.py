"""The runner's line, for a person watching `w2s notebooks`: notebook k of n, code cell i of m, time in this
notebook and in the run, what the running cell's long work has done (step k/N, grid cell k/N, with the time
left, read from the kernel's bars: :mod:`w2s.utils.progress`), and the heading the cell runs under.
"""

from __future__ import annotations

import shutil
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from w2s.utils.progress import progress_enabled, read_bars

HEARTBEAT = 20.0  # seconds: off a terminal, a line at least this often while a notebook runs
SHOWN_BARS = 3  # bars on the line at most (an outer loop first): the rest are counted


def _clock(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


def bar_text(bar: dict, now: float) -> str:
    """One bar as the line shows it: ``train step 120/300 ~0:40 left``. The time left is the bar's items to go
    at its rate, less the seconds since it was written (`now` and the bar's `at` are wall-clock times)."""
    n, total, unit = bar.get("n") or 0, bar.get("total"), bar.get("unit") or "it"
    what = " ".join(x for x in (bar.get("desc") or "", "" if unit == "it" else unit) if x)
    text = f"{what} {int(n)}/{int(total)}" if total else f"{what} {int(n)}"
    rate = bar.get("rate")
    if total and rate and n < total:
        left = (total - n) / rate - max(0.0, now - bar.get("at", now))
        text += f" ~{_clock(max(0.0, left))} left"
    return text.strip()


def bars_text(bars: list[dict], now: float, limit: int = SHOWN_BARS) -> str:
    """The open bars, oldest first, at most `limit` of them (``· +2 more``)."""
    shown = [bar_text(b, now) for b in bars[:limit]]
    if len(bars) > limit:
        shown.append(f"+{len(bars) - limit} more")
    return " · ".join(shown)


class Progress:
    """Where `w2s notebooks` is, for a person watching: notebook k of n, code cell i of m, time in this
    notebook and in the whole run, the running cell's bars (when :meth:`watch` names the kernel's folder),
    and the heading it runs under.

    On a terminal one line is redrawn (every `tick` seconds); elsewhere (CI logs, pipes) a line per code cell,
    and one at least every `heartbeat` seconds while a cell runs, so a log never stands still while work goes
    on. `detail=False` (W2S_PROGRESS=0) leaves a line per notebook only.
    """

    def __init__(self, total: int, stream=None, detail: bool | None = None, live: bool | None = None,
                 tick: float = 1.0, clock: Callable[[], float] = time.monotonic, heartbeat: float | None = HEARTBEAT,
                 wall: Callable[[], float] = time.time):  # fmt: skip
        self.total, self.stream, self.tick_s, self.clock, self.wall = total, stream or sys.stderr, tick, clock, wall
        self.detail = progress_enabled() if detail is None else detail
        isatty = getattr(self.stream, "isatty", lambda: False)
        self.live = (self.detail and isatty()) if live is None else live
        self.heartbeat = heartbeat
        self.t_run = clock()
        self.t_nb = self.last_line = self.t_run
        self.index, self.name = 0, ""
        self.code: dict[int, int] = {}  # cell index -> position among code cells
        self.step, self.heading = 0, ""
        self.bars_dir: Path | None = None
        self._lock = threading.Lock()
        self._stop: threading.Event | None = None
        self._ticking: threading.Thread | None = None

    def message(self, text: str) -> None:
        """A line of its own (the live line is redrawn after it)."""
        with self._lock:
            self._write(("\r\x1b[K" if self.live else "") + text + "\n")
            self.last_line = self.clock()

    def watch(self, folder: Path | None) -> None:
        """Show the bars that the kernel and its workers write into `folder` (None: none)."""
        self.bars_dir = folder

    def start(self, index: int, name: str) -> None:
        self.index, self.name, self.t_nb = index, name, self.clock()
        self.code, self.step, self.heading = {}, 0, ""
        if self.live:
            self._draw()
        elif self.detail:
            self.message(f"{self._prefix()} started")
        if self.live or (self.detail and self.heartbeat):
            self._stop = threading.Event()
            self._ticking = threading.Thread(target=self._ticker, args=(self._stop,), daemon=True)
            self._ticking.start()

    def cell(self, index: int, cells) -> None:
        """Papermill is about to execute cell `index` of `cells` (the parameterized notebook's)."""
        if not self.code:
            self.code = {i: k for k, i in enumerate(i for i, c in enumerate(cells) if c.cell_type == "code")}
        cell = cells[index]
        if cell.cell_type == "markdown":
            heading = next(
                (ln.lstrip("#").strip() for ln in cell.source.splitlines() if ln.startswith("#")), ""
            )
            self.heading = heading or self.heading
            return
        if index not in self.code or not self.detail:
            return
        self.step = self.code[index] + 1
        if self.live:
            self._draw()
        else:
            self.message(self._line())

    def status(self, text: str) -> None:
        """What happens after the last cell (e.g. writing the HTML copy)."""
        self.step, self.heading = 0, text
        if self.live:
            self._draw()
        elif self.detail:
            self.message(self._line())

    def tick(self) -> None:
        """Called every `tick` seconds while a notebook runs: on a terminal the line is redrawn (its times and
        bars move); elsewhere a line is written once `heartbeat` seconds have passed since the last one."""
        if self.live:
            self._draw()
        elif self.detail and self.heartbeat and self.clock() - self.last_line >= self.heartbeat:
            self.message(self._line())

    def end(self, ok: bool = True) -> None:
        if self._stop is not None:
            self._stop.set()
            self._ticking.join(timeout=5)  # no stale redraw after the notebook's last line
            self._stop = None
        self.bars_dir = None
        took = self.clock() - self.t_nb
        verb = "done in" if ok else "FAILED after"
        self.message(
            f"{self._prefix()} {verb} {_clock(took)} (run so far {_clock(self.clock() - self.t_run)})"
        )

    def _prefix(self) -> str:
        return f"[{self.index}/{self.total}] {self.name}"

    def _line(self) -> str:
        parts = [self._prefix()]
        if self.step:
            parts.append(f"cell {self.step}/{len(self.code)}")
        parts.append(f"{_clock(self.clock() - self.t_nb)} (run {_clock(self.clock() - self.t_run)})")
        bars = read_bars(self.bars_dir) if self.bars_dir is not None and self.step else []
        if bars:
            parts.append(bars_text(bars, self.wall()))
        if self.heading:
            parts.append(self.heading)
        return " · ".join(parts)

    def _draw(self) -> None:
        width = shutil.get_terminal_size((100, 20)).columns - 1
        line = self._line()[:width]
        with self._lock:
            self._write("\r\x1b[K" + line)

    def _ticker(self, stop: threading.Event) -> None:
        while not stop.wait(self.tick_s):
            self.tick()

    def _write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()
