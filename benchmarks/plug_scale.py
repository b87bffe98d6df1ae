"""The plug's scale, chosen on the val split with the positive control: F_s as it comes (``raw``, the paper)
or centred and scaled to F_p's RMS (``standardize``).

    .venv/bin/python benchmarks/plug_scale.py                      # every host, 3 seeds (≈ 30 min on 2 cores)
    .venv/bin/python benchmarks/plug_scale.py --hosts voca,unitalker --seeds 2
    .venv/bin/python benchmarks/plug_scale.py --table               # print the saved result

The cells are notebook 04's (``GridPlan`` at STEP_SCALE 0.8, identity 0, the same model folders), so the
models this trains are the ones the grid reads: ``{host}-oracle_word-seed{k}`` and
``{host}-oracle_word-std-seed{k}`` beside ``{host}-none-seed{k}``. Every number here is measured on the
**val split** (unseen speakers, never the test split); the JSON records the split it read.

Per host and scale: the control's change of minimal-pair accuracy, homophone-LVE and LVE against none with
95 % intervals (seeds and clips random), and the use test (how much swapping F_s between clips moves the lips,
against the change between two seeds of none; the plug's scale after training). The rule that picks the
default: the scale under which more hosts raise val minimal-pair accuracy with the control (the interval
above zero); on a tie, the one with the larger mean gain; results go to benchmarks/results/plug_scale.json.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import w2s  # noqa: F401  (first: pins threads and kernels before torch loads)
from w2s.data.corpus import Corpus
from w2s.evaluation.grid import HOSTS, GridPlan, paired_rows, run_grid, seed_noise, use_rows
from w2s.evaluation.report import markdown_table

RESULTS = Path(__file__).parent / "results" / "plug_scale.json"
SCALES = ("raw", "standardize")


def plan_for(corpus_root: str, scale: str, hosts: tuple[str, ...], seeds: int) -> GridPlan:
    return GridPlan(corpus_root, "", hosts=hosts, semantics=("none", "oracle_word"), seeds=tuple(range(seeds)),
                    step_scale=0.8, conditions="0", num_samples=3, split="val", plug_scale=scale)  # fmt: skip


def measure(hosts: tuple[str, ...], seeds: int, workers: int | None) -> dict:
    corpus = Corpus.load_or_build("default", 0)
    out = {"split": "val", "hosts": list(hosts), "seeds": seeds, "step_scale": 0.8, "per_scale": {}}
    for scale in SCALES:
        t0 = time.perf_counter()
        plan = plan_for(str(corpus.root), scale, hosts, seeds)
        results = run_grid(plan, workers=workers, on_result=lambda r, i, n, scale=scale: print(f"[{scale} {i}/{n}] {r['host']} {r['semantic']} seed {r['seed']}", flush=True))  # fmt: skip
        noise = {h: seed_noise(plan, h) for h in hosts}
        paired = [p for p in paired_rows(results) if p["treated"] == "oracle_word"]
        out["per_scale"][scale] = {"paired": paired, "use": use_rows(results, noise), "minutes": (time.perf_counter() - t0) / 60}
    out["choice"] = choose(out)
    return out


def choose(result: dict) -> dict:
    """The default scale by the module's rule, with the counts it compared."""
    score = {}
    for scale, r in result["per_scale"].items():
        mp = [p for p in r["paired"] if p["metric"] == "minimal_pair_accuracy"]
        score[scale] = {"hosts_raised": sum(p["verdict"] == "higher" for p in mp),
                        "mean_gain": sum(p["mean_difference"] for p in mp) / max(len(mp), 1)}  # fmt: skip
    best = max(score, key=lambda s: (score[s]["hosts_raised"], score[s]["mean_gain"]))
    return {"scale": best, "score": score}


def table(result: dict) -> str:
    rows = []
    for scale, r in result["per_scale"].items():
        use = {u["host"]: u for u in r["use"]}
        for host in result["hosts"]:
            get = {p["metric"]: p for p in r["paired"] if p["host"] == host}
            mp, lv = get.get("minimal_pair_accuracy"), get.get("lve")
            u = use.get(host, {})
            rows.append({"scale": scale, "host": host,
                         "Δ minimal-pair [95 % CI]": f"{mp['mean_difference']:+.3f} [{mp['ci_low']:+.3f}, {mp['ci_high']:+.3f}]" if mp else "",
                         "ΔLVE [95 % CI]": f"{100 * lv['relative_change']:+.1f} % [{100 * lv['relative_ci_low']:+.1f}, {100 * lv['relative_ci_high']:+.1f}]" if lv else "",
                         "swap change / seed change": u.get("swap_over_seed"), "‖W_s F_s − mean‖/‖F_p‖": u.get("scale_after")})  # fmt: skip
    c = result["choice"]
    return markdown_table(rows, floatfmt=".3g") + f"\n\nchosen on val: **{c['scale']}** ({json.dumps(c['score'])})"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--hosts", default=",".join(HOSTS))
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--table", action="store_true", help="print the saved result and stop")
    args = ap.parse_args(argv)
    if args.table:
        print(table(json.loads(RESULTS.read_text())))
        return
    result = measure(tuple(h.strip() for h in args.hosts.split(",")), args.seeds, args.workers)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=1, default=float) + "\n")
    print(table(result))


if __name__ == "__main__":
    main()
