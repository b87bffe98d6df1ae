"""Inference speed of the host decoders (tiny presets) on this machine's CPU: real-time factor, the
plug's overhead, and cached vs uncached autoregressive generation.

    .venv/bin/python benchmarks/decoders.py            # a few minutes on 2 cores; writes benchmarks/results/decoders.json
    .venv/bin/python benchmarks/decoders.py --quick    # fewer repeats, no 1,800-frame uncached runs
    .venv/bin/python benchmarks/decoders.py --table    # the saved results as the README's table, with the goals

Everything runs in one process with the CLI's thread setting (W2S_THREADS, default 1), side by side,
so the ratios compare like with like; the absolute seconds depend on the machine and its load. The
models have random (perturbed) weights: speed does not depend on training. Sizes are the default
corpus's: V = 2642 vertices, 30 fps, tiny-HuBERT 256-d frames, 8 training subjects, F_s 384-d.

* ``rtf``: seconds of compute per second of audio for 10 s of audio (300 frames), batch 1:
  ``generate`` alone (features cached aside) and with the features computed from the waveform
  (tiny-HuBERT, aligned to 30 fps; for VOCA the phoneme recogniser's logits on the same frames).
* ``plug``: end-to-end time (features + F_s + generate) with F_s from the ``lite`` Wav2Sem (a head on
  the same tiny-HuBERT frames) and from the standalone ``tiny`` Wav2Sem (its own waveform model), each
  divided by ``none``'s (features + generate).
* ``samplers``: diffusion hosts (FaceDiffuser, LG-LDM) with DDIM at their ``sample_steps`` (the default
  of ``generate``, also in ``rtf``) and DDPM over every training step.
* ``cache``: autoregressive hosts at 600 and 1,800 frames, with the key/value cache and without (the
  original: the decoder re-run on the whole prefix at every frame); time ratio and max |difference|.
  CodeTalker's exact feedback also decodes the whole prefix with its bidirectional VQ decoder at every
  frame, which no cache removes; its ``window16`` row decodes only the last 16 frames (approximate;
  ``window16_max_abs_diff_mm`` on these random weights only shows the output changes: on a trained
  model, ``w2s decoder eval --generate window=16`` measures what it costs in LVE).
"""

from __future__ import annotations

import argparse
import inspect
import json
import platform
import statistics
import time
from pathlib import Path

import w2s  # noqa: F401  (first: sets OMP_WAIT_POLICY=PASSIVE before torch loads, so 2 threads do not spin)

# isort: off
import numpy as np
import torch
# isort: on

import w2s.decoders as decoders
from w2s.encoders import align_to_fps, load_encoder
from w2s.evaluation.report import markdown_table
from w2s.semantic.wav2sem import Wav2Sem, Wav2SemConfig
from w2s.utils.runtime import configure_threads

RESULTS = Path(__file__).parent / "results" / "decoders.json"
V, FPS, N_SUBJECTS, C_S, SR = 2642, 30, 8, 384, 16_000
WINDOW = 16  # CodeTalker's windowed feedback: frames decoded per step


def timeit(fn, repeats: int) -> float:
    """Median wall seconds of `repeats` calls (after one warm-up call)."""
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def build(name: str, audio_dim: int, source: str):
    torch.manual_seed(0)
    cls = decoders.get(name)
    model = cls(cls.config_class.tiny(n_vertices=V, audio_dim=audio_dim, n_subjects=N_SUBJECTS, semantic_source=source,
                                      semantic_dim=C_S)).eval()  # fmt: skip
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.01 * torch.randn(p.shape, generator=g))
    return model


def wav2sems(host_dim: int) -> dict[str, Wav2Sem]:
    torch.manual_seed(0)
    return {"lite": Wav2Sem(Wav2SemConfig.lite(input_dim=host_dim, target_dim=C_S)).eval(),
            "tiny": Wav2Sem(Wav2SemConfig.tiny(target_dim=C_S)).eval()}  # fmt: skip


