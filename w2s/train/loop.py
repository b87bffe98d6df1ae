"""The loop itself: :class:`Trainer` (set up, restore, step, log, evaluate, checkpoint) and :func:`fit`.

The model-specific part is a `step_fn(model, batch, device) -> (loss, logs)`; the loop does the rest
(see :mod:`w2s.train`).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from w2s.train.checkpoint import (
    CHECKPOINT,
    START_OVER,
    TrainStateError,
    first_line,
    load_checkpoint,
    other_recipe,
    recorded_recipe,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from w2s.train.config import TrainConfig, full_recipe, training_seed
from w2s.train.ddp import all_mean, barrier, distributed, init_process_group, rank0_decides
from w2s.train.history import History
from w2s.train.schedule import optimizer, scheduler
from w2s.utils.data_order import EpochBatches
from w2s.utils.io import output_lock, write_json
from w2s.utils.runtime import compute_record, configure_threads, progress, set_seed
from w2s.utils.runtime import device as pick_device

log = logging.getLogger(__name__)


class Trainer:
    """`fit` in pieces: set up, restore, step, log, evaluate, checkpoint. See :func:`fit`."""

    def __init__(self, model, train_set, collate, step_fn, cfg: TrainConfig, out_dir=None, eval_fn=None,
                 device=None, on_log=None, groups=None, recipe: dict | None = None, force: bool = False):  # fmt: skip
        self.rank, local_rank, self.world = distributed()
        init_process_group(self.world)
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
        self.sched = scheduler(self.opt, cfg)
        self.hist, self.step, self.epoch, self.skip = History(), 0, 0, 0  # skip: batches of `epoch` trained on
        self.running: list[float] = []  # losses since the last logged step
        self.running_logs: dict[str, list[float]] = {}
        self.out_dir = Path(out_dir) if out_dir else None
        self.ckpt = self.out_dir / CHECKPOINT if self.out_dir else None
        self._rng = None  # RNG state to put back once a resumed epoch's loader is started
        self.recipe, self.force = full_recipe(cfg, recipe), force

    # -- checkpoints: everything a resumed run needs to continue exactly (w2s.train.checkpoint)

    def save(self) -> None:
        if self.ckpt is None or self.rank != 0:
            return
        epoch, skip = (self.epoch + 1, 0) if self.skip >= len(self.batches) else (self.epoch, self.skip)
        state = {"model": self.model.state_dict(), "optimizer": self.opt.state_dict(),
                 "scheduler": self.sched.state_dict(), "step": self.step, "epoch": epoch, "skip": skip,
                 "running": self.running, "running_logs": self.running_logs, "history": self.hist.to_json(),
                 "rng": rng_state(), "config": asdict(self.cfg),
                 "recipe": json.dumps(self.recipe, sort_keys=True)}  # fmt: skip
        save_checkpoint(state, self.ckpt)  # a full disk: OSError naming the checkpoint; the previous one kept

    def restore(self) -> bool:
        if self.ckpt is None or not self.ckpt.is_file():
            return False
        state = load_checkpoint(self.ckpt)
        old = recorded_recipe(state)
        if old != self.recipe:
            if self.force:
                log.warning("%s: another recipe's checkpoint; starting over (force)", self.ckpt)
                self.ckpt.unlink()
                return False
            raise other_recipe(self.ckpt, old, self.recipe)
        try:
            self.model.load_state_dict(state["model"])
            self.opt.load_state_dict(state["optimizer"])
            self.sched.load_state_dict(state["scheduler"])
            self.step, self.epoch, self.skip = state["step"], state["epoch"], state["skip"]
            self.running, self.running_logs = state["running"], state["running_logs"]
            self.hist = History(**state["history"])
            set_rng_state(state["rng"])
        except (KeyError, TypeError, ValueError, RuntimeError) as e:  # another model's, or another version's
            raise TrainStateError(f"{self.ckpt}: does not fit this model and training loop "
                                  f"({type(e).__name__}: {first_line(e)}); {START_OVER}") from None  # fmt: skip
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
            set_rng_state(self._rng)
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
        means = all_mean(means, self.world)
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
        with torch.no_grad(), torch.random.fork_rng(devices=[]):  # evaluating leaves the training's randomness as it was
            metrics = self.eval_fn(self.model)
        self.model.train()
        self.hist.evals.append({"step": self.step, **metrics})
        log.info("step %d eval %s", self.step, metrics)

    def past_budget(self, t0: float) -> bool:
        """Past max_minutes since `t0`, this session's start (rank 0's clock decides for all)."""
        if self.cfg.max_minutes is None:
            return False
        return rank0_decides(time.perf_counter() - t0 > 60 * self.cfg.max_minutes, self.world)

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
        barrier(self.world)  # every rank returns once rank 0's files are written
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
