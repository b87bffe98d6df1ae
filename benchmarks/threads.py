"""Training step time alone vs beside a CPU-bound process, for several torch thread policies.

    .venv/bin/python benchmarks/threads.py            # ~2 min on 2 cores; writes benchmarks/results/threads.json

Each (policy, condition) runs in a fresh interpreter, because OpenMP reads its environment
(OMP_WAIT_POLICY, GOMP_SPINCOUNT) once, when torch loads it. The model is representative of the small
models trained here: 4 transformer blocks (d=256, 4 heads, ff 1024) on (8, 100, 256), forward +
backward + AdamW. "busy" starts one `while True: pass` process first: what another job (a test run,
another notebook) does to a 2-core machine. The figure of merit is busy / alone for each policy.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

# name -> how the child sets up torch:
#   default       torch as installed, w2s not imported (one thread per CPU, OpenMP's spinning wait, the CPU's own kernels)
#   w2s           `import w2s` first (passive wait, W2S_THREADS=1, AVX2 kernels), then configure_threads(): what
#                 every w2s training does
#   w2s-native    the same with W2S_CPU_ISA=native: the price of the AVX2 pin is w2s / w2s-native
#   w2s-2threads  the same with W2S_THREADS=2 (passive wait): the price of one thread is w2s / w2s-2threads
#   w2s-late      torch imported before w2s, so OpenMP spins and the kernels are the CPU's own
POLICIES = ("default", "w2s", "w2s-native", "w2s-2threads", "w2s-late")
ENV = {"w2s-native": {"W2S_CPU_ISA": "native"}, "w2s-2threads": {"W2S_THREADS": "2"}}
RESULTS = Path(__file__).parent / "results" / "threads.json"


def worker(policy: str, steps: int, budget_s: float) -> dict:
    """Median seconds per training step in this process."""
    if policy.startswith("w2s") and policy != "w2s-late":
        import w2s  # noqa: F401  (first: the wait policy, thread count and kernels before torch loads)
    wait_policy = os.environ.get("OMP_WAIT_POLICY", "unset")  # what OpenMP reads when torch loads it
    import torch

    if policy != "default":
        from w2s.utils.runtime import configure_threads

        configure_threads()
    torch.manual_seed(0)
    layer = torch.nn.TransformerEncoderLayer(256, 4, 1024, dropout=0.0, batch_first=True)
    model = torch.nn.TransformerEncoder(layer, 4, enable_nested_tensor=False)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    x = torch.randn(8, 100, 256)  # (B, T, D)

    def step():
        loss = model(x).pow(2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    step()  # warm up allocator and kernels
    times, t_end = [], time.perf_counter() + budget_s
    while len(times) < steps and (len(times) < 3 or time.perf_counter() < t_end):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return {"threads": torch.get_num_threads(), "omp_wait_policy": wait_policy,
            "kernels": torch.backends.cpu.get_cpu_capability(),
            "median_s": round(statistics.median(times), 4), "n_steps": len(times)}  # fmt: skip


def measure(policy: str, busy: bool, steps: int, budget_s: float) -> dict:
    pinned = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OMP_WAIT_POLICY", "W2S_THREADS", "W2S_CPU_ISA",
              "ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA", "MKL_CBWR", "MKL_ENABLE_INSTRUCTIONS", "OPENBLAS_CORETYPE")  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k not in pinned} | ENV.get(policy, {})
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if busy else None
    try:
        cmd = [sys.executable, __file__, "--worker", policy, "--steps", str(steps), "--budget", str(budget_s)]
        out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
    finally:
        if hog is not None:
            hog.kill()
            hog.wait()
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--worker", choices=POLICIES, help=argparse.SUPPRESS)
    ap.add_argument("--steps", type=int, default=10, help="timed steps per measurement (fewer past --budget)")
    ap.add_argument("--budget", type=float, default=5.0, help="seconds per measurement, at least 3 steps")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.steps, args.budget)))
        return

    rows = {}
    for policy in POLICIES:
        alone = measure(policy, False, args.steps, args.budget)
        busy = measure(policy, True, args.steps, args.budget)
        ratio = round(busy["median_s"] / alone["median_s"], 2)
        rows[policy] = {"alone": alone, "busy": busy, "busy_over_alone": ratio}
    ref = rows["default"]["alone"]["median_s"]
    for r in rows.values():
        r["busy_over_default_alone"] = round(r["busy"]["median_s"] / ref, 2)
    result = {
        "model": "4 x TransformerEncoderLayer(256, 4 heads, ff 1024), input (8, 100, 256), fwd + bwd + AdamW",
        "cpus": len(os.sched_getaffinity(0)),
        "loadavg_at_end": os.getloadavg(),
        "results": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))
    print(f"{'policy':12} {'threads':>7} {'alone s':>8} {'busy s':>8} {'busy/alone':>10}  "
          f"(load avg {os.getloadavg()[0]:.1f})")  # fmt: skip
    for k, r in rows.items():
        print(f"{k:12} {r['alone']['threads']:7d} {r['alone']['median_s']:8.3f} {r['busy']['median_s']:8.3f} "
              f"{r['busy_over_alone']:10.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