def bench_host(name: str, enc, base, audio: np.ndarray, repeats: int, quick: bool) -> dict:
    """One host's numbers; `enc` is its F_p encoder, `base` the tiny HuBERT it (or a lite Wav2Sem) reads."""
    template, subject = torch.zeros(1, V, 3), torch.tensor([0])
    T = 10 * FPS  # 10 s at 30 fps
    F_p = torch.randn(1, T, enc.dim)
    w2s_models = wav2sems(base.dim)
    res: dict = {"encoder": decoders.get(name).offline_encoder}
    none, plugged = build(name, enc.dim, "none"), build(name, enc.dim, "wav2sem")

    def features():
        """(tiny-HuBERT frames, the host's F_p at the face rate), computed (the feature cache is bypassed)."""
        frames = base.encode(audio)  # (500, 256) at 50 Hz
        host = frames if enc is base else enc.logits(frames)  # VOCA: the recogniser's logits on the same frames
        return frames, torch.from_numpy(align_to_fps(host, base.rate, FPS, T))[None]  # (1, T, C_p)

    t_gen = timeit(lambda: none.generate(F_p, template, subject), repeats)
    t_enc = timeit(features, repeats)
    res["rtf"] = {"generate": t_gen / 10, "with_features": (t_gen + t_enc) / 10, "features_seconds": t_enc,
                  "generate_seconds": t_gen}  # fmt: skip

    def end_to_end(kind: str | None):
        def f():
            frames, x = features()
            if kind is None:
                return none.generate(x, template, subject)
            F_s = torch.from_numpy(w2s_models[kind].predict([frames if kind == "lite" else audio]))
            return plugged.generate(x, template, subject, F_s)

        return f

    t_none = timeit(end_to_end(None), repeats)
    res["plug"] = {"none_seconds": t_none}
    for kind in ("lite", "tiny"):
        t = timeit(end_to_end(kind), repeats)
        res["plug"][f"{kind}_seconds"], res["plug"][f"{kind}_ratio"] = t, t / t_none
    if getattr(none, "stochastic", False):  # diffusion: DDIM (the default, its step count) against DDPM (every step)
        res["samplers"] = {}
        for sampler in ("ddim", "ddpm"):
            steps = none.config.sample_steps if sampler == "ddim" else none.config.diffusion_steps
            t = timeit(lambda s=sampler: none.generate(F_p, template, subject, sampler=s), repeats if sampler == "ddim" else 1)
            res["samplers"][sampler] = {"steps": steps, "generate_seconds": t, "rtf": t / 10,
                                        "rtf_with_features": (t + t_enc) / 10}  # fmt: skip
    params = inspect.signature(none.generate).parameters
    if "cache" in params:
        res["cache"] = {}
        for n in (600,) if quick else (600, 1800):
            x = torch.randn(1, n, enc.dim)
            a = none.generate(x, template, subject, cache=True)
            t0 = time.perf_counter()
            b = none.generate(x, template, subject, cache=False)
            t_un = time.perf_counter() - t0
            t_ca = timeit(lambda x=x: none.generate(x, template, subject, cache=True), repeats)
            row = {"cached_seconds": t_ca, "uncached_seconds": t_un, "speedup": t_un / t_ca,
                   "max_abs_diff": float((a - b).abs().max())}  # fmt: skip
            if "window" in params:  # CodeTalker: the exact feedback decodes the whole prefix at every frame
                w = none.generate(x, template, subject, cache=True, window=WINDOW)
                t_w = timeit(lambda x=x: none.generate(x, template, subject, cache=True, window=WINDOW), repeats)
                row.update({f"cached_window{WINDOW}_seconds": t_w, f"speedup_window{WINDOW}": t_un / t_w,
                            f"window{WINDOW}_max_abs_diff_mm": 1000 * float((w - a).abs().max())})  # fmt: skip
            res["cache"][str(n)] = row
    return res


@torch.no_grad()
def run(quick: bool, hosts: list[str]) -> dict:
    configure_threads()
    repeats = 1 if quick else 3
    corpus = Path("data/corpus/synthtalk-default-seed0")
    corpus = corpus if corpus.is_dir() else None
    audio = np.random.default_rng(0).standard_normal(10 * SR).astype(np.float32) * 0.1  # 10 s
    out = {"machine": {"python": platform.python_version(), "torch": torch.__version__, "threads": torch.get_num_threads(),
                       "cpu": platform.processor() or platform.machine()}, "hosts": {}}  # fmt: skip
    base = load_encoder("tiny-hubert", corpus=corpus)
    for name in hosts:
        enc_name = decoders.get(name).offline_encoder
        enc = base if enc_name == "tiny-hubert" else load_encoder(enc_name, corpus=corpus)
        out["hosts"][name] = bench_host(name, enc, base, audio, repeats, quick)
        print(name, json.dumps(out["hosts"][name], indent=1), flush=True)
    return out


# the speed goals (issue 24): (what, the result's path, at most / at least, the bound)
GOALS = {
    "faceformer": ("KV cache speed-up, 600 frames", ("cache", "600", "speedup"), ">=", 10.0),
    "codetalker": ("real-time factor with features", ("rtf", "with_features"), "<=", 0.1),
    "voca": ("plug (lite Wav2Sem) / no plug", ("plug", "lite_ratio"), "<=", 1.05),
}


def table(res: dict) -> str:
    """One row per host: real-time factors, the plug's cost, the cache's speed-up, and its goal if it has one."""
    rows = []
    for name, r in res["hosts"].items():
        row = {"host": name, "RTF generate": r["rtf"]["generate"], "RTF with features": r["rtf"]["with_features"],
               "plug lite ×": r["plug"]["lite_ratio"], "plug tiny ×": r["plug"]["tiny_ratio"],
               "cache speed-up 600 / 1800": " / ".join(f"{r['cache'][n]['speedup']:.1f}×" for n in ("600", "1800")
                                                       if n in r.get("cache", {})) or "–"}  # fmt: skip
        goal = GOALS.get(name)
        if goal:
            what, path, op, bound = goal
            v = r
            for k in path:
                v = v[k]
            met = v >= bound if op == ">=" else v <= bound
            row["goal"] = f"{what} {op.replace('>=', '≥').replace('<=', '≤')} {bound:g}: {v:.3g}, {'met' if met else 'missed'}"
        else:
            row["goal"] = "–"
        rows.append(row)
    m = res["machine"]
    return (f"{m['cpu']}, {m['threads']} thread(s), torch {m['torch']}\n\n"
            + markdown_table(rows, floatfmt=".3f"))  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--hosts", nargs="*", default=[n for n in decoders.names() if n != "reference"])
    ap.add_argument("--table", action="store_true", help="print the saved results (--out) as a table and stop")
    args = ap.parse_args()
    if args.table:
        print(table(json.loads(args.out.read_text())))
        return
    res = run(args.quick, args.hosts)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(res, indent=1) + "\n")
    print(f"wrote {args.out}")
    print(table(res))


if __name__ == "__main__":
    main()
