"""The time-local Wav2Sem (issue 23, item 3) against the sentence-level `lite`: quality and latency.

    .venv/bin/python benchmarks/wav2sem_local.py            # trains the default Wav2SemLocal(s) if missing, measures
    .venv/bin/python benchmarks/wav2sem_local.py --table    # the markdown tables of the last run's JSON

(a) Quality, on the face corpus's val split (selection) and test split (report), at the vertex frames (the
stream a decoder reads): frame-level word retrieval (R@1 of each speech frame's vector among the split's
words, chance 1 / their number; and among the clip's own words), the cosine to ``oracle_text_local``'s
vector on speech frames (beside a constant guess: the mean word vector), and speech/pause accuracy. Rows:
``wav2sem_local`` (the default model), ``wav2sem_local (query readout)`` (the same weights, the unit query
instead of the posterior mean over the training words), ``lite`` (the sentence vector of notebook 02's default Wav2Sem on every
frame: what the sentence level carries about the word being spoken), ``oracle_text_local`` (the ceiling).
Also on the frames of each clip's target near-homophone (the word its sentence was built around): word R@1
and pair accuracy (closer to the word's text vector than to its partner's; chance 0.5). Also on the fully
masked corpus (synthtalk-masked-full-seed0, where that word's telling phoneme is noise; a Wav2SemLocal trained on that corpus, as the
masking levels apply to training and test alike), when it exists.

(b) Latency and cost, at 1 thread, on 10 s of the val split's audio (concatenated clips): compute of the host
encoder (tiny HuBERT), of `lite`'s head, of Wav2SemLocal offline (the 10 s at once) and streamed (100 ms
chunks, each recomputing its receptive field), median of 5. The sentence vector needs the whole utterance
before its first frame; Wav2SemLocal needs its lookahead. Latency rows (``latencies``): lite = the
utterance + its compute; a causal host (hypothetical: the host's cost spread evenly over the chunks) =
lookahead + chunk + one chunk's compute; tiny HuBERT as it is = lookahead + chunk + re-encoding the prefix
(10 s at the last chunk) + one chunk of Wav2SemLocal. The host is the honest limit: tiny HuBERT's
transformer attends to the whole utterance (and its positional convolution to +-16 frames), so it is not
causal. (c) measures what streaming costs with it: each 100 ms chunk is encoded from the audio so far plus
the lookahead (the prefix re-encoded), and the streamed stream is compared to the offline one (the same
metrics on val, and the mean cosine between the two).
"""

from __future__ import annotations

# isort: off
import w2s  # noqa: F401  (first: the fixed thread count and kernels before numpy and torch load)

import argparse
import json
import statistics
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

# isort: on
from w2s.data.audio import load_audio
from w2s.data.corpus import Corpus
from w2s.encoders import align_to_fps, load_encoder
from w2s.semantic.local_train import (
    DEFAULT_STEPS,
    LocalRecipe,
    face_streams,
    load_or_train_local,
    local_train_config,
    split_streams,
    stream_metrics,
)
from w2s.semantic.local_train import default_wav2sem_local as default_local
from w2s.semantic.targets import cached_embed, load_text_model
from w2s.semantic.train import default_wav2sem
from w2s.semantic.wav2sem import Wav2Sem
from w2s.semantic.wav2sem_local import Wav2SemLocal
from w2s.utils.runtime import setup_logging
from w2s.utils.words import normalise_word

RESULTS = Path(__file__).parent / "results" / "wav2sem_local.json"
CORPUS = "data/corpus/synthtalk-default-seed0"
MASKED = "data/corpus/synthtalk-masked-full-seed0"
CHUNK_S = 0.1
LOOKAHEADS_MS = (0, 100, 200, 300)


