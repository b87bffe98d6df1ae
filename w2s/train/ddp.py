"""The few collective steps of the loop under ``torchrun`` / ``accelerate launch``; plain values in one process.

Both launchers set WORLD_SIZE / RANK / LOCAL_RANK; without them the run is one process (rank 0 of 1).
"""

from __future__ import annotations

import os

import torch


def distributed() -> tuple[int, int, int]:
    """(rank, local_rank, world_size) from the launcher's environment; (0, 0, 1) when not launched."""
    return int(os.environ.get("RANK", 0)), int(os.environ.get("LOCAL_RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


def init_process_group(world: int) -> None:
    """Join the launcher's process group (NCCL on GPUs, gloo on CPUs), once."""
    if world > 1 and not torch.distributed.is_initialized():
        torch.distributed.init_process_group("nccl" if torch.cuda.is_available() else "gloo")


def all_mean(values: list[float], world: int) -> list[float]:
    """The mean over ranks of each value (every rank must call it)."""
    if world == 1:
        return values
    t = torch.tensor(values, dtype=torch.float64)
    torch.distributed.all_reduce(t)  # sum: gloo has no average
    return (t / world).tolist()


def rank0_decides(flag: bool, world: int) -> bool:
    """Rank 0's `flag` on every rank (every rank must call it)."""
    if world == 1:
        return flag
    t = torch.tensor([float(flag)])
    torch.distributed.broadcast(t, 0)
    return bool(t.tolist()[0])


def barrier(world: int) -> None:
    """Wait for every rank (nothing to wait for in one process)."""
    if world > 1:
        torch.distributed.barrier()
