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
#   default   torch as installed (2 threads on 2 CPUs, OpenMP's spinning wait)
#   w2s       passive_openmp() before `import torch`, then configure_threads() (what `import w2s` + fit do)
#   w2s-late  torch imported first, so OpenMP spins: configure_threads() falls back to one thread
POLICIES = ("default", "w2s", "w2s-late")
RESULTS = Path(__file__).parent / "results" / "threads.json"


def worker(policy: str, steps: int, budget_s: float) -> dict:
    """Median seconds per training step in this process."""
    from w2s.utils.runtime import configure_threads, passive_openmp

    if policy == "w2s":
        passive_openmp()
    wait_policy = os.environ.get("OMP_WAIT_POLICY", "unset")  # what OpenMP reads when torch loads it
    import torch

    if policy != "default":
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
            "median_s": round(statistics.median(times), 4), "n_steps": len(times)}  # fmt: skip


def measure(policy: str, busy: bool, steps: int, budget_s: float) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "W2S_THREADS")}
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
    print(f"{'policy':9} {'threads':>7} {'alone s':>8} {'busy s':>8} {'busy/alone':>10}  "
          f"(load avg {os.getloadavg()[0]:.1f})")  # fmt: skip
    for k, r in rows.items():
        print(f"{k:9} {r['alone']['threads']:7d} {r['alone']['median_s']:8.3f} {r['busy']['median_s']:8.3f} "
              f"{r['busy_over_alone']:10.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