def median_time(fn, repeats: int = 5) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def pair_word(corpus, data, preds: list[np.ndarray], text) -> dict:
    """On the frames of each clip's target word (the near-homophone its sentence was built around; the masked
    one in a masked corpus): word R@1 among the split's words, and pair accuracy: is the frame's vector closer
    (cosine) to the target word's text vector than to its near-homophone partner's (chance 0.5), over frames
    and over clips (a clip's mean over its frames > 0.5)."""
    c = Corpus.open(corpus)
    partner = {}
    for p in c.pairs("near"):
        partner[normalise_word(p["word_a"])], partner[normalise_word(p["word_b"])] = (normalise_word(p["word_b"]),
                                                                                      normalise_word(p["word_a"]))  # fmt: skip
    ids, frames, clips = [], [], []
    for stem, y, p in zip(data.stems, data.face_ids, preds, strict=True):
        target = normalise_word(c.alignments[stem].get("target_word") or "")
        k = data.vocab.index(target) if target in data.vocab else -2
        ids.append(np.where(y == k, y, -1))
        if k < 0 or target not in partner or not (y == k).any():
            continue
        e = cached_embed(text, [target, partner[target]])  # (2, C_s)
        v = p[y == k]
        sims = (v @ e.T) / (np.linalg.norm(v, axis=1, keepdims=True).clip(1e-8) * np.linalg.norm(e, axis=1))
        hit = sims[:, 0] > sims[:, 1]
        frames.append(hit)
        clips.append(hit.mean() > 0.5)
    m = stream_metrics(preds, ids, data.bank)
    return {"r@1": m["r@1"], "chance_r@1": m["chance_r@1"], "cosine": m["cosine"], "n_frames": m["n_speech_frames"],
            "pair_accuracy_frames": float(np.concatenate(frames).mean()), "pair_accuracy_clips": float(np.mean(clips)),
            "n_clips": len(clips)}  # fmt: skip


def quality(corpus, local: Wav2SemLocal, lite: Wav2Sem | None, host, text) -> dict:
    out = {}
    for split in ("val", "test"):
        data = split_streams(corpus, split, host, text)
        streams = {"wav2sem_local": face_streams(local, data)}
        query = Wav2SemLocal(replace(local.config, readout="query"))
        query.load_state_dict(local.state_dict())  # the same weights, the unit query instead of the posterior mean
        streams["wav2sem_local (query readout)"] = face_streams(query.eval(), data)
        if lite is not None:
            F_s = lite.predict(data.feats)  # (N, C_s): one per clip, on every frame
            streams["lite"] = [np.repeat(v[None], len(y), 0) for v, y in zip(F_s, data.face_ids, strict=True)]
        streams["oracle_text_local"] = [np.where(y[:, None] >= 0, data.bank[y.clip(0)], 0.0) for y in data.face_ids]
        out[split] = {k: stream_metrics(v, data.face_ids, data.bank) for k, v in streams.items()}
        out[split + "_pair_word"] = {k: pair_word(corpus, data, v, text) for k, v in streams.items()}
    return out


def streamed(corpus, local: Wav2SemLocal, host, text) -> dict:
    """(c): each chunk from the prefix's encoding (audio so far + lookahead); against the offline stream, on val."""
    data = split_streams(corpus, "val", host, text)
    c = Corpus.open(corpus)
    la = local.lookahead_s
    preds, sims = [], []
    for stem, feats, y in zip(data.stems, data.feats, data.face_ids, strict=True):
        audio = load_audio(c.root / "wav" / f"{stem}.wav")
        offline = local.predict([feats])[0]  # (T_a, C_s)
        rows = np.zeros_like(offline)
        n = len(feats)
        for start in np.arange(0.0, n / host.rate, CHUNK_S):
            a, b = int(round(start * host.rate)), min(n, int(round((start + CHUNK_S) * host.rate)))
            if a >= b:
                continue
            prefix = audio[: int(round((start + CHUNK_S + la) * 16000))]
            f = host.encode(prefix)  # (T_p, C_p): the host sees only what has arrived
            rows[a:b] = local.predict([f])[0][a:b]
        preds.append(align_to_fps(rows, host.rate, data.fps, len(y)))
        num = (rows * offline).sum(1)
        den = np.linalg.norm(rows, axis=1) * np.linalg.norm(offline, axis=1)
        sims.append(num[den > 1e-6] / den[den > 1e-6])
    return {"split": "val", "chunk_s": CHUNK_S, **stream_metrics(preds, data.face_ids, data.bank),
            "cosine_streamed_to_offline": float(np.concatenate(sims).mean())}  # fmt: skip


