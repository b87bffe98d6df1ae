"""The one training loop: learning, evaluation, exact resume, data order, checkpoints, DDP on CPU.

Run as a script under torchrun, this file is the DDP worker of test_ddp_equals_one_process.
"""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest
import torch
from torch.utils.data import BatchSampler, RandomSampler

from w2s.train import EpochBatches, TrainConfig, fit, optimizer


class Pairs(torch.utils.data.Dataset):
    def __init__(self, n=64, seed=0, noise=0.0):
        g = torch.Generator().manual_seed(seed)
        self.x = torch.randn(n, 4, generator=g)
        self.y = self.x @ torch.tensor([1.0, -2.0, 0.5, 3.0]) + 0.1
        self.noise = noise

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        jitter = self.noise * float(np.random.randn()) if self.noise else 0.0  # draws from numpy's global RNG
        return self.x[i], self.y[i] + jitter


def collate(items):
    return torch.stack([a for a, _ in items]), torch.stack([torch.as_tensor(b) for _, b in items])


def step_fn(model, batch, device):
    x, y = (t.to(device) for t in batch)
    loss = torch.nn.functional.mse_loss(model(x).squeeze(-1), y)
    return loss, {"mse": float(loss.detach()), "batch": len(x)}


def test_fit_learns_and_evaluates(tmp_path):
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 1)
    cfg = TrainConfig(max_steps=150, batch_size=8, lr=0.05, warmup_steps=5, log_every=10, eval_every=50)
    hist = fit(model, Pairs(), collate, step_fn, cfg, out_dir=tmp_path, device="cpu",
               eval_fn=lambda m: {"w0": float(m.weight[0, 0])})  # fmt: skip
    assert hist.loss[-1] < 0.05 * hist.loss[0]
    assert [e["step"] for e in hist.evals] == [50, 100, 150]
    assert len(hist.logs["mse"]) == len(hist.step) == 15 and hist.logs["batch"] == [8.0] * 15
    assert np.allclose(hist.logs["mse"], hist.loss)  # the step_fn's logs, averaged like the loss
    assert json.loads((tmp_path / "history.json").read_text())["step"][-1] == 150
    assert torch.load(tmp_path / "checkpoint.pt", weights_only=True)["step"] == 150  # no pickled code
    assert not model.training  # handed back in eval mode


def test_resume_continues_from_the_checkpoint(tmp_path):
    torch.manual_seed(0)
    cfg = TrainConfig(max_steps=60, batch_size=8, lr=0.05, checkpoint_every=10)
    calls = []

    def stop_at_35(net, batch, device):
        calls.append(1)
        if len(calls) == 35:
            raise Crash
        return step_fn(net, batch, device)

    with pytest.raises(Crash):
        fit(torch.nn.Linear(4, 1), Pairs(), collate, stop_at_35, cfg, out_dir=tmp_path, device="cpu")
    assert torch.load(tmp_path / "checkpoint.pt", weights_only=True)["step"] == 30
    second = torch.nn.Linear(4, 1)  # fresh weights: must be replaced by the checkpoint's
    hist = fit(second, Pairs(), collate, step_fn, cfg, out_dir=tmp_path, device="cpu")
    assert hist.step[0] == 10 and hist.step[-1] == 60 and len(hist.step) == 6  # one history, continued
    assert torch.load(tmp_path / "checkpoint.pt", weights_only=True)["step"] == 60
    fresh = fit(torch.nn.Linear(4, 1), Pairs(), collate, step_fn, cfg, out_dir=tmp_path / "other", device="cpu",
                resume=False)  # fmt: skip
    assert fresh.step[0] == 10


