"""Same command, same seed, same weights (issue 21): the fixed thread count and kernels, a training's
randomness independent of what its process did before, and the shared trained components (Wav2Sem, the
phoneme recogniser, the stage-1 VQ-VAE) bit-identical when trained twice in fresh processes, once beside a
CPU-bound process. The trainings run through `benchmarks/reproducibility.py --child`, the measurement
that found the divergences."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from w2s.utils.runtime import configure_threads, default_threads, reproducible_env

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "reproducibility.py"


def test_one_thread_and_avx2_kernels_unless_the_user_chooses(monkeypatch):
    monkeypatch.delenv("W2S_THREADS", raising=False)
    monkeypatch.delenv("W2S_CPU_ISA", raising=False)
    for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "ATEN_CPU_CAPABILITY", "MKL_CBWR"):
        monkeypatch.delenv(k, raising=False)
    assert default_threads() == 1
    env = reproducible_env()
    assert env["OMP_NUM_THREADS"] == env["OPENBLAS_NUM_THREADS"] == "1"
    assert env["ATEN_CPU_CAPABILITY"] == "avx2" and env["MKL_CBWR"] == "AVX2"
    monkeypatch.setenv("W2S_THREADS", "3")
    monkeypatch.setenv("MKL_CBWR", "COMPATIBLE")  # what the user set is kept
    env = reproducible_env()
    assert env["OMP_NUM_THREADS"] == "3" and env["MKL_CBWR"] == "COMPATIBLE"
    monkeypatch.setenv("W2S_CPU_ISA", "native")
    assert "ATEN_CPU_CAPABILITY" not in reproducible_env()
    for bad, var in (("0", "W2S_THREADS"), ("two", "W2S_THREADS"), ("avx9", "W2S_CPU_ISA")):
        monkeypatch.setenv(var, bad)
        with pytest.raises(ValueError, match=var):
            reproducible_env()
        monkeypatch.delenv(var)


def test_configure_threads_sets_torch_and_blas(monkeypatch):
    from threadpoolctl import threadpool_info

    before = torch.get_num_threads()
    try:
        monkeypatch.setenv("W2S_THREADS", "2")
        assert configure_threads() == 2 == torch.get_num_threads()
        assert {p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"} <= {2}
        monkeypatch.delenv("W2S_THREADS")
        assert configure_threads() == 1 == torch.get_num_threads()
    finally:
        torch.set_num_threads(before)


def test_imported_w2s_pins_the_children_environment():
    code = ("import w2s, os, torch; print(os.environ['OMP_NUM_THREADS'], torch.get_num_threads(), "
            "torch.backends.cpu.get_cpu_capability())")  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "W2S_THREADS", "ATEN_CPU_CAPABILITY")}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout.split()
    assert out[:2] == ["1", "1"]
    if out[2] != "DEFAULT":  # x86-64: held to AVX2 whatever the CPU offers
        assert out[2] == "AVX2"


def test_fit_draws_depend_on_the_seed_not_on_the_process_history():
    """Dropout during training: the same weights whether or not the process drew random numbers before
    (as a grid worker that trained a shared stage 1 did, and one that read it from the cache did not)."""
    from w2s.train import TrainConfig, fit

    def train(draw_before: bool):
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.Dropout(0.5), torch.nn.Linear(16, 1))
        if draw_before:
            torch.randn(1000)
        data = [(torch.randn(4, generator=torch.Generator().manual_seed(i)), torch.tensor([float(i % 3)])) for i in range(32)]

        def step(net, batch, device):
            x, y = batch
            return torch.nn.functional.mse_loss(net(x), y), {}

        collate = lambda items: (torch.stack([a for a, _ in items]), torch.stack([b for _, b in items]))  # noqa: E731
        fit(model, data, collate, step, TrainConfig(max_steps=20, batch_size=4, warmup_steps=2, log_every=1), resume=False)
        return [p.detach().clone() for p in model.parameters()]

    a, b = train(False), train(True)
    assert all(torch.equal(x, y) for x, y in zip(a, b))


def test_stage1_leaves_the_callers_random_state(tmp_path):
    """Trained (cold cache) or loaded (warm): the caller's torch RNG is where it was, so the host that
    follows stage 1 draws the same numbers either way."""
    from w2s.decoders.codetalker_vqvae import VQVAEConfig, load_or_train_vqvae

    cfg = VQVAEConfig.tiny(n_vertices=5, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                           intermediate_size=32, face_quan_num=2, zquant_dim=8, n_embed=8)  # fmt: skip
    offsets = [torch.randn(12, 5, 3, generator=torch.Generator().manual_seed(i)) * 1e-3 for i in range(4)]
    draws = []
    for _ in ("cold", "warm"):
        torch.manual_seed(7)
        vq = load_or_train_vqvae(offsets, cfg, 0, tmp_path, steps=3, batch_size=2, warmup_steps=1)
        draws.append(torch.rand(3))
    assert [vq.record["cached"]] == [True]
    torch.manual_seed(7)
    assert torch.equal(draws[0], torch.rand(3)) and torch.equal(draws[1], draws[0])


def _child(component: str, steps: int, data: Path, busy: bool = False) -> dict:
    burner = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if busy else None
    out = data / f"{component}-{'busy' if busy else 'alone'}-{os.getpid()}-{len(list(data.iterdir()))}.json"
    env = {**os.environ, "W2S_DATA_DIR": str(data / "data"), "W2S_PROGRESS": "0", "HF_HUB_OFFLINE": "1"}
    for k in ("W2S_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env.pop(k, None)  # what a fresh shell has: w2s's defaults decide
    try:
        subprocess.run([sys.executable, str(SCRIPT), "--child", component, "--steps", str(steps), "--out", str(out)],
                       env=env, check=True, capture_output=True)  # fmt: skip
    finally:
        if burner is not None:
            burner.kill()
    return json.loads(out.read_text())


@pytest.mark.slow
@pytest.mark.parametrize("component", ["wav2sem", "recogniser", "stage1", "codetalker"])
def test_trained_twice_once_beside_a_busy_cpu_gives_identical_weights(component, tmp_path_factory):
    """Each component twice in fresh processes, the second beside a CPU-bound process: the same loss at every
    step and bit-identical weights. CodeTalker's second run reads the stage 1 its first run cached."""
    data = tmp_path_factory.mktemp(component)
    a = _child(component, 12, data)
    b = _child(component, 12, data, busy=True)
    assert a["threads"] == b["threads"] == 1
    assert a.get("loss") == b.get("loss")
    assert a["digest"] == b["digest"]
    if component == "codetalker":
        assert (a["stage1"], b["stage1"]) == (False, True)


@pytest.mark.parametrize("var,value", [("W2S_THREADS", "two"), ("W2S_THREADS", "0"), ("W2S_CPU_ISA", "avx9")])
def test_a_bad_setting_is_one_line_and_exit_2(var, value, monkeypatch, capsys):
    from w2s.cli import main

    monkeypatch.setenv(var, value)
    assert main(["pairs", "--limit", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and var in err[0] and repr(value) in err[0]