def cost(corpus, local: Wav2SemLocal, lite: Wav2Sem, host) -> dict:
    torch.set_num_threads(1)
    c = Corpus.open(corpus)
    audio = np.concatenate([load_audio(c.root / "wav" / f"{s}.wav") for s in c.stems("val")])[: 10 * 16000]
    feats = host.encode(audio)
    x = torch.from_numpy(feats)[None]  # (1, T, C_p)
    cfg = local.config
    field = cfg.num_hidden_layers * cfg.lookback_frames  # the past an output frame depends on
    chunk = int(round(CHUNK_S * cfg.frame_rate))

    def stream():
        for a in range(0, len(feats), chunk):
            lo, hi = max(0, a - field), min(len(feats), a + chunk + cfg.lookahead_frames)
            local(x[:, lo:hi])

    with torch.no_grad():
        t = {
            "host_encoder_10s": median_time(lambda: host.encode(audio)),
            "lite_head_10s": median_time(lambda: lite(x)),
            "local_offline_10s": median_time(lambda: local(x)),
            "local_streamed_10s": median_time(stream),
        }
    c = {"audio_seconds": len(audio) / 16000, "threads": torch.get_num_threads(), "compute_s": t,
         "lookahead_s": local.lookahead_s, "chunk_s": CHUNK_S, "n_host_frames": len(feats),
         "parameters": {"wav2sem_local": sum(p.numel() for p in local.parameters()),
                        "lite": sum(p.numel() for p in lite.parameters())}}  # fmt: skip
    return {**c, "latency_s": latencies(c)}


def latencies(c: dict) -> dict:
    """Time from a frame's sound to its F_s, for a 10 s utterance (worst frame: the first for lite, the last
    for the streamed host): what has to be waited for + the compute then."""
    t, secs, n_chunks = c["compute_s"], c["audio_seconds"], c["audio_seconds"] / c["chunk_s"]
    la, chunk = c["lookahead_s"], c["chunk_s"]
    per_chunk = t["local_streamed_10s"] / n_chunks
    return {
        "lite (sentence vector)": {"waits_for": "the whole utterance",
                                   "s": secs + t["host_encoder_10s"] + t["lite_head_10s"]},
        "wav2sem_local, a causal host (hypothetical)": {"waits_for": f"lookahead {la:.2f} s + chunk {chunk} s",
                                                        "s": la + chunk + t["host_encoder_10s"] / n_chunks + per_chunk},
        "wav2sem_local, tiny HuBERT re-encoding the prefix": {
            "waits_for": f"lookahead {la:.2f} s + chunk {chunk} s, the host on all audio so far",
            "s": la + chunk + t["host_encoder_10s"] + per_chunk},
    }  # fmt: skip


def sweep(res: dict, text) -> dict:
    """(d) The lookahead against quality, on val only (a selection): one default-recipe model per lookahead."""
    host = load_encoder("tiny-hubert", corpus=Corpus.open(CORPUS).root)
    data = split_streams(CORPUS, "val", host, text)
    out = {}
    for ms in LOOKAHEADS_MS:
        recipe = LocalRecipe(lookahead_ms=float(ms), train=local_train_config(DEFAULT_STEPS))
        model, hist, _, _ = load_or_train_local(CORPUS, recipe)
        streams = face_streams(model, data)
        out[str(ms)] = {"val": stream_metrics(streams, data.face_ids, data.bank),
                        "val_pair_word": pair_word(CORPUS, data, streams, text), "train_seconds": hist.seconds}  # fmt: skip
    res["lookahead_sweep"] = out
    RESULTS.write_text(json.dumps(res, indent=1) + "\n")
    return res


def run(args) -> dict:
    setup_logging("WARNING")
    torch.set_num_threads(1)
    text = load_text_model("all-MiniLM-L6-v2")
    out = {"corpora": {}}
    t0 = time.perf_counter()
    folder = default_local(CORPUS)
    local = Wav2SemLocal.from_pretrained(folder)
    run_record = json.loads((folder.parent / "wav2sem_run.json").read_text())
    host = load_encoder("tiny-hubert", corpus=Corpus.open(CORPUS).root)
    lite = Wav2Sem.from_pretrained(default_wav2sem(CORPUS))  # notebook 02's: not retrained when cached
    out["model"] = {"folder": str(folder), "steps": run_record["recipe"]["train"]["max_steps"],
                    "train_seconds": run_record["history"]["seconds"], "val_curve": run_record["val_curve"],
                    "compute": run_record["history"].get("compute", {})}  # fmt: skip
    out["corpora"]["default"] = quality(CORPUS, local, lite, host, text)
    out["streamed_prefix_host"] = streamed(CORPUS, local, host, text)
    out["cost"] = cost(CORPUS, local, lite, host)
    if Path(MASKED).is_dir() and not args.no_masked:
        m_model, m_hist, _, m_out = load_or_train_local(MASKED)
        m_host = load_encoder("tiny-hubert", corpus=Corpus.open(MASKED).root)
        out["corpora"]["masked-full"] = quality(MASKED, m_model, None, m_host, text)
        out["corpora"]["masked-full"]["train_seconds"] = m_hist.seconds
    out["seconds"] = time.perf_counter() - t0
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=1) + "\n")
    return out