def test_another_recipe_is_refused_naming_the_fields_unless_forced(tmp_path):
    from w2s.train import TrainStateError

    cfg = TrainConfig(max_steps=20, batch_size=8, lr=0.05, checkpoint_every=10)
    fit(torch.nn.Linear(4, 1), Pairs(), collate, step_fn, cfg, out_dir=tmp_path, device="cpu", recipe={"loss": "l1"})
    done = fit(torch.nn.Linear(4, 1), Pairs(), collate, step_fn, cfg, out_dir=tmp_path, device="cpu",
               recipe={"loss": "l1"}, eval_fn=None)  # fmt: skip
    assert done.step[-1] == 20  # the same recipe: the finished run is picked up as it is
    other = TrainConfig(max_steps=30, batch_size=4, lr=0.05, checkpoint_every=10, seed=3, log_every=5)
    with pytest.raises(TrainStateError) as e:
        fit(torch.nn.Linear(4, 1), Pairs(), collate, step_fn, other, out_dir=tmp_path, device="cpu",
            recipe={"loss": "cosine"})  # fmt: skip
    msg = str(e.value)
    for field in ("loss: \"l1\" -> \"cosine\"", "train.seed: 0 -> 3", "train.batch_size: 8 -> 4", "train.max_steps"):
        assert field in msg
    assert "log_every" not in msg and str(tmp_path / "checkpoint.pt") in msg
    hist = fit(torch.nn.Linear(4, 1), Pairs(), collate, step_fn, other, out_dir=tmp_path, device="cpu",
               recipe={"loss": "cosine"}, force=True)  # fmt: skip
    assert hist.step[0] == 5 and hist.step[-1] == 30  # started over
    state = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert json.loads(state["recipe"])["loss"] == "cosine" and json.loads(state["recipe"])["train"]["seed"] == 3


def test_a_second_run_into_the_same_folder_is_refused(tmp_path):
    import fcntl

    from w2s.utils.io import LockedError, lock_path

    with open(lock_path(tmp_path / "run"), "w") as f:  # what another process's run holds
        f.write("4242\n")
        f.flush()
        fcntl.flock(f, fcntl.LOCK_EX)
        with pytest.raises(LockedError, match="4242"):
            fit(torch.nn.Linear(4, 1), Pairs(), collate, step_fn, TrainConfig(max_steps=5), out_dir=tmp_path / "run")
    assert not (tmp_path / "run" / "checkpoint.pt").exists()


