"""Training checkpoints: everything a resumed run needs to continue exactly, safe to read.

A checkpoint holds tensors, numbers, strings and plain containers only (the model, optimiser and scheduler
states, the step and the data order's place, the running logs, the history, every RNG's state, the config and
the recipe), so it is read with ``torch.load(weights_only=True)`` and nothing in it runs. It records the recipe
it belongs to (:func:`w2s.train.config.full_recipe`); resuming it under another recipe is refused, naming the
fields that differ. Writes are atomic: a full disk raises the OSError it is and keeps the previous checkpoint.
"""

from __future__ import annotations

import json
import pickle
import random
import re
from pathlib import Path

import numpy as np
import torch

from w2s.train.config import TrainConfig, full_recipe, recipe_differences
from w2s.utils.io import atomic_path

START_OVER = "delete it (or pass --force / force=True) to start over"
CHECKPOINT = "checkpoint.pt"  # its name in a training's out_dir


class TrainStateError(ValueError):
    """A training checkpoint that cannot be resumed; the message names the file and the problem."""


def first_line(e: BaseException, limit: int = 200) -> str:
    text = str(e).strip().splitlines()
    return (text[0] if text else type(e).__name__)[:limit]


def rng_state() -> dict:
    """Python, numpy and torch RNG states as plain lists and tensors (loadable with weights_only=True)."""
    version, mt, gauss = random.getstate()
    np_state = np.random.get_state(legacy=False)  # {"bit_generator", "state": {"key": uint32 array, "pos"}, ...}
    np_state["state"] = {"key": np_state["state"]["key"].tolist(), "pos": np_state["state"]["pos"]}
    s = {"python": [version, list(mt), gauss], "numpy": np_state, "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        s["cuda"] = torch.cuda.get_rng_state_all()
    return s


def set_rng_state(s: dict) -> None:
    """Put back the RNG states :func:`rng_state` recorded."""
    random.setstate((s["python"][0], tuple(s["python"][1]), s["python"][2]))
    key = np.array(s["numpy"]["state"]["key"], np.uint32)
    np.random.set_state({**s["numpy"], "state": {"key": key, "pos": s["numpy"]["state"]["pos"]}})
    torch.set_rng_state(s["torch"])
    if "cuda" in s and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(s["cuda"])


def load_checkpoint(path) -> dict:
    """A checkpoint written by :class:`w2s.train.Trainer`, read with ``torch.load(weights_only=True)``: tensors,
    numbers, strings and plain containers only, so nothing in the file runs. A file holding anything
    else (a pickled object, code), a truncated file, or not a checkpoint at all raises
    :class:`TrainStateError` naming the file."""
    path = Path(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        found = re.search(r"GLOBAL (\S+)", str(e))
        what = f"it asks for {found.group(1)}" if found else "it holds more than tensors and plain data"
        raise TrainStateError(f"{path}: refused to load: {what} (a training checkpoint holds tensors and "
                              f"plain data only, so that no code in it runs); {START_OVER}") from None  # fmt: skip
    except (RuntimeError, EOFError, OSError, ValueError) as e:  # truncated, not a zip, unreadable
        raise TrainStateError(f"{path}: not a readable training checkpoint ({first_line(e)}); {START_OVER}") from None
    if not isinstance(state, dict):
        raise TrainStateError(f"{path}: not a training checkpoint (a {type(state).__name__}); {START_OVER}")
    return state


def recorded_recipe(state: dict):
    """The recipe a checkpoint's state records (JSON), or None when it records none."""
    try:
        return json.loads(state["recipe"]) if isinstance(state.get("recipe"), str) else None
    except json.JSONDecodeError:
        return None


def other_recipe(path, old, new, prefix: str = "") -> TrainStateError:
    """The error for a checkpoint at `path` of recipe `old` met by a run of recipe `new`."""
    diff = ["the checkpoint records no recipe"] if old is None else recipe_differences(old, new, prefix)
    return TrainStateError(f"{path} belongs to another recipe ({'; '.join(diff)[:500]}); resuming it would mix "
                           f"two runs. Use another output folder, or {START_OVER}")  # fmt: skip


def check_checkpoint(path, cfg: TrainConfig | None = None) -> None:
    """Before a long job: a checkpoint at `path` (if there is one) can be read without running code and,
    given `cfg`, was written with the same training settings (:func:`full_recipe`'s "train" part; the
    caller's own recipe is compared when `fit` resumes). :class:`TrainStateError` otherwise."""
    path = Path(path)
    if not path.is_file():
        return
    state = load_checkpoint(path)
    if cfg is None:
        return
    old = recorded_recipe(state)
    old = old.get("train") if isinstance(old, dict) else None
    new = full_recipe(cfg)["train"]
    if old != new:
        raise other_recipe(path, old, new, "train.")


def _save_state(state: dict, path) -> None:
    """``torch.save`` into `path` through a Python file, so that a failed write (a full disk) raises the
    OSError it is (ENOSPC), not the "[enforce fail ...] unexpected pos" RuntimeError torch wraps it in."""
    with open(path, "wb") as f:
        try:
            torch.save(state, f)
        except RuntimeError as e:
            if isinstance(e.__context__, OSError):
                raise e.__context__ from None
            raise


def save_checkpoint(state: dict, path) -> None:
    """Write `state` to `path` atomically: a failed write (a full disk: OSError naming it) keeps the previous file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        _save_state(state, tmp)