def table(res: dict) -> str:
    lines = ["| corpus | split | F_s | word R@1 (chance) | R@1 in clip (chance) | cosine (mean word) | speech/pause acc. |",
             "|---|---|---|---|---|---|---|"]  # fmt: skip
    for name, corp in res["corpora"].items():
        for split in ("val", "test"):
            for src, m in corp[split].items():
                lines.append(f"| {name} | {split} | {src} | {m['r@1']:.3f} ({m['chance_r@1']:.3f}) | {m['r@1_clip']:.3f} "
                             f"({m['chance_r@1_clip']:.3f}) | {m['cosine']:.3f} ({m['cosine_mean_word']:.3f}) | "
                             f"{m['speech_accuracy']:.3f} |")  # fmt: skip
    lines += ["", "On the target near-homophone's frames (masked in masked-full):", "",
              "| corpus | split | F_s | word R@1 (chance) | cosine | pair accuracy, frames / clips (chance 0.5) |",
              "|---|---|---|---|---|---|"]  # fmt: skip
    for name, corp in res["corpora"].items():
        for split in ("val", "test"):
            for src, m in corp.get(f"{split}_pair_word", {}).items():
                lines.append(f"| {name} | {split} | {src} | {m['r@1']:.3f} ({m['chance_r@1']:.3f}) | {m['cosine']:.3f} | "
                             f"{m['pair_accuracy_frames']:.3f} / {m['pair_accuracy_clips']:.3f} (n={m['n_clips']}) |")  # fmt: skip
    if "lookahead_sweep" in res:
        lines += ["", "Lookahead (val; the default recipe, one model each):", "",
                  "| lookahead (ms) | word R@1 | R@1 in clip | cosine | pair word: R@1, pair accuracy frames / clips |",
                  "|---|---|---|---|---|"]  # fmt: skip
        for ms, r in res["lookahead_sweep"].items():
            v, pw = r["val"], r["val_pair_word"]
            lines.append(f"| {ms} | {v['r@1']:.3f} | {v['r@1_clip']:.3f} | {v['cosine']:.3f} | {pw['r@1']:.3f}, "
                         f"{pw['pair_accuracy_frames']:.3f} / {pw['pair_accuracy_clips']:.3f} |")  # fmt: skip
    s = res["streamed_prefix_host"]
    lines += ["", f"Streamed with a prefix-re-encoded host ({s['chunk_s']} s chunks, val): R@1 {s['r@1']:.3f}, cosine "
              f"{s['cosine']:.3f}, cosine to the offline stream {s['cosine_streamed_to_offline']:.3f}", ""]  # fmt: skip
    c = res["cost"]
    t = c["compute_s"]
    lines += [f"| at 1 thread, {c['audio_seconds']:.0f} s of audio | compute (s) |", "|---|---|"]
    lines += [f"| {k} | {v:.3f} |" for k, v in t.items()]
    lines += ["", "| F_s | a frame's vector waits for | latency, 10 s utterance (s) |", "|---|---|---|"]
    lines += [f"| {k} | {v['waits_for']} | {v['s']:.2f} |" for k, v in latencies(c).items()]
    return "\n".join(lines)


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--table", action="store_true", help="print the markdown tables of the last run's JSON")
    p.add_argument("--no-masked", action="store_true", help="skip the masked corpus")
    p.add_argument("--sweep", action="store_true", help=f"add the lookahead sweep {LOOKAHEADS_MS} ms (val) to the "
                   "last run's JSON (trains a model per lookahead if missing, ~2.5 min each)")  # fmt: skip
    a = p.parse_args()
    if a.sweep:
        res = sweep(json.loads(RESULTS.read_text()), load_text_model("all-MiniLM-L6-v2"))
    print(table(json.loads(RESULTS.read_text()) if a.table or a.sweep else run(a)))
