"""The --out folder of a training command (`w2s wav2sem train`, `w2s decoder train`), claimed before any work."""

from __future__ import annotations

import shutil
from contextlib import contextmanager
from pathlib import Path

from w2s.train import check_checkpoint
from w2s.utils.io import check_writable, output_lock
from w2s.utils.owned import check_owned, remove_owned


@contextmanager
def training_run(out: Path, force: bool, kind: str, cfg=None):
    """A training command's --out, claimed before any work: writable, not in use by another run (its
    lock, held to the end: a second run into it is refused), holding nothing of the user's under the
    names a run writes (w2s.utils.owned), with --force the previous run removed (only what w2s wrote),
    else its checkpoint checked (readable without running code; of the same TrainConfig `cfg`, when
    given); and removed again if this run created it and failed before writing anything resumable."""
    check_writable(out, folder=True)
    created = not out.exists()
    with output_lock(out, wait=False, what="trained"):
        check_owned(out, kind)
        if force:
            remove_owned(out, kind)
        check_checkpoint(out / "train" / "checkpoint.pt", cfg)
        try:
            yield
        except BaseException:
            if created and out.is_dir() and not any(out.rglob("checkpoint.pt")):
                shutil.rmtree(out, ignore_errors=True)
            raise
