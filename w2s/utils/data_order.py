"""The training loop's data order: each rank's batches, a pure function of (seed, epoch), so that a run
resumed mid-epoch sees the batches an uninterrupted run would have seen (used by :mod:`w2s.train`)."""

from __future__ import annotations

import math

import torch


class EpochBatches:
    """This rank's batches of dataset indices; epoch e's order is a pure function of (seed, e).

    Epoch e's order is the e-th permutation drawn from torch.Generator(seed), two draws per epoch as
    torch's RandomSampler made them (so runs keep the data order they had before resuming was exact).
    A global batch is `batch_size x world` consecutive indices of it; rank r takes the r-th slice, so the
    ranks together train on what one process with the global batch trains on. The last incomplete global
    batch is dropped; a dataset smaller than one global batch gives one batch per epoch (padded by
    repeating the order when several ranks need equal slices).

    `groups` (a group id per index, e.g. the dataset of each clip): every batch holds one group only (a
    multi-dataset host whose datasets' meshes differ). The epoch's order is cut into each group's global
    batches as above, and the batches of all groups are shuffled together (a generator seeded by seed
    and epoch).
    """

    def __init__(self, n: int, batch_size: int, seed: int = 0, rank: int = 0, world: int = 1, groups=None):
        if n < 1:
            raise ValueError("no training examples")
        self.n, self.batch_size, self.seed, self.rank, self.world = n, batch_size, seed, rank, world
        self.groups = None if groups is None else [int(g) for g in groups]
        if self.groups is not None and len(self.groups) != n:
            raise ValueError(f"groups: {len(self.groups)} ids for {n} examples")
        self.epoch, self.skip = 0, 0
        self._gen, self._drawn, self._order = None, 0, []  # generator after the orders of `_drawn` epochs

    def __len__(self) -> int:
        g = self.batch_size * self.world
        if self.groups is None:
            return max(1, self.n // g)
        return sum(max(1, self.groups.count(k) // g) for k in sorted(set(self.groups)))

    def _global_batches(self, order: list[int]) -> list[list[int]]:
        """The epoch's global batches (`batch_size x world` indices each), of one group each with `groups`."""
        g = self.batch_size * self.world
        parts = [order] if self.groups is None else [[i for i in order if self.groups[i] == k] for k in sorted(set(self.groups))]
        out = []
        for part in parts:
            if len(part) < g and self.world > 1:
                part = (part * math.ceil(g / len(part)))[:g]
            out += [part[i * g : (i + 1) * g] for i in range(max(1, len(part) // g))]
        if self.groups is not None:
            perm = torch.randperm(len(out), generator=torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch))
            out = [out[i] for i in perm.tolist()]
        return out

    def order(self, epoch: int) -> list[int]:
        if self._gen is None or epoch < self._drawn - 1:
            self._gen, self._drawn = torch.Generator().manual_seed(self.seed), 0
        while self._drawn <= epoch:
            self._order = torch.randperm(self.n, generator=self._gen).tolist()
            torch.randperm(self.n, generator=self._gen)  # RandomSampler's draw at the end of each epoch
            self._drawn += 1
        return self._order

    def set_epoch(self, epoch: int, skip: int = 0) -> None:
        """The next iteration yields epoch `epoch`'s batches, less the first `skip` (already trained on)."""
        self.epoch, self.skip = epoch, skip

    def __iter__(self):
        batches, b = self._global_batches(self.order(self.epoch)), self.batch_size
        for i in range(self.skip, len(batches)):
            yield batches[i][self.rank * b : (self.rank + 1) * b]
