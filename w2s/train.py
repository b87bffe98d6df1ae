"""One training loop for every model in w2s.

The model-specific part is a `step_fn(model, batch, device) -> (loss, logs)`; the loop does the rest:
seeded shuffling, AdamW with warmup + cosine decay, gradient clipping, logging, periodic evaluation,
resumable checkpoints (model, optimiser, scheduler, step, history, RNG states) and a wall-clock cap.

Same code on one CPU, one GPU, or several GPUs: under `torchrun` or `accelerate launch` (both set
WORLD_SIZE / RANK / LOCAL_RANK) the model is wrapped in DistributedDataParallel, the data is sharded
with a DistributedSampler, and only rank 0 logs and writes checkpoints.
"""

from __future__ import annotations

import json
import logging
import math
import os
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from w2s.utils.runtime import device as pick_device
from w2s.utils.runtime import progress

log = logging.getLogger(__name__)


@dataclass
class TrainConfig:
    max_steps: int = 1000
    batch_size: int = 8
    lr: float = 1e-3
    weight_decay: float = 0.01
    warmup_steps: int = 50
    grad_clip: float = 1.0
    log_every: int = 10
    eval_every: int = 200  # 0: only at the end
    checkpoint_every: int = 200
    max_minutes: float | None = None  # stop early (and say so) past this wall-clock budget
    seed: int = 0
    num_workers: int = 0


@dataclass
class History:
    step: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    evals: list[dict] = field(default_factory=list)  # {"step": s, **metrics}
    seconds: float = 0.0
    stopped_early: bool = False

    def to_json(self) -> dict:
        return asdict(self)


def distributed() -> tuple[int, int, int]:
    """(rank, local_rank, world_size) from the launcher's environment; (0, 0, 1) when not launched."""
    return int(os.environ.get("RANK", 0)), int(os.environ.get("LOCAL_RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


def _lr_lambda(cfg: TrainConfig):
    def f(step: int) -> float:
        if step < cfg.warmup_steps:
            return (step + 1) / max(1, cfg.warmup_steps)
        t = (step - cfg.warmup_steps) / max(1, cfg.max_steps - cfg.warmup_steps)
        return 0.5 * (1 + math.cos(math.pi * min(1.0, t)))

    return f


def _rng_state() -> dict:
    return {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}


def _set_rng_state(s: dict) -> None:
    random.setstate(s["python"])
    np.random.set_state(s["numpy"])
    torch.set_rng_state(s["torch"])


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
) -> History:
    """Train `model` in place; returns the history. `eval_fn(model) -> dict` runs every eval_every steps.

    With `out_dir`, a checkpoint (`checkpoint.pt`) is written every `checkpoint_every` steps and at the
    end, and picked up again when `resume` is true, so an interrupted run continues where it stopped.
    """
    from torch.utils.data import DataLoader, RandomSampler
    from torch.utils.data.distributed import DistributedSampler

    rank, local_rank, world = distributed()
    if world > 1 and not torch.distributed.is_initialized():
        torch.distributed.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    dev = torch.device(f"cuda:{local_rank}" if world > 1 and torch.cuda.is_available() else pick_device(device))
    model.to(dev)
    net = torch.nn.parallel.DistributedDataParallel(model, device_ids=[dev.index] if dev.type == "cuda" else None) if world > 1 else model

    gen = torch.Generator().manual_seed(cfg.seed)
    sampler = DistributedSampler(train_set, seed=cfg.seed) if world > 1 else RandomSampler(train_set, generator=gen)
    loader = DataLoader(train_set, batch_size=cfg.batch_size, sampler=sampler, collate_fn=collate,
                        num_workers=cfg.num_workers, drop_last=len(train_set) >= cfg.batch_size)  # fmt: skip
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, _lr_lambda(cfg))
    hist, step, epoch = History(), 0, 0

    ckpt = Path(out_dir) / "checkpoint.pt" if out_dir else None
    if ckpt and resume and ckpt.is_file():
        state = torch.load(ckpt, map_location=dev, weights_only=False)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        step, epoch, hist = state["step"], state["epoch"], History(**state["history"])
        _set_rng_state(state["rng"])
        gen.set_state(state["sampler_rng"])
        log.info("resumed from %s at step %d", ckpt, step)

    def save():
        if ckpt is None or rank != 0:
            return
        ckpt.parent.mkdir(parents=True, exist_ok=True)
        tmp = ckpt.with_suffix(".tmp")
        torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
                    "step": step, "epoch": epoch, "history": hist.to_json(), "rng": _rng_state(),
                    "sampler_rng": gen.get_state(), "config": asdict(cfg)}, tmp)  # fmt: skip
        os.replace(tmp, ckpt)

    def evaluate():
        if eval_fn is None or rank != 0:
            return
        model.eval()
        with torch.no_grad():
            metrics = eval_fn(model)
        model.train()
        hist.evals.append({"step": step, **metrics})
        log.info("step %d eval %s", step, metrics)

    t0 = time.perf_counter() - hist.seconds
    model.train()
    bar = progress(total=cfg.max_steps, initial=step, desc="train", unit="step") if rank == 0 else None
    running = []
    while step < cfg.max_steps and not hist.stopped_early:
        if isinstance(sampler, DistributedSampler):
            sampler.set_epoch(epoch)
        for batch in loader:
            loss, logs = step_fn(net, batch, dev)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip:
                torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
            opt.step()
            sched.step()
            step += 1
            running.append(float(loss.detach()))
            if bar is not None:
                bar.update(1)
            if step % cfg.log_every == 0 or step == cfg.max_steps:
                hist.step.append(step)
                hist.loss.append(float(np.mean(running)))
                hist.lr.append(sched.get_last_lr()[0])
                running = []
                if on_log is not None and rank == 0:
                    on_log(step, hist, logs)
            if cfg.eval_every and step % cfg.eval_every == 0 and step < cfg.max_steps:
                evaluate()
            if step % cfg.checkpoint_every == 0:
                hist.seconds = time.perf_counter() - t0
                save()
            if cfg.max_minutes is not None and time.perf_counter() - t0 > 60 * cfg.max_minutes:
                hist.stopped_early = True
                log.warning("stopped at step %d: past the %.1f min budget", step, cfg.max_minutes)
            if step >= cfg.max_steps or hist.stopped_early:
                break
        epoch += 1
    if bar is not None:
        bar.close()
    evaluate()
    hist.seconds = time.perf_counter() - t0
    save()
    if out_dir and rank == 0:
        (Path(out_dir) / "history.json").write_text(json.dumps(hist.to_json(), indent=1) + "\n")
    model.eval()
    return hist
