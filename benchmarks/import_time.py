"""How long the `w2s` command takes to start: wall and CPU time of fresh processes, and what they import.

    .venv/bin/python benchmarks/import_time.py                     # ~1 min; the "after" entry of the JSON
    git worktree add /tmp/before HEAD~1                             # an older checkout, to compare with
    .venv/bin/python benchmarks/import_time.py --root /tmp/before --label before

Each case runs `--runs` times (after one unmeasured run that warms the file cache) in a new process whose
working folder is a temporary one and whose PYTHONPATH is `--root`, so the `w2s` package imported is that
checkout's (checked), even with this checkout installed in editable mode. `python -X importtime` then names
the modules that cost the most. The entry for `--label` is written into benchmarks/results/import_time.json,
and the other entries there are kept (the before and after of one change, measured on the same machine).
The goal (issue 24): `w2s --help` and `w2s speak ...` start in <= 1 s of wall time on the 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "import_time.json"
W2S = str(Path(sys.executable).with_name("w2s"))  # the console script of this environment
CASES = {  # name -> command ({tmp}: a fresh temporary folder)
    "w2s --help": [W2S, "--help"],
    "w2s speak --help": [W2S, "speak", "--help"],
    "w2s speak": [W2S, "speak", "hello world", "{tmp}/hello.wav"],
    "import w2s.cli": [sys.executable, "-c", "import w2s.cli"],
}
GOAL = {"w2s --help": 1.0, "w2s speak": 1.0}  # seconds of wall time (median)


def _env(root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONSTARTUP")}
    return env | {"PYTHONPATH": str(root), "W2S_PROGRESS": "0", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


def _run(cmd: list[str], root: Path, tmp: str) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the child) of one run; fails on a nonzero exit."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    r = subprocess.run([c.format(tmp=tmp) for c in cmd], cwd=tmp, env=_env(root), capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} exited {r.returncode}:\n{r.stderr}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def measure(name: str, root: Path, runs: int) -> dict:
    walls, cpus = [], []
    with tempfile.TemporaryDirectory(prefix="w2s-import-") as tmp:
        _run(CASES[name], root, tmp)  # warm-up: the file cache, espeak-ng's data
        for _ in range(runs):
            wall, cpu = _run(CASES[name], root, tmp)
            walls.append(round(wall, 3))
            cpus.append(round(cpu, 3))
    row = {"command": " ".join(CASES[name]).replace(sys.executable, "python").replace(W2S, "w2s"),
           "wall_s": walls, "cpu_s": cpus, "median_wall_s": statistics.median(walls),
           "min_wall_s": min(walls), "median_cpu_s": statistics.median(cpus)}  # fmt: skip
    if name in GOAL:
        row["goal_wall_s"] = GOAL[name]
        row["meets_goal"] = row["median_wall_s"] <= GOAL[name]
    return row


def import_profile(root: Path, top: int = 12) -> dict:
    """`python -X importtime -c "import w2s.cli"`: the total, the costliest third-party packages (cumulative)
    and the costliest single modules (their own time)."""
    with tempfile.TemporaryDirectory() as tmp:
        r = subprocess.run([sys.executable, "-X", "importtime", "-c", "import w2s, w2s.cli; print(w2s.__file__)"],
                           cwd=tmp, env=_env(root), capture_output=True, text=True, check=True)  # fmt: skip
    imported = Path(r.stdout.strip()).resolve()
    if not imported.is_relative_to(root.resolve()):
        raise SystemExit(f"imported {imported}, not the checkout under {root}")
    rows = []  # (module, self us, cumulative us)
    for line in r.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \| (\s*)(\S+)", line)
        if m:
            rows.append((m[4], int(m[1]), int(m[2])))
    cumulative = {name: cum for name, _, cum in rows}
    packages = sorted(((n, c) for n, _, c in rows if "." not in n and n != "w2s"), key=lambda x: -x[1])
    own = sorted(((n, s) for n, s, _ in rows), key=lambda x: -x[1])
    return {
        "total_s": round(sum(s for _, s, _ in rows) / 1e6, 3),
        "w2s.cli_cumulative_s": round(cumulative.get("w2s.cli", 0) / 1e6, 3),
        "modules": len(rows),
        "heavy_loaded": [p for p in ("torch", "transformers", "sentence_transformers", "librosa", "plotly", "scipy",
                                     "sklearn", "diffusers", "pandas") if p in cumulative],  # fmt: skip
        "top_packages_cumulative_s": {n: round(c / 1e6, 3) for n, c in packages[:top]},
        "top_modules_self_s": {n: round(s / 1e6, 3) for n, s in own[:top]},
    }


def _git(root: Path, *args: str) -> str:
    r = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True)
    return r.stdout.strip() if r.returncode == 0 else ""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", type=Path, default=REPO, help="the checkout whose w2s to measure (default: this one)")
    ap.add_argument("--label", default="after", help="the entry to write, e.g. before / after")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()
    root = args.root.resolve()
    entry = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": _git(root, "rev-parse", "--short", "HEAD"),
        "uncommitted_changes": bool(_git(root, "status", "--porcelain", "--", "w2s")),
        "load_average": os.getloadavg()[0],
        "import_profile": import_profile(root),
        "cases": {},
    }
    for name in CASES:
        entry["cases"][name] = row = measure(name, root, args.runs)
        print(f"{args.label:>8} {name:<18} median {row['median_wall_s']:.2f} s wall "
              f"(min {row['min_wall_s']:.2f}), {row['median_cpu_s']:.2f} s CPU", flush=True)  # fmt: skip
    prof = entry["import_profile"]
    print(f"{args.label:>8} import w2s.cli: {prof['w2s.cli_cumulative_s']:.2f} s (-X importtime), heavy loaded: "
          f"{prof['heavy_loaded'] or 'none'}; top: {dict(list(prof['top_packages_cumulative_s'].items())[:5])}")
    doc = json.loads(args.out.read_text()) if args.out.is_file() else {}
    doc.update({
        "what": "start-up time of the w2s command: fresh processes, median of --runs after one warm-up run",
        "command": "python benchmarks/import_time.py [--root CHECKOUT --label before]",
        "machine": {"cpu": _cpu(), "cpus": len(os.sched_getaffinity(0)), "python": platform.python_version()},
        "goal": "w2s --help and w2s speak <= 1 s wall (issue 24)",
    })  # fmt: skip
    doc[args.label] = entry
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.out} [{args.label}]")


def _cpu() -> str:
    try:
        return next(x.split(":", 1)[1].strip() for x in open("/proc/cpuinfo") if x.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor()


if __name__ == "__main__":
    main()
