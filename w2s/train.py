"""One training loop for every model in w2s.

The model-specific part is a `step_fn(model, batch, device) -> (loss, logs)`; the loop does the rest:
a data order that is a pure function of (seed, epoch) (:class:`w2s.utils.data_order.EpochBatches`), AdamW with warmup + cosine decay, gradient
clipping, logging, periodic evaluation, resumable checkpoints and an optional wall-clock cap. A run
stopped at step k and resumed from its checkpoint sees the same batches and ends with the same weights
as a run that was not stopped.

A checkpoint records the recipe it belongs to (the TrainConfig fields that change the weights, and
the caller's `recipe`: model, data, loss, ...); resuming with another recipe is refused, naming the
fields that differ, unless `force` starts over. A run holds the lock beside its `out_dir`
(:func:`w2s.utils.io.output_lock`), so a second run into the same folder is refused.

Same code on one CPU, one GPU, or several GPUs: under `torchrun` or `accelerate launch` (both set
WORLD_SIZE / RANK / LOCAL_RANK) the model is wrapped in DistributedDataParallel, each rank trains on
its slice of every global batch (`batch_size` per rank), and only rank 0 evaluates and writes files.
"""

from __future__ import annotations

import json
import logging
import math
import os
import pickle
import random
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from w2s.utils.data_order import EpochBatches
from w2s.utils.io import atomic_path, output_lock, write_json
from w2s.utils.runtime import compute_record, configure_threads, progress, set_seed
from w2s.utils.runtime import device as pick_device

log = logging.getLogger(__name__)


@dataclass
class TrainConfig:
    max_steps: int = 1000
    batch_size: int = 8  # per rank: the global batch is batch_size x world size
    lr: float = 1e-3
    weight_decay: float = 0.01
    decay_1d_params: bool = True  # False: no weight decay on 1-D parameters (biases, norm gains)
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    warmup_steps: int = 50
    grad_clip: float = 1.0  # 0: no clipping
    log_every: int = 10
    eval_every: int = 200  # 0: only at the end
    checkpoint_every: int = 200
    max_minutes: float | None = None  # stop early (and say so) past this wall-clock budget, per session
    seed: int = 0
    num_workers: int = 0

    def __post_init__(self):
        self.betas = tuple(self.betas)  # a list when read back from JSON
        for name in ("max_steps", "batch_size"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ValueError(f"TrainConfig.{name} must be an integer >= 1, got {getattr(self, name)!r}")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ValueError(f"TrainConfig.lr must be a positive number, got {self.lr!r}")
        if not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"TrainConfig.seed must be an integer >= 0, got {self.seed!r}")


# TrainConfig fields that do not change the trained weights (how often to log, evaluate and save; the
# time cap, whose stop is recorded): left out of the recipe a checkpoint is compared on
NOT_RECIPE = ("log_every", "eval_every", "checkpoint_every", "max_minutes", "num_workers")


def full_recipe(cfg: TrainConfig, recipe: dict | None = None) -> dict:
    """What a checkpoint must match to be resumed: the TrainConfig's weight-changing fields ("train")
    and the caller's `recipe`, as plain JSON values."""
    train = {k: v for k, v in asdict(cfg).items() if k not in NOT_RECIPE}
    return json.loads(json.dumps({"train": train, **(recipe or {})}, sort_keys=True, default=str))


def recipe_differences(old, new, prefix: str = "") -> list[str]:
    """The fields where two recipes differ, as ``"train.seed: 0 -> 3"`` (nested keys dotted)."""
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for k in sorted(set(old) | set(new), key=str):
            name = f"{prefix}{k}"
            if k not in old:
                out.append(f"{name}: (absent) -> {json.dumps(new[k])[:80]}")
            elif k not in new:
                out.append(f"{name}: {json.dumps(old[k])[:80]} -> (absent)")
            else:
                out += recipe_differences(old[k], new[k], name + ".")
        return out
    return [] if old == new else [f"{prefix.rstrip('.')}: {json.dumps(old)[:80]} -> {json.dumps(new)[:80]}"]


