"""How papermill runs a notebook's kernel: its name, its environment, an engine that says which cell starts,
and no papermill INFO lines on the terminal."""

from __future__ import annotations

import logging
import os
from contextlib import contextmanager
from pathlib import Path

from w2s.utils.progress import ENV as PROGRESS_DIR
from w2s.utils.runtime import reproducible_env

KERNEL = "python3"
ENGINE = "w2s-progress"


def kernel_env(out_dir: Path, progress_dir: Path | None = None) -> dict:
    """The variables a notebook's kernel runs with: quiet (no bars or widgets in the executed copy: its bars
    report to `progress_dir` for the runner's line instead), offline, self-contained figures, fixed threads."""
    env = {
        "W2S_PROGRESS": "0",
        "TQDM_DISABLE": "1",
        "HF_HUB_OFFLINE": os.environ.get("HF_HUB_OFFLINE", "1"),
        "TRANSFORMERS_OFFLINE": os.environ.get("TRANSFORMERS_OFFLINE", "1"),
        "HF_HUB_DISABLE_PROGRESS_BARS": "1",
        "W2S_INTERACTIVE": "0",  # nobody watches: figures go into the notebook self-contained (w2s.viz.display)
        "W2S_NOTEBOOK_DIR": str(out_dir.resolve()),  # where the executed copy lives: links relative to it
        "PYDEVD_DISABLE_FILE_VALIDATION": "1",
        **reproducible_env(),  # the fixed thread count and kernels: see w2s.utils.runtime
    }
    if progress_dir is not None:
        env[PROGRESS_DIR] = str(Path(progress_dir).resolve())  # w2s.utils.progress: bars -> <pid>.json there
    return env


@contextmanager
def environment(env: dict):
    """`env` in os.environ (the kernel inherits our environment) while the block runs, then as it was."""
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def register_engine() -> None:
    """A papermill engine (nbclient's) that tells a callback which cell starts: `on_cell(index, cells)`."""
    from papermill.engines import NBClientEngine, papermill_engines

    class ProgressEngine(NBClientEngine):
        @classmethod
        def execute_managed_notebook(cls, nb_man, kernel_name, on_cell=None, **kwargs):
            if on_cell is not None:
                start = nb_man.cell_start

                def cell_start(cell, cell_index=None, **kw):
                    on_cell(cell_index, nb_man.nb.cells)
                    return start(cell, cell_index, **kw)

                nb_man.cell_start = cell_start
            return super().execute_managed_notebook(nb_man, kernel_name, **kwargs)

    papermill_engines.register(ENGINE, ProgressEngine)


@contextmanager
def quiet_papermill():
    """No papermill INFO lines ("Input Notebook: ...") on the terminal."""
    logger = logging.getLogger("papermill")
    level = logger.level
    logger.setLevel(max(logging.WARNING, level))
    try:
        yield
    finally:
        logger.setLevel(level)