class _Payload:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_crafted_or_broken_checkpoint_is_refused_and_runs_nothing(tmp_path):
    from w2s.train import TrainStateError

    cfg = TrainConfig(max_steps=10, batch_size=8, lr=0.05, checkpoint_every=5)
    fit(torch.nn.Linear(4, 1), Pairs(), collate, step_fn, cfg, out_dir=tmp_path, device="cpu")
    good = (tmp_path / "checkpoint.pt").read_bytes()
    state = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    marker = tmp_path / "MARKER"
    torch.save({**state, "history": _Payload(marker)}, tmp_path / "checkpoint.pt")  # a pickled object inside
    with pytest.raises(TrainStateError, match="refused to load") as e:
        fit(torch.nn.Linear(4, 1), Pairs(), collate, step_fn, cfg, out_dir=tmp_path, device="cpu")
    assert str(tmp_path / "checkpoint.pt") in str(e.value) and "system" in str(e.value)
    assert not marker.exists()
    (tmp_path / "checkpoint.pt").write_bytes(good[: len(good) // 2])  # truncated
    with pytest.raises(TrainStateError, match="not a readable training checkpoint"):
        fit(torch.nn.Linear(4, 1), Pairs(), collate, step_fn, cfg, out_dir=tmp_path, device="cpu")
    (tmp_path / "checkpoint.pt").write_bytes(good)  # another model's weights
    with pytest.raises(TrainStateError, match="does not fit this model"):
        fit(torch.nn.Linear(4, 2), Pairs(), collate, step_fn, cfg, out_dir=tmp_path, device="cpu")


class Crash(RuntimeError):
    pass


def _dropout_run(out_dir, checkpoint_every, crash_at=None):
    """A model with dropout (torch RNG) on data with numpy-RNG jitter, 7 batches per epoch; with
    `crash_at`, the step_fn raises on that step (after the checkpoint of an earlier one)."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.Dropout(0.3), torch.nn.ReLU(), torch.nn.Linear(16, 1))
    cfg = TrainConfig(max_steps=24, batch_size=7, lr=0.02, warmup_steps=3, log_every=3,
                      checkpoint_every=checkpoint_every, eval_every=0)  # fmt: skip
    calls = []

    def crashing_step(net, batch, device):
        calls.append(1)
        if len(calls) == crash_at:
            raise Crash
        return step_fn(net, batch, device)

    hist = fit(model, Pairs(n=50, noise=0.1), collate, crashing_step, cfg, out_dir=out_dir, device="cpu")
    return model, hist


@pytest.mark.parametrize("every, crash_at", [(5, 13), (7, 16)])  # resumed at step 10 (mid-epoch), 14 (epoch end)
def test_resumed_run_equals_uninterrupted(tmp_path, every, crash_at):
    np.random.seed(0)
    whole, hist = _dropout_run(tmp_path / "whole", every)
    np.random.seed(0)
    with pytest.raises(Crash):
        _dropout_run(tmp_path / "stopped", every, crash_at=crash_at)
    np.random.seed(123)  # the checkpoint's RNG states, not the caller's, decide what comes next
    resumed, hist2 = _dropout_run(tmp_path / "stopped", every)
    for a, b in zip(whole.state_dict().values(), resumed.state_dict().values()):
        assert torch.allclose(a, b, rtol=1e-6, atol=1e-7)
    assert hist2.step == hist.step and np.allclose(hist2.loss, hist.loss, rtol=1e-6)
    assert np.allclose(hist2.logs["mse"], hist.logs["mse"], rtol=1e-6)


def test_data_order_is_a_function_of_seed_and_epoch():
    n, b = 23, 4  # 5 batches per epoch, 3 items left over
    batches = EpochBatches(n, b, seed=7)
    seen = []
    for epoch in range(3):
        batches.set_epoch(epoch)
        seen.append(list(batches))
    assert all(len(s) == 5 and len(set(sum(s, []))) == 20 for s in seen) and seen[0] != seen[1]
    late = EpochBatches(n, b, seed=7)  # a resumed run asks for epoch 2 first
    late.set_epoch(2, skip=3)
    assert list(late) == seen[2][3:]
    # the order torch's RandomSampler gave before (runs keep their data)
    sampler = BatchSampler(RandomSampler(range(n), generator=torch.Generator().manual_seed(7)), b, drop_last=True)
    assert [list(sampler) for _ in range(3)] == seen
    # two ranks of 2 interleave into the one-process batches of 4
    ranks = [EpochBatches(n, 2, seed=7, rank=r, world=2) for r in (0, 1)]
    for r in ranks:
        r.set_epoch(1)
    assert [x + y for x, y in zip(*ranks)] == seen[1]
    tiny = EpochBatches(3, 2, rank=1, world=2)  # fewer items than a global batch: padded, one batch
    assert len(list(tiny)) == 1 and len(list(tiny)[0]) == 2


def test_grouped_batches_hold_one_group_each():
    """Multi-dataset training (UniTalker): a batch never mixes groups; each epoch covers every group."""
    groups = [0] * 13 + [1] * 7 + [2] * 2  # 3 + 1 + 1 batches of 4 (a group smaller than a batch: one batch)
    batches = EpochBatches(len(groups), 4, seed=3, groups=groups)
    assert len(batches) == 5
    seen = []
    for epoch in range(3):
        batches.set_epoch(epoch)
        seen.append(list(batches))
    for s in seen:
        assert len(s) == 5 and all(len({groups[i] for i in b}) == 1 for b in s)
        assert sorted(groups[b[0]] for b in s) == [0, 0, 0, 1, 2] and len(set(sum(s, []))) == 12 + 4 + 2
    assert seen[0] != seen[1]
    late = EpochBatches(len(groups), 4, seed=3, groups=groups)
    late.set_epoch(2, skip=2)
    assert list(late) == seen[2][2:]  # a resumed run continues the same order
    with pytest.raises(ValueError, match="groups: 2 ids for 3 examples"):
        EpochBatches(3, 1, groups=[0, 1])


def test_no_weight_decay_on_1d_params_when_asked():
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.LayerNorm(8))
    decays = {p.ndim: g["weight_decay"] for g in optimizer(model, TrainConfig(decay_1d_params=False)).param_groups
              for p in g["params"]}  # fmt: skip
    assert decays == {2: 0.01, 1: 0.0}
    assert [g["weight_decay"] for g in optimizer(model, TrainConfig()).param_groups] == [0.01]


def test_wall_clock_budget_stops_early():
    cfg = TrainConfig(max_steps=10**6, batch_size=8, max_minutes=0.0)
    hist = fit(torch.nn.Linear(4, 1), Pairs(), collate, step_fn, cfg, device="cpu")
    assert hist.stopped_early and (hist.step == [] or hist.step[-1] < 10**6)


# --- DDP on CPU: two gloo ranks with batch 2 each = one process with batch 4

DDP_CFG = dict(max_steps=14, lr=0.05, warmup_steps=2, log_every=2, checkpoint_every=100)  # 10 batches per epoch


def _ddp_worker(out_dir):
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 1)
    hist = fit(model, Pairs(n=40), collate, step_fn, TrainConfig(batch_size=2, **DDP_CFG), out_dir=out_dir, device="cpu")
    if int(os.environ["RANK"]) == 0:
        torch.save(model.state_dict(), os.path.join(out_dir, "weights.pt"))
        assert hist.step[-1] == 14
    torch.distributed.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_ddp_equals_one_process(tmp_path):
    env = {**os.environ, "MASTER_ADDR": "127.0.0.1", "GLOO_SOCKET_IFNAME": "lo", "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
           "--master_port", str(_free_port()), __file__, str(tmp_path)]  # fmt: skip
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]

    torch.manual_seed(0)
    one = torch.nn.Linear(4, 1)
    hist = fit(one, Pairs(n=40), collate, step_fn, TrainConfig(batch_size=4, **DDP_CFG), device="cpu")
    ddp = torch.load(tmp_path / "weights.pt", weights_only=True)
    assert all(torch.allclose(ddp[k], v, rtol=1e-5, atol=1e-6) for k, v in one.state_dict().items())
    ddp_hist = json.loads((tmp_path / "history.json").read_text())
    assert ddp_hist["step"] == hist.step and np.allclose(ddp_hist["loss"], hist.loss, rtol=1e-5)  # averaged over ranks
    assert not torch.allclose(one.weight, torch.nn.Linear(4, 1).weight)  # it did train


if __name__ == "__main__":  # the DDP worker, under torchrun
    _ddp_worker(sys.argv[1])


def test_loss_fell_reads_quarters_not_the_first_step():
    from w2s.train.history import loss_fell

    # FaceFormer's 15 quick steps (make run QUICK=1): the zero-initialised output starts at the template, so step 1
    # is the lowest loss; warm-up overshoots, then training brings it down
    faceformer = [2.4e-06, 6.0e-05, 5.5e-05, 4.8e-05, 2.4e-05, 3.5e-05, 1.8e-05, 1.8e-05, 1.7e-05, 1.3e-05, 8.4e-06,
                  8.8e-06, 7.0e-06, 6.6e-06, 5.3e-06]  # fmt: skip
    assert loss_fell(faceformer) and not faceformer[-1] < faceformer[0]
    assert loss_fell([3.0, 2.0]) and not loss_fell([2.0, 3.0])
    assert not loss_fell([1.0] * 8)  # flat: nothing learned
    assert not loss_fell([1.0, 0.5, 0.6, 0.9, 1.1, 1.2, 1.3, 1.4])  # fell once, then diverged
    with pytest.raises(ValueError, match="at least 2"):
        loss_fell([1.0])
