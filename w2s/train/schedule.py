"""The optimiser and its learning-rate schedule: AdamW, linear warmup, then cosine decay to 0."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from w2s.train.config import TrainConfig


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


def scheduler(opt: torch.optim.Optimizer, cfg: TrainConfig) -> torch.optim.lr_scheduler.LambdaLR:
    """The per-step schedule of :func:`lr_lambda` on `opt`."""
    return torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda(cfg))
