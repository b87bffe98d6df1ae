"""`w2s animate`: any wav to a talking-head video with a trained decoder (found by itself when not given)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from w2s import decoders
from w2s.animate import CHUNK_S, MAX_SIDE, OVERLAP_S, animate, parse_size


def configure_animate(p: argparse.ArgumentParser) -> None:
    p.add_argument("wav", type=Path, help="the speech to animate: any sample rate, mono or stereo, any length")
    p.add_argument("--host", required=True, help=f"the host decoder: {', '.join(decoders.names())}")
    p.add_argument("--semantic", default=None, help="none | wav2sem | oracle_text: which trained decoder to look for "
                   "(default: wav2sem, then none); with --model, checked against the model's")
    p.add_argument("--model", type=Path, default=None, help="a --out folder of `w2s decoder train` (default: the "
                   "newest matching run under data/models/)")
    p.add_argument("--subject", default=None, help="speaking style and face: a training subject's name or index "
                   "(default: the first)")
    p.add_argument("--out", type=Path, required=True, help="the video to write (.mp4, audio muxed in)")
    p.add_argument("--npy", action="store_true", help="also write the vertices (T, V, 3) float32 to OUT.npy")
    meshes = p.add_mutually_exclusive_group()
    for fmt in ("obj", "ply"):
        meshes.add_argument(f"--{fmt}", dest="meshes", action="store_const", const=fmt,
                            help=f"also write OUT_{fmt}/, one .{fmt} per frame")  # fmt: skip
    p.add_argument("--text", default=None, help="the transcript, for an oracle_text decoder")
    p.add_argument("--chunk", type=float, default=CHUNK_S, help="seconds per generation window (0: one pass)")
    p.add_argument("--overlap", type=float, default=OVERLAP_S, help="seconds two windows share, blended")
    p.add_argument("--size", default="384x384", help="the video's WIDTHxHEIGHT in pixels (even numbers, "
                   f"16 to {MAX_SIDE})")


def run_animate(args) -> int:
    note = lambda m: print(f"w2s animate: note: {m}", file=sys.stderr)  # noqa: E731
    r = animate(args.wav, args.host, args.out, args.semantic, args.model, args.subject, args.npy, args.meshes,
                args.text, args.chunk, args.overlap, parse_size(args.size), on_note=note)  # fmt: skip
    sec, paths = r["seconds"], r["paths"]
    print(f"wrote {paths['video']}: {r['audio_seconds']:.2f} s, {r['n_frames']} frames at {r['fps']:g} fps, "
          f"{r['host']} semantic={r['semantic']}, subject {r['subject']}, {r['windows']} window(s); "
          f"model {r['model']}; generate {sec['generate']:.1f} s, render {sec['render']:.1f} s, total {sec['total']:.1f} s")
    if "npy" in paths:
        print(f"wrote {paths['npy']}: vertices ({r['n_frames']}, {r['n_vertices']}, 3) float32")
    if "meshes" in paths:
        print(f"wrote {paths['meshes']}/: {r['n_frames']} .{args.meshes} files")
    return 0
