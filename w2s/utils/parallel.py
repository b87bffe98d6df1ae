"""Independent jobs (trainings) in spawned worker processes, each with w2s's fixed thread count."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed


def default_workers(n_jobs: int, workers: int | None = None) -> int:
    """`workers`, else one per CPU, at most 4; never more than there are jobs."""
    return max(1, min(n_jobs, workers or min(os.cpu_count() or 1, 4)))


def in_processes(fn: Callable, jobs: list[tuple], workers: int) -> Iterator[tuple[int, object]]:
    """Yield ``(i, fn(*jobs[i]))`` as each job finishes: here, one after another, when `workers` <= 1, else in
    `workers` spawned processes (no forked torch state). A job's numbers do not depend on where it ran: every
    process computes with W2S_THREADS threads. `fn` must be importable (a module-level function), and a script
    that calls this must guard its top level with ``if __name__ == "__main__":``."""
    if workers <= 1:
        for i, args in enumerate(jobs):
            yield i, fn(*args)
        return
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {pool.submit(fn, *args): i for i, args in enumerate(jobs)}
        for f in as_completed(futures):
            yield futures[f], f.result()