@dataclass
class History:
    step: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)  # mean training loss since the previous logged step
    lr: list[float] = field(default_factory=list)
    evals: list[dict] = field(default_factory=list)  # {"step": s, **metrics}
    seconds: float = 0.0
    stopped_early: bool = False
    logs: dict[str, list[float]] = field(default_factory=dict)  # step_fn's logs, averaged like loss
    compute: dict = field(default_factory=dict)  # threads, kernels, versions, CPU (w2s.utils.runtime.compute_record)

    def to_json(self) -> dict:
        return asdict(self)


def training_seed(seed: int) -> int:
    """The seed of a training's random draws (the model's init has the plain seed: other numbers)."""
    return (seed * 1_000_003 + 12_345) % 2**63


def distributed() -> tuple[int, int, int]:
    """(rank, local_rank, world_size) from the launcher's environment; (0, 0, 1) when not launched."""
    return int(os.environ.get("RANK", 0)), int(os.environ.get("LOCAL_RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


def lr_lambda(cfg: TrainConfig) -> Callable[[int], float]:
    """Linear warmup over warmup_steps, then cosine decay to 0 at max_steps (a factor on cfg.lr)."""

    def f(step: int) -> float:
        if step < cfg.warmup_steps:
            return (step + 1) / max(1, cfg.warmup_steps)
        t = (step - cfg.warmup_steps) / max(1, cfg.max_steps - cfg.warmup_steps)
        return 0.5 * (1 + math.cos(math.pi * min(1.0, t)))

    return f


def optimizer(model: torch.nn.Module, cfg: TrainConfig) -> torch.optim.AdamW:
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [{"params": params}]
    if not cfg.decay_1d_params:
        groups = [{"params": [p for p in params if p.ndim >= 2]},
                  {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0}]  # fmt: skip
    groups = [g for g in groups if g["params"]]
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=cfg.betas, eps=cfg.eps, weight_decay=cfg.weight_decay)


def _rng_state() -> dict:
    """Python, numpy and torch RNG states as plain lists and tensors (loadable with weights_only=True)."""
    version, mt, gauss = random.getstate()
    np_state = np.random.get_state(legacy=False)  # {"bit_generator", "state": {"key": uint32 array, "pos"}, ...}
    np_state["state"] = {"key": np_state["state"]["key"].tolist(), "pos": np_state["state"]["pos"]}
    s = {"python": [version, list(mt), gauss], "numpy": np_state, "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        s["cuda"] = torch.cuda.get_rng_state_all()
    return s


def _set_rng_state(s: dict) -> None:
    random.setstate((s["python"][0], tuple(s["python"][1]), s["python"][2]))
    key = np.array(s["numpy"]["state"]["key"], np.uint32)
    np.random.set_state({**s["numpy"], "state": {"key": key, "pos": s["numpy"]["state"]["pos"]}})
    torch.set_rng_state(s["torch"])
    if "cuda" in s and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(s["cuda"])


class TrainStateError(ValueError):
    """A training checkpoint that cannot be resumed; the message names the file and the problem."""


_START_OVER = "delete it (or pass --force / force=True) to start over"


def _first_line(e: BaseException, limit: int = 200) -> str:
    text = str(e).strip().splitlines()
    return (text[0] if text else type(e).__name__)[:limit]


def load_checkpoint(path) -> dict:
    """A checkpoint written by :class:`Trainer`, read with ``torch.load(weights_only=True)``: tensors,
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
                              f"plain data only, so that no code in it runs); {_START_OVER}") from None  # fmt: skip
    except (RuntimeError, EOFError, OSError, ValueError) as e:  # truncated, not a zip, unreadable
        raise TrainStateError(f"{path}: not a readable training checkpoint ({_first_line(e)}); {_START_OVER}") from None
    if not isinstance(state, dict):
        raise TrainStateError(f"{path}: not a training checkpoint (a {type(state).__name__}); {_START_OVER}")
    return state


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
    try:
        old = json.loads(state["recipe"])["train"]
    except (KeyError, TypeError, json.JSONDecodeError):
        old = None
    new = full_recipe(cfg)["train"]
    if old != new:
        diff = ["the checkpoint records no recipe"] if old is None else recipe_differences(old, new, "train.")
        raise TrainStateError(f"{path} belongs to another recipe ({'; '.join(diff)[:500]}); resuming it would mix "
                              f"two runs. Use another output folder, or {_START_OVER}")  # fmt: skip


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


def _all_mean(values: list[float], world: int) -> list[float]:
    """The mean over ranks of each value (every rank must call it)."""
    if world == 1:
        return values
    t = torch.tensor(values, dtype=torch.float64)
    torch.distributed.all_reduce(t)  # sum: gloo has no average
    return (t / world).tolist()


class Trainer:
    """`fit` in pieces: set up, restore, step, log, evaluate, checkpoint. See :func:`fit`."""

    def __init__(self, model, train_set, collate, step_fn, cfg: TrainConfig, out_dir=None, eval_fn=None,
                 device=None, on_log=None, groups=None, recipe: dict | None = None, force: bool = False):  # fmt: skip
        self.rank, local_rank, self.world = distributed()
        if self.world > 1 and not torch.distributed.is_initialized():
            torch.distributed.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
        cuda_rank = self.world > 1 and torch.cuda.is_available()
        self.dev = torch.device(f"cuda:{local_rank}" if cuda_rank else pick_device(device))
        self.model, self.step_fn, self.cfg = model.to(self.dev), step_fn, cfg
        self.eval_fn, self.on_log = eval_fn, on_log
        self.net = model
        if self.world > 1:
            ids = [self.dev.index] if cuda_rank else None
            self.net = torch.nn.parallel.DistributedDataParallel(model, device_ids=ids)
        self.batches = EpochBatches(len(train_set), cfg.batch_size, cfg.seed, self.rank, self.world, groups)
        self.loader = DataLoader(train_set, batch_sampler=self.batches, collate_fn=collate,
                                 num_workers=cfg.num_workers)  # fmt: skip
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.opt = optimizer(model, cfg)
        self.sched = torch.optim.lr_scheduler.LambdaLR(self.opt, lr_lambda(cfg))
        self.hist, self.step, self.epoch, self.skip = History(), 0, 0, 0  # skip: batches of `epoch` trained on
        self.running: list[float] = []  # losses since the last logged step
        self.running_logs: dict[str, list[float]] = {}
        self.out_dir = Path(out_dir) if out_dir else None
        self.ckpt = self.out_dir / "checkpoint.pt" if self.out_dir else None
        self._rng = None  # RNG state to put back once a resumed epoch's loader is started
        self.recipe, self.force = full_recipe(cfg, recipe), force

    # -- checkpoints: everything a resumed run needs to continue exactly, loadable with weights_only=True

    def save(self) -> None:
        if self.ckpt is None or self.rank != 0:
            return
        epoch, skip = (self.epoch + 1, 0) if self.skip >= len(self.batches) else (self.epoch, self.skip)
        state = {"model": self.model.state_dict(), "optimizer": self.opt.state_dict(),
                 "scheduler": self.sched.state_dict(), "step": self.step, "epoch": epoch, "skip": skip,
                 "running": self.running, "running_logs": self.running_logs, "history": self.hist.to_json(),
                 "rng": _rng_state(), "config": asdict(self.cfg),
                 "recipe": json.dumps(self.recipe, sort_keys=True)}  # fmt: skip
        self.ckpt.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(self.ckpt) as tmp:  # a full disk: OSError naming the checkpoint; the previous one kept
            _save_state(state, tmp)

    def restore(self) -> bool:
        if self.ckpt is None or not self.ckpt.is_file():
            return False
        state = load_checkpoint(self.ckpt)
        try:
            old = json.loads(state["recipe"]) if isinstance(state.get("recipe"), str) else None
        except json.JSONDecodeError:
            old = None
        if old != self.recipe:
            if self.force:
                log.warning("%s: another recipe's checkpoint; starting over (force)", self.ckpt)
                self.ckpt.unlink()
                return False
            diff = ["the checkpoint records no recipe"] if old is None else recipe_differences(old, self.recipe)
            raise TrainStateError(f"{self.ckpt} belongs to another recipe ({'; '.join(diff)[:500]}); resuming it "
                                  f"would mix two runs. Use another output folder, or {_START_OVER}")  # fmt: skip
        try:
            self.model.load_state_dict(state["model"])
            self.opt.load_state_dict(state["optimizer"])
            self.sched.load_state_dict(state["scheduler"])
            self.step, self.epoch, self.skip = state["step"], state["epoch"], state["skip"]
            self.running, self.running_logs = state["running"], state["running_logs"]
            self.hist = History(**state["history"])
            _set_rng_state(state["rng"])
        except (KeyError, TypeError, ValueError, RuntimeError) as e:  # another model's, or another version's
            raise TrainStateError(f"{self.ckpt}: does not fit this model and training loop "
                                  f"({type(e).__name__}: {_first_line(e)}); {_START_OVER}") from None  # fmt: skip
        # mid-epoch, the uninterrupted run had started this epoch's loader (one torch draw) before the state
        # was saved: put the state back again once the resumed loader is started
        self._rng = state["rng"] if self.skip else None
        self.hist.stopped_early = False  # a time cap stops a session, not the run: this session continues it
        log.info("resumed from %s at step %d", self.ckpt, self.step)
        return True

    # -- one step, logging, evaluation

    def epoch_batches(self):
        """The current epoch's remaining batches (collated)."""
        self.batches.set_epoch(self.epoch, self.skip)
        it = iter(self.loader)  # draws a torch seed for the workers, as at the start of every epoch
        if self._rng is not None:
            _set_rng_state(self._rng)
            self._rng = None
        return it

    def train_step(self, batch) -> dict:
        loss, logs = self.step_fn(self.net, batch, self.dev)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        if self.cfg.grad_clip:
            torch.nn.utils.clip_grad_norm_(self.params, self.cfg.grad_clip)
        self.opt.step()
        self.sched.step()
        self.step, self.skip = self.step + 1, self.skip + 1
        self.running.append(float(loss.detach()))
        for k, v in logs.items():
            self.running_logs.setdefault(k, []).append(float(v))
        return logs

    def log(self, logs: dict) -> None:
        """Append the means since the last logged step (over all ranks) to the history."""
        keys = sorted(self.running_logs)
        means = [float(np.mean(v)) for v in [self.running] + [self.running_logs[k] for k in keys]]
        means = _all_mean(means, self.world)
        self.hist.step.append(self.step)
        self.hist.loss.append(means[0])
        self.hist.lr.append(self.sched.get_last_lr()[0])
        for k, v in zip(keys, means[1:]):
            self.hist.logs.setdefault(k, []).append(v)
        self.running, self.running_logs = [], {}
        if self.on_log is not None and self.rank == 0:
            self.on_log(self.step, self.hist, logs)

    def evaluate(self) -> None:
        if self.eval_fn is None or self.rank != 0 or (self.hist.evals and self.hist.evals[-1]["step"] == self.step):
            return
        self.model.eval()
        with torch.no_grad():
            metrics = self.eval_fn(self.model)
        self.model.train()
        self.hist.evals.append({"step": self.step, **metrics})
        log.info("step %d eval %s", self.step, metrics)

    def past_budget(self, t0: float) -> bool:
        """Past max_minutes since `t0`, this session's start (rank 0's clock decides for all)."""
        if self.cfg.max_minutes is None:
            return False
        past = [float(time.perf_counter() - t0 > 60 * self.cfg.max_minutes)]
        if self.world > 1:
            t = torch.tensor(past)
            torch.distributed.broadcast(t, 0)
            past = t.tolist()
        return bool(past[0])

    # -- the loop

    def run(self, resume: bool = True) -> History:
        """Train to max_steps (resuming from the checkpoint when `resume`), holding the output's lock."""
        if self.out_dir is None or self.rank != 0:
            return self._run(resume)
        self.out_dir.parent.mkdir(parents=True, exist_ok=True)
        with output_lock(self.out_dir, wait=False, what="trained"):
            for tmp in self.out_dir.iterdir() if self.out_dir.is_dir() else []:  # a killed run's half-written files
                if tmp.name.startswith((".checkpoint.pt.", ".history.json.")):  # (atomic_path's temps): stale now
                    tmp.unlink(missing_ok=True)
            return self._run(resume)

    def _run(self, resume: bool) -> History:
        cfg, hist = self.cfg, self.hist
        if resume and self.restore():
            hist = self.hist
        else:
            if self.ckpt is not None and self.ckpt.is_file() and self.rank == 0:
                self.ckpt.unlink()  # resume=False: start over, never leave another run's state beside this one
            # the training's randomness (dropout, noise) is a function of its seed alone, not of what this
            # process drew before (a grid worker that trained a shared stage 1, or read it from the cache)
            set_seed(training_seed(cfg.seed))
        hist.compute = compute_record()
        session = time.perf_counter()
        t0 = session - hist.seconds
        self.model.train()
        bar = progress(total=cfg.max_steps, initial=self.step, desc="train", unit="step") if self.rank == 0 else None
        while self.step < cfg.max_steps and not hist.stopped_early:
            for batch in self.epoch_batches():
                logs = self.train_step(batch)
                if bar is not None:
                    bar.update(1)
                if self.step % cfg.log_every == 0 or self.step == cfg.max_steps:
                    self.log(logs)
                if cfg.eval_every and self.step % cfg.eval_every == 0 and self.step < cfg.max_steps:
                    self.evaluate()
                if self.step % cfg.checkpoint_every == 0:
                    hist.seconds = time.perf_counter() - t0
                    self.save()
                if self.past_budget(session):
                    hist.stopped_early = True
                    log.warning("stopped at step %d: past the %.1f min budget", self.step, cfg.max_minutes)
                if self.step >= cfg.max_steps or hist.stopped_early:
                    break
            else:
                self.epoch, self.skip = self.epoch + 1, 0
        if bar is not None:
            bar.close()
        self.evaluate()
        hist.seconds = time.perf_counter() - t0
        self.save()
        if self.out_dir and self.rank == 0:
            write_json(self.out_dir / "history.json", hist.to_json(), indent=1)
        if self.world > 1:
            torch.distributed.barrier()  # every rank returns once rank 0's files are written
        self.model.eval()
        return hist


def fit(
    model: torch.nn.Module,
    train_set,
    collate: Callable,
    step_fn: Callable,
    cfg: TrainConfig,
    out_dir=None,
    eval_fn: Callable | None = None,
    device: str | None = None,
    resume: bool = True,
    on_log: Callable | None = None,
    groups=None,
    recipe: dict | None = None,
    force: bool = False,
) -> History:
    """Train `model` in place; returns the history.

    `step_fn(model, batch, device) -> (loss, logs)` with `logs` a dict of numbers (averaged into
    `History.logs`); `eval_fn(model) -> dict` runs every eval_every steps and at the end;
    `on_log(step, history, logs)` at every logged step. With `out_dir`, a checkpoint (`checkpoint.pt`)
    is written every `checkpoint_every` steps and at the end, and picked up again when `resume` is true,
    so an interrupted run continues exactly where it stopped; `history.json` is written at the end.
    `groups`: a group id per training example; each batch then holds one group (:class:`EpochBatches`).
    `recipe`: everything besides `cfg` that changes the result (model config, data, loss, ...) as a
    JSON-able dict; the checkpoint records it with `cfg`'s weight-changing fields, and a checkpoint of
    another recipe is refused (:class:`TrainStateError` naming the differing fields) unless `force`,
    which starts over. With `out_dir`, the run holds its lock: a second run into it is refused.
    """
    configure_threads()
    trainer = Trainer(model, train_set, collate, step_fn, cfg, out_dir, eval_fn, device, on_log, groups, recipe, force)
    return trainer.run(resume)
