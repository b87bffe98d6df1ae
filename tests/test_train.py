import json

import torch

from w2s.train import TrainConfig, fit


class Pairs(torch.utils.data.Dataset):
    def __init__(self, n=64, seed=0):
        g = torch.Generator().manual_seed(seed)
        self.x = torch.randn(n, 4, generator=g)
        self.y = self.x @ torch.tensor([1.0, -2.0, 0.5, 3.0]) + 0.1

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i], self.y[i]


def collate(items):
    return torch.stack([a for a, _ in items]), torch.stack([b for _, b in items])


def step_fn(model, batch, device):
    x, y = (t.to(device) for t in batch)
    loss = torch.nn.functional.mse_loss(model(x).squeeze(-1), y)
    return loss, {"mse": float(loss.detach())}


def test_fit_learns_and_evaluates(tmp_path):
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 1)
    cfg = TrainConfig(max_steps=150, batch_size=8, lr=0.05, warmup_steps=5, log_every=10, eval_every=50)
    hist = fit(model, Pairs(), collate, step_fn, cfg, out_dir=tmp_path, device="cpu",
               eval_fn=lambda m: {"w0": float(m.weight[0, 0])})
    assert hist.loss[-1] < 0.05 * hist.loss[0]
    assert [e["step"] for e in hist.evals] == [50, 100, 150]
    assert (tmp_path / "checkpoint.pt").is_file() and json.loads((tmp_path / "history.json").read_text())["step"][-1] == 150
    assert not model.training  # handed back in eval mode


def test_resume_continues_from_the_checkpoint(tmp_path):
    torch.manual_seed(0)
    first = torch.nn.Linear(4, 1)
    fit(first, Pairs(), collate, step_fn, TrainConfig(max_steps=30, batch_size=8, lr=0.05, checkpoint_every=10),
        out_dir=tmp_path, device="cpu")
    state = torch.load(tmp_path / "checkpoint.pt", weights_only=False)
    assert state["step"] == 30
    second = torch.nn.Linear(4, 1)  # fresh weights: must be replaced by the checkpoint's
    hist = fit(second, Pairs(), collate, step_fn, TrainConfig(max_steps=60, batch_size=8, lr=0.05, checkpoint_every=10),
               out_dir=tmp_path, device="cpu")
    assert hist.step[0] == 10 and hist.step[-1] == 60 and len(hist.step) == 6  # one history, continued
    assert torch.load(tmp_path / "checkpoint.pt", weights_only=False)["step"] == 60
    fresh = fit(torch.nn.Linear(4, 1), Pairs(), collate, step_fn, TrainConfig(max_steps=60, batch_size=8, lr=0.05),
                out_dir=tmp_path / "other", device="cpu", resume=False)
    assert fresh.step[0] == 10


def test_wall_clock_budget_stops_early():
    hist = fit(torch.nn.Linear(4, 1), Pairs(), collate, step_fn, TrainConfig(max_steps=10**6, batch_size=8, max_minutes=0.0),
               device="cpu")
    assert hist.stopped_early and hist.step == [] or hist.step[-1] < 10**6
