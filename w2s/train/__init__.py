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

One job per module: :mod:`~w2s.train.config` (TrainConfig and the recipe a checkpoint is compared on),
:mod:`~w2s.train.schedule` (AdamW, warmup + cosine), :mod:`~w2s.train.history` (what a run returns),
:mod:`~w2s.train.checkpoint` (safe reading, atomic writing, RNG states, recipe checks),
:mod:`~w2s.train.ddp` (ranks and collectives) and :mod:`~w2s.train.loop` (:class:`Trainer`, :func:`fit`).
"""

from w2s.train.checkpoint import TrainStateError, check_checkpoint, load_checkpoint
from w2s.train.config import NOT_RECIPE, TrainConfig, full_recipe, recipe_differences, training_seed
from w2s.train.ddp import distributed
from w2s.train.history import History
from w2s.train.loop import Trainer, fit
from w2s.train.schedule import lr_lambda, optimizer
from w2s.utils.data_order import EpochBatches

__all__ = [
    "NOT_RECIPE", "EpochBatches", "History", "TrainConfig", "TrainStateError", "Trainer", "check_checkpoint",
    "distributed", "fit", "full_recipe", "load_checkpoint", "lr_lambda", "optimizer", "recipe_differences",
    "training_seed",
]  # fmt: skip
