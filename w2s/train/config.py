"""What a training run is: :class:`TrainConfig`, and the recipe a checkpoint must match to be resumed.

The recipe is the TrainConfig's fields that change the trained weights (not how often to log, evaluate or
save, nor the time cap) and the caller's own `recipe` (model, data, loss, ...), as plain JSON values.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass


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


def training_seed(seed: int) -> int:
    """The seed of a training's random draws (the model's init has the plain seed: other numbers)."""
    return (seed * 1_000_003 + 12_345) % 2**63
